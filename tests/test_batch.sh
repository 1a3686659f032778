#!/bin/sh
# Batch mode (cli/batch.c, README "Many images"), by real runs on the
# bundled model, its samples, generated PNGs, a JPEG and a corrupt file:
# directory recursion and order, --list from a file and from stdin, the
# folder mapping and its collisions, every image command in batch mode,
# the manifest's keys and their order, a failed image (exit 1, a failed
# line, the others ok), --resume (done images kept, a half-done one
# redone), --shard K/N (the union of concurrent shards is every image once,
# merge-manifests equals the single-process manifest apart from
# "seconds", the outputs byte for byte), Slurm's and Kubernetes' defaults,
# the --out root's ownership, and that one --img FILE is as before.
# Run by tests/run.sh within `make check`.
cd "$(dirname "$0")/.." || exit 1
name=batch
BUILD=${BUILD:-build}
cli=$BUILD/cnnviz
pass=0 fail=0 skip=0
if [ ! -x "$cli" ]; then
    echo "SKIP all ($cli missing: run make)"; echo "$name: 0 passed, 0 failed, 1 skipped"; exit 0
fi
if ! command -v python3 > /dev/null; then
    echo "SKIP all (python3 missing: it reads the manifests)"; echo "$name: 0 passed, 0 failed, 1 skipped"; exit 0
fi
tmp=$(mktemp -d /tmp/cnnviz-test-batch-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
m=models/fashion_cnn.onnx
# no assumption warnings in the logs read below
pre="--preprocess unit"
# the manifest without "seconds", the only key that differs between runs
strip() { sed -E 's/,"seconds":[0-9.eE+-]+//' "$1"; }
# one field of every line: field FILE KEY
field() { python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)[sys.argv[2]])' "$1" "$2"; }

