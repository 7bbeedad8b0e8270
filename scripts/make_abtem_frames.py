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
--prism F computes the movie with abTEM's PRISM S-matrix at interpolation F instead of one multislice per
probe position (a 128×138 px frame: ~30 s at F = 4); --check-prism F… computes one --cells frame both ways
and writes the difference in shot-noise σ to OUT/prism_check.json (docs/ACCURACY.md, fine-tuning section).

  /work/venv/bin/python scripts/make_abtem_frames.py --movie 5 --cells 8 --prism 4 --out /tmp/abtem-movie
  /work/venv/bin/python scripts/make_abtem_frames.py --check-prism 2 4 --cells 8 --out /tmp/abtem-check
"""
import argparse, json, math, os, time
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


def haadf(atoms, defocus, cs, pixel, prism=0):
    """Noiseless HAADF image (rows = y) of `atoms` and its potential: full multislice, one probe per scan
    position, or with `prism` = f > 0 abTEM's PRISM S-matrix with interpolation factor f (plane waves at
    f× the reciprocal spacing, probe window extent / f), far cheaper on large frames."""
    # ≤ 0.08 Å, grid points a multiple of 4 so that PRISM interpolation 1, 2 or 4 divides them (normalization kept).
    gpts = [4 * math.ceil(e / 0.08 / 4) for e in np.diag(atoms.cell)[:2]]
    potential = abtem.Potential(atoms, gpts=gpts, parametrization="lobato", slice_thickness=2, projection="infinite")
    scan = abtem.GridScan(start=(0, 0), end=potential.extent[:2], sampling=pixel, potential=potential)
    detector = abtem.AnnularDetector(inner=80, outer=170)
    if prism:
        s_matrix = abtem.SMatrix(potential=potential, energy=80e3, semiangle_cutoff=30, interpolation=prism)
        ctf = abtem.CTF(semiangle_cutoff=30, energy=80e3, aberration_coefficients=dict(C10=-defocus, C30=cs))
        image = s_matrix.scan(scan=scan, detectors=detector, ctf=ctf).compute()
    else:
        probe = abtem.Probe(energy=80e3, semiangle_cutoff=30, defocus=defocus, Cs=cs)
        image = probe.scan(potential, scan=scan, detectors=detector).compute()
    return np.asarray(image.array, dtype=np.float64).T, potential


def check_prism(out, cells, dose, factors, seed=31, pixel=0.2, defocus=0.0, cs=-2e4):
    """One small frame both ways: full multislice and PRISM at each interpolation factor, the difference in
    units of the frame's shot noise at `dose` (sqrt of the expected counts per pixel), written to OUT/prism_check.json."""
    rng = np.random.default_rng(seed)
    atoms = structure("ws2", cells, rng, rows=round(1.15 * cells / 3 ** 0.5))
    runs = {}
    for f in [0] + factors:
        t = time.time()
        clean, potential = haadf(atoms, defocus, cs, pixel, f)
        runs[f] = (clean, time.time() - t)
        print(f"{'multislice' if f == 0 else f'PRISM f={f}'}: {clean.shape[1]}×{clean.shape[0]} px, {runs[f][1]:.0f} s", flush=True)
    ref = runs[0][0]
    counts = dose * (potential.extent[0] / ref.shape[1]) * (potential.extent[1] / ref.shape[0])
    sigma = np.sqrt(np.clip(ref, 1e-12, None) * counts) / counts   # shot noise per pixel, in beam fraction
    report = dict(cells=cells, shape=list(ref.shape), dose_e_per_A2=dose, multislice_seconds=round(runs[0][1], 1), prism={})
    for f in factors:
        z = (runs[f][0] - ref) / sigma
        report["prism"][f] = dict(seconds=round(runs[f][1], 1), rms_diff_sigma=float(np.sqrt(np.mean(z ** 2))),
                                  max_diff_sigma=float(np.abs(z).max()), mean_ratio=float(runs[f][0].mean() / ref.mean()))
    json.dump(report, open(os.path.join(out, "prism_check.json"), "w"), indent=1)
    print(json.dumps(report, indent=1))


