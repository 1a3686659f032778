/* ONNX loader: the small models written by tests/fixtures/make_onnx_small.py
 * (checked value by value, and run where only Relu is involved), the real
 * SqueezeNet fp16 model from ../shared when present, and hostile files made
 * here in /tmp (truncated, random, mutated, empty, missing, a directory):
 * every one must fail with a message naming the file, never crash. */
#include "../src/core/loaders.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* PNG decoding for the SqueezeNet check, private to this test (static, so it
 * cannot clash with a copy inside the library). */
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#pragma GCC diagnostic ignored "-Wunused-function" /* stb declares more than it defines here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

#define FIX "tests/fixtures/onnx/"

static bool has(const char *msg, const char *part) { return strstr(msg, part) != NULL; }

static const cv_value *value(const cv_model *m, const char *name)
{
    int v = cv_model_find_value(m, name);
    return v >= 0 ? &m->values[v] : NULL;
}

static bool shape_is(const cv_shape *s, int ndim, const int64_t *d)
{
    if (s->ndim != ndim)
        return false;
    for (int k = 0; k < ndim; k++)
        if (s->d[k] != d[k])
            return false;
    return true;
}

/* Constant value `name` holds exactly these floats (and shape). */
static void check_f32(const cv_model *m, const char *name, int ndim, const int64_t *dims, const float *want, size_t n)
{
    const cv_value *v = value(m, name);
    REQUIRE(v && v->data, "no constant '%s'", name);
    CHECK(v->dtype == CV_F32, "'%s' dtype %d", name, v->dtype);
    CHECK(shape_is(&v->shape, ndim, dims), "'%s' has the wrong shape", name);
    REQUIRE(cv_shape_numel(&v->shape) == n || n == 0, "'%s' numel", name);
    double d = test_max_abs_diff(v->data, want, n);
    printf("    %s: max abs diff %.3g\n", name, d);
    CHECK(d == 0, "'%s' differs by %g", name, d);
}

static void check_i64(const cv_model *m, const char *name, int ndim, const int64_t *dims, const int64_t *want, size_t n)
{
    const cv_value *v = value(m, name);
    REQUIRE(v && v->data, "no constant '%s'", name);
    CHECK(v->dtype == CV_I64, "'%s' dtype %d", name, v->dtype);
    CHECK(shape_is(&v->shape, ndim, dims), "'%s' has the wrong shape", name);
    for (size_t k = 0; k < n; k++)
        CHECK(((int64_t *)v->data)[k] == want[k], "'%s'[%zu] = %lld, want %lld", name, k,
              (long long)((int64_t *)v->data)[k], (long long)want[k]);
}

/* Run the model on x and compare output k with relu(x) (or `want`). */
static void check_forward(const cv_model *m, const cv_shape *xs, const float *x, int k, const float *want)
{
    cv_error err;
    cv_run *r;
    cv_run_options opt = cv_run_defaults();
    REQUIRE(cv_run_create(&r, m, xs, &opt, &err) == CV_OK, "%s", err.msg);
    CHECK(cv_run_forward(r, x, &err) == CV_OK, "%s", err.msg);
    const cv_tensor *y = cv_run_output(r, k);
    size_t n = cv_shape_numel(&y->shape);
    float ref[4096];
    if (!want) {
        for (size_t i = 0; i < n && i < 4096; i++)
            ref[i] = x[i] > 0 ? x[i] : 0;
        want = ref;
        CHECK(cv_shape_equal(&y->shape, xs), "output shape differs from the input's");
    }
    double d = test_max_abs_diff(y->f, want, n);
    printf("    forward output %d: max abs diff %.3g\n", k, d);
    CHECK(d == 0, "forward differs by %g", d);
    cv_run_free(r);
}

static cv_model *load_ok(const char *path)
{
    cv_error err;
    cv_model *m = NULL;
    cv_status st = cv_model_load(&m, path, NULL, &err);
    CHECK(st == CV_OK, "%s: %s", path, st == CV_OK ? "" : err.msg);
    return st == CV_OK ? m : NULL;
}

