"""The Python binding against the cnnviz tool: the same model, image and
options give the same .npy files bit for bit; the cffi declarations match
the C headers; bad files raise; Ctrl-C stops a long call; the package
installs offline. Run by tests/test_python.sh (make check), or directly:

    /usr/bin/python3 python/tests/test_cnnviz.py [-v] [TestClass.test_name]

Prints PASS/FAIL/SKIP per test and a closing "python: N passed, N failed,
N skipped" line, as the C tests do. BUILD (default build) names the build
folder holding cnnviz and libcnnviz.so.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
CLI = os.path.join(BUILD, "cnnviz")
sys.path.insert(0, os.path.join(ROOT, "python"))
os.environ.setdefault("CNNVIZ_BUILD", BUILD)

import numpy as np  # noqa: E402

import cnnviz  # noqa: E402
from cnnviz import _cdef, _lib  # noqa: E402

FASHION = os.path.join(ROOT, "models", "fashion_cnn.onnx")
SAMPLES = sorted(os.path.join(ROOT, "models", "samples", f) for f in os.listdir(os.path.join(ROOT, "models", "samples"))
                 if f.endswith(".png"))
SHARED = os.path.join(ROOT, "..", "shared")
SQUEEZENET = os.path.join(SHARED, "models", "squeezenet1.1_fp16_imagenet", "SqueezeNet_fp16.onnx")
RESNET8 = os.path.join(SHARED, "models", "keras_resnet8_cifar10", "pretrainedResnet.h5")
CC = os.environ.get("CC", "cc")


def cli(*args, check=True):
    """Run the cnnviz tool; its stdout."""
    r = subprocess.run([CLI] + [str(a) for a in args] + ["-q"], capture_output=True, text=True, cwd=ROOT)
    if check and r.returncode != 0:
        raise AssertionError("cnnviz %s failed (%d):\n%s" % (" ".join(map(str, args)), r.returncode, r.stderr))
    return r.stdout


def same_bits(test, got, want, what):
    """got and want equal bit for bit (dtype, shape and every byte)."""
    test.assertEqual(got.dtype, want.dtype, what + ": dtype")
    test.assertEqual(got.shape, want.shape, what + ": shape")
    if got.tobytes() != want.tobytes():
        diff = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
        test.fail("%s: values differ (max |diff| %g)" % (what, diff))


def compile_and_run(test, source, run=True):
    """Compile a C program against include/ (and run it): its stdout."""
    if not shutil.which(CC):
        test.skipTest("no C compiler (%s) to check the declarations with" % CC)
    with tempfile.TemporaryDirectory(prefix="cnnviz-py-") as d:
        src, exe = os.path.join(d, "check.c"), os.path.join(d, "check")
        with open(src, "w") as f:
            f.write(source)
        flags = ["-std=c11", "-Werror=incompatible-pointer-types", "-I" + os.path.join(ROOT, "include")]
        r = subprocess.run([CC] + flags + ([src, "-o", exe] if run else ["-fsyntax-only", src]),
                           capture_output=True, text=True)
        test.assertEqual(r.returncode, 0, "the C compiler rejects the declarations:\n" + r.stderr[-4000:])
        return subprocess.run([exe], capture_output=True, text=True, check=True).stdout if run else ""


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cnnviz-test-python-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def out(self, name):
        return os.path.join(self.tmp, name)


# ---- the declarations and the library --------------------------------------------------


class Declarations(unittest.TestCase):
    """cffi's ABI mode trusts _cdef.py for every struct layout and call:
    here the C compiler checks it against include/*.h."""

    HEADERS = "".join('#include "%s"\n' % h for h in ("cnnviz.h", "cnnviz_io.h", "cnnviz_occlusion.h",
                                                       "cnnviz_explain.h", "cnnviz_viz.h"))

    def struct_types(self):
        ffi = cnnviz.ffi
        names = []
        for name in sorted(ffi.list_types()[0]):  # typedef names
            t = ffi.typeof(name)
            if t.kind == "struct" and t.fields is not None:
                names.append(name)
        return names

    def test_struct_layouts(self):
        ffi = cnnviz.ffi
        lines, want = [], []
        for name in self.struct_types():
            lines.append('printf("%%zu\\n", sizeof(%s));' % name)
            want.append("sizeof(%s) = %d" % (name, ffi.sizeof(name)))
            for field, _ in ffi.typeof(name).fields:
                lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (name, field))
                want.append("offsetof(%s, %s) = %d" % (name, field, ffi.offsetof(name, field)))
        self.assertGreater(len(want), 100, "the structs' fields were found")
        src = "#include <stddef.h>\n#include <stdio.h>\n" + self.HEADERS + "int main(void) {\n" + "\n".join(lines) + \
              "\nreturn 0;\n}\n"
        got = compile_and_run(self, src).split()
        self.assertEqual(len(got), len(want))
        bad = [w.rsplit("=", 1)[0] + "= %s in C, %s in _cdef.py" % (g, w.rsplit("= ", 1)[1])
               for g, w in zip(got, want) if w.endswith("= " + g) is False]
        self.assertEqual(bad, [], "layouts differ")

    def test_enum_values(self):
        ffi = cnnviz.ffi
        checks = []
        for name in sorted(ffi.list_types()[0]):
            t = ffi.typeof(name)
            if t.kind == "enum":
                for const, value in t.relements.items():
                    checks.append("_Static_assert(%s == %d, \"%s\");" % (const, value, const))
        self.assertGreater(len(checks), 30)
        compile_and_run(self, self.HEADERS + "\n".join(checks) + "\n", run=False)

    def test_function_signatures(self):
        """Every function the binding calls is declared in include/*.h (only
        those are exported from the library), with the same signature:
        redeclared after the headers, a differing one is 'conflicting types'."""
        import re
        headers = ""
        for h in sorted(os.listdir(os.path.join(ROOT, "include"))):
            with open(os.path.join(ROOT, "include", h)) as f:
                headers += f.read()
        names = re.findall(r"\b(cv_\w+)\(", _cdef.FUNCS)
        self.assertGreater(len(names), 60)
        undeclared = [n for n in names if not re.search(r"[\s*]%s\(" % n, headers)]
        self.assertEqual(undeclared, [], "called but not in include/*.h")
        src = self.HEADERS + _cdef.FUNCS
        if re.search(r"[\s*]cv_version\(void\)", headers):
            src += _cdef.VERSION_FUNC
        compile_and_run(self, src, run=False)

    def test_pkg_config_is_asked_first(self):
        """With no CNNVIZ_LIBRARY, pkg-config's libdir for cnnviz comes first."""
        if not shutil.which("pkg-config"):
            self.skipTest("no pkg-config")
        with tempfile.TemporaryDirectory(prefix="cnnviz-py-pc-") as d:
            os.mkdir(os.path.join(d, "lib"))
            os.symlink(cnnviz.library_path, os.path.join(d, "lib", "libcnnviz.so.0"))
            with open(os.path.join(d, "cnnviz.pc"), "w") as f:
                f.write("prefix=%s\nlibdir=${prefix}/lib\nName: cnnviz\nDescription: test\nVersion: 0\n"
                        "Libs: -L${libdir} -lcnnviz\n" % d)
            env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), PKG_CONFIG_PATH=d)
            env.pop("CNNVIZ_LIBRARY", None)
            code = "import cnnviz; print(cnnviz.library_path); print(cnnviz._lib.candidates()[0][0])"
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.split(), [os.path.join(d, "lib", "libcnnviz.so.0"), "pkg-config"])

    def test_version(self):
        got = compile_and_run(self, '#include <stdio.h>\n#include "cnnviz.h"\n'
                                    'int main(void) { printf("%s", CV_VERSION); return 0; }\n')
        self.assertEqual(cnnviz.__version__, got)
        r = subprocess.run([sys.executable, "-c", "import cnnviz; print(cnnviz.__version__)"], capture_output=True,
                           text=True, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
        self.assertEqual(r.stdout.strip(), got, r.stderr)
        with open(os.path.join(ROOT, "python", "pyproject.toml")) as f:
            self.assertIn('version = "%s"' % got, f.read(), "pyproject.toml's version is the library's")

    def test_library_search(self):
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), CNNVIZ_LIBRARY="/nonexistent/libcnnviz.so")
        r = subprocess.run([sys.executable, "-c", "import cnnviz"], capture_output=True, text=True, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("CNNVIZ_LIBRARY: /nonexistent/libcnnviz.so", r.stderr)
        env.pop("CNNVIZ_LIBRARY")
        env["CNNVIZ_BUILD"] = BUILD
        how = [h for h, _ in _lib.candidates()] if "CNNVIZ_LIBRARY" not in os.environ else []
        if how:
            self.assertEqual(how[-1], "system loader")
            self.assertIn("in-tree build", how)

    def test_no_copy_for_float32(self):
        x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
        a, p = cnnviz._float_input(x)
        self.assertIs(a, x)
        self.assertEqual(int(cnnviz.ffi.cast("uintptr_t", p)), x.ctypes.data)
        a, p = cnnviz._float_input(x[:, :, ::2])  # not contiguous: one copy
        self.assertTrue(a.flags.c_contiguous)
        self.assertNotEqual(int(cnnviz.ffi.cast("uintptr_t", p)), x.ctypes.data)


# ---- results equal the tool's -------------------------------------------------------------


class Fashion(Tmp):
    """models/fashion_cnn.onnx on the bundled samples."""

    @classmethod
    def setUpClass(cls):
        cls.model = cnnviz.Model(FASHION)

    def test_predict(self):
        for img in SAMPLES:
            js = json.loads(cli("predict", "--model", FASHION, "--img", img, "--top", 10, "--format", "json"))
            p = self.model.predict(img)
            self.assertEqual(len(p), js["classes"])
            for t in js["top"]:  # JSON holds the float32 to 15 digits at least: it reads back to the same float32
                self.assertEqual(p[t["index"]], np.float32(t["probability"]), "%s class %d" % (img, t["index"]))
            self.assertEqual([k for k, _, _ in self.model.top(p, 10)], [t["index"] for t in js["top"]])
            self.assertEqual(self.model.top(p, 1)[0][1], js["top"][0]["label"])

    def test_predict_array_is_the_file(self):
        try:
            import matplotlib.image
        except ImportError:
            self.skipTest("no matplotlib to read the PNG with (Debian: python3-matplotlib)")
        img = SAMPLES[0]
        grey = (matplotlib.image.imread(img) * 255 + 0.5).astype(np.uint8)  # an 8-bit grey PNG: H x W in [0, 1]
        self.assertEqual(grey.shape, (28, 28))
        want = self.model.predict(img)
        same_bits(self, self.model.predict(grey), want, "predict(H x W array) vs predict(path)")
        same_bits(self, self.model.predict(np.stack([grey] * 3, axis=2)), want, "predict(H x W x 3) vs predict(path)")
        same_bits(self, self.model.predict(self.model.input_from_image(img)), want, "predict(model input)")

    def test_run(self):
        x = self.model.input_from_image(SAMPLES[3])
        self.assertEqual(x.shape, (1, 1, 28, 28))
        np.save(self.out("x.npy"), x)
        for layer in (None, "conv3", "relu4"):
            args = ["run", "--model", FASHION, "--input", self.out("x.npy"), "--output", self.out("y.npy")]
            cli(*(args + (["--layer", layer] if layer else [])))
            same_bits(self, self.model.run(x, layer=layer), np.load(self.out("y.npy")), "run layer %s" % layer)
        batch = np.concatenate([x, x * 0.5, x[:, :, ::-1]])  # a batch of 3, one of them not contiguous
        np.save(self.out("xb.npy"), np.ascontiguousarray(batch))
        cli("run", "--model", FASHION, "--input", self.out("xb.npy"), "--output", self.out("yb.npy"))
        same_bits(self, self.model.run(batch), np.load(self.out("yb.npy")), "run batch")

    def test_layers(self):
        layers = self.model.layers()
        text = cli("layers", "--model", FASHION)
        self.assertEqual(len(layers), 12)
        for L in layers:
            self.assertIn("%4d  %-36s %-20s" % (L["index"], L["name"], L["op"]), text)
        self.assertEqual(layers[5]["shape"], (1, 64, 14, 14))
        self.assertEqual(sum(L["params"] for L in layers), 96362)

    def occlusion_case(self, img, flags, **kw):
        d = self.out("occ")
        cli("occlusion", "--model", FASHION, "--img", img, "--out", d, *flags)
        r = cnnviz.occlusion(self.model, img, details=True, **kw)
        name = "logits.npy" if kw.get("score") == "logit" else "probs.npy"
        same_bits(self, r["map"], np.load(os.path.join(d, name)), "occlusion %s %s" % (flags, name))
        if kw.get("score") != "logit":
            same_bits(self, r["attribution"], np.load(os.path.join(d, "map.npy")), "occlusion %s map.npy" % flags)
        return r

    def test_occlusion(self):
        r = self.occlusion_case(SAMPLES[0], ["--occ_size", 8, "--stride", 2], occ_size=8, stride=2)
        self.assertEqual(r["map"].shape, (11, 11))
        self.occlusion_case(SAMPLES[1], ["--occ_size", 6, "--stride", 3, "--pixel", "mean", "--class", "Bag"],
                            occ_size=6, stride=3, pixel="mean", target="Bag")
        self.occlusion_case(SAMPLES[2], ["--occ_size", 10, "--stride", 4, "--pixel", "blur", "--engine", "full",
                                         "--batch", 3], occ_size=10, stride=4, pixel="blur", engine="full", batch=3)
        self.occlusion_case(SAMPLES[4], ["--occ_size", 7, "--stride", 3, "--pixel", 255, "--score", "logit",
                                         "--class", 2], occ_size=7, stride=3, pixel=255, score="logit", target=2)
        self.occlusion_case(SAMPLES[5], ["--occ_size", 8, "--stride", 2, "--approx", "--coarse", 2],
                            occ_size=8, stride=2, approx=True, coarse=2)
        drop = cnnviz.occlusion(self.model, SAMPLES[0], occ_size=8, stride=2, score="drop")
        prob = cnnviz.occlusion(self.model, SAMPLES[0], occ_size=8, stride=2, details=True)
        np.testing.assert_array_equal(drop, prob["base_probs"][prob["target"]].astype(np.float64) - prob["map"])

    def explain_case(self, img, method, flags, **kw):
        d = self.out("ex")
        cli("explain", "--model", FASHION, "--img", img, "--method", method, "--out", d, *flags)
        r = cnnviz.explain(self.model, img, method=method, details=True, **kw)
        same_bits(self, r["attribution"], np.load(os.path.join(d, "attribution.npy")), method + " attribution")
        same_bits(self, r["map"], np.load(os.path.join(d, "map.npy")), method + " map")
        return r

    def test_explain(self):
        img = SAMPLES[6]
        r = self.explain_case(img, "gradcam", [])
        self.assertEqual(r["attribution"].shape, (7, 7))
        same_bits(self, cnnviz.explain(self.model, img), r["attribution"], "explain() defaults are gradcam's")
        self.explain_case(img, "saliency", ["--class", "Sandal"], target="Sandal")
        self.explain_case(img, "smoothgrad", ["--samples", 8, "--seed", 3], samples=8, seed=3)
        self.explain_case(img, "ig", ["--steps", 12, "--baseline", "black"], steps=12, baseline="black")
        self.explain_case(img, "ig", ["--steps", 5, "--baseline", "blur"], steps=5, baseline="blur")
        self.explain_case(img, "rise", ["--samples", 64, "--grid", 5, "--keep", 0.4], samples=64, grid=5, keep=0.4)
        self.explain_case(img, "gradcam++", ["--layer", "relu3"], layer="relu3")
        self.explain_case(img, "guided-gradcam", ["--layer", 5], layer=5)

    def test_explain_input_tensor(self):
        x = self.model.input_from_image(SAMPLES[7])
        np.save(self.out("x.npy"), x)
        d = self.out("ex")
        cli("explain", "--model", FASHION, "--input", self.out("x.npy"), "--method", "inputxgrad", "--out", d)
        same_bits(self, cnnviz.explain(self.model, x, method="inputxgrad"), np.load(os.path.join(d, "attribution.npy")),
                  "explain(float32 input)")

    def filters_case(self, flags, **kw):
        d = self.out("filters")
        cli("filters", "--model", FASHION, "--out", d, *flags)
        r = cnnviz.filters(self.model, details=True, **kw)
        same_bits(self, r["images"], np.load(os.path.join(d, "filters.npy")), "filters %s" % flags)
        with open(os.path.join(d, "filters.txt")) as f:
            rows = [line.split("\t") for line in f if not line.startswith("#")]
        self.assertEqual([int(row[0]) for row in rows], r["filters"])
        self.assertEqual([row[2].strip() for row in rows], r["status"])
        self.assertEqual(r["rgb"].dtype, np.uint8)
        self.assertEqual(r["rgb"].shape, r["images"].shape[:3] + (3,))
        return r

    def test_filters(self):
        self.filters_case(["--layer", "conv3", "--filters", "1,5,9", "--iterations", 4], layer="conv3",
                          filters=[1, 5, 9], iterations=4)
        r = self.filters_case(["--layer", "relu2", "--num_filters", 3, "--seed", 7, "--iterations", 3],
                              layer="relu2", num_filters=3, seed=7, iterations=3)
        self.assertEqual(len(r["filters"]), 3)
        self.filters_case(["--layer", "conv4", "--method", "lucid", "--num_filters", 2, "--iterations", 4, "--lr",
                           0.1], layer="conv4", method="lucid", num_filters=2, iterations=4, lr=0.1)
        self.filters_case(["--layer", "conv2", "--img", SAMPLES[2], "--filters", "0,3", "--iterations", 3],
                          layer="conv2", image=SAMPLES[2], filters=[0, 3], iterations=3)
        r = self.filters_case(["--class", "Bag", "--iterations", 5], target="Bag", iterations=5)
        self.assertEqual(r["filters"], [8])


class SharedModels(Tmp):
    """Real pretrained models from ../shared (skipped without it)."""

    def setUp(self):
        super().setUp()
        if not os.path.isdir(SHARED):
            self.skipTest("../shared is absent (real models)")

    def test_squeezenet(self):
        if not os.path.isfile(SQUEEZENET):
            self.skipTest("%s is absent" % SQUEEZENET)
        img = os.path.join(SHARED, "images", "kitten_224.png")
        m = cnnviz.Model(SQUEEZENET, preprocess="raw", bgr=True)
        pre = ["--preprocess", "raw", "--bgr"]
        p = m.predict(img)
        js = json.loads(cli("predict", "--model", SQUEEZENET, "--img", img, "--format", "json", *pre))
        self.assertEqual(m.top(p, 1)[0][1], "tabby, tabby cat")
        self.assertEqual([(t["index"], np.float32(t["probability"])) for t in js["top"]],
                         [(k, p[k]) for k, _, _ in m.top(p, 5)])
        d = self.out("occ")
        cli("occlusion", "--model", SQUEEZENET, "--img", img, "--occ_size", 56, "--stride", 28, "--out", d, *pre)
        same_bits(self, cnnviz.occlusion(m, img, occ_size=56, stride=28), np.load(os.path.join(d, "probs.npy")),
                  "squeezenet occlusion")
        d = self.out("ex")
        cli("explain", "--model", SQUEEZENET, "--img", img, "--out", d, *pre)
        same_bits(self, cnnviz.explain(m, img), np.load(os.path.join(d, "attribution.npy")), "squeezenet gradcam")
        bus = os.path.join(SHARED, "images", "bus.jpg")
        m2 = cnnviz.Model(SQUEEZENET, preprocess="raw", bgr=True, resize="crop")
        cli("explain", "--model", SQUEEZENET, "--img", bus, "--method", "saliency", "--resize", "crop", "--out", d,
            *pre)
        same_bits(self, cnnviz.explain(m2, bus, method="saliency"), np.load(os.path.join(d, "attribution.npy")),
                  "squeezenet saliency, resize crop")

    def test_keras_resnet8(self):
        if not os.path.isfile(RESNET8):
            self.skipTest("%s is absent" % RESNET8)
        img = os.path.join(SHARED, "images", "fish.png")
        with self.assertWarns(UserWarning):  # it declares no preprocessing: raw is assumed, said aloud
            m = cnnviz.Model(RESNET8)
        self.assertTrue(m.nhwc)
        self.assertTrue(m.preprocessing_assumed)
        js = json.loads(cli("predict", "--model", RESNET8, "--img", img, "--format", "json", "--top", 10))
        p = m.predict(img)
        self.assertEqual([(t["index"], np.float32(t["probability"])) for t in js["top"]],
                         [(k, p[k]) for k, _, _ in m.top(p, 10)])
        d = self.out("occ")
        cli("occlusion", "--model", RESNET8, "--img", img, "--occ_size", 8, "--stride", 4, "--out", d)
        same_bits(self, cnnviz.occlusion(m, img, occ_size=8, stride=4), np.load(os.path.join(d, "probs.npy")),
                  "resnet8 occlusion")
        cli("explain", "--model", RESNET8, "--img", img, "--method", "ig", "--steps", 8, "--out", d)
        same_bits(self, cnnviz.explain(m, img, method="ig", steps=8), np.load(os.path.join(d, "attribution.npy")),
                  "resnet8 ig (NHWC)")


class Sidecar(Tmp):
    """A model's sidecar (<model>.cnnviz.json, written by `cnnviz config`)
    sets its preprocessing and labels for the binding as for the tool."""

    def test_sidecar_preprocess_and_labels(self):
        model = self.out("f.onnx")
        shutil.copy(FASHION, model)
        with open(self.out("mine.txt"), "w") as f:
            f.write("".join("c%d\n" % k for k in range(10)))
        cli("config", "--model", model, "--preprocess", "raw", "--labels", "mine.txt")
        m = cnnviz.Model(model)
        self.assertEqual(m.preprocess["name"], "raw")
        self.assertTrue(m.config_source.endswith("f.onnx.cnnviz.json"), m.config_source)
        self.assertEqual(m.labels, ["c%d" % k for k in range(10)])
        img = SAMPLES[8]
        js = json.loads(cli("predict", "--model", model, "--img", img, "--format", "json", "--top", 10))
        p = m.predict(img)
        self.assertEqual([(t["index"], t["label"], np.float32(t["probability"])) for t in js["top"]],
                         [(k, name, p[k]) for k, name, _ in m.top(p, 10)])
        same_bits(self, cnnviz.explain(m, img, target="c3"), cnnviz.explain(m, img, target=3), "target by name")
        with self.assertRaises(cnnviz.InvalidError) as cm:
            cnnviz.explain(m, img, target="c33")
        self.assertIn("c3", str(cm.exception))
        # the arguments override the sidecar, as flags do
        m2 = cnnviz.Model(model, preprocess="unit", mean=0.286, std=0.353, labels=os.path.join(ROOT, "models",
                                                                                              "fashion_labels.txt"))
        js = json.loads(cli("predict", "--model", model, "--img", img, "--format", "json", "--preprocess", "unit",
                            "--mean", "0.286", "--std", "0.353", "--labels", "models/fashion_labels.txt", "--top", 10))
        p = m2.predict(img)
        self.assertEqual([(t["index"], t["label"], np.float32(t["probability"])) for t in js["top"]],
                         [(k, name, p[k]) for k, name, _ in m2.top(p, 10)])
        self.assertEqual(m2.labels[7], "Sneaker")

    def test_broken_sidecar_raises(self):
        model = self.out("f.onnx")
        shutil.copy(FASHION, model)
        for text in ('{"cnnviz_model_config": 1, "preprocess": "rawish"}', "{", '{"cnnviz_model_config": 1, '
                     '"labels": "../../etc/passwd"}'):
            with open(model + ".cnnviz.json", "w") as f:
                f.write(text)
            with self.assertRaises(cnnviz.Error, msg=text) as cm:
                cnnviz.Model(model)
            self.assertIn("cnnviz.json", str(cm.exception))


# ---- errors -------------------------------------------------------------------------------


class Errors(Tmp):
    def write(self, name, data):
        path = self.out(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_bad_model_files_raise(self):
        with open(FASHION, "rb") as f:
            good = f.read()
        rng = np.random.default_rng(1)
        cases = {
            "missing.onnx": None,
            "empty.onnx": b"",
            "random.onnx": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
            "truncated.onnx": good[: len(good) // 2],
            "flipped.onnx": bytes(b ^ 0x5A if 100 <= i < 400 else b for i, b in enumerate(good)),
            "text.h5": b"\x89HDF\r\n\x1a\n" + b"not really hdf5" * 50,
        }
        for name, data in cases.items():
            path = self.out(name) if data is None else self.write(name, data)
            with self.assertRaises(cnnviz.Error, msg=name) as cm:
                cnnviz.Model(path)
            self.assertTrue(cm.exception.message, name + ": the library's message")
            self.assertIsNotNone(cm.exception.status)
        with self.assertRaises(cnnviz.FileError):
            cnnviz.Model(self.out("missing.onnx"))
        with self.assertRaises(cnnviz.FileError):
            cnnviz.Model(self.tmp)  # a directory

    def test_bad_inputs_raise(self):
        m = cnnviz.Model(FASHION)
        with self.assertRaises(cnnviz.Error):
            m.predict(self.write("bad.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40))
        with self.assertRaises(cnnviz.FileError):
            m.predict(self.out("missing.png"))
        with self.assertRaises(cnnviz.InvalidError) as cm:
            m.run(np.zeros((1, 1, 28, 28), np.float32), layer="conv")
        self.assertIn("conv1", str(cm.exception), "the library suggests close names")
        with self.assertRaises(cnnviz.InvalidError) as cm:
            cnnviz.occlusion(m, SAMPLES[0], occ_size=40)  # larger than 28 x 28
        with self.assertRaises(cnnviz.InvalidError) as cm:
            cnnviz.explain(m, SAMPLES[0], target="Sneakers and more")
        with self.assertRaises(cnnviz.InvalidError):
            cnnviz.explain(m, SAMPLES[0], target=10)
        with self.assertRaises(cnnviz.InvalidError):
            cnnviz.explain(m, SAMPLES[0], method="gradcom")
        with self.assertRaises(cnnviz.Error):
            m.run(np.zeros((1, 3, 28, 28), np.float32))
        with self.assertRaises(ValueError):
            m.predict(np.zeros((28, 28, 4), np.uint8))
        with self.assertRaisesRegex(TypeError, "imread"):  # a float picture is not a model input
            cnnviz.occlusion(m, np.zeros((28, 28, 3), np.float32), occ_size=8)
        with self.assertRaises(cnnviz.ShapeError):
            m.predict(np.zeros((1, 1, 27, 28), np.float32))
        with self.assertRaises(cnnviz.InvalidError):
            cnnviz.filters(m, "conv3", filters=[64])
        with self.assertRaises(cnnviz.LimitError):
            cnnviz.Model(FASHION, max_memory=1000)
        m.close()
        with self.assertRaises(ValueError):
            m.predict(SAMPLES[0])


# ---- Ctrl-C -------------------------------------------------------------------------------


class Interrupt(unittest.TestCase):
    """A SIGINT during a long call stops it (the library's cancel flag,
    between batches) and raises KeyboardInterrupt; an exception in a
    progress callback stops it too and is raised. Each in a fresh process,
    which must then exit normally."""

    SCRIPT = textwrap.dedent("""
        import os, signal, sys, time
        import cnnviz
        m = cnnviz.Model(sys.argv[1])
        calls = []
        def progress(done, total):
            calls.append(done)
            if len(calls) == 1:
                os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.005)  # a slow callback: 200000 masks would take 1000 s
        try:
            cnnviz.%s
            print("finished", len(calls))
        except KeyboardInterrupt:
            print("interrupted", len(calls))
    """)

    def run_script(self, call):
        r = subprocess.run([sys.executable, "-c", self.SCRIPT % call, FASHION], capture_output=True, text=True,
                           timeout=300, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_sigint_stops_explain(self):
        out = self.run_script("explain(m, %r, method='rise', samples=200000, batch=1, progress=progress)"
                              % SAMPLES[0])
        self.assertEqual(out[0], "interrupted")
        self.assertLess(int(out[1]), 200000)

    def test_sigint_stops_occlusion(self):
        out = self.run_script("occlusion(m, %r, occ_size=1, stride=1, batch=1, engine='full', progress=progress)"
                              % SAMPLES[0])
        self.assertEqual(out[0], "interrupted")
        self.assertLess(int(out[1]), 28 * 28)

    def test_sigint_stops_filters(self):
        out = self.run_script("filters(m, 'conv3', filters=[1], iterations=100000, progress=lambda s, n: "
                              "progress(s, n))")
        self.assertEqual(out[0], "interrupted")
        self.assertLess(int(out[1]), 100000)

    def test_callback_exception_is_raised(self):
        m = cnnviz.Model(FASHION)
        seen = []

        def progress(done, total):
            seen.append(done)
            raise RuntimeError("stop here")

        with self.assertRaisesRegex(RuntimeError, "stop here"):
            cnnviz.explain(m, SAMPLES[0], method="smoothgrad", samples=20, batch=2, progress=progress)
        self.assertEqual(seen, [2], "stopped after the first batch")


class Threads(unittest.TestCase):
    def test_threads_share_a_model(self):
        """Calls from several threads on one Model (each its own run, as the
        library's threading rule has it) equal the same calls one at a time."""
        import threading
        m = cnnviz.Model(FASHION)
        calls = [lambda: cnnviz.occlusion(m, SAMPLES[1], occ_size=6, stride=2),
                 lambda: cnnviz.explain(m, SAMPLES[2], method="smoothgrad", samples=6),
                 lambda: cnnviz.explain(m, SAMPLES[3], method="gradcam"),
                 lambda: m.run(m.input_from_image(SAMPLES[4]), layer="relu3")]
        alone = [c() for c in calls]
        got = [None] * (2 * len(calls))

        def work(k):
            got[k] = calls[k % len(calls)]()

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(got))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k, g in enumerate(got):
            same_bits(self, g, alone[k % len(calls)], "thread %d" % k)


# ---- the README's example -------------------------------------------------------------------


class Readme(Tmp):
    def test_notebook_example_runs(self):
        """python/README.md's example, as it is, prints what the README says."""
        try:
            import matplotlib.pyplot  # noqa: F401  (what the example needs)
        except ImportError:
            self.skipTest("no matplotlib (Debian: python3-matplotlib)")
        with open(os.path.join(ROOT, "python", "README.md")) as f:
            text = f.read()
        code = text.split("```python\n", 1)[1].split("```", 1)[0]
        printed = text.split("prints\n\n```\n", 1)[1].split("```", 1)[0]
        os.symlink(os.path.join(ROOT, "models"), self.out("models"))
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), MPLBACKEND="Agg")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=self.tmp, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, printed)
        self.assertGreater(os.path.getsize(self.out("heatmaps.png")), 1000)


# ---- installing ---------------------------------------------------------------------------


class Install(Tmp):
    def test_pip_install_offline(self):
        r = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("no pip for %s (Debian: python3-pip)" % sys.executable)
        src = self.out("src")
        shutil.copytree(os.path.join(ROOT, "python"), src, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        target = self.out("site")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                            "--disable-pip-version-check", "--no-cache-dir", "--target", target, src],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        self.assertTrue(os.path.isfile(os.path.join(target, "cnnviz", "__init__.py")))
        lib = cnnviz.library_path
        env = dict(os.environ, PYTHONPATH=target, CNNVIZ_LIBRARY=lib)
        code = "import cnnviz; print(cnnviz.__file__); print(cnnviz.__version__); print(cnnviz.library_path)"
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        where, version, loaded = r.stdout.split()
        self.assertTrue(where.startswith(target), where)
        self.assertEqual(version, cnnviz.__version__)
        self.assertEqual(loaded, lib)


# ---- the harness's summary line -------------------------------------------------------------


class _Result(unittest.TextTestResult):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        print("PASS %s" % test.id().split(".", 1)[1], flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        print("FAIL %s\n%s" % (test.id().split(".", 1)[1], self._exc_info_to_string(err, test)), flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        print("FAIL %s (error)\n%s" % (test.id().split(".", 1)[1], self._exc_info_to_string(err, test)), flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("SKIP %s: %s" % (test.id().split(".", 1)[1], reason), flush=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(args, sys.modules[__name__]) if args else \
        loader.loadTestsFromModule(sys.modules[__name__])
    with open(os.devnull, "w") as quiet:
        runner = unittest.TextTestRunner(stream=sys.stdout if "-v" in sys.argv else quiet, resultclass=_Result,
                                         verbosity=0)
        res = runner.run(suite)
    failed = len(res.failures) + len(res.errors)
    print("python: %d passed, %d failed, %d skipped" % (res.passed, failed, len(res.skipped)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
