"""Finding and opening libcnnviz.so (cffi, ABI mode: no compiler needed),
the library's errors as Python exceptions, and calls that Ctrl-C can stop."""

import ctypes.util
import glob
import os
import re
import shutil
import subprocess
import threading

import cffi

from . import _cdef

ffi = cffi.FFI()
ffi.cdef(_cdef.TYPES)
ffi.cdef(_cdef.FUNCS)
ffi.cdef(_cdef.VERSION_FUNC)

# python/cnnviz/ -> the source tree's root, for an in-tree build
_TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pkg_config_libdir():
    if not shutil.which("pkg-config"):
        return None
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "cnnviz"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    d = out.stdout.strip()
    return d if out.returncode == 0 and d else None


def _in_dir(d):
    """libcnnviz.so in d, else its versioned names (libcnnviz.so.0, ...)."""
    if not d:
        return []
    plain = os.path.join(d, "libcnnviz.so")
    versioned = sorted(glob.glob(os.path.join(d, "libcnnviz.so.*")), key=len)
    return [p for p in [plain] + versioned if os.path.isfile(p)]


def candidates():
    """Where the library is looked for, in order, as (how, path) pairs:
    $CNNVIZ_LIBRARY (a file), pkg-config's libdir for cnnviz, the in-tree
    build ($CNNVIZ_BUILD or build/ beside python/), the system loader."""
    env = os.environ.get("CNNVIZ_LIBRARY")
    if env:
        return [("CNNVIZ_LIBRARY", env)]  # named: nothing else is tried
    out = [("pkg-config", p) for p in _in_dir(_pkg_config_libdir())]
    build = os.environ.get("CNNVIZ_BUILD") or os.path.join(_TREE, "build")
    out += [("in-tree build", p) for p in _in_dir(os.path.abspath(build))]
    found = ctypes.util.find_library("cnnviz")
    out += [("system loader", found or "libcnnviz.so")]
    return out


def _open():
    tried = []
    for how, path in candidates():
        try:
            return ffi.dlopen(path), path
        except OSError as e:
            tried.append("%s: %s (%s)" % (how, path, e))
    raise ImportError("cnnviz: cannot load libcnnviz.so; tried\n  " + "\n  ".join(tried) +
                      "\nBuild it (make build/libcnnviz.so), install it (make install: pkg-config finds it), "
                      "or set CNNVIZ_LIBRARY to its path.")


# OpenMP and OpenBLAS read these when they load, so they are set before
# the library is: OpenBLAS single-threaded (the library runs its products
# on OpenMP's threads, src/core/blas.h), and OpenMP's idle threads spinning
# briefly (10000 spins, not libgomp's 300000), which on a machine busy
# with other work is five times faster and on a quiet one the same (the CLI does the same: cli/main.c). A value the user set, or a
# runtime already loaded by another module, is left as it is.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

lib, library_path = _open()


