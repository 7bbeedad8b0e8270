#!/usr/bin/env bash
# Reproduces every accuracy number in docs/incoming/acc.md.
#
#   scripts/evaluate_models.sh [WORKDIR]      (default WORKDIR: /tmp/atomtrack-eval)
#
# For each shipped model:
#   (a) simulate fresh 4-frame test movies with seeds never used in training/recipes
#       (recipe seed + 7000 + dose index) at doses 1e3..1e6 e/Å², evaluate with Gaussian
#       refinement, and again with --no-refine at 1e5 and 1e6;
#   (b) evaluate on the independent multislice frames in /work/shared/validation
#       (Poisson noise applied at each dose; evaluation only, never used for training).
# Each run prints the per-class table and writes WORKDIR/.../evaluation.{json,csv}.
# Needs the release build: swift build -c release --product atomtrack
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ATOMTRACK:-.build/release/atomtrack}
WORK=${1:-/tmp/atomtrack-eval}
VALIDATION=${VALIDATION:-/work/shared/validation}
DOSES=(1000 10000 100000 1000000)
mkdir -p "$WORK"

run() { echo "+ $*" >&2; "$@"; }

for pair in "graphene-si:TrainingData/movie-graphene-si.json" "tmd-ws2:TrainingData/movie-ws2.json"; do
    model=${pair%%:*}; recipe=${pair#*:}
    base_seed=$(jq .seed "$recipe")
    for i in "${!DOSES[@]}"; do
        dose=${DOSES[$i]}
        seed=$((base_seed + 7000 + i))
        dir="$WORK/$model/sim-d$dose-s$seed"
        run "$BIN" simulate --recipe "$recipe" --out "$dir" --seed "$seed" --dose "$dose" --frames 4 --overwrite --quiet
        echo "== $model simulated test movie, dose $dose, seed $seed, refined"
        run "$BIN" evaluate --model "Models/$model" --truth "$dir" --out "$dir/eval"
        if [[ $dose -ge 100000 ]]; then
            echo "== $model simulated test movie, dose $dose, seed $seed, centroid (--no-refine)"
            run "$BIN" evaluate --model "Models/$model" --truth "$dir" --out "$dir/eval-norefine" --no-refine
        fi
    done
    # (c) diagnostic: the same recipe without scan jitter and flyback (truth = true positions, no
    #     line-shift ambiguity), to separate the localizer's error from the scan-jitter floor.
    jq '.distortions.scanJitter = 0 | .distortions.flybackAmplitude = 0' "$recipe" > "$WORK/$model/recipe-nojitter.json"
    for i in 2 3; do
        dose=${DOSES[$i]}; seed=$((base_seed + 7100 + i)); dir="$WORK/$model/nojitter-d$dose-s$seed"
        run "$BIN" simulate --recipe "$WORK/$model/recipe-nojitter.json" --out "$dir" --seed "$seed" --dose "$dose" --frames 4 --overwrite --quiet
        echo "== $model simulated test movie WITHOUT scan jitter/flyback, dose $dose, seed $seed, refined"
        run "$BIN" evaluate --model "Models/$model" --truth "$dir" --out "$dir/eval"
        echo "== $model simulated test movie WITHOUT scan jitter/flyback, dose $dose, seed $seed, centroid"
        run "$BIN" evaluate --model "Models/$model" --truth "$dir" --out "$dir/eval-norefine" --no-refine
    done
    echo "== $model multislice validation frames ($VALIDATION), refined"
    run "$BIN" evaluate --model "Models/$model" --truth "$VALIDATION" --dose "${DOSES[@]}" --out "$WORK/$model/validation"
    echo "== $model multislice validation frames, centroid (--no-refine)"
    run "$BIN" evaluate --model "Models/$model" --truth "$VALIDATION" --dose "${DOSES[@]}" --out "$WORK/$model/validation-norefine" --no-refine
done
echo "results under $WORK (evaluation.csv per run)"
