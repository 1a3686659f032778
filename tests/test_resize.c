/* Resize and Upsample: forward against a naive double-precision
 * reference (nearest: one rounding rule per nearest_mode; linear: the 2^r
 * corners of every output point) for every coordinate_transformation_mode
 * and nearest_mode, up and down, from scales and from sizes; ONNX's own
 * documented examples; N-D nearest; rank 1-3 linear; every opset's input
 * layout (Upsample 1/7/9, Resize 10/11/13/18 with axes and
 * keep_aspect_ratio_policy); finite-difference gradients; PyTorch's
 * F.interpolate (tests/fixtures/ops_extra_torch.py); and the refusals. */
#include "lib/opcase.h"
#include "lib/ref.h"
#include <math.h>
#include <string.h>

enum { C_HALF, C_PYTORCH, C_ALIGN, C_ASYM, C_TFNN };
enum { N_RPF, N_RPC, N_FLOOR, N_CEIL };
static const char *const coord_names[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                          "tf_half_pixel_for_nn"};
static const char *const round_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};

typedef struct {
    const char *op;           /* "Resize" or "Upsample" */
    int opset;
    bool linear;
    int coord, round;         /* -1: attribute absent */
    const float *scales;      /* n_sc entries (input, or Upsample-7 attribute) */
    int n_sc;
    const int64_t *sizes;     /* n_sz entries */
    int n_sz;
    const int64_t *axes;      /* opset 18 */
    int n_axes;
    const char *policy;
} rs_spec;

/* Build the node on lab for input shape xs. */
static void rs_lab(oplab *lab, const rs_spec *s, const cv_shape *xs)
{
    oplab_begin(lab, s->op, xs);
    lab->m->opset = s->opset;
    cv_model *m = lab->m;
    if (s->linear)
        cv_node_set_string(m, lab->node, "mode", "linear", NULL);
    if (s->coord >= 0)
        cv_node_set_string(m, lab->node, "coordinate_transformation_mode", coord_names[s->coord], NULL);
    if (s->round >= 0)
        cv_node_set_string(m, lab->node, "nearest_mode", round_names[s->round], NULL);
    if (s->axes)
        cv_node_set_ints(m, lab->node, "axes", s->axes, s->n_axes, NULL);
    if (s->policy)
        cv_node_set_string(m, lab->node, "keep_aspect_ratio_policy", s->policy, NULL);
    cv_shape ss = {1, {s->n_sc}}, zs = {1, {s->n_sz}}, empty = {1, {0}};
    bool legacy = strcmp(s->op, "Upsample") == 0 || s->opset < 11;
    if (strcmp(s->op, "Upsample") == 0 && s->opset < 9) {
        if (s->opset < 7) {
            cv_node_set_float(m, lab->node, "height_scale", s->scales[2], NULL);
            cv_node_set_float(m, lab->node, "width_scale", s->scales[3], NULL);
        } else {
            cv_node_set_floats(m, lab->node, "scales", s->scales, s->n_sc, NULL);
        }
    } else if (legacy) {
        oplab_const(lab, &ss, s->scales);
    } else {
        float none = 0;
        oplab_const(lab, &empty, &none); /* roi, unused */
        if (s->scales)
            oplab_const(lab, &ss, s->scales);
        else if (s->opset < 13)
            oplab_const(lab, &empty, &none); /* scales is required before 13 */
        else
            oplab_none(lab);
        if (s->sizes)
            oplab_const_i64(lab, &zs, s->sizes);
    }
}

/* ---- the reference ------------------------------------------------------------------ */

typedef struct {
    int coord, round;
    bool linear;
    double scale[CV_MAX_DIMS];
} ref_geo;

static double ref_source(int coord, int64_t x, double scale, int64_t in, int64_t out)
{
    switch (coord) {
    case C_HALF: return (x + 0.5) / scale - 0.5;
    case C_PYTORCH: return out == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    case C_ALIGN: return out == 1 ? 0 : x * (in - 1.0) / (in * scale - 1.0);
    case C_ASYM: return x / scale;
    default: return (x + 0.5) / scale;
    }
}

