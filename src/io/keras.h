/* Private to the Keras HDF5 importer (keras.c, keras_weights.c,
 * keras_config.c, keras_layers.c, keras_graph.c).
 *
 * keras_weights.c reads the HDF5 side: string attributes, the per-layer
 * weight arrays in both file layouts (by layer name under `weight_names`,
 * or the old `layer_<k>/param_<p>` layout by position).
 * keras_config.c walks a Keras model config (cJSON): input, layer calls in
 * dependency order, outputs. keras_layers.c converts each layer class into
 * ONNX-op nodes with the builders of keras_graph.c.
 * keras.c decides what kind of file it has and ties them together.
 */
#ifndef CV_KERAS_H
#define CV_KERAS_H
#include "../core/graph.h"
#include <cjson/cJSON.h>
#include <hdf5.h>
#include <stdbool.h>

/* Caps on what a hostile file can make us allocate before the weights
 * budget applies. */
#define KR_MAX_ATTR_BYTES ((size_t)64 << 20) /* model_config JSON, name lists */
#define KR_MAX_LIST 1000000                  /* entries of a name list */
#define KR_MAX_LAYERS 100000                 /* layers in a model / old file */

/* One weight array as stored (Keras order, e.g. HWIO for a conv kernel). */
typedef struct {
    int ndim;
    int64_t d[CV_MAX_DIMS];
    float *data; /* owned */
} kr_array;

typedef struct {
    const char *path;  /* the model file, for messages */
    hid_t file;
    hid_t root;        /* group holding one group per layer (or layer_<k>) */
    int old_layout;    /* layer_<k>/param_<p>, matched by position */
    int n_old;         /* old layout: number of layer_<k> groups */
    int next_old;      /* old layout: next layer_<k> to consider */
    size_t max_bytes;  /* budget for all weight arrays together */
    size_t used_bytes;
} kr_weights;

/* Returns 1 if `name` is an attribute of obj, 0 otherwise. */
int kr_attr_exists(hid_t obj, const char *name);
/* A scalar (or one-element) string attribute as a new nul-terminated
 * string; *out = NULL (and CV_OK) when the attribute is absent. */
cv_status kr_attr_string(hid_t obj, const char *name, const char *where, const char *path,
                         char **out, cv_error *err);
/* A list-of-strings attribute (fixed or variable length; an empty list may
 * be stored with any type). Keras splits long lists into name0, name1, ...;
 * those are joined. *n = -1 when absent. */
cv_status kr_attr_strings(hid_t obj, const char *name, const char *where, const char *path,
                          char ***out, int *n, cv_error *err);
void kr_strings_free(char **s, int n);

/* Find where the weights live: `model_weights` (full model), the root
 * (save_weights) or the old layer_<k> layout. CV_ERR_FORMAT with a message
 * when the file has none of them. */
cv_status kr_weights_open(kr_weights *w, const char *path, hid_t file, size_t max_bytes, cv_error *err);
void kr_weights_close(kr_weights *w);
/* 1 when the file holds a group for layer `name` (by-name layouts only). */
int kr_weights_has_layer(const kr_weights *w, const char *name);
/* Weight arrays of a layer, in the file's order. By-name layouts look up
 * `layer`; the old layout hands out the next layer_<k> that has params.
 * *n = -1 (CV_OK) when the file has nothing for it. */
cv_status kr_weights_get(kr_weights *w, const char *layer, const char *cls, kr_array **out, int *n,
                         cv_error *err);
void kr_arrays_free(kr_array *a, int n);

/* ---- conversion context (keras_graph.c, keras_layers.c, keras_config.c) ---- */

#define KR_NAME_MAX 200 /* longest layer name accepted */
typedef struct {
    char *layer;                /* producing Keras layer */
    int node, tensor;           /* Keras node and tensor index */
    int v;                      /* value holding it (NCHW when rank is 4) */
    int rank;
    int64_t shape[CV_MAX_DIMS]; /* Keras (channels-last) shape, -1 unknown */
} kr_tensor;

typedef struct {
    const cJSON *json;
    const char *name, *cls;
    const cJSON *cfg;
    kr_array *w;                /* weights in the file's order */
    int nw;                     /* -1: not loaded / none in the file */
    bool loaded;                /* kr_weights_get was called */
    int calls;                  /* inbound nodes converted so far */
} kr_layer;

