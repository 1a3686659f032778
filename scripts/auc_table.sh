#!/bin/bash
# Deletion / insertion AUCs and the pointing game of six attribution methods on the real
# pretrained SqueezeNet 1.1 (../shared/models) for three real photos (../shared/images), printed
# as the Markdown tables in README.md ("Faithfulness on SqueezeNet").
#
#   scripts/auc_table.sh [CNNVIZ] [OUTDIR]      (defaults: build/cnnviz, out/auc)
#
# Per image: `cnnviz explain --methods gradcam,saliency,ig,smoothgrad,rise --eval` (the AUCs from
# its compare.csv; default parameters: RISE 4000 masks, SmoothGrad 50 samples, IG 50 steps with a
# zero baseline). Occlusion is not an explain method, so `cnnviz occlusion` (40 px, stride 5,
# grey 0) writes its map.npy and `cnnviz eval --map` scores it with the same 100 steps. The
# baseline row is `cnnviz eval` of a map of uniform random numbers (Python's random, seed 0; the
# tool has no random baseline of its own; skipped without python3). The pointing game (box from
# ../shared/images/boxes.txt, 15 px tolerance) is `cnnviz eval --pointing` on each map.npy (for
# the explain maps with --metric deletion --steps 1: only the pointing result is read there).
# Every method explains the top-1 class of the image. One process at a time.
set -eu

cd "$(dirname "$0")/.."
CNNVIZ=${1:-build/cnnviz}
OUT=${2:-out/auc}
SHARED=../shared
MODEL=$SHARED/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx
LABELS=$SHARED/models/squeezenet1.1_fp16_imagenet/Labels.txt
IMAGES="bus.jpg kitten_224.png index.jpeg"
EXPLAIN="gradcam saliency ig smoothgrad rise"
METHODS="occlusion $EXPLAIN"

if [ ! -f "$MODEL" ] || [ ! -f "$SHARED/images/boxes.txt" ]; then
    echo "auc_table: SKIPPED: $SHARED (the real SqueezeNet and photos) is absent" >&2
    exit 0
fi
[ -x "$CNNVIZ" ] || { echo "auc_table: $CNNVIZ not built (run make)" >&2; exit 1; }

PRE=(--model "$MODEL" --labels "$LABELS" --preprocess raw --bgr)
mkdir -p "$OUT"
if command -v python3 > /dev/null; then
    # a [224, 224] float32 .npy of uniform random numbers in [0, 1), seed 0
    python3 - "$OUT/random.npy" <<'EOF'
import random, struct, sys
random.seed(0)
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (224, 224), }"
h += ' ' * (-(10 + len(h) + 1) % 64) + '\n'   # header padded to 64 bytes
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode())
    f.write(struct.pack('<%df' % (224 * 224), *[random.random() for _ in range(224 * 224)]))
EOF
    METHODS="$METHODS random"
else
    echo "auc_table: note: no python3, so no random-map baseline row" >&2
fi
START=$(date +%s)

for img in $IMAGES; do
    d=$OUT/${img%.*}
    mkdir -p "$d"
    echo "== $img" >&2
    box=$(awk -v f="$img" '$1 == f {print $2 "," $3 "," $4 "," $5}' "$SHARED/images/boxes.txt")
    [ -n "$box" ] || { echo "auc_table: no box for $img in boxes.txt" >&2; exit 1; }
    echo "$box" > "$d/box.txt"
    # each command writes its own folder (cnnviz moves files it did not write aside); logs beside them
    "$CNNVIZ" explain "${PRE[@]}" --img "$SHARED/images/$img" --methods "$(echo $EXPLAIN | tr ' ' ,)" \
        --eval --out "$d/explain" > "$d/explain.log"
    class=$(sed -n 's/^class: \([0-9]*\) .*/\1/p' "$d/explain.log")
    "$CNNVIZ" occlusion "${PRE[@]}" --img "$SHARED/images/$img" --class "$class" --out "$d/occlusion" \
        > "$d/occlusion.log"
    for m in $METHODS; do
        case $m in
        occlusion | random)
            map=$d/occlusion/map.npy
            [ "$m" = random ] && map=$OUT/random.npy
            "$CNNVIZ" eval "${PRE[@]}" --img "$SHARED/images/$img" --class "$class" --map "$map" \
                --pointing "$box" --out "$d/eval-$m" > "$d/eval-$m.log" ;;
        *)
            "$CNNVIZ" eval "${PRE[@]}" --img "$SHARED/images/$img" --class "$class" \
                --map "$d/explain/$m/map.npy" --pointing "$box" --metric deletion --steps 1 \
                --out "$d/eval-$m" > "$d/eval-$m.log" ;;
        esac
    done
