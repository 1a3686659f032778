/* Attribution methods: the explainer (one planned gradient run on the
 * input, its class scores), the batched passes every sampled method runs,
 * and the dispatch to the method families (explain_grad.c, explain_cam.c,
 * explain_rise.c). */
#include "explain_internal.h"
#include "../core/limits.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const method_names[CV_EXPLAIN_COUNT] = {
    "saliency", "inputxgrad", "smoothgrad", "ig", "guided", "gradcam", "gradcam++", "scorecam", "guided-gradcam",
    "rise",
};

const char *cv_explain_method_name(cv_explain_method m)
{
    return m >= 0 && m < CV_EXPLAIN_COUNT ? method_names[m] : "?";
}

cv_status cv_explain_method_from_name(cv_explain_method *out, const char *name, cv_error *err)
{
    for (int k = 0; k < CV_EXPLAIN_COUNT; k++)
        if (strcmp(name, method_names[k]) == 0) {
            *out = (cv_explain_method)k;
            return CV_OK;
        }
    return cv_fail(err, CV_ERR_INVALID,
                   "unknown method '%s' (saliency, inputxgrad, smoothgrad, ig, guided, gradcam, gradcam++, scorecam, "
                   "guided-gradcam, rise)", name);
}

int cv_explain_method_is_gradient(cv_explain_method m)
{
    return m == CV_EXPLAIN_SALIENCY || m == CV_EXPLAIN_INPUTXGRAD || m == CV_EXPLAIN_SMOOTHGRAD ||
           m == CV_EXPLAIN_IG || m == CV_EXPLAIN_GUIDED;
}

int cv_explain_method_uses_layer(cv_explain_method m)
{
    return m == CV_EXPLAIN_GRADCAM || m == CV_EXPLAIN_GRADCAMPP || m == CV_EXPLAIN_SCORECAM ||
           m == CV_EXPLAIN_GUIDED_GRADCAM;
}

cv_explain_options cv_explain_defaults(void)
{
    cv_explain_options o = {.layer = -1, .sigma = 0.15, .steps = 50, .rise_grid = 7, .rise_p = 0.5};
    return o;
}

/* ---- random numbers ---------------------------------------------------- */

uint64_t ex_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double ex_rng_uniform(uint64_t *state) { return (double)(ex_rng_next(state) >> 11) * 0x1.0p-53; }

