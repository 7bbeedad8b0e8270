#!/usr/bin/env python3
"""Why do defect tracks break? Compares an `atomtrack demo` run's defect tracks with the
simulator's true trajectories (docs/ACCURACY.md, "Calibration study (full analyze)").

Usage: scripts/hmm_track_diagnosis.py DEMO_OUT [RADIUS_PX=7.9]
DEMO_OUT holds movie/truth_defects.csv, analysis/defects.csv and analysis/trajectories.csv.
Prints: true defect-frames missed by the detector (and how many of them in the frame a defect
hopped into), tracks per true defect with their frame spans, every break between two tracks of
one true defect (frames unseen, distance, true hops inside), and per true state the realized D of
the true walk (<dr^2>/4 over one-frame steps) against the steps of defects with no other defect
within 11 Å (where the simulator cannot refuse a hop for crowding)."""
import collections, csv, math, sys

run = sys.argv[1]
radius = float(sys.argv[2]) if len(sys.argv) > 2 else 7.9  # half a hop at 0.2 Å/px
hop_px = 5.0  # a step longer than this is a hop (a hop is 15.9 px; noise ~0.2 px)

truth = collections.defaultdict(dict)  # frame -> id -> (x, y, state)
for r in csv.DictReader(open(f"{run}/movie/truth_defects.csv")):
    truth[int(r["frame"])][int(r["defect_id"])] = (float(r["x"]), float(r["y"]), r["state"])
found = collections.defaultdict(list)
for r in csv.DictReader(open(f"{run}/analysis/defects.csv")):
    found[int(r["frame"])].append((float(r["x"]), float(r["y"])))
tracks = collections.defaultdict(list)
for r in csv.DictReader(open(f"{run}/analysis/trajectories.csv")):
    tracks[int(r["track"])].append((int(r["frame"]), float(r["x"]), float(r["y"])))


def hopped(i, f):
    """Whether true defect i hopped between frames f - 1 and f."""
    a, b = truth[f - 1].get(i), truth[f].get(i)
    return a is not None and b is not None and math.hypot(b[0] - a[0], b[1] - a[1]) > hop_px


def seen(i, f):
    x, y, _ = truth[f][i]
    return any(math.hypot(x - u, y - v) < radius for u, v in found[f])


points = [(f, i) for f in truth for i in truth[f]]
missed = [(f, i) for f, i in points if not seen(i, f)]
print(f"true defect-frames {len(points)}, missed {len(missed)} "
      f"({sum(hopped(i, f) for f, i in missed)} of them in the frame hopped into; "
      f"{sum(hopped(i, f) for f, i in points)} such frames in all)")


def owner(track):
    votes = collections.Counter()
    for f, x, y in track:
        near = [(math.hypot(x - t[0], y - t[1]), i) for i, t in truth[f].items()]
        if near and min(near)[0] < radius:
            votes[min(near)[1]] += 1
    return votes.most_common(1)[0][0] if votes else None


spans = collections.defaultdict(list)
for t, pts in tracks.items():
    spans[owner(pts)].append((pts[0][0], pts[-1][0], t))
print(f"tracks {len(tracks)} for {len({i for f in truth for i in truth[f]})} true defects")
for i in sorted(spans, key=str):
    segs = sorted(spans[i])
    print(f"  true {i}: " + " ".join(f"{a}-{b}" for a, b, _ in segs))
    for (_, a1, ta), (b0, _, tb) in zip(segs, segs[1:]):
        if i is None or b0 <= a1:
            continue
        end, start = tracks[ta][-1], tracks[tb][0]
        inside = sum(hopped(i, f) for f in range(a1 + 1, b0 + 1) if f in truth)
        print(f"    break {a1} -> {b0}: {b0 - a1 - 1} frames unseen, {math.hypot(start[1] - end[1], start[2] - end[2]):.1f} px, "
              f"{inside} true hops inside")

squares, steps = collections.Counter(), collections.Counter()
for f in truth:
    for i, (x, y, s) in truth[f].items():
        if f + 1 in truth and i in truth[f + 1]:
            near = min([math.hypot(x - u, y - v) for j, (u, v, _) in truth[f].items() if j != i] or [math.inf])
            r2 = (truth[f + 1][i][0] - x) ** 2 + (truth[f + 1][i][1] - y) ** 2
            for key in (s, s + " (no defect within 11 Å)") if near > 55 else (s,):
                squares[key] += r2
                steps[key] += 1
for key in sorted(steps):
    print(f"  realized D {key}: {squares[key] / (4 * steps[key]):.2f} px²/frame over {steps[key]} steps")
