#!/usr/bin/env python3
"""Refined vs centroid RMSE over several noise seeds on multislice frames (issues #18/#19).

For every NAME.npy (noiseless) in --dirs and every dose: --seeds Poisson realizations (numpy,
seeded by (seed, dose)) stacked as the frames of one 3-D NPY, `atomtrack locate` with and without
--no-refine (W+Mo merged), then per class the interior atoms (3 px) matched one-to-one within
0.4 x the column spacing (Hungarian) and the RMSE (px) pooled over the seeds; S2 columns are
scored at the mean of their two atoms, as `atomtrack evaluate` does. A cell is WORSE when the
refined RMSE exceeds the centroid's. One evaluate seed scores ~100 atoms per class and is
noisy (+-10 %): this pools 4-6 of them. For diagnosis only; AtomTrack never needs Python.

  scripts/refinement_seeds.py TAG --seeds 4 --bin .build/release/atomtrack --work /tmp/rs \
      --dirs ../shared/validation /work/validation-extra   [--env NAME=VALUE ...]
"""
import argparse, csv, json, os, subprocess, sys
import numpy as np
from scipy.optimize import linear_sum_assignment
p = argparse.ArgumentParser(); p.add_argument("tag"); p.add_argument("--seeds", type=int, default=6)
p.add_argument("--env", nargs="*", default=[]); p.add_argument("--dose", type=float, nargs="+", default=[1e4, 1e5, 1e6])
p.add_argument("--dirs", nargs="+", default=["../shared/validation", "/work/validation-extra"])
p.add_argument("--bin", default=".build/release/atomtrack"); p.add_argument("--models", default="Models")
p.add_argument("--work", default="/tmp/refinement_seeds")
a = p.parse_args()
W = a.work; os.makedirs(W, exist_ok=True)
MODEL = {"ws2": "tmd-ws2", "graphene": "graphene-si"}
def columns(rows):
    out = []
    for r in rows:
        x, y, c = float(r["x"]), float(r["y"]), r["class"]
        for col in out:
            if col[0] == c and abs(col[1][0][0] - x) < 0.5 and abs(col[1][0][1] - y) < 0.5: col[1].append((x, y)); break
        else: out.append((c, [(x, y)]))
    return [(c, np.mean(pts, 0)) for c, pts in out]
def errors(P, cols, shape, cls, radius):
    h, w = shape
    def inside(P, m): return (P[:, 0] >= m) & (P[:, 1] >= m) & (P[:, 0] <= w - 1 - m) & (P[:, 1] <= h - 1 - m)
    P = P[inside(P, 3)]
    Q = np.array([c[1] for c in cols if c[0] in cls]).reshape(-1, 2); Q = Q[inside(Q, 3)]
    D = np.linalg.norm(P[:, None] - Q[None], axis=2)
    i, j = linear_sum_assignment(np.where(D < radius, D, 1e6)); ok = D[i, j] < radius
    e = P[i[ok]] - Q[j[ok]]
    return np.sum(e * e), len(e), len(P), len(Q)
env = dict(os.environ); env["OPENBLAS_NUM_THREADS"] = "1"
for kv in a.env: k, v = kv.split("=", 1); env[k] = v
res = {}
for d in a.dirs:
    for name in sorted(f[:-4] for f in os.listdir(d) if f.endswith(".npy")):
        meta = json.load(open(os.path.join(d, name + ".json")))
        clean = np.load(os.path.join(d, name + ".npy")).astype(np.float64)
        cols = columns(list(csv.DictReader(open(os.path.join(d, name + "_truth.csv")))))
        mat = "ws2" if meta["material"].startswith("ws2") else "graphene"
        classes = [("S", ["S"]), ("W+Mo", ["W", "Mo", "W+Mo"])] if mat == "ws2" else [("C", ["C"]), ("Si", ["Si"])]
        px = meta["pixel_size_A"]; radius = 0.4 * (1.837 if mat == "ws2" else 1.420) / px
        for dose in a.dose:
            path = os.path.join(W, f"{name}_{int(dose)}_{a.seeds}.npy")
            if not os.path.exists(path):
                stack = [np.random.default_rng([s, int(dose)]).poisson(clean * dose * px * px) for s in range(a.seeds)]
                np.save(path, np.array(stack, dtype=np.float32))
            for mode in ("centroid", a.tag):
                out = os.path.join(W, f"{name}_{int(dose)}_{a.seeds}_{mode}")
                if mode == "centroid" and os.path.exists(os.path.join(out, "atoms.csv")): pass
                else:
                    subprocess.run([a.bin, "locate", path, "--model", os.path.join(a.models, MODEL[mat]), "--out", out,
                                    "--pixel-size", str(px), "--overwrite", "--quiet"] + (["--merge-dopants"] if mat == "ws2" else [])
                                   + (["--no-refine"] if mode == "centroid" else []), check=True, stdout=subprocess.DEVNULL, env=env)
                atoms = list(csv.DictReader(open(os.path.join(out, "atoms.csv"))))
                for label, cls in classes:
                    sq = n = nd = nt = 0
                    for f in range(a.seeds):
                        P = np.array([(float(r["x"]), float(r["y"])) for r in atoms if r["class"] in cls and int(r["frame"]) == f]).reshape(-1, 2)
                        s_, n_, nd_, nt_ = errors(P, cols, clean.shape, cls, radius); sq += s_; n += n_; nd += nd_; nt += nt_
                    res[(name, dose, label, mode)] = (np.sqrt(sq / max(n, 1)), n, 2 * n / max(nd + nt, 1))
print(f"{'frame':16s} {'dose':>6s} {'class':5s} {'n':>5s} {'centroid':>8s} {a.tag:>10s} ratio  F1c/F1r")
worse = 0
for (name, dose, label, mode), (r, n, f1) in sorted(res.items()):
    if mode != a.tag: continue
    c = res[(name, dose, label, "centroid")]
    flag = " WORSE" if r > c[0] + 1e-9 else ""
    worse += bool(flag)
    ratio = r / c[0] if c[0] > 0 else float("nan")
    print(f"{name:16s} {dose:6.0e} {label:5s} {n:5d} {c[0]:8.3f} {r:10.3f} {ratio:5.2f}  {c[2]:.3f}/{f1:.3f}{flag}")
print("worse cells:", worse)
