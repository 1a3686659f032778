/* Occlusion maps: batched evaluation against a plain one-position-at-a-time
 * loop, layouts, fills, the regularised map, errors, and a map computed by
 * PyTorch (tests/fixtures/make_occlusion_ref.py). */
#include "lib/netbuild.h"
#include "lib/realdata.h"
#include "lib/test.h"
#include "../src/core/graph.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* ---- a small CNN built in memory --------------------------------------------
 * x -> [Transpose NHWC->NCHW] -> Conv 3x3 (4 filters, pad 1) -> Relu ->
 * MaxPool 2x2 -> Conv 3x3 (6, pad 1) -> Relu -> Flatten -> Gemm (K classes)
 * [-> Softmax]. Random weights, fixed seed: every pixel matters, so a
 * wrongly placed window changes the map. */

typedef struct {
    int nhwc, softmax, fixed_batch; /* fixed_batch: Reshape to [1, -1] instead of Flatten */
    int C, H, W, K;
} net_spec;

static int add_const(cv_model *m, const char *name, const cv_shape *s, const float *data, cv_error *err)
{
    return nb_model_const(m, name, CV_F32, s, data, err);
}

static int add_const_i64(cv_model *m, const char *name, const cv_shape *s, const int64_t *data, cv_error *err)
{
    return nb_model_const(m, name, CV_I64, s, data, err);
}

static int node1(cv_model *m, const char *op, const int *in, int n_in, const char *out, cv_error *err)
{
    int y = cv_model_value(m, out, err);
    cv_model_add_node(m, out, op, in, n_in, &y, 1, err);
    return y;
}

