#!/usr/bin/python3
"""Forward-pass speed: cnnviz vs PyTorch on the same machine, in one run.

Exports torchvision models (random weights: only speed is measured) to
ONNX under bench/out/, times PyTorch's forward (median of N after a warm-up,
torch.set_num_threads = cores) and cnnviz's (bench/bench_forward, same
shapes), and prints the median times and the ratio cnnviz / PyTorch
(< 1 means cnnviz is faster).

usage: bench/bench_forward.py [--repeats 5] [--models vgg16,resnet18,...]
"""
import argparse, os, statistics, subprocess, sys, time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
CASES = {  # name: (constructor, batch sizes, input side)
    "vgg16": (torchvision.models.vgg16, [1, 16], 224),
    "resnet18": (torchvision.models.resnet18, [1, 16], 224),
    "resnet50": (torchvision.models.resnet50, [1, 16], 224),
    "mobilenet_v2": (torchvision.models.mobilenet_v2, [1, 16], 224),
    "efficientnet_b0": (torchvision.models.efficientnet_b0, [1, 16], 224),
}


def torch_ms(model, x, repeats):
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default=",".join(CASES))
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    os.makedirs(OUT, exist_ok=True)
    exe = os.path.join(ROOT, "build", "bench", "bench_forward")
    if not os.path.exists(exe):
        subprocess.check_call(["make", "-C", ROOT, "build/bench/bench_forward"])
    print(f"{'model':14s} {'batch':>5s} {'torch ms':>10s} {'cnnviz ms':>10s} {'ratio':>7s}")
    for name in args.models.split(","):
        ctor, batches, side = CASES[name]
        torch.manual_seed(0)
        model = ctor().eval()
        path = os.path.join(OUT, f"{name}.onnx")
        if not os.path.exists(path):
            torch.onnx.export(model, torch.randn(1, 3, side, side), path, opset_version=13,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        for b in batches:
            x = torch.randn(b, 3, side, side)
            t_torch = torch_ms(model, x, args.repeats)
            # as the cnnviz tool itself runs (see cli/main.c)
            env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))  # as the cnnviz tool sets it
            if "OMP_WAIT_POLICY" not in env:
                env.setdefault("GOMP_SPINCOUNT", "10000")  # as the cnnviz tool sets it (cli/main.c)
            res = subprocess.run([exe, path, str(b), "3", str(side), str(side), str(args.repeats)],
                                 capture_output=True, text=True, env=env)
            if res.returncode != 0:
                print(f"{name:14s} {b:5d} {t_torch:10.1f} {'error':>10s}   {res.stderr.strip()}")
                continue
            t_ours = float(res.stdout.split()[1])
            print(f"{name:14s} {b:5d} {t_torch:10.1f} {t_ours:10.1f} {t_ours / t_torch:7.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
