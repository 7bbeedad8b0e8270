#!/usr/bin/env python3
"""Reference fixtures for Tests/NetworksTests, computed once with PyTorch (CPU, float32).

Run:  /work/venv/bin/python scripts/make_nn_fixtures.py
Writes small safetensors files to Tests/NetworksTests/Fixtures/ (inputs, weights and the
expected outputs); the Swift tests recompute the outputs and compare to 1e-4.

The PyTorch modules below mirror AtomTrack's architectures parameter for parameter
(names follow AtomAI's `Unet`: c1…c3 encoders, bn bottleneck, upsample_blockK, c4…c6
decoders, px head; each conv block is conv → LeakyReLU(0.01) → BatchNorm).
"""
import os
import json
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "NetworksTests", "Fixtures")
torch.manual_seed(1234)
torch.set_num_threads(1)


def conv_block(cin, cout, n, slope=0.01, dilation=1):
    layers = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=dilation, dilation=dilation),
                   nn.LeakyReLU(slope), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers)


class Block(nn.Module):
    def __init__(self, cin, cout, n):
        super().__init__()
        self.block = conv_block(cin, cout, n)

    def forward(self, x):
        return self.block(x)


class Up(nn.Module):
    def __init__(self, cin, cout, mode):
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode=self.mode))


class Dilated(nn.Module):
    """Stages conv(dilation d) → LeakyReLU → BN chained; output = sum of stage outputs."""
    def __init__(self, cin, cout, dilations):
        super().__init__()
        self.stages = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(cin if k == 0 else cout, cout, 3, padding=d, dilation=d),
                           nn.LeakyReLU(0.01), nn.BatchNorm2d(cout)) for k, d in enumerate(dilations)])

    def forward(self, x):
        out = 0
        for s in self.stages:
            x = s(x)
            out = out + x
        return out


class UNet(nn.Module):
    def __init__(self, classes, base, depth=3, layers=None, mode="bilinear", dilated=False):
        super().__init__()
        layers = layers or [1] + [2] * (depth - 1) + [3]
        f = lambda i: base << i
        self.depth = depth
        for i in range(depth):
            setattr(self, f"c{i+1}", Block(1 if i == 0 else f(i - 1), f(i), layers[i]))
        if dilated:
            self.bn = Dilated(f(depth - 1), f(depth), [2, 4, 6])
        else:
            self.bn = Block(f(depth - 1), f(depth), layers[depth])
        for j, level in enumerate(reversed(range(depth))):
            setattr(self, f"upsample_block{j+1}", Up(f(level + 1), f(level), mode))
            setattr(self, f"c{depth+j+1}", Block(f(level + 1), f(level), layers[level]))
        self.px = nn.Conv2d(f(0), classes, 1)

    def forward(self, x):
        skips = []
        for i in range(self.depth):
            x = getattr(self, f"c{i+1}")(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bn(x)
        for j in range(self.depth):
            x = getattr(self, f"upsample_block{j+1}")(x)
            x = torch.cat([skips.pop(), x], dim=1)
            x = getattr(self, f"c{self.depth+j+1}")(x)
        return self.px(x)


def randomize_bn(model):
    """Non-trivial BN parameters and running statistics so eval mode is really tested."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)


def save(name, tensors, meta=None):
    from safetensors.torch import save_file  # imported here so bench_vs_pytorch.py needs only torch
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name), metadata=meta)
    print(name, sum(v.numel() for v in tensors.values()), "values")


def main():
    os.makedirs(OUT, exist_ok=True)

    # Convolution, dilation 2, odd sizes, batch 2; and a 1×1 one.
    x = torch.randn(2, 3, 7, 6)
    w = torch.randn(4, 3, 3, 3) * 0.5
    b = torch.randn(4)
    w1 = torch.randn(5, 3, 1, 1)
    b1 = torch.randn(5)
    save("conv.safetensors", {"x": x, "w": w, "b": b, "y": F.conv2d(x, w, b, padding=2, dilation=2),
                              "w1": w1, "b1": b1, "y1": F.conv2d(x, w1, b1)})

    # Batch norm: training output, updated running stats, eval output.
    bn = nn.BatchNorm2d(3)
    randomize_bn(bn)
    xb = torch.randn(2, 3, 5, 4) * 2 + 1
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    bn.eval()
    y_eval = bn(xb)
    bn.train()
    y_train = bn(xb)
    save("batchnorm.safetensors", {"x": xb, "gamma": bn.weight, "beta": bn.bias, "running_mean0": rm0,
                                   "running_var0": rv0, "y_train": y_train, "y_eval": y_eval,
                                   "running_mean1": bn.running_mean, "running_var1": bn.running_var})

    # Upsampling and losses.
    xu = torch.randn(1, 2, 3, 5)
    logits = torch.randn(2, 3, 4, 5)
    labels = torch.randint(0, 3, (2, 4, 5))
    cw = torch.tensor([0.2, 1.0, 3.0])
    save("ops.safetensors", {
        "xu": xu, "bilinear": F.interpolate(xu, scale_factor=2, mode="bilinear"),
        "nearest": F.interpolate(xu, scale_factor=2, mode="nearest"),
        "logits": logits, "labels": labels.to(torch.int64),
        "ce": F.cross_entropy(logits, labels).reshape(1),
        "ce_weighted": F.cross_entropy(logits, labels, weight=cw).reshape(1), "class_weights": cw})

    # Optimizers: three steps from fixed gradients.
    p0 = torch.randn(6)
    grads = torch.randn(3, 6)
    out = {"p0": p0, "grads": grads}
    for name, make in [("adam", lambda p: torch.optim.Adam([p], lr=0.01, weight_decay=0.1)),
                       ("adamw", lambda p: torch.optim.AdamW([p], lr=0.01, weight_decay=0.1)),
                       ("sgd", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01))]:
        p = nn.Parameter(p0.clone())
        opt = make(p)
        for g in grads:
            opt.zero_grad()
            p.grad = g.clone()
            opt.step()
        out[name] = p.detach().clone()
    save("optimizers.safetensors", out)

    # Whole networks: U-Net (4 base filters, depth 3, 3 classes) and the dilated variant on 1×1×16×16.
    for name, dilated in [("unet", False), ("dilated_unet", True)]:
        net = UNet(classes=3, base=4, dilated=dilated)
        randomize_bn(net)
        xi = torch.randn(2, 1, 16, 16)
        net.eval()
        y_eval = net(xi)
        tensors = {k: v.clone() for k, v in net.state_dict().items()}
        net.train()
        y_train = net(xi)
        # Gradients of the mean cross-entropy (train mode) for every parameter.
        labels = torch.randint(0, 3, (2, 16, 16))
        net.zero_grad()
        F.cross_entropy(y_train, labels).backward()
        grads = {f"grad.{k}": p.grad for k, p in net.named_parameters()}
        tensors.update({"input": xi, "logits_eval": y_eval, "logits_train": y_train, "labels": labels, **grads})
        save(f"{name}.safetensors", tensors,
             {"note": "weights under AtomAI-style names; input/logits_* are the test data"})


if __name__ == "__main__":
    main()
