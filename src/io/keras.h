/* Private to the Keras HDF5 importer (keras.c, keras_weights.c,
 * keras_config.c, keras_layers.c, keras_graph.c).
 *
 * keras_hdf5.c keeps libhdf5 inside the model file (hard links only, no
 * external storage, virtual datasets or plugin filters) and holds the
 * memory budget every file-driven allocation is charged to first.
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

/* Caps on what a hostile file can make us allocate, on top of the budget. */
#define KR_MAX_ATTR_BYTES ((size_t)64 << 20) /* model_config JSON, architecture file */
#define KR_MAX_META_BYTES ((size_t)4096)     /* keras_version, backend: longer ones are dropped */
#define KR_MAX_WEIGHTS 64                    /* weight_names entries of one layer */
#define KR_MAX_LAYERS 100000                 /* layers in a model / old file */
/* A weight of more than KR_BOMB_MIN_BYTES whose file storage is under
 * 1/KR_BOMB_RATIO of its declared size is refused: it was never (fully)
 * written and reads back as fill values. No built-in HDF5 filter packs
 * real weights that tightly (deflate tops out near 1:1032). Smaller
 * unwritten datasets are legitimate (a template file, the tests' VGG16)
 * and are bounded by the budget alone. */
#define KR_BOMB_MIN_BYTES ((size_t)256 << 20)
#define KR_BOMB_RATIO 4096
/* libhdf5 decodes a chunk whole; one above this size is charged too. */
#define KR_CHUNK_FREE_BYTES ((size_t)1 << 20)

/* ---- keras_hdf5.c: budget and safe access -------------------------------------- */

/* Bytes the load may still allocate on the file's say: the model's
 * max_memory, shared by weights, attribute strings, the parsed config. */
typedef struct {
    size_t max, used;
    size_t meta_grace; /* metadata bytes still free of charge */
} kr_budget;
/* The first KR_META_GRACE_BYTES of metadata (attribute strings, the
 * config and its parse) are not charged, like the graph's own names and
 * node arrays are not: a real config, however small max_memory is, must
 * not crowd out the weights. Beyond that metadata counts like weights. */
#define KR_META_GRACE_BYTES ((size_t)1 << 20)
/* Charge bytes (what names them in the message) before allocating;
 * CV_ERR_LIMIT when they do not fit. b NULL: nothing is counted. */
cv_status kr_budget_take(kr_budget *b, size_t bytes, const char *path, const char *what, cv_error *err);
/* The same for metadata: the grace is used up first. */
cv_status kr_budget_take_meta(kr_budget *b, size_t bytes, const char *path, const char *what, cv_error *err);
size_t kr_budget_left(const kr_budget *b);

/* Access property lists that follow no external link (each name is also
 * resolved by kr_h5_find first; these are the second layer). */
typedef struct {
    hid_t lapl, gapl, dapl; /* link, group, dataset access */
} kr_h5_access;
cv_status kr_h5_access_open(kr_h5_access *a, const char *path, cv_error *err);
void kr_h5_access_close(kr_h5_access *a);
/* Open the model read-only with the POSIX driver (whatever HDF5_DRIVER
 * says); < 0 when it is not HDF5. */
hid_t kr_h5_open(const char *path);
/* Resolve name under loc one link at a time: *found = false when some
 * component is missing; CV_ERR_FORMAT when one is an external, soft or
 * user-defined link (those lead out of the file or around the checks). */
cv_status kr_h5_find(const kr_h5_access *a, hid_t loc, const char *name, const char *path, bool *found,
                     cv_error *err);
/* "model_weights/dense/kernel:0": name under loc, for messages. */
char *kr_h5_path(hid_t loc, const char *name, char *buf, size_t len);
/* Refuse (CV_ERR_FORMAT) a dataset whose data would come from elsewhere:
 * a virtual layout, external storage, a filter only a plugin provides.
 * *chunk_elems: elements per chunk, 0 when not chunked. Call it before
 * H5Dget_space / H5Dread. */
cv_status kr_h5_check_dataset(hid_t ds, const char *path, const char *dsname, uint64_t *chunk_elems,
                              cv_error *err);

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
    kr_budget mem;     /* weights, attribute strings and the parsed config together */
    kr_h5_access acc;
} kr_weights;

/* Returns 1 if `name` is an attribute of obj, 0 otherwise. */
int kr_attr_exists(hid_t obj, const char *name);
/* A scalar (or one-element) string attribute as a new nul-terminated
 * string; *out = NULL (and CV_OK) when the attribute is absent. Longer
 * than max_bytes: CV_ERR_LIMIT; what it takes is charged to b. */
cv_status kr_attr_string(hid_t obj, const char *name, const char *where, const char *path, size_t max_bytes,
                         kr_budget *b, char **out, cv_error *err);
/* A list-of-strings attribute (fixed or variable length; an empty list may
 * be stored with any type) of at most max_entries. Keras splits long
 * lists into name0, name1, ...; those are joined. *n = -1 when absent. */
cv_status kr_attr_strings(hid_t obj, const char *name, const char *where, const char *path, int max_entries,
                          kr_budget *b, char ***out, int *n, cv_error *err);
void kr_strings_free(char **s, int n);

/* Find where the weights live: `model_weights` (full model), the root
 * (save_weights) or the old layer_<k> layout. CV_ERR_FORMAT with a message
 * when the file has none of them. max_bytes starts w->mem. */
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
