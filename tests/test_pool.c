/* MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool: forward and
 * backward against the naive loops in tests/lib/ref_conv.c over random
 * configurations (pads, strides, dilations, ceil_mode, count_include_pad,
 * auto_pad, 1-D), the Indices output, finite differences, ties, errors. */
#include "lib/oplab.h"
#include "lib/ref.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };
static const char *const pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

typedef struct {
    ref_geom g;          /* explicit pads; for auto_pad what ONNX resolves them to */
    int is_max;
    int auto_pad;
    int ceil_attr;       /* ceil_mode as written in the node (ignored with auto_pad) */
    int one_d;
    int indices;         /* MaxPool: also ask for the Indices output */
    int storage_order;
} pool_case;

static int irand(int lo, int hi) { return lo + (int)test_uniform(0.0f, (float)(hi - lo + 1) - 1e-3f); }

static void same_pads(int in, int k, int s, int d, int upper, int *pb, int *pe)
{
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    if (total < 0)
        total = 0;
    *pb = upper ? total / 2 : total - total / 2;
    *pe = total - *pb;
}

static void case_text(const pool_case *pc, char *buf, size_t len)
{
    const ref_geom *g = &pc->g;
    snprintf(buf, len,
             "%s %s n%d c%d %dx%d k%dx%d s%dx%d d%dx%d pads(t%d l%d b%d r%d) ceil %d cip %d auto_pad %s",
             pc->is_max ? "MaxPool" : "AveragePool", pc->one_d ? "1-D" : "2-D", g->n, g->c, g->h, g->w, g->kh,
             g->kw, g->sh, g->sw, g->dh, g->dw, g->pt, g->pl, g->pb, g->pr, pc->ceil_attr, g->count_include_pad,
             pad_names[pc->auto_pad]);
}

/* Append a second graph output "indices" to the lab's node. */
static void add_indices_output(oplab *lab)
{
    int v = cv_model_value(lab->m, "indices", &lab->err);
    cv_node *n = &lab->m->nodes[lab->node];
    n->out = realloc(n->out, 2 * sizeof(int));
    n->out[n->n_out++] = v;
    lab->m->outputs = realloc(lab->m->outputs, 2 * sizeof(int));
    lab->m->outputs[lab->m->n_outputs++] = v;
}

static cv_status pool_lab(oplab *lab, const pool_case *pc)
{
    const ref_geom *g = &pc->g;
    cv_shape xs = {4, {g->n, g->c, g->h, g->w}};
    if (pc->one_d)
        xs = (cv_shape){3, {g->n, g->c, g->w}};
    oplab_begin(lab, pc->is_max ? "MaxPool" : "AveragePool", &xs);
    if (pc->indices)
        add_indices_output(lab);
    int nsp = pc->one_d ? 1 : 2;
    int64_t k[2] = {g->kh, g->kw}, s[2] = {g->sh, g->sw}, d[2] = {g->dh, g->dw};
    int64_t p[4] = {g->pt, g->pl, g->pb, g->pr};
    if (pc->one_d) {
        k[0] = g->kw, s[0] = g->sw, d[0] = g->dw;
        p[0] = g->pl, p[1] = g->pr;
    }
    cv_model *m = lab->m;
    cv_node_set_ints(m, lab->node, "kernel_shape", k, nsp, NULL);
    cv_node_set_ints(m, lab->node, "strides", s, nsp, NULL);
    if (g->dh != 1 || g->dw != 1)
        cv_node_set_ints(m, lab->node, "dilations", d, nsp, NULL);
    if (pc->auto_pad == PAD_NOTSET)
        cv_node_set_ints(m, lab->node, "pads", p, 2 * nsp, NULL);
    else
        cv_node_set_string(m, lab->node, "auto_pad", pad_names[pc->auto_pad], NULL);
    cv_node_set_int(m, lab->node, "ceil_mode", pc->ceil_attr, NULL);
    if (!pc->is_max)
        cv_node_set_int(m, lab->node, "count_include_pad", g->count_include_pad, NULL);
    if (pc->indices && pc->storage_order)
        cv_node_set_int(m, lab->node, "storage_order", 1, NULL);
    return oplab_end(lab);
}

