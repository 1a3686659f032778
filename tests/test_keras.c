/* Keras HDF5 import: every supported layer against NumPy references written
 * by tests/fixtures/make_keras_small.py, both file kinds (model.save,
 * save_weights + architecture JSON, the old layer_<k> layout), the built-in
 * VGG16 base, a whole-model gradient check, the real ResNet-8 in ../shared,
 * and files and configs that must be refused with a clear message. */
#include "../src/core/graph.h"
#include "../src/core/loaders.h"
#include "lib/test.h"
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/keras/"

/* ---- helpers ---------------------------------------------------------------- */

/* Minimal .npy reader for the fixtures: little-endian float32, C order. */
static float *load_npy(const char *name, cv_shape *s)
{
    char path[512];
    snprintf(path, sizeof path, FIX "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char pre[10];
    float *data = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1) {
        fclose(f);
        return NULL;
    }
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    char hdr[1024] = {0};
    if (hlen >= sizeof hdr || fread(hdr, 1, hlen, f) != hlen || !strstr(hdr, "'<f4'") ||
        strstr(hdr, "'fortran_order': True")) {
        fclose(f);
        return NULL;
    }
    const char *p = strchr(strstr(hdr, "'shape'"), '(') + 1;
    s->ndim = 0;
    while (*p && *p != ')') {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        s->d[s->ndim++] = v;
        p = end;
    }
    size_t n = cv_shape_numel(s);
    data = malloc(n * sizeof(float));
    if (fread(data, sizeof(float), n, f) != n) {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

/* NHWC -> NCHW copy (the engine holds images NCHW). */
static float *to_nchw(const float *x, const cv_shape *s)
{
    int64_t N = s->d[0], H = s->d[1], W = s->d[2], C = s->d[3];
    float *y = malloc(sizeof(float) * (size_t)(N * H * W * C));
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t c = 0; c < C; c++)
                    y[((n * C + c) * H + h) * W + w] = x[((n * H + h) * W + w) * C + c];
    return y;
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t k = 0; k < n; k++)
        m = fabs(x[k]) > m ? fabs(x[k]) : m;
    return m;
}

/* Relative error of got against ref: max |diff| / max |ref|. */
static double rel_err(const float *got, const float *ref, size_t n)
{
    return test_max_abs_diff(got, ref, n) / (max_abs(ref, n) + 1e-12);
}

static cv_status load(cv_model **m, const char *file, const char *config, int flip, cv_error *err)
{
    cv_load_options opt = {.keras_config = config, .keras_flip_kernels = flip};
    return cv_model_load(m, file, &opt, err);
}

/* Run the model (or up to `layer`) on x and compare output 0 with ref.
 * ref_nhwc: ref is a rank-4 Keras (NHWC) tensor to transpose first. */
static double run_compare(cv_model *m, const cv_shape *xs, const float *x, const char *layer, const float *ref,
                          const cv_shape *rs, int ref_nhwc, cv_shape *out_shape)
{
    cv_error err;
    cv_run_options o = cv_run_defaults();
    if (layer) {
        o.stop_layer = cv_model_find_layer(m, layer, &err);
        if (o.stop_layer < 0) {
            printf("    %s\n", err.msg);
            return INFINITY;
        }
    }
    cv_run *r;
    if (cv_run_create(&r, m, xs, &o, &err) != CV_OK || cv_run_forward(r, x, &err) != CV_OK) {
        printf("    run failed: %s\n", err.msg);
        return INFINITY;
    }
    const cv_tensor *y = cv_run_output(r, 0);
    size_t n = cv_shape_numel(rs);
    double e = INFINITY;
    float *want = ref_nhwc ? to_nchw(ref, rs) : (float *)ref;
    if (out_shape)
        *out_shape = y->shape;
    if (cv_shape_numel(&y->shape) == n)
        e = rel_err(y->f, want, n);
    else {
        char a[128], b[128];
        printf("    output %s, reference %s\n", cv_shape_str(&y->shape, a, sizeof a), cv_shape_str(rs, b, sizeof b));
    }
    if (ref_nhwc)
        free(want);
    cv_run_free(r);
    return e;
}

