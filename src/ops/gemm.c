/* Gemm (Y = alpha op(A) op(B) + beta C) and MatMul (numpy matmul), both on
 * cv_sgemm (src/core/blas.h). Backward goes to A, and to B (and C) when they are runtime
 * tensors (e.g. attention's Q K^T); constant weights get no gradient.
 */
#include "bcast.h"
#include "../core/blas.h"
#include <limits.h>
#include <stdlib.h>

/* c (m x n, row-major) = alpha op(a) op(b) + beta c, with a stored as
 * (ta ? k x m : m x k) and b as (tb ? n x k : k x n). */
static void gemm_acc(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, const float *b, float beta, float *c)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) { /* empty sum: only the beta term (sgemm's k = 0 handling varies) */
        for (int64_t i = 0; i < m * n; i++)
            c[i] = beta == 0.0f ? 0.0f : beta * c[i];
        return;
    }
    if (m == 1) {
        /* One row (a batch-1 dense layer): sgemv streams the weights once,
         * where sgemm would first repack all of them (VGG16's fc6 is 400 MB). */
        if (tb)
            cv_sgemv(false, n, k, alpha, b, k, a, beta, c);
        else
            cv_sgemv(true, k, n, alpha, b, n, a, beta, c);
        return;
    }
    cv_sgemm(ta, tb, m, n, k, alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n);
}

static bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* ---- Gemm ------------------------------------------------------------------ */

typedef struct {
    float alpha, beta;
    bool ta, tb;
} gemm_params;

static cv_status gemm_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs A and B");
    gemm_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->alpha = cv_attr_float(n, "alpha", 1.0f);
    p->beta = cv_attr_float(n, "beta", 1.0f);
    p->ta = cv_attr_int(n, "transA", 0) != 0;
    p->tb = cv_attr_int(n, "transB", 0) != 0;
    n->params = p;
    return CV_OK;
}

static const cv_tensor *gemm_c(const cv_op_ctx *c) { return c->n_in > 2 ? c->in[2] : NULL; }

/* C's strides over the (M, N) output: 0 where it broadcasts. */
static void gemm_c_strides(const cv_tensor *ct, int64_t *sm, int64_t *sn)
{
    int64_t cm = ct->shape.ndim == 2 ? ct->shape.d[0] : 1;
    int64_t cn = ct->shape.ndim >= 1 ? ct->shape.d[ct->shape.ndim - 1] : 1;
    *sn = cn == 1 ? 0 : 1;
    *sm = cm == 1 ? 0 : cn;
}

static void gemm_dims(const cv_op_ctx *c, int64_t *m, int64_t *n, int64_t *k)
{
    const gemm_params *p = c->params;
    const cv_shape *a = &c->in[0]->shape, *b = &c->in[1]->shape;
    *m = p->ta ? a->d[1] : a->d[0];
    *k = p->ta ? a->d[0] : a->d[1];
    *n = p->tb ? b->d[0] : b->d[1];
}

static cv_status gemm_infer(cv_op_ctx *c, cv_error *err)
{
    const gemm_params *p = c->params;
    const cv_tensor *a = c->in[0], *b = c->in[1], *ct = gemm_c(c);
    char sa[160], sb[160], sc[160];
    if (a->dtype != CV_F32 || b->dtype != CV_F32 || (ct && ct->dtype != CV_F32))
        return cv_fail(err, CV_ERR_INVALID, "expects float inputs");
    if (a->shape.ndim != 2 || b->shape.ndim != 2)
        return cv_fail(err, CV_ERR_SHAPE, "A %s and B %s must be 2-D",
                       cv_shape_str(&a->shape, sa, sizeof sa), cv_shape_str(&b->shape, sb, sizeof sb));
    int64_t m, n, k;
    gemm_dims(c, &m, &n, &k);
    int64_t kb = p->tb ? b->shape.d[1] : b->shape.d[0];
    if (k != kb)
        return cv_fail(err, CV_ERR_SHAPE, "A %s (transA=%d) and B %s (transB=%d) do not multiply",
                       cv_shape_str(&a->shape, sa, sizeof sa), p->ta, cv_shape_str(&b->shape, sb, sizeof sb), p->tb);
    if (!fits_int(m) || !fits_int(n) || !fits_int(k))
        return cv_fail(err, CV_ERR_LIMIT, "matrix dimensions exceed the BLAS int range");
    if (ct) {
        const cv_shape *s = &ct->shape;
        int64_t cm = s->ndim == 2 ? s->d[0] : 1, cn = s->ndim >= 1 ? s->d[s->ndim - 1] : 1;
        if (s->ndim > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != n))
            return cv_fail(err, CV_ERR_SHAPE, "C %s does not broadcast to the output [%lld, %lld]",
                           cv_shape_str(s, sc, sizeof sc), (long long)m, (long long)n);
    }
    c->out[0]->dtype = CV_F32;
    c->out[0]->shape = (cv_shape){2, {m, n}};
    return CV_OK;
}

