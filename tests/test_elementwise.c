/* Add/Sub/Mul/Div: numpy broadcasting against a naive index-by-index
 * reference, float32 and int64; gradients with the runtime tensor in
 * either slot (including the broadcast one, whose gradient is a sum). */
#include "lib/opcase.h"
#include <math.h>

static const char *const ops[] = {"Add", "Sub", "Mul", "Div"};

static double ref_op(int op, double a, double b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
    }
}

typedef struct {
    cv_shape a, b, y;
} bc_case;

static const bc_case cases[] = {
    {{4, {2, 3, 4, 5}}, {4, {2, 3, 4, 5}}, {4, {2, 3, 4, 5}}}, /* same shape */
    {{4, {2, 3, 4, 5}}, {3, {3, 1, 1}}, {4, {2, 3, 4, 5}}},    /* per-channel bias */
    {{4, {2, 3, 4, 5}}, {4, {1, 3, 1, 1}}, {4, {2, 3, 4, 5}}},
    {{4, {2, 3, 4, 5}}, {0, {0}}, {4, {2, 3, 4, 5}}},          /* scalar */
    {{4, {2, 3, 4, 5}}, {1, {5}}, {4, {2, 3, 4, 5}}},          /* last dim */
    {{3, {2, 1, 4}}, {2, {3, 1}}, {3, {2, 3, 4}}},             /* both broadcast */
    {{2, {1, 5}}, {2, {4, 1}}, {2, {4, 5}}},                   /* outer product */
    {{4, {2, 3, 4, 5}}, {4, {2, 1, 4, 1}}, {4, {2, 3, 4, 5}}},
};

static void fill_operand(float *v, size_t n, int op, int is_b)
{
    test_fill(v, n, -2, 2);
    if (op == 3 && is_b) /* keep divisors away from 0 */
        for (size_t k = 0; k < n; k++)
            v[k] = v[k] < 0 ? v[k] - 0.5f : v[k] + 0.5f;
}

static void test_float(void)
{
    static float a[256], b[256], y[256];
    for (int op = 0; op < 4; op++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const bc_case *bc = &cases[c];
            size_t na = cv_shape_numel(&bc->a), nb = cv_shape_numel(&bc->b), ny = cv_shape_numel(&bc->y);
            test_seed(10 * (unsigned)op + c + 1);
            fill_operand(a, na, op, 0);
            fill_operand(b, nb, op, 1);
            for (size_t k = 0; k < ny; k++) {
                int64_t idx[CV_MAX_DIMS];
                opcase_unravel(&bc->y, k, idx);
                y[k] = (float)ref_op(op, a[opcase_bcast_offset(&bc->a, &bc->y, idx)],
                                     b[opcase_bcast_offset(&bc->b, &bc->y, idx)]);
            }
            for (int slot = 0; slot < 2; slot++) {
                oplab lab;
                oplab_begin(&lab, ops[op], slot ? &bc->b : &bc->a);
                oplab_const(&lab, slot ? &bc->a : &bc->b, slot ? a : b);
                if (slot)
                    opcase_swap(&lab, 0, 1);
                REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
                REQUIRE(oplab_forward(&lab, slot ? b : a) == CV_OK, "%s", lab.err.msg);
                double d = test_max_abs_diff(lab.y, y, ny);
                char s1[64], s2[64];
                printf("    %s %s, %s (x=%c): max abs diff %.3g\n", ops[op], cv_shape_str(&bc->a, s1, sizeof s1),
                       cv_shape_str(&bc->b, s2, sizeof s2), "ab"[slot], d);
                CHECK(cv_shape_equal(&lab.y_shape, &bc->y), "bad output shape");
                CHECK(d < 1e-6, "forward differs by %g", d);
                double e = oplab_gradcheck(&lab, slot ? b : a, 1e-2f);
                CHECK(e < 2e-3, "gradient mismatch %g", e);
                oplab_free(&lab);
            }
        }
}

/* Add(x, x), Mul(x, x): both inputs are the same runtime tensor. */
static void test_same_input(void)
{
    cv_shape s = {2, {3, 4}};
    float x[12];
    test_seed(4);
    test_fill(x, 12, -2, 2);
    for (int op = 0; op < 3; op += 2) {
        oplab lab;
        oplab_begin(&lab, ops[op], &s);
        cv_node *n = &lab.m->nodes[lab.node];
        n->in = realloc(n->in, 2 * sizeof(int));
        n->in[1] = n->in[0];
        n->n_in = 2;
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        double e = oplab_gradcheck(&lab, x, 1e-2f);
        CHECK(e < 1e-3, "%s(x, x) gradient mismatch %g", ops[op], e);
        oplab_free(&lab);
    }
}

