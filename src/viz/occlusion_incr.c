/* The incremental engine behind the occlusion driver: each position runs
 * through cv_incr (src/core/incremental.c), which recomputes per layer only
 * the window an occluder can reach and reads the rest from the clean
 * image's activations (Krypton, Nakandala et al., SIGMOD 2019).
 *
 * cv_incr takes patches of one size: this engine uses the whole occluder
 * (occ x occ) and, for windows clipped at the border, shifts the patch
 * inward and fills the part of it outside the window with the clean image,
 * so every patch carries exactly the pixels the occluded image has there.
 */
#include "occlusion_engine.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    occ_engine base;
    const cv_model *m;
    cv_incr *grid;                   /* planned for the whole grid; owns the clean activations */
    cv_incr *ic;                     /* the plan in use: grid, or one for the last prepare's windows */
    cv_incr_options opt;
    const float *image, *fill;       /* [C x H x W] */
    float fill_value[CV_OCCLUSION_MAX_CHANNELS];
    cv_occlusion_geometry g;
    int occ, stride, cols;           /* window and patch side; the grid */
    long positions;                  /* rows x cols */
    /* The positions cv_incr is planned for ("slots", in its order): the
     * whole grid in row-major order, or those of the last prepare. */
    int n_slots;
    int *py, *px;                    /* [n_slots] patch origins, inside the image */
    long *slot;                      /* [positions] grid index -> slot or -1; NULL: the identity */
    float *patches;                  /* [batch x C x occ x occ] */
} incr_engine;

/* Origin of the patch for grid position k: the window's far corner less
 * the patch side, which is the window's own corner unless the window is
 * clipped at the border, and then the patch shifted inward. */
static void patch_origin(const incr_engine *e, long k, int *py, int *px)
{
    occ_window w = occ_window_at(&e->g, e->occ, e->stride, e->cols, k);
    *py = w.y1 - e->occ;
    *px = w.x1 - e->occ;
}

/* patch: C x occ x occ, the occluded image's values at origin (py, px). */
static void make_patch(float *patch, const incr_engine *e, int py, int px, const occ_window *w)
{
    const int C = e->g.channels, H = e->g.height, W = e->g.width, n = e->occ;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                int iy = py + y, ix = px + x;
                size_t k = ((size_t)c * H + iy) * W + ix;
                bool hidden = iy >= w->y0 && iy < w->y1 && ix >= w->x0 && ix < w->x1;
                patch[((size_t)c * n + y) * n + x] =
                    !hidden ? e->image[k] : e->fill ? e->fill[k] : e->fill_value[c];
            }
}

static long slot_of(const incr_engine *e, long index)
{
    if (index < 0)
        return 0; /* the unoccluded image: any slot, with clean values */
    if (index >= e->positions)
        return -1;
    return e->slot ? e->slot[index] : index;
}

static cv_status incr_eval(occ_engine *base, const occ_window *w, int n, float *scores, cv_error *err)
{
    incr_engine *e = (incr_engine *)base;
    const size_t patch_floats = (size_t)e->g.channels * e->occ * e->occ;
    /* Windows in consecutive slots go through cv_incr together. */
    for (int k = 0; k < n;) {
        long first = slot_of(e, w[k].index);
        if (first < 0)
            return cv_fail(err, CV_ERR_INVALID, "occlusion: position %ld is not among those the incremental "
                                                "engine was prepared for", w[k].index);
        int count = 1;
        if (w[k].index >= 0)
            while (k + count < n && w[k + count].index >= 0 && slot_of(e, w[k + count].index) == first + count)
                count++;
        for (int j = 0; j < count; j++)
            make_patch(e->patches + (size_t)j * patch_floats, e, e->py[first + j], e->px[first + j], &w[k + j]);
        const cv_tensor *out;
        cv_status st = cv_incr_run(e->ic, (int)first, count, e->patches, &out, err);
        if (st != CV_OK)
            return st;
        size_t numel = cv_shape_numel(&out->shape);
        if (out->dtype != CV_F32 || out->shape.ndim < 1 || out->shape.d[0] != count || numel % (size_t)count ||
            (e->base.n_classes && numel / (size_t)count != (size_t)e->base.n_classes))
            return cv_fail(err, CV_ERR_SHAPE, "occlusion: the incremental engine's output does not hold class "
                                              "scores for a batch of %d", count);
        e->base.n_classes = (int)(numel / (size_t)count);
        memcpy(scores + (size_t)k * e->base.n_classes, out->f, numel * sizeof(float));
        k += count;
    }
    return CV_OK;
}

/* Plan cv_incr for the grid positions index[0 .. n) in that order (index
 * NULL: the whole grid). Replaces the current plan only on success. */
static cv_status plan(incr_engine *e, const long *index, long n, cv_error *err)
{
    if (n < 1 || n > e->positions)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: %ld positions to plan for, grid has %ld", n, e->positions);
    int *py = malloc(sizeof(int) * (size_t)n), *px = malloc(sizeof(int) * (size_t)n);
    long *slot = index ? malloc(sizeof(long) * (size_t)e->positions) : NULL;
    cv_incr *ic = NULL;
    cv_status st = CV_OK;
    if (!py || !px || (index && !slot)) {
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %ld positions", n);
        goto fail;
    }
    if (slot)
        for (long k = 0; k < e->positions; k++)
            slot[k] = -1;
    for (long s = 0; s < n; s++) {
        long k = index ? index[s] : s;
        if (k < 0 || k >= e->positions || (slot && slot[k] >= 0)) {
            st = cv_fail(err, CV_ERR_INVALID, "occlusion: position %ld is off the grid or listed twice", k);
            goto fail;
        }
        if (slot)
            slot[k] = s;
        patch_origin(e, k, &py[s], &px[s]);
    }
    cv_shape xs = {4, {1, e->g.channels, e->g.height, e->g.width}};
    cv_incr_options opt = e->opt;
    opt.share_clean = e->grid;
    if ((st = cv_incr_create(&ic, e->m, &xs, e->image, &(cv_incr_patches){(int)n, py, px, e->occ, e->occ}, &opt, err)) != CV_OK)
        goto fail;
    if (e->ic != e->grid)
        cv_incr_free(e->ic);
    if (!e->grid)
        e->grid = ic;
    free(e->py);
    free(e->px);
    free(e->slot);
    e->ic = ic;
    e->py = py;
    e->px = px;
    e->slot = slot;
    e->n_slots = (int)n;
    return CV_OK;
fail:
    free(py);
    free(px);
    free(slot);
    return st;
}

