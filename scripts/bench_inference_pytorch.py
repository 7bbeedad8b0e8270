#!/usr/bin/env python3
"""PyTorch (CPU) counterpart of scripts/bench_inference.sh: whole-frame U-Net inference.

Same architecture as the shipped models (AtomAI-style U-Net: 16 base filters, 3 pools,
conv → LeakyReLU(0.01) → BatchNorm blocks, bilinear upsampling + 1×1 conv, 3 classes),
imported from scripts/make_nn_fixtures.py, which mirrors Sources/Networks/Model.swift
parameter for parameter. Random weights (speed does not depend on them), eval mode,
torch.no_grad(), batch 1, one 1×H×W frame at a time, torch.set_num_threads(THREADS).
Times the network only (plus softmax); no file I/O, normalization or atom finding.
Also times the tiling AtomTrack's AtomFinder used before issue #19 (it now runs the fewest
tiles of at most 1024 px: one 544² tile for 512², 2×2 of 544² for 1024²): 256² tiles with 32 px
overlap (frame reflect-padded by 16 px, stride 224) in batches of 4 — 9 tiles for 512², 25 for
1024² ("tiled" rows).

Run:  /work/venv/bin/python scripts/bench_inference_pytorch.py [--threads 2] [--sizes 512 1024] [--repeats 5]
"""
import argparse
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nn_fixtures import UNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--classes", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = UNet(args.classes, 16, depth=3, mode="bilinear").eval()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}, "
          f"params {sum(p.numel() for p in net.parameters())}")
    print(f"{'size':>10} {'mode':>12} {'median_s':>9} {'min_s':>7} {'frames/s':>9} {'cpu_med_s':>9} {'cpu_min_s':>9}")

    def tiles(s, tile=256, overlap=32):
        padded = s + overlap
        n = max(1, -(-(padded - tile) // (tile - overlap)) + 1)
        return n * n

    with torch.no_grad():
        for s in args.sizes:
            whole = torch.randn(1, 1, s, s)
            n = tiles(s)
            batches = [torch.randn(min(4, n - i), 1, 256, 256) for i in range(0, n, 4)]
            for mode, run in [("whole", lambda: torch.softmax(net(whole), 1)),
                              (f"tiled({n})", lambda: [torch.softmax(net(b), 1) for b in batches])]:
                run()  # warm-up
                ts, cpu = [], []
                for _ in range(args.repeats):
                    t, c = time.perf_counter(), time.process_time()  # process_time: CPU of all threads
                    run()
                    ts.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                med = statistics.median(ts)
                print(f"{f'{s}x{s}':>10} {mode:>12} {med:9.3f} {min(ts):7.3f} {1 / med:9.2f} "
                      f"{statistics.median(cpu):9.3f} {min(cpu):9.3f}", flush=True)


if __name__ == "__main__":
    main()
