/* Hostile graphs built in memory: the attributes, shapes and arities a
 * corrupt or malicious model file can carry, one per case, each of which
 * must end in a clean error with a message (or, where the input is odd but
 * legal, a correct run), never in a crash, an overflow or a huge
 * allocation. Under `make check-asan` AddressSanitizer and UBSan watch
 * every case; integer overflow in shape arithmetic is UB that UBSan reports.
 *
 * Every case prints what happened ("refused: <message>" or "ran: <shape>"). */
#include "lib/netbuild.h"
#include "lib/test.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BIG ((int64_t)1 << 40)

static const cv_shape XS = {4, {1, 3, 8, 8}};

static int last(netbuild *nb) { return nb->m->n_nodes - 1; }

/* A 1-D int64 constant. */
static int c_i64(netbuild *nb, const int64_t *v, int n)
{
    cv_shape s = {1, {n}};
    int64_t *d = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    memcpy(d, v, sizeof(int64_t) * (size_t)n);
    char name[32];
    snprintf(name, sizeof name, "i64_%d", nb->m->n_values);
    return cv_model_add_constant(nb->m, name, CV_I64, &s, d, &nb->err);
}

static int c_f32(netbuild *nb, const cv_shape *s, float value)
{
    size_t n = cv_shape_numel(s);
    float *d = malloc(sizeof(float) * (n ? n : 1));
    for (size_t k = 0; k < n; k++)
        d[k] = value;
    char name[32];
    snprintf(name, sizeof name, "f32_%d", nb->m->n_values);
    return cv_model_add_constant(nb->m, name, CV_F32, s, d, &nb->err);
}

static int node1(netbuild *nb, const char *op, int a) { return nb_node(nb, op, &a, 1); }

static int node2(netbuild *nb, const char *op, int a, int b)
{
    int in[2] = {a, b};
    return nb_node(nb, op, in, 2);
}

static void set_ints(netbuild *nb, const char *name, const int64_t *v, int n)
{
    cv_node_set_ints(nb->m, last(nb), name, v, n, NULL);
}

static void set_int(netbuild *nb, const char *name, int64_t v) { cv_node_set_int(nb->m, last(nb), name, v, NULL); }

/* Finalize, plan (with need_grad for backward) and run. Returns the first
 * failure, CV_OK when the model ran forward and backward. */
static cv_status try_run(netbuild *nb, int out, const cv_shape *xs, size_t max_memory, const char *what)
{
    cv_model *m = nb_end(nb, out);
    if (!m) {
        printf("    %s: refused at load: %s\n", what, nb->err.msg);
        CHECK(nb->err.msg[0] != 0, "%s: refusal without a message", what);
        return nb->err.status ? nb->err.status : CV_ERR_INVALID;
    }
    m->max_memory = max_memory ? max_memory : (size_t)256 << 20;
    cv_error err = {0};
    cv_status st = CV_OK;
    for (int grad = 0; grad < 2 && st == CV_OK; grad++) {
        cv_run_options opt = cv_run_defaults();
        opt.need_grad = grad;
        cv_run *r = NULL;
        if ((st = cv_run_create(&r, m, xs, &opt, &err)) != CV_OK)
            break;
        size_t n = cv_shape_numel(xs);
        float *x = malloc(n * sizeof(float));
        test_seed(3);
        test_fill(x, n, -1, 1);
        if ((st = cv_run_forward(r, x, &err)) == CV_OK && grad) {
            int layer = m->n_nodes - 1;
            cv_shape ys = cv_run_layer_shape(r, layer);
            size_t ny = cv_shape_numel(&ys);
            float *seed = malloc((ny ? ny : 1) * sizeof(float));
            for (size_t k = 0; k < ny; k++)
                seed[k] = 1;
            const float *g;
            cv_status bs = cv_run_backward(r, layer, seed, &g, &err);
            if (bs != CV_OK) /* no backward for this op, or no path to the input: fine */
                printf("    %s: backward: %s\n", what, err.msg);
            free(seed);
        }
        if (st == CV_OK && !grad) {
            const cv_tensor *y = cv_run_output(r, 0);
            char s[160];
            printf("    %s: ran: output %s\n", what, cv_shape_str(&y->shape, s, sizeof s));
        }
        free(x);
        cv_run_free(r);
    }
    if (st != CV_OK) {
        printf("    %s: refused: %s\n", what, err.msg);
        CHECK(err.msg[0] != 0, "%s: refusal without a message", what);
        CHECK(err.status == st, "%s: status %d but err.status %d", what, st, err.status);
    }
    cv_model_free(m);
    return st;
}

#define EXPECT_REFUSED(st, what) CHECK((st) != CV_OK, "%s: accepted, expected a clean refusal", what)

/* ---- Conv and pools ----------------------------------------------------------------- */

static int conv_node(netbuild *nb, int x, int cout, int cin, int k)
{
    cv_shape ws = {4, {cout, cin, k, k}};
    int in[2] = {x, c_f32(nb, &ws, 0.1f)};
    return nb_node(nb, "Conv", in, 2);
}

