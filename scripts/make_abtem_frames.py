#!/usr/bin/env python3
"""Extra multislice validation frames with abTEM (issue 18, item 7), written OUTSIDE the repo.

Each frame is a HAADF-STEM image of graphene (60 kV) or WS2 (80 kV) computed by full multislice
(abTEM, Lobato potentials), in the layout of ../shared/validation, so that
`atomtrack evaluate --model Models/<m> --truth OUTDIR --dose 10000 100000 1000000` scores them:
  NAME.npy (float32, rows = y; noiseless fraction of the beam on the detector),
  NAME_truth.csv (x,y,class,z in pixels, origin at the centre of the top-left pixel),
  NAME.json (pixel size, voltage, probe, detector, seed).
Variations: defocus, Cs, pixel size, vacancies, dopants (Mo in WS2, Si in graphene), tilt.
Never train on these frames.

  /work/venv/bin/python scripts/make_abtem_frames.py --out /work/validation-extra [--only NAME] [--cells N]

With --movie N it writes instead a small WS2 movie for the fine-tuning study (issue 23): N frames of
one microscope, each its own structure (dopants, S vacancies, 0.05 Å random displacements drawn from
seed + frame), with shot noise at --dose, as a simulator folder (movie.tif, truth_atoms.csv
`frame,x,y,class,defect_id`, movie.json), so that `atomtrack finetune` tunes on frame 0 and
`atomtrack evaluate --truth` scores the later ones (scripts/finetune_study.sh, ABTEM=DIR).

  /work/venv/bin/python scripts/make_abtem_frames.py --movie 4 --out /tmp/abtem-movie [--cells 6]

An interrupted --movie run continues where it stopped (finished frames are kept in OUT/frames/).
"""
import argparse, json, os, time
import numpy as np
import abtem
from ase.build import graphene, mx2

# name: material, defocus Å, Cs Å, pixel size Å, tilt mrad, seed
VARIANTS = {
    "ws2-df20":        ("ws2", 20.0, -2e4, 0.25, 0.0, 11),
    "ws2-cs0-px20":    ("ws2", 0.0, 0.0, 0.20, 0.0, 12),
    "ws2-tilt5":       ("ws2", 0.0, -2e4, 0.25, 5.0, 13),
    "graphene-df-30":  ("graphene", -30.0, -2e4, 0.25, 0.0, 21),
    "graphene-px20":   ("graphene", 0.0, -2e4, 0.20, 0.0, 22),
    "graphene-tilt5":  ("graphene", 0.0, -2e4, 0.25, 5.0, 23),
}


