/* Max, Min, Sum, Mean: elementwise over any number of inputs (one or
 * more), with numpy (multidirectional) broadcasting to a common shape.
 * Max, Min and Sum also take int64 (shape arithmetic); Mean is float only.
 *
 * The output is built in place: y = in[0] broadcast, then y = op(y, in[k])
 * for each further input, so every pass is the two-operand broadcast loop
 * of bcast.h. Mean is Sum scaled by 1/n.
 *
 * NaN: Max and Min propagate it (as numpy's maximum and torch.maximum do).
 *
 * Gradients:
 * - Sum: dy to every input; Mean: dy / n. A broadcast input receives the
 *   sum over the positions it was broadcast to.
 * - Max, Min: dy goes to the input(s) equal to the result. Ties are split
 *   evenly among all tied inputs: with two inputs that is exactly
 *   torch.maximum/minimum's rule (dy/2 each), and it is the same rule
 *   ReduceMax/ReduceMin use here. Where the result is NaN no input gets
 *   anything.
 */
#include "bcast.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { VAR_MAX, VAR_MIN, VAR_SUM, VAR_MEAN };

typedef struct {
    int op;
} var_params;

static cv_status var_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in < 1)
        return cv_fail(err, CV_ERR_INVALID, "expects at least 1 input");
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "input %d is empty: every input must be given", k);
    var_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    const char *t = n->op_type;
    p->op = strcmp(t, "Max") == 0 ? VAR_MAX : strcmp(t, "Min") == 0 ? VAR_MIN : strcmp(t, "Sum") == 0 ? VAR_SUM : VAR_MEAN;
    n->params = p;
    return CV_OK;
}

static cv_status var_infer(cv_op_ctx *c, cv_error *err)
{
    const var_params *p = c->params;
    cv_dtype dt = c->in[0]->dtype;
    cv_shape s = c->in[0]->shape;
    char a[160], b[160];
    if (dt != CV_F32 && (dt != CV_I64 || p->op == VAR_MEAN))
        return cv_fail(err, CV_ERR_INVALID, "expects float32%s inputs", p->op == VAR_MEAN ? "" : " or int64");
    for (int k = 1; k < c->n_in; k++) {
        const cv_tensor *t = c->in[k];
        if (t->dtype != dt)
            return cv_fail(err, CV_ERR_INVALID, "input %d's element type differs from input 0's", k);
        cv_shape o;
        if (cv_broadcast_shape(&s, &t->shape, &o) != CV_OK)
            return cv_fail(err, CV_ERR_SHAPE, "input %d %s does not broadcast with %s", k,
                           cv_shape_str(&t->shape, a, sizeof a), cv_shape_str(&s, b, sizeof b));
        s = o;
    }
    c->out[0]->dtype = dt;
    c->out[0]->shape = s;
    /* Max/Min backward counts the ties of each output element. */
    c->scratch_floats = dt == CV_F32 && (p->op == VAR_MAX || p->op == VAR_MIN) ? cv_shape_numel(&s) : 0;
    return CV_OK;
}

static inline float var_f32(int op, float acc, float v)
{
    switch (op) {
    case VAR_MAX: return v > acc || isnan(v) ? v : acc;
    case VAR_MIN: return v < acc || isnan(v) ? v : acc;
    default: return acc + v;
    }
}

static inline int64_t var_i64(int op, int64_t acc, int64_t v)
{
    switch (op) {
    case VAR_MAX: return v > acc ? v : acc;
    case VAR_MIN: return v < acc ? v : acc;
    default: return (int64_t)((uint64_t)acc + (uint64_t)v); /* wraps, never traps */
    }
}