static void test_conv_attrs(void)
{
    static const struct {
        const char *what, *attr;
        int64_t v[4];
        int n;
    } cases[] = {
        {"kernel_shape 2^31", "kernel_shape", {(int64_t)1 << 31, (int64_t)1 << 31}, 2},
        {"kernel_shape 2^62", "kernel_shape", {(int64_t)1 << 62, 1}, 2},
        {"strides 0", "strides", {0, 0}, 2},
        {"strides -1", "strides", {-1, 1}, 2},
        {"strides 2^62", "strides", {(int64_t)1 << 62, 1}, 2},
        {"pads negative", "pads", {-5, -5, -5, -5}, 4},
        {"pads 2^40", "pads", {BIG, BIG, BIG, BIG}, 4},
        {"pads 2^20 (output 2^42 pixels)", "pads", {1 << 20, 1 << 20, 1 << 20, 1 << 20}, 4},
        {"pads 2^19 (a 4 TiB output)", "pads", {1 << 19, 1 << 19, 1 << 19, 1 << 19}, 4},
        {"pads INT64_MIN", "pads", {INT64_MIN, 0, 0, 0}, 4},
        {"dilations 2^20", "dilations", {1 << 20, 1 << 20}, 2},
        {"dilations 0", "dilations", {0, 0}, 2},
        {"kernel_shape of 3 axes", "kernel_shape", {1, 1, 1}, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = conv_node(&nb, x, 2, 3, 3);
        set_ints(&nb, cases[k].attr, cases[k].v, cases[k].n);
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
}

static void test_conv_group(void)
{
    static const int64_t groups[] = {0, -1, (int64_t)1 << 62, INT64_MAX, 4};
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "group %lld", (long long)groups[k]);
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = conv_node(&nb, x, 4, 4, 1); /* 4 weight channels: w.d[1] * group overflows for 2^62 */
        set_int(&nb, "group", groups[k]);
        cv_status st = try_run(&nb, y, &XS, 0, what);
        EXPECT_REFUSED(st, what);
    }
    /* An empty channel axis (a Slice can make one) with a huge group:
     * 0 % group == 0, so only the weight check stands between the group
     * and an int64 overflow. */
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    int64_t st0[1] = {0}, en0[1] = {0}, ax[1] = {1};
    int in[4] = {x, c_i64(&nb, st0, 1), c_i64(&nb, en0, 1), c_i64(&nb, ax, 1)};
    int e = nb_node(&nb, "Slice", in, 4);
    int y = conv_node(&nb, e, 1, 4, 1);
    set_int(&nb, "group", (int64_t)1 << 62);
    cv_status st = try_run(&nb, y, &XS, 0, "empty channels, group 2^62");
    EXPECT_REFUSED(st, "empty channels, group 2^62");
}

static void test_pools(void)
{
    static const char *const ops[] = {"MaxPool", "AveragePool"};
    static const struct {
        const char *what, *attr;
        int64_t v[4];
        int n;
    } cases[] = {
        {"kernel 2^31", "kernel_shape", {(int64_t)1 << 31, (int64_t)1 << 31}, 2},
        {"kernel 0", "kernel_shape", {0, 0}, 2},
        {"kernel larger than the input", "kernel_shape", {9, 9}, 2},
        {"strides 0", "strides", {0, 0}, 2},
        {"pads 2^40", "pads", {BIG, BIG, BIG, BIG}, 4},
        {"pads negative", "pads", {-1, -1, -1, -1}, 4},
    };
    for (int o = 0; o < 2; o++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s", ops[o], cases[k].what);
            netbuild nb;
            int x = nb_begin(&nb, &XS, 13);
            int y = node1(&nb, ops[o], x);
            if (strcmp(cases[k].attr, "kernel_shape") != 0) {
                int64_t ks[2] = {2, 2};
                set_ints(&nb, "kernel_shape", ks, 2);
            }
            set_ints(&nb, cases[k].attr, cases[k].v, cases[k].n);
            cv_status st = try_run(&nb, y, &XS, 0, what);
            EXPECT_REFUSED(st, what);
        }
}

/* ---- shape arithmetic ------------------------------------------------------------------ */

