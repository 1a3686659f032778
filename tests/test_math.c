/* Unary math ops and Pow: forward against double-precision libm formulas
 * (max difference printed), backward against finite differences with
 * inputs kept inside each op's domain and away from its kinks. */
#include "lib/opcase.h"
#include <float.h>
#include <math.h>
#include <string.h>

#define NX 210
static const cv_shape xs = {4, {2, 3, 5, 7}};

typedef struct {
    const char *op;
    double (*ref)(double x);
    float lo, hi;          /* input range */
    float kinks[2];        /* points to keep away from (kinks, poles) */
    int n_kinks;
    float gap;
    double fwd_tol;        /* max abs diff (relative for fast-growing ops) */
    bool rel;
    float eps;             /* finite-difference step */
} unary_case;

static double r_softplus(double x) { return log1p(exp(x)); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_recip(double x) { return 1 / x; }
static double r_neg(double x) { return -x; }
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double r_round(double x) { return nearbyint(x); }

static const unary_case cases[] = {
    {"Sqrt", sqrt, 0.2f, 4, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Exp", exp, -3, 3, {0}, 0, 0, 1e-6, true, 1e-3f},
    {"Log", log, 0.2f, 5, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Neg", r_neg, -3, 3, {0}, 0, 0, 0, false, 1e-2f},
    {"Abs", fabs, -3, 3, {0}, 1, 0.05f, 0, false, 1e-2f},
    {"Reciprocal", r_recip, -3, 3, {0}, 1, 0.3f, 1e-6, true, 1e-3f},
    {"Erf", erf, -2.5f, 2.5f, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Softplus", r_softplus, -6, 6, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Softsign", r_softsign, -4, 4, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Sin", sin, -4, 4, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Cos", cos, -4, 4, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Tan", tan, -1.2f, 1.2f, {0}, 0, 0, 1e-6, true, 1e-3f},
    {"Asin", asin, -0.9f, 0.9f, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Acos", acos, -0.9f, 0.9f, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Atan", atan, -4, 4, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Sinh", sinh, -3, 3, {0}, 0, 0, 1e-6, true, 1e-3f},
    {"Cosh", cosh, -3, 3, {0}, 0, 0, 1e-6, true, 1e-3f},
    {"Asinh", asinh, -4, 4, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Acosh", acosh, 1.2f, 5, {0}, 0, 0, 1e-6, false, 1e-3f},
    {"Atanh", atanh, -0.9f, 0.9f, {0}, 0, 0, 1e-6, false, 1e-3f},
    /* piecewise constant: gradient 0, inputs away from the steps */
    {"Floor", floor, -3, 3, {0}, 0, 0, 0, false, 1e-3f},
    {"Ceil", ceil, -3, 3, {0}, 0, 0, 0, false, 1e-3f},
    {"Round", r_round, -3, 3, {0}, 0, 0, 0, false, 1e-3f},
    {"Sign", r_sign, -3, 3, {0}, 1, 0.05f, 0, false, 1e-3f},
};

/* Move values off integers and half-integers (the steps of Floor/Ceil/Round). */
static void avoid_steps(float *x, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        float f = x[k] * 2.0f - floorf(x[k] * 2.0f); /* position within a half step */
        if (f < 0.05f || f > 0.95f)
            x[k] += 0.1f;
    }
}

static void run_unary(const unary_case *u)
{
    float x[NX], ref[NX];
    test_seed(101);
    test_fill(x, NX, u->lo, u->hi);
    opcase_avoid(x, NX, u->kinks, u->n_kinks, u->gap);
    bool steps = strcmp(u->op, "Floor") == 0 || strcmp(u->op, "Ceil") == 0 || strcmp(u->op, "Round") == 0;
    if (steps)
        avoid_steps(x, NX);
    x[0] = u->lo; /* the ends of the range */
    x[1] = u->hi;
    if (steps) {
        x[0] = u->lo + 0.3f; /* the ends are integers: steps */
        x[1] = u->hi - 0.3f;
        x[2] = 2.5f; /* Round: halves go to even */
        x[3] = -0.5f;
        x[4] = 1.5f;
    }
    oplab lab;
    oplab_begin(&lab, u->op, &xs);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s: %s", u->op, lab.err.msg);
    for (int k = 0; k < NX; k++)
        ref[k] = (float)u->ref(x[k]);
    double d = u->rel ? test_max_rel_diff(lab.y, ref, NX) : test_max_abs_diff(lab.y, ref, NX);
    printf("    %-10s forward max %s diff %.3g (tol %.0e)\n", u->op, u->rel ? "rel" : "abs", d, u->fwd_tol);
    CHECK(d <= u->fwd_tol, "%s forward differs by %g", u->op, d);
    if (steps) { /* the probes sit on steps: keep them out of the finite differences */
        x[2] = 2.3f;
        x[3] = -0.7f;
        x[4] = 1.2f;
    }
    double g = oplab_gradcheck(&lab, x, u->eps);
    CHECK(g < 2e-3, "%s gradient mismatch %g", u->op, g);
    oplab_free(&lab);
}

static void test_unary(void)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        run_unary(&cases[k]);
}

/* Values where naive formulas overflow or lose everything. */
static void test_extremes(void)
{
    cv_shape s = {1, {6}};
    float x[6] = {-100.0f, -20.0f, 0.0f, 20.0f, 100.0f, 1e30f};
    oplab lab;
    oplab_begin(&lab, "Softplus", &s);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    printf("    softplus(-100, -20, 0, 20, 100, 1e30) = %g %g %g %g %g %g\n", lab.y[0], lab.y[1], lab.y[2], lab.y[3],
           lab.y[4], lab.y[5]);
    CHECK(lab.y[0] > 0 && lab.y[0] < 1e-40f, "softplus(-100) = %g", lab.y[0]);
    CHECK(fabsf(lab.y[1] - 2.0611537e-9f) < 1e-15f, "softplus(-20) = %g", lab.y[1]);
    CHECK(fabsf(lab.y[2] - 0.6931472f) < 1e-7f, "softplus(0) = %g", lab.y[2]);
    CHECK(lab.y[3] == 20.0f && lab.y[4] == 100.0f && lab.y[5] == 1e30f, "large inputs");
    oplab_free(&lab);

    /* Sign/Abs/Sqrt/Log at 0 and below: torch's values */
    float z[4] = {0.0f, -0.0f, -1.0f, 4.0f};
    cv_shape zs = {1, {4}};
    const char *ops[] = {"Sign", "Abs", "Sqrt", "Log"};
    for (int k = 0; k < 4; k++) {
        oplab_begin(&lab, ops[k], &zs);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, z) == CV_OK, "%s", lab.err.msg);
        printf("    %s(0, -0, -1, 4) = %g %g %g %g\n", ops[k], lab.y[0], lab.y[1], lab.y[2], lab.y[3]);
        if (k == 0)
            CHECK(lab.y[0] == 0 && !signbit(lab.y[1]) && lab.y[2] == -1 && lab.y[3] == 1, "sign values");
        oplab_free(&lab);
    }
}

/* Neg, Abs, Sign on int64 (shape arithmetic; folded at plan time). */
static void test_int64(void)
{
    cv_shape s = {1, {5}};
    int64_t a[5] = {3, -4, 0, INT64_MIN, INT64_MAX};
    const char *ops[] = {"Neg", "Abs", "Sign"};
    int64_t want[3][5] = {
        {-3, 4, 0, INT64_MIN, -INT64_MAX},
        {3, 4, 0, INT64_MIN, INT64_MAX},
        {1, -1, 0, -1, 1},
    };
    for (int op = 0; op < 3; op++) {
        oplab lab;
        oplab_begin(&lab, ops[op], &s);
        oplab_const_i64(&lab, &s, a);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[5] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        REQUIRE(y->dtype == CV_I64, "dtype %d", y->dtype);
        double d = opcase_i64_diff(y->i, want[op], 5);
        printf("    int64 %s: max diff %g (INT64_MIN wraps)\n", ops[op], d);
        CHECK(d == 0, "int64 %s differs", ops[op]);
        oplab_free(&lab);
    }
    /* float-only ops refuse int64 */
    oplab lab;
    oplab_begin(&lab, "Sqrt", &s);
    oplab_const_i64(&lab, &s, a);
    opcase_drop_x(&lab);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float dummy[5] = {0};
    CHECK(oplab_forward(&lab, dummy) == CV_ERR_INVALID, "Sqrt of int64 accepted");
    printf("    Sqrt(int64): %s\n", lab.err.msg);
    oplab_free(&lab);
}

/* ---- Pow ------------------------------------------------------------------- */

typedef struct {
    cv_shape b, e;
    float elo, ehi;     /* exponent range (random) */
    float fixed_e;      /* when the exponent is one constant value (NAN: random) */
} pow_case;

static void test_pow(void)
{
    static const pow_case cases[] = {
        {{4, {2, 3, 4, 5}}, {0, {0}}, 0, 0, 2.0f},       /* x ** 2 */
        {{4, {2, 3, 4, 5}}, {0, {0}}, 0, 0, 0.5f},       /* sqrt */
        {{4, {2, 3, 4, 5}}, {1, {1}}, 0, 0, 3.0f},
        {{4, {2, 3, 4, 5}}, {0, {0}}, 0, 0, -1.5f},
        {{4, {2, 3, 4, 5}}, {0, {0}}, 0, 0, 1.0f},
        {{4, {2, 3, 4, 5}}, {0, {0}}, 0, 0, 0.0f},
        {{4, {2, 3, 4, 5}}, {4, {2, 3, 4, 5}}, -2, 3, NAN}, /* elementwise */
        {{4, {2, 3, 4, 5}}, {3, {3, 1, 1}}, -2, 3, NAN},    /* per channel */
        {{2, {4, 1}}, {2, {1, 5}}, -2, 3, NAN},             /* both broadcast */
        {{1, {5}}, {2, {1, 1}}, 0, 0, 2.0f},                /* scalar exponent of higher rank */
    };
    static float b[120], e[120], ref[120];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pow_case *pc = &cases[c];
        cv_shape ys;
        REQUIRE(cv_broadcast_shape(&pc->b, &pc->e, &ys) == CV_OK, "bad case");
        size_t nb = cv_shape_numel(&pc->b), ne = cv_shape_numel(&pc->e), ny = cv_shape_numel(&ys);
        test_seed(200 + c);
        test_fill(b, nb, 0.3f, 2.5f); /* positive bases: every real exponent is defined */
        if (isnan(pc->fixed_e))
            test_fill(e, ne, pc->elo, pc->ehi);
        else
            for (size_t k = 0; k < ne; k++)
                e[k] = pc->fixed_e;
        for (size_t k = 0; k < ny; k++) {
            int64_t idx[CV_MAX_DIMS];
            opcase_unravel(&ys, k, idx);
            ref[k] = (float)pow(b[opcase_bcast_offset(&pc->b, &ys, idx)], e[opcase_bcast_offset(&pc->e, &ys, idx)]);
        }
        for (int slot = 0; slot < 2; slot++) { /* runtime base, then runtime exponent */
            oplab lab;
            oplab_begin(&lab, "Pow", slot ? &pc->e : &pc->b);
            oplab_const(&lab, slot ? &pc->b : &pc->e, slot ? b : e);
            if (slot)
                opcase_swap(&lab, 0, 1);
            REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
            REQUIRE(oplab_forward(&lab, slot ? e : b) == CV_OK, "%s", lab.err.msg);
            double d = test_max_rel_diff(lab.y, ref, ny);
            char s1[64], s2[64];
            printf("    Pow %s ^ %s%s (runtime %s): forward max rel diff %.3g\n", cv_shape_str(&pc->b, s1, sizeof s1),
                   cv_shape_str(&pc->e, s2, sizeof s2), isnan(pc->fixed_e) ? "" : " (constant)",
                   slot ? "exponent" : "base", d);
            CHECK(cv_shape_equal(&lab.y_shape, &ys), "bad output shape");
            CHECK(d < 1e-6, "forward differs by %g", d);
            double g = oplab_gradcheck(&lab, slot ? e : b, 1e-3f);
            CHECK(g < 3e-3, "gradient mismatch %g", g);
            oplab_free(&lab);
        }
    }
}

/* An int64 exponent (opset 12+ mixed types), and negative bases. */
static void test_pow_int_exponent(void)
{
    cv_shape s = {1, {6}};
    float b[6] = {-2.0f, -1.5f, 0.0f, 0.5f, 2.0f, 3.0f};
    int64_t e[6] = {3, 2, 0, -2, 5, 1};
    float want[6] = {-8.0f, 2.25f, 1.0f, 4.0f, 32.0f, 3.0f};
    oplab lab;
    oplab_begin(&lab, "Pow", &s);
    oplab_const_i64(&lab, &s, e);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, b) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, want, 6);
    printf("    Pow float ^ int64: max abs diff %.3g\n", d);
    CHECK(d == 0, "forward differs by %g", d);
    /* gradient e b^(e-1) at b = 0, e = 0 is 0 (torch) */
    float seed[6] = {1, 1, 1, 1, 1, 1};
    const float *g;
    REQUIRE(cv_run_backward(lab.run, 0, seed, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
    float gwant[6] = {12.0f, -3.0f, 0.0f, -16.0f, 80.0f, 1.0f};
    d = test_max_abs_diff(g, gwant, 6);
    printf("    Pow backward: max abs diff %.3g\n", d);
    CHECK(d < 1e-5, "backward differs by %g", d);
    oplab_free(&lab);
    /* non-integer power of a negative base is NaN, as in numpy */
    float e2 = 0.5f;
    cv_shape sc = {0, {0}};
    oplab_begin(&lab, "Pow", &s);
    oplab_const(&lab, &sc, &e2);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, b) == CV_OK, "%s", lab.err.msg);
    CHECK(isnan(lab.y[0]) && lab.y[3] == sqrtf(0.5f), "pow(-2, 0.5) = %g, pow(0.5, 0.5) = %g", lab.y[0], lab.y[3]);
    oplab_free(&lab);
}

