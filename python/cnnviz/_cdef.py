"""The part of cnnviz's C API the binding calls, as cffi declares it.

cffi's ABI mode lays out structs from these declarations alone (nothing is
compiled at import), so they must match include/*.h exactly. The test suite
checks both halves against the real headers with the C compiler:
TYPES by sizeof/offsetof of every field and the value of every enum
constant, FUNCS by compiling them as redeclarations after the headers (a
signature that differs is a "conflicting types" error).

The cancel fields are `const volatile int *` in C; cffi has no volatile,
and the pointer's layout is the same.
"""

TYPES = """
typedef enum {
    CV_OK = 0, CV_ERR_IO, CV_ERR_FORMAT, CV_ERR_INVALID, CV_ERR_UNSUPPORTED,
    CV_ERR_SHAPE, CV_ERR_NOMEM, CV_ERR_LIMIT, CV_ERR_CANCELLED
} cv_status;
typedef struct { cv_status status; char msg[2048]; } cv_error;

typedef enum { CV_F32 = 1, CV_I64 = 7 } cv_dtype;
typedef struct { int ndim; int64_t d[8]; } cv_shape;
typedef struct { cv_dtype dtype; cv_shape shape; float *f; int64_t *i; float *grad; } cv_tensor;

typedef struct cv_model cv_model;
typedef struct {
    const char *keras_config;
    int keras_flip_kernels;
    size_t max_memory;
    int ignore_sidecar;
} cv_load_options;
typedef struct { int channels; int height, width; int nhwc; } cv_input_geometry;

typedef struct cv_run cv_run;
typedef struct {
    int stop_layer; int need_grad; int keep_all; int relu_redirect; int backward_rule; int conv_algo; int no_fusion;
} cv_run_options;

typedef struct { int w, h; int c; uint8_t *px; } cv_image;
typedef enum { CV_FIT_SQUASH = 0, CV_FIT_CROP, CV_FIT_PAD } cv_fit;
typedef struct { char name[16]; int bgr; float scale; float mean[3]; float std[3]; } cv_preprocess;
typedef enum { CV_RESIZE_ANTIALIAS = 0, CV_RESIZE_BILINEAR } cv_resize_mode;
typedef struct { int n; char **names; char *text; } cv_labels;

typedef struct { int channels, height, width; int nhwc; } cv_occlusion_geometry;
typedef enum { CV_OCCLUSION_SCORE_AUTO = 0, CV_OCCLUSION_SCORE_SOFTMAX, CV_OCCLUSION_SCORE_RAW } cv_occlusion_score;
typedef enum {
    CV_OCCLUSION_ENGINE_AUTO = 0, CV_OCCLUSION_ENGINE_FULL, CV_OCCLUSION_ENGINE_INCREMENTAL
} cv_occlusion_engine;
typedef void (*cv_occlusion_progress)(void *user, long done, long total);
typedef struct { int enabled; double tau; int coarse_factor; double drill_fraction; } cv_occlusion_approx;
typedef struct {
    int occ_size;
    int stride;
    const float *fill;
    float fill_value[4];
    int target;
    int batch;
    size_t max_memory;
    cv_occlusion_score score;
    cv_occlusion_engine engine;
    cv_occlusion_approx approx;
    cv_occlusion_progress progress;
    void *user;
    const int *cancel;
} cv_occlusion_params;
typedef struct cv_occlusion cv_occlusion;

typedef enum {
    CV_EXPLAIN_SALIENCY, CV_EXPLAIN_INPUTXGRAD, CV_EXPLAIN_SMOOTHGRAD, CV_EXPLAIN_IG, CV_EXPLAIN_GUIDED,
    CV_EXPLAIN_GRADCAM, CV_EXPLAIN_GRADCAMPP, CV_EXPLAIN_SCORECAM, CV_EXPLAIN_GUIDED_GRADCAM, CV_EXPLAIN_RISE,
    CV_EXPLAIN_COUNT
} cv_explain_method;
typedef struct {
    int layer;
    int samples;
    double sigma;
    int steps;
    const float *baseline;
    uint64_t seed;
    int rise_grid;
    double rise_p;
    int batch;
    size_t max_memory;
    void (*progress)(void *user, long done, long total);
    void *user;
    const int *cancel;
} cv_explain_options;
typedef struct {
    cv_explain_method method;
    int target;
    double score;
    double probability;
    int layer;
    cv_shape attr_shape;
    float *attribution;
    int height, width;
    float *map;
    double baseline_score, attribution_sum;
    long passes;
    int batch;
    double seconds;
} cv_explain_result;
typedef struct cv_explainer cv_explainer;

typedef enum { CV_FILTERS_SEED = 0, CV_FILTERS_LUCID = 1 } cv_filters_method;
typedef struct {
    int step, steps;
    int filters_done, filters_total;
    int chunk, n_chunks;
    int iteration, iterations;
} cv_filters_progress;
typedef struct {
    cv_filters_method method;
    int layer;
    const int *filters;
    int n_filters;
    int height, width;
    int iterations;
    const float *init;
    cv_preprocess pre;
    uint64_t seed;
    float lr;
    int max_batch;
    size_t max_memory;
    void (*progress)(void *user, const cv_filters_progress *p);
    void *progress_user;
    const int *cancel;
} cv_filters_options;
typedef struct {
    int count;
    int height, width, channels;
    int *filters;
    float *images;
    uint8_t *rgb;
    float *activation;
    int *dead;
    int n_dead;
    int iterations;
    int n_chunks;
} cv_filters_result;
"""

