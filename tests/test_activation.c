/* Activations: forward against naive double-precision formulas, backward
 * against finite differences (inputs kept away from kinks). */
#include "lib/opcase.h"
#include <float.h>
#include <math.h>

#define NX 210
static const cv_shape xs = {4, {2, 3, 5, 7}};

static void test_relu(void)
{
    float x[210];
    test_seed(1);
    test_fill(x, 210, -2.0f, 2.0f);
    for (int k = 0; k < 210; k++) /* keep away from the kink for finite differences */
        if (x[k] > -0.05f && x[k] < 0.05f)
            x[k] = 0.3f;
    oplab lab;
    oplab_begin(&lab, "Relu", &xs);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    float ref[210];
    for (int k = 0; k < 210; k++)
        ref[k] = x[k] > 0 ? x[k] : 0;
    double d = test_max_abs_diff(lab.y, ref, 210);
    printf("    relu forward max abs diff %.3g\n", d);
    CHECK(d == 0, "forward differs by %g", d);
    CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
    oplab_free(&lab);
}

/* One unary op with up to two float attributes; ref(x, a, b). */
typedef struct {
    const char *op;
    const char *attr1, *attr2;
    float v1, v2;
    double (*ref)(double x, double a, double b);
    double a, b;              /* what ref gets (the defaults when no attr) */
    float kinks[2];
    int n_kinks;
    float lo, hi;
} unary_case;