/* A plan per pass: cv_incr keeps per-position state, so a new set of
 * positions is a new plan, reading the grid plan's clean activations. */
static cv_status incr_prepare(occ_engine *base, const occ_window *w, long n, cv_error *err)
{
    incr_engine *e = (incr_engine *)base;
    if (n < 1)
        return CV_OK;
    long *index = malloc(sizeof(long) * (size_t)n);
    if (!index)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %ld positions", n);
    for (long k = 0; k < n; k++)
        index[k] = w[k].index;
    cv_status st = plan(e, index, n, err);
    free(index);
    return st;
}

static void incr_free(occ_engine *base)
{
    incr_engine *e = (incr_engine *)base;
    if (e->ic != e->grid)
        cv_incr_free(e->ic);
    cv_incr_free(e->grid);
    free(e->py);
    free(e->px);
    free(e->slot);
    free(e->patches);
    free(e);
}

/* Multiply-adds of full over incremental inference per position, for the
 * plan in use (0 before its first evaluation). */
static double incr_speedup(const occ_engine *base)
{
    return cv_incr_speedup_bound(((const incr_engine *)base)->ic);
}

static const occ_engine_ops incr_ops = {"incremental", incr_eval, incr_prepare, incr_speedup, incr_free};

/* The clean image as position 0 (a patch of clean values) gives the output
 * size, and cv_incr's speed-up bound; then two positions at once tell
 * whether the graph fixes its batch size (a Reshape to [1, -1]): if so,
 * one position at a time. */
static cv_status probe_output(incr_engine *e, cv_error *err)
{
    occ_window none = {0, 0, 0, 0, -1};
    make_patch(e->patches, e, e->py[0], e->px[0], &none);
    const cv_tensor *y;
    cv_status st = cv_incr_run(e->ic, 0, 1, e->patches, &y, err);
    if (st != CV_OK)
        return st;
    size_t numel = cv_shape_numel(&y->shape);
    if (y->dtype != CV_F32 || numel == 0 || numel > CV_MAX_CLASSES)
        return cv_fail(err, CV_ERR_SHAPE, "%s: output 0 is not a vector of class scores", cv_model_path(e->m));
    e->base.n_classes = (int)numel;
    if (e->base.batch > 1) {
        make_patch(e->patches + (size_t)e->g.channels * e->occ * e->occ, e, e->py[1], e->px[1], &none);
        cv_error batch_err;
        if (cv_incr_run(e->ic, 0, 2, e->patches, &y, &batch_err) != CV_OK || y->shape.ndim < 1 ||
            y->shape.d[0] != 2 || cv_shape_numel(&y->shape) != 2 * numel)
            e->base.batch = 1;
    }
    return CV_OK;
}

cv_status occ_incr_engine_create(occ_engine **out, const occ_engine_config *c, cv_error *err)
{
    *out = NULL;
    const cv_occlusion_geometry *g = &c->g;
    const cv_occlusion_params *p = c->p;
    const int rows = c->rows, cols = c->cols;
    if (g->nhwc)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "occlusion: the incremental engine needs an N,C,H,W input");
    const long positions = (long)rows * cols;
    if (positions > 1 << 30)
        return cv_fail(err, CV_ERR_LIMIT, "occlusion: %ld positions are too many", positions);
    incr_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    e->base.ops = &incr_ops;
    e->m = c->m;
    e->image = c->image;
    e->fill = p->fill;
    memcpy(e->fill_value, p->fill_value, sizeof e->fill_value);
    e->g = *g;
    e->occ = p->occ_size;
    e->stride = p->stride;
    e->cols = cols;
    e->positions = positions;
    long batch = p->batch > 0 ? p->batch : CV_MAX_AUTO_BATCH;
    e->base.batch = (int)(batch < positions ? batch : positions);
    e->opt = cv_incr_defaults();
    e->opt.max_batch = e->base.batch;
    e->base.field_cap = p->approx.enabled ? p->approx.tau : 1.0;
    e->opt.field_cap = e->base.field_cap;
    cv_status st;
    e->patches = malloc(sizeof(float) * (size_t)e->base.batch * g->channels * e->occ * e->occ);
    if (!e->patches) {
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %ld positions", positions);
        goto fail;
    }
    if ((st = plan(e, NULL, positions, err)) != CV_OK)
        goto fail;
    if (p->batch <= 0) { /* the automatic batch fits the memory budget too */
        double per = cv_incr_bytes_per_position(e->grid);
        double fit = per > 0 ? (double)c->budget / per : (double)e->base.batch;
        if (fit < e->base.batch)
            e->base.batch = e->opt.max_batch = fit < 1 ? 1 : (int)fit;
    }
    if ((st = probe_output(e, err)) != CV_OK)
        goto fail;
    *out = &e->base;
    return CV_OK;
fail:
    incr_free(&e->base);
    return st;
}
