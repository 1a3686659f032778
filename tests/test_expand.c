/* Expand, Tile, Where and the comparisons: forward against naive
 * index-by-index references, gradients by finite differences, int64 data,
 * the pattern PyTorch exports for x.expand(-1, ...), and the errors. */
#include "lib/opcase.h"
#include <math.h>
#include <string.h>

/* ---- Expand ------------------------------------------------------------------- */

typedef struct {
    cv_shape x;
    int n;
    int64_t shape[6];
    cv_shape want;
} expand_case;

static const expand_case expand_cases[] = {
    {{2, {3, 1}}, 3, {2, 1, 6}, {3, {2, 3, 6}}},        /* ONNX's dim_changed example */
    {{2, {3, 1}}, 2, {3, 4}, {2, {3, 4}}},              /* dim_unchanged */
    {{3, {1, 3, 1}}, 2, {1, 3}, {3, {1, 3, 3}}},        /* shape of lower rank, 1s keep x's dims */
    {{4, {1, 3, 1, 1}}, 4, {2, 3, 4, 5}, {4, {2, 3, 4, 5}}}, /* a per-channel vector to a feature map */
    {{1, {5}}, 3, {2, 3, 1}, {3, {2, 3, 5}}},
    {{2, {2, 3}}, 2, {2, 3}, {2, {2, 3}}},              /* identity */
    {{0, {0}}, 2, {3, 2}, {2, {3, 2}}},                 /* a scalar */
};

static void test_expand(void)
{
    static float x[256], ref[256];
    for (size_t c = 0; c < sizeof expand_cases / sizeof expand_cases[0]; c++) {
        const expand_case *ec = &expand_cases[c];
        test_seed(600 + c);
        test_fill(x, cv_shape_numel(&ec->x), -2, 2);
        size_t ny = cv_shape_numel(&ec->want);
        for (size_t j = 0; j < ny; j++) {
            int64_t idx[CV_MAX_DIMS];
            opcase_unravel(&ec->want, j, idx);
            ref[j] = x[opcase_bcast_offset(&ec->x, &ec->want, idx)];
        }
        oplab lab;
        oplab_begin(&lab, "Expand", &ec->x);
        cv_shape ss = {1, {ec->n}};
        oplab_const_i64(&lab, &ss, ec->shape);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        char s1[64], s2[64];
        CHECK(cv_shape_equal(&lab.y_shape, &ec->want), "shape %s, want %s", cv_shape_str(&lab.y_shape, s1, sizeof s1),
              cv_shape_str(&ec->want, s2, sizeof s2));
        double d = test_max_abs_diff(lab.y, ref, ny);
        printf("    Expand %s -> %s: max abs diff %.3g\n", cv_shape_str(&ec->x, s1, sizeof s1),
               cv_shape_str(&ec->want, s2, sizeof s2), d);
        CHECK(d == 0, "forward differs by %g", d);
        double e = oplab_gradcheck(&lab, x, 1e-2f);
        CHECK(e < 1e-3, "gradient mismatch %g", e);
        oplab_free(&lab);
    }
}

/* What torch exports for x.expand(2, -1, -1): Expand(x, Where(Equal(s, -1), 1, s)),
 * all folded at plan time. */
static void test_expand_torch_pattern(void)
{
    cv_shape xs = {3, {1, 3, 4}}, ss = {1, {3}};
    int64_t s[3] = {2, -1, -1}, neg[3] = {-1, -1, -1}, ones[3] = {1, 1, 1};
    oplab lab;
    oplab_begin(&lab, "Expand", &xs);
    cv_model *m = lab.m;
    int vs = opcase_value(&lab, CV_I64, &ss, s), vneg = opcase_value(&lab, CV_I64, &ss, neg);
    int vones = opcase_value(&lab, CV_I64, &ss, ones);
    int eq = cv_model_value(m, "eq", NULL), shape = cv_model_value(m, "shape", NULL);
    int ein[2] = {vs, vneg}, win[3] = {eq, vones, vs};
    /* the Equal and Where nodes must come first: finalize sorts them */
    cv_model_add_node(m, "eq", "Equal", ein, 2, &eq, 1, NULL);
    cv_model_add_node(m, "where", "Where", win, 3, &shape, 1, NULL);
    cv_node *n = &m->nodes[lab.node];
    n->in = realloc(n->in, 2 * sizeof(int));
    n->in[1] = shape;
    n->n_in = 2;
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float x[12];
    test_seed(7);
    test_fill(x, 12, -1, 1);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    char b[64];
    printf("    x [1, 3, 4] .expand(2, -1, -1) -> %s\n", cv_shape_str(&lab.y_shape, b, sizeof b));
    cv_shape want = {3, {2, 3, 4}};
    CHECK(cv_shape_equal(&lab.y_shape, &want), "wrong shape");
    CHECK(lab.y_numel == 24 && memcmp(lab.y, x, sizeof x) == 0 && memcmp(lab.y + 12, x, sizeof x) == 0, "values");
    oplab_free(&lab);
}

