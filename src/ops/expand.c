/* Expand and Tile, and the small boolean family exporters emit around them
 * for shape arithmetic: Where, Equal, Greater, Less, GreaterOrEqual,
 * LessOrEqual.
 *
 * - Expand(x, shape): x broadcast (numpy rules, both ways) against `shape`,
 *   which must be constant. PyTorch's x.expand(...) with a -1 in it
 *   exports as Expand(x, Where(Equal(shape, -1), 1, shape)), which is why
 *   the comparisons and Where are here.
 * - Tile(x, repeats): x repeated repeats[k] times along each axis k;
 *   repeats must be constant.
 * - Where(cond, a, b): cond ? a : b elementwise, three-way broadcasting.
 * - Equal/Greater/Less/...: compare two float32 or int64 tensors
 *   (broadcasting); the result is a boolean, held as int64 0/1 like every
 *   boolean tensor in cnnviz.
 *
 * Backward: Expand and Tile sum the output gradient back onto the input
 * elements it was copied from; Where sends dy to a where cond holds and to
 * b elsewhere. Comparisons have no gradient (their output is not float).
 */
#include "bcast.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The constant int64 vector input k (shape/repeats) is usable: checked in
 * infer, where in_static is set. */
static cv_status const_vector(const cv_op_ctx *c, int k, const char *what, cv_error *err)
{
    const cv_tensor *t = c->in[k];
    if (c->in_static && !c->in_static[k])
        return cv_fail(err, CV_ERR_UNSUPPORTED, "input '%s' must be constant (computed from the model input here)",
                       what);
    if (t->dtype != CV_I64 || t->shape.ndim != 1)
        return cv_fail(err, CV_ERR_INVALID, "input '%s' must be a 1-D int64 tensor", what);
    if (t->shape.d[0] > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "input '%s' has %lld entries (at most %d dimensions are supported)",
                       what, (long long)t->shape.d[0], CV_MAX_DIMS);
    return CV_OK;
}

/* ---- Expand ------------------------------------------------------------------ */

static cv_status expand_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs (input, shape), got %d", n->n_in);
    return CV_OK;
}

static cv_status expand_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0], *s = c->in[1];
    cv_status st = const_vector(c, 1, "shape", err);
    if (st != CV_OK)
        return st;
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 or int64 input");
    cv_shape want = {(int)s->shape.d[0], {0}};
    for (int k = 0; k < want.ndim; k++) {
        if (s->i[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "shape entry %d is %lld, expected >= 0", k, (long long)s->i[k]);
        want.d[k] = s->i[k];
    }
    char a[160], b[160];
    if (cv_broadcast_shape(&x->shape, &want, &c->out[0]->shape) != CV_OK)
        return cv_fail(err, CV_ERR_SHAPE, "input %s cannot be expanded to %s", cv_shape_str(&x->shape, a, sizeof a),
                       cv_shape_str(&want, b, sizeof b));
    c->out[0]->dtype = x->dtype;
    return CV_OK;
}

static void expand_forward(cv_op_ctx *c)
{
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    cv_bcast bc;
    cv_bcast_plan(&bc, &y->shape, &y->shape, &x->shape);
    const int64_t sb = bc.sb[bc.nd - 1], len = bc.len;
    if (x->dtype == CV_I64) {
        for (int64_t r = 0; r < bc.rows; r++) {
            int64_t oa, ob;
            cv_bcast_row(&bc, r, &oa, &ob);
            for (int64_t k = 0; k < len; k++)
                y->i[oa + k] = x->i[ob + k * sb];
        }
        return;
    }
#pragma omp parallel for if (bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
    for (int64_t r = 0; r < bc.rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(&bc, r, &oa, &ob);
        float *yr = y->f + oa;
        const float *xr = x->f + ob;
        if (sb == 1)
            memcpy(yr, xr, (size_t)len * sizeof(float));
        else
            for (int64_t k = 0; k < len; k++)
                yr[k] = xr[k * sb];
    }
}