# ---- images: samples in a tree, generated PNGs, a JPEG, a corrupt one ----
python3 - "$tmp/gen" <<'EOF'
import os, struct, sys, zlib
def png(path, w, h, seed):
    rows = b"".join(b"\0" + bytes((x * 7 + y * 3 + seed * 40) % 256 for x in range(w)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
png(sys.argv[1] + "/g0.png", 28, 28, 0)
png(sys.argv[1] + "/wide.png", 40, 20, 1)
png(sys.argv[1] + "/deep/er/g2.PNG", 28, 28, 2)
EOF
tree=$tmp/photos
mkdir -p "$tree/cats" "$tree/dogs/small" "$tree/empty"
cp models/samples/bag.png "$tree/cats/001.png"
cp models/samples/coat.png "$tree/cats/002.png"
cp models/samples/dress.png "$tree/dogs/small/x.png"
cp models/samples/shirt.png "$tree/B.png"
cp "$tmp/gen/wide.png" "$tree/a.png"
echo "not an image" > "$tree/notes.txt"
"$cli" filters --model $m --layer conv1 --num_filters 1 --iterations 1 --jpeg --out "$tmp/j" -q > /dev/null 2>&1
if [ -f "$tmp/j/grid.jpg" ]; then cp "$tmp/j/grid.jpg" "$tree/dogs/z.JPG"; fi

# ---- directory recursion and order ----
"$cli" predict --model $m $pre --img "$tree" --out "$tmp/p" > "$tmp/out" 2> "$tmp/err"; rc=$?
want="B a cats/001 cats/002 dogs/small/x dogs/z"
got=$(field "$tmp/p/manifest.jsonl" out | tr '\n' ' ' | sed 's/ $//')
inputs=$(field "$tmp/p/manifest.jsonl" input | sed -n 1p)
if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ "$inputs" = "$tree/B.png" ] && [ -f "$tmp/p/cats/001/top.json" ] &&
        [ -f "$tmp/p/dogs/z/thumb.png" ]; then
    ok directory_recursive_sorted
else
    bad directory_recursive_sorted "rc $rc; got '$got'; first input '$inputs'; $(cat "$tmp/err")"
fi
# predict's answers are those of one image at a time (to float rounding)
one=$("$cli" predict --model $m $pre --img "$tree/cats/001.png" --top 1 2>/dev/null | sed -n 2p | awk '{print $2, $3}')
many=$(grep -A1 "^$tree/cats/001.png" "$tmp/out" | sed -n 2p | awk '{print $2, $3}')
if [ -n "$one" ] && [ "$one" = "$many" ]; then ok predict_batched_same_answer; else bad predict_batched_same_answer "'$one' vs '$many'"; fi
# thumbnails: the longer side 160, aspect kept (a 40 x 20 photo: 160 x 80)
size=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(*struct.unpack(">II", d[16:24]))' "$tmp/p/a/thumb.png")
if [ "$size" = "160 80" ]; then ok thumbnail_160_aspect; else bad thumbnail_160_aspect "$size"; fi
# keys, in the order of the spec
keys=$(python3 -c 'import json,sys; print(",".join(k for k, _ in json.loads(open(sys.argv[1]).readline(), object_pairs_hook=list)))' "$tmp/p/manifest.jsonl")
if [ "$keys" = "index,input,out,status,error,top_class,top_name,top_prob,picture,thumbnail,numbers,seconds" ]; then
    ok manifest_keys_in_order
else
    bad manifest_keys_in_order "$keys"
fi
if grep -q "image 6/6" "$tmp/err" && [ "$(grep -c 'cnnviz: image [0-9]*/6 ' "$tmp/err")" -eq 6 ]; then
    ok progress_line_per_image
else
    bad progress_line_per_image "$(cat "$tmp/err")"
fi
"$cli" predict --model $m $pre --img "$tree" --out "$tmp/pq" -q > /dev/null 2> "$tmp/err"
if [ ! -s "$tmp/err" ]; then ok quiet_silences_progress; else bad quiet_silences_progress "$(cat "$tmp/err")"; fi

# --out inside the folder walked: the last run's pictures are not images
"$cli" predict --model $m $pre --img "$tree" --out "$tree/out" -q > /dev/null 2>&1
"$cli" predict --model $m $pre --img "$tree" --out "$tree/out" -q > /dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l < "$tree/out/manifest.jsonl")" -eq 6 ]; then ok out_inside_input_not_walked
else bad out_inside_input_not_walked "rc $rc; $(wc -l < "$tree/out/manifest.jsonl") lines"; fi
# nor is another batch run's output in it (the folder with .cnnviz-batch)
"$cli" predict --model $m $pre --img "$tree" --out "$tmp/elsewhere" -q > /dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l < "$tmp/elsewhere/manifest.jsonl")" -eq 6 ]; then ok other_batch_output_not_walked
else bad other_batch_output_not_walked "rc $rc; $(wc -l < "$tmp/elsewhere/manifest.jsonl") lines"; fi
rm -rf "$tree/out"

# ---- --list from a file and from stdin, in the order given, with --img ----
printf '%s\n' "./models/samples/trouser.png" "$tmp/gen" "" "models/samples/../samples/bag.png" > "$tmp/list"
"$cli" predict --model $m $pre --img models/samples/sandal.png --list "$tmp/list" --out "$tmp/l" -q > /dev/null 2>&1; rc=$?
got=$(field "$tmp/l/manifest.jsonl" out | tr '\n' ' ' | sed 's/ $//')
want="models/samples/sandal models/samples/trouser deep/er/g2 g0 wide models/samples/__/samples/bag"
if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then ok list_file_order_and_mapping; else bad list_file_order_and_mapping "rc $rc; '$got'"; fi
printf '%s\n' models/samples/bag.png models/samples/coat.png | \
    "$cli" occlusion --model $m $pre --list - --occ_size 8 --stride 10 --out "$tmp/s" -q > /dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l < "$tmp/s/manifest.jsonl")" -eq 2 ] &&
        [ -f "$tmp/s/models/samples/coat/overlay_alpha.png" ]; then
    ok list_from_stdin
