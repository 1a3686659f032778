/* Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout: output shapes for
 * every attribute/opset form, data copied unchanged (float and int64),
 * gradients passed through, and the errors for bad or non-constant shapes. */
#include "lib/opcase.h"

static const cv_shape xs = {4, {2, 3, 4, 5}};
#define NX 120

/* Run op on x (xs or the given shape); check shape and identical data. */
static void expect_shape(oplab *lab, const float *x, const cv_shape *want, const char *what)
{
    cv_status st = oplab_forward(lab, x);
    CHECK(st == CV_OK, "%s: %s", what, lab->err.msg);
    if (st != CV_OK)
        return;
    char a[64], b[64];
    printf("    %s -> %s\n", what, cv_shape_str(&lab->y_shape, a, sizeof a));
    CHECK(cv_shape_equal(&lab->y_shape, want), "%s: got %s, want %s", what, a, cv_shape_str(want, b, sizeof b));
    size_t n = cv_shape_numel(&lab->x_shape);
    CHECK(lab->y_numel == n && test_max_abs_diff(lab->y, x, n) == 0, "%s: data changed", what);
}

static void test_flatten(void)
{
    float x[NX];
    test_seed(1);
    test_fill(x, NX, -1, 1);
    const struct { int has; int64_t axis; cv_shape want; } cases[] = {
        {0, 0, {2, {2, 60}}}, {1, 0, {2, {1, 120}}}, {1, 2, {2, {6, 20}}},
        {1, 4, {2, {120, 1}}}, {1, -1, {2, {24, 5}}}, {1, -4, {2, {1, 120}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oplab lab;
        oplab_begin(&lab, "Flatten", &xs);
        if (cases[c].has)
            cv_node_set_int(lab.m, lab.node, "axis", cases[c].axis, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        char what[64];
        snprintf(what, sizeof what, "Flatten axis %lld%s", (long long)(cases[c].has ? cases[c].axis : 1),
                 cases[c].has ? "" : " (default)");
        expect_shape(&lab, x, &cases[c].want, what);
        if (c == 2)
            CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
        oplab_free(&lab);
    }
    oplab lab;
    oplab_begin(&lab, "Flatten", &xs);
    cv_node_set_int(lab.m, lab.node, "axis", 5, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, x);
    printf("    axis 5: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);
}

static void test_reshape(void)
{
    float x[NX];
    test_seed(2);
    test_fill(x, NX, -1, 1);
    const struct { int n; int64_t shape[5]; int allowzero; cv_shape want; } cases[] = {
        {2, {6, 20}, 0, {2, {6, 20}}},
        {2, {0, -1}, 0, {2, {2, 60}}},          /* 0 copies, -1 infers */
        {3, {-1, 4, 5}, 0, {3, {6, 4, 5}}},
        {4, {0, 0, 0, 0}, 0, {4, {2, 3, 4, 5}}},
        {1, {-1}, 0, {1, {120}}},
        {5, {1, 2, 3, 20, 1}, 1, {5, {1, 2, 3, 20, 1}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cv_shape ss = {1, {cases[c].n}};
        oplab lab;
        oplab_begin(&lab, "Reshape", &xs);
        oplab_const_i64(&lab, &ss, cases[c].shape);
        if (cases[c].allowzero)
            cv_node_set_int(lab.m, lab.node, "allowzero", 1, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        char what[64];
        snprintf(what, sizeof what, "Reshape case %zu", c);
        expect_shape(&lab, x, &cases[c].want, what);
        if (c == 1)
            CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
        oplab_free(&lab);
    }
    /* allowzero=1: a 0 is a real zero-size dim (input must be empty) */
    {
        cv_shape ss = {1, {3}};
        int64_t shape[3] = {2, 0, 7};
        oplab lab;
        oplab_begin(&lab, "Reshape", &xs);
        oplab_const_i64(&lab, &ss, shape);
        cv_node_set_int(lab.m, lab.node, "allowzero", 1, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, x);
        printf("    allowzero with a non-empty input: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_SHAPE, "got %d", st);
        oplab_free(&lab);
    }
    /* int64 data */
    {
        cv_shape ds = {1, {6}}, ss = {1, {2}};
        int64_t data[6] = {1, 2, 3, 4, 5, 6}, shape[2] = {3, -1};
        oplab lab;
        oplab_begin(&lab, "Reshape", &ds);
        oplab_const_i64(&lab, &ds, data);
        oplab_const_i64(&lab, &ss, shape);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[6] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        cv_shape want = {2, {3, 2}};
        CHECK(y->dtype == CV_I64 && cv_shape_equal(&y->shape, &want) && opcase_i64_diff(y->i, data, 6) == 0,
              "int64 reshape wrong");
        oplab_free(&lab);
    }
    /* errors: element count, two -1, non-constant shape */
    const struct { int n; int64_t shape[3]; cv_status st; } bad[] = {
        {2, {7, -1}, CV_ERR_SHAPE}, {2, {5, 5}, CV_ERR_SHAPE}, {2, {-1, -1}, CV_ERR_INVALID}, {2, {-2, 60}, CV_ERR_INVALID},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        cv_shape ss = {1, {bad[c].n}};
        oplab lab;
        oplab_begin(&lab, "Reshape", &xs);
        oplab_const_i64(&lab, &ss, bad[c].shape);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, x);
        printf("    bad shape %zu: %s\n", c, lab.err.msg);
        CHECK(st == bad[c].st, "got %d, want %d", st, bad[c].st);
        oplab_free(&lab);
    }
    {
        cv_shape s1 = {1, {2}};
        float d[2] = {0};
        oplab lab;
        oplab_begin(&lab, "Reshape", &s1);
        oplab_const(&lab, &s1, d);
        opcase_swap(&lab, 0, 1); /* Reshape(const, shape = x) */
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, d);
        printf("    runtime shape: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_UNSUPPORTED && strstr(lab.err.msg, "'shape' input must be constant"), "got %d", st);
        oplab_free(&lab);
    }
}

static void test_squeeze_unsqueeze(void)
{
    cv_shape s = {5, {1, 3, 1, 4, 1}};
    float x[12];
    test_seed(3);
    test_fill(x, 12, -1, 1);
    const struct { const char *op; int opset; int n; int64_t axes[3]; cv_shape want; } cases[] = {
        {"Squeeze", 11, 1, {0}, {4, {3, 1, 4, 1}}},
        {"Squeeze", 11, 2, {-1, 2}, {3, {1, 3, 4}}},
        {"Squeeze", 13, 1, {0}, {4, {3, 1, 4, 1}}},
        {"Squeeze", 13, 3, {0, -3, 4}, {2, {3, 4}}},
        {"Squeeze", 13, -1, {0}, {2, {3, 4}}},        /* no axes: all ones */
        {"Squeeze", 11, -1, {0}, {2, {3, 4}}},
        {"Unsqueeze", 11, 1, {0}, {6, {1, 1, 3, 1, 4, 1}}},
        {"Unsqueeze", 11, 2, {1, -1}, {7, {1, 1, 3, 1, 4, 1, 1}}},
        {"Unsqueeze", 13, 2, {6, 0}, {7, {1, 1, 3, 1, 4, 1, 1}}},
        {"Unsqueeze", 13, 1, {-3}, {6, {1, 3, 1, 1, 4, 1}}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oplab lab;
        oplab_begin(&lab, cases[c].op, &s);
        lab.m->opset = cases[c].opset;
        if (cases[c].n >= 0) {
            if (cases[c].opset >= 13) {
                cv_shape as = {1, {cases[c].n}};
                oplab_const_i64(&lab, &as, cases[c].axes);
            } else {
                cv_node_set_ints(lab.m, lab.node, "axes", cases[c].axes, cases[c].n, NULL);
            }
        }
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        char what[64];
        snprintf(what, sizeof what, "%s opset %d case %zu", cases[c].op, cases[c].opset, c);
        expect_shape(&lab, x, &cases[c].want, what);
        if (c == 3 || c == 8)
            CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
        oplab_free(&lab);
    }
    /* Squeeze of a dim that is not 1; Unsqueeze past 8 dims; repeated axis */
    const struct { const char *op; int n; int64_t axes[4]; cv_status st; } bad[] = {
        {"Squeeze", 1, {1}, CV_ERR_SHAPE},
        {"Squeeze", 1, {5}, CV_ERR_INVALID},
        {"Unsqueeze", 4, {0, 1, 2, 3}, CV_ERR_UNSUPPORTED},
        {"Unsqueeze", 2, {0, 0}, CV_ERR_INVALID},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        oplab lab;
        oplab_begin(&lab, bad[c].op, &s);
        lab.m->opset = 13;
        cv_shape as = {1, {bad[c].n}};
        oplab_const_i64(&lab, &as, bad[c].axes);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, x);
        printf("    bad %s: %s\n", bad[c].op, lab.err.msg);
        CHECK(st == bad[c].st, "got %d, want %d", st, bad[c].st);
        oplab_free(&lab);
    }
    /* int64 scalar -> [1], as exporters do before Concat */
    {
        cv_shape sc = {0, {0}}, as = {1, {1}};
        int64_t v = 42, ax = 0;
        oplab lab;
        oplab_begin(&lab, "Unsqueeze", &sc);
        lab.m->opset = 13;
        oplab_const_i64(&lab, &sc, &v);
        oplab_const_i64(&lab, &as, &ax);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy = 0;
        REQUIRE(oplab_forward(&lab, &dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        CHECK(y->dtype == CV_I64 && y->shape.ndim == 1 && y->shape.d[0] == 1 && y->i[0] == 42, "int64 unsqueeze");
        oplab_free(&lab);
    }
}

static void test_identity_dropout(void)
{
    float x[NX];
    test_seed(4);
    test_fill(x, NX, -1, 1);
    oplab lab;
    oplab_begin(&lab, "Identity", &xs);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    expect_shape(&lab, x, &xs, "Identity");
    CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
    oplab_free(&lab);

    /* opset 7: ratio attribute, float mask; opset 12: int64 (bool) mask */
    for (int v = 0; v < 2; v++) {
        oplab_begin(&lab, "Dropout", &xs);
        lab.m->opset = v ? 12 : 7;
        if (v) {
            cv_shape sc = {0, {0}};
            float ratio = 0.3f;
            int64_t train = 0;
            oplab_const(&lab, &sc, &ratio);
            oplab_const_i64(&lab, &sc, &train);
        } else {
            cv_node_set_float(lab.m, lab.node, "ratio", 0.3f, NULL);
        }
        opcase_add_output(&lab, "mask");
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        expect_shape(&lab, x, &xs, v ? "Dropout opset 12" : "Dropout opset 7");
        const cv_tensor *mask = opcase_out(&lab, 1);
        REQUIRE(mask, "no mask output");
        bool ones = cv_shape_equal(&mask->shape, &xs);
        for (int k = 0; ones && k < NX; k++)
            ones = v ? mask->i[k] == 1 : mask->f[k] == 1.0f;
        CHECK(mask->dtype == (v ? CV_I64 : CV_F32) && ones, "mask should be all ones of type %s", v ? "int64" : "float");
        CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
        oplab_free(&lab);
    }
    /* training_mode = true is refused */
    oplab_begin(&lab, "Dropout", &xs);
    lab.m->opset = 13;
    cv_shape sc = {0, {0}};
    int64_t train = 1;
    oplab_none(&lab);
    oplab_const_i64(&lab, &sc, &train);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, x);
    printf("    training_mode: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_UNSUPPORTED, "got %d", st);
    oplab_free(&lab);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape: `x.view(x.size(0), -1)`. */
static void test_view_chain(void)
{
    float x[NX];
    test_seed(5);
    test_fill(x, NX, -1, 1);
    oplab lab;
    oplab_begin(&lab, "Reshape", &xs); /* node 0: Reshape(x, target) -> y */
    cv_model *m = lab.m;
    lab.m->opset = 13;
    int xin = m->input;
    int shp = cv_model_value(m, "shp", NULL), n0 = cv_model_value(m, "n0", NULL), n1 = cv_model_value(m, "n1", NULL);
    int target = cv_model_value(m, "target", NULL);
    cv_shape sc = {0, {0}}, s1 = {1, {1}};
    int64_t zero = 0, minus1 = -1;
    int k0 = opcase_value(&lab, CV_I64, &sc, &zero), ax = opcase_value(&lab, CV_I64, &s1, &zero);
    int neg = opcase_value(&lab, CV_I64, &s1, &minus1);
    cv_node *r = &m->nodes[lab.node];
    r->in = realloc(r->in, 2 * sizeof(int));
    r->in[1] = target;
    r->n_in = 2;
    int g_in[2] = {shp, k0}, u_in[2] = {n0, ax}, c_in[2] = {n1, neg};
    cv_model_add_node(m, "shape", "Shape", &xin, 1, &shp, 1, NULL);
    cv_model_add_node(m, "gather", "Gather", g_in, 2, &n0, 1, NULL);
    cv_model_add_node(m, "unsq", "Unsqueeze", u_in, 2, &n1, 1, NULL);
    int cat = cv_model_add_node(m, "cat", "Concat", c_in, 2, &target, 1, NULL);
    cv_node_set_int(m, cat, "axis", 0, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_shape want = {2, {2, 60}};
    expect_shape(&lab, x, &want, "x.view(x.size(0), -1)");
    /* the gradient flows through the Reshape (the last node after sorting) */
    CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_flatten);
    RUN(test_reshape);
    RUN(test_squeeze_unsqueeze);
    RUN(test_identity_dropout);
    RUN(test_view_chain);
    return test_summary("reshape");
}