def structure(material, cells, rng, rows=None):
    """Orthogonal periodic cell (`cells` × `rows` orthogonal cells) with vacancies and dopants placed by `rng`."""
    rows = rows or round(cells / 3 ** 0.5)
    if material == "ws2":
        atoms = mx2("WS2", kind="2H", a=3.18, thickness=3.14, vacuum=2.0)
        atoms = abtem.orthogonalize_cell(atoms) * (cells, rows, 1)
        metal = [a.index for a in atoms if a.symbol == "W"]
        for i in rng.choice(metal, size=max(1, len(metal) // 30), replace=False):
            atoms[i].symbol = "Mo"
        sulfur = [a.index for a in atoms if a.symbol == "S"]
        drop = rng.choice(sulfur, size=max(1, len(sulfur) // 40), replace=False)
    else:
        atoms = graphene(a=2.46, vacuum=2.0)
        atoms = abtem.orthogonalize_cell(atoms) * (cells, rows, 1)
        carbon = [a.index for a in atoms]
        picks = rng.choice(carbon, size=max(2, len(carbon) // 50), replace=False)
        for i in picks[1:]:
            atoms[i].symbol = "Si"
        drop = picks[:1]
    del atoms[sorted(int(i) for i in drop)]
    atoms.center(axis=2)
    return atoms


def make(name, out, cells):
    material, defocus, cs, pixel, tilt, seed = VARIANTS[name]
    rng = np.random.default_rng(seed)
    atoms = structure(material, cells, rng)
    energy = 80e3 if material == "ws2" else 60e3
    t0 = time.time()
    potential = abtem.Potential(atoms, sampling=0.05, parametrization="lobato", slice_thickness=1, projection="infinite")
    probe = abtem.Probe(energy=energy, semiangle_cutoff=30, defocus=defocus, Cs=cs, tilt=(tilt, 0.0))
    scan = abtem.GridScan(start=(0, 0), end=potential.extent[:2], sampling=pixel, potential=potential)
    detector = abtem.AnnularDetector(inner=80, outer=200)
    image = probe.scan(potential, scan=scan, detectors=detector).compute()
    array = np.asarray(image.array, dtype=np.float32).T   # abTEM: [x, y] → rows = y
    px = (potential.extent[0] / array.shape[1], potential.extent[1] / array.shape[0])
    np.save(os.path.join(out, name + ".npy"), array)
    with open(os.path.join(out, name + "_truth.csv"), "w") as f:
        f.write("x,y,class,z\n")
        for a in atoms:
            f.write(f"{a.position[0] / px[0]:.3f},{a.position[1] / px[1]:.3f},{a.symbol},{a.number}\n")
    meta = dict(material=material, seed=seed, pixel_size_A=float(np.mean(px)), pixel_size_xy_A=list(px),
                energy_eV=energy, semiangle_mrad=30, defocus_A=defocus, Cs_A=cs, tilt_mrad=[tilt, 0.0],
                detector_mrad=[80, 200], shape=list(array.shape), abtem=abtem.__version__,
                origin="centre of top-left pixel; x = column, y = row", seconds=round(time.time() - t0, 1),
                note="periodic cell; columns of two S atoms appear twice in truth (one row per atom)")
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{name}: {array.shape[1]}×{array.shape[0]} px at {np.mean(px):.4f} Å, {len(atoms)} atoms, {meta['seconds']} s")


def movie(out, frames, cells, dose, seed=31, pixel=0.2, defocus=0.0, cs=-2e4):
    """A WS2 movie of `frames` independent multislice frames with shot noise, as a simulator folder.

    Resumable: each finished frame is kept as OUT/frames/NNN.npy (noisy image) + NNN.csv (truth rows) + NNN.json
    (pixel size, seconds) and not computed again; the movie is assembled from them at the end."""
    import tifffile
    cache = os.path.join(out, "frames")
    os.makedirs(cache, exist_ok=True)
    t0 = time.time()
    for f in range(frames):
        name = os.path.join(cache, f"{f:03d}")
        if os.path.exists(name + ".json"):
            continue
        t = time.time()
        rng = np.random.default_rng(seed + f)
        atoms = structure("ws2", cells, rng, rows=round(1.15 * cells / 3 ** 0.5))
        atoms.positions[:, :2] += rng.normal(0, 0.05, (len(atoms), 2))
        potential = abtem.Potential(atoms, sampling=0.08, parametrization="lobato", slice_thickness=2, projection="infinite")
        probe = abtem.Probe(energy=80e3, semiangle_cutoff=30, defocus=defocus, Cs=cs)
        scan = abtem.GridScan(start=(0, 0), end=potential.extent[:2], sampling=pixel, potential=potential)
        image = probe.scan(potential, scan=scan, detectors=abtem.AnnularDetector(inner=80, outer=170)).compute()
        clean = np.asarray(image.array, dtype=np.float64).T
        px = (potential.extent[0] / clean.shape[1], potential.extent[1] / clean.shape[0])
        np.save(name + ".npy", rng.poisson(np.clip(clean, 0, None) * dose * px[0] * px[1]).astype(np.float32))
        open(name + ".csv", "w").write("".join(f"{f},{a.position[0] / px[0]:.3f},{a.position[1] / px[1]:.3f},{a.symbol},-1\n" for a in atoms))
        json.dump(dict(pixel_size_A=float(np.mean(px)), seconds=round(time.time() - t, 1)), open(name + ".json", "w"))
        print(f"frame {f}: {clean.shape[1]}×{clean.shape[0]} px at {np.mean(px):.4f} Å, {len(atoms)} atoms, {time.time() - t:.0f} s", flush=True)
    parts = [json.load(open(os.path.join(cache, f"{f:03d}.json"))) for f in range(frames)]
    stack = np.stack([np.load(os.path.join(cache, f"{f:03d}.npy")) for f in range(frames)])
    truth = "frame,x,y,class,defect_id\n" + "".join(open(os.path.join(cache, f"{f:03d}.csv")).read() for f in range(frames))
    pixel_size = parts[0]["pixel_size_A"]
    # The pixel size as AtomTrack's TIFF writer stores it (ImageDescription JSON), so `evaluate` reads it.
    tifffile.imwrite(os.path.join(out, "movie.tif"), stack, photometric="minisblack", metadata=None,
                     description=json.dumps({"pixel_size_A": pixel_size}))
    open(os.path.join(out, "truth_atoms.csv"), "w").write(truth)
    meta = dict(source="abTEM multislice", abtem=abtem.__version__, lattice="WS2", frames=frames, cells=cells, seed=seed, dose_e_per_A2=dose,
                pixel_size_A=pixel_size, energy_eV=80e3, semiangle_mrad=30, defocus_A=defocus, Cs_A=cs,
                detector_mrad=[80, 170], potential_sampling_A=0.08, slice_thickness_A=2,
                seconds=round(sum(p["seconds"] for p in parts), 1),
                note="each frame its own structure (seed + frame); detector outer angle 170 mrad (the 0.08 Å potential's limit)")
    json.dump(meta, open(os.path.join(out, "movie.json"), "w"), indent=1)
    print(f"movie: {frames} frames in {out} ({time.time() - t0:.0f} s this run)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--only", action="append", choices=sorted(VARIANTS))
    p.add_argument("--cells", type=int, default=6, help="orthogonal cells along x (keep small: CPU is shared)")
    p.add_argument("--movie", type=int, metavar="N", help="write an N-frame noisy WS2 movie (simulator folder) instead")
    p.add_argument("--dose", type=float, default=1e5, help="e/Å² of the --movie frames")
    args = p.parse_args()
    if os.path.realpath(args.out).startswith(os.path.realpath(os.path.dirname(os.path.dirname(__file__)))):
        raise SystemExit("make_abtem_frames.py: error: write the frames outside the repository")
    os.makedirs(args.out, exist_ok=True)
    if args.movie:
        movie(args.out, args.movie, args.cells, args.dose)
        raise SystemExit(0)
    for name in args.only or sorted(VARIANTS):
        make(name, args.out, args.cells)
