/* Concat: any axis (negative too), the runtime input in any slot, int64
 * shape pieces, and shape errors. */
#include "lib/opcase.h"

/* Naive reference: walk the output, find which input each element is from. */
static void ref_concat(int n_in, const cv_shape *const *shapes, const float *const *data, int axis, const cv_shape *ys,
                       float *y)
{
    size_t ny = cv_shape_numel(ys);
    for (size_t k = 0; k < ny; k++) {
        int64_t idx[CV_MAX_DIMS] = {0};
        opcase_unravel(ys, k, idx);
        int64_t a = idx[axis];
        int src = 0;
        while (a >= shapes[src]->d[axis]) {
            a -= shapes[src]->d[axis];
            src++;
        }
        idx[axis] = a;
        size_t off = 0;
        for (int d = 0; d < ys->ndim; d++)
            off = off * (size_t)shapes[src]->d[d] + (size_t)idx[d];
        y[k] = data[src][off];
    }
}

static void test_float(void)
{
    static float d0[200], d1[200], d2[200], y[600];
    for (int axis = -4; axis < 4; axis++) {
        int ax = axis < 0 ? axis + 4 : axis;
        cv_shape s0 = {4, {2, 3, 4, 5}}, s1 = s0, s2 = s0;
        s1.d[ax] = 1;
        s2.d[ax] = 3;
        const cv_shape *shapes[3] = {&s0, &s1, &s2};
        const float *data[3] = {d0, d1, d2};
        test_seed(50 + (unsigned)ax);
        test_fill(d0, 200, -1, 1);
        test_fill(d1, 200, -1, 1);
        test_fill(d2, 200, -1, 1);
        cv_shape ys = s0;
        ys.d[ax] = s0.d[ax] + 1 + 3;
        ref_concat(3, shapes, data, ax, &ys, y);
        for (int slot = 0; slot < 3; slot++) {
            oplab lab;
            oplab_begin(&lab, "Concat", shapes[slot]);
            for (int s = 0; s < 3; s++)
                if (s != slot)
                    oplab_const(&lab, shapes[s], data[s]);
            for (int s = 0; s < slot; s++)
                opcase_swap(&lab, s, s + 1);
            cv_node_set_int(lab.m, lab.node, "axis", axis, NULL);
            REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
            REQUIRE(oplab_forward(&lab, data[slot]) == CV_OK, "%s", lab.err.msg);
            double d = test_max_abs_diff(lab.y, y, cv_shape_numel(&ys));
            char b[64];
            printf("    concat axis %d -> %s (x in slot %d): max abs diff %g\n", axis,
                   cv_shape_str(&lab.y_shape, b, sizeof b), slot, d);
            CHECK(cv_shape_equal(&lab.y_shape, &ys), "bad output shape");
            CHECK(d == 0, "forward differs by %g", d);
            if (axis == 1 || axis == -1) {
                double e = oplab_gradcheck(&lab, data[slot], 1e-2f);
                CHECK(e < 1e-3, "gradient mismatch %g", e);
            }
            oplab_free(&lab);
        }
    }
}

/* Two runtime inputs: Concat(x, x). */
static void test_self(void)
{
    cv_shape s = {2, {3, 4}};
    float x[12];
    test_seed(6);
    test_fill(x, 12, -1, 1);
    oplab lab;
    oplab_begin(&lab, "Concat", &s);
    cv_node *n = &lab.m->nodes[lab.node];
    n->in = realloc(n->in, 2 * sizeof(int));
    n->in[1] = n->in[0];
    n->n_in = 2;
    cv_node_set_int(lab.m, lab.node, "axis", 0, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
    oplab_free(&lab);
}

/* The [N, -1] pieces exporters build for Reshape. */
static void test_int64(void)
{
    cv_shape s1 = {1, {1}}, s2 = {1, {2}};
    int64_t a[1] = {8}, b[2] = {-1, 7}, want[3] = {8, -1, 7};
    oplab lab;
    oplab_begin(&lab, "Concat", &s1);
    oplab_const_i64(&lab, &s1, a);
    oplab_const_i64(&lab, &s2, b);
    opcase_drop_x(&lab);
    cv_node_set_int(lab.m, lab.node, "axis", 0, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float dummy = 0;
    REQUIRE(oplab_forward(&lab, &dummy) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *y = opcase_out(&lab, 0);
    CHECK(y->dtype == CV_I64 && y->shape.ndim == 1 && y->shape.d[0] == 3, "bad int64 result shape");
    double d = opcase_i64_diff(y->i, want, 3);
    printf("    int64 concat: %lld %lld %lld (max diff %g)\n", (long long)y->i[0], (long long)y->i[1],
           (long long)y->i[2], d);
    CHECK(d == 0, "int64 concat differs");
    oplab_free(&lab);
}

static void test_errors(void)
{
    cv_shape s0 = {2, {2, 3}}, s1 = {2, {3, 3}};
    float a[6] = {0}, b[9] = {0};
    oplab lab;
    oplab_begin(&lab, "Concat", &s0);
    oplab_const(&lab, &s1, b);
    cv_node_set_int(lab.m, lab.node, "axis", 1, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, a);
    printf("    mismatch: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_SHAPE && strstr(lab.err.msg, "[3, 3]") && strstr(lab.err.msg, "[2, 3]"), "got %d", st);
    oplab_free(&lab);

    oplab_begin(&lab, "Concat", &s0);
    st = oplab_end(&lab);
    printf("    no axis: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);

    oplab_begin(&lab, "Concat", &s0);
    cv_node_set_int(lab.m, lab.node, "axis", 2, NULL);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    st = oplab_forward(&lab, a);
    printf("    axis 2 of 2-D: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_INVALID, "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_float);
    RUN(test_self);
    RUN(test_int64);
    RUN(test_errors);
    return test_summary("concat");
}
