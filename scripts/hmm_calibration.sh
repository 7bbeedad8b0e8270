#!/usr/bin/env bash
# Calibration study of the joint defect HMM (docs/ACCURACY.md, "Defect kinetics: the joint HMM"):
# table-level simulated movies (lattice hops, localization noise, classifier log-likelihoods with
# confidently wrong frames and spurious classes), each fitted with bootstrap intervals.
# Usage: scripts/hmm_calibration.sh [MOVIES] [SEED]   (default 120 movies, seed 1)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product atomtrack >/dev/null
.build/release/atomtrack bench hmm --movies "${1:-120}" --seed "${2:-1}" --csv "${TMPDIR:-/tmp}/hmm_calibration.csv"
