#!/usr/bin/env python3
"""deeptime side of `atomtrack bench markov`: counting + MaximumLikelihoodMSM.

Generates exactly the trajectory of `atomtrack bench markov` (same chain, same 64-bit
LCG), then times TransitionCountEstimator(sliding).fit + MaximumLikelihoodMSM.fit
(reversible and not) over --repeats runs; prints median / fastest, the counts checksum
(must equal the Swift one) and the results (π, slowest timescale). With --atomtrack
(default .build/release/atomtrack when built) it first runs `atomtrack bench markov`
with the same settings, so one command gives both sides on the same machine.

Usage: swift build -c release --product atomtrack
       OPENBLAS_CORETYPE=SkylakeX /work/venv/bin/python scripts/bench_markov_deeptime.py \
           [--steps 1000000] [--states 10] [--lag 1] [--repeats 7] [--seed 1] [--atomtrack PATH|none]
"""
import argparse
import math
import os
import subprocess
import time

import numpy as np
import deeptime
from deeptime.markov import TransitionCountEstimator
from deeptime.markov.msm import MaximumLikelihoodMSM

MASK = (1 << 64) - 1


def sample(steps, n, seed):
    rows = []
    for i in range(n):
        w = [math.exp(-float(abs(i - j))) * float(1 + (i * j) % 3) for j in range(n)]
        s = 0.0
        for v in w:
            s += v
        acc, cum = 0.0, []
        for v in w:
            acc += v / s
            cum.append(acc)
        rows.append(cum)
    x, s = seed, 0
    out = np.empty(steps, dtype=np.int32)
    for k in range(steps):
        out[k] = s
        x = (x * 6364136223846793005 + 1442695040888963407) & MASK
        u = float(x >> 11) * 2.0 ** -53
        nxt = n - 1
        for j, c in enumerate(rows[s]):
            if u < c:
                nxt = j
                break
        s = nxt
    return out


def timed(fn, repeats):
    ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return sorted(ms), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--states", type=int, default=10)
    ap.add_argument("--lag", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--atomtrack", default=".build/release/atomtrack")
    a = ap.parse_args()
    if a.atomtrack != "none" and os.path.exists(a.atomtrack):
        print("== AtomTrack ==", flush=True)
        subprocess.run([a.atomtrack, "bench", "markov", "--steps", str(a.steps), "--states", str(a.states),
                        "--lag", str(a.lag), "--repeats", str(a.repeats), "--seed", str(a.seed)], check=True)
        print("== deeptime ==", flush=True)
    dtraj = sample(a.steps, a.states, a.seed)
    print(f"deeptime {deeptime.__version__}, numpy {np.__version__}, trajectory {a.steps} frames, "
          f"{a.states} states, lag {a.lag}, seed {a.seed}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    count = lambda: TransitionCountEstimator(a.lag, "sliding", n_states=a.states).fit(dtraj).fetch_model()
    c = np.asarray(count().count_matrix)
    checksum = sum((i * a.states + j) * c[i, j] for i in range(a.states) for j in range(a.states))
    print(f"counts checksum sum (i*n+j)*C_ij = {int(checksum)}")
    ms, _ = timed(count, a.repeats)
    print(f"{'count':34s}median {ms[len(ms)//2]:8.2f} ms   fastest {ms[0]:8.2f} ms   ({a.repeats} runs)")
    for rev in (True, False):
        fit = lambda: MaximumLikelihoodMSM(reversible=rev).fit_from_counts(count()).fetch_model()
        ms, model = timed(fit, a.repeats)
        name = f"count + {'reversible' if rev else 'non-reversible'} MLE"
        print(f"{name:34s}median {ms[len(ms)//2]:8.2f} ms   fastest {ms[0]:8.2f} ms   ({a.repeats} runs)")
        pi = " ".join(f"{v:.6f}" for v in model.stationary_distribution[:3])
        print(f"  pi[0..2] {pi}, slowest timescale {model.timescales()[0]:.4f} frames")


if __name__ == "__main__":
    main()