static void random_case(pool_case *pc, int is_max)
{
    for (;;) {
        memset(pc, 0, sizeof *pc);
        ref_geom *g = &pc->g;
        pc->is_max = is_max;
        pc->one_d = irand(0, 5) == 0;
        g->n = irand(1, 2);
        g->c = irand(1, 3);
        g->h = pc->one_d ? 1 : irand(1, 11);
        g->w = irand(1, 11);
        g->kh = pc->one_d ? 1 : irand(1, 4);
        g->kw = irand(1, 4);
        g->sh = pc->one_d ? 1 : irand(1, 3);
        g->sw = irand(1, 3);
        g->dh = pc->one_d || irand(0, 2) ? 1 : 2;
        g->dw = irand(0, 2) ? 1 : irand(2, 3);
        int r = irand(0, 19);
        pc->auto_pad = r < 13 ? PAD_NOTSET : r < 16 ? PAD_SAME_UPPER : r < 18 ? PAD_SAME_LOWER : PAD_VALID;
        pc->ceil_attr = irand(0, 1);
        g->count_include_pad = irand(0, 1);
        if (pc->auto_pad == PAD_NOTSET) {
            g->ceil_mode = pc->ceil_attr;
            g->pt = pc->one_d ? 0 : irand(0, g->kh - 1);
            g->pb = pc->one_d ? 0 : irand(0, g->kh - 1);
            g->pl = irand(0, g->kw - 1);
            g->pr = irand(0, g->kw - 1);
        } else if (pc->auto_pad != PAD_VALID) {
            int up = pc->auto_pad == PAD_SAME_UPPER;
            same_pads(g->h, g->kh, g->sh, g->dh, up, &g->pt, &g->pb);
            same_pads(g->w, g->kw, g->sw, g->dw, up, &g->pl, &g->pr);
        }
        pc->indices = is_max && irand(0, 1);
        pc->storage_order = irand(0, 1);
        int oh, ow;
        ref_out_size(g, &oh, &ow);
        if (oh >= 1 && ow >= 1)
            return;
    }
}

/* Does some window see no input? (the op refuses those) */
static int has_empty_window(const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            int any = 0;
            for (int ki = 0; ki < g->kh; ki++)
                for (int kj = 0; kj < g->kw; kj++) {
                    int iy = oy * g->sh - g->pt + ki * g->dh, ix = ox * g->sw - g->pl + kj * g->dw;
                    any |= iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                }
            if (!any)
                return 1;
        }
    return 0;
}