/* Load case.h5 (+ optional config), compare the model output and the
 * listed layers (NHWC references unless marked with a leading '~', which
 * means the reference is in Keras order with no transpose needed). */
static void check_case(const char *file, const char *config, const char *name, const char *const *layers,
                       double tol)
{
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, file, config, 0, &err) == CV_OK, "%s", err.msg);
    char buf[256];
    cv_shape xs, ys;
    snprintf(buf, sizeof buf, "%s_x.npy", name);
    float *x = load_npy(buf, &xs);
    snprintf(buf, sizeof buf, "%s_y.npy", name);
    float *y = load_npy(buf, &ys);
    REQUIRE(x && y, "fixtures for %s missing (run tests/fixtures/make_keras_small.py)", name);
    CHECK(cv_model_input_nhwc(m) == 1, "input should be NHWC");
    cv_shape decl = cv_model_input_shape(m);
    CHECK(decl.ndim == 4 && decl.d[0] == -1 && decl.d[3] == xs.d[3], "declared input shape %s",
          cv_shape_str(&decl, buf, sizeof buf));
    double e = run_compare(m, &xs, x, NULL, y, &ys, ys.ndim == 4, NULL);
    printf("    %s: output max rel diff %.3g\n", name, e);
    CHECK(e < tol, "%s output differs: %g", name, e);
    for (int k = 0; layers && layers[k]; k++) {
        const char *l = layers[k];
        int keras_order = l[0] == '~';
        l += keras_order;
        cv_shape ls;
        snprintf(buf, sizeof buf, "%s_%s.npy", name, l);
        float *ref = load_npy(buf, &ls);
        REQUIRE(ref, "fixture %s missing", buf);
        e = run_compare(m, &xs, x, l, ref, &ls, !keras_order && ls.ndim == 4, NULL);
        printf("    %s: layer '%s' max rel diff %.3g\n", name, l, e);
        CHECK(e < tol, "layer %s differs: %g", l, e);
        free(ref);
    }
    free(x);
    free(y);
    cv_model_free(m);
}

/* The layer `name` exists and is an `op` node. */
static void check_layer(const cv_model *m, const char *name, const char *op)
{
    cv_error err;
    int k = cv_model_find_layer(m, name, &err);
    CHECK(k >= 0, "%s", err.msg);
    if (k >= 0)
        CHECK(strcmp(cv_model_layer_op(m, k), op) == 0, "layer %s is %s, expected %s", name, cv_model_layer_op(m, k), op);
}

/* Loading must fail with `status` and a message holding each of the
 * NULL-terminated strings. */
static void expect_fail(const char *file, const char *config, cv_status status, const char *const *parts)
{
    cv_model *m = NULL;
    cv_error err = {0};
    cv_status st = load(&m, file, config, 0, &err);
    printf("    %s%s%s -> %s: %s\n", file, config ? " + " : "", config ? config : "", cv_status_string(st), err.msg);
    CHECK(st != CV_OK && m == NULL, "loading %s should fail", file);
    CHECK(st == status, "status %s, expected %s", cv_status_string(st), cv_status_string(status));
    CHECK(strchr(err.msg, '\n') == NULL, "message is not one line");
    for (int k = 0; parts[k]; k++)
        CHECK(strstr(err.msg, parts[k]) != NULL, "message lacks '%s'", parts[k]);
    cv_model_free(m);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int copy_file(const char *from, const char *to, long limit)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    if (!a || !b) {
        if (a)
            fclose(a);
        if (b)
            fclose(b);
        return -1;
    }
    char buf[65536];
    size_t got;
    long total = 0;
    while ((got = fread(buf, 1, sizeof buf, a)) > 0 && (limit < 0 || total < limit)) {
        if (limit >= 0 && total + (long)got > limit)
            got = (size_t)(limit - total);
        fwrite(buf, 1, got, b);
        total += (long)got;
    }
    fclose(a);
    fclose(b);
    return 0;
}

/* ---- layers, against NumPy -------------------------------------------------------- */

