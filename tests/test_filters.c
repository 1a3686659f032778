/* Filter visualisation: the original's algorithm against an independent
 * PyTorch/NumPy reference (tests/fixtures/make_filters_ref.py), the lucid
 * parameterisation against numpy.fft and finite differences, the driver's
 * batching, dead-filter reports and errors. */
#include "cnnviz_viz.h"
#include "lib/netbuild.h"
#include "lib/test.h"
#include "../src/core/graph.h"
#include "../src/viz/lucid.h"
#include "../src/viz/seed.h"
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/filters/"

/* Read a fixture; NULL (and a failed check) if it cannot be read. */
static float *fixture(const char *name, cv_shape *shape)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s.npy", name);
    cv_shape s;
    float *d = NULL;
    cv_error err;
    if (cv_npy_read(path, &s, &d, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    if (shape)
        *shape = s;
    return d;
}

/* max |a - b| / max(1, max |b|): the tolerance scale for images whose
 * values run from about 1 to 150. */
static double scaled_diff(const float *a, const float *b, size_t n)
{
    double mx = 1;
    for (size_t i = 0; i < n; i++)
        mx = fabs(b[i]) > mx ? fabs(b[i]) : mx;
    return test_max_abs_diff(a, b, n) / mx;
}

/* ---- the small conv net of the fixture ---------------------------------------- */

static int add_const(cv_model *m, const char *name, const char *fix)
{
    cv_shape s;
    float *d = fixture(fix, &s);
    int v = d ? nb_model_const(m, name, CV_F32, &s, d, NULL) : -1;
    free(d);
    return v;
}

/* x -> Conv(3->4) -> Relu -> MaxPool 2 -> Conv(4->6) -> Relu "r2"
 *   [-> GlobalAveragePool -> Flatten "flat" when with_flat]
 * nhwc: the input is channels-last, transposed to NCHW first (as Keras models are). */
static cv_model *small_net_layout(bool with_flat, bool nhwc)
{
    cv_error err;
    cv_model *m = cv_model_new("<small net>", &err);
    cv_shape xs = nhwc ? (cv_shape){4, {1, 16, 16, 3}} : (cv_shape){4, {1, 3, 16, 16}};
    int x = nb_model_input(m, -1, "x", &xs, NULL);
    if (nhwc) {
        int t = cv_model_value(m, "x_nchw", NULL);
        m->input_nhwc = 1;
        int64_t perm[4] = {0, 3, 1, 2};
        int n = cv_model_add_node(m, "to_nchw", "Transpose", &x, 1, &t, 1, NULL);
        cv_node_set_ints(m, n, "perm", perm, 4, NULL);
        x = t;
    }
    int w1 = add_const(m, "w1", "seed_w1"), b1 = add_const(m, "b1", "seed_b1");
    int w2 = add_const(m, "w2", "seed_w2"), b2 = add_const(m, "b2", "seed_b2");
    int c1 = cv_model_value(m, "c1", NULL), r1 = cv_model_value(m, "r1", NULL), p1 = cv_model_value(m, "p1", NULL);
    int c2 = cv_model_value(m, "c2", NULL), r2 = cv_model_value(m, "r2", NULL);
    int64_t k3[2] = {3, 3}, pad1[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
    int in1[3] = {x, w1, b1}, in2[3] = {p1, w2, b2};
    int n = cv_model_add_node(m, "conv1", "Conv", in1, 3, &c1, 1, NULL);
    cv_node_set_ints(m, n, "kernel_shape", k3, 2, NULL);
    cv_node_set_ints(m, n, "pads", pad1, 4, NULL);
    cv_model_add_node(m, "relu1", "Relu", &c1, 1, &r1, 1, NULL);
    n = cv_model_add_node(m, "pool1", "MaxPool", &r1, 1, &p1, 1, NULL);
    cv_node_set_ints(m, n, "kernel_shape", k2, 2, NULL);
    cv_node_set_ints(m, n, "strides", k2, 2, NULL);
    n = cv_model_add_node(m, "conv2", "Conv", in2, 3, &c2, 1, NULL);
    cv_node_set_ints(m, n, "kernel_shape", k3, 2, NULL);
    cv_node_set_ints(m, n, "pads", pad1, 4, NULL);
    cv_model_add_node(m, "relu2", "Relu", &c2, 1, &r2, 1, NULL);
    int out = r2;
    if (with_flat) {
        int gp = cv_model_value(m, "gp", NULL), fl = cv_model_value(m, "flat", NULL);
        cv_model_add_node(m, "gap", "GlobalAveragePool", &r2, 1, &gp, 1, NULL);
        cv_model_add_node(m, "flatten", "Flatten", &gp, 1, &fl, 1, NULL);
        out = fl;
    }
    m->outputs = malloc(sizeof(int));
    m->outputs[0] = out;
    m->n_outputs = 1;
    if (cv_model_finalize(m, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        cv_model_free(m);
        return NULL;
    }
    return m;
}

static cv_model *small_net(bool with_flat) { return small_net_layout(with_flat, false); }

static const int ref_filters[3] = {0, 1, 3};

static cv_filters_options seed_options(const cv_model *m, const float *x0, int iters)
{
    cv_filters_options o = cv_filters_defaults();
    o.layer = cv_model_find_layer(m, "relu2", NULL);
    o.filters = ref_filters;
    o.n_filters = 3;
    o.height = o.width = 16;
    o.iterations = iters;
    o.init = x0;
    return o;
}

/* ---- method seed ------------------------------------------------------------------ */

static void check_seed(int iters)
{
    cv_model *m = small_net(false);
    REQUIRE(m, "model");
    float *x0 = fixture("seed_x0", NULL);
    char name[32];
    snprintf(name, sizeof name, "seed_iter%d", iters);
    cv_shape rs;
    float *ref = fixture(name, &rs);
    snprintf(name, sizeof name, "seed_pic%d", iters);
    float *pic = fixture(name, NULL);
    REQUIRE(x0 && ref && pic, "fixtures");
    cv_filters_options o = seed_options(m, x0, iters);
    cv_filters_result res;
    cv_error err;
    cv_status st = cv_filters_run(&res, m, &o, &err);
    CHECK(st == CV_OK, "%s", err.msg);
    if (st == CV_OK) {
        size_t n = cv_shape_numel(&rs);
        CHECK(res.count == 3 && res.height == 16 && res.width == 16 && res.channels == 3, "result geometry");
        double d = scaled_diff(res.images, ref, n);
        printf("    seed, %d iteration(s), filters 0 1 3: max |diff| / max(1, max |ref|) = %.3g\n", iters, d);
        CHECK(d <= 1e-4, "images differ from the reference by %g (tolerance 1e-4)", d);
        /* the picture: the original's deprocess (uint8 truncation: allow 1) */
        int worst = 0;
        for (size_t i = 0; i < n; i++) {
            int e = abs((int)res.rgb[i] - (int)pic[i]);
            worst = e > worst ? e : worst;
        }
        printf("    deprocessed pictures: max difference %d (of 255)\n", worst);
        CHECK(worst <= 1, "deprocessed pictures differ by %d", worst);
        CHECK(res.n_dead == 0, "%d filters reported dead", res.n_dead);
        if (iters == 3) {
            float *act = fixture("seed_act3", NULL);
            if (act) {
                double da = test_max_rel_diff(res.activation, act, 3);
                printf("    final mean activations %.4f %.4f %.4f, rel diff %.3g\n", res.activation[0],
                       res.activation[1], res.activation[2], da);
                CHECK(da < 1e-4, "activations differ by %g", da);
            }
            free(act);
        }
        cv_filters_result_free(&res);
    }
    free(x0);
    free(ref);
    free(pic);
    cv_model_free(m);
}

static void test_seed_one_iteration(void) { check_seed(1); }
static void test_seed_three_iterations(void) { check_seed(3); }

/* Chunks of one filter give the same pictures as one batch of three. */
static void test_seed_chunks(void)
{
    cv_model *m = small_net(false);
    REQUIRE(m, "model");
    float *x0 = fixture("seed_x0", NULL);
    REQUIRE(x0, "fixture");
    cv_filters_options o = seed_options(m, x0, 3);
    cv_filters_result a, b;
    cv_error err;
    REQUIRE(cv_filters_run(&a, m, &o, &err) == CV_OK, "%s", err.msg);
    o.max_batch = 1;
    cv_status st = cv_filters_run(&b, m, &o, &err);
    CHECK(st == CV_OK, "%s", err.msg);
    if (st == CV_OK) {
        double d = scaled_diff(b.images, a.images, (size_t)3 * 16 * 16 * 3);
        printf("    batch of 3 vs 3 chunks of 1: %d chunk(s) vs %d, max scaled diff %.3g\n", a.n_chunks, b.n_chunks, d);
        CHECK(a.n_chunks == 1 && b.n_chunks == 3, "chunks %d %d", a.n_chunks, b.n_chunks);
        CHECK(d < 1e-5, "chunked result differs by %g", d);
        cv_filters_result_free(&b);
    }
    cv_filters_result_free(&a);
    free(x0);
    cv_model_free(m);
}

/* Filter 5's bias is -1e6: its ReLU never fires, so it is reported. Filter
 * 2 has no gradient on the first step only: not dead. */
static void test_seed_dead_filter(void)
{
    cv_model *m = small_net(false);
    REQUIRE(m, "model");
    float *x0 = fixture("seed_x0", NULL);
    REQUIRE(x0, "fixture");
    cv_filters_options o = seed_options(m, x0, 3);
    int ks[3] = {2, 5, 0};
    o.filters = ks;
    cv_filters_result res;
    cv_error err;
    REQUIRE(cv_filters_run(&res, m, &o, &err) == CV_OK, "%s", err.msg);
    printf("    dead flags for filters 2 5 0: %d %d %d\n", res.dead[0], res.dead[1], res.dead[2]);
    CHECK(res.dead[0] == 0 && res.dead[1] == 1 && res.dead[2] == 0 && res.n_dead == 1, "dead flags");
    CHECK(res.filters[0] == 2 && res.filters[1] == 5 && res.filters[2] == 0, "order of filters kept");
    cv_filters_result_free(&res);
    free(x0);
    cv_model_free(m);
}

/* filters.txt's status: a filter with a gradient but a final mean activation
 * of exactly 0 is "inactive", never "ok" (issue 17: it was marked ok). */
static void test_filter_status(void)
{
    float act[4] = {0.5f, 0.0f, 0.0f, -0.25f};
    int dead[4] = {0, 0, 1, 0};
    cv_filters_result res = {.count = 4, .activation = act, .dead = dead};
    const char *want[4] = {"ok", "inactive", "dead", "ok"};
    for (int i = 0; i < 4; i++)
        CHECK(strcmp(cv_filters_status(&res, i), want[i]) == 0, "filter %d: %s, expected %s", i,
              cv_filters_status(&res, i), want[i]);
}

/* Without an init image: the noise is reproducible from the seed. */
static void test_seed_noise(void)
{
    cv_model *m = small_net(false);
    REQUIRE(m, "model");
    cv_filters_options o = seed_options(m, NULL, 2);
    o.seed = 7;
    cv_filters_result a, b, c;
    cv_error err;
    REQUIRE(cv_filters_run(&a, m, &o, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_filters_run(&b, m, &o, &err) == CV_OK, "%s", err.msg);
    o.seed = 8;
    REQUIRE(cv_filters_run(&c, m, &o, &err) == CV_OK, "%s", err.msg);
    size_t n = (size_t)3 * 16 * 16 * 3;
    CHECK(memcmp(a.images, b.images, n * sizeof(float)) == 0, "same seed, different images");
    CHECK(test_max_abs_diff(a.images, c.images, n) > 1e-3, "another seed gives the same images");
    cv_filters_result_free(&a);
    cv_filters_result_free(&b);
    cv_filters_result_free(&c);
    cv_model_free(m);
}

/* A channels-last model: the same pictures, init and images in its layout. */
static void test_seed_nhwc(void)
{
    cv_model *m = small_net_layout(false, true);
    REQUIRE(m, "model");
    float *x0 = fixture("seed_x0", NULL), *ref = fixture("seed_iter3", NULL);
    REQUIRE(x0 && ref, "fixtures");
    float hwc[16 * 16 * 3];
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 256; p++)
            hwc[p * 3 + c] = x0[c * 256 + p];
    cv_filters_options o = seed_options(m, hwc, 3);
    cv_filters_result res;
    cv_error err;
    REQUIRE(cv_filters_run(&res, m, &o, &err) == CV_OK, "%s", err.msg);
    double d = scaled_diff(res.images, ref, (size_t)3 * 16 * 16 * 3);
    printf("    channels-last model, 3 iterations: max scaled diff from the reference %.3g\n", d);
    CHECK(d <= 1e-4, "NHWC images differ by %g", d);
    cv_filters_result_free(&res);
    free(x0);
    free(ref);
    cv_model_free(m);
}

static void test_blur(void)
{
    cv_shape s;
    float *in = fixture("blur_in", &s), *ref = fixture("blur_out", NULL);
    REQUIRE(in && ref && s.ndim == 3, "fixtures");
    int h = (int)s.d[0], w = (int)s.d[1], c = (int)s.d[2];
    size_t n = cv_shape_numel(&s);
    float *planar = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)), *hwc = malloc(n * sizeof(float));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++)
                planar[((size_t)ch * h + y) * w + x] = in[((size_t)y * w + x) * c + ch];
    cv_seed_blur3(out, planar, c, h, w);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < c; ch++)
                hwc[((size_t)y * w + x) * c + ch] = out[((size_t)ch * h + y) * w + x];
    double d = test_max_abs_diff(hwc, ref, n);
    printf("    3x3 box blur, reflect-101 borders, %dx%dx%d: max abs diff %.3g\n", h, w, c, d);
    CHECK(d < 1e-6, "blur differs by %g", d);
    free(planar);
    free(out);
    free(hwc);
    free(in);
    free(ref);
}