static int64_t ref_clamp(double i, int64_t in) { return i < 0 ? 0 : i > in - 1 ? in - 1 : (int64_t)i; }

static int64_t ref_nearest(int round, double s, int64_t in)
{
    double i = round == N_RPF ? ceil(s - 0.5) : round == N_RPC ? floor(s + 0.5) : round == N_FLOOR ? floor(s) : ceil(s);
    return ref_clamp(i, in);
}

static void ref_resize(float *y, const float *x, const cv_shape *xs, const cv_shape *ys, const ref_geo *g)
{
    int r = xs->ndim;
    size_t ny = cv_shape_numel(ys);
    for (size_t j = 0; j < ny; j++) {
        int64_t idx[CV_MAX_DIMS];
        opcase_unravel(ys, j, idx);
        int64_t lo[CV_MAX_DIMS], hi[CV_MAX_DIMS];
        double t[CV_MAX_DIMS];
        for (int k = 0; k < r; k++) {
            double s = ref_source(g->coord, idx[k], g->scale[k], xs->d[k], ys->d[k]);
            if (ys->d[k] == xs->d[k] && g->scale[k] == 1.0)
                s = (double)idx[k]; /* an axis left alone */
            if (g->linear) {
                lo[k] = ref_clamp(floor(s), xs->d[k]);
                hi[k] = ref_clamp(floor(s) + 1, xs->d[k]);
                t[k] = s - floor(s);
            } else {
                lo[k] = hi[k] = ref_nearest(g->round, s, xs->d[k]);
                t[k] = 0;
            }
        }
        double acc = 0;
        for (int corner = 0; corner < (1 << r); corner++) {
            double wgt = 1;
            size_t off = 0;
            for (int k = 0; k < r; k++) {
                bool up = (corner >> k) & 1;
                wgt *= up ? t[k] : 1 - t[k];
                off = off * (size_t)xs->d[k] + (size_t)(up ? hi[k] : lo[k]);
            }
            if (wgt != 0)
                acc += wgt * x[off];
        }
        y[j] = (float)acc;
    }
}

/* ---- cases ---------------------------------------------------------------------------- */

/* ONNX's documented examples (Operators.md), values written out. */
static void test_onnx_examples(void)
{
    cv_shape xs = {4, {1, 1, 2, 2}};
    float x[4] = {1, 2, 3, 4};
    float sc_n[4] = {1, 1, 2, 3};
    float want_n[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    float sc_l[4] = {1, 1, 2, 2};
    float want_l[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    float want_ac[16] = {1, 1.333333f, 1.666667f, 2, 1.666667f, 2, 2.333333f, 2.666667f,
                         2.333333f, 2.666667f, 3, 3.333333f, 3, 3.333333f, 3.666667f, 4};
    struct {
        const char *what;
        rs_spec s;
        const float *want;
        size_t n;
    } ex[] = {
        {"upsample_scales_nearest", {"Resize", 13, false, -1, -1, sc_n, 4, NULL, 0, NULL, 0, NULL}, want_n, 24},
        {"upsample_scales_linear", {"Resize", 13, true, -1, -1, sc_l, 4, NULL, 0, NULL, 0, NULL}, want_l, 16},
        {"upsample_scales_linear_align_corners", {"Resize", 13, true, C_ALIGN, -1, sc_l, 4, NULL, 0, NULL, 0, NULL},
         want_ac, 16},
        {"Upsample-9 nearest", {"Upsample", 9, false, -1, -1, sc_n, 4, NULL, 0, NULL, 0, NULL}, want_n, 24},
    };
    for (size_t k = 0; k < sizeof ex / sizeof ex[0]; k++) {
        oplab lab;
        rs_lab(&lab, &ex[k].s, &xs);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s: %s", ex[k].what, lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s: %s", ex[k].what, lab.err.msg);
        REQUIRE(lab.y_numel == ex[k].n, "%s: %zu outputs", ex[k].what, lab.y_numel);
        double d = test_max_abs_diff(lab.y, ex[k].want, ex[k].n);
        printf("    %s: max abs diff %.3g\n", ex[k].what, d);
        CHECK(d < 1e-6, "%s differs by %g", ex[k].what, d);
        oplab_free(&lab);
    }
    /* downsample_scales_linear_align_corners: the divisor is in * scale - 1
     * (2.4 - 1), not round(in * scale) - 1 */
    cv_shape xs2 = {4, {1, 1, 2, 4}};
    float x2[8] = {1, 2, 3, 4, 5, 6, 7, 8}, sc[4] = {1, 1, 0.6f, 0.6f};
    rs_spec s = {"Resize", 13, true, C_ALIGN, -1, sc, 4, NULL, 0, NULL, 0, NULL};
    oplab lab;
    rs_lab(&lab, &s, &xs2);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x2) == CV_OK, "%s", lab.err.msg);
    printf("    downsample_scales_linear_align_corners: %g %g (ONNX: 1 3.142857)\n", lab.y[0], lab.y[1]);
    CHECK(lab.y_numel == 2 && lab.y[0] == 1.0f && fabsf(lab.y[1] - 3.142857f) < 1e-6f, "align_corners divisor");
    oplab_free(&lab);
}

