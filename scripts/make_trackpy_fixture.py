#!/usr/bin/env python3
"""Writes a trackpy-linked trajectory table (Tests/PipelineTests/Fixtures/trackpy_tracks.csv) and the
lag-1 transition counts between its classes, counted here with pandas (trackpy_counts.json), so
`atomtrack markov` can be checked on a table as trackpy users write it: a `particle` column, the
DataFrame index as an unnamed first column, trackpy's column order. Classes switch by a known
two-state chain; `D1` occurs first in the file so the state order cannot follow the rows.
Run: /work/venv/bin/python scripts/make_trackpy_fixture.py
"""
import json
import pathlib

import numpy as np
import pandas as pd
import trackpy as tp

tp.quiet()

rng = np.random.default_rng(22)
T = np.array([[0.9, 0.1], [0.2, 0.8]])
rows = []
for p in range(6):                                   # 6 defects far apart, 40 frames, small steps
    x, y, state = 20.0 + 40 * p, 50.0, 1
    for frame in range(40):
        rows.append({"frame": frame, "x": x, "y": y, "class": f"D{state}"})
        x += rng.normal(0, 0.5); y += rng.normal(0, 0.5)
        state = rng.choice(2, p=T[state])
detections = pd.DataFrame(rows)
linked = tp.link(detections, search_range=5, memory=0)
linked = linked.sort_values(["frame", "particle"]).reset_index(drop=True)
out = pathlib.Path(__file__).resolve().parent.parent / "Tests/PipelineTests/Fixtures"
linked.to_csv(out / "trackpy_tracks.csv")            # index as the first, unnamed column, as pandas writes it

counts = np.zeros((2, 2), dtype=int)
for _, track in linked.sort_values("frame").groupby("particle"):
    states = track["class"].str[1:].astype(int).to_numpy()
    frames = track["frame"].to_numpy()
    for i in range(len(states) - 1):
        if frames[i + 1] == frames[i] + 1:
            counts[states[i], states[i + 1]] += 1
(out / "trackpy_counts.json").write_text(json.dumps(
    {"states": ["D0", "D1"], "lag": 1, "counts": counts.tolist(), "trackpy": tp.__version__}) + "\n")
print(f"{len(linked)} rows, {linked['particle'].nunique()} particles, counts {counts.tolist()}")
