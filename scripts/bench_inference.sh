#!/usr/bin/env bash
# Inference speed and memory of `atomtrack locate` (release build, shipped models).
#
#   scripts/bench_inference.sh [WORKDIR]       (default WORKDIR: /tmp/atomtrack-bench)
#   env: MATERIAL (ws2 | graphene-si, default ws2), FRAMES (speed frames, default 4),
#        RSS_FRAMES (default "20 60"), ATOMTRACK (binary)
#
# 1. Speed: simulates MATERIAL movies at 512×512 and 1024×1024 (recipe copies with width/height
#    changed, written to WORKDIR), then times `atomtrack locate` on 1 frame and on FRAMES frames.
#    frames/s = FRAMES / wall; the marginal per-frame time (wall(N) − wall(1)) / (N − 1) removes
#    start-up (model load, re-exec for OPENBLAS_CORETYPE, output set-up).
# 2. Memory: peak RSS (/usr/bin/time -v, "Maximum resident set size") of `locate` on 20- and
#    60-frame 1024×1024 movies — equal peaks show frames are streamed, not held.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ATOMTRACK:-$PWD/.build/release/atomtrack}
WORK=${1:-/tmp/atomtrack-bench}
MATERIAL=${MATERIAL:-ws2}
FRAMES=${FRAMES:-4}
RSS_FRAMES=${RSS_FRAMES:-"20 60"}
case $MATERIAL in
    ws2) recipe=TrainingData/movie-ws2.json ;;
    graphene-si) recipe=TrainingData/movie-graphene-si.json ;;
    *) echo "MATERIAL must be ws2 or graphene-si" >&2; exit 2 ;;
esac
[[ -x /usr/bin/time ]] || { echo "install GNU time: apt-get install -y time" >&2; exit 2; }
mkdir -p "$WORK"
echo "date: $(date -u +%FT%TZ)  host: $(uname -n)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"

movie() { # size frames -> path of movie.tif
    local size=$1 frames=$2 dir="$WORK/sim-$MATERIAL-$1-f$2"
    if [[ ! -f $dir/movie.tif ]]; then
        jq --argjson s "$size" '.width = $s | .height = $s | .name = (.name + "-\($s)")' "$recipe" > "$WORK/recipe-$MATERIAL-$size.json"
        "$BIN" simulate --recipe "$WORK/recipe-$MATERIAL-$size.json" --out "$dir" --frames "$frames" --overwrite --quiet >&2
    fi
    echo "$dir/movie.tif"
}

wall() { # seconds for: locate MOVIE COUNT
    local t0 t1
    t0=$(date +%s.%N)
    "$BIN" locate "$1" --material "$MATERIAL" --out "$WORK/locate-out" --count "$2" --overwrite --quiet >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

printf '\n%-10s %7s %9s %10s %10s %14s\n' size frames wall_s wall1_s frames/s marginal_s/fr
for size in 512 1024; do
    m=$(movie "$size" "$FRAMES")
    wall "$m" 1 >/dev/null   # warm the page cache
    w1=$(wall "$m" 1)
    wn=$(wall "$m" "$FRAMES")
    printf '%-10s %7d %9.2f %10.2f %10.3f %14.3f\n' "${size}x${size}" "$FRAMES" "$wn" "$w1" \
        "$(echo "$FRAMES / $wn" | bc -l)" "$(echo "($wn - $w1) / ($FRAMES - 1)" | bc -l)"
done

printf '\n%-10s %7s %9s %14s\n' size frames wall_s peak_rss_MiB
for n in $RSS_FRAMES; do
    m=$(movie 1024 "$n")
    log="$WORK/time-$n.txt"
    /usr/bin/time -v "$BIN" locate "$m" --material "$MATERIAL" --out "$WORK/locate-out" --overwrite --quiet >/dev/null 2>"$log"
    kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$log")
    el=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$log")
    printf '%-10s %7d %9s %14.1f\n' 1024x1024 "$n" "$el" "$(echo "$kb / 1024" | bc -l)"
done
