/* cnnviz — see inside convolutional neural networks.
 *
 * Usage (error handling shortened):
 *
 *     cv_error err;
 *     cv_model *model;
 *     if (cv_model_load(&model, "net.onnx", NULL, &err) != CV_OK) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 1;
 *     }
 *     // run the network on one 1x3x224x224 float32 NCHW input
 *     cv_shape in_shape = {4, {1, 3, 224, 224}};
 *     cv_run *run;
 *     cv_run_options opt = cv_run_defaults();
 *     cv_run_create(&run, model, &in_shape, &opt, &err);
 *     cv_run_forward(run, input_data, &err);
 *     const cv_tensor *logits = cv_run_output(run, 0);
 *     ...
 *     cv_run_free(run);
 *     cv_model_free(model);
 *
 * Conventions:
 * - Every function that can fail returns a cv_status and, on failure, writes
 *   a one-line message into the caller's cv_error naming the file, node or
 *   layer and what was expected. The library never prints and never exits.
 * - Tensors are float32 (or int64 for shape arithmetic), dense, C order.
 *   Activations are NCHW unless a model's declared input says otherwise.
 * - Every *_create / *_load has a matching *_free that accepts NULL.
 */
#ifndef CNNVIZ_H
#define CNNVIZ_H

/* The release of the library and the tool (`cnnviz --version`), in one
 * place: the Makefile reads these three numbers for the shared library's
 * file name and soname (libcnnviz.so.MAJOR), cnnviz.pc and the man page.
 * Semantic versioning: MAJOR changes when the ABI breaks. */
#define CNNVIZ_VERSION_MAJOR 0
#define CNNVIZ_VERSION_MINOR 1
#define CNNVIZ_VERSION_PATCH 0
#define CV_VERSION_STR_(x) #x
#define CV_VERSION_STR(x) CV_VERSION_STR_(x)
/* "0.1.0": made from the numbers above, so the two cannot disagree. */
#define CV_VERSION                                                                                   \
    CV_VERSION_STR(CNNVIZ_VERSION_MAJOR) "." CV_VERSION_STR(CNNVIZ_VERSION_MINOR) "."                \
    CV_VERSION_STR(CNNVIZ_VERSION_PATCH)

/* Marks the public API: the library is built with -fvisibility=hidden, so
 * only functions declared with CV_API are exported from libcnnviz.so
 * (tests/test_exports.sh compares the two lists). Every function in the
 * public headers carries it; nothing else may. A binding generator that
 * reads the headers without the attribute (cffi's cdef) can preprocess
 * them with -DCV_API= . */
#ifndef CV_API
#if defined(__GNUC__) || defined(__clang__)
#define CV_API __attribute__((visibility("default")))
#else
#define CV_API
#endif
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------ */

typedef enum {
    CV_OK = 0,
    CV_ERR_IO,          /* a file could not be opened, read or written */
    CV_ERR_FORMAT,      /* a file is not what it claims to be (corrupt, truncated) */
    CV_ERR_INVALID,     /* bad argument or inconsistent model (user's input is wrong) */
    CV_ERR_UNSUPPORTED, /* valid, but not implemented by cnnviz */
    CV_ERR_SHAPE,       /* tensor shapes do not fit together */
    CV_ERR_NOMEM,       /* allocation failed */
    CV_ERR_LIMIT,       /* a size exceeds a configured limit */
    CV_ERR_CANCELLED    /* the caller's cancel flag was set (options' cancel field): stopped between batches */
} cv_status;

typedef struct {
    cv_status status;
    /* One line: control characters from file contents are escaped, and a
     * message longer than this keeps its start and its end (the reason)
     * with "..." between. */
    char msg[2048];
} cv_error;

/* The library's release, CV_VERSION as it was built: a program linked
 * against libcnnviz.so can compare it with the CV_VERSION it was compiled
 * with (a binding without the header, e.g. Python's cffi, reads it here). */
CV_API const char *cv_version(void);

CV_API const char *cv_status_string(cv_status s);

/* Copy the string in to out (cap bytes, always NUL-terminated when cap > 0)
 * with control characters, C1 controls and bytes that are not UTF-8
 * written as \xNN, so a name or label read from a file can be printed
 * without moving the cursor or sending escapes to a terminal. Returns the
 * length the whole escaped string needs (as snprintf). */
CV_API size_t cv_escape(char *out, size_t cap, const char *in);

/* ---- instruction sets --------------------------------------------------- */

