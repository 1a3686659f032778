/* Transpose: out dim k is input dim perm[k] (default: reversed), float32 or
 * int64.
 *
 * The output is walked in order; each output dim carries the input stride
 * of the dim it came from. Dims that stay neighbours in the input are merged
 * first (NCHW -> NHWC becomes [N, HW, C] with input strides (CHW, 1, HW)),
 * so the inner loop is as long as possible. Backward walks the same way and
 * adds dy back to where each element came from: a bijection, so rows can
 * run in parallel.
 */
#include "bcast.h"
#include <stdlib.h>

typedef struct {
    int n;                  /* perm length; 0 = default (reverse) */
    int perm[CV_MAX_DIMS];
} transpose_params;

static cv_status transpose_init(cv_node *n, const cv_model *m, cv_error *err)
{
    transpose_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    int64_t perm[CV_MAX_DIMS];
    int np = cv_attr_ints(n, "perm", perm, CV_MAX_DIMS);
    if (np > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'perm' has %d entries (at most %d supported)", np, CV_MAX_DIMS);
    bool seen[CV_MAX_DIMS] = {false};
    for (int k = 0; k < np; k++) {
        if (perm[k] < 0 || perm[k] >= np || seen[perm[k]])
            return cv_fail(err, CV_ERR_INVALID, "'perm' is not a permutation of 0..%d", np - 1);
        seen[perm[k]] = true;
        p->perm[k] = (int)perm[k];
    }
    p->n = np > 0 ? np : 0;
    return CV_OK;
}

/* This run's permutation (the default depends on the rank). */
static void transpose_perm(const cv_op_ctx *c, int *perm)
{
    const transpose_params *p = c->params;
    int r = c->in[0]->shape.ndim;
    for (int k = 0; k < r; k++)
        perm[k] = p->n ? p->perm[k] : r - 1 - k;
}

static cv_status transpose_infer(cv_op_ctx *c, cv_error *err)
{
    const transpose_params *p = c->params;
    const cv_tensor *x = c->in[0];
    char s[160];
    if (!x)
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "data must be float32 or int64");
    if (p->n && p->n != x->shape.ndim)
        return cv_fail(err, CV_ERR_SHAPE, "'perm' has %d entries but the input %s has %d dims", p->n,
                       cv_shape_str(&x->shape, s, sizeof s), x->shape.ndim);
    int perm[CV_MAX_DIMS];
    transpose_perm(c, perm);
    cv_shape out = {x->shape.ndim, {0}};
    for (int k = 0; k < out.ndim; k++)
        out.d[k] = x->shape.d[perm[k]];
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

/* Output dims with their input strides, size-1 dims dropped, mergeable
 * neighbours merged. Returns the count (>= 1). */
static int transpose_plan(const cv_op_ctx *c, int64_t *dim, int64_t *istride)
{
    const cv_shape *s = &c->in[0]->shape;
    int perm[CV_MAX_DIMS];
    transpose_perm(c, perm);
    int64_t st[CV_MAX_DIMS], acc = 1;
    for (int k = s->ndim - 1; k >= 0; k--) {
        st[k] = acc;
        acc *= s->d[k];
    }
    int nd = 0;
    for (int k = 0; k < s->ndim; k++) {
        int64_t d = s->d[perm[k]], is = st[perm[k]];
        if (d == 1)
            continue;
        if (nd > 0 && istride[nd - 1] == is * d) {
            dim[nd - 1] *= d;
            istride[nd - 1] = is;
            continue;
        }
        dim[nd] = d;
        istride[nd] = is;
        nd++;
    }
    if (nd == 0) {
        dim[0] = cv_shape_numel(s) ? 1 : 0;
        istride[0] = 1;
        nd = 1;
    }
    return nd;
}

/* Input offset of the first element of output row r (all dims but the last). */
static int64_t row_offset(int nd, const int64_t *dim, const int64_t *istride, int64_t r)
{
    int64_t off = 0;
    for (int k = nd - 2; k >= 0; k--) {
        off += (r % dim[k]) * istride[k];
        r /= dim[k];
    }
    return off;
}

#define TRANSPOSE_ROWS(T, Y, X)                                                    \
    do {                                                                           \
        _Pragma("omp parallel for if (rows * len > CV_OMP_MIN_ELEMS && rows > 1) schedule(static)") \
        for (int64_t r = 0; r < rows; r++) {                                       \
            const T *x = (X) + row_offset(nd, dim, is, r);                         \
            T *y = (Y) + r * len;                                                  \
            for (int64_t k = 0; k < len; k++)                                      \
                y[k] = x[k * s];                                                   \
        }                                                                          \
    } while (0)

static void transpose_forward(cv_op_ctx *c)
{
    int64_t dim[CV_MAX_DIMS], is[CV_MAX_DIMS];
    int nd = transpose_plan(c, dim, is);
    int64_t len = dim[nd - 1], s = is[nd - 1], rows = 1;
    for (int k = 0; k < nd - 1; k++)
        rows *= dim[k];
    if (c->in[0]->dtype == CV_I64)
        TRANSPOSE_ROWS(int64_t, c->out[0]->i, c->in[0]->i);
    else
        TRANSPOSE_ROWS(float, c->out[0]->f, c->in[0]->f);
}

static void transpose_backward(cv_op_ctx *c)
{
    float *dxall = c->in[0]->grad;
    if (!dxall)
        return;
    const float *dyall = c->out[0]->grad;
    int64_t dim[CV_MAX_DIMS], is[CV_MAX_DIMS];
    int nd = transpose_plan(c, dim, is);
    int64_t len = dim[nd - 1], s = is[nd - 1], rows = 1;
    for (int k = 0; k < nd - 1; k++)
        rows *= dim[k];
#pragma omp parallel for if (rows * len > CV_OMP_MIN_ELEMS && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *dx = dxall + row_offset(nd, dim, is, r);
        const float *dy = dyall + r * len;
        for (int64_t k = 0; k < len; k++)
            dx[k * s] += dy[k];
    }
}

static const cv_op_def transpose = {
    .type = "Transpose", .init = transpose_init, .infer = transpose_infer,
    .forward = transpose_forward, .backward = transpose_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_transpose[] = {&transpose, NULL};
