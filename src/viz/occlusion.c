/* Occlusion sensitivity: the map of the target class's probability as a
 * window slides over the image, its fills (constant, mean, blur) and the
 * original tool's regularised map.
 *
 * The driver (cv_occlusion_run) walks the positions in batches and asks an
 * engine to "evaluate these windows": return the model's outputs for the
 * image with each window occluded. The one engine today reruns the whole
 * network on batched copies. An incremental engine (issue #5: recompute
 * only the region each window can reach) is another occ_engine_ops behind
 * the same driver (src/viz/occlusion_engine.h), chosen by
 * cv_occlusion_params.engine.
 */
#include "occlusion_engine.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cv_occlusion {
    const cv_model *m;
    cv_occlusion_geometry g;
    cv_occlusion_params p;
    int rows, cols;
    occ_engine *engine;
    float *base_probs;   /* [n_classes] */
    int softmax;         /* probabilities = softmax(outputs) */
    float *scores;       /* [batch x n_classes] */
    occ_window *windows; /* [batch] */
    cv_occlusion_stats stats;
};

cv_occlusion_params cv_occlusion_defaults(void)
{
    cv_occlusion_params p;
    memset(&p, 0, sizeof p);
    p.occ_size = 40;
    p.stride = 5;
    p.target = -1;
    /* Chosen by measurement (README, "Approximate mode"; bench/bench_approx.c):
     * the fastest setting whose map keeps a mean SSIM of at least 0.9
     * against the exact one over five photos with SqueezeNet at 224 / occ
     * 40 / stride 5 (0.85 .. 0.95 each; 3.0x fewer multiply-adds, 2.5x
     * less CPU time than the exact incremental map). */
    p.approx.tau = 0.8;
    p.approx.coarse_factor = 2;
    p.approx.drill_fraction = 0.1;
    return p;
}

cv_status cv_occlusion_grid_size(const cv_occlusion_geometry *g, int occ_size, int stride, int *rows,
                                 int *cols, cv_error *err)
{
    if (g->channels < 1 || g->channels > CV_OCCLUSION_MAX_CHANNELS || g->height < 1 || g->width < 1)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: image geometry %d x %d x %d is not an image with 1 to %d channels",
                       g->channels, g->height, g->width, CV_OCCLUSION_MAX_CHANNELS);
    if (stride < 1)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: stride must be at least 1, got %d", stride);
    if (occ_size < 1 || occ_size > g->height || occ_size > g->width)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: occluder size %d does not fit the %d x %d input (1..%d)",
                       occ_size, g->height, g->width, g->height < g->width ? g->height : g->width);
    /* ceil((size - occ) / stride + 1), as the original's N. */
    *rows = (g->height - occ_size + stride - 1) / stride + 1;
    *cols = (g->width - occ_size + stride - 1) / stride + 1;
    return CV_OK;
}

/* Window (i, j) of the grid, clipped at the border. */
static occ_window window_at(const cv_occlusion *o, long pos)
{
    int i = (int)(pos / o->cols), j = (int)(pos % o->cols);
    occ_window w;
    w.index = pos;
    w.y0 = i * o->p.stride;
    w.x0 = j * o->p.stride;
    w.y1 = w.y0 + o->p.occ_size < o->g.height ? w.y0 + o->p.occ_size : o->g.height;
    w.x1 = w.x0 + o->p.occ_size < o->g.width ? w.x0 + o->p.occ_size : o->g.width;
    return w;
}

void occ_apply_window(float *x, const occ_window *w, const cv_occlusion_geometry *g, const float *fill,
                      const float *fill_value)
{
    const int C = g->channels, H = g->height, W = g->width;
    for (int c = 0; c < C; c++)
        for (int y = w->y0; y < w->y1; y++)
            for (int xx = w->x0; xx < w->x1; xx++) {
                size_t k = g->nhwc ? ((size_t)y * W + xx) * C + c : ((size_t)c * H + y) * W + xx;
                x[k] = fill ? fill[k] : fill_value[c];
            }
}

/* ---- the full-inference engine --------------------------------------------- */

typedef struct {
    occ_engine base;
    const cv_model *m;
    const float *image, *fill;
    float fill_value[CV_OCCLUSION_MAX_CHANNELS];
    cv_occlusion_geometry g;
    size_t item;        /* floats per image */
    cv_run *run_full;   /* planned for base.batch images */
    cv_run *run_part;   /* planned for part_n < batch images (the last batch, the base image) */
    int part_n;
    float *input;       /* [batch x item] */
} full_engine;

static cv_shape batch_shape(const cv_occlusion_geometry *g, int n)
{
    cv_shape s = {4, {n, g->channels, g->height, g->width}};
    if (g->nhwc) {
        s.d[1] = g->height;
        s.d[2] = g->width;
        s.d[3] = g->channels;
    }
    return s;
}

/* Plan a run for n images and check that output 0 holds n_classes floats
 * per image (*n_classes = 0: learn it). */