/* dx += dy summed over the positions each x element was broadcast to. */
static void expand_backward(cv_op_ctx *c)
{
    const cv_tensor *x = c->in[0], *y = c->out[0];
    if (!x->grad)
        return;
    cv_bcast bc;
    cv_bcast_plan(&bc, &y->shape, &y->shape, &x->shape);
    const int64_t sb = bc.sb[bc.nd - 1], len = bc.len;
    bool full = cv_shape_numel(&x->shape) == cv_shape_numel(&y->shape);
#pragma omp parallel for if (full && bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
    for (int64_t r = 0; r < bc.rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(&bc, r, &oa, &ob);
        const float *dy = y->grad + oa;
        float *dx = x->grad + ob;
        if (sb == 0) {
            double s = 0;
            for (int64_t k = 0; k < len; k++)
                s += dy[k];
            dx[0] += (float)s;
        } else {
            for (int64_t k = 0; k < len; k++)
                dx[k * sb] += dy[k];
        }
    }
}

/* ---- Tile --------------------------------------------------------------------- */

static cv_status tile_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in == 3)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "the opset-1 form Tile(input, tiles, axis) is not supported");
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs (input, repeats), got %d", n->n_in);
    return CV_OK;
}

static cv_status tile_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0], *r = c->in[1];
    cv_status st = const_vector(c, 1, "repeats", err);
    if (st != CV_OK)
        return st;
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 or int64 input");
    char a[160];
    if (r->shape.d[0] != x->shape.ndim)
        return cv_fail(err, CV_ERR_SHAPE, "'repeats' has %lld entries for the %d-D input %s", (long long)r->shape.d[0],
                       x->shape.ndim, cv_shape_str(&x->shape, a, sizeof a));
    cv_shape ys = x->shape;
    for (int k = 0; k < ys.ndim; k++) {
        if (r->i[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "repeats entry %d is %lld, expected >= 0", k, (long long)r->i[k]);
        size_t d;
        if (!cv_mul_size((size_t)ys.d[k], (size_t)r->i[k], &d) || d > CV_MAX_TENSOR_BYTES)
            return cv_fail(err, CV_ERR_LIMIT, "repeating axis %d of %s %lld times is too large", k,
                           cv_shape_str(&x->shape, a, sizeof a), (long long)r->i[k]);
        ys.d[k] = (int64_t)d;
    }
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = ys;
    return CV_OK;
}

/* y viewed as rows of its last axis: the input row that output row r
 * repeats (leading indices taken modulo the input's dims). */
static int64_t tile_src_row(const cv_shape *xs, const cv_shape *ys, int64_t r)
{
    int64_t src = 0, mul = 1;
    for (int k = ys->ndim - 2; k >= 0; k--) {
        int64_t i = r % ys->d[k];
        r /= ys->d[k];
        src += (i % xs->d[k]) * mul;
        mul *= xs->d[k];
    }
    return src;
}

static void tile_forward(cv_op_ctx *c)
{
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    const cv_shape *xs = &x->shape, *ys = &y->shape;
    size_t es = cv_dtype_size(x->dtype);
    if (cv_shape_numel(ys) == 0)
        return;
    if (ys->ndim == 0) {
        memcpy(cv_tensor_bytes(y), cv_tensor_bytes(x), es);
        return;
    }
    int64_t xw = xs->d[xs->ndim - 1], yw = ys->d[ys->ndim - 1];
    int64_t rows = (int64_t)(cv_shape_numel(ys) / (size_t)yw);
    const char *xb = cv_tensor_bytes(x);
    char *yb = cv_tensor_bytes(y);
    for (int64_t r = 0; r < rows; r++) {
        const char *src = xb + (size_t)(tile_src_row(xs, ys, r) * xw) * es;
        char *dst = yb + (size_t)(r * yw) * es;
        for (int64_t j = 0; j < yw; j += xw)
            memcpy(dst + (size_t)j * es, src, (size_t)xw * es);
    }
}

static void tile_backward(cv_op_ctx *c)
{
    const cv_tensor *x = c->in[0], *y = c->out[0];
    if (!x->grad || cv_shape_numel(&y->shape) == 0)
        return;
    const cv_shape *xs = &x->shape, *ys = &y->shape;
    if (ys->ndim == 0) {
        x->grad[0] += y->grad[0];
        return;
    }
    int64_t xw = xs->d[xs->ndim - 1], yw = ys->d[ys->ndim - 1];
    int64_t rows = (int64_t)(cv_shape_numel(ys) / (size_t)yw);
    for (int64_t r = 0; r < rows; r++) {
        float *dx = x->grad + tile_src_row(xs, ys, r) * xw;
        const float *dy = y->grad + r * yw;
        for (int64_t j = 0; j < yw; j++)
            dx[j % xw] += dy[j];
    }
}

