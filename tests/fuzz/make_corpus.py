#!/usr/bin/python3
"""Write the small seed corpus of the fuzz targets (tests/fuzz/corpus/).

Seeds are starting points for libFuzzer, and test_fuzz_replay runs them in
`make check` (and under the sanitizers in `make check-asan`). They are tiny
on purpose: each shows the loader one feature so that mutations start from
every branch.

  onnx/   one-input models over every operator family cnnviz runs (conv,
          pools, norms, shape arithmetic, Pad, Concat, Gather, Slice ...),
          so that mutated models get past loading into planning and running
  image/  PNG of every colour type and depth, palette with tRNS;
          JPEG baseline, progressive, grey, CMYK, with restart markers
  npy/    float32/float64, versions 1-3, 0-d, empty, big-endian, Fortran order
  keras/  written by `build/tests/test_fuzz_replay --keras-seeds` (see the
          Makefile target fuzz-seeds); this script does not touch them

and, in tests/fuzz/regress/onnx/, model files for the overflows that
tests/test_hostile_graphs.c found (fixed) and the 3000-deep subgraphs and
20000-deep types that overflowed protobuf-c's recursive unpack (fixed), so
the loader path to each stays in every replay.

Run from the repository root:  /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import io
import os
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
REGRESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regress")
F, I64 = TensorProto.FLOAT, TensorProto.INT64
rng = np.random.default_rng(7)


def out(kind, name, data, root=ROOT):
    d = os.path.join(root, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- ONNX ---------------------------------------------------------------------------

def w(name, *shape):
    return numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def onnx_model(name, nodes, x_shape, inits=(), opset=13, y_shape=None, grad=None, root=ROOT):
    """grad: True/False makes the file size odd/even, which is what tells
    fuzz_onnx to run backward too (None: leave it to chance)."""
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", F, x_shape)],
                          [helper.make_tensor_value_info("y", F, y_shape)], initializer=list(inits))
    m = helper.make_model(g, producer_name="cnnviz-fuzz-corpus", opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    # (no onnx.checker: it wants output shapes; test_fuzz_replay shows they run)
    data = m.SerializeToString()
    if grad is not None and len(data) % 2 != int(grad):
        m.doc_string = "x"
        data = m.SerializeToString()
    out("onnx", name + ".onnx", data, root)


def onnx_corpus():
    n = helper.make_node
    onnx_model("cnn", [
        n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        n("BatchNormalization", ["p1", "s", "b", "m", "v"], ["bn"]),
        n("Conv", ["bn", "w2"], ["c2"], group=2, strides=[2, 2], auto_pad="SAME_UPPER"),
        n("GlobalAveragePool", ["c2"], ["g"]),
        n("Flatten", ["g"], ["f"]),
        n("Gemm", ["f", "wf", "bf"], ["o"], transB=1),
        n("Softmax", ["o"], ["y"], axis=1),
    ], [1, 3, 8, 8], [w("w1", 4, 3, 3, 3), w("b1", 4), w("s", 4), w("b", 4), w("m", 4),
                      numpy_helper.from_array(np.ones(4, np.float32), "v"), w("w2", 4, 2, 3, 3),
                      w("wf", 5, 4), w("bf", 5)])
    onnx_model("shape_arith", [
        n("Shape", ["x"], ["s"]),
        n("Gather", ["s", "i0"], ["n"], axis=0),
        n("Unsqueeze", ["n", "ax"], ["n1"]),
        n("Concat", ["n1", "m1"], ["ns"], axis=0),
        n("Reshape", ["x", "ns"], ["r"]),
        n("Transpose", ["r"], ["t"], perm=[1, 0]),
        n("ReduceMean", ["t"], ["y"], axes=[0], keepdims=1),
    ], [2, 3, 4, 4], [i64("i0", 0), i64("ax", [0]), i64("m1", [-1])])
    onnx_model("pad_slice", [
        n("Pad", ["x", "pads"], ["p"], mode="reflect"),
        n("Slice", ["p", "st", "en", "axes", "steps"], ["s"]),
        n("AveragePool", ["s"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0, ceil_mode=1),
        n("LRN", ["a"], ["l"], size=3),
        n("LeakyRelu", ["l"], ["lr"], alpha=0.1),
        n("Clip", ["lr", "lo", "hi"], ["y"]),
    ], [1, 2, 6, 6], [i64("pads", [0, 0, 1, 2, 0, 0, 2, 1]), i64("st", [1, 0]), i64("en", [-1, 100]),
                      i64("axes", [2, 3]), i64("steps", [1, 2]),
                      numpy_helper.from_array(np.array(-0.5, np.float32), "lo"),
                      numpy_helper.from_array(np.array(0.5, np.float32), "hi")])
    onnx_model("elementwise", [
        n("Mul", ["x", "k"], ["a"]),
        n("Add", ["a", "x"], ["b"]),
        n("Sub", ["b", "k"], ["c"]),
        n("Div", ["c", "d"], ["e"]),
        n("Sigmoid", ["e"], ["f"]),
        n("Tanh", ["f"], ["g"]),
        n("Mul", ["g", "e"], ["h"]),
        n("MatMul", ["h", "mm"], ["y"]),
    ], [1, 3, 4], [w("k", 3, 1), numpy_helper.from_array(np.full((4,), 2, np.float32), "d"), w("mm", 4, 2)])
    onnx_model("constants", [
        n("Constant", [], ["c"], value=numpy_helper.from_array(np.array([1, 2, 2, 2], np.int64))),
        n("ConstantOfShape", ["c"], ["z"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        n("Add", ["x", "z"], ["a"]),
        n("Cast", ["a"], ["b"], to=F),
        n("Dropout", ["b"], ["d"]),
        n("Identity", ["d"], ["e"]),
        n("Squeeze", ["e", "sq"], ["s"]),
        n("PRelu", ["s", "slope"], ["y"]),
    ], [1, 2, 2, 2], [i64("sq", [0]), w("slope", 2, 1, 1)])
    onnx_model("conv1d", [
        n("Conv", ["x", "w"], ["c"], dilations=[2], pads=[2, 2]),
        n("MaxPool", ["c"], ["p"], kernel_shape=[2]),
        n("GlobalMaxPool", ["p"], ["g"]),
        n("Elu", ["g"], ["e"]),
        n("Selu", ["e"], ["s"]),
        n("HardSigmoid", ["s"], ["h"]),
        n("HardSwish", ["h"], ["l"]),
        n("LogSoftmax", ["l"], ["y"], axis=1),
    ], [1, 2, 16], [w("w", 3, 2, 3)])


def regress_model(*args, **kw):
    onnx_model(*args, root=REGRESS, **kw)


def hostile_onnx_corpus():
    """The bugs test_hostile_graphs.c found, as model files in regress/onnx/:
    the loader path to each fixed overflow stays in every replay."""
    n = helper.make_node
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
    # Conv with group 2^62 after a Slice that empties the channel axis:
    # weights' channels x group overflowed int64.
    regress_model("hostile_conv_group", [
        n("Slice", ["x", "s0", "e0", "ax"], ["e"]),
        n("Conv", ["e", "w"], ["y"], group=1 << 62),
    ], [1, 3, 8, 8], [i64("s0", [0]), i64("e0", [0]), i64("ax", [1]),
                      numpy_helper.from_array(np.ones((1, 4, 1, 1), np.float32), "w")])
    # Slice steps INT64_MIN (negation overflowed) and INT64_MAX (the walk's
    # offset product overflowed).
    regress_model("hostile_slice_steps", [
        n("Slice", ["x", "st", "en", "axes", "steps"], ["y"]),
    ], [1, 3, 8, 8], [i64("st", [2 ** 63 - 1, -2 ** 63]), i64("en", [-2 ** 63, 2 ** 63 - 1]),
                      i64("axes", [2, 3]), i64("steps", [-2 ** 63, 2 ** 63 - 1])], grad=True)
    # Gather indices computed from the input, with backward: the int64
    # indices must survive forward for backward to read them.
    regress_model("hostile_gather_grad", [
        n("Mul", ["x", "k"], ["big"]),
        n("Cast", ["big"], ["idx"], to=I64),
        n("Gather", ["x", "idx"], ["y"], axis=3),
    ], [1, 1, 2, 3], [numpy_helper.from_array(np.array(2.0, np.float32), "k")], grad=True)
    # ConvTranspose: weights [0, 2^40, 1, 1] (no elements) on an empty
    # channel axis with group 2^40: output channels overflowed int64.
    regress_model("hostile_convtranspose_group", [
        n("Slice", ["x", "s0", "e0", "ax"], ["e"]),
        n("ConvTranspose", ["e", "w"], ["y"], group=1 << 40),
    ], [1, 3, 8, 8], [i64("s0", [0]), i64("e0", [0]), i64("ax", [1]),
                      helper.make_tensor("w", F, [0, 1 << 40, 1, 1], [])])


def nested_onnx_corpus():
    """Seeds with the recursive parts of the schema, so that mutations start
    from them: If and Loop nodes whose branches and bodies hold more If
    nodes, a FunctionProto with a subgraph, and value infos whose types nest
    (sequence of map of optional of tensor). cnnviz refuses control flow,
    but the parser, the nesting scan (src/io/onnx_wire.c) and every check
    before add_attr see them."""
    n, mk = helper.make_node, helper.make_graph
    tv = helper.make_tensor_value_info

    def branch(name, depth):
        # a graph computing y = Relu(x), with an If nested `depth` deeper
        nodes = [n("Relu", ["x"], ["y"])]
        if depth > 0:
            nodes.append(n("If", ["c"], ["z"], then_branch=branch(name + "t", depth - 1),
                           else_branch=branch(name + "e", 0)))
        return mk(nodes, name, [], [tv("y", F, [1])])

    body = mk([n("Identity", ["cond"], ["cond_out"]),
               n("If", ["cond"], ["v"], then_branch=branch("lt", 1), else_branch=branch("le", 0))],
              "body", [tv("i", I64, []), tv("cond", TensorProto.BOOL, [])], [tv("cond_out", TensorProto.BOOL, [])])
    onnx_model("nested_if_loop", [
        n("Relu", ["x"], ["r"]),
        n("If", ["c"], ["y"], then_branch=branch("t", 2), else_branch=branch("e", 1)),
        n("Loop", ["", ""], ["l"], body=body),
    ], [1, 4], [numpy_helper.from_array(np.array(True), "c")])

    elem = helper.make_tensor_type_proto(F, [1, 4])
    as_map = onnx.TypeProto()  # (onnx.helper has no map writer)
    as_map.map_type.key_type = I64
    as_map.map_type.value_type.CopyFrom(helper.make_optional_type_proto(helper.make_sequence_type_proto(elem)))
    deep = helper.make_sequence_type_proto(as_map)
    g = mk([n("Relu", ["x"], ["y"])], "types", [tv("x", F, [1, 4])], [tv("y", F, [1, 4])],
           value_info=[helper.make_value_info("deep", deep)])
    f = helper.make_function("local", "Fn", ["a"], ["b"],
                             [n("If", ["a"], ["b"], then_branch=branch("ft", 1), else_branch=branch("fe", 0))],
                             [helper.make_opsetid("", 13)])
    m = helper.make_model(g, producer_name="cnnviz-fuzz-corpus", functions=[f],
                          opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("local", 1)])
    m.ir_version = 8
    out("onnx", "nested_types_function.onnx", m.SerializeToString())


def varint(v):
    b = bytearray()
    while True:
        b.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(b)


def field(number, payload):
    """A length-delimited field: raw bytes, because protobuf's own writers
    recurse as deep as the messages nest."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def deep_onnx_regress():
    """regress/onnx/deep_subgraphs.onnx: 3000 If nodes, each in the previous
    one's then_branch (attribute "g"), which overflowed the stack in
    protobuf-c's recursive unpack (SIGSEGV); deep_types.onnx: an input
    whose type is a sequence of sequences 10000 deep (also a crash). Both now stop at the
    nesting scan (CV_ERR_LIMIT)."""
    graph = b""
    for _ in range(2999):
        attr = field(1, b"g") + varint(20 << 3) + varint(5) + field(6, graph)  # name, type GRAPH, g
        graph = field(1, field(4, b"If") + field(5, attr))                   # node {op_type, attribute}
    graph = field(11, field(1, b"x")) + graph                                 # input "x"
    model = varint(1 << 3) + varint(8) + field(8, varint(2 << 3) + varint(13)) + field(7, graph)
    out("onnx", "deep_subgraphs.onnx", model, REGRESS)

    tp = field(1, varint(1 << 3) + varint(1))  # tensor_type {elem_type FLOAT}
    for _ in range(9999):
        tp = field(4, field(1, tp))            # sequence_type {elem_type}
    graph = field(11, field(1, b"x") + field(2, tp))
    model = varint(1 << 3) + varint(8) + field(8, varint(2 << 3) + varint(13)) + field(7, graph)
    out("onnx", "deep_types.onnx", model, REGRESS)