static cv_status plan_run(cv_run **out, const cv_model *m, const cv_occlusion_geometry *g, int n,
                          int *n_classes, cv_error *err)
{
    cv_shape s = batch_shape(g, n);
    cv_run_options opt = cv_run_defaults();
    cv_status st = cv_run_create(out, m, &s, &opt, err);
    if (st != CV_OK)
        return st;
    const cv_tensor *y = cv_run_output(*out, 0);
    size_t numel = y ? cv_shape_numel(&y->shape) : 0;
    char buf[160];
    if (!y || y->dtype != CV_F32 || numel == 0 || numel % (size_t)n != 0 || y->shape.ndim < 1 ||
        y->shape.d[0] != n || (*n_classes && numel / (size_t)n != (size_t)*n_classes)) {
        cv_run_free(*out);
        *out = NULL;
        return cv_fail(err, CV_ERR_SHAPE, "%s: output 0 %s does not hold class scores for a batch of %d",
                       cv_model_path(m), y ? cv_shape_str(&y->shape, buf, sizeof buf) : "(none)", n);
    }
    if (numel / (size_t)n > CV_MAX_CLASSES) {
        cv_run_free(*out);
        *out = NULL;
        return cv_fail(err, CV_ERR_LIMIT, "%s: output 0 has %zu values per image; a classifier was expected",
                       cv_model_path(m), numel / (size_t)n);
    }
    *n_classes = (int)(numel / (size_t)n);
    return CV_OK;
}

static cv_status full_eval(occ_engine *base, const occ_window *w, int n, float *scores, cv_error *err)
{
    full_engine *e = (full_engine *)base;
    cv_status st;
    cv_run *r = e->run_full;
    if (n != e->base.batch) {
        if (n != e->part_n) {
            /* Plan once per distinct count: the base image, then the last batch. */
            cv_run_free(e->run_part);
            e->run_part = NULL;
            e->part_n = 0;
            if ((st = plan_run(&e->run_part, e->m, &e->g, n, &e->base.n_classes, err)) != CV_OK)
                return st;
            e->part_n = n;
        }
        r = e->run_part;
    }
    for (int k = 0; k < n; k++) { /* x: [n x item] */
        float *x = e->input + (size_t)k * e->item;
        memcpy(x, e->image, e->item * sizeof(float));
        occ_apply_window(x, &w[k], &e->g, e->fill, e->fill_value);
    }
    if ((st = cv_run_forward(r, e->input, err)) != CV_OK)
        return st;
    memcpy(scores, cv_run_output(r, 0)->f, (size_t)n * (size_t)e->base.n_classes * sizeof(float));
    return CV_OK;
}

static void full_free(occ_engine *base)
{
    full_engine *e = (full_engine *)base;
    cv_run_free(e->run_full);
    cv_run_free(e->run_part);
    free(e->input);
    free(e);
}

static const occ_engine_ops full_ops = {"full", full_eval, NULL, full_free};

/* Bytes one image needs through the network: the sum of every planned
 * layer output (an upper bound: the executor frees tensors after their last
 * reader). */
static size_t bytes_per_image(const cv_run *r, const cv_model *m, size_t item)
{
    double total = (double)item * sizeof(float) * 2; /* our copy and the run's input */
    for (int k = 0; k < cv_model_num_layers(m); k++) {
        cv_shape s = cv_run_layer_shape(r, k);
        if (s.ndim > 0)
            total += (double)cv_shape_numel(&s) * sizeof(float);
    }
    return total > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)total;
}

cv_status occ_full_engine_create(occ_engine **out, const cv_model *m, const float *image,
                             const cv_occlusion_geometry *g, const cv_occlusion_params *p, long positions,
                             cv_error *err)
{
    *out = NULL;
    full_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    e->base.ops = &full_ops;
    e->m = m;
    e->image = image;
    e->fill = p->fill;
    memcpy(e->fill_value, p->fill_value, sizeof e->fill_value);
    e->g = *g;
    e->item = (size_t)g->channels * (size_t)g->height * (size_t)g->width;
    cv_status st;
    /* Batch 1 first: it classifies the base image and measures an image. */
    if ((st = plan_run(&e->run_part, m, g, 1, &e->base.n_classes, err)) != CV_OK)
        goto fail;
    e->part_n = 1;
    long batch = p->batch;
    if (batch <= 0) {
        size_t per = bytes_per_image(e->run_part, m, e->item);
        size_t budget = cv_auto_batch_bytes(p->max_memory);
        batch = per ? (long)(budget / per) : CV_MAX_AUTO_BATCH;
        if (batch > CV_MAX_AUTO_BATCH)
            batch = CV_MAX_AUTO_BATCH;
    }
    if (batch > positions)
        batch = positions;
    if (batch < 1)
        batch = 1;
    if (batch > 1) {
        cv_error batch_err;
        if (plan_run(&e->run_full, m, g, (int)batch, &e->base.n_classes, &batch_err) != CV_OK) {
            /* The graph fixes its batch size (e.g. a Reshape to [1, -1]):
             * go one image at a time; cv_occlusion_batch tells the caller. */
            if (batch_err.status == CV_ERR_NOMEM) {
                st = cv_fail(err, CV_ERR_NOMEM, "%s", batch_err.msg);
                goto fail;
            }
            batch = 1;
        }
    }
    if (batch == 1) {
        e->run_full = e->run_part;
        e->run_part = NULL;
        e->part_n = 0;
    }
    e->base.batch = (int)batch;
    size_t floats;
    if (!cv_mul_size(e->item, (size_t)batch, &floats) || !(e->input = malloc(floats * sizeof(float)))) {
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for a batch of %ld images", batch);
        goto fail;
    }
    *out = &e->base;
    return CV_OK;
fail:
    full_free(&e->base);
    return st;
}

