#!/bin/bash
# Deletion / insertion AUCs and the pointing game of six attribution methods on the real
# pretrained SqueezeNet 1.1 (../shared/models) for three real photos (../shared/images), printed
# as the Markdown tables in README.md ("Faithfulness on SqueezeNet").
#
#   scripts/auc_table.sh [CNNVIZ] [OUTDIR]      (defaults: build/cnnviz, out/auc)
#
# Per image: `cnnviz explain --methods gradcam,saliency,ig,smoothgrad,rise --eval` (the AUCs from
# its compare.csv, default parameters: RISE 4000 masks, SmoothGrad 50, IG 50 steps); occlusion is
# not an explain method, so `cnnviz occlusion` (40 px, stride 5, grey 0) writes its map.npy and
# `cnnviz eval --map` scores it with the same 100 steps. The pointing game (box from
# ../shared/images/boxes.txt, 15 px tolerance) is `cnnviz eval --pointing` on each method's map.npy
# (run with --metric deletion --steps 1, since only the pointing result is read there).
# Every method explains the top-1 class of the image. Runs one process at a time.
set -eu

cd "$(dirname "$0")/.."
CNNVIZ=${1:-build/cnnviz}
OUT=${2:-out/auc}
SHARED=../shared
MODEL=$SHARED/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx
LABELS=$SHARED/models/squeezenet1.1_fp16_imagenet/Labels.txt
IMAGES="bus.jpg kitten_224.png index.jpeg"
METHODS="occlusion gradcam saliency ig smoothgrad rise"

if [ ! -f "$MODEL" ] || [ ! -f "$SHARED/images/boxes.txt" ]; then
    echo "auc_table: SKIPPED: $SHARED (the real SqueezeNet and photos) is absent" >&2
    exit 0
fi
[ -x "$CNNVIZ" ] || { echo "auc_table: $CNNVIZ not built (run make)" >&2; exit 1; }

PRE=(--model "$MODEL" --labels "$LABELS" --preprocess raw --bgr)
START=$(date +%s)

for img in $IMAGES; do
    d=$OUT/${img%.*}
    mkdir -p "$d"
    echo "== $img" >&2
    "$CNNVIZ" explain "${PRE[@]}" --img "$SHARED/images/$img" --methods gradcam,saliency,ig,smoothgrad,rise \
        --eval --out "$d" > "$d/explain.log"
    class=$(sed -n 's/^class: \([0-9]*\) .*/\1/p' "$d/explain.log")
    "$CNNVIZ" occlusion "${PRE[@]}" --img "$SHARED/images/$img" --class "$class" --out "$d/occlusion" \
        > "$d/occlusion/occlusion.log"
    "$CNNVIZ" eval "${PRE[@]}" --img "$SHARED/images/$img" --class "$class" --map "$d/occlusion/map.npy" \
        --out "$d/occlusion/eval" > "$d/occlusion/eval.log"
    box=$(awk -v f="$img" '$1 == f {print $2 "," $3 "," $4 "," $5}' "$SHARED/images/boxes.txt")
    [ -n "$box" ] || { echo "auc_table: no box for $img in boxes.txt" >&2; exit 1; }
    echo "$box" > "$d/box.txt"
    for m in $METHODS; do
        "$CNNVIZ" eval "${PRE[@]}" --img "$SHARED/images/$img" --class "$class" --map "$d/$m/map.npy" \
            --pointing "$box" --metric deletion --steps 1 --out "$d/$m/pointing" > "$d/$m/pointing.log"
    done
done
WALL=$(( $(date +%s) - START ))

# --- tables -------------------------------------------------------------------------------
# auc IMG METHOD COLUMN: deletion_auc (2) or insertion_auc (3), 3 decimals
auc() {
    local d=$OUT/${1%.*}
    if [ "$2" = occlusion ]; then
        sed -n "s/^${3} AUC *\([0-9.eE+-]*\).*/\1/p" "$d/occlusion/eval.log" | awk '{printf "%.3f", $1}'
    else
        awk -F, -v m="$2" -v c="$3" 'NR > 1 && $1 == m {printf "%.3f", (c == "deletion" ? $2 : $3)}' \
            "$d/compare.csv"
    fi
}
# pointing IMG METHOD: hit / miss and the distance of the map's maximum from the box
pointing() {
    sed -n 's/^pointing box ([^)]*): \([a-z]*\), maximum at map pixel ([0-9, ]*), \([0-9.]*\) px from the box.*/\1 \2/p' \
        "$OUT/${1%.*}/$2/pointing.log" | awk '{printf ($1 == "hit" ? "hit" : "miss (%s px)"), $2}'
}
# seconds IMG METHOD: the method's own time (the map, not its evaluation)
seconds() {
    local d=$OUT/${1%.*}
    if [ "$2" = occlusion ]; then
        sed -n 's/^done: [0-9]* positions in \([0-9.]*\) s.*/\1/p' "$d/occlusion/occlusion.log"
    else
        awk -F, -v m="$2" 'NR > 1 && $1 == m {printf "%.2f", $4}' "$d/compare.csv"
    fi
}

echo "Classes explained (the top-1 of each image):"
echo
for img in $IMAGES; do
    line=$(sed -n 's/^class: \([0-9]*\) (\(.*\)), p = \([0-9.]*\);.*/\1 "\2", p = \3/p' "$OUT/${img%.*}/explain.log")
    echo "- $img: class $line; box $(cat "$OUT/${img%.*}/box.txt")"
done
echo
printf '| method'
for img in $IMAGES; do printf ' | %s del ↓ | %s ins ↑' "$img" "$img"; done
printf ' |\n|---'
for img in $IMAGES; do printf '|---:|---:'; done
printf '|\n'
for m in $METHODS; do
    printf '| %s' "$m"
    for img in $IMAGES; do printf ' | %s | %s' "$(auc "$img" $m deletion)" "$(auc "$img" $m insertion)"; done
    printf ' |\n'
done
echo
printf '| method'
for img in $IMAGES; do printf ' | %s pointing | %s s' "$img" "$img"; done
printf ' |\n|---'
for img in $IMAGES; do printf '|:---:|---:'; done
printf '|\n'
for m in $METHODS; do
    printf '| %s' "$m"
    for img in $IMAGES; do printf ' | %s | %s' "$(pointing "$img" $m)" "$(seconds "$img" $m)"; done
    printf ' |\n'
done
echo
echo "wall time: ${WALL} s (explain + occlusion + eval for 3 images; pictures in $OUT/<image>/compare.png)"
