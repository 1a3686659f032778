/* Elementwise activations: out = f(in), same shape. Each has its forward
 * and its backward (d in = f'(.) * d out) side by side. */
#include "../core/graph.h"
#include <math.h>
#include <stddef.h>

/* Output has the input's shape. Shared by every unary op here. */
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

static void relu_forward(cv_op_ctx *c)
{
    const float *x = c->in[0]->f; /* any shape */
    float *y = c->out[0]->f;
    size_t n = numel0(c);
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

static void relu_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = numel0(c);
    /* Subgradient 0 at x == 0, as PyTorch does. */
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] > 0.0f ? dy[k] : 0.0f;
}

static const cv_op_def relu = {
    .type = "Relu", .infer = infer_same, .forward = relu_forward, .backward = relu_backward,
};

const cv_op_def *const cv_ops_activation[] = {&relu, NULL};
