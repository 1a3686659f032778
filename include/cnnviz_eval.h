/* cnnviz faithfulness metrics: how much a map ([H, W], one value per input
 * pixel, higher = more important) tells about what the model uses, by
 * forward passes only (deletion and insertion curves), against a box
 * (pointing game), and whether the map depends on the model at all (the
 * model-randomisation sanity check).
 *
 * Usage (error handling shortened):
 *
 *     // x: the preprocessed image, 1 x C x H x W (H x W x C when the model is NHWC)
 *     cv_shape in_shape = {4, {1, 3, 224, 224}};
 *     cv_eval_options o = cv_eval_defaults();       // 100 steps
 *     cv_eval_curves c;
 *     cv_eval_curves_run(model, &in_shape, x, map, target, CV_EVAL_BOTH, &o, &c, &err);
 *     // c.deletion[i], c.insertion[i] at c.fraction[i] = i / N; c.deletion_auc, c.insertion_auc
 *     cv_eval_curves_free(&c);
 *
 * Definitions (Petsiuk et al., "RISE", 2018):
 *  - Ranking: pixels p = y * W + x ordered by map value, descending; equal
 *    values by p ascending (a stable sort). NaN ranks below every number.
 *  - Step i = 0..N removes or restores the first n_i = round(i * H * W / N)
 *    ranked pixels, halves rounded up (n_i = floor((2 i H W + N) / (2 N))).
 *  - Deletion: those pixels set to 0 in model-input space, every channel
 *    (the preprocessed tensor, as RISE does); or (opt.deletion_fill) to
 *    the blurred input of insertion, or to each channel's mean over the
 *    input: a zero pixel is itself a strong feature to some models (the
 *    "out of distribution" critique of deletion), and a blurred or mean
 *    one removes information with less of that.
 *  - Insertion: start from the input blurred in model-input space, each
 *    channel by a Gaussian of sigma 5 and 11 taps (weights exp(-d^2 / 50)
 *    for d = -5..5, normalised; separable, rows then columns; borders
 *    reflect-101: ... 2 1 | 0 1 2 ... | n-2 n-3 ...), and put the first n_i
 *    ranked pixels of the input back.
 *  - The value recorded is the target's probability: the model's output
 *    through cv_scores_to_probabilities (softmax unless the output already
 *    is a distribution).
 *  - AUC: the trapezoid rule over x = i / N in [0, 1]. A lower deletion
 *    AUC and a higher insertion AUC mean a more faithful map.
 * The N + 1 inputs of each curve run as batches (whole-image changes:
 * incremental inference does not apply), as many per pass as the memory
 * budget allows.
 *
 * The library never prints; long work reports to opt.progress.
 */
#ifndef CNNVIZ_EVAL_H
#define CNNVIZ_EVAL_H

#include "cnnviz.h"
#include "cnnviz_explain.h"
#include "cnnviz_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deletion and insertion ---------------------------------------------- */

enum { CV_EVAL_DELETION = 1, CV_EVAL_INSERTION = 2, CV_EVAL_BOTH = 3 };

/* What a deleted pixel becomes (model-input space, every channel). */
typedef enum { CV_EVAL_FILL_ZERO = 0, CV_EVAL_FILL_BLUR = 1, CV_EVAL_FILL_MEAN = 2 } cv_eval_fill;

/* "zero", "blur", "mean" */
CV_API const char *cv_eval_fill_name(cv_eval_fill fill);
CV_API cv_status cv_eval_fill_from_name(cv_eval_fill *out, const char *name, cv_error *err);

typedef struct {
    int steps;              /* N >= 1 (default 100) */
    int batch;              /* inputs per pass; 0: as many as the memory budget allows (at most 64) */
    int deletion_fill;      /* cv_eval_fill; default CV_EVAL_FILL_ZERO (RISE's definition) */
    size_t max_memory;      /* bytes a pass may plan (0: the memory available now, at most
                               CV_AUTO_BATCH_BYTES, as every automatic batch) */
    void (*progress)(void *user, long done, long total); /* optional, after each batch */
    void *user;
} cv_eval_options;

