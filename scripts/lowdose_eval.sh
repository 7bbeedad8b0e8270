#!/usr/bin/env bash
# Scores a model on noiseless validation frames at 10⁴, 10⁵ and 10⁶ e/Å², pooled over N shot-noise
# realisations per dose (evaluate seeds each dose's noise by the dose's integer value, so the doses
# D, D+1, …, D+N−1 are N independent realisations at D within 0.2 %).
# Usage: scripts/lowdose_eval.sh MODEL TRUTH_DIR N [extra evaluate flags, e.g. --tta]
# Prints: dataset, dose, class, tp, fp, fn, F1 of the pooled counts, RMSE px pooled over the matches.
set -euo pipefail
model=$1 truth=$2 n=$3; shift 3
bin=${ATOMTRACK:-.build/release/atomtrack}
doses=()
for d in 10000 100000 1000000; do for ((i = 0; i < n; i++)); do doses+=($((d + i))); done; done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin" evaluate --model "$model" --truth "$truth" --dose "${doses[@]}" --out "$out" "$@" > /dev/null
awk -F, 'NR > 1 { k = $1 "," $2 "," $3; tp[k] += $4; fp[k] += $5; fn[k] += $6
                  if ($10 != "-") { se[k] += $4 * $10 * $10 } ; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
         END { print "dataset,dose,class,tp,fp,fn,f1,rmse_px"
               for (j = 1; j <= m; j++) { k = order[j]; d = 2 * tp[k] + fp[k] + fn[k]
                 printf "%s,%d,%d,%d,%.4f,%s\n", k, tp[k], fp[k], fn[k], (d > 0 ? 2 * tp[k] / d : 1),
                        (tp[k] > 0 ? sprintf("%.3f", sqrt(se[k] / tp[k])) : "-") } }' "$out/evaluation.csv"
