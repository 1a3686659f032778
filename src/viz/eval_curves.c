/* Deletion and insertion curves (include/cnnviz_eval.h): the pixel ranking,
 * the blurred start, the N + 1 perturbed inputs of each curve run as
 * batches, the target's probability per step and the AUCs. */
#include "cnnviz_eval.h"
#include "../core/graph.h"
#include "../core/limits.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cv_eval_options cv_eval_defaults(void)
{
    cv_eval_options o = {.steps = 100};
    return o;
}

/* ---- ranking, steps, AUC ------------------------------------------------- */

/* Descending by value, NaN last, equal values by pixel index: a total order,
 * so qsort gives the stable ranking whatever its own stability. */
static int rank_order(const void *a, const void *b, void *values)
{
    const float *v = values;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    float x = v[i], y = v[j];
    bool nx = isnan(x), ny = isnan(y);
    if (nx != ny)
        return nx ? 1 : -1;
    if (!nx && x != y)
        return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

cv_status cv_eval_rank_pixels(const float *map, int h, int w, size_t *order, cv_error *err)
{
    if (h < 1 || w < 1)
        return cv_fail(err, CV_ERR_INVALID, "eval: a %d x %d map has no pixels", h, w);
    size_t n = (size_t)h * (size_t)w;
    for (size_t k = 0; k < n; k++)
        order[k] = k;
    qsort_r(order, n, sizeof *order, rank_order, (void *)map);
    return CV_OK;
}

long cv_eval_step_pixels(int i, int steps, long n_pixels)
{
    /* round(i n / N), halves up, in integers: exact for any image size */
    return (long)((2 * (long long)i * n_pixels + steps) / (2 * (long long)steps));
}

double cv_eval_auc(const double *y, int steps)
{
    double sum = 0;
    for (int i = 0; i < steps; i++)
        sum += 0.5 * (y[i] + y[i + 1]);
    return sum / steps;
}

/* ---- the blur ------------------------------------------------------------ */

#define BLUR_TAPS 11
#define BLUR_SIGMA 5.0

/* Reflect-101 of index i into [0, n): -1 -> 1, n -> n - 2; repeated for
 * indices more than one length away (images narrower than the kernel). */
static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

/* One plane (stride apart in memory) blurred along rows then columns. */
static void blur_plane(float *out, const float *in, int h, int w, size_t stride, const double *g, double *tmp)
{
    const int r = BLUR_TAPS / 2;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int t = -r; t <= r; t++)
                s += g[t + r] * in[((size_t)y * w + reflect101(x + t, w)) * stride];
            tmp[(size_t)y * w + x] = s;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int t = -r; t <= r; t++)
                s += g[t + r] * tmp[(size_t)reflect101(y + t, h) * w + x];
            out[((size_t)y * w + x) * stride] = (float)s;
        }
}

cv_status cv_eval_blur(float *out, const float *in, int channels, int h, int w, int nhwc, cv_error *err)
{
    double g[BLUR_TAPS], sum = 0;
    for (int t = 0; t < BLUR_TAPS; t++) {
        double d = t - BLUR_TAPS / 2;
        sum += g[t] = exp(-d * d / (2 * BLUR_SIGMA * BLUR_SIGMA));
    }
    for (int t = 0; t < BLUR_TAPS; t++)
        g[t] /= sum;
    size_t plane = (size_t)h * (size_t)w;
    double *tmp = malloc(plane * sizeof(double));
    if (!tmp)
        return cv_fail(err, CV_ERR_NOMEM, "eval: out of memory for a %d x %d blur", h, w);
    for (int c = 0; c < channels; c++) {
        size_t first = nhwc ? (size_t)c : (size_t)c * plane, stride = nhwc ? (size_t)channels : 1;
        blur_plane(out + first, in + first, h, w, stride, g, tmp);
    }
    free(tmp);
    return CV_OK;
}

/* ---- what deleted pixels become --------------------------------------------- */

static const char *const fill_names[] = {"zero", "blur", "mean"};

const char *cv_eval_fill_name(cv_eval_fill fill)
{
    return fill >= CV_EVAL_FILL_ZERO && fill <= CV_EVAL_FILL_MEAN ? fill_names[fill] : "unknown";
}

cv_status cv_eval_fill_from_name(cv_eval_fill *out, const char *name, cv_error *err)
{
    for (int k = CV_EVAL_FILL_ZERO; k <= CV_EVAL_FILL_MEAN; k++)
        if (name && strcmp(name, fill_names[k]) == 0) {
            *out = (cv_eval_fill)k;
            return CV_OK;
        }
    return cv_fail(err, CV_ERR_INVALID, "deletion fill '%s': expected zero, blur or mean", name ? name : "");
}

