#!/usr/bin/env bash
# Issue #19's figures (docs/BENCHMARKS.md, "Per-frame speed"), ours and PyTorch interleaved.
#
#   scripts/bench_speed.sh [WORKDIR]        (default /tmp/atomtrack-bench-speed)
#   env: PYTHON (venv with torch; default /work/venv/bin/python), ROUNDS (default 3), ATOMTRACK (binary),
#        OLD (a binary to compare against, e.g. main's build; optional), ANALYZE_FRAMES (default 100),
#        STEPS (default "1 2 3 4 5"; 6 is the frame loop side by side), LOOP_FRAMES (step 6, default 8),
#        ANALYZE_THREADS (step 6, default "2")
#
# 1. U-Net inference on whole 512² and 1024² frames: `atomtrack bench inference` and
#    scripts/bench_inference_pytorch.py, alternated ROUNDS times (wall and CPU time each).
# 2. `locate` marginal s/frame at 512² and 1024² (scripts/bench_inference.sh), new and OLD alternated.
# 3. Where a frame's time goes: `atomtrack bench frame` on the 512² and 1024² movies of step 2.
# 4. Train step (batch 8, 256²): `bench kernels --network-only` and bench_vs_pytorch.py --network-only.
# 5. `analyze` of an ANALYZE_FRAMES-frame 1024² WS2 movie: wall, CPU, peak RSS (GNU time).
# 6. The frame loop, ROUNDS times, new (and OLD) next to PyTorch's network alone: `locate` of 2 and
#    of LOOP_FRAMES 512² frames with 2 threads and with 1 (`--threads 1`) (marginal wall and CPU per
#    frame = the difference over LOOP_FRAMES − 2), `analyze` of 2 and LOOP_FRAMES 1024² frames
#    with ANALYZE_THREADS (the same, plus peak RSS).
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
STEPS=${STEPS:-"1 2 3 4 5"}
LOOP_FRAMES=${LOOP_FRAMES:-8}
step() { [[ " $STEPS " == *" $1 "* ]]; }
echo "date $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) cpus $(nproc) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

# movie SIZE FRAMES -> a simulated WS2 movie (recipe copy at SIZE², cached in WORK)
movie() {
    local dir="$WORK/movie-ws2-$1-f$2"
    if [[ ! -f $dir/movie.tif ]]; then
        jq --argjson s "$1" '.width = $s | .height = $s | .name = (.name + "-\($s)")' TrainingData/movie-ws2.json > "$WORK/recipe-ws2-$1.json"
        "$BIN" simulate --recipe "$WORK/recipe-ws2-$1.json" --out "$dir" --frames "$2" --overwrite --quiet >&2
    fi
    echo "$dir/movie.tif"
}

if step 1; then for r in $(seq "$ROUNDS"); do
    run "$BIN" bench inference --sizes 512 1024 --repeats 3
    OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_inference_pytorch.py --threads 2 --sizes 512 1024 --repeats 3
done; fi

if step 2; then for r in $(seq "$ROUNDS"); do
    FRAMES=4 RSS_FRAMES=20 ATOMTRACK=$BIN run scripts/bench_inference.sh "$WORK/locate"
    if [[ -n ${OLD:-} ]]; then FRAMES=4 RSS_FRAMES=20 ATOMTRACK=$OLD run scripts/bench_inference.sh "$WORK/locate"; fi
done; fi

if step 3; then for size in 512 1024; do
    for b in "$BIN" ${OLD:-}; do run "$b" bench frame "$(movie "$size" 4)" --material ws2 --frames 4; done
done; fi

if step 4; then for r in $(seq "$ROUNDS"); do
    run "$BIN" bench kernels --network-only
    OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_vs_pytorch.py --threads 2 --network-only
done; fi

if step 5; then
    run /usr/bin/time -f "analyze: %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
        "$BIN" analyze "$(movie 1024 "$FRAMES_ANALYZE")" --material ws2 --out "$WORK/analyze-out" --overwrite --quiet
fi

# timed LABEL CMD… -> one line: LABEL wall_s cpu_s peak_rss_KiB
timed() {
    local label=$1; shift
    /usr/bin/time -f "$label %e %U %S %M" -o "$WORK/time.txt" "$@" >/dev/null
    awk '{ printf "%-44s %8.2f %8.2f %8d\n", $1, $2, $3 + $4, $5 }' "$WORK/time.txt"
}

if step 6; then
    m512=$(movie 512 "$LOOP_FRAMES"); m1024=$(movie 1024 "$LOOP_FRAMES")
    echo "per command: wall s, CPU s (user + sys), peak RSS KiB; marginal per frame = (N-frame − 2-frame) / (N − 2)"
    for r in $(seq "$ROUNDS"); do
        echo "round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
        for b in "$BIN" ${OLD:-}; do
            name=$([[ $b == "$BIN" ]] && echo new || echo old)
            for t in 2 1; do for n in 2 "$LOOP_FRAMES"; do
                timed "$name-locate-512-t$t-n$n" "$b" locate "$m512" --material ws2 --threads "$t" --count "$n" \
                    --out "$WORK/loop-out" --overwrite --quiet
            done; done
            for t in ${ANALYZE_THREADS:-2}; do for n in 2 "$LOOP_FRAMES"; do
                timed "$name-analyze-1024-t$t-n$n" "$b" analyze "$m1024" --material ws2 --threads "$t" --count "$n" \
                    --out "$WORK/loop-analyze" --overwrite --quiet
            done; done
        done
        for t in 2 1; do OPENBLAS_CORETYPE=SkylakeX run "$PY" scripts/bench_inference_pytorch.py --threads "$t" --sizes 512 --repeats 5; done
    done
fi