static void gemm_forward(cv_op_ctx *c)
{
    const gemm_params *p = c->params;
    const cv_tensor *ct = gemm_c(c);
    int64_t m, n, k;
    gemm_dims(c, &m, &n, &k);
    float *y = c->out[0]->f; /* (M, N) */
    float beta = 0.0f;
    if (ct && p->beta != 0.0f) { /* Y = beta C (broadcast), then sgemm adds onto it */
        int64_t sm, sn;
        gemm_c_strides(ct, &sm, &sn);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                y[i * n + j] = p->beta * ct->f[i * sm + j * sn];
        beta = 1.0f;
    }
    gemm_acc(p->ta, p->tb, m, n, k, p->alpha, c->in[0]->f, c->in[1]->f, beta, y);
}

static void gemm_backward(cv_op_ctx *c)
{
    const gemm_params *p = c->params;
    const cv_tensor *a = c->in[0], *b = c->in[1], *ct = gemm_c(c);
    const float *dy = c->out[0]->grad; /* (M, N) */
    int64_t m, n, k;
    gemm_dims(c, &m, &n, &k);
    if (a->grad) {
        if (!p->ta) /* dA (M,K) += alpha dY op(B)^T */
            gemm_acc(false, !p->tb, m, k, n, p->alpha, dy, b->f, 1.0f, a->grad);
        else        /* dA (K,M) += alpha op(B) dY^T */
            gemm_acc(p->tb, true, k, m, n, p->alpha, b->f, dy, 1.0f, a->grad);
    }
    if (b->grad) {
        if (!p->tb) /* dB (K,N) += alpha op(A)^T dY */
            gemm_acc(!p->ta, false, k, n, m, p->alpha, a->f, dy, 1.0f, b->grad);
        else        /* dB (N,K) += alpha dY^T op(A) */
            gemm_acc(true, p->ta, n, k, m, p->alpha, dy, a->f, 1.0f, b->grad);
    }
    if (ct && ct->grad) { /* dC += beta dY, summed where C was broadcast */
        int64_t sm, sn;
        gemm_c_strides(ct, &sm, &sn);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                ct->grad[i * sm + j * sn] += p->beta * dy[i * n + j];
    }
}

static double gemm_macs(const cv_op_ctx *c)
{
    int64_t m, n, k;
    gemm_dims(c, &m, &n, &k);
    return (double)m * (double)n * (double)k;
}