/* ---- Tile --------------------------------------------------------------------------- */

typedef struct {
    cv_shape x;
    int64_t reps[4];
} tile_case;

static const tile_case tile_cases[] = {
    {{2, {2, 2}}, {2, 2}},          /* ONNX's precomputed example */
    {{4, {1, 1, 1, 2}}, {1, 2, 3, 4}},
    {{3, {2, 3, 4}}, {1, 1, 1}},
    {{3, {2, 3, 4}}, {3, 1, 2}},
    {{3, {2, 1, 3}}, {1, 0, 2}},    /* zero repeats: empty */
    {{1, {5}}, {3}},
};

static void test_tile(void)
{
    static float x[256], ref[512];
    for (size_t c = 0; c < sizeof tile_cases / sizeof tile_cases[0]; c++) {
        const tile_case *tc = &tile_cases[c];
        cv_shape ys = tc->x;
        for (int k = 0; k < ys.ndim; k++)
            ys.d[k] *= tc->reps[k];
        test_seed(700 + c);
        test_fill(x, cv_shape_numel(&tc->x), -2, 2);
        size_t ny = cv_shape_numel(&ys);
        for (size_t j = 0; j < ny; j++) {
            int64_t idx[CV_MAX_DIMS];
            opcase_unravel(&ys, j, idx);
            size_t off = 0;
            for (int k = 0; k < ys.ndim; k++)
                off = off * (size_t)tc->x.d[k] + (size_t)(idx[k] % tc->x.d[k]);
            ref[j] = x[off];
        }
        oplab lab;
        oplab_begin(&lab, "Tile", &tc->x);
        cv_shape rs = {1, {tc->x.ndim}};
        oplab_const_i64(&lab, &rs, tc->reps);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        char s1[64], s2[64];
        CHECK(cv_shape_equal(&lab.y_shape, &ys), "shape %s, want %s", cv_shape_str(&lab.y_shape, s1, sizeof s1),
              cv_shape_str(&ys, s2, sizeof s2));
        double d = ny ? test_max_abs_diff(lab.y, ref, ny) : 0;
        printf("    Tile %s -> %s: max abs diff %.3g\n", cv_shape_str(&tc->x, s1, sizeof s1), cv_shape_str(&ys, s2, sizeof s2),
               d);
        CHECK(d == 0, "forward differs by %g", d);
        if (ny) {
            double e = oplab_gradcheck(&lab, x, 1e-2f);
            CHECK(e < 1e-3, "gradient mismatch %g", e);
        }
        oplab_free(&lab);
    }
    /* int64 */
    cv_shape s = {1, {2}}, rs = {1, {1}}, xs = {1, {1}};
    int64_t v[2] = {7, -3}, r[1] = {3};
    oplab lab;
    oplab_begin(&lab, "Tile", &xs);
    oplab_const_i64(&lab, &s, v);
    oplab_const_i64(&lab, &rs, r);
    opcase_drop_x(&lab);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float dummy[1] = {0};
    REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *y = opcase_out(&lab, 0);
    int64_t want[6] = {7, -3, 7, -3, 7, -3};
    CHECK(y->dtype == CV_I64 && cv_shape_numel(&y->shape) == 6 && opcase_i64_diff(y->i, want, 6) == 0, "int64 Tile");
    oplab_free(&lab);
}

/* ---- Where -------------------------------------------------------------------------- */

