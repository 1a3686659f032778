/* ReduceMean, ReduceSum, ReduceMax, ReduceMin over a set of axes, keepdims.
 *
 * axes: an attribute (ReduceSum before opset 13, the others before 18) or
 * an optional constant input 1 (ReduceSum from 13, the others from 18);
 * either form is accepted. No axes = all axes, unless noop_with_empty_axes
 * is set (input form), which makes the op an identity.
 *
 * Float sums accumulate in double (scratch). Sum/Max/Min also take int64.
 * Backward: Sum spreads dy, Mean spreads dy / count, Max/Min send dy to the
 * extreme element(s), split evenly between ties (as torch.amax does).
 *
 * The input is walked in memory order as rows of its last (merged) dim;
 * each row maps to an output offset through the kept dims' strides, and
 * its inner run either reduces to one output (last dim reduced) or adds
 * into a contiguous output run (last dim kept).
 */
#include "bcast.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RED_MEAN, RED_SUM, RED_MAX, RED_MIN };

typedef struct {
    int op;
    bool keepdims, noop_empty;
} reduce_params;

static cv_status reduce_init(cv_node *n, const cv_model *m, cv_error *err)
{
    reduce_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    const char *t = n->op_type + strlen("Reduce");
    p->op = strcmp(t, "Mean") == 0 ? RED_MEAN : strcmp(t, "Sum") == 0 ? RED_SUM : strcmp(t, "Max") == 0 ? RED_MAX : RED_MIN;
    p->keepdims = cv_attr_int(n, "keepdims", 1) != 0;
    p->noop_empty = cv_attr_int(n, "noop_with_empty_axes", 0) != 0;
    if (cv_node_attr(n, "axes") && n->n_in > 1 && n->in[1] >= 0)
        return cv_fail(err, CV_ERR_INVALID, "'axes' is given both as attribute and as input");
    return CV_OK;
}

/* Which dims reduce, for this run. *identity: noop_with_empty_axes applies. */
static cv_status reduce_axes(const cv_op_ctx *c, bool *red, bool *identity, cv_error *err)
{
    const reduce_params *p = c->params;
    const cv_shape *s = &c->in[0]->shape;
    int64_t axes[CV_MAX_DIMS];
    int na = cv_attr_ints(c->node, "axes", axes, CV_MAX_DIMS);
    if (na > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_INVALID, "'axes' has %d entries for a %d-D input", na, s->ndim);
    if (c->n_in > 1 && c->in[1]) {
        const cv_tensor *t = c->in[1];
        if (t->dtype != CV_I64 || t->shape.ndim > 1 || cv_shape_numel(&t->shape) > CV_MAX_DIMS)
            return cv_fail(err, CV_ERR_INVALID, "'axes' must be a 1-D int64 tensor of at most %d entries", CV_MAX_DIMS);
        na = (int)cv_shape_numel(&t->shape);
        memcpy(axes, t->i, sizeof(int64_t) * (size_t)na);
    }
    *identity = false;
    if (na <= 0) { /* absent or empty */
        *identity = p->noop_empty;
        for (int k = 0; k < s->ndim; k++)
            red[k] = !p->noop_empty;
        return CV_OK;
    }
    for (int k = 0; k < s->ndim; k++)
        red[k] = false;
    char b[160];
    for (int k = 0; k < na; k++) {
        int a = cv_norm_axis(axes[k], s->ndim);
        if (a < 0)
            return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for input %s", (long long)axes[k],
                           cv_shape_str(s, b, sizeof b));
        red[a] = true;
    }
    return CV_OK;
}