static const cv_op_def gemm = {
    .type = "Gemm", .init = gemm_init, .infer = gemm_infer, .forward = gemm_forward,
    .backward = gemm_backward, .macs = gemm_macs,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- MatMul ------------------------------------------------------------------
 * numpy semantics: the last two dims multiply, the leading (batch) dims
 * broadcast; a 1-D A is a row vector (1,K) and a 1-D B a column (K,1),
 * their unit dim dropped from the result. */

typedef struct {
    int64_t m, n, k;
    cv_shape batch;          /* broadcast batch shape */
    cv_shape abatch, bbatch; /* each operand's own batch dims */
} mm_dims;

static cv_status mm_plan(const cv_tensor *a, const cv_tensor *b, mm_dims *d, cv_shape *out, cv_error *err)
{
    const cv_shape *as = &a->shape, *bs = &b->shape;
    char sa[160], sb[160];
    if (as->ndim < 1 || bs->ndim < 1)
        return cv_fail(err, CV_ERR_SHAPE, "MatMul operands must have at least 1 dim, got %s and %s",
                       cv_shape_str(as, sa, sizeof sa), cv_shape_str(bs, sb, sizeof sb));
    bool a1 = as->ndim == 1, b1 = bs->ndim == 1;
    d->m = a1 ? 1 : as->d[as->ndim - 2];
    d->k = as->d[as->ndim - 1];
    int64_t kb = b1 ? bs->d[0] : bs->d[bs->ndim - 2];
    d->n = b1 ? 1 : bs->d[bs->ndim - 1];
    if (d->k != kb)
        return cv_fail(err, CV_ERR_SHAPE, "A %s and B %s do not multiply (inner dims %lld and %lld)",
                       cv_shape_str(as, sa, sizeof sa), cv_shape_str(bs, sb, sizeof sb), (long long)d->k, (long long)kb);
    d->abatch.ndim = as->ndim > 2 ? as->ndim - 2 : 0;
    d->bbatch.ndim = bs->ndim > 2 ? bs->ndim - 2 : 0;
    for (int i = 0; i < d->abatch.ndim; i++)
        d->abatch.d[i] = as->d[i];
    for (int i = 0; i < d->bbatch.ndim; i++)
        d->bbatch.d[i] = bs->d[i];
    if (cv_broadcast_shape(&d->abatch, &d->bbatch, &d->batch) != CV_OK)
        return cv_fail(err, CV_ERR_SHAPE, "batch dims of A %s and B %s do not broadcast",
                       cv_shape_str(as, sa, sizeof sa), cv_shape_str(bs, sb, sizeof sb));
    *out = d->batch;
    if (out->ndim + !a1 + !b1 > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "result has more than %d dims", CV_MAX_DIMS);
    if (!a1)
        out->d[out->ndim++] = d->m;
    if (!b1)
        out->d[out->ndim++] = d->n;
    return CV_OK;
}

static cv_status mm_infer(cv_op_ctx *c, cv_error *err)
{
    if (c->n_in != 2 || !c->in[0] || !c->in[1] || c->in[0]->dtype != CV_F32 || c->in[1]->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects two float inputs");
    mm_dims d;
    cv_status st = mm_plan(c->in[0], c->in[1], &d, &c->out[0]->shape, err);
    if (st != CV_OK)
        return st;
    int64_t rows = d.m * (int64_t)cv_shape_numel(&d.abatch);
    if (!fits_int(rows) || !fits_int(d.n) || !fits_int(d.k))
        return cv_fail(err, CV_ERR_LIMIT, "matrix dimensions exceed the BLAS int range");
    c->out[0]->dtype = CV_F32;
    return CV_OK;
}

/* Visit each batch entry: fn(i, a_index, b_index) with matrix indices. */
#define MM_FOR_BATCH(d, I, IA, IB, BODY)                                       \
    do {                                                                       \
        cv_bcast bc_;                                                          \
        cv_bcast_plan(&bc_, &(d).batch, &(d).abatch, &(d).bbatch);             \
        int64_t I = 0;                                                         \
        for (int64_t r_ = 0; r_ < bc_.rows; r_++) {                            \
            int64_t oa_, ob_;                                                  \
            cv_bcast_row(&bc_, r_, &oa_, &ob_);                                \
            for (int64_t j_ = 0; j_ < bc_.len; j_++, I++) {                    \
                int64_t IA = oa_ + j_ * bc_.sa[bc_.nd - 1];                    \
                int64_t IB = ob_ + j_ * bc_.sb[bc_.nd - 1];                    \
                BODY;                                                          \
            }                                                                  \
        }                                                                      \
    } while (0)

static void mm_forward(cv_op_ctx *c)
{
    mm_dims d;
    cv_shape ys;
    mm_plan(c->in[0], c->in[1], &d, &ys, NULL);
    const float *a = c->in[0]->f, *b = c->in[1]->f; /* (..., M, K), (..., K, N) */
    float *y = c->out[0]->f;                         /* (..., M, N) */
    const int64_t m = d.m, n = d.n, k = d.k;
    if (d.bbatch.ndim == 0) { /* x @ W: fold A's batch into its rows, one sgemm */
        gemm_acc(false, false, m * (int64_t)cv_shape_numel(&d.batch), n, k, 1.0f, a, b, 0.0f, y);
        return;
    }
    MM_FOR_BATCH(d, i, ia, ib,
                 gemm_acc(false, false, m, n, k, 1.0f, a + ia * m * k, b + ib * k * n, 0.0f, y + i * m * n));
}

static void mm_backward(cv_op_ctx *c)
{
    mm_dims d;
    cv_shape ys;
    mm_plan(c->in[0], c->in[1], &d, &ys, NULL);
    const cv_tensor *at = c->in[0], *bt = c->in[1];
    const float *dy = c->out[0]->grad; /* (..., M, N) */
    const int64_t m = d.m, n = d.n, k = d.k;
    if (d.bbatch.ndim == 0) {
        int64_t rows = m * (int64_t)cv_shape_numel(&d.batch);
        if (at->grad) /* dA (rows,K) += dY B^T */
            gemm_acc(false, true, rows, k, n, 1.0f, dy, bt->f, 1.0f, at->grad);
        if (bt->grad) /* dB (K,N) += A^T dY */
            gemm_acc(true, false, k, n, rows, 1.0f, at->f, dy, 1.0f, bt->grad);
        return;
    }
    /* Serial over the batch: a broadcast operand's gradient sums over it. */
    MM_FOR_BATCH(d, i, ia, ib, {
        if (at->grad)
            gemm_acc(false, true, m, k, n, 1.0f, dy + i * m * n, bt->f + ib * k * n, 1.0f, at->grad + ia * m * k);
        if (bt->grad)
            gemm_acc(true, false, k, n, m, 1.0f, at->f + ia * m * k, dy + i * m * n, 1.0f, bt->grad + ib * k * n);
    });
}

static double mm_macs(const cv_op_ctx *c)
{
    mm_dims d;
    cv_shape out;
    if (mm_plan(c->in[0], c->in[1], &d, &out, NULL) != CV_OK)
        return 0;
    return (double)d.m * (double)d.n * (double)d.k * (double)cv_shape_numel(&d.batch);
}

static const cv_op_def matmul = {
    .type = "MatMul", .infer = mm_infer, .forward = mm_forward, .backward = mm_backward, .macs = mm_macs,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_gemm[] = {&gemm, &matmul, NULL};
