/* Gemm and MatMul against naive triple loops (double accumulation), and
 * gradients to A, B and C by finite differences. */
#include "lib/opcase.h"
#include <math.h>

/* ---- Gemm ----------------------------------------------------------------- */

/* Naive Y = alpha op(A) op(B) + beta C (C broadcast via its shape cs). */
static void ref_gemm(const float *a, const float *b, const float *c, const cv_shape *cs, int ta, int tb,
                     float alpha, float beta, int64_t m, int64_t n, int64_t k, float *y)
{
    cv_shape ys = {2, {m, n}};
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            s *= alpha;
            if (c) {
                int64_t idx[2] = {i, j};
                s += (double)beta * c[opcase_bcast_offset(cs, &ys, idx)];
            }
            y[i * n + j] = (float)s;
        }
}

typedef struct {
    int ta, tb;
    float alpha, beta;
    int c_kind; /* 0 none, 1 [N], 2 [1,N], 3 [M,1], 4 [M,N], 5 scalar [] */
} gemm_case;

static void run_gemm(const gemm_case *g, int x_slot)
{
    const int64_t m = 4, n = 5, k = 6;
    cv_shape as = g->ta ? (cv_shape){2, {k, m}} : (cv_shape){2, {m, k}};
    cv_shape bs = g->tb ? (cv_shape){2, {n, k}} : (cv_shape){2, {k, n}};
    const cv_shape cshapes[] = {{0, {0}}, {1, {n}}, {2, {1, n}}, {2, {m, 1}}, {2, {m, n}}, {0, {0}}};
    cv_shape cs = cshapes[g->c_kind];
    float a[30], b[30], c[20], y[20];
    test_seed(100 + (unsigned)x_slot);
    test_fill(a, 24, -1, 1);
    test_fill(b, 30, -1, 1);
    test_fill(c, 20, -1, 1);
    if (x_slot == 2 && !g->c_kind)
        return;
    const cv_shape *shapes[3] = {&as, &bs, &cs};
    float *data[3] = {a, b, c};
    oplab lab;
    oplab_begin(&lab, "Gemm", shapes[x_slot]);
    for (int s = 0; s < 3; s++) {
        if (s == 2 && !g->c_kind)
            break;
        if (s != x_slot)
            oplab_const(&lab, shapes[s], data[s]);
    }
    /* inputs are now [x, others in order]: move x to its slot */
    for (int s = 0; s < x_slot; s++)
        opcase_swap(&lab, s, s + 1);
    cv_node_set_int(lab.m, lab.node, "transA", g->ta, NULL);
    cv_node_set_int(lab.m, lab.node, "transB", g->tb, NULL);
    cv_node_set_float(lab.m, lab.node, "alpha", g->alpha, NULL);
    cv_node_set_float(lab.m, lab.node, "beta", g->beta, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, data[x_slot]) == CV_OK, "%s", lab.err.msg);
    ref_gemm(a, b, g->c_kind ? c : NULL, &cs, g->ta, g->tb, g->alpha, g->beta, m, n, k, y);
    double d = test_max_abs_diff(lab.y, y, 20);
    char sb[64];
    printf("    gemm tA=%d tB=%d alpha=%g beta=%g C=%s x=%c: max abs diff %.3g\n", g->ta, g->tb, g->alpha, g->beta,
           g->c_kind ? cv_shape_str(&cs, sb, sizeof sb) : "none", "ABC"[x_slot], d);
    CHECK(d < 1e-5, "forward differs by %g", d);
    CHECK(lab.y_shape.ndim == 2 && lab.y_shape.d[0] == m && lab.y_shape.d[1] == n, "bad output shape");
    double e = oplab_gradcheck(&lab, data[x_slot], 1e-2f);
    CHECK(e < 1e-3, "gradient mismatch %g", e);
    oplab_free(&lab);
}

