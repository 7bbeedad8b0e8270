#!/usr/bin/env bash
# Coverage of the joint HMM's D intervals on synthetic tracks with exact truth (docs/ACCURACY.md,
# "Intervals from few hops"): `atomtrack bench hmm` (HMMSynthetic movies: 2–3 states, D equal or
# tenfold different, 4–20 tracks, 30–300 frames, dose 10⁴–10⁶) in chunks of 50 movies, each chunk
# its own seed, so the study resumes after a stop. Each bench prints, from the same replicates, the
# coverage of D with the widening to the hop count's Poisson interval and of the bootstrap alone.
# Then the coverage by kind of state (equal D, fast or slow of a tenfold pair) and by hop count,
# read from the per-movie CSVs (the widened intervals).
# Usage: scripts/hmm_interval_coverage.sh [CHUNKS=4] [OUT=$TMPDIR/hmm_intervals] [SAMPLES=100]
set -euo pipefail
cd "$(dirname "$0")/.."
chunks=${1:-4} out=${2:-${TMPDIR:-/tmp}/hmm_intervals} samples=${3:-100}
bin=${ATOMTRACK:-.build/release/atomtrack}
[ -x "$bin" ] || swift build -c release --product atomtrack >/dev/null
mkdir -p "$out"
for c in $(seq 1 "$chunks"); do
    [ -s "$out/chunk_$c.txt" ] && continue
    nice -n "${NICE:-10}" "$bin" bench hmm --movies 50 --samples "$samples" --seed "$c" --csv "$out/chunk_$c.csv" > "$out/chunk_$c.txt.tmp"
    mv "$out/chunk_$c.txt.tmp" "$out/chunk_$c.txt"
done
grep -h "^  percentile: D" "$out"/chunk_*.txt | sed 's/;.*//'
# Per kind of state; hops expected = D·frames·(4/ℓ²)·(share of the state) is not in the CSV, so the
# state's step frames times its D (hops ≈ 4·D·steps/ℓ², ℓ = 15.8 px) stand in for it.
awk -F, 'FNR == 1 { next } $9 ~ /^D[0-9]$/ && $12 != "nan" {
        key = $1 SUBSEP FILENAME; d[key, $9] = $10; row[key, $9] = $0; if (!(key in seen)) { seen[key] = 1; keys[++n] = key } }
    END {
        for (i = 1; i <= n; i++) { key = keys[i]; max = 0
            for (j = 0; j < 3; j++) if ((key, "D" j) in d && d[key, "D" j] > max) max = d[key, "D" j]
            for (j = 0; j < 3; j++) { if (!((key, "D" j) in row)) continue
                split(row[key, "D" j], f, ","); kind = (f[8] == "false") ? "equal" : (f[10] == max ? "fast" : "slow")
                hops = 4 * f[10] * f[14] / (15.8 * 15.8); bin = hops < 5 ? "<5" : hops < 20 ? "5-20" : hops < 100 ? "20-100" : ">=100"
                cov = (f[12] <= f[10] && f[10] <= f[13]); t[kind]++; c[kind] += cov; tb[bin]++; cb[bin] += cov } }
        for (k in t) printf "  %-6s D coverage %d/%d = %.1f %%\n", k, c[k], t[k], 100 * c[k] / t[k]
        for (b in tb) printf "  hops %-6s D coverage %d/%d = %.1f %%\n", b, cb[b], tb[b], 100 * cb[b] / tb[b] }' "$out"/chunk_*.csv | sort
