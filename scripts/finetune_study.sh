#!/usr/bin/env bash
# Domain-shift study of `atomtrack finetune` (docs/ACCURACY.md, "Fine-tuning on the movie itself").
# For each microscope the shipped tmd-ws2 model was not trained on (TrainingData/finetune-study/
# shift-*.json: probe with uncorrected Cs, large source (2.2 Å; source25, source3: 2.5 and 3 Å),
# scan distortion, read-noise detector), it simulates a FRAMES-frame WS2 movie, fine-tunes the
# shipped model on frame 0 with labels read off frame 0 itself (Fourier lattice labels, the default),
# and scores the shipped and the tuned model on frames 1… against the simulator's truth (atom F1 and
# RMSE per class).
# usage: scripts/finetune_study.sh [WORKDIR] [STEPS] [FRAMES]   (run from the package root)
#   SHIFTS="probe noise" picks shifts; ABTEM=DIR adds an abTEM movie folder (scripts/make_abtem_frames.py
#   --movie N) as the case "abtem": it is tuned and scored like the simulated ones, not simulated here.
set -euo pipefail
work=${1:-/tmp/atomtrack-finetune-study}; steps=${2:-100}; frames=${3:-4}
at=${ATOMTRACK:-.build/release/atomtrack}
mkdir -p "$work"
printf "%-7s %-5s %-16s %-16s %-16s %-16s %s\n" shift class "F1 shipped" "F1 tuned" "RMSE shipped" "RMSE tuned" "fine-tuning"
for shift in ${SHIFTS:-probe source source25 source3 scan noise} ${ABTEM:+abtem}; do
    d=$work/$shift
    if [ "$shift" = abtem ]; then
        mkdir -p "$d"; rm -rf "$d/sim"; cp -r "$ABTEM" "$d/sim"
        frames=$(python3 -c "import json; print(json.load(open('$d/sim/movie.json'))['frames'])")
    else
        "$at" simulate --recipe TrainingData/finetune-study/shift-$shift.json --frames "$frames" --out "$d/sim" --overwrite --quiet >/dev/null
    fi
    start=$(date +%s.%N)
    # A frame the labeler refuses (no lattice of the material) gives no tuned model: the shipped one stays.
    tuned=$d/tuned
    px=$(python3 -c "import json; print(json.load(open('$d/sim/movie.json'))['pixel_size_A'])")
    if ! "$at" finetune --model Models/tmd-ws2 --movie "$d/sim/movie.tif" --frames 0 --pixel-size "$px" --steps "$steps" --out "$d/tuned" --overwrite --quiet > "$d/finetune.txt" 2>&1; then
        tuned=Models/tmd-ws2
    fi
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    # Frames 1… as a simulator folder of their own (truth renumbered): the frames never tuned on.
    mkdir -p "$d/later"
    "$at" convert "$d/sim/movie.tif" "$d/later/movie.tif" --frames "1:$frames" --overwrite >/dev/null
    cp "$d/sim/movie.json" "$d/later/movie.json"
    awk -F, 'NR == 1 { print; next } $1 >= 1 { $1 = $1 - 1; print }' OFS=, "$d/sim/truth_atoms.csv" > "$d/later/truth_atoms.csv"
    for m in shipped tuned; do
        model=Models/tmd-ws2; [ $m = tuned ] && model=$tuned
        "$at" evaluate --model "$model" --truth "$d/later" --merge-dopants --out "$d/eval-$m" >/dev/null 2>&1
    done
    python3 - "$shift" "$d" "$seconds" "$tuned" <<'PY'
import csv, json, sys
shift, d, seconds, tuned = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
rows = {m: list(csv.DictReader(open(f"{d}/eval-{m}/evaluation.csv"))) for m in ("shipped", "tuned")}
if tuned.endswith("tuned"):
    f = json.load(open(f"{tuned}/model.json"))["finetuning"]
    s = f["source"]
    note = f"{s['labelledAtoms']} labels + {s.get('undecidedSites', 0)} undecided, best step {f['bestStep']}/{f['steps']}"
else:
    note = "refused: " + open(f"{d}/finetune.txt").read().strip().splitlines()[-1][:110]
for a, b in zip(rows["shipped"], rows["tuned"]):
    print("%-7s %-5s %-16s %-16s %-16s %-16s %s" % (shift, a["class"], a["f1"], b["f1"], a["rmse_px"], b["rmse_px"],
          f"{note}, {seconds:.0f} s"))
PY
done