/* ---- the driver ------------------------------------------------------------ */

/* Class probabilities from a model output: a softmax in double, or the
 * values as they are. Returns the probability of `target` (when >= 0) and
 * the most likely class with its probability. */
static double to_probs(const float *s, int n, int softmax, int target, int *best, double *best_p, float *probs)
{
    int b = 0;
    for (int k = 1; k < n; k++)
        if (s[k] > s[b])
            b = k;
    *best = b;
    if (!softmax) {
        if (probs)
            memcpy(probs, s, (size_t)n * sizeof(float));
        *best_p = s[b];
        return target >= 0 ? s[target] : 0.0;
    }
    double mx = s[b], sum = 0;
    for (int k = 0; k < n; k++)
        sum += exp((double)s[k] - mx);
    if (probs)
        for (int k = 0; k < n; k++)
            probs[k] = (float)(exp((double)s[k] - mx) / sum);
    *best_p = 1.0 / sum;
    return target >= 0 ? exp((double)s[target] - mx) / sum : 0.0;
}

static bool is_distribution(const float *s, int n)
{
    double sum = 0;
    for (int k = 0; k < n; k++) {
        if (!(s[k] >= 0.0f && s[k] <= 1.0f))
            return false;
        sum += s[k];
    }
    return fabs(sum - 1.0) <= 1e-3;
}

/* Below this many times fewer multiply-adds, incremental inference is not
 * worth its bookkeeping (many small windows instead of a few large GEMMs). */
#define OCC_INCR_MIN_SPEEDUP 1.5

/* FULL or INCREMENTAL as asked; AUTO: incremental when it works for the
 * model and saves enough work, else full. */
static cv_status pick_engine(cv_occlusion *o, const float *image, cv_error *err)
{
    const cv_occlusion_params *p = &o->p;
    cv_status st;
    if (p->engine == CV_OCCLUSION_ENGINE_INCREMENTAL)
        return occ_incr_engine_create(&o->engine, o->m, image, &o->g, p, o->rows, o->cols, err);
    if (p->engine == CV_OCCLUSION_ENGINE_AUTO && !o->g.nhwc) {
        cv_error ierr;
        st = occ_incr_engine_create(&o->engine, o->m, image, &o->g, p, o->rows, o->cols, &ierr);
        if (st == CV_OK && occ_incr_engine_speedup(o->engine) >= OCC_INCR_MIN_SPEEDUP)
            return CV_OK;
        if (o->engine)
            o->engine->ops->free(o->engine);
        o->engine = NULL;
    }
    return occ_full_engine_create(&o->engine, o->m, image, &o->g, p, (long)o->rows * o->cols, err);
}

void cv_occlusion_free(cv_occlusion *o)
{
    if (!o)
        return;
    if (o->engine)
        o->engine->ops->free(o->engine);
    free(o->base_probs);
    free(o->scores);
    free(o->windows);
    free(o);
}

cv_status cv_occlusion_create(cv_occlusion **out, const cv_model *m, const float *image,
                              const cv_occlusion_geometry *g, const cv_occlusion_params *p, cv_error *err)
{
    *out = NULL;
    int rows = 0, cols = 0;
    cv_status st = cv_occlusion_grid_size(g, p->occ_size, p->stride, &rows, &cols, err);
    if (st != CV_OK)
        return st;
    if (!image)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: no image");
    if (p->engine < CV_OCCLUSION_ENGINE_AUTO || p->engine > CV_OCCLUSION_ENGINE_INCREMENTAL)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: unknown engine %d", (int)p->engine);
    if (p->score < CV_OCCLUSION_SCORE_AUTO || p->score > CV_OCCLUSION_SCORE_RAW)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: unknown score mode %d", (int)p->score);
    if (p->approx.enabled) {
        const cv_occlusion_approx *a = &p->approx;
        if (!(a->tau > 0.0 && a->tau <= 1.0))
            return cv_fail(err, CV_ERR_INVALID, "occlusion: approximate mode: tau must be in (0, 1], got %g", a->tau);
        if (a->coarse_factor < 1 || a->coarse_factor > 1 << 20)
            return cv_fail(err, CV_ERR_INVALID, "occlusion: approximate mode: the coarse factor must be 1 or more, "
                                                "got %d", a->coarse_factor);
        if (!(a->drill_fraction > 0.0 && a->drill_fraction <= 1.0))
            return cv_fail(err, CV_ERR_INVALID, "occlusion: approximate mode: the drill-down fraction must be in "
                                                "(0, 1], got %g", a->drill_fraction);
    }
    cv_occlusion *o = calloc(1, sizeof *o);
    if (!o)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    o->m = m;
    o->g = *g;
    o->p = *p;
    o->rows = rows;
    o->cols = cols;
    if ((st = pick_engine(o, image, err)) != CV_OK)
        goto fail;
    int n = o->engine->n_classes, batch = o->engine->batch;
    o->base_probs = malloc((size_t)n * sizeof(float));
    o->scores = malloc((size_t)batch * (size_t)n * sizeof(float));
    o->windows = malloc((size_t)batch * sizeof(occ_window));
    if (!o->base_probs || !o->scores || !o->windows) {
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %d x %d scores", batch, n);
        goto fail;
    }
    occ_window none = {0, 0, 0, 0, -1};
    if ((st = o->engine->ops->eval(o->engine, &none, 1, o->scores, err)) != CV_OK)
        goto fail;
    o->softmax = p->score == CV_OCCLUSION_SCORE_SOFTMAX ||
                 (p->score == CV_OCCLUSION_SCORE_AUTO && !is_distribution(o->scores, n));
    int best;
    double best_p;
    to_probs(o->scores, n, o->softmax, -1, &best, &best_p, o->base_probs);
    *out = o;
    return CV_OK;
fail:
    cv_occlusion_free(o);
    return st;
}

