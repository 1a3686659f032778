/* Softmax / LogSoftmax: both axis conventions (opset < 13 coerces to 2-D at
 * axis, opset >= 13 normalises one axis), against a naive double reference;
 * stability on huge logits; finite-difference gradients. */
#include "lib/opcase.h"
#include <math.h>

#define N 120
static const cv_shape xs = {4, {2, 3, 4, 5}};

/* Reference over an (outer, n, inner) view. */
static void ref_softmax(const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log_)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double mx = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++)
                mx = fmax(mx, x[(o * n + k) * inner + i]);
            for (int64_t k = 0; k < n; k++)
                s += exp(x[(o * n + k) * inner + i] - mx);
            for (int64_t k = 0; k < n; k++) {
                double v = x[(o * n + k) * inner + i] - mx;
                y[(o * n + k) * inner + i] = (float)(log_ ? v - log(s) : exp(v) / s);
            }
        }
}

typedef struct {
    int opset;
    int has_axis;
    int64_t axis;
    int64_t outer, n, inner; /* expected view of xs */
} sm_case;

static void test_axes(void)
{
    const sm_case cases[] = {
        {13, 0, 0, 24, 5, 1},    /* default -1 */
        {13, 1, 1, 2, 3, 20},    /* channel softmax on NCHW */
        {13, 1, -3, 2, 3, 20},
        {13, 1, 0, 1, 2, 60},
        {11, 0, 0, 2, 60, 1},    /* default 1, coerced: rows of 3*4*5 */
        {11, 1, 2, 6, 20, 1},
        {11, 1, -1, 24, 5, 1},
        {7, 1, 3, 24, 5, 1},
    };
    float x[N], ref[N];
    test_seed(5);
    test_fill(x, N, -3, 3);
    for (int lg = 0; lg < 2; lg++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const sm_case *s = &cases[c];
            oplab lab;
            oplab_begin(&lab, lg ? "LogSoftmax" : "Softmax", &xs);
            lab.m->opset = s->opset;
            if (s->has_axis)
                cv_node_set_int(lab.m, lab.node, "axis", s->axis, NULL);
            REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
            REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
            ref_softmax(x, ref, s->outer, s->n, s->inner, lg);
            double d = test_max_abs_diff(lab.y, ref, N);
            printf("    %s opset %d axis %s%lld: max abs diff %.3g\n", lg ? "LogSoftmax" : "Softmax", s->opset,
                   s->has_axis ? "" : "default ", (long long)(s->has_axis ? s->axis : 0), d);
            CHECK(d < (lg ? 2e-6 : 1e-6), "forward differs by %g", d); /* log values reach ~-10 */
            double g = oplab_gradcheck(&lab, x, 1e-3f);
            CHECK(g < 3e-3, "gradient mismatch %g", g);
            oplab_free(&lab);
        }
}

static void test_stability(void)
{
    cv_shape s = {2, {1, 4}};
    float x[4] = {1000.0f, 1001.0f, -1000.0f, 999.0f}, ref[4];
    for (int lg = 0; lg < 2; lg++) {
        oplab lab;
        oplab_begin(&lab, lg ? "LogSoftmax" : "Softmax", &s);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        ref_softmax(x, ref, 1, 4, 1, lg);
        double d = test_max_abs_diff(lab.y, ref, 4);
        printf("    %s on logits ~1000: max abs diff %.3g (y0 %g)\n", lg ? "LogSoftmax" : "Softmax", d, lab.y[0]);
        CHECK(d < 1e-5 && isfinite(lab.y[2]), "unstable: diff %g", d);
        oplab_free(&lab);
    }
}

static void test_bad_axis(void)
{
    float x[N] = {0};
    oplab lab;
    oplab_begin(&lab, "Softmax", &xs);
    cv_node_set_int(lab.m, lab.node, "axis", 4, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, x);
    printf("    axis 4: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_axes);
    RUN(test_stability);
    RUN(test_bad_axis);
    return test_summary("softmax");
}