/* Loading must fail with `want` and a message naming the file and each of parts. */
static void load_fails(const char *path, cv_status want, const char *const *parts)
{
    cv_error err;
    cv_model *m = NULL;
    cv_status st = cv_model_load(&m, path, NULL, &err);
    CHECK(st == want, "%s: status %s, want %s", path, cv_status_string(st), cv_status_string(want));
    CHECK(m == NULL, "model returned on failure");
    cv_model_free(m);
    if (st == CV_OK)
        return;
    printf("    %s\n", err.msg);
    CHECK(has(err.msg, path), "message does not name the file: %s", err.msg);
    for (; parts && *parts; parts++)
        CHECK(has(err.msg, *parts), "message lacks '%s': %s", *parts, err.msg);
}

static void test_fp16(void)
{
    cv_model *m = load_ok(FIX "fp16.onnx");
    REQUIRE(m, "load failed");
    int64_t xd[] = {1, 3, 2, 2}, d4[] = {4}, d22[] = {2, 2};
    cv_shape xs = cv_model_input_shape(m);
    CHECK(strcmp(cv_model_input_name(m), "x") == 0, "input '%s'", cv_model_input_name(m));
    CHECK(shape_is(&xs, 4, xd), "input shape");
    CHECK(cv_model_meta(m, "cnnviz.input_fp16") && strcmp(cv_model_meta(m, "cnnviz.input_fp16"), "1") == 0,
          "float16 input not recorded");
    CHECK(cv_model_num_outputs(m) == 1 && m->opset == 13, "outputs %d opset %d", cv_model_num_outputs(m), m->opset);
    float w_raw[] = {1.5f, -2.0f, 0.25f, 65504.0f};
    float w_typed[] = {0.5f, -1.0f, 3.0f, cv_half_to_float(cv_float_to_half(1e-3f))};
    check_f32(m, "w_raw", 1, d4, w_raw, 4);
    check_f32(m, "w_typed", 2, d22, w_typed, 4);
    float x[12];
    test_seed(3);
    test_fill(x, 12, -1, 1);
    check_forward(m, &xs, x, 0, NULL);
    cv_model_free(m);
}

static void test_ir3(void)
{
    cv_model *m = load_ok(FIX "ir3.onnx");
    REQUIRE(m, "load failed");
    /* graph.input lists w, x, s, i32, dbl; only x is real */
    CHECK(strcmp(cv_model_input_name(m), "x") == 0, "input '%s'", cv_model_input_name(m));
    CHECK(m->opset == 7, "opset %d", m->opset);
    int64_t d23[] = {2, 3}, d3[] = {3}, d2[] = {2};
    float w[] = {1, 2, 3, 4, 5, 6}, dbl[] = {0.5f, -0.25f};
    int64_t s[] = {-1, 0, (int64_t)1 << 40}, i32[] = {-7, 7};
    check_f32(m, "w", 2, d23, w, 6);
    check_i64(m, "s", 1, d3, s, 3);
    check_i64(m, "i32", 1, d2, i32, 2);
    check_f32(m, "dbl", 1, d2, dbl, 2);
    cv_shape xs = {2, {1, 4}};
    float x[4] = {-1, 2, -3, 4};
    check_forward(m, &xs, x, 0, NULL);
    cv_model_free(m);
}

static void test_external(void)
{
    cv_model *m = load_ok(FIX "external.onnx");
    REQUIRE(m, "load failed");
    int64_t d23[] = {2, 3}, d2[] = {2};
    float a[] = {0, 0.5f, 1, 1.5f, 2, 2.5f};
    int64_t b[] = {-3, 4};
    check_f32(m, "a", 2, d23, a, 6);
    check_i64(m, "b", 1, d2, b, 2);
    cv_model_free(m);
    const char *abs_parts[] = {"'a'", "/etc/passwd", "refused", NULL};
    load_fails(FIX "external_abs.onnx", CV_ERR_INVALID, abs_parts);
    const char *esc_parts[] = {"'a'", "../onnx/external.bin", "refused", NULL};
    load_fails(FIX "external_escape.onnx", CV_ERR_INVALID, esc_parts);
    const char *short_parts[] = {"'a'", "external.bin", NULL};
    load_fails(FIX "external_short.onnx", CV_ERR_FORMAT, short_parts);
}

