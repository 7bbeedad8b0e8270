"""Rewrite a simulated movie (atomtrack simulate → movie.tif) in the layouts Velox and Nion Swift
write, so `atomtrack analyze` can be run on an atomic Velox EMD and Nion movie and compared with
the TIFF's analysis (the real instrument fixtures in ../shared/fixtures/formats are not atomic).

    /work/venv/bin/python scripts/movie_to_instrument_formats.py SIM_DIR OUT_DIR [FRAME_TIME_S]

Writes OUT_DIR/movie.emd (Velox: /Data/Image/<uuid>/Data as (H, W, N) with per-frame JSON
metadata holding BinaryResult.PixelSize in m and Scan.FrameTime) and OUT_DIR/movie.h5 (Nion:
/data (N, H, W) with the properties JSON; sequence axis calibrated in s). Needs numpy, tifffile,
h5py. Test data only: AtomTrack itself never needs Python.
"""
import json
import pathlib
import sys
import uuid

import h5py
import numpy as np
import tifffile

sim, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
frame_time = float(sys.argv[3]) if len(sys.argv) > 3 else json.loads((sim / "movie.json").read_text()).get("frame_time_s", 1.0)
movie = tifffile.imread(sim / "movie.tif").astype(np.float32)
if movie.ndim == 2:
    movie = movie[None]
pixel_A = json.loads((sim / "movie.json").read_text())["pixel_size_A"]
n, h, w = movie.shape
out.mkdir(parents=True, exist_ok=True)

with h5py.File(out / "movie.emd", "w") as f:
    g = f.create_group(f"Data/Image/{uuid.uuid4().hex}")
    g.create_dataset("Data", data=np.moveaxis(movie, 0, -1), chunks=(h, w, 1))
    meta = np.zeros((60000, n), dtype=np.uint8)
    for k in range(n):
        doc = json.dumps({"BinaryResult": {"Detector": "HAADF", "PixelSize": {"width": str(pixel_A * 1e-10), "height": str(pixel_A * 1e-10)},
                                           "PixelUnitX": "m", "PixelUnitY": "m"},
                          "Scan": {"FrameTime": str(frame_time)}}).encode()
        meta[:len(doc), k] = np.frombuffer(doc, dtype=np.uint8)
    g.create_dataset("Metadata", data=meta)
    f.create_dataset("Version", data=np.array([json.dumps({"format": "Velox", "version": "4"}).encode()]))

props = {"is_sequence": True, "collection_dimension_count": 0, "datum_dimension_count": 2,
         "dimensional_calibrations": [{"offset": 0, "scale": frame_time, "units": "s"},
                                      {"offset": 0, "scale": pixel_A / 10, "units": "nm"},
                                      {"offset": 0, "scale": pixel_A / 10, "units": "nm"}],
         "metadata": {"hardware_source": {"exposure": frame_time}}, "version": 13}
with h5py.File(out / "movie.h5", "w") as f:
    d = f.create_dataset("data", data=movie)
    d.attrs["properties"] = json.dumps(props)
print(f"wrote {out}/movie.emd and {out}/movie.h5: {n} frames of {w}×{h}, {pixel_A} Å/px, {frame_time} s/frame")
