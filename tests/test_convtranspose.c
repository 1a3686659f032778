/* ConvTranspose: forward and backward-to-input against a naive scatter
 * loop (double accumulation) on every attribute (strides, pads,
 * output_padding, output_shape, auto_pad, dilations, group, kernel_shape,
 * 1-D), finite-difference gradients, PyTorch's conv_transpose2d/1d
 * (tests/fixtures/ops_extra_torch.py), a case large enough to tile the
 * column matrix, and the errors. */
#include "lib/opcase.h"
#include "lib/ref.h"
#include <math.h>
#include <string.h>

typedef struct {
    const char *what;
    int nsp;                 /* spatial dims: 1 or 2 */
    int n, c, h, w;          /* x (h = 1 for 1-D) */
    int mg, group, kh, kw;   /* w (c, mg, kh, kw) */
    int64_t strides[2], dil[2];
    int64_t pads[4];         /* ONNX order; all 0 = attribute absent */
    int64_t outpad[2];
    int64_t outshape[2];     /* 0 = absent */
    const char *auto_pad;
    bool bias, kernel_attr;
    /* expected: output size and the begin pads the reference uses */
    int oh, ow, pt, pl;
} ct_case;

static const ct_case cases[] = {
    {"ONNX example", 2, 1, 1, 3, 3, 2, 1, 3, 3, {1, 1}, {1, 1}, {0}, {0}, {0}, NULL, false, false, 5, 5, 0, 0},
    {"strides 3x2, pads 1,2,1,2", 2, 1, 1, 3, 3, 2, 1, 3, 3, {3, 2}, {1, 1}, {1, 2, 1, 2}, {0}, {0}, NULL, true, false,
     7, 3, 1, 2},
    {"output_padding 1,1", 2, 1, 2, 3, 3, 2, 1, 3, 3, {3, 2}, {1, 1}, {0}, {1, 1}, {0}, NULL, true, true, 10, 8, 0, 0},
    {"dilations 2", 2, 1, 1, 3, 3, 1, 1, 2, 2, {1, 1}, {2, 2}, {0}, {0}, {0}, NULL, false, false, 5, 5, 0, 0},
    {"group 2, stride 2, pads 1, output_padding 1", 2, 2, 4, 5, 4, 3, 2, 3, 3, {2, 2}, {1, 1}, {1, 1, 1, 1}, {1, 1},
     {0}, NULL, true, false, 10, 8, 1, 1},
    {"depthwise, stride 2", 2, 1, 3, 4, 4, 1, 3, 3, 3, {2, 2}, {1, 1}, {0}, {0}, {0}, NULL, true, false, 9, 9, 0, 0},
    {"auto_pad SAME_UPPER", 2, 1, 1, 3, 3, 2, 1, 3, 3, {2, 2}, {1, 1}, {0}, {0}, {0}, "SAME_UPPER", false, false, 6, 6,
     0, 0},
    {"auto_pad SAME_LOWER", 2, 1, 2, 3, 4, 2, 1, 3, 3, {2, 2}, {1, 1}, {0}, {0}, {0}, "SAME_LOWER", true, false, 6, 8,
     1, 1},
    {"auto_pad VALID", 2, 1, 1, 3, 3, 2, 1, 3, 3, {2, 2}, {1, 1}, {0}, {0}, {0}, "VALID", false, false, 7, 7, 0, 0},
    {"output_shape 10x8 (one extra row and column)", 2, 1, 1, 3, 3, 2, 1, 3, 3, {3, 2}, {1, 1}, {0}, {0}, {10, 8},
     NULL, false, false, 10, 8, 0, 0},
    {"output_shape 11x9 (two extra)", 2, 1, 1, 3, 3, 2, 1, 3, 3, {3, 2}, {1, 1}, {0}, {0}, {11, 9}, NULL, false, false,
     11, 9, -1, -1},
    {"output_shape 7x5 (cropped)", 2, 1, 1, 3, 3, 2, 1, 3, 3, {3, 2}, {1, 1}, {0}, {0}, {7, 5}, NULL, true, false, 7, 5,
     1, 1},
    {"1-D, stride 2, pads 1,0", 1, 2, 2, 1, 5, 3, 1, 1, 3, {2}, {1}, {1, 0}, {0}, {0}, NULL, true, true, 1, 10, 0, 1},
    {"1x1 kernel, stride 2", 2, 1, 4, 3, 5, 2, 1, 1, 1, {2, 2}, {1, 1}, {0}, {1, 1}, {0}, NULL, false, false, 6, 10, 0,
     0},
};

