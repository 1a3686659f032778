"""cnnviz: see what image classifiers see, from Python with NumPy.

A thin binding (cffi, ABI mode) over libcnnviz, the C library behind the
`cnnviz` tool: the numbers are the library's, computed as the tool computes
them, so ``cnnviz.occlusion(model, "cat.png")`` equals the probs.npy of
``cnnviz occlusion --model ... --img cat.png`` bit for bit.

    import cnnviz
    model = cnnviz.Model("models/fashion_cnn.onnx")
    p = model.predict("models/samples/sneaker.png")        # float32 [classes]
    heat = cnnviz.occlusion(model, "models/samples/sneaker.png", occ_size=8, stride=2)
    cam = cnnviz.explain(model, "models/samples/sneaker.png", method="gradcam")

Inputs: a C-contiguous float32 array is passed to the library as it is (no
copy); other arrays are converted once. Outputs are new NumPy arrays.
Errors raise cnnviz.Error subclasses carrying the library's message. The
long calls (occlusion, explain, filters) release the GIL and stop on
Ctrl-C (KeyboardInterrupt) after the batch under way.
"""

import os
import warnings

import numpy as np

from . import _lib
from ._lib import (CancelledError, Error, FileError, FormatError, InvalidError, LimitError, OutOfMemoryError,
                   ShapeError, UnsupportedError, ffi, lib)

__all__ = ["Model", "occlusion", "explain", "filters", "explain_methods", "Error", "FileError", "FormatError",
           "InvalidError", "UnsupportedError", "ShapeError", "OutOfMemoryError", "LimitError", "CancelledError",
           "library_path", "__version__"]

__version__ = _lib.version()
library_path = _lib.library_path

_FITS = ("squash", "crop", "pad")
_INTERPS = {"antialias": lib.CV_RESIZE_ANTIALIAS, "bilinear": lib.CV_RESIZE_BILINEAR}


def _check(status, err):
    _lib.raise_for(status, err)