const float *cv_occlusion_base_probs(const cv_occlusion *o, int *n_classes)
{
    if (n_classes)
        *n_classes = o->engine->n_classes;
    return o->base_probs;
}

int cv_occlusion_softmax_applied(const cv_occlusion *o) { return o->softmax; }

void cv_occlusion_grid(const cv_occlusion *o, int *rows, int *cols)
{
    *rows = o->rows;
    *cols = o->cols;
}

int cv_occlusion_batch(const cv_occlusion *o) { return o->engine->batch; }

const char *cv_occlusion_engine_name(const cv_occlusion *o) { return o->engine->ops->name; }

double cv_occlusion_engine_speedup(const cv_occlusion *o)
{
    double s = occ_incr_engine_speedup(o->engine);
    return s > 0 ? s : 1.0;
}

cv_occlusion_stats cv_occlusion_last_stats(const cv_occlusion *o) { return o->stats; }

/* Evaluate grid positions pos[0 .. n) (all of them when pos is NULL) in
 * batches; write map, top_class and top_prob there. *done counts positions
 * evaluated, for progress against total. */
static cv_status eval_positions(cv_occlusion *o, const long *pos, long n, int target, double *map, int *top_class,
                                double *top_prob, long *done, long total, cv_error *err)
{
    const int nc = o->engine->n_classes, batch = o->engine->batch;
    for (long start = 0; start < n; start += batch) {
        int count = n - start < batch ? (int)(n - start) : batch;
        for (int k = 0; k < count; k++)
            o->windows[k] = window_at(o, pos ? pos[start + k] : start + k);
        cv_status st = o->engine->ops->eval(o->engine, o->windows, count, o->scores, err);
        if (st != CV_OK)
            return st;
        for (int k = 0; k < count; k++) {
            long at = o->windows[k].index;
            int best;
            double best_p;
            map[at] = to_probs(o->scores + (size_t)k * nc, nc, o->softmax, target, &best, &best_p, NULL);
            if (top_class)
                top_class[at] = best;
            if (top_prob)
                top_prob[at] = best_p;
        }
        *done += count;
        if (o->p.progress)
            o->p.progress(o->p.user, *done, total);
    }
    return CV_OK;
}

static cv_status prepare(cv_occlusion *o, const long *pos, long n, cv_error *err)
{
    if (!o->engine->ops->prepare || n < 1)
        return CV_OK;
    occ_window *w = malloc(sizeof(occ_window) * (size_t)n);
    if (!w)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %ld windows", n);
    for (long k = 0; k < n; k++)
        w[k] = window_at(o, pos[k]);
    cv_status st = o->engine->ops->prepare(o->engine, w, n, err);
    free(w);
    return st;
}

/* Coarse sample indices along one side of n grid positions: 0, k, 2k, ...
 * and n - 1. Returns how many (at most n / k + 2). */
static int coarse_axis(int *at, int n, int k)
{
    int m = 0;
    for (int i = 0; i < n; i += k)
        at[m++] = i;
    if (at[m - 1] != n - 1)
        at[m++] = n - 1;
    return m;
}

/* For each grid index 0..n-1: the coarse interval a holding it (at[a] <= i
 * <= at[a + 1]) and the weight t of at[a + 1]. */
static void coarse_weights(int *cell, double *t, const int *at, int m, int n)
{
    int a = 0;
    for (int i = 0; i < n; i++) {
        while (a + 2 < m && i > at[a + 1])
            a++;
        cell[i] = a;
        int b = a + 1 < m ? a + 1 : a;
        t[i] = at[b] > at[a] ? (double)(i - at[a]) / (at[b] - at[a]) : 0.0;
    }
}

typedef struct {
    double score;
    int a, b;
} coarse_cell;

static int cmp_cell(const void *pa, const void *pb)
{
    const coarse_cell *x = pa, *y = pb;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1; /* largest drop first */
    return x->a != y->a ? (x->a > y->a) - (x->a < y->a) : (x->b > y->b) - (x->b < y->b);
}

