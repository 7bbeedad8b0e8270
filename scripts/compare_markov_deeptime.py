#!/usr/bin/env python3
"""Reference fixtures for AtomTrack's Markov state models, computed by deeptime.

Writes Tests/DynamicsTests/Fixtures/markov_deeptime.json: a few count matrices and
discrete trajectories with deeptime's answers (transition counts in sliding and
sample mode, MaximumLikelihoodMSM reversible and non-reversible: active set,
transition matrix, stationary distribution, timescales). The Swift tests
(Tests/DynamicsTests/MarkovDeeptimeTests.swift) recompute them and compare.

Usage: /work/venv/bin/python scripts/compare_markov_deeptime.py
(deeptime 0.4.5, numpy; seeded, so reruns give the same file.)
"""
import json
import pathlib

import numpy as np
import deeptime
from deeptime.markov import TransitionCountEstimator
from deeptime.markov.msm import MaximumLikelihoodMSM

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/DynamicsTests/Fixtures/markov_deeptime.json"


def msm_case(name, counts, reversible):
    est = MaximumLikelihoodMSM(reversible=reversible)  # maxerr 1e-8, maxiter 1e6 (defaults)
    model = est.fit_from_counts(np.asarray(counts, dtype=float)).fetch_model()
    return {
        "name": name,
        "counts": np.asarray(counts, dtype=float).tolist(),
        "reversible": reversible,
        "active_states": model.count_model.state_symbols.tolist(),
        "transition_matrix": model.transition_matrix.tolist(),
        "stationary": model.stationary_distribution.tolist(),
        "timescales": model.timescales().tolist(),
    }


def count_case(name, dtrajs, lag, mode, n_states):
    est = TransitionCountEstimator(lagtime=lag, count_mode=mode, n_states=n_states)
    counts = est.fit(dtrajs).fetch_model().count_matrix
    return {"name": name, "dtrajs": [d.tolist() for d in dtrajs], "lag": lag, "mode": mode,
            "n_states": n_states, "counts": np.asarray(counts).tolist()}


def main():
    rng = np.random.default_rng(20261125)
    dense4 = rng.integers(1, 60, size=(4, 4))
    sparse6 = rng.integers(0, 40, size=(6, 6)) * (rng.random((6, 6)) < 0.5)
    sparse6 += np.diag(rng.integers(5, 50, size=6))
    for i in range(6):  # a ring keeps it strongly connected
        sparse6[i, (i + 1) % 6] += 3
    slow3 = np.array([[900, 8, 0], [10, 500, 3], [0, 2, 700]])
    # {0,1,2} strongly connected; 3 only feeds in (transient); 4 is isolated.
    disconnected5 = np.array([
        [30, 5, 2, 0, 0],
        [4, 20, 6, 0, 0],
        [1, 7, 25, 0, 0],
        [3, 0, 0, 10, 0],
        [0, 0, 0, 0, 9],
    ])
    msm = []
    for name, c in [("dense4", dense4), ("sparse6", sparse6), ("slow3", slow3)]:
        for rev in (True, False):
            msm.append(msm_case(name, c, rev))
    msm.append(msm_case("disconnected5", disconnected5, True))

    d1 = rng.integers(0, 3, size=40)
    d2 = rng.integers(0, 3, size=17)
    counting = [count_case(f"lag{lag}_{mode}", [d1, d2], lag, mode, 3)
                for lag in (1, 3) for mode in ("sliding", "sample")]

    doc = {"generator": "scripts/compare_markov_deeptime.py", "deeptime": deeptime.__version__,
           "numpy": np.__version__, "msm": msm, "counting": counting}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
