#!/usr/bin/env python3
"""Coverage and bias of D by kind of state in a calibration study (scripts/hmm_calibration_analyze.sh):
equal D, fast or slow state of a tenfold pair; movies where the HMM chose 2 states; bias over states
with >= 300 step frames (mean +- s.e., median). ROUTE: movie (analyze, default) or table (track +
markov on the tables), or a variant's name (TABLE= of the study script). Also the coverage of every T entry and the number of movies.
Usage: scripts/hmm_bykind.py STUDY_OUT [ROUTE=movie]"""
import csv, glob, statistics as st, sys

out = sys.argv[1]
route = sys.argv[2] if len(sys.argv) > 2 else "movie"
rows, T, movies, two = [], {}, 0, 0
for f in sorted(glob.glob(f"{out}/{route}_[0-9]*.csv")):
    R = list(csv.DictReader(open(f)))
    movies += 1
    if {r["quantity"]: r for r in R}.get("hmm_states", {}).get("estimate") != "2":
        continue
    two += 1
    h0, h1 = float(R[0]["hop0"]), float(R[0]["hop1"])
    for r in R:
        q = r["quantity"]
        if q.startswith("T") and r["estimate"] != "nan":
            T.setdefault(q, []).append(int(r["covered"]))
        if not q.startswith("D_"):
            continue
        mine, other = (h1, h0) if "V_S" in q else (h0, h1)
        kind = "equal" if abs(mine - other) < 1e-9 else ("slow" if mine < other else "fast")
        est = float(r["estimate"]) if r["estimate"] != "nan" else None
        rows.append((kind, float(r["truth"]), est, int(r["covered"]), float(r["steps"] or 0)))
print(f"{route}: {movies} movies, {two} with 2 HMM states")
for kind in ("equal", "fast", "slow", "all"):
    sel = [r for r in rows if kind == "all" or r[0] == kind]
    b = [r[2] / r[1] - 1 for r in sel if r[2] is not None and r[4] >= 300]
    cov = sum(r[3] for r in sel)
    s = f"{kind:6s} states {len(sel):3d} D coverage {cov}/{len(sel)} = {100 * cov / max(len(sel), 1):.1f} %"
    if b:
        se = st.stdev(b) / len(b) ** 0.5 if len(b) > 1 else 0
        s += f"  bias (>= 300 step frames) {100 * st.mean(b):+.1f} % +- {100 * se:.1f} % (n={len(b)}), median {100 * st.median(b):+.1f} %"
    print(s)
for q in sorted(T):
    print(f"{q:14s} coverage {sum(T[q])}/{len(T[q])} = {100 * sum(T[q]) / len(T[q]):.1f} %")