static cv_model *make_net(const net_spec *s, unsigned long long seed, cv_error *err)
{
    test_seed(seed);
    cv_model *m = cv_model_new("<tiny-cnn>", err);
    cv_shape xs = s->nhwc ? (cv_shape){4, {1, s->H, s->W, s->C}} : (cv_shape){4, {1, s->C, s->H, s->W}};
    int x = nb_model_input(m, -1, "x", &xs, err);
    m->input_nhwc = s->nhwc;
    int h = x;
    if (s->nhwc) {
        h = node1(m, "Transpose", &h, 1, "nchw", err);
        int64_t perm[4] = {0, 3, 1, 2};
        cv_node_set_ints(m, m->n_nodes - 1, "perm", perm, 4, err);
    }
    float w1[4 * 4 * 9], b1[4], w2[6 * 4 * 9], b2[6];
    test_fill(w1, (size_t)4 * s->C * 9, -0.5f, 0.5f);
    test_fill(b1, 4, -0.1f, 0.1f);
    test_fill(w2, 6 * 4 * 9, -0.3f, 0.3f);
    test_fill(b2, 6, -0.1f, 0.1f);
    int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
    cv_shape w1s = {4, {4, s->C, 3, 3}}, b1s = {1, {4}}, w2s = {4, {6, 4, 3, 3}}, b2s = {1, {6}};
    int in1[3] = {h, add_const(m, "w1", &w1s, w1, err), add_const(m, "b1", &b1s, b1, err)};
    h = node1(m, "Conv", in1, 3, "conv1", err);
    cv_node_set_ints(m, m->n_nodes - 1, "pads", pads, 4, err);
    h = node1(m, "Relu", &h, 1, "relu1", err);
    h = node1(m, "MaxPool", &h, 1, "pool1", err);
    cv_node_set_ints(m, m->n_nodes - 1, "kernel_shape", k2, 2, err);
    cv_node_set_ints(m, m->n_nodes - 1, "strides", k2, 2, err);
    int in2[3] = {h, add_const(m, "w2", &w2s, w2, err), add_const(m, "b2", &b2s, b2, err)};
    h = node1(m, "Conv", in2, 3, "conv2", err);
    cv_node_set_ints(m, m->n_nodes - 1, "pads", pads, 4, err);
    h = node1(m, "Relu", &h, 1, "relu2", err);
    if (s->fixed_batch) {
        int64_t shp[2] = {1, -1};
        cv_shape ss = {1, {2}};
        int in[2] = {h, add_const_i64(m, "shape", &ss, shp, err)};
        h = node1(m, "Reshape", in, 2, "flat", err);
    } else {
        h = node1(m, "Flatten", &h, 1, "flat", err);
    }
    int feat = 6 * (s->H / 2) * (s->W / 2);
    float *wf = malloc(sizeof(float) * (size_t)s->K * feat), bf[16];
    test_fill(wf, (size_t)s->K * feat, -0.2f, 0.2f);
    test_fill(bf, (size_t)s->K, -0.1f, 0.1f);
    cv_shape wfs = {2, {s->K, feat}}, bfs = {1, {s->K}};
    int in3[3] = {h, add_const(m, "wf", &wfs, wf, err), add_const(m, "bf", &bfs, bf, err)};
    free(wf);
    h = node1(m, "Gemm", in3, 3, "logits", err);
    cv_node_set_int(m, m->n_nodes - 1, "transB", 1, err);
    if (s->softmax)
        h = node1(m, "Softmax", &h, 1, "probs", err);
    m->outputs = malloc(sizeof(int));
    m->outputs[0] = h;
    m->n_outputs = 1;
    if (cv_model_finalize(m, err) != CV_OK) {
        cv_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- the reference: one position at a time --------------------------------- */

/* Probability of `target` (or the unoccluded top-1 when -1) for each position, with a
 * batch-1 run, the window written pixel by pixel into a fresh copy. */
static double *reference_map(const cv_model *m, const float *img, const cv_occlusion_geometry *g, int occ,
                             int stride, const float *fill_value, const float *fill, int softmax, int target,
                             int *top, int *rows_out, int *cols_out)
{
    int rows = (int)ceil((double)(g->height - occ) / stride + 1);
    int cols = (int)ceil((double)(g->width - occ) / stride + 1);
    size_t item = (size_t)g->channels * g->height * g->width;
    cv_shape s = g->nhwc ? (cv_shape){4, {1, g->height, g->width, g->channels}}
                         : (cv_shape){4, {1, g->channels, g->height, g->width}};
    cv_run *r;
    cv_error err;
    if (cv_run_create(&r, m, &s, NULL, &err) != CV_OK)
        return NULL;
    double *map = malloc(sizeof(double) * (size_t)rows * cols);
    float *x = malloc(sizeof(float) * item);
    if (target < 0) { /* the unoccluded image's top-1 */
        cv_run_forward(r, img, &err);
        const cv_tensor *out = cv_run_output(r, 0);
        target = 0;
        for (int k = 1; k < (int)cv_shape_numel(&out->shape); k++)
            if (out->f[k] > out->f[target])
                target = k;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            memcpy(x, img, item * sizeof(float));
            for (int y = i * stride; y < i * stride + occ && y < g->height; y++)
                for (int xx = j * stride; xx < j * stride + occ && xx < g->width; xx++)
                    for (int c = 0; c < g->channels; c++) {
                        size_t k = g->nhwc ? ((size_t)y * g->width + xx) * g->channels + c
                                           : ((size_t)c * g->height + y) * g->width + xx;
                        x[k] = fill ? fill[k] : fill_value[c];
                    }
            cv_run_forward(r, x, &err);
            const cv_tensor *out = cv_run_output(r, 0);
            int n = (int)cv_shape_numel(&out->shape), best = 0;
            for (int k = 1; k < n; k++)
                if (out->f[k] > out->f[best])
                    best = k;
            int t = target;
            double sum = 0;
            for (int k = 0; k < n; k++)
                sum += exp((double)out->f[k] - out->f[best]);
            map[i * cols + j] = softmax ? exp((double)out->f[t] - out->f[best]) / sum : out->f[t];
            if (top)
                top[i * cols + j] = best;
        }
    free(x);
    cv_run_free(r);
    *rows_out = rows;
    *cols_out = cols;
    return map;
}

static double max_abs_diff_d(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t k = 0; k < n; k++)
        d = fmax(d, fabs(a[k] - b[k]));
    return d;
}

static float *random_image(const cv_occlusion_geometry *g, unsigned long long seed)
{
    size_t n = (size_t)g->channels * g->height * g->width;
    float *x = malloc(n * sizeof(float));
    test_seed(seed);
    test_fill(x, n, -1.5f, 1.5f);
    return x;
}

/* ---- tests ------------------------------------------------------------------ */

/* The engine the map tests run with: each runs once per engine. */
static cv_occlusion_engine engine_under_test = CV_OCCLUSION_ENGINE_FULL;

static const char *engine_label(cv_occlusion_engine e)
{
    return e == CV_OCCLUSION_ENGINE_FULL ? "full" : e == CV_OCCLUSION_ENGINE_INCREMENTAL ? "incremental" : "auto";
}

static cv_occlusion_params test_params(void)
{
    cv_occlusion_params p = cv_occlusion_defaults();
    p.engine = engine_under_test;
    return p;
}

static void test_grid(void)
{
    cv_error err;
    int rows, cols;
    cv_occlusion_geometry g = {3, 224, 224, 0};
    REQUIRE(cv_occlusion_grid_size(&g, 40, 5, &rows, &cols, &err) == CV_OK, "%s", err.msg);
    CHECK(rows == 38 && cols == 38, "224/40/5 gives %d x %d, the original's 38 x 38", rows, cols);
    cv_occlusion_geometry r = {3, 20, 31, 0};
    REQUIRE(cv_occlusion_grid_size(&r, 6, 4, &rows, &cols, &err) == CV_OK, "%s", err.msg);
    CHECK(rows == 5 && cols == 8, "20x31/6/4 gives %d x %d, want ceil(14/4+1)=5 x ceil(25/4+1)=8", rows, cols);
    REQUIRE(cv_occlusion_grid_size(&g, 224, 7, &rows, &cols, &err) == CV_OK, "%s", err.msg);
    CHECK(rows == 1 && cols == 1, "a full-size occluder has one position, got %d x %d", rows, cols);
    CHECK(cv_occlusion_grid_size(&g, 225, 5, &rows, &cols, &err) == CV_ERR_INVALID, "occ > size accepted");
    printf("    %s\n", err.msg);
    CHECK(strstr(err.msg, "225") && strstr(err.msg, "224"), "message names the sizes: %s", err.msg);
    CHECK(cv_occlusion_grid_size(&g, 40, 0, &rows, &cols, &err) == CV_ERR_INVALID, "stride 0 accepted");
    CHECK(cv_occlusion_grid_size(&g, 40, -3, &rows, &cols, &err) == CV_ERR_INVALID, "stride -3 accepted");
    printf("    %s\n", err.msg);
    CHECK(cv_occlusion_grid_size(&g, 0, 5, &rows, &cols, &err) == CV_ERR_INVALID, "occ 0 accepted");
}

/* cv_occlusion_window against the formula written out here: the window at
 * (i, j) starts at (i*stride, j*stride) and is clipped at the border; the
 * grid's first window is whole, its last row and column reach the border,
 * and with stride <= occ_size the windows cover every pixel. */
static void test_window(void)
{
    const struct {
        int h, w, occ, stride;
    } cases[] = {{224, 224, 40, 5}, {20, 31, 6, 4}, {24, 24, 7, 3}, {9, 13, 9, 2}, {10, 10, 3, 7}, {5, 8, 1, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cv_occlusion_geometry g = {3, cases[c].h, cases[c].w, 0};
        const int occ = cases[c].occ, stride = cases[c].stride;
        int rows, cols, bad = 0;
        cv_error err;
        REQUIRE(cv_occlusion_grid_size(&g, occ, stride, &rows, &cols, &err) == CV_OK, "%s", err.msg);
        unsigned char *covered = calloc((size_t)g.height * g.width, 1);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                cv_occlusion_rect r = cv_occlusion_window(&g, occ, stride, i, j);
                int y1 = i * stride + occ > g.height ? g.height : i * stride + occ;
                int x1 = j * stride + occ > g.width ? g.width : j * stride + occ;
                bad += r.y0 != i * stride || r.x0 != j * stride || r.y1 != y1 || r.x1 != x1 || r.y0 >= r.y1 ||
                       r.x0 >= r.x1;
                bad += (i == rows - 1 && r.y1 != g.height) || (j == cols - 1 && r.x1 != g.width);
                for (int y = r.y0; y < r.y1; y++)
                    for (int x = r.x0; x < r.x1; x++)
                        covered[(size_t)y * g.width + x] = 1;
            }
        cv_occlusion_rect first = cv_occlusion_window(&g, occ, stride, 0, 0);
        bad += first.y1 - first.y0 != occ || first.x1 - first.x0 != occ;
        long uncovered = 0;
        for (size_t k = 0; k < (size_t)g.height * g.width; k++)
            uncovered += !covered[k];
        free(covered);
        CHECK(bad == 0, "%dx%d occ %d stride %d: %d windows wrong", g.height, g.width, occ, stride, bad);
        CHECK(stride > occ || uncovered == 0, "%dx%d occ %d stride %d: %ld pixels under no window", g.height,
              g.width, occ, stride, uncovered);
        CHECK(stride <= occ || uncovered > 0, "stride %d > occ %d leaves gaps, none found", stride, occ);
    }
}

typedef struct {
    long calls, last_done, last_total;
    int monotonic;
} progress_log;

static void on_progress(void *user, long done, long total)
{
    progress_log *l = user;
    if (done <= l->last_done)
        l->monotonic = 0;
    l->calls++;
    l->last_done = done;
    l->last_total = total;
}

/* The batched map equals the one-at-a-time map whatever the batch size,
 * including batches that leave a partial last batch. */
static void test_batch_sizes(void)
{
    cv_error err;
    net_spec s = {0, 0, 0, 3, 20, 20, 7};
    cv_model *m = make_net(&s, 11, &err);
    REQUIRE(m, "%s", err.msg);
    cv_occlusion_geometry g = {3, 20, 20, 0};
    float *img = random_image(&g, 5);
    float fill_value[4] = {0.25f, -0.5f, 1.0f, 0};
    int rows, cols, ref_top[64];
    double *ref = reference_map(m, img, &g, 6, 3, fill_value, NULL, 1, -1, ref_top, &rows, &cols);
    REQUIRE(ref, "reference failed");
    REQUIRE(rows == 6 && cols == 6, "grid %d x %d", rows, cols);
    const int batches[] = {1, 4, 5, 7, 35, 36, 64, 0};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        cv_occlusion_params p = test_params();
        p.occ_size = 6;
        p.stride = 3;
        p.batch = batches[b];
        memcpy(p.fill_value, fill_value, sizeof fill_value);
        progress_log log = {0, 0, 0, 1};
        p.progress = on_progress;
        p.user = &log;
        cv_occlusion *o;
        REQUIRE(cv_occlusion_create(&o, m, img, &g, &p, &err) == CV_OK, "%s", err.msg);
        CHECK(cv_occlusion_softmax_applied(o), "logits should be softmaxed");
        double map[36], top_p[36];
        int top[36];
        for (int k = 0; k < 36; k++)
            map[k] = top_p[k] = NAN; /* poison: unwritten entries show */
        REQUIRE(cv_occlusion_run(o, -1, map, top, top_p, &err) == CV_OK, "%s", err.msg);
        double d = max_abs_diff_d(map, ref, 36);
        int same_top = 0;
        for (int k = 0; k < 36; k++)
            same_top += top[k] == ref_top[k];
        long expect_calls = (36 + cv_occlusion_batch(o) - 1) / cv_occlusion_batch(o);
        printf("    batch %2d (used %2d): max abs diff %.3g, top class agrees at %d/36, %ld progress calls\n",
               batches[b], cv_occlusion_batch(o), d, same_top, log.calls);
        CHECK(d <= 1e-5, "batch %d: map differs by %g", batches[b], d);
        CHECK(same_top == 36, "batch %d: top class differs", batches[b]);
        CHECK(log.calls == expect_calls && log.last_done == 36 && log.last_total == 36 && log.monotonic,
              "progress: %ld calls, last %ld/%ld", log.calls, log.last_done, log.last_total);
        if (batches[b] > 0)
            CHECK(cv_occlusion_batch(o) == (batches[b] < 36 ? batches[b] : 36), "batch used %d",
                  cv_occlusion_batch(o));
        cv_occlusion_free(o);
    }
    /* The automatic batch stays within max_memory: a budget smaller than
     * one position's buffers leaves batch 1 (and the same map). */
    const size_t budgets[] = {1, (size_t)64 << 20};
    for (int b = 0; b < 2; b++) {
        cv_occlusion_params p = test_params();
        p.occ_size = 6;
        p.stride = 3;
        p.max_memory = budgets[b];
        memcpy(p.fill_value, fill_value, sizeof fill_value);
        cv_occlusion *o;
        REQUIRE(cv_occlusion_create(&o, m, img, &g, &p, &err) == CV_OK, "%s", err.msg);
        double map[36];
        REQUIRE(cv_occlusion_run(o, -1, map, NULL, NULL, &err) == CV_OK, "%s", err.msg);
        double d = max_abs_diff_d(map, ref, 36);
        printf("    max_memory %zu bytes: batch %d, max abs diff %.3g\n", budgets[b], cv_occlusion_batch(o), d);
        CHECK(cv_occlusion_batch(o) == (b == 0 ? 1 : 36), "batch %d for a budget of %zu bytes",
              cv_occlusion_batch(o), budgets[b]);
        CHECK(d <= 1e-5, "map differs by %g", d);
        cv_occlusion_free(o);
    }
    free(ref);
    free(img);
    cv_model_free(m);
}

