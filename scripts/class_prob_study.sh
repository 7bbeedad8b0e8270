#!/usr/bin/env bash
# Expected calibration error of atoms.csv's class_prob per model and dose (10⁴, 10⁵, 10⁶ e/Å²):
# on simulated movie frames with truth (`simulate` of the movie recipes, seed 777: other recipes,
# seeds and pixel size than the training frames `calibrate` fits on) and on the shared multislice
# validation frames (../shared/validation; N shot-noise realisations per dose, evaluation only),
# scored by the independent reader scripts/class_prob_ece.py (15 equal-mass bins).
# Usage: scripts/class_prob_study.sh WORKDIR [FRAMES=4] [REALISATIONS=8]   (ATOMTRACK=binary, MODELS=Models)
set -euo pipefail
work=$1 frames=${2:-4} reps=${3:-8}
bin=${ATOMTRACK:-.build/release/atomtrack}
validation=${VALIDATION:-../shared/validation}
models=${MODELS:-Models}
py=${PYTHON:-python3}
mkdir -p "$work"
spacing() { "$py" -c "import json; print(json.load(open('$models/$1/model.json'))['columnSpacing'])"; }
for pair in "graphene-si movie-graphene-si graphene-si-0" "tmd-ws2 movie-ws2 ws2-0"; do
  set -- $pair; model=$1 recipe=$2 frame=$3
  s=$(spacing "$model")
  for dose in 10000 100000 1000000; do
    sim=$work/$recipe-$dose loc=$work/$model-sim-$dose
    [ -f "$sim/truth_atoms.csv" ] || "$bin" simulate --recipe "TrainingData/$recipe.json" --out "$sim" --frames "$frames" \
                                       --dose "$dose" --seed 777 --quiet --overwrite > /dev/null
    [ -f "$loc/atoms.csv" ] || "$bin" locate "$sim/movie.tif" --model "$models/$model" --out "$loc" --quiet --overwrite > /dev/null
    echo -n "$model simulated ($frames frames of $recipe) dose $dose: "
    "$py" scripts/class_prob_ece.py "$loc/atoms.csv" "$sim/truth_atoms.csv" --width 256 --height 256 \
          --radius "$("$py" -c "print(0.4 * $s / 0.2)")" --diagram
    [ -f "$validation/$frame.npy" ] || { echo "$validation/$frame.npy absent: multislice frames skipped"; continue; }
    ms=$work/$frame-$dose msl=$work/$model-ms-$dose
    mkdir -p "$ms"
    # Shot noise as `evaluate` applies it: counts = Poisson(image · dose · pixel²), seeded per dose.
    "$py" - "$validation" "$frame" "$dose" "$reps" "$ms" <<'PY'
import json, sys, numpy as np
v, name, dose, reps, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
image = np.load(f"{v}/{name}.npy").astype(np.float64); p = json.load(open(f"{v}/{name}.json"))["pixel_size_A"]
rng = np.random.default_rng(int(dose))
np.save(f"{out}/noisy.npy", np.stack([rng.poisson(image * dose * p * p) for _ in range(reps)]).astype(np.float32))
rows = open(f"{v}/{name}_truth.csv").read().splitlines()
with open(f"{out}/truth.csv", "w") as f:
    f.write("frame," + rows[0] + "\n")
    for k in range(reps): f.writelines(f"{k},{r}\n" for r in rows[1:])
open(f"{out}/pixel_size", "w").write(str(p)); open(f"{out}/shape", "w").write(" ".join(map(str, image.shape)))
PY
    p=$(cat "$ms/pixel_size"); read -r h w < "$ms/shape" || true   # the file has no final newline
    [ -f "$msl/atoms.csv" ] || "$bin" locate "$ms/noisy.npy" --model "$models/$model" --pixel-size "$p" --out "$msl" --quiet --overwrite > /dev/null
    echo -n "$model multislice $frame ($reps realisations) dose $dose: "
    "$py" scripts/class_prob_ece.py "$msl/atoms.csv" "$ms/truth.csv" --width "$w" --height "$h" \
          --radius "$("$py" -c "print(0.4 * $s / $p)")"
  done
done
