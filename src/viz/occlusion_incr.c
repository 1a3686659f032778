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
    cv_incr *ic;
    const float *image, *fill;       /* [C x H x W] */
    float fill_value[CV_OCCLUSION_MAX_CHANNELS];
    cv_occlusion_geometry g;
    int occ;                         /* patch side */
    long positions;
    int *py, *px;                    /* [positions] patch origins, inside the image */
    float *patches;                  /* [batch x C x occ x occ] */
} incr_engine;

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

static cv_status incr_eval(occ_engine *base, const occ_window *w, int n, float *scores, cv_error *err)
{
    incr_engine *e = (incr_engine *)base;
    const size_t patch_floats = (size_t)e->g.channels * e->occ * e->occ;
    /* Consecutive grid positions go through cv_incr together. The
     * unoccluded image (index -1) is position 0 with a patch of clean
     * values. */
    for (int k = 0; k < n;) {
        long first = w[k].index < 0 ? 0 : w[k].index;
        int count = 1;
        if (w[k].index >= 0)
            while (k + count < n && w[k + count].index == first + count)
                count++;
        if (first + count > e->positions)
            return cv_fail(err, CV_ERR_INVALID, "occlusion: position %ld is not on the grid", first + count - 1);
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

static void incr_free(occ_engine *base)
{
    incr_engine *e = (incr_engine *)base;
    cv_incr_free(e->ic);
    free(e->py);
    free(e->px);
    free(e->patches);
    free(e);
}

static const occ_engine_ops incr_ops = {"incremental", incr_eval, incr_free};

double occ_incr_engine_speedup(const occ_engine *base)
{
    return base->ops == &incr_ops ? cv_incr_speedup_bound(((const incr_engine *)base)->ic) : 0.0;
}

/* Batches past 64 only cost memory. */
#define OCC_INCR_MAX_AUTO_BATCH 64

cv_status occ_incr_engine_create(occ_engine **out, const cv_model *m, const float *image,
                                 const cv_occlusion_geometry *g, const cv_occlusion_params *p, int rows, int cols,
                                 cv_error *err)
{
    *out = NULL;
    if (g->nhwc)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "occlusion: the incremental engine needs an N,C,H,W input");
    const long positions = (long)rows * cols;
    if (positions > 1 << 30)
        return cv_fail(err, CV_ERR_LIMIT, "occlusion: %ld positions are too many", positions);
    incr_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    e->base.ops = &incr_ops;
    e->image = image;
    e->fill = p->fill;
    memcpy(e->fill_value, p->fill_value, sizeof e->fill_value);
    e->g = *g;
    e->occ = p->occ_size;
    e->positions = positions;
    long batch = p->batch > 0 ? p->batch : OCC_INCR_MAX_AUTO_BATCH;
    e->base.batch = (int)(batch < positions ? batch : positions);
    cv_status st;
    e->py = malloc(sizeof(int) * (size_t)positions);
    e->px = malloc(sizeof(int) * (size_t)positions);
    e->patches = malloc(sizeof(float) * (size_t)e->base.batch * g->channels * e->occ * e->occ);
    if (!e->py || !e->px || !e->patches) {
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for %ld positions", positions);
        goto fail;
    }
    for (long k = 0; k < positions; k++) {
        int y0 = (int)(k / cols) * p->stride, x0 = (int)(k % cols) * p->stride;
        e->py[k] = y0 + e->occ <= g->height ? y0 : g->height - e->occ;
        e->px[k] = x0 + e->occ <= g->width ? x0 : g->width - e->occ;
    }
    cv_shape s = {4, {1, g->channels, g->height, g->width}};
    if ((st = cv_incr_create(&e->ic, m, &s, image, (int)positions, e->py, e->px, e->occ, e->occ, e->base.batch,
                             err)) != CV_OK)
        goto fail;
    /* The clean image as position 0 (a patch of clean values) gives the
     * output size, and cv_incr's speed-up bound. */
    occ_window none = {0, 0, 0, 0, -1};
    make_patch(e->patches, e, e->py[0], e->px[0], &none);
    const cv_tensor *y;
    if ((st = cv_incr_run(e->ic, 0, 1, e->patches, &y, err)) != CV_OK)
        goto fail;
    size_t numel = cv_shape_numel(&y->shape);
    if (y->dtype != CV_F32 || numel == 0 || numel > (size_t)1 << 24) {
        st = cv_fail(err, CV_ERR_SHAPE, "%s: output 0 is not a vector of class scores", cv_model_path(m));
        goto fail;
    }
    e->base.n_classes = (int)numel;
    if (e->base.batch > 1) {
        /* A graph may fix its batch size (a Reshape to [1, -1]): try two
         * positions at once, else go one at a time. */
        make_patch(e->patches + (size_t)g->channels * e->occ * e->occ, e, e->py[1], e->px[1], &none);
        cv_error batch_err;
        if (cv_incr_run(e->ic, 0, 2, e->patches, &y, &batch_err) != CV_OK || y->shape.ndim < 1 ||
            y->shape.d[0] != 2 || cv_shape_numel(&y->shape) != 2 * numel)
            e->base.batch = 1;
    }
    *out = &e->base;
    return CV_OK;
fail:
    incr_free(&e->base);
    return st;
}