static void test_sequential_full_model(void)
{
    static const char *const layers[] = {"conv_a", "conv_b", NULL};
    check_case(FIX "seq_cnn.h5", NULL, "seq_cnn", layers, 1e-5);
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, FIX "seq_cnn.h5", NULL, 0, &err) == CV_OK, "%s", err.msg);
    CHECK(strcmp(cv_model_input_name(m), "conv_a_input") == 0, "input named %s", cv_model_input_name(m));
    check_layer(m, "conv_a_input/transpose", "Transpose");
    check_layer(m, "conv_a/conv", "Conv");
    check_layer(m, "conv_a", "Relu");
    check_layer(m, "pool_a", "MaxPool");
    check_layer(m, "conv_b", "Conv");
    check_layer(m, "flat/to_nhwc", "Transpose");
    check_layer(m, "flat", "Flatten");
    check_layer(m, "fc1/matmul", "Gemm");
    check_layer(m, "fc2", "Softmax");
    const char *v = cv_model_meta(m, "keras_version");
    CHECK(v && strcmp(v, "2.2.4") == 0, "keras_version %s", v ? v : "(none)");
    int k = cv_model_find_layer(m, "conv_a/conv", &err);
    CHECK(k >= 0 && cv_model_layer_params(m, k) == 3 * 3 * 3 * 4 + 4, "conv_a params %zu",
          k >= 0 ? cv_model_layer_params(m, k) : 0);
    cv_model_free(m);
}

static void test_functional_blocks(void)
{
    static const char *const layers[] = {"dw", "sep", "ap", NULL};
    check_case(FIX "func_blocks.h5", NULL, "func_blocks", layers, 1e-5);
}

static void test_functional_misc(void)
{
    static const char *const layers[] = {"ssm", "~d_r3", NULL};
    check_case(FIX "func_misc.h5", NULL, "func_misc", layers, 1e-5);
}

static void test_maximum_minimum(void)
{
    if (!cv_op_find("Max") || !cv_op_find("Min"))
        SKIP("the engine has no Max/Min operator yet (Keras Maximum/Minimum map to them)");
    check_case(FIX "minmax.h5", NULL, "minmax", NULL, 1e-6);
}

static void test_sequential_with_input_layer(void)
{
    check_case(FIX "smooth.h5", NULL, "smooth", NULL, 1e-5);
}

/* ---- file kinds -------------------------------------------------------------------- */

static void test_weights_only_with_config(void)
{
    /* also: a Rescaling layer first, weights as float64, vlen weight_names */
    check_case(FIX "weights_only.h5", FIX "weights_only.json", "weights_only", NULL, 1e-5);
}

static void test_old_layout(void)
{
    check_case(FIX "old_layout.h5", FIX "old_layout.json", "old_layout", NULL, 1e-5);
    /* the same file with Theano -> TF kernel flipping */
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, FIX "old_layout.h5", FIX "old_layout.json", 1, &err) == CV_OK, "%s", err.msg);
    cv_shape xs, ys;
    float *x = load_npy("old_layout_x.npy", &xs), *y = load_npy("old_layout_yflip.npy", &ys);
    REQUIRE(x && y, "fixtures missing");
    double e = run_compare(m, &xs, x, NULL, y, &ys, 0, NULL);
    printf("    old layout, flipped kernels: max rel diff %.3g\n", e);
    CHECK(e < 1e-5, "flipped output differs: %g", e);
    free(x);
    free(y);
    cv_model_free(m);
}

/* ---- the built-in VGG16 base ------------------------------------------------------- */

static const struct {
    const char *old, *apps;
    int cin, cout;
} VGG[] = {
    {"conv1_1", "block1_conv1", 3, 64},    {"conv1_2", "block1_conv2", 64, 64},
    {"conv2_1", "block2_conv1", 64, 128},  {"conv2_2", "block2_conv2", 128, 128},
    {"conv3_1", "block3_conv1", 128, 256}, {"conv3_2", "block3_conv2", 256, 256},
    {"conv3_3", "block3_conv3", 256, 256}, {"conv4_1", "block4_conv1", 256, 512},
    {"conv4_2", "block4_conv2", 512, 512}, {"conv4_3", "block4_conv3", 512, 512},
    {"conv5_1", "block5_conv1", 512, 512}, {"conv5_2", "block5_conv2", 512, 512},
    {"conv5_3", "block5_conv3", 512, 512},
};