/* A target class other than the top-1, a model that ends in Softmax (its
 * outputs used as they are), and the one-call API. */
static void test_target_and_softmax_model(void)
{
    cv_error err;
    net_spec s = {0, 1, 0, 3, 16, 16, 5};
    cv_model *m = make_net(&s, 12, &err);
    REQUIRE(m, "%s", err.msg);
    cv_occlusion_geometry g = {3, 16, 16, 0};
    float *img = random_image(&g, 6);
    float fill_value[4] = {0, 0, 0, 0};
    int rows, cols;
    double *ref = reference_map(m, img, &g, 5, 2, fill_value, NULL, 0, 3, NULL, &rows, &cols);
    REQUIRE(ref, "reference failed");
    size_t n = (size_t)rows * cols;
    cv_occlusion_params p = test_params();
    p.occ_size = 5;
    p.stride = 2;
    p.target = 3;
    p.batch = 10;
    double *map = malloc(n * sizeof(double));
    REQUIRE(cv_occlusion_map(m, img, &g, &p, map, &err) == CV_OK, "%s", err.msg);
    double d = max_abs_diff_d(map, ref, n);
    printf("    class 3 of a Softmax-ended model, %d x %d: max abs diff %.3g\n", rows, cols, d);
    CHECK(d <= 1e-5, "map differs by %g", d);

    cv_occlusion *o;
    REQUIRE(cv_occlusion_create(&o, m, img, &g, &p, &err) == CV_OK, "%s", err.msg);
    CHECK(!cv_occlusion_softmax_applied(o), "probabilities were softmaxed again");
    int nc;
    const float *base = cv_occlusion_base_probs(o, &nc);
    double sum = 0;
    for (int k = 0; k < nc; k++)
        sum += base[k];
    CHECK(nc == 5 && fabs(sum - 1) < 1e-5, "%d classes summing to %g", nc, sum);
    CHECK(cv_occlusion_run(o, 5, map, NULL, NULL, &err) == CV_ERR_INVALID, "class 5 of 5 accepted");
    printf("    %s\n", err.msg);
    CHECK(strstr(err.msg, "out of range") != NULL, "message: %s", err.msg);
    CHECK(strcmp(cv_occlusion_engine_name(o), engine_label(engine_under_test)) == 0, "engine %s",
          cv_occlusion_engine_name(o));
    cv_occlusion_free(o);
    free(map);
    free(ref);
    free(img);
    cv_model_free(m);
}