/* A big per-channel bias add runs the parallel paths. */
static void test_large(void)
{
    cv_shape xs = {4, {2, 16, 64, 64}}, bs = {3, {16, 1, 1}};
    size_t n = cv_shape_numel(&xs);
    float *x = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float)), bias[16];
    test_seed(8);
    test_fill(x, n, -1, 1);
    test_fill(bias, 16, -1, 1);
    for (size_t k = 0; k < n; k++)
        ref[k] = x[k] * bias[(k / 4096) % 16];
    oplab lab;
    oplab_begin(&lab, "Mul", &xs);
    oplab_const(&lab, &bs, bias);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    double d = test_max_abs_diff(lab.y, ref, n);
    printf("    Mul [2,16,64,64] * [16,1,1]: max abs diff %.3g\n", d);
    CHECK(d == 0, "forward differs by %g", d);
    /* backward: d x = w * bias */
    float *w = malloc(n * sizeof(float));
    test_fill(w, n, -1, 1);
    const float *g;
    REQUIRE(cv_run_backward(lab.run, 0, w, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
    for (size_t k = 0; k < n; k++)
        ref[k] = w[k] * bias[(k / 4096) % 16];
    d = test_max_abs_diff(g, ref, n);
    printf("    backward max abs diff %.3g\n", d);
    CHECK(d == 0, "backward differs by %g", d);
    oplab_free(&lab);
    free(x);
    free(ref);
    free(w);
}

/* int64: broadcasting, truncating division, division by zero gives 0. */
static void test_int64(void)
{
    cv_shape as = {2, {2, 3}}, bs = {1, {3}};
    int64_t a[6] = {7, -7, 9, 100, 5, INT64_MAX}, b[3] = {2, 2, 0};
    int64_t want[4][6] = {
        {9, -5, 9, 102, 7, INT64_MAX},
        {5, -9, 9, 98, 3, INT64_MAX},
        {14, -14, 0, 200, 10, 0},
        {3, -3, 0, 50, 2, 0},
    };
    for (int op = 0; op < 4; op++) {
        oplab lab;
        oplab_begin(&lab, ops[op], &as);
        oplab_const_i64(&lab, &as, a);
        oplab_const_i64(&lab, &bs, b);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[6] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        REQUIRE(y->dtype == CV_I64, "dtype %d", y->dtype);
        double d = opcase_i64_diff(y->i, want[op], 6);
        printf("    int64 %s: %lld %lld %lld %lld %lld %lld (max diff %g)\n", ops[op], (long long)y->i[0],
               (long long)y->i[1], (long long)y->i[2], (long long)y->i[3], (long long)y->i[4], (long long)y->i[5], d);
        CHECK(d == 0, "int64 %s differs", ops[op]);
        oplab_free(&lab);
    }
}

/* What exporters emit for `x.size(1) // 2`: Shape -> Gather -> Div, folded at plan time. */
static void test_shape_arith(void)
{
    cv_shape xs = {4, {1, 6, 2, 2}}, sc = {0, {0}};
    oplab lab;
    oplab_begin(&lab, "Shape", &xs);
    cv_model *m = lab.m;
    const int64_t k1 = 1, k2 = 2;
    int shp = cv_model_value(m, "shp", NULL), one = nb_model_const(m, "one", CV_I64, &sc, &k1, NULL);
    int two = nb_model_const(m, "two", CV_I64, &sc, &k2, NULL), c = cv_model_value(m, "c", NULL);
    m->nodes[lab.node].out[0] = shp;
    int gin[2] = {shp, one}, din[2] = {c, two}, y = m->outputs[0];
    cv_model_add_node(m, "g", "Gather", gin, 2, &c, 1, NULL);
    cv_model_add_node(m, "d", "Div", din, 2, &y, 1, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float x[24] = {0};
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *t = opcase_out(&lab, 0);
    printf("    x.size(1) // 2 = %lld (shape %d-D)\n", (long long)t->i[0], t->shape.ndim);
    CHECK(t->dtype == CV_I64 && t->shape.ndim == 0 && t->i[0] == 3, "wrong result");
    oplab_free(&lab);
}

static void test_errors(void)
{
    cv_shape as = {2, {2, 3}}, bs = {1, {4}};
    float a[6] = {0}, b[4] = {0};
    oplab lab;
    oplab_begin(&lab, "Add", &as);
    oplab_const(&lab, &bs, b);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, a);
    printf("    no broadcast: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_SHAPE && strstr(lab.err.msg, "[2, 3]") && strstr(lab.err.msg, "[4]"), "got %d", st);
    oplab_free(&lab);

    int64_t bi[4] = {0};
    oplab_begin(&lab, "Mul", &as);
    oplab_const_i64(&lab, &bs, bi);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    st = oplab_forward(&lab, a);
    printf("    mixed types: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);

    oplab_begin(&lab, "Add", &as);
    oplab_const(&lab, &bs, b);
    cv_node_set_int(lab.m, lab.node, "broadcast", 1, NULL);
    cv_node_set_int(lab.m, lab.node, "axis", 1, NULL);
    st = oplab_end(&lab);
    printf("    legacy broadcast: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_UNSUPPORTED, "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_float);
    RUN(test_same_input);
    RUN(test_large);
    RUN(test_int64);
    RUN(test_shape_arith);
    RUN(test_errors);
    return test_summary("elementwise");
}