static cv_status reduce_infer(cv_op_ctx *c, cv_error *err)
{
    const reduce_params *p = c->params;
    const cv_tensor *x = c->in[0];
    if (!x)
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    if (x->dtype != CV_F32 && !(x->dtype == CV_I64 && p->op != RED_MEAN))
        return cv_fail(err, CV_ERR_UNSUPPORTED, "data must be float32%s", p->op != RED_MEAN ? " or int64" : "");
    if (c->n_in > 1 && c->in[1] && !c->in_static[1])
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'axes' input must be constant");
    bool red[CV_MAX_DIMS], identity;
    cv_status st = reduce_axes(c, red, &identity, err);
    if (st != CV_OK)
        return st;
    cv_shape out = {0, {0}};
    char b[160];
    for (int k = 0; k < x->shape.ndim; k++) {
        if (red[k] && x->shape.d[k] == 0 && (p->op == RED_MAX || p->op == RED_MIN))
            return cv_fail(err, CV_ERR_INVALID, "cannot take the max/min over the empty dim %d of input %s", k,
                           cv_shape_str(&x->shape, b, sizeof b));
        if (!red[k])
            out.d[out.ndim++] = x->shape.d[k];
        else if (p->keepdims)
            out.d[out.ndim++] = 1;
    }
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = out;
    c->scratch_floats = 2 * cv_shape_numel(&out) + 2; /* one double per output */
    return CV_OK;
}

/* Merged input dims: size, whether reduced, and the output stride. */
typedef struct {
    int nd;
    int64_t dim[CV_MAX_DIMS], ostride[CV_MAX_DIMS];
    bool red[CV_MAX_DIMS];
    int64_t rows, len, count; /* count: input elements per output */
    size_t out_n;
} reduce_geom;

static void reduce_geometry(const cv_op_ctx *c, reduce_geom *g)
{
    const cv_shape *s = &c->in[0]->shape;
    bool red[CV_MAX_DIMS], identity;
    reduce_axes(c, red, &identity, NULL);
    /* output strides of kept dims, in input order */
    int64_t os[CV_MAX_DIMS], acc = 1;
    for (int k = s->ndim - 1; k >= 0; k--) {
        os[k] = red[k] ? 0 : acc;
        if (!red[k])
            acc *= s->d[k];
    }
    g->nd = 0;
    g->count = 1;
    for (int k = 0; k < s->ndim; k++) {
        if (red[k])
            g->count *= s->d[k];
        if (s->d[k] == 1)
            continue;
        int j = g->nd - 1;
        if (j >= 0 && g->red[j] == red[k] && g->ostride[j] == os[k] * s->d[k]) {
            g->dim[j] *= s->d[k];
            g->ostride[j] = os[k];
            continue;
        }
        g->dim[g->nd] = s->d[k];
        g->ostride[g->nd] = os[k];
        g->red[g->nd] = red[k];
        g->nd++;
    }
    if (g->nd == 0) {
        g->nd = 1;
        g->dim[0] = cv_shape_numel(s) ? 1 : 0;
        g->ostride[0] = 1;
        g->red[0] = false;
    }
    g->len = g->dim[g->nd - 1];
    g->rows = 1;
    for (int k = 0; k < g->nd - 1; k++)
        g->rows *= g->dim[k];
    g->out_n = cv_shape_numel(&c->out[0]->shape);
}

static int64_t reduce_row_out(const reduce_geom *g, int64_t r)
{
    int64_t off = 0;
    for (int k = g->nd - 2; k >= 0; k--) {
        off += (r % g->dim[k]) * g->ostride[k];
        r /= g->dim[k];
    }
    return off;
}

static void reduce_forward_i64(const cv_op_ctx *c, const reduce_geom *g)
{
    const reduce_params *p = c->params;
    const int64_t *x = c->in[0]->i;
    int64_t *y = c->out[0]->i;
    for (size_t j = 0; j < g->out_n; j++)
        y[j] = p->op == RED_SUM ? 0 : p->op == RED_MAX ? INT64_MIN : INT64_MAX;
    bool inner_red = g->red[g->nd - 1];
    for (int64_t r = 0; r < g->rows; r++) {
        int64_t o = reduce_row_out(g, r);
        const int64_t *xr = x + r * g->len;
        for (int64_t k = 0; k < g->len; k++) {
            int64_t *t = &y[o + (inner_red ? 0 : k)];
            int64_t v = xr[k];
            if (p->op == RED_SUM)
                *t = (int64_t)((uint64_t)*t + (uint64_t)v);
            else if (p->op == RED_MAX ? v > *t : v < *t)
                *t = v;
        }
    }
}

