#!/usr/bin/python3
"""Deletion + insertion speed: cnnviz eval vs PyTorch, in one run.

One ResNet18 (torchvision, random weights: only speed is measured) at 224,
a 100-step deletion + insertion evaluation: 2 x 101 = 202 forward passes.
PyTorch's side is its batched forward (torch.no_grad, batches of 64, the
same batch limit cnnviz's automatic batch has) of the same number of inputs,
perturbed inputs made beforehand (not timed): the forward alone, a lower
bound of what a PyTorch evaluation costs. cnnviz's side (bench/bench_eval)
is the whole evaluation: ranking, blur, making the inputs, forwards.
Medians of --repeats after a warm-up; torch.set_num_threads(2) (the
machine this was written on has 2 cores). Prints the CPU model.

usage: bench/bench_eval.py [--repeats 3] [--steps 100] [--model /tmp/bm/resnet18.onnx]
"""
import argparse, os, statistics, subprocess, time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--model", default="/tmp/bm/resnet18.onnx")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    if not os.path.exists(args.model):
        os.makedirs(os.path.dirname(args.model), exist_ok=True)
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), args.model, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    n = 2 * (args.steps + 1)
    x = torch.randn(n, 3, 224, 224)
    times = []
    with torch.no_grad():
        for k in range(args.repeats + 1):
            t0 = time.perf_counter()
            for first in range(0, n, 64):
                torch.softmax(model(x[first:first + 64]), 1)[:, 0]
            if k:
                times.append((time.perf_counter() - t0) * 1e3)
    t_torch = statistics.median(times)
    exe = os.path.join(ROOT, "build", "bench", "bench_eval")
    if not os.path.exists(exe):
        subprocess.check_call(["make", "-C", ROOT, "build/bench/bench_eval"])
    out = subprocess.check_output([exe, args.model, "224", str(args.steps), str(args.repeats)], text=True)
    fields = out.split()
    t_cv = float(fields[fields.index("median_ms") + 1])
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores visible, torch threads 2)")
    print(f"resnet18 224, {args.steps} steps, {n} forwards")
    print(f"  PyTorch batched forward  median {t_torch:9.1f} ms  (of {args.repeats}: "
          + ", ".join(f"{t:.0f}" for t in times) + ")")
    print(f"  cnnviz eval (whole)      median {t_cv:9.1f} ms  ({out.strip()})")
    print(f"  ratio cnnviz / PyTorch   {t_cv / t_torch:.2f}  (< 1: cnnviz faster)")


if __name__ == "__main__":
    main()
