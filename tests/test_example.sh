#!/bin/sh
# examples/classify.c builds against the public headers alone (-Iinclude,
# nothing from src/) and libcnnviz.a, and prints for every bundled sample
# the same top 3 classes and probabilities as `cnnviz predict`: what a C
# user needs lives in the library, and the CLI is a thin layer over it.
# Run by tests/run.sh within `make check`.
cd "$(dirname "$0")/.." || exit 1
name=example
BUILD=${BUILD:-build}
if [ ! -f "$BUILD/libcnnviz.a" ] || [ ! -x "$BUILD/cnnviz" ]; then
    echo "SKIP classify_matches_predict ($BUILD/libcnnviz.a or $BUILD/cnnviz missing: run make)"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=$(mktemp -d /tmp/cnnviz-test-example-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
libs=$(pkg-config --libs hdf5 openblas libprotobuf-c libpng libjpeg libcjson)
# -Iinclude only: an example that needs an internal header fails here.
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror -Iinclude examples/classify.c "$BUILD/libcnnviz.a" \
        -fopenmp $libs -lm -o "$tmp/classify" 2> "$tmp/cc.log"; then
    echo "PASS example_builds_from_public_headers"
    pass=$((pass + 1))
else
    echo "FAIL example_builds_from_public_headers"; sed 's/^/    /' "$tmp/cc.log"
    echo "$name: $pass passed, 1 failed, 0 skipped"
    exit 1
fi
bad=0 n=0
for img in models/samples/*.png; do
    # "rank index probability" from each: predict prints "  1. Name  9  0.9990"
    "$tmp/classify" models/fashion_cnn.onnx "$img" 3 2> "$tmp/err" | awk '{print $1, $(NF-1), $NF}' > "$tmp/ours"
    "$BUILD/cnnviz" predict --model models/fashion_cnn.onnx --img "$img" --top 3 2> /dev/null |
        awk 'NR > 1 {sub(/\./, "", $1); print $1, $(NF-1), $NF}' > "$tmp/cli"
    n=$((n + 1))
    if [ ! -s "$tmp/ours" ] || [ "$(wc -l < "$tmp/ours")" -ne 3 ] || ! cmp -s "$tmp/ours" "$tmp/cli"; then
        echo "    $img: classify and cnnviz predict differ:"; paste "$tmp/ours" "$tmp/cli" | sed 's/^/      /'
        sed 's/^/      stderr: /' "$tmp/err"
        bad=$((bad + 1))
    fi
done
echo "    $n samples: classify and cnnviz predict agree on $((n - bad)) (top 3, index and probability)"
if [ "$bad" -eq 0 ] && [ "$n" -gt 0 ]; then
    echo "PASS classify_matches_predict"; pass=$((pass + 1))
else
    echo "FAIL classify_matches_predict"; fail=$((fail + 1))
fi
echo "$name: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