# ---- images ----------------------------------------------------------------------------

def png(img, **kw):
    b = io.BytesIO()
    img.save(b, "PNG", **kw)
    return b.getvalue()


def jpeg(img, **kw):
    b = io.BytesIO()
    img.save(b, "JPEG", **kw)
    return b.getvalue()


def image_corpus():
    rgb = Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8), "RGB")
    out("image", "rgb.png", png(rgb))
    out("image", "rgba.png", png(rgb.convert("RGBA")))
    out("image", "grey.png", png(rgb.convert("L")))
    out("image", "grey_alpha.png", png(rgb.convert("LA")))
    out("image", "bw1.png", png(rgb.convert("1")))
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=7)
    out("image", "palette.png", png(pal))
    out("image", "palette_trns.png", png(pal, transparency=2))
    g16 = Image.fromarray((rng.integers(0, 65536, (5, 6))).astype(np.uint16))
    out("image", "grey16.png", png(g16))
    out("image", "baseline.jpg", jpeg(rgb, quality=90))
    out("image", "progressive.jpg", jpeg(rgb, quality=75, progressive=True))
    out("image", "grey.jpg", jpeg(rgb.convert("L")))
    out("image", "cmyk.jpg", jpeg(rgb.convert("CMYK")))
    big = Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), "RGB")
    b = io.BytesIO()
    big.save(b, "JPEG", quality=50, subsampling=2)
    out("image", "subsampled.jpg", b.getvalue())
    # Truncated and wrong-format starts: the refusals are branches too.
    out("image", "truncated.png", png(rgb)[:60])
    out("image", "truncated.jpg", jpeg(rgb)[:200])
    out("image", "gif_magic.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")