static void test_percentile(void)
{
    static const char *const names[] = {"pct_a", "pct_b", "pct_c"};
    static const double qs[3] = {1, 50, 99.5};
    for (int k = 0; k < 3; k++) {
        cv_shape s;
        char qn[32];
        snprintf(qn, sizeof qn, "%s_q1", names[k]);
        float *v = fixture(names[k], &s), *ref = fixture(qn, NULL);
        REQUIRE(v && ref, "fixtures");
        size_t n = cv_shape_numel(&s);
        float *tmp = malloc(n * sizeof(float));
        for (int q = 0; q < 3; q++) {
            memcpy(tmp, v, n * sizeof(float));
            double p = cv_seed_percentile(tmp, n, qs[q]);
            double d = fabs(p - ref[q]);
            printf("    percentile %g of %s (n=%zu): %.7g vs numpy %.7g, diff %.3g\n", qs[q], names[k], n, p,
                   (double)ref[q], d);
            CHECK(d <= 1e-6 * (1 + fabs(ref[q])), "percentile differs by %g", d);
        }
        free(tmp);
        free(v);
        free(ref);
    }
}

static void test_choose(void)
{
    int out[512], again[512];
    int n = cv_filters_choose(out, 16, 512, 42);
    CHECK(n == 16, "chose %d", n);
    for (int k = 0; k < n; k++) {
        CHECK(out[k] >= 0 && out[k] < 512, "index %d out of range", out[k]);
        if (k)
            CHECK(out[k] > out[k - 1], "not sorted or repeated at %d: %d %d", k, out[k - 1], out[k]);
    }
    cv_filters_choose(again, 16, 512, 42);
    CHECK(memcmp(out, again, sizeof(int) * 16) == 0, "same seed, different choice");
    /* drawing 500 of 512 without replacement cannot repeat */
    n = cv_filters_choose(out, 500, 512, 3);
    for (int k = 1; k < n; k++)
        CHECK(out[k] > out[k - 1], "repeat in 500 of 512");
    n = cv_filters_choose(out, 64, 20, 1);
    CHECK(n == 20 && out[0] == 0 && out[19] == 19, "all channels when fewer than asked");
    printf("    16 of 512 (seed 42): %d %d %d ... %d\n", again[0], again[1], again[2], again[15]);
}

