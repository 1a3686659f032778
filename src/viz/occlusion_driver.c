/* Occlusion sensitivity, the driver: checks the parameters, picks the
 * engine and its memory budget once, classifies the unoccluded image, and
 * walks the grid in batches, turning the engine's raw outputs into the
 * target's probability (docs/occlusion.md follows one position through).
 *
 * What the engines do is in occlusion_full.c and occlusion_incr.c,
 * approximate mode's drill-down in occlusion_drill.c; the interfaces
 * between them are in occlusion_engine.h.
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

cv_occlusion_rect cv_occlusion_window(const cv_occlusion_geometry *g, int occ_size, int stride, int i, int j)
{
    cv_occlusion_rect r;
    r.y0 = i * stride;
    r.x0 = j * stride;
    r.y1 = r.y0 + occ_size < g->height ? r.y0 + occ_size : g->height;
    r.x1 = r.x0 + occ_size < g->width ? r.x0 + occ_size : g->width;
    return r;
}

occ_window occ_window_at(const cv_occlusion_geometry *g, int occ_size, int stride, int cols, long index)
{
    cv_occlusion_rect r = cv_occlusion_window(g, occ_size, stride, (int)(index / cols), (int)(index % cols));
    occ_window w = {r.y0, r.y1, r.x0, r.x1, index};
    return w;
}

/* ---- probabilities ----------------------------------------------------------- */

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

/* ---- choosing the engine ----------------------------------------------------- */

/* Below this many times fewer multiply-adds, incremental inference is not
 * worth its bookkeeping (many small windows instead of a few large GEMMs). */
#define OCC_INCR_MIN_SPEEDUP 1.5

static double engine_speedup(const occ_engine *e)
{
    return e->ops->speedup ? e->ops->speedup(e) : 1.0;
}

static void engine_free(occ_engine *e)
{
    if (e)
        e->ops->free(e);
}

/* FULL or INCREMENTAL as asked; AUTO: incremental when it works for the
 * model and saves enough work, else full. */
static cv_status pick_engine(occ_engine **out, const occ_engine_config *c, cv_error *err)
{
    cv_occlusion_engine kind = c->p->engine;
    if (kind == CV_OCCLUSION_ENGINE_AUTO) {
        if (!c->g.nhwc) {
            cv_error ierr;
            cv_status st = occ_incr_engine_create(out, c, &ierr);
            if (st == CV_OK && engine_speedup(*out) >= OCC_INCR_MIN_SPEEDUP)
                return CV_OK;
            engine_free(*out);
            *out = NULL;
        }
        kind = CV_OCCLUSION_ENGINE_FULL;
    }
    return kind == CV_OCCLUSION_ENGINE_INCREMENTAL ? occ_incr_engine_create(out, c, err)
                                                   : occ_full_engine_create(out, c, err);
}

/* ---- create / free ------------------------------------------------------------ */

static cv_status check_params(const cv_occlusion_params *p, cv_error *err)
{
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
    return CV_OK;
}

void cv_occlusion_free(cv_occlusion *o)
{
    if (!o)
        return;
    engine_free(o->engine);
    free(o->base_probs);
    free(o->scores);
    free(o->windows);
    free(o);
}

/* The unoccluded image through the engine: base_probs, and the score mode
 * kept for every position. */
static cv_status classify_base(cv_occlusion *o, cv_error *err)
{
    occ_window none = {0, 0, 0, 0, -1};
    const int n = o->engine->n_classes;
    cv_status st = o->engine->ops->eval(o->engine, &none, 1, o->scores, err);
    if (st != CV_OK)
        return st;
    o->softmax = o->p.score == CV_OCCLUSION_SCORE_SOFTMAX ||
                 (o->p.score == CV_OCCLUSION_SCORE_AUTO && !is_distribution(o->scores, n));
    int best;
    double best_p;
    to_probs(o->scores, n, o->softmax, -1, &best, &best_p, o->base_probs);
    return CV_OK;
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
    if ((st = check_params(p, err)) != CV_OK)
        return st;
    cv_occlusion *o = calloc(1, sizeof *o);
    if (!o)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    o->m = m;
    o->g = *g;
    o->p = *p;
    o->rows = rows;
    o->cols = cols;
    occ_engine_config c = {m, image, *g, &o->p, rows, cols, cv_auto_batch_bytes(p->max_memory)};
    if ((st = pick_engine(&o->engine, &c, err)) != CV_OK)
        goto fail;
    int n = o->engine->n_classes, batch = o->engine->batch;
    o->base_probs = malloc((size_t)n * sizeof(float));
    o->scores = malloc((size_t)batch * (size_t)n * sizeof(float));
    o->windows = malloc((size_t)batch * sizeof(occ_window));
    if (!o->base_probs || !o->scores || !o->windows) {
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %d x %d scores", batch, n);
        goto fail;
    }
    if ((st = classify_base(o, err)) != CV_OK)
        goto fail;
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
    double s = engine_speedup(o->engine);
    return s > 0 ? s : 1.0;
}