typedef struct {
    cv_shape x;
    float sc[4];      /* scales (sizes = 0) */
    int64_t sz[4];    /* sizes (when sz[0]) */
} geo_case;

static const geo_case geos[] = {
    {{4, {1, 2, 5, 7}}, {1, 1, 1.7f, 2.5f}, {0}},     /* up by fractions */
    {{4, {1, 2, 9, 8}}, {1, 1, 0.6f, 0.45f}, {0}},    /* down by fractions */
    {{4, {1, 2, 4, 5}}, {1, 1, 2, 3}, {0}},           /* up by integers */
    {{4, {1, 2, 5, 7}}, {0}, {1, 2, 11, 4}},          /* sizes: up H, down W */
    {{4, {2, 1, 6, 6}}, {0}, {2, 1, 3, 1}},           /* sizes: to a single column */
};

/* Every coordinate mode x every nearest_mode, and linear, on each geometry. */
static void test_modes(void)
{
    static float x[512], y[2048];
    int n_cases = 0;
    double worst_n = 0, worst_l = 0, worst_g = 0;
    for (size_t gi = 0; gi < sizeof geos / sizeof geos[0]; gi++) {
        const geo_case *gc = &geos[gi];
        size_t nx = cv_shape_numel(&gc->x);
        test_seed(1000 + gi);
        test_fill(x, nx, -2, 2);
        for (int coord = 0; coord < 5; coord++)
            for (int mode = 0; mode < 5; mode++) { /* 4 nearest modes, then linear */
                bool linear = mode == 4;
                rs_spec s = {"Resize", 13, linear, coord, linear ? -1 : mode, gc->sz[0] ? NULL : gc->sc, 4,
                             gc->sz[0] ? gc->sz : NULL, 4, NULL, 0, NULL};
                ref_geo g = {coord, linear ? 0 : mode, linear, {0}};
                cv_shape ys = gc->x;
                for (int k = 0; k < 4; k++) {
                    g.scale[k] = gc->sz[0] ? (double)gc->sz[k] / (double)gc->x.d[k] : (double)gc->sc[k];
                    ys.d[k] = gc->sz[0] ? gc->sz[k] : (int64_t)floor((double)gc->sc[k] * (double)gc->x.d[k]);
                }
                oplab lab;
                rs_lab(&lab, &s, &gc->x);
                REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
                REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
                char b1[64], b2[64];
                cv_shape_str(&lab.y_shape, b1, sizeof b1);
                CHECK(cv_shape_equal(&lab.y_shape, &ys), "output %s, want %s", b1, cv_shape_str(&ys, b2, sizeof b2));
                REQUIRE(lab.y_numel == cv_shape_numel(&ys), "size");
                ref_resize(y, x, &gc->x, &ys, &g);
                double d = test_max_abs_diff(lab.y, y, lab.y_numel);
                CHECK(d < (linear ? 1e-6 : 0.0) + 1e-12, "%s %s %s: differs by %g", b1, coord_names[coord],
                      linear ? "linear" : round_names[mode], d);
                if (linear)
                    worst_l = d > worst_l ? d : worst_l;
                else
                    worst_n = d > worst_n ? d : worst_n;
                if (gi == 0 || gi == 3) { /* gradients on two of the geometries */
                    double e = oplab_gradcheck(&lab, x, 1e-2f);
                    CHECK(e < 1e-3, "%s %s: gradient mismatch %g", coord_names[coord],
                          linear ? "linear" : round_names[mode], e);
                    worst_g = e > worst_g ? e : worst_g;
                }
                n_cases++;
                oplab_free(&lab);
            }
    }
    printf("    %d cases (5 coordinate modes x 4 nearest modes + linear, 5 geometries): nearest max abs diff %.3g, "
           "linear %.3g, worst gradient rel err %.3g\n", n_cases, worst_n, worst_l, worst_g);
}