else
    bad list_from_stdin "rc $rc"
fi
"$cli" predict --model $m $pre --img "$PWD/models/samples/bag.png" --img models/samples/coat.png --out "$tmp/abs" -q \
    > /dev/null 2>&1
got=$(field "$tmp/abs/manifest.jsonl" out | sed -n 1p)
if [ "$got" = "${PWD#/}/models/samples/bag" ]; then ok absolute_path_under_out; else bad absolute_path_under_out "$got"; fi

# ---- collisions: one folder for two images, a folder inside another's ----
mkdir -p "$tmp/c/a"
cp models/samples/bag.png "$tmp/c/a.png"; cp models/samples/bag.png "$tmp/c/x.png"
"$cli" predict --model $m $pre --img "$tmp/c/a.png" --img "$tmp/c/a.png" --out "$tmp/c1" > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "two images map to the folder" "$tmp/err" && [ ! -e "$tmp/c1" ]; then
    ok collision_is_usage_error
else
    bad collision_is_usage_error "rc $rc; $(cat "$tmp/err")"
fi
cp models/samples/bag.png "$tmp/c/a/b.png"
"$cli" predict --model $m $pre --img "$tmp/c" --out "$tmp/c2" > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "inside image folder 'a'" "$tmp/err"; then ok nested_folder_is_usage_error
else bad nested_folder_is_usage_error "rc $rc; $(cat "$tmp/err")"; fi

mkdir -p "$tmp/rs" && cp models/samples/bag.png "$tmp/rs/manifest-0-of-2.jsonl.png"
"$cli" predict --model $m $pre --img "$tmp/rs" --img models/samples/bag.png --out "$tmp/c3" > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "would clash with what cnnviz writes" "$tmp/err"; then ok reserved_folder_is_usage_error
else bad reserved_folder_is_usage_error "rc $rc; $(cat "$tmp/err")"; fi

# ---- every image command in batch mode ----
two="--img models/samples/bag.png --img models/samples/coat.png"
"$cli" occlusion --model $m $pre $two --occ_size 8 --stride 10 --out "$tmp/o" -q > /dev/null 2>&1; rc=$?
pic=$(field "$tmp/o/manifest.jsonl" picture | sed -n 1p)
if [ $rc -eq 0 ] && [ "$pic" = overlay_alpha.png ] && [ -f "$tmp/o/models/samples/bag/probs.npy" ] &&
        grep -q '"numbers":{"target":8,"target_prob":' "$tmp/o/manifest.jsonl"; then
    ok occlusion_batch
else
    bad occlusion_batch "rc $rc; $(head -n 1 "$tmp/o/manifest.jsonl")"
fi
# each image's files are those of a run on that image alone
"$cli" occlusion --model $m $pre --img models/samples/coat.png --occ_size 8 --stride 10 --out "$tmp/o1" -q > /dev/null 2>&1
if cmp -s "$tmp/o1/probs.npy" "$tmp/o/models/samples/coat/probs.npy" &&
        cmp -s "$tmp/o1/overlay_alpha.png" "$tmp/o/models/samples/coat/overlay_alpha.png"; then
    ok occlusion_batch_equals_single
else
    bad occlusion_batch_equals_single "probs.npy or overlay_alpha.png differ"
fi
"$cli" explain --model $m $pre $two --method gradcam,ig --baseline blur --steps 8 --out "$tmp/e" -q > /dev/null 2>&1; rc=$?
pic=$(field "$tmp/e/manifest.jsonl" picture | sed -n 1p)
"$cli" explain --model $m $pre --img models/samples/coat.png --method gradcam,ig --baseline blur --steps 8 \
    --out "$tmp/e1" -q > /dev/null 2>&1
