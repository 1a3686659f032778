/* Filter visualisation by gradient ascent (cnnviz_viz.h): the driver that
 * batches the chosen filters, runs forward to the target layer and backward
 * to the input, and applies a method's update (seed.c, lucid.c).
 *
 * Images are kept planar per item, [C][H][W] (RGB for lucid, model channel
 * order for seed), and converted to the model's layout only at the run's
 * edge, so one code path serves NCHW and channels-last models.
 */
#include "cnnviz_viz.h"
#include "../core/graph.h"
#include "../core/limits.h"
#include "lucid.h"
#include "seed.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CV_FILTERS_SEED_ITERS 20
#define CV_FILTERS_LUCID_ITERS 256
#define CV_FILTERS_LUCID_LR 0.05f

cv_filters_options cv_filters_defaults(void)
{
    cv_filters_options o;
    memset(&o, 0, sizeof o);
    o.method = CV_FILTERS_SEED;
    o.layer = -1;
    o.height = o.width = 128;
    /* raw 0..255, as the original feeds its model */
    snprintf(o.pre.name, sizeof o.pre.name, "raw");
    o.pre.scale = 1.0f;
    for (int c = 0; c < 3; c++)
        o.pre.std[c] = 1.0f;
    return o;
}

void cv_filters_result_free(cv_filters_result *res)
{
    if (!res)
        return;
    free(res->filters);
    free(res->images);
    free(res->rgb);
    free(res->activation);
    free(res->dead);
    memset(res, 0, sizeof *res);
}

/* ---- random numbers: splitmix64, one stream per purpose and filter ---------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static double rng_normal(uint64_t *s)
{
    double u = rng_uniform(s), v = rng_uniform(s);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* Independent streams: purpose 1 = filter choice, 2 = seed noise,
 * 3 = lucid spectrum of filter k, 4 = lucid views of filter k. */
