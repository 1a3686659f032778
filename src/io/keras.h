/* Private to the Keras HDF5 importer (keras.c, keras_weights.c,
 * keras_config.c).
 *
 * keras_weights.c reads the HDF5 side: string attributes, the per-layer
 * weight arrays in both file layouts (by layer name under `weight_names`,
 * or the old `layer_<k>/param_<p>` layout by position).
 * keras_config.c turns a Keras model config (cJSON) into ONNX-op nodes.
 * keras.c decides what kind of file it has and ties the two together.
 */
#ifndef CV_KERAS_H
#define CV_KERAS_H
#include "../core/graph.h"
#include <cjson/cJSON.h>
#include <hdf5.h>

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

/* Convert a Keras model config (the object with class_name and config) into
 * nodes of m, loading weights from w (may be NULL for a config-only check). */
cv_status kr_build(cv_model *m, const cJSON *model_json, kr_weights *w, const cv_load_options *opt,
                   cv_error *err);

#endif