/* A channels-last model gives the same map as the channels-first one on
 * the transposed image, and both equal the reference. */
static void test_nhwc(void)
{
    cv_error err;
    net_spec sc = {0, 0, 0, 3, 18, 14, 4}, sl = {1, 0, 0, 3, 18, 14, 4};
    cv_model *mc = make_net(&sc, 21, &err), *ml = make_net(&sl, 21, &err);
    REQUIRE(mc && ml, "%s", err.msg);
    cv_occlusion_geometry gc = {3, 18, 14, 0}, gl = {3, 18, 14, 1};
    float *xc = random_image(&gc, 7), *xl = malloc(sizeof(float) * 3 * 18 * 14);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 18; y++)
            for (int x = 0; x < 14; x++)
                xl[(y * 14 + x) * 3 + c] = xc[(c * 18 + y) * 14 + x];
    float fill_value[4] = {0.5f, 0.1f, -0.3f, 0};
    int rows, cols;
    double *ref = reference_map(ml, xl, &gl, 4, 3, fill_value, NULL, 1, -1, NULL, &rows, &cols);
    REQUIRE(ref, "reference failed");
    size_t n = (size_t)rows * cols;
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    cv_occlusion_params p = test_params();
    p.occ_size = 4;
    p.stride = 3;
    p.batch = 8;
    memcpy(p.fill_value, fill_value, sizeof fill_value);
    REQUIRE(cv_occlusion_map(mc, xc, &gc, &p, a, &err) == CV_OK, "%s", err.msg);
    if (p.engine == CV_OCCLUSION_ENGINE_INCREMENTAL) {
        /* Incremental inference works on N,C,H,W only: it says so. */
        CHECK(cv_occlusion_map(ml, xl, &gl, &p, b, &err) == CV_ERR_UNSUPPORTED, "NHWC accepted");
        printf("    NHWC: %s\n", err.msg);
        p.engine = CV_OCCLUSION_ENGINE_AUTO; /* falls back to full */
    }
    REQUIRE(cv_occlusion_map(ml, xl, &gl, &p, b, &err) == CV_OK, "%s", err.msg);
    double dl = max_abs_diff_d(b, ref, n), dcl = max_abs_diff_d(a, b, n);
    printf("    NHWC %d x %d grid on 18x14: vs reference %.3g, vs NCHW %.3g\n", rows, cols, dl, dcl);
    CHECK(rows == 6 && cols == 5, "grid %d x %d", rows, cols);
    CHECK(dl <= 1e-5 && dcl <= 1e-5, "NHWC differs: %g / %g", dl, dcl);
    free(a);
    free(b);
    free(ref);
    free(xc);
    free(xl);
    cv_model_free(mc);
    cv_model_free(ml);
}