static uint64_t rng_stream(uint64_t seed, int purpose, long k)
{
    uint64_t s = seed ^ ((uint64_t)purpose << 56) ^ ((uint64_t)(k + 1) * 0xD1B54A32D192ED03ull);
    rng_next(&s);
    return s;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int cv_filters_choose(int *out, int n, int channels, uint64_t seed)
{
    if (n <= 0 || channels <= 0)
        return 0;
    if (n >= channels) {
        for (int k = 0; k < channels; k++)
            out[k] = k;
        return channels;
    }
    int *perm = malloc(sizeof(int) * (size_t)channels);
    if (!perm) { /* fall back to the first n: still distinct and sorted */
        for (int k = 0; k < n; k++)
            out[k] = k;
        return n;
    }
    for (int k = 0; k < channels; k++)
        perm[k] = k;
    uint64_t s = rng_stream(seed, 1, 0);
    /* Partial Fisher-Yates: the first n are a uniform draw without replacement. */
    for (int k = 0; k < n; k++) {
        int j = k + (int)(rng_uniform(&s) * (channels - k));
        int t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    memcpy(out, perm, sizeof(int) * (size_t)n);
    free(perm);
    qsort(out, (size_t)n, sizeof(int), cmp_int);
    return n;
}

/* ---- geometry and checks ----------------------------------------------------- */

typedef struct {
    int c, h, w, nhwc;          /* model input: channels, size, layout */
    int lc, lh, lw;             /* target layer's output: channels, size */
    size_t img_n;               /* c * h * w */
    size_t bytes_per_item;      /* activations + gradients of one item */
} geom;

static cv_shape input_shape(const geom *g, int batch)
{
    cv_shape s = {4, {batch, g->c, g->h, g->w}};
    if (g->nhwc) {
        s.d[1] = g->h;
        s.d[2] = g->w;
        s.d[3] = g->c;
    }
    return s;
}

/* Plan a batch-1 run to learn the layer's output shape and the memory an
 * item needs, without running anything. */
static cv_status plan_geometry(const cv_model *m, int layer, int height, int width, geom *g, cv_error *err)
{
    if (layer < 0 || layer >= cv_model_num_layers(m))
        return cv_fail(err, CV_ERR_INVALID, "%s: layer index %d out of range (0..%d)", cv_model_path(m), layer,
                       cv_model_num_layers(m) - 1);
    if (height < 2 || width < 2 || height > 4096 || width > 4096)
        return cv_fail(err, CV_ERR_INVALID, "image size %dx%d out of range (2..4096)", width, height);
    cv_shape decl = cv_model_input_shape(m);
    char buf[160];
    if (decl.ndim != 0 && decl.ndim != 4)
        return cv_fail(err, CV_ERR_INVALID, "%s: input '%s' has shape %s; filter pictures need a 4-D image input",
                       cv_model_path(m), cv_model_input_name(m), cv_shape_str(&decl, buf, sizeof buf));
    memset(g, 0, sizeof *g);
    g->nhwc = cv_model_input_nhwc(m);
    int64_t c = decl.ndim ? decl.d[g->nhwc ? 3 : 1] : -1;
    g->c = c > 0 ? (int)c : 3;
    if (g->c != 1 && g->c != 3)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: input '%s' has %d channels; filter pictures need 1 or 3",
                       cv_model_path(m), cv_model_input_name(m), g->c);
    g->h = height;
    g->w = width;
    g->img_n = (size_t)g->c * g->h * g->w;
    cv_run *r = NULL;
    cv_run_options ro = cv_run_defaults();
    ro.stop_layer = layer;
    cv_shape s = input_shape(g, 1);
    cv_status st = cv_run_create(&r, m, &s, &ro, err);
    if (st != CV_OK)
        return st;
    cv_shape ys = cv_run_layer_shape(r, layer);
    size_t floats = 2 * g->img_n;
    for (int k = 0; k <= layer; k++) {
        cv_shape ks = cv_run_layer_shape(r, k);
        if (ks.ndim)
            floats += 2 * cv_shape_numel(&ks);
    }
    cv_run_free(r);
    /* N x C (class scores, a dense layer's units) is N x C x 1 x 1 in memory */
    bool flat = ys.ndim == 2 && ys.d[1] >= 1;
    if (!flat && (ys.ndim != 4 || ys.d[2] < 1 || ys.d[3] < 1))
        return cv_fail(err, CV_ERR_INVALID,
                       "%s: layer '%s' (%s) has output %s, not N x C x H x W or N x C: it has no channels to visualise",
                       cv_model_path(m), cv_model_layer_name(m, layer), cv_model_layer_op(m, layer),
                       cv_shape_str(&ys, buf, sizeof buf));
    g->lc = (int)ys.d[1];
    g->lh = flat ? 1 : (int)ys.d[2];
    g->lw = flat ? 1 : (int)ys.d[3];
    g->bytes_per_item = floats * sizeof(float);
    return CV_OK;
}

cv_status cv_filters_layer_channels(const cv_model *m, int layer, int height, int width, int *channels,
                                    cv_error *err)
{
    geom g;
    cv_status st = plan_geometry(m, layer, height, width, &g, err);
    if (st == CV_OK)
        *channels = g.lc;
    return st;
}

/* ---- the batched objective ------------------------------------------------------ */

typedef struct {
    const cv_model *m;
    const cv_filters_options *o;
    geom g;
    cv_run *run;
    int batch;          /* batch the run is planned for */
    float *in;          /* [batch][img_n] model layout */
    float *seed;        /* [batch][lc][lh][lw] */
    int *dead;          /* [count] 1 until a non-zero gradient shows up */
} engine;

static void engine_free(engine *e)
{
    cv_run_free(e->run);
    free(e->in);
    free(e->seed);
    e->run = NULL;
    e->in = e->seed = NULL;
}

static cv_status engine_plan(engine *e, int batch, cv_error *err)
{
    if (e->run && e->batch == batch)
        return CV_OK;
    engine_free(e);
    cv_run_options ro = cv_run_defaults();
    ro.stop_layer = e->o->layer;
    ro.need_grad = 1;
    /* lucid starts from a flat grey image, where deep units are often all
     * off: let the gradient through ReLUs that it would switch on. */
    ro.relu_redirect = e->o->method == CV_FILTERS_LUCID;
    cv_shape s = input_shape(&e->g, batch);
    cv_status st = cv_run_create(&e->run, e->m, &s, &ro, err);
    if (st != CV_OK)
        return st;
    size_t ln = (size_t)batch * e->g.lc * e->g.lh * e->g.lw;
    e->in = malloc(sizeof(float) * (size_t)batch * e->g.img_n);
    e->seed = malloc(sizeof(float) * ln);
    if (!e->in || !e->seed) {
        engine_free(e);
        return cv_fail(err, CV_ERR_NOMEM, "out of memory for a batch of %d filter images", batch);
    }
    e->batch = batch;
    return CV_OK;
}

/* Planar [C][H][W] <-> the model's layout, for one item. */
static void to_model(const geom *g, float *dst, const float *src)
{
    if (!g->nhwc) {
        memcpy(dst, src, g->img_n * sizeof(float));
        return;
    }
    size_t plane = (size_t)g->h * g->w;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < g->c; c++)
            dst[p * g->c + c] = src[c * plane + p];
}

