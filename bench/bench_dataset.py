#!/usr/bin/python3
"""Whole-dataset speed: images per second for `cnnviz occlusion` and
`cnnviz explain --method gradcam` over a folder of images, one process
against --shard across 2 processes against the equivalent PyTorch loop, on
the same machine in one run.

The script makes --images synthetic 224 x 224 PNGs (bench/out/dataset/;
shapes and gradients from a fixed seed) and exports torchvision's ResNet18
with random weights (seed 0: only speed is measured) to ONNX once, then
times, for each method, the wall clock of:
  cnnviz 1 process   one batch-mode run over the folder, OMP_NUM_THREADS =
                     cores (the model is loaded and planned once);
  cnnviz 2 shards    --shard 0/2 and 1/2 as two processes at once, each with
                     half the cores, into one --out, then merge-manifests;
  cnnviz 1 proc 1 thr  one process, one thread: sharding against threading;
  torch              a Python loop over the same PNGs, the model built once,
                     threads = cores: PIL decode, the torch preprocessing,
                     then the Captum-style occlusion loop (batches of
                     occluded copies, softmax, the target class's
                     probability; batch 32) or a plain Grad-CAM (a hook on
                     layer4, one backward, ReLU of the weighted sum,
                     bilinear upsampling), and np.save of the map.
cnnviz writes more per image (PNG heatmaps and overlays, a thumbnail, the
manifest) than the torch loop (one .npy): that cost is in its numbers.
It prints the CPU model, then one table: the median wall time over
--repeats, images per second and the ratio cnnviz / torch time (< 1:
cnnviz is faster); and the per-image overhead of the one-process run: its
wall time minus the sum of the manifest's per-image "seconds", per image
(model loading and planning, once, spread over the images; process start).

usage: bench/bench_dataset.py [--images 64] [--repeats 1] [--quick]
                              [--occ 40] [--stride 21] [--cnnviz build/cnnviz]
--quick: 8 images, occlusion at stride 56 (4 x 4 positions), one repeat:
a minute, to see that it works. The full run (64 images, 10 x 10 occlusion
positions) takes about 15 minutes on 2 cores. Numbers on a shared machine
vary by 10-20% or more: compare ratios from the same run only.
"""
import argparse
import glob
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
SIZE = 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
TORCH_OCC_BATCH = 32


def cpu_model():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown CPU"
    return f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"


def make_images(n):
    """n 224 x 224 PNGs: a gradient background with a few random discs and
    boxes each, so the occlusion maps are not flat. Kept between runs."""
    folder = os.path.join(OUT, "dataset", f"n{n}")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i in range(n):
        path = os.path.join(folder, f"img{i:03d}.png")
        c = rng.integers(0, 256, (3, 3))
        rgb = np.stack([(c[0, k] + xx * c[1, k] / SIZE + yy * c[2, k] / SIZE) % 256 for k in range(3)], -1)
        for _ in range(4):
            cx, cy, r = rng.integers(30, SIZE - 30, 2).tolist() + [int(rng.integers(10, 40))]
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
            rgb[disc] = rng.integers(0, 256, 3)
        if not os.path.exists(path):
            Image.fromarray(rgb.astype(np.uint8)).save(path)
    return folder, sorted(glob.glob(os.path.join(folder, "*.png")))