/* The library is built for any x86-64; its vector kernels (Winograd
 * convolution, ...) exist once per level and the best the CPU has is used.
 * CNNVIZ_ISA=generic|avx2|avx512 in the environment (read at the first
 * kernel call) or cv_isa_set lowers it: for tests, and to compare speeds.
 * Every level computes the same function; results differ only in rounding
 * (fused multiply-adds, summation order within a vector). */
typedef enum {
    CV_ISA_GENERIC = 0, /* x86-64 baseline (SSE2), or any other CPU */
    CV_ISA_AVX2,        /* x86-64-v3: AVX2 + FMA */
    CV_ISA_AVX512       /* x86-64-v4: AVX-512 F/VL/BW/DQ (Zen 4, Sapphire Rapids, ...) */
} cv_isa;

/* The best level this CPU and OS support. */
CV_API cv_isa cv_isa_detected(void);
/* The level the kernels use now. */
CV_API cv_isa cv_isa_active(void);
/* Use level isa from now on, in every thread (CV_ERR_UNSUPPORTED when the
 * CPU lacks it). Call it between runs, not during one. */
CV_API cv_status cv_isa_set(cv_isa isa, cv_error *err);
/* "generic", "avx2", "avx512". */
CV_API const char *cv_isa_name(cv_isa isa);
/* The level named name (as cv_isa_name writes it), or CV_ERR_INVALID. */
CV_API cv_status cv_isa_parse(const char *name, cv_isa *isa, cv_error *err);
/* The kernels the BLAS's sgemm runs ("Cooperlake", "Haswell", ...; "not
 * OpenBLAS" with another BLAS): OpenBLAS picks them from the CPU when it
 * loads, or takes OPENBLAS_CORETYPE. Where OpenBLAS picks kernels of a
 * lower tier than the CPU has (a CPU newer than the release: SSE3 kernels
 * on an AVX2 or AVX-512 CPU, AVX2 ones on Zen 5), the library switches it
 * to Haswell/SkylakeX kernels before its first BLAS call, unless
 * OPENBLAS_CORETYPE is set. Benchmarks print it. */
CV_API const char *cv_blas_core(void);

/* ---- tensors ------------------------------------------------------------ */

#define CV_MAX_DIMS 8

typedef enum { CV_F32 = 1, CV_I64 = 7 } cv_dtype; /* numbers as ONNX elem_type */

typedef struct {
    int ndim;
    int64_t d[CV_MAX_DIMS];
} cv_shape;

typedef struct {
    cv_dtype dtype;
    cv_shape shape;
    float *f;      /* data when dtype == CV_F32 */
    int64_t *i;    /* data when dtype == CV_I64 */
    float *grad;   /* gradient buffer (same shape), NULL when not needed */
} cv_tensor;

/* Number of elements (1 for ndim 0); 0 when a dimension is negative or the
 * product overflows or passes 2^48 (far past any real tensor), so callers
 * can treat 0 of a shape with no zero dimension as "too large". */
CV_API size_t cv_shape_numel(const cv_shape *s);
/* 1 when a and b have the same rank and dimensions, else 0. */
CV_API int cv_shape_equal(const cv_shape *a, const cv_shape *b);
/* "[1, 3, 224, 224]" into buf; returns buf. */
CV_API char *cv_shape_str(const cv_shape *s, char *buf, size_t len);

/* ---- class scores ------------------------------------------------------- */

/* 1 when the n scores already are a probability distribution: every one in
 * [0, 1] (NaN is not) and their sum within 1e-3 of 1, as a softmax or
 * sigmoid-normalised output layer gives. */
CV_API int cv_scores_is_distribution(const float *scores, size_t n);
/* A classifier's n scores as probabilities: copied when they already are a
 * distribution (cv_scores_is_distribution), else their softmax (computed in
 * double, shifted by the maximum). probs may be scores. Returns 1 when the
 * softmax was applied, 0 when the scores were copied. */
CV_API int cv_scores_to_probabilities(float *probs, const float *scores, size_t n);
/* The k highest of n scores: their indices into top (min(k, n) of them),
 * highest first; equal scores in index order; NaN below every number.
 * O(n log k); n at most INT_MAX. Returns min(k, n) (0 when k <= 0). */
CV_API int cv_topk(int *top, int k, const float *scores, size_t n);

/* ---- models ------------------------------------------------------------- */

typedef struct cv_model cv_model;

