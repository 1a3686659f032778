#!/usr/bin/python3
"""Attribution speed: `cnnviz explain`'s methods vs the same definitions in
PyTorch autograd, on the same machine in one run.

For each model (torchvision, random weights: only speed is measured) the
script exports ONNX to bench/out/ once, times cv_explain_run through
bench/bench_explain (the plan made once; each repeat sets the image, one
forward pass, and explains the top-1 class), then the
same method written from its paper in PyTorch (threads = cores): the input
gradient for saliency; a hook on the CAM layer and one backward for
Grad-CAM, upsampled to the input; SmoothGrad and Integrated Gradients as a
loop over batches of noisy copies / path points with one backward per
batch; RISE as a loop over batches of masked inputs under no_grad, masks
made on the fly (7 x 7 grids, p = 0.5, bilinear upsampling, random shift).
PyTorch's batch is the one cnnviz chose for the method, so both hold about
the same memory. It prints the medians and the ratio cnnviz / PyTorch
(< 1: cnnviz is faster), and the CPU model.

usage: bench/bench_explain.py [--models resnet18,vgg16] [--methods saliency,gradcam,...]
                              [--repeats 3] [--rise-samples N]
RISE on VGG16 defaults to 400 masks (4000 would take about ten minutes per
side on two cores; the time is linear in the masks); --rise-samples sets it.
"""
import argparse, math, os, platform, statistics, subprocess, sys, time

import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
# name: (constructor, the CAM layer cnnviz picks by default, RISE masks)
CASES = {
    "resnet18": (torchvision.models.resnet18, lambda m: m.layer4, 4000),
    "vgg16": (torchvision.models.vgg16, lambda m: m.avgpool, 400),
}
SAMPLES = {"saliency": 0, "gradcam": 0, "smoothgrad": 50, "ig": 50, "rise": None}
SIDE = 224


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench_input():
    """The input pattern of bench/bench_explain.c."""
    k = torch.arange(3 * SIDE * SIDE, dtype=torch.int64)
    return (((k * 2654435761) % (1 << 32)) % 1000).float().div(1000).sub(0.5).reshape(1, 3, SIDE, SIDE)


def class_score_grad(model, xb, target):
    xb = xb.detach().requires_grad_(True)
    y = model(xb)[:, target].sum()
    (g,) = torch.autograd.grad(y, xb)
    return g


def saliency(model, layer, x, target, n, batch):
    return class_score_grad(model, x, target)


def gradcam(model, layer, x, target, n, batch):
    acts = []
    h = layer.register_forward_hook(lambda mod, i, o: acts.append(o))
    try:
        y = model(x)[0, target]
    finally:
        h.remove()
    (g,) = torch.autograd.grad(y, acts[0])
    cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * acts[0]).sum(1, keepdim=True))
    return F.interpolate(cam, size=(SIDE, SIDE), mode="bilinear", align_corners=False)


def smoothgrad(model, layer, x, target, n, batch):
    sigma = 0.15 * (x.max() - x.min())
    total = torch.zeros_like(x)
    for first in range(0, n, batch):
        b = min(batch, n - first)
        xb = x + sigma * torch.randn(b, *x.shape[1:])
        total += class_score_grad(model, xb, target).sum(0, keepdim=True)
    return total / n


def integrated_gradients(model, layer, x, target, n, batch):
    base = torch.zeros_like(x)
    total = torch.zeros_like(x)
    for first in range(0, n, batch):
        alphas = torch.arange(first + 1, min(first + batch, n) + 1, dtype=torch.float32).div(n)
        xb = base + alphas.view(-1, 1, 1, 1) * (x - base)
        total += class_score_grad(model, xb, target).sum(0, keepdim=True)
    return (x - base) * total / n


def rise(model, layer, x, target, n, batch, grid=7, p=0.5):
    cell = math.ceil(SIDE / grid)
    sal = torch.zeros(SIDE, SIDE)
    with torch.no_grad():
        for first in range(0, n, batch):
            b = min(batch, n - first)
            cells = (torch.rand(b, 1, grid, grid) < p).float()
            up = F.interpolate(cells, size=((grid + 1) * cell,) * 2, mode="bilinear", align_corners=False)
            dy, dx = torch.randint(0, cell, (2, b))
            masks = torch.stack([up[i, 0, dy[i]:dy[i] + SIDE, dx[i]:dx[i] + SIDE] for i in range(b)])
            probs = F.softmax(model(x * masks.unsqueeze(1)), dim=1)[:, target]
            sal += (probs.view(-1, 1, 1) * masks).sum(0)
    return sal / (n * p)


METHODS = {"saliency": saliency, "gradcam": gradcam, "smoothgrad": smoothgrad, "ig": integrated_gradients,
           "rise": rise}


def torch_ms(fn, model, layer, x, target, n, batch, repeats):
    fn(model, layer, x, target, min(n, batch) or n, batch)  # warm-up (one batch)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(model, layer, x, target, n, batch)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def cnnviz_run(exe, path, method, n, repeats):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))  # as the cnnviz tool sets it
    if "OMP_WAIT_POLICY" not in env:
        env.setdefault("GOMP_SPINCOUNT", "10000")  # as the cnnviz tool sets it (cli/main.c)
    res = subprocess.run([exe, path, method, str(n), str(repeats)], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip())
    f = res.stdout.split()
    return float(f[1]), int(f[f.index("batch") + 1]), f[f.index("blas") + 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(CASES))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rise-samples", type=int, default=0)
    args = ap.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    os.makedirs(OUT, exist_ok=True)
    exe = os.path.join(ROOT, "build", "bench", "bench_explain")
    subprocess.check_call(["make", "-s", "-C", ROOT, "build/bench/bench_explain"])
    print(f"CPU: {cpu_model()}, {threads} threads; PyTorch {torch.__version__}")
    print(f"{'model':10s} {'method':11s} {'n':>5s} {'batch':>5s} {'torch ms':>10s} {'cnnviz ms':>10s} {'ratio':>6s}")
    shown_blas = None
    for name in args.models.split(","):
        ctor, layer_of, rise_n = CASES[name]
        torch.manual_seed(0)
        model = ctor().eval()
        path = os.path.join(OUT, f"{name}.onnx")
        if not os.path.exists(path):
            torch.onnx.export(model, torch.randn(1, 3, SIDE, SIDE), path, opset_version=13,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        x = bench_input()
        with torch.no_grad():
            target = int(model(x).argmax())
        for method in args.methods.split(","):
            n = SAMPLES[method]
            if n is None:
                n = args.rise_samples or rise_n
            # RISE's thousands of forwards: one timed run each side
            repeats = 1 if method == "rise" else args.repeats
            try:
                t_ours, batch, blas = cnnviz_run(exe, path, method, n, repeats)
                if blas != shown_blas:
                    print(f"(cnnviz's sgemm: OpenBLAS {blas} kernels; OPENBLAS_CORETYPE="
                          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
                    shown_blas = blas
            except RuntimeError as e:
                print(f"{name:10s} {method:11s} cnnviz error: {e}")
                continue
            t_torch = torch_ms(METHODS[method], model, layer_of(model), x, target, n, batch, repeats)
            print(f"{name:10s} {method:11s} {n:5d} {batch:5d} {t_torch:10.1f} {t_ours:10.1f} {t_ours / t_torch:6.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