/* A graph that fixes batch 1 (Reshape to [1, -1]) still works: one image
 * at a time, and cv_occlusion_batch says so. */
static void test_fixed_batch_model(void)
{
    cv_error err;
    net_spec s = {0, 0, 1, 1, 12, 12, 3};
    cv_model *m = make_net(&s, 31, &err);
    REQUIRE(m, "%s", err.msg);
    cv_occlusion_geometry g = {1, 12, 12, 0};
    float *img = random_image(&g, 8);
    float fill_value[4] = {0};
    int rows, cols;
    double *ref = reference_map(m, img, &g, 3, 3, fill_value, NULL, 1, -1, NULL, &rows, &cols);
    REQUIRE(ref, "reference failed");
    cv_occlusion_params p = test_params();
    p.occ_size = 3;
    p.stride = 3;
    p.batch = 16;
    cv_occlusion *o;
    REQUIRE(cv_occlusion_create(&o, m, img, &g, &p, &err) == CV_OK, "%s", err.msg);
    double map[16];
    REQUIRE(cv_occlusion_run(o, -1, map, NULL, NULL, &err) == CV_OK, "%s", err.msg);
    double d = max_abs_diff_d(map, ref, 16);
    printf("    fixed-batch graph: batch used %d, max abs diff %.3g\n", cv_occlusion_batch(o), d);
    CHECK(cv_occlusion_batch(o) == 1, "batch %d", cv_occlusion_batch(o));
    CHECK(d <= 1e-5, "map differs by %g", d);
    cv_occlusion_free(o);
    free(ref);
    free(img);
    cv_model_free(m);
}

/* AUTO takes the incremental engine where it saves work (a small occluder
 * on a conv net), full inference where it cannot run (NHWC) or saves little
 * (an occluder as large as the image), and the maps agree. */
static void test_engine_choice(void)
{
    cv_error err;
    net_spec s = {0, 0, 0, 3, 32, 32, 6};
    cv_model *m = make_net(&s, 61, &err);
    REQUIRE(m, "%s", err.msg);
    cv_occlusion_geometry g = {3, 32, 32, 0};
    float *img = random_image(&g, 62);
    const struct {
        int occ, stride;
        const char *want;
    } cases[] = {{4, 4, "incremental"}, {32, 1, "full"}};
    for (int c = 0; c < 2; c++) {
        cv_occlusion_params p = cv_occlusion_defaults();
        p.occ_size = cases[c].occ;
        p.stride = cases[c].stride;
        cv_occlusion *o;
        REQUIRE(cv_occlusion_create(&o, m, img, &g, &p, &err) == CV_OK, "%s", err.msg);
        int rows, cols;
        cv_occlusion_grid(o, &rows, &cols);
        size_t n = (size_t)rows * cols;
        double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
        REQUIRE(cv_occlusion_run(o, -1, a, NULL, NULL, &err) == CV_OK, "%s", err.msg);
        p.engine = CV_OCCLUSION_ENGINE_FULL;
        REQUIRE(cv_occlusion_map(m, img, &g, &p, b, &err) == CV_OK, "%s", err.msg);
        double d = max_abs_diff_d(a, b, n);
        printf("    occ %d stride %d: auto picks %s (want %s); vs full: max abs diff %.3g\n", cases[c].occ,
               cases[c].stride, cv_occlusion_engine_name(o), cases[c].want, d);
        CHECK(strcmp(cv_occlusion_engine_name(o), cases[c].want) == 0, "picked %s", cv_occlusion_engine_name(o));
        CHECK(d <= 1e-5, "engines differ by %g", d);
        free(a);
        free(b);
        cv_occlusion_free(o);
    }
    free(img);
    cv_model_free(m);
}

/* Naive 2-D Gaussian with reflect-101 borders, straight from the definition. */
static float naive_blur_at(const float *img, int H, int W, int c, int y, int x, double sigma)
{
    int r = (int)ceil(3 * sigma);
    double s = 0, wsum = 0;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int yy = y + dy, xx = x + dx;
            while (yy < 0 || yy >= H)
                yy = yy < 0 ? -yy : 2 * H - 2 - yy;
            while (xx < 0 || xx >= W)
                xx = xx < 0 ? -xx : 2 * W - 2 - xx;
            double w = exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
            s += w * img[(c * H + yy) * W + xx];
            wsum += w;
        }
    return (float)(s / wsum);
}

