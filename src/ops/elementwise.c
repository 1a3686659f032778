/* Add, Sub, Mul, Div with numpy (multidirectional) broadcasting, for float32
 * and int64. int64 is here for the shape arithmetic exporters emit around
 * Shape (e.g. `x.size(1) // 2`); those nodes are folded at plan time.
 *
 * Semantics notes:
 * - int64 arithmetic wraps on overflow (done in uint64), never traps.
 * - int64 Div truncates toward zero, as onnxruntime does; x / 0 gives 0
 *   instead of a crash (ONNX leaves it undefined).
 * - The opset-6 `broadcast`/`axis` attributes (legacy broadcasting) are
 *   refused: opsets 7+ use numpy rules.
 *
 * Backward reduces the output gradient over the dimensions each input was
 * broadcast along.
 */
#include "bcast.h"
#include <stdint.h>
#include <stdlib.h>

enum { EW_ADD, EW_SUB, EW_MUL, EW_DIV };

typedef struct {
    int op;
} ew_params;

static cv_status ew_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects 2 inputs, got %d", n->n_in);
    if (cv_node_attr(n, "axis") || cv_attr_int(n, "broadcast", 0) != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "legacy (opset < 7) 'broadcast'/'axis' attributes are not supported");
    ew_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    const char *t = n->op_type;
    p->op = t[0] == 'A' ? EW_ADD : t[0] == 'S' ? EW_SUB : t[0] == 'M' ? EW_MUL : EW_DIV;
    n->params = p;
    return CV_OK;
}

static cv_status ew_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *a = c->in[0], *b = c->in[1];
    char sa[160], sb[160];
    if (a->dtype != b->dtype)
        return cv_fail(err, CV_ERR_INVALID, "inputs have different element types (%s and %s)",
                       a->dtype == CV_I64 ? "int64" : "float32", b->dtype == CV_I64 ? "int64" : "float32");
    if (cv_broadcast_shape(&a->shape, &b->shape, &c->out[0]->shape) != CV_OK)
        return cv_fail(err, CV_ERR_SHAPE, "input shapes %s and %s do not broadcast",
                       cv_shape_str(&a->shape, sa, sizeof sa), cv_shape_str(&b->shape, sb, sizeof sb));
    c->out[0]->dtype = a->dtype;
    return CV_OK;
}

/* One row of y = a (op) b; sa, sb are the inner strides (0 or 1, or any). */
#define EW_ROW(T, EXPR)                                                         \
    do {                                                                        \
        if (sa == 1 && sb == 1)                                                 \
            for (int64_t k = 0; k < len; k++) {                                 \
                T x = a[k], z = b[k];                                           \
                y[k] = (EXPR);                                                  \
            }                                                                   \
        else if (sa == 1 && sb == 0) {                                         \
            T z = b[0];                                                         \
            for (int64_t k = 0; k < len; k++) {                                 \
                T x = a[k];                                                     \
                y[k] = (EXPR);                                                  \
            }                                                                   \
        } else if (sa == 0 && sb == 1) {                                       \
            T x = a[0];                                                         \
            for (int64_t k = 0; k < len; k++) {                                 \
                T z = b[k];                                                     \
                y[k] = (EXPR);                                                  \
            }                                                                   \
        } else                                                                  \
            for (int64_t k = 0; k < len; k++) {                                 \
                T x = a[k * sa], z = b[k * sb];                                 \
                y[k] = (EXPR);                                                  \
            }                                                                   \
    } while (0)

/* y (rows x len) = a (op) b, float32. */
static void ew_rows_f32(int op, const cv_bcast *p, float *yall, const float *aall, const float *ball)
{
    const int64_t sa = p->sa[p->nd - 1], sb = p->sb[p->nd - 1], len = p->len;
#pragma omp parallel for if (p->rows * len > CV_OMP_MIN_ELEMS && p->rows > 1) schedule(static)
    for (int64_t r = 0; r < p->rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(p, r, &oa, &ob);
        const float *a = aall + oa, *b = ball + ob;
        float *y = yall + r * len;
        switch (op) {
        case EW_ADD: EW_ROW(float, x + z); break;
        case EW_SUB: EW_ROW(float, x - z); break;
        case EW_MUL: EW_ROW(float, x * z); break;
        default: EW_ROW(float, x / z); break;
        }
    }
}

static int64_t i64_div(int64_t x, int64_t z)
{
    if (z == 0)
        return 0;
    if (z == -1)
        return (int64_t)(0 - (uint64_t)x); /* INT64_MIN / -1 wraps instead of trapping */
    return x / z;
}