static void from_model(const geom *g, float *dst, const float *src)
{
    if (!g->nhwc) {
        memcpy(dst, src, g->img_n * sizeof(float));
        return;
    }
    size_t plane = (size_t)g->h * g->w;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < g->c; c++)
            dst[c * plane + p] = src[p * g->c + c];
}

/* Objective for item i: mean over the layer's H x W of channel ks[i] of
 * item i. Forward the planar images x, write each item's objective into act
 * (may be NULL) and, when grad is non-NULL, d objective_i / d x_i (planar)
 * into grad and clear e->dead[first + i] where it is not all zero. */
static cv_status engine_eval(engine *e, int n, const int *ks, const float *x, float *act, float *grad,
                             int first, cv_error *err)
{
    cv_status st = engine_plan(e, n, err);
    if (st != CV_OK)
        return st;
    const geom *g = &e->g;
    for (int i = 0; i < n; i++)
        to_model(g, e->in + (size_t)i * g->img_n, x + (size_t)i * g->img_n);
    if ((st = cv_run_forward(e->run, e->in, err)) != CV_OK)
        return st;
    size_t lplane = (size_t)g->lh * g->lw, item = (size_t)g->lc * lplane;
    if (act) {
        const cv_tensor *y = cv_run_layer_output(e->run, e->o->layer);
        for (int i = 0; i < n; i++) {
            const float *p = y->f + (size_t)i * item + (size_t)ks[i] * lplane;
            double s = 0;
            for (size_t q = 0; q < lplane; q++)
                s += p[q];
            act[i] = (float)(s / (double)lplane);
        }
    }
    if (!grad)
        return CV_OK;
    memset(e->seed, 0, sizeof(float) * (size_t)n * item);
    for (int i = 0; i < n; i++) {
        float *p = e->seed + (size_t)i * item + (size_t)ks[i] * lplane;
        for (size_t q = 0; q < lplane; q++)
            p[q] = 1.0f / (float)lplane;
    }
    const float *gin;
    if ((st = cv_run_backward(e->run, e->o->layer, e->seed, &gin, err)) != CV_OK)
        return st;
    for (int i = 0; i < n; i++) {
        float *gi = grad + (size_t)i * g->img_n;
        from_model(g, gi, gin + (size_t)i * g->img_n);
        if (e->dead[first + i])
            for (size_t q = 0; q < g->img_n; q++)
                if (gi[q] != 0.0f) {
                    e->dead[first + i] = 0;
                    break;
                }
    }
    return CV_OK;
}

/* ---- pixels <-> model input ---------------------------------------------------- */

/* Which RGB plane feeds model channel c. */
static int rgb_plane(const cv_preprocess *p, int channels, int c)
{
    return channels == 3 && p->bgr ? 2 - c : c;
}

