#!/bin/sh
# The library as a user gets it: `make install` into a temporary prefix,
# then every program in examples/ built from a copy outside the tree with
# nothing but `pkg-config cnnviz` from that prefix, linked against the
# shared library and again against the static one (pkg-config --static),
# and run on the bundled model: classify prints the top classes the
# installed `cnnviz predict` prints, occlusion writes the probs.npy the
# installed `cnnviz occlusion` writes (byte for byte), filters the
# activations of `cnnviz filters` and a PNG grid of the right size.
# Then `make uninstall` leaves nothing behind. Run by tests/run.sh within
# `make check` (and again, on the same build/, by make check-asan: the
# examples are not built with the sanitizers).
cd "$(dirname "$0")/.." || exit 1
name=install
BUILD=${BUILD:-build}
CC=${CC:-cc}
skip() {
    echo "SKIP $1"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
}
[ -f "$BUILD/libcnnviz.so" ] && [ -x "$BUILD/cnnviz" ] || skip "install_and_build_examples ($BUILD/libcnnviz.so or $BUILD/cnnviz missing: run make)"
command -v pkg-config > /dev/null || skip "install_and_build_examples (no pkg-config: scripts/install-deps.sh)"
tmp=$(mktemp -d /tmp/cnnviz-test-install-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
finish() {
    echo "$name: $pass passed, $fail failed, 0 skipped"
    [ "$fail" -eq 0 ]
    exit
}

# A make of its own: not the jobserver of a `make check` this runs under.
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install PREFIX="$prefix" BUILD="$BUILD" > "$tmp/install.log" 2>&1; then
    ok make_install
else
    ko make_install; sed 's/^/    /' "$tmp/install.log"; finish
fi
part() { sed -n "s/^#define CNNVIZ_VERSION_$1  *\\([0-9][0-9]*\\).*/\\1/p" include/cnnviz.h; }
version="$(part MAJOR).$(part MINOR).$(part PATCH)"
missing=""
for f in bin/cnnviz lib/libcnnviz.a lib/libcnnviz.so.$version lib/pkgconfig/cnnviz.pc share/man/man1/cnnviz.1 \
        $(cd include && ls *.h | sed 's|^|include/cnnviz/|'); do
    [ -f "$prefix/$f" ] || missing="$missing $f"
done
for l in libcnnviz.so libcnnviz.so.$(part MAJOR); do
    [ -L "$prefix/lib/$l" ] && [ "$(readlink -f "$prefix/lib/$l")" = "$prefix/lib/libcnnviz.so.$version" ] ||
        missing="$missing lib/$l (a link to libcnnviz.so.$version)"
done
if [ -z "$missing" ]; then
    ok installed_files
else
    ko installed_files; echo "    missing under $prefix:$missing"
fi

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
got=$(pkg-config --modversion cnnviz 2>&1)
if [ "$got" = "$version" ] && [ "$("$prefix/bin/cnnviz" --version)" = "cnnviz $version" ]; then
    ok pkg_config_version
else
    ko pkg_config_version; echo "    pkg-config --modversion cnnviz: '$got', cnnviz --version: '$("$prefix/bin/cnnviz" --version)', header: $version"
fi

# The examples, copied out of the tree so that only the installed headers
# can be found; shared: -lcnnviz, libcnnviz.so.MAJOR found at run time
# through LD_LIBRARY_PATH; static: libcnnviz.a (-Wl,-Bstatic picks it over
# the .so in the same folder) and the libraries pkg-config --static names.
mkdir -p "$tmp/src" "$tmp/bin"
cp examples/*.c "$tmp/src/"
cflags=$(pkg-config --cflags cnnviz) libs=$(pkg-config --libs cnnviz)
static_libs=$(pkg-config --static --libs cnnviz | sed 's/-lcnnviz/-Wl,-Bstatic -lcnnviz -Wl,-Bdynamic/')
built=0 bad=""
for src in "$tmp"/src/*.c; do
    e=$(basename "$src" .c)
    # shellcheck disable=SC2086
    # (the flags before the source, as a user may write them: cnnviz.pc
    # keeps the library when the toolchain links --as-needed)
    if ! (cd "$tmp" && $CC -std=c11 -Wall -Wextra -Werror $cflags $libs "$src" -o "bin/$e.shared") > "$tmp/cc.log" 2>&1 ||
        ! (cd "$tmp" && $CC -std=c11 -Wall -Wextra -Werror $cflags "$src" $static_libs -o "bin/$e.static") >> "$tmp/cc.log" 2>&1; then
        bad="$bad $e"; sed 's/^/      /' "$tmp/cc.log"; continue
    fi
    # the shared one needs libcnnviz.so.MAJOR, the static one does not
    if ! readelf -d "$tmp/bin/$e.shared" | grep -q "NEEDED.*\\[libcnnviz.so.$(part MAJOR)\\]" ||
        readelf -d "$tmp/bin/$e.static" | grep -q 'NEEDED.*libcnnviz'; then
        bad="$bad $e(linked-wrong)"; continue
    fi
    built=$((built + 1))
done
echo "    cc $cflags $libs EXAMPLE.c"
echo "    cc $cflags EXAMPLE.c $static_libs"
if [ -z "$bad" ] && [ "$built" -ge 3 ]; then
    ok examples_build_shared_and_static
else
    ko examples_build_shared_and_static; echo "    $built examples built; failed:$bad"
fi

export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cnnviz="$prefix/bin/cnnviz"
model=models/fashion_cnn.onnx

# classify: rank, index and probability of the top 3, as predict's table
n=0 diff=0
for img in models/samples/*.png; do
    "$cnnviz" predict --model $model --img "$img" --top 3 2> /dev/null |
        awk 'NR > 1 {sub(/\./, "", $1); print $1, $(NF-1), $NF}' > "$tmp/cli"
    for kind in shared static; do
        "$tmp/bin/classify.$kind" $model "$img" 3 2> "$tmp/err" | awk '{print $1, $(NF-1), $NF}' > "$tmp/ours"
        n=$((n + 1))
        if [ "$(wc -l < "$tmp/cli")" -ne 3 ] || ! cmp -s "$tmp/ours" "$tmp/cli"; then
            diff=$((diff + 1)); echo "    $img ($kind): classify and cnnviz predict differ:"
            paste "$tmp/ours" "$tmp/cli" | sed 's/^/      /'; sed 's/^/      stderr: /' "$tmp/err"
        fi
    done
done
echo "    classify (shared, static) and cnnviz predict agree on $((n - diff)) of $n runs (top 3)"
[ "$diff" -eq 0 ] && [ "$n" -ge 2 ] && ok classify_matches_predict || ko classify_matches_predict

# occlusion: the same probs.npy, byte for byte
diff=0 n=0
for img in models/samples/bag.png models/samples/sneaker.png; do
    rm -rf "$tmp/occ"
    "$cnnviz" occlusion --model $model --img "$img" --occ_size 8 --stride 2 --out "$tmp/occ" -q > /dev/null 2>&1
    for kind in shared static; do
        n=$((n + 1))
        "$tmp/bin/occlusion.$kind" $model "$img" "$tmp/map.npy" 8 2 > "$tmp/out" 2>&1
        if [ ! -s "$tmp/occ/probs.npy" ] || ! cmp -s "$tmp/map.npy" "$tmp/occ/probs.npy"; then
            diff=$((diff + 1)); echo "    $img ($kind): map.npy differs from cnnviz occlusion's probs.npy"
            sed 's/^/      /' "$tmp/out"
        fi
    done
done
echo "    occlusion: $((n - diff)) of $n maps equal to cnnviz occlusion's probs.npy; $(sed -n 1p "$tmp/out")"
[ "$diff" -eq 0 ] && ok occlusion_matches_cli || ko occlusion_matches_cli

# filters: the activations of filters.txt, and a 2 x 2 grid of 28-pixel
# tiles 5 apart (61 x 61) in a PNG: its signature, then IHDR's width and height
rm -rf "$tmp/fil"
"$cnnviz" filters --model $model --layer conv2 --filters 0,1,2,3 --out "$tmp/fil" -q > /dev/null 2>&1
grep -v '^#' "$tmp/fil/filters.txt" 2> /dev/null | tr '\t' ' ' > "$tmp/cli"
diff=0
for kind in shared static; do
    "$tmp/bin/filters.$kind" $model conv2 "$tmp/grid.png" 4 > "$tmp/out" 2>&1
    sed -n 's/^filter \([0-9]*\): mean activation \([^ ]*\) (\(.*\))$/\1 \2 \3/p' "$tmp/out" > "$tmp/ours"
    head=$(od -An -tx1 -N24 "$tmp/grid.png" 2> /dev/null | tr -d ' \n')
    if [ "$(wc -l < "$tmp/cli")" -ne 4 ] || ! cmp -s "$tmp/ours" "$tmp/cli" ||
        [ "$head" != "89504e470d0a1a0a0000000d494844520000003d0000003d" ]; then
        diff=$((diff + 1)); echo "    filters ($kind): activations or grid.png differ (PNG header $head):"
        paste "$tmp/ours" "$tmp/cli" | sed 's/^/      /'; sed 's/^/      out: /' "$tmp/out"
    fi
done
echo "    filters: $(tail -n 1 "$tmp/out")"
[ "$diff" -eq 0 ] && ok filters_match_cli || ko filters_match_cli

if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s uninstall PREFIX="$prefix" BUILD="$BUILD" > "$tmp/uninstall.log" 2>&1 &&
    [ -z "$(find "$prefix" ! -type d)" ]; then
    ok make_uninstall_removes_everything
else
    ko make_uninstall_removes_everything; find "$prefix" ! -type d | sed 's/^/    left: /'
    sed 's/^/    /' "$tmp/uninstall.log"
fi
finish
