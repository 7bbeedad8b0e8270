#!/usr/bin/env bash
# bench_cluster.sh - the figures of docs/BENCHMARKS.md "Beyond one machine", on this machine:
#   1. shard overhead: `analyze` of a FRAMES-frame 256² WS2 movie, against SHARDS shards run one
#      after another plus `merge` (what the shards add: start-up per shard, the merge);
#   2. MPI scaling: seconds per training step (default U-Net, 594 067 parameters, batch 8, tile 128)
#      of `atomtrack train --threads 2`, `mpirun -n 1 atomtrack-mpi --threads 2` and
#      `mpirun -n 2 atomtrack-mpi --threads 1` (marginal: (t(2+STEPS) − t(2)) / STEPS).
# Each figure is the minimum of REPEATS runs (the box is shared); the shard part gives wall and
# CPU (user + sys) seconds, CPU time being the steadier measure on a loaded machine. Needs the
# release builds of atomtrack and mpi/ (atomtrack-mpi; part 2 is skipped without it). PARTS=shards
# or PARTS=mpi runs one part.
set -euo pipefail
cd "$(dirname "$0")/../.."
FRAMES=${FRAMES:-40} SHARDS=${SHARDS:-4} STEPS=${STEPS:-5} REPEATS=${REPEATS:-2}
bin=$PWD/.build/release/atomtrack mpi=$PWD/mpi/.build/release/atomtrack-mpi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
seconds() { local t0; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'; }
cpu_seconds() { /usr/bin/time -f '%U %S' -o "$work/time" "$@" > /dev/null 2>&1; awk '{ print $1 + $2 }' "$work/time"; }
PARTS=${PARTS:-shards mpi}
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
echo "bench_cluster: $(date -u '+%F %H:%M') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "$PARTS" == *shards* ]]; then
"$bin" simulate --recipe TrainingData/movie-ws2.json --frames "$FRAMES" --out "$work/movie" --quiet
movie=$work/movie/movie.tif options=(--material ws2 --frame-time 1 --quiet)
single=() sharded=() merged=() single_cpu=() sharded_cpu=() merged_cpu=()
for r in $(seq "$REPEATS"); do
  single+=("$(seconds "$bin" analyze "$movie" "${options[@]}" --out "$work/single" --overwrite)")
  single_cpu+=("$(cpu_seconds "$bin" analyze "$movie" "${options[@]}" --out "$work/single" --overwrite)")
  total=0 total_cpu=0
  for i in $(seq 0 $((SHARDS - 1))); do
    total=$(add "$total" "$(seconds "$bin" analyze "$movie" "${options[@]}" --shard "$i/$SHARDS" --out "$work/shard-$i" --overwrite)")
    total_cpu=$(add "$total_cpu" "$(cpu_seconds "$bin" analyze "$movie" "${options[@]}" --shard "$i/$SHARDS" --out "$work/shard-$i" --overwrite)")
  done
  sharded+=("$total") sharded_cpu+=("$total_cpu")
  merged+=("$(seconds "$bin" merge "$work"/shard-* --out "$work/merged" --overwrite --quiet)")
  merged_cpu+=("$(cpu_seconds "$bin" merge "$work"/shard-* --out "$work/merged" --overwrite --quiet)")
done
cmp -s "$work/single/trajectories.csv" "$work/merged/trajectories.csv" || { echo "bench_cluster: merged result differs!"; exit 1; }
echo "shards, wall: analyze $FRAMES frames $(minimum "${single[@]}") s; $SHARDS shards in sequence $(minimum "${sharded[@]}") s + merge $(minimum "${merged[@]}") s (runs: ${single[*]} / ${sharded[*]} / ${merged[*]})"
echo "shards, CPU:  analyze $FRAMES frames $(minimum "${single_cpu[@]}") s; $SHARDS shards in sequence $(minimum "${sharded_cpu[@]}") s + merge $(minimum "${merged_cpu[@]}") s (runs: ${single_cpu[*]} / ${sharded_cpu[*]} / ${merged_cpu[*]})"
fi
[[ "$PARTS" == *mpi* ]] || exit 0
[ -x "$mpi" ] && command -v mpirun > /dev/null || { echo "bench_cluster: no atomtrack-mpi/mpirun, MPI part skipped"; exit 0; }
train=(--recipe TrainingData/tmd-ws2.json --batch-size 8 --tile 128 --validate-every 1000 --validation-frames 1 --quiet)
per_step() {  # command…: marginal seconds per step, minimum over REPEATS
  local runs=() r a b
  for r in $(seq "$REPEATS"); do
    a=$(seconds "$@" "${train[@]}" --steps 2 --out "$work/t" --overwrite)
    b=$(seconds "$@" "${train[@]}" --steps $((2 + STEPS)) --out "$work/t" --overwrite)
    runs+=("$(awk -v a="$a" -v b="$b" -v n="$STEPS" 'BEGIN { printf "%.3f\n", (b - a) / n }')")
  done
  echo "$(minimum "${runs[@]}") s/step (runs: ${runs[*]})"
}
echo "train, single process, 2 threads:   $(per_step "$bin" train --threads 2)"
echo "mpirun -n 1 atomtrack-mpi, 2 threads: $(per_step mpirun -n 1 "$mpi" train --threads 2)"
echo "mpirun -n 2 atomtrack-mpi, 1 thread:  $(per_step mpirun -n 2 "$mpi" train --threads 1 --expect-ranks 2)"
mpirun -n 2 "$mpi" train "${train[@]}" --threads 1 --steps $((2 + STEPS)) --out "$work/t" --overwrite | tail -n 1
echo "bench_cluster: done $(date -u '+%H:%M') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
