#!/bin/sh
# The Python binding (python/cnnviz) against the cnnviz tool: the same .npy
# outputs bit for bit, the cffi declarations against the headers, bad files
# raise, Ctrl-C stops a long call, pip installs it offline
# (python/tests/test_cnnviz.py prints the summary line). Run by tests/run.sh
# within `make check`, with Debian's /usr/bin/python3 (the python3 first on
# PATH may not see Debian's python3-numpy and python3-cffi).
cd "$(dirname "$0")/.." || exit 1
name=python
BUILD=${BUILD:-build}
PY=${CNNVIZ_PYTHON:-/usr/bin/python3}
skip() {
    echo "SKIP python_binding: $1"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
}
# make check-asan: libcnnviz.so built with -fsanitize=address cannot be
# loaded into an uninstrumented python without LD_PRELOAD=libasan.so, and
# then LeakSanitizer reports the interpreter's own allocations; the plain
# build's .so is what make check tests.
if [ -n "$ASAN_OPTIONS" ]; then
    skip "under AddressSanitizer (make check-asan): an ASan libcnnviz.so cannot be loaded by a plain python; make check runs these tests"
fi
[ -x "$PY" ] || skip "no $PY (Debian: python3)"
if ! missing=$("$PY" -c "
import importlib.util as u
print(' '.join(p for m, p in (('numpy', 'python3-numpy'), ('cffi', 'python3-cffi')) if not u.find_spec(m)))
" 2>&1); then
    skip "$PY does not run: $missing"
fi
[ -z "$missing" ] || skip "$PY lacks $missing (scripts/install-deps.sh installs them)"
lib=$BUILD/libcnnviz.so
[ -f "$lib" ] && [ -x "$BUILD/cnnviz" ] || skip "$lib or $BUILD/cnnviz missing: run make check (or make $lib)"
if command -v readelf >/dev/null && readelf -d "$lib" 2>/dev/null | grep -q 'libasan'; then
    skip "$lib is built with AddressSanitizer: a plain python cannot load it"
fi
BUILD=$BUILD exec "$PY" python/tests/test_cnnviz.py
