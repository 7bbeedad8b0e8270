#!/usr/bin/env bash
# analyze-many.sh [--throttle K] [--sbatch "ARGS"] MANIFEST OUTDIR [analyze options…]
#
# One Slurm array task per movie. MANIFEST: one movie per line, optionally followed by that
# movie's own analyze options (split at blanks; '#' starts a comment line). Task k analyses the
# k-th movie into OUTDIR/NNNN-<name> with --resume (a requeued task continues from its journal;
# a finished one is left alone). Logs: OUTDIR/logs/NNNN.log. Prints the array job id.
set -euo pipefail
usage() { [ -n "${1:-}" ] && echo "analyze-many.sh: error: $1" >&2
          sed -n '2,2p' "$0" | sed 's/^# //' >&2; exit 64; }
source "$(dirname "$0")/common.sh"
parse_script_options "$@"; set -- "${rest[@]}"
[ $# -ge 2 ] || usage "give MANIFEST OUTDIR"
manifest=$1; outdir=$2; shift 2
[ -r "$manifest" ] || { echo "analyze-many.sh: error: $manifest: cannot read" >&2; exit 1; }
bin=$(atomtrack_binary)
require_sbatch

mkdir -p "$outdir/logs" "$outdir/jobs"
outdir=$(cd "$outdir" && pwd)
grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$manifest" > "$outdir/jobs/movies.txt"
count=$(wc -l < "$outdir/jobs/movies.txt")
[ "$count" -ge 1 ] || { echo "analyze-many.sh: error: $manifest: no movies" >&2; exit 1; }
while read -r movie _; do
  [ -e "$movie" ] || { echo "analyze-many.sh: error: $manifest: $movie: no such movie" >&2; exit 1; }
done < "$outdir/jobs/movies.txt"

write_job "$outdir/jobs/movie.sh" \
  "read -r -a line < <(sed -n \"\$((SLURM_ARRAY_TASK_ID + 1))p\" $(printf '%q' "$outdir/jobs/movies.txt"))" \
  "name=\$(basename \"\${line[0]}\"); out=$(printf '%q' "$outdir")/\$(printf %04d \"\$SLURM_ARRAY_TASK_ID\")-\${name%.*}" \
  "[ -f \"\$out/summary.json\" ] && { echo \"\$out: already analysed\"; exit 0; }" \
  "exec $(printf '%q' "$bin") analyze \"\${line[@]}\" --out \"\$out\" --resume$(printf ' %q' "$@")"
array=$(sbatch --parsable "${sbatch_args[@]}" --job-name=atomtrack-movies --array="0-$((count - 1))$throttle" \
        --output="$outdir/logs/%4a.log" "$outdir/jobs/movie.sh")
echo "array job ${array%%;*} ($count movies) -> $outdir/NNNN-<movie>"
