#!/usr/bin/env bash
# Runs the README's user commands on simulated data, so they cannot rot (called by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/atomtrack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" demo --frames 40 --out "$work/demo" --quiet
movie="$work/demo/movie/movie.tif"
"$bin" info "$movie"
"$bin" analyze "$movie" --material ws2 --frame-time 1 --count 20 --out "$work/results" --quiet
"$bin" analyze --config "$work/results/config.json" --out "$work/again" --quiet > /dev/null
"$bin" locate "$movie" --material ws2 --count 20 --out "$work/atoms" --quiet
"$bin" locate "$movie" --material ws2 --count 2 --tta --out "$work/atoms-tta" --quiet
"$bin" classify "$movie" --atoms "$work/atoms/atoms.csv" --material ws2 --out "$work/library"
"$bin" analyze "$movie" --material ws2 --frame-time 1 --count 20 --library "$work/results/library.json" --out "$work/next" --quiet > /dev/null
"$bin" library compare "$work/results/library.json" "$work/library/library.json"
"$bin" --threads 1 --version
"$bin" --generate-completion-script bash > /dev/null
"$bin" track "$work/library/defects.csv" --max-distance 22 --pixel-size 0.2 --frame-time 1 --out "$work/tracks"
"$bin" markov "$work/tracks/trajectories.csv" --lag 1 --out "$work/markov"
"$bin" lattice "$movie" --frame 0 --material ws2 --out "$work/lattice"
"$bin" simulate --recipe TrainingData/tmd-ws2.json --out "$work/sample" --count 2 --quiet
"$bin" train --recipe TrainingData/tmd-ws2.json --out "$work/my-ws2" --steps 4 --batch-size 2 --tile 64 \
  --validate-every 2 --validation-frames 2 --base-filters 4 --quiet
"$bin" train --recipe TrainingData/tmd-ws2.json --out "$work/my-ws2" --steps 6 --batch-size 2 --tile 64 \
  --validate-every 2 --validation-frames 2 --base-filters 4 --quiet --resume
"$bin" train --recipe TrainingData/graphene-si-lowdose.json --from Models/graphene-si --out "$work/warm" --steps 2 \
  --batch-size 2 --tile 64 --validate-every 2 --validation-frames 2 --quiet
cp -r Models/graphene-si "$work/calibrated"   # calibrate rewrites the card: a copy, one frame at 10⁴ e/Å²
"$bin" calibrate --model "$work/calibrated" --recipe TrainingData/graphene-si.json --frames 1 --dose 1e4 --quiet
"$bin" evaluate --model Models/tmd-ws2 --truth "$work/demo/movie"
"$bin" finetune --model Models/tmd-ws2 --movie "$movie" --frames 0 --steps 2 --batch-size 1 --tile 64 --out "$work/my-movie" --quiet
"$bin" analyze "$movie" --model "$work/my-movie" --frame-time 1 --count 5 --out "$work/tuned" --quiet > /dev/null
"$bin" analyze "$movie" --material ws2 --frame-time 1 --count 5 --finetune-first-frame --finetune-steps 2 --out "$work/tuned-inline" --quiet > /dev/null
"$bin" convert "$movie" "$work/movie.npy"
# Bad input gives one line and a non-zero exit.
if "$bin" info "$work/nonexistent.tif" 2> "$work/err"; then echo "expected a failure"; exit 1; fi
[ "$(wc -l < "$work/err")" -eq 1 ] || { cat "$work/err"; exit 1; }
echo "README commands: all ran"
