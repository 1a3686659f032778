/* BatchNormalization (ONNX opsets 7-15), inference form:
 *
 *   y = (x - mean) / sqrt(var + epsilon) * scale + B
 *
 * x (N, C, D1, ..., Dk); scale, B, mean, var have C entries (one per
 * channel), or with spatial = 0 (opsets 7-8) C*D1*...*Dk entries (one per
 * activation). The statistics are constants, so the op is the per-element
 * affine map y = a*x + b and backward is dx += a*dy. training_mode = 1 and
 * the training-only outputs (running / saved statistics) are not supported;
 * momentum only matters in training and is ignored.
 */
/* -std=c11 turns off fusing a*b+c into one FMA instruction; the kernels
 * here want it (half the instructions, and one rounding instead of two). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include "../core/graph.h"
#include <math.h>
#include <stdlib.h>

typedef struct {
    float epsilon;
    int spatial;
} bn_params;

static cv_status bn_init(cv_node *node, const cv_model *m, cv_error *err)
{
    bn_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    node->params = p;
    p->epsilon = cv_attr_float(node, "epsilon", 1e-5f);
    if (!(p->epsilon >= 0.0f))
        return cv_fail(err, CV_ERR_INVALID, "attribute 'epsilon' = %g, expected >= 0", p->epsilon);
    int64_t spatial = cv_attr_int(node, "spatial", 1);
    if (spatial != 0 && spatial != 1)
        return cv_fail(err, CV_ERR_INVALID, "attribute 'spatial' = %lld, expected 0 or 1", (long long)spatial);
    p->spatial = (int)spatial;
    int64_t training = cv_attr_int(node, "training_mode", 0);
    if (training != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "attribute 'training_mode' = %lld is not supported (inference only)",
                       (long long)training);
    if (node->n_in != 5)
        return cv_fail(err, CV_ERR_INVALID, "expects 5 inputs (X, scale, B, mean, var), got %d", node->n_in);
    for (int k = 0; k < 5; k++)
        if (node->in[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "input %d is missing", k);
    for (int k = 1; k < node->n_out; k++)
        if (node->out[k] >= 0)
            return cv_fail(err, CV_ERR_UNSUPPORTED,
                           "output %d (training statistics) is not supported (inference only)", k);
    return CV_OK;
}

/* Entries per statistic: C, or C*D1*...*Dk when spatial = 0. */
static int64_t bn_stat_len(const bn_params *p, const cv_shape *x)
{
    int64_t n = x->d[1];
    if (!p->spatial)
        for (int d = 2; d < x->ndim; d++)
            n *= x->d[d];
    return n;
}

static cv_status bn_infer(cv_op_ctx *c, cv_error *err)
{
    const bn_params *p = c->params;
    const cv_tensor *x = c->in[0];
    char xs[160], ps[160];
    static const char *const names[5] = {"X", "scale", "B", "mean", "var"};
    for (int k = 0; k < 5; k++)
        if (c->in[k]->dtype != CV_F32)
            return cv_fail(err, CV_ERR_INVALID, "input %s must be float32", names[k]);
    cv_shape_str(&x->shape, xs, sizeof xs);
    if (x->shape.ndim < 2)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: expected (N, C, ...)", xs);
    int64_t len = bn_stat_len(p, &x->shape);
    for (int k = 1; k < 5; k++) {
        if (cv_shape_numel(&c->in[k]->shape) != (size_t)len)
            return cv_fail(err, CV_ERR_SHAPE, "%s %s does not match input %s: expected %lld entries%s", names[k],
                           cv_shape_str(&c->in[k]->shape, ps, sizeof ps), xs, (long long)len,
                           p->spatial ? " (one per channel)" : " (one per activation, spatial = 0)");
        if (!c->in_static[k])
            return cv_fail(err, CV_ERR_UNSUPPORTED, "%s computed from the input is not supported", names[k]);
    }
    c->out[0]->dtype = CV_F32;
    c->out[0]->shape = x->shape;
    c->scratch_floats = 2 * (size_t)len; /* a and b of y = a*x + b */
    return CV_OK;
}

/* a (len), b (len): the affine map per statistic entry. */
static int64_t bn_affine(const cv_op_ctx *c, float *a, float *b)
{
    const bn_params *p = c->params;
    int64_t len = bn_stat_len(p, &c->in[0]->shape);
    const float *scale = c->in[1]->f, *bias = c->in[2]->f, *mean = c->in[3]->f, *var = c->in[4]->f;
    for (int64_t k = 0; k < len; k++) {
        a[k] = scale[k] / sqrtf(var[k] + p->epsilon);
        b[k] = bias[k] - mean[k] * a[k];
    }
    return len;
}

/* The input as (N, planes, size): planes = len statistics entries, each
 * applying to `size` contiguous values. */
static void bn_layout(const cv_op_ctx *c, int64_t len, int64_t *n, int64_t *size)
{
    const cv_shape *s = &c->in[0]->shape;
    *n = s->d[0];
    *size = (int64_t)cv_shape_numel(s) / (s->d[0] ? s->d[0] : 1) / (len ? len : 1);
}

static void bn_forward(cv_op_ctx *c)
{
    float *a = c->scratch, *b;
    int64_t len = bn_stat_len(c->params, &c->in[0]->shape), n, size;
    b = a + len;
    bn_affine(c, a, b);
    bn_layout(c, len, &n, &size);
    const float *x = c->in[0]->f;                       /* (N, len, size) */
    float *y = c->out[0]->f;
    int64_t rows = n * len;
#pragma omp parallel for schedule(static) if (rows * size >= CV_OMP_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        float ar = a[r % len], br = b[r % len];
        const float *xr = x + r * size;
        float *yr = y + r * size;
        for (int64_t k = 0; k < size; k++)
            yr[k] = ar * xr[k] + br;
    }
}

static void bn_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    float *a = c->scratch;
    int64_t len = bn_stat_len(c->params, &c->in[0]->shape), n, size;
    bn_affine(c, a, a + len);
    bn_layout(c, len, &n, &size);
    const float *dy = c->out[0]->grad;                  /* (N, len, size) */
    float *dx = c->in[0]->grad;
    int64_t rows = n * len;
#pragma omp parallel for schedule(static) if (rows * size >= CV_OMP_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        float ar = a[r % len];
        const float *dyr = dy + r * size;
        float *dxr = dx + r * size;
        for (int64_t k = 0; k < size; k++)
            dxr[k] += ar * dyr[k];
    }
}

static double bn_macs(const cv_op_ctx *c)
{
    return (double)cv_shape_numel(&c->in[0]->shape);
}

static const cv_op_def batchnorm = {
    .type = "BatchNormalization", .init = bn_init, .infer = bn_infer, .forward = bn_forward,
    .backward = bn_backward, .macs = bn_macs,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true,
};

const cv_op_def *const cv_ops_batchnorm[] = {&batchnorm, NULL};