static float pixel_to_input(const cv_preprocess *p, float pixel, int c)
{
    return (pixel * p->scale - p->mean[c]) / p->std[c];
}

/* Planar model-order [C][H][W] -> result HWC. */
static void store_hwc(const geom *g, float *dst, const float *src)
{
    size_t plane = (size_t)g->h * g->w;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < g->c; c++)
            dst[p * g->c + c] = src[c * plane + p];
}

/* uint8 planes in model channel order -> RGB HWC picture. */
static void store_rgb(const geom *g, const cv_preprocess *pre, uint8_t *dst, const uint8_t *planes)
{
    size_t plane = (size_t)g->h * g->w;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) {
            int mc = g->c == 1 ? 0 : rgb_plane(pre, 3, c); /* model channel holding colour c */
            dst[p * 3 + c] = planes[(size_t)mc * plane + p];
        }
}

typedef struct {
    engine *e;
    cv_filters_result *res;
    int first, n;           /* chunk: result items first .. first+n-1 */
    int chunk, n_chunks;
    int iters;
} chunk_ctx;

/* After iteration it: the progress callback, then the caller's cancel flag
 * (checked here, between iterations: a callback that sets it stops the run
 * at once). */
static cv_status report(const chunk_ctx *k, int it, cv_error *err)
{
    const cv_filters_options *o = k->e->o;
    if (o->progress) {
        cv_filters_progress p = {
            .step = k->chunk * k->iters + it, .steps = k->n_chunks * k->iters,
            .filters_done = k->first + (it == k->iters ? k->n : 0), .filters_total = k->res->count,
            .chunk = k->chunk, .n_chunks = k->n_chunks, .iteration = it, .iterations = k->iters,
        };
        o->progress(o->progress_user, &p);
    }
    if (o->cancel && *o->cancel)
        return cv_fail(err, CV_ERR_CANCELLED, "filters: cancelled after iteration %d of %d (chunk %d of %d)", it,
                       k->iters, k->chunk + 1, k->n_chunks);
    return CV_OK;
}

/* ---- method seed ------------------------------------------------------------------ */

static cv_status run_seed(chunk_ctx *k, const float *x0, cv_error *err)
{
    engine *e = k->e;
    const geom *g = &e->g;
    int n = k->n;
    const int *ks = k->res->filters + k->first;
    size_t in = g->img_n;
    float *x = malloc(sizeof(float) * (size_t)n * in);
    float *grad = malloc(sizeof(float) * (size_t)n * in);
    float *work = malloc(sizeof(float) * (size_t)n * 2 * in);
    uint8_t *planes = malloc((size_t)n * in);
    cv_status st = CV_OK;
    if (!x || !grad || !work || !planes) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory for %d filter images", n);
        goto out;
    }
    for (int i = 0; i < n; i++)
        memcpy(x + (size_t)i * in, x0, in * sizeof(float));
    for (int it = 1; it <= k->iters; it++) {
        if ((st = engine_eval(e, n, ks, x, NULL, grad, k->first, err)) != CV_OK)
            goto out;
#pragma omp parallel for schedule(static) if (n > 1)
        for (int i = 0; i < n; i++) {
            float *gi = grad + (size_t)i * in;
            cv_seed_normalize(gi, in);
            cv_seed_step(x + (size_t)i * in, gi, g->c, g->h, g->w, work + (size_t)i * 2 * in);
        }
        if ((st = report(k, it, err)) != CV_OK)
            goto out;
    }
    if ((st = engine_eval(e, n, ks, x, k->res->activation + k->first, NULL, 0, err)) != CV_OK)
        goto out;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        size_t r = (size_t)(k->first + i);
        store_hwc(g, k->res->images + r * in, xi);
        cv_seed_deprocess(planes + (size_t)i * in, xi, in);
        store_rgb(g, &e->o->pre, k->res->rgb + r * g->h * g->w * 3, planes + (size_t)i * in);
    }
out:
    free(x);
    free(grad);
    free(work);
    free(planes);
    return st;
}

/* ---- method lucid ------------------------------------------------------------------ */

