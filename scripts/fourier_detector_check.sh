#!/usr/bin/env bash
# The Fourier lattice detector frame by frame through the CLI (docs/ACCURACY.md, "Fourier lattice
# analysis"): WS2 movies at 0.15, 0.2 and 0.25 Å/px with the point defects of FourierDetectorTests,
# `atomtrack lattice` on frames 0–2 of each, scored against truth_defects.csv (found within 0.65 a;
# departures with no true defect that near are false; 6/8 px edge margins as in the test).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/atomtrack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for p in 0.15 0.2 0.25; do
  cat > "$work/ws2-$p.json" <<JSON
{"name":"fourier-check","seed":23,"lattice":"WS2","width":256,"height":256,"pixelSize":[$p,$p],
 "microscope":{"voltage":80000,"sourceSize":0.3},
 "defects":[{"kind":"substitution","host":"W","element":"Mo","label":"Mo_W","density":0.3},
  {"kind":"substitution","host":"W","element":"Mo","label":"Mo_W+V_S","density":0.1,"adjacentColumnVacancy":"S"},
  {"kind":"columnVacancy","host":"S","label":"V_S","density":0.3},
  {"kind":"vacancy","host":"S","label":"V_S2","density":0.1,"relaxation":-0.05},
  {"kind":"vacancy","host":"W","label":"V_W","density":0.1}],
 "distortions":{"thermalJitter":0.03,"scanJitter":0.2,"contamination":0.05},
 "movie":{"frames":3,"frameTime":1,"pixelSize":$p,"dose":100000,"host":"W","count":0,
   "states":[{"defect":{"kind":"vacancy","host":"W","label":"V_W"},"hopRate":0}],"transitionMatrix":[[1]],"driftNoise":0.3}}
JSON
  "$bin" simulate --recipe "$work/ws2-$p.json" --out "$work/s$p" --quiet > /dev/null
  for k in 0 1 2; do
    "$bin" lattice "$work/s$p/movie.tif" --frame "$k" --material ws2 --out "$work/l$p-$k" > /dev/null
    python3 - "$work/l$p-$k" "$work/s$p" "$k" <<'PY'
import csv, json, math, sys
lat, sim, frame = sys.argv[1], sys.argv[2], int(sys.argv[3])
est = json.load(open(lat + '/lattice.json'))['pixelSizeEstimateA']
p = json.load(open(sim + '/truth.json'))['pixel_size_A']
dep = [(float(d['x']), float(d['y'])) for d in csv.DictReader(open(lat + '/departures.csv'))]
truth = [(float(r['x']), float(r['y'])) for r in csv.DictReader(open(sim + '/truth_defects.csv'))
         if int(r['frame']) == frame and 6 < float(r['x']) < 249 and 6 < float(r['y']) < 249]
r = 0.65 * 3.182 / p
near = lambda q, pts: any(math.hypot(q[0] - s[0], q[1] - s[1]) < r for s in pts)
found = sum(near(t, dep) for t in truth)
scored = [d for d in dep if 8 < d[0] < 247 and 8 < d[1] < 247]
false = sum(not near(d, truth) for d in scored)
print(f"{p} Å/px frame {frame}: found {found}/{len(truth)}, false {false}/{len(scored)}, pixel size {est:.5f} ({100 * (est / p - 1):+.3f} %)")
PY
  done
done