cv_occlusion_stats cv_occlusion_last_stats(const cv_occlusion *o) { return o->stats; }

/* ---- walking the grid ----------------------------------------------------------- */

/* One cv_occlusion_run: where results go, and positions done so far. */
typedef struct {
    cv_occlusion *o;
    int target;
    double *map, *top_prob;
    int *top_class;
    long done;
} occ_pass;

/* Evaluate grid positions pos[0 .. n) (all of them when pos is NULL) in
 * batches; write map, top_class and top_prob there; progress against
 * total. */
static cv_status eval_positions(void *ctx, const long *pos, long n, long total, cv_error *err)
{
    occ_pass *r = ctx;
    cv_occlusion *o = r->o;
    const int nc = o->engine->n_classes, batch = o->engine->batch;
    for (long start = 0; start < n; start += batch) {
        int count = n - start < batch ? (int)(n - start) : batch;
        for (int k = 0; k < count; k++)
            o->windows[k] = occ_window_at(&o->g, o->p.occ_size, o->p.stride, o->cols, pos ? pos[start + k] : start + k);
        cv_status st = o->engine->ops->eval(o->engine, o->windows, count, o->scores, err);
        if (st != CV_OK)
            return st;
        for (int k = 0; k < count; k++) {
            long at = o->windows[k].index;
            int best;
            double best_p;
            r->map[at] = to_probs(o->scores + (size_t)k * nc, nc, o->softmax, r->target, &best, &best_p, NULL);
            if (r->top_class)
                r->top_class[at] = best;
            if (r->top_prob)
                r->top_prob[at] = best_p;
        }
        r->done += count;
        if (o->p.progress)
            o->p.progress(o->p.user, r->done, total);
        if (o->p.cancel && *o->p.cancel)
            return cv_fail(err, CV_ERR_CANCELLED, "occlusion: cancelled after %ld of %ld positions", r->done, total);
    }
    return CV_OK;
}

static cv_status prepare_positions(void *ctx, const long *pos, long n, cv_error *err)
{
    cv_occlusion *o = ((occ_pass *)ctx)->o;
    if (!o->engine->ops->prepare || n < 1)
        return CV_OK;
    occ_window *w = malloc(sizeof(occ_window) * (size_t)n);
    if (!w)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %ld windows", n);
    for (long k = 0; k < n; k++)
        w[k] = occ_window_at(&o->g, o->p.occ_size, o->p.stride, o->cols, pos[k]);
    cv_status st = o->engine->ops->prepare(o->engine, w, n, err);
    free(w);
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
    const bool drill = a->enabled && a->coarse_factor > 1 && a->drill_fraction < 1.0;
    memset(&o->stats, 0, sizeof o->stats);
    o->stats.positions = total;
    o->stats.tau = o->engine->field_cap;
    o->stats.approximate = o->stats.tau < 1.0 || drill;
    occ_pass pass = {o, target, map, top_prob, top_class, 0};
    if (!drill) {
        o->stats.evaluated = total;
        return eval_positions(&pass, NULL, total, total, err);
    }
    occ_evaluator ev = {&pass, prepare_positions, eval_positions};
    occ_drill_stats ds;
    cv_status st = occ_drill_run(&ev, o->rows, o->cols, a, o->base_probs[target], map, top_class, top_prob, &ds, err);
    if (st != CV_OK)
        return st;
    o->stats.evaluated = ds.evaluated;
    o->stats.coarse = ds.coarse;
    o->stats.drilled = ds.drilled;
    o->stats.approximate = o->stats.tau < 1.0 || o->stats.evaluated < total;
    return CV_OK;
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