/* Each channel of one input item replaced by its mean over the item. */
static void channel_means(float *out, const float *in, int channels, size_t plane, int nhwc)
{
    for (int c = 0; c < channels; c++) {
        size_t first = nhwc ? (size_t)c : (size_t)c * plane, stride = nhwc ? (size_t)channels : 1;
        double sum = 0;
        for (size_t q = 0; q < plane; q++)
            sum += in[first + q * stride];
        float mean = (float)(sum / (double)plane);
        for (size_t q = 0; q < plane; q++)
            out[first + q * stride] = mean;
    }
}

/* ---- the perturbed inputs ---------------------------------------------------- */

typedef struct {
    const float *input, *blurred; /* [numel] */
    const float *removed;         /* [numel] what deleted pixels become; NULL: 0 */
    const size_t *order;          /* ranked pixels */
    int channels, nhwc;
    size_t plane, numel;
    int steps;
} perturb;

/* Input item s: deletion step s for s <= N, insertion step s - N - 1 after
 * (when both are asked for; first_insertion says where they start). */
static void fill_item(const perturb *p, long s, long first_insertion, float *x)
{
    bool insertion = s >= first_insertion;
    int i = (int)(insertion ? s - first_insertion : s);
    long n = cv_eval_step_pixels(i, p->steps, (long)p->plane);
    memcpy(x, insertion ? p->blurred : p->input, p->numel * sizeof(float));
    for (long r = 0; r < n; r++) {
        size_t q = p->order[r];
        for (int c = 0; c < p->channels; c++) {
            size_t k = p->nhwc ? q * p->channels + c : (size_t)c * p->plane + q;
            x[k] = insertion ? p->input[k] : p->removed ? p->removed[k] : 0.0f;
        }
    }
}

/* ---- batched forward passes -------------------------------------------------- */

/* Plan bytes per batch item, from the batch-1 plan: the input and the three
 * largest activations (a forward run frees what it no longer needs). */
static size_t item_bytes(const cv_run *r1, const cv_model *m, size_t numel)
{
    double largest = (double)numel;
    for (int k = 0; k < cv_model_num_layers(m); k++) {
        cv_shape s = cv_run_layer_shape(r1, k);
        if (s.ndim)
            largest = fmax(largest, (double)cv_shape_numel(&s));
    }
    return (size_t)((3 * largest + (double)numel) * sizeof(float));
}

static cv_status make_run(const cv_model *m, const cv_shape *in_shape, int b, cv_run **r, cv_error *err)
{
    cv_shape s = *in_shape;
    s.d[0] = b;
    cv_run_options ro = cv_run_defaults();
    return cv_run_create(r, m, &s, &ro, err);
}

/* Items per pass: opt.batch, else what the budget allows by the batch-1
 * plan r1, at most CV_MAX_AUTO_BATCH, spread evenly over the passes so that
 * the last is no straggler; halved while a plan is over the model's memory
 * limit. */
static cv_status batched_run(const cv_model *m, const cv_shape *in_shape, const cv_run *r1, const cv_eval_options *o,
                             long n, size_t numel, int *b, cv_run **full, cv_error *err)
{
    size_t per = item_bytes(r1, m, numel), budget = cv_auto_batch_bytes(o->max_memory);
    long want = o->batch > 0 ? o->batch : per ? (long)(budget / per) : CV_MAX_AUTO_BATCH;
    if (o->batch <= 0 && want > CV_MAX_AUTO_BATCH)
        want = CV_MAX_AUTO_BATCH;
    want = want < 1 ? 1 : want < n ? want : n;
    long passes = (n + want - 1) / want;
    *b = (int)((n + passes - 1) / passes);
    for (;;) {
        cv_status st = make_run(m, in_shape, *b, full, err);
        if (st != CV_ERR_LIMIT || *b == 1)
            return st;
        *b /= 2;
    }
}

/* The class count from the batch-1 plan r1, and the target checked; target
 * -1 becomes the input's top-1 class (one forward pass of r1). */