/* A random view per step, in the spirit of lucid's standard transforms:
 * jitter up to 1/16 of the side, scale 0.9..1.1 in steps of 0.02, rotation
 * -10..10 degrees. */
static cv_warp random_view(uint64_t *s, int h, int w)
{
    int j = (h < w ? h : w) / 16;
    if (j < 1)
        j = 1;
    cv_warp t;
    t.dx = (float)((int)(rng_uniform(s) * (2 * j + 1)) - j);
    t.dy = (float)((int)(rng_uniform(s) * (2 * j + 1)) - j);
    t.scale = 1.0f + ((int)(rng_uniform(s) * 11) - 5) / 50.0f;
    t.angle = (float)(((int)(rng_uniform(s) * 21) - 10) * 3.14159265358979 / 180.0);
    return t;
}

static cv_status run_lucid(chunk_ctx *k, const cv_lucid *lu, cv_error *err)
{
    engine *e = k->e;
    const geom *g = &e->g;
    const cv_preprocess *pre = &e->o->pre;
    float lr = e->o->lr > 0 ? e->o->lr : CV_FILTERS_LUCID_LR;
    int n = k->n;
    const int *ks = k->res->filters + k->first;
    size_t in = g->img_n, np = cv_lucid_num_params(lu), plane = (size_t)g->h * g->w;
    size_t wf = cv_lucid_work_floats(lu);
    float *params = malloc(sizeof(float) * (size_t)n * np * 4); /* params | m | v | dparams */
    float *rgb = malloc(sizeof(float) * (size_t)n * in);
    float *view = malloc(sizeof(float) * (size_t)n * in * 2);   /* view | model input planar */
    float *grad = malloc(sizeof(float) * (size_t)n * in);
    float *drgb = malloc(sizeof(float) * (size_t)n * in);
    float *work = malloc(sizeof(float) * wf);
    uint64_t *views = malloc(sizeof(uint64_t) * (size_t)n);
    cv_warp *warps = malloc(sizeof(cv_warp) * (size_t)n);
    uint8_t *planes = NULL;
    cv_status st = CV_OK;
    if (!params || !rgb || !view || !grad || !drgb || !work || !views || !warps) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory for %d filter images", n);
        goto out;
    }
    float *adam_m = params + (size_t)n * np, *adam_v = adam_m + (size_t)n * np, *dp = adam_v + (size_t)n * np;
    float *x = view + (size_t)n * in;
    memset(adam_m, 0, sizeof(float) * (size_t)n * np * 2);
    for (int i = 0; i < n; i++) {
        /* lucid's initial spectrum: normal, sd 0.01 */
        uint64_t s = rng_stream(e->o->seed, 3, ks[i]);
        for (size_t q = 0; q < np; q++)
            params[(size_t)i * np + q] = (float)(0.01 * rng_normal(&s));
        views[i] = rng_stream(e->o->seed, 4, ks[i]);
    }
    for (int it = 1; it <= k->iters; it++) {
        for (int i = 0; i < n; i++)
            cv_lucid_render(lu, rgb + (size_t)i * in, params + (size_t)i * np, work);
#pragma omp parallel for schedule(static) if (n > 1)
        for (int i = 0; i < n; i++) {
            warps[i] = random_view(&views[i], g->h, g->w);
            cv_warp_forward(view + (size_t)i * in, rgb + (size_t)i * in, g->c, g->h, g->w, &warps[i], 0.5f);
            cv_lucid_to_input(x + (size_t)i * in, view + (size_t)i * in, g->c, plane, pre);
        }
        if ((st = engine_eval(e, n, ks, x, NULL, grad, k->first, err)) != CV_OK)
            goto out;
#pragma omp parallel for schedule(static) if (n > 1)
        for (int i = 0; i < n; i++) {
            /* back through the preprocessing (into the view, RGB planes) and the warp */
            float *dv = view + (size_t)i * in;
            cv_lucid_to_input_backward(dv, grad + (size_t)i * in, g->c, plane, pre);
            float *dr = drgb + (size_t)i * in;
            memset(dr, 0, sizeof(float) * in);
            cv_warp_backward(dr, dv, g->c, g->h, g->w, &warps[i]);
        }
        memset(dp, 0, sizeof(float) * (size_t)n * np);
        for (int i = 0; i < n; i++)
            cv_lucid_render_backward(lu, dp + (size_t)i * np, drgb + (size_t)i * in, rgb + (size_t)i * in, work);
        cv_adam_ascent(params, adam_m, adam_v, dp, (size_t)n * np, it, lr);
        if ((st = report(k, it, err)) != CV_OK)
            goto out;
    }
    /* The result: the un-warped image. */
    for (int i = 0; i < n; i++) {
        cv_lucid_render(lu, rgb + (size_t)i * in, params + (size_t)i * np, work);
        cv_lucid_to_input(x + (size_t)i * in, rgb + (size_t)i * in, g->c, plane, pre);
    }
    if ((st = engine_eval(e, n, ks, x, k->res->activation + k->first, NULL, 0, err)) != CV_OK)
        goto out;
    if (!(planes = malloc(in))) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        size_t r = (size_t)(k->first + i);
        store_hwc(g, k->res->images + r * in, x + (size_t)i * in);
        /* the picture is the image itself: planes in model order for store_rgb */
        for (int c = 0; c < g->c; c++) {
            const float *src = rgb + (size_t)i * in + (size_t)rgb_plane(pre, g->c, c) * plane;
            for (size_t q = 0; q < plane; q++)
                planes[(size_t)c * plane + q] = (uint8_t)lrintf(255.0f * src[q]);
        }
        store_rgb(g, pre, k->res->rgb + r * plane * 3, planes);
    }