static void test_errors(void)
{
    cv_model *m = small_net(true);
    REQUIRE(m, "model");
    cv_filters_options o = seed_options(m, NULL, 1);
    cv_filters_result res;
    cv_error err;
    int bad[2] = {1, 6};
    o.filters = bad;
    o.n_filters = 2;
    CHECK(cv_filters_run(&res, m, &o, &err) == CV_ERR_INVALID && strstr(err.msg, "filter 6"), "%s", err.msg);
    printf("    %s\n", err.msg);
    CHECK(res.count == 0 && !res.images, "result not empty after an error");
    /* an N x C layer (class scores, dense units) is N x C x 1 x 1 */
    int flat_ks[2] = {1, 3};
    o.filters = flat_ks;
    o.layer = cv_model_find_layer(m, "flatten", NULL);
    CHECK(cv_filters_run(&res, m, &o, &err) == CV_OK && res.count == 2, "flatten: %s", err.msg);
    cv_filters_result_free(&res);
    o.filters = ref_filters;
    o.layer = 99;
    CHECK(cv_filters_run(&res, m, &o, &err) == CV_ERR_INVALID, "layer out of range accepted");
    o.layer = cv_model_find_layer(m, "relu2", NULL);
    o.iterations = -1;
    CHECK(cv_filters_run(&res, m, &o, &err) == CV_ERR_INVALID, "negative iterations accepted");
    o.iterations = 1;
    o.pre.std[1] = 0;
    CHECK(cv_filters_run(&res, m, &o, &err) == CV_ERR_INVALID, "std 0 accepted");
    int ch = 0;
    CHECK(cv_filters_layer_channels(m, o.layer, 16, 16, &ch, &err) == CV_OK && ch == 6, "channels %d", ch);
    cv_model_free(m);
}