done
WALL=$(( $(date +%s) - START ))

# --- tables -------------------------------------------------------------------------------
# auc IMG METHOD deletion|insertion: 3 decimals
auc() {
    local d=$OUT/${1%.*}
    case $2 in
    occlusion | random)
        sed -n "s/^${3} AUC *\([0-9.eE+-]*\).*/\1/p" "$d/eval-$2.log" | awk '{printf "%.3f", $1}' ;;
    *)
        awk -F, -v m="$2" -v c="$3" 'NR > 1 && $1 == m {printf "%.3f", (c == "deletion" ? $2 : $3)}' \
            "$d/explain/compare.csv" ;;
    esac
}
# pointing IMG METHOD: hit, or miss and how far the map's maximum is from the box
pointing() {
    sed -n 's/^pointing box ([^)]*): \([a-z]*\), maximum at map pixel ([0-9, ]*), \([0-9.]*\) px from the box.*/\1 \2/p' \
        "$OUT/${1%.*}/eval-$2.log" | awk '{if ($1 == "hit") printf "hit"; else printf "miss (%s px)", $2}'
}
# seconds IMG METHOD: the method's own time (the map, not its evaluation)
seconds() {
    local d=$OUT/${1%.*}
    case $2 in
    occlusion) sed -n 's/^done: [0-9]* positions in \([0-9.]*\) s.*/\1/p' "$d/occlusion.log" ;;
    random) printf -- - ;;
    *) awk -F, -v m="$2" 'NR > 1 && $1 == m {printf "%.2f", $4}' "$d/explain/compare.csv" ;;
    esac
}
label() { if [ "$1" = random ]; then printf 'random map (baseline)'; else printf '%s' "$1"; fi; }

echo "Classes explained (the top-1 of each image) and object boxes (x0,y0,x1,y1, original pixels):"
echo
for img in $IMAGES; do
    line=$(sed -n 's/^class: \([0-9]*\) (\(.*\)), p = \([0-9.]*\);.*/\1 "\2", p = \3/p' "$OUT/${img%.*}/explain.log")
    echo "- $img: class $line; box $(cat "$OUT/${img%.*}/box.txt")"
done
echo
# table HEAD1 HEAD2 ALIGN1 CELL1 CELL2 [ARG1 ARG2]: a row per method, two columns per image, the
# cells printed by the functions CELL1 IMG METHOD [ARG1] and CELL2 IMG METHOD [ARG2]
table() {
    printf '| method'
    for img in $IMAGES; do printf ' | %s %s | %s %s' "$img" "$1" "$img" "$2"; done
    printf ' |\n|---'
    for img in $IMAGES; do printf '|%s|---:' "$3"; done
    printf '|\n'
    for m in $METHODS; do
        printf '| %s' "$(label $m)"
        for img in $IMAGES; do printf ' | %s | %s' "$($4 "$img" $m ${6:-})" "$($5 "$img" $m ${7:-})"; done
        printf ' |\n'
    done
}
table "del ↓" "ins ↑" ---: auc auc deletion insertion
echo
table pointing s :---: pointing seconds
echo
echo "wall time: ${WALL} s (3 images; pictures in $OUT/<image>/explain/compare.png and $OUT/<image>/occlusion/)"
