#!/bin/sh
# One iteration of `cnnviz filters --method seed` for 16 filters of VGG16's
# conv5_3 (torchvision features.28, random weights) at 128x128: cnnviz
# against PyTorch autograd doing the same objective and step, on this
# machine, in this run, with the same number of threads. Prints each side's
# per-iteration times, their medians and the ratio.
#
#   bench/bench_filters.sh [ROUNDS] [THREADS]      (from the repo root, after make)
#
# Each round runs cnnviz, then PyTorch, for two iterations each and keeps the
# second (the first also plans and warms up); alternating keeps both sides
# under the same load on a shared machine. Prints the medians over rounds,
# their ratio and the median of the per-round ratios.
set -e
ROUNDS=${1:-3}
THREADS=${2:-$(nproc)}
OUT=bench/out
mkdir -p $OUT
MODEL=$OUT/vgg16_features.onnx
[ -f $MODEL ] || /usr/bin/python3 bench/bench_filters.py export $MODEL
PKGS="hdf5 openblas libprotobuf-c libpng libjpeg libcjson"
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -fopenmp -Iinclude bench/bench_filters.c build/libcnnviz.a \
    $(pkg-config --libs $PKGS) -lm -o $OUT/bench_filters
# as the cnnviz tool runs itself (cli/main.c): the library's threads are
# OpenMP's, OpenBLAS runs single-threaded inside them
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=1
LAYER=/features/features.28/Conv
echo "VGG16 conv5_3 ($LAYER), 16 filters, 128x128, $ROUNDS rounds, $THREADS threads"
: > $OUT/ours.txt
: > $OUT/torch.txt
for r in $(seq $ROUNDS); do
    $OUT/bench_filters $MODEL $LAYER 16 128 2 | grep '^iter 2 ' >> $OUT/ours.txt
    /usr/bin/python3 bench/bench_filters.py time 28 16 128 2 | grep '^iter 2 ' >> $OUT/torch.txt
done
/usr/bin/python3 - $OUT/ours.txt $OUT/torch.txt <<'PY'
import statistics, sys
def times(p):
    return [float(l.split()[2]) for l in open(p) if l.startswith("iter ")]
ours, ref = times(sys.argv[1]), times(sys.argv[2])
mo, mt = statistics.median(ours), statistics.median(ref)
print("cnnviz  s/iteration:", " ".join("%.3f" % t for t in ours), " median %.3f" % mo)
print("PyTorch s/iteration:", " ".join("%.3f" % t for t in ref), " median %.3f" % mt)
print("ratio of medians cnnviz / PyTorch: %.2f; median of per-round ratios: %.2f"
      % (mo / mt, statistics.median(a / b for a, b in zip(ours, ref))))
PY
