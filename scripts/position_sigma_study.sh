#!/usr/bin/env bash
# Variance of error/sigma_px per axis (atoms.csv's position σ against truth) per class and dose
# (10⁴, 10⁵, 10⁶ e/Å²), read independently by scripts/score_atoms.py --sigma: on simulated movie
# frames (`simulate` of the movie recipes with scan jitter and flyback off, seed 777: other
# recipes, seed and pixel size than the training frames `calibrate` fits on; jitter off because
# its line shifts move the truth off the imaged column by ≈ 0.1 px, docs/ACCURACY.md) and on the
# shared multislice validation frames (../shared/validation, N shot-noise realisations per dose,
# cropped to their top 128 × 128 px; evaluation only).
# Usage: scripts/position_sigma_study.sh WORKDIR [FRAMES=4] [REALISATIONS=8]   (ATOMTRACK=binary, MODELS=Models)
set -euo pipefail
work=$1 frames=${2:-4} reps=${3:-8}
bin=${ATOMTRACK:-.build/release/atomtrack}
validation=${VALIDATION:-../shared/validation}
models=${MODELS:-Models}
py=${PYTHON:-python3}
mkdir -p "$work"
spacing() { "$py" -c "import json; print(json.load(open('$models/$1/model.json'))['columnSpacing'])"; }
for set in "graphene-si movie-graphene-si graphene-si-0 C Si" "tmd-ws2 movie-ws2 ws2-0 W Mo S"; do
  set -- $set; model=$1 recipe=$2 frame=$3; shift 3; classes=("$@")
  s=$(spacing "$model")
  "$py" - "TrainingData/$recipe.json" "$work/$recipe.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["distortions"]["scanJitter"] = 0; r["distortions"]["flybackAmplitude"] = 0
json.dump(r, open(sys.argv[2], "w"), indent=1)
PY
  for dose in 10000 100000 1000000; do
    sim=$work/$recipe-$dose loc=$work/$model-sim-$dose
    [ -f "$sim/truth_atoms.csv" ] || "$bin" simulate --recipe "$work/$recipe.json" --out "$sim" --frames "$frames" \
                                       --dose "$dose" --seed 777 --quiet --overwrite > /dev/null
    [ -f "$loc/atoms.csv" ] || "$bin" locate "$sim/movie.tif" --model "$models/$model" --out "$loc" --quiet --overwrite > /dev/null
    echo "$model simulated ($frames frames of $recipe, no scan jitter) dose $dose:"
    "$py" scripts/score_atoms.py "$loc/atoms.csv" "$sim/truth_atoms.csv" --side 256 \
          --radius "$("$py" -c "print(0.4 * $s / 0.2)")" --class "${classes[@]}" --sigma
    [ -f "$validation/$frame.npy" ] || { echo "$validation/$frame.npy absent: multislice frames skipped"; continue; }
    ms=$work/$frame-$dose msl=$work/$model-ms-$dose
    mkdir -p "$ms"
    # Shot noise as `evaluate` applies it (counts = Poisson(image · dose · pixel²), seeded per dose), top 128 rows.
    "$py" - "$validation" "$frame" "$dose" "$reps" "$ms" <<'PY'
import json, sys, numpy as np
v, name, dose, reps, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
image = np.load(f"{v}/{name}.npy").astype(np.float64)[:128, :128]; p = json.load(open(f"{v}/{name}.json"))["pixel_size_A"]
rng = np.random.default_rng(int(dose))
np.save(f"{out}/noisy.npy", np.stack([rng.poisson(image * dose * p * p) for _ in range(reps)]).astype(np.float32))
rows = open(f"{v}/{name}_truth.csv").read().splitlines()
with open(f"{out}/truth.csv", "w") as f:
    f.write("frame," + rows[0] + "\n")
    for k in range(reps): f.writelines(f"{k},{r}\n" for r in rows[1:] if float(r.split(",")[1]) < 127.5)
open(f"{out}/pixel_size", "w").write(str(p))
PY
    p=$(cat "$ms/pixel_size")
    [ -f "$msl/atoms.csv" ] || "$bin" locate "$ms/noisy.npy" --model "$models/$model" --pixel-size "$p" --out "$msl" --quiet --overwrite > /dev/null
    echo "$model multislice $frame ($reps realisations, 128²) dose $dose:"
    "$py" scripts/score_atoms.py "$msl/atoms.csv" "$ms/truth.csv" --side 128 \
          --radius "$("$py" -c "print(0.4 * $s / $p)")" --class "${classes[@]}" --sigma
  done
done
