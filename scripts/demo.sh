#!/bin/sh
# The quick-start demo: classify a bundled sample, then show what the bundled
# model looks at (occlusion) and what its filters respond to (Lucid-style).
set -e
CNNVIZ=${1:-build/cnnviz}
MODEL=models/fashion_cnn.onnx
IMG=models/samples/sneaker.png
OUT=out/demo
mkdir -p "$OUT"
echo "== cnnviz predict"
"$CNNVIZ" predict --model "$MODEL" --img "$IMG"
echo
echo "== cnnviz layers"
"$CNNVIZ" layers --model "$MODEL"
echo
echo "== cnnviz occlusion -> $OUT/occlusion"
"$CNNVIZ" occlusion --model "$MODEL" --img "$IMG" --size 28 --occ_size 6 --stride 1 --out "$OUT/occlusion"
echo
echo "== cnnviz filters -> $OUT/filters"
LAYER=$("$CNNVIZ" layers --model "$MODEL" | awk '$3 == "Relu" {name = $2} END {print name}')
# lucid (Fourier-parameterised, decorrelated colours, random views): the
# images people recognise; --method seed is the original tool's algorithm
"$CNNVIZ" filters --model "$MODEL" --layer "$LAYER" --num_filters 16 --size 28 --method lucid --out "$OUT/filters"
echo
echo "demo: pictures are in $OUT/"