/* Returns 1 when compared, 0 when the op (rightly) refused the case. */
static int check_case(const pool_case *pc, double *fwd, double *bwd, int *idx_bad)
{
    const ref_geom *g = &pc->g;
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    size_t nx = (size_t)g->n * g->c * g->h * g->w, ny = (size_t)g->n * g->c * oh * ow;
    float *x = malloc(nx * sizeof(float)), *ref = malloc(ny * sizeof(float)), *seed = malloc(ny * sizeof(float));
    float *dref = malloc(nx * sizeof(float));
    int64_t *iref = malloc(ny * sizeof(int64_t));
    test_fill(x, nx, -1.0f, 1.0f);
    for (size_t k = 0; k < nx; k += 5) /* some ties, to check that the first maximum wins */
        x[k] = 0.5f;
    test_fill(seed, ny, -1.0f, 1.0f);
    if (pc->is_max) {
        ref_maxpool2d(ref, iref, x, g);
        ref_maxpool2d_backward(dref, seed, x, g);
    } else {
        ref_avgpool2d(ref, x, g);
        ref_avgpool2d_backward(dref, seed, g);
    }
    char text[256];
    case_text(pc, text, sizeof text);
    int refuse = (pc->is_max || !g->count_include_pad) && has_empty_window(g);
    oplab lab;
    cv_status st = pool_lab(&lab, pc);
    if (st == CV_OK)
        st = oplab_forward(&lab, x);
    int compared = 0;
    if (refuse) {
        CHECK(st == CV_ERR_UNSUPPORTED, "%s: expected a refusal (empty window), got %s", text, cv_status_string(st));
    } else if (st != CV_OK) {
        CHECK(0, "%s: %s", text, lab.err.msg);
    } else if (lab.y_numel != ny) {
        CHECK(0, "%s: %zu outputs, expected %zu", text, lab.y_numel, ny);
    } else {
        compared = 1;
        double f = test_max_rel_diff(lab.y, ref, ny);
        CHECK(f <= 1e-6, "%s: forward rel diff %.3g", text, f);
        if (f > *fwd)
            *fwd = f;
        if (pc->indices) {
            const cv_tensor *it = cv_run_output(lab.run, 1);
            int bad = 0;
            for (size_t k = 0; k < ny && it && it->i; k++) {
                int64_t want = iref[k];
                if (pc->storage_order) { /* column-major within the plane */
                    int64_t plane = want / ((int64_t)g->h * g->w), r = want % ((int64_t)g->h * g->w);
                    want = plane * g->h * g->w + r / g->w + (r % g->w) * g->h;
                }
                bad += it->i[k] != want;
            }
            CHECK(it && it->dtype == CV_I64 && bad == 0, "%s: %d wrong indices", text, bad);
            *idx_bad += bad;
        }
        const float *dx = NULL;
        st = cv_run_backward(lab.run, 0, seed, &dx, &lab.err);
        CHECK(st == CV_OK, "%s: backward: %s", text, lab.err.msg);
        if (st == CV_OK) {
            double b = test_max_rel_diff(dx, dref, nx);
            CHECK(b <= 1e-6, "%s: backward rel diff %.3g", text, b);
            if (b > *bwd)
                *bwd = b;
        }
    }
    oplab_free(&lab);
    free(x); free(ref); free(seed); free(dref); free(iref);
    return compared;
}

static void test_pool_random(void)
{
    test_seed(424242);
    for (int is_max = 1; is_max >= 0; is_max--) {
        double fwd = 0, bwd = 0;
        int cases = 400, compared = 0, idx_bad = 0, ceil_cases = 0, cip_cases = 0;
        for (int k = 0; k < cases; k++) {
            pool_case pc;
            random_case(&pc, is_max);
            int c = check_case(&pc, &fwd, &bwd, &idx_bad);
            compared += c;
            ceil_cases += c && pc.g.ceil_mode;
            cip_cases += c && pc.g.count_include_pad && !is_max;
            if (test_failed_now)
                return;
        }
        printf("    %s: %d random configs, %d compared (%d with ceil_mode), %d refused (empty windows): "
               "forward max rel diff %.3g, backward %.3g (tol 1e-6)%s\n",
               is_max ? "MaxPool" : "AveragePool", cases, compared, ceil_cases, cases - compared, fwd, bwd,
               is_max ? ", indices all equal" : "");
        if (!is_max)
            printf("    AveragePool: %d of those with count_include_pad\n", cip_cases);
    }
}

