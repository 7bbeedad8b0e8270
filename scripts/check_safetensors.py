#!/usr/bin/env python3
"""Checks that a checkpoint written by AtomTrack loads with the Python `safetensors` package
and into the equivalent PyTorch U-Net.

Make one:  atomtrack bench kernels --size 64 --batch 2 --repeats 1 --network-only --save-checkpoint /tmp/unet.safetensors
Run:       /work/venv/bin/python scripts/check_safetensors.py /tmp/unet.safetensors
Exits non-zero with a message if anything does not match.
"""
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
from make_nn_fixtures import UNet  # noqa: E402


def main(path):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    desc = json.loads(meta["atomtrack.model"])
    tensors = load_file(path)
    model_keys = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    optim_keys = {k: v for k, v in tensors.items() if k.startswith("optimizer.")}
    net = UNet(classes=len(desc["classNames"]), base=desc["baseFilters"], depth=desc["depth"],
               layers=desc.get("layersPerLevel"), mode=desc["upsampling"],
               dilated=desc["architecture"] == "dilatedUNet")
    missing, unexpected = net.load_state_dict(model_keys, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"FAIL: missing {missing[:5]}, unexpected {unexpected[:5]}")
    params = dict(net.named_parameters())
    for k, v in optim_keys.items():
        name = k[len("optimizer.m."):]
        if name not in params or params[name].shape != v.shape:
            sys.exit(f"FAIL: optimizer tensor {k} does not match a parameter")
    net.eval()
    with torch.no_grad():
        y = net(torch.randn(1, desc["inputChannels"], 64, 64))
    if not torch.isfinite(y).all():
        sys.exit("FAIL: non-finite output")
    print(f"OK: {len(model_keys)} model tensors loaded into the PyTorch U-Net (strict apart from "
          f"num_batches_tracked), {len(optim_keys)} optimizer tensors match parameters, "
          f"classes {desc['classNames']}, optimizer {meta.get('atomtrack.optimizer', 'none')[:80]}")


if __name__ == "__main__":
    main(sys.argv[1])