/* ---- Where --------------------------------------------------------------------- */

static cv_status where_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in != 3 || n->in[0] < 0 || n->in[1] < 0 || n->in[2] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs (condition, X, Y), got %d", n->n_in);
    return CV_OK;
}

static cv_status where_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *cond = c->in[0], *a = c->in[1], *b = c->in[2];
    if (cond->dtype != CV_I64)
        return cv_fail(err, CV_ERR_INVALID, "condition must be a boolean tensor");
    if (a->dtype != b->dtype)
        return cv_fail(err, CV_ERR_INVALID, "X and Y have different element types");
    cv_shape s1, s2;
    char t0[160], t1[160], t2[160];
    if (cv_broadcast_shape(&cond->shape, &a->shape, &s1) != CV_OK ||
        cv_broadcast_shape(&s1, &b->shape, &s2) != CV_OK)
        return cv_fail(err, CV_ERR_SHAPE, "condition %s, X %s and Y %s do not broadcast",
                       cv_shape_str(&cond->shape, t0, sizeof t0), cv_shape_str(&a->shape, t1, sizeof t1),
                       cv_shape_str(&b->shape, t2, sizeof t2));
    c->out[0]->dtype = a->dtype;
    c->out[0]->shape = s2;
    return CV_OK;
}

/* Walks the output in order with the offsets of the three inputs. */
typedef struct {
    int nd;
    int64_t dim[CV_MAX_DIMS], idx[CV_MAX_DIMS];
    int64_t s[3][CV_MAX_DIMS];
    int64_t off[3];
} where_iter;

static void where_iter_init(where_iter *it, const cv_op_ctx *c)
{
    const cv_shape *ys = &c->out[0]->shape;
    memset(it, 0, sizeof *it);
    it->nd = ys->ndim;
    for (int k = 0; k < ys->ndim; k++)
        it->dim[k] = ys->d[k];
    for (int i = 0; i < 3; i++)
        cv_bcast_strides_(ys, &c->in[i]->shape, it->s[i]);
}

static inline void where_iter_next(where_iter *it)
{
    for (int k = it->nd - 1; k >= 0; k--) {
        it->off[0] += it->s[0][k];
        it->off[1] += it->s[1][k];
        it->off[2] += it->s[2][k];
        if (++it->idx[k] < it->dim[k])
            return;
        it->off[0] -= it->s[0][k] * it->dim[k];
        it->off[1] -= it->s[1][k] * it->dim[k];
        it->off[2] -= it->s[2][k] * it->dim[k];
        it->idx[k] = 0;
    }
}

static void where_forward(cv_op_ctx *c)
{
    const int64_t *cond = c->in[0]->i;
    cv_tensor *y = c->out[0];
    size_t n = cv_shape_numel(&y->shape);
    where_iter it;
    where_iter_init(&it, c);
    if (y->dtype == CV_I64) {
        for (size_t j = 0; j < n; j++, where_iter_next(&it))
            y->i[j] = cond[it.off[0]] ? c->in[1]->i[it.off[1]] : c->in[2]->i[it.off[2]];
    } else {
        for (size_t j = 0; j < n; j++, where_iter_next(&it))
            y->f[j] = cond[it.off[0]] ? c->in[1]->f[it.off[1]] : c->in[2]->f[it.off[2]];
    }
}

static void where_backward(cv_op_ctx *c)
{
    const int64_t *cond = c->in[0]->i;
    const cv_tensor *y = c->out[0];
    float *da = c->in[1]->grad, *db = c->in[2]->grad;
    size_t n = cv_shape_numel(&y->shape);
    where_iter it;
    where_iter_init(&it, c);
    for (size_t j = 0; j < n; j++, where_iter_next(&it)) {
        if (cond[it.off[0]]) {
            if (da)
                da[it.off[1]] += y->grad[j];
        } else if (db) {
            db[it.off[2]] += y->grad[j];
        }
    }
}

/* ---- comparisons ------------------------------------------------------------------ */

enum { CMP_EQ, CMP_GT, CMP_LT, CMP_GE, CMP_LE };