/* ---- method lucid ----------------------------------------------------------------- */

static void test_irfft2(void)
{
    static const int sizes[2][2] = {{10, 12}, {9, 7}};
    for (int k = 0; k < 2; k++) {
        int h = sizes[k][0], w = sizes[k][1];
        char a[32], b[32];
        snprintf(a, sizeof a, "fft_spec_%dx%d", h, w);
        snprintf(b, sizeof b, "fft_out_%dx%d", h, w);
        float *spec = fixture(a, NULL), *ref = fixture(b, NULL);
        REQUIRE(spec && ref, "fixtures");
        cv_lucid *l;
        cv_error err;
        REQUIRE(cv_lucid_create(&l, h, w, 3, &err) == CV_OK, "%s", err.msg);
        float *z = malloc(sizeof(float) * (size_t)h * w), *work = malloc(sizeof(float) * cv_lucid_work_floats(l));
        cv_lucid_irfft2(l, z, spec, work);
        double d = test_max_rel_diff(z, ref, (size_t)h * w);
        printf("    irfft2 %dx%d vs numpy.fft.irfft2: max rel diff %.3g\n", h, w, d);
        CHECK(d < 1e-5, "irfft2 differs by %g", d);
        free(z);
        free(work);
        free(spec);
        free(ref);
        cv_lucid_free(l);
    }
}

