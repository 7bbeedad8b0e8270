#!/usr/bin/env bash
# check-slurm.sh - runs scripts/slurm/ on a real Slurm cluster (CI: the one node that
# scripts/cluster/start-slurm.sh brings up) and compares with single runs on this machine:
#   1. analyze-array.sh with 3 shards (+ merge): OUTDIR/merged's tables equal `analyze`'s;
#   2. analyze-many.sh with 2 movies: each equals its own `analyze`.
# Skips (exit 0, saying so) when no Slurm answers. Needs .build/release/atomtrack.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/.build/release/atomtrack
if ! command -v sbatch >/dev/null || ! sinfo -h >/dev/null 2>&1; then
  echo "check-slurm: SKIPPED - no Slurm cluster answers (start one with sudo scripts/cluster/start-slurm.sh)"; exit 0
fi
work=$(mktemp -d "$PWD/.build/check-slurm.XXXXXX")   # under the package: a path every node sees
[ "${KEEP:-0}" = 1 ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
export ATOMTRACK=$bin ATOMTRACK_PROGRESS_INTERVAL=2
tables=(atoms.csv defects.csv trajectories.csv diffusion.csv drift.csv library.json config.json)

# wait_jobs ID...: until none is queued or running (10 min at most), then all must have COMPLETED.
wait_jobs() {
  local ids; ids=$(IFS=,; echo "$*")
  for _ in $(seq 600); do [ -z "$(squeue -h -j "$ids" 2>/dev/null)" ] && break; sleep 1; done
  for id in "$@"; do
    scontrol show job "$id" 2>/dev/null | grep -q 'JobState=COMPLETED' || { scontrol show job "$id" || true; return 1; }
  done
}
same_tables() {  # SINGLE OTHER FILE…: each file of the single run, byte for byte
  local a=$1 b=$2; shift 2
  for t in "$@"; do cmp -s "$a/$t" "$b/$t" || { echo "check-slurm: FAIL: $t differs or is missing ($a vs $b)"; return 1; }; done
}

sed -e 's/"width": 256/"width": 128/' -e 's/"height": 256/"height": 128/' TrainingData/movie-ws2.json > "$work/recipe.json"
"$bin" simulate --recipe "$work/recipe.json" --frames 24 --seed 7 --out "$work/movie" --quiet
"$bin" simulate --recipe "$work/recipe.json" --frames 12 --seed 9 --out "$work/movie2" --quiet
movie=$work/movie/movie.tif movie2=$work/movie2/movie.tif
# Tracks of ≥ 3 frames, so that this short movie gives a Markov model to compare.
printf '{"movie": "", "material": "ws2", "frameTime": 1, "kinetics": {"minTrackLength": 3}}\n' > "$work/config.json"
options=(--config "$work/config.json")

t0=$SECONDS
"$bin" analyze "$movie" "${options[@]}" --out "$work/single" --quiet > /dev/null
t1=$SECONDS
line=$(scripts/slurm/analyze-array.sh --throttle 2 "$movie" "$work/array" 3 "${options[@]}")
echo "$line"
read -r array merge <<< "$(sed -E 's/^array job ([0-9]+).*merge job ([0-9]+).*/\1 \2/' <<< "$line")"
wait_jobs "$array" "$merge" || { tail -n 5 "$work"/array/logs/*.log; echo "check-slurm: FAIL: jobs did not complete"; exit 1; }
t2=$SECONDS
same_tables "$work/single" "$work/array/merged" "${tables[@]}" markov.json
grep -q 'locate \[.*ETA' "$work/array/logs/shard-0.log" || { echo "check-slurm: FAIL: no progress lines in the log"; exit 1; }
echo "check-slurm: array of 3 shards + merge == single analyze ($((t2 - t1)) s on the cluster, single run $((t1 - t0)) s)"

"$bin" analyze "$movie2" "${options[@]}" --out "$work/single2" --quiet > /dev/null
printf '# two movies\n%s\n%s --count 8\n' "$movie2" "$movie" > "$work/manifest.txt"
line=$(scripts/slurm/analyze-many.sh "$work/manifest.txt" "$work/many" "${options[@]}")
echo "$line"
wait_jobs "$(sed -E 's/^array job ([0-9]+).*/\1/' <<< "$line")" || { tail -n 5 "$work"/many/logs/*.log; echo "check-slurm: FAIL: movie jobs"; exit 1; }
same_tables "$work/single2" "$work/many/0000-movie" "${tables[@]}"   # too short for a Markov model
grep -q '"frames" : 8,' "$work/many/0001-movie/summary.json" \
  || { echo "check-slurm: FAIL: the manifest's per-movie options were not used"; exit 1; }
echo "check-slurm: analyze-many.sh (2 movies) == single analyze runs"
echo "check-slurm: passed"
