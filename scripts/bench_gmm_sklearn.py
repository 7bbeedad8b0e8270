#!/usr/bin/env python3
"""scikit-learn's GaussianMixture on the data `atomtrack bench gmm` fits: SeededGenerator (xoshiro256**, seed 2026)
+ Box–Muller, centre_c = 3·N(0, I), point i = centre_{i mod k} + (0.5 + 0.25 c)·N(0, I);
start from the first point of each cluster, identity covariances, equal weights; exactly
`--iterations` EM steps (tol=0). Thread count is pinned before numpy loads.

Run:  python scripts/bench_gmm_sklearn.py --threads 2
"""
import argparse
import math
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--samples", type=int, default=5000)
ap.add_argument("--features", type=int, default=64)
ap.add_argument("--components", type=int, default=5)
ap.add_argument("--iterations", type=int, default=100)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=5)
ap.add_argument("--covariance", default="full", choices=["full", "diag"])
args = ap.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

MASK = (1 << 64) - 1


class SeededGenerator:
    """AtomTrack's Core.SeededGenerator, line by line: xoshiro256** seeded through SplitMix64."""

    def __init__(self, seed):
        x = seed

        def split_mix():
            nonlocal x
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            return z ^ (z >> 31)

        self.s = [split_mix() for _ in range(4)]

    def next(self):
        s = self.s
        t1 = (s[1] * 5) & MASK
        result = ((((t1 << 7) | (t1 >> 57)) & MASK) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & MASK
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def bench_data(n, d, k):
    rng = SeededGenerator(2026)
    centres = np.array([3 * rng.normal() for _ in range(k * d)]).reshape(k, d)
    x = np.empty((n, d))
    for i in range(n):
        c = i % k
        scale = 0.5 + 0.25 * c
        x[i] = centres[c] + scale * np.array([rng.normal() for _ in range(d)])
    return x


n, d, k = args.samples, args.features, args.components
X = bench_data(n, d, k)
means = X[:k].copy()
prec = np.stack([np.eye(d)] * k) if args.covariance == "full" else np.ones((k, d))
times = []
for _ in range(args.repeats):
    gm = GaussianMixture(n_components=k, covariance_type=args.covariance, tol=0.0, max_iter=args.iterations,
                         weights_init=np.full(k, 1 / k), means_init=means, precisions_init=prec)
    t0 = time.perf_counter()
    gm.fit(X)
    times.append(time.perf_counter() - t0)
times.sort()
try:
    from threadpoolctl import threadpool_info
    blas = ", ".join(f"{i['internal_api']} {i.get('num_threads')} threads {i.get('architecture', '')}" for i in threadpool_info())
except ImportError:
    blas = "threadpoolctl not installed"
print(f"scikit-learn {sklearn.__version__} GMM  n={n} d={d} k={k} cov={args.covariance} iterations={gm.n_iter_} "
      f"threads={args.threads} ({blas}) python {sys.version.split()[0]}")
med = times[len(times) // 2]
print(f"  fit time: median {med:.4f} s, best {times[0]:.4f} s over {args.repeats} runs "
      f"({1000 * med / gm.n_iter_:.2f} ms/iteration)")
print(f"  final lower bound (mean log-likelihood): {gm.lower_bound_:.10f}")
