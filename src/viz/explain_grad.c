/* Gradient attributions, in input space:
 *   saliency     dy/dx                                    (Simonyan et al. 2014)
 *   inputxgrad   x * dy/dx                                (Shrikumar et al. 2016)
 *   smoothgrad   mean over n of dy/dx at x + N(0, (sigma (max - min))^2)  (Smilkov et al. 2017)
 *   ig           (x - x') * (1/n) sum_{k=1..n} dy/dx at x' + (k/n)(x - x')  (Sundararajan et al. 2017)
 *   guided       dy/dx with every ReLU's backward also blocking negative
 *                gradients (Springenberg et al. 2015)
 * y is the target class's logit. */
#include "explain_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* dy/dx at the input itself, from the batch-1 run made at create (already
 * forwarded on x), or from a guided run. */
static cv_status input_gradient(cv_explainer *e, int target, int rule, float *out, cv_error *err)
{
    cv_run *r = e->grad1;
    cv_status st = CV_OK;
    if (rule != CV_BACKWARD_EXACT && ((st = ex_kept_run(e, 1, true, rule, &r, err)) != CV_OK ||
                                      (st = cv_run_forward(r, e->input, err)) != CV_OK))
        return st;
    const float *gx;
    if ((st = ex_backward_target(e, r, 1, target, -1, &gx, err)) == CV_OK)
        memcpy(out, gx, e->numel * sizeof(float));
    return st;
}

cv_status ex_guided(cv_explainer *e, int target, float *out, cv_error *err)
{
    return input_gradient(e, target, CV_BACKWARD_GUIDED, out, err);
}

/* ---- SmoothGrad and IG: sums of gradients over batched samples ------------ */

typedef struct {
    const cv_explainer *e;
    double *sum;          /* [numel] sum of the samples' gradients */
    uint64_t rng;         /* SmoothGrad */
    float noise_sd;
    const float *baseline; /* IG: x', or NULL for zeros */
    int steps;
} sample_state;

static void fill_noisy(void *user, long s, float *x)
{
    sample_state *st = user;
    const float *in = st->e->input;
    for (size_t i = 0; i < st->e->numel; i++)
        x[i] = in[i] + st->noise_sd * (float)ex_rng_normal(&st->rng);
}

static void fill_path(void *user, long s, float *x)
{
    sample_state *st = user;
    const float *in = st->e->input, *b = st->baseline;
    float a = (float)(s + 1) / (float)st->steps;
    for (size_t i = 0; i < st->e->numel; i++) {
        float base = b ? b[i] : 0.0f;
        x[i] = base + a * (in[i] - base);
    }
}

static void add_gradients(void *user, long first, int count, const float *logits, const float *grads)
{
    sample_state *st = user;
    size_t n = st->e->numel;
    for (int b = 0; b < count; b++)
        for (size_t i = 0; i < n; i++)
            st->sum[i] += grads[(size_t)b * n + i];
}

static cv_status smoothgrad(cv_explainer *e, cv_explain_result *res, cv_error *err)
{
    long n = e->o.samples > 0 ? e->o.samples : 50;
    sample_state s = {.e = e, .rng = e->o.seed, .noise_sd = (float)(e->o.sigma * (e->in_max - e->in_min))};
    if (!(s.sum = calloc(e->numel, sizeof(double))))
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    ex_pass p = {fill_noisy, add_gradients, &s, res->target, CV_BACKWARD_EXACT};
    cv_status st = ex_grad_batches(e, n, &p, &res->passes, &res->batch, err);
    for (size_t i = 0; st == CV_OK && i < e->numel; i++)
        res->attribution[i] = (float)(s.sum[i] / (double)n);
    free(s.sum);
    return st;
}

/* y(x'): one forward pass of the baseline. */
static cv_status baseline_score(cv_explainer *e, const float *baseline, int target, double *score, cv_error *err)
{
    float *zeros = baseline ? NULL : calloc(e->numel, sizeof(float));
    cv_run *r = NULL;
    cv_status st = !baseline && !zeros ? cv_fail(err, CV_ERR_NOMEM, "out of memory") : CV_OK;
    if (st == CV_OK && (st = ex_kept_run(e, 1, false, CV_BACKWARD_EXACT, &r, err)) == CV_OK &&
        (st = cv_run_forward(r, baseline ? baseline : zeros, err)) == CV_OK)
        *score = cv_run_output(r, 0)->f[target];
    free(zeros);
    return st;
}

static cv_status integrated_gradients(cv_explainer *e, cv_explain_result *res, cv_error *err)
{
    const float *b = e->o.baseline;
    sample_state s = {.e = e, .baseline = b, .steps = e->o.steps};
    if (!(s.sum = calloc(e->numel, sizeof(double))))
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    ex_pass p = {fill_path, add_gradients, &s, res->target, CV_BACKWARD_EXACT};
    cv_status st = ex_grad_batches(e, e->o.steps, &p, &res->passes, &res->batch, err);
    double total = 0;
    for (size_t i = 0; st == CV_OK && i < e->numel; i++) {
        double diff = (double)e->input[i] - (b ? b[i] : 0.0);
        double a = diff * s.sum[i] / (double)e->o.steps;
        res->attribution[i] = (float)a;
        total += a;
    }
    free(s.sum);
    res->attribution_sum = total;
    if (st == CV_OK)
        st = baseline_score(e, b, res->target, &res->baseline_score, err);
    return st;
}

cv_status ex_run_gradient(cv_explainer *e, cv_explain_method method, cv_explain_result *res, cv_error *err)
{
    res->attr_shape.ndim = 3;
    for (int d = 0; d < 3; d++)
        res->attr_shape.d[d] = e->in_shape.d[d + 1];
    if (!(res->attribution = malloc(e->numel * sizeof(float))))
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    cv_status st;
    switch (method) {
    case CV_EXPLAIN_SMOOTHGRAD:
        st = smoothgrad(e, res, err);
        break;
    case CV_EXPLAIN_IG:
        st = integrated_gradients(e, res, err);
        break;
    case CV_EXPLAIN_GUIDED:
        st = input_gradient(e, res->target, CV_BACKWARD_GUIDED, res->attribution, err);
        res->passes = 1;
        break;
    default: /* saliency, inputxgrad */
        st = input_gradient(e, res->target, CV_BACKWARD_EXACT, res->attribution, err);
        res->passes = 1;
        if (method == CV_EXPLAIN_INPUTXGRAD)
            for (size_t i = 0; i < e->numel; i++)
                res->attribution[i] *= e->input[i];
        break;
    }
    if (st == CV_OK)
        ex_map_abs_max(e, res->attribution, res->map);
    return st;
}