def _header_version():
    """CV_VERSION from the header beside the library (for a library built
    before cv_version() existed): "MAJOR.MINOR.PATCH" or a quoted string."""
    d = os.path.dirname(os.path.abspath(library_path))
    for h in [os.path.join(_TREE, "include", "cnnviz.h"), os.path.join(d, "..", "include", "cnnviz.h"),
              os.path.join(d, "..", "include", "cnnviz", "cnnviz.h")]:
        try:
            text = open(h, encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        nums = [re.search(r"#define\s+CNNVIZ_VERSION_%s\s+(\d+)" % k, text) for k in ("MAJOR", "MINOR", "PATCH")]
        if all(nums):
            return ".".join(n.group(1) for n in nums)
        m = re.search(r'#define\s+CV_VERSION\s+"([^"]+)"', text)
        if m:
            return m.group(1)
    return "unknown"


def version():
    """The library's release: cv_version() when it has one."""
    try:
        fn = lib.cv_version
    except AttributeError:
        return _header_version()
    return ffi.string(fn()).decode()


# ---- errors ---------------------------------------------------------------------


class Error(Exception):
    """A cnnviz library call failed. .status is the cv_status name
    ("CV_ERR_FORMAT", ...), .message the library's one-line message."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class FileError(Error, OSError):
    """CV_ERR_IO: a file could not be opened, read or written."""
    status = "CV_ERR_IO"


class FormatError(Error, ValueError):
    """CV_ERR_FORMAT: a file is not what it claims to be (corrupt, truncated)."""
    status = "CV_ERR_FORMAT"


class InvalidError(Error, ValueError):
    """CV_ERR_INVALID: a bad argument, or an inconsistent model."""
    status = "CV_ERR_INVALID"


class UnsupportedError(Error):
    """CV_ERR_UNSUPPORTED: valid, but not implemented by cnnviz."""
    status = "CV_ERR_UNSUPPORTED"


class ShapeError(Error, ValueError):
    """CV_ERR_SHAPE: tensor shapes do not fit together."""
    status = "CV_ERR_SHAPE"


class OutOfMemoryError(Error, MemoryError):
    """CV_ERR_NOMEM: an allocation failed."""
    status = "CV_ERR_NOMEM"


class LimitError(Error):
    """CV_ERR_LIMIT: a size exceeds a configured limit (max_memory, ...)."""
    status = "CV_ERR_LIMIT"


class CancelledError(Error):
    """CV_ERR_CANCELLED: the call was cancelled (the binding turns a Ctrl-C
    into KeyboardInterrupt; this is seen when a progress callback raised)."""
    status = "CV_ERR_CANCELLED"


_BY_STATUS = {getattr(lib, c.status): c for c in (FileError, FormatError, InvalidError, UnsupportedError,
                                                   ShapeError, OutOfMemoryError, LimitError, CancelledError)}


def new_error():
    return ffi.new("cv_error *")


def raise_for(status, err):
    """Raise the exception for a cv_status other than CV_OK, with err's message."""
    if status == lib.CV_OK:
        return
    cls = _BY_STATUS.get(status, Error)
    msg = ffi.string(err.msg).decode("utf-8", "replace") if err is not None else ""
    if not msg:
        msg = ffi.string(lib.cv_status_string(status)).decode()
    raise cls(msg) if cls is not Error else Error(msg, "status %d" % status)


def text(p):
    """A C string as str (None for NULL)."""
    return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


# ---- long calls ---------------------------------------------------------------------


class Cancel:
    """The int the library's options point at (options.cancel), and what a
    progress callback raised."""

    def __init__(self):
        self.flag = ffi.new("int *")
        self.error = None

    def set(self):
        self.flag[0] = 1


def interruptible(fn, cancel, hold=()):
    """fn() (which makes library calls with options.cancel = cancel.flag),
    so that Ctrl-C stops it. cffi releases the GIL in a C call, but Python
    runs its SIGINT handler only in the main thread between bytecodes: in
    the main thread, fn runs in a worker while this thread waits; a
    KeyboardInterrupt here sets the flag, the library stops after the batch
    under way (CV_ERR_CANCELLED), and the KeyboardInterrupt goes on. Other
    threads get no signals: fn runs in place. hold: what the C call reads
    (buffers, the progress callback), kept alive by the worker itself, so
    that a second Ctrl-C, which ends the wait, cannot free them under it."""
    if threading.current_thread() is not threading.main_thread():
        return _finish(fn, cancel)
    box = {}

    def work():
        box["hold"] = hold
        try:
            box["value"] = _finish(fn, cancel)
        except BaseException as e:  # handed to the waiting thread
            box["error"] = e

    t = threading.Thread(target=work, name="cnnviz", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.1)
    except KeyboardInterrupt:
        cancel.set()
        t.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def _finish(fn, cancel):
    try:
        return fn()
    except CancelledError:
        if cancel.error is not None:  # a progress callback raised: that is the error
            raise cancel.error
        raise
