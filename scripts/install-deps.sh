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
set -e
PKGS="build-essential pkg-config libopenblas-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      libpng-dev libjpeg-dev libcairo2-dev fonts-dejavu-core libgif-dev libhdf5-dev libcjson-dev libonnx-testdata libstb-dev valgrind"
PY_PKGS="python3-torch python3-torchvision python3-onnx python3-h5py python3-numpy dataset-fashion-mnist"
FUZZ_PKGS="clang libclang-rt-14-dev libomp-14-dev"
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
