/* ReduceMean/Sum/Max/Min: axes as attribute or input, negative axes,
 * keepdims, noop_with_empty_axes; naive reference; int64; gradients. */
#include "lib/opcase.h"
#include <math.h>

static const char *const ops[] = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"};
static const cv_shape xs = {4, {2, 3, 4, 5}};
#define NX 120

/* Reference: out index = input index with reduced dims zeroed (keepdims layout). */
static void ref_reduce(int op, const float *x, const bool *red, float *y, cv_shape *ys_keep)
{
    *ys_keep = xs;
    for (int k = 0; k < 4; k++)
        if (red[k])
            ys_keep->d[k] = 1;
    size_t ny = cv_shape_numel(ys_keep);
    double acc[NX];
    int cnt[NX] = {0};
    for (size_t j = 0; j < ny; j++)
        acc[j] = op == 2 ? -INFINITY : op == 3 ? INFINITY : 0;
    for (size_t f = 0; f < NX; f++) {
        int64_t idx[4];
        opcase_unravel(&xs, f, idx);
        size_t j = opcase_bcast_offset(ys_keep, &xs, idx);
        cnt[j]++;
        if (op <= 1)
            acc[j] += x[f];
        else if (op == 2)
            acc[j] = fmax(acc[j], x[f]);
        else
            acc[j] = fmin(acc[j], x[f]);
    }
    for (size_t j = 0; j < ny; j++)
        y[j] = (float)(op == 0 ? acc[j] / cnt[j] : acc[j]);
}

typedef struct {
    int n;            /* -1: no axes */
    int64_t axes[4];
    int keepdims;
} red_case;

static void test_reduce(void)
{
    const red_case cases[] = {
        {2, {2, 3}, 1}, {2, {2, 3}, 0}, {1, {-1}, 1}, {1, {1}, 0},
        {2, {0, 2}, 0}, {-1, {0}, 1}, {-1, {0}, 0}, {3, {-4, 1, 3}, 1},
    };
    float x[NX], y[NX];
    test_seed(90);
    test_fill(x, NX, -2, 2);
    for (int op = 0; op < 4; op++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            for (int form = 0; form < 2; form++) {
                const red_case *rc = &cases[c];
                bool red[4];
                for (int k = 0; k < 4; k++)
                    red[k] = rc->n < 0;
                for (int k = 0; k < rc->n; k++)
                    red[rc->axes[k] < 0 ? rc->axes[k] + 4 : rc->axes[k]] = true;
                cv_shape keep;
                ref_reduce(op, x, red, y, &keep);
                cv_shape want = {0, {0}};
                for (int k = 0; k < 4; k++)
                    if (!red[k] || rc->keepdims)
                        want.d[want.ndim++] = keep.d[k];
                oplab lab;
                oplab_begin(&lab, ops[op], &xs);
                /* form 0: axes attribute (opset 11); form 1: axes input (ReduceSum 13, others 18) */
                lab.m->opset = form ? (op == 1 ? 13 : 18) : 11;
                if (rc->n >= 0) {
                    if (form) {
                        cv_shape as = {1, {rc->n}};
                        oplab_const_i64(&lab, &as, rc->axes);
                    } else {
                        cv_node_set_ints(lab.m, lab.node, "axes", rc->axes, rc->n, NULL);
                    }
                }
                cv_node_set_int(lab.m, lab.node, "keepdims", rc->keepdims, NULL);
                REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
                REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
                double d = test_max_abs_diff(lab.y, y, cv_shape_numel(&want));
                char b[64];
                printf("    %s case %zu %s -> %s: max abs diff %.3g\n", ops[op], c, form ? "(input)" : "(attr)",
                       cv_shape_str(&lab.y_shape, b, sizeof b), d);
                CHECK(cv_shape_equal(&lab.y_shape, &want), "bad output shape");
                CHECK(d < 1e-6, "forward differs by %g", d);
                if (form == 1) {
                    double e = oplab_gradcheck(&lab, x, 1e-3f);
                    CHECK(e < 2e-3, "gradient mismatch %g", e);
                }
                oplab_free(&lab);
            }
}

/* noop_with_empty_axes=1 without axes: identity. */
static void test_noop(void)
{
    float x[NX];
    test_seed(91);
    test_fill(x, NX, -1, 1);
    oplab lab;
    oplab_begin(&lab, "ReduceSum", &xs);
    lab.m->opset = 13;
    cv_node_set_int(lab.m, lab.node, "noop_with_empty_axes", 1, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, x, NX);
    printf("    ReduceSum noop_with_empty_axes: max abs diff %g\n", d);
    CHECK(cv_shape_equal(&lab.y_shape, &xs) && d == 0, "not an identity");
    oplab_free(&lab);
}

/* Ties in ReduceMax share the gradient evenly. */
static void test_max_ties(void)
{
    cv_shape s = {1, {4}};
    float x[4] = {1, 3, 3, 2}, seed = 1;
    oplab lab;
    oplab_begin(&lab, "ReduceMax", &s);
    cv_node_set_int(lab.m, lab.node, "keepdims", 0, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    const float *g;
    REQUIRE(cv_run_backward(lab.run, 0, &seed, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
    printf("    max of {1,3,3,2} = %g, grad %g %g %g %g\n", lab.y[0], g[0], g[1], g[2], g[3]);
    CHECK(lab.y[0] == 3 && g[0] == 0 && g[1] == 0.5f && g[2] == 0.5f && g[3] == 0, "tie handling");
    oplab_free(&lab);
}

static void test_int64(void)
{
    cv_shape s = {2, {2, 3}}, as = {1, {1}};
    int64_t v[6] = {1, 2, 3, -4, 5, 6}, ax = 1;
    const int64_t want[3][2] = {{6, 7}, {3, 6}, {1, -4}};
    for (int op = 1; op < 4; op++) {
        oplab lab;
        oplab_begin(&lab, ops[op], &s);
        lab.m->opset = 18;
        oplab_const_i64(&lab, &s, v);
        oplab_const_i64(&lab, &as, &ax);
        opcase_drop_x(&lab);
        cv_node_set_int(lab.m, lab.node, "keepdims", 0, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[6] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        printf("    int64 %s over axis 1: %lld %lld\n", ops[op], (long long)y->i[0], (long long)y->i[1]);
        CHECK(y->dtype == CV_I64 && y->shape.ndim == 1 && opcase_i64_diff(y->i, want[op - 1], 2) == 0, "wrong");
        oplab_free(&lab);
    }
}

static void test_errors(void)
{
    float x[NX] = {0};
    int64_t bad = 4;
    oplab lab;
    oplab_begin(&lab, "ReduceMean", &xs);
    cv_node_set_ints(lab.m, lab.node, "axes", &bad, 1, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, x);
    printf("    axis 4: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_reduce);
    RUN(test_noop);
    RUN(test_max_ties);
    RUN(test_int64);
    RUN(test_errors);
    return test_summary("reduce");
}