CV_API cv_eval_options cv_eval_defaults(void);

typedef struct {
    int steps;              /* N */
    int target;             /* the class measured */
    int n_classes;
    double *fraction;       /* [N + 1]: i / N */
    long *pixels;           /* [N + 1]: n_i, pixels removed or restored at step i */
    double *deletion;       /* [N + 1] probabilities; NULL when not asked for */
    double *insertion;      /* [N + 1]; NULL when not asked for */
    double deletion_auc, insertion_auc; /* NAN when not asked for */
    int deletion_fill;      /* cv_eval_fill the deletion curve used */
    long forwards;          /* inputs run */
    int batch;              /* inputs per pass */
    double seconds;         /* wall-clock time */
} cv_eval_curves;

/* Deletion and/or insertion (metrics: CV_EVAL_DELETION | CV_EVAL_INSERTION)
 * of map ([H, W] at the input's resolution, row-major) for class target
 * (0 <= target < the model's classes; -1: the top-1 class of the input).
 * in_shape: batch 1 in the model's layout (NCHW, or NHWC when
 * cv_model_input_nhwc). opt NULL: defaults. *out is left empty on failure. */
CV_API cv_status cv_eval_curves_run(const cv_model *m, const cv_shape *in_shape, const float *input, const float *map,
                                    int target, int metrics, const cv_eval_options *opt, cv_eval_curves *out,
                                    cv_error *err);
CV_API void cv_eval_curves_free(cv_eval_curves *c);

/* ---- helpers, public for tests and other front ends ---------------------- */

/* The ranking above: order[r] is the pixel of rank r (n = h * w). */
CV_API cv_status cv_eval_rank_pixels(const float *map, int h, int w, size_t *order, cv_error *err);
/* n_i of the definition above. */
CV_API long cv_eval_step_pixels(int i, int steps, long n_pixels);
/* The trapezoid rule over y[0..steps] at x = i / steps. */
CV_API double cv_eval_auc(const double *y, int steps);
/* The insertion start: the Gaussian blur above of every channel of one
 * input item (channels x h x w, or h x w x channels when nhwc). */
CV_API cv_status cv_eval_blur(float *out, const float *in, int channels, int h, int w, int nhwc, cv_error *err);

/* ---- pointing game ---------------------------------------------------------- */

/* A box in original-image pixels: pixel (x, y) covers [x, x + 1) x [y, y + 1),
 * and the box is the rectangle [x0, x1] x [y0, y1] of those coordinates
 * (x0 <= x1, y0 <= y1). */
typedef struct {
    double x0, y0, x1, y1;
} cv_eval_box;

#define CV_EVAL_POINTING_TOLERANCE 15.0

typedef struct {
    int hit;                /* the maximum (below) is within tolerance of the box */
    int max_x, max_y;       /* the maximum in map pixels: the first in row-major order */
    double distance;        /* from its centre to the box, original-image pixels (0 inside) */
    long n_max;             /* map pixels equal to the maximum */
    long n_max_hit;         /* ... of them within tolerance */
    cv_eval_box map_box;    /* the box in map pixels */
} cv_eval_pointing;

/* The pointing game (Zhang et al. 2016, as TorchRay scores it): a hit when
 * the map's maximum lies within tolerance (original-image pixels;
 * CV_EVAL_POINTING_TOLERANCE is TorchRay's 15) of the box. The map ([h, w])
 * covers the whole original image (image_w x image_h): a map pixel's centre
 * (x + 0.5, y + 0.5) is at ((x + 0.5) image_w / w, (y + 0.5) image_h / h)
 * in the original, and the distance is Euclidean there. Ties of the
 * maximum: the first in row-major order decides hit (NumPy's argmax, what
 * TorchRay takes); n_max and n_max_hit say how many tied and how many of
 * those would hit. NaN values are ignored; an all-NaN map is
 * CV_ERR_INVALID. */
