/* Backward rules (cv_run_options.backward_rule) against a naive reference.
 *
 * The net, built with netbuild, has a Relu whose output is read twice (a
 * residual Add), so the test also catches a clamp applied before a Relu's
 * gradient is complete:
 *
 *     a = Relu(conv1(x));  c = Add(conv2(a), a);  y = Relu(c)
 *
 * The reference runs the same layers with tests/lib/ref.h's convolutions
 * and applies guided backpropagation by hand: at each Relu, the gradient
 * from above is clamped to max(0, g) and then gated by the Relu's input.
 * Tolerance 1e-5 (float32 sums of at most 27 terms of size ~1).
 */
#include "lib/netbuild.h"
#include "lib/ref.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

enum { C0 = 2, C1 = 3, H = 6, W = 5, NX = C0 * H * W, NA = C1 * H * W };

typedef struct {
    cv_model *m;
    const float *w1, *b1, *w2, *b2;
} tiny_net;

static bool tiny_net_build(tiny_net *t)
{
    netbuild nb;
    cv_shape xs = {4, {1, C0, H, W}};
    test_seed(12);
    int x = nb_begin(&nb, &xs, 13);
    int a = nb_unary(&nb, "Relu", nb_conv(&nb, x, C0, C1, 3, 1, 1, 1));
    int b = nb_conv(&nb, a, C1, C1, 3, 1, 1, 1);
    int y = nb_unary(&nb, "Relu", nb_binary(&nb, "Add", b, a));
    t->m = nb_end(&nb, y);
    if (!t->m) {
        fprintf(stderr, "    netbuild: %s\n", nb.err.msg);
        return false;
    }
    const cv_node *c1 = &t->m->nodes[0], *c2 = &t->m->nodes[2];
    t->w1 = t->m->values[c1->in[1]].data;
    t->b1 = t->m->values[c1->in[2]].data;
    t->w2 = t->m->values[c2->in[1]].data;
    t->b2 = t->m->values[c2->in[2]].data;
    return strcmp(c1->op_type, "Conv") == 0 && strcmp(c2->op_type, "Conv") == 0;
}

/* d(sum(seed * y))/dx by hand; guided: clamp at each Relu. grad_a (may be
 * NULL): the gradient at a, the first Relu's output. */
static void reference_grad(const tiny_net *t, const float *x, const float *seed, bool guided, float *dx,
                           float *grad_a)
{
    ref_geom g1 = {.n = 1, .c = C0, .h = H, .w = W, .m = C1, .group = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                   .dh = 1, .dw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1};
    ref_geom g2 = g1;
    g2.c = C1;
    float pre_a[NA], a[NA], b[NA], c[NA], gc[NA], ga[NA], gtmp[NA];
    ref_conv2d(pre_a, x, t->w1, t->b1, &g1);
    for (int i = 0; i < NA; i++)
        a[i] = pre_a[i] > 0 ? pre_a[i] : 0;
    ref_conv2d(b, a, t->w2, t->b2, &g2);
    for (int i = 0; i < NA; i++)
        c[i] = b[i] + a[i];
    for (int i = 0; i < NA; i++) {
        float g = guided && seed[i] < 0 ? 0 : seed[i];
        gc[i] = c[i] > 0 ? g : 0;
    }
    ref_conv2d_backward_input(gtmp, gc, t->w2, &g2); /* through conv2, plus the skip */
    for (int i = 0; i < NA; i++) {
        float g = gtmp[i] + gc[i];
        if (grad_a)
            grad_a[i] = g;
        g = guided && g < 0 ? 0 : g;
        ga[i] = pre_a[i] > 0 ? g : 0;
    }
    ref_conv2d_backward_input(dx, ga, t->w1, &g1);
}

static void check_rule(cv_backward_rule rule, const char *name)
{
    tiny_net t;
    REQUIRE(tiny_net_build(&t), "could not build the net");
    float x[NX], seed[NA], ref[NX];
    test_seed(5);
    test_fill(x, NX, -1.0f, 1.0f);
    test_fill(seed, NA, -1.0f, 1.0f);
    cv_run_options o = cv_run_defaults();
    o.need_grad = 1;
    o.backward_rule = rule;
    cv_run *r = NULL;
    cv_error err;
    cv_shape xs = {4, {1, C0, H, W}};
    const float *dx = NULL;
    CHECK(cv_run_create(&r, t.m, &xs, &o, &err) == CV_OK, "%s", err.msg);
    if (r)
        CHECK(cv_run_forward(r, x, &err) == CV_OK && cv_run_backward(r, t.m->n_nodes - 1, seed, &dx, &err) == CV_OK,
              "%s", err.msg);
    if (dx) {
        reference_grad(&t, x, seed, rule == CV_BACKWARD_GUIDED, ref, NULL);
        double d = test_max_abs_diff(dx, ref, NX);
        printf("    %s: input gradient max abs diff %.3g (tolerance 1e-5)\n", name, d);
        CHECK(d < 1e-5, "%s gradient differs by %g", name, d);
        /* The rule must matter on this input, or the test proves nothing. */
        float other[NX];
        reference_grad(&t, x, seed, rule != CV_BACKWARD_GUIDED, other, NULL);
        double apart = test_max_abs_diff(ref, other, NX);
        printf("    %s: exact and guided references differ by %.3g\n", name, apart);
        CHECK(apart > 1e-3, "exact and guided agree (%g): the input does not exercise the rule", apart);
    }
    cv_run_free(r);
    cv_model_free(t.m);
}