typedef struct {
    const char *keras_config;   /* Keras: architecture JSON for weights-only files */
    int keras_flip_kernels;     /* Keras: Theano->TF convert_kernel on conv weights */
    size_t max_memory;          /* bytes the model's constants, and later each run's activations
                                   (cv_run_create), may take; larger is refused before
                                   allocating (CV_ERR_LIMIT). 0 = the memory available now
                                   (cv_memory_limit). */
    int ignore_sidecar;         /* do not read "<path>.cnnviz.json" (cv_model_config_read) */
} cv_load_options;

/* Memory limits. Every max_memory / max_bytes in cnnviz means one thing: the
 * most bytes that call (or the model's runs) may allocate; what would need
 * more is refused before allocating, with CV_ERR_LIMIT and a message naming
 * both sizes. 0 = the memory available now. cv_memory_limit resolves a
 * value the way every part of the library does: max_memory itself when it
 * is not 0, else MemAvailable from /proc/meminfo (else the free physical
 * pages; 4 GiB when neither can be read). */
CV_API size_t cv_memory_limit(size_t max_memory);
/* A monotonic clock, in seconds: for timing runs (an arbitrary origin). */
CV_API double cv_seconds(void);
/* Automatic batch sizes (cv_occlusion_params.batch 0, cv_filters_options
 * max_batch 0) plan a batch's buffers for at most the memory limit and at
 * most this many bytes: beyond it a larger batch costs memory, not time. */
#define CV_AUTO_BATCH_BYTES ((size_t)2 << 30)

/* Load an ONNX (.onnx) or Keras HDF5 (.h5) model, chosen by the file's
 * magic, then its sidecar "<path>.cnnviz.json" when one is beside it
 * (cnnviz_io.h: cv_model_config): what the sidecar declares overrides the
 * model's own metadata; a sidecar that does not parse fails the load. */
CV_API cv_status cv_model_load(cv_model **out, const char *path,
                               const cv_load_options *opt, cv_error *err);
CV_API void cv_model_free(cv_model *m);

/* The path the model was loaded from. */
CV_API const char *cv_model_path(const cv_model *m);
/* Number of graph outputs (cv_run_output's k ranges over them). */
CV_API int cv_model_num_outputs(const cv_model *m);
/* The model's input is its one real (non-initializer) input: cnnviz
 * models have exactly one. Its declared shape (symbolic or unknown
 * dimensions are -1; ndim 0 when it declares none), layout and name. */
CV_API cv_shape cv_model_input_shape(const cv_model *m);
/* 1 when the declared input is channels-last (N,H,W,C). */
CV_API int cv_model_input_nhwc(const cv_model *m);
CV_API const char *cv_model_input_name(const cv_model *m);
/* Metadata value for key (ONNX metadata_props; Keras files give
 * "keras_version" and "backend"), or NULL. */
CV_API const char *cv_model_meta(const cv_model *m, const char *key);

/* The image one batch item of the model's input holds. */
typedef struct {
    int channels;        /* 1 (grey) or 3 */
    int height, width;
    int nhwc;            /* 1: laid out H x W x C (channels-last), 0: C x H x W */
} cv_input_geometry;
/* The model's input as an image. height and width > 0 choose the size (for
 * an input whose size is free, or to run at another size); 0 takes the
 * declared size. An input that declares no shape is taken as 3 channels.
 * CV_ERR_UNSUPPORTED when the input is not 4-D or has other than 1 or 3
 * channels; CV_ERR_INVALID when its size is free and none is given. */
CV_API cv_status cv_model_input_geometry(const cv_model *m, int height, int width, cv_input_geometry *g,
                                         cv_error *err);
/* The input shape of `batch` items of that geometry, in its layout. */
CV_API cv_shape cv_input_shape(const cv_input_geometry *g, int batch);

/* Layers are nodes. A layer can be named by its node name or by the name of
 * (one of) its output tensors. */
CV_API int cv_model_num_layers(const cv_model *m);
CV_API const char *cv_model_layer_name(const cv_model *m, int layer);   /* node name or first output */
CV_API const char *cv_model_layer_op(const cv_model *m, int layer);
CV_API const char *cv_model_layer_output(const cv_model *m, int layer); /* first output tensor name */
/* Parameter count of the layer's constant inputs (weights, biases). */
CV_API size_t cv_model_layer_params(const cv_model *m, int layer);
/* Index of the layer named `name`, or -1 and a message listing close matches. */
CV_API int cv_model_find_layer(const cv_model *m, const char *name, cv_error *err);
/* The layer whose output holds the class scores (logits): the producer of
 * the final Softmax's input when the first output is a Softmax
 * (*before_softmax = 1), else the first output's producer; -1 if none. */
CV_API int cv_model_class_score_layer(const cv_model *m, int *before_softmax);