static int cmp_kind(const char *t)
{
    return strcmp(t, "Equal") == 0 ? CMP_EQ : strcmp(t, "Greater") == 0 ? CMP_GT : strcmp(t, "Less") == 0 ? CMP_LT
         : strcmp(t, "GreaterOrEqual") == 0 ? CMP_GE : CMP_LE;
}

static cv_status cmp_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects 2 inputs, got %d", n->n_in);
    if (cv_node_attr(n, "axis") || cv_attr_int(n, "broadcast", 0) != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "legacy (opset < 7) 'broadcast'/'axis' attributes are not supported");
    return CV_OK;
}

static cv_status cmp_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *a = c->in[0], *b = c->in[1];
    char sa[160], sb[160];
    if (a->dtype != b->dtype)
        return cv_fail(err, CV_ERR_INVALID, "inputs have different element types");
    if (cv_broadcast_shape(&a->shape, &b->shape, &c->out[0]->shape) != CV_OK)
        return cv_fail(err, CV_ERR_SHAPE, "input shapes %s and %s do not broadcast",
                       cv_shape_str(&a->shape, sa, sizeof sa), cv_shape_str(&b->shape, sb, sizeof sb));
    c->out[0]->dtype = CV_I64;
    return CV_OK;
}

#define CMP_LOOP(T, A, B)                                                               \
    for (int64_t r = 0; r < bc.rows; r++) {                                             \
        int64_t oa, ob;                                                                 \
        cv_bcast_row(&bc, r, &oa, &ob);                                                 \
        const T *x = (A) + oa, *z = (B) + ob;                                           \
        int64_t *yr = y + r * len;                                                      \
        switch (op) {                                                                   \
        case CMP_EQ: for (int64_t k = 0; k < len; k++) yr[k] = x[k * sa] == z[k * sb]; break; \
        case CMP_GT: for (int64_t k = 0; k < len; k++) yr[k] = x[k * sa] > z[k * sb]; break;  \
        case CMP_LT: for (int64_t k = 0; k < len; k++) yr[k] = x[k * sa] < z[k * sb]; break;  \
        case CMP_GE: for (int64_t k = 0; k < len; k++) yr[k] = x[k * sa] >= z[k * sb]; break; \
        default: for (int64_t k = 0; k < len; k++) yr[k] = x[k * sa] <= z[k * sb]; break;     \
        }                                                                               \
    }

static void cmp_forward(cv_op_ctx *c)
{
    const cv_tensor *a = c->in[0], *b = c->in[1];
    int64_t *y = c->out[0]->i;
    int op = cmp_kind(c->node->op_type);
    cv_bcast bc;
    cv_bcast_plan(&bc, &c->out[0]->shape, &a->shape, &b->shape);
    const int64_t sa = bc.sa[bc.nd - 1], sb = bc.sb[bc.nd - 1], len = bc.len;
    if (a->dtype == CV_I64)
        CMP_LOOP(int64_t, a->i, b->i)
    else
        CMP_LOOP(float, a->f, b->f)
}

#define CMP_DEF(NAME) \
    {.type = NAME, .init = cmp_init, .infer = cmp_infer, .forward = cmp_forward, .spatial = CV_SPATIAL_WHOLE}

static const cv_op_def expand = {
    .type = "Expand", .init = expand_init, .infer = expand_infer, .forward = expand_forward,
    .backward = expand_backward,
    .spatial = CV_SPATIAL_WHOLE,
};
static const cv_op_def tile = {
    .type = "Tile", .init = tile_init, .infer = tile_infer, .forward = tile_forward, .backward = tile_backward,
    .spatial = CV_SPATIAL_WHOLE,
};
static const cv_op_def where = {
    .type = "Where", .init = where_init, .infer = where_infer, .forward = where_forward, .backward = where_backward,
    .spatial = CV_SPATIAL_WHOLE,
};
static const cv_op_def equal = CMP_DEF("Equal");
static const cv_op_def greater = CMP_DEF("Greater");
static const cv_op_def less = CMP_DEF("Less");
static const cv_op_def greater_eq = CMP_DEF("GreaterOrEqual");
static const cv_op_def less_eq = CMP_DEF("LessOrEqual");

const cv_op_def *const cv_ops_expand[] = {
    &expand, &tile, &where, &equal, &greater, &less, &greater_eq, &less_eq, NULL,
};
