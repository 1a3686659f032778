/* cnnviz occlusion sensitivity (Zeiler & Fergus 2014): slide a square
 * occluder over the image and record, for every position, the probability
 * the classifier still gives the target class.
 *
 * Usage (error handling shortened):
 *
 *     // x: the preprocessed image, 1 x C x H x W (or H x W x C when nhwc)
 *     cv_occlusion_geometry g = {3, 224, 224, 0};
 *     cv_occlusion_params p = cv_occlusion_defaults();   // occ 40, stride 5
 *     for (int c = 0; c < 3; c++)                         // a black occluder
 *         p.fill_value[c] = cv_preprocess_value(&pre, 0.0f, c);
 *     cv_occlusion *occ;
 *     cv_occlusion_create(&occ, model, x, &g, &p, &err); // plans, classifies x
 *     int n;
 *     const float *probs = cv_occlusion_base_probs(occ, &n);   // e.g. print the top 5
 *     int rows, cols;
 *     cv_occlusion_grid(occ, &rows, &cols);
 *     double *map = malloc(sizeof(double) * rows * cols);
 *     cv_occlusion_run(occ, -1, map, NULL, &err);         // -1: the top-1 class
 *     cv_occlusion_free(occ);
 *
 * or all at once: cv_occlusion_map(model, x, &g, &p, map, &err).
 *
 * Grid: rows = ceil((H - occ) / stride) + 1 positions down, and the same
 * across with W. The window at (i, j) covers image rows
 * [i*stride, min(H, i*stride + occ)) and columns [j*stride, min(W, ...)):
 * windows at the last positions are clipped at the border. map[i*cols + j]
 * is the target's probability with that window occluded; positions are
 * row-major.
 *
 * The occluder is written into the preprocessed tensor. Preprocessing is a
 * per-pixel affine map, so filling with cv_preprocess_value(pixel) is exactly
 * occluding with `pixel` in 0..255 image space and preprocessing after.
 *
 * Positions are evaluated in batches of copies of the image through one
 * planned run (a second one for the last, partial batch); every value
 * equals a one-position-at-a-time evaluation to float rounding. The work
 * behind cv_occlusion_run is an internal "evaluate these windows" step
 * (src/viz/occlusion_engine.h) with two engines behind it: batched full
 * inference, and incremental inference that recomputes only the region a
 * window can reach: see cv_occlusion_engine.
 *
 * Ownership: the caller owns the model, the image and the output arrays;
 * the model and image must stay alive until cv_occlusion_free. The library
 * never prints: progress goes to the optional callback.
 */
#ifndef CNNVIZ_OCCLUSION_H
#define CNNVIZ_OCCLUSION_H

#include "cnnviz.h"
#include "cnnviz_io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_OCCLUSION_MAX_CHANNELS 4

/* The model input the image fills: channels, height, width, and whether it
 * is laid out channels-last (N,H,W,C) instead of N,C,H,W. */
typedef struct {
    int channels, height, width;
    int nhwc;
} cv_occlusion_geometry;

/* How a model's output becomes probabilities. AUTO: softmax unless the
 * unoccluded image's output already is a distribution (all in [0, 1],
 * summing to 1 within 1e-3); the choice is made once and kept for every
 * position. */
typedef enum {
    CV_OCCLUSION_SCORE_AUTO = 0,
    CV_OCCLUSION_SCORE_SOFTMAX,
    CV_OCCLUSION_SCORE_RAW
} cv_occlusion_score;

/* Which evaluator computes the positions; all give the same values to
 * float rounding. FULL: batched full inference. INCREMENTAL: per layer,
 * only the window an occluder can reach is recomputed (Krypton, SIGMOD
 * 2019; N,C,H,W models; CV_ERR_UNSUPPORTED where an op does not allow it).
 * AUTO: INCREMENTAL where it works and saves at least 1.5x the
 * multiply-adds, else FULL. */
