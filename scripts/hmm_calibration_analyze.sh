#!/usr/bin/env bash
# Calibration of the joint defect HMM through the whole chain (docs/ACCURACY.md, "Calibration
# study (full analyze)"): movies from our simulator (TrainingData/movie-ws2.json with drawn
# size, number of Mo dopants, dose, length, per-state hop rates and transition matrix), each
# run through `atomtrack demo` (simulate → analyze with the shipped tmd-ws2 model → truth).
# Resumable: a movie whose CSV exists is skipped, so the study can be stopped and restarted.
# Small movies, niced (NICE, default 5: at 19 a loaded box starves it): the box is shared. Needs jq.
# Usage: scripts/hmm_calibration_analyze.sh [MOVIES=100] [SEED=1] [OUT=$TMPDIR/hmm_analyze] [WORKERS=2]
# Writes OUT/movie_NNN.csv (one row per quantity: truth, estimate, 95 % interval, covered),
# OUT/demo_NNN.txt, OUT/truth_NNN.json and truth_NNN_defects.csv (the demo's table, the
# simulator's truth; scripts/hmm_calibration_retruth.sh adds the realized D from them), and
# OUT/summary.txt (coverage per quantity, bias of D for states with ≥ 300 step frames,
# states chosen, negative/NaN D; all movies and the movies where the HMM chose 2 states).
# The table route, scored the same way: each movie's defects.csv, summary.json and config.json are
# kept (OUT/defects_NNN.csv, …; trajectories_NNN.csv too, for scripts/hmm_hop_accounting.py),
# `atomtrack track` runs on defects.csv with the settings `analyze` used (max step, gap, shortest
# track, hop threshold, pixel size, frame time) and `atomtrack markov` on its trajectories.csv;
# OUT/table_NNN.csv has the same rows (D from track's joint HMM, T from markov's) and
# OUT/summary_table.txt the same summary. A movie whose table CSV is missing but whose defects.csv
# is kept is rerun from it (TABLE_ONLY=1: only that). TABLE=NAME TRACK_ARGS="…" runs a variant of
# the route into OUT/NAME_NNN.csv and OUT/summary_NAME.txt (e.g. TABLE=nodrift TRACK_ARGS="--drift-iterations
# 0": a handful of sparse hopping defects is a poor drift gauge). By kind: scripts/hmm_bykind.py OUT [NAME].
# True D: D_<state> is the D the defects really had, Γd²/4 less the hops the simulator refused
# because another defect was near (truth.json blocked_hop_share); Dnom_<state> is Γd²/4.
set -euo pipefail
cd "$(dirname "$0")/.."
movies=${1:-100} seed=${2:-1} out=${3:-${TMPDIR:-/tmp}/hmm_analyze} workers=${4:-2}
bin=${ATOMTRACK:-.build/release/atomtrack}   # ATOMTRACK: a copy, so rebuilding does not disturb a running study
[ -x "$bin" ] || [ -n "${ATOMTRACK:-}" ] || swift build -c release --product atomtrack >/dev/null
mkdir -p "$out"

