/* Keras HDF5 loader: decides what kind of file it has and where the
 * architecture comes from, then hands the config to keras_config.c.
 *
 *   full model (model.save)    root attribute model_config (JSON) + group
 *                              model_weights; training_config and
 *                              optimizer_weights are ignored.
 *   weights only (save_weights) root attribute layer_names, one group per
 *                              layer, or the old layer_<k>/param_<p> layout.
 *                              The architecture comes from
 *                              cv_load_options.keras_config (a file holding
 *                              model.to_json()), or else is the built-in
 *                              VGG16 convolutional base of the original tool.
 *
 * A keras_config given for a full model replaces its model_config.
 */
#include "keras.h"
#include "../core/loaders.h"
#include "file.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The architecture JSON file: a stranger's path, so opened the one safe
 * way (a FIFO does not block, a directory says so), and no larger than
 * what is left of the budget. */
static cv_status read_text(const char *file, const char *model_path, kr_budget *b, char **out, size_t *len,
                           cv_error *err)
{
    size_t left = kr_budget_left(b), cap = left < KR_MAX_ATTR_BYTES ? left : KR_MAX_ATTR_BYTES;
    uint8_t *buf = NULL;
    cv_status st = cv_file_read_all(file, "a Keras architecture file (JSON)", cap, &buf, len, err);
    if (st == CV_OK)
        st = kr_budget_take_meta(b, *len + 1, model_path, file, err); /* fits: cap was what is left */
    else if (err) /* cv_fail formats before it writes, so the old message can be an argument */
        cv_fail(err, st, "%s: %s", model_path, err->msg);
    *out = (char *)buf;
    return st;
}

/* An upper bound on what cJSON allocates for text: one node per value
 * (a value is the first in the document or in a container, or follows a
 * comma) and a copy of every string. The nodes are what blows up: "[0,0,..."
 * costs two bytes of text but a 64-byte node plus malloc's overhead. */
static size_t json_parse_bytes(const char *text, size_t len)
{
    size_t values = 1;
    bool in_string = false;
    for (size_t k = 0; k < len; k++) {
        char c = text[k];
        if (in_string) {
            if (c == '\\')
                k++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ',' || c == '[' || c == '{') {
            values++;
        }
    }
    return values * (sizeof(cJSON) + 3 * 16) + len; /* node, key and value string: 3 allocations */
}

static cJSON *parse_json(const char *text, size_t len, const char *what, const char *path, kr_budget *b,
                         cv_error *err)
{
    char about[600];
    snprintf(about, sizeof about, "parsing %.500s", what);
    if (kr_budget_take_meta(b, json_parse_bytes(text, len), path, about, err) != CV_OK)
        return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        cv_fail(err, CV_ERR_FORMAT, "%s: %s is not valid JSON (error near byte %zu of %zu)", path, what, at, len);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        cv_fail(err, CV_ERR_FORMAT, "%s: %s is not a JSON object", path, what);
        return NULL;
    }
    return j;
}

/* ---- the built-in VGG16 convolutional base --------------------------------- */

/* The original tool's model: 13 3x3 'same' convs with ReLU in 5 blocks,
 * each block ending in a 2x2 max-pool; any input size, 3 channels (BGR,
 * raw 0..255). Layer names follow the weights file: conv1_1 / pool1 (the
 * original tool and old Keras files) or block1_conv1 / block1_pool
 * (keras.applications). */
static cJSON *vgg16_config(bool applications_names)
{
    static const int blocks[5][2] = {{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}};
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    if (!root || !cfg || !layers) {
        cJSON_Delete(root);
        cJSON_Delete(cfg);
        cJSON_Delete(layers);
        return NULL;
    }
    cJSON_AddStringToObject(root, "class_name", "Sequential");
    cJSON_AddItemToObject(root, "config", cfg);
    cJSON_AddStringToObject(cfg, "name", "vgg16");
    cJSON_AddItemToObject(cfg, "layers", layers);
    cJSON *in = cJSON_CreateObject(), *icfg = cJSON_CreateObject();
    cJSON_AddItemToArray(layers, in);
    cJSON_AddStringToObject(in, "class_name", "InputLayer");
    cJSON_AddItemToObject(in, "config", icfg);
    cJSON_AddStringToObject(icfg, "name", "input");
    cJSON *shape = cJSON_AddArrayToObject(icfg, "batch_input_shape");
    for (int k = 0; k < 3; k++)
        cJSON_AddItemToArray(shape, cJSON_CreateNull());
    cJSON_AddItemToArray(shape, cJSON_CreateNumber(3));
    for (int b = 0; b < 5; b++) {
        char name[48];
        for (int k = 0; k < blocks[b][0]; k++) {
            cJSON *l = cJSON_CreateObject(), *c = cJSON_CreateObject();
            cJSON_AddItemToArray(layers, l);
            cJSON_AddStringToObject(l, "class_name", "Conv2D");
            cJSON_AddItemToObject(l, "config", c);
            if (applications_names)
                snprintf(name, sizeof name, "block%d_conv%d", b + 1, k + 1);
            else
                snprintf(name, sizeof name, "conv%d_%d", b + 1, k + 1);
            cJSON_AddStringToObject(c, "name", name);
            cJSON_AddNumberToObject(c, "filters", blocks[b][1]);
            cJSON_AddNumberToObject(c, "kernel_size", 3);
            cJSON_AddStringToObject(c, "padding", "same");
            cJSON_AddStringToObject(c, "activation", "relu");
        }
        cJSON *l = cJSON_CreateObject(), *c = cJSON_CreateObject();
        cJSON_AddItemToArray(layers, l);
        cJSON_AddStringToObject(l, "class_name", "MaxPooling2D");
        cJSON_AddItemToObject(l, "config", c);
        if (applications_names)
            snprintf(name, sizeof name, "block%d_pool", b + 1);
        else
            snprintf(name, sizeof name, "pool%d", b + 1);
        cJSON_AddStringToObject(c, "name", name);
        cJSON_AddNumberToObject(c, "pool_size", 2);
    }
    return root;
}

