#!/usr/bin/python3
"""Occlusion map speed: `cnnviz occlusion` vs the usual PyTorch loop, on the
same machine in one run.

For each model (torchvision, random weights: only speed is measured, and
the maps are compared as a check), the script exports ONNX to bench/out/
once, runs `build/cnnviz occlusion` and takes the time it reports for the
map, then runs the Captum-style PyTorch loop on the same 224 x 224 input:
batches of occluded copies, softmax, the target class's probability, with
the batch size cnnviz chose. It prints both times, per position, the ratio
cnnviz / PyTorch (< 1: cnnviz is faster) and the largest difference
between the two maps.

By default the stride gives about 100 positions (occ 40, stride 21: 10 x 10);
--full uses the original's stride 5 (38 x 38 = 1444 positions: minutes).

cnnviz runs once per engine (--engines, default full and auto: auto picks
incremental inference where it saves work); PyTorch once per model. The
engine "approx" is `--approx` (an APPROXIMATE map: Krypton's projective-field
threshold and adaptive drill-down, at the library's defaults or --tau,
--coarse, --drill); its MAE and SSIM columns compare it with the exact map of
an exact engine run before it in the same --engines list (put incremental
first), or, when there is none, with the exact map cnnviz computes itself
(--compare-exact, timed apart).

usage: bench/bench_occlusion.py [--models vgg16,resnet18,mobilenet_v2]
                                [--full | --stride S] [--occ 40] [--batch N]
                                [--engines full,auto,incremental,approx]
                                [--tau T] [--coarse K] [--drill F]
"""
import argparse
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
SIZE = 224
MODELS = {
    "vgg16": torchvision.models.vgg16,
    "resnet18": torchvision.models.resnet18,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
}
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def bench_image():
    """A 224 x 224 PNG (so cnnviz's resize is the identity): the seed's bus
    photo when ../shared is there, else a synthetic picture."""
    path = os.path.join(OUT, "bench_224.png")
    if not os.path.exists(path):
        bus = os.path.join(ROOT, "..", "shared", "images", "bus.jpg")
        if os.path.exists(bus):
            img = Image.open(bus).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
        else:
            yy, xx = np.mgrid[0:SIZE, 0:SIZE]
            rgb = np.stack([xx, yy, (xx + yy) // 2], -1) % 256
            img = Image.fromarray(rgb.astype(np.uint8))
        img.save(path)
    return path


def torch_input(path):
    px = np.asarray(Image.open(path).convert("RGB"), np.float32)  # H, W, 3
    x = (px * np.float32(1 / 255.0) - MEAN) / STD                  # as cnnviz's torch preset
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def torch_map(model, x, occ, stride, batch):
    """The Captum-style loop. Returns (map, seconds for the map)."""
    fill = torch.from_numpy((0.0 - MEAN) / STD).view(3, 1, 1)      # --pixel 0
    n = math.ceil((SIZE - occ) / stride + 1)
    with torch.no_grad():
        target = int(model(x).argmax(1))
        windows = [(i * stride, j * stride) for i in range(n) for j in range(n)]
        probs = []
        t0 = time.perf_counter()
        for s in range(0, len(windows), batch):
            chunk = windows[s:s + batch]
            xs = x.repeat(len(chunk), 1, 1, 1)
            for k, (y0, x0) in enumerate(chunk):
                xs[k, :, y0:y0 + occ, x0:x0 + occ] = fill
            probs.append(torch.softmax(model(xs), 1)[:, target])
        seconds = time.perf_counter() - t0
    return torch.cat(probs).double().numpy().reshape(n, n), seconds


def ssim(x, ref):
    """SSIM as cv_occlusion_compare (include/cnnviz_occlusion.h): 7 x 7
    uniform windows inside the map, K1 0.01, K2 0.03, sample (co)variances,
    data range from ref (1 if constant), the mean over the windows."""
    L = float(ref.max() - ref.min()) or 1.0
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    wh, ww = min(7, ref.shape[0]), min(7, ref.shape[1])
    n = wh * ww
    norm = n / (n - 1) if n > 1 else 1.0
    win = lambda a: np.lib.stride_tricks.sliding_window_view(a, (wh, ww)).reshape(
        a.shape[0] - wh + 1, a.shape[1] - ww + 1, n)
    wx, wy = win(x.astype(np.float64)), win(ref.astype(np.float64))
    mx, my = wx.mean(-1), wy.mean(-1)
    vx = ((wx - mx[..., None]) ** 2).mean(-1) * norm
    vy = ((wy - my[..., None]) ** 2).mean(-1) * norm
    cxy = ((wx - mx[..., None]) * (wy - my[..., None])).mean(-1) * norm
    s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def run_cnnviz(onnx_path, img, occ, stride, batch, engine, out_dir, approx_args=(), compare=False):
    exe = os.path.join(ROOT, "build", "cnnviz")
    cmd = [exe, "occlusion", "--model", onnx_path, "--img", img, "--preprocess", "torch",
           "--occ_size", str(occ), "--stride", str(stride), "--batch", str(batch), "--out", out_dir]
    if engine == "approx":
        cmd += ["--approx", *approx_args] + (["--compare-exact"] if compare else [])
    else:
        cmd += ["--engine", engine]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.exit("cnnviz failed:\n" + res.stderr)
    done = re.search(r"done: (?:APPROXIMATE map, )?(\d+) positions in ([0-9.]+) s", res.stdout)
    used = re.search(r"; batch (\d+), engine (\w+)", res.stdout)
    cmp = re.search(r"approximate vs exact: MAE ([0-9.e+-]+), max abs [0-9.e+-]+, SSIM ([0-9.e+-]+)", res.stdout)
    evaluated = re.search(r"approximate: (\d+) of (\d+) positions evaluated", res.stdout)
    extra = {}
    if cmp:
        extra["mae"], extra["ssim"] = float(cmp.group(1)), float(cmp.group(2))
    if evaluated:
        extra["evaluated"] = int(evaluated.group(1))
    return (float(done.group(2)), int(used.group(1)), used.group(2),
            np.load(os.path.join(out_dir, "probs.npy")), extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--occ", type=int, default=40)
    ap.add_argument("--stride", type=int, default=21, help="default 21: 10 x 10 positions")
    ap.add_argument("--full", action="store_true", help="stride 5: the original's 38 x 38 map")
    ap.add_argument("--batch", type=int, default=0, help="positions per forward (0: cnnviz's choice)")
    ap.add_argument("--engines", default="full,auto",
                    help="cnnviz engines to time, comma-separated: full, incremental, auto, approx "
                         "(approximate mode; put an exact engine before it to compare with its map)")
    ap.add_argument("--tau", help="approx: projective-field threshold (default: the library's)")
    ap.add_argument("--coarse", help="approx: coarse stride factor (default: the library's)")
    ap.add_argument("--drill", help="approx: drill-down fraction (default: the library's)")
    args = ap.parse_args()
    approx_args = [a for k in ("tau", "coarse", "drill") if getattr(args, k)
                   for a in ("--" + k, getattr(args, k))]
    stride = 5 if args.full else args.stride
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(os.path.join(ROOT, "build", "cnnviz")):
        subprocess.check_call(["make", "-C", ROOT, "build/cnnviz"])
    torch.set_num_threads(os.cpu_count())
    img = bench_image()
    x = torch_input(img)
    n = math.ceil((SIZE - args.occ) / stride + 1)
    print(f"occlusion {n} x {n} = {n * n} positions (occ {args.occ}, stride {stride}) on {SIZE} x {SIZE}, "
          f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{'model':13s} {'engine':11s} {'batch':>5s} {'cnnviz s':>9s} {'torch s':>8s} {'cnnviz ms/pos':>13s} "
          f"{'torch ms/pos':>12s} {'ratio':>6s} {'max |diff|':>10s} {'MAE':>9s} {'SSIM':>6s}")
    print("(max |diff|: against PyTorch's map; MAE and SSIM: approx against the exact map)")
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = MODELS[name]().eval()
        # its own file: bench_forward.py's export of the same model has other
        # random weights, and the maps are compared with this `model`
        path = os.path.join(OUT, f"{name}_occlusion_seed0.onnx")
        if not os.path.exists(path):
            torch.onnx.export(model, torch.randn(1, 3, SIZE, SIZE), path, opset_version=13,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        map_t = t_t = map_exact = None
        for engine in args.engines.split(","):
            t_c, batch, used, map_c, extra = run_cnnviz(path, img, args.occ, stride, args.batch, engine,
                                                        os.path.join(OUT, f"occlusion_{name}_{engine}"),
                                                        approx_args, compare=map_exact is None)
            if map_t is None:  # PyTorch once per model, with the first engine's batch size
                map_t, t_t = torch_map(model, x, args.occ, stride, batch)
            diff = float(np.abs(map_c - map_t).max())
            mae = ssim_s = "-"
            if engine == "approx":
                if map_exact is not None:
                    extra["mae"], extra["ssim"] = float(np.abs(map_c - map_exact).mean()), ssim(map_c, map_exact)
                mae, ssim_s = f"{extra['mae']:9.3g}", f"{extra['ssim']:6.3f}"
                used = str(extra.get("evaluated", n * n))  # positions evaluated: approx=N
            elif map_exact is None:
                map_exact = map_c
            p = n * n
            label = engine + ('' if used == engine else '=' + used[:7])
            print(f"{name:13s} {label:11s} {batch:5d} {t_c:9.2f} "
                  f"{t_t:8.2f} {1e3 * t_c / p:13.1f} {1e3 * t_t / p:12.1f} {t_c / t_t:6.2f} {diff:10.2g} "
                  f"{mae:>9s} {ssim_s:>6s}", flush=True)


if __name__ == "__main__":
    main()
