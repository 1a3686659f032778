#!/bin/sh
# The README's pictures, from real runs (issue 17: no hand-made figures):
#   docs/demo_heatmap.png     the bundled model's occlusion overlay (what `make demo` draws)
#   docs/occlusion_bird.png   SqueezeNet 1.1 on ../shared's bird: overlay_alpha.png
#   docs/explain_compare.png  SqueezeNet 1.1 on bus.jpg: four methods with --eval
#   docs/filters_seed_vs_lucid.png  (docs/make_filters_figure.sh; the slow one)
#
#   docs/make_figures.sh [CNNVIZ] [SHARED] [--no-filters]   (from the repo root, after make)
#
# Without ../shared only the demo picture is made (and that is said).
set -e
CNNVIZ=${1:-build/cnnviz}
SHARED=${2:-../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$CNNVIZ" occlusion --model models/fashion_cnn.onnx --img models/samples/sneaker.png --size 28 --occ_size 6 \
    --stride 1 --quiet --out "$TMP/demo" > /dev/null
cp "$TMP/demo/overlay_alpha.png" docs/demo_heatmap.png
MODEL=$SHARED/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx
if [ ! -f "$MODEL" ]; then
    echo "make_figures: $MODEL not found: only docs/demo_heatmap.png was made"
    exit 0
fi
# SqueezeNet takes BGR, raw 0..255 (its README in ../shared/models)
"$CNNVIZ" occlusion --model "$MODEL" --img "$SHARED/images/index.jpeg" --preprocess raw --bgr --stride 8 --quiet \
    --out "$TMP/bird" > /dev/null
cp "$TMP/bird/overlay_alpha.png" docs/occlusion_bird.png
"$CNNVIZ" explain --model "$MODEL" --img "$SHARED/images/bus.jpg" --preprocess raw --bgr \
    --method saliency,gradcam,gradcam++,guided-gradcam --eval --quiet --out "$TMP/bus" > /dev/null
cp "$TMP/bus/compare.png" docs/explain_compare.png
[ "$3" = "--no-filters" ] || docs/make_filters_figure.sh "$CNNVIZ" "$SHARED"
echo "make_figures: wrote docs/demo_heatmap.png docs/occlusion_bird.png docs/explain_compare.png"
