/* Elementwise activations: out = f(in), same shape. Each has its forward
 * and its backward (d in = f'(.) * d out) side by side.
 *
 * At kinks (x == 0 for Relu/LeakyRelu/PRelu, the clip bounds, the ends of
 * HardSigmoid/HardSwish's linear part) the subgradient is PyTorch's, so
 * gradients match what the original framework computes.
 */
/* fp-contract: a*b+c as one FMA (-std=c11 turns it off); no trapping
 * math: lets GCC turn the clamps and selects of the loops below into
 * vector blends instead of branches that keep a loop scalar (nothing here
 * enables floating-point exceptions). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")
#endif
#include "../core/cpu.h"
#include "bcast.h"
#include "vexp.h"
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

/* Attributes of the parametrised activations, parsed once in init. */
typedef struct {
    float alpha, beta, gamma;
    float lo, hi;           /* Clip bounds from attributes (opset < 11) */
    bool bounds_from_inputs;/* Clip opset >= 11: min/max are inputs 1 and 2 */
    bool legacy_channel_slope; /* PRelu opset < 7: 1-D slope is per channel */
} act_params;

/* Zeroed params owned by the node, or NULL when out of memory. */
static act_params *act_params_new(cv_node *n)
{
    return n->params = calloc(1, sizeof(act_params));
}

/* Output has the input's shape. Shared by every unary float op here. */
static cv_status infer_same(cv_op_ctx *c, cv_error *err)
{
    if (c->n_in < 1 || !c->in[0] || c->in[0]->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects one float input");
    c->out[0]->dtype = CV_F32;
    c->out[0]->shape = c->in[0]->shape;
    return CV_OK;
}

static size_t numel0(const cv_op_ctx *c) { return cv_shape_numel(&c->in[0]->shape); }

/* ---- Relu ---------------------------------------------------------------- */

/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, relu_forward, (cv_op_ctx *c));

void CV_ISA_NAME(relu_forward)(cv_op_ctx *c)
{
    const float *x = c->in[0]->f; /* any shape */
    float *y = c->out[0]->f;
    size_t n = numel0(c);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

static void relu_forward(cv_op_ctx *c)
{
    CV_ISA_CALL(relu_forward, (c));
}

/* Redirected ReLU (lucid, for feature visualisation): per batch item, when
 * the exact gradient is zero everywhere, let through the gradient that would
 * turn units on (dy > 0), so ascent can leave a start where all are off. */
static void relu_backward_redirect(cv_op_ctx *c)
{
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    size_t batch = c->in[0]->shape.ndim > 1 && c->in[0]->shape.d[0] > 0 ? (size_t)c->in[0]->shape.d[0] : 1;
    size_t per = n / batch;
    for (size_t b = 0; b < batch; b++) {
        const float *xb = x + b * per, *dyb = dy + b * per;
        float *dxb = dx + b * per;
        bool any = false;
        for (size_t k = 0; k < per && !any; k++)
            any = xb[k] > 0.0f && dyb[k] != 0.0f;
        for (size_t k = 0; k < per; k++)
            dxb[k] += (any ? xb[k] > 0.0f : dyb[k] > 0.0f) ? dyb[k] : 0.0f;
    }
}

static void relu_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    if (c->relu_redirect) {
        relu_backward_redirect(c);
        return;
    }
    /* Subgradient 0 at x == 0, as PyTorch does. */
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] > 0.0f ? dy[k] : 0.0f;
}

/* relu_forward's x > 0 ? x : 0, as a clamp a Conv can apply itself */
static bool relu_as_clamp(const cv_op_ctx *c, cv_clamp *k)
{
    *k = (cv_clamp){.lo = 0.0f, .hi = INFINITY, .nan_to_lo = true};
    return c->in[0]->dtype == CV_F32;
}

static const cv_op_def relu = {
    .type = "Relu", .infer = infer_same, .forward = relu_forward, .backward = relu_backward,
    .gate = CV_GATE_RELU, .spatial = CV_SPATIAL_POINTWISE, .in_place = true, .as_clamp = relu_as_clamp,
};

