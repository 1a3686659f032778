#!/bin/sh
# One iteration of `cnnviz filters --method seed` for 16 filters of VGG16's
# conv5_3 (torchvision features.28, random weights) at 128x128: cnnviz
# against PyTorch autograd doing the same objective and step, on this
# machine, in this run, with the same number of threads. Prints each side's
# per-iteration times, their medians and the ratio.
#
#   bench/bench_filters.sh [ITERATIONS] [THREADS]      (from the repo root, after make)
#
# The first iteration of each side (planning, warm-up) is left out of the median.
set -e
ITERS=${1:-4}
THREADS=${2:-$(nproc)}
OUT=bench/out
mkdir -p $OUT
MODEL=$OUT/vgg16_features.onnx
[ -f $MODEL ] || /usr/bin/python3 bench/bench_filters.py export $MODEL
PKGS="hdf5 openblas libprotobuf-c libpng libjpeg libcjson"
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -fopenmp -Iinclude bench/bench_filters.c build/libcnnviz.a \
    $(pkg-config --libs $PKGS) -lm -o $OUT/bench_filters
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
LAYER=/features/features.28/Conv
echo "VGG16 conv5_3 ($LAYER), 16 filters, 128x128, $ITERS iterations, $THREADS threads"
$OUT/bench_filters $MODEL $LAYER 16 128 $((ITERS + 1)) > $OUT/ours.txt
/usr/bin/python3 bench/bench_filters.py time 28 16 128 $((ITERS + 1)) > $OUT/torch.txt
/usr/bin/python3 - $OUT/ours.txt $OUT/torch.txt <<'PY'
import statistics, sys
def times(p):
    return [float(l.split()[2]) for l in open(p) if l.startswith("iter ")][1:]
ours, ref = times(sys.argv[1]), times(sys.argv[2])
mo, mt = statistics.median(ours), statistics.median(ref)
print("cnnviz  s/iteration:", " ".join("%.3f" % t for t in ours), " median %.3f" % mo)
print("PyTorch s/iteration:", " ".join("%.3f" % t for t in ref), " median %.3f" % mt)
print("median ratio cnnviz / PyTorch: %.2f" % (mo / mt))
PY
