#!/usr/bin/env python3
"""Where the position error of C and S comes from on the multislice validation frames (issue #18).

For each NAME in DIR (NAME.npy noiseless, NAME_truth.csv, NAME.json) and dose: Poisson noise
(numpy, seeded), `atomtrack locate` with and without --no-refine, then per class in the frame
interior (3 px), matched one-to-one within --radius px (Hungarian):
  rmse      2-D rms error (px) against the column reference,
  bias      |mean error vector| (px): a systematic offset shared by the class,
  toward    mean error projected on the direction to the nearest brighter neighbour column
            (W for S, Si for C): > 0 = pulled towards it,
  ref-first the same rmse when an S2 column's reference is its first listed atom (as
            `atomtrack evaluate` took it before) instead of the mean of its two atoms.
For diagnosis only; AtomTrack never needs Python.

  scripts/refinement_errors.py --dir ../shared/validation --atomtrack .build/release/atomtrack \
      --models Models --work /tmp/h-refine5/diag --dose 1e4 1e5 1e6
"""
import argparse, csv, json, os, subprocess
import numpy as np
from scipy.optimize import linear_sum_assignment

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True); p.add_argument("--atomtrack", required=True)
p.add_argument("--models", default="Models"); p.add_argument("--work", required=True)
p.add_argument("--dose", type=float, nargs="+", default=[1e4, 1e5, 1e6])
p.add_argument("--radius", type=float, default=3.0); p.add_argument("--seed", type=int, default=7)
p.add_argument("--extra", nargs="*", default=[], help="extra locate flags")
a = p.parse_args()
MODEL = {"ws2": "tmd-ws2", "graphene": "graphene-si"}


def columns(rows, first):
    """Truth atoms → columns (class, x, y): atoms of one class within 0.5 px are one column."""
    out = []
    for r in rows:
        x, y, c = float(r["x"]), float(r["y"]), r["class"]
        for col in out:
            if col[0] == c and abs(col[1][0][0] - x) < 0.5 and abs(col[1][0][1] - y) < 0.5:
                col[1].append((x, y)); break
        else:
            out.append((c, [(x, y)]))
    return [(c, np.array(pts[0] if first else np.mean(pts, 0))) for c, pts in out]


def score(atoms, cols, shape, cls, heavy):
    h, w = shape
    def inside(P, m): return (P[:, 0] >= m) & (P[:, 1] >= m) & (P[:, 0] <= w - 1 - m) & (P[:, 1] <= h - 1 - m)
    P = np.array([(float(r["x"]), float(r["y"])) for r in atoms if r["class"] in cls]).reshape(-1, 2)
    P = P[inside(P, 3)]
    Q = np.array([c[1] for c in cols if c[0] in cls]).reshape(-1, 2); Q = Q[inside(Q, 2)]
    H = np.array([c[1] for c in cols if c[0] in heavy]).reshape(-1, 2)
    D = np.linalg.norm(P[:, None] - Q[None], axis=2)
    i, j = linear_sum_assignment(np.where(D < a.radius, D, 1e6)); ok = D[i, j] < a.radius
    e = P[i[ok]] - Q[j[ok]]
    toward = float("nan")
    if len(H):
        dh = H[None] - Q[j[ok]][:, None]; k = np.argmin(np.linalg.norm(dh, axis=2), 1)
        u = dh[np.arange(len(k)), k]; u /= np.linalg.norm(u, axis=1, keepdims=True)
        toward = float(np.mean(np.sum(e * u, 1)))
    return np.sqrt(np.mean(np.sum(e * e, 1))), np.linalg.norm(e.mean(0)), toward, len(e)


os.makedirs(a.work, exist_ok=True)
print("frame dose class mode n rmse bias toward rmse(ref-first)")
for name in sorted(f[:-4] for f in os.listdir(a.dir) if f.endswith(".npy")):
    meta = json.load(open(os.path.join(a.dir, name + ".json")))
    clean = np.load(os.path.join(a.dir, name + ".npy")).astype(np.float64)
    truth = list(csv.DictReader(open(os.path.join(a.dir, name + "_truth.csv"))))
    mat = "ws2" if meta["material"].startswith("ws2") else "graphene"
    classes = [("S", "S", "W"), ("W+Mo", "W Mo W+Mo", "")] if mat == "ws2" else [("C", "C", "Si"), ("Si", "Si", "")]
    px = meta["pixel_size_A"]
    for dose in a.dose:
        rng = np.random.default_rng([a.seed, int(dose)])
        noisy = rng.poisson(clean * dose * px * px).astype(np.float32)
        path = os.path.join(a.work, f"{name}_{int(dose)}.npy"); np.save(path, noisy)
        for mode, flags in (("refined", []), ("centroid", ["--no-refine"])):
            out = os.path.join(a.work, f"{name}_{int(dose)}_{mode}")
            subprocess.run([a.atomtrack, "locate", path, "--model", os.path.join(a.models, MODEL[mat]), "--out", out,
                            "--pixel-size", str(px), "--overwrite", "--quiet"] + (["--merge-dopants"] if mat == "ws2" else [])
                           + flags + a.extra,
                           check=True, stdout=subprocess.DEVNULL)
            atoms = list(csv.DictReader(open(os.path.join(out, "atoms.csv"))))
            for label, cls, heavy in classes:
                r, b, t, n = score(atoms, columns(truth, False), clean.shape, cls.split(), heavy.split())
                rf = score(atoms, columns(truth, True), clean.shape, cls.split(), heavy.split())[0]
                print(f"{name} {dose:.0e} {label} {mode} {n} {r:.3f} {b:.3f} {t:+.3f} {rf:.3f}", flush=True)