if [ $rc -eq 0 ] && [ "$pic" = gradcam/overlay.png ] && [ -f "$tmp/e/models/samples/coat/ig/map.npy" ] &&
        cmp -s "$tmp/e1/ig/attribution.npy" "$tmp/e/models/samples/coat/ig/attribution.npy" &&
        cmp -s "$tmp/e1/gradcam/map.npy" "$tmp/e/models/samples/coat/gradcam/map.npy"; then
    ok explain_batch_equals_single
else
    bad explain_batch_equals_single "rc $rc; picture '$pic'"
fi
"$cli" eval --model $m $pre $two --map "$tmp/e/{}/gradcam/map.npy" --steps 10 --out "$tmp/v" -q > /dev/null 2>&1; rc=$?
"$cli" eval --model $m $pre --img models/samples/coat.png --map "$tmp/e1/gradcam/map.npy" --steps 10 --out "$tmp/v1" -q \
    > /dev/null 2>&1
if [ $rc -eq 0 ] && grep -q '"picture":"curves.png"' "$tmp/v/manifest.jsonl" && grep -q '"deletion_auc":' "$tmp/v/manifest.jsonl" &&
        cmp -s "$tmp/v1/curves.csv" "$tmp/v/models/samples/coat/curves.csv"; then
    ok eval_batch_map_template
else
    bad eval_batch_map_template "rc $rc"
fi
"$cli" eval --model $m $pre --img "$tree/cats" --map "$tmp/p" --steps 4 --out "$tmp/v2" -q > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 1 ] && grep -q '"status":"failed","error":".*001/map.npy' "$tmp/v2/manifest.jsonl"; then
    ok eval_batch_map_folder
else
    bad eval_batch_map_folder "rc $rc; $(cat "$tmp/err")"
fi
"$cli" filters --model $m $pre --layer conv1 --num_filters 2 --iterations 2 $two --out "$tmp/f" -q > /dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ -f "$tmp/f/models/samples/coat/grid.png" ] && grep -q '"picture":"grid.png"' "$tmp/f/manifest.jsonl"; then
    ok filters_batch
else
    bad filters_batch "rc $rc"
fi

# ---- a failed image: exit 1, its line failed, the others ok ----
mkdir -p "$tmp/bad"
cp models/samples/bag.png models/samples/coat.png "$tmp/bad/"
printf '\211PNG\r\n\032\nnot really' > "$tmp/bad/broken.png"
"$cli" occlusion --model $m $pre --img "$tmp/bad" --occ_size 8 --stride 10 --out "$tmp/fo" > /dev/null 2> "$tmp/err"; rc=$?
st=$(field "$tmp/fo/manifest.jsonl" status | tr '\n' ' ')
line=$(grep broken "$tmp/fo/manifest.jsonl")
if [ $rc -eq 1 ] && [ "$st" = "ok failed ok " ] && grep -q "broken.png" "$tmp/err" &&
        echo "$line" | grep -q '"error":"[^"]*broken.png[^"]*","top_class":null,"top_name":null,"top_prob":null,"picture":null,"thumbnail":null,"numbers":{}' &&
        [ ! -e "$tmp/fo/broken" ] && [ -f "$tmp/fo/coat/overlay_alpha.png" ]; then
    ok failed_image_recorded_run_goes_on
else
    bad failed_image_recorded_run_goes_on "rc $rc; statuses '$st'; $line"
fi