static double r_leaky(double x, double a, double b) { return x < 0 ? a * x : x; }
static double r_elu(double x, double a, double b) { return x < 0 ? a * (exp(x) - 1) : x; }
static double r_selu(double x, double a, double g) { return g * (x <= 0 ? a * (exp(x) - 1) : x); }
static double r_sigmoid(double x, double a, double b) { return 1 / (1 + exp(-x)); }
static double r_hsig(double x, double a, double b) { return fmax(0, fmin(1, a * x + b)); }
static double r_hswish(double x, double a, double b) { return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_tanh(double x, double a, double b) { return tanh(x); }

static void run_unary(const unary_case *u)
{
    float x[NX], ref[NX];
    test_seed(7);
    test_fill(x, NX, u->lo, u->hi);
    opcase_avoid(x, NX, u->kinks, u->n_kinks, 0.02f);
    oplab lab;
    oplab_begin(&lab, u->op, &xs);
    if (u->attr1)
        cv_node_set_float(lab.m, lab.node, u->attr1, u->v1, NULL);
    if (u->attr2)
        cv_node_set_float(lab.m, lab.node, u->attr2, u->v2, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    for (int k = 0; k < NX; k++)
        ref[k] = (float)u->ref(x[k], u->a, u->b);
    double d = test_max_abs_diff(lab.y, ref, NX);
    printf("    %s%s forward max abs diff %.3g\n", u->op, u->attr1 ? " (attrs)" : "", d);
    CHECK(d < 1e-6, "%s forward differs by %g", u->op, d);
    double g = oplab_gradcheck(&lab, x, 1e-3f);
    CHECK(g < 2e-3, "%s gradient mismatch %g", u->op, g);
    oplab_free(&lab);
}

static void test_unary(void)
{
    const double selu_a = 1.67326319217681884765625, selu_g = 1.05070102214813232421875;
    const unary_case cases[] = {
        {"LeakyRelu", NULL, NULL, 0, 0, r_leaky, 0.01, 0, {0}, 1, -3, 3},
        {"LeakyRelu", "alpha", NULL, 0.2f, 0, r_leaky, 0.2f, 0, {0}, 1, -3, 3},
        {"Elu", NULL, NULL, 0, 0, r_elu, 1.0, 0, {0}, 1, -3, 3},
        {"Elu", "alpha", NULL, 0.5f, 0, r_elu, 0.5, 0, {0}, 1, -3, 3},
        {"Selu", NULL, NULL, 0, 0, r_selu, selu_a, selu_g, {0}, 1, -3, 3},
        {"Selu", "alpha", "gamma", 2.0f, 1.5f, r_selu, 2.0, 1.5, {0}, 1, -3, 3},
        {"Sigmoid", NULL, NULL, 0, 0, r_sigmoid, 0, 0, {0}, 0, -6, 6},
        {"HardSigmoid", NULL, NULL, 0, 0, r_hsig, 0.2f, 0.5, {-2.5f, 2.5f}, 2, -4, 4},
        {"HardSigmoid", "alpha", "beta", 0.5f, 0.25f, r_hsig, 0.5, 0.25, {-0.5f, 1.5f}, 2, -3, 3},
        {"HardSwish", NULL, NULL, 0, 0, r_hswish, 0, 0, {-3, 3}, 2, -5, 5},
        {"Tanh", NULL, NULL, 0, 0, r_tanh, 0, 0, {0}, 0, -3, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        run_unary(&cases[k]);
}

/* Sigmoid must not overflow for large |x|. */
static void test_sigmoid_extremes(void)
{
    cv_shape s = {1, {4}};
    float x[4] = {-1000.0f, -90.0f, 90.0f, 1000.0f};
    oplab lab;
    oplab_begin(&lab, "Sigmoid", &s);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    printf("    sigmoid(-1000, -90, 90, 1000) = %g %g %g %g\n", lab.y[0], lab.y[1], lab.y[2], lab.y[3]);
    CHECK(lab.y[0] == 0.0f && lab.y[3] == 1.0f && isfinite(lab.y[1]) && lab.y[2] == 1.0f, "bad extremes");
    oplab_free(&lab);
}

/* Sigmoid's own vectorized exp (src/ops/vexp.h) against double precision
 * over the whole range where its result is not 0 or 1 in float: relative
 * error within 3e-7 (about 2.5 float ulps; libm's expf gives 1.8e-7). */
static void test_sigmoid_accuracy(void)
{
    enum { N = 200001 };
    cv_shape s = {1, {N}};
    float *x = malloc(sizeof(float) * N);
    REQUIRE(x, "out of memory");
    for (int k = 0; k < N; k++)
        x[k] = -87.0f + 104.0f * (float)k / (N - 1); /* sigmoid(17) rounds to 1 */
    oplab lab;
    oplab_begin(&lab, "Sigmoid", &s);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double worst = 0;
    float at = 0;
    for (int k = 0; k < N; k++) {
        double ref = 1 / (1 + exp(-(double)x[k])), rel = fabs(lab.y[k] - ref) / ref;
        if (rel > worst) {
            worst = rel;
            at = x[k];
        }
    }
    printf("    sigmoid on [-87, 17], %d points: largest relative error %.3g at x = %g (tol 3e-7)\n", N, worst, at);
    CHECK(worst <= 3e-7, "sigmoid relative error %.3g at %g", worst, at);
    oplab_free(&lab);
    free(x);
}

/* PRelu: slope broadcast to x; x in the data slot and in the slope slot. */
static void test_prelu(void)
{
    const cv_shape slopes[] = {{3, {3, 1, 1}}, {1, {1}}, {4, {1, 3, 5, 7}}, {1, {7}}, {0, {0}}};
    float x[NX], s[NX], ref[NX];
    test_seed(11);
    test_fill(x, NX, -2, 2);
    const float kink = 0;
    opcase_avoid(x, NX, &kink, 1, 0.02f);
    for (size_t c = 0; c < sizeof slopes / sizeof slopes[0]; c++) {
        size_t ns = cv_shape_numel(&slopes[c]);
        test_fill(s, ns, -0.5f, 0.5f);
        oplab lab;
        oplab_begin(&lab, "PRelu", &xs);
        oplab_const(&lab, &slopes[c], s);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        for (size_t k = 0; k < NX; k++) {
            int64_t idx[4];
            opcase_unravel(&xs, k, idx);
            float sl = s[opcase_bcast_offset(&slopes[c], &xs, idx)];
            ref[k] = x[k] < 0 ? sl * x[k] : x[k];
        }
        double d = test_max_abs_diff(lab.y, ref, NX);
        char b[64];
        printf("    prelu slope %s forward max abs diff %.3g\n", cv_shape_str(&slopes[c], b, sizeof b), d);
        CHECK(d == 0, "forward differs by %g", d);
        CHECK(oplab_gradcheck(&lab, x, 1e-3f) < 2e-3, "gradient (data) mismatch");
        oplab_free(&lab);
    }
    /* runtime slope, constant data: gradient reaches the slope */
    {
        float data[NX];
        test_fill(data, NX, -2, 2);
        opcase_avoid(data, NX, &kink, 1, 0.02f);
        test_fill(s, NX, -1, 1);
        oplab lab;
        oplab_begin(&lab, "PRelu", &xs);
        oplab_const(&lab, &xs, data);
        opcase_swap(&lab, 0, 1);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        CHECK(oplab_gradcheck(&lab, s, 1e-3f) < 2e-3, "gradient (slope) mismatch");
        oplab_free(&lab);
    }
    /* opset 6: a 1-D slope of size C is per channel (dim 1) */
    {
        cv_shape cs = {1, {3}};
        test_fill(s, 3, -0.5f, 0.5f);
        oplab lab;
        oplab_begin(&lab, "PRelu", &xs);
        lab.m->opset = 6;
        oplab_const(&lab, &cs, s);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        for (size_t k = 0; k < NX; k++) {
            float sl = s[(k / 35) % 3]; /* channel of [2, 3, 5, 7] */
            ref[k] = x[k] < 0 ? sl * x[k] : x[k];
        }
        double d = test_max_abs_diff(lab.y, ref, NX);
        printf("    prelu opset 6 per-channel slope [3]: max abs diff %.3g\n", d);
        CHECK(d == 0, "forward differs by %g", d);
        CHECK(oplab_gradcheck(&lab, x, 1e-3f) < 2e-3, "gradient mismatch");
        oplab_free(&lab);
    }
    /* a slope that does not broadcast to x (unidirectional) */
    {
        cv_shape bad = {5, {2, 2, 3, 5, 7}};
        float z[420] = {0};
        oplab lab;
        oplab_begin(&lab, "PRelu", &xs);
        oplab_const(&lab, &bad, z);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, x);
        printf("    bad slope: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_SHAPE, "expected a shape error, got %d", st);
        oplab_free(&lab);
    }
}

/* Clip: opset 6 attributes, opset 11+ inputs (each optional), int64. */
static void test_clip(void)
{
    float x[NX], ref[NX];
    test_seed(3);
    test_fill(x, NX, -3, 3);
    const float kinks[2] = {-1.0f, 0.5f};
    opcase_avoid(x, NX, kinks, 2, 0.02f);
    cv_shape sc = {0, {0}};
    for (int variant = 0; variant < 5; variant++) {
        float lo = -1.0f, hi = 0.5f;
        oplab lab;
        oplab_begin(&lab, "Clip", &xs);
        const char *what = "";
        switch (variant) {
        case 0: /* opset 6 attributes */
            lab.m->opset = 6;
            cv_node_set_float(lab.m, lab.node, "min", lo, NULL);
            cv_node_set_float(lab.m, lab.node, "max", hi, NULL);
            what = "opset 6 attrs";
            break;
        case 1: /* opset 6 defaults: no clipping */
            lab.m->opset = 6;
            lo = -FLT_MAX;
            hi = FLT_MAX;
            what = "opset 6 defaults";
            break;
        case 2:
            lab.m->opset = 11;
            oplab_const(&lab, &sc, &lo);
            oplab_const(&lab, &sc, &hi);
            what = "opset 11 min+max";
            break;
        case 3:
            lab.m->opset = 13;
            oplab_const(&lab, &sc, &lo);
            hi = INFINITY;
            what = "opset 13 min only";
            break;
        case 4:
            lab.m->opset = 13;
            oplab_none(&lab);
            oplab_const(&lab, &sc, &hi);
            lo = -INFINITY;
            what = "opset 13 max only";
            break;
        }
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        for (int k = 0; k < NX; k++)
            ref[k] = fminf(fmaxf(x[k], lo), hi);
        double d = test_max_abs_diff(lab.y, ref, NX);
        printf("    clip %s forward max abs diff %.3g\n", what, d);
        CHECK(d == 0, "forward differs by %g", d);
        CHECK(oplab_gradcheck(&lab, x, 1e-3f) < 2e-3, "gradient mismatch");
        oplab_free(&lab);
    }
    /* int64 data with int64 bounds */
    {
        cv_shape s = {1, {6}};
        int64_t v[6] = {-10, -2, 0, 3, 7, 100}, lo = -2, hi = 5, want[6] = {-2, -2, 0, 3, 5, 5};
        oplab lab;
        oplab_begin(&lab, "Clip", &s);
        lab.m->opset = 13;
        oplab_const_i64(&lab, &s, v);
        oplab_const_i64(&lab, &sc, &lo);
        oplab_const_i64(&lab, &sc, &hi);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[6] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        CHECK(y->dtype == CV_I64, "int64 clip gives dtype %d", y->dtype);
        double d = opcase_i64_diff(y->i, want, 6);
        printf("    clip int64 max diff %g\n", d);
        CHECK(d == 0, "int64 clip differs");
        oplab_free(&lab);
    }
    /* a runtime bound is refused */
    {
        cv_shape s1 = {0, {0}};
        float one = 1;
        oplab lab;
        oplab_begin(&lab, "Clip", &s1);
        lab.m->opset = 13;
        oplab_const(&lab, &s1, &one);
        opcase_swap(&lab, 0, 1); /* Clip(1, min = x) */
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, &one);
        printf("    runtime min: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_UNSUPPORTED && strstr(lab.err.msg, "'min' input must be constant"), "got %d", st);
        oplab_free(&lab);
    }
}

int main(void)
{
    RUN(test_relu);
    RUN(test_unary);
    RUN(test_sigmoid_extremes);
    RUN(test_sigmoid_accuracy);
    RUN(test_prelu);
    RUN(test_clip);
    return test_summary("activation");
}
