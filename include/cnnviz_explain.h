/* cnnviz attribution methods: which input pixels a classifier's score for
 * one class depends on, from gradients (saliency, Input x Gradient,
 * SmoothGrad, Integrated Gradients, guided backpropagation), from a layer's
 * activations (Grad-CAM, Grad-CAM++, Score-CAM, guided Grad-CAM), or from
 * random masks (RISE), for any model cnnviz loads.
 *
 * Usage (error handling shortened):
 *
 *     // x: the preprocessed image, 1 x C x H x W (H x W x C when the model is NHWC)
 *     cv_shape in_shape = {4, {1, 3, 224, 224}};
 *     cv_explain_options o = cv_explain_defaults();
 *     cv_explainer *ex;
 *     cv_explainer_create(&ex, model, &in_shape, x, &o, &err);  // one forward pass
 *     int target = cv_explainer_top_class(ex);
 *     cv_explain_result res;
 *     cv_explain_run(ex, CV_EXPLAIN_GRADCAM, target, &res, &err);
 *     // res.attribution: [h, w] at the layer; res.map: [H, W] at the input
 *     cv_explain_result_free(&res);
 *     cv_explainer_free(ex);
 *
 * The class score y is the class's logit: the input of the graph's final
 * Softmax when the graph ends in one, else the model's output itself.
 * Probabilities are the softmax of the logits (or the output as it is when
 * it already is a distribution, all in [0, 1] summing to 1).
 *
 * Layouts: attributions of the gradient methods are in model-input space
 * (the layout the model takes, batch dimension dropped: [C, H, W], or
 * [H, W, C] for channels-last models); CAM attributions are [h, w] at the
 * chosen layer's resolution; RISE and guided Grad-CAM give [H, W]. Every
 * result also carries a map [H, W] at the input's resolution, what a
 * picture shows: for gradient methods the maximum over channels of the
 * absolute value (Captum's and Xplique's default), for CAM methods the
 * bilinear upsampling of the attribution (half-pixel centres, edges
 * clamped, as PyTorch's interpolate with align_corners=False).
 *
 * Gradients are computed with im2col convolutions
 * (cv_run_options.conv_algo = CV_CONV_IM2COL), so they agree with PyTorch's float32
 * gradients to rounding. Sampled methods (SmoothGrad, IG, Score-CAM, RISE)
 * run their samples as batches, as many per pass as fit the automatic
 * batch budget: cv_memory_limit(cv_explain_options.max_memory), at most
 * CV_AUTO_BATCH_BYTES, as occlusion and filters plan theirs.
 *
 * Random numbers (SmoothGrad's noise, RISE's masks) come from a documented
 * stream so that other implementations can reproduce a result exactly:
 * splitmix64 seeded with opt.seed; a uniform u = (z >> 11) * 2^-53; a
 * normal value by Box-Muller from two uniforms u1, u2 as
 * sqrt(-2 ln(1 - u1)) cos(2 pi u2). SmoothGrad draws one normal value per
 * input element, sample by sample in the input's memory order. RISE draws,
 * per mask, grid*grid uniforms (a cell is 1 when u < p, row-major), then
 * the shift down and the shift across as floor(u * cell) each.
 *
 * The library never prints; long work reports to opt.progress.
 */
#ifndef CNNVIZ_EXPLAIN_H
#define CNNVIZ_EXPLAIN_H

#include "cnnviz.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CV_EXPLAIN_SALIENCY,       /* dy/dx (Simonyan et al. 2014) */
    CV_EXPLAIN_INPUTXGRAD,     /* x * dy/dx (Shrikumar et al. 2016) */
    CV_EXPLAIN_SMOOTHGRAD,     /* mean of dy/dx at x + noise (Smilkov et al. 2017) */
    CV_EXPLAIN_IG,             /* Integrated Gradients (Sundararajan et al. 2017), right Riemann sum */
    CV_EXPLAIN_GUIDED,         /* guided backpropagation (Springenberg et al. 2015) */
    CV_EXPLAIN_GRADCAM,        /* Selvaraju et al. 2017 */
    CV_EXPLAIN_GRADCAMPP,      /* Chattopadhyay et al. 2018, closed-form weights */
    CV_EXPLAIN_SCORECAM,       /* Wang et al. 2020 */
    CV_EXPLAIN_GUIDED_GRADCAM, /* guided backprop x upsampled Grad-CAM */
    CV_EXPLAIN_RISE,           /* Petsiuk et al. 2018 */
    CV_EXPLAIN_COUNT
} cv_explain_method;

/* "saliency", "inputxgrad", "smoothgrad", "ig", "guided", "gradcam",
 * "gradcam++", "scorecam", "guided-gradcam", "rise". */
CV_API const char *cv_explain_method_name(cv_explain_method m);
/* The method named name; CV_ERR_INVALID listing the names otherwise. */
CV_API cv_status cv_explain_method_from_name(cv_explain_method *out, const char *name, cv_error *err);
/* 1 for the methods whose attribution is in input space ([C, H, W]). */
CV_API int cv_explain_method_is_gradient(cv_explain_method m);
/* 1 for the methods that read a layer (CAM methods and guided Grad-CAM). */
CV_API int cv_explain_method_uses_layer(cv_explain_method m);