# ---- --resume: done images kept, a half-done one (no line) redone ----
"$cli" occlusion --model $m $pre --img "$tree" --occ_size 8 --stride 10 --out "$tmp/r" -q > /dev/null 2>&1
strip "$tmp/r/manifest.jsonl" > "$tmp/r.full"
head -n 2 "$tmp/r/manifest.jsonl" > "$tmp/r.head" && cp "$tmp/r.head" "$tmp/r/manifest.jsonl"
printf '{"index":2,"inp' >> "$tmp/r/manifest.jsonl" # a torn line (a full disk): ignored, and ended
mkdir -p "$tmp/r/cats/002.tmp-Ab12Cd" && echo half > "$tmp/r/cats/002.tmp-Ab12Cd/probs.npy" # a killed run's staging
kept=$(ls -i "$tmp/r/B/probs.npy" | awk '{print $1}')
redo=$(ls -i "$tmp/r/cats/001/probs.npy" | awk '{print $1}')
"$cli" occlusion --model $m $pre --img "$tree" --occ_size 8 --stride 10 --out "$tmp/r" --resume > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "2 of 6 images already done, 4 to do" "$tmp/err" &&
        [ "$(ls -i "$tmp/r/B/probs.npy" | awk '{print $1}')" = "$kept" ] &&
        [ "$(ls -i "$tmp/r/cats/001/probs.npy" | awk '{print $1}')" != "$redo" ] &&
        strip "$tmp/r/manifest.jsonl" | grep -v '"inp$' | cmp -s - "$tmp/r.full" && ! ls -d "$tmp/r/cats/"*.previous-* > /dev/null 2>&1 &&
        [ ! -e "$tmp/r/cats/002.tmp-Ab12Cd" ]; then
    ok resume_skips_done_redoes_half_done
else
    bad resume_skips_done_redoes_half_done "rc $rc; $(cat "$tmp/err")"
fi

# ---- --shard K/N: three concurrent shards into one --out ----
for k in 0 1 2; do
    "$cli" occlusion --model $m $pre --img "$tree" --img "$tmp/bad" --occ_size 8 --stride 10 --out "$tmp/sh" \
        --shard $k/3 -q > /dev/null 2>&1 &
done
wait
"$cli" occlusion --model $m $pre --img "$tree" --img "$tmp/bad" --occ_size 8 --stride 10 --out "$tmp/single" -q \
    > /dev/null 2>&1
idx=$(cat "$tmp/sh"/manifest-*-of-3.jsonl | python3 -c 'import json,sys; print(sorted(json.loads(l)["index"] for l in sys.stdin))')
part=$(field "$tmp/sh/manifest-1-of-3.jsonl" index | tr '\n' ' ')
if [ "$idx" = "[0, 1, 2, 3, 4, 5, 6, 7, 8]" ] && [ "$part" = "1 4 7 " ]; then
    ok shards_partition_the_images
else
    bad shards_partition_the_images "$idx; shard 1: $part"
fi
"$cli" merge-manifests --out "$tmp/sh" -q; rc=$?
if [ $rc -eq 0 ] && strip "$tmp/sh/manifest.jsonl" | cmp -s - "$(strip "$tmp/single/manifest.jsonl" > "$tmp/sm"; echo "$tmp/sm")"; then
    ok merge_equals_single_process
else
    bad merge_equals_single_process "rc $rc; $(strip "$tmp/sh/manifest.jsonl" | diff - "$tmp/sm" | head -n 4)"
fi
if diff -r -x 'manifest*.jsonl' "$tmp/sh" "$tmp/single" > "$tmp/d" 2>&1; then
    ok shard_outputs_byte_identical
else
    bad shard_outputs_byte_identical "$(head -n 4 "$tmp/d")"
fi
# a shard run again replaces only its own manifest and folders
before=$(cat "$tmp/sh/manifest-1-of-3.jsonl" | md5sum)
"$cli" occlusion --model $m $pre --img "$tree" --img "$tmp/bad" --occ_size 8 --stride 10 --out "$tmp/sh" --shard 0/3 -q \
    > /dev/null 2>&1
if [ "$(md5sum < "$tmp/sh/manifest-1-of-3.jsonl")" = "$before" ] && [ -f "$tmp/sh/a/probs.npy" ]; then
    ok shard_leaves_others_alone
else
    bad shard_leaves_others_alone "shard 1's manifest or folder changed"
fi
"$cli" predict --model $m $pre --img "$tree" --out "$tmp/x" --shard 3/3 > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "0 <= K < N" "$tmp/err"; then ok shard_out_of_range_usage; else bad shard_out_of_range_usage "rc $rc"; fi
"$cli" predict --model $m $pre --img models/samples/bag.png --shard 0/2 > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "for batch mode" "$tmp/err"; then ok shard_needs_batch_mode; else bad shard_needs_batch_mode "rc $rc"; fi

