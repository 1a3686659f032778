/* Pad: constant/reflect/edge, positive and negative (cropping) pads, the
 * opset-2 attribute form and the opset-11 input form, against a naive
 * reference that reflects step by step; gradients for every mode. */
#include "lib/opcase.h"

enum { CONSTANT, REFLECT, EDGE };
static const char *const modes[] = {"constant", "reflect", "edge"};

static void ref_pad(const cv_shape *xs, const float *x, const int64_t *pads, int mode, float value, float *y,
                    cv_shape *ys)
{
    int r = xs->ndim;
    ys->ndim = r;
    for (int k = 0; k < r; k++)
        ys->d[k] = xs->d[k] + pads[k] + pads[k + r];
    size_t n = cv_shape_numel(ys);
    for (size_t f = 0; f < n; f++) {
        int64_t io[CV_MAX_DIMS] = {0};
        opcase_unravel(ys, f, io);
        size_t off = 0;
        bool fill = false;
        for (int k = 0; k < r; k++) {
            int64_t i = io[k] - pads[k], d = xs->d[k];
            if (i < 0 || i >= d) {
                if (mode == CONSTANT)
                    fill = true;
                else if (mode == EDGE)
                    i = i < 0 ? 0 : d - 1;
                else
                    while (i < 0 || i >= d) /* mirror at each border in turn */
                        i = i < 0 ? -i : 2 * (d - 1) - i;
            }
            off = off * (size_t)d + (size_t)i;
        }
        y[f] = fill ? value : x[off];
    }
}

typedef struct {
    cv_shape s;
    int64_t pads[8];
} pad_case;

static void test_modes(void)
{
    const pad_case cases[] = {
        {{4, {1, 2, 3, 4}}, {0, 0, 1, 2, 0, 0, 2, 1}},      /* spatial padding */
        {{4, {1, 2, 3, 4}}, {0, 1, 0, 0, 0, 0, 0, 3}},      /* channel and width */
        {{2, {4, 5}}, {-1, 2, 1, -2}},                     /* crop one side, pad the other */
        {{2, {4, 5}}, {3, 4, 3, 4}},                       /* reflect across the whole dim */
        {{1, {6}}, {-2, -3}},                               /* crop only */
        {{3, {2, 3, 4}}, {0, 0, 0, 0, 0, 0}},               /* no-op */
    };
    static float x[200], y[400];
    for (int mode = 0; mode < 3; mode++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            for (int form = 0; form < 2; form++) {
                const pad_case *pc = &cases[c];
                size_t n = cv_shape_numel(&pc->s);
                test_seed(60 + c);
                test_fill(x, n, -1, 1);
                cv_shape ys;
                float value = mode == CONSTANT ? 0.75f : 0.0f;
                ref_pad(&pc->s, x, pc->pads, mode, value, y, &ys);
                oplab lab;
                oplab_begin(&lab, "Pad", &pc->s);
                cv_node_set_string(lab.m, lab.node, "mode", modes[mode], NULL);
                if (form == 0) {
                    lab.m->opset = 2;
                    cv_node_set_ints(lab.m, lab.node, "pads", pc->pads, 2 * pc->s.ndim, NULL);
                    if (mode == CONSTANT)
                        cv_node_set_float(lab.m, lab.node, "value", value, NULL);
                } else {
                    lab.m->opset = 11;
                    cv_shape ps = {1, {2 * pc->s.ndim}}, sc = {0, {0}};
                    oplab_const_i64(&lab, &ps, pc->pads);
                    if (mode == CONSTANT)
                        oplab_const(&lab, &sc, &value);
                }
                REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
                REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
                double d = test_max_abs_diff(lab.y, y, cv_shape_numel(&ys));
                char a[64], b[64];
                printf("    pad %s %s %s -> %s: max abs diff %g\n", modes[mode], form ? "(inputs)" : "(attrs)",
                       cv_shape_str(&pc->s, a, sizeof a), cv_shape_str(&lab.y_shape, b, sizeof b), d);
                CHECK(cv_shape_equal(&lab.y_shape, &ys), "bad output shape");
                CHECK(d == 0, "forward differs by %g", d);
                if (form == 1) {
                    double e = oplab_gradcheck(&lab, x, 1e-2f);
                    CHECK(e < 1e-3, "gradient mismatch %g", e);
                }
                oplab_free(&lab);
            }
}

/* opset 11 without constant_value pads with 0; int64 data. */
static void test_defaults_int64(void)
{
    cv_shape s = {1, {3}}, ps = {1, {2}};
    int64_t v[3] = {4, 5, 6}, pads[2] = {1, 2}, want[6] = {0, 4, 5, 6, 0, 0};
    oplab lab;
    oplab_begin(&lab, "Pad", &s);
    lab.m->opset = 13;
    oplab_const_i64(&lab, &s, v);
    oplab_const_i64(&lab, &ps, pads);
    opcase_drop_x(&lab);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float dummy[3] = {0};
    REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *y = opcase_out(&lab, 0);
    CHECK(y->dtype == CV_I64 && y->shape.d[0] == 6 && opcase_i64_diff(y->i, want, 6) == 0, "int64 pad");
    oplab_free(&lab);
}

static void test_errors(void)
{
    cv_shape s = {2, {2, 3}}, ps = {1, {4}}, ps3 = {1, {3}};
    float x[6] = {0};
    int64_t crop[4] = {0, -2, 0, -2}, three[3] = {0, 0, 0};
    const struct { const char *mode; const cv_shape *ps; const int64_t *pads; cv_status st; } bad[] = {
        {"constant", &ps, crop, CV_ERR_SHAPE},
        {"constant", &ps3, three, CV_ERR_SHAPE},
        {"wrap", &ps, crop, CV_ERR_UNSUPPORTED},
    };
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
        oplab lab;
        oplab_begin(&lab, "Pad", &s);
        lab.m->opset = 13;
        cv_node_set_string(lab.m, lab.node, "mode", bad[c].mode, NULL);
        oplab_const_i64(&lab, bad[c].ps, bad[c].pads);
        cv_status st = oplab_end(&lab);
        if (st == CV_OK)
            st = oplab_forward(&lab, x);
        printf("    %s: %s\n", bad[c].mode, lab.err.msg);
        CHECK(st == bad[c].st, "got %d, want %d", st, bad[c].st);
        oplab_free(&lab);
    }
    /* pads computed at run time are refused */
    cv_shape s1 = {1, {2}};
    oplab lab;
    oplab_begin(&lab, "Pad", &s1);
    lab.m->opset = 13;
    oplab_const(&lab, &s1, x);
    opcase_swap(&lab, 0, 1);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, x);
    printf("    runtime pads: %s\n", lab.err.msg);
    CHECK(st == CV_ERR_UNSUPPORTED && strstr(lab.err.msg, "'pads' input must be constant"), "got %d", st);
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_modes);
    RUN(test_defaults_int64);
    RUN(test_errors);
    return test_summary("pad");
}
