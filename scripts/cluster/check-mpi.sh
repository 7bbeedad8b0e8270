#!/usr/bin/env bash
# check-mpi.sh - builds atomtrack-mpi (the separate package in mpi/) and checks that
# `mpirun -n 2 atomtrack-mpi train` is the computation of a single-process `atomtrack train`
# with the same global batch: per-step losses in training_log.csv equal to 1e-4 (relative),
# also after an interruption and --resume, and under Slurm (srun --mpi=pmi2) when one answers.
# Skips (exit 0, saying so) without MPICH. Needs .build/release/atomtrack.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v mpirun >/dev/null || ! pkg-config --exists mpich 2>/dev/null; then
  echo "check-mpi: SKIPPED - no MPICH (mpirun, libmpich-dev); sudo scripts/cluster/start-slurm.sh installs it"; exit 0
fi
bin=$PWD/.build/release/atomtrack
t0=$SECONDS
(cd mpi && swift build -c release --product atomtrack-mpi 2>&1 | tail -n 1)
mpi=$PWD/mpi/.build/release/atomtrack-mpi
echo "check-mpi: atomtrack-mpi built in $((SECONDS - t0)) s"
work=$(mktemp -d "$PWD/.build/check-mpi.XXXXXX")
[ "${KEEP:-0}" = 1 ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
# SGD: under Adam, float-rounding differences between 1 and 2 ranks are amplified into
# loss differences near 1e-4 (1.5e-4 under OPENBLAS_CORETYPE=Haswell), see docs/CLUSTER.md.
args=(--optimizer sgd --recipe TrainingData/tmd-ws2.json --steps 6 --batch-size 4 --tile 64 --validate-every 3
      --validation-frames 2 --base-filters 4 --threads 1 --quiet)

# same_losses A B: every step of A's training_log.csv in B with a loss equal to 1e-4 relative.
same_losses() {
  awk -F, 'NR == FNR { if (FNR > 1) loss[$1] = $2; next }
           FNR > 1 { n++; d = $2 - loss[$1]; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2)
                     if (!($1 in loss) || r > 1e-4) { bad++; print "step " $1 ": " loss[$1] " vs " $2 }
                     if (r > worst) worst = r }
           END { printf "check-mpi: %d steps, largest relative loss difference %.2g\n", n, worst; exit (bad > 0 || n == 0) }' \
      "$1/training_log.csv" "$2/training_log.csv" || { echo "check-mpi: FAIL: $1 vs $2"; exit 1; }
}

"$bin" train "${args[@]}" --out "$work/single" > /dev/null
mpirun -n 2 "$mpi" train "${args[@]}" --out "$work/mpi2" --expect-ranks 2 > /dev/null
same_losses "$work/single" "$work/mpi2"
mpirun -n 2 "$mpi" train "${args[@]}" --out "$work/resumed" --expect-ranks 2 --stop-at-step 3 > /dev/null
mpirun -n 2 "$mpi" train "${args[@]}" --out "$work/resumed" --expect-ranks 2 --resume > /dev/null
same_losses "$work/single" "$work/resumed"
[ "$(grep -c '^[0-9]' "$work/resumed/training_log.csv")" = 6 ] || { echo "check-mpi: FAIL: resumed log has not 6 steps"; exit 1; }
# Refusals end every rank with one line, never a hang.
if mpirun -n 2 "$mpi" train "${args[@]}" --batch-size 1 --out "$work/bad" 2> "$work/err"; then echo "check-mpi: FAIL: batch 1 on 2 ranks ran"; exit 1; fi
grep -q 'cannot be split over 2 processes' "$work/err" || { cat "$work/err"; echo "check-mpi: FAIL: no batch-size message"; exit 1; }
if mpirun -n 1 "$mpi" train "${args[@]}" --out "$work/bad" --expect-ranks 2 2> "$work/err"; then echo "check-mpi: FAIL: 1 rank passed --expect-ranks 2"; exit 1; fi
grep -q 'expected 2 MPI ranks, the world has 1' "$work/err" || { cat "$work/err"; echo "check-mpi: FAIL: no world-size message"; exit 1; }
if command -v srun >/dev/null && sinfo -h >/dev/null 2>&1; then
  srun --mpi=pmi2 -n 2 "$mpi" train "${args[@]}" --out "$work/srun" --expect-ranks 2 > /dev/null
  same_losses "$work/single" "$work/srun"
else
  echo "check-mpi: srun part SKIPPED - no Slurm cluster answers"
fi
echo "check-mpi: passed"