static void test_symbolic_and_nhwc(void)
{
    cv_model *m = load_ok(FIX "symbolic.onnx");
    REQUIRE(m, "load failed");
    int64_t want[] = {-1, 3, 8, 8};
    cv_shape s = cv_model_input_shape(m);
    CHECK(shape_is(&s, 4, want), "symbolic batch not -1");
    CHECK(!cv_model_input_nhwc(m), "NCHW input taken for NHWC");
    cv_shape xs = {4, {2, 3, 8, 8}};
    float x[384];
    test_seed(4);
    test_fill(x, 384, -1, 1);
    check_forward(m, &xs, x, 0, NULL);
    cv_model_free(m);

    REQUIRE((m = load_ok(FIX "nhwc.onnx")), "load failed");
    int64_t want2[] = {-1, 16, 16, 3};
    s = cv_model_input_shape(m);
    CHECK(shape_is(&s, 4, want2), "nhwc shape");
    CHECK(cv_model_input_nhwc(m), "channels-last input not detected");
    cv_model_free(m);
}

static void test_metadata(void)
{
    cv_model *m = load_ok(FIX "metadata.onnx");
    REQUIRE(m, "load failed");
    const char *kv[][2] = {{"preprocess", "caffe"}, {"labels", "a,b,c"},
                           {"mean", "0.485,0.456,0.406"}, {"std", "0.229,0.224,0.225"}};
    for (int k = 0; k < 4; k++) {
        const char *v = cv_model_meta(m, kv[k][0]);
        CHECK(v && strcmp(v, kv[k][1]) == 0, "meta %s = %s", kv[k][0], v ? v : "(absent)");
    }
    CHECK(cv_model_meta(m, "nope") == NULL, "absent key found");
    CHECK(cv_model_meta(m, "cnnviz.input_fp16") == NULL, "float32 input marked fp16");
    cv_model_free(m);
}

static void test_unsupported(void)
{
    if (cv_op_find("NonMaxSuppression"))
        SKIP("NonMaxSuppression is implemented now; pick another unsupported op");
    const char *op_parts[] = {"NonMaxSuppression", "'nms'", NULL};
    load_fails(FIX "unsupported_op.onnx", CV_ERR_UNSUPPORTED, op_parts);
    const char *dom_parts[] = {"'myrelu'", "'Relu'", "com.example", NULL};
    load_fails(FIX "custom_domain.onnx", CV_ERR_UNSUPPORTED, dom_parts);
    const char *sub_parts[] = {"'if'", "subgraph", NULL};
    load_fails(FIX "subgraph.onnx", CV_ERR_UNSUPPORTED, sub_parts);
    const char *int_parts[] = {"'x'", "int64", "float", NULL};
    load_fails(FIX "int_input.onnx", CV_ERR_UNSUPPORTED, int_parts);
    const char *two_parts[] = {"'x'", "'z'", NULL};
    load_fails(FIX "two_inputs.onnx", CV_ERR_UNSUPPORTED, two_parts);
}

static void test_huge_initializer(void)
{
    /* 2^40 floats declared, no data: refused from the dims, before any allocation. */
    const char *parts[] = {"'huge'", "[1048576, 1048576]", NULL};
    load_fails(FIX "huge_init.onnx", CV_ERR_LIMIT, parts);
    /* and a tighter caller limit applies to ordinary tensors too */
    cv_load_options opt = {0};
    opt.max_memory = 16;
    cv_model *m;
    cv_error err;
    CHECK(cv_model_load(&m, FIX "ir3.onnx", &opt, &err) == CV_ERR_LIMIT, "max_memory ignored");
    printf("    with max_memory 16: %s\n", err.msg);
}

