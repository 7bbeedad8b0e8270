#!/usr/bin/env python3
"""Regenerates the small third-party reference files in Tests/MicroscopyIOTests/Fixtures.

Written with numpy (NPY), tifffile (TIFF) and Pillow (PNG), so the Swift readers are
checked against independent writers. Pixel values follow value(k, y, x) below; the Swift
tests recompute the same formula.  Run: /work/venv/bin/python scripts/io_fixtures.py
"""
import pathlib
import numpy as np
import tifffile
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/MicroscopyIOTests/Fixtures"
OUT.mkdir(parents=True, exist_ok=True)


def value(shape, dtype):
    k, y, x = np.indices(shape)
    base = ((k * 35 + y * 7 + x) * 3) % 200
    dt = np.dtype(dtype)
    if dt.kind == "u":
        return base.astype(dtype)
    if dt.kind == "i":
        return (base - 100).astype(dtype)
    return (base * 0.25 - 10).astype(dtype)


def main():
    shape = (2, 5, 7)
    # NPY: every dtype, both byte orders, a 2-D array, format version 2.0, bad inputs.
    for d in ["|u1", "|i1", "<u2", ">u2", "<i2", ">i2", "<u4", ">u4", "<i4", ">i4", "<f4", ">f4", "<f8", ">f8"]:
        name = "np_" + {"|": "", "<": "le_", ">": "be_"}[d[0]] + d[1:] + ".npy"
        np.save(OUT / name, value(shape, d))
    np.save(OUT / "np_2d_f4.npy", value((1, 5, 7), "<f4")[0])
    with open(OUT / "np_v2_f4.npy", "wb") as f:
        np.lib.format.write_array(f, value(shape, "<f4"), version=(2, 0))
    np.save(OUT / "np_fortran.npy", np.asfortranarray(value((1, 5, 7), "<f4")[0]))
    np.save(OUT / "np_c8.npy", value((1, 5, 7), "<f4")[0].astype(np.complex64))
    np.save(OUT / "np_1d.npy", np.arange(9, dtype=np.float32))

    # TIFF: every dtype as a 2-page strip stack, a tiled, a BigTIFF, a deflate, an ImageJ file.
    for d in ["u1", "i1", "u2", "i2", "u4", "i4", "f4", "f8"]:
        tifffile.imwrite(OUT / f"tf_{d}.tif", value(shape, d))
    tifffile.imwrite(OUT / "tf_i2_tiled.tif", value((2, 20, 24), "i2"), tile=(16, 16))
    tifffile.imwrite(OUT / "tf_f4_bigtiff.tif", value(shape, "f4"), bigtiff=True)
    tifffile.imwrite(OUT / "tf_u2_deflate.tif", value(shape, "u2"), compression="zlib")
    tifffile.imwrite(OUT / "tf_imagej_nm.tif", value(shape, "f4"), imagej=True,
                     resolution=(1 / 0.05, 1 / 0.05), metadata={"unit": "nm"})
    tifffile.imwrite(OUT / "tf_rgb.tif", value((5, 7, 3), "u1"), photometric="rgb")
    tifffile.imwrite(OUT / "tf_f2.tif", value((1, 5, 7), "f2")[0])
    with tifffile.TiffWriter(OUT / "tf_mixed.tif") as w:
        w.write(value((1, 5, 7), "u1")[0])
        w.write(value((1, 6, 7), "u1")[0])

    # PNG via Pillow: 8-bit gray, 16-bit gray, 8-bit RGB.
    Image.fromarray(value((1, 5, 7), "u1")[0], mode="L").save(OUT / "pil_gray8.png")
    Image.fromarray((value((1, 5, 7), "u2")[0] * 300).astype(np.uint16)).save(OUT / "pil_gray16.png")
    rgb = np.stack([value((1, 5, 7), "u1")[0], 255 - value((1, 5, 7), "u1")[0],
                    np.full((5, 7), 17, np.uint8)], axis=-1)
    Image.fromarray(rgb, mode="RGB").save(OUT / "pil_rgb.png")


def dm_reference():
    """What ncempy reads from the third-party DM files: shape, dtype, calibration and
    per-frame checksums, so the Swift reader's pixels are checked, not just its header."""
    import json
    from ncempy.io import dm
    src = OUT.parent.parent.parent.parent / "shared/fixtures/dm"
    ref = {}
    for name in ["dmTest_3D_int16_64,65,66.dm3", "dmTest_3D_int16_64,65,66.dm4",
                 "dmTest_float32_nonSquare_diffPixelSize.dm3", "dmTest_float32_nonSquare_diffPixelSize.dm4"]:
        with dm.fileDM(str(src / name)) as f:
            ds = f.getDataset(0)
        a = np.asarray(ds["data"])
        frames = a if a.ndim == 3 else a[None]
        ref[name] = {
            "shape": list(a.shape), "dtype": str(a.dtype),
            "pixelSize": [float(v) for v in ds["pixelSize"]], "pixelUnit": list(ds["pixelUnit"]),
            "frameSums": [float(fr.astype(np.float64).sum()) for fr in frames],
            # sum of v * x and v * y per frame: catches transposed or shifted pixels.
            "frameMoments": [[float((fr * np.arange(fr.shape[1])[None, :]).sum()),
                              float((fr * np.arange(fr.shape[0])[:, None]).sum())]
                             for fr in frames.astype(np.float64)],
            "samples": [[k, y, x, float(frames[k, y, x])] for k in (0, len(frames) - 1)
                        for (y, x) in ((0, 0), (3, 5), (frames.shape[1] - 1, frames.shape[2] - 1))],
        }
    (OUT / "dm_reference.json").write_text(json.dumps(ref, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
    dm_reference()