/* y (the output shape) = in[0] broadcast, then combined with the others. */
static void var_forward(cv_op_ctx *c)
{
    const var_params *p = c->params;
    cv_tensor *yt = c->out[0];
    const cv_shape *ys = &yt->shape;
    for (int i = 0; i < c->n_in; i++) {
        const cv_tensor *t = c->in[i];
        cv_bcast bc; /* b = this input; a = y itself (i > 0) */
        cv_bcast_plan(&bc, ys, ys, &t->shape);
        const int64_t sb = bc.sb[bc.nd - 1], len = bc.len;
        if (yt->dtype == CV_I64) {
            for (int64_t r = 0; r < bc.rows; r++) {
                int64_t oa, ob;
                cv_bcast_row(&bc, r, &oa, &ob);
                const int64_t *b = t->i + ob;
                int64_t *y = yt->i + oa;
                for (int64_t k = 0; k < len; k++)
                    y[k] = i == 0 ? b[k * sb] : var_i64(p->op, y[k], b[k * sb]);
            }
            continue;
        }
        const int op = p->op;
#pragma omp parallel for if (bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
        for (int64_t r = 0; r < bc.rows; r++) {
            int64_t oa, ob;
            cv_bcast_row(&bc, r, &oa, &ob);
            const float *b = t->f + ob;
            float *y = yt->f + oa;
            if (i == 0)
                for (int64_t k = 0; k < len; k++)
                    y[k] = b[k * sb];
            else
                for (int64_t k = 0; k < len; k++)
                    y[k] = var_f32(op, y[k], b[k * sb]);
        }
    }
    if (p->op == VAR_MEAN) {
        size_t n = cv_shape_numel(ys);
        float s = 1.0f / (float)c->n_in;
        for (size_t k = 0; k < n; k++)
            yt->f[k] *= s;
    }
}

/* grad of input t += dy * scale (Sum/Mean), or, for Max/Min, dy / ties
 * where t equals y (cnt: the number of inputs equal to y, per element). */
static void var_backward_one(const cv_tensor *t, const cv_tensor *yt, const float *cnt, float scale)
{
    cv_bcast bc;
    cv_bcast_plan(&bc, &yt->shape, &yt->shape, &t->shape);
    const int64_t sb = bc.sb[bc.nd - 1], len = bc.len;
    /* rows own disjoint parts of the gradient only when t is not broadcast */
    bool full = cv_shape_numel(&t->shape) == cv_shape_numel(&yt->shape);
#pragma omp parallel for if (full && bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
    for (int64_t r = 0; r < bc.rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(&bc, r, &oa, &ob);
        const float *dy = yt->grad + oa, *x = t->f + ob, *y = yt->f + oa;
        float *g = t->grad + ob;
        if (!cnt) {
            for (int64_t k = 0; k < len; k++)
                g[k * sb] += dy[k] * scale;
        } else {
            const float *n = cnt + oa;
            for (int64_t k = 0; k < len; k++)
                if (x[k * sb] == y[k])
                    g[k * sb] += dy[k] / n[k];
        }
    }
}

static void var_backward(cv_op_ctx *c)
{
    const var_params *p = c->params;
    const cv_tensor *yt = c->out[0];
    float *cnt = NULL;
    if (p->op == VAR_MAX || p->op == VAR_MIN) {
        cnt = c->scratch; /* numel(y) floats, planned by infer */
        memset(cnt, 0, cv_shape_numel(&yt->shape) * sizeof(float));
        for (int i = 0; i < c->n_in; i++) {
            const cv_tensor *t = c->in[i];
            cv_bcast bc;
            cv_bcast_plan(&bc, &yt->shape, &yt->shape, &t->shape);
            const int64_t sb = bc.sb[bc.nd - 1], len = bc.len;
            for (int64_t r = 0; r < bc.rows; r++) {
                int64_t oa, ob;
                cv_bcast_row(&bc, r, &oa, &ob);
                for (int64_t k = 0; k < len; k++)
                    cnt[oa + k] += t->f[ob + k * sb] == yt->f[oa + k] ? 1.0f : 0.0f;
            }
        }
    }
    float scale = p->op == VAR_MEAN ? 1.0f / (float)c->n_in : 1.0f;
    for (int i = 0; i < c->n_in; i++) {
        const cv_tensor *t = c->in[i];
        if (t->grad)
            var_backward_one(t, yt, cnt, scale);
    }
}

#define VAR_DEF(NAME) \
    {.type = NAME, .init = var_init, .infer = var_infer, .forward = var_forward, .backward = var_backward, \
     .spatial = CV_SPATIAL_POINTWISE}

static const cv_op_def max_ = VAR_DEF("Max");
static const cv_op_def min_ = VAR_DEF("Min");
static const cv_op_def sum_ = VAR_DEF("Sum");
static const cv_op_def mean_ = VAR_DEF("Mean");

const cv_op_def *const cv_ops_variadic[] = {&max_, &min_, &sum_, &mean_, NULL};
