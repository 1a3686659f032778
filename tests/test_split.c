/* Split: every way the part lengths can be given (attribute before opset
 * 13, constant input from 13, num_outputs at 18, equal parts), any axis,
 * empty parts, int64 data; the gradient through all outputs at once (the
 * parts are concatenated again in another order, and finite differences
 * check that graph); and the errors. */
#include "lib/opcase.h"
#include <string.h>

enum { LENS_NONE, LENS_ATTR, LENS_INPUT, LENS_NUM_OUTPUTS };

typedef struct {
    const char *what;
    cv_shape x;
    int64_t axis;          /* INT64_MIN: attribute absent (default 0) */
    int n_out;
    int64_t lens[4];       /* expected part lengths (and the given ones) */
    int mode;
    int opset;
} split_case;

static const split_case cases[] = {
    {"equal parts, axis 1", {4, {2, 6, 3, 2}}, 1, 3, {2, 2, 2}, LENS_NONE, 13},
    {"equal parts, default axis", {2, {6, 2}}, INT64_MIN, 2, {3, 3}, LENS_NONE, 13},
    {"input lengths, axis -1", {3, {2, 3, 7}}, -1, 3, {1, 4, 2}, LENS_INPUT, 13},
    {"input lengths with an empty part", {3, {2, 5, 3}}, 1, 3, {2, 0, 3}, LENS_INPUT, 13},
    {"attribute lengths (opset 11), axis 0", {2, {5, 4}}, 0, 2, {4, 1}, LENS_ATTR, 11},
    {"attribute lengths (opset 2), axis 2", {4, {1, 2, 6, 2}}, 2, 4, {1, 2, 1, 2}, LENS_ATTR, 2},
    {"input lengths (opset 1)", {2, {3, 4}}, 1, 2, {3, 1}, LENS_INPUT, 1},
    {"num_outputs, uneven (opset 18)", {3, {2, 7, 2}}, 1, 3, {3, 3, 1}, LENS_NUM_OUTPUTS, 18},
    {"num_outputs, even (opset 18)", {2, {3, 8}}, 1, 4, {2, 2, 2, 2}, LENS_NUM_OUTPUTS, 18},
    {"one output", {2, {3, 4}}, 1, 1, {4}, LENS_NONE, 13},
};

/* The Split node on lab (input x), its outputs y, y1, y2, ... */
static void split_lab(oplab *lab, const split_case *sc, bool outputs_are_graph_outputs)
{
    oplab_begin(lab, "Split", &sc->x);
    lab->m->opset = sc->opset;
    if (sc->axis != INT64_MIN)
        cv_node_set_int(lab->m, lab->node, "axis", sc->axis, NULL);
    if (sc->mode == LENS_ATTR)
        cv_node_set_ints(lab->m, lab->node, "split", sc->lens, sc->n_out, NULL);
    if (sc->mode == LENS_INPUT) {
        cv_shape ls = {1, {sc->n_out}};
        oplab_const_i64(lab, &ls, sc->lens);
    }
    if (sc->mode == LENS_NUM_OUTPUTS)
        cv_node_set_int(lab->m, lab->node, "num_outputs", sc->n_out, NULL);
    for (int k = 1; k < sc->n_out; k++) {
        char name[16];
        snprintf(name, sizeof name, "y%d", k);
        if (outputs_are_graph_outputs) {
            opcase_add_output(lab, name);
        } else {
            int v = cv_model_value(lab->m, name, NULL);
            cv_node *n = &lab->m->nodes[lab->node];
            n->out = realloc(n->out, sizeof(int) * (size_t)(n->n_out + 1));
            n->out[n->n_out++] = v;
        }
    }
}

/* Part k of x along axis a, by index arithmetic. */
static void ref_part(float *out, const float *x, const cv_shape *xs, int a, int64_t off, int64_t len)
{
    size_t n = cv_shape_numel(xs), j = 0;
    for (size_t f = 0; f < n; f++) {
        int64_t idx[CV_MAX_DIMS];
        opcase_unravel(xs, f, idx);
        if (idx[a] >= off && idx[a] < off + len)
            out[j++] = x[f];
    }
}

static void test_forward(void)
{
    static float x[256], ref[256];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const split_case *sc = &cases[c];
        size_t nx = cv_shape_numel(&sc->x);
        test_seed(400 + c);
        test_fill(x, nx, -2, 2);
        oplab lab;
        split_lab(&lab, sc, true);
        REQUIRE(oplab_end(&lab) == CV_OK, "%s: %s", sc->what, lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s: %s", sc->what, lab.err.msg);
        int a = sc->axis == INT64_MIN ? 0 : (int)(sc->axis < 0 ? sc->axis + sc->x.ndim : sc->axis);
        int64_t off = 0;
        double worst = 0;
        for (int k = 0; k < sc->n_out; k++) {
            const cv_tensor *y = opcase_out(&lab, k);
            REQUIRE(y, "output %d missing", k);
            cv_shape want = sc->x;
            want.d[a] = sc->lens[k];
            char s1[64], s2[64];
            CHECK(cv_shape_equal(&y->shape, &want), "%s: part %d has shape %s, want %s", sc->what, k,
                  cv_shape_str(&y->shape, s1, sizeof s1), cv_shape_str(&want, s2, sizeof s2));
            ref_part(ref, x, &sc->x, a, off, sc->lens[k]);
            double d = test_max_abs_diff(y->f, ref, cv_shape_numel(&want));
            worst = d > worst ? d : worst;
            off += sc->lens[k];
        }
        printf("    %s: %d parts, max abs diff %.3g\n", sc->what, sc->n_out, worst);
        CHECK(worst == 0, "%s: parts differ by %g", sc->what, worst);
        oplab_free(&lab);
    }
}

