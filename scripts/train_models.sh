#!/usr/bin/env bash
# Retrains the shipped models from their recipes (seeded: same recipe + seed → same training data).
# The committed models were trained exactly like this on a 16-core machine (both at once,
# --threads 8 each, about 9.5 minutes); on a 2-core machine expect about 3 s per step,
# i.e. roughly 40 minutes per model (run them one after the other with --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/atomtrack
[ -x "$bin" ] || swift build -c release --product atomtrack
threads=${THREADS:-$(nproc)}
for name in graphene-si tmd-ws2; do
  "$bin" train --recipe "TrainingData/$name.json" --out "Models/$name" --overwrite \
    --steps 720 --batch-size 12 --tile 128 --validate-every 100 --validation-frames 24 --patience 100 \
    --threads "$threads"
  # The checkpoint (weights + optimizer state) is for --resume only; the shipped files are
  # model.safetensors and model.json.
  rm -f "Models/$name/checkpoint.safetensors"
done