# ---- Slurm's and Kubernetes' defaults ----
SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_COUNT=2 \
    "$cli" predict --model $m $pre --img "$tree" --out "$tmp/slurm" > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 0 ] && grep -q "note: shard 1/2 from Slurm" "$tmp/err" && [ ! -e "$tmp/slurm/manifest.jsonl" ] &&
        [ "$(field "$tmp/slurm/manifest-1-of-2.jsonl" index | tr '\n' ' ')" = "1 3 5 " ]; then
    ok slurm_array_default
else
    bad slurm_array_default "rc $rc; $(cat "$tmp/err")"
fi
SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=2 "$cli" predict --model $m $pre --img "$tree" --out "$tmp/slurm2" \
    > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "give --shard K/N" "$tmp/err"; then ok slurm_bad_array_usage; else bad slurm_bad_array_usage "rc $rc"; fi
JOB_COMPLETION_INDEX=2 "$cli" predict --model $m $pre --img "$tree" --out "$tmp/k8s" --shard-count 3 > /dev/null 2> "$tmp/err"
if grep -q "shard 2/3 from JOB_COMPLETION_INDEX" "$tmp/err" && [ "$(field "$tmp/k8s/manifest-2-of-3.jsonl" index | tr '\n' ' ')" = "2 5 " ]; then
    ok kubernetes_indexed_job
else
    bad kubernetes_indexed_job "$(cat "$tmp/err")"
fi

# ---- the --out root: someone else's folder is refused without --force ----
mkdir -p "$tmp/theirs" && echo precious > "$tmp/theirs/thesis.tex"
"$cli" predict --model $m $pre $two --out "$tmp/theirs" > /dev/null 2> "$tmp/err"; rc=$?
if [ $rc -eq 1 ] && grep -q "not made by cnnviz" "$tmp/err" && [ ! -e "$tmp/theirs/manifest.jsonl" ]; then
    ok foreign_out_refused
else
    bad foreign_out_refused "rc $rc"
fi
"$cli" predict --model $m $pre $two --out "$tmp/theirs" --force -q > /dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/theirs/thesis.tex")" = precious ] && [ -f "$tmp/theirs/manifest.jsonl" ]; then
    ok force_writes_beside
else
    bad force_writes_beside "rc $rc"
fi

# ---- --html: the gallery page beside the manifest, one card per image ----
"$cli" occlusion --model $m $pre --img models/samples --occ_size 8 --stride 10 --html --out "$tmp/html" -q \
    > /dev/null 2>&1; rc=$?
cards=$(grep -o 'class="card[ "]' "$tmp/html/index.html" 2>/dev/null | wc -l)
lines=$(wc -l < "$tmp/html/manifest.jsonl" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$cards" -gt 0 ] && [ "$cards" -eq "$lines" ]; then
    ok html_gallery
else
    bad html_gallery "rc $rc, $cards cards for $lines manifest lines"
fi
"$cli" occlusion --model $m $pre --img models/samples/bag.png --html --out "$tmp/html1" -q > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok html_needs_batch || bad html_needs_batch "one image with --html: exit $rc"

# ---- one --img FILE is as before: no manifest, outputs in --out itself ----
"$cli" occlusion --model $m $pre --img models/samples/bag.png --occ_size 8 --stride 10 --out "$tmp/one" -q > /dev/null 2>&1
if [ -f "$tmp/one/probs.npy" ] && [ ! -e "$tmp/one/manifest.jsonl" ] && [ ! -e "$tmp/one/thumb.png" ]; then
    ok single_image_unchanged
else
    bad single_image_unchanged "$(ls "$tmp/one")"
fi
echo "$name: $pass passed, $fail failed, $skip skipped"