FUNCS = """
const char *cv_status_string(cv_status s);
size_t cv_memory_limit(size_t max_memory);
int cv_scores_to_probabilities(float *probs, const float *scores, size_t n);
int cv_topk(int *top, int k, const float *scores, size_t n);
size_t cv_shape_numel(const cv_shape *s);

cv_status cv_model_load(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err);
void cv_model_free(cv_model *m);
const char *cv_model_path(const cv_model *m);
int cv_model_num_outputs(const cv_model *m);
cv_shape cv_model_input_shape(const cv_model *m);
int cv_model_input_nhwc(const cv_model *m);
const char *cv_model_input_name(const cv_model *m);
const char *cv_model_meta(const cv_model *m, const char *key);
cv_status cv_model_input_geometry(const cv_model *m, int height, int width, cv_input_geometry *g, cv_error *err);
cv_shape cv_input_shape(const cv_input_geometry *g, int batch);
int cv_model_num_layers(const cv_model *m);
const char *cv_model_layer_name(const cv_model *m, int layer);
const char *cv_model_layer_op(const cv_model *m, int layer);
const char *cv_model_layer_output(const cv_model *m, int layer);
size_t cv_model_layer_params(const cv_model *m, int layer);
int cv_model_find_layer(const cv_model *m, const char *name, cv_error *err);
int cv_model_class_score_layer(const cv_model *m, int *before_softmax);

cv_run_options cv_run_defaults(void);
cv_status cv_run_create(cv_run **out, const cv_model *m, const cv_shape *input_shape, const cv_run_options *opt,
                        cv_error *err);
void cv_run_free(cv_run *r);
cv_status cv_run_forward(cv_run *r, const float *input, cv_error *err);
const cv_tensor *cv_run_output(const cv_run *r, int k);
cv_shape cv_run_layer_shape(const cv_run *r, int layer);
double cv_run_layer_macs(const cv_run *r, int layer);

cv_status cv_image_load_limited(cv_image *img, const char *path, size_t max_bytes, cv_error *err);
void cv_image_free(cv_image *img);
cv_status cv_image_fit(cv_image *out, const cv_image *in, int w, int h, cv_fit fit, const uint8_t pad_rgb[3],
                       cv_error *err);
int cv_fit_from_name(const char *name, cv_fit *fit);
cv_status cv_input_from_image(float *out, const cv_image *img, const cv_input_geometry *g, const cv_preprocess *p,
                              cv_resize_mode mode, cv_error *err);
cv_status cv_preprocess_preset(cv_preprocess *p, const char *name, cv_error *err);
cv_status cv_preprocess_set_mean(cv_preprocess *p, const char *csv, cv_error *err);
cv_status cv_preprocess_set_std(cv_preprocess *p, const char *csv, cv_error *err);
cv_status cv_preprocess_auto(cv_preprocess *p, const cv_model *m, int *assumed, cv_error *err);
float cv_preprocess_value(const cv_preprocess *p, float pixel, int c);
const char *cv_model_config_source(const cv_model *m);
cv_status cv_labels_read(cv_labels *out, const char *path, size_t max_bytes, cv_error *err);
cv_status cv_labels_for_model(cv_labels *out, const cv_model *m, size_t max_bytes, cv_error *err);
void cv_labels_free(cv_labels *l);
int cv_labels_find(const cv_labels *l, const char *name, cv_error *err);

cv_occlusion_params cv_occlusion_defaults(void);
cv_status cv_occlusion_grid_size(const cv_occlusion_geometry *g, int occ_size, int stride, int *rows, int *cols,
                                 cv_error *err);
cv_status cv_occlusion_create(cv_occlusion **out, const cv_model *m, const float *image,
                              const cv_occlusion_geometry *g, const cv_occlusion_params *p, cv_error *err);
void cv_occlusion_free(cv_occlusion *o);
const float *cv_occlusion_base_probs(const cv_occlusion *o, int *n_classes);
int cv_occlusion_softmax_applied(const cv_occlusion *o);
void cv_occlusion_grid(const cv_occlusion *o, int *rows, int *cols);
const char *cv_occlusion_engine_name(const cv_occlusion *o);
cv_status cv_occlusion_run(cv_occlusion *o, int target, double *map, int *top_class, double *top_prob,
                           cv_error *err);
void cv_occlusion_fill_mean(float value[4], const float *image, const cv_occlusion_geometry *g);
cv_status cv_occlusion_fill_blur(float *out, const float *image, const cv_occlusion_geometry *g, double sigma,
                                 cv_error *err);
cv_status cv_occlusion_attribution(float *out, const double *map, double base_prob, const cv_occlusion_geometry *g,
                                   int occ_size, int stride, cv_error *err);

const char *cv_explain_method_name(cv_explain_method m);
cv_status cv_explain_method_from_name(cv_explain_method *out, const char *name, cv_error *err);
cv_explain_options cv_explain_defaults(void);
cv_status cv_explainer_create(cv_explainer **out, const cv_model *m, const cv_shape *in_shape, const float *input,
                              const cv_explain_options *opt, cv_error *err);
void cv_explainer_free(cv_explainer *e);
const float *cv_explainer_probs(const cv_explainer *e, int *n_classes);
int cv_explainer_top_class(const cv_explainer *e);
int cv_explainer_default_layer(const cv_explainer *e, cv_error *err);
cv_status cv_explain_run(cv_explainer *e, cv_explain_method method, int target, cv_explain_result *out,
                         cv_error *err);
void cv_explain_result_free(cv_explain_result *r);

cv_filters_options cv_filters_defaults(void);
cv_status cv_filters_layer_channels(const cv_model *m, int layer, int height, int width, int *channels,
                                    cv_error *err);
int cv_filters_choose(int *out, int n, int channels, uint64_t seed);
cv_status cv_filters_run(cv_filters_result *res, const cv_model *m, const cv_filters_options *opt, cv_error *err);
void cv_filters_result_free(cv_filters_result *res);
const char *cv_filters_status(const cv_filters_result *res, int i);
"""

# Declared apart: the library branch adds it; until then the binding reads
# the version from the header (cnnviz._lib.version).
VERSION_FUNC = """
const char *cv_version(void);
"""