static void ew_rows_i64(int op, const cv_bcast *p, int64_t *yall, const int64_t *aall, const int64_t *ball)
{
    const int64_t sa = p->sa[p->nd - 1], sb = p->sb[p->nd - 1], len = p->len;
    for (int64_t r = 0; r < p->rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(p, r, &oa, &ob);
        const int64_t *a = aall + oa, *b = ball + ob;
        int64_t *y = yall + r * len;
        switch (op) {
        case EW_ADD: EW_ROW(int64_t, (int64_t)((uint64_t)x + (uint64_t)z)); break;
        case EW_SUB: EW_ROW(int64_t, (int64_t)((uint64_t)x - (uint64_t)z)); break;
        case EW_MUL: EW_ROW(int64_t, (int64_t)((uint64_t)x * (uint64_t)z)); break;
        default: EW_ROW(int64_t, i64_div(x, z)); break;
        }
    }
}

static void ew_forward(cv_op_ctx *c)
{
    const ew_params *p = c->params;
    const cv_tensor *a = c->in[0], *b = c->in[1];
    cv_tensor *y = c->out[0];
    cv_bcast bc;
    /* Same shapes merge into one row: the plain elementwise fast path. */
    cv_bcast_plan(&bc, &y->shape, &a->shape, &b->shape);
    if (y->dtype == CV_I64)
        ew_rows_i64(p->op, &bc, y->i, a->i, b->i);
    else
        ew_rows_f32(p->op, &bc, y->f, a->f, b->f);
}

/* d(input `which`) for one element, given dy and both operands. */
static inline float ew_dinput(int op, int which, float dy, float x, float z)
{
    switch (op) {
    case EW_ADD: return dy;
    case EW_SUB: return which == 0 ? dy : -dy;
    case EW_MUL: return which == 0 ? dy * z : dy * x;
    default: return which == 0 ? dy / z : -dy * x / (z * z);
    }
}

/* Accumulate the gradient of input `which` (0 = a, 1 = b). Rows run in
 * parallel only when that input is not broadcast (each row then owns its
 * part of the gradient); otherwise the reduction runs serially. */
static void ew_backward_one(int op, int which, const cv_bcast *p, float *g, const float *dyall,
                            const float *aall, const float *ball, bool full)
{
    const int64_t sa = p->sa[p->nd - 1], sb = p->sb[p->nd - 1], len = p->len;
#pragma omp parallel for if (full && p->rows * len > CV_OMP_MIN_ELEMS && p->rows > 1) schedule(static)
    for (int64_t r = 0; r < p->rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(p, r, &oa, &ob);
        const float *dy = dyall + r * len, *a = aall + oa, *b = ball + ob;
        float *gr = g + (which == 0 ? oa : ob);
        const int64_t sg = which == 0 ? sa : sb;
        if (op == EW_ADD || (op == EW_SUB && which == 0)) {
            if (sg == 1)
                for (int64_t k = 0; k < len; k++)
                    gr[k] += dy[k];
            else {
                double s = 0; /* a broadcast inner run: sum it once */
                for (int64_t k = 0; k < len; k++)
                    s += dy[k];
                gr[0] += (float)s;
            }
        } else {
            for (int64_t k = 0; k < len; k++)
                gr[k * sg] += ew_dinput(op, which, dy[k], a[k * sa], b[k * sb]);
        }
    }
}

static void ew_backward(cv_op_ctx *c)
{
    const ew_params *p = c->params;
    const cv_tensor *y = c->out[0];
    cv_bcast bc;
    cv_bcast_plan(&bc, &y->shape, &c->in[0]->shape, &c->in[1]->shape);
    for (int which = 0; which < 2; which++) {
        cv_tensor *t = c->in[which];
        if (!t->grad)
            continue;
        bool full = cv_shape_numel(&t->shape) == cv_shape_numel(&y->shape);
        ew_backward_one(p->op, which, &bc, t->grad, y->grad, c->in[0]->f, c->in[1]->f, full);
    }
}

#define EW_DEF(NAME) \
    {.type = NAME, .init = ew_init, .infer = ew_infer, .forward = ew_forward, .backward = ew_backward, \
     .spatial = CV_SPATIAL_POINTWISE}

static const cv_op_def add = EW_DEF("Add");
static const cv_op_def sub = EW_DEF("Sub");
static const cv_op_def mul = EW_DEF("Mul");
static const cv_op_def div_ = EW_DEF("Div");

const cv_op_def *const cv_ops_elementwise[] = {&add, &sub, &mul, &div_, NULL};