def export_model():
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    path = os.path.join(OUT, "resnet18_dataset_seed0.onnx")
    if not os.path.exists(path):
        torch.onnx.export(model, torch.randn(1, 3, SIZE, SIZE), path, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return model, path


def cnnviz_args(method, occ, stride):
    if method == "occlusion":
        return ["occlusion", "--occ_size", str(occ), "--stride", str(stride)]
    return ["explain", "--method", "gradcam"]


def cnnviz_run(exe, model_path, folder, method, occ, stride, shards, threads, out_dir):
    """Wall seconds of `shards` processes of `threads` OpenMP threads at
    once over the folder, the sum of the manifest's per-image seconds and
    the number of images."""
    shutil.rmtree(out_dir, ignore_errors=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    base = [exe] + cnnviz_args(method, occ, stride) + ["--model", model_path, "--img", folder,
                                                       "--preprocess", "torch", "--out", out_dir, "--quiet"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(base + (["--shard", f"{k}/{shards}"] if shards > 1 else []), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for k in range(shards)]
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - t0
    for p, e in zip(procs, errors):
        if p.returncode != 0:
            sys.exit(f"cnnviz {method} failed (exit {p.returncode}):\n{e}")
    if shards > 1:
        subprocess.run([exe, "merge-manifests", "--out", out_dir], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    seconds = 0.0
    with open(os.path.join(out_dir, "manifest.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    bad = [e for e in lines if e.get("status") != "ok"]
    if bad:
        sys.exit(f"cnnviz {method}: {len(bad)} images failed: {bad[0].get('error')}")
    seconds = sum(float(e.get("seconds") or 0) for e in lines)
    return wall, seconds, len(lines)


def torch_input(path):
    px = np.asarray(Image.open(path).convert("RGB"), np.float32)
    x = (px * np.float32(1 / 255.0) - MEAN) / STD                  # as cnnviz's torch preset
    return torch.from_numpy(x.transpose(2, 0, 1).copy())[None]


def torch_occlusion(model, x, occ, stride):
    fill = torch.from_numpy((0.0 - MEAN) / STD).view(3, 1, 1)      # cnnviz's default --pixel 0
    n = math.ceil((SIZE - occ) / stride + 1)
    with torch.no_grad():
        target = int(model(x).argmax(1))
        windows = [(i * stride, j * stride) for i in range(n) for j in range(n)]
        probs = []
        for s in range(0, len(windows), TORCH_OCC_BATCH):
            chunk = windows[s:s + TORCH_OCC_BATCH]
            xs = x.repeat(len(chunk), 1, 1, 1)
            for k, (y0, x0) in enumerate(chunk):
                xs[k, :, y0:y0 + occ, x0:x0 + occ] = fill
            probs.append(torch.softmax(model(xs), 1)[:, target])
    return torch.cat(probs).double().numpy().reshape(n, n)


def torch_gradcam(model, x):
    acts = []
    h = model.layer4.register_forward_hook(lambda mod, i, o: acts.append(o))
    try:
        y = model(x)
        y = y[0, int(y.argmax(1))]
    finally:
        h.remove()
    (g,) = torch.autograd.grad(y, acts[0])
    cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * acts[0]).sum(1, keepdim=True))
    return F.interpolate(cam, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0].detach().numpy()


def torch_run(model, paths, method, occ, stride, out_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        x = torch_input(p)
        m = torch_occlusion(model, x, occ, stride) if method == "occlusion" else torch_gradcam(model, x)
        np.save(os.path.join(out_dir, f"{i:03d}.npy"), m)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=1, help="median over this many runs of each row")
    ap.add_argument("--occ", type=int, default=40)
    ap.add_argument("--stride", type=int, default=21, help="default 21: 10 x 10 positions")
    ap.add_argument("--methods", default="occlusion,gradcam")
    ap.add_argument("--cnnviz", default=os.path.join(ROOT, "build", "cnnviz"), help="the cnnviz binary")
    ap.add_argument("--quick", action="store_true", help="8 images, stride 56: about a minute")
    args = ap.parse_args()
    if args.quick:
        args.images, args.stride, args.occ, args.repeats = 8, 56, 56, 1
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(args.cnnviz):
        subprocess.check_call(["make", "-C", ROOT, "build/cnnviz"])
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    print(f"CPU: {cpu_model()}, {cores} cores; torch {torch.__version__} ({torch.get_num_threads()} threads)")
    folder, paths = make_images(args.images)
    model, onnx_path = export_model()
    n_pos = math.ceil((SIZE - args.occ) / args.stride + 1)
    print(f"{len(paths)} images {SIZE} x {SIZE}, ResNet18 (random weights); occlusion {n_pos} x {n_pos} positions "
          f"(occ {args.occ}, stride {args.stride}); Grad-CAM on layer4; median of {args.repeats}")
    print(f"{'method':10s} {'runner':18s} {'wall s':>8s} {'images/s':>9s} {'ms/image':>9s} {'ratio':>6s}")
    overheads = []
    for method in args.methods.split(","):
        torch_s = statistics.median(torch_run(model, paths, method, args.occ, args.stride,
                                              os.path.join(OUT, f"dataset_torch_{method}"))
                                    for _ in range(args.repeats))
        rows = []
        # (label, processes, threads each): the third row tells sharding
        # apart from threading (OpenMP threads on a busy machine can cost
        # more than they give)
        for label, shards, threads in (("cnnviz 1 process", 1, cores), ("cnnviz 2 shards", 2, max(1, cores // 2)),
                                       ("cnnviz 1 proc 1 thr", 1, 1)):
            runs = [cnnviz_run(args.cnnviz, onnx_path, folder, method, args.occ, args.stride, shards, threads,
                               os.path.join(OUT, f"dataset_cnnviz_{method}_{shards}x{threads}"))
                    for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            rows.append((label, wall))
            if (shards, threads) == (1, cores):
                per_image = statistics.median((r[0] - r[1]) / r[2] for r in runs)
                overheads.append((method, per_image, wall / len(paths)))
        rows.append(("torch loop", torch_s))
        for label, wall in rows:
            print(f"{method:10s} {label:18s} {wall:8.2f} {len(paths) / wall:9.2f} {1e3 * wall / len(paths):9.1f} "
                  f"{wall / torch_s:6.2f}")
    print(f"ratio = cnnviz / torch wall time (< 1: cnnviz is faster); 1 process: {cores} OpenMP threads; "
          f"2 shards: 2 processes of {max(1, cores // 2)} at once; torch: {cores} threads")
    for method, per_image, total in overheads:
        print(f"one-process overhead, {method}: {1e3 * per_image:.1f} ms per image "
              f"(wall minus the manifest's per-image seconds; of {1e3 * total:.1f} ms per image in all)")


if __name__ == "__main__":
    main()
