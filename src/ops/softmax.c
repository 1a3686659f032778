/* Softmax and LogSoftmax, numerically stable (the row maximum is
 * subtracted before exponentiating).
 *
 * The axis changed meaning at opset 13:
 * - opset < 13: the input is coerced to 2-D at `axis` (default 1): rows are
 *   the product of the dims before it, and the normalisation runs over the
 *   product of all dims from it on.
 * - opset >= 13: the normalisation runs along the single dim `axis`
 *   (default -1).
 * Both are an (outer, n, inner) view of the data: normalise over n values
 * spaced `inner` apart, for each of outer*inner positions.
 */
#include "bcast.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
    int64_t axis;
    bool coerce_2d;  /* opset < 13 semantics */
    bool log;        /* LogSoftmax */
} softmax_params;

static cv_status softmax_init(cv_node *n, const cv_model *m, cv_error *err)
{
    softmax_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->coerce_2d = cv_opset(m) < 13;
    p->axis = cv_attr_int(n, "axis", p->coerce_2d ? 1 : -1);
    p->log = n->op_type[0] == 'L';
    n->params = p;
    return CV_OK;
}

/* The (outer, n, inner) view for this input shape; false if axis is bad. */
static bool softmax_view(const softmax_params *p, const cv_shape *s, int64_t *outer, int64_t *n, int64_t *inner)
{
    int r = s->ndim;
    *outer = *n = *inner = 1;
    int64_t axis = p->axis < 0 ? p->axis + r : p->axis;
    if (axis < 0 || axis >= r)
        return false;
    for (int k = 0; k < r; k++) {
        if (k < axis)
            *outer *= s->d[k];
        else if (k == axis || p->coerce_2d)
            *n *= s->d[k];
        else
            *inner *= s->d[k];
    }
    return true;
}

static cv_status softmax_infer(cv_op_ctx *c, cv_error *err)
{
    const softmax_params *p = c->params;
    const cv_tensor *x = c->in[0];
    if (!x || x->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects one float input");
    int64_t o, n, i;
    char s[160];
    if (!softmax_view(p, &x->shape, &o, &n, &i))
        return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for input %s",
                       (long long)p->axis, cv_shape_str(&x->shape, s, sizeof s));
    c->out[0]->dtype = CV_F32;
    c->out[0]->shape = x->shape;
    return CV_OK;
}

/* Work is split into blocks of up to SM_BLOCK neighbouring positions along
 * `inner` (one position when inner == 1): each block normalises SM_BLOCK
 * lines at once, reading rows of contiguous memory instead of striding
 * through it, e.g. a channel softmax on NCHW maps. */
#define SM_BLOCK 64

static void softmax_forward(cv_op_ctx *c)
{
    const softmax_params *p = c->params;
    int64_t outer, n, inner;
    softmax_view(p, &c->in[0]->shape, &outer, &n, &inner);
    const float *xall = c->in[0]->f; /* (outer, n, inner) */
    float *yall = c->out[0]->f;      /* (outer, n, inner) */
    int64_t per_outer = (inner + SM_BLOCK - 1) / SM_BLOCK, blocks = outer * per_outer;
#pragma omp parallel for if (blocks * n * (inner < SM_BLOCK ? inner : SM_BLOCK) > 32768 && blocks > 1) schedule(static)
    for (int64_t blk = 0; blk < blocks; blk++) {
        int64_t o = blk / per_outer, i0 = (blk % per_outer) * SM_BLOCK;
        int w = (int)(inner - i0 < SM_BLOCK ? inner - i0 : SM_BLOCK);
        const float *x = xall + o * n * inner + i0; /* x[k * inner + i], i < w */
        float *y = yall + o * n * inner + i0;
        float mx[SM_BLOCK];
        double sum[SM_BLOCK];
        for (int i = 0; i < w; i++) {
            mx[i] = -INFINITY;
            sum[i] = 0;
        }
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++)
                mx[i] = x[k * inner + i] > mx[i] ? x[k * inner + i] : mx[i];
        /* y = e^(x - max) first, then scale (or, for log, x - max - log sum) */
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++) {
                float e = expf(x[k * inner + i] - mx[i]);
                sum[i] += e;
                y[k * inner + i] = e;
            }
        if (p->log) {
            float lse[SM_BLOCK]; /* (x - max) - log sum: keeps x - max exact */
            for (int i = 0; i < w; i++)
                lse[i] = (float)log(sum[i]);
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < w; i++)
                    y[k * inner + i] = (x[k * inner + i] - mx[i]) - lse[i];
        } else {
            float inv[SM_BLOCK];
            for (int i = 0; i < w; i++)
                inv[i] = (float)(1.0 / sum[i]);
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < w; i++)
                    y[k * inner + i] *= inv[i];
        }
    }
}

/* Softmax: dx = y (dy - sum(dy y)). LogSoftmax: dx = dy - e^y sum(dy). */
static void softmax_backward(cv_op_ctx *c)
{
    const softmax_params *p = c->params;
    if (!c->in[0]->grad)
        return;
    int64_t outer, n, inner;
    softmax_view(p, &c->in[0]->shape, &outer, &n, &inner);
    const float *yall = c->out[0]->f, *dyall = c->out[0]->grad; /* (outer, n, inner) */
    float *dxall = c->in[0]->grad;
    int64_t per_outer = (inner + SM_BLOCK - 1) / SM_BLOCK, blocks = outer * per_outer;
#pragma omp parallel for if (blocks * n * (inner < SM_BLOCK ? inner : SM_BLOCK) > 32768 && blocks > 1) schedule(static)
    for (int64_t blk = 0; blk < blocks; blk++) {
        int64_t o = blk / per_outer, i0 = (blk % per_outer) * SM_BLOCK;
        int w = (int)(inner - i0 < SM_BLOCK ? inner - i0 : SM_BLOCK);
        int64_t off = o * n * inner + i0;
        const float *y = yall + off, *dy = dyall + off;
        float *dx = dxall + off;
        double s[SM_BLOCK];
        float sf[SM_BLOCK];
        for (int i = 0; i < w; i++)
            s[i] = 0;
        for (int64_t k = 0; k < n; k++)
            for (int i = 0; i < w; i++)
                s[i] += p->log ? (double)dy[k * inner + i] : (double)dy[k * inner + i] * y[k * inner + i];
        for (int i = 0; i < w; i++)
            sf[i] = (float)s[i];
        if (p->log) {
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < w; i++)
                    dx[k * inner + i] += dy[k * inner + i] - expf(y[k * inner + i]) * sf[i];
        } else {
            for (int64_t k = 0; k < n; k++)
                for (int i = 0; i < w; i++)
                    dx[k * inner + i] += y[k * inner + i] * (dy[k * inner + i] - sf[i]);
        }
    }
}

static const cv_op_def softmax = {
    .type = "Softmax", .init = softmax_init, .infer = softmax_infer,
    .forward = softmax_forward, .backward = softmax_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

static const cv_op_def log_softmax = {
    .type = "LogSoftmax", .init = softmax_init, .infer = softmax_infer,
    .forward = softmax_forward, .backward = softmax_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_softmax[] = {&softmax, &log_softmax, NULL};