typedef struct {
    int layer;              /* CAM layer (node index); -1: the last layer with a spatial output
                               (height or width above 1) before the class scores */
    int samples;            /* SmoothGrad copies (0: 50), RISE masks (0: 4000) */
    double sigma;           /* SmoothGrad noise: sigma x (max - min) of the input (0.15) */
    int steps;              /* IG steps n (50) */
    const float *baseline;  /* IG baseline x' in the input's shape and layout; NULL: zeros */
    uint64_t seed;          /* random stream (see above) */
    int rise_grid;          /* RISE grid side s (7) */
    double rise_p;          /* RISE probability that a cell is kept (0.5) */
    int batch;              /* samples per pass; 0: as many as max_memory allows (at most 64) */
    /* bytes a batched pass may plan; 0: the memory available (cv_memory_limit),
     * at most CV_AUTO_BATCH_BYTES, as for occlusion (and within the model's limit) */
    size_t max_memory;
    void (*progress)(void *user, long done, long total); /* optional, called after each batch */
    void *user;
    /* Optional: when *cancel is nonzero (set from another thread or a
     * signal handler), cv_explain_run stops after the batch under way with
     * CV_ERR_CANCELLED. NULL: never. */
    const volatile int *cancel;
} cv_explain_options;

CV_API cv_explain_options cv_explain_defaults(void);

typedef struct {
    cv_explain_method method;
    int target;             /* class explained */
    double score;           /* y(x): the class's logit */
    double probability;     /* its probability */
    int layer;              /* CAM layer used, -1 for other methods */
    cv_shape attr_shape;    /* see the layouts above */
    float *attribution;     /* owned */
    int height, width;      /* the input's */
    float *map;             /* [height, width], owned */
    /* IG: y(x'), and the sum of the attribution, which completeness says
     * equals y(x) - y(x') as the steps grow */
    double baseline_score, attribution_sum;
    long passes;            /* forward (+ backward) passes made, batch items counted */
    int batch;              /* items per pass */
    double seconds;         /* wall-clock time of cv_explain_run */
} cv_explain_result;

typedef struct cv_explainer cv_explainer;

/* Plan for one input (in_shape: batch 1, the model's layout), run it once
 * and keep its class scores. The model and input must stay alive until
 * cv_explainer_free; opt is copied (NULL: defaults). */
CV_API cv_status cv_explainer_create(cv_explainer **out, const cv_model *m, const cv_shape *in_shape, const float *input,
                                     const cv_explain_options *opt, cv_error *err);
/* Explain another input of the same shape with the same plan: one forward
 * pass, the scores replaced, the kept runs reused (what a dataset loop
 * calls per image). input must stay alive as for create. On failure the
 * explainer holds no valid input until a later call succeeds. */
CV_API cv_status cv_explainer_set_input(cv_explainer *e, const float *input, cv_error *err);
CV_API void cv_explainer_free(cv_explainer *e);

/* Class probabilities of the input ([n_classes], owned by e; n_classes may
 * be NULL). */
CV_API const float *cv_explainer_probs(const cv_explainer *e, int *n_classes);
/* Logits (the class scores y) of the input ([n_classes], owned by e). */
CV_API const float *cv_explainer_logits(const cv_explainer *e, int *n_classes);
CV_API int cv_explainer_top_class(const cv_explainer *e);
/* 1 when the scores are the input of a final Softmax. */
CV_API int cv_explainer_before_softmax(const cv_explainer *e);
/* The node whose first output the class scores are. */
CV_API int cv_explainer_logit_layer(const cv_explainer *e);
/* The layer CAM methods read when opt.layer is -1, or -1 with a message
 * when the model has no layer with a spatial output. */
CV_API int cv_explainer_default_layer(const cv_explainer *e, cv_error *err);

/* Explain class target (0 <= target < n_classes) with method; *out is
 * filled (free it with cv_explain_result_free), and left empty on failure. */
CV_API cv_status cv_explain_run(cv_explainer *e, cv_explain_method method, int target, cv_explain_result *out,
                                cv_error *err);
CV_API void cv_explain_result_free(cv_explain_result *r);

/* ---- helpers, public for tests and other front ends ---------------------- */

/* Bilinear resize of one plane (half-pixel centres, edges clamped, as
 * PyTorch's interpolate(mode="bilinear", align_corners=False)):
 * in [h, w] -> out [oh, ow]. */
CV_API void cv_explain_upsample(float *out, int oh, int ow, const float *in, int h, int w);

/* Spearman rank correlation of two maps of n values (ties get their mean
 * rank): how alike two attributions are, as Adebayo et al.'s sanity checks
 * measure it. */
CV_API double cv_explain_rank_correlation(const float *a, const float *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif
