/* LRN: forward against the ONNX formula (tests/lib/ref_norm.c) for odd and
 * even sizes, backward by finite differences and at AlexNet's size. */
#include "lib/oplab.h"
#include "lib/ref.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

static cv_status lrn_lab(oplab *lab, const cv_shape *xs, int size, float alpha, float beta, float bias)
{
    oplab_begin(lab, "LRN", xs);
    cv_node_set_int(lab->m, lab->node, "size", size, NULL);
    cv_node_set_float(lab->m, lab->node, "alpha", alpha, NULL);
    cv_node_set_float(lab->m, lab->node, "beta", beta, NULL);
    cv_node_set_float(lab->m, lab->node, "bias", bias, NULL);
    return oplab_end(lab);
}

static void test_lrn_forward(void)
{
    static const struct {
        cv_shape xs;
        int size;
        float alpha, beta, bias;
    } cases[] = {
        {{4, {2, 7, 3, 5}}, 5, 1e-1f, 0.75f, 1.0f},
        {{4, {1, 6, 4, 4}}, 4, 5e-2f, 0.5f, 2.0f},   /* even size: window [c-1, c+2] */
        {{4, {1, 3, 9, 9}}, 1, 1.0f, 1.0f, 1.0f},
        {{3, {2, 5, 70}}, 3, 2e-1f, 0.9f, 0.5f},     /* spans two spatial tiles */
        {{4, {1, 4, 2, 2}}, 9, 1e-1f, 0.75f, 1.0f},  /* window wider than C */
        {{4, {1, 96, 55, 55}}, 5, 1e-4f, 0.75f, 2.0f}, /* AlexNet / CaffeNet norm1 */
    };
    test_seed(41);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cv_shape *xs = &cases[k].xs;
        size_t nx = cv_shape_numel(xs);
        int n = (int)xs->d[0], c = (int)xs->d[1], s = (int)(nx / (size_t)(n * c));
        float *x = malloc(nx * sizeof(float)), *ref = malloc(nx * sizeof(float));
        test_fill(x, nx, -3.0f, 3.0f);
        oplab lab;
        REQUIRE(lrn_lab(&lab, xs, cases[k].size, cases[k].alpha, cases[k].beta, cases[k].bias) == CV_OK, "%s",
                lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        ref_lrn(ref, x, n, c, s, cases[k].size, cases[k].alpha, cases[k].beta, cases[k].bias);
        double d = test_max_rel_diff(lab.y, ref, nx);
        char buf[64];
        printf("    %s size %d: forward max rel diff %.3g (tol 1e-5)\n", cv_shape_str(xs, buf, sizeof buf),
               cases[k].size, d);
        CHECK(d <= 1e-5, "forward differs by %g", d);
        if (nx <= 800) {
            double e = oplab_gradcheck(&lab, x, 1e-2f);
            CHECK(e < 1e-2, "gradient rel err %.3g", e);
        }
        oplab_free(&lab);
        free(x);
        free(ref);
    }
}

/* Backward at AlexNet's size against a numerical derivative of the
 * reference at a sample of inputs (full finite differences would take
 * 290k forward passes). */
static void test_lrn_backward_large(void)
{
    cv_shape xs = {4, {1, 96, 27, 27}};
    int c = 96, s = 27 * 27, size = 5;
    float alpha = 1e-1f, beta = 0.75f, bias = 2.0f; /* larger alpha than AlexNet so the cross term matters */
    size_t nx = cv_shape_numel(&xs);
    float *x = malloc(nx * sizeof(float)), *seed = malloc(nx * sizeof(float));
    float *y0 = malloc(nx * sizeof(float)), *y1 = malloc(nx * sizeof(float));
    test_seed(43);
    test_fill(x, nx, -3.0f, 3.0f);
    test_fill(seed, nx, -1.0f, 1.0f);
    oplab lab;
    REQUIRE(lrn_lab(&lab, &xs, size, alpha, beta, bias) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    const float *dx = NULL;
    REQUIRE(cv_run_backward(lab.run, 0, seed, &dx, &lab.err) == CV_OK, "%s", lab.err.msg);
    double worst = 0, scale = 0;
    for (size_t k = 0; k < nx; k++)
        scale = fmax(scale, fabs(dx[k]));
    for (size_t k = 0; k < nx; k += 997) {
        float keep = x[k], eps = 1e-2f;
        x[k] = keep + eps;
        ref_lrn(y1, x, 1, c, s, size, alpha, beta, bias);
        x[k] = keep - eps;
        ref_lrn(y0, x, 1, c, s, size, alpha, beta, bias);
        x[k] = keep;
        /* only channels within the window of k's channel change */
        double num = 0;
        for (size_t j = 0; j < nx; j++)
            num += (double)seed[j] * ((double)y1[j] - y0[j]);
        num /= 2.0 * eps;
        worst = fmax(worst, fabs(num - dx[k]) / scale);
    }
    printf("    [1, 96, 27, 27] backward vs numerical (every 997th input): max rel err %.3g (tol 1e-3)\n", worst);
    CHECK(worst < 1e-3, "backward differs: %g", worst);
    oplab_free(&lab);
    free(x); free(seed); free(y0); free(y1);
}

/* Against torch.nn.functional.local_response_norm (odd sizes). */
static void test_lrn_torch_golden(void)
{
    ref_record *r;
    char why[256];
    int n = ref_golden_load("tests/fixtures/conv_ops_torch.bin", "lrn", &r, why, sizeof why);
    REQUIRE(n > 0, "%s", n < 0 ? why : "no lrn records");
    for (int k = 0; k < n; k++) {
        const float *p = r[k].params;
        const ref_tensor *x = &r[k].t[0], *y = &r[k].t[1], *dy = &r[k].t[2], *dx = &r[k].t[3];
        cv_shape xs = {x->ndim, {0}};
        for (int d = 0; d < x->ndim; d++)
            xs.d[d] = x->d[d];
        oplab lab;
        REQUIRE(lrn_lab(&lab, &xs, (int)p[0], p[1], p[2], p[3]) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x->data) == CV_OK, "%s", lab.err.msg);
        const float *g = NULL;
        REQUIRE(cv_run_backward(lab.run, 0, dy->data, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        double f = test_max_rel_diff(lab.y, y->data, y->numel), b = test_max_rel_diff(g, dx->data, dx->numel);
        char buf[64];
        printf("    PyTorch %s size %g: forward max rel diff %.3g, backward %.3g (tol 1e-5)\n",
               cv_shape_str(&xs, buf, sizeof buf), p[0], f, b);
        CHECK(f <= 1e-5 && b <= 1e-5, "differs from PyTorch");
        oplab_free(&lab);
    }
    ref_golden_free(r, n);
}

static void test_lrn_errors(void)
{
    cv_shape xs = {4, {1, 3, 2, 2}};
    oplab lab;
    oplab_begin(&lab, "LRN", &xs);
    cv_status got = oplab_end(&lab);
    printf("    no size: %s\n", lab.err.msg);
    CHECK(got == CV_ERR_INVALID && strstr(lab.err.msg, "size"), "status %s", cv_status_string(got));
    oplab_free(&lab);
    got = lrn_lab(&lab, &xs, 0, 1e-4f, 0.75f, 1.0f);
    printf("    size 0: %s\n", lab.err.msg);
    CHECK(got == CV_ERR_INVALID, "status %s", cv_status_string(got));
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_lrn_forward);
    RUN(test_lrn_backward_large);
    RUN(test_lrn_torch_golden);
    RUN(test_lrn_errors);
    return test_summary("lrn");
}
