#!/usr/bin/env python3
"""PyTorch (CPU) counterpart of `atomtrack bench kernels`: same conv shapes, same U-Net
(16 base filters, 3 pools, conv→LeakyReLU→BN blocks, bilinear up + 1×1 conv), same
batch, image size and thread count; train step = forward + cross-entropy + backward + Adam.

Run:  OPENBLAS_CORETYPE=SkylakeX /work/venv/bin/python scripts/bench_vs_pytorch.py --threads 2
      [--size 256 --batch 8 --repeats 3 --network-only]
Prints the same table layout as the Swift benchmark (median of --repeats runs).
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_nn_fixtures import UNet  # noqa: E402  (the architecture mirrored parameter for parameter)


def median_time(fn, repeats, warmup=True):
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def conv_shapes(size, f=16):
    return [(1, f, 3, size), (f, 2 * f, 3, size // 2), (2 * f, 2 * f, 3, size // 2), (2 * f, 4 * f, 3, size // 4),
            (4 * f, 4 * f, 3, size // 4), (4 * f, 8 * f, 3, size // 8), (8 * f, 8 * f, 3, size // 8),
            (8 * f, 4 * f, 1, size // 4), (8 * f, 4 * f, 3, size // 4), (4 * f, 2 * f, 1, size // 2),
            (4 * f, 2 * f, 3, size // 2), (2 * f, f, 1, size), (2 * f, f, 3, size), (f, 3, 1, size)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--network-only", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads, image {a.size}×{a.size}, "
          f"batch {a.batch}, median of {a.repeats}")
    m = torch.randn(1024, 1024)
    t = median_time(lambda: m @ m, a.repeats)
    peak = 2 * 1024 ** 3 / t / 1e9
    print(f"sgemm 1024×1024×1024 (torch.mm): {peak:.1f} GFLOP/s")

    if not a.network_only:
        print("\nlayer (Cin→Cout k, H×W)        fwd GFLOP/s  bwd-data GFLOP/s  bwd-weight GFLOP/s")
        for cin, cout, k, hw in conv_shapes(a.size):
            x = torch.randn(a.batch, cin, hw, hw)
            w = torch.randn(cout, cin, k, k) * 0.1
            b = torch.zeros(cout)
            gy = torch.randn(a.batch, cout, hw, hw)
            flops = 2 * a.batch * hw * hw * cout * cin * k * k
            pad = k // 2
            with torch.no_grad():
                tf = median_time(lambda: F.conv2d(x, w, b, padding=pad), a.repeats)
            xg = x.clone().requires_grad_(True)
            wg = w.clone().requires_grad_(True)

            def bwd(need_input):
                xg.requires_grad_(need_input)
                y = F.conv2d(xg, wg, b, padding=pad)
                y.backward(gy)
            with torch.no_grad():
                t_fwd_only = tf
            tw = median_time(lambda: bwd(False), a.repeats) - t_fwd_only
            tb = median_time(lambda: bwd(True), a.repeats) - t_fwd_only
            td = max(tb - tw, 1e-9)
            label = f"{cin}→{cout} {k}×{k}, {hw}×{hw}".ljust(30)
            print(f"{label} {flops / tf / 1e9:11.1f}  {flops / td / 1e9:16.1f}  {flops / max(tw, 1e-9) / 1e9:18.1f}")

    net = UNet(classes=3, base=16)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 1, a.size, a.size)
    labels = torch.randint(0, 3, (a.batch, a.size, a.size))

    def step():
        net.train()
        opt.zero_grad()
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        opt.step()

    def infer():
        net.eval()
        with torch.no_grad():
            torch.softmax(net(x), dim=1)

    n_params = sum(p.numel() for p in net.parameters())
    cpu = []

    def timed_step():
        c0 = time.process_time()
        step()
        cpu.append(time.process_time() - c0)

    tt = median_time(timed_step, a.repeats)
    ti = median_time(infer, a.repeats)
    print(f"\nU-Net ({n_params} parameters) train step, batch {a.batch}: {tt:.3f} s  ({1000 * tt / a.batch:.1f} ms per image); "
          f"CPU least {min(cpu):.3f} s")
    print(f"U-Net inference (softmax probabilities), batch {a.batch}: {1000 * ti / a.batch:.1f} ms per image")


if __name__ == "__main__":
    main()
