#!/usr/bin/env bash
# Re-scores a finished full-`analyze` calibration study (scripts/hmm_calibration_analyze.sh) against
# the D the simulated defects really had: each movie is simulated again from the parameters in its
# CSV (same seed, so the same walk; no analysis), and truth.json's blocked_hop_share (hops refused
# because another defect was near) turns Γd²/4 into the effective D. For studies run before truth.json
# recorded it. Rewrites each movie CSV's D_<state> truth and coverage, adds Dnom_<state> rows (Γd²/4),
# and Dreal_<state> rows (the in-view walk: ⟨Δr²⟩/4 of the true positions over the one-frame steps
# that start in the state with both ends in the frame). Dreal_ is not a truth: a hop across the
# field's edge is never in view at both ends, so it falls short of the walk's D by those hops
# (testStepsCrossingTheEdgeAreWhatTheInViewWalkMisses); D_ (the effective D) is the walk's D. Keeps
# truth_NNN.json and truth_NNN_defects.csv, then prints the study's summary.
# Movies the study already scored against the effective D (Dnom_ rows present) only get Dreal_ rows.
# Usage: scripts/hmm_calibration_retruth.sh OUT [SEED=1]   (ATOMTRACK: the binary, as for the study)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 seed=${2:-1}
bin=${ATOMTRACK:-.build/release/atomtrack}
for csv in "$out"/movie_*.csv; do
    i=$(basename "$csv" .csv); i=$((10#${i#movie_}))
    truth=$(printf '%s/truth_%03d.json' "$out" "$i") defects=$(printf '%s/truth_%03d_defects.csv' "$out" "$i")
    grep -q ',Dreal_' "$csv" && continue
    if [ ! -s "$truth" ] || [ ! -s "$defects" ]; then
        IFS=, read -r _ size count dose frames h0 h1 t00 t11 _ < <(sed -n 2p "$csv")
        dir=$(mktemp -d "$out/retruth_$i.XXXX")
        jq --argjson w "$size" --argjson c "$count" --argjson d "$dose" --argjson s "$((seed * 1000 + i))" \
           --argjson h0 "$h0" --argjson h1 "$h1" --argjson a "$t00" --argjson b "$t11" \
           '.width=$w | .height=$w | .seed=$s | .movie.count=$c | .movie.dose=$d
            | .movie.states[0].hopRate=$h0 | .movie.states[1].hopRate=$h1
            | .movie.transitionMatrix=[[$a, 1-$a], [1-$b, $b]]' TrainingData/movie-ws2.json > "$dir/recipe.json"
        nice -n "${NICE:-5}" "$bin" simulate --recipe "$dir/recipe.json" --frames "$frames" --out "$dir/movie" --quiet > /dev/null
        cp "$dir/movie/truth.json" "$truth"; cp "$dir/movie/truth_defects.csv" "$defects"; rm -rf "$dir"
    fi
    realized=$(awk -F, -v a="$(jq .pixel_size_A "$truth")" -v dt="$(jq .frame_time_s "$truth")" '
        NR > 1 { k = $2 SUBSEP $1; x[k] = $3; y[k] = $4; s[k] = $5 }
        END { for (k in x) { split(k, p, SUBSEP); n = p[1] SUBSEP (p[2] + 1)
                  if (n in x) { sq[s[k]] += (x[n] - x[k]) ^ 2 + (y[n] - y[k]) ^ 2; c[s[k]]++ } }
              for (st in c) printf "%s=%.6f ", st, sq[st] / (4 * c[st]) * a * a / dt }' "$defects")
    effective=$(jq -r '[.diffusion[] | "\(.state)=\(.D_A2_per_s * (1 - (.blocked_hop_share // 0)))"] | join(" ")' "$truth")
    awk -F, -v OFS=, -v eff="$effective" -v real="$realized" -v scored="$(grep -c ',Dnom_' "$csv")" '
        BEGIN { n = split(eff, kv, " "); for (k = 1; k <= n; k++) { split(kv[k], a, "="); D[a[1]] = a[2] }
                n = split(real, kv, " "); for (k = 1; k <= n; k++) { split(kv[k], a, "="); R[a[1]] = a[2] } }
        $10 ~ /^D_/ && scored > 0 { st = substr($10, 3); line = $0
            if (st in R) { $10 = "Dreal_" st; $11 = sprintf("%.4f", R[st]); $15 = ($12 != "nan" && $13 + 0 <= R[st] && R[st] <= $14 + 0) ? 1 : 0; print; $0 = line } }
        $10 ~ /^D_/ && scored == 0 { st = substr($10, 3); nominal = $0; sub(/^D_/, "Dnom_", $10); print; $0 = nominal
            if (st in R) { $10 = "Dreal_" st; $11 = sprintf("%.4f", R[st]); $15 = ($12 != "nan" && $13 + 0 <= R[st] && R[st] <= $14 + 0) ? 1 : 0; print; $0 = nominal }
            $11 = sprintf("%.4f", D[st]); $15 = ($12 != "nan" && $13 + 0 <= D[st] && D[st] <= $14 + 0) ? 1 : 0 }
        { print }' "$csv" > "$csv.tmp" && mv "$csv.tmp" "$csv"
done
out="$out" bash -c "$(sed -n '/^summarize() {/,/^}/p' scripts/hmm_calibration_analyze.sh); summarize 0; summarize 1"