CV_API cv_status cv_eval_pointing_game(const float *map, int h, int w, int image_w, int image_h, const cv_eval_box *box,
                                       double tolerance, cv_eval_pointing *out, cv_error *err);

/* ---- model-randomisation sanity check ------------------------------------- */

/* Adebayo et al., "Sanity Checks for Saliency Maps", 2018, cascading
 * randomisation. The parameterised layers are the Conv, ConvTranspose,
 * Gemm and MatMul nodes whose weight (input 1) is a float constant of the
 * model, counted from the output: layer 1 is the last. For k = 1..L the
 * weights of layers 1..k are re-drawn (cascading: layer j keeps its draw
 * for every k >= j) from a normal distribution of mean 0 and the standard
 * deviation of that layer's own weights (so activations keep their scale;
 * biases are kept), by the random stream of cnnviz_explain.h seeded with
 * seed, layer 1's values first in memory order, then layer 2's, ...; the
 * map is recomputed by the method, and compared with the original map:
 * Spearman rank correlation (cv_explain_rank_correlation) and SSIM
 * (cv_occlusion_compare's, scikit-image's defaults) of the two maps each
 * scaled to [0, 1] by its own minimum and maximum. A map whose rank
 * correlation is at least unchanged_rank is flagged unchanged: it does not
 * depend on those weights, so it cannot explain what they learnt. */
typedef struct {
    cv_explain_method method; /* one whose passes are all gradient passes: not Score-CAM or RISE */
    uint64_t seed;
    int max_layers;           /* 0: every parameterised layer, else at most this many */
    double unchanged_rank;    /* 0: 0.9 */
    cv_explain_options explain; /* the method's options */
    void (*progress)(void *user, long done, long total); /* after each map */
    void *user;
} cv_eval_sanity_options;

CV_API cv_eval_sanity_options cv_eval_sanity_defaults(void); /* saliency, seed 0 */

typedef struct {
    cv_explain_method method;
    int target;
    int height, width;
    int n_layers;            /* L: maps after k = 1..L */
    int *layer;              /* [L]: node index of layer k (k = 1 at [0]) */
    float *maps;             /* [(L + 1) x H x W]: the original map, then after k = 1..L */
    double *rank_correlation;/* [L] */
    double *ssim;            /* [L] */
    int *unchanged;          /* [L]: 1 when flagged */
    double seconds;
} cv_eval_sanity;

/* The check for class target (-1: the top-1 class). The model's weights are
 * overwritten while it runs and restored before it returns, so nothing else
 * may use the model meanwhile. *out is left empty on failure. */
CV_API cv_status cv_eval_sanity_run(cv_model *m, const cv_shape *in_shape, const float *input, int target,
                                    const cv_eval_sanity_options *opt, cv_eval_sanity *out, cv_error *err);
CV_API void cv_eval_sanity_free(cv_eval_sanity *s);

/* ---- pictures --------------------------------------------------------------- */

/* Both curves (probability against the fraction of pixels removed or
 * restored) on labelled axes, the AUCs in the legend; either curve may be
 * NULL. */
CV_API cv_status cv_eval_render_curves(const cv_eval_curves *c, const char *title, cv_image *out, cv_error *err);
/* The sanity maps as a labelled grid: the original map, then k = 1..L,
 * each captioned with k, the end of the layer's name, the rank correlation
 * (red, "same", when flagged unchanged) and the SSIM; the grid wraps into
 * rows near 3:2 with a short last row centred (cv_render_panels). m may be
 * NULL (no layer names). */
CV_API cv_status cv_eval_render_sanity(const cv_model *m, const cv_eval_sanity *s, cv_image *out, cv_error *err);

#ifdef __cplusplus
}
#endif
#endif
