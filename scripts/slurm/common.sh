# Shared by analyze-array.sh and analyze-many.sh (sourced): the atomtrack binary, the
# script options, and writing a job script whose arguments survive any quoting.

# The binary the jobs run: $ATOMTRACK, else `atomtrack` on PATH, else this checkout's release build.
atomtrack_binary() {
  local here; here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local bin=${ATOMTRACK:-$(command -v atomtrack || echo "$here/.build/release/atomtrack")}
  [ -x "$bin" ] || { echo "$(basename "$0"): error: no atomtrack binary at $bin (set ATOMTRACK or run scripts/setup.sh)" >&2; exit 1; }
  (cd "$(dirname "$bin")" && echo "$(pwd)/$(basename "$bin")")
}

# Slurm's sbatch must be on PATH (a login shell may need `module load slurm`).
require_sbatch() {
  command -v sbatch >/dev/null || { echo "$(basename "$0"): error: sbatch not found (is Slurm loaded? module load slurm)" >&2; exit 1; }
}

# Script options before the positional arguments: --throttle K (at most K tasks at once, the
# array's %K) and --sbatch "ARGS" (passed to every sbatch: partition, memory, time, account…).
throttle=""; sbatch_args=()
parse_script_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --throttle) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage "--throttle needs a positive number"; throttle="%$2"; shift 2 ;;
      --sbatch) read -r -a extra <<< "${2:-}"; sbatch_args+=("${extra[@]}"); shift 2 ;;
      -h|--help) usage ;;
      *) break ;;
    esac
  done
  rest=("$@")
}

# write_job FILE COMMAND...: a bash job script running COMMAND with each argument quoted.
write_job() {
  local file=$1; shift
  { echo '#!/usr/bin/env bash'; echo 'set -euo pipefail'
    echo "export ATOMTRACK_PROGRESS_INTERVAL=\${ATOMTRACK_PROGRESS_INTERVAL:-60}"
    printf '%s\n' "$@"; } > "$file"
  chmod +x "$file"
}
