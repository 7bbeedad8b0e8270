#!/usr/bin/env python3
"""Scores an atoms.csv (locate/analyze output) against a simulator's truth_atoms.csv, per class:
one-to-one matching (Hungarian) within --radius px, atoms and truth more than 3 px inside the
frame (truth kept in a 1 px band beyond it, as `atomtrack evaluate` does), S2 columns listed
twice counted once. With --sigma also the variance of error/sigma_px per axis (matched atoms).
For checking AtomTrack's output by an independent reader (numpy/scipy); AtomTrack never needs it.

  scripts/score_atoms.py OUT/atoms.csv SIM/truth_atoms.csv --side 256 --radius 3.674 --class Mo W S [--sigma]
"""
import argparse, csv
import numpy as np
from scipy.optimize import linear_sum_assignment

p = argparse.ArgumentParser()
p.add_argument("atoms"); p.add_argument("truth")
p.add_argument("--side", type=int, required=True); p.add_argument("--radius", type=float, required=True)
p.add_argument("--class", dest="classes", nargs="+", required=True); p.add_argument("--sigma", action="store_true")
a = p.parse_args()
atoms, truth, m = list(csv.DictReader(open(a.atoms))), list(csv.DictReader(open(a.truth))), 3

def inside(P, lo, hi):
    return (P.min(1) >= lo) & (P.max(1) <= hi) if len(P) else np.zeros(0, bool)

for cls in a.classes:
    tp = fp = fn = 0; z2 = []
    for f in sorted({int(r["frame"]) for r in truth}):
        rows = [r for r in atoms if int(r["frame"]) == f and r["class"] == cls]
        P = np.array([(float(r["x"]), float(r["y"])) for r in rows]).reshape(-1, 2)
        S = np.array([float(r["sigma_px"] or "nan") for r in rows])
        keep = inside(P, m, a.side - 1 - m); P, S = P[keep], S[keep]
        Q = np.array(sorted({(float(r["x"]), float(r["y"])) for r in truth if int(r["frame"]) == f and r["class"] in cls.split("+")})).reshape(-1, 2)
        band = inside(Q, m - 1, a.side - m); Q = Q[band]; inner = inside(Q, m, a.side - 1 - m)
        i = j = np.zeros(0, int)
        if len(P) and len(Q):
            D = np.linalg.norm(P[:, None] - Q[None], axis=2)
            i, j = linear_sum_assignment(np.where(D < a.radius, D, 1e6)); ok = D[i, j] < a.radius; i, j = i[ok], j[ok]
        tp += len(i); fp += len(P) - len(i); fn += int(inner.sum()) - int(inner[j].sum())
        z2 += list((((P[i] - Q[j]) / S[i, None]) ** 2).ravel())
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    line = f"{cls}: TP {tp} FP {fp} FN {fn} F1 {f1:.3f}"
    if a.sigma and z2: line += f"  var(error/sigma) {np.nanmean(z2):.3f} over {len(z2)} axes"
    print(line)