/* y (n, m, oh, ow) = ConvTranspose(x (n, c, h, w), w (c, mg, kh, kw)) + b. */
static void ref_ct(float *y, const float *x, const float *wt, const float *b, const ct_case *k, int sh, int sw,
                   int dh, int dw)
{
    int m = k->mg * k->group, cg = k->c / k->group;
    size_t ny = (size_t)k->n * m * k->oh * k->ow;
    double *acc = calloc(ny, sizeof(double));
    for (int n = 0; n < k->n; n++)
        for (int c = 0; c < k->c; c++)
            for (int iy = 0; iy < k->h; iy++)
                for (int ix = 0; ix < k->w; ix++) {
                    double xv = x[((n * k->c + c) * k->h + iy) * k->w + ix];
                    int g = c / cg;
                    for (int j = 0; j < k->mg; j++)
                        for (int ki = 0; ki < k->kh; ki++)
                            for (int kj = 0; kj < k->kw; kj++) {
                                int oy = iy * sh - k->pt + ki * dh, ox = ix * sw - k->pl + kj * dw;
                                if (oy < 0 || oy >= k->oh || ox < 0 || ox >= k->ow)
                                    continue;
                                acc[((size_t)(n * m + g * k->mg + j) * k->oh + oy) * k->ow + ox] +=
                                    xv * wt[((c * k->mg + j) * k->kh + ki) * k->kw + kj];
                            }
                }
    for (size_t i = 0; i < ny; i++)
        y[i] = (float)(acc[i] + (b ? b[(i / ((size_t)k->oh * k->ow)) % (size_t)m] : 0.0));
    free(acc);
}

/* dx = d(sum(dy * y))/dx for the above: the gather of the same taps. */
static void ref_ct_backward(float *dx, const float *dy, const float *wt, const ct_case *k, int sh, int sw, int dh,
                            int dw)
{
    int m = k->mg * k->group, cg = k->c / k->group;
    for (int n = 0; n < k->n; n++)
        for (int c = 0; c < k->c; c++)
            for (int iy = 0; iy < k->h; iy++)
                for (int ix = 0; ix < k->w; ix++) {
                    double s = 0;
                    int g = c / cg;
                    for (int j = 0; j < k->mg; j++)
                        for (int ki = 0; ki < k->kh; ki++)
                            for (int kj = 0; kj < k->kw; kj++) {
                                int oy = iy * sh - k->pt + ki * dh, ox = ix * sw - k->pl + kj * dw;
                                if (oy < 0 || oy >= k->oh || ox < 0 || ox >= k->ow)
                                    continue;
                                s += (double)dy[((size_t)(n * m + g * k->mg + j) * k->oh + oy) * k->ow + ox] *
                                     wt[((c * k->mg + j) * k->kh + ki) * k->kw + kj];
                            }
                    dx[((n * k->c + c) * k->h + iy) * k->w + ix] = (float)s;
                }
}

static cv_shape x_shape(const ct_case *k)
{
    cv_shape s = k->nsp == 2 ? (cv_shape){4, {k->n, k->c, k->h, k->w}} : (cv_shape){3, {k->n, k->c, k->w}};
    return s;
}

