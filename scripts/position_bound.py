#!/usr/bin/env python3
"""The physical limit of a column's position on a noiseless multislice frame: the Cramér–Rao
bound under Poisson noise at each dose, from the frame itself (issue #18).

Per column (truth; S2 columns once), Fisher information per axis I_x = Σ (∂μ/∂x)² / μ over the
column's own pixels (its Voronoi cell among all columns, periodic), μ = image · dose · pixel², the slope taken from the (periodic, band-limited)
image by the FFT. A neighbour's slope inside the cell counts as
information and a column's slope outside it does not: the cell stands in for "the column's own
photons" (the multislice image is not a sum of columns). Printed: the 2-D rms bound √mean(1/I_x + 1/I_y) in px per class,
directly comparable with `atomtrack evaluate`'s RMSE. No unbiased estimator that uses only the
column's own photons does better; an estimator can only beat it by borrowing from the lattice
(the network sees the whole lattice). For checking, not needed by AtomTrack.

  scripts/position_bound.py ../shared/validation/graphene-si-0 ../shared/validation/ws2-0 [--dose 1e4 1e5 1e6]
"""
import argparse, csv, json
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("frames", nargs="+", help="path without extension (NAME.npy, NAME.json, NAME_truth.csv)")
p.add_argument("--dose", type=float, nargs="+", default=[1e4, 1e5, 1e6])
a = p.parse_args()
for stem in a.frames:
    img = np.load(stem + ".npy").astype(float); px = json.load(open(stem + ".json"))["pixel_size_A"]
    rows = list(csv.DictReader(open(stem + "_truth.csv")))
    H, W = img.shape
    # Spectral slopes: exact for the band-limited image of a periodic cell (central differences
    # understate the slope of a peak ~1 px wide by ~30 %).
    F = np.fft.fft2(img); ky = np.fft.fftfreq(H)[:, None]; kx = np.fft.fftfreq(W)[None, :]
    gx = np.real(np.fft.ifft2(F * 2j * np.pi * kx)); gy = np.real(np.fft.ifft2(F * 2j * np.pi * ky))
    yy, xx = np.mgrid[0:H, 0:W]
    every = np.array(sorted({(float(r["x"]), float(r["y"])) for r in rows}))
    # Each pixel's nearest column (periodic distances): the columns' Voronoi cells.
    owner = np.full((H, W), -1); best = np.full((H, W), np.inf)
    for k, (x, y) in enumerate(every):
        dx = np.abs(xx - x); dx = np.minimum(dx, W - dx); dy = np.abs(yy - y); dy = np.minimum(dy, H - dy)
        d = dx * dx + dy * dy; closer = d < best; best[closer] = d[closer]; owner[closer] = k
    index = {tuple(c): k for k, c in enumerate(every)}
    for cls in sorted({r["class"] for r in rows}):
        cols = {(round(float(r["x"])), round(float(r["y"]))): (float(r["x"]), float(r["y"])) for r in rows if r["class"] == cls}
        # An S2 column's two atoms within 0.5 px own one cell between them.
        inner = [(x, y) for x, y in cols.values() if 3 <= x <= W - 4 and 3 <= y <= H - 4]
        line = f"{stem.split('/')[-1]} {cls} ({len(inner)} interior columns):"
        for dose in a.dose:
            s = dose * px * px
            b = []
            for x, y in inner:
                near = [k for k, c in enumerate(every) if abs(c[0] - x) < 0.5 and abs(c[1] - y) < 0.5]
                m = np.isin(owner, near)
                mu = np.maximum(img[m] * s, 1e-12)
                b.append(1 / np.sum((gx[m] * s) ** 2 / mu) + 1 / np.sum((gy[m] * s) ** 2 / mu))
            line += f"  {dose:.0e}: {np.sqrt(np.mean(b)):.3f}" if b else f"  {dose:.0e}: -"
        print(line)