static void test_reshape(void)
{
    static const struct {
        const char *what;
        int64_t v[4];
        int n;
    } cases[] = {
        {"[2^31, 2^31, 2^31]", {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31}, 3},
        {"[2^62, 4] (product overflows)", {(int64_t)1 << 62, 4}, 2},
        {"[INT64_MAX, -1]", {INT64_MAX, -1}, 2},
        {"[-1, -1]", {-1, -1}, 2},
        {"[-5, 2]", {-5, 2}, 2},
        {"[0, 0, 0, 0, 0] (copies past the input's rank)", {0, 0, 0, 0}, 4},
        {"[7, -1] (not a divisor)", {7, -1}, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int64_t v[5];
        int n = cases[k].n;
        memcpy(v, cases[k].v, sizeof(int64_t) * (size_t)n);
        if (k == 5)
            v[n++] = 0;
        int y = node2(&nb, "Reshape", x, c_i64(&nb, v, n));
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
}

/* -1 on an empty tensor: 0 / 0 must not be computed. */
static void test_reshape_empty(void)
{
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    int64_t s0[1] = {0}, e0[1] = {0}, ax[1] = {1};
    int in[4] = {x, c_i64(&nb, s0, 1), c_i64(&nb, e0, 1), c_i64(&nb, ax, 1)};
    int e = nb_node(&nb, "Slice", in, 4); /* [1, 0, 8, 8] */
    int64_t shape[2] = {-1, 5};
    int y = node2(&nb, "Reshape", e, c_i64(&nb, shape, 2));
    try_run(&nb, y, &XS, 0, "Reshape [-1, 5] of an empty tensor"); /* either answer; no crash */
}

/* Shape arithmetic in int64 on the graph: Shape -> Mul by 2^62 overflows. */
static void test_shape_arith_overflow(void)
{
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    int s = node1(&nb, "Shape", x);
    int64_t big[1] = {(int64_t)1 << 62};
    int p = node2(&nb, "Mul", s, c_i64(&nb, big, 1));
    int y = node2(&nb, "Reshape", x, p);
    cv_status st = try_run(&nb, y, &XS, 0, "Reshape to Shape(x) * 2^62");
    EXPECT_REFUSED(st, "Reshape to Shape(x) * 2^62");

    int x2 = nb_begin(&nb, &XS, 13);
    int s2 = node1(&nb, "Shape", x2);
    int64_t big2[1] = {INT64_MAX};
    int a = node2(&nb, "Add", s2, c_i64(&nb, big2, 1));
    int y2 = node2(&nb, "Reshape", x2, a);
    st = try_run(&nb, y2, &XS, 0, "Reshape to Shape(x) + INT64_MAX");
    EXPECT_REFUSED(st, "Reshape to Shape(x) + INT64_MAX");

    int x3 = nb_begin(&nb, &XS, 13);
    int s3 = node1(&nb, "Shape", x3);
    int64_t zero[1] = {0};
    int d = node2(&nb, "Div", s3, c_i64(&nb, zero, 1));
    int y3 = node2(&nb, "Reshape", x3, d);
    /* int64 x / 0 is 0 here (as onnxruntime), and 0 in a Reshape shape
     * copies the input's dimension: a legal reshape to the same shape. */
    try_run(&nb, y3, &XS, 0, "Reshape to Shape(x) / 0");

    int x4 = nb_begin(&nb, &XS, 13);
    int s4 = node1(&nb, "Shape", x4);
    int64_t minus1[1] = {-1}, mn[1] = {INT64_MIN};
    int d4 = node2(&nb, "Div", c_i64(&nb, mn, 1), c_i64(&nb, minus1, 1));
    int a4 = node2(&nb, "Add", s4, d4);
    int y4 = node2(&nb, "Reshape", x4, a4);
    st = try_run(&nb, y4, &XS, 0, "INT64_MIN / -1");
    EXPECT_REFUSED(st, "INT64_MIN / -1");
}

static void test_gather(void)
{
    static const int64_t idx[] = {BIG, -BIG, INT64_MIN, INT64_MAX, 3};
    for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "Gather index %lld on axis 1", (long long)idx[k]);
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = node2(&nb, "Gather", x, c_i64(&nb, &idx[k], 1));
        set_int(&nb, "axis", 1);
        cv_status st = try_run(&nb, y, &XS, 0, what);
        EXPECT_REFUSED(st, what);
    }
    static const int64_t axes[] = {BIG, -BIG, 4, -5, INT64_MIN};
    for (size_t k = 0; k < sizeof axes / sizeof axes[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "Gather axis %lld", (long long)axes[k]);
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int64_t zero = 0;
        int y = node2(&nb, "Gather", x, c_i64(&nb, &zero, 1));
        set_int(&nb, "axis", axes[k]);
        cv_status st = try_run(&nb, y, &XS, 0, what);
        EXPECT_REFUSED(st, what);
    }
    /* Indices computed from the input: checked at run time, never read
     * out of bounds (ASan would see it). */
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    int k1000[1];
    cv_shape sc = {0, {0}};
    k1000[0] = c_f32(&nb, &sc, 1e6f);
    int big = node2(&nb, "Mul", x, k1000[0]);
    int ci = node1(&nb, "Cast", big);
    set_int(&nb, "to", 7);
    int64_t flat_shape[1] = {-1};
    int fl = node2(&nb, "Reshape", ci, c_i64(&nb, flat_shape, 1));
    int y = node2(&nb, "Gather", x, fl);
    set_int(&nb, "axis", 3);
    try_run(&nb, y, &XS, 0, "Gather with run-time indices out of range");
}