static cv_status resolve_target(const cv_model *m, cv_run *r1, const float *input, int *target, int *n_classes,
                                cv_error *err)
{
    const cv_tensor *y = cv_run_output(r1, 0);
    size_t nc = y && y->dtype == CV_F32 ? cv_shape_numel(&y->shape) : 0;
    if (nc < 1 || nc > CV_MAX_CLASSES)
        return cv_fail(err, CV_ERR_INVALID, "%s: the model's output is not a vector of class scores",
                       cv_model_path(m));
    *n_classes = (int)nc;
    if (*target >= (int)nc)
        return cv_fail(err, CV_ERR_INVALID, "eval: class %d is out of range: the model has %zu classes (0..%zu)",
                       *target, nc, nc - 1);
    if (*target >= 0)
        return CV_OK;
    cv_status st = cv_run_forward(r1, input, err);
    if (st != CV_OK)
        return st;
    float *probs = malloc(nc * sizeof(float));
    if (!probs)
        return cv_fail(err, CV_ERR_NOMEM, "eval: out of memory");
    cv_scores_to_probabilities(probs, cv_run_output(r1, 0)->f, nc);
    cv_topk(target, 1, probs, nc);
    free(probs);
    return CV_OK;
}

/* The target's probability of each of n items into prob[0..n). */
static cv_status run_items(const cv_model *m, const cv_shape *in_shape, const cv_run *r1, const perturb *p, long n,
                           long first_insertion, const cv_eval_options *o, int target, int nc, double *prob,
                           int *batch, cv_error *err)
{
    int b;
    cv_run *full = NULL, *tail = NULL;
    cv_status st = batched_run(m, in_shape, r1, o, n, p->numel, &b, &full, err);
    float *x = st == CV_OK ? malloc((size_t)b * p->numel * sizeof(float)) : NULL;
    float *probs = st == CV_OK ? malloc((size_t)nc * sizeof(float)) : NULL;
    if (st == CV_OK && (!x || !probs))
        st = cv_fail(err, CV_ERR_NOMEM, "eval: out of memory for a batch of %d inputs", b);
    for (long first = 0; st == CV_OK && first < n; first += b) {
        int count = n - first < b ? (int)(n - first) : b;
        cv_run *r = full;
        if (count < b) { /* the last, partial batch gets its own plan */
            if ((st = make_run(m, in_shape, count, &tail, err)) != CV_OK)
                break;
            r = tail;
        }
        for (int i = 0; i < count; i++)
            fill_item(p, first + i, first_insertion, x + (size_t)i * p->numel);
        if ((st = cv_run_forward(r, x, err)) != CV_OK)
            break;
        const float *y = cv_run_output(r, 0)->f;
        for (int i = 0; i < count; i++) {
            cv_scores_to_probabilities(probs, y + (size_t)i * nc, (size_t)nc);
            prob[first + i] = probs[target];
        }
        if (o->progress)
            o->progress(o->user, first + count, n);
    }
    *batch = b;
    free(probs);
    free(x);
    cv_run_free(full);
    cv_run_free(tail);
    return st;
}

/* ---- the curves ------------------------------------------------------------------ */

static cv_status check_args(const cv_model *m, const cv_shape *s, const float *map, int metrics,
                            const cv_eval_options *o, cv_error *err)
{
    char b[160];
    if (s->ndim != 4 || s->d[0] != 1 || cv_shape_numel(s) == 0)
        return cv_fail(err, CV_ERR_SHAPE, "eval: input %s: expected one image, [1, C, H, W] or [1, H, W, C]",
                       cv_shape_str(s, b, sizeof b));
    if (!map || !(metrics & CV_EVAL_BOTH) || (metrics & ~CV_EVAL_BOTH))
        return cv_fail(err, CV_ERR_INVALID, "eval: metrics %d: expected deletion (1), insertion (2) or both (3), "
                                            "and a map", metrics);
    if (o->deletion_fill < CV_EVAL_FILL_ZERO || o->deletion_fill > CV_EVAL_FILL_MEAN)
        return cv_fail(err, CV_ERR_INVALID, "eval: deletion fill %d: expected zero (0), blur (1) or mean (2)",
                       o->deletion_fill);
    if (o->steps < 1 || o->steps > 1000000 || o->batch < 0)
        return cv_fail(err, CV_ERR_INVALID, "eval: steps %d must be in 1..1000000 and batch %d >= 0", o->steps,
                       o->batch);
    return CV_OK;
}


static cv_status alloc_curves(cv_eval_curves *c, int steps, int metrics, cv_error *err)
{
    size_t n = (size_t)steps + 1;
    c->steps = steps;
    c->fraction = malloc(n * sizeof(double));
    c->pixels = malloc(n * sizeof(long));
    c->deletion = metrics & CV_EVAL_DELETION ? malloc(n * sizeof(double)) : NULL;
    c->insertion = metrics & CV_EVAL_INSERTION ? malloc(n * sizeof(double)) : NULL;
    c->deletion_auc = c->insertion_auc = NAN;
    if (!c->fraction || !c->pixels || (metrics & CV_EVAL_DELETION && !c->deletion) ||
        (metrics & CV_EVAL_INSERTION && !c->insertion))
        return cv_fail(err, CV_ERR_NOMEM, "eval: out of memory for %d steps", steps);
    return CV_OK;
}

