/* Max, Min, Sum, Mean over 1-3 inputs with numpy broadcasting: forward
 * against a naive index-by-index reference, gradients by finite
 * differences with the runtime tensor in every slot, the tie rule
 * (split evenly), int64, and errors. */
#include "lib/opcase.h"
#include <math.h>
#include <string.h>

static const char *const ops[] = {"Max", "Min", "Sum", "Mean"};

typedef struct {
    int n;
    cv_shape s[3];
} var_case;

static const var_case cases[] = {
    {1, {{4, {2, 3, 4, 5}}}},
    {2, {{4, {2, 3, 4, 5}}, {4, {2, 3, 4, 5}}}},
    {3, {{4, {2, 3, 4, 5}}, {3, {3, 1, 1}}, {1, {5}}}},
    {3, {{3, {2, 1, 4}}, {2, {3, 1}}, {0, {0}}}},  /* the output is bigger than any input */
    {2, {{2, {1, 5}}, {2, {4, 1}}}},
};

static double ref_op(int op, const double *v, int n)
{
    double r = v[0];
    for (int k = 1; k < n; k++)
        r = op == 0 ? fmax(r, v[k]) : op == 1 ? fmin(r, v[k]) : r + v[k];
    return op == 3 ? r / n : r;
}

/* Input k's values sit on 0.1 k*0.033 + a multiple of 0.1: no two inputs are
 * ever closer than 0.03, so finite differences never cross a tie. */
static void fill_input(float *v, size_t n, int k)
{
    for (size_t j = 0; j < n; j++)
        v[j] = (float)((int)test_uniform(-20, 20)) * 0.1f + 0.033f * (float)k;
}

static void test_forward_backward(void)
{
    static float in[3][120], ref[120];
    for (int op = 0; op < 4; op++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const var_case *vc = &cases[c];
            cv_shape ys = vc->s[0];
            for (int k = 1; k < vc->n; k++)
                REQUIRE(cv_broadcast_shape(&ys, &vc->s[k], &ys) == CV_OK, "bad case");
            test_seed(300 + 10 * (unsigned)op + c);
            for (int k = 0; k < vc->n; k++)
                fill_input(in[k], cv_shape_numel(&vc->s[k]), k);
            size_t ny = cv_shape_numel(&ys);
            for (size_t j = 0; j < ny; j++) {
                int64_t idx[CV_MAX_DIMS];
                double v[3] = {0, 0, 0};
                opcase_unravel(&ys, j, idx);
                for (int k = 0; k < vc->n; k++)
                    v[k] = in[k][opcase_bcast_offset(&vc->s[k], &ys, idx)];
                ref[j] = (float)ref_op(op, v, vc->n);
            }
            for (int slot = 0; slot < vc->n; slot++) { /* runtime input in each slot */
                oplab lab;
                oplab_begin(&lab, ops[op], &vc->s[slot]);
                for (int k = 0; k < vc->n; k++)
                    if (k != slot)
                        oplab_const(&lab, &vc->s[k], in[k]);
                /* the node's inputs are now [x, others...]: move x to `slot` */
                for (int k = 0; k < slot; k++)
                    opcase_swap(&lab, k, k + 1);
                REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
                REQUIRE(oplab_forward(&lab, in[slot]) == CV_OK, "%s", lab.err.msg);
                double d = test_max_abs_diff(lab.y, ref, ny);
                char b[64];
                printf("    %s of %d inputs -> %s (x in slot %d): max abs diff %.3g\n", ops[op], vc->n,
                       cv_shape_str(&ys, b, sizeof b), slot, d);
                CHECK(cv_shape_equal(&lab.y_shape, &ys), "bad output shape");
                CHECK(d < 1e-6, "forward differs by %g", d);
                double e = oplab_gradcheck(&lab, in[slot], 1e-3f);
                CHECK(e < 2e-3, "gradient mismatch %g", e);
                oplab_free(&lab);
            }
        }
}