out:
    free(params);
    free(rgb);
    free(view);
    free(grad);
    free(drgb);
    free(work);
    free(views);
    free(warps);
    free(planes);
    return st;
}

/* ---- the driver ------------------------------------------------------------------- */

static cv_status check_options(const cv_model *m, const cv_filters_options *o, cv_error *err)
{
    if (o->method != CV_FILTERS_SEED && o->method != CV_FILTERS_LUCID)
        return cv_fail(err, CV_ERR_INVALID, "unknown filter visualisation method %d", (int)o->method);
    if (!o->filters || o->n_filters < 1)
        return cv_fail(err, CV_ERR_INVALID, "no filters to visualise");
    if (o->iterations < 0 || o->iterations > 1000000)
        return cv_fail(err, CV_ERR_INVALID, "iterations must be between 1 and 1000000 (0: default), got %d",
                       o->iterations);
    if (!(o->lr >= 0) || o->lr > 1e3f)
        return cv_fail(err, CV_ERR_INVALID, "learning rate %g out of range", (double)o->lr);
    for (int c = 0; c < 3; c++)
        if (!(o->pre.std[c] != 0.0f) || !isfinite(o->pre.std[c]) || !isfinite(o->pre.mean[c]))
            return cv_fail(err, CV_ERR_INVALID, "preprocessing '%s': std[%d] = %g is not a usable divisor",
                           o->pre.name, c, (double)o->pre.std[c]);
    if (!(o->pre.scale > 0) || !isfinite(o->pre.scale))
        return cv_fail(err, CV_ERR_INVALID, "preprocessing '%s': scale %g must be positive", o->pre.name,
                       (double)o->pre.scale);
    (void)m;
    return CV_OK;
}

const char *cv_filters_status(const cv_filters_result *res, int i)
{
    if (res->dead[i])
        return "dead";
    /* A ReLU layer's mean is 0 exactly when no position fires: calling that
     * filter "ok" would pass off a blank objective as a visualisation. */
    return res->activation[i] == 0.0f ? "inactive" : "ok";
}

