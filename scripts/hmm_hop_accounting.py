#!/usr/bin/env python3
"""Where do a state's hops go between the simulator and the joint HMM? (docs/ACCURACY.md, "Where
the D bias comes from"). For every one-frame step of every true defect (truth_defects.csv) it asks:
was the step seen as one step of one track (both ends matched to consecutive points of the same
track within RADIUS px), and to which true state did the HMM's Viterbi class (trajectories.csv
class_hmm, mapped through the demo's class → state line) give it? Lattice D is ∝ hops / step
frames, so per true state it prints the hops and step frames the simulator made, those the tracks
saw, and those the HMM gave to the state, with the losses by cause:
  outside  an end outside the field the defects were seen in (the edge weights count these back)
  missed   an end not detected (or not matched within RADIUS)
  gap      both ends seen, in one track, across a missed frame (the HMM counts it as a k-frame step)
  split    both ends seen, not consecutive in one track (a track ended or a short one was dropped)
  other    seen, but the Viterbi class says the other state.
And every hop the tracks show, by the state given: explained by a true hop of the defect (true), by two
defects (swap: the track jumped from one to another), by none (jitter: the defect did not hop;
unmatched: an end is no true defect).
yield = (hops given to the state / true hops) / (frames given / true frames): 1 means unbiased
(before the edge weights), below 1 a D biased low by that much; then the same with each seen step
weighted 1/q as the HMM weighs it (ObservationWindow: q = share of directions that stay inside the
bounding box of the detections). The truth here is the in-view walk: truth_defects.csv lists the
defects inside the frame only, so a step across the frame's edge is in neither count, and the
in-view walk falls short of the walk by the hops across it (0.89–0.93 on these fields, h-hmm4):
an edge correction that restores the walk shows a weighted yield above 1 by that much.

Usage: scripts/hmm_hop_accounting.py STUDY_OUT [RADIUS_PX=7.9]   (STUDY_OUT from
scripts/hmm_calibration_analyze.sh: truth_NNN_defects.csv, trajectories_NNN.csv, demo_NNN.txt,
movie_NNN.csv); sums over movies where the HMM chose 2 states, by kind of state (equal D, fast or
slow of a tenfold pair)."""
import collections, csv, glob, math, os, re, sys

# Set by main(), or by a script importing account() (scripts/hmm_miss_diagnosis.py).
out = None
radius = 7.9  # half a hop at 0.2 Å/px
hop_px = 4.6  # analyze's threshold: half a column spacing (9.2 px at 0.2 Å/px)
causes = ("seen", "outside", "missed", "gap", "split", "other")