static void test_where(void)
{
    const cv_shape cs = {3, {2, 1, 4}}, as = {2, {3, 4}}, bs = {3, {2, 3, 1}}, ys = {3, {2, 3, 4}};
    int64_t cond[8] = {1, 0, 0, 1, 0, 1, 1, 0};
    float a[12], b[6], ref[24];
    test_seed(800);
    test_fill(a, 12, -2, 2);
    test_fill(b, 6, -2, 2);
    for (size_t j = 0; j < 24; j++) {
        int64_t idx[CV_MAX_DIMS];
        opcase_unravel(&ys, j, idx);
        ref[j] = cond[opcase_bcast_offset(&cs, &ys, idx)] ? a[opcase_bcast_offset(&as, &ys, idx)]
                                                           : b[opcase_bcast_offset(&bs, &ys, idx)];
    }
    for (int slot = 1; slot <= 2; slot++) { /* runtime X, then runtime Y */
        oplab lab;
        oplab_begin(&lab, "Where", slot == 1 ? &as : &bs);
        oplab_const_i64(&lab, &cs, cond);
        oplab_const(&lab, slot == 1 ? &bs : &as, slot == 1 ? b : a);
        opcase_swap(&lab, 0, 1); /* [cond, x, other] */
        if (slot == 2)
            opcase_swap(&lab, 1, 2);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, slot == 1 ? a : b) == CV_OK, "%s", lab.err.msg);
        CHECK(cv_shape_equal(&lab.y_shape, &ys), "bad shape");
        double d = test_max_abs_diff(lab.y, ref, 24);
        printf("    Where [2,1,4] ? [3,4] : [2,3,1] (runtime %s): max abs diff %.3g\n", slot == 1 ? "X" : "Y", d);
        CHECK(d == 0, "forward differs by %g", d);
        double e = oplab_gradcheck(&lab, slot == 1 ? a : b, 1e-2f);
        CHECK(e < 1e-3, "gradient mismatch %g", e);
        oplab_free(&lab);
    }
}

/* torch.where(x > 0, x, c): the condition is computed from the input at
 * run time, and backward needs it (the executor keeps runtime int64
 * values when it plans gradients). */