def movie(out, frames, cells, dose, seed=31, pixel=0.2, defocus=0.0, cs=-2e4, prism=0, source=0.0):
    """A WS2 movie of `frames` independent multislice frames with shot noise, as a simulator folder.

    Resumable: each finished frame is kept as OUT/frames/NNN.npy (noisy image) + NNN.csv (truth rows) + NNN.json
    (pixel size, seconds) and not computed again; the movie is assembled from them at the end. `source` > 0:
    a Gaussian source of that FWHM (Å), which blurs the noiseless intensity (incoherent) before the shot noise.
    Truth rows are columns: the atoms of one column (an S2 pair), displaced independently, at their mean."""
    from scipy.ndimage import gaussian_filter
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
        column = [(a.symbol == "S", round(a.position[0], 2), round(a.position[1], 2)) for a in atoms]
        atoms.positions[:, :2] += rng.normal(0, 0.05, (len(atoms), 2))
        clean, potential = haadf(atoms, defocus, cs, pixel, prism)
        px = (potential.extent[0] / clean.shape[1], potential.extent[1] / clean.shape[0])
        if source:
            sigma = source / (8 * math.log(2)) ** 0.5
            clean = gaussian_filter(clean, sigma=(sigma / px[1], sigma / px[0]), mode="wrap")   # periodic cell
        np.save(name + ".npy", rng.poisson(np.clip(clean, 0, None) * dose * px[0] * px[1]).astype(np.float32))
        members = {}
        for key, a in zip(column, atoms):
            members.setdefault(key, []).append(a)
        open(name + ".csv", "w").write("".join(
            f"{f},{np.mean([a.position[0] for a in c]) / px[0]:.3f},{np.mean([a.position[1] for a in c]) / px[1]:.3f},{c[0].symbol},-1\n"
            for c in members.values()))
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
                pixel_size_A=pixel_size, energy_eV=80e3, semiangle_mrad=30, defocus_A=defocus, Cs_A=cs, source_fwhm_A=source,
                detector_mrad=[80, 170], potential_sampling_A=0.08, slice_thickness_A=2,
                algorithm=f"PRISM, interpolation {prism}" if prism else "multislice",
                seconds=round(sum(p["seconds"] for p in parts), 1),
                note="each frame its own structure (seed + frame); truth: one row per column (mean of its atoms); detector outer angle 170 mrad (the 0.08 Å potential's limit)")
    json.dump(meta, open(os.path.join(out, "movie.json"), "w"), indent=1)
    print(f"movie: {frames} frames in {out} ({time.time() - t0:.0f} s this run)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--only", action="append", choices=sorted(VARIANTS))
    p.add_argument("--cells", type=int, default=6, help="orthogonal cells along x (keep small: CPU is shared)")
    p.add_argument("--movie", type=int, metavar="N", help="write an N-frame noisy WS2 movie (simulator folder) instead")
    p.add_argument("--dose", type=float, default=1e5, help="e/Å² of the --movie frames")
    p.add_argument("--source-size", type=float, default=0.0, metavar="FWHM", help="--movie: Gaussian source size (Å FWHM) blurring the frames")
    p.add_argument("--prism", type=int, default=0, metavar="F", help="--movie frames by PRISM with interpolation F (0: full multislice)")
    p.add_argument("--check-prism", type=int, nargs="+", metavar="F", help="one --cells frame by multislice and by PRISM at each F; report the difference in shot-noise σ")
    args = p.parse_args()
    if os.path.realpath(args.out).startswith(os.path.realpath(os.path.dirname(os.path.dirname(__file__)))):
        raise SystemExit("make_abtem_frames.py: error: write the frames outside the repository")
    os.makedirs(args.out, exist_ok=True)
    if args.check_prism:
        check_prism(args.out, args.cells, args.dose, args.check_prism)
        raise SystemExit(0)
    if args.movie:
        movie(args.out, args.movie, args.cells, args.dose, prism=args.prism, source=args.source_size)
        raise SystemExit(0)
    for name in args.only or sorted(VARIANTS):
        make(name, args.out, args.cells)