def account(n):
    truth_rows = list(csv.DictReader(open(f"{out}/truth_{n}_defects.csv")))
    traj = list(csv.DictReader(open(f"{out}/trajectories_{n}.csv")))
    line = next(l for l in open(f"{out}/demo_{n}.txt") if l.startswith("defect classes"))
    mapping = dict(re.findall(r"(\S+?)→(\S+?)[,\s]", line.split(":", 1)[1] + " "))
    def state_of(hidden):  # a hidden state stands for the true state most of its classes map to
        votes = collections.Counter(mapping.get(c) for c in hidden.split("+"))
        return votes.most_common(1)[0][0]
    truth = collections.defaultdict(dict)
    for r in truth_rows:
        truth[int(r["frame"])][int(r["defect_id"])] = (float(r["x"]), float(r["y"]), r["state"])
    points = collections.defaultdict(list)  # frame -> (x, y, track, index in track)
    order = collections.defaultdict(list)
    for r in traj:
        order[int(r["track"])].append((int(r["frame"]), float(r["x"]), float(r["y"]), r["class_hmm"]))
    for t, pts in order.items():
        pts.sort()
        for k, (f, x, y, _) in enumerate(pts):
            points[f].append((x, y, t, k))
    xs = [p[0] for f in points for p in points[f]]; ys = [p[1] for f in points for p in points[f]]
    box = (min(xs), min(ys), max(xs), max(ys))
    inside = lambda x, y: box[0] <= x <= box[2] and box[1] <= y <= box[3]
    def weight(x, y, u, v):  # ObservationWindow.stepWeights: 1/q, q = share of directions that end inside
        r = math.hypot(u - x, v - y)
        if r == 0:
            return 1.0
        inside = sum(box[0] <= x + r * math.cos(a) <= box[2] and box[1] <= y + r * math.sin(a) <= box[3]
                     for a in ((k + 0.5) * 2 * math.pi / 720 for k in range(720)))
        return 720 / max(inside, 1)
    def match(f, x, y):
        near = [(math.hypot(x - u, y - v), t, k) for u, v, t, k in points.get(f, [])]
        best = min(near, default=None)
        return best[1:] if best and best[0] < radius else None
    tally = collections.defaultdict(collections.Counter)  # state -> counter
    for f in truth:
        for i, (x, y, s) in truth[f].items():
            if f + 1 not in truth or i not in truth[f + 1]:
                continue
            x2, y2, _ = truth[f + 1][i]
            hop = math.hypot(x2 - x, y2 - y) > hop_px
            a, b = match(f, x, y), match(f + 1, x2, y2)
            if not (inside(x, y) and inside(x2, y2)):
                cause = "outside"
            elif a is None or b is None:
                cause = "gap" if a and order[a[0]][a[1] + 1:a[1] + 2] and order[a[0]][a[1] + 1][0] == f + 2 else "missed"
            elif a[0] == b[0] and b[1] == a[1] + 1:
                given = state_of(order[a[0]][a[1]][3])
                cause = "seen" if given == s else "other"
                p, q = order[a[0]][a[1]], order[b[0]][b[1]]
                w = weight(p[1], p[2], q[1], q[2])
                tally[given]["weighted_frames"] += w; tally[given]["weighted_hops"] += w * hop
                if cause == "other":
                    tally[given]["frames_from_other"] += 1; tally[given]["hops_from_other"] += hop
            else:
                cause = "split"
            tally[s]["frames"] += 1; tally[s]["hops"] += hop
            tally[s]["frames_" + cause] += 1; tally[s]["hops_" + cause] += hop
    # The other way round: every hop the tracks show (one-frame steps), by the state the HMM gave it,
    # and whether a true hop of one defect explains it.
    def owner(f, x, y):
        near = [(math.hypot(x - t[0], y - t[1]), i) for i, t in truth.get(f, {}).items()]
        best = min(near, default=None)
        return best[1] if best and best[0] < radius else None
    for pts in order.values():
        for (f, x, y, c), (g, u, v, _) in zip(pts, pts[1:]):
            if g != f + 1 or math.hypot(u - x, v - y) <= hop_px:
                continue
            i, j = owner(f, x, y), owner(g, u, v)
            if i is None or j is None:
                kind = "unmatched"
            elif i != j:
                kind = "swap"
            else:
                kind = "true" if math.hypot(truth[g][i][0] - truth[f][i][0], truth[g][i][1] - truth[f][i][1]) > hop_px else "jitter"
            tally[state_of(c)]["track_hops_" + kind] += 1
    return tally


def kinds(n):
    rows = list(csv.DictReader(open(f"{out}/movie_{n}.csv")))
    q = {r["quantity"]: r for r in rows}
    if q.get("hmm_states", {}).get("estimate") != "2":
        return None
    h0, h1 = float(rows[0]["hop0"]), float(rows[0]["hop1"])
    def kind(mine, other):
        return "equal" if abs(mine - other) < 1e-9 else ("slow" if mine < other else "fast")
    return {"Mo_W": kind(h0, h1), "Mo_W+V_S": kind(h1, h0)}


def main():
    global out, radius
    out = sys.argv[1]
    radius = float(sys.argv[2]) if len(sys.argv) > 2 else radius
    total = collections.defaultdict(collections.Counter)
    movies = 0
    for path in sorted(glob.glob(f"{out}/trajectories_*.csv")):
        n = re.search(r"trajectories_(\d+)\.csv", path).group(1)
        k = kinds(n) if os.path.exists(f"{out}/movie_{n}.csv") else None
        if k is None:
            continue
        movies += 1
        for s, c in account(n).items():
            if s in k:
                total[k[s]].update(c); total["all"].update(c)
    print(f"{movies} two-state movies, hop = step > {hop_px} px, match radius {radius} px")
    for kind in ("equal", "fast", "slow", "all"):
        c = total[kind]
        if not c["frames"]:
            continue
        given_h = c["hops_seen"] + c["hops_from_other"]; given_f = c["frames_seen"] + c["frames_from_other"]
        yield_ = (given_h / c["hops"]) / (given_f / c["frames"]) if c["hops"] and given_f else float("nan")
        print(f"{kind:5s} true: {c['hops']} hops / {c['frames']} step frames; given to the state: {given_h} / {given_f} "
              f"(of them from the other state {c['hops_from_other']} / {c['frames_from_other']}); yield {yield_:.3f}")
        if c["weighted_frames"]:
            print(f"      with the edge weights 1/q: yield {(c['weighted_hops'] / c['hops']) / (c['weighted_frames'] / c['frames']):.3f}")
        print("      lost hops   " + ", ".join(f"{x} {c['hops_' + x]}" for x in causes[1:]))
        print("      lost frames " + ", ".join(f"{x} {c['frames_' + x]}" for x in causes[1:]))
        print("      hops in the tracks given to the state: " + ", ".join(f"{x} {c['track_hops_' + x]}" for x in ("true", "swap", "jitter", "unmatched")))


if __name__ == "__main__":
    main()