/* ---- LeakyRelu: x < 0 ? alpha x : x ---------------------------------------- */

static cv_status leaky_init(cv_node *n, const cv_model *m, cv_error *err)
{
    act_params *p = act_params_new(n);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->alpha = cv_attr_float(n, "alpha", 0.01f);
    return CV_OK;
}

static void leaky_forward(cv_op_ctx *c)
{
    const act_params *p = c->params;
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
    float alpha = p->alpha;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] < 0.0f ? alpha * x[k] : x[k];
}

static void leaky_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const act_params *p = c->params;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    float alpha = p->alpha;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] > 0.0f ? dy[k] : alpha * dy[k];
}

static const cv_op_def leaky_relu = {
    .type = "LeakyRelu", .init = leaky_init, .infer = infer_same,
    .forward = leaky_forward, .backward = leaky_backward,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true,
};

/* ---- PRelu: x < 0 ? slope x : x, slope broadcast to x (unidirectional) ----
 * Before opset 7 (old PyTorch exports) a 1-D slope of size C is per channel
 * (dim 1) rather than numpy-aligned to the last dim. */

static cv_status prelu_init(cv_node *n, const cv_model *m, cv_error *err)
{
    act_params *p = act_params_new(n);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->legacy_channel_slope = cv_opset(m) < 7;
    return CV_OK;
}

/* The slope's shape as it broadcasts against x. */
static cv_shape prelu_slope_shape(const cv_op_ctx *c)
{
    const act_params *p = c->params;
    const cv_shape *xs = &c->in[0]->shape, *ss = &c->in[1]->shape;
    cv_shape eff = *ss;
    if (p->legacy_channel_slope && ss->ndim == 1 && xs->ndim >= 2 && ss->d[0] == xs->d[1] && ss->d[0] != 1) {
        eff.ndim = xs->ndim - 1; /* [C] -> [C, 1, ..., 1] */
        for (int k = 1; k < eff.ndim; k++)
            eff.d[k] = 1;
    }
    return eff;
}