/* nearest on any axes (batch, channels too); linear on rank 1-3 tensors. */
static void test_ranks(void)
{
    static float x[1024], y[4096];
    struct {
        const char *what;
        cv_shape x;
        bool linear;
        float sc[5];
    } cs[] = {
        {"nearest on every axis", {4, {2, 3, 4, 6}}, false, {2, 0.7f, 1.5f, 0.5f}},
        {"nearest, rank 5", {5, {1, 2, 3, 2, 3}}, false, {1, 1, 2, 1.5f, 2}},
        {"linear, rank 3 (N, C, L)", {3, {2, 3, 7}}, true, {1, 1, 2.3f}},
        {"linear, rank 2", {2, {5, 6}}, true, {1.6f, 0.7f}},
        {"linear, rank 1", {1, {9}}, true, {1.4f}},
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int r = cs[c].x.ndim;
        const float *sc = cs[c].sc;
        rs_spec s = {"Resize", 13, cs[c].linear, C_HALF, -1, sc, r, NULL, 0, NULL, 0, NULL};
        ref_geo g = {C_HALF, N_RPF, cs[c].linear, {0}};
        cv_shape ys = cs[c].x;
        for (int k = 0; k < r; k++) {
            g.scale[k] = sc[k];
            ys.d[k] = (int64_t)floor((double)sc[k] * (double)cs[c].x.d[k]);
        }
        size_t nx = cv_shape_numel(&cs[c].x);
        test_seed(1100 + c);
        test_fill(x, nx, -2, 2);
        oplab lab;
        rs_lab(&lab, &s, &cs[c].x);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s: %s", cs[c].what, lab.err.msg);
        char b[64];
        REQUIRE(cv_shape_equal(&lab.y_shape, &ys), "%s: shape %s", cs[c].what, cv_shape_str(&lab.y_shape, b, sizeof b));
        ref_resize(y, x, &cs[c].x, &ys, &g);
        double d = test_max_abs_diff(lab.y, y, lab.y_numel);
        printf("    %s -> %s: max abs diff %.3g\n", cs[c].what, cv_shape_str(&ys, b, sizeof b), d);
        CHECK(d < 1e-6, "%s differs by %g", cs[c].what, d);
        double e = oplab_gradcheck(&lab, x, 1e-2f);
        CHECK(e < 1e-3, "%s: gradient mismatch %g", cs[c].what, e);
        oplab_free(&lab);
    }
}

