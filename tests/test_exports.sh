#!/bin/sh
# libcnnviz.so exports exactly the public API: the functions the headers
# in include/ declare (every one marked CV_API), and nothing else: no
# internal function that crosses files, no symbol of a bundled library.
# The declared list comes from the compiler (gcc -aux-info writes every
# prototype it sees, with its file), not from grepping the headers, so a
# declaration split over lines or missing CV_API is still counted. Also:
# the soname and the links beside the library follow the version in
# include/cnnviz.h. Run by tests/run.sh within `make check`.
cd "$(dirname "$0")/.." || exit 1
name=exports
BUILD=${BUILD:-build}
so="$BUILD/libcnnviz.so"
if [ ! -f "$so" ]; then
    echo "SKIP so_exports_the_public_api ($so missing: run make)"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
# -aux-info is gcc's; CC may be clang (it has no such option).
gcc=${CC:-cc}
"$gcc" --version 2>/dev/null | grep -qi 'free software foundation' || gcc=gcc
if ! command -v "$gcc" > /dev/null 2>&1 || ! command -v nm > /dev/null 2>&1; then
    echo "SKIP so_exports_the_public_api (needs gcc for -aux-info and nm)"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=$(mktemp -d /tmp/cnnviz-test-exports-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }

# Every public header, included once.
for h in include/*.h; do echo "#include \"$(basename "$h")\""; done > "$tmp/all.c"
if ! "$gcc" -std=c11 -Iinclude -fsyntax-only -aux-info "$tmp/aux" "$tmp/all.c" 2> "$tmp/cc.log"; then
    ko public_headers_compile; sed 's/^/    /' "$tmp/cc.log"
    echo "$name: $pass passed, $fail failed, 0 skipped"
    exit 1
fi
# "/* include/cnnviz.h:90:NC */ extern const char *cv_status_string (cv_status);"
# -> cv_status_string: the identifier before the parameter list.
grep -E "^/\\* ([^ ]*/)?include/cnnviz[a-z_]*\\.h:" "$tmp/aux" |
    sed -E 's/^\/\*[^*]*\*\/ *//; s/ *\(.*//; s/.*[ *]//' | sort -u > "$tmp/declared"
nm -D --defined-only "$so" | awk '$2 ~ /^[TtWwDdBbRrVvi]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"
nd=$(wc -l < "$tmp/declared") ne=$(wc -l < "$tmp/exported")
echo "    $nd functions declared in include/*.h, $ne symbols exported by $so"
comm -23 "$tmp/declared" "$tmp/exported" > "$tmp/missing"
comm -13 "$tmp/declared" "$tmp/exported" > "$tmp/extra"
if [ "$nd" -gt 100 ] && [ ! -s "$tmp/missing" ]; then
    ok declared_functions_are_exported
else
    ko declared_functions_are_exported
    echo "    declared but not exported (no CV_API, or not defined in the library):"
    sed 's/^/      /' "$tmp/missing"
fi
if [ ! -s "$tmp/extra" ]; then
    ok only_declared_functions_are_exported
else
    ko only_declared_functions_are_exported
    echo "    exported but declared in no public header (internal: drop CV_API / make static):"
    sed 's/^/      /' "$tmp/extra"
fi

# The version in one place: the soname and file names follow the header.
part() { sed -n "s/^#define CNNVIZ_VERSION_$1  *\\([0-9][0-9]*\\).*/\\1/p" include/cnnviz.h; }
v="$(part MAJOR).$(part MINOR).$(part PATCH)"
soname=$(readelf -d "$so" 2> /dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
real=$(readlink -f "$so")
if [ "$soname" = "libcnnviz.so.$(part MAJOR)" ] && [ "$(basename "$real")" = "libcnnviz.so.$v" ] &&
    [ -L "$BUILD/libcnnviz.so.$(part MAJOR)" ]; then
    ok soname_follows_header_version
else
    ko soname_follows_header_version
    echo "    header $v: soname '$soname', $so -> $real (want libcnnviz.so.$(part MAJOR) -> libcnnviz.so.$v)"
fi
echo "$name: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
