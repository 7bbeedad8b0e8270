#!/usr/bin/env bash
# Makes docs/simulated-frames.png: a simulated graphene+Si frame and a WS2 frame at 10^4 and
# 10^6 e/Å² (first frame of the movie recipes). Needs the release binary and a Python with
# numpy, tifffile and Pillow (e.g. PY=/work/venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for m in graphene-si ws2; do for d in 10000 1000000; do
  .build/release/atomtrack simulate --recipe "TrainingData/movie-$m.json" --out "$tmp/$m-$d" --frames 1 --dose "$d" --quiet > /dev/null
done; done
"$PY" - "$tmp" <<'PYEOF'
import sys, numpy as np, tifffile
from PIL import Image, ImageDraw
tmp = sys.argv[1]
rows = []
for m in ["graphene-si", "ws2"]:
    tiles = []
    for d in [10000, 1000000]:
        a = tifffile.imread(f"{tmp}/{m}-{d}/movie.tif").astype(float)
        a = a[0] if a.ndim == 3 else a
        lo, hi = np.percentile(a, 1), np.percentile(a, 99.9)
        im = Image.fromarray((np.clip((a - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)).resize((384, 384), Image.NEAREST).convert("RGB")
        draw = ImageDraw.Draw(im)
        draw.rectangle([0, 0, 250, 18], fill=(0, 0, 0))
        draw.text((4, 3), f"{m}  dose {d:.0e} e/A^2  0.2 A/px", fill=(255, 255, 0))
        tiles.append(np.array(im))
    rows.append(np.concatenate([tiles[0], np.full((384, 8, 3), 255, np.uint8), tiles[1]], 1))
out = np.concatenate([rows[0], np.full((8, rows[0].shape[1], 3), 255, np.uint8), rows[1]], 0)
Image.fromarray(out).save("docs/simulated-frames.png", optimize=True)
PYEOF
echo "wrote docs/simulated-frames.png"