static void ct_lab(oplab *lab, const ct_case *k, const float *wt, const float *b)
{
    cv_shape xs = x_shape(k);
    cv_shape ws = k->nsp == 2 ? (cv_shape){4, {k->c, k->mg, k->kh, k->kw}} : (cv_shape){3, {k->c, k->mg, k->kw}};
    cv_shape bs = {1, {k->mg * k->group}};
    oplab_begin(lab, "ConvTranspose", &xs);
    oplab_const(lab, &ws, wt);
    if (k->bias)
        oplab_const(lab, &bs, b);
    cv_model *m = lab->m;
    int nd = k->nsp;
    cv_node_set_ints(m, lab->node, "strides", k->strides, nd, NULL);
    if (k->dil[0] != 1 || (nd == 2 && k->dil[1] != 1))
        cv_node_set_ints(m, lab->node, "dilations", k->dil, nd, NULL);
    if (k->pads[0] || k->pads[1] || k->pads[2] || k->pads[3])
        cv_node_set_ints(m, lab->node, "pads", k->pads, 2 * nd, NULL);
    if (k->outpad[0] || k->outpad[1])
        cv_node_set_ints(m, lab->node, "output_padding", k->outpad, nd, NULL);
    if (k->outshape[0])
        cv_node_set_ints(m, lab->node, "output_shape", k->outshape, nd, NULL);
    if (k->auto_pad)
        cv_node_set_string(m, lab->node, "auto_pad", k->auto_pad, NULL);
    if (k->group != 1)
        cv_node_set_int(m, lab->node, "group", k->group, NULL);
    if (k->kernel_attr) {
        int64_t ks[2] = {k->kh, k->kw};
        cv_node_set_ints(m, lab->node, "kernel_shape", nd == 2 ? ks : ks + 1, nd, NULL);
    }
}

