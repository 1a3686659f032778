#!/bin/sh
# Install the Debian packages cnnviz needs to build and test.
# --if-missing: only call apt-get when something is missing (for `make demo`).
# --with-python: also PyTorch & co., for regenerating fixtures and benchmarks.
# --with-fuzz: also clang and its libFuzzer/sanitizer runtimes, for `make fuzz`
#   (not needed by CI: `make check-asan` uses gcc's sanitizers).
# --with-valgrind: also valgrind, for `make check-valgrind`.
# --with-browser: also chromium, for the gallery's browser test (tests/test_gallery.c
#   installs it itself when missing and root).
# --with-slurm: also slurm-wlm, munge and procps (pgrep), for `make check-slurm` (mk/slurm.mk).
# python3 (its standard library only) makes test PNGs and reads manifests in tests/test_batch.sh.
set -e
# libgfortran-12-dev: openblas.pc's Libs.private names -lgfortran, so a
# static link through `pkg-config --static --libs cnnviz` needs it
# (tests/test_install.sh). man-db, groff-base: tests/test_man.sh renders
# build/cnnviz.1.
PKGS="build-essential pkg-config libopenblas-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      libpng-dev libjpeg-dev libcairo2-dev fonts-dejavu-core libgif-dev libhdf5-dev libcjson-dev libonnx-testdata libstb-dev valgrind
      libgfortran-12-dev man-db groff-base python3"
PY_PKGS="python3-torch python3-torchvision python3-onnx python3-h5py python3-numpy dataset-fashion-mnist"
FUZZ_PKGS="clang libclang-rt-14-dev libomp-14-dev"
# Always, as PKGS: the Python binding (python/) and tests/test_python.sh:
# NumPy, cffi, matplotlib (the README's example), pip/setuptools/wheel (the
# offline install test). A line of its own (and not the PKGS="..." block that
# tests/test_deps.sh reads: these ship no C headers).
PKGS=$PKGS' python3-numpy python3-cffi python3-matplotlib python3-pip python3-setuptools python3-wheel'
want="$PKGS"
for a in "$@"; do
    case "$a" in
        --with-python) want="$want $PY_PKGS" ;;
        --with-fuzz) want="$want $FUZZ_PKGS" ;;
        --with-valgrind) want="$want valgrind" ;;
        --with-browser) want="$want chromium" ;;
        --with-slurm) want="$want slurm-wlm munge procps" ;;
    esac
done
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