static void test_pow_errors(void)
{
    cv_shape a = {2, {2, 3}}, b = {1, {4}};
    float e[4] = {0};
    oplab lab;
    oplab_begin(&lab, "Pow", &a);
    oplab_const(&lab, &b, e);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float x[6] = {0};
    CHECK(oplab_forward(&lab, x) == CV_ERR_SHAPE, "bad broadcast accepted");
    printf("    %s\n", lab.err.msg);
    oplab_free(&lab);
    oplab_begin(&lab, "Pow", &a);
    oplab_const(&lab, &b, e);
    cv_node_set_int(lab.m, lab.node, "broadcast", 1, NULL);
    CHECK(oplab_end(&lab) == CV_ERR_UNSUPPORTED, "legacy broadcast accepted");
    printf("    %s\n", lab.err.msg);
    oplab_free(&lab);
}

/* Big enough for the OpenMP paths. */
static void test_large(void)
{
    cv_shape s = {4, {2, 8, 96, 96}};
    size_t n = cv_shape_numel(&s);
    float *x = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
    test_seed(5);
    test_fill(x, n, 0.1f, 3.0f);
    for (size_t k = 0; k < n; k++)
        ref[k] = (float)sqrt(x[k]);
    oplab lab;
    oplab_begin(&lab, "Sqrt", &s);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, ref, n);
    printf("    Sqrt %zu elements: max abs diff %.3g\n", n, d);
    CHECK(d == 0, "differs by %g", d);
    oplab_free(&lab);
    free(x);
    free(ref);
}

int main(void)
{
    RUN(test_unary);
    RUN(test_extremes);
    RUN(test_int64);
    RUN(test_pow);
    RUN(test_pow_int_exponent);
    RUN(test_pow_errors);
    RUN(test_large);
    return test_summary("math");
}
