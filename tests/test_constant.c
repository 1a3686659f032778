/* Constant, Shape, Size, Gather, Slice, ConstantOfShape, Cast: results
 * against hand-computed or naive references, float and int64 paths, opset
 * variants, gradients for Gather/Slice/Cast, and the errors. */
#include "lib/opcase.h"
#include <math.h>

static const cv_shape xs = {4, {2, 3, 4, 5}};
#define NX 120

/* ---- Constant -------------------------------------------------------------- */

static void test_constant(void)
{
    cv_shape vs = {2, {2, 2}};
    float tv[4] = {1.5f, -2, 3, 4.25f}, fl[3] = {0.5f, 1, 2};
    int64_t il[2] = {7, -9};
    for (int kind = 0; kind < 5; kind++) {
        oplab lab;
        oplab_begin(&lab, "Constant", &vs);
        opcase_drop_x(&lab);
        lab.m->opset = 13;
        switch (kind) {
        case 0: opcase_set_tensor_attr(&lab, "value", opcase_value(&lab, CV_F32, &vs, tv)); break;
        case 1: cv_node_set_float(lab.m, lab.node, "value_float", 2.5f, NULL); break;
        case 2: cv_node_set_floats(lab.m, lab.node, "value_floats", fl, 3, NULL); break;
        case 3: cv_node_set_int(lab.m, lab.node, "value_int", -3, NULL); break;
        case 4: cv_node_set_ints(lab.m, lab.node, "value_ints", il, 2, NULL); break;
        }
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, tv) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        bool ok = false;
        switch (kind) {
        case 0: ok = y->dtype == CV_F32 && cv_shape_equal(&y->shape, &vs) && test_max_abs_diff(y->f, tv, 4) == 0; break;
        case 1: ok = y->dtype == CV_F32 && y->shape.ndim == 0 && y->f[0] == 2.5f; break;
        case 2: ok = y->dtype == CV_F32 && y->shape.ndim == 1 && y->shape.d[0] == 3 && test_max_abs_diff(y->f, fl, 3) == 0; break;
        case 3: ok = y->dtype == CV_I64 && y->shape.ndim == 0 && y->i[0] == -3; break;
        case 4: ok = y->dtype == CV_I64 && y->shape.d[0] == 2 && opcase_i64_diff(y->i, il, 2) == 0; break;
        }
        printf("    Constant kind %d: %s\n", kind, ok ? "ok" : "WRONG");
        CHECK(ok, "Constant kind %d wrong", kind);
        oplab_free(&lab);
    }
    oplab lab;
    oplab_begin(&lab, "Constant", &vs);
    opcase_drop_x(&lab);
    cv_node_set_string(lab.m, lab.node, "value_string", "hi", NULL);
    cv_status st = oplab_end(&lab);
    printf("    value_string: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_UNSUPPORTED, "got %d", st);
    oplab_free(&lab);
}

/* ---- Shape / Size --------------------------------------------------------------- */

