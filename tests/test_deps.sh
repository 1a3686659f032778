#!/bin/sh
# Every system header the code includes must come from a Debian package that
# scripts/install-deps.sh installs, directly or as a dependency: otherwise a
# fresh machine cannot build (this happened with libstb-dev). Run by
# tests/run.sh within `make check`; skips visibly where dpkg/apt are missing.
cd "$(dirname "$0")/.." || exit 1
name=deps
if ! command -v dpkg >/dev/null || ! command -v apt-cache >/dev/null || ! command -v cpp >/dev/null; then
    echo "SKIP headers_from_installed_packages (no dpkg/apt-cache/cpp: not a Debian machine)"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
# What CI installs: the PKGS list (optional groups are not on a fresh machine).
base=$(sed -n '/^PKGS="/,/"/p' scripts/install-deps.sh | sed 's/^PKGS="//; s/".*//' | tr -s ' \n' ' ')
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
          --no-replaces --no-enhances $base 2>/dev/null | grep -v '^ ' | sort -u)
if [ -z "$closure" ]; then
    echo "SKIP headers_from_installed_packages (apt-cache knows none of: $base)"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
cflags="$(pkg-config --cflags hdf5 openblas libprotobuf-c libpng libjpeg libcjson cairo 2>/dev/null) -fopenmp"
headers=$( { git grep -hoE '^#include <[^>]+>' -- '*.c' '*.h' 2>/dev/null;
             [ -d build/gen ] && grep -hoE '^#include <[^>]+>' build/gen/*.h; } |
           sed 's/#include <//; s/>//' | sort -u)
# A header the code includes only under __has_include(<h>) is optional by
# construction (valgrind's client requests, say): the build works without it.
optional=$(git grep -hoE '__has_include\(<[^>]+>\)' -- '*.c' '*.h' 2>/dev/null |
           sed 's/__has_include(<//; s/>)//' | sort -u)
bad=0 checked=0
for h in $headers; do
    echo "$optional" | grep -qxF "$h" && continue
    f=$(echo "#include <$h>" | cpp -xc -H $cflags - 2>&1 >/dev/null | grep -m1 -E '^\. ' | cut -c3-)
    if [ -z "$f" ]; then
        echo "    <$h> is not found by the compiler: install its package (scripts/install-deps.sh)"
        bad=$((bad + 1))
        continue
    fi
    p=$(dpkg -S "$(readlink -f "$f")" 2>/dev/null | head -n 1 | cut -d: -f1)
    [ -n "$p" ] || p=$(dpkg -S "$f" 2>/dev/null | head -n 1 | cut -d: -f1)
    checked=$((checked + 1))
    case "$p" in
        "") echo "    <$h> ($f) belongs to no Debian package: installed by hand?"; bad=$((bad + 1)) ;;
        libc6-dev|linux-libc-dev|libgcc-*-dev|gcc-*) ;; # the compiler's own, from build-essential
        *) echo "$closure" | grep -qx "$p" ||
           { echo "    <$h> comes from $p, which scripts/install-deps.sh does not install"; bad=$((bad + 1)); } ;;
    esac
done
if [ "$bad" -eq 0 ]; then
    echo "PASS headers_from_installed_packages ($checked headers, all from install-deps.sh's packages)"
    echo "$name: 1 passed, 0 failed, 0 skipped"
else
    echo "FAIL headers_from_installed_packages ($bad of $checked headers)"
    echo "$name: 0 passed, 1 failed, 0 skipped"
fi