/* Every opset's way of passing the scales, all meaning the same resize. */
static void test_opsets(void)
{
    cv_shape xs = {4, {1, 2, 3, 4}};
    float x[24], sc[4] = {1, 1, 2, 1.5f}, want[72];
    int64_t sz[4] = {1, 2, 6, 6}, sz_hw[2] = {6, 6}, ax[2] = {2, 3}, ax_neg[2] = {-1, -2};
    float sc_hw[2] = {2, 1.5f}, sc_wh[2] = {1.5f, 2};
    test_seed(1200);
    test_fill(x, 24, -2, 2);
    cv_shape ys = {4, {1, 2, 6, 6}};
    /* Upsample and Resize-10: asymmetric, floor */
    ref_geo g = {C_ASYM, N_FLOOR, false, {1, 1, 2, 1.5}};
    ref_resize(want, x, &xs, &ys, &g);
    const struct {
        const char *what;
        rs_spec s;
    } forms[] = {
        {"Upsample-1 (height_scale, width_scale)", {"Upsample", 6, false, -1, -1, sc, 4, NULL, 0, NULL, 0, NULL}},
        {"Upsample-7 (scales attribute)", {"Upsample", 7, false, -1, -1, sc, 4, NULL, 0, NULL, 0, NULL}},
        {"Upsample-9 (scales input)", {"Upsample", 9, false, -1, -1, sc, 4, NULL, 0, NULL, 0, NULL}},
        {"Resize-10 (X, scales)", {"Resize", 10, false, -1, -1, sc, 4, NULL, 0, NULL, 0, NULL}},
        {"Resize-11 asymmetric/floor, scales", {"Resize", 11, false, C_ASYM, N_FLOOR, sc, 4, NULL, 0, NULL, 0, NULL}},
        {"Resize-11 asymmetric/floor, sizes", {"Resize", 11, false, C_ASYM, N_FLOOR, NULL, 0, sz, 4, NULL, 0, NULL}},
        {"Resize-13 sizes, no scales input", {"Resize", 13, false, C_ASYM, N_FLOOR, NULL, 0, sz, 4, NULL, 0, NULL}},
        {"Resize-18 axes [2, 3], scales", {"Resize", 18, false, C_ASYM, N_FLOOR, sc_hw, 2, NULL, 0, ax, 2, NULL}},
        {"Resize-18 axes [-1, -2], scales", {"Resize", 18, false, C_ASYM, N_FLOOR, sc_wh, 2, NULL, 0, ax_neg, 2, NULL}},
        {"Resize-18 axes [2, 3], sizes", {"Resize", 18, false, C_ASYM, N_FLOOR, NULL, 0, sz_hw, 2, ax, 2, NULL}},
    };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        oplab lab;
        rs_lab(&lab, &forms[k].s, &xs);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s: %s", forms[k].what, lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s: %s", forms[k].what, lab.err.msg);
        REQUIRE(cv_shape_equal(&lab.y_shape, &ys), "%s: wrong shape", forms[k].what);
        /* sizes give scale 6/4 = 1.5 exactly: the same mapping */
        double d = test_max_abs_diff(lab.y, want, 72);
        printf("    %s: max abs diff %.3g\n", forms[k].what, d);
        CHECK(d == 0, "%s differs by %g", forms[k].what, d);
        oplab_free(&lab);
    }
    /* Upsample linear (opset 9) is asymmetric */
    rs_spec s = {"Upsample", 9, true, -1, -1, sc, 4, NULL, 0, NULL, 0, NULL};
    ref_geo gl = {C_ASYM, 0, true, {1, 1, 2, 1.5}};
    ref_resize(want, x, &xs, &ys, &gl);
    oplab lab;
    rs_lab(&lab, &s, &xs);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, want, 72);
    printf("    Upsample-9 linear: max abs diff %.3g\n", d);
    CHECK(d < 1e-6, "differs by %g", d);
    oplab_free(&lab);
}

/* keep_aspect_ratio_policy (opset 18): one scale for the listed axes. */
static void test_aspect_policy(void)
{
    cv_shape xs = {4, {1, 1, 4, 6}};
    float x[24];
    int64_t sz[2] = {8, 8}, ax[2] = {2, 3};
    test_seed(1300);
    test_fill(x, 24, -2, 2);
    /* not_larger: scale min(8/4, 8/6) = 4/3 -> 5 x 8; not_smaller: 2 -> 8 x 12 */
    const char *pol[2] = {"not_larger", "not_smaller"};
    double scale[2] = {8.0 / 6.0, 2.0};
    cv_shape want[2] = {{4, {1, 1, 5, 8}}, {4, {1, 1, 8, 12}}};
    for (int k = 0; k < 2; k++) {
        rs_spec s = {"Resize", 18, true, C_HALF, -1, NULL, 0, sz, 2, ax, 2, pol[k]};
        oplab lab;
        rs_lab(&lab, &s, &xs);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        char b[64];
        printf("    keep_aspect_ratio_policy %s: [1, 1, 4, 6] to 8x8 -> %s\n", pol[k],
               cv_shape_str(&lab.y_shape, b, sizeof b));
        REQUIRE(cv_shape_equal(&lab.y_shape, &want[k]), "wrong shape");
        float ref[96];
        ref_geo g = {C_HALF, 0, true, {1, 1, scale[k], scale[k]}};
        ref_resize(ref, x, &xs, &want[k], &g);
        double d = test_max_abs_diff(lab.y, ref, lab.y_numel);
        CHECK(d < 1e-6, "%s differs by %g", pol[k], d);
        oplab_free(&lab);
    }
}