/* Fills: an explicit fill image equal to the constant gives the constant's
 * map; the mean fill is the per-channel mean; the blur matches a naive 2-D
 * Gaussian (with a radius past the image side, so borders reflect twice). */
static void test_fills(void)
{
    cv_error err;
    cv_occlusion_geometry g = {3, 12, 10, 0};
    float *img = random_image(&g, 9);
    size_t n = 3 * 12 * 10;
    float mean[4];
    cv_occlusion_fill_mean(mean, img, &g);
    double dm = 0;
    for (int c = 0; c < 3; c++) {
        double s = 0;
        for (int k = 0; k < 120; k++)
            s += img[c * 120 + k];
        dm = fmax(dm, fabs(s / 120 - mean[c]));
    }
    printf("    mean fill: max abs diff %.3g\n", dm);
    CHECK(dm < 1e-6, "mean differs by %g", dm);

    float *blur = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
    const double sigmas[] = {0.7, 1.5, 4.0};
    for (int si = 0; si < 3; si++) {
        REQUIRE(cv_occlusion_fill_blur(blur, img, &g, sigmas[si], &err) == CV_OK, "%s", err.msg);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 10; x++)
                    ref[(c * 12 + y) * 10 + x] = naive_blur_at(img, 12, 10, c, y, x, sigmas[si]);
        double d = test_max_abs_diff(blur, ref, n);
        printf("    blur sigma %.1f (radius %d): max abs diff vs naive 2-D %.3g\n", sigmas[si],
               (int)ceil(3 * sigmas[si]), d);
        CHECK(d < 1e-5, "blur differs by %g", d);
    }
    CHECK(cv_occlusion_fill_blur(blur, img, &g, 0, &err) == CV_ERR_INVALID, "sigma 0 accepted");

    /* Fill image path: constant image == fill_value. And the blur fill through the map. */
    net_spec s = {0, 0, 0, 3, 12, 10, 4};
    cv_model *m = make_net(&s, 41, &err);
    REQUIRE(m, "%s", err.msg);
    float *constant = malloc(n * sizeof(float));
    for (size_t k = 0; k < n; k++)
        constant[k] = mean[k / 120];
    cv_occlusion_params p = test_params();
    p.occ_size = 4;
    p.stride = 2;
    p.batch = 6;
    int rows, cols;
    cv_occlusion_grid_size(&g, 4, 2, &rows, &cols, &err);
    size_t cells = (size_t)rows * cols;
    double *a = malloc(cells * sizeof(double)), *b = malloc(cells * sizeof(double));
    memcpy(p.fill_value, mean, sizeof mean);
    REQUIRE(cv_occlusion_map(m, img, &g, &p, a, &err) == CV_OK, "%s", err.msg);
    p.fill = constant;
    memset(p.fill_value, 0, sizeof p.fill_value);
    REQUIRE(cv_occlusion_map(m, img, &g, &p, b, &err) == CV_OK, "%s", err.msg);
    double d = max_abs_diff_d(a, b, cells);
    printf("    constant fill image vs fill values: max abs diff %.3g\n", d);
    CHECK(d == 0, "differs by %g", d);
    REQUIRE(cv_occlusion_fill_blur(blur, img, &g, 1.0, &err) == CV_OK, "%s", err.msg);
    p.fill = blur;
    REQUIRE(cv_occlusion_map(m, img, &g, &p, a, &err) == CV_OK, "%s", err.msg);
    double *r = reference_map(m, img, &g, 4, 2, NULL, blur, 1, -1, NULL, &rows, &cols);
    d = max_abs_diff_d(a, r, cells);
    printf("    blur fill map vs reference: max abs diff %.3g\n", d);
    CHECK(d <= 1e-5, "differs by %g", d);
    free(r);
    free(a);
    free(b);
    free(constant);
    free(blur);
    free(ref);
    free(img);
    cv_model_free(m);
}

/* The per-pixel map against a naive loop over the windows covering each
 * pixel; gaps (stride > occ) are NaN. */