static void test_shape_size(void)
{
    float x[NX] = {0};
    const struct { int has_s, has_e; int64_t s, e; int64_t want[4]; int n; } cases[] = {
        {0, 0, 0, 0, {2, 3, 4, 5}, 4}, {1, 0, 1, 0, {3, 4, 5}, 3}, {1, 1, 1, 3, {3, 4}, 2},
        {1, 1, -2, -1, {4}, 1}, {1, 1, -10, 10, {2, 3, 4, 5}, 4}, {1, 1, 3, 1, {0}, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oplab lab;
        oplab_begin(&lab, "Shape", &xs);
        lab.m->opset = 15;
        if (cases[c].has_s)
            cv_node_set_int(lab.m, lab.node, "start", cases[c].s, NULL);
        if (cases[c].has_e)
            cv_node_set_int(lab.m, lab.node, "end", cases[c].e, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        bool ok = y->dtype == CV_I64 && y->shape.ndim == 1 && y->shape.d[0] == cases[c].n &&
                  opcase_i64_diff(y->i, cases[c].want, (size_t)cases[c].n) == 0;
        printf("    Shape start %lld end %lld: %d values %s\n", (long long)cases[c].s, (long long)cases[c].e,
               (int)y->shape.d[0], ok ? "ok" : "WRONG");
        CHECK(ok, "Shape case %zu wrong", c);
        oplab_free(&lab);
    }
    oplab lab;
    oplab_begin(&lab, "Size", &xs);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *y = opcase_out(&lab, 0);
    CHECK(y->dtype == CV_I64 && y->shape.ndim == 0 && y->i[0] == NX, "Size wrong");
    oplab_free(&lab);
}

/* ---- Gather ---------------------------------------------------------------------- */

static void ref_gather(const cv_shape *ds, const float *x, int axis, const cv_shape *is, const int64_t *idx, float *y,
                       cv_shape *ys)
{
    ys->ndim = 0;
    for (int d = 0; d < axis; d++)
        ys->d[ys->ndim++] = ds->d[d];
    for (int d = 0; d < is->ndim; d++)
        ys->d[ys->ndim++] = is->d[d];
    for (int d = axis + 1; d < ds->ndim; d++)
        ys->d[ys->ndim++] = ds->d[d];
    size_t n = cv_shape_numel(ys);
    for (size_t f = 0; f < n; f++) {
        int64_t io[CV_MAX_DIMS] = {0}, ii[CV_MAX_DIMS] = {0};
        opcase_unravel(ys, f, io);
        /* data index: out dims before axis, then idx[out dims of indices], then the rest */
        size_t ioff = 0;
        for (int d = 0; d < is->ndim; d++)
            ioff = ioff * (size_t)is->d[d] + (size_t)io[axis + d];
        for (int d = 0; d < axis; d++)
            ii[d] = io[d];
        int64_t v = idx[ioff];
        ii[axis] = v < 0 ? v + ds->d[axis] : v;
        for (int d = axis + 1; d < ds->ndim; d++)
            ii[d] = io[d - 1 + is->ndim];
        size_t off = 0;
        for (int d = 0; d < ds->ndim; d++)
            off = off * (size_t)ds->d[d] + (size_t)ii[d];
        y[f] = x[off];
    }
}

static void test_gather(void)
{
    const struct { int64_t axis; cv_shape is; int64_t idx[6]; } cases[] = {
        {0, {1, {3}}, {1, 0, -1}},
        {1, {0, {0}}, {2}},                      /* scalar index drops the dim */
        {-1, {2, {2, 2}}, {4, 0, -5, 3}},
        {2, {1, {5}}, {3, 3, 0, -1, 1}},         /* repeated: gradient adds up */
        {1, {2, {3, 2}}, {0, 1, 2, -1, -2, -3}},
    };
    float x[NX];
    static float y[600];
    test_seed(70);
    test_fill(x, NX, -1, 1);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ax = (int)(cases[c].axis < 0 ? cases[c].axis + 4 : cases[c].axis);
        cv_shape ys;
        ref_gather(&xs, x, ax, &cases[c].is, cases[c].idx, y, &ys);
        oplab lab;
        oplab_begin(&lab, "Gather", &xs);
        oplab_const_i64(&lab, &cases[c].is, cases[c].idx);
        cv_node_set_int(lab.m, lab.node, "axis", cases[c].axis, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        double d = test_max_abs_diff(lab.y, y, cv_shape_numel(&ys));
        char b[64];
        printf("    Gather axis %lld -> %s: max abs diff %g\n", (long long)cases[c].axis,
               cv_shape_str(&lab.y_shape, b, sizeof b), d);
        CHECK(cv_shape_equal(&lab.y_shape, &ys) && d == 0, "Gather case %zu wrong", c);
        double e = oplab_gradcheck(&lab, x, 1e-2f);
        CHECK(e < 1e-3, "gradient mismatch %g", e);
        oplab_free(&lab);
    }
    /* int64 data: Gather(Shape(x), 1) */
    {
        cv_shape s = {1, {4}}, sc = {0, {0}};
        int64_t v[4] = {2, 3, 4, 5}, i = -3;
        oplab lab;
        oplab_begin(&lab, "Gather", &s);
        oplab_const_i64(&lab, &s, v);
        oplab_const_i64(&lab, &sc, &i);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[4] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y1 = opcase_out(&lab, 0);
        CHECK(y1->dtype == CV_I64 && y1->shape.ndim == 0 && y1->i[0] == 3, "int64 gather");
        oplab_free(&lab);
    }
    /* out of range index */
    {
        cv_shape is = {1, {1}};
        int64_t i = 3;
        oplab lab;
        oplab_begin(&lab, "Gather", &xs);
        oplab_const_i64(&lab, &is, &i);
        cv_node_set_int(lab.m, lab.node, "axis", 1, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, x);
        printf("    index 3 on axis 1: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_INVALID, "got %d", st);
        oplab_free(&lab);
    }
}

/* ---- Slice ---------------------------------------------------------------------- */

/* Naive: per axis the list of taken indices. */
static void ref_slice(const cv_shape *s, const float *x, int64_t take[][8], const int *nt, float *y, cv_shape *ys)
{
    ys->ndim = s->ndim;
    for (int d = 0; d < s->ndim; d++)
        ys->d[d] = nt[d];
    size_t n = cv_shape_numel(ys);
    for (size_t f = 0; f < n; f++) {
        int64_t io[CV_MAX_DIMS] = {0};
        opcase_unravel(ys, f, io);
        size_t off = 0;
        for (int d = 0; d < s->ndim; d++)
            off = off * (size_t)s->d[d] + (size_t)take[d][io[d]];
        y[f] = x[off];
    }
}

/* The indices start:end:step picks from range(n), with the ONNX clamping
 * rules (unlike Python, a too-negative start with a negative step clamps to
 * 0 and still takes element 0). */
static int py_slice(int64_t n, int64_t start, int64_t end, int64_t step, int64_t *out)
{
    int cnt = 0;
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (step > 0) {
        if (start < 0) start = 0;
        if (end > n) end = n;
        for (int64_t i = start; i < end; i += step)
            out[cnt++] = i;
    } else {
        if (start > n - 1) start = n - 1;
        if (start < 0) start = 0;
        if (end < -1) end = -1;
        for (int64_t i = start; i > end; i += step)
            out[cnt++] = i;
    }
    return cnt;
}

static void test_slice(void)
{
    const struct {
        int opset, n;
        int64_t starts[4], ends[4], axes[4], steps[4];
        int has_axes, has_steps;
    } cases[] = {
        {13, 2, {0, 1}, {2, 3}, {2, 3}, {0}, 1, 0},
        {13, 1, {-3}, {INT64_MAX}, {-1}, {0}, 1, 0},            /* last three to the end */
        {13, 1, {-1}, {INT64_MIN}, {2}, {-1}, 1, 1},            /* reverse */
        {13, 2, {4, 1}, {-10, 100}, {3, 1}, {-2, 2}, 1, 1},
        {13, 4, {0, 0, 1, 0}, {1, 3, 3, 5}, {0}, {1, 2, 1, 3}, 0, 1}, /* axes omitted */
        {13, 1, {3}, {1}, {1}, {1}, 1, 1},                       /* empty */
        {9, 2, {1, -2}, {2, 1000}, {0, 3}, {0}, 1, 0},           /* opset 9 attributes */
        {9, 1, {0}, {-1}, {0}, {0}, 0, 0},
        {13, 1, {-10}, {INT64_MIN}, {3}, {-1}, 1, 1},          /* start clamps to 0 */
    };
    float x[NX];
    static float y[NX];
    test_seed(71);
    test_fill(x, NX, -1, 1);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t take[4][8];
        int nt[4];
        for (int d = 0; d < 4; d++)
            nt[d] = py_slice(xs.d[d], 0, xs.d[d], 1, take[d]);
        for (int k = 0; k < cases[c].n; k++) {
            int64_t a = cases[c].has_axes ? cases[c].axes[k] : k;
            int d = (int)(a < 0 ? a + 4 : a);
            nt[d] = py_slice(xs.d[d], cases[c].starts[k], cases[c].ends[k], cases[c].has_steps ? cases[c].steps[k] : 1,
                             take[d]);
        }
        cv_shape ys;
        ref_slice(&xs, x, take, nt, y, &ys);
        oplab lab;
        oplab_begin(&lab, "Slice", &xs);
        lab.m->opset = cases[c].opset;
        int n = cases[c].n;
        if (cases[c].opset >= 10) {
            cv_shape ls = {1, {n}};
            oplab_const_i64(&lab, &ls, cases[c].starts);
            oplab_const_i64(&lab, &ls, cases[c].ends);
            if (cases[c].has_axes)
                oplab_const_i64(&lab, &ls, cases[c].axes);
            else if (cases[c].has_steps)
                oplab_none(&lab);
            if (cases[c].has_steps)
                oplab_const_i64(&lab, &ls, cases[c].steps);
        } else {
            cv_node_set_ints(lab.m, lab.node, "starts", cases[c].starts, n, NULL);
            cv_node_set_ints(lab.m, lab.node, "ends", cases[c].ends, n, NULL);
            if (cases[c].has_axes)
                cv_node_set_ints(lab.m, lab.node, "axes", cases[c].axes, n, NULL);
        }
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        size_t ny = cv_shape_numel(&ys);
        double d = test_max_abs_diff(lab.y, y, ny);
        char b[64];
        printf("    Slice case %zu (opset %d) -> %s: max abs diff %g\n", c, cases[c].opset,
               cv_shape_str(&lab.y_shape, b, sizeof b), d);
        CHECK(cv_shape_equal(&lab.y_shape, &ys) && d == 0, "Slice case %zu wrong", c);
        if (ny) {
            double e = oplab_gradcheck(&lab, x, 1e-2f);
            CHECK(e < 1e-3, "gradient mismatch %g", e);
        }
        oplab_free(&lab);
    }
    /* int64: shape[2:] */
    {
        cv_shape s = {1, {4}}, ls = {1, {1}};
        int64_t v[4] = {1, 3, 224, 224}, st = 2, en = INT64_MAX;
        oplab lab;
        oplab_begin(&lab, "Slice", &s);
        lab.m->opset = 11;
        oplab_const_i64(&lab, &s, v);
        oplab_const_i64(&lab, &ls, &st);
        oplab_const_i64(&lab, &ls, &en);
        opcase_drop_x(&lab);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[4] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y1 = opcase_out(&lab, 0);
        CHECK(y1->dtype == CV_I64 && y1->shape.d[0] == 2 && y1->i[0] == 224 && y1->i[1] == 224, "int64 slice");
        oplab_free(&lab);
    }
    /* errors: step 0, runtime starts */
    {
        cv_shape ls = {1, {1}};
        int64_t z = 0, one = 1;
        oplab lab;
        oplab_begin(&lab, "Slice", &xs);
        lab.m->opset = 13;
        oplab_const_i64(&lab, &ls, &z);
        oplab_const_i64(&lab, &ls, &one);
        oplab_const_i64(&lab, &ls, &z);
        oplab_const_i64(&lab, &ls, &z);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        cv_status st = oplab_forward(&lab, x);
        printf("    step 0: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_INVALID, "got %d", st);
        oplab_free(&lab);

        cv_shape s1 = {1, {1}};
        float d[1] = {0};
        oplab_begin(&lab, "Slice", &s1);
        lab.m->opset = 13;
        oplab_const(&lab, &s1, d);
        oplab_const_i64(&lab, &ls, &one);
        opcase_swap(&lab, 0, 1); /* Slice(const, starts = x, ends) */
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        st = oplab_forward(&lab, d);
        printf("    runtime starts: %s\n", lab.err.msg);
        CHECK(st == CV_ERR_UNSUPPORTED, "got %d", st);
        oplab_free(&lab);
    }
}

/* ---- ConstantOfShape ------------------------------------------------------------ */

static void test_constant_of_shape(void)
{
    cv_shape ss = {1, {3}}, one = {1, {1}};
    int64_t shape[3] = {2, 1, 3};
    float fv = 0.5f;
    int64_t iv = 7;
    for (int kind = 0; kind < 3; kind++) {
        oplab lab;
        oplab_begin(&lab, "ConstantOfShape", &ss);
        oplab_const_i64(&lab, &ss, shape);
        opcase_drop_x(&lab);
        if (kind == 1)
            opcase_set_tensor_attr(&lab, "value", opcase_value(&lab, CV_F32, &one, &fv));
        if (kind == 2)
            opcase_set_tensor_attr(&lab, "value", opcase_value(&lab, CV_I64, &one, &iv));
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[3] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        cv_shape want = {3, {2, 1, 3}};
        bool ok = cv_shape_equal(&y->shape, &want) && y->dtype == (kind == 2 ? CV_I64 : CV_F32);
        for (int k = 0; ok && k < 6; k++)
            ok = kind == 2 ? y->i[k] == 7 : y->f[k] == (kind ? 0.5f : 0.0f);
        printf("    ConstantOfShape kind %d: %s\n", kind, ok ? "ok" : "WRONG");
        CHECK(ok, "ConstantOfShape kind %d", kind);
        oplab_free(&lab);
    }
    /* a runtime shape is refused */
    float d[3] = {1, 1, 1};
    oplab lab;
    oplab_begin(&lab, "ConstantOfShape", &ss);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, d);
    printf("    runtime shape: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_UNSUPPORTED, "got %d", st);
    oplab_free(&lab);
}

/* ---- Cast ------------------------------------------------------------------------ */

static void test_cast(void)
{
    cv_shape s = {1, {6}};
    float xf[6] = {-1.7f, 2.9f, 0.0f, 0.4f, 3e9f, -300.5f};
    const struct { int to; int64_t want[6]; } cases[] = {
        {7, {-1, 2, 0, 0, 3000000000LL, -300}},       /* int64: truncate */
        {9, {1, 1, 0, 1, 1, 1}},                      /* bool: x != 0 */
        {6, {-1, 2, 0, 0, (int32_t)3000000000LL, -300}}, /* int32 wraps */
        {2, {255, 2, 0, 0, (uint8_t)3000000000LL, (uint8_t)-300}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        oplab lab;
        oplab_begin(&lab, "Cast", &s);
        cv_node_set_int(lab.m, lab.node, "to", cases[c].to, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, xf) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        double d = opcase_i64_diff(y->i, cases[c].want, 6);
        printf("    Cast float -> type %d: %lld %lld %lld %lld %lld %lld\n", cases[c].to, (long long)y->i[0],
               (long long)y->i[1], (long long)y->i[2], (long long)y->i[3], (long long)y->i[4], (long long)y->i[5]);
        CHECK(y->dtype == CV_I64 && d == 0, "Cast to %d wrong", cases[c].to);
        oplab_free(&lab);
    }
    /* int64 -> float */
    {
        int64_t v[3] = {-2, 0, 1LL << 40};
        cv_shape s3 = {1, {3}};
        oplab lab;
        oplab_begin(&lab, "Cast", &s3);
        oplab_const_i64(&lab, &s3, v);
        opcase_drop_x(&lab);
        cv_node_set_int(lab.m, lab.node, "to", 1, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        float dummy[3] = {0};
        REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
        const cv_tensor *y = opcase_out(&lab, 0);
        CHECK(y->dtype == CV_F32 && y->f[0] == -2.0f && y->f[1] == 0.0f && y->f[2] == 1099511627776.0f, "int64->float");
        oplab_free(&lab);
    }
    /* float16/bfloat16 round (values from numpy / torch); double is exact.
     * The gradient passes straight through (identity), as in PyTorch. */
    const struct { int to; float want[8]; } fc[] = {
        {10, {0.0999755859375f, -0.199951171875f, 1.2998046875f, 2, -3, 0.5f, 65504.0f, 0.0f}},
        {16, {0.10009765625f, -0.2001953125f, 1.296875f, 2, -3, 0.5f, 65536.0f, 1.0011717677116394e-08f}},
        {11, {0.1f, -0.2f, 1.3f, 2, -3, 0.5f, 65519.0f, 1e-8f}},
    };
    for (size_t c = 0; c < sizeof fc / sizeof fc[0]; c++) {
        cv_shape s8 = {1, {8}};
        float x[8] = {0.1f, -0.2f, 1.3f, 2, -3, 0.5f, 65519.0f, 1e-8f}, w[8];
        oplab lab;
        oplab_begin(&lab, "Cast", &s8);
        cv_node_set_int(lab.m, lab.node, "to", fc[c].to, NULL);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        double d = test_max_abs_diff(lab.y, fc[c].want, 8);
        printf("    Cast float -> type %d: max abs diff %g from the reference rounding\n", fc[c].to, d);
        CHECK(lab.y && d == 0, "Cast to %d rounds wrongly", fc[c].to);
        test_fill(w, 8, -1, 1);
        const float *g;
        REQUIRE(cv_run_backward(lab.run, 0, w, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        CHECK(test_max_abs_diff(g, w, 8) == 0, "Cast gradient should be the identity");
        if (fc[c].to == 11) { /* modest values: 65519 +- eps is not representable */
            float xm[8] = {0.1f, -0.2f, 1.3f, 2, -3, 0.5f, 0.7f, -0.9f};
            CHECK(oplab_gradcheck(&lab, xm, 1e-2f) < 1e-3, "gradient mismatch");
        }
        oplab_free(&lab);
    }
    oplab lab;
    oplab_begin(&lab, "Cast", &s);
    cv_node_set_int(lab.m, lab.node, "to", 8, NULL);
    cv_status st = oplab_end(&lab);
    printf("    to string: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_UNSUPPORTED, "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_constant);
    RUN(test_shape_size);
    RUN(test_gather);
    RUN(test_slice);
    RUN(test_constant_of_shape);
    RUN(test_cast);
    return test_summary("constant");
}
