#!/usr/bin/python3
"""Train cnnviz's bundled model: a small CNN for Fashion-MNIST.

    /usr/bin/python3 models/train_fashion.py            # train, export, write samples
    /usr/bin/python3 models/train_fashion.py --epochs 1 # quicker, less accurate

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
trains on 2 CPU threads with fixed seeds, and writes, next to this script:

    fashion_cnn.onnx        opset 13, input "image" [batch,1,28,28], output "logits" [batch,10]
    fashion_labels.txt      the 10 class names, one per line, in output order
    samples/*.png           28x28 grey test images (white object on black, as in the data set)
    samples/expected.txt    what this model predicts for each sample (file, class, probability)

The model expects v = (pixel/255 - 0.2860) / 0.3530 for a grey image with a
white (bright) object on a black background; that is recorded in the ONNX
metadata (preprocess=unit, mean, std) so that cnnviz applies it by itself.
"""
import argparse
import gzip
import os
import struct
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Mean and standard deviation of the training pixels scaled to [0, 1].
MEAN, STD = 0.2860, 0.3530
SAMPLES = {  # file name -> class index
    "tshirt.png": 0, "trouser.png": 1, "pullover.png": 2, "dress.png": 3, "coat.png": 4,
    "sandal.png": 5, "shirt.png": 6, "sneaker.png": 7, "bag.png": 8, "ankle_boot.png": 9,
}


def read_idx(path):
    """An IDX file (the MNIST format): magic 0x00 0x00 dtype ndim, big-endian dims, data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims}, found {data.size} bytes")
    return data.reshape(dims)


def load(split):
    x = read_idx(f"{DATA}/{split}-images-idx3-ubyte.gz")
    y = read_idx(f"{DATA}/{split}-labels-idx1-ubyte.gz")
    return x, y.astype(np.int64)


def to_input(x_u8):
    """uint8 [N,28,28] -> normalised float [N,1,28,28], exactly as cnnviz feeds it."""
    x = torch.from_numpy(x_u8.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(64)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):                       # x: [N,1,28,28]
        x = F.relu(self.bn1(self.conv1(x)))     # [N,32,28,28]
        x = F.relu(self.bn2(self.conv2(x)))     # [N,32,28,28]
        x = F.max_pool2d(x, 2)                  # [N,32,14,14]
        x = F.relu(self.bn3(self.conv3(x)))     # [N,64,14,14]
        x = F.max_pool2d(x, 2)                  # [N,64,7,7]
        x = F.relu(self.conv4(x))               # [N,64,7,7]
        x = torch.flatten(x, 1)                 # [N,3136]
        return self.fc(self.drop(x))            # [N,10] logits


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def write_png_grey(path, img):
    """8-bit greyscale PNG with zlib, no dependencies beyond the standard library."""
    h, w = img.shape
    def chunk(tag, body):
        c = struct.pack(">I", len(body)) + tag + body
        return c + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + img[r].tobytes() for r in range(h))  # filter 0 per row
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def export(model, path, test_acc):
    import onnx
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["image"],
                      output_names=["logits"],
                      dynamic_axes={"image": {0: "batch_size"}, "logits": {0: "batch_size"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(path)
    # Short layer names (node and output tensor alike), so that users can say
    # `--layer conv3` instead of "/conv3/Conv" or "/Relu_2_output_0".
    counts, rename = {}, {}
    short = {"Conv": "conv", "Relu": "relu", "MaxPool": "pool", "Flatten": "flatten", "Gemm": "fc"}
    for node in m.graph.node:
        base = short[node.op_type]
        counts[base] = counts.get(base, 0) + 1
        node.name = base if base in ("flatten", "fc") else f"{base}{counts[base]}"
        if node.output[0] != "logits":
            rename[node.output[0]] = node.name
            node.output[0] = node.name
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
    meta = {
        "preprocess": "unit",
        "mean": f"{MEAN:.4f}",
        "std": f"{STD:.4f}",
        "labels": ",".join(LABELS),
        "description": ("Fashion-MNIST classifier bundled with cnnviz (models/train_fashion.py). "
                        "Input: 28x28 greyscale, white object on a black background, "
                        f"v = (pixel/255 - {MEAN:.4f}) / {STD:.4f}. Output: 10 logits "
                        f"(softmax for probabilities). Test accuracy {100 * test_acc:.2f}%."),
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.producer_name = "cnnviz models/train_fashion.py"
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", default=HERE, help="output folder (default: beside this script)")
    args = ap.parse_args()

    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    xtr_u8, ytr = load("train")
    xte_u8, yte = load("t10k")
    xtr, xte = to_input(xtr_u8), to_input(xte_u8)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    print(f"train {tuple(xtr.shape)}, test {tuple(xte.shape)}")

    model = FashionCNN()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(1)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            # Light augmentation: shift the batch by up to 2 pixels (roll wraps the
            # border around, which is background in this data set).
            dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = evaluate(model, xte, yte)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(xtr):.4f}, "
              f"test accuracy {100 * acc:.2f}%, {time.time() - t0:.0f} s", flush=True)

    acc = evaluate(model, xte, yte)
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    export(model, onnx_path, acc)
    with open(os.path.join(args.out, "fashion_labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")

    # One correctly classified test image per class, the first such in test order.
    model.eval()
    with torch.no_grad():
        prob = F.softmax(model(xte), dim=1)
    lines = ["# file class probability (PyTorch, this model)"]
    for name, cls in SAMPLES.items():
        k = next(i for i in range(len(yte)) if yte[i] == cls and prob[i].argmax() == cls)
        write_png_grey(os.path.join(args.out, "samples", name), xte_u8[k])
        lines.append(f"{name} {LABELS[cls]!r} {prob[k, cls].item():.4f}  # t10k index {k}")
    with open(os.path.join(args.out, "samples", "expected.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"parameters {n_params}, test accuracy {100 * acc:.2f}%, "
          f"{os.path.getsize(onnx_path)} bytes, {time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
