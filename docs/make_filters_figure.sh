#!/bin/sh
# docs/filters_seed_vs_lucid.png: the same nine filters of SqueezeNet 1.1's
# last fire module (fire9/concat_1), pictured by `cnnviz filters --method
# seed` (the original algorithm) and `--method lucid`, side by side.
#
#   docs/make_filters_figure.sh [CNNVIZ] [SHARED]     (from the repo root, after make)
#
# Needs ../shared/models (the SqueezeNet ONNX file) and, to compose the two
# grids, /usr/bin/python3 with PIL. Takes a few minutes on two cores.
set -e
CNNVIZ=${1:-build/cnnviz}
SHARED=${2:-../shared}
MODEL=$SHARED/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx
LAYER=fire9/concat_1
FILTERS=16,120,162,252,264,288,303,409,455
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The model takes BGR, raw 0..255 (its README).
$CNNVIZ filters --model "$MODEL" --layer $LAYER --filters $FILTERS --method seed \
    --preprocess raw --bgr --out "$TMP/seed"
$CNNVIZ filters --model "$MODEL" --layer $LAYER --filters $FILTERS --method lucid \
    --preprocess raw --bgr --out "$TMP/lucid"
/usr/bin/python3 - "$TMP/seed/grid.png" "$TMP/lucid/grid.png" docs/filters_seed_vs_lucid.png "$LAYER" "$FILTERS" <<'PY'
import sys
from PIL import Image, ImageDraw
seed, lucid = Image.open(sys.argv[1]).convert("RGB"), Image.open(sys.argv[2]).convert("RGB")
layer, filters = sys.argv[4], sys.argv[5].replace(",", " ")
gap, band = 24, 44
w, h = seed.width + gap + lucid.width, max(seed.height, lucid.height) + band + 22
out = Image.new("RGB", (w, h), "white")
out.paste(seed, (0, band))
out.paste(lucid, (seed.width + gap, band))
d = ImageDraw.Draw(out)
d.text((4, 8), "--method seed (the original: 20 steps, blur/decay/clip)", fill="black")
d.text((seed.width + gap + 4, 8), "--method lucid (256 steps: 1/f Fourier, decorrelated colour, views, Adam)", fill="black")
d.text((4, h - 16), "SqueezeNet 1.1, layer %s, filters %s (same filters, same order)" % (layer, filters), fill="black")
# 256 colours (median cut, dithered) keep the file under 1 MB
out.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(sys.argv[3], optimize=True)
print("wrote", sys.argv[3])
PY