/* ---- running ------------------------------------------------------------ */

typedef struct cv_run cv_run;

/* Backward rules (cv_run_options.backward_rule).
 * CV_BACKWARD_EXACT: the true gradient.
 * CV_BACKWARD_GUIDED: guided backpropagation (Springenberg et al., "Striving
 *   for Simplicity", 2015): at every Relu the gradient arriving from above is
 *   clamped to max(0, g) before the Relu's own backward, so only positive
 *   evidence flows to the input. Other activations (LeakyRelu, Clip/Relu6,
 *   Elu, ...) are left exact, as Captum's GuidedBackprop does. The clamp is
 *   made in place: after the pass, a Relu output's gradient buffer holds the
 *   clamped values. */
typedef enum { CV_BACKWARD_EXACT = 0, CV_BACKWARD_GUIDED = 1 } cv_backward_rule;

/* How 3x3 / stride 1 / group 1 convolutions are computed
 * (cv_run_options.conv_algo), in both directions, and those of one group
 * with at most 4 input channels (a first layer on RGB or grey images):
 * a direct kernel forward, unless CV_CONV_IM2COL. Other convolutions (1x1,
 * depthwise, strided, grouped) have one kernel each and ignore it.
 * CV_CONV_AUTO: Winograd F(4x4, 3x3) where it pays (16 or more channels in
 *   and out, 32 or more 4x4 output tiles), im2col + sgemm elsewhere: the
 *   fastest. Winograd rounds more coarsely than a direct sum: on
 *   torchvision ResNet18 (random weights), input gradients through
 *   Winograd backward are 4.8e-6 relative off float64 where PyTorch's
 *   float32 is 6.0e-7 (8x); through Winograd forward only, 6.8e-7.
 * CV_CONV_EXACT_BACKWARD: Winograd forward where it pays, im2col + sgemm
 *   backward: gradients as close to float64 as a framework's float32 ones,
 *   at most of AUTO's speed (what cnnviz explain uses).
 * CV_CONV_IM2COL: never Winograd, nor the direct kernel: im2col + sgemm,
 *   every convolution rounding like a direct sum, in both directions.
 * CV_CONV_WINOGRAD: Winograd wherever it applies, even where it is slower
 *   (for tests and benchmarks of the Winograd kernels). */
typedef enum {
    CV_CONV_AUTO = 0,
    CV_CONV_IM2COL = 1,
    CV_CONV_WINOGRAD = 2,
    CV_CONV_EXACT_BACKWARD = 3
} cv_conv_algo;

typedef struct {
    int stop_layer;     /* run layers up to and including this one; -1 = whole graph */
    int need_grad;      /* keep activations and allow cv_run_backward */
    int keep_all;       /* keep every activation after forward (no gradients) */
    /* Backward through Relu: for a batch item whose ordinary Relu gradient
     * is zero everywhere, pass the gradient where it would switch the unit
     * on (lucid's "redirected ReLU"), so optimising an image can start from
     * inputs where the unit is off. 0 = the exact gradient. */
    int relu_redirect;
    /* How cv_run_backward propagates through ReLU gates (cv_backward_rule). */
    int backward_rule;
    /* Convolution algorithm (cv_conv_algo). 0 = CV_CONV_AUTO, the fastest. */
    int conv_algo;
    /* 1: run every node on its own. By default a Relu or Clip that alone
     * reads a Conv's output (and is not asked for: no keep_all, need_grad
     * or stop there) is folded into the Conv, which stores the clamped
     * values itself: the same values bit for bit, without a pass over
     * memory of their own. For layer-by-layer profiles and comparisons. */
    int no_fusion;
} cv_run_options;

CV_API cv_run_options cv_run_defaults(void);

/* Plan a run for one input shape: infer every shape, fold constants, check
 * sizes. A plan whose activations (and gradients, with need_grad) would
 * take more than the model's memory limit (cv_load_options.max_memory) is
 * refused with CV_ERR_LIMIT and a message naming the largest tensor. */
CV_API cv_status cv_run_create(cv_run **out, const cv_model *m, const cv_shape *input_shape,
                               const cv_run_options *opt, cv_error *err);
CV_API void cv_run_free(cv_run *r);

/* input: numel(input_shape) floats in the model's input layout. */
CV_API cv_status cv_run_forward(cv_run *r, const float *input, cv_error *err);

/* Output k of the graph (or of stop_layer's node when stop_layer >= 0). */
CV_API const cv_tensor *cv_run_output(const cv_run *r, int k);
/* Output tensor of a layer after forward, when the run still holds it
 * (need_grad, keep_all, or a constant); NULL otherwise. */
