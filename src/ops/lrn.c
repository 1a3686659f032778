/* LRN (ONNX): local response normalisation across channels.
 *
 *   s[c] = bias + alpha/size * sum_{i = c-lo .. c+hi, 0 <= i < C} x[i]^2
 *   y[c] = x[c] * s[c]^-beta
 * with lo = floor((size-1)/2), hi = ceil((size-1)/2), at every (n, spatial)
 * position of x (N, C, D1, ..., Dk).
 *
 * Backward: dx[j] = dy[j] s[j]^-beta
 *                   - 2 alpha beta / size * x[j] * sum_{c : j in window(c)} dy[c] x[c] s[c]^(-beta-1)
 * and j is in window(c) exactly when c is in [j-hi, j+lo].
 *
 * Work is split into tiles of LRN_TILE spatial positions of one image;
 * each tile walks all channels, so threads never share an output.
 */
#include "../core/graph.h"
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LRN_TILE 64

typedef struct {
    int64_t size, lo, hi;
    float alpha, beta, bias;
} lrn_params;

static cv_status lrn_init(cv_node *node, const cv_model *m, cv_error *err)
{
    lrn_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    node->params = p;
    if (!cv_node_attr(node, "size"))
        return cv_fail(err, CV_ERR_INVALID, "attribute 'size' is required");
    p->size = cv_attr_int(node, "size", 1);
    if (p->size < 1 || p->size > 65536)
        return cv_fail(err, CV_ERR_INVALID, "attribute 'size' = %lld, expected 1 .. 65536", (long long)p->size);
    p->lo = (p->size - 1) / 2;
    p->hi = p->size - 1 - p->lo;
    p->alpha = cv_attr_float(node, "alpha", 1e-4f);
    p->beta = cv_attr_float(node, "beta", 0.75f);
    p->bias = cv_attr_float(node, "bias", 1.0f);
    if (!isfinite(p->alpha) || !isfinite(p->beta) || !isfinite(p->bias))
        return cv_fail(err, CV_ERR_INVALID, "attributes alpha, beta and bias must be finite");
    if (node->n_in != 1 || node->in[0] < 0 || node->n_out != 1)
        return cv_fail(err, CV_ERR_INVALID, "expects one input and one output");
    return CV_OK;
}

/* x as (N, C, S). */
static void lrn_layout(const cv_shape *s, int64_t *n, int64_t *ch, int64_t *sp)
{
    *n = s->d[0];
    *ch = s->d[1];
    *sp = 1;
    for (int d = 2; d < s->ndim; d++)
        *sp *= s->d[d];
}

static int lrn_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static cv_status lrn_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0];
    char xs[160];
    if (x->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 input");
    if (x->shape.ndim < 3)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: expected (N, C, spatial...)", cv_shape_str(&x->shape, xs, sizeof xs));
    c->out[0]->dtype = CV_F32;
    c->out[0]->shape = x->shape;
    /* backward keeps s and the gathered terms of one tile per thread */
    c->scratch_floats = (size_t)lrn_max_threads() * 2 * (size_t)x->shape.d[1] * LRN_TILE;
    return CV_OK;
}

static void lrn_forward(cv_op_ctx *c)
{
    const lrn_params *p = c->params;
    int64_t n, ch, sp;
    lrn_layout(&c->in[0]->shape, &n, &ch, &sp);
    const float *x = c->in[0]->f;                       /* (N, C, S) */
    float *y = c->out[0]->f;
    int64_t tiles = (sp + LRN_TILE - 1) / LRN_TILE, jobs = n * tiles;
    float scale = p->alpha / (float)p->size;
#pragma omp parallel for schedule(static) if (n * ch * sp * p->size >= CV_OMP_MIN_ELEMS)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t b = job / tiles, s0 = job % tiles * LRN_TILE;
        int64_t cnt = sp - s0 < LRN_TILE ? sp - s0 : LRN_TILE;
        const float *xb = x + b * ch * sp + s0;
        float *yb = y + b * ch * sp + s0;
        float acc[LRN_TILE];
        for (int64_t cc = 0; cc < ch; cc++) {
            int64_t i0 = cc - p->lo < 0 ? 0 : cc - p->lo, i1 = cc + p->hi >= ch ? ch - 1 : cc + p->hi;
            for (int64_t t = 0; t < cnt; t++)
                acc[t] = 0.0f;
            for (int64_t i = i0; i <= i1; i++)
                for (int64_t t = 0; t < cnt; t++)
                    acc[t] += xb[i * sp + t] * xb[i * sp + t];
            for (int64_t t = 0; t < cnt; t++)
                yb[cc * sp + t] = xb[cc * sp + t] * powf(p->bias + scale * acc[t], -p->beta);
        }
    }
}