cv_status cv_filters_run(cv_filters_result *res, const cv_model *m, const cv_filters_options *o, cv_error *err)
{
    memset(res, 0, sizeof *res);
    cv_status st = check_options(m, o, err);
    if (st != CV_OK)
        return st;
    engine e;
    memset(&e, 0, sizeof e);
    e.m = m;
    e.o = o;
    if ((st = plan_geometry(m, o->layer, o->height, o->width, &e.g, err)) != CV_OK)
        return st;
    const geom *g = &e.g;
    for (int i = 0; i < o->n_filters; i++)
        if (o->filters[i] < 0 || o->filters[i] >= g->lc)
            return cv_fail(err, CV_ERR_INVALID, "%s: filter %d is out of range: layer '%s' has %d channels (0..%d)",
                           cv_model_path(m), o->filters[i], cv_model_layer_name(m, o->layer), g->lc, g->lc - 1);

    int count = o->n_filters;
    size_t in = g->img_n;
    res->count = count;
    res->height = g->h;
    res->width = g->w;
    res->channels = g->c;
    res->iterations = o->iterations ? o->iterations
                                    : o->method == CV_FILTERS_SEED ? CV_FILTERS_SEED_ITERS : CV_FILTERS_LUCID_ITERS;
    res->filters = malloc(sizeof(int) * (size_t)count);
    res->images = malloc(sizeof(float) * (size_t)count * in);
    res->rgb = malloc((size_t)count * g->h * g->w * 3);
    res->activation = calloc((size_t)count, sizeof(float));
    res->dead = malloc(sizeof(int) * (size_t)count);
    float *x0 = NULL;
    cv_lucid *lu = NULL;
    if (!res->filters || !res->images || !res->rgb || !res->activation || !res->dead) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory for %d filter images of %dx%d", count, g->w, g->h);
        goto fail;
    }
    memcpy(res->filters, o->filters, sizeof(int) * (size_t)count);
    for (int i = 0; i < count; i++)
        res->dead[i] = 1;
    e.dead = res->dead;

    /* Chunks: as many filters at once as the memory budget allows, spread
     * evenly so the last chunk is not a straggler. */
    size_t budget = cv_auto_batch_bytes(o->max_memory);
    size_t fit = g->bytes_per_item ? budget / g->bytes_per_item : (size_t)count;
    int max_batch = fit < 1 ? 1 : fit > (size_t)count ? count : (int)fit;
    if (o->max_batch > 0 && o->max_batch < max_batch)
        max_batch = o->max_batch;
    int n_chunks = (count + max_batch - 1) / max_batch;
    int per_chunk = (count + n_chunks - 1) / n_chunks;
    res->n_chunks = n_chunks;

    if (o->method == CV_FILTERS_SEED) {
        if (!(x0 = malloc(sizeof(float) * in))) {
            st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (o->init) {
            from_model(g, x0, o->init);
        } else {
            /* The original's noise, U[0,1) * 20 + 128, taken as pixel values. */
            uint64_t s = rng_stream(o->seed, 2, 0);
            size_t plane = (size_t)g->h * g->w;
            for (int c = 0; c < g->c; c++)
                for (size_t q = 0; q < plane; q++)
                    x0[(size_t)c * plane + q] = pixel_to_input(&o->pre, (float)(rng_uniform(&s) * 20.0 + 128.0), c);
        }
    } else if ((st = cv_lucid_create(&lu, g->h, g->w, g->c, err)) != CV_OK) {
        goto fail;
    }
    for (int c = 0, first = 0; first < count; c++, first += per_chunk) {
        chunk_ctx k = {.e = &e, .res = res, .first = first, .n = count - first < per_chunk ? count - first : per_chunk,
                       .chunk = c, .n_chunks = n_chunks, .iters = res->iterations};
        st = o->method == CV_FILTERS_SEED ? run_seed(&k, x0, err) : run_lucid(&k, lu, err);
        if (st != CV_OK)
            goto fail;
    }
    for (int i = 0; i < count; i++)
        res->n_dead += res->dead[i];
    engine_free(&e);
    free(x0);
    cv_lucid_free(lu);
    return CV_OK;
fail:
    engine_free(&e);
    free(x0);
    cv_lucid_free(lu);
    cv_filters_result_free(res);
    return st;
}
