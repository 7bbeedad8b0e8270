#!/usr/bin/env bash
# The defect library at low dose against the simulator's truth (docs/ACCURACY.md, "Defect
# library at low dose"): small WS2 movies with both states (Mo_W and Mo_W+V_S, the second one
# S missing from one S2 column beside the Mo) at each dose, run once through `atomtrack demo`
# (simulate → analyze with the shipped tmd-ws2 model); then `atomtrack classify` rebuilds the
# library from the movie and its atoms.csv with the binary under test, and
# scripts/library_score.py scores its classes against the truth (ARI over matched defects,
# classes found). Resumable: a movie already simulated and analysed is reused, so re-scoring
# after a library change costs only the classify runs. Niced; the box is shared. Needs jq.
# Usage: scripts/library_lowdose_check.sh [OUT=/tmp/h-lib4/lowdose] [DOSES="1e4 2e4 5e4"] [SEEDS="1 2"]
# Writes OUT/<dose>_<seed>/{run/,classify/} and OUT/scores.csv (dose,seed,crops,classes,ari,...).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/h-lib4/lowdose} doses=${2:-"10000 20000 50000"} seeds=${3:-"1 2"}
bin=${ATOMTRACK:-.build/release/atomtrack}
python=${PYTHON:-/work/venv/bin/python}
mkdir -p "$out"
echo "dose,seed,matched,unmatched,classes,ari,purity_per_class" > "$out/scores.csv.tmp"
for dose in $doses; do
    for seed in $seeds; do
        dir="$out/${dose}_${seed}"
        if [ ! -s "$dir/run/analysis/atoms.csv" ]; then
            mkdir -p "$dir"
            jq --argjson d "$dose" --argjson s "$((seed * 7919))" \
               '.width=160 | .height=160 | .seed=$s | .movie.count=8 | .movie.dose=$d' \
               TrainingData/movie-ws2.json > "$dir/recipe.json"
            rm -rf "$dir/run"
            nice -n 10 "$bin" demo --recipe "$dir/recipe.json" --frames 40 --out "$dir/run" --quiet > "$dir/demo.txt" 2>&1
        fi
        nice -n 10 "$bin" classify "$dir/run/movie/movie.tif" --atoms "$dir/run/analysis/atoms.csv" \
            --material tmd-ws2 --out "$dir/classify" --overwrite --quiet > "$dir/classify.txt" 2>&1
        echo "$dose,$seed,$("$python" scripts/library_score.py "$dir/classify/defects.csv" "$dir/run/movie/truth_defects.csv")" >> "$out/scores.csv.tmp"
    done
done
mv "$out/scores.csv.tmp" "$out/scores.csv"
column -s, -t "$out/scores.csv"
