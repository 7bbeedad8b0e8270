#!/usr/bin/env bash
# Issue #19's figures (docs/BENCHMARKS.md, "Per-frame speed"), ours and PyTorch interleaved.
#
#   scripts/bench_speed.sh [WORKDIR]        (default /tmp/atomtrack-bench-speed)
#   env: PYTHON (venv with torch; default /work/venv/bin/python), ROUNDS (default 3), ATOMTRACK (binary),
#        OLD (a binary to compare against, e.g. main's build; optional), ANALYZE_FRAMES (default 100)
#
# 1. U-Net inference on whole 512² and 1024² frames: `atomtrack bench inference` and
#    scripts/bench_inference_pytorch.py, alternated ROUNDS times (wall and CPU time each).
# 2. `locate` marginal s/frame at 512² and 1024² (scripts/bench_inference.sh), new and OLD alternated.
# 3. Where a frame's time goes: `atomtrack bench frame` on the 512² and 1024² movies of step 2.
# 4. Train step (batch 8, 256²): `bench kernels --network-only` and bench_vs_pytorch.py --network-only.
# 5. `analyze` of an ANALYZE_FRAMES-frame 1024² WS2 movie: wall, CPU, peak RSS (GNU time).
# On a shared machine take the minima, and prefer CPU time to wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/atomtrack-bench-speed}
PY=${PYTHON:-/work/venv/bin/python}
ROUNDS=${ROUNDS:-3}
FRAMES_ANALYZE=${ANALYZE_FRAMES:-100}
BIN=${ATOMTRACK:-$PWD/.build/release/atomtrack}
mkdir -p "$WORK"
run() { echo "+ $* (load $(cut -d' ' -f1 /proc/loadavg))"; "$@"; }
echo "date $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) cpus $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

for r in $(seq "$ROUNDS"); do
    run "$BIN" bench inference --sizes 512 1024 --repeats 3
    OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_inference_pytorch.py --threads 2 --sizes 512 1024 --repeats 3
done

for r in $(seq "$ROUNDS"); do
    FRAMES=4 RSS_FRAMES=20 ATOMTRACK=$BIN run scripts/bench_inference.sh "$WORK/locate"
    if [[ -n ${OLD:-} ]]; then FRAMES=4 RSS_FRAMES=20 ATOMTRACK=$OLD run scripts/bench_inference.sh "$WORK/locate"; fi
done

for size in 512 1024; do run "$BIN" bench frame "$WORK/locate/sim-ws2-$size-f4/movie.tif" --material ws2 --frames 4; done

for r in $(seq "$ROUNDS"); do
    run "$BIN" bench kernels --network-only
    OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_vs_pytorch.py --threads 2 --network-only
done

movie=$WORK/analyze-movie
if [[ ! -f $movie/movie.tif ]]; then
    jq '.width = 1024 | .height = 1024 | .name = (.name + "-1024")' TrainingData/movie-ws2.json > "$WORK/recipe-ws2-1024.json"
    "$BIN" simulate --recipe "$WORK/recipe-ws2-1024.json" --out "$movie" --frames "$FRAMES_ANALYZE" --overwrite --quiet
fi
run /usr/bin/time -f "analyze: %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
    "$BIN" analyze "$movie/movie.tif" --material ws2 --out "$WORK/analyze-out" --overwrite --quiet