static void test_attributes(void)
{
    cv_model *m = load_ok(FIX "attrs.onnx");
    REQUIRE(m, "load failed");
    REQUIRE(m->n_nodes == 1, "%d nodes", m->n_nodes);
    const cv_node *n = &m->nodes[0];
    CHECK(strcmp(n->name, "y") == 0, "nameless node named '%s', want its output 'y'", n->name);
    CHECK(cv_attr_int(n, "i", 0) == -5, "i");
    CHECK(cv_attr_float(n, "f", 0) == 0.75f, "f");
    int64_t ints[4];
    CHECK(cv_attr_ints(n, "ints", ints, 4) == 3 && ints[0] == 1 && ints[2] == 3, "ints");
    const cv_attr *a = cv_node_attr(n, "floats");
    CHECK(a && a->type == CV_ATTR_FLOATS && a->n == 2 && a->floats[1] == 1.5f, "floats");
    CHECK(strcmp(cv_attr_string(n, "s", ""), "hello") == 0, "s");
    a = cv_node_attr(n, "t");
    REQUIRE(a && a->type == CV_ATTR_TENSOR && a->tensor >= 0, "tensor attribute missing");
    const cv_value *v = &m->values[a->tensor];
    CHECK(v->dtype == CV_I64 && v->shape.ndim == 1 && v->shape.d[0] == 2 && v->data &&
              ((int64_t *)v->data)[0] == 10 && ((int64_t *)v->data)[1] == 20,
          "tensor attribute value");
    CHECK(v->producer < 0, "tensor attribute has a producer");
    printf("    tensor attribute stored as value '%s'\n", v->name);
    cv_model_free(m);
}

static void test_constant_node(void)
{
    if (!cv_op_find("Constant")) {
        const char *parts[] = {"Constant", NULL};
        load_fails(FIX "constant.onnx", CV_ERR_UNSUPPORTED, parts);
        SKIP("the Constant operator is not in the registry yet (graph checked up to finalize)");
    }
    cv_model *m = load_ok(FIX "constant.onnx");
    REQUIRE(m, "load failed");
    int k = cv_model_find_layer(m, "const", NULL);
    REQUIRE(k >= 0, "no Constant layer");
    const cv_attr *a = cv_node_attr(&m->nodes[k], "value");
    REQUIRE(a && a->type == CV_ATTR_TENSOR && a->tensor >= 0, "value attribute missing");
    int64_t d23[] = {2, 3};
    float cval[] = {-1, 2, -3, 4, -5, 6}, crelu[] = {0, 2, 0, 4, 0, 6};
    check_f32(m, m->values[a->tensor].name, 2, d23, cval, 6);
    cv_shape xs = {2, {2, 3}};
    float x[6] = {1, -1, 2, -2, 3, -3};
    check_forward(m, &xs, x, 0, NULL);
    check_forward(m, &xs, x, 1, crelu);
    cv_model_free(m);
}

static void test_bound_inputs(void)
{
    const char *names[] = {"z"};
    cv_dtype dt[] = {CV_F32};
    cv_shape zs[] = {{2, {2, 2}}};
    float z[4] = {-1, 5, 0.5f, -0.5f}, zr[4] = {0, 5, 0.5f, 0};
    const void *datas[] = {z};
    cv_model *m;
    cv_error err;
    REQUIRE(cv_load_onnx_bound(&m, FIX "two_inputs.onnx", NULL, 1, names, dt, zs, datas, &err) == CV_OK, "%s",
            err.msg);
    CHECK(strcmp(cv_model_input_name(m), "x") == 0, "input '%s'", cv_model_input_name(m));
    cv_shape xs = {2, {1, 4}};
    float x[4] = {1, -2, 3, -4};
    check_forward(m, &xs, x, 0, NULL);
    check_forward(m, &xs, x, 1, zr);
    cv_model_free(m);
    const char *bad[] = {"nope"};
    CHECK(cv_load_onnx_bound(&m, FIX "two_inputs.onnx", NULL, 1, bad, dt, zs, datas, &err) == CV_ERR_INVALID,
          "binding a missing input accepted");
    printf("    %s\n", err.msg);
    CHECK(has(err.msg, "'nope'"), "message: %s", err.msg);
}