static void test_gemm(void)
{
    const gemm_case cases[] = {
        {0, 0, 1, 1, 0}, {0, 1, 1, 1, 1}, {1, 0, 0.5f, 2, 2}, {1, 1, 2, 0.5f, 3},
        {0, 1, 1, 1, 4}, {1, 1, 1, 1, 5}, {0, 0, 1.5f, 0, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int slot = 0; slot < 3; slot++)
            run_gemm(&cases[c], slot);
}

static void test_gemm_errors(void)
{
    cv_shape as = {2, {3, 4}}, bs = {2, {5, 6}}, cs = {2, {2, 6}};
    float a[12] = {0}, b[30] = {0}, c[12] = {0};
    oplab lab;
    oplab_begin(&lab, "Gemm", &as);
    oplab_const(&lab, &bs, b);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, a);
    printf("    K mismatch: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_SHAPE && strstr(lab.err.msg, "[3, 4]") && strstr(lab.err.msg, "[5, 6]"), "got %d", st);
    oplab_free(&lab);

    cv_shape bs2 = {2, {4, 6}};
    oplab_begin(&lab, "Gemm", &as);
    oplab_const(&lab, &bs2, b);
    oplab_const(&lab, &cs, c);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    st = oplab_forward(&lab, a);
    printf("    bad C: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_SHAPE, "got %d", st);
    oplab_free(&lab);
}

/* ---- MatMul ------------------------------------------------------------------ */

/* Naive numpy matmul for the shapes in the cases below. */
static void ref_matmul(const cv_shape *as, const float *a, const cv_shape *bs, const float *b, const cv_shape *ys,
                       float *y)
{
    bool a1 = as->ndim == 1, b1 = bs->ndim == 1;
    int64_t m = a1 ? 1 : as->d[as->ndim - 2], k = as->d[as->ndim - 1], n = b1 ? 1 : bs->d[bs->ndim - 1];
    /* batch shapes, as matrices-of-batches */
    cv_shape ab = {as->ndim > 2 ? as->ndim - 2 : 0, {0}}, bb = {bs->ndim > 2 ? bs->ndim - 2 : 0, {0}}, yb;
    for (int i = 0; i < ab.ndim; i++)
        ab.d[i] = as->d[i];
    for (int i = 0; i < bb.ndim; i++)
        bb.d[i] = bs->d[i];
    cv_broadcast_shape(&ab, &bb, &yb);
    size_t nb = cv_shape_numel(&yb);
    for (size_t t = 0; t < nb; t++) {
        int64_t idx[CV_MAX_DIMS];
        opcase_unravel(&yb, t, idx);
        size_t oa = opcase_bcast_offset(&ab, &yb, idx), ob = opcase_bcast_offset(&bb, &yb, idx);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (double)a[oa * m * k + i * k + p] * b[ob * k * n + p * n + j];
                y[t * m * n + i * n + j] = (float)s;
            }
    }
    (void)ys;
}

typedef struct {
    cv_shape a, b, y;
} mm_case;

static void test_matmul(void)
{
    const mm_case cases[] = {
        {{2, {3, 4}}, {2, {4, 5}}, {2, {3, 5}}},
        {{4, {2, 3, 3, 4}}, {2, {4, 5}}, {4, {2, 3, 3, 5}}},        /* x @ W */
        {{4, {2, 1, 3, 4}}, {3, {3, 4, 2}}, {4, {2, 3, 3, 2}}},     /* batch broadcast both ways */
        {{2, {3, 4}}, {3, {2, 4, 5}}, {3, {2, 3, 5}}},              /* A broadcast over B's batch */
        {{1, {4}}, {2, {4, 5}}, {1, {5}}},                          /* vector @ matrix */
        {{3, {2, 3, 4}}, {1, {4}}, {2, {2, 3}}},                    /* matrix @ vector */
        {{1, {4}}, {1, {4}}, {0, {0}}},                             /* dot product */
        {{1, {4}}, {3, {2, 4, 3}}, {2, {2, 3}}},
    };
    float a[128], b[128], y[128];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const mm_case *mc = &cases[c];
        test_seed(200 + c);
        test_fill(a, 128, -1, 1);
        test_fill(b, 128, -1, 1);
        ref_matmul(&mc->a, a, &mc->b, b, &mc->y, y);
        size_t ny = cv_shape_numel(&mc->y);
        for (int slot = 0; slot < 2; slot++) {
            oplab lab;
            oplab_begin(&lab, "MatMul", slot ? &mc->b : &mc->a);
            oplab_const(&lab, slot ? &mc->a : &mc->b, slot ? a : b);
            if (slot)
                opcase_swap(&lab, 0, 1);
            REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
            REQUIRE(oplab_forward(&lab, slot ? b : a) == CV_OK, "%s", lab.err.msg);
            double d = test_max_abs_diff(lab.y, y, ny);
            char s1[64], s2[64], s3[64];
            printf("    matmul %s @ %s -> %s (x=%c): max abs diff %.3g\n", cv_shape_str(&mc->a, s1, sizeof s1),
                   cv_shape_str(&mc->b, s2, sizeof s2), cv_shape_str(&lab.y_shape, s3, sizeof s3), "AB"[slot], d);
            CHECK(cv_shape_equal(&lab.y_shape, &mc->y), "bad output shape");
            CHECK(d < 1e-5, "forward differs by %g", d);
            double e = oplab_gradcheck(&lab, slot ? b : a, 1e-2f);
            CHECK(e < 1e-3, "gradient mismatch %g", e);
            oplab_free(&lab);
        }
    }
}

