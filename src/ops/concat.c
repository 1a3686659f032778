/* Concat along any axis (negative counts from the end), float32 or int64
 * (exporters concatenate shape pieces like [N, -1] before a Reshape).
 *
 * View every tensor as (outer, chunk): outer is the product of the dims
 * before the axis, chunk = dim[axis] * (product of the dims after it). The
 * output's row o is the inputs' rows o laid side by side.
 */
#include "bcast.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t axis;
} concat_params;

static cv_status concat_init(cv_node *n, const cv_model *m, cv_error *err)
{
    const cv_attr *a = cv_node_attr(n, "axis");
    if (!a || a->type != CV_ATTR_INT)
        return cv_fail(err, CV_ERR_INVALID, "the 'axis' attribute is required");
    if (n->n_in < 1)
        return cv_fail(err, CV_ERR_INVALID, "needs at least one input");
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "input %d is empty", k);
    concat_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->axis = a->i;
    n->params = p;
    return CV_OK;
}

static cv_status concat_infer(cv_op_ctx *c, cv_error *err)
{
    const concat_params *p = c->params;
    const cv_tensor *x0 = c->in[0];
    int r = x0->shape.ndim;
    int axis = cv_norm_axis(p->axis, r);
    char s0[160], sk[160];
    if (axis < 0)
        return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for input %s",
                       (long long)p->axis, cv_shape_str(&x0->shape, s0, sizeof s0));
    cv_shape out = x0->shape;
    out.d[axis] = 0;
    for (int k = 0; k < c->n_in; k++) {
        const cv_tensor *x = c->in[k];
        if (x->dtype != x0->dtype)
            return cv_fail(err, CV_ERR_INVALID, "input %d has a different element type from input 0", k);
        bool ok = x->shape.ndim == r;
        for (int d = 0; ok && d < r; d++)
            if (d != axis && x->shape.d[d] != x0->shape.d[d])
                ok = false;
        if (!ok)
            return cv_fail(err, CV_ERR_SHAPE, "input %d %s does not match input 0 %s outside axis %d", k,
                           cv_shape_str(&x->shape, sk, sizeof sk), cv_shape_str(&x0->shape, s0, sizeof s0), axis);
        out.d[axis] += x->shape.d[axis];
    }
    c->out[0]->dtype = x0->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

/* outer and the per-unit-of-axis inner size, for this run's shapes. */
static void concat_view(const cv_op_ctx *c, int *axis, int64_t *outer, int64_t *inner)
{
    const cv_shape *s = &c->out[0]->shape;
    *axis = cv_norm_axis(((const concat_params *)c->params)->axis, s->ndim);
    *outer = *inner = 1;
    for (int d = 0; d < s->ndim; d++) {
        if (d < *axis)
            *outer *= s->d[d];
        else if (d > *axis)
            *inner *= s->d[d];
    }
}

static void concat_forward(cv_op_ctx *c)
{
    int axis;
    int64_t outer, inner;
    concat_view(c, &axis, &outer, &inner);
    size_t es = cv_dtype_size(c->out[0]->dtype);
    char *y = cv_tensor_bytes(c->out[0]);      /* (outer, out_chunk) */
    int64_t out_chunk = c->out[0]->shape.d[axis] * inner, off = 0;
    for (int k = 0; k < c->n_in; k++) {
        const char *x = cv_tensor_bytes(c->in[k]); /* (outer, chunk) */
        int64_t chunk = c->in[k]->shape.d[axis] * inner;
#pragma omp parallel for if (outer * chunk > CV_OMP_MIN_ELEMS && outer > 1) schedule(static)
        for (int64_t o = 0; o < outer; o++)
            memcpy(y + (size_t)(o * out_chunk + off) * es, x + (size_t)(o * chunk) * es, (size_t)chunk * es);
        off += chunk;
    }
}

static void concat_backward(cv_op_ctx *c)
{
    int axis;
    int64_t outer, inner;
    concat_view(c, &axis, &outer, &inner);
    const float *dy = c->out[0]->grad; /* (outer, out_chunk) */
    int64_t out_chunk = c->out[0]->shape.d[axis] * inner, off = 0;
    for (int k = 0; k < c->n_in; k++) {
        int64_t chunk = c->in[k]->shape.d[axis] * inner;
        float *dx = c->in[k]->grad; /* (outer, chunk) */
        if (dx) {
#pragma omp parallel for if (outer * chunk > CV_OMP_MIN_ELEMS && outer > 1) schedule(static)
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < chunk; j++)
                    dx[o * chunk + j] += dy[o * out_chunk + off + j];
        }
        off += chunk;
    }
}

/* Incremental inference windows a Concat of feature maps on channels. */
static bool concat_spatial_fit(const cv_op_ctx *c, cv_window *w, float *pad_value)
{
    const concat_params *p = c->params;
    return cv_norm_axis(p->axis, c->in[0]->shape.ndim) == 1;
}

static const cv_op_def concat = {
    .type = "Concat", .init = concat_init, .infer = concat_infer,
    .forward = concat_forward, .backward = concat_backward,
    .spatial = CV_SPATIAL_CONCAT, .spatial_fit = concat_spatial_fit,
};

const cv_op_def *const cv_ops_concat[] = {&concat, NULL};
