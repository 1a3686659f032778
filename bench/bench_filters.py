#!/usr/bin/python3
"""PyTorch side of bench/bench_filters.sh, and the model it times.

  bench_filters.py export PATH            write VGG16's conv base (torchvision
                                          vgg16().features, random weights from
                                          seed 0) as ONNX
  bench_filters.py time LAYER_INDEX FILTERS SIZE ITERATIONS
                                          time the same seed-method iteration
                                          as cnnviz with autograd: forward to
                                          features[LAYER_INDEX], objective
                                          sum_i mean(y[i, k_i]), backward to the
                                          input, RMS normalisation, the 3:3:1
                                          blur/decay/clip step; prints
                                          "iter <k> <seconds>" per iteration
"""
import sys
import time

import torch
import torchvision


def features():
    torch.manual_seed(0)
    return torchvision.models.vgg16().features.eval()


class ConvBase(torch.nn.Module):
    """Holds the conv base as `features`, so ONNX names read features.28."""

    def __init__(self):
        super().__init__()
        self.features = features()

    def forward(self, x):
        return self.features(x)


def export(path):
    net = ConvBase().eval()
    torch.onnx.export(net, torch.zeros(1, 3, 128, 128), path, input_names=["input"], output_names=["features"],
                      dynamic_axes={"input": {0: "batch", 2: "h", 3: "w"}}, opset_version=11)


def step(x, g):
    """The original's iteration on a batch (NCHW), as cnnviz does it."""
    n = x.shape[0]
    g = g / (g.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-5)
    y = x + 0.9 * g
    c = y.shape[1]
    blur = torch.nn.functional.conv2d(torch.nn.functional.pad(y, (1, 1, 1, 1), mode="reflect"),
                                      torch.full((c, 1, 3, 3), 1.0 / 9.0), groups=c)
    a = y.abs().reshape(n, -1)
    thr = torch.quantile(a, 0.01, dim=1, interpolation="linear").reshape(n, 1, 1, 1)
    clip = torch.where(y.abs() < thr, torch.zeros_like(y), y)
    return (3 / 7) * blur + (3 / 7) * 0.8 * y + (1 / 7) * clip - x


def time_it(layer, count, size, iters):
    torch.set_num_threads(int(torch.get_num_threads()))
    net = features()[: layer + 1]
    for p in net.parameters():
        p.requires_grad_(False)
    ks = torch.sort(torch.randperm(512, generator=torch.Generator().manual_seed(0))[:count]).values
    x = torch.rand(count, 3, size, size) * 20 + 128
    for k in range(1, iters + 1):
        t0 = time.perf_counter()
        xr = x.clone().requires_grad_(True)
        y = net(xr)
        obj = y[torch.arange(count), ks].mean(dim=(1, 2)).sum()
        (g,) = torch.autograd.grad(obj, xr)
        with torch.no_grad():
            x = step(x, g)
        print("iter %d %.4f" % (k, time.perf_counter() - t0), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "export":
        export(sys.argv[2])
    else:
        time_it(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
