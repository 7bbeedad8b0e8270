#!/usr/bin/env python3
"""Link the same simulated random walkers with trackpy and with `atomtrack bench linking`.

Generates Brownian walkers (seeded), writes them to a CSV with the ground-truth
particle id, times trackpy.link on them, runs our binary on the CSV, and scores both
against the truth: a link is a pair of detections in consecutive frames that a tool
put in one track; it is correct when both belong to the same simulated particle.

Usage (from the repository root, after `swift build -c release`):
    /work/venv/bin/python scripts/bench_linking_trackpy.py [--frames 100 --particles 2000 ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import trackpy


def simulate(frames, particles, step, box, seed):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, box, size=(particles, 2))
    rows = []
    for t in range(frames):
        rows.append(np.column_stack([np.full(particles, t), pos[:, 0], pos[:, 1], np.arange(particles)]))
        pos = pos + rng.normal(0, step, size=pos.shape)
    data = np.concatenate(rows)
    df = pd.DataFrame({"frame": data[:, 0].astype(int), "x": data[:, 1], "y": data[:, 2],
                       "particle": data[:, 3].astype(int)})
    return df


def score(frame, track, truth):
    """Correct and wrong consecutive-frame links of a labelling `track`."""
    df = pd.DataFrame({"frame": frame, "track": track, "truth": truth}).sort_values(["track", "frame"])
    same = (df.track.values[1:] == df.track.values[:-1]) & (np.diff(df.frame.values) == 1)
    ok = df.truth.values[1:] == df.truth.values[:-1]
    return int(np.sum(same & ok)), int(np.sum(same & ~ok))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--particles", type=int, default=2000)
    ap.add_argument("--step", type=float, default=1.0, help="step s.d. per axis (px)")
    ap.add_argument("--box", type=float, default=512.0, help="box side (px)")
    ap.add_argument("--search-range", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--binary", default=".build/release/atomtrack")
    args = ap.parse_args()

    df = simulate(args.frames, args.particles, args.step, args.box, args.seed)
    true_links = len(df) - df.particle.nunique()
    print(f"data: {args.frames} frames x {args.particles} particles, step s.d. {args.step} px/axis, "
          f"box {args.box} px, search range {args.search_range} px, seed {args.seed}; {true_links} true links")

    trackpy.quiet()
    t0, c0 = time.perf_counter(), time.process_time()
    linked = trackpy.link(df[["frame", "x", "y"]].copy(), args.search_range, memory=0)
    t_trackpy, c_trackpy = time.perf_counter() - t0, time.process_time() - c0
    tp_ok, tp_bad = score(linked.frame.values, linked.particle.values, df.particle.values)

    with tempfile.TemporaryDirectory() as tmp:
        data_csv, out_csv = os.path.join(tmp, "detections.csv"), os.path.join(tmp, "tracks.csv")
        df.to_csv(data_csv, index=False)
        env = dict(os.environ, OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", "SkylakeX"))
        t0 = time.perf_counter()
        out = subprocess.run([args.binary, "bench", "linking", "--input", data_csv, "--output", out_csv,
                              "--search-range", str(args.search_range), "--repeats", "3"],
                             check=True, capture_output=True, text=True, env=env)
        t_wall = time.perf_counter() - t0
        ours = json.loads(out.stdout.strip().splitlines()[-1])
        tracks = pd.read_csv(out_csv).sort_values("row").track.values
    at_ok, at_bad = score(df.frame.values, tracks, df.particle.values)
    assert at_ok == ours.get("correct_links", at_ok), "binary and script disagree on the score"

    print(f"trackpy {trackpy.__version__} link: {t_trackpy:.3f} s wall, {c_trackpy:.3f} s CPU; "
          f"correct links {tp_ok}, wrong links {tp_bad}")
    print(f"atomtrack linking: {ours['seconds']:.3f} s wall, {ours['cpu_seconds']:.3f} s CPU (best of 3, CSV parsing "
          f"excluded; whole process incl. CSV IO and 3 runs {t_wall:.2f} s wall); correct links {at_ok}, wrong links {at_bad}")
    print(f"speed-up {t_trackpy / ours['seconds']:.1f}x wall, {c_trackpy / ours['cpu_seconds']:.1f}x CPU; "
          f"correct-link difference (ours - trackpy) {at_ok - tp_ok}")
    return 0 if at_ok >= tp_ok else 1


if __name__ == "__main__":
    sys.exit(main())