CV_API const cv_tensor *cv_run_layer_output(const cv_run *r, int layer);
/* Planned shape of a layer's first output (ndim 0 if the layer is not part
 * of the run). Known right after cv_run_create. */
CV_API cv_shape cv_run_layer_shape(const cv_run *r, int layer);
/* Multiply-adds of a layer for the planned shape. */
CV_API double cv_run_layer_macs(const cv_run *r, int layer);
/* Wall-clock seconds the run has spent in a layer, over all its forwards
 * (or, backward nonzero, its backward passes) so far: a profile. */
CV_API double cv_run_layer_seconds(const cv_run *r, int layer, int backward);

/* Backward from the first output of `layer`: seed its gradient with
 * seed (same shape as that output), propagate to the input. The input
 * gradient is returned in *input_grad (owned by the run, valid until the
 * next call). Requires need_grad. */
CV_API cv_status cv_run_backward(cv_run *r, int layer, const float *seed,
                                 const float **input_grad, cv_error *err);
/* The same backward, but only through the layers computed from the output
 * of `until` (a layer before `layer`): afterwards
 * cv_run_layer_output(r, until)->grad holds d(seed . output)/d(until's
 * output), and no gradient below it is computed (gradients there read 0). */
CV_API cv_status cv_run_backward_until(cv_run *r, int layer, const float *seed, int until, cv_error *err);

/* ---- incremental occlusion inference ------------------------------------- */

/* Exact occlusion inference that recomputes, per position, only the part of
 * each layer an occluding patch can reach (see src/core/incremental.c).
 *
 * Plan for the clean input (1 x C x H x W, NCHW, preprocessed) and the
 * patch positions of a cv_incr_patches. */
typedef struct cv_incr cv_incr;
/* Where the occluding patches go: patch p covers rows [y[p], y[p] + h) and
 * columns [x[p], x[p] + w), inside the input. The arrays are read by
 * cv_incr_create only (not kept). */
typedef struct {
    int n;            /* positions, >= 1 */
    const int *y;     /* [n] top rows */
    const int *x;     /* [n] left columns */
    int h, w;         /* the patch's height and width (the same for all) */
} cv_incr_patches;
typedef struct {
    int max_batch;    /* positions per cv_incr_run, >= 1 (default 1) */
    /* Projective-field threshold tau in (0, 1] (Krypton's approximate
     * mode): in every layer the recomputed region may grow to at most
     * ceil(tau * side) of the layer's map per dimension, centred where the
     * exact region is; what the patch would reach beyond it is taken as
     * unchanged. 1 (the default): exact. */
    double field_cap;
    /* Another cv_incr for the same model and clean input whose clean
     * activations to read instead of running the network again (a new plan
     * for other positions); it must outlive this one. NULL (default): run
     * the clean input here. */
    const cv_incr *share_clean;
} cv_incr_options;
CV_API cv_incr_options cv_incr_defaults(void);
/* opt: NULL for the defaults. */
CV_API cv_status cv_incr_create(cv_incr **out, const cv_model *m, const cv_shape *in_shape, const float *clean_input,
                                const cv_incr_patches *patches, const cv_incr_options *opt, cv_error *err);
/* Evaluate positions [first, first + count) (count <= opt->max_batch). patches:
 * count x C x patch_h x patch_w, the input's values inside each patch window
 * (the occluded values). *out: output 0 of the model for those positions,
 * [count, ...], valid until the next call. */
CV_API cv_status cv_incr_run(cv_incr *ic, int first, int count, const float *patches, const cv_tensor **out,
                             cv_error *err);
/* Multiply-adds of full inference over those of incremental, per position. */
CV_API double cv_incr_speedup_bound(const cv_incr *ic);
/* Wall-clock seconds cv_incr_run has spent in a layer (a node index, as for
 * cv_run_layer_*), summed over all runs: where the time goes. */
CV_API double cv_incr_layer_seconds(const cv_incr *ic, int layer);
/* Estimated multiply-adds per position in a layer (its full count scaled
 * by the part of its output recomputed). */
CV_API double cv_incr_layer_macs(const cv_incr *ic, int layer);
/* Bytes of buffers one position adds to a batch at the peak of a run (an
 * estimate from above): batch x this, plus the clean activations, is what
 * cv_incr_run needs. */
CV_API double cv_incr_bytes_per_position(const cv_incr *ic);
CV_API void cv_incr_free(cv_incr *ic);

#ifdef __cplusplus
}
#endif
#endif