/* ---- entry point ---------------------------------------------------------------- */

/* keras_version, backend: a short string kept in the model, charged to
 * the budget twice (the read and the model's copy). */
static cv_status copy_meta(cv_model *m, hid_t obj, const char *key, const char *where, kr_budget *b,
                           cv_error *err)
{
    if (cv_model_meta(m, key))
        return CV_OK;
    char *v = NULL;
    cv_status st = kr_attr_string(obj, key, where, m->path, KR_MAX_META_BYTES, b, &v, err);
    if (st == CV_OK && v && (st = kr_budget_take_meta(b, strlen(v) + 1, m->path, key, err)) == CV_OK)
        st = cv_model_set_meta(m, key, v, err);
    free(v);
    /* Metadata is informative: an odd or oversized attribute is dropped,
     * it does not stop the load. */
    return st == CV_ERR_NOMEM ? st : CV_OK;
}

cv_status cv_load_keras(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err)
{
    *out = NULL;
    cv_load_options none = {0};
    if (!opt)
        opt = &none;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* libhdf5 must not print; errors come back as status */
    hid_t file = kr_h5_open(path);
    if (file < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: not a readable HDF5 file (truncated or corrupt?)", path);

    cv_status st;
    char *text = NULL;
    size_t len = 0;
    cJSON *json = NULL;
    cv_model *m = NULL;
    kr_weights w = {.root = -1};
    const char *what = "model_config";
    bool builtin = false;
    /* The weights are opened first: w.mem is the budget that the
     * architecture text and its parse are charged to as well. */
    size_t budget = opt->max_memory ? opt->max_memory : CV_MAX_TENSOR_BYTES;
    if ((st = kr_weights_open(&w, path, file, budget, err)) != CV_OK)
        goto fail;
    if (opt->keras_config) {
        what = opt->keras_config;
        if ((st = read_text(opt->keras_config, path, &w.mem, &text, &len, err)) != CV_OK)
            goto fail;
    } else {
        if ((st = kr_attr_string(file, "model_config", "the file", path, KR_MAX_ATTR_BYTES, &w.mem, &text, err)) !=
            CV_OK)
            goto fail;
        len = text ? strlen(text) : 0;
    }
    if (text) {
        if (!(json = parse_json(text, len, what, path, &w.mem, err))) {
            st = err ? err->status : CV_ERR_FORMAT;
            goto fail;
        }
        /* model.to_json() of a wrapped config: {"class_name", "config"} is what we want */
    } else {
        builtin = true;
        bool apps = !kr_weights_has_layer(&w, "conv1_1") && kr_weights_has_layer(&w, "block1_conv1");
        if (!(json = vgg16_config(apps))) {
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    if (!(m = cv_model_new(path, err))) {
        st = CV_ERR_NOMEM;
        goto fail;
    }
    if ((st = kr_build(m, json, &w, opt, err)) != CV_OK)
        goto fail;
    if ((st = cv_model_set_meta(m, "format", "keras-hdf5", err)) != CV_OK)
        goto fail;
    if (builtin) {
        /* The original tool fed raw 0..255 BGR pixels, no mean subtraction. */
        if ((st = cv_model_set_meta(m, "architecture", "VGG16 convolutional base (built in)", err)) != CV_OK ||
            (st = cv_model_set_meta(m, "preprocess", "raw", err)) != CV_OK ||
            (st = cv_model_set_meta(m, "channel_order", "BGR", err)) != CV_OK)
            goto fail;
    }
    if ((st = copy_meta(m, file, "keras_version", "the file", &w.mem, err)) != CV_OK ||
        (st = copy_meta(m, file, "backend", "the file", &w.mem, err)) != CV_OK ||
        (st = copy_meta(m, w.root, "keras_version", "the weights", &w.mem, err)) != CV_OK ||
        (st = copy_meta(m, w.root, "backend", "the weights", &w.mem, err)) != CV_OK)
        goto fail;
    if ((st = cv_model_finalize(m, err)) != CV_OK)
        goto fail;
    cJSON_Delete(json);
    free(text);
    kr_weights_close(&w);
    H5Fclose(file);
    *out = m;
    return CV_OK;
fail:
    cv_model_free(m);
    cJSON_Delete(json);
    free(text);
    kr_weights_close(&w);
    H5Fclose(file);
    return st;
}