# One movie: draw its parameters (awk's generator, seeded per movie), simulate, analyze, compare.
run_movie() {
    local i=$1 csv; csv=$(printf '%s/movie_%03d.csv' "$out" "$i")
    [ -s "$csv" ] && return 0
    local dir; dir=$(mktemp -d "$out/work_$i.XXXX")
    read -r size count dose frames h0 h1 t00 t11 < <(awk -v s=$((seed * 100003 + i)) 'BEGIN { srand(s)
        size = (rand() < 0.5) ? 160 : 192; count = 4 + int(rand() * 5)
        dose = 10 ^ (4 + 2 * rand()); frames = int(30 * 10 ^ rand())
        h = 0.1 + 0.3 * rand(); r = rand()
        h0 = h; h1 = h; if (r < 1/3) h1 = h / 10; else if (r < 2/3) h0 = h / 10
        printf "%d %d %.0f %d %.4f %.4f %.3f %.3f\n", size, count, dose, frames, h0, h1, 0.8 + 0.15 * rand(), 0.75 + 0.2 * rand() }')
    jq --argjson w "$size" --argjson c "$count" --argjson d "$dose" --argjson s "$((seed * 1000 + i))" \
       --argjson h0 "$h0" --argjson h1 "$h1" --argjson a "$t00" --argjson b "$t11" \
       '.width=$w | .height=$w | .seed=$s | .movie.count=$c | .movie.dose=$d
        | .movie.states[0].hopRate=$h0 | .movie.states[1].hopRate=$h1
        | .movie.transitionMatrix=[[$a, 1-$a], [1-$b, $b]]' TrainingData/movie-ws2.json > "$dir/recipe.json"
    local start=$SECONDS
    if ! nice -n "${NICE:-5}" "$bin" demo --recipe "$dir/recipe.json" --frames "$frames" --out "$dir/run" --quiet > "$dir/demo.txt" 2>&1; then
        echo "movie $i failed: $(tail -1 "$dir/demo.txt")" >&2; rm -rf "$dir"; return 0
    fi
    local params="$i,$size,$count,$dose,$frames,$h0,$h1,$t00,$t11"
    {
        echo "movie,size,defects,dose,frames,hop0,hop1,T00,T11,quantity,truth,estimate,low,high,covered,steps"
        # D per true state, from the demo's side-by-side table; steps from summary.json: those of the
        # hidden state holding one of the state's classes (the largest, as the demo picks its D).
        awk -v p="$params" -v classes="$(jq -r '[.hmmStates[]? | .steps as $s | .classes[] | "\(.)=\($s)"] | join(" ")' "$dir/run/analysis/summary.json")" '
            BEGIN { n = split(classes, kv, " "); for (k = 1; k <= n; k++) { split(kv[k], a, "="); steps[a[1]] = a[2] } }
            /defect classes → true states:/ { for (k = 1; k <= NF; k++) if ($k ~ /→/) { split($k, a, "→"); sub(/,$/, "", a[2]); cls[a[2]] = cls[a[2]] " " a[1] } }
            /^  [^ ]+ +true [0-9.]+ +recovered/ {
                st = $1; t = $3; est = $5; lo = $6; hi = $7; gsub(/[\[,\]]/, "", lo); gsub(/[\[,\]]/, "", hi)
                if (est == "not") { est = "nan"; lo = "nan"; hi = "nan" }
                s = 0; split(cls[st], c, " "); for (k in c) if (c[k] in steps && steps[c[k]] > s) s = steps[c[k]]
                cov = (est != "nan" && lo + 0 <= t + 0 && t + 0 <= hi + 0) ? 1 : 0
                printf "%s,D_%s,%s,%s,%s,%s,%d,%.1f\n", p, st, t, est, lo, hi, cov, s
                if (split($0, parts, "= ") == 2) { t = parts[2] + 0
                    cov = (est != "nan" && lo + 0 <= t + 0 && t + 0 <= hi + 0) ? 1 : 0
                    printf "%s,Dnom_%s,%s,%s,%s,%s,%d,%.1f\n", p, st, t, est, lo, hi, cov, s } }
            /^transition matrix/ { tsrc = ($0 ~ /joint HMM/) ? "" : "_counting" }
            /^  true [0-9.]+ [0-9.]+ +recovered/ {
                row++; for (j = 1; j <= 2; j++) {
                    t = $(1 + j); est = (NF >= 5) ? $(4 + j) : "nan"; lo = "nan"; hi = "nan"
                    if (NF >= 11) { lo = $(8 + 2 * j); hi = $(9 + 2 * j); gsub(/[\[,\]]/, "", lo); gsub(/[\[,\]]/, "", hi) }
                    if (est == "-" || est == "") est = "nan"
                    cov = (lo != "nan" && lo + 0 <= t + 0 && t + 0 <= hi + 0) ? 1 : 0
                    printf "%s,T%d%d%s,%s,%s,%s,%s,%d,\n", p, row - 1, j - 1, tsrc, t, est, lo, hi, cov } }' "$dir/demo.txt"
        echo "$params,hmm_states,2,$(jq '.hmmStates | length' "$dir/run/analysis/summary.json"),,,,"
        echo "$params,library_classes,2,$(jq '.defectClasses | length' "$dir/run/analysis/summary.json"),,,,"
        echo "$params,seconds,,$((SECONDS - start)),,,,"
    } > "$csv.tmp" && mv "$csv.tmp" "$csv"
    cp "$dir/demo.txt" "$(printf '%s/demo_%03d.txt' "$out" "$i")"
    cp "$dir/run/movie/truth.json" "$(printf '%s/truth_%03d.json' "$out" "$i")"
    cp "$dir/run/movie/truth_defects.csv" "$(printf '%s/truth_%03d_defects.csv' "$out" "$i")"
    cp "$dir/run/analysis/defects.csv" "$(printf '%s/defects_%03d.csv' "$out" "$i")"
    cp "$dir/run/analysis/summary.json" "$(printf '%s/summary_%03d.json' "$out" "$i")"
    cp "$dir/run/analysis/config.json" "$(printf '%s/config_%03d.json' "$out" "$i")"
    cp "$dir/run/analysis/trajectories.csv" "$(printf '%s/trajectories_%03d.csv' "$out" "$i")"   # scripts/hmm_hop_accounting.py
    rm -rf "$dir"
}