/* Split, then Concat of the parts in reverse order: a gradient reaches the
 * input through every output. */
static void test_gradient(void)
{
    static float x[256];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const split_case *sc = &cases[c];
        test_seed(500 + c);
        test_fill(x, cv_shape_numel(&sc->x), -2, 2);
        oplab lab;
        split_lab(&lab, sc, false);
        cv_model *m = lab.m;
        int z = cv_model_value(m, "z", NULL);
        const cv_node *n = &m->nodes[lab.node];
        int ins[4];
        for (int k = 0; k < sc->n_out; k++)
            ins[k] = n->out[sc->n_out - 1 - k];
        int cn = cv_model_add_node(m, "cat", "Concat", ins, sc->n_out, &z, 1, NULL);
        cv_node_set_int(m, cn, "axis", sc->axis == INT64_MIN ? 0 : sc->axis, NULL);
        m->outputs[0] = z;
        REQUIRE(oplab_end(&lab) == CV_OK, "%s: %s", sc->what, lab.err.msg);
        double e = oplab_gradcheck(&lab, x, 1e-2f);
        CHECK(e < 1e-3, "%s: gradient mismatch %g", sc->what, e);
        oplab_free(&lab);
    }
}

/* int64 data is split too (shape pieces); folded at plan time. */
static void test_int64(void)
{
    cv_shape s = {1, {5}}, xs = {1, {1}};
    int64_t v[5] = {1, 3, 224, 224, -1}, lens[2] = {2, 3};
    cv_shape ls = {1, {2}};
    oplab lab;
    oplab_begin(&lab, "Split", &xs);
    oplab_const_i64(&lab, &s, v);
    oplab_const_i64(&lab, &ls, lens);
    opcase_drop_x(&lab);
    opcase_add_output(&lab, "y1");
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    float dummy[1] = {0};
    REQUIRE(oplab_forward(&lab, dummy) == CV_OK, "%s", lab.err.msg);
    const cv_tensor *a = opcase_out(&lab, 0), *b = opcase_out(&lab, 1);
    REQUIRE(a->dtype == CV_I64 && b->dtype == CV_I64, "dtype");
    printf("    int64 [1 3 224 224 -1] -> [%lld %lld] [%lld %lld %lld]\n", (long long)a->i[0], (long long)a->i[1],
           (long long)b->i[0], (long long)b->i[1], (long long)b->i[2]);
    CHECK(a->i[1] == 3 && b->i[0] == 224 && b->i[2] == -1, "int64 split differs");
    oplab_free(&lab);
}

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
    oplab lab;
    split_case sc = {"", {2, {2, 6}}, 1, 2, {2, 4}, LENS_ATTR, 13};
    split_lab(&lab, &sc, true);
    expect_fail("attribute at opset 13", &lab, CV_ERR_INVALID);
    sc.mode = LENS_INPUT;
    sc.opset = 11;
    split_lab(&lab, &sc, true);
    expect_fail("input at opset 11", &lab, CV_ERR_INVALID);
    sc.mode = LENS_NUM_OUTPUTS;
    sc.opset = 13;
    split_lab(&lab, &sc, true);
    expect_fail("num_outputs before opset 18", &lab, CV_ERR_INVALID);
    sc = (split_case){"", {2, {2, 6}}, 1, 2, {2, 3}, LENS_INPUT, 13};
    split_lab(&lab, &sc, true);
    expect_fail("parts that do not add up", &lab, CV_ERR_SHAPE);
    sc = (split_case){"", {2, {2, 6}}, 1, 2, {7, -1}, LENS_INPUT, 13};
    split_lab(&lab, &sc, true);
    expect_fail("a negative part", &lab, CV_ERR_INVALID);
    sc = (split_case){"", {2, {2, 7}}, 1, 2, {0}, LENS_NONE, 13};
    split_lab(&lab, &sc, true);
    expect_fail("equal parts of an odd axis", &lab, CV_ERR_SHAPE);
    sc = (split_case){"", {2, {2, 5}}, 1, 4, {2, 2, 2, -1}, LENS_NUM_OUTPUTS, 18};
    split_lab(&lab, &sc, true);
    expect_fail("num_outputs 4 of 5 (ceil parts overrun)", &lab, CV_ERR_INVALID);
    sc = (split_case){"", {2, {2, 6}}, 2, 2, {3, 3}, LENS_NONE, 13};
    split_lab(&lab, &sc, true);
    expect_fail("axis out of range", &lab, CV_ERR_INVALID);

    /* lengths computed from the input at run time: Cast(x) -> Split's input */
    cv_shape xs = {1, {2}}, ds = {1, {6}};
    float data[6] = {0};
    oplab_begin(&lab, "Cast", &xs);
    cv_node_set_int(lab.m, lab.node, "to", 7, NULL);
    cv_model *m = lab.m;
    int lens = cv_model_value(m, "lens", NULL), d = nb_model_const(m, "data", CV_F32, &ds, data, NULL);
    int y = m->outputs[0], y1 = cv_model_value(m, "y1", NULL);
    m->nodes[lab.node].out[0] = lens;
    int sin[2] = {d, lens}, sout[2] = {y, y1};
    cv_model_add_node(m, "split", "Split", sin, 2, sout, 2, NULL);
    expect_fail("lengths from the input", &lab, CV_ERR_UNSUPPORTED);
}

int main(void)
{
    RUN(test_forward);
    RUN(test_gradient);
    RUN(test_int64);
    RUN(test_errors);
    return test_summary("split");
}