static void test_read_tensor_and_inspect(void)
{
    cv_dtype dt;
    cv_shape s;
    void *data;
    cv_error err;
    REQUIRE(cv_onnx_read_tensor(FIX "tensor_fp16.pb", &dt, &s, &data, &err) == CV_OK, "%s", err.msg);
    int64_t d13[] = {1, 3};
    float want[] = {1, -2, 0.5f};
    CHECK(dt == CV_F32 && shape_is(&s, 2, d13), "tensor type or shape");
    CHECK(test_max_abs_diff(data, want, 3) == 0, "tensor values");
    free(data);
    CHECK(cv_onnx_read_tensor(FIX "missing.pb", &dt, &s, &data, &err) == CV_ERR_IO && has(err.msg, "missing.pb"),
          "%s", err.msg);

    cv_onnx_info info;
    REQUIRE(cv_onnx_inspect(FIX "ir3.onnx", &info, &err) == CV_OK, "%s", err.msg);
    CHECK(info.n_inputs == 1 && strcmp(info.inputs[0], "x") == 0 && info.input_types[0] == 1, "ir3 inputs");
    CHECK(info.n_ops == 1 && strcmp(info.ops[0], "Relu") == 0 && info.opset == 7 && info.ir_version == 3,
          "ir3 ops/opset");
    cv_onnx_info_free(&info);
    REQUIRE(cv_onnx_inspect(FIX "custom_domain.onnx", &info, &err) == CV_OK, "%s", err.msg);
    CHECK(info.n_ops == 1 && strcmp(info.ops[0], "com.example:Relu") == 0, "custom op listed as '%s'",
          info.n_ops ? info.ops[0] : "");
    cv_onnx_info_free(&info);
}

/* ---- hostile files --------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static bool spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Load a hostile file: must not crash; on failure the message names it.
 * Returns the status. */
static cv_status try_load(const char *path)
{
    cv_error err;
    cv_model *m = NULL;
    memset(&err, 0, sizeof err);
    cv_status st = cv_load_onnx(&m, path, NULL, &err);
    if (st == CV_OK) {
        CHECK(m != NULL, "OK without a model");
        cv_model_free(m);
    } else {
        CHECK(m == NULL, "model returned on failure");
        CHECK(has(err.msg, path), "message does not name the file: %s", err.msg);
    }
    return st;
}

static void test_missing_empty_directory(void)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/cnnviz_onnx_%d_missing.onnx", (int)getpid());
    load_fails(path, CV_ERR_IO, NULL);
    CHECK(try_load(path) == CV_ERR_IO, "missing file");

    snprintf(path, sizeof path, "/tmp/cnnviz_onnx_%d_empty.onnx", (int)getpid());
    REQUIRE(spit(path, "", 0), "cannot write %s", path);
    load_fails(path, CV_ERR_FORMAT, NULL);
    CHECK(try_load(path) == CV_ERR_FORMAT, "empty file");
    remove(path);

    snprintf(path, sizeof path, "/tmp/cnnviz_onnx_%d_dir.onnx", (int)getpid());
    REQUIRE(mkdir(path, 0700) == 0, "cannot mkdir %s", path);
    const char *parts[] = {"directory", NULL};
    load_fails(path, CV_ERR_IO, parts);
    CHECK(try_load(path) == CV_ERR_IO, "directory");
    rmdir(path);
}

/* Every proper prefix of a model must be refused as a bad format: a cut
 * inside the graph breaks the protobuf, a cut before the graph leaves no
 * graph, a cut after it leaves no opset_import. */
static void truncations(const char *model, size_t step)
{
    size_t len;
    char *buf = slurp(model, &len);
    REQUIRE(buf, "cannot read %s", model);
    char path[256];
    snprintf(path, sizeof path, "/tmp/cnnviz_onnx_%d_trunc.onnx", (int)getpid());
    int tried = 0, bad = 0;
    for (size_t n = 1; n < len; n += (n < 4096 ? 1 : step)) {
        REQUIRE(spit(path, buf, n), "cannot write %s", path);
        cv_status st = try_load(path);
        tried++;
        if (st != CV_ERR_FORMAT) {
            if (bad++ < 5)
                fprintf(stderr, "    %s cut at %zu of %zu bytes: status %s\n", model, n, len, cv_status_string(st));
        }
    }
    printf("    %s: %d truncated copies, %d not refused as bad format\n", model, tried, bad);
    CHECK(bad == 0, "%d truncated copies of %s were not refused", bad, model);
    remove(path);
    free(buf);
}

static void test_truncated(void)
{
    truncations(FIX "ir3.onnx", 1);
    truncations(FIX "constant.onnx", 1);
    truncations(FIX "fp16.onnx", 1);
}