static void test_lucid_render(void)
{
    int h = 10, w = 12, k = w / 2 + 1;
    float *scale = fixture("lucid_scale", NULL), *colour = fixture("lucid_colour", NULL);
    float *params = fixture("lucid_params", NULL), *ref = fixture("lucid_rgb", NULL);
    REQUIRE(scale && colour && params && ref, "fixtures");
    cv_lucid *l;
    cv_error err;
    REQUIRE(cv_lucid_create(&l, h, w, 3, &err) == CV_OK, "%s", err.msg);
    double ds = test_max_rel_diff(cv_lucid_scale(l), scale, (size_t)h * k);
    double dc = test_max_abs_diff(&cv_lucid_colour[0][0], colour, 9);
    printf("    1/f scale max rel diff %.3g; colour matrix max diff %.3g\n", ds, dc);
    printf("    colour matrix: [%.4f %.4f %.4f; %.4f %.4f %.4f; %.4f %.4f %.4f]\n", cv_lucid_colour[0][0],
           cv_lucid_colour[0][1], cv_lucid_colour[0][2], cv_lucid_colour[1][0], cv_lucid_colour[1][1],
           cv_lucid_colour[1][2], cv_lucid_colour[2][0], cv_lucid_colour[2][1], cv_lucid_colour[2][2]);
    CHECK(ds < 1e-6, "scale differs by %g", ds);
    CHECK(dc < 1e-6, "colour matrix differs by %g", dc);
    float *rgb = malloc(sizeof(float) * 3 * h * w), *work = malloc(sizeof(float) * cv_lucid_work_floats(l));
    cv_lucid_render(l, rgb, params, work);
    double d = test_max_abs_diff(rgb, ref, (size_t)3 * h * w);
    printf("    render (scale, irfft2, colour, sigmoid) vs numpy: max abs diff %.3g\n", d);
    CHECK(d < 1e-6, "render differs by %g", d);
    free(rgb);
    free(work);
    free(scale);
    free(colour);
    free(params);
    free(ref);
    cv_lucid_free(l);
}