/* Both operands runtime: MatMul(x, x) gets both contributions. */
static void test_matmul_self(void)
{
    cv_shape s = {3, {2, 4, 4}};
    float x[32];
    test_seed(9);
    test_fill(x, 32, -1, 1);
    oplab lab;
    oplab_begin(&lab, "MatMul", &s);
    cv_node *n = &lab.m->nodes[lab.node];
    n->in = realloc(n->in, 2 * sizeof(int));
    n->in[1] = n->in[0];
    n->n_in = 2;
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    double e = oplab_gradcheck(&lab, x, 1e-2f);
    CHECK(e < 1e-3, "gradient mismatch %g", e);
    oplab_free(&lab);
}

static void test_matmul_errors(void)
{
    cv_shape as = {2, {3, 4}}, bs = {2, {5, 2}};
    float a[12] = {0}, b[10] = {0};
    oplab lab;
    oplab_begin(&lab, "MatMul", &as);
    oplab_const(&lab, &bs, b);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, a);
    printf("    inner mismatch: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_SHAPE, "got %d", st);
    oplab_free(&lab);
}

/* Larger shapes (an FC layer and attention-like batches) stay exact. */
static void test_matmul_large(void)
{
    cv_shape as = {2, {8, 512}}, bs = {2, {512, 100}};
    static float a[8 * 512], b[512 * 100], y[800];
    test_seed(77);
    test_fill(a, 8 * 512, -1, 1);
    test_fill(b, 512 * 100, -1, 1);
    cv_shape ys = {2, {8, 100}};
    ref_matmul(&as, a, &bs, b, &ys, y);
    oplab lab;
    oplab_begin(&lab, "MatMul", &as);
    oplab_const(&lab, &bs, b);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, a) == CV_OK, "%s", lab.err.msg);
    double d = test_max_rel_diff(lab.y, y, 800);
    printf("    matmul [8,512]@[512,100]: max rel diff %.3g\n", d);
    CHECK(d < 1e-5, "forward differs by %g", d);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_gemm);
    RUN(test_gemm_errors);
    RUN(test_matmul);
    RUN(test_matmul_self);
    RUN(test_matmul_errors);
    RUN(test_matmul_large);
    return test_summary("gemm");
}