typedef struct {
    cv_model *m;
    kr_weights *wf;
    const cv_load_options *opt;
    cv_error *err;
    const char *path;
    cv_status st;               /* sticky: first failure */
    kr_tensor *t;
    int nt, capt;
    kr_layer *L;                  /* layer being converted */
    char base[KR_NAME_MAX + 32];/* node name for this call of L */
} kr_ctx;

/* Errors: a sticky status. kr_fail writes "<file>: layer '<name>' (<Class>):
 * <message>" once and every builder below does nothing after a failure,
 * so a converter emits its nodes and checks c->st once at the end. */
cv_status kr_fail(kr_ctx *c, cv_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kr_keep(kr_ctx *c, cv_status st); /* record a failure a builder already wrote */

/* Graph builders. Node names: kr_name gives "<layer>" (suffix NULL) or
 * "<layer>/<suffix>"; every node's one output value has the node's name.
 * Return value indices, -1 after a failure. */
char *kr_name(kr_ctx *c, char *buf, size_t len, const char *suffix);
int kr_new_value(kr_ctx *c, const char *name);
int kr_emit(kr_ctx *c, const char *name, const char *op, const int *in, int n_in, int *node);
void kr_set_int(kr_ctx *c, int k, const char *a, int64_t v);
void kr_set_float(kr_ctx *c, int k, const char *a, float v);
void kr_set_ints(kr_ctx *c, int k, const char *a, const int64_t *v, int n);
void kr_set_string(kr_ctx *c, int k, const char *a, const char *v);
int kr_const_f32(kr_ctx *c, const char *name, int ndim, const int64_t *dims, float *data); /* takes data */
int kr_const_i64(kr_ctx *c, const char *name, const int64_t *x, int n);
int kr_const_scalar(kr_ctx *c, const char *name, float x);
int kr_transpose(kr_ctx *c, int x, const int64_t *perm, int n, const char *name);
extern const int64_t KR_TO_NHWC[4], KR_TO_NCHW[4];

/* Layer config readers: absent or null gives the default; a wrong type
 * fails with a message naming the key. */
const cJSON *kr_cfg_get(const cJSON *cfg, const char *key);
bool kr_cfg_has(const cJSON *cfg, const char *key);
bool kr_is_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out);
int64_t kr_cfg_int(kr_ctx *c, const cJSON *cfg, const char *key, int64_t dflt, int64_t lo, int64_t hi);
double kr_cfg_num(kr_ctx *c, const cJSON *cfg, const char *key, double dflt);
bool kr_cfg_bool(kr_ctx *c, const cJSON *cfg, const char *key, bool dflt);
const char *kr_cfg_str(kr_ctx *c, const cJSON *cfg, const char *key, const char *dflt);
void kr_cfg_pair(kr_ctx *c, const cJSON *cfg, const char *key, int64_t dflt, int64_t lo, int64_t out[2]);
bool kr_cfg_padding(kr_ctx *c, const cJSON *cfg);                /* true for 'same' */
bool kr_channels_last(kr_ctx *c, const cJSON *cfg, bool first_ok);

/* Keras shapes (-1 = unknown). */
char *kr_dims_str(int nd, const int64_t *d, char *buf, size_t len);
int64_t kr_window_out(kr_ctx *c, int64_t in, int64_t k, int64_t s, int64_t d, bool same);
kr_tensor *kr_need_rank(kr_ctx *c, kr_tensor *x, int rank);

/* Weights of the layer being converted (c->L). */
cv_status kr_load_layer_weights(kr_ctx *c, kr_layer *L);
bool kr_want_weights(kr_ctx *c, int n, const char *names);
bool kr_dims_match(const kr_array *a, int nd, const int64_t *d);
bool kr_check_dims(kr_ctx *c, const kr_array *a, const char *what, int nd, const int64_t *d);
float *kr_take(kr_ctx *c, int k); /* ownership of array k */

/* Layer converters (keras_layers.c): fill out (value, rank, Keras shape). */
typedef cv_status (*kr_convert_fn)(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out);
typedef struct {
    const char *cls;
    kr_convert_fn fn;
    bool weights;     /* has weight arrays in the file */
    bool multi_input; /* merge layers: Add, Concatenate, ... */
} kr_layer_kind;
const kr_layer_kind *kr_find_kind(const char *cls); /* NULL: unsupported */

/* Convert a Keras model config (the object with class_name and config) into
 * nodes of m, loading weights from w (may be NULL for a config-only check). */
cv_status kr_build(cv_model *m, const cJSON *model_json, kr_weights *w, const cv_load_options *opt,
                   cv_error *err);

#endif