static void reduce_forward(cv_op_ctx *c)
{
    const reduce_params *p = c->params;
    reduce_geom g;
    reduce_geometry(c, &g);
    if (c->in[0]->dtype == CV_I64) {
        reduce_forward_i64(c, &g);
        return;
    }
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    double *acc = (double *)(void *)c->scratch; /* (out_n) */
    double init = p->op == RED_MAX ? -INFINITY : p->op == RED_MIN ? INFINITY : 0.0;
    for (size_t j = 0; j < g.out_n; j++)
        acc[j] = init;
    bool inner_red = g.red[g.nd - 1];
    for (int64_t r = 0; r < g.rows; r++) {
        int64_t o = reduce_row_out(&g, r);
        const float *xr = x + r * g.len;
        if (p->op == RED_SUM || p->op == RED_MEAN) {
            if (inner_red) {
                double s = 0;
                for (int64_t k = 0; k < g.len; k++)
                    s += xr[k];
                acc[o] += s;
            } else {
                for (int64_t k = 0; k < g.len; k++)
                    acc[o + k] += xr[k];
            }
        } else {
            bool mx = p->op == RED_MAX;
            for (int64_t k = 0; k < g.len; k++) {
                double *t = &acc[o + (inner_red ? 0 : k)];
                double v = xr[k];
                if (mx ? v > *t : v < *t)
                    *t = v;
                else if (v != v)
                    *t = v; /* NaN propagates, as in numpy/PyTorch */
            }
        }
    }
    double scale = p->op == RED_MEAN && g.count > 0 ? 1.0 / (double)g.count : 1.0;
    for (size_t j = 0; j < g.out_n; j++)
        y[j] = (float)(p->op == RED_MEAN ? (g.count > 0 ? acc[j] * scale : NAN) : acc[j]);
}

static void reduce_backward(cv_op_ctx *c)
{
    const reduce_params *p = c->params;
    float *dx = c->in[0]->grad;
    if (!dx)
        return;
    reduce_geom g;
    reduce_geometry(c, &g);
    const float *x = c->in[0]->f, *y = c->out[0]->f, *dy = c->out[0]->grad;
    bool inner_red = g.red[g.nd - 1];
    double *ties = (double *)(void *)c->scratch; /* (out_n) */
    if (p->op == RED_MAX || p->op == RED_MIN) {
        for (size_t j = 0; j < g.out_n; j++)
            ties[j] = 0;
        for (int64_t r = 0; r < g.rows; r++) {
            int64_t o = reduce_row_out(&g, r);
            for (int64_t k = 0; k < g.len; k++) {
                int64_t j = o + (inner_red ? 0 : k);
                if (x[r * g.len + k] == y[j])
                    ties[j] += 1;
            }
        }
    }
    float scale = p->op == RED_MEAN ? 1.0f / (float)g.count : 1.0f;
    for (int64_t r = 0; r < g.rows; r++) {
        int64_t o = reduce_row_out(&g, r);
        for (int64_t k = 0; k < g.len; k++) {
            int64_t i = r * g.len + k, j = o + (inner_red ? 0 : k);
            if (p->op == RED_SUM || p->op == RED_MEAN)
                dx[i] += dy[j] * scale;
            else if (x[i] == y[j])
                dx[i] += dy[j] / (float)ties[j];
        }
    }
}

#define REDUCE_DEF(NAME) \
    {.type = NAME, .init = reduce_init, .infer = reduce_infer, .forward = reduce_forward, .backward = reduce_backward, \
     .spatial = CV_SPATIAL_WHOLE}

static const cv_op_def reduce_mean = REDUCE_DEF("ReduceMean");
static const cv_op_def reduce_sum = REDUCE_DEF("ReduceSum");
static const cv_op_def reduce_max = REDUCE_DEF("ReduceMax");
static const cv_op_def reduce_min = REDUCE_DEF("ReduceMin");

const cv_op_def *const cv_ops_reduce[] = {&reduce_mean, &reduce_sum, &reduce_max, &reduce_min, NULL};
