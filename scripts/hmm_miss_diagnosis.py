#!/usr/bin/env python3
"""Why does a D interval miss the truth? For every state whose 95 % interval of D misses the
effective D in a study of scripts/hmm_calibration_analyze.sh (docs/ACCURACY.md, issue #17,
session 10), one line with the movie's recipe, the estimate against the truth, and where the
state's hops went (scripts/hmm_hop_accounting.py's account(): every one-frame step of the
simulator's defects followed into the tracks and the HMM's Viterbi state):
  true     hops / step frames of the in-view walk, and z = (hops − Γ·frames)/√(Γ·frames): how far
           the walk itself strayed from its rate Γ (the effective D = Γd²/4 less crowding)
  given    hops / step frames the tracks gave to the state (its own plus those from the other state)
  lost     hops lost: outside the field, missed by the detector, across a gap, split off, to the other state
  tracks   hops in the tracks given to the state that no true hop explains (swap, jitter, unmatched)
  D_seen   the D the given hops imply, hops/frames·d²/4 with the crowding-reduced rate's truth beside it
Usage: scripts/hmm_miss_diagnosis.py STUDY_OUT [ROUTE=movie] [STATE=all]
ROUTE: movie (analyze), table, nodrift, … (the OUT/ROUTE_NNN.csv files); STATE: Mo_W, Mo_W+V_S or all."""
import csv, glob, json, math, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hmm_hop_accounting as acc  # noqa: E402

out = sys.argv[1]
route = sys.argv[2] if len(sys.argv) > 2 else "movie"
only = sys.argv[3] if len(sys.argv) > 3 else "all"
acc.out = out

misses = scored = 0
for path in sorted(glob.glob(f"{out}/{route}_[0-9]*.csv")):
    n = re.search(r"_(\d+)\.csv$", path).group(1)
    rows = list(csv.DictReader(open(path)))
    if not rows:
        continue
    states = {r["quantity"]: r for r in rows}
    h = {"Mo_W": float(rows[0]["hop0"]), "Mo_W+V_S": float(rows[0]["hop1"])}
    for q, r in states.items():
        if not q.startswith("D_") or r["estimate"] == "nan":
            continue
        s = q[2:]
        if only != "all" and s != only:
            continue
        scored += 1
        if r["covered"] == "1":
            continue
        misses += 1
        other = [k for k in h if k != s][0]
        kind = "equal" if abs(h[s] - h[other]) < 1e-9 else ("slow" if h[s] < h[other] else "fast")
        truth = json.load(open(f"{out}/truth_{n}.json"))
        t = next(d for d in truth["diffusion"] if d["state"] == s)
        rate = t["hop_rate_per_s"] * truth["frame_time_s"] * (1 - t["blocked_hop_share"])  # effective hops per frame
        d2 = t["hop_distance_A"] ** 2
        c = acc.account(n).get(s, {})
        hops, frames = c.get("hops", 0), c.get("frames", 0)
        z = (hops - rate * frames) / math.sqrt(rate * frames) if rate * frames > 0 else float("nan")
        gh = c.get("hops_seen", 0) + c.get("hops_from_other", 0)
        gf = c.get("frames_seen", 0) + c.get("frames_from_other", 0)
        seen_d = gh / gf * d2 / 4 / truth["frame_time_s"] if gf else float("nan")
        est, lo, hi, tr = (float(r[k]) for k in ("estimate", "low", "high", "truth"))
        side = "above" if lo > tr else "below"
        print(f"movie {n} {s:9s} {kind:5s} frames {r['frames']:>3s} dose {float(r['dose']):8.0f} defects {r['defects']} "
              f"hop0/1 {h['Mo_W']:.4f}/{h['Mo_W+V_S']:.4f} | D {est:.4g} [{lo:.4g}, {hi:.4g}] truth {tr:.4g}: interval {side}, "
              f"est/truth {est / tr:.2f}, step frames {r['steps']}")
        print(f"    true {hops}/{frames} (z {z:+.1f}) | given {gh}/{gf} ({c.get('hops_from_other', 0)}/{c.get('frames_from_other', 0)} from the other state) "
              f"| lost outside {c.get('hops_outside', 0)} missed {c.get('hops_missed', 0)} gap {c.get('hops_gap', 0)} "
              f"split {c.get('hops_split', 0)} other {c.get('hops_other', 0)} | tracks swap {c.get('track_hops_swap', 0)} "
              f"jitter {c.get('track_hops_jitter', 0)} unmatched {c.get('track_hops_unmatched', 0)} | D_seen {seen_d:.4g}")
print(f"{misses} of {scored} D intervals miss ({route}, {only})")
