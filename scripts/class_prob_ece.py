#!/usr/bin/env python3
"""Expected calibration error of atoms.csv's `class_prob` against truth, read independently of
AtomTrack (numpy/scipy). Atoms are matched to truth columns one to one over all classes
(Hungarian) within --radius px; an atom is right when it is matched to a column of an element of
its class (`W+Mo` holds W and Mo), wrong otherwise (wrong element, or no column: a phantom).
Atoms more than 3 px inside the frame; truth kept in a 1 px band beyond (as `atomtrack evaluate`).
Truth: a simulator's truth_atoms.csv (`frame,x,y,class`) or a validation NAME_truth.csv (`x,y,class`,
frame 0). Equal-mass bins; prints ECE, accuracy, mean confidence and the reliability-diagram rows.
For checking AtomTrack's output; AtomTrack never needs it.

  scripts/class_prob_ece.py OUT/atoms.csv SIM/truth_atoms.csv --width 256 --height 256 --radius 3.674 [--bins 15]
"""
import argparse, csv
import numpy as np
from scipy.optimize import linear_sum_assignment

p = argparse.ArgumentParser()
p.add_argument("atoms"); p.add_argument("truth")
p.add_argument("--width", type=int, required=True); p.add_argument("--height", type=int, required=True)
p.add_argument("--radius", type=float, required=True); p.add_argument("--bins", type=int, default=15)
p.add_argument("--margin", type=float, default=3); p.add_argument("--diagram", action="store_true")
a = p.parse_args()
atoms, truth, m = list(csv.DictReader(open(a.atoms))), list(csv.DictReader(open(a.truth))), a.margin

def inside(P, lo, dx, dy):
    return (P[:, 0] >= lo) & (P[:, 1] >= lo) & (P[:, 0] <= a.width - 1 - dx) & (P[:, 1] <= a.height - 1 - dy) if len(P) else np.zeros(0, bool)

conf, right, cls = [], [], []
for f in sorted({int(r.get("frame", 0)) for r in truth}):
    rows = [r for r in atoms if int(r["frame"]) == f]
    P = np.array([(float(r["x"]), float(r["y"])) for r in rows]).reshape(-1, 2)
    keep = inside(P, m, m, m); rows = [r for r, k in zip(rows, keep) if k]; P = P[keep]
    cols = {}
    for r in truth:
        if int(r.get("frame", 0)) == f:
            cols.setdefault((round(float(r["x"]) * 2) / 2, round(float(r["y"]) * 2) / 2, r["class"]), (float(r["x"]), float(r["y"]), r["class"]))
    T = list(cols.values())
    Q = np.array([(x, y) for x, y, _ in T]).reshape(-1, 2)
    band = inside(Q, m - 1, m - 1, m - 1); T = [t for t, k in zip(T, band) if k]; Q = Q[band]
    match = {}
    if len(P) and len(Q):
        D = np.linalg.norm(P[:, None] - Q[None], axis=2)
        i, j = linear_sum_assignment(np.where(D < a.radius, D, 1e6))
        match = {int(ii): int(jj) for ii, jj in zip(i, j) if D[ii, jj] < a.radius}
    for k, r in enumerate(rows):
        conf.append(float(r["class_prob"])); cls.append(r["class"])
        right.append(k in match and T[match[k]][2] in r["class"].split("+"))

conf, right, cls = np.array(conf), np.array(right, float), np.array(cls)

def ece(conf, right):
    order = np.argsort(conf, kind="stable"); n = len(conf); k = max(1, min(a.bins, n)); e, diagram = 0.0, []
    for b in range(k):
        s = order[b * n // k:(b + 1) * n // k]
        e += len(s) / n * abs(conf[s].mean() - right[s].mean()); diagram.append((len(s), conf[s].mean(), right[s].mean()))
    return e, diagram

e, diagram = ece(conf, right)
print(f"atoms {len(conf)}  accuracy {right.mean():.4f}  mean class_prob {conf.mean():.4f}  ECE {e:.4f} ({len(diagram)} equal-mass bins)"
      + "".join(f"  | {c}: {int((cls == c).sum())} atoms, accuracy {right[cls == c].mean():.4f}, ECE {ece(conf[cls == c], right[cls == c])[0]:.4f}"
                for c in sorted(set(cls))))
if a.diagram:
    for c, x, y in diagram: print(f"  bin of {c}: confidence {x:.4f} accuracy {y:.4f}")