# ---- npy --------------------------------------------------------------------------------

def npy(arr, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, arr)
    else:
        np.lib.format.write_array(b, arr, version=version)
    return b.getvalue()


def npy_corpus():
    a = rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    out("npy", "f4.npy", npy(a))
    out("npy", "f8.npy", npy(a.astype(np.float64)))
    out("npy", "v2.npy", npy(a, (2, 0)))
    out("npy", "v3.npy", npy(a, (3, 0)))
    out("npy", "scalar.npy", npy(np.array(1.5, np.float32)))
    out("npy", "empty.npy", npy(np.zeros((0, 3), np.float32)))
    out("npy", "big_endian.npy", npy(a.astype(">f4")))
    out("npy", "fortran.npy", npy(np.asfortranarray(a)))
    out("npy", "int.npy", npy(np.arange(6, dtype=np.int32)))
    out("npy", "one_dim.npy", npy(np.arange(5, dtype=np.float32)))
    # A Python 2 style header ("L" suffixes).
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }"
    hdr += b" " * (64 - 10 - len(hdr) - 1) + b"\n"
    out("npy", "py2_header.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr +
        np.array([1, 2], np.float32).tobytes())


def main():
    onnx_corpus()
    hostile_onnx_corpus()
    nested_onnx_corpus()
    deep_onnx_regress()
    image_corpus()
    npy_corpus()


if __name__ == "__main__":
    main()
