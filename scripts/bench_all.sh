#!/usr/bin/env bash
# Every side-by-side benchmark of docs/BENCHMARKS.md in one run, with a log per step.
#
#   scripts/bench_all.sh [WORKDIR]        (default /tmp/atomtrack-bench-all)
#   env: PYTHON (a venv with torch, trackpy, scikit-learn, deeptime, tifffile, Pillow;
#        default /work/venv/bin/python), LONG=1 also runs the 20/60-frame 1024² memory runs.
#
# Release build only. Each step prints its command, its output and its wall time; the load
# average before each step is printed too, because a shared machine moves timings by ±50 %.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/atomtrack-bench-all}
PY=${PYTHON:-/work/venv/bin/python}
BIN=$PWD/.build/release/atomtrack
mkdir -p "$WORK"
swift build -c release --product atomtrack >/dev/null

run() { echo "+ $*"; "$@"; }
{
echo "date $(date -u +%FT%TZ) host $(uname -n) cpus $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "commit $(git rev-parse --short HEAD)"

# Kernels and the U-Net, ours against PyTorch on the same shapes.
run "$BIN" bench kernels
OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_vs_pytorch.py --threads 2

# Simulator.
ATOMTRACK_SIM_BENCH=1 run swift test -c release --filter SpeedReport

# Files, ours against tifffile/numpy/Pillow.
OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_io.py "$BIN"

# Localization.
run "$BIN" bench localize
run "$BIN" bench localize --spacing 5 --repeats 3
for r in 8 2 0; do run "$BIN" bench localize --spacing 5 --size 512 --repeats 3 --neighbour-rounds $r; done

# Linking, ours against trackpy.
run "$PY" scripts/bench_linking_trackpy.py --binary "$BIN"
run "$PY" scripts/bench_linking_trackpy.py --binary "$BIN" --box 1024
run "$BIN" bench linking --particles 10000 --frames 20

# Gaussian mixture, ours against scikit-learn, 2 threads and 1.
run "$BIN" bench gmm --iterations 30 --repeats 3
OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_gmm_sklearn.py --threads 2 --repeats 3 --iterations 30
run "$BIN" bench gmm --iterations 30 --repeats 3 --threads 1
OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_gmm_sklearn.py --threads 1 --repeats 3 --iterations 30

# Markov, ours against deeptime (the script runs both).
OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_markov_deeptime.py --repeats 21 --atomtrack "$BIN"

# Inference and the whole chain.
if [[ ${LONG:-0} == 1 ]]; then RSS="20 60"; else RSS=" "; fi   # " ": no memory runs
RSS_FRAMES="$RSS" ATOMTRACK="$BIN" run scripts/bench_inference.sh "$WORK/inference"
run "$PY" scripts/bench_inference_pytorch.py --threads 2 --sizes 512 1024 --repeats 3
run "$BIN" simulate --recipe TrainingData/movie-ws2.json --frames 100 --out "$WORK/sim100" --overwrite --quiet
run /usr/bin/time -v "$BIN" analyze "$WORK/sim100/movie.tif" --material ws2 --out "$WORK/an100" --overwrite --quiet
jq .secondsPerStage "$WORK/an100/summary.json"
} 2>&1 | tee "$WORK/bench.log"