typedef enum {
    CV_OCCLUSION_ENGINE_AUTO = 0,
    CV_OCCLUSION_ENGINE_FULL,
    CV_OCCLUSION_ENGINE_INCREMENTAL
} cv_occlusion_engine;

/* Called after each evaluated batch, from the calling thread. done and
 * total count positions run through the network (in approximate mode,
 * total is an estimate until the second pass is chosen). */
typedef void (*cv_occlusion_progress)(void *user, long done, long total);

/* Approximate mode: Krypton's two approximations (Nakandala, Kumar and
 * Papakonstantinou, SIGMOD 2019). The map it gives is NOT the exact map:
 * check it against one with cv_occlusion_compare where it matters.
 *
 * 1. Projective-field threshold tau (incremental engine only, see
 *    cv_incr_options.field_cap): in each layer the recomputed region grows
 *    to at most ceil(tau * side) of that layer's map; beyond it the
 *    occluder's effect is dropped. Ignored by the full engine.
 * 2. Adaptive drill-down: a first pass at stride * coarse_factor (the
 *    positions (i, j) of the grid with i and j multiples of coarse_factor,
 *    plus the last row and column), bilinearly interpolated to the grid;
 *    then the coarse cells (the rectangles between neighbouring coarse
 *    positions) whose corners show the largest drop of the target's
 *    probability from the unoccluded image are evaluated at every grid
 *    position, most sensitive first, until they hold drill_fraction of the
 *    grid. The other positions keep the interpolated value (top_class: the
 *    nearest coarse position's; top_prob: interpolated).
 *
 * enabled 0: all ignored, the map is exact. tau 1 and coarse_factor 1 (or
 * drill_fraction 1) give the exact map. */
typedef struct {
    int enabled;
    double tau;             /* (0, 1]; default 0.8 */
    int coarse_factor;      /* >= 1; default 2 */
    double drill_fraction;  /* (0, 1]; default 0.1 */
} cv_occlusion_approx;

typedef struct {
    int occ_size;       /* window side in pixels, 1 .. min(H, W) */
    int stride;         /* step between windows in pixels, >= 1 */
    /* What the window shows. fill: an image-sized tensor in the image's
     * layout whose window region is copied in (e.g. a blurred copy), or NULL
     * for fill_value[c] in every pixel of channel c (model-space values). */
    const float *fill;
    float fill_value[CV_OCCLUSION_MAX_CHANNELS];
    int target;         /* class for cv_occlusion_map; -1 = the top-1 class */
    int batch;          /* positions per forward pass; 0 = chosen from memory */
    size_t max_memory;  /* the memory limit the auto batch plans within (0 = the memory available
                           now, cv_memory_limit), at most CV_AUTO_BATCH_BYTES */
    cv_occlusion_score score;
    cv_occlusion_engine engine;
    cv_occlusion_approx approx;
    cv_occlusion_progress progress;
    void *user;         /* passed to progress */
    /* Optional: when *cancel is nonzero (set from another thread or a
     * signal handler), cv_occlusion_create / cv_occlusion_run stop after
     * the batch under way with CV_ERR_CANCELLED. NULL: never. */
    const volatile int *cancel;
} cv_occlusion_params;

/* occ_size 40, stride 5, fill 0, target -1, batch 0 (auto), approx off
 * with its defaults filled in (set approx.enabled to use them), the rest 0. */
CV_API cv_occlusion_params cv_occlusion_defaults(void);

/* Grid size for a geometry and parameters, or CV_ERR_INVALID with a message
 * when occ_size does not fit or stride < 1. */
CV_API cv_status cv_occlusion_grid_size(const cv_occlusion_geometry *g, int occ_size, int stride,
                                        int *rows, int *cols, cv_error *err);

/* The pixels the window at grid position (i, j) hides: rows [y0, y1) =
 * [i*stride, min(H, i*stride + occ_size)) and columns [x0, x1) likewise
 * with j and W, so windows at the last positions are clipped at the border.
 * This is the one place the arithmetic is written: the engines, the pixel
 * map and the CLI's frames all ask here. Arguments are not checked (see
 * cv_occlusion_grid_size). */