/* Approximate mode's adaptive drill-down (Krypton): evaluate the coarse
 * grid, interpolate, then evaluate every position of the most sensitive
 * coarse cells. Cells rather than single positions: a drilled region is a
 * neighbourhood whose edges are coarse positions, where the interpolation
 * is already exact, so no seam appears at its border. */
static cv_status run_approx(cv_occlusion *o, int target, double *map, int *top_class, double *top_prob,
                            cv_error *err)
{
    const int rows = o->rows, cols = o->cols, k = o->p.approx.coarse_factor;
    const long total = (long)rows * cols;
    cv_status st = CV_ERR_NOMEM;
    int *ra = malloc(sizeof(int) * (size_t)(rows + 2)), *ca = malloc(sizeof(int) * (size_t)(cols + 2));
    int *rcell = malloc(sizeof(int) * (size_t)rows), *ccell = malloc(sizeof(int) * (size_t)cols);
    double *rt = malloc(sizeof(double) * (size_t)rows), *ct = malloc(sizeof(double) * (size_t)cols);
    long *pos = malloc(sizeof(long) * (size_t)total);
    unsigned char *have = calloc((size_t)total, 1), *drill = calloc((size_t)total, 1);
    coarse_cell *cells = NULL;
    if (!ra || !ca || !rcell || !ccell || !rt || !ct || !pos || !have || !drill)
        goto out;
    int mr = coarse_axis(ra, rows, k), mc = coarse_axis(ca, cols, k);
    coarse_weights(rcell, rt, ra, mr, rows);
    coarse_weights(ccell, ct, ca, mc, cols);
    long n_coarse = 0, done = 0;
    for (int a = 0; a < mr; a++)
        for (int b = 0; b < mc; b++) {
            long at = (long)ra[a] * cols + ca[b];
            pos[n_coarse++] = at;
            have[at] = 1;
        }
    const double frac = o->p.approx.drill_fraction;
    long want = (long)ceil(frac * (double)total - 1e-9);
    long estimate = n_coarse + (long)((double)(total - n_coarse) * frac);
    if ((st = prepare(o, pos, n_coarse, err)) != CV_OK ||
        (st = eval_positions(o, pos, n_coarse, target, map, top_class, top_prob, &done, estimate, err)) != CV_OK)
        goto out;

    /* Interpolate the rest; top_class from the nearest coarse position. */
    for (int i = 0; i < rows; i++) {
        int a0 = ra[rcell[i]], a1 = ra[rcell[i] + 1 < mr ? rcell[i] + 1 : rcell[i]];
        for (int j = 0; j < cols; j++) {
            long at = (long)i * cols + j;
            if (have[at])
                continue;
            int b0 = ca[ccell[j]], b1 = ca[ccell[j] + 1 < mc ? ccell[j] + 1 : ccell[j]];
            double ty = rt[i], tx = ct[j];
            long p00 = (long)a0 * cols + b0, p01 = (long)a0 * cols + b1, p10 = (long)a1 * cols + b0,
                 p11 = (long)a1 * cols + b1;
            map[at] = (map[p00] * (1 - tx) + map[p01] * tx) * (1 - ty) + (map[p10] * (1 - tx) + map[p11] * tx) * ty;
            if (top_prob)
                top_prob[at] = (top_prob[p00] * (1 - tx) + top_prob[p01] * tx) * (1 - ty) +
                               (top_prob[p10] * (1 - tx) + top_prob[p11] * tx) * ty;
            if (top_class)
                top_class[at] = top_class[(long)(ty < 0.5 ? a0 : a1) * cols + (tx < 0.5 ? b0 : b1)];
        }
    }

    /* Cells by the largest drop of the target's probability at their
     * corners (Krypton drills into the regions that matter most for the
     * prediction; where occluding raises the probability it is
     * interpolated). */
    int nr = mr > 1 ? mr - 1 : 1, ncl = mc > 1 ? mc - 1 : 1;
    if (!(cells = malloc(sizeof(coarse_cell) * (size_t)nr * ncl))) {
        st = CV_ERR_NOMEM;
        goto out;
    }
    const double base = o->base_probs[target];
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < ncl; b++) {
            int a1 = a + 1 < mr ? a + 1 : a, b1 = b + 1 < mc ? b + 1 : b;
            double v[4] = {map[(long)ra[a] * cols + ca[b]], map[(long)ra[a] * cols + ca[b1]],
                           map[(long)ra[a1] * cols + ca[b]], map[(long)ra[a1] * cols + ca[b1]]};
            double sc = -INFINITY;
            for (int q = 0; q < 4; q++)
                sc = fmax(sc, base - v[q]);
            cells[(size_t)a * ncl + b] = (coarse_cell){sc, a, b};
        }
    qsort(cells, (size_t)nr * ncl, sizeof(coarse_cell), cmp_cell);
    long covered = 0, n_fine = 0;
    for (long c = 0; c < (long)nr * ncl && covered < want; c++) {
        int a = cells[c].a, b = cells[c].b;
        int i1 = ra[a + 1 < mr ? a + 1 : a], j1 = ca[b + 1 < mc ? b + 1 : b];
        for (int i = ra[a]; i <= i1; i++)
            for (int j = ca[b]; j <= j1; j++) {
                long at = (long)i * cols + j;
                if (!drill[at]) {
                    drill[at] = 1;
                    covered++;
                }
            }
    }
    for (long at = 0; at < total; at++) /* row-major: neighbours share batches */
        if (drill[at] && !have[at])
            pos[n_fine++] = at;
    if ((st = prepare(o, pos, n_fine, err)) != CV_OK ||
        (st = eval_positions(o, pos, n_fine, target, map, top_class, top_prob, &done, n_coarse + n_fine, err)) !=
            CV_OK)
        goto out;
    o->stats.evaluated = n_coarse + n_fine;
    o->stats.coarse = n_coarse;
    o->stats.drilled = covered;
    o->stats.approximate = o->stats.tau < 1.0 || o->stats.evaluated < total;
    st = CV_OK;