/* Everything between the parameters and the model input: render, a fixed
 * random view, preprocessing (BGR, torch-like mean/std). */
static void lucid_chain(const cv_lucid *l, const float *params, const cv_warp *t, const cv_preprocess *p, int h, int w,
                        float *rgb, float *view, float *x, float *work)
{
    cv_lucid_render(l, rgb, params, work);
    cv_warp_forward(view, rgb, 3, h, w, t, 0.5f);
    cv_lucid_to_input(x, view, 3, (size_t)h * w, p);
}

static void test_lucid_gradcheck(void)
{
    int h = 8, w = 6;
    size_t n = (size_t)3 * h * w;
    cv_lucid *l;
    cv_error err;
    REQUIRE(cv_lucid_create(&l, h, w, 3, &err) == CV_OK, "%s", err.msg);
    size_t np = cv_lucid_num_params(l);
    cv_preprocess p = {.name = "test", .bgr = 1, .scale = 1.0f / 255, .mean = {0.485f, 0.456f, 0.406f},
                       .std = {0.229f, 0.224f, 0.225f}};
    cv_warp t = {.scale = 1.08f, .angle = 0.12f, .dx = 1.0f, .dy = -1.0f};
    float *params = malloc(sizeof(float) * np), *dparams = calloc(np, sizeof(float)), *numeric = malloc(sizeof(float) * np);
    float *rgb = malloc(sizeof(float) * n), *view = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n);
    float *wgt = malloc(sizeof(float) * n), *dview = malloc(sizeof(float) * n), *drgb = calloc(n, sizeof(float));
    float *work = malloc(sizeof(float) * cv_lucid_work_floats(l));
    test_seed(11);
    test_fill(params, np, -0.05f, 0.05f);
    test_fill(wgt, n, -1.0f, 1.0f);
    /* analytic: d sum(wgt * x) / d params */
    lucid_chain(l, params, &t, &p, h, w, rgb, view, x, work);
    cv_lucid_to_input_backward(dview, wgt, 3, (size_t)h * w, &p);
    cv_warp_backward(drgb, dview, 3, h, w, &t);
    cv_lucid_render_backward(l, dparams, drgb, rgb, work);
    /* central differences in double sums */
    const float eps = 1e-2f;
    for (size_t i = 0; i < np; i++) {
        float keep = params[i];
        double f[2];
        for (int s = 0; s < 2; s++) {
            params[i] = keep + (s ? -eps : eps);
            lucid_chain(l, params, &t, &p, h, w, rgb, view, x, work);
            double acc = 0;
            for (size_t q = 0; q < n; q++)
                acc += (double)wgt[q] * x[q];
            f[s] = acc;
        }
        params[i] = keep;
        numeric[i] = (float)((f[0] - f[1]) / (2.0 * eps));
    }
    double e = test_max_rel_diff(dparams, numeric, np);
    printf("    lucid parameterisation + view + preprocessing: gradcheck max rel err %.3g over %zu parameters\n", e, np);
    CHECK(e < 2e-3, "gradient mismatch %g", e);
    free(params);
    free(dparams);
    free(numeric);
    free(rgb);
    free(view);
    free(x);
    free(wgt);
    free(dview);
    free(drgb);
    free(work);
    cv_lucid_free(l);
}

/* The warp is linear in the image when pad is 0: its backward must be its
 * exact transpose, <W a, b> = <a, W^T b>. */
static void test_warp_adjoint(void)
{
    int c = 3, h = 13, w = 11;
    size_t n = (size_t)c * h * w;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *wa = malloc(n * sizeof(float));
    float *wtb = calloc(n, sizeof(float));
    test_seed(5);
    test_fill(a, n, -1, 1);
    test_fill(b, n, -1, 1);
    cv_warp t = {.scale = 0.91f, .angle = -0.17f, .dx = 2.0f, .dy = 1.0f};
    cv_warp_forward(wa, a, c, h, w, &t, 0.0f);
    cv_warp_backward(wtb, b, c, h, w, &t);
    double l = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        l += (double)wa[i] * b[i];
        r += (double)a[i] * wtb[i];
    }
    printf("    warp adjoint: <W a, b> = %.9g, <a, W^T b> = %.9g\n", l, r);
    CHECK(fabs(l - r) < 1e-5 * (1 + fabs(l)), "adjoint mismatch %g", fabs(l - r));
    /* identity view reproduces the image */
    cv_warp id = {.scale = 1, .angle = 0, .dx = 0, .dy = 0};
    cv_warp_forward(wa, a, c, h, w, &id, 0.5f);
    double d = test_max_abs_diff(wa, a, n);
    CHECK(d < 1e-6, "identity warp changes the image by %g", d);
    free(a);
    free(b);
    free(wa);
    free(wtb);
}