typedef struct {
    int y0, y1, x0, x1;
} cv_occlusion_rect;
CV_API cv_occlusion_rect cv_occlusion_window(const cv_occlusion_geometry *g, int occ_size, int stride, int i, int j);

typedef struct cv_occlusion cv_occlusion;

/* Check the parameters, plan the model for the batch size and classify the
 * unoccluded image. image: 1 x C x H x W floats (H x W x C when nhwc),
 * preprocessed; kept by pointer, as is p->fill. */
CV_API cv_status cv_occlusion_create(cv_occlusion **out, const cv_model *m, const float *image,
                                     const cv_occlusion_geometry *g, const cv_occlusion_params *p,
                                     cv_error *err);
CV_API void cv_occlusion_free(cv_occlusion *o);

/* The unoccluded image's class probabilities (n_classes of them). */
CV_API const float *cv_occlusion_base_probs(const cv_occlusion *o, int *n_classes);
/* 1 when the probabilities are a softmax of the model's outputs. */
CV_API int cv_occlusion_softmax_applied(const cv_occlusion *o);
CV_API void cv_occlusion_grid(const cv_occlusion *o, int *rows, int *cols);
/* Positions per forward pass (the auto choice, or 1 when the model's
 * output does not follow its input's batch size). */
CV_API int cv_occlusion_batch(const cv_occlusion *o);
/* Name of the engine that evaluates positions ("full", "incremental"). */
CV_API const char *cv_occlusion_engine_name(const cv_occlusion *o);
/* Multiply-adds of full inference over the engine's, per position (1 for
 * full inference). */
CV_API double cv_occlusion_engine_speedup(const cv_occlusion *o);

/* What the last cv_occlusion_run did. */
typedef struct {
    long positions;   /* rows x cols */
    long evaluated;   /* positions run through the network */
    long coarse;      /* approximate mode: of them, in the coarse pass */
    long drilled;     /* approximate mode: positions in the drilled cells (coarse ones included) */
    double tau;       /* field cap in effect: 1 unless approximate on the incremental engine */
    int approximate;  /* 1 when the map is approximate */
} cv_occlusion_stats;
CV_API cv_occlusion_stats cv_occlusion_last_stats(const cv_occlusion *o);

/* Evaluate every position. target: class index, or -1 for the top-1 class
 * of the unoccluded image. map: rows x cols doubles, the target's
 * probability. top_class (optional, rows x cols): the most likely class at
 * each position, and top_prob (optional) its probability. May be called
 * again with another target (it reevaluates). */
CV_API cv_status cv_occlusion_run(cv_occlusion *o, int target, double *map, int *top_class,
                                  double *top_prob, cv_error *err);

/* create + run(p->target) + free. */
CV_API cv_status cv_occlusion_map(const cv_model *m, const float *image, const cv_occlusion_geometry *g,
                                  const cv_occlusion_params *p, double *map, cv_error *err);

/* ---- comparing maps ------------------------------------------------------- */

/* The error of a map against a reference (e.g. an approximate map against
 * the exact one), both rows x cols:
 * mae: mean |map - ref|; max_abs: max |map - ref|;
 * ssim: structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) as
 *   scikit-image's structural_similarity computes it by default: 7 x 7
 *   uniform windows, K1 0.01, K2 0.03, sample (co)variances (n - 1), the
 *   mean of the SSIM index over every window that lies inside the map.
 *   Data range L = max(ref) - min(ref), or 1 when ref is constant (so C1 =
 *   (K1 L)^2 and C2 = (K2 L)^2 stay positive and nothing is NaN). A map
 *   narrower or shorter than 7 uses one window as wide or tall as the map
 *   (a 1 x 1 window: variance 0). 1 means identical; it can be negative. */