/* Ties share the gradient evenly (torch.maximum: dy / 2 each). */
static void test_ties(void)
{
    cv_shape s = {1, {4}};
    float x[4] = {1.0f, 2.0f, 3.0f, -1.0f}, c1[4] = {1.0f, 5.0f, 3.0f, -1.0f}, c2[4] = {0.0f, 0.0f, 3.0f, -1.0f};
    float seed[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    /* Max(x, c1): ties at 0, 2, 3 -> 1/2; position 1 goes to c1 */
    float want2[4] = {0.5f, 0.0f, 0.5f, 0.5f};
    /* Max(x, c1, c2): position 0 tie of 2, positions 2 and 3 ties of 3 */
    float want3[4] = {0.5f, 0.0f, 1.0f / 3.0f, 1.0f / 3.0f};
    for (int n = 2; n <= 3; n++) {
        oplab lab;
        oplab_begin(&lab, "Max", &s);
        oplab_const(&lab, &s, c1);
        if (n == 3)
            oplab_const(&lab, &s, c2);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        const float *g;
        REQUIRE(cv_run_backward(lab.run, 0, seed, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        double d = test_max_abs_diff(g, n == 2 ? want2 : want3, 4);
        printf("    Max of %d with ties: dx = %g %g %g %g (max diff %.3g)\n", n, g[0], g[1], g[2], g[3], d);
        CHECK(d < 1e-7, "tie split differs by %g", d);
        oplab_free(&lab);
    }
    /* Min(x, x): both slots are x; the halves add up to dy */
    oplab lab;
    oplab_begin(&lab, "Min", &s);
    cv_node *n = &lab.m->nodes[lab.node];
    n->in = realloc(n->in, 2 * sizeof(int));
    n->in[1] = n->in[0];
    n->n_in = 2;
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    const float *g;
    REQUIRE(cv_run_backward(lab.run, 0, seed, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(g, seed, 4);
    printf("    Min(x, x): dx max diff from dy %.3g\n", d);
    CHECK(d == 0, "Min(x, x) gradient differs by %g", d);
    oplab_free(&lab);
}

/* NaN propagates through Max/Min (numpy/torch), and gets no gradient. */
static void test_nan(void)
{
    cv_shape s = {1, {3}};
    float x[3] = {NAN, 1.0f, 2.0f}, c[3] = {0.0f, NAN, 1.0f};
    for (int op = 0; op < 2; op++) {
        oplab lab;
        oplab_begin(&lab, ops[op], &s);
        oplab_const(&lab, &s, c);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        printf("    %s(NaN 1 2, 0 NaN 1) = %g %g %g\n", ops[op], lab.y[0], lab.y[1], lab.y[2]);
        CHECK(isnan(lab.y[0]) && isnan(lab.y[1]) && lab.y[2] == (op ? 1.0f : 2.0f), "NaN not propagated");
        float seed[3] = {1, 1, 1};
        const float *g;
        REQUIRE(cv_run_backward(lab.run, 0, seed, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        CHECK(g[0] == 0 && g[1] == 0 && g[2] == (op ? 0.0f : 1.0f), "gradient %g %g %g", g[0], g[1], g[2]);
        oplab_free(&lab);
    }
}

static void test_int64(void)
{
    cv_shape as = {2, {2, 3}}, bs = {1, {3}}, cs = {0, {0}};
    int64_t a[6] = {7, -7, 9, 100, 5, INT64_MAX}, b[3] = {2, 8, 0}, c[1] = {6};
    int64_t want[3][6] = {
        {7, 8, 9, 100, 8, INT64_MAX},
        {2, -7, 0, 2, 5, 0},
        {15, 7, 15, 108, 19, INT64_MIN + 5}, /* wraps */
    };
    for (int op = 0; op < 3; op++) {
        oplab lab;
        oplab_begin(&lab, ops[op], &as);
        oplab_const_i64(&lab, &as, a);
        oplab_const_i64(&lab, &bs, b);
        oplab_const_i64(&lab, &cs, c);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[6] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        REQUIRE(y->dtype == CV_I64, "dtype %d", y->dtype);
        double d = opcase_i64_diff(y->i, want[op], 6);
        printf("    int64 %s of 3: max diff %g\n", ops[op], d);
        CHECK(d == 0, "int64 %s differs", ops[op]);
        oplab_free(&lab);
    }
}

static void expect_fail(const char *what, oplab *lab, cv_status want)
{
    float x[64] = {0};
    cv_status st = oplab_end(lab);
    if (st == CV_OK)
        st = oplab_forward(lab, x);
    printf("    %s: %s\n", what, lab->err.msg);
    CHECK(st == want, "%s: status %d, want %d", what, st, want);
    oplab_free(lab);
}

static void test_errors(void)
{
    cv_shape as = {2, {2, 3}}, bs = {1, {4}};
    float b[4] = {0};
    int64_t bi[6] = {0};
    oplab lab;
    oplab_begin(&lab, "Sum", &as);
    oplab_const(&lab, &bs, b);
    expect_fail("shapes that do not broadcast", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "Max", &as);
    oplab_const_i64(&lab, &as, bi);
    expect_fail("mixed types", &lab, CV_ERR_INVALID);
    oplab_begin(&lab, "Mean", &as);
    oplab_const_i64(&lab, &as, bi);
    opcase_drop_x(&lab);
    expect_fail("int64 Mean", &lab, CV_ERR_INVALID);
    oplab_begin(&lab, "Min", &as);
    oplab_none(&lab);
    expect_fail("an omitted input", &lab, CV_ERR_INVALID);
}

/* Large enough for the parallel loops: Max of a feature map and a bias-like tensor. */
static void test_large(void)
{
    cv_shape xs = {4, {2, 16, 48, 48}}, bs = {3, {16, 1, 1}};
    size_t n = cv_shape_numel(&xs);
    float *x = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float)), *w = malloc(n * sizeof(float));
    float bias[16];
    test_seed(9);
    test_fill(x, n, -1, 1);
    test_fill(bias, 16, -1, 1);
    test_fill(w, n, -1, 1);
    for (size_t k = 0; k < n; k++)
        ref[k] = fmaxf(x[k], bias[(k / 2304) % 16]);
    oplab lab;
    oplab_begin(&lab, "Max", &xs);
    oplab_const(&lab, &bs, bias);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, ref, n);
    const float *g;
    REQUIRE(cv_run_backward(lab.run, 0, w, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
    size_t ties = 0; /* random data does hit a few */
    for (size_t k = 0; k < n; k++) {
        float b = bias[(k / 2304) % 16];
        ref[k] = x[k] > b ? w[k] : x[k] == b ? 0.5f * w[k] : 0.0f;
        ties += x[k] == b;
    }
    double db = test_max_abs_diff(g, ref, n);
    printf("    Max [2,16,48,48] with [16,1,1]: forward max diff %.3g, backward %.3g (%zu ties)\n", d, db, ties);
    CHECK(d == 0 && db == 0, "large Max differs");
    oplab_free(&lab);
    free(x);
    free(ref);
    free(w);
}

int main(void)
{
    RUN(test_forward_backward);
    RUN(test_ties);
    RUN(test_nan);
    RUN(test_int64);
    RUN(test_errors);
    RUN(test_large);
    return test_summary("variadic");
}