cv_status cv_eval_curves_run(const cv_model *m, const cv_shape *in_shape, const float *input, const float *map,
                             int target, int metrics, const cv_eval_options *opt, cv_eval_curves *out,
                             cv_error *err)
{
    memset(out, 0, sizeof *out);
    cv_eval_options o = opt ? *opt : cv_eval_defaults();
    cv_status st = check_args(m, in_shape, map, metrics, &o, err);
    if (st != CV_OK)
        return st;
    double t0 = cv_seconds();
    int nhwc = cv_model_input_nhwc(m);
    perturb p = {.input = input, .channels = (int)in_shape->d[nhwc ? 3 : 1], .nhwc = nhwc,
                 .numel = cv_shape_numel(in_shape), .steps = o.steps};
    int h = (int)in_shape->d[nhwc ? 1 : 2], w = (int)in_shape->d[nhwc ? 2 : 3];
    p.plane = (size_t)h * (size_t)w;
    long per_curve = (long)o.steps + 1, n = per_curve * ((metrics & CV_EVAL_DELETION ? 1 : 0) +
                                                         (metrics & CV_EVAL_INSERTION ? 1 : 0));
    long first_insertion = metrics & CV_EVAL_DELETION ? per_curve : 0;
    bool deletes = metrics & CV_EVAL_DELETION, blur = metrics & CV_EVAL_INSERTION ||
                                                     (deletes && o.deletion_fill == CV_EVAL_FILL_BLUR);
    bool mean = deletes && o.deletion_fill == CV_EVAL_FILL_MEAN;
    size_t *order = malloc(p.plane * sizeof(size_t));
    float *blurred = blur ? malloc(p.numel * sizeof(float)) : NULL;
    float *means = mean ? malloc(p.numel * sizeof(float)) : NULL;
    double *prob = malloc((size_t)n * sizeof(double));
    cv_run *r1 = NULL;
    if (!order || !prob || (blur && !blurred) || (mean && !means)) {
        st = cv_fail(err, CV_ERR_NOMEM, "eval: out of memory for a %d x %d map", h, w);
        goto out;
    }
    if ((st = alloc_curves(out, o.steps, metrics, err)) != CV_OK ||
        (st = cv_eval_rank_pixels(map, h, w, order, err)) != CV_OK ||
        (blurred && (st = cv_eval_blur(blurred, input, p.channels, h, w, nhwc, err)) != CV_OK))
        goto out;
    if (means)
        channel_means(means, input, p.channels, p.plane, nhwc);
    p.order = order;
    p.blurred = blurred;
    p.removed = o.deletion_fill == CV_EVAL_FILL_BLUR ? blurred : means;
    out->target = target;
    if ((st = make_run(m, in_shape, 1, &r1, err)) != CV_OK ||
        (st = resolve_target(m, r1, input, &out->target, &out->n_classes, err)) != CV_OK ||
        (st = run_items(m, in_shape, r1, &p, n, first_insertion, &o, out->target, out->n_classes, prob,
                        &out->batch, err)) != CV_OK)
        goto out;
    for (int i = 0; i <= o.steps; i++) {
        out->fraction[i] = (double)i / o.steps;
        out->pixels[i] = cv_eval_step_pixels(i, o.steps, (long)p.plane);
        if (out->deletion)
            out->deletion[i] = prob[i];
        if (out->insertion)
            out->insertion[i] = prob[first_insertion + i];
    }
    if (out->deletion)
        out->deletion_auc = cv_eval_auc(out->deletion, o.steps);
    if (out->insertion)
        out->insertion_auc = cv_eval_auc(out->insertion, o.steps);
    out->deletion_fill = o.deletion_fill;
    out->forwards = n;
    out->seconds = cv_seconds() - t0;
out:
    cv_run_free(r1);
    free(order);
    free(blurred);
    free(means);
    free(prob);
    if (st != CV_OK)
        cv_eval_curves_free(out);
    return st;
}

void cv_eval_curves_free(cv_eval_curves *c)
{
    if (!c)
        return;
    free(c->fraction);
    free(c->pixels);
    free(c->deletion);
    free(c->insertion);
    c->fraction = c->deletion = c->insertion = NULL;
    c->pixels = NULL;
}
