/* Transpose against a naive index permutation: several ranks and perms,
 * the default (reverse), int64, gradients, bad perms. */
#include "lib/opcase.h"

/* y[idx_out] = x[idx_in] with idx_in[perm[k]] = idx_out[k]. */
static void ref_transpose(const cv_shape *xs, const float *x, const int64_t *perm, float *y)
{
    cv_shape ys = {xs->ndim, {0}};
    for (int k = 0; k < xs->ndim; k++)
        ys.d[k] = xs->d[perm[k]];
    size_t n = cv_shape_numel(xs);
    for (size_t f = 0; f < n; f++) {
        int64_t io[CV_MAX_DIMS] = {0}, ii[CV_MAX_DIMS] = {0};
        opcase_unravel(&ys, f, io);
        for (int k = 0; k < xs->ndim; k++)
            ii[perm[k]] = io[k];
        size_t off = 0;
        for (int k = 0; k < xs->ndim; k++)
            off = off * (size_t)xs->d[k] + (size_t)ii[k];
        y[f] = x[off];
    }
}

static void test_perms(void)
{
    const struct { cv_shape s; int has; int64_t perm[6]; } cases[] = {
        {{4, {2, 3, 4, 5}}, 1, {0, 2, 3, 1}},   /* NCHW -> NHWC */
        {{4, {2, 4, 5, 3}}, 1, {0, 3, 1, 2}},   /* NHWC -> NCHW */
        {{4, {2, 3, 4, 5}}, 0, {3, 2, 1, 0}},   /* default: reverse */
        {{2, {7, 9}}, 1, {1, 0}},
        {{3, {2, 3, 4}}, 1, {0, 1, 2}},         /* identity perm */
        {{5, {2, 1, 3, 4, 2}}, 1, {4, 0, 3, 1, 2}},
        {{6, {2, 2, 3, 1, 2, 2}}, 1, {0, 3, 5, 1, 4, 2}}, /* pixel-shuffle-like */
        {{3, {128, 200, 3}}, 1, {2, 0, 1}},     /* big enough for the parallel path */
    };
    static float x[76800], y[76800];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const cv_shape *s = &cases[c].s;
        size_t n = cv_shape_numel(s);
        test_seed(30 + c);
        test_fill(x, n, -1, 1);
        ref_transpose(s, x, cases[c].perm, y);
        oplab lab;
        oplab_begin(&lab, "Transpose", s);
        if (cases[c].has)
            cv_node_set_ints(lab.m, lab.node, "perm", cases[c].perm, s->ndim, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        double d = test_max_abs_diff(lab.y, y, n);
        char a[64], b[64];
        printf("    transpose %s%s -> %s: max abs diff %g\n", cv_shape_str(s, a, sizeof a),
               cases[c].has ? "" : " (default perm)", cv_shape_str(&lab.y_shape, b, sizeof b), d);
        CHECK(d == 0, "forward differs by %g", d);
        if (n <= 200) {
            double e = oplab_gradcheck(&lab, x, 1e-2f);
            CHECK(e < 1e-3, "gradient mismatch %g", e);
        }
        oplab_free(&lab);
    }
}

static void test_int64(void)
{
    cv_shape s = {2, {2, 3}};
    int64_t v[6] = {1, 2, 3, 4, 5, 6}, want[6] = {1, 4, 2, 5, 3, 6};
    oplab lab;
    oplab_begin(&lab, "Transpose", &s);
    oplab_const_i64(&lab, &s, v);
    opcase_drop_x(&lab);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float dummy[6] = {0};
    REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *y = opcase_out(&lab, 0);
    CHECK(y->dtype == CV_I64 && y->shape.d[0] == 3 && opcase_i64_diff(y->i, want, 6) == 0, "int64 transpose");
    oplab_free(&lab);
}

static void test_errors(void)
{
    cv_shape s = {3, {2, 3, 4}};
    float x[24] = {0};
    int64_t bad1[3] = {0, 0, 1}, ok2[2] = {1, 0};
    oplab lab;
    oplab_begin(&lab, "Transpose", &s);
    cv_node_set_ints(lab.m, lab.node, "perm", bad1, 3, NULL);
    cv_status st = oplab_end(&lab);
    printf("    repeated perm: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);

    oplab_begin(&lab, "Transpose", &s);
    cv_node_set_ints(lab.m, lab.node, "perm", ok2, 2, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    st = oplab_forward(&lab, x);
    printf("    perm rank mismatch: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_SHAPE, "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_perms);
    RUN(test_int64);
    RUN(test_errors);
    return test_summary("transpose");
}
