#!/usr/bin/env python3
"""Independent multislice WS2 frames (abTEM) for the fine-tuning study (docs/ACCURACY.md).

Writes NAME.npy (noiseless fraction of the beam on the 80-200 mrad detector), NAME_truth.csv
(x,y,class,z per atom, pixels, origin at the top-left pixel's centre) and NAME.json (pixel_size_A),
the layout of ../shared/validation, so `atomtrack evaluate --truth DIR` reads it.
Same microscope as ../shared/validation/ws2-0 (80 kV, 30 mrad, Cs = -2 um, Lobato) but another
structure and defects (seed). Needs `pip install abtem` (PyPI) in /work/venv; AtomTrack never does.
usage: finetune_multislice.py OUTDIR NAME SEED [NX NY]
"""
import json, sys, time
import numpy as np
import abtem
from ase.build import mx2

out, name, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
nx, ny = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (8, 5)
rng = np.random.default_rng(seed)
t0 = time.time()
cell = abtem.orthogonalize_cell(mx2(formula="WS2", kind="2H", a=3.18, thickness=3.19, vacuum=2.0))
atoms = cell * (nx, ny, 1)
atoms.center(vacuum=2.0, axis=2)
sym = np.array(atoms.get_chemical_symbols(), dtype=object)
pos = atoms.get_positions()
w = np.flatnonzero(sym == "W")
s = np.flatnonzero(sym == "S")
# Point defects: Mo on 8 % of W sites, one S missing from 8 % of S columns, one W vacancy.
for i in rng.choice(w, size=max(1, int(0.08 * len(w))), replace=False):
    sym[i] = "Mo"
remove = list(rng.choice(s, size=max(1, int(0.08 * len(s))), replace=False))
remove.append(int(rng.choice(np.flatnonzero(sym == "W"))))
keep = np.setdiff1d(np.arange(len(atoms)), remove)
atoms.set_chemical_symbols(list(sym))
atoms = atoms[keep]
# 0.08 Å potential sampling and 2 Å slices keep a frame to ~0.2 s per probe position on 2 cores;
# at 0.08 Å the simulated angles reach ~174 mrad, so the 80–200 mrad detector integrates 80–174.
potential = abtem.Potential(atoms, sampling=0.08, parametrization="lobato", projection="infinite", slice_thickness=2.0)
probe = abtem.Probe(energy=80e3, semiangle_cutoff=30, Cs=-20000, defocus=0)
scan = abtem.GridScan(start=(0, 0), end=(1, 1), fractional=True, potential=potential, sampling=0.25, endpoint=False)
detector = abtem.AnnularDetector(inner=80, outer=200)
image = probe.scan(potential, scan=scan, detectors=detector).compute(scheduler="threads", num_workers=2)
arr = np.asarray(image.array, dtype=np.float32).T  # abTEM is (x, y): rows must be y
sx, sy = scan.sampling
np.save(f"{out}/{name}.npy", arr)
with open(f"{out}/{name}_truth.csv", "w") as f:
    f.write("x,y,class,z\n")
    for a in atoms:
        f.write(f"{a.position[0] / sx:.4f},{a.position[1] / sy:.4f},{a.symbol},{a.number}\n")
json.dump({"material": "ws2", "seed": seed, "pixel_size_A": float((sx + sy) / 2), "pixel_size_xy_A": [float(sx), float(sy)],
           "energy_eV": 80e3, "semiangle_mrad": 30, "Cs_A": -20000, "detector_mrad": [80, 200],
           "shape": list(arr.shape), "seconds": time.time() - t0}, open(f"{out}/{name}.json", "w"), indent=1)
print(f"{name}: {arr.shape} px at {sx:.4f}x{sy:.4f} A/px, {len(atoms)} atoms, {time.time() - t0:.0f} s")