static cv_status prelu_infer(cv_op_ctx *c, cv_error *err)
{
    cv_status st = infer_same(c, err);
    if (st != CV_OK)
        return st;
    if (c->n_in != 2 || !c->in[1] || c->in[1]->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects a float 'slope' input");
    cv_shape b, eff = prelu_slope_shape(c);
    char sx[160], ss[160];
    if (cv_broadcast_shape(&c->in[0]->shape, &eff, &b) != CV_OK || !cv_shape_equal(&b, &c->in[0]->shape))
        return cv_fail(err, CV_ERR_SHAPE, "slope %s does not broadcast to the input %s",
                       cv_shape_str(&c->in[1]->shape, ss, sizeof ss), cv_shape_str(&c->in[0]->shape, sx, sizeof sx));
    return CV_OK;
}

static void prelu_forward(cv_op_ctx *c)
{
    const cv_tensor *xt = c->in[0], *st = c->in[1];
    cv_shape eff = prelu_slope_shape(c);
    cv_bcast bc; /* rows of x; the slope's inner stride is 0 (per channel) or 1 */
    cv_bcast_plan(&bc, &xt->shape, &xt->shape, &eff);
    const int64_t ss = bc.sb[bc.nd - 1], len = bc.len;
#pragma omp parallel for if (bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
    for (int64_t r = 0; r < bc.rows; r++) {
        int64_t ox, os;
        cv_bcast_row(&bc, r, &ox, &os);
        const float *x = xt->f + ox, *s = st->f + os;
        float *y = c->out[0]->f + ox;
        for (int64_t k = 0; k < len; k++)
            y[k] = x[k] < 0.0f ? s[k * ss] * x[k] : x[k];
    }
}

static void prelu_backward(cv_op_ctx *c)
{
    const cv_tensor *xt = c->in[0], *st = c->in[1];
    const float *dyall = c->out[0]->grad;
    cv_shape eff = prelu_slope_shape(c);
    cv_bcast bc;
    cv_bcast_plan(&bc, &xt->shape, &xt->shape, &eff);
    const int64_t ss = bc.sb[bc.nd - 1], len = bc.len;
    if (xt->grad) {
#pragma omp parallel for if (bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
        for (int64_t r = 0; r < bc.rows; r++) {
            int64_t ox, os;
            cv_bcast_row(&bc, r, &ox, &os);
            const float *x = xt->f + ox, *s = st->f + os, *dy = dyall + ox;
            float *dx = xt->grad + ox;
            for (int64_t k = 0; k < len; k++)
                dx[k] += x[k] > 0.0f ? dy[k] : s[k * ss] * dy[k];
        }
    }
    if (st->grad) { /* a runtime slope: reduce over where it was broadcast */
        for (int64_t r = 0; r < bc.rows; r++) {
            int64_t ox, os;
            cv_bcast_row(&bc, r, &ox, &os);
            const float *x = xt->f + ox, *dy = dyall + ox;
            float *ds = st->grad + os;
            for (int64_t k = 0; k < len; k++)
                if (x[k] <= 0.0f)
                    ds[k * ss] += x[k] * dy[k];
        }
    }
}

static const cv_op_def prelu = {
    .type = "PRelu", .init = prelu_init, .infer = prelu_infer, .forward = prelu_forward, .backward = prelu_backward,
    .spatial = CV_SPATIAL_POINTWISE,
};

/* ---- Elu: x < 0 ? alpha (e^x - 1) : x -------------------------------------- */

static cv_status elu_init(cv_node *n, const cv_model *m, cv_error *err)
{
    act_params *p = act_params_new(n);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->alpha = cv_attr_float(n, "alpha", 1.0f);
    return CV_OK;
}

static void elu_forward(cv_op_ctx *c)
{
    const act_params *p = c->params;
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
    float alpha = p->alpha;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] < 0.0f ? alpha * expm1f(x[k]) : x[k];
}

static void elu_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const act_params *p = c->params;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    float alpha = p->alpha;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] > 0.0f ? dy[k] : alpha * expf(x[k]) * dy[k];
}

static const cv_op_def elu = {
    .type = "Elu", .init = elu_init, .infer = infer_same, .forward = elu_forward, .backward = elu_backward,
    .spatial = CV_SPATIAL_POINTWISE,
};

/* ---- Selu: gamma (x <= 0 ? alpha (e^x - 1) : x) ---------------------------- */

static cv_status selu_init(cv_node *n, const cv_model *m, cv_error *err)
{
    act_params *p = act_params_new(n);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->alpha = cv_attr_float(n, "alpha", 1.67326319217681884765625f);
    p->gamma = cv_attr_float(n, "gamma", 1.05070102214813232421875f);
    return CV_OK;
}

static void selu_forward(cv_op_ctx *c)
{
    const act_params *p = c->params;
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
    float alpha = p->alpha, gamma = p->gamma;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = gamma * (x[k] <= 0.0f ? alpha * expm1f(x[k]) : x[k]);
}

static void selu_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const act_params *p = c->params;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    float alpha = p->alpha, gamma = p->gamma;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += gamma * (x[k] > 0.0f ? dy[k] : alpha * expf(x[k]) * dy[k]);
}

static const cv_op_def selu = {
    .type = "Selu", .init = selu_init, .infer = infer_same, .forward = selu_forward, .backward = selu_backward,
    .spatial = CV_SPATIAL_POINTWISE,
};

/* ---- Clip: min(max(x, lo), hi) ---------------------------------------------
 * Opset < 11: `min`/`max` attributes (default -/+FLT_MAX). Opset >= 11:
 * optional inputs 1 and 2, which must be constant. Also works on int64. */