#define GOLDEN "tests/fixtures/ops_extra_torch.bin"

/* PyTorch's F.interpolate, as its exporter maps each mode to ONNX. */
static void test_torch_golden(void)
{
    ref_record *r;
    char why[256];
    int n = ref_golden_load(GOLDEN, "resize", &r, why, sizeof why);
    REQUIRE(n > 0, "%s", n < 0 ? why : "no resize records");
    static const char *const kinds[] = {"nearest", "bilinear", "bilinear align_corners", "nearest-exact"};
    for (int i = 0; i < n; i++) {
        const float *p = r[i].params;
        int kind = (int)p[0];
        const ref_tensor *x = &r[i].t[0], *y = &r[i].t[1], *dy = &r[i].t[2], *dx = &r[i].t[3];
        cv_shape xs = {x->ndim, {0}};
        for (int k = 0; k < x->ndim; k++)
            xs.d[k] = x->d[k];
        float sc[4] = {1, 1, p[3], p[4]};
        int64_t sz[4] = {xs.d[0], xs.d[1], (int64_t)p[1], (int64_t)p[2]};
        static const int coord[4] = {C_ASYM, C_PYTORCH, C_ALIGN, C_HALF}, round[4] = {N_FLOOR, -1, -1, N_RPC};
        rs_spec s = {"Resize", 13, kind == 1 || kind == 2, coord[kind], round[kind], p[3] > 0 ? sc : NULL, 4,
                     p[3] > 0 ? NULL : sz, 4, NULL, 0, NULL};
        oplab lab;
        rs_lab(&lab, &s, &xs);
        cv_status st = oplab_end(&lab);
        if (st == CV_OK)
            st = oplab_forward(&lab, x->data);
        CHECK(st == CV_OK, "record %d: %s", i, lab.err.msg);
        if (st != CV_OK || lab.y_numel != y->numel) {
            CHECK(st != CV_OK, "record %d: %zu outputs, torch has %zu", i, lab.y_numel, y->numel);
            oplab_free(&lab);
            continue;
        }
        double f = test_max_abs_diff(lab.y, y->data, y->numel);
        const float *g = NULL;
        st = cv_run_backward(lab.run, 0, dy->data, &g, &lab.err);
        double b = st == CV_OK ? test_max_abs_diff(g, dx->data, dx->numel) : INFINITY;
        char s1[64], s2[64];
        printf("    torch %-22s %s -> %s (%s): forward max abs diff %.3g, backward %.3g\n", kinds[kind],
               cv_shape_str(&xs, s1, sizeof s1), cv_shape_str(&lab.y_shape, s2, sizeof s2), p[3] > 0 ? "scales" : "sizes",
               f, b);
        CHECK(f < 1e-5 && b < 1e-5, "record %d: forward %g, backward %g", i, f, b);
        oplab_free(&lab);
    }
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
    cv_shape xs = {4, {1, 2, 4, 4}};
    float sc[4] = {1, 1, 2, 2}, sc_c[4] = {1, 2, 2, 2}, sc3[3] = {1, 2, 2}, neg[4] = {1, 1, -2, 2}, down[4] = {1, 1, 0.5f, 0.5f};
    int64_t sz[4] = {1, 2, 8, 8};
    oplab lab;
    rs_spec s = {"Resize", 13, false, -1, -1, sc, 4, NULL, 0, NULL, 0, NULL};
    rs_lab(&lab, &s, &xs);
    cv_node_set_string(lab.m, lab.node, "mode", "cubic", NULL);
    expect_fail("mode cubic", &lab, CV_ERR_UNSUPPORTED);
    rs_lab(&lab, &s, &xs);
    cv_node_set_string(lab.m, lab.node, "coordinate_transformation_mode", "tf_crop_and_resize", NULL);
    expect_fail("tf_crop_and_resize", &lab, CV_ERR_UNSUPPORTED);
    rs_lab(&lab, &s, &xs);
    cv_node_set_string(lab.m, lab.node, "coordinate_transformation_mode", "half_pixels", NULL);
    expect_fail("a misspelt coordinate mode", &lab, CV_ERR_INVALID);
    rs_lab(&lab, &s, &xs);
    cv_node_set_string(lab.m, lab.node, "mode", "bicubic", NULL);
    expect_fail("mode bicubic", &lab, CV_ERR_INVALID);
    s.linear = true;
    s.scales = sc_c;
    rs_lab(&lab, &s, &xs);
    expect_fail("linear resize of the channels", &lab, CV_ERR_UNSUPPORTED);
    s.scales = down;
    rs_lab(&lab, &s, &xs);
    cv_node_set_int(lab.m, lab.node, "antialias", 1, NULL);
    expect_fail("antialias when downscaling", &lab, CV_ERR_UNSUPPORTED);
    s.linear = false;
    s.scales = sc;
    s.sizes = sz;
    s.n_sz = 4;
    rs_lab(&lab, &s, &xs);
    expect_fail("both scales and sizes", &lab, CV_ERR_INVALID);
    s.sizes = NULL;
    s.scales = sc3;
    s.n_sc = 3;
    rs_lab(&lab, &s, &xs);
    expect_fail("3 scales for 4 axes", &lab, CV_ERR_INVALID);
    s.scales = neg;
    s.n_sc = 4;
    rs_lab(&lab, &s, &xs);
    expect_fail("a negative scale", &lab, CV_ERR_INVALID);
    s.scales = NULL;
    rs_lab(&lab, &s, &xs);
    expect_fail("neither scales nor sizes", &lab, CV_ERR_INVALID);

    /* scales computed from the input: X is a constant, the scales are x */
    cv_shape s4 = {1, {4}};
    static float data[32];
    oplab_begin(&lab, "Resize", &s4);
    lab.m->opset = 10;
    oplab_const(&lab, &xs, data);
    opcase_swap(&lab, 0, 1);
    expect_fail("runtime scales", &lab, CV_ERR_UNSUPPORTED);
}