static void test_pad(void)
{
    static const struct {
        const char *what, *mode;
        int64_t v[8];
    } cases[] = {
        {"pads 2^40", "constant", {0, 0, BIG, BIG, 0, 0, BIG, BIG}},
        {"pads 2^62 (sum overflows)", "constant", {0, 0, (int64_t)1 << 62, 0, 0, 0, (int64_t)1 << 62, 0}},
        {"pads INT64_MIN", "constant", {0, 0, INT64_MIN, 0, 0, 0, 0, 0}},
        {"negative pads past the size", "constant", {0, 0, -100, 0, 0, 0, 0, 0}},
        {"edge with negative pads past the size", "edge", {0, 0, -5, -5, 0, 0, -5, -5}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = node2(&nb, "Pad", x, c_i64(&nb, cases[k].v, 8));
        cv_node_set_string(nb.m, last(&nb), "mode", cases[k].mode, NULL);
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    /* reflect pads wider than the input repeat periodically (numpy's
     * "reflect"): legal, and must stay inside the input */
    int64_t wide[8] = {0, 0, 20, 9, 0, 0, 9, 20};
    int y = node2(&nb, "Pad", x, c_i64(&nb, wide, 8));
    cv_node_set_string(nb.m, last(&nb), "mode", "reflect", NULL);
    try_run(&nb, y, &XS, 0, "reflect pads wider than the input");

    x = nb_begin(&nb, &XS, 13);
    int64_t short_pads[3] = {1, 1, 1};
    y = node2(&nb, "Pad", x, c_i64(&nb, short_pads, 3));
    cv_status st = try_run(&nb, y, &XS, 0, "pads of the wrong length");
    EXPECT_REFUSED(st, "pads of the wrong length");
}

static void test_slice(void)
{
    static const struct {
        const char *what;
        int64_t start, end, step;
        int refuse;
    } cases[] = {
        {"steps 0", 0, 8, 0, 1},
        {"starts INT64_MIN ends INT64_MAX", INT64_MIN, INT64_MAX, 1, 0},
        {"steps INT64_MIN", INT64_MAX, INT64_MIN, INT64_MIN, 0},
        {"steps INT64_MAX", INT64_MIN, INT64_MAX, INT64_MAX, 0},
        {"reversed with -1 steps past both ends", BIG, -BIG, -1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int64_t ax = 3;
        int in[5] = {x, c_i64(&nb, &cases[k].start, 1), c_i64(&nb, &cases[k].end, 1), c_i64(&nb, &ax, 1),
                     c_i64(&nb, &cases[k].step, 1)};
        int y = nb_node(&nb, "Slice", in, 5);
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        if (cases[k].refuse)
            EXPECT_REFUSED(st, cases[k].what);
    }
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    int64_t s = 0, e = 1, ax = BIG;
    int in[4] = {x, c_i64(&nb, &s, 1), c_i64(&nb, &e, 1), c_i64(&nb, &ax, 1)};
    int y = nb_node(&nb, "Slice", in, 4);
    cv_status st = try_run(&nb, y, &XS, 0, "axes 2^40");
    EXPECT_REFUSED(st, "axes 2^40");
}

static void test_constant_of_shape(void)
{
    static const struct {
        const char *what;
        int64_t v[3];
        int n;
    } cases[] = {
        {"[2^40, 2^40]", {BIG, BIG}, 2},
        {"[2^31, 2^31, 2^31]", {(int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31}, 3},
        {"[-1]", {-1}, 1},
        {"[2^28, 16] (4 GiB, over the run's limit)", {(int64_t)1 << 28, 16}, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int c = node1(&nb, "ConstantOfShape", c_i64(&nb, cases[k].v, cases[k].n));
        int y = node2(&nb, "Add", x, c); /* keeps the input in the graph */
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
}

static void test_axis_attrs(void)
{
    static const char *const ops[] = {"Softmax", "LogSoftmax", "Flatten", "Concat"};
    static const int64_t axes[] = {BIG, -BIG, 4, -5, INT64_MIN, INT64_MAX};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (size_t k = 0; k < sizeof axes / sizeof axes[0]; k++) {
            char what[64];
            snprintf(what, sizeof what, "%s axis %lld", ops[o], (long long)axes[k]);
            netbuild nb;
            int x = nb_begin(&nb, &XS, 13);
            int y = strcmp(ops[o], "Concat") == 0 ? node2(&nb, ops[o], x, x) : node1(&nb, ops[o], x);
            set_int(&nb, "axis", axes[k]);
            cv_status st = try_run(&nb, y, &XS, 0, what);
            if (!(strcmp(ops[o], "Flatten") == 0 && axes[k] == 4)) /* Flatten takes [-r, r] */
                EXPECT_REFUSED(st, what);
        }
    /* axes lists: Squeeze / Unsqueeze (inputs at opset 13), Reduce*, Transpose perm */
    static const struct {
        const char *op;
        int64_t v[8];
        int n;
        const char *what;
    } lists[] = {
        {"Squeeze", {BIG}, 1, "Squeeze axes 2^40"},
        {"Squeeze", {1}, 1, "Squeeze a non-1 axis"},
        {"Unsqueeze", {BIG}, 1, "Unsqueeze axes 2^40"},
        {"Unsqueeze", {0, 1, 2, 3, 4}, 5, "Unsqueeze past 8 dimensions"},
        {"Unsqueeze", {0, 0}, 2, "Unsqueeze the same axis twice"},
        {"ReduceMean", {BIG}, 1, "ReduceMean axes 2^40"},
        {"ReduceSum", {-BIG}, 1, "ReduceSum axes -2^40"},
        {"ReduceMax", {1, 1}, 2, "ReduceMax the same axis twice"},
    };
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y;
        if (strcmp(lists[k].op, "ReduceMean") == 0 || strcmp(lists[k].op, "ReduceMax") == 0) {
            y = node1(&nb, lists[k].op, x);
            set_ints(&nb, "axes", lists[k].v, lists[k].n);
        } else {
            y = node2(&nb, lists[k].op, x, c_i64(&nb, lists[k].v, lists[k].n));
        }
        cv_status st = try_run(&nb, y, &XS, 0, lists[k].what);
        if (!strstr(lists[k].what, "ReduceMax")) /* a repeated reduce axis is harmless: either answer */
            EXPECT_REFUSED(st, lists[k].what);
    }
    static const struct {
        int64_t v[5];
        int n;
        const char *what;
    } perms[] = {
        {{0, 0, 1, 2}, 4, "Transpose perm repeats an axis"},
        {{0, 1, 2, BIG}, 4, "Transpose perm 2^40"},
        {{0, 1, 2}, 3, "Transpose perm too short"},
        {{0, 1, 2, 3, 4}, 5, "Transpose perm too long"},
        {{0, 1, 2, -1}, 4, "Transpose perm negative"},
    };
    for (size_t k = 0; k < sizeof perms / sizeof perms[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = node1(&nb, "Transpose", x);
        set_ints(&nb, "perm", perms[k].v, perms[k].n);
        cv_status st = try_run(&nb, y, &XS, 0, perms[k].what);
        EXPECT_REFUSED(st, perms[k].what);
    }
}

static void test_misc_attrs(void)
{
    static const struct {
        const char *op, *attr;
        int64_t v;
        const char *what;
    } cases[] = {
        {"LRN", "size", 0, "LRN size 0"},
        {"LRN", "size", BIG, "LRN size 2^40"},
        {"LRN", "size", -3, "LRN size -3"},
        {"Cast", "to", BIG, "Cast to type 2^40"},
        {"Cast", "to", 8, "Cast to string"},
        {"Softmax", "axis", 1 << 30, "Softmax axis 2^30"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = node1(&nb, cases[k].op, x);
        set_int(&nb, cases[k].attr, cases[k].v);
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
    /* Parameter tensors of the wrong size. */
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    cv_shape p4 = {1, {4}}, p3 = {1, {3}};
    int in[5] = {x, c_f32(&nb, &p4, 1), c_f32(&nb, &p3, 0), c_f32(&nb, &p3, 0), c_f32(&nb, &p3, 1)};
    int y = nb_node(&nb, "BatchNormalization", in, 5);
    cv_status st = try_run(&nb, y, &XS, 0, "BatchNormalization scale of 4 for 3 channels");
    EXPECT_REFUSED(st, "BatchNormalization scale of 4 for 3 channels");

    int x2 = nb_begin(&nb, &XS, 13);
    cv_shape ws = {2, {5, 7}};
    int f = node1(&nb, "Flatten", x2);
    int in2[2] = {f, c_f32(&nb, &ws, 0.5f)};
    int y2 = nb_node(&nb, "Gemm", in2, 2);
    st = try_run(&nb, y2, &XS, 0, "Gemm [1, 192] x [5, 7]");
    EXPECT_REFUSED(st, "Gemm [1, 192] x [5, 7]");

    int x3 = nb_begin(&nb, &XS, 13);
    cv_shape bs = {4, {1, 5, 8, 8}};
    int y3 = node2(&nb, "Add", x3, c_f32(&nb, &bs, 1));
    st = try_run(&nb, y3, &XS, 0, "Add [1, 3, 8, 8] + [1, 5, 8, 8]");
    EXPECT_REFUSED(st, "Add [1, 3, 8, 8] + [1, 5, 8, 8]");

    int x4 = nb_begin(&nb, &XS, 13);
    cv_shape sl = {1, {5}};
    int y4 = node2(&nb, "PRelu", x4, c_f32(&nb, &sl, 0.1f));
    st = try_run(&nb, y4, &XS, 0, "PRelu slope [5] for 3 channels");
    EXPECT_REFUSED(st, "PRelu slope [5] for 3 channels");
}

/* ---- arity and types: every operator with too few, omitted, too many and
 * wrongly typed inputs ---------------------------------------------------------- */

static const char *const all_ops[] = {
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
    "BatchNormalization", "Concat", "Constant", "Shape", "Size", "Gather", "Slice", "ConstantOfShape", "Cast",
    "Conv", "Gemm", "MatMul", "LRN", "Pad", "MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool",
    "Identity", "Dropout", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Softmax", "LogSoftmax", "Transpose",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Add", "Sub", "Mul", "Div",
    /* (later operators: skipped where this build lacks them) */
    "ConvTranspose", "Expand", "Tile", "Where", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
    "Split", "Resize", "Upsample", "Max", "Min", "Sum", "Mean", "Sqrt", "Exp", "Log", "Reciprocal", "Erf",
    "Softplus", "Softsign", "Sin", "Cos", "Floor", "Ceil", "Round", "Neg", "Abs", "Sign", "Pow",
};

static void test_arity(void)
{
    int tried = 0, refused = 0;
    for (size_t o = 0; o < sizeof all_ops / sizeof all_ops[0]; o++) {
        const char *op = all_ops[o];
        if (!cv_op_find(op))
            continue; /* not in this build */
        for (int variant = 0; variant < 5; variant++) {
            netbuild nb;
            int x = nb_begin(&nb, &XS, 13);
            int in[9];
            int n_in = 0;
            const char *how = "";
            switch (variant) {
            case 0: how = "no inputs"; break;
            case 1: how = "an omitted first input"; in[n_in++] = -1; break;
            case 2: how = "nine inputs";
                for (; n_in < 9; n_in++)
                    in[n_in] = x;
                break;
            case 3: how = "an int64 input (Shape of x)"; in[n_in++] = node1(&nb, "Shape", x); break;
            case 4: how = "x and an omitted second input"; in[n_in++] = x; in[n_in++] = -1; break;
            }
            cv_model_add_node(nb.m, "n", op, in, n_in, (int[]){cv_model_value(nb.m, "y", NULL)}, 1, NULL);
            int y = cv_model_find_value(nb.m, "y");
            /* the graph must still read x for the model to be valid: add it */
            int y2 = node2(&nb, "Add", x, x);
            (void)y2;
            char what[128];
            snprintf(what, sizeof what, "%s with %s", op, how);
            cv_status st = try_run(&nb, y, &XS, 0, what);
            tried++;
            refused += st != CV_OK;
        }
    }
    printf("    arity/type cases: %d tried, %d refused cleanly, the rest ran\n", tried, refused);
    CHECK(tried > 100, "only %d cases", tried);
}

/* Node graphs the loaders cannot make but a corrupt file can describe. */
static void test_graph_structure(void)
{
    netbuild nb;
    int x = nb_begin(&nb, &XS, 13);
    /* a cycle: a = Relu(b), b = Relu(a) */
    int a = cv_model_value(nb.m, "a", NULL), b = cv_model_value(nb.m, "b", NULL);
    cv_model_add_node(nb.m, "r1", "Relu", &b, 1, &a, 1, NULL);
    cv_model_add_node(nb.m, "r2", "Relu", &a, 1, &b, 1, NULL);
    int y = node2(&nb, "Add", x, a);
    cv_status st = try_run(&nb, y, &XS, 0, "a cycle");
    EXPECT_REFUSED(st, "a cycle");

    x = nb_begin(&nb, &XS, 13);
    int r = node1(&nb, "Relu", x);
    cv_model_add_node(nb.m, "dup", "Sigmoid", &x, 1, &r, 1, NULL); /* r written twice */
    st = try_run(&nb, r, &XS, 0, "a tensor produced by two nodes");
    EXPECT_REFUSED(st, "a tensor produced by two nodes");

    x = nb_begin(&nb, &XS, 13);
    int ghost = cv_model_value(nb.m, "ghost", NULL);
    y = node2(&nb, "Add", x, ghost);
    st = try_run(&nb, y, &XS, 0, "an input nobody provides");
    EXPECT_REFUSED(st, "an input nobody provides");

    /* 70 inputs to one Concat */
    x = nb_begin(&nb, &XS, 13);
    int many[70];
    for (int k = 0; k < 70; k++)
        many[k] = x;
    y = nb_node(&nb, "Concat", many, 70);
    set_int(&nb, "axis", 1);
    try_run(&nb, y, &XS, 0, "Concat of 70 inputs"); /* refused or run: no crash */

    /* the graph output is the input itself */
    x = nb_begin(&nb, &XS, 13);
    try_run(&nb, x, &XS, 0, "output = input, no nodes");
}


/* ---- shapes that only exist as products: overflow in the plan itself ------------------ */

/* Conv on a 1x1 input padded by 2^20 with a 2048x2048 kernel: the output
 * would be ~2^21 x 2^21 pixels and taps x pixels ~2^64, which must be
 * refused before that product is formed. */
static void test_conv_product_overflow(void)
{
    cv_shape xs = {4, {1, 1, 1, 1}};
    netbuild nb;
    int x = nb_begin(&nb, &xs, 13);
    int y = conv_node(&nb, x, 1, 1, 2048);
    int64_t pads[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
    set_ints(&nb, "pads", pads, 4);
    cv_status st = try_run(&nb, y, &xs, 0, "Conv 2048x2048 kernel on 1x1 padded by 2^20");
    EXPECT_REFUSED(st, "Conv 2048x2048 kernel on 1x1 padded by 2^20");
}

static int ct_node(netbuild *nb, int x, const cv_shape *ws)
{
    int in[2] = {x, c_f32(nb, ws, 0.1f)};
    return nb_node(nb, "ConvTranspose", in, 2);
}

static void test_conv_transpose(void)
{
    if (!cv_op_find("ConvTranspose"))
        SKIP("no ConvTranspose in this build");
    /* strides 2^20 on 4096 x 4096: each output side ~2^32, their product
     * overflows int64 */
    cv_shape xs = {4, {1, 1, 4096, 4096}}, ws = {4, {1, 1, 1, 1}};
    netbuild nb;
    int x = nb_begin(&nb, &xs, 13);
    int y = ct_node(&nb, x, &ws);
    int64_t strides[2] = {1 << 20, 1 << 20};
    set_ints(&nb, "strides", strides, 2);
    cv_status st = try_run(&nb, y, &xs, (size_t)1 << 30, "ConvTranspose strides 2^20 on 4096x4096");
    EXPECT_REFUSED(st, "ConvTranspose strides 2^20 on 4096x4096");

    static const struct {
        const char *what, *attr;
        int64_t v[4];
        int n;
    } cases[] = {
        {"output_padding 2^40", "output_padding", {BIG, BIG}, 2},
        {"output_shape 2^40", "output_shape", {BIG, BIG}, 2},
        {"output_shape 0", "output_shape", {0, 0}, 2},
        {"pads 2^20 (empty output)", "pads", {1 << 20, 1 << 20, 1 << 20, 1 << 20}, 4},
        {"group 2^62", "group", {(int64_t)1 << 62}, 0},
        {"group -1", "group", {-1}, 0},
        {"dilations 0", "dilations", {0, 0}, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cv_shape ws3 = {4, {3, 2, 3, 3}};
        x = nb_begin(&nb, &XS, 13);
        y = ct_node(&nb, x, &ws3);
        if (cases[k].n)
            set_ints(&nb, cases[k].attr, cases[k].v, cases[k].n);
        else
            set_int(&nb, cases[k].attr, cases[k].v[0]);
        st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
    /* empty input channels (0 % group == 0) and weights [0, 2^40, 1, 1]
     * (no elements): output channels = 2^40 * group must not overflow */
    x = nb_begin(&nb, &XS, 13);
    int64_t s0[1] = {0}, e0[1] = {0}, ax[1] = {1};
    int in[4] = {x, c_i64(&nb, s0, 1), c_i64(&nb, e0, 1), c_i64(&nb, ax, 1)};
    int e = nb_node(&nb, "Slice", in, 4);
    cv_shape wbig = {4, {0, BIG, 1, 1}};
    y = ct_node(&nb, e, &wbig);
    set_int(&nb, "group", (int64_t)1 << 40);
    st = try_run(&nb, y, &XS, 0, "ConvTranspose empty channels, weights [0, 2^40, 1, 1], group 2^40");
    EXPECT_REFUSED(st, "ConvTranspose empty channels, weights [0, 2^40, 1, 1], group 2^40");
}

static void test_expand_tile_resize(void)
{
    static const struct {
        const char *op;
        int64_t v[4];
        int n;
        const char *what;
    } cases[] = {
        {"Expand", {BIG, BIG}, 2, "Expand to [2^40, 2^40]"},
        {"Expand", {-1}, 1, "Expand to [-1]"},
        {"Expand", {1, 3, (int64_t)1 << 31, (int64_t)1 << 31}, 4, "Expand to [1, 3, 2^31, 2^31]"},
        {"Tile", {1, 1, BIG, BIG}, 4, "Tile repeats 2^40"},
        {"Tile", {1, 1, -1, 1}, 4, "Tile repeats -1"},
        {"Tile", {(int64_t)1 << 62, 2, 1, 1}, 4, "Tile repeats 2^62"},
        {"Tile", {1, 1}, 2, "Tile repeats of the wrong length"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (!cv_op_find(cases[k].op))
            continue;
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int y = node2(&nb, cases[k].op, x, c_i64(&nb, cases[k].v, cases[k].n));
        cv_status st = try_run(&nb, y, &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
    if (!cv_op_find("Resize"))
        return;
    static const struct {
        float v[4];
        const char *what;
    } scales[] = {
        {{1, 1, 1e30f, 1e30f}, "Resize scales 1e30"},
        {{1, 1, 0, 0}, "Resize scales 0"},
        {{1, 1, -2, -2}, "Resize scales -2"},
        {{1, 1, 1.0f / 0.0f, 1}, "Resize scales inf"},
        {{1, 1, 0.0f / 0.0f, 1}, "Resize scales NaN"},
        {{1, 1, 1e-30f, 1e-30f}, "Resize scales 1e-30 (an empty output)"},
        {{1, 1, 65536, 65536}, "Resize scales 65536 (a 2^38-pixel output)"},
    };
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        cv_shape s4 = {1, {4}}, s0 = {1, {0}};
        int sc = nb_model_const(nb.m, "scales", CV_F32, &s4, scales[k].v, &nb.err);
        int in[3] = {x, c_f32(&nb, &s0, 0), sc};
        int y = nb_node(&nb, "Resize", in, 3);
        cv_status st = try_run(&nb, y, &XS, 0, scales[k].what);
        if (k != 5) /* an empty output may be refused or produced */
            EXPECT_REFUSED(st, scales[k].what);
    }
    static const struct {
        int64_t v[4];
        const char *what;
    } sizes[] = {
        {{1, 3, BIG, BIG}, "Resize sizes 2^40"},
        {{1, 3, -8, 8}, "Resize sizes -8"},
        {{1, 3, INT64_MAX, 1}, "Resize sizes INT64_MAX"},
        {{2, 3, 8, 8}, "Resize sizes doubling the batch"},
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        cv_shape s0 = {1, {0}};
        int in[4] = {x, c_f32(&nb, &s0, 0), c_f32(&nb, &s0, 0), c_i64(&nb, sizes[k].v, 4)};
        int y = nb_node(&nb, "Resize", in, 4);
        cv_status st = try_run(&nb, y, &XS, 0, sizes[k].what);
        if (k != 3) /* nearest-neighbour batch resizing is legal */
            EXPECT_REFUSED(st, sizes[k].what);
    }
}

static void test_split(void)
{
    if (!cv_op_find("Split"))
        SKIP("no Split in this build");
    static const struct {
        int64_t v[3];
        int n;
        const char *what;
    } cases[] = {
        {{BIG, -BIG + 3}, 2, "Split [2^40, 3 - 2^40] (sums to 3)"},
        {{-1, 4}, 2, "Split [-1, 4]"},
        {{1, 1}, 2, "Split [1, 1] of 3 channels"},
        {{INT64_MAX, INT64_MAX, 5}, 3, "Split summing past INT64_MAX"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netbuild nb;
        int x = nb_begin(&nb, &XS, 13);
        int in[2] = {x, c_i64(&nb, cases[k].v, cases[k].n)};
        int outs[3];
        for (int o = 0; o < cases[k].n; o++) {
            char name[16];
            snprintf(name, sizeof name, "s%d", o);
            outs[o] = cv_model_value(nb.m, name, NULL);
        }
        cv_model_add_node(nb.m, "split", "Split", in, 2, outs, cases[k].n, NULL);
        set_int(&nb, "axis", 1);
        cv_status st = try_run(&nb, outs[0], &XS, 0, cases[k].what);
        EXPECT_REFUSED(st, cases[k].what);
    }
}

/* ---- memory limits ---------------------------------------------------------------------- */

static void test_memory_limit(void)
{
    /* 64 output channels at 64 x 64: 1 MiB per activation; a 1.5 MiB limit
     * must refuse the plan before allocating, naming the largest tensor. */
    cv_shape xs = {4, {1, 3, 64, 64}};
    netbuild nb;
    int x = nb_begin(&nb, &xs, 13);
    int c = nb_conv(&nb, x, 3, 64, 3, 1, 1, 1);
    int y = nb_unary(&nb, "Relu", c);
    cv_model *m = nb_end(&nb, y);
    REQUIRE(m, "%s", nb.err.msg);
    m->max_memory = (size_t)3 << 19;
    cv_run *r = NULL;
    cv_error err;
    cv_run_options opt = cv_run_defaults();
    cv_status st = cv_run_create(&r, m, &xs, &opt, &err);
    printf("    1.5 MiB limit: %s\n", err.msg);
    CHECK(st == CV_ERR_LIMIT && !r, "status %d", st);
    CHECK(strstr(err.msg, "memory limit") && strstr(err.msg, "[1, 64, 64, 64]"), "message: %s", err.msg);
    /* 6 MiB is enough for forward (input, two activations, the conv's
     * scratch: about 5.4 MiB) ... */
    m->max_memory = (size_t)6 << 20;
    st = cv_run_create(&r, m, &xs, &opt, &err);
    CHECK(st == CV_OK, "6 MiB forward: %s", err.msg);
    cv_run_free(r);
    /* ... but not with gradients (every activation twice) */
    opt.need_grad = 1;
    st = cv_run_create(&r, m, &xs, &opt, &err);
    printf("    6 MiB with gradients: %s\n", st == CV_OK ? "accepted" : err.msg);
    CHECK(st == CV_ERR_LIMIT, "need_grad within 6 MiB accepted");
    cv_run_free(r);
    /* a huge input is refused the same way */
    cv_shape huge = {4, {64, 3, 1024, 1024}};
    opt.need_grad = 0;
    m->max_memory = (size_t)64 << 20;
    st = cv_run_create(&r, m, &huge, &opt, &err);
    printf("    64 MiB limit, input [64, 3, 1024, 1024]: %s\n", err.msg);
    CHECK(st == CV_ERR_LIMIT, "huge input accepted");
    cv_model_free(m);
}

int main(void)
{
    RUN(test_conv_attrs);
    RUN(test_conv_group);
    RUN(test_pools);
    RUN(test_reshape);
    RUN(test_reshape_empty);
    RUN(test_shape_arith_overflow);
    RUN(test_gather);
    RUN(test_pad);
    RUN(test_slice);
    RUN(test_constant_of_shape);
    RUN(test_axis_attrs);
    RUN(test_misc_attrs);
    RUN(test_arity);
    RUN(test_graph_structure);
    RUN(test_conv_product_overflow);
    RUN(test_conv_transpose);
    RUN(test_expand_tile_resize);
    RUN(test_split);
    RUN(test_memory_limit);
    return test_summary("hostile_graphs");
}
