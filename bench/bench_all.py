#!/usr/bin/python3
"""Every speed target in one table: cnnviz against PyTorch on this machine,
in one run, CPU model first.

Runs the benchmarks beside it and gathers their rows:
  forward    bench_forward.py: VGG16, ResNet18/50, MobileNetV2, EfficientNet-B0,
             batch 1 and 16 (median of --repeats);
  backward   bench_explain.py: saliency (one backward to the input) and
             Grad-CAM on ResNet18 and VGG16, against PyTorch autograd;
  occlusion  bench_occlusion.py: the Captum-style PyTorch loop against
             `cnnviz occlusion` (engine auto), whole map, ResNet18 and
             MobileNetV2 at 1444 positions, VGG16 at stride 10 (400);
  sgemm      conv_bench's square sgemm: the BLAS rate the convolutions draw on.
Ratio = cnnviz / PyTorch time (< 1: cnnviz is faster); for occlusion the
table also gives the speed-up PyTorch / cnnviz.

usage: bench/bench_all.py [--repeats 5] [--quick]   (--quick: 100 occlusion positions)
Takes about 15 minutes on 2 cores (--quick: 4). Numbers on a shared
machine vary by 10-20%: compare ratios from the same run only.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable


def cpu_model():
    """The model name, with family and model numbers: a VM may call every
    Xeon just "Intel(R) Xeon(R) Processor"."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    return f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags)
    return ""


def run(args):
    """stdout lines of a benchmark script, echoed to stderr as they come."""
    p = subprocess.Popen([PY] + args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        sys.stderr.write(line)
        lines.append(line.rstrip("\n"))
    if p.wait() != 0:
        raise SystemExit(f"{' '.join(args)} failed")
    return lines


def forward_rows(repeats):
    rows = []
    for line in run([os.path.join(HERE, "bench_forward.py"), "--repeats", str(repeats)]):
        f = line.split()
        if len(f) == 5 and f[1].isdigit():
            rows.append((f"forward {f[0]}, batch {f[1]}", float(f[2]), float(f[3]), "ms"))
    return rows


def backward_rows(repeats):
    rows = []
    for line in run([os.path.join(HERE, "bench_explain.py"), "--models", "resnet18,vgg16",
                     "--methods", "saliency,gradcam", "--repeats", str(repeats)]):
        f = line.split()
        if len(f) == 7 and f[2].isdigit() and f[3].isdigit():
            rows.append((f"backward {f[0]} {f[1]}", float(f[4]), float(f[5]), "ms"))
    return rows


def occlusion_rows(quick):
    rows = []
    plans = [("resnet18,mobilenet_v2", ["--stride", "21"] if quick else ["--full"]),
             ("vgg16", ["--stride", "21"] if quick else ["--stride", "10"])]
    for models, stride in plans:
        header = ""
        for line in run([os.path.join(HERE, "bench_occlusion.py"), "--models", models, "--engines", "auto"] + stride):
            if line.startswith("occlusion "):
                header = re.sub(r" positions.*", "", line.split("= ", 1)[1])
            f = line.split()
            if len(f) >= 8 and f[1].startswith("auto"):
                rows.append((f"occlusion {f[0]}, {header} positions", float(f[4]), float(f[3]), "s"))
    return rows


def sgemm_row():
    exe = os.path.join(ROOT, "build", "bench", "conv_bench")
    out = subprocess.run([exe, "1"], capture_output=True, text=True, check=True).stdout
    m = re.search(r"sgemm (\d+)x\d+x\d+: ([\d.]+) GFLOP/s", out)
    return f"sgemm {m.group(1)}^3 (OpenBLAS, one thread: the per-core rate each of cnnviz's threads draws on): {m.group(2)} GFLOP/s" if m else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    subprocess.check_call(["make", "-s", "-C", ROOT, "bench", "build/cnnviz"])
    import torch  # only for its version: the scripts run PyTorch themselves
    rows = forward_rows(args.repeats) + backward_rows(args.repeats) + occlusion_rows(args.quick)
    print(f"CPU: {cpu_model()}, {cpu_flags()}, {os.cpu_count()} cores; "
          f"PyTorch {torch.__version__}; {datetime.date.today().isoformat()}")
    print(sgemm_row())
    print(f"| {'workload':44s} | {'PyTorch':>10s} | {'cnnviz':>10s} | {'ratio':>6s} |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 12}|{'-' * 8}|")
    for name, t_torch, t_ours, unit in rows:
        ratio = f"{t_ours / t_torch:6.2f}"
        if name.startswith("occlusion"):
            ratio += f" ({t_torch / t_ours:.1f}x faster)"
        print(f"| {name:44s} | {t_torch:7.1f} {unit:2s} | {t_ours:7.1f} {unit:2s} | {ratio} |")


if __name__ == "__main__":
    main()