static void test_pixel_map(void)
{
    cv_error err;
    const int cases[][4] = {{20, 17, 6, 3}, {20, 17, 5, 5}, {20, 17, 3, 5}, {9, 9, 9, 1}};
    for (int t = 0; t < 4; t++) {
        int H = cases[t][0], W = cases[t][1], occ = cases[t][2], stride = cases[t][3], rows, cols;
        cv_occlusion_geometry g = {3, H, W, 0};
        REQUIRE(cv_occlusion_grid_size(&g, occ, stride, &rows, &cols, &err) == CV_OK, "%s", err.msg);
        double *map = malloc(sizeof(double) * rows * cols);
        test_seed(50 + t);
        for (int k = 0; k < rows * cols; k++)
            map[k] = test_uniform(0, 1);
        float *px = malloc(sizeof(float) * H * W);
        REQUIRE(cv_occlusion_pixel_map(px, map, &g, occ, stride, 0, &err) == CV_OK, "%s", err.msg);
        double d = 0;
        int nan_ok = 1, gaps = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = 0;
                int n = 0;
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++)
                        if (y >= i * stride && y < i * stride + occ && x >= j * stride && x < j * stride + occ) {
                            s += map[i * cols + j];
                            n++;
                        }
                float v = px[y * W + x];
                if (n == 0) {
                    gaps++;
                    nan_ok = nan_ok && isnan(v);
                } else {
                    d = fmax(d, fabs(v - s / n));
                }
            }
        printf("    %dx%d occ %d stride %d: max abs diff %.3g, %d uncovered pixels\n", H, W, occ, stride, d, gaps);
        CHECK(d < 1e-6 && nan_ok, "pixel map differs by %g (NaN gaps ok: %d)", d, nan_ok);
        CHECK((stride > occ) == (gaps > 0), "gaps %d", gaps);
        /* smooth: at a window centre with integer coordinates the value is
         * the window's; between two centres it lies between their values. */
        REQUIRE(cv_occlusion_pixel_map(px, map, &g, occ, stride, 1, &err) == CV_OK, "%s", err.msg);
        double dc = 0;
        int checked = 0, between = 1;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                int y0 = i * stride, y1 = y0 + occ < H ? y0 + occ : H;
                int x0 = j * stride, x1 = x0 + occ < W ? x0 + occ : W;
                if ((y0 + y1 - 1) % 2 || (x0 + x1 - 1) % 2)
                    continue;
                dc = fmax(dc, fabs(px[(y0 + y1 - 1) / 2 * W + (x0 + x1 - 1) / 2] - map[i * cols + j]));
                checked++;
            }
        double lo = 1, hi = 0;
        for (int k = 0; k < rows * cols; k++)
            lo = fmin(lo, map[k]), hi = fmax(hi, map[k]);
        for (int k = 0; k < H * W; k++)
            between = between && px[k] >= lo - 1e-6 && px[k] <= hi + 1e-6;
        printf("    smooth: max abs diff at %d window centres %.3g, within the map's range: %d\n", checked, dc, between);
        CHECK(dc < 1e-6 && between, "smooth pixel map wrong");
        free(map);
        free(px);
    }
}

/* Regularisation on a hand-checked 3x3 case, then its errors. */
static void test_regularize_small(void)
{
    cv_error err;
    /* norm off, percentile 50: |x| sorted 0.1..0.9, median 0.5: entries
     * below 0.5 -> 0; 1 - x; 3x3 box mean with reflect-101 borders. */
    double x[9] = {0.1, 0.9, 0.5, 0.4, 0.6, 0.2, 0.3, 0.8, 0.7}, out[9];
    REQUIRE(cv_occlusion_regularize(out, x, 3, 3, 0, 50, &err) == CV_OK, "%s", err.msg);
    double z[9];
    for (int k = 0; k < 9; k++)
        z[k] = x[k] < 0.5 ? 1.0 : 1.0 - x[k];
    /* centre: mean of all nine; corner (0,0): rows {1,0,1} x cols {1,0,1}. */
    double centre = 0, corner = 0;
    for (int k = 0; k < 9; k++)
        centre += z[k] / 9;
    const int idx[3] = {1, 0, 1};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            corner += z[idx[i] * 3 + idx[j]] / 9;
    printf("    3x3: centre %.6f (want %.6f), corner %.6f (want %.6f)\n", out[4], centre, out[0], corner);
    CHECK(fabs(out[4] - centre) < 1e-12 && fabs(out[0] - corner) < 1e-12, "box blur / reflect-101 wrong");
    /* A single row: reflect-101 of a length-1 axis stays put. */
    double one[4] = {0.2, 0.4, 0.6, 0.8}, o1[4];
    REQUIRE(cv_occlusion_regularize(o1, one, 1, 4, 0, 0, &err) == CV_OK, "%s", err.msg);
    CHECK(fabs(o1[0] - (0.6 + 0.8 + 0.6) / 3) < 1e-12, "1-row blur %g", o1[0]);
    CHECK(cv_occlusion_regularize(o1, one, 1, 4, 0, 101, &err) == CV_ERR_INVALID, "percentile 101 accepted");
    CHECK(cv_occlusion_regularize(o1, one, 0, 4, 0, 10, &err) == CV_ERR_INVALID, "empty map accepted");
}

/* ---- against PyTorch / numpy (tests/fixtures/make_occlusion_ref.py) ------- */

static void fixture_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "tests/fixtures/occlusion/%s", name);
}

static double *read_f64_map(const char *name, int *rows, int *cols)
{
    char path[256];
    fixture_path(path, sizeof path, name);
    cv_shape s;
    float *f;
    cv_error err;
    if (cv_npy_read(path, &s, &f, &err) != CV_OK || s.ndim != 2) {
        fprintf(stderr, "    %s\n", err.msg);
        return NULL;
    }
    *rows = (int)s.d[0];
    *cols = (int)s.d[1];
    size_t n = cv_shape_numel(&s);
    double *d = malloc(n * sizeof(double));
    for (size_t k = 0; k < n; k++)
        d[k] = f[k];
    free(f);
    return d;
}

/* The ONNX export of a small torch CNN: our map vs PyTorch's (Captum-style
 * batched loop, softmax of the target), and the regularised map vs numpy. */
