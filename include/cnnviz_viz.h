/* cnnviz filter visualisation: for chosen filters (channels) of a layer,
 * synthesise the images that make each one's mean activation large.
 *
 *     cv_filters_options o = cv_filters_defaults();
 *     o.layer = cv_model_find_layer(model, "conv5_3", &err);
 *     int ks[3] = {3, 17, 42};
 *     o.filters = ks;
 *     o.n_filters = 3;
 *     o.height = o.width = 128;
 *     cv_preprocess_preset(&o.pre, "raw", &err);  // how 0..255 pixels become input
 *     o.pre.bgr = 1;
 *     cv_filters_result res;
 *     if (cv_filters_run(&res, model, &o, &err) != CV_OK) { ... err.msg ... }
 *     // res.rgb: res.count images, height x width x 3 uint8 RGB, ready to save
 *     cv_filters_result_free(&res);
 *
 * All chosen filters are optimised together as one batch (item i maximises
 * channel filters[i] of item i), in chunks that fit opt.max_memory.
 * Random numbers (noise, views, initial spectra) come from opt.seed and the
 * filter index, so a filter's picture does not depend on batching.
 *
 * Methods:
 * - CV_FILTERS_SEED: the original tool's algorithm to the letter
 *   (SEED.md "Program 1", in the project's shared folder): RMS-normalised gradient, step 0.9,
 *   3:3:1 blend of 3x3 box blur / 0.8 decay / clipping of weak pixels, minus
 *   the current image, on model-input values; deprocess by mean/std.
 * - CV_FILTERS_LUCID: a Fourier (1/f) parameterisation with ImageNet colour
 *   decorrelation and a sigmoid, random jitter/scale/rotation every step,
 *   Adam. Pixels map to the model through opt.pre.
 */
#ifndef CNNVIZ_VIZ_H
#define CNNVIZ_VIZ_H

#include "cnnviz.h"
#include "cnnviz_io.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CV_FILTERS_SEED = 0, CV_FILTERS_LUCID = 1 } cv_filters_method;

/* Where a run is, passed to the progress callback after every iteration. */
typedef struct {
    int step, steps;                  /* iterations done / to do, all chunks together */
    int filters_done, filters_total;  /* filters finished (whole chunks) */
    int chunk, n_chunks;              /* 0-based chunk being optimised */
    int iteration, iterations;        /* within the chunk, 1-based after the step */
} cv_filters_progress;

typedef struct {
    cv_filters_method method;
    int layer;                /* layer index (cv_model_find_layer); its output must be N x C x H x W */
    const int *filters;       /* channels to visualise, in output order */
    int n_filters;
    int height, width;        /* image size = model input size */
    int iterations;           /* 0: the method's default (20 seed, 256 lucid) */
    /* seed: starting image, one item of model-input values in the model's
     * input layout (C x H x W, or H x W x C for channels-last models);
     * NULL: uniform noise U[0,1) * 20 + 128 in pixel units through pre. */
    const float *init;
    cv_preprocess pre;        /* 0..255 pixels -> model input, channels as fed (bgr) */
    uint64_t seed;            /* random seed */
    float lr;                 /* lucid: Adam step (0: 0.05) */
    int max_batch;            /* most filters per chunk (0: as max_memory allows) */
    size_t max_memory;        /* bytes of activations and gradients per chunk: the memory limit
                                 (0 = the memory available now, cv_memory_limit), at most
                                 CV_AUTO_BATCH_BYTES when max_batch is 0 */
    void (*progress)(void *user, const cv_filters_progress *p);
    void *progress_user;
    /* Optional: when *cancel is nonzero (set from another thread or a
     * signal handler), cv_filters_run stops after the iteration under way
     * with CV_ERR_CANCELLED and res left empty. NULL: never. */
    const volatile int *cancel;
} cv_filters_options;

CV_API cv_filters_options cv_filters_defaults(void);

typedef struct {
    int count;                /* number of filters */
    int height, width, channels;
    int *filters;             /* [count] channel indices, as requested */
    /* [count][height][width][channels]: the final images before any
     * deprocessing, as model-input values in the channel order fed to the
     * model (lucid: its un-warped image through pre). */
    float *images;
    /* [count][height][width][3]: the pictures, RGB uint8 (seed: the
     * original's mean/std deprocess; lucid: the sigmoid image itself). */
    uint8_t *rgb;
    float *activation;        /* [count] the objective on the final image: mean of the channel */
    int *dead;                /* [count] 1: the input gradient was exactly zero at every step */
    int n_dead;
    int iterations;           /* iterations actually run */
    int n_chunks;
} cv_filters_result;

/* Check that `layer` can be visualised at height x width and return its
 * channel count: its output must be 4-D (N, C, H, W). Cheap: plans a run
 * without executing it. */
CV_API cv_status cv_filters_layer_channels(const cv_model *m, int layer, int height, int width, int *channels,
                                           cv_error *err);

/* Choose n distinct channels of `channels` at random (from seed), sorted
 * ascending; when n >= channels, all of them. out: min(n, channels) ints. */
CV_API int cv_filters_choose(int *out, int n, int channels, uint64_t seed);

/* Run the optimisation. Everything is checked before work starts; on error
 * res is left empty. */
CV_API cv_status cv_filters_run(cv_filters_result *res, const cv_model *m, const cv_filters_options *opt,
                                cv_error *err);
CV_API void cv_filters_result_free(cv_filters_result *res);
/* What filters.txt says of filter i: "dead" (no gradient at any step),
 * "inactive" (its final mean activation is exactly 0: the picture does not
 * excite it, whatever it looks like) or "ok". */
CV_API const char *cv_filters_status(const cv_filters_result *res, int i);

#ifdef __cplusplus
}
#endif
#endif