static cv_status clip_init(cv_node *n, const cv_model *m, cv_error *err)
{
    act_params *p = act_params_new(n);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    bool attrs = cv_node_attr(n, "min") || cv_node_attr(n, "max");
    p->bounds_from_inputs = cv_opset(m) >= 11 && !attrs;
    if (!p->bounds_from_inputs && n->n_in > 1)
        return cv_fail(err, CV_ERR_INVALID, "opset %d Clip takes its bounds as attributes, not inputs", m->opset);
    p->lo = cv_attr_float(n, "min", -FLT_MAX);
    p->hi = cv_attr_float(n, "max", FLT_MAX);
    return CV_OK;
}

static cv_status clip_infer(cv_op_ctx *c, cv_error *err)
{
    const act_params *p = c->params;
    const cv_tensor *x = c->in[0];
    if (!x || (x->dtype != CV_F32 && x->dtype != CV_I64))
        return cv_fail(err, CV_ERR_INVALID, "expects a float or int64 input");
    if (!p->bounds_from_inputs && x->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "Clip with attribute bounds expects a float input");
    static const char *const names[] = {"", "min", "max"};
    for (int k = 1; k < c->n_in && k < 3; k++) {
        if (!c->in[k])
            continue;
        if (!c->in_static[k])
            return cv_fail(err, CV_ERR_UNSUPPORTED, "'%s' input must be constant", names[k]);
        if (c->in[k]->dtype != x->dtype || cv_shape_numel(&c->in[k]->shape) != 1)
            return cv_fail(err, CV_ERR_INVALID, "'%s' must be a scalar of the input's type", names[k]);
    }
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = x->shape;
    return CV_OK;
}

/* The bounds for this run (inputs when given, else attributes/defaults). */
static void clip_bounds_f32(const cv_op_ctx *c, float *lo, float *hi)
{
    const act_params *p = c->params;
    *lo = p->lo;
    *hi = p->hi;
    if (p->bounds_from_inputs) {
        *lo = c->n_in > 1 && c->in[1] ? c->in[1]->f[0] : -INFINITY;
        *hi = c->n_in > 2 && c->in[2] ? c->in[2]->f[0] : INFINITY;
    }
}

/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, clip_forward, (cv_op_ctx *c));

void CV_ISA_NAME(clip_forward)(cv_op_ctx *c)
{
    size_t n = numel0(c);
    if (c->in[0]->dtype == CV_I64) {
        int64_t lo = c->n_in > 1 && c->in[1] ? c->in[1]->i[0] : INT64_MIN;
        int64_t hi = c->n_in > 2 && c->in[2] ? c->in[2]->i[0] : INT64_MAX;
        const int64_t *x = c->in[0]->i;
        int64_t *y = c->out[0]->i;
        for (size_t k = 0; k < n; k++) {
            int64_t v = x[k] < lo ? lo : x[k];
            y[k] = v > hi ? hi : v;
        }
        return;
    }
    float lo, hi;
    clip_bounds_f32(c, &lo, &hi);
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++) {
        float v = x[k] < lo ? lo : x[k];
        y[k] = v > hi ? hi : v;
    }
}

static void clip_forward(cv_op_ctx *c)
{
    CV_ISA_CALL(clip_forward, (c));
}

static void clip_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    float lo, hi;
    clip_bounds_f32(c, &lo, &hi);
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    /* Gradient passes on the closed interval, as torch.clamp's does. */
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] >= lo && x[k] <= hi ? dy[k] : 0.0f;
}

/* clip_forward's float path, as a clamp a Conv can apply itself (the
 * bounds are constants: clip_infer insists) */
static bool clip_as_clamp(const cv_op_ctx *c, cv_clamp *k)
{
    if (c->in[0]->dtype != CV_F32)
        return false;
    *k = (cv_clamp){.nan_to_lo = false};
    clip_bounds_f32(c, &k->lo, &k->hi);
    return true;
}

static const cv_op_def clip = {
    .type = "Clip", .init = clip_init, .infer = clip_infer, .forward = clip_forward, .backward = clip_backward,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true, .as_clamp = clip_as_clamp,
};