def _float_input(x):
    """x as a C-contiguous float32 array (itself when it is one: no copy)
    and a float * into it."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    return a, ffi.cast("float *", ffi.from_buffer(a))


def _shape(dims):
    if len(dims) > 8:
        raise ValueError("cnnviz tensors have at most 8 dimensions, got %d" % len(dims))
    s = ffi.new("cv_shape *")
    s.ndim = len(dims)
    for k, d in enumerate(dims):
        s.d[k] = int(d)
    return s


def _dims(s):
    return tuple(int(s.d[k]) for k in range(s.ndim))


def _copy_floats(ptr, dims):
    n = int(np.prod(dims, dtype=np.int64)) if dims else 1
    return np.frombuffer(ffi.buffer(ptr, 4 * n), dtype=np.float32).reshape(dims).copy()


def _mem(max_memory):
    return int(max_memory or 0)


_IMAGE_TYPES = ("an image is a path, an H x W x 3 (or H x W) uint8 RGB array (for matplotlib's imread floats in "
                "[0, 1]: (img * 255).round().astype(np.uint8)), or a float32 model input [1, C, H, W] "
                "([1, H, W, C] channels-last)")


class _Image:
    """An image for the library: a file (loaded by the library, within the
    model's memory limit) or an H x W x 3 uint8 array (borrowed, no copy
    when C-contiguous). close() frees what the library allocated."""

    def __init__(self, image, max_memory):
        self.img = ffi.new("cv_image *")
        self.owned = False
        self.array = None
        if isinstance(image, (str, bytes, os.PathLike)):
            err = _lib.new_error()
            _check(lib.cv_image_load_limited(self.img, os.fsencode(image), _mem(max_memory), err), err)
            self.owned = True
            return
        a = np.asarray(image)
        if a.dtype != np.uint8:
            raise TypeError(_IMAGE_TYPES + ", got a %s array of shape %s" % (a.dtype, a.shape))
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError("an image array is H x W x 3 (RGB) or H x W (grey), got shape %s" % (a.shape,))
        self.array = np.ascontiguousarray(a)
        self.img.h, self.img.w, self.img.c = self.array.shape[0], self.array.shape[1], 3
        self.img.px = ffi.cast("uint8_t *", ffi.from_buffer(self.array))

    def replace(self, other):
        """Take the library-allocated image other in place of this one."""
        self.close()
        self.img, self.owned, self.array = other, True, None

    def close(self):
        if self.owned:
            lib.cv_image_free(self.img)
            self.owned = False


class Model:
    """A classifier loaded by libcnnviz (ONNX .onnx or Keras HDF5 .h5).

    Preprocessing and class names are resolved as the cnnviz tool resolves
    them, by the same library calls: preprocess="auto" takes what the model
    declares (its metadata, or its sidecar "<model>.cnnviz.json", which
    cv_model_load applies), else assumes one with a warning (raw for Keras
    files, torch otherwise); a preset name ("raw", "caffe", "tf", "torch",
    "unit") overrides it, then bgr, mean and std refine it. labels: a file
    of class names, a list of names, or None for the model's own (its
    metadata, the sidecar's labels, or labels.txt beside the model).
    resize ("squash", "crop", "pad") and interp ("antialias", "bilinear")
    bring an image to the input size, as --resize and --interp do.
    max_memory: bytes the model and every run may use (0: what is available).
    """

    def __init__(self, path, preprocess="auto", labels=None, *, bgr=False, mean=None, std=None, max_memory=0,
                 keras_config=None, flip_kernels=False, resize="squash", interp="antialias"):
        if resize not in _FITS:
            raise ValueError("resize must be one of %s, got %r" % (", ".join(_FITS), resize))
        if interp not in _INTERPS:
            raise ValueError("interp must be antialias or bilinear, got %r" % (interp,))
        self._m = None
        self._labels = None
        self.max_memory = _mem(max_memory)
        self.resize, self.interp = resize, interp
        err = _lib.new_error()
        opt = ffi.new("cv_load_options *")
        cfg = ffi.new("char[]", os.fsencode(keras_config)) if keras_config else ffi.NULL
        opt.keras_config = cfg
        opt.keras_flip_kernels = 1 if flip_kernels else 0
        opt.max_memory = self.max_memory
        out = ffi.new("cv_model **")
        _check(lib.cv_model_load(out, os.fsencode(path), opt, err), err)
        self._m = out[0]
        self._set_preprocess(preprocess, bgr, mean, std)
        self._set_labels(labels)

    # ---- setup -------------------------------------------------------------------

    def _set_preprocess(self, name, bgr, mean, std):
        err = _lib.new_error()
        self._pre = ffi.new("cv_preprocess *")
        self.preprocessing_assumed = False
        if name == "auto":
            assumed = ffi.new("int *")
            _check(lib.cv_preprocess_auto(self._pre, self._m, assumed, err), err)
            if assumed[0]:
                self.preprocessing_assumed = True
                warnings.warn("%s declares no preprocessing; assuming %s. Answers are wrong if the model was "
                              "trained otherwise: pass preprocess=, or declare it once with `cnnviz config --model "
                              "%s --preprocess raw|caffe|tf|torch|unit [--bgr]`"
                              % (self.path, "raw 0..255 RGB" if self.preprocess["name"] == "raw"
                                 else "torch (RGB/255, ImageNet mean/std)", self.path), stacklevel=3)
        else:
            _check(lib.cv_preprocess_preset(self._pre, str(name).encode(), err), err)
        if bgr:
            self._pre.bgr = 1
        for values, setter in ((mean, lib.cv_preprocess_set_mean), (std, lib.cv_preprocess_set_std)):
            if values is not None:
                csv = values if isinstance(values, str) else ",".join(repr(float(v)) for v in np.ravel(values))
                _check(setter(self._pre, csv.encode(), err), err)

    def _set_labels(self, labels):
        err = _lib.new_error()
        self._labels = ffi.new("cv_labels *")
        self._label_keep = None
        if labels is None:
            if lib.cv_labels_for_model(self._labels, self._m, self.max_memory, err) != lib.CV_OK:
                warnings.warn("%s (class names are not used)" % _lib.text(err.msg), stacklevel=3)
        elif isinstance(labels, (str, bytes, os.PathLike)):
            _check(lib.cv_labels_read(self._labels, os.fsencode(labels), self.max_memory, err), err)
        else:  # a list of names, held here for cv_labels_find
            names = [ffi.new("char[]", str(s).encode()) for s in labels]
            arr = ffi.new("char *[]", names)
            self._label_keep = (names, arr)
            self._labels.n, self._labels.names = len(names), arr

    @property
    def labels(self):
        """The class names (an empty list when the model has none)."""
        return [_lib.text(self._labels.names[k]) for k in range(self._labels.n)]

    def close(self):
        """Free the model now (otherwise when the object goes)."""
        if getattr(self, "_labels", None) is not None and self._label_keep is None:
            lib.cv_labels_free(self._labels)
        self._labels = None
        if getattr(self, "_m", None):
            lib.cv_model_free(self._m)
            self._m = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ptr(self):
        if not self._m:
            raise ValueError("the model is closed")
        return self._m

    # ---- what the model is -----------------------------------------------------------

    @property
    def path(self):
        return _lib.text(lib.cv_model_path(self._ptr()))

    @property
    def input_name(self):
        return _lib.text(lib.cv_model_input_name(self._ptr()))

    @property
    def input_shape(self):
        """The declared input shape (-1 for a free dimension)."""
        return _dims(lib.cv_model_input_shape(self._ptr()))

    @property
    def nhwc(self):
        """True when the input is channels-last (N, H, W, C)."""
        return bool(lib.cv_model_input_nhwc(self._ptr()))

    @property
    def num_outputs(self):
        return lib.cv_model_num_outputs(self._ptr())

    @property
    def config_source(self):
        """The sidecar file (<model>.cnnviz.json) that was applied, or None."""
        return _lib.text(lib.cv_model_config_source(self._ptr()))

    @property
    def preprocess(self):
        """The preprocessing in use: v = (pixel * scale - mean[c]) / std[c]."""
        p = self._pre
        return {"name": ffi.string(p.name).decode(), "bgr": bool(p.bgr), "scale": float(p.scale),
                "mean": [float(v) for v in p.mean], "std": [float(v) for v in p.std]}

    def meta(self, key):
        """A metadata value of the model file, or None."""
        return _lib.text(lib.cv_model_meta(self._ptr(), key.encode()))

    def __repr__(self):
        return "cnnviz.Model(%r, input %s %s, preprocess %s)" % (self.path, self.input_name, self.input_shape,
                                                                self.preprocess["name"])

    # ---- layers ----------------------------------------------------------------------

    def layer_index(self, layer):
        """A layer by node index, or by node or output tensor name (the
        library's message lists close names when there is none)."""
        n = lib.cv_model_num_layers(self._ptr())
        if isinstance(layer, str):
            try:
                layer = int(layer)
            except ValueError:
                err = _lib.new_error()
                k = lib.cv_model_find_layer(self._m, layer.encode(), err)
                if k < 0:
                    raise InvalidError(_lib.text(err.msg))
                return k
        layer = int(layer)
        if layer < 0 or layer >= n:
            raise InvalidError("layer %d is out of range: the model has %d layers (0..%d)" % (layer, n, n - 1))
        return layer

    def layers(self, size=None):
        """Every layer as a dict: index, name, op, output (its first output
        tensor), shape (planned for one input), params and macs
        (multiply-adds), as `cnnviz layers` lists them."""
        shape = self.input_shape
        if len(shape) == 4:
            shape = _dims(lib.cv_input_shape(self._geometry(size, None), 1))
        else:
            shape = tuple(1 if d < 0 else d for d in shape)
        err = _lib.new_error()
        run = ffi.new("cv_run **")
        opt = ffi.new("cv_run_options *", lib.cv_run_defaults())
        _check(lib.cv_run_create(run, self._m, _shape(shape), opt, err), err)
        try:
            out = []
            for k in range(lib.cv_model_num_layers(self._m)):
                s = _dims(lib.cv_run_layer_shape(run[0], k))
                out.append({"index": k, "name": _lib.text(lib.cv_model_layer_name(self._m, k)),
                            "op": _lib.text(lib.cv_model_layer_op(self._m, k)),
                            "output": _lib.text(lib.cv_model_layer_output(self._m, k)),
                            "shape": s or None, "params": int(lib.cv_model_layer_params(self._m, k)),
                            "macs": float(lib.cv_run_layer_macs(run[0], k))})
            return out
        finally:
            lib.cv_run_free(run[0])

    # ---- inputs ----------------------------------------------------------------------

    def _geometry(self, size, default):
        """The input as an image (cv_input_geometry): size overrides the
        model's; default only fills a size the model leaves free (as each
        command's --size does)."""
        g = ffi.new("cv_input_geometry *")
        err = _lib.new_error()
        s = int(size) if size else 0
        st = lib.cv_model_input_geometry(self._ptr(), s, s, g, err)
        if st == lib.CV_ERR_INVALID and not s and default:
            st = lib.cv_model_input_geometry(self._m, default, default, g, err)
        if st == lib.CV_ERR_INVALID and not s:
            raise InvalidError("%s (pass size=)" % _lib.text(err.msg))
        _check(st, err)
        return g

    def _fit(self, image, g):
        """resize crop|pad: the photo at the input's aspect, pad bands in the
        colour the preprocessing maps to 0 (as the tool's --resize)."""
        if self.resize == "squash":
            return
        fit = ffi.new("cv_fit *")
        lib.cv_fit_from_name(self.resize.encode(), fit)
        p = self._pre
        neutral = ffi.new("uint8_t[3]")
        for c in range(3):
            v = np.float32(p.mean[2 - c if p.bgr else c]) / np.float32(p.scale)
            neutral[c] = 0 if v < 0 else 255 if v > 255 else int(v + np.float32(0.5))
        out = ffi.new("cv_image *")
        err = _lib.new_error()
        _check(lib.cv_image_fit(out, image.img, g.width, g.height, fit[0], neutral, err), err)
        image.replace(out)

    def input_from_image(self, image, size=None, _default=None):
        """An image (a path, or an H x W x 3 uint8 RGB array) as the
        model's input: float32 [1, C, H, W] ([1, H, W, C] for channels-last
        models), resized and preprocessed as the tool does."""
        return self._image_input(image, self._geometry(size, _default))

    def _image_input(self, image, g):
        im = _Image(image, self.max_memory)
        try:
            self._fit(im, g)
            x = np.empty(_dims(lib.cv_input_shape(g, 1)), dtype=np.float32)
            err = _lib.new_error()
            _check(lib.cv_input_from_image(ffi.cast("float *", ffi.from_buffer(x)), im.img, g, self._pre,
                                           _INTERPS[self.interp], err), err)
            return x
        finally:
            im.close()

    def _input(self, image, size, default):
        """(x, geometry) for the image commands: an image, or a float32
        model input [1, C, H, W] / [1, H, W, C] used as it is (the tool's
        --input)."""
        if isinstance(image, np.ndarray) and image.dtype != np.uint8:
            if image.ndim != 4:
                raise TypeError(_IMAGE_TYPES + ", got a %s array of shape %s" % (image.dtype, image.shape))
            x, _ = _float_input(image)
            nhwc = self.nhwc
            if x.shape[0] != 1:
                raise ValueError("a model input is one image, %s; got shape %s"
                                 % ("[1, H, W, C] (the model is channels-last)" if nhwc else "[1, C, H, W]",
                                    x.shape))
            g = ffi.new("cv_input_geometry *")
            g.nhwc = int(nhwc)
            g.channels = x.shape[3 if nhwc else 1]
            g.height, g.width = (x.shape[1], x.shape[2]) if nhwc else (x.shape[2], x.shape[3])
            return x, g
        g = self._geometry(size, default)
        return self._image_input(image, g), g

    def target_index(self, target):
        """A class: None (-1: the top-1), an index, or a name looked up in
        the labels (the library's message suggests close names)."""
        if target is None:
            return -1
        if isinstance(target, str):
            try:
                target = int(target)
            except ValueError:
                if not self._labels.n:
                    raise InvalidError("class %r is a name, but the model has no class names (pass labels= or "
                                       "an index)" % target)
                err = _lib.new_error()
                k = lib.cv_labels_find(self._labels, target.encode(), err)
                if k < 0:
                    raise InvalidError(_lib.text(err.msg))
                return k
        target = int(target)
        if target < 0:
            raise InvalidError("class %d is out of range" % target)
        return target

    # ---- running ---------------------------------------------------------------------

    def run(self, x, layer=None):
        """Run the network on x (float32, the model's input layout, batch
        included; a C-contiguous float32 array is not copied) and return
        output 0, or the first output of layer (a name or index), as a new
        array: what `cnnviz run --input X.npy [--layer L]` writes."""
        x, px = _float_input(x)
        opt = ffi.new("cv_run_options *", lib.cv_run_defaults())
        if layer is not None:
            opt.stop_layer = self.layer_index(layer)
        err = _lib.new_error()
        run = ffi.new("cv_run **")
        _check(lib.cv_run_create(run, self._ptr(), _shape(x.shape), opt, err), err)
        try:
            _check(lib.cv_run_forward(run[0], px, err), err)
            t = lib.cv_run_output(run[0], 0)
            dims = _dims(t.shape)
            if t.dtype == lib.CV_I64:
                n = int(lib.cv_shape_numel(ffi.addressof(t, "shape")))
                return np.frombuffer(ffi.buffer(t.i, 8 * n), dtype=np.int64).reshape(dims).copy()
            return _copy_floats(t.f, dims)
        finally:
            lib.cv_run_free(run[0])

    def predict(self, image, size=None):
        """Class probabilities (float32 [classes]) for an image (a path, an
        H x W x 3 uint8 array, or a float32 model input [1, C, H, W]): the
        softmax of output 0, unless it already is a distribution, as
        `cnnviz predict` prints them."""
        x, _ = self._input(image, size, None)
        y = self.run(x)
        scores = np.ascontiguousarray(y.reshape(y.shape[0] if y.ndim else 1, -1)[0])
        probs = np.empty_like(scores)
        lib.cv_scores_to_probabilities(ffi.cast("float *", ffi.from_buffer(probs)),
                                       ffi.cast("float *", ffi.from_buffer(scores)), scores.size)
        return probs

    def top(self, probs, k=5):
        """The k most likely classes of probs (predict's result) as
        (index, name, probability), highest first, ties in index order."""
        p = np.ascontiguousarray(probs, dtype=np.float32)
        idx = ffi.new("int[]", max(1, k))
        n = lib.cv_topk(idx, k, ffi.cast("float *", ffi.from_buffer(p)), p.size)
        names = self.labels
        return [(idx[i], names[idx[i]] if idx[i] < len(names) else None, float(p[idx[i]])) for i in range(n)]


# ---- occlusion ---------------------------------------------------------------------

_ENGINES = {"auto": lib.CV_OCCLUSION_ENGINE_AUTO, "full": lib.CV_OCCLUSION_ENGINE_FULL,
            "incremental": lib.CV_OCCLUSION_ENGINE_INCREMENTAL}


def _progress_callback(signature, progress, cancel, convert):
    """A C progress callback calling progress(...); an exception in it
    cancels the run and is raised in its place."""
    if progress is None:
        return ffi.NULL

    def onerror(exc_type, exc, tb):
        if cancel.error is None:
            cancel.error = exc
        cancel.set()

    def call(*args):
        progress(*convert(*args))

    return ffi.callback(signature, call, onerror=onerror)


def _fill(model, fill_spec, x, og, occ_size, p):
    """The occluder's fill into p (as --pixel): a grey level 0..255 in image
    space, "mean" (the image's mean colour) or "blur" (a Gaussian-blurred
    copy, sigma occ_size / 4). Returns what p.fill points at."""
    if isinstance(fill_spec, str) and fill_spec == "mean":
        lib.cv_occlusion_fill_mean(p.fill_value, ffi.cast("float *", ffi.from_buffer(x)), og)
        return None
    if isinstance(fill_spec, str) and fill_spec == "blur":
        blurred = np.empty_like(x)
        err = _lib.new_error()
        _check(lib.cv_occlusion_fill_blur(ffi.cast("float *", ffi.from_buffer(blurred)),
                                          ffi.cast("float *", ffi.from_buffer(x)), og, occ_size / 4.0, err), err)
        p.fill = ffi.cast("float *", ffi.from_buffer(blurred))
        return blurred
    grey = float(fill_spec)
    if not 0 <= grey <= 255:
        raise ValueError("pixel is a grey level 0..255, 'mean' or 'blur', got %r" % (fill_spec,))
    for c in range(og.channels):
        p.fill_value[c] = lib.cv_preprocess_value(model._pre, grey, c)
    return None


def occlusion(model, image, occ_size=40, stride=5, *, pixel=0, target=None, size=None, batch=0, engine="auto",
              score="prob", approx=False, tau=0.8, coarse=2, drill=0.1, progress=None, details=False):
    """Occlusion sensitivity: slide an occ_size square over the image (a
    path, an H x W x 3 uint8 array, or a float32 model input) with stride
    and return, for each position, the target's probability: float64
    [rows, cols], what `cnnviz occlusion` writes as probs.npy (the same
    defaults: size 224 for models whose input size is free, a black
    occluder, the top-1 class, engine auto).

    pixel: grey 0..255, "mean" or "blur"; target: index or name; score:
    "prob", "drop" (the fall from the unoccluded probability) or "logit"
    (the raw scores: logits.npy); approx, tau, coarse, drill: Krypton's
    approximate mode (the map is then NOT exact). progress(done, total) is
    called after each batch. details=True returns a dict with the map, the
    per-pixel attribution (map.npy), top_class, target, base_probs, engine.
    """
    if engine not in _ENGINES:
        raise ValueError("engine must be auto, full or incremental, got %r" % (engine,))
    if score not in ("prob", "drop", "logit"):
        raise ValueError("score must be prob, drop or logit, got %r" % (score,))
    x, g = model._input(image, size, 224)
    og = ffi.new("cv_occlusion_geometry *", [g.channels, g.height, g.width, g.nhwc])
    err = _lib.new_error()
    rows, cols = ffi.new("int *"), ffi.new("int *")
    _check(lib.cv_occlusion_grid_size(og, int(occ_size), int(stride), rows, cols, err), err)
    tgt = model.target_index(target)
    p = ffi.new("cv_occlusion_params *", lib.cv_occlusion_defaults())
    p.occ_size, p.stride, p.batch, p.max_memory = int(occ_size), int(stride), int(batch), model.max_memory
    p.engine = _ENGINES[engine]
    p.score = lib.CV_OCCLUSION_SCORE_RAW if score == "logit" else lib.CV_OCCLUSION_SCORE_AUTO
    p.approx.enabled = 1 if approx else 0
    p.approx.tau, p.approx.coarse_factor, p.approx.drill_fraction = float(tau), int(coarse), float(drill)
    keep = _fill(model, pixel, x, og, int(occ_size), p)
    cancel = _lib.Cancel()
    cb = _progress_callback("void(void *, long, long)", progress, cancel, lambda u, d, t: (d, t))
    p.progress, p.cancel = cb, cancel.flag
    px = ffi.cast("float *", ffi.from_buffer(x))
    out = np.empty((rows[0], cols[0]), dtype=np.float64)
    top = np.empty((rows[0], cols[0]), dtype=np.int32)

    def work():
        o = ffi.new("cv_occlusion **")
        e = _lib.new_error()
        try:
            _check(lib.cv_occlusion_create(o, model._ptr(), px, og, p, e), e)
            n = ffi.new("int *")
            probs = lib.cv_occlusion_base_probs(o[0], n)
            base = np.frombuffer(ffi.buffer(probs, 4 * n[0]), dtype=np.float32).copy()
            t = tgt
            if t >= n[0]:
                raise InvalidError("class %d is out of range: the model has %d classes (0..%d)"
                                   % (t, n[0], n[0] - 1))
            if t < 0:
                t = int(np.argmax(base))  # the first of equal maxima, as the tool
            _check(lib.cv_occlusion_run(o[0], t, ffi.cast("double *", ffi.from_buffer(out)),
                                        ffi.cast("int *", ffi.from_buffer(top)), ffi.NULL, e), e)
            return t, base, bool(lib.cv_occlusion_softmax_applied(o[0])), _lib.text(
                lib.cv_occlusion_engine_name(o[0]))
        finally:
            lib.cv_occlusion_free(o[0])

    t, base, softmaxed, engine_name = _lib.interruptible(work, cancel, hold=(cb, keep, x, p, og, out, top))
    heat = base[t].astype(np.float64) - out if score == "drop" else out
    if not details:
        return heat
    attr = np.empty((g.height, g.width), dtype=np.float32)
    _check(lib.cv_occlusion_attribution(ffi.cast("float *", ffi.from_buffer(attr)),
                                        ffi.cast("double *", ffi.from_buffer(out)), float(base[t]), og,
                                        int(occ_size), int(stride), err), err)
    return {"map": heat, "attribution": attr, "top_class": top, "target": t, "base_probs": base,
            "softmax_applied": softmaxed, "engine": engine_name, "input": x}


# ---- explain -----------------------------------------------------------------------


def explain_methods():
    """The method names explain() takes."""
    return [ffi.string(lib.cv_explain_method_name(k)).decode() for k in range(lib.CV_EXPLAIN_COUNT)]


def _baseline(model, spec, x, g):
    """IG's baseline x' as --baseline: "zero" (None: the library's zeros),
    "black", "blur", "mean", or an array in the input's shape."""
    if isinstance(spec, str) and spec == "zero":
        return None
    og = ffi.new("cv_occlusion_geometry *", [g.channels, g.height, g.width, g.nhwc])
    px = ffi.cast("float *", ffi.from_buffer(x))
    if isinstance(spec, str) and spec == "blur":
        b = np.empty_like(x)
        err = _lib.new_error()
        sigma = 0.05 * (g.height if g.height > g.width else g.width)
        _check(lib.cv_occlusion_fill_blur(ffi.cast("float *", ffi.from_buffer(b)), px, og, sigma, err), err)
        return b
    if isinstance(spec, str) and spec in ("black", "mean"):
        value = ffi.new("float[4]")
        if spec == "black":
            for c in range(g.channels):
                value[c] = lib.cv_preprocess_value(model._pre, 0.0, c)
        else:
            lib.cv_occlusion_fill_mean(value, px, og)
        v = np.array([value[c] for c in range(g.channels)], dtype=np.float32)
        return np.ascontiguousarray(np.broadcast_to(v if g.nhwc else v[:, None, None], x.shape[1:])).reshape(x.shape)
    if isinstance(spec, str):
        raise ValueError("baseline is zero, black, blur, mean or an array, got %r" % (spec,))
    b, _ = _float_input(spec)
    if b.shape != x.shape and b.shape != x.shape[1:]:
        raise ValueError("baseline shape %s, the model input is %s" % (b.shape, x.shape))
    return b


def explain(model, image, method="gradcam", *, target=None, layer=None, samples=None, sigma=0.15, seed=0, steps=50,
            baseline="zero", grid=7, keep=0.5, batch=0, size=None, progress=None, details=False):
    """An attribution map for one class, by one of explain_methods():
    what `cnnviz explain` writes as attribution.npy (float32: [C, H, W] in
    model-input space for the gradient methods, [h, w] at the layer for
    CAM methods, [H, W] for rise and guided-gradcam), with its defaults
    (size 224 for a free input size, the top-1 class, the last spatial
    layer for CAM methods, sigma 0.15, steps 50, grid 7, keep 0.5, seed 0).

    image: a path, an H x W x 3 uint8 array, or a float32 model input
    [1, C, H, W] (the tool's --input). samples: smoothgrad copies (50) or
    rise masks (4000). progress(done, total) after each batch of a sampled
    method. details=True returns a dict: attribution, map ([H, W] at the
    input's resolution: map.npy), target, score, probability, layer, ...
    """
    err = _lib.new_error()
    m = ffi.new("cv_explain_method *")
    _check(lib.cv_explain_method_from_name(m, str(method).encode(), err), err)
    tgt = model.target_index(target)
    x, g = model._input(image, size, 224)
    base = _baseline(model, baseline, x, g) if m[0] == lib.CV_EXPLAIN_IG else None
    o = ffi.new("cv_explain_options *", lib.cv_explain_defaults())
    o.layer = model.layer_index(layer) if layer is not None else -1
    o.samples = int(samples or 0)
    o.sigma, o.steps, o.seed = float(sigma), int(steps), int(seed)
    o.rise_grid, o.rise_p, o.batch, o.max_memory = int(grid), float(keep), int(batch), model.max_memory
    o.baseline = ffi.cast("float *", ffi.from_buffer(base)) if base is not None else ffi.NULL
    cancel = _lib.Cancel()
    cb = _progress_callback("void(void *, long, long)", progress, cancel, lambda u, d, t: (d, t))
    o.progress, o.cancel = cb, cancel.flag
    px = ffi.cast("float *", ffi.from_buffer(x))
    shape = _shape(x.shape)

    def work():
        ex = ffi.new("cv_explainer **")
        res = ffi.new("cv_explain_result *")
        e = _lib.new_error()
        try:
            _check(lib.cv_explainer_create(ex, model._ptr(), shape, px, o, e), e)
            n = ffi.new("int *")
            lib.cv_explainer_probs(ex[0], n)
            t = tgt if tgt >= 0 else lib.cv_explainer_top_class(ex[0])
            if t >= n[0]:
                raise InvalidError("class %d is out of range: the model has %d classes (0..%d)"
                                   % (t, n[0], n[0] - 1))
            _check(lib.cv_explain_run(ex[0], m[0], t, res, e), e)
            try:
                return {"attribution": _copy_floats(res.attribution, _dims(res.attr_shape)),
                        "map": _copy_floats(res.map, (res.height, res.width)), "method": str(method),
                        "target": res.target, "score": res.score, "probability": res.probability,
                        "layer": res.layer, "passes": res.passes, "batch": res.batch, "seconds": res.seconds,
                        "baseline_score": res.baseline_score, "attribution_sum": res.attribution_sum}
            finally:
                lib.cv_explain_result_free(res)
        finally:
            lib.cv_explainer_free(ex[0])

    out = _lib.interruptible(work, cancel, hold=(cb, base, x, o, shape, m))
    return out if details else out["attribution"]


# ---- filters -----------------------------------------------------------------------

_METHODS = {"seed": lib.CV_FILTERS_SEED, "lucid": lib.CV_FILTERS_LUCID}


def filters(model, layer=None, filters=None, *, target=None, num_filters=64, method="seed", iterations=None,
            image=None, size=None, seed=0, lr=0.05, batch=None, progress=None, details=False):
    """Images that excite filters (output channels) of layer most, by
    gradient ascent, as `cnnviz filters`: uint8 [count, H, W, 3] RGB
    pictures. filters: the channel indices, or None for num_filters drawn at
    random (sorted; all when the layer has no more) from seed. target (an
    index or a name) instead of layer and filters: the image the class's
    score (its logit, before a final Softmax) rises most for (--class).
    method: "seed" (the original tool's algorithm, 20 iterations; image=
    starts it from a picture instead of noise) or "lucid" (256). size 128
    for a free input size. progress(step, steps) after every iteration.
    details=True returns a dict: rgb, images (the final model inputs,
    [count, H, W, C]: filters.npy), filters, activation, dead, status.
    """
    if method not in _METHODS:
        raise ValueError("method must be seed or lucid, got %r" % (method,))
    if (target is None) == (layer is None) or (target is not None and filters is not None):
        raise ValueError("give layer (and filters), or target alone")
    if image is not None and method == "lucid":
        warnings.warn("image is not used by method lucid (it starts from a random spectrum)", stacklevel=2)
    if target is not None:
        k = lib.cv_model_class_score_layer(model._ptr(), ffi.new("int *"))
        if k < 0:
            raise InvalidError("%s: no layer gives class scores" % model.path)
        filters = [model.target_index(target)]
    else:
        k = model.layer_index(layer)
    g = model._geometry(size, 128)
    err = _lib.new_error()
    channels = ffi.new("int *")
    _check(lib.cv_filters_layer_channels(model._ptr(), k, g.height, g.width, channels, err), err)
    if target is not None and filters[0] >= channels[0]:
        raise InvalidError("class %d: layer '%s' scores %d classes"
                           % (filters[0], _lib.text(lib.cv_model_layer_name(model._m, k)), channels[0]))
    if filters is None:
        ks = ffi.new("int[]", max(1, min(int(num_filters), channels[0])))
        n = lib.cv_filters_choose(ks, int(num_filters), channels[0], int(seed))
    else:
        chosen = [int(f) for f in np.ravel(filters)]
        if not chosen:
            raise ValueError("filters is empty")
        ks, n = ffi.new("int[]", chosen), len(chosen)
    init = None
    if image is not None and method == "seed":
        init = model._image_input(image, g)
    o = ffi.new("cv_filters_options *", lib.cv_filters_defaults())
    o.method, o.layer, o.filters, o.n_filters = _METHODS[method], k, ks, n
    o.height, o.width = g.height, g.width
    o.iterations = int(iterations or 0)
    o.init = ffi.cast("float *", ffi.from_buffer(init)) if init is not None else ffi.NULL
    o.pre = model._pre[0]
    o.seed, o.lr = int(seed), float(lr)
    o.max_batch, o.max_memory = int(batch or 0), model.max_memory
    cancel = _lib.Cancel()
    cb = _progress_callback("void(void *, const cv_filters_progress *)", progress, cancel,
                            lambda u, p: (p.step, p.steps))
    o.progress, o.cancel = cb, cancel.flag

    def work():
        res = ffi.new("cv_filters_result *")
        e = _lib.new_error()
        _check(lib.cv_filters_run(res, model._ptr(), o, e), e)
        try:
            c, h, w, ch = res.count, res.height, res.width, res.channels
            rgb = np.frombuffer(ffi.buffer(res.rgb, c * h * w * 3), dtype=np.uint8).reshape(c, h, w, 3).copy()
            return {"rgb": rgb, "images": _copy_floats(res.images, (c, h, w, ch)),
                    "filters": [res.filters[i] for i in range(c)],
                    "activation": np.array([res.activation[i] for i in range(c)], dtype=np.float32),
                    "dead": [bool(res.dead[i]) for i in range(c)],
                    "status": [_lib.text(lib.cv_filters_status(res, i)) for i in range(c)],
                    "iterations": res.iterations, "n_chunks": res.n_chunks}
        finally:
            lib.cv_filters_result_free(res)

    out = _lib.interruptible(work, cancel, hold=(cb, init, ks, o))
    return out if details else out["rgb"]