double ex_rng_normal(uint64_t *state)
{
    double u1 = ex_rng_uniform(state), u2 = ex_rng_uniform(state);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/* ---- class scores ------------------------------------------------------- */

static bool is_distribution(const float *s, int n)
{
    double sum = 0;
    for (int k = 0; k < n; k++) {
        if (!(s[k] >= 0 && s[k] <= 1))
            return false;
        sum += s[k];
    }
    return fabs(sum - 1.0) <= 1e-3;
}

/* The largest logit and sum_k exp(logit_k - max): softmax's two reductions. */
static double softmax_sum(const cv_explainer *e, const float *logits, double *mx)
{
    double m = logits[0], sum = 0;
    for (int k = 1; k < e->n_classes; k++)
        m = logits[k] > m ? logits[k] : m;
    for (int k = 0; k < e->n_classes; k++)
        sum += exp((double)logits[k] - m);
    *mx = m;
    return sum;
}

double ex_probability(const cv_explainer *e, const float *logits, int target)
{
    if (!e->softmax)
        return logits[target];
    double mx, sum = softmax_sum(e, logits, &mx);
    return exp((double)logits[target] - mx) / sum;
}

/* Every class's probability: one pair of reductions, not one per class. */
static void all_probabilities(const cv_explainer *e, const float *logits, float *probs)
{
    if (!e->softmax) {
        memcpy(probs, logits, (size_t)e->n_classes * sizeof(float));
        return;
    }
    double mx, sum = softmax_sum(e, logits, &mx);
    for (int k = 0; k < e->n_classes; k++)
        probs[k] = (float)(exp((double)logits[k] - mx) / sum);
}

/* ---- runs and batches ------------------------------------------------------ */

cv_status ex_make_run(const cv_explainer *e, int b, bool grad, int backward_rule, cv_run **out, cv_error *err)
{
    cv_shape s = e->in_shape;
    s.d[0] = b;
    cv_run_options ro = cv_run_defaults();
    ro.stop_layer = e->logit_layer;
    ro.need_grad = grad;
    ro.conv_algo = grad ? CV_CONV_EXACT_BACKWARD : CV_CONV_AUTO;
    ro.backward_rule = backward_rule;
    return cv_run_create(out, e->m, &s, &ro, err);
}

cv_status ex_kept_run(cv_explainer *e, int b, bool grad, int backward_rule, cv_run **out, cv_error *err)
{
    ex_kept *slot = &e->kept[0];
    for (int k = 0; k < EX_KEPT_RUNS; k++) {
        ex_kept *c = &e->kept[k];
        if (c->run && c->batch == b && c->grad == grad && c->rule == backward_rule) {
            c->used = ++e->clock;
            *out = c->run;
            return CV_OK;
        }
        if (c->run && b > 1 && c->batch > 1) {
            cv_run_free(c->run);
            c->run = NULL;
        }
        if (!c->run || (slot->run && c->used < slot->used))
            slot = c;
    }
    cv_run_free(slot->run);
    *slot = (ex_kept){0};
    cv_status st = ex_make_run(e, b, grad, backward_rule, &slot->run, err);
    if (st == CV_OK)
        *slot = (ex_kept){slot->run, b, grad, backward_rule, ++e->clock};
    *out = slot->run;
    return st;
}

cv_status ex_backward_target(const cv_explainer *e, cv_run *r, int b, int target, int until, const float **gx,
                             cv_error *err)
{
    size_t n = (size_t)b * (size_t)e->n_classes;
    float *seed = calloc(n, sizeof(float));
    if (!seed)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    for (int i = 0; i < b; i++)
        seed[(size_t)i * e->n_classes + target] = 1.0f;
    cv_status st = until < 0 ? cv_run_backward(r, e->logit_layer, seed, gx, err)
                             : cv_run_backward_until(r, e->logit_layer, seed, until, err);
    free(seed);
    return st;
}

/* A gradient pass keeps every activation and its gradient: on ResNet18 at
 * 224, 47 MB an item. Past a few items a batch gains nothing (the
 * convolutions' products are already wide) and loses to memory traffic and
 * first-touch page faults: SmoothGrad 50 took 3.36 s in batches of 4,
 * 3.49 s in batches of 25 (and its first call 4.1 s against 8.4 s). Small
 * inputs still batch up to CV_MAX_AUTO_BATCH. */
#define EX_GRAD_BATCH_BYTES ((size_t)192 << 20)

/* Items per pass for n samples: opt.batch, else what the memory budget
 * (cv_auto_batch_bytes, as occlusion's; for gradients at most
 * EX_GRAD_BATCH_BYTES) allows by the batch-1 estimate, at most
 * CV_MAX_AUTO_BATCH. */
static int batch_size(const cv_explainer *e, long n, bool grad)
{
    long b = e->o.batch;
    if (b <= 0) {
        size_t budget = cv_auto_batch_bytes(e->o.max_memory);
        if (grad && budget > EX_GRAD_BATCH_BYTES)
            budget = EX_GRAD_BATCH_BYTES;
        size_t item = grad ? e->grad_item_bytes : e->fwd_item_bytes;
        b = item ? (long)(budget / item) : CV_MAX_AUTO_BATCH;
        b = b < 1 ? 1 : b > CV_MAX_AUTO_BATCH ? CV_MAX_AUTO_BATCH : b;
    }
    return (int)(b < n ? b : n);
}

/* A kept run of at most *b items; a plan over the model's limit halves *b. */
static cv_status batched_run(cv_explainer *e, int *b, bool grad, int rule, cv_run **r, cv_error *err)
{
    for (;;) {
        cv_status st = ex_kept_run(e, *b, grad, rule, r, err);
        if (st != CV_ERR_LIMIT || *b == 1)
            return st;
        *b /= 2;
    }
}

/* Batches of equal size: n = 50 at most 16 a pass runs 4 passes of 13 (the
 * last one padded by repeating its final sample, 2 wasted) rather than
 * 3 x 16 and a pass of 2 that would need a plan of its own. */
static int balanced_batch(long n, int b)
{
    long passes = (n + b - 1) / b;
    return (int)((n + passes - 1) / passes);
}

static cv_status run_batches(cv_explainer *e, long n, const ex_pass *p, bool grad, long *passes, int *batch,
                             cv_error *err)
{
    /* balanced before any plan is made: a kept run of exactly this size is
     * then found again by the next call (planning a run of the unbalanced
     * size first evicted it, and each call re-made and page-faulted two
     * runs of up to a GiB: SmoothGrad 50 on ResNet18 took 4.6 s, now 3.5 s) */
    int b = balanced_batch(n, batch_size(e, n, grad));
    cv_run *r = NULL;
    cv_status st = batched_run(e, &b, grad, p->backward_rule, &r, err);
    if (st == CV_OK && balanced_batch(n, b) < b) { /* halved for the memory limit */
        b = balanced_batch(n, b);
        st = ex_kept_run(e, b, grad, p->backward_rule, &r, err);
    }
    float *x = st == CV_OK ? malloc((size_t)b * e->numel * sizeof(float)) : NULL;
    if (st == CV_OK && !x)
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory for a batch of %d inputs", b);
    for (long first = 0; st == CV_OK && first < n; first += b) {
        int count = n - first < b ? (int)(n - first) : b;
        for (int i = 0; i < count; i++)
            p->fill(p->user, first + i, x + (size_t)i * e->numel);
        for (int i = count; i < b; i++) /* padding: computed, never consumed */
            memcpy(x + (size_t)i * e->numel, x + (size_t)(count - 1) * e->numel, e->numel * sizeof(float));
        const float *gx = NULL;
        if ((st = cv_run_forward(r, x, err)) != CV_OK)
            break;
        if (grad && (st = ex_backward_target(e, r, b, p->target, -1, &gx, err)) != CV_OK)
            break;
        p->consume(p->user, first, count, cv_run_output(r, 0)->f, gx);
        if (e->o.progress)
            e->o.progress(e->o.user, first + count, n);
        if (e->o.cancel && *e->o.cancel)
            st = cv_fail(err, CV_ERR_CANCELLED, "explain: cancelled after %ld of %ld samples", first + count, n);
    }
    if (passes)
        *passes += n;
    if (batch)
        *batch = b;
    free(x);
    return st;
}

cv_status ex_grad_batches(cv_explainer *e, long n, const ex_pass *p, long *passes, int *batch, cv_error *err)
{
    return run_batches(e, n, p, true, passes, batch, err);
}

cv_status ex_forward_batches(cv_explainer *e, long n, const ex_pass *p, long *passes, int *batch, cv_error *err)
{
    return run_batches(e, n, p, false, passes, batch, err);
}

/* ---- maps ------------------------------------------------------------------ */

size_t ex_input_index(const cv_explainer *e, int c, int y, int x)
{
    if (e->nhwc)
        return ((size_t)y * e->width + x) * e->channels + c;
    return ((size_t)c * e->height + y) * e->width + x;
}

void ex_map_abs_max(const cv_explainer *e, const float *attr, float *map)
{
    for (int y = 0; y < e->height; y++)
        for (int x = 0; x < e->width; x++) {
            float best = 0;
            for (int c = 0; c < e->channels; c++)
                best = fmaxf(best, fabsf(attr[ex_input_index(e, c, y, x)]));
            map[(size_t)y * e->width + x] = best;
        }
}

void cv_explain_upsample(float *out, int oh, int ow, const float *in, int h, int w)
{
    double sy = (double)h / oh, sx = (double)w / ow;
    for (int i = 0; i < oh; i++) {
        double fy = fmax((i + 0.5) * sy - 0.5, 0.0);
        int y0 = (int)fy, y1 = y0 + (y0 < h - 1);
        float ly = (float)(fy - y0);
        for (int j = 0; j < ow; j++) {
            double fx = fmax((j + 0.5) * sx - 0.5, 0.0);
            int x0 = (int)fx, x1 = x0 + (x0 < w - 1);
            float lx = (float)(fx - x0);
            const float *r0 = in + (size_t)y0 * w, *r1 = in + (size_t)y1 * w;
            out[(size_t)i * ow + j] = (1 - ly) * ((1 - lx) * r0[x0] + lx * r0[x1]) +
                                      ly * ((1 - lx) * r1[x0] + lx * r1[x1]);
        }
    }
}

/* Ranks 1..n with ties averaged, into rank. */
static int compare_by_value(const void *a, const void *b, void *values)
{
    const float *v = values;
    float x = v[*(const size_t *)a], y = v[*(const size_t *)b];
    return (x > y) - (x < y);
}

static bool ranks(const float *v, size_t n, double *rank)
{
    size_t *idx = malloc(n * sizeof(size_t));
    if (!idx)
        return false;
    for (size_t k = 0; k < n; k++)
        idx[k] = k;
    qsort_r(idx, n, sizeof(size_t), compare_by_value, (void *)v);
    for (size_t k = 0; k < n;) {
        size_t j = k;
        while (j + 1 < n && v[idx[j + 1]] == v[idx[k]])
            j++;
        for (size_t t = k; t <= j; t++)
            rank[idx[t]] = 0.5 * (double)(k + j) + 1.0;
        k = j + 1;
    }
    free(idx);
    return true;
}

double cv_explain_rank_correlation(const float *a, const float *b, size_t n)
{
    double *ra = malloc(n * sizeof(double)), *rb = malloc(n * sizeof(double));
    double r = NAN;
    if (n > 1 && ra && rb && ranks(a, n, ra) && ranks(b, n, rb)) {
        double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
        for (size_t k = 0; k < n; k++)
            ma += ra[k], mb += rb[k];
        ma /= (double)n;
        mb /= (double)n;
        for (size_t k = 0; k < n; k++) {
            sab += (ra[k] - ma) * (rb[k] - mb);
            saa += (ra[k] - ma) * (ra[k] - ma);
            sbb += (rb[k] - mb) * (rb[k] - mb);
        }
        r = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0.0;
    }
    free(ra);
    free(rb);
    return r;
}

/* ---- the explainer -------------------------------------------------------- */

/* Plan bytes per batch item, from the batch-1 plan: every layer's output
 * and its gradient (gradient runs keep all), or the three largest
 * activations alive at once (forward runs free as they go). */
static void estimate_item_bytes(cv_explainer *e)
{
    double all = 2.0 * (double)e->numel, largest = (double)e->numel;
    for (int k = 0; k <= e->logit_layer; k++) {
        cv_shape s = cv_run_layer_shape(e->grad1, k);
        double n = s.ndim ? (double)cv_shape_numel(&s) : 0;
        all += 2 * n;
        largest = fmax(largest, n);
    }
    e->grad_item_bytes = (size_t)(all * sizeof(float));
    e->fwd_item_bytes = (size_t)(3 * largest * sizeof(float));
}

static cv_status check_input_shape(cv_explainer *e, const cv_shape *s, cv_error *err)
{
    char b[160];
    if (s->ndim != 4 || s->d[0] != 1)
        return cv_fail(err, CV_ERR_SHAPE, "explain: input %s: expected one image, [1, C, H, W] or [1, H, W, C]",
                       cv_shape_str(s, b, sizeof b));
    e->nhwc = cv_model_input_nhwc(e->m);
    e->channels = (int)(e->nhwc ? s->d[3] : s->d[1]);
    e->height = (int)(e->nhwc ? s->d[1] : s->d[2]);
    e->width = (int)(e->nhwc ? s->d[2] : s->d[3]);
    e->numel = cv_shape_numel(s);
    if (e->numel == 0)
        return cv_fail(err, CV_ERR_SHAPE, "explain: input %s is empty", cv_shape_str(s, b, sizeof b));
    return CV_OK;
}

static cv_status check_options(const cv_explain_options *o, cv_error *err)
{
    if (o->samples < 0 || o->steps < 1 || !(o->sigma >= 0) || o->rise_grid < 1 || !(o->rise_p > 0 && o->rise_p <= 1) ||
        o->batch < 0)
        return cv_fail(err, CV_ERR_INVALID,
                       "explain: options out of range (samples %d >= 0, steps %d >= 1, sigma %g >= 0, grid %d >= 1, "
                       "p %g in (0, 1], batch %d >= 0)", o->samples, o->steps, o->sigma, o->rise_grid, o->rise_p,
                       o->batch);
    return CV_OK;
}

/* Forward x on the batch-1 gradient run and keep what every method reads
 * of it: the class scores, their probabilities, the input's value range.
 * The plan and the kept runs stay: a new image of the same shape costs one
 * forward pass, not a new plan. */
cv_status cv_explainer_set_input(cv_explainer *e, const float *input, cv_error *err)
{
    cv_status st = cv_run_forward(e->grad1, input, err);
    if (st != CV_OK)
        return st;
    const cv_tensor *y = cv_run_output(e->grad1, 0);
    size_t nc = cv_shape_numel(&y->shape);
    if (y->dtype != CV_F32 || nc < 1 || nc > (1u << 24) || (e->n_classes && nc != (size_t)e->n_classes))
        return cv_fail(err, CV_ERR_INVALID, "%s: the class scores are not a float vector", cv_model_path(e->m));
    if (!e->logits) {
        e->n_classes = (int)nc;
        e->logits = malloc(nc * sizeof(float));
        e->probs = malloc(nc * sizeof(float));
        if (!e->logits || !e->probs)
            return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    }
    e->input = input;
    memcpy(e->logits, y->f, nc * sizeof(float));
    e->softmax = e->before_softmax || !is_distribution(e->logits, e->n_classes);
    all_probabilities(e, e->logits, e->probs);
    float lo = input[0], hi = input[0]; /* (not fminf: NaN-aware calls, 3% of a saliency pass) */
    for (size_t i = 1; i < e->numel; i++) {
        lo = input[i] < lo ? input[i] : lo;
        hi = input[i] > hi ? input[i] : hi;
    }
    e->in_min = lo;
    e->in_max = hi;
    return CV_OK;
}

cv_status cv_explainer_create(cv_explainer **out, const cv_model *m, const cv_shape *in_shape, const float *input,
                              const cv_explain_options *opt, cv_error *err)
{
    *out = NULL;
    cv_explain_options defaults = cv_explain_defaults();
    cv_status st = check_options(opt ? opt : &defaults, err);
    if (st != CV_OK)
        return st;
    cv_explainer *e = calloc(1, sizeof *e);
    if (!e)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    e->m = m;
    e->in_shape = *in_shape;
    e->input = input;
    e->o = opt ? *opt : defaults;
    if ((st = check_input_shape(e, in_shape, err)) != CV_OK)
        goto fail;
    if ((e->logit_layer = cv_model_class_score_layer(m, &e->before_softmax)) < 0) {
        st = cv_fail(err, CV_ERR_INVALID, "%s: the model's output is not computed by any layer", cv_model_path(m));
        goto fail;
    }
    if ((st = ex_make_run(e, 1, true, CV_BACKWARD_EXACT, &e->grad1, err)) != CV_OK ||
        (st = cv_explainer_set_input(e, input, err)) != CV_OK)
        goto fail;
    estimate_item_bytes(e);
    *out = e;
    return CV_OK;
fail:
    cv_explainer_free(e);
    return st;
}

void cv_explainer_free(cv_explainer *e)
{
    if (!e)
        return;
    cv_run_free(e->grad1);
    for (int k = 0; k < EX_KEPT_RUNS; k++)
        cv_run_free(e->kept[k].run);
    free(e->logits);
    free(e->probs);
    free(e);
}

const float *cv_explainer_probs(const cv_explainer *e, int *n_classes)
{
    if (n_classes)
        *n_classes = e->n_classes;
    return e->probs;
}

const float *cv_explainer_logits(const cv_explainer *e, int *n_classes)
{
    if (n_classes)
        *n_classes = e->n_classes;
    return e->logits;
}

int cv_explainer_top_class(const cv_explainer *e)
{
    int best = 0;
    for (int k = 1; k < e->n_classes; k++)
        if (e->logits[k] > e->logits[best])
            best = k;
    return best;
}

int cv_explainer_before_softmax(const cv_explainer *e) { return e->before_softmax; }
int cv_explainer_logit_layer(const cv_explainer *e) { return e->logit_layer; }

int cv_explainer_default_layer(const cv_explainer *e, cv_error *err)
{
    for (int k = e->logit_layer - 1; k >= 0; k--) {
        cv_shape s = cv_run_layer_shape(e->grad1, k);
        const cv_tensor *t = cv_run_layer_output(e->grad1, k);
        if (s.ndim == 4 && s.d[2] * s.d[3] > 1 && t && t->grad)
            return k;
    }
    cv_fail(err, CV_ERR_INVALID, "%s: no layer before the class scores has a spatial output (4-D, H x W > 1) "
                                 "for CAM methods", cv_model_path(e->m));
    return -1;
}


cv_status cv_explain_run(cv_explainer *e, cv_explain_method method, int target, cv_explain_result *out,
                         cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (method < 0 || method >= CV_EXPLAIN_COUNT)
        return cv_fail(err, CV_ERR_INVALID, "explain: unknown method %d", (int)method);
    if (target < 0 || target >= e->n_classes)
        return cv_fail(err, CV_ERR_INVALID, "explain: class %d is out of range: the model has %d classes (0..%d)",
                       target, e->n_classes, e->n_classes - 1);
    double t0 = cv_seconds();
    out->method = method;
    out->target = target;
    out->score = e->logits[target];
    out->probability = e->probs[target];
    out->layer = -1;
    out->height = e->height;
    out->width = e->width;
    out->batch = 1;
    out->map = malloc((size_t)e->height * e->width * sizeof(float));
    if (!out->map)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    cv_status st = cv_explain_method_is_gradient(method) ? ex_run_gradient(e, method, out, err)
                   : method == CV_EXPLAIN_RISE           ? ex_run_rise(e, out, err)
                                                         : ex_run_cam(e, method, out, err);
    if (st != CV_OK) {
        cv_explain_result_free(out);
        return st;
    }
    out->seconds = cv_seconds() - t0;
    return CV_OK;
}

void cv_explain_result_free(cv_explain_result *r)
{
    if (!r)
        return;
    free(r->attribution);
    free(r->map);
    r->attribution = r->map = NULL;
}
