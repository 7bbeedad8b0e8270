"""Writes small valid seed files for one fuzz target: python3 seeds.py TARGET DIR.

Uses numpy / tifffile / Pillow / safetensors when importable (/work/venv), otherwise writes
what it can by hand (NPY, safetensors and an uncompressed 8-bit PNG need only the stdlib)."""
import json, os, struct, sys, zlib

target, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
try:
    import numpy as np
except ImportError:
    np = None


def npy_bytes(descr, shape, payload, fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", "(" + "".join(f"{s}, " for s in shape).rstrip(" ") + ")")
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def png_gray8(w, h):
    raw = b"".join(b"\x00" + bytes((x * 31 + y * 7) & 255 for x in range(w)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


if target == "npy":
    write("u1_2d.npy", npy_bytes("|u1", (4, 5), bytes(range(20))))
    write("f4_3d.npy", npy_bytes("<f4", (2, 3, 4), struct.pack("<24f", *[i * 0.5 for i in range(24)])))
    write("be_i2.npy", npy_bytes(">i2", (3, 3), struct.pack(">9h", *range(-4, 5))))
    write("f8_fortran.npy", npy_bytes("<f8", (2, 3), struct.pack("<6d", *range(6)), fortran=True))
elif target == "png":
    write("gray8.png", png_gray8(7, 5))
    try:
        from PIL import Image
        a = np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000
        Image.fromarray(a).save(os.path.join(out, "gray16.png"))
        Image.fromarray((np.arange(60, dtype=np.uint8).reshape(4, 5, 3))).save(os.path.join(out, "rgb.png"))
    except Exception as e:
        print("seeds.py: Pillow seeds skipped:", e)
elif target == "tiff":
    try:
        import tifffile
        tifffile.imwrite(os.path.join(out, "u8.tif"), np.arange(30, dtype=np.uint8).reshape(5, 6))
        tifffile.imwrite(os.path.join(out, "f4_stack.tif"), np.arange(48, dtype=np.float32).reshape(3, 4, 4))
        tifffile.imwrite(os.path.join(out, "u16_deflate.tif"), np.arange(64, dtype=np.uint16).reshape(8, 8),
                         compression="zlib")
        tifffile.imwrite(os.path.join(out, "i16_tiled.tif"), np.arange(-128, 128, dtype=np.int16).reshape(16, 16),
                         tile=(16, 16))
        tifffile.imwrite(os.path.join(out, "big.tif"), np.ones((3, 3), np.float64), bigtiff=True)
    except Exception as e:
        print("seeds.py: tifffile seeds skipped (test fixtures still used):", e)
elif target == "safetensors":
    def st(tensors, meta=None):
        header, body = {}, b""
        for name, (shape, values) in tensors.items():
            raw = struct.pack("<%df" % len(values), *values)
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(body), len(body) + len(raw)]}
            body += raw
        if meta:
            header["__metadata__"] = meta
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        return struct.pack("<Q", len(h)) + h + body
    write("two.safetensors", st({"conv.weight": ([2, 1, 3, 3], [i / 10 for i in range(18)]),
                                 "conv.bias": ([2], [0.5, -0.5])}, {"arch": "unet", "seed": "7"}))
    write("scalar.safetensors", st({"s": ([], [3.0])}))
    write("empty.safetensors", st({}))
# dm3/dm4: no writer here; run.sh copies real DM files (DM_SEEDS) into the seed folder.