/* A feature map big enough for the parallel loops, against the reference. */
static void test_large(void)
{
    cv_shape xs = {4, {2, 16, 40, 40}}, ys = {4, {2, 16, 80, 80}};
    size_t nx = cv_shape_numel(&xs), ny = cv_shape_numel(&ys);
    float *x = malloc(nx * sizeof(float)), *y = malloc(ny * sizeof(float));
    float sc[4] = {1, 1, 2, 2};
    test_seed(1400);
    test_fill(x, nx, -1, 1);
    for (int linear = 0; linear < 2; linear++) {
        rs_spec s = {"Resize", 13, linear, C_HALF, -1, sc, 4, NULL, 0, NULL, 0, NULL};
        ref_geo g = {C_HALF, N_RPF, linear, {1, 1, 2, 2}};
        ref_resize(y, x, &xs, &ys, &g);
        oplab lab;
        rs_lab(&lab, &s, &xs);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        double d = test_max_abs_diff(lab.y, y, ny);
        printf("    %s [2,16,40,40] x2: max abs diff %.3g\n", linear ? "linear" : "nearest", d);
        CHECK(d < 1e-6, "differs by %g", d);
        oplab_free(&lab);
    }
    free(x);
    free(y);
}

int main(void)
{
    RUN(test_onnx_examples);
    RUN(test_modes);
    RUN(test_ranks);
    RUN(test_opsets);
    RUN(test_aspect_policy);
    RUN(test_torch_golden);
    RUN(test_errors);
    RUN(test_large);
    return test_summary("resize");
}