/* ---- Sigmoid: 1 / (1 + e^-x) ------------------------------------------------ */

/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, sigmoid_forward, (cv_op_ctx *c));

void CV_ISA_NAME(sigmoid_forward)(cv_op_ctx *c)
{
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
    /* 1 / (1 + e^-x), with -x clamped to e^x's range: for x << 0, e^-x is
     * large and 1 / it keeps the relative precision of e^-x, so there is
     * no need for e^-|x| and a select on the sign (2 compares and 2 blends
     * more per vector: [1, 96, 112, 112] 0.24 ms before, AVX-512, 2
     * threads). Below -87.3 the result is 0 (as e^-|x| = 0 gave). */
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++) {
        float t = -x[k];
        t = t < -87.3f ? -87.3f : t;
        t = t > 88.7f ? 88.7f : t;
        float s = 1.0f / (1.0f + cv_vexpf_in_range(t));
        y[k] = x[k] < -87.3f ? 0.0f : s;
    }
}

static void sigmoid_forward(cv_op_ctx *c)
{
    CV_ISA_CALL(sigmoid_forward, (c));
}

static void sigmoid_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *y = c->out[0]->f, *dy = c->out[0]->grad; /* y is kept: runs with grads keep activations */
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += dy[k] * y[k] * (1.0f - y[k]);
}

static const cv_op_def sigmoid = {
    .type = "Sigmoid", .infer = infer_same, .forward = sigmoid_forward, .backward = sigmoid_backward,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true,
};

/* ---- HardSigmoid: max(0, min(1, alpha x + beta)) ---------------------------- */

static cv_status hsig_init(cv_node *n, const cv_model *m, cv_error *err)
{
    act_params *p = act_params_new(n);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->alpha = cv_attr_float(n, "alpha", 0.2f);
    p->beta = cv_attr_float(n, "beta", 0.5f);
    return CV_OK;
}

static void hsig_forward(cv_op_ctx *c)
{
    const act_params *p = c->params;
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
    float alpha = p->alpha, beta = p->beta;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++) {
        float v = alpha * x[k] + beta;
        y[k] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

static void hsig_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const act_params *p = c->params;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    float alpha = p->alpha, beta = p->beta;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++) {
        float v = alpha * x[k] + beta;
        dx[k] += v > 0.0f && v < 1.0f ? alpha * dy[k] : 0.0f;
    }
}

static const cv_op_def hard_sigmoid = {
    .type = "HardSigmoid", .init = hsig_init, .infer = infer_same,
    .forward = hsig_forward, .backward = hsig_backward,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true,
};

/* ---- HardSwish: x * max(0, min(1, x/6 + 1/2)) (opset 14) ------------------- */

static void hswish_forward(cv_op_ctx *c)
{
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++) {
        float v = x[k] / 6.0f + 0.5f;
        y[k] = x[k] * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
    }
}

static void hswish_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    /* PyTorch's hardswish_backward: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above. */
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] < -3.0f ? 0.0f : x[k] <= 3.0f ? dy[k] * (x[k] / 3.0f + 0.5f) : dy[k];
}

static const cv_op_def hard_swish = {
    .type = "HardSwish", .infer = infer_same, .forward = hswish_forward, .backward = hswish_backward,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true,
};

/* ---- Tanh ------------------------------------------------------------------- */

static void tanh_forward(cv_op_ctx *c)
{
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
    size_t n = numel0(c);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = tanhf(x[k]);
}

static void tanh_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *y = c->out[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += dy[k] * (1.0f - y[k] * y[k]);
}

static const cv_op_def tanh_ = {
    .type = "Tanh", .infer = infer_same, .forward = tanh_forward, .backward = tanh_backward,
    .spatial = CV_SPATIAL_POINTWISE, .in_place = true,
};

const cv_op_def *const cv_ops_activation[] = {
    &relu, &leaky_relu, &prelu, &elu, &selu, &clip, &sigmoid, &hard_sigmoid, &hard_swish, &tanh_, NULL,
};