static void test_exact_rule(void) { check_rule(CV_BACKWARD_EXACT, "exact"); }
static void test_guided_rule(void) { check_rule(CV_BACKWARD_GUIDED, "guided"); }

/* cv_run_backward_until stops at the first Relu's output a: its gradient
 * is the full one (conv2's path plus the skip), and conv1's backward does
 * not run, so the input gradient left by an earlier full pass reads 0. */
static void test_backward_until(void)
{
    tiny_net t;
    REQUIRE(tiny_net_build(&t), "could not build the net");
    float x[NX], seed[NA], dx_ref[NX], ga_ref[NA];
    test_seed(6);
    test_fill(x, NX, -1.0f, 1.0f);
    test_fill(seed, NA, -1.0f, 1.0f);
    reference_grad(&t, x, seed, false, dx_ref, ga_ref);
    cv_run_options o = cv_run_defaults();
    o.need_grad = 1;
    cv_run *r = NULL;
    cv_error err;
    cv_shape xs = {4, {1, C0, H, W}};
    const float *dx = NULL;
    int last = t.m->n_nodes - 1, relu_a = 1;
    REQUIRE(cv_run_create(&r, t.m, &xs, &o, &err) == CV_OK, "%s", err.msg);
    CHECK(cv_run_forward(r, x, &err) == CV_OK && cv_run_backward(r, last, seed, &dx, &err) == CV_OK, "%s",
          err.msg);
    CHECK(cv_run_backward_until(r, last, seed, relu_a, &err) == CV_OK, "%s", err.msg);
    const cv_tensor *a = cv_run_layer_output(r, relu_a);
    REQUIRE(a && a->grad && dx, "no gradients");
    double d = test_max_abs_diff(a->grad, ga_ref, NA), zero = 0;
    for (int i = 0; i < NX; i++)
        zero = fmax(zero, fabs(dx[i]));
    printf("    gradient at a: max abs diff %.3g (tolerance 1e-5); input gradient after it max |g| %.3g (must be 0)\n",
           d, zero);
    CHECK(d < 1e-5, "gradient at a differs by %g", d);
    CHECK(zero == 0, "the backward went below a: input gradient %g", zero);
    CHECK(cv_run_backward_until(r, relu_a, seed, last, &err) == CV_ERR_INVALID, "until after the seed accepted");
    /* gradients are cleared lazily, before the first backward that adds to
     * them: two full passes after the partial one still give the reference,
     * nothing left over from the passes before */
    double again = INFINITY;
    for (int pass = 0; pass < 2; pass++)
        if (cv_run_backward(r, last, seed, &dx, &err) == CV_OK)
            again = test_max_abs_diff(dx, dx_ref, NX);
    printf("    full pass after it, twice: input gradient max abs diff %.3g (tolerance 1e-5)\n", again);
    CHECK(again < 1e-5, "a later full pass differs by %g", again);
    cv_run_free(r);
    cv_model_free(t.m);
}

/* An unknown rule is refused, not run as exact. */
static void test_unknown_rule(void)
{
    tiny_net t;
    REQUIRE(tiny_net_build(&t), "could not build the net");
    cv_run_options o = cv_run_defaults();
    o.need_grad = 1;
    o.backward_rule = 7;
    cv_run *r = NULL;
    cv_error err;
    cv_shape xs = {4, {1, C0, H, W}};
    CHECK(cv_run_create(&r, t.m, &xs, &o, &err) == CV_ERR_INVALID, "an unknown backward rule was accepted");
    cv_run_free(r);
    cv_model_free(t.m);
}

int main(void)
{
    RUN(test_exact_rule);
    RUN(test_guided_rule);
    RUN(test_backward_until);
    RUN(test_unknown_rule);
    return test_summary("backward_rules");
}
