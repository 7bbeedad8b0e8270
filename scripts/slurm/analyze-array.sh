#!/usr/bin/env bash
# analyze-array.sh [--throttle K] [--sbatch "ARGS"] MOVIE OUTDIR N [analyze options…]
#
# Analyses one movie as a Slurm job array of N frame shards and merges them:
#   task i:   atomtrack analyze MOVIE --shard i/N --out OUTDIR/shard-i --resume [options…]
#   then:     atomtrack merge OUTDIR/shard-0 … --out OUTDIR/merged   (--dependency=afterok)
# OUTDIR/merged then holds what a single `atomtrack analyze MOVIE [options…]` writes.
# A requeued or resubmitted task continues from its journal; a finished shard is kept.
# Logs: OUTDIR/logs/shard-i.log and merge.log (progress lines every $ATOMTRACK_PROGRESS_INTERVAL s,
# default 60). Prints the array and merge job ids. See docs/CLUSTER.md.
set -euo pipefail
usage() { [ -n "${1:-}" ] && echo "analyze-array.sh: error: $1" >&2
          sed -n '2,3p' "$0" | sed 's/^# //' >&2; exit 64; }
source "$(dirname "$0")/common.sh"
parse_script_options "$@"; set -- "${rest[@]}"
[ $# -ge 3 ] || usage "give MOVIE OUTDIR N"
movie=$1; outdir=$2; n=$3; shift 3
[[ "$n" =~ ^[1-9][0-9]*$ ]] || usage "N must be a positive number, not '$n'"
[ -e "$movie" ] || { echo "analyze-array.sh: error: $movie: no such movie" >&2; exit 1; }
bin=$(atomtrack_binary)
require_sbatch

mkdir -p "$outdir/logs" "$outdir/jobs"
outdir=$(cd "$outdir" && pwd)
options=$(printf ' %q' "$@")
write_job "$outdir/jobs/shard.sh" \
  "exec $(printf '%q' "$bin") analyze $(printf '%q' "$movie") --shard \"\$SLURM_ARRAY_TASK_ID/$n\" --out $(printf '%q' "$outdir")/shard-\"\$SLURM_ARRAY_TASK_ID\" --resume$options"
shards=$(for ((i = 0; i < n; i++)); do printf ' %q' "$outdir/shard-$i"; done)
write_job "$outdir/jobs/merge.sh" "exec $(printf '%q' "$bin") merge$shards --out $(printf '%q' "$outdir/merged")"

array=$(sbatch --parsable "${sbatch_args[@]}" --job-name=atomtrack-shards --array="0-$((n - 1))$throttle" \
        --output="$outdir/logs/shard-%a.log" "$outdir/jobs/shard.sh")
array=${array%%;*}
merge=$(sbatch --parsable "${sbatch_args[@]}" --job-name=atomtrack-merge --dependency="afterok:$array" \
        --output="$outdir/logs/merge.log" "$outdir/jobs/merge.sh")
merge=${merge%%;*}
echo "array job $array ($n shards of $movie), merge job $merge -> $outdir/merged"