static void test_random_and_mutated(void)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/cnnviz_onnx_%d_fuzz.onnx", (int)getpid());
    test_seed(12345);
    unsigned char buf[4096];
    int ok = 0;
    for (int k = 0; k < 300; k++) {
        size_t n = 1 + (size_t)test_uniform(0, (float)(k < 100 ? 16 : sizeof buf - 1));
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)test_uniform(0, 256);
        REQUIRE(spit(path, buf, n), "cannot write %s", path);
        ok += try_load(path) == CV_OK;
    }
    printf("    300 random files: %d loaded\n", ok);
    CHECK(ok == 0, "random bytes loaded as a model");

    /* Models with a few bytes changed: anything may happen except a crash
     * or a message without the file name. They live in a directory of their
     * own with a copy of external.bin, which external.onnx names. */
    char dir[256], bin[300], mpath[300];
    snprintf(dir, sizeof dir, "/tmp/cnnviz_onnx_%d_mutants", (int)getpid());
    snprintf(bin, sizeof bin, "%s/external.bin", dir);
    snprintf(mpath, sizeof mpath, "%s/mutant.onnx", dir);
    REQUIRE(mkdir(dir, 0700) == 0, "cannot mkdir %s", dir);
    size_t bin_len;
    char *bin_data = slurp(FIX "external.bin", &bin_len);
    REQUIRE(bin_data && spit(bin, bin_data, bin_len), "cannot copy external.bin");
    free(bin_data);
    const char *models[] = {FIX "ir3.onnx", FIX "fp16.onnx", FIX "attrs.onnx", FIX "external.onnx"};
    int loaded = 0, total = 0;
    for (int mi = 0; mi < 4; mi++) {
        size_t len;
        char *orig = slurp(models[mi], &len);
        REQUIRE(orig, "cannot read %s", models[mi]);
        char *mut = malloc(len);
        for (int k = 0; k < 500; k++) {
            memcpy(mut, orig, len);
            int flips = 1 + (int)test_uniform(0, 3);
            for (int f = 0; f < flips; f++) {
                size_t at = (size_t)test_uniform(0, (float)len) % len;
                mut[at] = (char)(k & 1 ? (unsigned char)test_uniform(0, 256) : mut[at] ^ (1 << (k % 8)));
            }
            REQUIRE(spit(mpath, mut, len), "cannot write %s", mpath);
            loaded += try_load(mpath) == CV_OK;
            total++;
        }
        free(mut);
        free(orig);
    }
    remove(mpath);
    remove(bin);
    rmdir(dir);
    printf("    %d mutated models: %d still loaded, the rest refused cleanly\n", total, loaded);
    remove(path);
}

/* ---- the real SqueezeNet fp16 model (../shared) ----------------------------- */