out:
    if (st == CV_ERR_NOMEM && err->status != CV_ERR_NOMEM)
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for the approximate map (%ld positions)", total);
    free(ra);
    free(ca);
    free(rcell);
    free(ccell);
    free(rt);
    free(ct);
    free(pos);
    free(have);
    free(drill);
    free(cells);
    return st;
}

cv_status cv_occlusion_run(cv_occlusion *o, int target, double *map, int *top_class, double *top_prob,
                           cv_error *err)
{
    const int n = o->engine->n_classes;
    if (target < 0) {
        target = 0;
        for (int k = 1; k < n; k++)
            if (o->base_probs[k] > o->base_probs[target])
                target = k;
    }
    if (target >= n)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: class %d is out of range: %s has %d classes (0..%d)",
                       target, cv_model_path(o->m), n, n - 1);
    const long total = (long)o->rows * o->cols;
    const cv_occlusion_approx *a = &o->p.approx;
    bool incremental = o->engine->ops->prepare != NULL;
    memset(&o->stats, 0, sizeof o->stats);
    o->stats.positions = total;
    o->stats.tau = a->enabled && incremental ? a->tau : 1.0;
    o->stats.approximate = a->enabled && (o->stats.tau < 1.0 || (a->coarse_factor > 1 && a->drill_fraction < 1.0));
    if (a->enabled && a->coarse_factor > 1 && a->drill_fraction < 1.0)
        return run_approx(o, target, map, top_class, top_prob, err);
    long done = 0;
    o->stats.evaluated = total;
    return eval_positions(o, NULL, total, target, map, top_class, top_prob, &done, total, err);
}

cv_status cv_occlusion_map(const cv_model *m, const float *image, const cv_occlusion_geometry *g,
                           const cv_occlusion_params *p, double *map, cv_error *err)
{
    cv_occlusion *o;
    cv_status st = cv_occlusion_create(&o, m, image, g, p, err);
    if (st != CV_OK)
        return st;
    st = cv_occlusion_run(o, p->target, map, NULL, NULL, err);
    cv_occlusion_free(o);
    return st;
}

/* ---- fills ----------------------------------------------------------------- */

void cv_occlusion_fill_mean(float value[CV_OCCLUSION_MAX_CHANNELS], const float *image,
                            const cv_occlusion_geometry *g)
{
    const size_t hw = (size_t)g->height * (size_t)g->width;
    for (int c = 0; c < CV_OCCLUSION_MAX_CHANNELS; c++) {
        if (c >= g->channels) {
            value[c] = 0;
            continue;
        }
        double sum = 0;
        for (size_t k = 0; k < hw; k++)
            sum += image[g->nhwc ? k * (size_t)g->channels + (size_t)c : (size_t)c * hw + k];
        value[c] = (float)(sum / (double)hw);
    }
}

/* Index i reflected into [0, n) without repeating the edge (OpenCV's
 * BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...). */
static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

cv_status cv_occlusion_fill_blur(float *out, const float *image, const cv_occlusion_geometry *g, double sigma,
                                 cv_error *err)
{
    if (!(sigma > 0) || sigma > 1e4)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: blur sigma must be in (0, 1e4], got %g", sigma);
    const int C = g->channels, H = g->height, W = g->width;
    const int radius = (int)ceil(3 * sigma);
    const size_t hw = (size_t)H * (size_t)W;
    double *kern = malloc(sizeof(double) * (size_t)(2 * radius + 1));
    double *tmp = malloc(sizeof(double) * hw); /* [H x W] one channel after the row pass */
    if (!kern || !tmp) {
        free(kern);
        free(tmp);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for the blur");
    }
    double ksum = 0;
    for (int d = -radius; d <= radius; d++)
        ksum += kern[d + radius] = exp(-0.5 * d * d / (sigma * sigma));
    for (int d = 0; d <= 2 * radius; d++)
        kern[d] /= ksum;
    /* Element (c, y, x) of either layout. */
#define AT(c, y, x) (g->nhwc ? ((size_t)(y) * W + (x)) * C + (c) : (size_t)(c) * hw + (size_t)(y) * W + (x))
    for (int c = 0; c < C; c++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = 0;
                for (int d = -radius; d <= radius; d++)
                    s += kern[d + radius] * image[AT(c, y, reflect101(x + d, W))];
                tmp[(size_t)y * W + x] = s;
            }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = 0;
                for (int d = -radius; d <= radius; d++)
                    s += kern[d + radius] * tmp[(size_t)reflect101(y + d, H) * W + x];
                out[AT(c, y, x)] = (float)s;
            }
    }