/* The whole lucid method on the small net: the objective goes up from the
 * grey start and the pictures are valid. */
static void test_lucid_run(void)
{
    cv_model *m = small_net(false);
    REQUIRE(m, "model");
    cv_filters_options o = seed_options(m, NULL, 40);
    o.method = CV_FILTERS_LUCID;
    cv_filters_result res, grey;
    cv_error err;
    REQUIRE(cv_filters_run(&res, m, &o, &err) == CV_OK, "%s", err.msg);
    o.iterations = 1;
    o.lr = 1e-9f; /* effectively the initial image */
    REQUIRE(cv_filters_run(&grey, m, &o, &err) == CV_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        printf("    lucid filter %d: mean activation %.4f after 40 steps, %.4f at the start\n", res.filters[i],
               res.activation[i], grey.activation[i]);
        CHECK(res.activation[i] > grey.activation[i], "filter %d did not improve", res.filters[i]);
    }
    size_t n = (size_t)3 * 16 * 16 * 3;
    bool finite = true;
    for (size_t i = 0; i < n; i++)
        finite = finite && isfinite(res.images[i]) && res.images[i] >= 0.0f && res.images[i] <= 255.0f;
    CHECK(finite, "model inputs outside 0..255 for raw preprocessing");
    cv_filters_result_free(&res);
    cv_filters_result_free(&grey);
    cv_model_free(m);
}

/* Redirected ReLU: with every unit off, the gradient that would turn units
 * on passes (only where dy > 0); once any unit passes, the exact gradient. */
static void test_relu_redirect(void)
{
    cv_error err;
    cv_model *m = cv_model_new("<relu>", &err);
    cv_shape xs = {4, {2, 1, 1, 4}};
    int x = nb_model_input(m, -1, "x", &xs, NULL), y = cv_model_value(m, "y", NULL);
    m->outputs = malloc(sizeof(int));
    m->outputs[0] = y;
    m->n_outputs = 1;
    cv_model_add_node(m, "relu", "Relu", &x, 1, &y, 1, NULL);
    REQUIRE(cv_model_finalize(m, &err) == CV_OK, "%s", err.msg);
    cv_run_options ro = cv_run_defaults();
    ro.need_grad = 1;
    ro.relu_redirect = 1;
    cv_run *r;
    cv_shape s = {4, {2, 1, 1, 4}};
    REQUIRE(cv_run_create(&r, m, &s, &ro, &err) == CV_OK, "%s", err.msg);
    /* item 0: all off; item 1: one unit on */
    float in[8] = {-1, -2, -3, -4, -1, 2, -3, -4}, dy[8] = {1, -1, 0.5f, 0, 1, 1, 1, -1};
    float want[8] = {1, 0, 0.5f, 0, 0, 1, 0, 0};
    const float *g;
    REQUIRE(cv_run_forward(r, in, &err) == CV_OK && cv_run_backward(r, 0, dy, &g, &err) == CV_OK, "%s", err.msg);
    double d = test_max_abs_diff(g, want, 8);
    printf("    redirected ReLU gradient: max diff from expected %.3g\n", d);
    CHECK(d == 0, "redirected gradient wrong by %g", d);
    cv_run_free(r);
    cv_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    RUN(test_percentile);
    RUN(test_blur);
    RUN(test_seed_one_iteration);
    RUN(test_seed_three_iterations);
    RUN(test_seed_chunks);
    RUN(test_seed_dead_filter);
    RUN(test_filter_status);
    RUN(test_seed_noise);
    RUN(test_seed_nhwc);
    RUN(test_choose);
    RUN(test_errors);
    RUN(test_irfft2);
    RUN(test_lucid_render);
    RUN(test_lucid_gradcheck);
    RUN(test_warp_adjoint);
    RUN(test_lucid_run);
    RUN(test_relu_redirect);
    return test_summary("filters");
}
