#!/usr/bin/env python3
"""MicroscopyIO throughput: AtomTrack's CLI against tifffile/numpy/Pillow on the same files.

Makes a 1000-frame 512×512 movie (float32 and uint16 TIFF, float32 NPY, a 200-file 16-bit
PNG series) in a temp folder, then times
  - `atomtrack info FILE`   (opens, decodes every frame to Float32, value range)
  - `atomtrack convert FILE out.npy` / `out.tif`
  - the Python reference: tifffile.imread / numpy.load(mmap) + float32 cast + min/max/mean,
    Pillow for PNG.
Usage: OPENBLAS_CORETYPE=SkylakeX /work/venv/bin/python scripts/bench_io.py .build/release/atomtrack
"""
import os, resource, subprocess, sys, tempfile, time
import numpy as np
import tifffile
from PIL import Image

exe = sys.argv[1] if len(sys.argv) > 1 else ".build/release/atomtrack"
frames, h, w = 1000, 512, 512
rng = np.random.default_rng(0)
tmp = tempfile.mkdtemp(prefix="bench-io-")
movie = (rng.random((frames, h, w), dtype=np.float32) * 1000).astype(np.float32)
paths = {
    "f32.tif": lambda p: tifffile.imwrite(p, movie),
    "u16.tif": lambda p: tifffile.imwrite(p, movie.astype(np.uint16)),
    "f32.npy": lambda p: np.save(p, movie),
}
for name, make in paths.items():
    make(os.path.join(tmp, name))
os.makedirs(os.path.join(tmp, "png"))
for k in range(200):
    Image.fromarray(movie[k].astype(np.uint16)).save(os.path.join(tmp, "png", f"frame_{k:03d}.png"))


def cpu():
    """CPU seconds (user + sys) of this process and its finished children."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def best(fn, reps=3):
    """Best wall time and the CPU time of that run: the machine is shared, so CPU time
    (user + sys) is the steadier figure."""
    t = []
    for _ in range(reps):
        c0, t0 = cpu(), time.perf_counter(); fn(); t.append((time.perf_counter() - t0, cpu() - c0))
    return min(t)


def cli(*args):
    subprocess.run([exe, *args], check=True, stdout=subprocess.DEVNULL)


def py_stats(a):
    a = a.astype(np.float32, copy=False)
    return float(a.min()), float(a.max()), float(a.mean())


rows = []
for name in ["f32.tif", "u16.tif", "f32.npy", "png"]:
    p = os.path.join(tmp, name)
    n = 200 if name == "png" else frames
    mb = n * h * w * 4 / 2**20
    t_info = best(lambda: cli("info", p if name != "png" else p))
    if name == "png":
        ref = lambda: py_stats(np.stack([np.asarray(Image.open(os.path.join(p, f"frame_{k:03d}.png"))) for k in range(n)]))
    elif name.endswith(".npy"):
        ref = lambda: py_stats(np.load(p, mmap_mode="r"))
    else:
        ref = lambda: py_stats(tifffile.imread(p))
    t_ref = best(ref)
    out = os.path.join(tmp, "out.npy")
    t_conv = best(lambda: cli("convert", p, out, "--overwrite"), reps=2)
    rows.append((name, n, t_info, None, t_ref, None, t_conv))
t_tif = best(lambda: cli("convert", os.path.join(tmp, "f32.npy"), os.path.join(tmp, "out.tif"), "--overwrite"), reps=2)
t_tif_ref = best(lambda: tifffile.imwrite(os.path.join(tmp, "ref.tif"), np.load(os.path.join(tmp, "f32.npy"))), reps=2)

print(f"{frames} frames {w}x{h} (PNG series: 200 frames); best of 3; wall s / CPU s (user+sys)")
print("| input | frames | atomtrack info | frames/s (CPU) | Python reference read+stats | frames/s (CPU) | atomtrack convert → .npy |")
print("| --- | --- | --- | --- | --- | --- | --- |")
f = lambda t: f"{t[0]:.2f} / {t[1]:.2f}"
for r in rows:
    print(f"| {r[0]} | {r[1]} | {f(r[2])} | {r[1] / r[2][1]:.0f} | {f(r[4])} | {r[1] / r[4][1]:.0f} | {f(r[6])} |")
print(f"write float32 TIFF stack ({frames} frames): atomtrack convert npy→tif {f(t_tif)}; tifffile.imwrite {f(t_tif_ref)}")
subprocess.run(["rm", "-rf", tmp])