#undef AT
    free(kern);
    free(tmp);
    return CV_OK;
}

/* ---- per-pixel map ----------------------------------------------------------- */

/* For each pixel coordinate 0..n-1: the window index k below it and the
 * weight t of window k + 1, interpolating between window centres
 * (y0 + y1 - 1) / 2 of the clipped windows. */
static void centre_weights(int *k_out, float *t_out, int n, int count, int occ, int stride)
{
    int k = 0;
    for (int y = 0; y < n; y++) {
        double c0, c1;
        for (;;) {
            int a0 = k * stride, b0 = a0 + occ < n ? a0 + occ : n;
            c0 = (a0 + b0 - 1) / 2.0;
            if (k + 1 >= count) {
                c1 = c0;
                break;
            }
            int a1 = (k + 1) * stride, b1 = a1 + occ < n ? a1 + occ : n;
            c1 = (a1 + b1 - 1) / 2.0;
            if (y < c1)
                break;
            k++;
        }
        double t = c1 > c0 ? (y - c0) / (c1 - c0) : 0.0;
        k_out[y] = k;
        t_out[y] = (float)(t < 0 ? 0 : t > 1 ? 1 : t);
    }
}

static cv_status pixel_map_smooth(float *out, const double *map, int rows, int cols, int H, int W, int occ,
                                  int stride, cv_error *err)
{
    int *ky = malloc(sizeof(int) * (size_t)H), *kx = malloc(sizeof(int) * (size_t)W);
    float *ty = malloc(sizeof(float) * (size_t)H), *tx = malloc(sizeof(float) * (size_t)W);
    if (!ky || !kx || !ty || !tx) {
        free(ky), free(kx), free(ty), free(tx);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for a %d x %d pixel map", H, W);
    }
    centre_weights(ky, ty, H, rows, occ, stride);
    centre_weights(kx, tx, W, cols, occ, stride);
    for (int y = 0; y < H; y++) {
        int i0 = ky[y], i1 = i0 + 1 < rows ? i0 + 1 : i0;
        for (int x = 0; x < W; x++) {
            int j0 = kx[x], j1 = j0 + 1 < cols ? j0 + 1 : j0;
            double a = map[(size_t)i0 * cols + j0] * (1 - tx[x]) + map[(size_t)i0 * cols + j1] * tx[x];
            double b = map[(size_t)i1 * cols + j0] * (1 - tx[x]) + map[(size_t)i1 * cols + j1] * tx[x];
            out[(size_t)y * W + x] = (float)(a * (1 - ty[y]) + b * ty[y]);
        }
    }
    free(ky), free(kx), free(ty), free(tx);
    return CV_OK;
}

cv_status cv_occlusion_pixel_map(float *out, const double *map, const cv_occlusion_geometry *g, int occ_size,
                                 int stride, int smooth, cv_error *err)
{
    int rows, cols;
    cv_status st = cv_occlusion_grid_size(g, occ_size, stride, &rows, &cols, err);
    if (st != CV_OK)
        return st;
    if (smooth)
        return pixel_map_smooth(out, map, rows, cols, g->height, g->width, occ_size, stride, err);
    const int H = g->height, W = g->width;
    /* Rectangle sums through 2-D difference arrays: O(H*W + rows*cols)
     * instead of O(H*W*occ^2/stride^2). */
    size_t n = (size_t)(H + 1) * (size_t)(W + 1);
    double *sum = calloc(n, sizeof(double)), *cnt = calloc(n, sizeof(double));
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for a %d x %d pixel map", H, W);
    }
#define D(a, y, x) a[(size_t)(y) * (W + 1) + (x)]
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            int y0 = i * stride, x0 = j * stride;
            int y1 = y0 + occ_size < H ? y0 + occ_size : H, x1 = x0 + occ_size < W ? x0 + occ_size : W;
            double v = map[(size_t)i * cols + j];
            D(sum, y0, x0) += v, D(sum, y0, x1) -= v, D(sum, y1, x0) -= v, D(sum, y1, x1) += v;
            D(cnt, y0, x0) += 1, D(cnt, y0, x1) -= 1, D(cnt, y1, x0) -= 1, D(cnt, y1, x1) += 1;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (x > 0) {
                D(sum, y, x) += D(sum, y, x - 1);
                D(cnt, y, x) += D(cnt, y, x - 1);
            }
            if (y > 0) {
                D(sum, y, x) += D(sum, y - 1, x) - (x > 0 ? D(sum, y - 1, x - 1) : 0);
                D(cnt, y, x) += D(cnt, y - 1, x) - (x > 0 ? D(cnt, y - 1, x - 1) : 0);
            }
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double c = D(cnt, y, x);
            out[(size_t)y * W + x] = c > 0.5 ? (float)(D(sum, y, x) / c) : NAN;
        }