# The table route of one analysed movie: track + markov on its kept defects.csv, scored against the
# truth rows of its movie CSV and the demo's class → state mapping. Writes OUT/table_NNN.csv.
table_movie() {
    local i=$1 n; n=$(printf '%03d' "$i")
    local csv=$out/movie_$n.csv defects=$out/defects_$n.csv summary=$out/summary_$n.json config=$out/config_$n.json
    local table=$out/${TABLE:-table}_$n.csv
    [ -s "$table" ] || [ ! -s "$csv" ] || [ ! -s "$defects" ] && return 0
    local dir; dir=$(mktemp -d "$out/${TABLE:-table}_$i.XXXX")
    # analyze's settings: search distances in column spacings of the model card at the movie's pixel size
    # (Kinetics.Options; the hop threshold is Kinetics.hopThresholdColumns = 0.5 spacings).
    local px dt spacing
    px=$(jq .pixelSizeA "$summary") dt=$(jq .frameTimeS "$summary")
    spacing=$(jq -n --argjson a "$(jq .columnSpacing "${ATOMTRACK_MODELS:-Models}/tmd-ws2/model.json")" --argjson p "$px" '$a / $p')
    local k=(--max-distance "$(jq -n --argjson s "$spacing" --argjson c "$(jq .kinetics.maxStepColumns "$config")" '$s * $c')"
             --max-gap "$(jq .kinetics.maxGap "$config")" --min-length "$(jq .kinetics.minTrackLength "$config")"
             --hop-threshold "$(jq -n --argjson s "$spacing" '$s * 0.5')" --pixel-size "$px" --frame-time "$dt")
    # shellcheck disable=SC2086 # TRACK_ARGS: words
    if ! nice -n "${NICE:-5}" "$bin" track "$defects" "${k[@]}" ${TRACK_ARGS:-} --out "$dir/track" --quiet > "$dir/log.txt" 2>&1 ||
       ! nice -n "${NICE:-5}" "$bin" markov "$dir/track/trajectories.csv" --frame-time "$dt" --out "$dir/markov" --quiet >> "$dir/log.txt" 2>&1; then
        echo "table route of movie $i failed: $(tail -1 "$dir/log.txt")" >&2; rm -rf "$dir"; return 0
    fi
    local mapping; mapping=$(sed -n 's/^defect classes → true states: \(.*\)  (.*/\1/p' "$out/demo_$n.txt" | tr -d ' ' | tr ',' ' ' | sed 's/→/=/g')
    # markov's joint HMM as lines: "state NAME CLASS+CLASS FRAMES" and "T I J EST LOW HIGH".
    local hmm; hmm=$(jq -r '.hmm // empty | (.states | to_entries[] | "state \(.value.name) \(.value.classes | join("+")) \(.value.frames)"),
        (.transition_matrix | to_entries[] | .key as $i | .value | to_entries[] | "T \($i) \(.key) \(.value)"),
        (.ci_low | to_entries[] | .key as $i | .value | to_entries[] | "L \($i) \(.key) \(.value)"),
        (.ci_high | to_entries[] | .key as $i | .value | to_entries[] | "H \($i) \(.key) \(.value)")' "$dir/markov/markov.json")
    {
        head -1 "$csv"
        awk -F, -v map="$mapping" -v hmm="$hmm" '
            BEGIN { n = split(map, kv, " "); for (k = 1; k <= n; k++) { split(kv[k], a, "="); state[a[1]] = a[2] } }
            # The true state a hidden state stands for: the one most of its classes map to.
            function truestate(classes,   c, m, k, votes, best) { m = split(classes, c, "+"); best = ""
                for (k = 1; k <= m; k++) if (c[k] in state) { votes[state[c[k]]]++; if (best == "" || votes[state[c[k]]] > votes[best]) best = state[c[k]] }
                return best }
            FNR == 1 { next }
            $10 == "library_classes" { print; next }
            FILENAME ~ /diffusion.csv$/ { if ($12 != "" && !($12 in seen)) { seen[$12] = 1; st = truestate($12)
                    if (st != "" && (!(st in steps) || $23 + 0 > steps[st])) { steps[st] = $23 + 0; d[st] = $13; lo[st] = $14; hi[st] = $15 } }
                if ($12 != "") hidden[$12] = 1; next }
            # The movie CSV: its parameters and truths; D and T re-estimated by the table route.
            { p = $1; for (k = 2; k <= 9; k++) p = p "," $k }
            $10 ~ /^D_/ { name[nd++] = substr($10, 3) }
            $10 ~ /^(D_|Dnom_)/ { st = $10; sub(/^D(nom)?_/, "", st); e = (st in d && d[st] != "") ? d[st] : "nan"
                l = (e == "nan") ? "nan" : lo[st]; h = (e == "nan") ? "nan" : hi[st]
                printf "%s,%s,%s,%s,%s,%s,%d,%.1f\n", p, $10, $11, e, l, h, (e != "nan" && l + 0 <= $11 + 0 && $11 + 0 <= h + 0) ? 1 : 0, steps[st] }
            $10 ~ /^T[0-9][0-9]/ { truth[substr($10, 2, 1), substr($10, 3, 1)] = $11; params = p }
            END {
                nh = 0; ns = split(hmm, line, "\n")
                for (k = 1; k <= ns; k++) { split(line[k], w, " ")
                    if (w[1] == "state") { order[nh++] = truestate(w[3]) } else mat[w[1], w[2], w[3]] = w[4] }
                # T only when the hidden states are the true states one to one (as the demo scores analyze).
                ok = (nh == 2 && order[0] != "" && order[1] != "" && order[0] != order[1])
                for (r = 0; r < 2; r++) for (c = 0; c < 2; c++) {
                    # The movie CSV orders T as its D rows (the true states); hidden state h stands for order[h].
                    hr = -1; hc = -1
                    for (h = 0; h < nh; h++) { if (order[h] == name[r]) hr = h; if (order[h] == name[c]) hc = h }
                    e = "nan"; l = "nan"; u = "nan"
                    if (ok && hr >= 0 && hc >= 0) { e = mat["T", hr, hc]; l = mat["L", hr, hc]; u = mat["H", hr, hc] }
                    printf "%s,T%d%d,%s,%s,%s,%s,%d,\n", params, r, c, truth[r, c], e, l, u, (e != "nan" && l + 0 <= truth[r, c] + 0 && truth[r, c] + 0 <= u + 0) ? 1 : 0 }
                printf "%s,hmm_states,2,%d,,,,\n", params, length(hidden)
                printf "%s,markov_hmm_states,2,%d,,,,\n", params, nh }' "$dir/track/diffusion.csv" "$csv"
    } > "$table.tmp" && mv "$table.tmp" "$table"
    rm -rf "$dir"
}

export -f run_movie table_movie
export out seed bin NICE ATOMTRACK_MODELS TABLE TRACK_ARGS
[ -n "${TABLE_ONLY:-}" ] || seq 1 "$movies" | xargs -P "$workers" -I{} bash -c 'run_movie {} && table_movie {}'
seq 1 "$movies" | xargs -P "$workers" -I{} bash -c 'table_movie {}'

# Summary over every movie finished so far: all movies, then those where the HMM chose 2 states.
summarize() {
    awk -F, -v only2="$1" '
    $1 == "movie" { next }
    { row[NR] = $0; if ($10 == "hmm_states") states[$1] = $12 }
    END {
        for (r in row) {
            split(row[r], f, ","); q = f[10]; m = f[1]
            if (only2 && states[m] != 2) continue
            if (q ~ /^(D_|Dnom_|Dreal_|T)/) { n[q]++; if (f[12] == "nan") missing[q]++; else { cov[q] += f[15]; if (q ~ /^D_/ && f[12] < 0) neg++ } }
            fam = (q ~ /^D_/) ? "D" : (q ~ /^Dnom_/) ? "Dnom" : (q ~ /^Dreal_/) ? "Dreal" : ""
            if (fam != "" && f[12] != "nan" && f[16] >= 300) { b = (f[12] - f[11]) / f[11]; bias[fam] += b; bias2[fam] += b * b; nb[fam]++ }
            if (q == "hmm_states") { movies++; if (f[12] == 2) right++ }
            if (q == "library_classes" && f[12] == 2) lib++
        }
        # A sort key before a tab keeps the headline first.
        printf "0\t%s: movies %d; HMM chose 2 states in %d (library found 2 classes in %d); negative D %d\n", only2 ? "2-state movies" : "all movies", movies, right, lib, neg
        for (q in n) printf "1\t  %-14s coverage %d/%d = %.1f %%  (not estimated: %d)\n", q, cov[q], n[q] - missing[q], 100 * cov[q] / (n[q] - missing[q] > 0 ? n[q] - missing[q] : 1), missing[q]
        for (fam in nb) { mb = bias[fam] / nb[fam]; printf "2\t  bias of %s, states with >= 300 step frames: %+.1f %% +- %.1f %% (%d states)\n", fam, 100 * mb, 100 * sqrt((bias2[fam] / nb[fam] - mb * mb) / nb[fam]), nb[fam] }
    }' "$out"/${route:-movie}_[0-9]*.csv | sort | cut -f2-
}
{ summarize 0; summarize 1; } | tee "$out/summary.txt"
if compgen -G "$out/${TABLE:-table}_[0-9]*.csv" > /dev/null; then
    echo "table route (track + markov on each movie's defects.csv):"
    { route=${TABLE:-table} summarize 0; route=${TABLE:-table} summarize 1; } | tee "$out/summary_${TABLE:-table}.txt"
fi
