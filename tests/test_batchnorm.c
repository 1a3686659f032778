/* BatchNormalization (inference): forward against the formula, backward by
 * finite differences, spatial = 0, and what is refused. */
#include "lib/oplab.h"
#include "lib/ref.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

/* The four statistics, len entries each, var > 0. */
static void fill_stats(float *st, int len)
{
    test_fill(st, (size_t)len, 0.5f, 2.0f);             /* scale */
    test_fill(st + len, (size_t)len, -1.0f, 1.0f);      /* B */
    test_fill(st + 2 * len, (size_t)len, -1.0f, 1.0f);  /* mean */
    test_fill(st + 3 * len, (size_t)len, 0.1f, 3.0f);   /* var */
}

static void bn_lab(oplab *lab, const cv_shape *xs, const cv_shape *ss, const float *st, int len)
{
    oplab_begin(lab, "BatchNormalization", xs);
    for (int k = 0; k < 4; k++)
        oplab_const(lab, ss, st + k * len);
}

static void test_bn_forward_backward(void)
{
    static const cv_shape shapes[] = {{4, {2, 3, 5, 4}}, {2, {4, 6}}, {3, {2, 5, 7}}, {4, {1, 64, 56, 56}}};
    test_seed(31);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const cv_shape *xs = &shapes[s];
        int n = (int)xs->d[0], c = (int)xs->d[1];
        size_t nx = cv_shape_numel(xs);
        int inner = (int)(nx / (size_t)(n * c));
        float *x = malloc(nx * sizeof(float)), *ref = malloc(nx * sizeof(float)), st[4 * 64];
        test_fill(x, nx, -2.0f, 2.0f);
        fill_stats(st, c);
        cv_shape ss = {1, {c}};
        oplab lab;
        bn_lab(&lab, xs, &ss, st, c);
        cv_node_set_float(lab.m, lab.node, "epsilon", 1e-3f, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        ref_batchnorm(ref, x, st, st + c, st + 2 * c, st + 3 * c, 1e-3f, n, c, inner);
        double d = test_max_rel_diff(lab.y, ref, nx);
        char buf[64];
        printf("    %s: forward max rel diff %.3g (tol 1e-6)\n", cv_shape_str(xs, buf, sizeof buf), d);
        CHECK(d <= 1e-6, "forward differs by %g", d);
        if (nx <= 256)
            CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch"); /* affine: exact */
        oplab_free(&lab);
        free(x);
        free(ref);
    }
}

/* spatial = 0 (opsets 7-8): one statistic per activation (C, H, W). */
static void test_bn_per_activation(void)
{
    cv_shape xs = {4, {2, 3, 2, 4}}, ss = {3, {3, 2, 4}};
    int len = 24;
    float x[48], ref[48], st[4 * 24];
    test_seed(32);
    test_fill(x, 48, -2.0f, 2.0f);
    fill_stats(st, len);
    oplab lab;
    bn_lab(&lab, &xs, &ss, st, len);
    cv_node_set_int(lab.m, lab.node, "spatial", 0, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    ref_batchnorm(ref, x, st, st + len, st + 2 * len, st + 3 * len, 1e-5f, 2, len, 1);
    double d = test_max_rel_diff(lab.y, ref, 48);
    printf("    spatial=0: forward max rel diff %.3g\n", d);
    CHECK(d <= 1e-6, "forward differs by %g", d);
    CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
    oplab_free(&lab);
}

/* Against torch.nn.functional.batch_norm(training=False). */
static void test_bn_torch_golden(void)
{
    ref_record *r;
    char why[256];
    int n = ref_golden_load("tests/fixtures/conv_ops_torch.bin", "bn", &r, why, sizeof why);
    REQUIRE(n > 0, "%s", n < 0 ? why : "no bn records");
    for (int k = 0; k < n; k++) {
        const ref_tensor *x = &r[k].t[0], *y = &r[k].t[5], *dy = &r[k].t[6], *dx = &r[k].t[7];
        cv_shape xs = {x->ndim, {0}}, ss = {1, {x->d[1]}};
        for (int d = 0; d < x->ndim; d++)
            xs.d[d] = x->d[d];
        oplab lab;
        oplab_begin(&lab, "BatchNormalization", &xs);
        for (int t = 1; t <= 4; t++)
            oplab_const(&lab, &ss, r[k].t[t].data);
        cv_node_set_float(lab.m, lab.node, "epsilon", r[k].params[0], NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x->data) == CV_OK, "%s", lab.err.msg);
        const float *g = NULL;
        REQUIRE(cv_run_backward(lab.run, 0, dy->data, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        double f = test_max_rel_diff(lab.y, y->data, y->numel), b = test_max_rel_diff(g, dx->data, dx->numel);
        char buf[64];
        printf("    PyTorch %s: forward max rel diff %.3g, backward %.3g (tol 1e-6)\n",
               cv_shape_str(&xs, buf, sizeof buf), f, b);
        CHECK(f <= 1e-6 && b <= 1e-6, "differs from PyTorch");
        oplab_free(&lab);
    }
    ref_golden_free(r, n);
}

static void test_bn_errors(void)
{
    cv_shape xs = {4, {1, 3, 2, 2}}, s4 = {1, {4}}, s3 = {1, {3}};
    float st[16] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1}, x[12] = {0};
    oplab lab;

    bn_lab(&lab, &xs, &s4, st, 4);
    cv_status got = oplab_end(&lab);
    if (got == CV_OK)
        got = oplab_forward(&lab, x);
    printf("    channel mismatch: %s\n", lab.err.msg);
    CHECK(got == CV_ERR_SHAPE && strstr(lab.err.msg, "scale [4]") && strstr(lab.err.msg, "[1, 3, 2, 2]"),
          "status %s", cv_status_string(got));
    oplab_free(&lab);

    bn_lab(&lab, &xs, &s3, st, 3);
    cv_node_set_int(lab.m, lab.node, "training_mode", 1, NULL);
    got = oplab_end(&lab);
    printf("    training_mode: %s\n", lab.err.msg);
    CHECK(got == CV_ERR_UNSUPPORTED && strstr(lab.err.msg, "training_mode"), "status %s", cv_status_string(got));
    oplab_free(&lab);

    /* training-mode outputs (running mean) */
    bn_lab(&lab, &xs, &s3, st, 3);
    int v = cv_model_value(lab.m, "running_mean", NULL);
    cv_node *n = &lab.m->nodes[lab.node];
    n->out = realloc(n->out, 2 * sizeof(int));
    n->out[n->n_out++] = v;
    got = oplab_end(&lab);
    printf("    extra outputs: %s\n", lab.err.msg);
    CHECK(got == CV_ERR_UNSUPPORTED, "status %s", cv_status_string(got));
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_bn_forward_backward);
    RUN(test_bn_per_activation);
    RUN(test_bn_torch_golden);
    RUN(test_bn_errors);
    return test_summary("batchnorm");
}