static void lrn_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const lrn_params *p = c->params;
    int64_t n, ch, sp;
    lrn_layout(&c->in[0]->shape, &n, &ch, &sp);
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;   /* (N, C, S) */
    float *dx = c->in[0]->grad;
    int64_t tiles = (sp + LRN_TILE - 1) / LRN_TILE, jobs = n * tiles;
    float scale = p->alpha / (float)p->size;
    size_t per_thread = 2 * (size_t)ch * LRN_TILE;
    int nth = lrn_max_threads();
    if ((size_t)nth > c->scratch_floats / per_thread) /* the thread count changed since infer */
        nth = (int)(c->scratch_floats / per_thread);
    if (nth < 1)
        return; /* unreachable: infer asked for at least one thread's worth */
#pragma omp parallel for num_threads(nth) schedule(static) if (n * ch * sp * p->size >= CV_OMP_MIN_ELEMS)
    for (int64_t job = 0; job < jobs; job++) {
#ifdef _OPENMP
        int tid = omp_get_thread_num();
#else
        int tid = 0;
#endif
        float *s = c->scratch + (size_t)tid * per_thread;     /* (C, TILE): s[c] */
        float *g = s + (size_t)ch * LRN_TILE;                  /* (C, TILE): dy x s^(-beta-1) */
        int64_t b = job / tiles, s0 = job % tiles * LRN_TILE;
        int64_t cnt = sp - s0 < LRN_TILE ? sp - s0 : LRN_TILE;
        const float *xb = x + b * ch * sp + s0, *dyb = dy + b * ch * sp + s0;
        float *dxb = dx + b * ch * sp + s0;
        for (int64_t cc = 0; cc < ch; cc++) {
            int64_t i0 = cc - p->lo < 0 ? 0 : cc - p->lo, i1 = cc + p->hi >= ch ? ch - 1 : cc + p->hi;
            float *sc = s + cc * LRN_TILE, *gc = g + cc * LRN_TILE;
            for (int64_t t = 0; t < cnt; t++)
                sc[t] = 0.0f;
            for (int64_t i = i0; i <= i1; i++)
                for (int64_t t = 0; t < cnt; t++)
                    sc[t] += xb[i * sp + t] * xb[i * sp + t];
            for (int64_t t = 0; t < cnt; t++) {
                sc[t] = p->bias + scale * sc[t];
                gc[t] = dyb[cc * sp + t] * xb[cc * sp + t] * powf(sc[t], -p->beta - 1.0f);
            }
        }
        float k2 = 2.0f * scale * p->beta;
        for (int64_t j = 0; j < ch; j++) {
            int64_t c0 = j - p->hi < 0 ? 0 : j - p->hi, c1 = j + p->lo >= ch ? ch - 1 : j + p->lo;
            float acc[LRN_TILE];
            for (int64_t t = 0; t < cnt; t++)
                acc[t] = 0.0f;
            for (int64_t cc = c0; cc <= c1; cc++)
                for (int64_t t = 0; t < cnt; t++)
                    acc[t] += g[cc * LRN_TILE + t];
            const float *sj = s + j * LRN_TILE;
            for (int64_t t = 0; t < cnt; t++)
                dxb[j * sp + t] += dyb[j * sp + t] * powf(sj[t], -p->beta) - k2 * xb[j * sp + t] * acc[t];
        }
    }
}

static const cv_op_def lrn = {
    .type = "LRN", .init = lrn_init, .infer = lrn_infer, .forward = lrn_forward, .backward = lrn_backward,
    .spatial = CV_SPATIAL_POINTWISE,
};

const cv_op_def *const cv_ops_lrn[] = {&lrn, NULL};