static void test_where_runtime_condition(void)
{
    cv_shape xs = {2, {3, 4}}, sc = {0, {0}};
    float x[12], c[12], zero = 0, ref[12];
    test_seed(810);
    test_fill(x, 12, -2, 2);
    test_fill(c, 12, -2, 2);
    const float kink = 0;
    opcase_avoid(x, 12, &kink, 1, 0.05f);
    oplab lab;
    oplab_begin(&lab, "Greater", &xs);
    oplab_const(&lab, &sc, &zero);
    cv_model *m = lab.m;
    int cond = cv_model_value(m, "cond", NULL), y = m->outputs[0];
    m->nodes[lab.node].out[0] = cond;
    int cv = opcase_value(&lab, CV_F32, &xs, c);
    int win[3] = {cond, m->input, cv};
    cv_model_add_node(m, "where", "Where", win, 3, &y, 1, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    for (int k = 0; k < 12; k++)
        ref[k] = x[k] > 0 ? x[k] : c[k];
    double d = test_max_abs_diff(lab.y, ref, 12);
    printf("    Where(Greater(x, 0), x, c): max abs diff %.3g\n", d);
    CHECK(d == 0, "forward differs by %g", d);
    double e = oplab_gradcheck(&lab, x, 1e-2f);
    CHECK(e < 1e-3, "gradient mismatch %g", e);
    oplab_free(&lab);
}

/* ---- comparisons --------------------------------------------------------------------- */

static void test_compare(void)
{
    static const char *const ops[] = {"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"};
    const cv_shape as = {2, {2, 3}}, bs = {1, {3}};
    float a[6] = {1.0f, 2.0f, NAN, -1.0f, 5.0f, 0.0f}, b[3] = {1.0f, 3.0f, NAN};
    int64_t ai[6] = {1, 2, 7, -1, 5, 0}, bi[3] = {1, 3, 7};
    int64_t want[5][6] = {
        {1, 0, 0, 0, 0, 0}, /* NaN compares false */
        {0, 0, 0, 0, 1, 0},
        {0, 1, 0, 1, 0, 0},
        {1, 0, 0, 0, 1, 0},
        {1, 1, 0, 1, 0, 0},
    };
    int64_t want_i[5][6] = {
        {1, 0, 1, 0, 0, 0},
        {0, 0, 0, 0, 1, 0},
        {0, 1, 0, 1, 0, 1},
        {1, 0, 1, 0, 1, 0},
        {1, 1, 1, 1, 0, 1},
    };
    for (int op = 0; op < 5; op++)
        for (int ints = 0; ints < 2; ints++) {
            oplab lab;
            oplab_begin(&lab, ops[op], &as);
            if (ints) {
                oplab_const_i64(&lab, &as, ai);
                oplab_const_i64(&lab, &bs, bi);
                opcase_drop_x(&lab);
            } else {
                oplab_const(&lab, &bs, b); /* runtime float x against a constant */
            }
            REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
            REQUIRE(oplab_forward(&lab, a) == CV_OK, "%s", lab.err.msg);
            const cv_tensor *y = opcase_out(&lab, 0);
            REQUIRE(y->dtype == CV_I64 && cv_shape_numel(&y->shape) == 6, "bool output");
            double d = opcase_i64_diff(y->i, ints ? want_i[op] : want[op], 6);
            printf("    %s (%s): %lld %lld %lld %lld %lld %lld (diff %g)\n", ops[op], ints ? "int64" : "float",
                   (long long)y->i[0], (long long)y->i[1], (long long)y->i[2], (long long)y->i[3], (long long)y->i[4],
                   (long long)y->i[5], d);
            CHECK(d == 0, "%s differs", ops[op]);
            oplab_free(&lab);
        }
}

/* ---- errors -------------------------------------------------------------------------- */

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
    cv_shape xs = {2, {3, 2}}, s2 = {1, {2}}, s3 = {1, {3}};
    int64_t bad[2] = {3, 4}, neg[2] = {2, -1}, reps3[3] = {1, 2, 3};
    float f2[2] = {3, 4}, f6[6] = {0};
    oplab lab;
    oplab_begin(&lab, "Expand", &xs);
    oplab_const_i64(&lab, &s2, bad);
    expect_fail("Expand [3, 2] to [3, 4]", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "Expand", &xs);
    oplab_const(&lab, &s2, f2);
    expect_fail("Expand with a float shape", &lab, CV_ERR_INVALID);
    oplab_begin(&lab, "Tile", &xs);
    oplab_const_i64(&lab, &s3, reps3);
    expect_fail("Tile repeats of the wrong length", &lab, CV_ERR_SHAPE);
    oplab_begin(&lab, "Tile", &xs);
    oplab_const_i64(&lab, &s2, neg);
    expect_fail("Tile negative repeats", &lab, CV_ERR_INVALID);
    oplab_begin(&lab, "Tile", &xs);
    oplab_const_i64(&lab, &s2, bad);
    oplab_const_i64(&lab, &s2, bad);
    expect_fail("Tile opset-1 form", &lab, CV_ERR_UNSUPPORTED);
    oplab_begin(&lab, "Where", &xs);
    oplab_const(&lab, &xs, f6);
    oplab_const(&lab, &xs, f6);
    expect_fail("Where with a float condition", &lab, CV_ERR_INVALID);
    oplab_begin(&lab, "Greater", &xs);
    oplab_const_i64(&lab, &s2, bad);
    expect_fail("Greater of float and int64", &lab, CV_ERR_INVALID);

    /* a shape computed from the input: Cast(x) -> Expand's shape */
    cv_shape cs = {1, {2}}, ds = {1, {1}};
    oplab_begin(&lab, "Cast", &cs);
    cv_node_set_int(lab.m, lab.node, "to", 7, NULL);
    cv_model *m = lab.m;
    const float zero = 0.0f;
    int shp = cv_model_value(m, "shp", NULL), d = nb_model_const(m, "data", CV_F32, &ds, &zero, NULL);
    int y = m->outputs[0];
    m->nodes[lab.node].out[0] = shp;
    int ein[2] = {d, shp};
    cv_model_add_node(m, "expand", "Expand", ein, 2, &y, 1, NULL);
    expect_fail("Expand to a shape computed from the input", &lab, CV_ERR_UNSUPPORTED);
}

int main(void)
{
    RUN(test_expand);
    RUN(test_expand_torch_pattern);
    RUN(test_tile);
    RUN(test_where);
    RUN(test_where_runtime_condition);
    RUN(test_compare);
    RUN(test_errors);
    return test_summary("expand");
}