/* Add a conv layer group whose datasets are never written: HDF5 allocates
 * no storage and reads them back as zeros, so the file stays tiny. */
static void add_empty_conv(hid_t f, const char *name, int cin, int cout)
{
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    char wn[2][64];
    snprintf(wn[0], sizeof wn[0], "%s_W:0", name);
    snprintf(wn[1], sizeof wn[1], "%s_b:0", name);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 64);
    hsize_t two = 2;
    hid_t sp = H5Screate_simple(1, &two, NULL);
    hid_t a = H5Acreate2(g, "weight_names", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, wn);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    hsize_t kd[4] = {3, 3, (hsize_t)cin, (hsize_t)cout}, bd[1] = {(hsize_t)cout};
    hid_t ks = H5Screate_simple(4, kd, NULL), bs = H5Screate_simple(1, bd, NULL);
    H5Dclose(H5Dcreate2(g, wn[0], H5T_IEEE_F32LE, ks, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Dclose(H5Dcreate2(g, wn[1], H5T_IEEE_F32LE, bs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(ks);
    H5Sclose(bs);
    H5Gclose(g);
}

static void test_vgg16_builtin_block1_only(void)
{
    /* The fixture holds block 1 only: the built-in base needs all 13 convs. */
    static const char *const parts[] = {FIX "vgg16_block1.h5", "conv2_1", "missing", NULL};
    expect_fail(FIX "vgg16_block1.h5", NULL, CV_ERR_FORMAT, parts);
}

static void test_vgg16_builtin(void)
{
    const char *tmp = "/tmp/cnnviz_test_vgg16_full.h5";
    REQUIRE(copy_file(FIX "vgg16_block1.h5", tmp, -1) == 0, "cannot copy the fixture to /tmp");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0, "cannot open %s", tmp);
    for (int k = 2; k < 13; k++)
        add_empty_conv(f, VGG[k].old, VGG[k].cin, VGG[k].cout);
    H5Fclose(f);
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, tmp, NULL, 0, &err) == CV_OK, "%s", err.msg);
    for (int k = 0; k < 13; k++) {
        check_layer(m, VGG[k].old, "Relu");
        char conv[64];
        snprintf(conv, sizeof conv, "%s/conv", VGG[k].old);
        check_layer(m, conv, "Conv");
    }
    for (int b = 1; b <= 5; b++) {
        char pool[16];
        snprintf(pool, sizeof pool, "pool%d", b);
        check_layer(m, pool, "MaxPool");
    }
    const char *pre = cv_model_meta(m, "preprocess"), *order = cv_model_meta(m, "channel_order");
    CHECK(pre && strcmp(pre, "raw") == 0 && order && strcmp(order, "BGR") == 0, "builtin preprocessing metadata");
    cv_shape decl = cv_model_input_shape(m);
    CHECK(decl.ndim == 4 && decl.d[1] == -1 && decl.d[2] == -1 && decl.d[3] == 3, "declared input");
    cv_shape xs, ys, cs;
    float *x = load_npy("vgg16_block1_x.npy", &xs), *y = load_npy("vgg16_block1_y.npy", &ys);
    float *c11 = load_npy("vgg16_block1_conv1_1.npy", &cs);
    REQUIRE(x && y && c11, "fixtures missing");
    double e1 = run_compare(m, &xs, x, "conv1_1", c11, &cs, 1, NULL);
    double e2 = run_compare(m, &xs, x, "pool1", y, &ys, 1, NULL);
    printf("    VGG16 base (fp16 weights): conv1_1 max rel diff %.3g, pool1 %.3g\n", e1, e2);
    CHECK(e1 < 1e-5 && e2 < 1e-5, "block 1 differs: %g %g", e1, e2);
    /* the whole base at 32x32: five pools -> 1x1x512 (zeros past block 1) */
    cv_shape big = {4, {1, 32, 32, 3}};
    float *xb = malloc(sizeof(float) * 32 * 32 * 3);
    test_seed(5);
    test_fill(xb, 32 * 32 * 3, 0.0f, 255.0f);
    cv_run *r;
    cv_run_options o = cv_run_defaults();
    if (cv_run_create(&r, m, &big, &o, &err) == CV_OK && cv_run_forward(r, xb, &err) == CV_OK) {
        const cv_tensor *out = cv_run_output(r, 0);
        char s[64];
        CHECK(out->shape.ndim == 4 && out->shape.d[1] == 512 && out->shape.d[2] == 1 && out->shape.d[3] == 1,
              "pool5 output %s", cv_shape_str(&out->shape, s, sizeof s));
        cv_run_free(r);
    } else {
        CHECK(0, "%s", err.msg);
    }
    free(xb);
    free(x);
    free(y);
    free(c11);
    cv_model_free(m);
    unlink(tmp);
}