/* VGG's 2x2/2 max pool and a 3x3/2 ceil-mode one (GoogLeNet) at real sizes. */
static void test_pool_real_shapes(void)
{
    static const struct {
        const char *what;
        pool_case pc;
    } cases[] = {
        {"VGG max 2x2/2 64x112x112", {.g = {1, 64, 112, 112, 0, 0, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0}, .is_max = 1}},
        {"max 3x3/2 ceil 64x56x56", {.g = {2, 64, 56, 56, 0, 0, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1}, .is_max = 1, .ceil_attr = 1}},
        {"ResNet max 3x3/2 pad 1", {.g = {2, 5, 21, 23, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, .is_max = 1}},
        /* rows wider than MaxPool's 4096-column buffer: several chunks, and a window wider than it */
        {"max 3x3/2 rows of 9001", {.g = {1, 2, 5, 9001, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, .is_max = 1}},
        {"max 1x4100/3 rows of 9001", {.g = {1, 1, 1, 9001, 0, 0, 1, 4100, 1, 3, 1, 1, 0, 0, 0, 0}, .is_max = 1, .one_d = 1}},
        {"avg 3x3/1 pad 1 cip 0", {.g = {1, 64, 28, 28, 0, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}}},
        {"avg 5x5/3 ceil cip 1", {.g = {1, 32, 29, 31, 0, 0, 5, 5, 3, 3, 1, 1, 1, 1, 2, 2, 1, 1}, .ceil_attr = 1}},
    };
    test_seed(3);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double f = 0, b = 0;
        int bad = 0;
        CHECK(check_case(&cases[k].pc, &f, &b, &bad), "%s: not compared", cases[k].what);
        printf("    %-26s forward max rel diff %.3g, backward %.3g\n", cases[k].what, f, b);
    }
}

/* Values a finite-difference step cannot reorder: a shuffled ramp. */
static void distinct_fill(float *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        x[k] = -1.0f + 2.0f * (float)k / (float)n;
    for (size_t k = n - 1; k > 0; k--) {
        size_t j = (size_t)test_uniform(0.0f, (float)k + 0.999f);
        float t = x[k];
        x[k] = x[j];
        x[j] = t;
    }
}

static void test_pool_gradcheck(void)
{
    static const struct {
        const char *what;
        pool_case pc;
    } cases[] = {
        {"max 3x3/2 pads ceil", {.g = {1, 2, 7, 6, 0, 0, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1}, .is_max = 1, .ceil_attr = 1}},
        {"max 2x2 dilation 2", {.g = {2, 1, 6, 6, 0, 0, 2, 2, 1, 1, 2, 2, 0, 0, 0, 0}, .is_max = 1}},
        {"avg 3x3/2 pads cip 0 ceil", {.g = {1, 2, 7, 6, 0, 0, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1, 0}, .ceil_attr = 1}},
        {"avg 3x3/2 pads cip 1 ceil", {.g = {1, 2, 7, 6, 0, 0, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1, 1, 1}, .ceil_attr = 1}},
        {"avg 1-D k3 SAME_LOWER", {.g = {2, 2, 1, 7, 0, 0, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1}, .one_d = 1, .auto_pad = PAD_SAME_LOWER}},
    };
    test_seed(5);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const ref_geom *g = &cases[k].pc.g;
        size_t nx = (size_t)g->n * g->c * g->h * g->w;
        float x[256];
        distinct_fill(x, nx);
        oplab lab;
        cv_status st = pool_lab(&lab, &cases[k].pc);
        CHECK(st == CV_OK, "%s: %s", cases[k].what, lab.err.msg);
        if (st == CV_OK) {
            printf("    %s:\n", cases[k].what);
            /* piecewise linear, values >= 2/n apart: differences with eps 1e-3 are exact up to rounding */
            double e = oplab_gradcheck(&lab, x, 1e-3f);
            CHECK(e < 1e-2, "%s: gradient rel err %.3g", cases[k].what, e);
        }
        oplab_free(&lab);
    }
}

/* Ties: forward and backward both pick the first maximum in row-major
 * window order. */
