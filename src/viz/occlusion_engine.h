/* The "evaluate these windows" step behind cv_occlusion_run, so that
 * engines other than batched full inference (issue #5: incremental
 * inference that recomputes only what each window can reach) can slot in
 * without changing the public calls.
 *
 * An engine is made for one model, image, geometry and fill (from
 * cv_occlusion_params) and answers eval(): the model's raw output 0 for
 * the image occluded by each of n windows. The driver turns outputs into
 * probabilities, walks the grid and reports progress; an engine only has
 * to be exact: results must equal a one-window-at-a-time full forward pass
 * to float rounding (tests/test_occlusion.c checks against that).
 */
#ifndef CV_OCCLUSION_ENGINE_H
#define CV_OCCLUSION_ENGINE_H

#include "cnnviz_occlusion.h"
#include "../core/graph.h"
#include "../core/limits.h"

/* A window of occluded pixels: rows [y0, y1), columns [x0, x1), and its
 * position in the row-major grid. An empty window (y0 == y1, index -1) is
 * the unoccluded image. */
typedef struct {
    int y0, y1, x0, x1;
    long index;
} occ_window;

typedef struct occ_engine occ_engine;

typedef struct {
    const char *name;
    /* scores: n x n_classes, the model's raw output 0 for each window.
     * n <= engine->batch. */
    cv_status (*eval)(occ_engine *e, const occ_window *w, int n, float *scores, cv_error *err);
    /* Optional (NULL: any windows at any time). The windows the next eval
     * calls ask for, in this order, so the engine can plan for them
     * (incremental inference plans per position); eval may then be given
     * only these (and the unoccluded image). Approximate mode calls it
     * before each of its two passes. */
    cv_status (*prepare)(occ_engine *e, const occ_window *w, long n, cv_error *err);
    void (*free)(occ_engine *e);
} occ_engine_ops;

struct occ_engine {
    const occ_engine_ops *ops;
    int batch;      /* windows per eval call it is planned for */
    int n_classes;  /* floats of output 0 per image */
};

/* Write the occluder into one image (C,H,W or H,W,C): the fill image's
 * values, or fill_value[c] when fill is NULL. */
void occ_apply_window(float *x, const occ_window *w, const cv_occlusion_geometry *g, const float *fill,
                      const float *fill_value);

/* Batched full inference: copies of the image, one window each, through a
 * run planned once for `batch` images (and once more for a smaller last
 * batch). positions: the grid's size, an upper bound for the batch. */
cv_status occ_full_engine_create(occ_engine **out, const cv_model *m, const float *image,
                                 const cv_occlusion_geometry *g, const cv_occlusion_params *p, long positions,
                                 cv_error *err);

/* Incremental inference (src/core/incremental.c) behind the same step:
 * positions run as patches through each layer's reachable window only.
 * NCHW models only; CV_ERR_UNSUPPORTED when the model or its ops do not
 * allow it (the driver then falls back to full inference under AUTO).
 * rows, cols: the grid the windows come from (in row-major order). With
 * p->approx.enabled, the projective field is capped at p->approx.tau. */
cv_status occ_incr_engine_create(occ_engine **out, const cv_model *m, const float *image,
                                 const cv_occlusion_geometry *g, const cv_occlusion_params *p, int rows, int cols,
                                 cv_error *err);
/* Multiply-adds of full over incremental inference per position (0 before
 * the first evaluation). */
double occ_incr_engine_speedup(const occ_engine *e);

#endif