typedef struct {
    double mae, max_abs, ssim;
} cv_occlusion_map_error;
CV_API cv_status cv_occlusion_compare(const double *map, const double *ref, int rows, int cols,
                                      cv_occlusion_map_error *out, cv_error *err);

/* ---- fills ---------------------------------------------------------------- */

/* Mean of each channel of the image, as fill values: occluding with the
 * image's mean colour. */
CV_API void cv_occlusion_fill_mean(float value[CV_OCCLUSION_MAX_CHANNELS], const float *image,
                                   const cv_occlusion_geometry *g);
/* A Gaussian-blurred copy of the image as a fill (per channel, separable,
 * radius ceil(3 sigma), border reflected without repeating the edge, as
 * OpenCV's BORDER_REFLECT_101). out: same size and layout as the image. */
CV_API cv_status cv_occlusion_fill_blur(float *out, const float *image, const cv_occlusion_geometry *g,
                                        double sigma, cv_error *err);

/* ---- per-pixel map ---------------------------------------------------------- */

/* The map spread back over the input's pixels (out: height x width floats).
 * smooth 0: each pixel gets the mean of map over the windows that cover it
 * (the attribution Captum's Occlusion computes); a pixel no window covers
 * (stride > occ_size) is NaN. smooth 1: the map interpolated bilinearly
 * between the windows' centres (held constant beyond the outer centres), for
 * pictures. Either way a feature sits where it is in the image rather than
 * at its window's corner, as a plain resize of the map would put it. */
CV_API cv_status cv_occlusion_pixel_map(float *out, const double *map, const cv_occlusion_geometry *g, int occ_size,
                                        int stride, int smooth, cv_error *err);

/* Captum's occlusion attribution (captum.attr.Occlusion with the window as
 * sliding_window_shapes, stride as strides): each pixel's probability drop
 * base_prob - map[i, j] averaged over the windows that cover it, into out
 * (height x width floats, the model input's resolution). base_prob is the
 * target's probability on the unoccluded input (cv_occlusion_base_probs).
 * A pixel no window covers (stride > occ_size) gets 0: no evidence either
 * way. The map eval's deletion and insertion rank (map.npy of `cnnviz
 * occlusion`). */
CV_API cv_status cv_occlusion_attribution(float *out, const double *map, double base_prob, const cv_occlusion_geometry *g,
                                          int occ_size, int stride, cv_error *err);

/* ---- the regularised map -------------------------------------------------- */

/* The original tool's regularised heatmap, into out (may be map):
 * 1. if norm: x = clip((x - mean) / (std + 1e-5) * 0.1 + 0.5, 0, 1)
 *    (population std);
 * 2. entries with |x| below the `percentile` percentile of |x| (0..100,
 *    linear interpolation as numpy.percentile) become 0;
 * 3. x = blur3x3(1 - x): a 3x3 box mean, border as OpenCV's
 *    BORDER_REFLECT_101.
 * High values mark where occlusion lowered the probability. */
CV_API cv_status cv_occlusion_regularize(double *out, const double *map, int rows, int cols, int norm,
                                         double percentile, cv_error *err);

/* ---- frames: one picture per position ------------------------------------- */

/* The picture frames are drawn on: `picture` (the image the model saw, 1,
 * 3 or 4 channels) as 3-channel RGB, enlarged by a whole factor *factor
 * (nearest neighbour) when its longer side is under 224 pixels, so the
 * numbers written in the windows fit and read. Windows on it are those of
 * occ_size * factor and stride * factor. */
CV_API cv_status cv_occlusion_frame_base(cv_image *out, int *factor, const cv_image *picture, cv_error *err);
/* Frame: base (3 channels, frame's size) with window w filled with grey
 * prob * 255 and the probability written in it, as the original tool's
 * video frames. */
CV_API void cv_occlusion_draw_frame(cv_image *frame, const cv_image *base, cv_occlusion_rect w, double prob);

#ifdef __cplusplus
}
#endif
#endif