static void test_maxpool_ties(void)
{
    float x[4] = {3, 3, 1, 3}; /* one 2x2 window */
    pool_case pc = {.g = {1, 1, 2, 2, 0, 0, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0}, .is_max = 1, .indices = 1};
    oplab lab;
    REQUIRE(pool_lab(&lab, &pc) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    float seed = 1.0f;
    const float *dx = NULL;
    REQUIRE(cv_run_backward(lab.run, 0, &seed, &dx, &lab.err) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *it = cv_run_output(lab.run, 1);
    printf("    y %g, index %lld, dx [%g %g %g %g]\n", lab.y[0], (long long)it->i[0], dx[0], dx[1], dx[2], dx[3]);
    CHECK(lab.y[0] == 3 && it->i[0] == 0, "wrong max or index");
    CHECK(dx[0] == 1 && dx[1] == 0 && dx[2] == 0 && dx[3] == 0, "gradient not routed to the first maximum");
    oplab_free(&lab);
}

/* A NaN anywhere in a window makes that window's max NaN (as PyTorch), on
 * the 2x2/2 fast path and elsewhere. */
static void test_maxpool_nan(void)
{
    float x[4 * 8];
    for (int k = 0; k < 32; k++)
        x[k] = (float)(k % 7);
    x[1 * 8 + 2] = NAN; /* window (0, 1), second row */
    x[2 * 8 + 7] = NAN; /* window (1, 3), first row, last column */
    pool_case pc = {.g = {1, 1, 4, 8, 0, 0, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0}, .is_max = 1};
    oplab lab;
    REQUIRE(pool_lab(&lab, &pc) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    for (int k = 0; k < 8; k++) {
        bool nan_expected = k == 1 || k == 7;
        CHECK(isnan(lab.y[k]) == nan_expected, "output %d is %g", k, lab.y[k]);
        if (!nan_expected) {
            int oy = k / 4, ox = k % 4;
            float best = -INFINITY;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    best = fmaxf(best, x[(2 * oy + i) * 8 + 2 * ox + j]);
            CHECK(lab.y[k] == best, "output %d is %g, expected %g", k, lab.y[k], best);
        }
    }
    oplab_free(&lab);
    /* 3x3/2 pad 1 (the column-max fast path): NaNs in every row of a window, and at the edges */
    float z[7 * 9];
    for (int k = 0; k < 63; k++)
        z[k] = (float)(k % 5) - 2.0f;
    z[0] = z[2 * 9 + 4] = z[4 * 9 + 8] = z[6 * 9 + 1] = NAN;
    pool_case p3 = {.g = {1, 1, 7, 9, 0, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, .is_max = 1};
    REQUIRE(pool_lab(&lab, &p3) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, z) == CV_OK, "%s", lab.err.msg);
    for (int k = 0; k < 4 * 5; k++) {
        int oy = k / 5, ox = k % 5, any_nan = 0;
        float best = -INFINITY;
        for (int i = 2 * oy - 1; i <= 2 * oy + 1; i++)
            for (int j = 2 * ox - 1; j <= 2 * ox + 1; j++)
                if (i >= 0 && i < 7 && j >= 0 && j < 9) {
                    any_nan |= isnan(z[i * 9 + j]);
                    best = fmaxf(best, z[i * 9 + j]);
                }
        CHECK(any_nan ? isnan(lab.y[k]) : lab.y[k] == best, "3x3/2: output %d is %g", k, lab.y[k]);
    }
    oplab_free(&lab);
}

/* Global pools over ranks 3, 4 and 5 against plain loops; plane sizes
 * around GlobalAveragePool's 8- and 16-accumulator sums (255, 256, 257,
 * and tails of every length below 16). */
static void test_global_pools(void)
{
    static const cv_shape shapes[] = {{3, {2, 3, 7}},       {4, {2, 3, 5, 6}},   {5, {1, 2, 3, 4, 5}},
                                      {4, {1, 64, 224, 224}}, {4, {1, 3, 15, 17}}, {4, {2, 5, 16, 16}},
                                      {3, {1, 3, 257}},       {3, {3, 7, 31}}};
    test_seed(9);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const cv_shape *xs = &shapes[s];
        size_t planes = (size_t)(xs->d[0] * xs->d[1]), nx = cv_shape_numel(xs), size = nx / planes;
        float *x = malloc(nx * sizeof(float));
        float *ref = malloc(planes * sizeof(float));
        test_fill(x, nx, -1.0f, 1.0f);
        for (int is_max = 0; is_max < 2; is_max++) {
            for (size_t q = 0; q < planes; q++) {
                double acc = is_max ? -INFINITY : 0.0;
                for (size_t k = 0; k < size; k++)
                    acc = is_max ? fmax(acc, x[q * size + k]) : acc + x[q * size + k];
                ref[q] = (float)(is_max ? acc : acc / (double)size);
            }
            oplab lab;
            oplab_begin(&lab, is_max ? "GlobalMaxPool" : "GlobalAveragePool", xs);
            REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
            REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
            char buf[64];
            int ones = lab.y_shape.ndim == xs->ndim;
            for (int d = 2; d < lab.y_shape.ndim; d++)
                ones &= lab.y_shape.d[d] == 1;
            CHECK(ones && lab.y_numel == planes, "output shape %s", cv_shape_str(&lab.y_shape, buf, sizeof buf));
            double d = test_max_rel_diff(lab.y, ref, planes);
            printf("    %s %s: max rel diff %.3g\n", is_max ? "GlobalMaxPool" : "GlobalAveragePool",
                   cv_shape_str(xs, buf, sizeof buf), d);
            CHECK(d <= 1e-6, "differs by %g", d);
            if (nx <= 256)
                CHECK(oplab_gradcheck(&lab, x, 1e-3f) < 1e-2, "gradient mismatch");
            oplab_free(&lab);
        }
        free(x);
        free(ref);
    }
}

static void expect_error(const char *what, const char *op, const cv_shape *xs, const pool_case *pc,
                         void (*attrs)(cv_model *, int), cv_status st, const char *needle)
{
    static float buf[4096];
    oplab lab;
    cv_status got;
    if (pc) {
        got = pool_lab(&lab, pc);
    } else {
        oplab_begin(&lab, op, xs);
        if (attrs)
            attrs(lab.m, lab.node);
        got = oplab_end(&lab);
    }
    if (got == CV_OK)
        got = oplab_forward(&lab, buf);
    printf("    %s: %s\n", what, got == CV_OK ? "(accepted)" : lab.err.msg);
    CHECK(got == st, "%s: status %s, expected %s", what, cv_status_string(got), cv_status_string(st));
    CHECK(got == CV_OK || strstr(lab.err.msg, needle), "%s: message lacks '%s'", what, needle);
    oplab_free(&lab);
}

static void attr_k3(cv_model *m, int k)
{
    int64_t ks[2] = {3, 3};
    cv_node_set_ints(m, k, "kernel_shape", ks, 2, NULL);
}
static void attr_k3_so2(cv_model *m, int k)
{
    attr_k3(m, k);
    cv_node_set_int(m, k, "storage_order", 2, NULL);
}
static void attr_k3_cip5(cv_model *m, int k)
{
    attr_k3(m, k);
    cv_node_set_int(m, k, "count_include_pad", 5, NULL);
}

static void test_pool_errors(void)
{
    cv_shape x4 = {4, {1, 2, 8, 8}}, x5 = {5, {1, 2, 8, 8, 8}}, tiny = {4, {1, 2, 2, 2}};
    expect_error("no kernel_shape", "MaxPool", &x4, NULL, NULL, CV_ERR_INVALID, "kernel_shape");
    expect_error("3-D pooling", "MaxPool", &x5, NULL, attr_k3, CV_ERR_UNSUPPORTED, "3-D");
    expect_error("window larger than input", "AveragePool", &tiny, NULL, attr_k3, CV_ERR_SHAPE, "smaller than the kernel");
    expect_error("storage_order 2", "MaxPool", &x4, NULL, attr_k3_so2, CV_ERR_INVALID, "storage_order");
    expect_error("count_include_pad 5", "AveragePool", &x4, NULL, attr_k3_cip5, CV_ERR_INVALID, "count_include_pad");
    /* k=2, dilation 3, pad 2 on a 1-wide input: the first window's taps are -2 and 1, both outside */
    pool_case empty = {.g = {1, 1, 3, 1, 0, 0, 1, 2, 1, 1, 1, 3, 0, 2, 0, 2}, .is_max = 1};
    expect_error("all-padding window", NULL, NULL, &empty, NULL, CV_ERR_UNSUPPORTED, "see no input");
    expect_error("global pool of a matrix", "GlobalAveragePool", &(cv_shape){2, {3, 4}}, NULL, NULL, CV_ERR_SHAPE,
                 "expected (N, C, spatial...)");
}

#define GOLDEN "tests/fixtures/conv_ops_torch.bin"

/* Against PyTorch's max_pool2d / avg_pool2d (ceil_mode, count_include_pad). */
static void test_pool_torch_golden(void)
{
    for (int is_max = 1; is_max >= 0; is_max--) {
        ref_record *r;
        char why[256];
        int n = ref_golden_load(GOLDEN, is_max ? "maxpool" : "avgpool", &r, why, sizeof why);
        REQUIRE(n > 0, "%s", n < 0 ? why : "no pool records");
        double fwd = 0, bwd = 0;
        for (int k = 0; k < n; k++) {
            const float *p = r[k].params;
            pool_case pc = {.g = {(int)p[0], (int)p[1], (int)p[2], (int)p[3], 0, 0, (int)p[4], (int)p[5], (int)p[6],
                                  (int)p[7], (int)p[8], (int)p[9], (int)p[10], (int)p[11], (int)p[12], (int)p[13],
                                  (int)p[14], (int)p[15]},
                            .is_max = is_max, .ceil_attr = (int)p[14]};
            const ref_tensor *x = &r[k].t[0], *y = &r[k].t[1], *dy = &r[k].t[2], *dx = &r[k].t[3];
            char text[256];
            case_text(&pc, text, sizeof text);
            oplab lab;
            cv_status st = pool_lab(&lab, &pc);
            if (st == CV_OK)
                st = oplab_forward(&lab, x->data);
            CHECK(st == CV_OK, "%s: %s", text, lab.err.msg);
            if (st == CV_OK && lab.y_numel == y->numel) {
                double f = test_max_rel_diff(lab.y, y->data, y->numel);
                const float *g = NULL;
                st = cv_run_backward(lab.run, 0, dy->data, &g, &lab.err);
                double bd = st == CV_OK ? test_max_rel_diff(g, dx->data, dx->numel) : INFINITY;
                CHECK(f <= 1e-6 && bd <= 1e-6, "%s: forward rel diff %.3g, backward %.3g", text, f, bd);
                fwd = f > fwd ? f : fwd;
                bwd = bd > bwd ? bd : bwd;
            } else if (st == CV_OK) {
                CHECK(0, "%s: %zu outputs, torch has %zu", text, lab.y_numel, y->numel);
            }
            oplab_free(&lab);
        }
        printf("    %s: %d PyTorch cases: forward max rel diff %.3g, backward %.3g (tol 1e-6)\n",
               is_max ? "MaxPool" : "AveragePool", n, fwd, bwd);
        ref_golden_free(r, n);
    }
}

int main(void)
{
    RUN(test_pool_random);
    RUN(test_pool_real_shapes);
    RUN(test_pool_torch_golden);
    RUN(test_pool_gradcheck);
    RUN(test_maxpool_ties);
    RUN(test_maxpool_nan);
    RUN(test_global_pools);
    RUN(test_pool_errors);
    return test_summary("pool");
}