static void test_squeezenet(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("../shared is absent (no real models to load)");
    char path[512];
    snprintf(path, sizeof path, "%s/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx", shared);
    cv_onnx_info info;
    cv_error err;
    REQUIRE(cv_onnx_inspect(path, &info, &err) == CV_OK, "%s", err.msg);
    CHECK(info.ir_version == 3 && info.opset == 7, "IR %lld opset %d", (long long)info.ir_version, info.opset);
    CHECK(info.n_inputs == 1 && strcmp(info.inputs[0], "data_0") == 0 && info.input_types[0] == 10,
          "inputs: %d", info.n_inputs);
    const char *ops[] = {"Concat", "Conv", "Dropout", "GlobalAveragePool", "MaxPool", "Relu", "Softmax"};
    const char *missing = NULL;
    CHECK(info.n_ops == 7, "%d distinct ops", info.n_ops);
    for (int k = 0; k < 7; k++) {
        bool found = false;
        for (int i = 0; i < info.n_ops; i++)
            found |= strcmp(info.ops[i], ops[k]) == 0;
        CHECK(found, "op %s not listed", ops[k]);
        if (!cv_op_find(ops[k]))
            missing = ops[k];
    }
    cv_onnx_info_free(&info);
    truncations(path, 9973); /* every byte of the first 4 KiB, then a prime stride */

    cv_model *m;
    cv_status st = cv_model_load(&m, path, NULL, &err);
    if (missing) {
        CHECK(st == CV_ERR_UNSUPPORTED && has(err.msg, path), "status %s: %s", cv_status_string(st), err.msg);
        SKIP("operator %s is not in the registry yet; graph checked up to finalize", missing);
    }
    REQUIRE(st == CV_OK, "%s", err.msg);
    int64_t xd[] = {1, 3, 224, 224};
    cv_shape xs = cv_model_input_shape(m);
    CHECK(shape_is(&xs, 4, xd), "input shape");
    CHECK(!cv_model_input_nhwc(m), "taken for NHWC");
    CHECK(cv_model_meta(m, "cnnviz.input_fp16") != NULL, "fp16 input not recorded");
    size_t params = 0;
    for (int k = 0; k < cv_model_num_layers(m); k++)
        params += cv_model_layer_params(m, k);
    printf("    %d layers, %zu parameters\n", cv_model_num_layers(m), params);
    CHECK(params == 1235496, "parameters %zu, want 1235496", params);
    /* Sums of all initializers converted from float16, as numpy computes them
     * (float64 sums of the float16 values). */
    double sum = 0, sum_abs = 0;
    for (int v = 0; v < m->n_values; v++) {
        const cv_value *val = &m->values[v];
        if (!val->data || val->dtype != CV_F32)
            continue;
        size_t n = cv_shape_numel(&val->shape);
        for (size_t i = 0; i < n; i++) {
            sum += ((float *)val->data)[i];
            sum_abs += fabs(((float *)val->data)[i]);
        }
    }
    printf("    weight sum %.10g (numpy 1223.8778478503227), sum |w| %.10g (numpy 48096.13858169317)\n", sum,
           sum_abs);
    CHECK(fabs(sum - 1223.8778478503227) < 1e-6 && fabs(sum_abs - 48096.13858169317) < 1e-5, "weights differ");

    /* End to end: the kitten (already 224x224) as BGR 0..255 NCHW, the
     * model's preprocessing; an independent interpreter gives "tabby, tabby
     * cat" (class 281) with p = 0.93. */
    char img[512];
    snprintf(img, sizeof img, "%s/images/kitten_224.png", shared);
    int w, h, ch;
    unsigned char *px = stbi_load(img, &w, &h, &ch, 3);
    if (!px || w != 224 || h != 224) {
        stbi_image_free(px);
        cv_model_free(m);
        SKIP("cannot read kitten_224.png as a 224x224 image");
    }
    float *x = malloc(sizeof(float) * 3 * 224 * 224); /* x is (1,3,224,224), BGR */
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 224 * 224; i++)
            x[c * 224 * 224 + i] = px[i * 3 + (2 - c)];
    stbi_image_free(px);
    cv_run *r;
    cv_run_options opt = cv_run_defaults();
    if (cv_run_create(&r, m, &xs, &opt, &err) == CV_OK) {
        CHECK(cv_run_forward(r, x, &err) == CV_OK, "%s", err.msg);
        const cv_tensor *y = cv_run_output(r, 0);
        size_t n = cv_shape_numel(&y->shape);
        CHECK(n == 1000, "%zu outputs", n);
        int best = 0;
        double total = 0;
        for (size_t k = 0; k < n; k++) {
            total += y->f[k];
            if (y->f[k] > y->f[best])
                best = (int)k;
        }
        printf("    kitten_224.png: class %d, p = %.4f (reference 281, 0.93); sum of probabilities %.6f\n", best,
               y->f[best], total);
        CHECK(best == 281 && y->f[best] > 0.85f, "top class %d p %g", best, y->f[best]);
        CHECK(fabs(total - 1) < 1e-4, "probabilities sum to %g", total);
        cv_run_free(r);
    } else {
        CHECK(0, "%s", err.msg);
    }
    free(x);
    cv_model_free(m);
}

int main(void)
{
    RUN(test_fp16);
    RUN(test_ir3);
    RUN(test_external);
    RUN(test_symbolic_and_nhwc);
    RUN(test_metadata);
    RUN(test_unsupported);
    RUN(test_huge_initializer);
    RUN(test_attributes);
    RUN(test_constant_node);
    RUN(test_bound_inputs);
    RUN(test_read_tensor_and_inspect);
    RUN(test_missing_empty_directory);
    RUN(test_truncated);
    RUN(test_random_and_mutated);
    RUN(test_squeezenet);
    return test_summary("onnx_load");
}