static void test_vgg16_builtin_applications_names(void)
{
    const char *tmp = "/tmp/cnnviz_test_vgg16_apps.h5";
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(f >= 0, "cannot create %s", tmp);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 16);
    hsize_t one = 1;
    hid_t sp = H5Screate_simple(1, &one, NULL);
    hid_t a = H5Acreate2(f, "layer_names", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    char first[16] = "block1_conv1";
    H5Awrite(a, st, first);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    for (int k = 0; k < 13; k++)
        add_empty_conv(f, VGG[k].apps, VGG[k].cin, VGG[k].cout);
    H5Fclose(f);
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, tmp, NULL, 0, &err) == CV_OK, "%s", err.msg);
    check_layer(m, "block1_conv1", "Relu");
    check_layer(m, "block5_conv3", "Relu");
    check_layer(m, "block5_pool", "MaxPool");
    cv_model_free(m);
    unlink(tmp);
}

/* ---- gradients ------------------------------------------------------------------------- */

/* d(sum(w * y))/dx by the engine's backward against central differences
 * over the whole loaded model. */
static void test_model_gradient(void)
{
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, FIX "smooth.h5", NULL, 0, &err) == CV_OK, "%s", err.msg);
    cv_shape xs;
    float *x = load_npy("smooth_x.npy", &xs);
    REQUIRE(x, "fixture missing");
    int out = cv_model_find_layer(m, "dense", &err);
    REQUIRE(out >= 0, "%s", err.msg);
    cv_run *r;
    cv_run_options o = cv_run_defaults();
    o.need_grad = 1;
    REQUIRE(cv_run_create(&r, m, &xs, &o, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_run_forward(r, x, &err) == CV_OK, "%s", err.msg);
    const cv_tensor *y = cv_run_output(r, 0);
    size_t ny = cv_shape_numel(&y->shape), nx = cv_shape_numel(&xs);
    float *w = malloc(ny * sizeof(float)), *g = malloc(nx * sizeof(float)), *fd = malloc(nx * sizeof(float));
    test_seed(3);
    test_fill(w, ny, -1.0f, 1.0f);
    const float *gi;
    REQUIRE(cv_run_backward(r, out, w, &gi, &err) == CV_OK, "%s", err.msg);
    memcpy(g, gi, nx * sizeof(float));
    const float eps = 1e-2f;
    for (size_t k = 0; k < nx; k++) {
        double s[2];
        for (int side = 0; side < 2; side++) {
            float keep = x[k];
            x[k] = keep + (side ? -eps : eps);
            cv_run_forward(r, x, &err);
            x[k] = keep;
            const cv_tensor *yy = cv_run_output(r, 0);
            s[side] = 0;
            for (size_t j = 0; j < ny; j++)
                s[side] += (double)w[j] * yy->f[j];
        }
        fd[k] = (float)((s[0] - s[1]) / (2.0 * eps));
    }
    double e = rel_err(g, fd, nx);
    printf("    whole-model gradient (%zu inputs): max rel diff vs central differences %.3g (|g| max %.3g)\n", nx, e,
           max_abs(fd, nx));
    CHECK(e < 1e-2, "gradient differs: %g", e);
    free(w);
    free(g);
    free(fd);
    free(x);
    cv_run_free(r);
    cv_model_free(m);
}