static void test_cases(void)
{
    static float x[512], wt[512], b[16], y[4096], ref[4096], dy[4096], dx[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const ct_case *k = &cases[c];
        int m = k->mg * k->group;
        size_t nx = (size_t)k->n * k->c * k->h * k->w, nw = (size_t)k->c * k->mg * k->kh * k->kw;
        size_t ny = (size_t)k->n * m * k->oh * k->ow;
        test_seed(900 + c);
        test_fill(x, nx, -1, 1);
        test_fill(wt, nw, -1, 1);
        test_fill(b, (size_t)m, -1, 1);
        int sh = k->nsp == 2 ? (int)k->strides[0] : 1, sw = (int)k->strides[k->nsp - 1];
        int dh = k->nsp == 2 ? (int)k->dil[0] : 1, dw = (int)k->dil[k->nsp - 1];
        ref_ct(ref, x, wt, k->bias ? b : NULL, k, sh, sw, dh, dw);
        oplab lab;
        ct_lab(&lab, k, wt, b);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s: %s", k->what, lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s: %s", k->what, lab.err.msg);
        char s1[64];
        cv_shape want = k->nsp == 2 ? (cv_shape){4, {k->n, m, k->oh, k->ow}} : (cv_shape){3, {k->n, m, k->ow}};
        cv_shape_str(&lab.y_shape, s1, sizeof s1);
        CHECK(cv_shape_equal(&lab.y_shape, &want), "%s: output %s", k->what, s1);
        REQUIRE(lab.y_numel == ny, "%s: size", k->what);
        memcpy(y, lab.y, ny * sizeof(float));
        double d = test_max_abs_diff(y, ref, ny);
        test_fill(dy, ny, -1, 1);
        const float *g;
        REQUIRE(cv_run_backward(lab.run, 0, dy, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        ref_ct_backward(dx, dy, wt, k, sh, sw, dh, dw);
        double db = test_max_abs_diff(g, dx, nx);
        printf("    %-45s -> %s: forward max abs diff %.3g, backward %.3g\n", k->what, s1, d, db);
        CHECK(d < 1e-5 && db < 1e-5, "%s: forward %g, backward %g", k->what, d, db);
        double e = oplab_gradcheck(&lab, x, 1e-2f);
        CHECK(e < 1e-3, "%s: gradient mismatch %g", k->what, e);
        oplab_free(&lab);
    }
}

/* Large enough that the column matrix (mg*KH*KW x IH*IW) is tiled. */
static void test_tiled(void)
{
    ct_case k = {"tiled", 2, 1, 8, 64, 64, 64, 1, 4, 4, {2, 2}, {1, 1}, {1, 1, 1, 1}, {0}, {0}, NULL, true, false,
                 128, 128, 1, 1};
    size_t nx = 8 * 64 * 64, nw = 8 * 64 * 16, ny = 64 * 128 * 128;
    float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float)), b[64];
    float *ref = malloc(ny * sizeof(float)), *dy = malloc(ny * sizeof(float)), *dx = malloc(nx * sizeof(float));
    test_seed(990);
    test_fill(x, nx, -1, 1);
    test_fill(wt, nw, -1, 1);
    test_fill(b, 64, -1, 1);
    test_fill(dy, ny, -1, 1);
    ref_ct(ref, x, wt, b, &k, 2, 2, 1, 1);
    ref_ct_backward(dx, dy, wt, &k, 2, 2, 1, 1);
    oplab lab;
    ct_lab(&lab, &k, wt, b);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, ref, ny);
    const float *g;
    REQUIRE(cv_run_backward(lab.run, 0, dy, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
    double db = test_max_abs_diff(g, dx, nx);
    double macs = cv_run_layer_macs(lab.run, 0);
    printf("    [1,8,64,64] -> [1,64,128,128], k4 s2 p1 (K x P = 1024 x 4096, tiled): forward %.3g, backward %.3g, "
           "%.0f MACs\n", d, db, macs);
    CHECK(d < 1e-4 && db < 1e-4, "forward %g, backward %g", d, db);
    CHECK(macs == 8.0 * 4096 * 64 * 16, "macs %g", macs);
    oplab_free(&lab);
    free(x);
    free(wt);
    free(ref);
    free(dy);
    free(dx);
}

#define GOLDEN "tests/fixtures/ops_extra_torch.bin"

static void test_torch_golden(void)
{
    ref_record *r;
    char why[256];
    int n = ref_golden_load(GOLDEN, "convtranspose", &r, why, sizeof why);
    REQUIRE(n > 0, "%s", n < 0 ? why : "no convtranspose records");
    double fwd = 0, bwd = 0;
    for (int i = 0; i < n; i++) {
        const float *p = r[i].params;
        int nsp = (int)p[17];
        int ph = (int)p[12], pw = (int)p[13];
        ct_case k = {"torch", nsp, (int)p[0], (int)p[1], (int)p[2], (int)p[3], (int)p[4] / (int)p[5], (int)p[5],
                     (int)p[6], (int)p[7], {0}, {0}, {0}, {0}, {0}, NULL, (int)p[16] != 0, i % 2 == 1, 0, 0, 0, 0};
        if (nsp == 2) {
            k.strides[0] = (int64_t)p[8], k.strides[1] = (int64_t)p[9];
            k.dil[0] = (int64_t)p[10], k.dil[1] = (int64_t)p[11];
            k.pads[0] = k.pads[2] = ph, k.pads[1] = k.pads[3] = pw;
            k.outpad[0] = (int64_t)p[14], k.outpad[1] = (int64_t)p[15];
        } else {
            k.strides[0] = (int64_t)p[9];
            k.dil[0] = (int64_t)p[11];
            k.pads[0] = k.pads[1] = pw;
            k.outpad[0] = (int64_t)p[15];
        }
        const ref_tensor *x = &r[i].t[0], *w = &r[i].t[1], *b = &r[i].t[2], *y = &r[i].t[3], *dy = &r[i].t[4],
                         *dx = &r[i].t[5];
        oplab lab;
        ct_lab(&lab, &k, w->data, b->data);
        cv_status st = oplab_end(&lab);
        if (st == CV_OK)
            st = oplab_forward(&lab, x->data);
        CHECK(st == CV_OK, "record %d: %s", i, lab.err.msg);
        if (st == CV_OK && lab.y_numel == y->numel) {
            double f = test_max_rel_diff(lab.y, y->data, y->numel);
            const float *g = NULL;
            st = cv_run_backward(lab.run, 0, dy->data, &g, &lab.err);
            double bd = st == CV_OK ? test_max_rel_diff(g, dx->data, dx->numel) : INFINITY;
            if (st == CV_OK && i == 0)
                printf("    record 0: dx[0] = %.9g (torch %.9g), y[1] = %.9g (torch %.9g)\n", g[0], dx->data[0], lab.y[1],
                       y->data[1]);
            CHECK(f <= 1e-5 && bd <= 1e-5, "record %d: forward rel diff %.3g, backward %.3g", i, f, bd);
            fwd = f > fwd ? f : fwd;
            bwd = bd > bwd ? bd : bwd;
        } else if (st == CV_OK) {
            CHECK(0, "record %d: %zu outputs, torch has %zu", i, lab.y_numel, y->numel);
        }
        oplab_free(&lab);
    }
    printf("    %d PyTorch cases: forward max rel diff %.3g, backward %.3g (tol 1e-5)\n", n, fwd, bwd);
    ref_golden_free(r, n);
}

static void expect_fail(const char *what, oplab *lab, cv_status want)
{
    static float x[4096];
    cv_status st = oplab_end(lab);
    if (st == CV_OK)
        st = oplab_forward(lab, x);
    printf("    %s: %s\n", what, lab->err.msg);
    CHECK(st == want, "%s: status %d, want %d", what, st, want);
    oplab_free(lab);
}

static void test_errors(void)
{
    static float w[256];
    oplab lab;
    cv_shape x5 = {5, {1, 1, 3, 4, 5}}, w5 = {5, {1, 2, 3, 3, 3}};
    oplab_begin(&lab, "ConvTranspose", &x5);
    oplab_const(&lab, &w5, w);
    expect_fail("3-D", &lab, CV_ERR_UNSUPPORTED);

    cv_shape x4 = {4, {1, 4, 3, 3}}, wbad = {4, {3, 2, 3, 3}}, w4 = {4, {4, 2, 3, 3}}, b3 = {1, {3}};
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &wbad, w);
    expect_fail("weights for 3 input channels", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &w4, w);
    cv_node_set_int(lab.m, lab.node, "group", 3, NULL);
    expect_fail("group 3 of 4 channels", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &w4, w);
    oplab_const(&lab, &b3, w);
    expect_fail("bias of 3 for 2 outputs", &lab, CV_ERR_SHAPE);
    int64_t big_pads[4] = {3, 3, 3, 3}, k2[2] = {2, 2}, op3[3] = {1, 1, 1};
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &w4, w);
    cv_node_set_ints(lab.m, lab.node, "pads", big_pads, 4, NULL);
    expect_fail("pads that leave nothing", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &w4, w);
    cv_node_set_ints(lab.m, lab.node, "kernel_shape", k2, 2, NULL);
    expect_fail("kernel_shape against the weights", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &w4, w);
    cv_node_set_ints(lab.m, lab.node, "output_padding", op3, 3, NULL);
    expect_fail("3 output_padding entries", &lab, CV_ERR_UNSUPPORTED);
    oplab_begin(&lab, "ConvTranspose", &x4);
    oplab_const(&lab, &w4, w);
    cv_node_set_ints(lab.m, lab.node, "output_padding", op3, 1, NULL);
    expect_fail("1 output_padding entry for 2-D", &lab, CV_ERR_SHAPE);

    /* weights computed from the input: x is W, a constant is X */
    oplab_begin(&lab, "ConvTranspose", &w4);
    oplab_const(&lab, &x4, w);
    opcase_swap(&lab, 0, 1);
    expect_fail("runtime weights", &lab, CV_ERR_UNSUPPORTED);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_tiled);
    RUN(test_torch_golden);
    RUN(test_errors);
    return test_summary("convtranspose");
}
