/* The operator table's traits (src/core/graph.h: cv_op_def.spatial,
 * .spatial_fit, .in_place, .gate): every registered operator must state
 * how its output window relates to its inputs', so adding an operator can
 * never silently lose incremental inference's speed-up. Prints the table.
 *
 * Then, on netbuild nets, that the traits mean what they say: a Conv with
 * SAME padding and a pointwise chain are windowed by the incremental engine
 * (its multiply-add bound exceeds 1), and its result equals full inference.
 */
#include "../src/core/graph.h"
#include "lib/netbuild.h"
#include "lib/test.h"
#include <string.h>

static const char *spatial_name(cv_spatial s)
{
    switch (s) {
    case CV_SPATIAL_POINTWISE: return "pointwise";
    case CV_SPATIAL_WINDOW: return "window";
    case CV_SPATIAL_CONCAT: return "concat";
    case CV_SPATIAL_WHOLE: return "whole";
    case CV_SPATIAL_UNDECIDED: break;
    }
    return "UNDECIDED";
}

static void test_every_op_decides(void)
{
    int n = 0, undecided = 0;
    printf("    %-22s %-10s %-8s %-5s\n", "op", "spatial", "in-place", "gate");
    for (const cv_op_def *op; (op = cv_op_at(n)); n++) {
        printf("    %-22s %-10s %-8s %-5s\n", op->type, spatial_name(op->spatial), op->in_place ? "yes" : "-",
               op->gate == CV_GATE_RELU ? "relu" : "-");
        if (op->spatial == CV_SPATIAL_UNDECIDED) {
            undecided++;
            CHECK(0, "operator %s states no spatial trait (set .spatial in its file)", op->type);
        }
        CHECK(op->spatial != CV_SPATIAL_WINDOW || op->spatial_fit,
              "window operator %s has no spatial_fit for its geometry", op->type);
        CHECK(!op->in_place || op->spatial == CV_SPATIAL_POINTWISE, "in-place operator %s is not pointwise", op->type);
        CHECK(cv_op_find(op->type) == op, "operator %s is registered twice", op->type);
    }
    printf("    %d operators, %d undecided\n", n, undecided);
    CHECK(n > 80, "only %d operators registered", n);
}

/* Full inference with the patch pasted in, against cv_incr_run. */
static void check_windowed(cv_model *m, const cv_shape *xs, int py, int px, int ph, int pw)
{
    size_t numel = cv_shape_numel(xs);
    int C = (int)xs->d[1], H = (int)xs->d[2], W = (int)xs->d[3];
    float *x = malloc(numel * sizeof(float)), *xo = malloc(numel * sizeof(float));
    float *patch = malloc((size_t)C * ph * pw * sizeof(float));
    REQUIRE(x && xo && patch, "out of memory");
    test_fill(x, numel, -1.0f, 1.0f);
    memcpy(xo, x, numel * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int r = 0; r < ph; r++)
            for (int q = 0; q < pw; q++) {
                patch[((size_t)c * ph + r) * pw + q] = 0.5f;
                xo[((size_t)c * H + py + r) * W + px + q] = 0.5f;
            }
    cv_error err;
    cv_incr *ic = NULL;
    cv_run *run = NULL;
    cv_incr_options o = cv_incr_defaults();
    const cv_tensor *yi = NULL;
    CHECK(cv_incr_create(&ic, m, xs, x, &(cv_incr_patches){1, &py, &px, ph, pw}, &o, &err) == CV_OK, "%s", err.msg);
    CHECK(cv_run_create(&run, m, xs, NULL, &err) == CV_OK, "%s", err.msg);
    if (ic && run && cv_incr_run(ic, 0, 1, patch, &yi, &err) == CV_OK && cv_run_forward(run, xo, &err) == CV_OK) {
        const cv_tensor *yf = cv_run_output(run, 0);
        double d = test_max_abs_diff(yi->f, yf->f, cv_shape_numel(&yf->shape));
        double bound = cv_incr_speedup_bound(ic);
        printf("    incremental vs full max abs diff %.3g (tolerance 1e-5), speed-up bound %.2f\n", d, bound);
        CHECK(d < 1e-5, "incremental differs from full inference by %g", d);
        CHECK(bound > 1.5, "the net was not windowed (bound %.2f)", bound);
        /* and the patch matters, or equality proves nothing */
        const cv_tensor *clean = NULL;
        if (cv_run_forward(run, x, &err) == CV_OK && (clean = cv_run_output(run, 0)))
            CHECK(test_max_abs_diff(yi->f, clean->f, cv_shape_numel(&clean->shape)) > 1e-4,
                  "the patch does not change the output");
    } else {
        CHECK(0, "%s", err.msg);
    }
    cv_incr_free(ic);
    cv_run_free(run);
    free(x);
    free(xo);
    free(patch);
}

static void test_traits_window_a_net(void)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, 24, 24}};
    test_seed(3);
    int x = nb_begin(&nb, &xs, 13);
    int a = nb_conv(&nb, x, 3, 8, 3, 1, 1, 1);
    cv_node_set_string(nb.m, nb.m->n_nodes - 1, "auto_pad", "SAME_UPPER", &nb.err);
    /* SAME padding comes from auto_pad alone: drop the explicit pads */
    cv_node *conv = &nb.m->nodes[nb.m->n_nodes - 1];
    for (int i = 0; i < conv->n_attr; i++)
        if (strcmp(conv->attrs[i].name, "pads") == 0)
            conv->attrs[i].ints[0] = conv->attrs[i].ints[1] = conv->attrs[i].ints[2] = conv->attrs[i].ints[3] = 0;
    a = nb_unary(&nb, "Relu", a);
    a = nb_pool(&nb, "MaxPool", a, 2, 2, 0, 0, 0);
    int b = nb_unary(&nb, "Sigmoid", nb_conv(&nb, a, 8, 8, 3, 1, 1, 1));
    a = nb_concat(&nb, a, b);
    a = nb_pool(&nb, "AveragePool", a, 3, 1, 1, 0, 1);
    a = nb_gemm(&nb, a, 16 * 12 * 12, 5);
    cv_model *m = nb_end(&nb, a);
    REQUIRE(m, "netbuild: %s", nb.err.msg);
    check_windowed(m, &xs, 5, 7, 4, 4);
    cv_model_free(m);
}

int main(void)
{
    RUN(test_every_op_decides);
    RUN(test_traits_window_a_net);
    return test_summary("op_traits");
}