/* ---- a real model ------------------------------------------------------------------------ */

static void test_resnet8_kitten(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("../shared is absent: the real Keras ResNet-8 is not available");
    char path[512];
    snprintf(path, sizeof path, "%s/models/keras_resnet8_cifar10/pretrainedResnet.h5", shared);
    cv_model *m;
    cv_error err;
    REQUIRE(load(&m, path, NULL, 0, &err) == CV_OK, "%s", err.msg);
    cv_shape xs, ys, os;
    float *x = load_npy("resnet8_kitten_x.npy", &xs), *y = load_npy("resnet8_kitten_y.npy", &ys);
    if (!x || !y) {
        free(x);
        free(y);
        cv_model_free(m);
        SKIP("resnet8 fixtures not generated (run tests/fixtures/make_keras_small.py with ../shared present)");
    }
    check_layer(m, "conv2d", "Conv");
    check_layer(m, "batch_normalization", "BatchNormalization");
    check_layer(m, "add", "Add");
    check_layer(m, "average_pooling2d", "AveragePool");
    check_layer(m, "dense", "Softmax");
    double e = run_compare(m, &xs, x, NULL, y, &ys, 0, &os);
    printf("    ResNet-8 on the kitten: max rel diff vs NumPy %.3g\n", e);
    CHECK(e < 1e-4, "probabilities differ: %g", e);
    cv_run *r;
    cv_run_options o = cv_run_defaults();
    if (cv_run_create(&r, m, &xs, &o, &err) == CV_OK && cv_run_forward(r, x, &err) == CV_OK) {
        const cv_tensor *p = cv_run_output(r, 0);
        int best = 0;
        for (int k = 1; k < 10; k++)
            best = p->f[k] > p->f[best] ? k : best;
        printf("    ResNet-8: class %d (cat = 3), p = %.4f\n", best, p->f[best]);
        CHECK(best == 3, "classified as %d, not cat", best);
        cv_run_free(r);
    }
    free(x);
    free(y);
    cv_model_free(m);
}

/* ---- refusals --------------------------------------------------------------------------------- */