static void test_pytorch_reference(void)
{
    char path[256];
    cv_error err;
    cv_model *m;
    fixture_path(path, sizeof path, "tiny_cnn.onnx");
    REQUIRE(cv_model_load(&m, path, NULL, &err) == CV_OK, "%s", err.msg);
    fixture_path(path, sizeof path, "input.npy");
    cv_shape xs;
    float *x;
    REQUIRE(cv_npy_read(path, &xs, &x, &err) == CV_OK, "%s", err.msg);
    REQUIRE(xs.ndim == 4, "input rank %d", xs.ndim);
    cv_occlusion_geometry g = {(int)xs.d[1], (int)xs.d[2], (int)xs.d[3], 0};
    int rows, cols, rr, rc;
    double *want = read_f64_map("map.npy", &rows, &cols);
    double *want_reg = read_f64_map("map_reg.npy", &rr, &rc);
    double *want_reg_nonorm = read_f64_map("map_reg_nonorm.npy", &rr, &rc);
    REQUIRE(want && want_reg && want_reg_nonorm, "fixtures missing: run tests/fixtures/make_occlusion_ref.py");
    /* Parameters the script used: occ 7, stride 3, pixel value 0.0 after
     * torch-style normalisation with mean .5 std .25 per channel -> -2. */
    cv_occlusion_params p = test_params();
    p.occ_size = 7;
    p.stride = 3;
    p.batch = 9;
    for (int c = 0; c < g.channels; c++)
        p.fill_value[c] = -2.0f;
    size_t n = (size_t)rows * cols;
    double *map = malloc(n * sizeof(double)), *reg = malloc(n * sizeof(double));
    REQUIRE(cv_occlusion_map(m, x, &g, &p, map, &err) == CV_OK, "%s", err.msg);
    double d = max_abs_diff_d(map, want, n);
    printf("    %d x %d map vs PyTorch: max abs diff %.3g\n", rows, cols, d);
    CHECK(d <= 1e-5, "map differs from PyTorch by %g", d);
    REQUIRE(cv_occlusion_regularize(reg, want, rows, cols, 1, 25, &err) == CV_OK, "%s", err.msg);
    double dr = max_abs_diff_d(reg, want_reg, n);
    REQUIRE(cv_occlusion_regularize(reg, want, rows, cols, 0, 40, &err) == CV_OK, "%s", err.msg);
    double drn = max_abs_diff_d(reg, want_reg_nonorm, n);
    printf("    regularised (norm, p25) vs numpy: %.3g; (no norm, p40): %.3g\n", dr, drn);
    CHECK(dr <= 1e-6 && drn <= 1e-6, "regularised map differs: %g / %g", dr, drn);
    free(map);
    free(reg);
    free(want);
    free(want_reg);
    free(want_reg_nonorm);
    free(x);
    cv_model_free(m);
}

/* The real model in ../shared: the bus stays a school bus unoccluded, and
 * covering the bus lowers the probability more than covering a corner. */
static void test_squeezenet(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("../shared is absent (needs SqueezeNet and bus.jpg)");
    cv_error err;
    cv_model *m;
    float *x;
    REQUIRE(test_squeezenet_bus(shared, false, &m, &x, &err) == CV_OK, "%s", err.msg);
    cv_occlusion_geometry g = {3, 224, 224, 0};
    cv_occlusion_params p = test_params();
    p.occ_size = 56;
    p.stride = 56; /* 4 x 4: quick */
    cv_occlusion *o;
    REQUIRE(cv_occlusion_create(&o, m, x, &g, &p, &err) == CV_OK, "%s", err.msg);
    int nc;
    const float *probs = cv_occlusion_base_probs(o, &nc);
    int best = 0;
    for (int k = 1; k < nc; k++)
        if (probs[k] > probs[best])
            best = k;
    printf("    unoccluded: class %d p=%.4f of %d (softmax applied: %d), batch %d\n", best, probs[best], nc,
           cv_occlusion_softmax_applied(o), cv_occlusion_batch(o));
    CHECK(nc == 1000 && best == 779, "top-1 %d, want 779 (school bus)", best);
    CHECK(!cv_occlusion_softmax_applied(o), "SqueezeNet ends in Softmax");
    double map[16];
    REQUIRE(cv_occlusion_run(o, -1, map, NULL, NULL, &err) == CV_OK, "%s", err.msg);
    double lo = 1, hi = 0;
    for (int k = 0; k < 16; k++) {
        lo = fmin(lo, map[k]);
        hi = fmax(hi, map[k]);
    }
    printf("    4 x 4 map: min %.4f max %.4f\n", lo, hi);
    CHECK(lo < hi && hi <= 1.0 && lo >= 0.0, "map range [%g, %g]", lo, hi);
    cv_occlusion_free(o);
    /* The same map one position at a time (batch 1) and in batches of 5
     * (a partial last batch): a real network's convolutions must not
     * depend on the batch. */
    for (int b = 1; b <= 5; b += 4) {
        double one[16];
        p.batch = b;
        REQUIRE(cv_occlusion_map(m, x, &g, &p, one, &err) == CV_OK, "%s", err.msg);
        double d = max_abs_diff_d(one, map, 16);
        printf("    batch %d vs auto batch: max abs diff %.3g\n", b, d);
        CHECK(d <= 1e-5, "batch %d differs by %g", b, d);
    }
    free(x);
    cv_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    RUN(test_grid);
    RUN(test_window);
    const cv_occlusion_engine engines[] = {CV_OCCLUSION_ENGINE_FULL, CV_OCCLUSION_ENGINE_INCREMENTAL};
    for (int e = 0; e < 2; e++) {
        engine_under_test = engines[e];
        printf("engine %s:\n", engine_label(engines[e]));
        RUN(test_batch_sizes);
        RUN(test_target_and_softmax_model);
        RUN(test_nhwc);
        RUN(test_fixed_batch_model);
        RUN(test_fills);
        RUN(test_pytorch_reference);
        RUN(test_squeezenet);
    }
    RUN(test_engine_choice);
    RUN(test_pixel_map);
    RUN(test_regularize_small);
    return test_summary("occlusion");
}