#undef D
    free(sum);
    free(cnt);
    return CV_OK;
}

/* ---- the regularised map ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cv_status cv_occlusion_regularize(double *out, const double *map, int rows, int cols, int norm,
                                  double percentile, cv_error *err)
{
    if (rows < 1 || cols < 1)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: cannot regularise an empty %d x %d map", rows, cols);
    if (!(percentile >= 0 && percentile <= 100))
        return cv_fail(err, CV_ERR_INVALID, "occlusion: percentile must be in [0, 100], got %g", percentile);
    const size_t n = (size_t)rows * (size_t)cols;
    double *x = malloc(n * sizeof(double)), *sorted = malloc(n * sizeof(double));
    if (!x || !sorted) {
        free(x);
        free(sorted);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    }
    memcpy(x, map, n * sizeof(double));
    if (norm) { /* as the original's deprocess */
        double mean = 0, var = 0;
        for (size_t k = 0; k < n; k++)
            mean += x[k];
        mean /= (double)n;
        for (size_t k = 0; k < n; k++)
            var += (x[k] - mean) * (x[k] - mean);
        double sd = sqrt(var / (double)n);
        for (size_t k = 0; k < n; k++) {
            double v = (x[k] - mean) / (sd + 1e-5) * 0.1 + 0.5;
            x[k] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
    for (size_t k = 0; k < n; k++)
        sorted[k] = fabs(x[k]);
    qsort(sorted, n, sizeof(double), cmp_double);
    /* numpy.percentile's default (linear) interpolation between ranks. */
    double pos = percentile / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : n - 1;
    double thresh = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
    for (size_t k = 0; k < n; k++)
        x[k] = fabs(x[k]) < thresh ? 1.0 : 1.0 - x[k]; /* zeroed, then 1 - x */
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double s = 0;
            for (int di = -1; di <= 1; di++)
                for (int dj = -1; dj <= 1; dj++)
                    s += x[(size_t)reflect101(i + di, rows) * cols + reflect101(j + dj, cols)];
            out[(size_t)i * cols + j] = s / 9.0;
        }
    free(x);
    free(sorted);
    return CV_OK;
}

/* ---- comparing maps ------------------------------------------------------------ */

/* SSIM as scikit-image's structural_similarity with its defaults (the
 * definition is in the header). Direct sums per window: maps have a few
 * thousand positions, so O(rows * cols * 49) is nothing. */
static double ssim(const double *x, const double *y, int rows, int cols)
{
    const double K1 = 0.01, K2 = 0.03;
    double lo = y[0], hi = y[0];
    for (size_t k = 1; k < (size_t)rows * cols; k++) {
        lo = fmin(lo, y[k]);
        hi = fmax(hi, y[k]);
    }
    double L = hi > lo ? hi - lo : 1.0;
    double C1 = (K1 * L) * (K1 * L), C2 = (K2 * L) * (K2 * L);
    int wh = rows < 7 ? rows : 7, ww = cols < 7 ? cols : 7;
    double np = (double)wh * ww;
    double cov_norm = np > 1 ? np / (np - 1) : 1.0; /* sample covariance, as skimage */
    double sum = 0;
    long windows = 0;
    for (int i = 0; i + wh <= rows; i++)
        for (int j = 0; j + ww <= cols; j++) {
            double mx = 0, my = 0;
            for (int a = 0; a < wh; a++)
                for (int b = 0; b < ww; b++) {
                    mx += x[(size_t)(i + a) * cols + j + b];
                    my += y[(size_t)(i + a) * cols + j + b];
                }
            mx /= np;
            my /= np;
            double vx = 0, vy = 0, cxy = 0;
            for (int a = 0; a < wh; a++)
                for (int b = 0; b < ww; b++) {
                    double dx = x[(size_t)(i + a) * cols + j + b] - mx, dy = y[(size_t)(i + a) * cols + j + b] - my;
                    vx += dx * dx;
                    vy += dy * dy;
                    cxy += dx * dy;
                }
            vx = vx / np * cov_norm;
            vy = vy / np * cov_norm;
            cxy = cxy / np * cov_norm;
            sum += (2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
            windows++;
        }
    return sum / (double)windows;
}

cv_status cv_occlusion_compare(const double *map, const double *ref, int rows, int cols,
                               cv_occlusion_map_error *out, cv_error *err)
{
    if (rows < 1 || cols < 1 || (size_t)rows * (size_t)cols > (size_t)1 << 28)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: cannot compare %d x %d maps", rows, cols);
    const size_t n = (size_t)rows * cols;
    double sum = 0, mx = 0;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(map[k]) || !isfinite(ref[k]))
            return cv_fail(err, CV_ERR_INVALID, "occlusion: map value %zu is not finite (%g vs %g)", k, map[k],
                           ref[k]);
        double d = fabs(map[k] - ref[k]);
        sum += d;
        mx = fmax(mx, d);
    }
    out->mae = sum / (double)n;
    out->max_abs = mx;
    out->ssim = ssim(map, ref, rows, cols);
    return CV_OK;
}