static void test_bad_files(void)
{
    {
        static const char *const p[] = {FIX "bad_json.h5", "model_config", "not valid JSON", NULL};
        expect_fail(FIX "bad_json.h5", NULL, CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {FIX "not_keras.h5", "not a Keras model", NULL};
        expect_fail(FIX "not_keras.h5", NULL, CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {FIX "bad_shape.h5", "conv_b", "kernel", "[3, 3, 5, 6]", "[3, 3, 4, 6]", NULL};
        expect_fail(FIX "bad_shape.h5", NULL, CV_ERR_SHAPE, p);
    }
    {
        static const char *const p[] = {FIX "missing_weights.h5", "conv_b", "missing", NULL};
        expect_fail(FIX "missing_weights.h5", NULL, CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {FIX "seq_cnn.h5", "/nonexistent/arch.json", NULL};
        expect_fail(FIX "seq_cnn.h5", "/nonexistent/arch.json", CV_ERR_IO, p);
    }
    /* Calling the Keras loader on something that is not HDF5 at all. */
    cv_model *m = NULL;
    cv_error err;
    cv_status st = cv_load_keras(&m, FIX "weights_only.json", NULL, &err);
    printf("    not HDF5 -> %s: %s\n", cv_status_string(st), err.msg);
    CHECK(st == CV_ERR_FORMAT && !m && strstr(err.msg, "weights_only.json"), "non-HDF5 file accepted");
}

/* Cut a real model file at many lengths; every load fails cleanly. */
static void test_truncated_files(void)
{
    struct stat sb;
    REQUIRE(stat(FIX "func_blocks.h5", &sb) == 0, "fixture missing");
    const char *tmp = "/tmp/cnnviz_test_keras_trunc.h5";
    int failures = 0, tried = 0;
    for (long len = 8; len < sb.st_size; len = len * 3 / 2 + 97) {
        copy_file(FIX "func_blocks.h5", tmp, len);
        cv_model *m = NULL;
        cv_error err = {0};
        cv_status st = cv_model_load(&m, tmp, NULL, &err);
        tried++;
        if (st == CV_OK || m || !strstr(err.msg, tmp) || strchr(err.msg, '\n')) {
            failures++;
            printf("    truncated at %ld: %s '%s'\n", len, cv_status_string(st), err.msg);
        }
        cv_model_free(m);
    }
    /* flip bytes in the middle of a full file */
    for (int k = 0; k < 24; k++) {
        copy_file(FIX "func_blocks.h5", tmp, -1);
        FILE *f = fopen(tmp, "r+b");
        test_seed((unsigned long long)k + 100);
        for (int j = 0; j < 64; j++) {
            long at = 8 + (long)(test_uniform(0, 1) * (float)(sb.st_size - 9));
            fseek(f, at, SEEK_SET);
            fputc((int)(test_uniform(0, 256)), f);
        }
        fclose(f);
        cv_model *m = NULL;
        cv_error err = {0};
        cv_status st = cv_model_load(&m, tmp, NULL, &err);
        tried++;
        if (st != CV_OK && (!strstr(err.msg, tmp) || strchr(err.msg, '\n'))) {
            failures++;
            printf("    corrupted #%d: '%s'\n", k, err.msg);
        }
        cv_model_free(m);
    }
    printf("    %d truncated/corrupted files, %d without a clean one-line error\n", tried, failures);
    CHECK(failures == 0, "%d bad messages", failures);
    unlink(tmp);
}

/* cv_load_options.max_memory caps the weights read from the file. */
static void test_memory_limit(void)
{
    cv_model *m = NULL;
    cv_error err = {0};
    cv_load_options opt = {.max_memory = 1000}; /* conv_a alone needs 108 floats, conv_b 216 */
    cv_status st = cv_model_load(&m, FIX "seq_cnn.h5", &opt, &err);
    printf("    max_memory 1000 -> %s: %s\n", cv_status_string(st), err.msg);
    CHECK(st == CV_ERR_LIMIT && !m && strstr(err.msg, "conv_b") && strstr(err.msg, "1000 bytes"),
          "limit not applied");
    cv_model_free(m);
    opt.max_memory = 100000;
    st = cv_model_load(&m, FIX "seq_cnn.h5", &opt, &err);
    CHECK(st == CV_OK, "%s", err.msg);
    cv_model_free(m);
}

/* Architecture JSON written here, applied to the weights-only fixture. */
static void check_config(const char *json, cv_status status, const char *const *parts)
{
    const char *tmp = "/tmp/cnnviz_test_keras_config.json";
    write_text(tmp, json);
    expect_fail(FIX "weights_only.h5", tmp, status, parts);
    unlink(tmp);
}

#define INPUT_LAYER \
    "{\"class_name\": \"InputLayer\", \"name\": \"input_1\", \"config\": {\"name\": \"input_1\", " \
    "\"batch_input_shape\": [null, 8, 8, 3]}, \"inbound_nodes\": []}"
#define FUNCTIONAL(layers, out) \
    "{\"class_name\": \"Functional\", \"config\": {\"layers\": [" INPUT_LAYER ", " layers "], " \
    "\"input_layers\": [[\"input_1\", 0, 0]], \"output_layers\": [[\"" out "\", 0, 0]]}}"
#define LAYER(cls, name, cfg, from) \
    "{\"class_name\": \"" cls "\", \"name\": \"" name "\", \"config\": {\"name\": \"" name "\"" cfg "}, " \
    "\"inbound_nodes\": [[[\"" from "\", 0, 0, {}]]]}"

static void test_bad_configs(void)
{
    {
        static const char *const p[] = {"cnnviz_test_keras_config.json", "not valid JSON", NULL};
        check_config("{\"class_name\": \"Functional\", \"config\": [", CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {"lstm_1", "LSTM", "does not support", NULL};
        check_config(FUNCTIONAL(LAYER("LSTM", "lstm_1", ", \"units\": 4", "input_1"), "lstm_1"), CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"act", "'ghost'", "not in the model", NULL};
        check_config(FUNCTIONAL(LAYER("Activation", "act", ", \"activation\": \"relu\"", "ghost"), "act"),
                     CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {"r", "threshold", "not supported", NULL};
        check_config(FUNCTIONAL(LAYER("ReLU", "r", ", \"threshold\": 1.0", "input_1"), "r"), CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"r", "max_value", NULL};
        check_config(FUNCTIONAL(LAYER("ReLU", "r", ", \"max_value\": 6, \"negative_slope\": 0.1", "input_1"), "r"),
                     CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"a", "gelu", "not supported", NULL};
        check_config(FUNCTIONAL(LAYER("Activation", "a", ", \"activation\": \"gelu\"", "input_1"), "a"),
                     CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"p", "channels_first", NULL};
        check_config(FUNCTIONAL(LAYER("MaxPooling2D", "p", ", \"data_format\": \"channels_first\"", "input_1"), "p"),
                     CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"bn", "axis", NULL};
        check_config(FUNCTIONAL(LAYER("BatchNormalization", "bn", ", \"axis\": 1", "input_1"), "bn"),
                     CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"p", "padding 'causal'", NULL};
        check_config(FUNCTIONAL(LAYER("MaxPooling2D", "p", ", \"padding\": \"causal\"", "input_1"), "p"),
                     CV_ERR_UNSUPPORTED, p);
    }
    {
        /* conv_a exists in the weights file with a 3x3x3x4 kernel */
        static const char *const p[] = {"conv_a", "kernel", "[3, 3, 3, 4]", "[5, 5, 3, 4]", NULL};
        check_config(FUNCTIONAL(LAYER("Conv2D", "conv_a", ", \"filters\": 4, \"kernel_size\": [5, 5]", "input_1"),
                                "conv_a"),
                     CV_ERR_SHAPE, p);
    }
    {
        static const char *const p[] = {"conv_z", "missing from the weights file", NULL};
        check_config(FUNCTIONAL(LAYER("Conv2D", "conv_z", ", \"filters\": 4, \"kernel_size\": 3", "input_1"),
                                "conv_z"),
                     CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {"nested", "Functional", "nested model", NULL};
        check_config(FUNCTIONAL(LAYER("Functional", "nested", ", \"layers\": []", "input_1"), "nested"),
                     CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"RNNModel", NULL};
        check_config("{\"class_name\": \"RNNModel\", \"config\": {}}", CV_ERR_UNSUPPORTED, p);
    }
    {
        static const char *const p[] = {"output 'nothing'", NULL};
        check_config(FUNCTIONAL(LAYER("Activation", "a", ", \"activation\": \"relu\"", "input_1"), "nothing"),
                     CV_ERR_FORMAT, p);
    }
    {
        static const char *const p[] = {"fl", "Reshape", "target_shape", NULL};
        check_config(FUNCTIONAL(LAYER("Reshape", "fl", ", \"target_shape\": [5, 5]", "input_1"), "fl"), CV_ERR_SHAPE, p);
    }
}

int main(void)
{
    RUN(test_sequential_full_model);
    RUN(test_functional_blocks);
    RUN(test_functional_misc);
    RUN(test_maximum_minimum);
    RUN(test_sequential_with_input_layer);
    RUN(test_weights_only_with_config);
    RUN(test_old_layout);
    RUN(test_vgg16_builtin_block1_only);
    RUN(test_vgg16_builtin);
    RUN(test_vgg16_builtin_applications_names);
    RUN(test_model_gradient);
    RUN(test_resnet8_kitten);
    RUN(test_bad_files);
    RUN(test_truncated_files);
    RUN(test_memory_limit);
    RUN(test_bad_configs);
    return test_summary("keras");
}
