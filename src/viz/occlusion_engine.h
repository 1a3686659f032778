/* The occlusion wing's internal interfaces (docs/occlusion.md walks
 * through them in order).
 *
 * The driver (occlusion_driver.c) checks the parameters, decides once which
 * engine evaluates positions and with what memory budget, turns the
 * engine's raw outputs into probabilities, walks the grid and reports
 * progress. An engine (occlusion_full.c, occlusion_incr.c) is made for one
 * model, image, geometry and fill and answers eval(): the model's raw
 * output 0 for the image occluded by each of n windows. An engine only has
 * to be exact: results must equal a one-window-at-a-time full forward pass
 * to float rounding (tests/test_occlusion.c checks against that).
 * Approximate mode's drill-down (occlusion_drill.c) chooses which positions
 * to evaluate and asks the driver through an occ_evaluator.
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

/* Grid position `index` of a grid `cols` wide, as cv_occlusion_window. */
occ_window occ_window_at(const cv_occlusion_geometry *g, int occ_size, int stride, int cols, long index);

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
    /* Optional (NULL: 1). Multiply-adds of full inference over this
     * engine's, per position, for the positions it is planned for now. */
    double (*speedup)(const occ_engine *e);
    void (*free)(occ_engine *e);
} occ_engine_ops;

struct occ_engine {
    const occ_engine_ops *ops;
    int batch;        /* windows per eval call it is planned for */
    int n_classes;    /* floats of output 0 per image */
    double field_cap; /* projective-field cap in effect (approximate mode); 1: exact */
};

/* What an engine is made for; the driver fills it once. */
typedef struct {
    const cv_model *m;
    const float *image;             /* kept by pointer */
    cv_occlusion_geometry g;
    const cv_occlusion_params *p;   /* occ_size, stride, fill, batch, approx */
    int rows, cols;                 /* the grid, positions row-major */
    size_t budget;                  /* bytes an automatic batch may plan for */
} occ_engine_config;


/* Batched full inference: copies of the image, one window each, through a
 * run planned once for `batch` images (and once more for a smaller last
 * batch). */
cv_status occ_full_engine_create(occ_engine **out, const occ_engine_config *c, cv_error *err);

/* Incremental inference (src/core/incremental.c) behind the same step:
 * positions run as patches through each layer's reachable window only.
 * NCHW models only; CV_ERR_UNSUPPORTED when the model or its ops do not
 * allow it (the driver then falls back to full inference under AUTO).
 * With p->approx.enabled, the projective field is capped at
 * p->approx.tau. */
cv_status occ_incr_engine_create(occ_engine **out, const occ_engine_config *c, cv_error *err);

/* ---- fills (occlusion_fill.c) ---------------------------------------------- */

/* Write the occluder into one image (C,H,W or H,W,C): the fill image's
 * values, or fill_value[c] when fill is NULL. */
void occ_apply_window(float *x, const occ_window *w, const cv_occlusion_geometry *g, const float *fill,
                      const float *fill_value);

/* Index i reflected into [0, n) without repeating the edge (OpenCV's
 * BORDER_REFLECT_101: ... 2 1 | 0 1 2 ... n-1 | n-2 ...). */
static inline int occ_reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* ---- approximate mode's drill-down (occlusion_drill.c) ---------------------- */

/* How the drill-down asks for positions: prepare (plan for) and evaluate
 * grid positions pos[0 .. n), writing the maps the drill-down was given.
 * total: the positions the whole run is expected to evaluate, for
 * progress. */
typedef struct {
    void *ctx;
    cv_status (*prepare)(void *ctx, const long *pos, long n, cv_error *err);
    cv_status (*eval)(void *ctx, const long *pos, long n, long total, cv_error *err);
} occ_evaluator;

typedef struct {
    long evaluated; /* positions run through the network */
    long coarse;    /* of them, in the coarse pass */
    long drilled;   /* positions in the drilled cells, coarse ones included */
} occ_drill_stats;

/* Evaluate the coarse grid, interpolate the rest of map (top_class,
 * top_prob: optional, as cv_occlusion_run), then evaluate every position of
 * the coarse cells with the largest drop from `base` (the target's
 * unoccluded probability) until they hold a->drill_fraction of the grid. */
cv_status occ_drill_run(const occ_evaluator *ev, int rows, int cols, const cv_occlusion_approx *a, double base,
                        double *map, int *top_class, double *top_prob, occ_drill_stats *stats, cv_error *err);

#endif
