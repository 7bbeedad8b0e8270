#!/usr/bin/env bash
# stop-slurm.sh - stops the slurmd, slurmctld and munged that scripts/cluster/start-slurm.sh
# started, by the PIDs in their pid files (never by process name).
#   bash stop-slurm.sh           # cancel jobs, stop daemons, keep state/logs
#   bash stop-slurm.sh --purge   # also delete $SLURM_CI_ROOT (state, spool, logs)
set -uo pipefail
ROOT=${SLURM_CI_ROOT:-/var/spool/slurm-ci}

pid_alive() {  # pidfile expected-comm
  local p; [ -s "$1" ] || return 1; p=$(cat "$1"); [ -n "$p" ] || return 1
  [ -d "/proc/$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ]
}
# SIGTERM every daemon first, then wait for all of them (each takes ~2s to
# exit, so this is ~2s instead of ~6s); SIGKILL whatever is left after 10s.
pids=()
signal_pid() {  # pidfile comm
  if pid_alive "$1" "$2"; then
    local p; p=$(cat "$1")
    echo "[stop-slurm] stopping $2 (pid $p)"
    kill "$p" 2>/dev/null && pids+=("$p:$2")
  else
    echo "[stop-slurm] $2 not running"
  fi
}
wait_pids() {
  local e p
  for _ in $(seq 100); do
    local alive=0; for e in "${pids[@]}"; do [ -d "/proc/${e%%:*}" ] && alive=1; done
    [ "$alive" = 0 ] && return 0; sleep 0.1
  done
  for e in "${pids[@]}"; do
    p=${e%%:*}
    if [ -d "/proc/$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = "${e#*:}" ]; then
      echo "[stop-slurm] ${e#*:} (pid $p) still alive after 10s, SIGKILL"; kill -9 "$p" 2>/dev/null
    fi
  done
}

# Cancel leftover jobs first so no slurmstepd outlives slurmd.
if pid_alive "$ROOT/slurmctld.pid" slurmctld && command -v squeue >/dev/null; then
  jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    echo "[stop-slurm] cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi

signal_pid "$ROOT/slurmd.pid" slurmd
signal_pid "$ROOT/slurmctld.pid" slurmctld
signal_pid /run/munge/munged.pid munged
[ ${#pids[@]} -gt 0 ] && wait_pids
rm -f "$ROOT/slurmd.pid" "$ROOT/slurmctld.pid"

if [ "${1:-}" = "--purge" ]; then
  echo "[stop-slurm] removing $ROOT"
  rm -rf "$ROOT"
fi
exit 0
