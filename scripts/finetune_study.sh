#!/usr/bin/env bash
# Domain-shift study of `atomtrack finetune` (docs/ACCURACY.md, "Fine-tuning on the movie itself").
# For each microscope the shipped tmd-ws2 model was not trained on (TrainingData/finetune-study/
# shift-*.json: probe with uncorrected Cs, large source (2.2 Å; source25, source3: 2.5 and 3 Å),
# scan distortion, read-noise detector), it simulates a FRAMES-frame WS2 movie, fine-tunes the
# shipped model on frame 0 with labels read off frame 0 itself (Fourier lattice labels, the default),
# and scores the shipped and the tuned model on frames 1… against the simulator's truth (atom F1 and
# RMSE per class). The tuned model is kept by the paired held-out rule (`finetune --keep-rule paired`,
# session 10's study); the step the independent rule of rounds 4–5 would have kept is read from the same run's
# training_log.csv, and when it is another tuned step that model is made too (`--keep-rule independent`, the same
# seed: the same training run) and scored, so the table shows shipped, independent rule and paired rule.
# usage: scripts/finetune_study.sh [WORKDIR] [STEPS] [FRAMES]   (run from the package root)
#   SHIFTS="probe noise" picks shifts; ABTEM=DIR adds an abTEM movie folder (scripts/make_abtem_frames.py
#   --movie N) as the case "abtem": it is tuned and scored like the simulated ones, not simulated here.
set -euo pipefail
work=${1:-/tmp/atomtrack-finetune-study}; steps=${2:-100}; frames=${3:-4}
at=${ATOMTRACK:-.build/release/atomtrack}
mkdir -p "$work"
printf "%-11s %-5s %-8s %-8s %-8s %-8s %-8s %-8s %s\n" shift class "F1 ship" "F1 indep" "F1 pair" "RMSE ship" "RMSE ind" "RMSE pair" "fine-tuning"
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
    if ! "$at" finetune --model Models/tmd-ws2 --movie "$d/sim/movie.tif" --frames 0 --pixel-size "$px" --steps "$steps" --keep-rule paired --out "$d/tuned" --overwrite --quiet > "$d/finetune.txt" 2>&1; then
        tuned=Models/tmd-ws2
    fi
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    # The independent rule's step: the first check of largest summed gain among those it keeps (0: none).
    independent=$tuned
    if [ "$tuned" != Models/tmd-ws2 ]; then
        istep=$(python3 -c "
import csv; best = (0.0, 0)
for r in csv.DictReader(open('$d/tuned/training_log.csv')):
    if r['independent_keep'] == '1' and float(r['val_gain_sigma']) > best[0]: best = (float(r['val_gain_sigma']), int(r['step']))
print(best[1])")
        pstep=$(python3 -c "import json; print(json.load(open('$d/tuned/model.json'))['finetuning']['bestStep'])")
        if [ "$istep" = 0 ]; then independent=Models/tmd-ws2
        elif [ "$istep" != "$pstep" ]; then
            independent=$d/tuned-independent
            "$at" finetune --model Models/tmd-ws2 --movie "$d/sim/movie.tif" --frames 0 --pixel-size "$px" --steps "$steps" --keep-rule independent --out "$independent" --overwrite --quiet > "$d/finetune-independent.txt" 2>&1
        fi
    fi
    # Frames 1… as a simulator folder of their own (truth renumbered): the frames never tuned on.
    mkdir -p "$d/later"
    "$at" convert "$d/sim/movie.tif" "$d/later/movie.tif" --frames "1:$frames" --overwrite >/dev/null
    cp "$d/sim/movie.json" "$d/later/movie.json"
    awk -F, 'NR == 1 { print; next } $1 >= 1 { $1 = $1 - 1; print }' OFS=, "$d/sim/truth_atoms.csv" > "$d/later/truth_atoms.csv"
    for m in shipped independent tuned; do
        model=Models/tmd-ws2; [ $m = tuned ] && model=$tuned; [ $m = independent ] && model=$independent
        "$at" evaluate --model "$model" --truth "$d/later" --merge-dopants --out "$d/eval-$m" >/dev/null 2>&1
    done
    python3 - "$shift" "$d" "$seconds" "$tuned" "$independent" <<'PY'
import csv, json, sys
shift, d, seconds, tuned, independent = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = {m: list(csv.DictReader(open(f"{d}/eval-{m}/evaluation.csv"))) for m in ("shipped", "independent", "tuned")}
if tuned.endswith("tuned"):
    f = json.load(open(f"{tuned}/model.json"))["finetuning"]
    s = f["source"]
    istep = json.load(open(f"{independent}/model.json")).get("finetuning", {}).get("bestStep", 0)
    note = f"{s['labelledAtoms']} labels + {s.get('undecidedSites', 0)} undecided, step independent {istep} / paired {f['bestStep']} of {f['steps']}"
else:
    note = "refused: " + open(f"{d}/finetune.txt").read().strip().splitlines()[-1][:110]
for a, i, b in zip(rows["shipped"], rows["independent"], rows["tuned"]):
    f1 = [("%.4f" % float(r["f1"])) for r in (a, i, b)]
    rmse = [("%.3f" % float(r["rmse_px"])) if r["rmse_px"] else "-" for r in (a, i, b)]
    print("%-11s %-5s %-8s %-8s %-8s %-8s %-8s %-8s %s" % (shift, a["class"], *f1, *rmse, f"{note}, {seconds:.0f} s"))
PY
done
