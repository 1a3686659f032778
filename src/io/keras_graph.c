/* Keras import: the conversion context's builders (nodes, attributes,
 * constants), layer-config readers, Keras shape helpers and weight checks,
 * shared by keras_layers.c and keras_config.c. See keras.h. */
#include "keras.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------------- */

/* Fail naming the file and the current layer; keeps the first failure. */
cv_status kr_fail(kr_ctx *c, cv_status st, const char *fmt, ...)
{
    if (c->st != CV_OK)
        return c->st;
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->L)
        cv_fail(c->err, st, "%s: layer '%s' (%s): %s", c->path, c->L->name, c->L->cls, msg);
    else
        cv_fail(c->err, st, "%s: %s", c->path, msg);
    c->st = st;
    return st;
}

/* Record a failure a builder already wrote into err. */
void kr_keep(kr_ctx *c, cv_status st)
{
    if (c->st == CV_OK && st != CV_OK)
        c->st = st;
}

/* ---- graph builders ------------------------------------------------------------ */

char *kr_name(kr_ctx *c, char *buf, size_t len, const char *suffix)
{
    if (suffix)
        snprintf(buf, len, "%s/%s", c->base, suffix);
    else
        snprintf(buf, len, "%s", c->base);
    return buf;
}

/* A new value named `name`; refuses a name already in use. */
int kr_new_value(kr_ctx *c, const char *name)
{
    if (c->st != CV_OK)
        return -1;
    if (cv_model_find_value(c->m, name) >= 0) {
        kr_fail(c, CV_ERR_FORMAT, "the name '%s' is used twice in the model", name);
        return -1;
    }
    int v = cv_model_value(c->m, name, c->err);
    if (v < 0)
        kr_keep(c, CV_ERR_NOMEM);
    return v;
}

/* Node `name` of type op reading in[]; its one output value has the same
 * name. Returns the output value (node index in *node), -1 on failure. */
int kr_emit(kr_ctx *c, const char *name, const char *op, const int *in, int n_in, int *node)
{
    int v = kr_new_value(c, name);
    if (v < 0)
        return -1;
    int k = cv_model_add_node(c->m, name, op, in, n_in, &v, 1, c->err);
    if (k < 0) {
        kr_keep(c, CV_ERR_NOMEM);
        return -1;
    }
    if (node)
        *node = k;
    return v;
}

void kr_set_int(kr_ctx *c, int k, const char *a, int64_t v)
{
    if (c->st == CV_OK)
        kr_keep(c, cv_node_set_int(c->m, k, a, v, c->err));
}

void kr_set_float(kr_ctx *c, int k, const char *a, float v)
{
    if (c->st == CV_OK)
        kr_keep(c, cv_node_set_float(c->m, k, a, v, c->err));
}

void kr_set_ints(kr_ctx *c, int k, const char *a, const int64_t *v, int n)
{
    if (c->st == CV_OK)
        kr_keep(c, cv_node_set_ints(c->m, k, a, v, n, c->err));
}

void kr_set_string(kr_ctx *c, int k, const char *a, const char *v)
{
    if (c->st == CV_OK)
        kr_keep(c, cv_node_set_string(c->m, k, a, v, c->err));
}

/* A float constant; takes ownership of data (freed on failure). */
int kr_const_f32(kr_ctx *c, const char *name, int ndim, const int64_t *dims, float *data)
{
    int v = kr_new_value(c, name);
    if (v < 0) {
        free(data);
        return -1;
    }
    cv_value *val = &c->m->values[v];
    val->dtype = CV_F32;
    val->shape.ndim = ndim;
    for (int k = 0; k < ndim; k++)
        val->shape.d[k] = dims[k];
    val->data = data;
    return v;
}

int kr_const_i64(kr_ctx *c, const char *name, const int64_t *x, int n)
{
    int64_t *data = malloc(sizeof *data * (size_t)(n ? n : 1));
    if (!data) {
        kr_fail(c, CV_ERR_NOMEM, "out of memory");
        return -1;
    }
    memcpy(data, x, sizeof *data * (size_t)n);
    int v = kr_new_value(c, name);
    if (v < 0) {
        free(data);
        return -1;
    }
    cv_value *val = &c->m->values[v];
    val->dtype = CV_I64;
    val->shape.ndim = 1;
    val->shape.d[0] = n;
    val->data = data;
    return v;
}

int kr_const_scalar(kr_ctx *c, const char *name, float x)
{
    float *data = malloc(sizeof *data);
    if (!data) {
        kr_fail(c, CV_ERR_NOMEM, "out of memory");
        return -1;
    }
    *data = x;
    return kr_const_f32(c, name, 0, NULL, data);
}

int kr_transpose(kr_ctx *c, int x, const int64_t *perm, int n, const char *name)
{
    int k = -1;
    int y = kr_emit(c, name, "Transpose", &x, 1, &k);
    if (y >= 0)
        kr_set_ints(c, k, "perm", perm, n);
    return y;
}

const int64_t KR_TO_NHWC[4] = {0, 2, 3, 1}, KR_TO_NCHW[4] = {0, 3, 1, 2};

/* ---- config readers ---------------------------------------------------------------- */

const cJSON *kr_cfg_get(const cJSON *cfg, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(cfg, key);
}

/* Present and not null. */
bool kr_cfg_has(const cJSON *cfg, const char *key)
{
    const cJSON *j = kr_cfg_get(cfg, key);
    return j && !cJSON_IsNull(j);
}

bool kr_is_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (d != floor(d) || d < (double)lo || d > (double)hi)
        return false;
    *out = (int64_t)d;
    return true;
}

/* An integer option in [lo, hi]; dflt when absent or null. */
int64_t kr_cfg_int(kr_ctx *c, const cJSON *cfg, const char *key, int64_t dflt, int64_t lo, int64_t hi)
{
    if (!kr_cfg_has(cfg, key))
        return dflt;
    int64_t v;
    if (!kr_is_int(kr_cfg_get(cfg, key), lo, hi, &v)) {
        kr_fail(c, CV_ERR_FORMAT, "config '%s' should be an integer in [%lld, %lld]", key, (long long)lo,
              (long long)hi);
        return dflt;
    }
    return v;
}

double kr_cfg_num(kr_ctx *c, const cJSON *cfg, const char *key, double dflt)
{
    if (!kr_cfg_has(cfg, key))
        return dflt;
    const cJSON *j = kr_cfg_get(cfg, key);
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) {
        kr_fail(c, CV_ERR_FORMAT, "config '%s' should be a number", key);
        return dflt;
    }
    return j->valuedouble;
}

bool kr_cfg_bool(kr_ctx *c, const cJSON *cfg, const char *key, bool dflt)
{
    if (!kr_cfg_has(cfg, key))
        return dflt;
    const cJSON *j = kr_cfg_get(cfg, key);
    if (!cJSON_IsBool(j)) {
        kr_fail(c, CV_ERR_FORMAT, "config '%s' should be true or false", key);
        return dflt;
    }
    return cJSON_IsTrue(j);
}

const char *kr_cfg_str(kr_ctx *c, const cJSON *cfg, const char *key, const char *dflt)
{
    if (!kr_cfg_has(cfg, key))
        return dflt;
    const cJSON *j = kr_cfg_get(cfg, key);
    if (!cJSON_IsString(j)) {
        kr_fail(c, CV_ERR_FORMAT, "config '%s' should be a string", key);
        return dflt;
    }
    return j->valuestring;
}

/* A 2-D size: an integer or a list of two (Keras normalises to lists). */
void kr_cfg_pair(kr_ctx *c, const cJSON *cfg, const char *key, int64_t dflt, int64_t lo, int64_t out[2])
{
    out[0] = out[1] = dflt;
    if (!kr_cfg_has(cfg, key))
        return;
    const cJSON *j = kr_cfg_get(cfg, key);
    int64_t hi = 1 << 20;
    if (kr_is_int(j, lo, hi, &out[0])) {
        out[1] = out[0];
        return;
    }
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2 && kr_is_int(cJSON_GetArrayItem(j, 0), lo, hi, &out[0]) &&
        kr_is_int(cJSON_GetArrayItem(j, 1), lo, hi, &out[1]))
        return;
    kr_fail(c, CV_ERR_FORMAT, "config '%s' should be an integer or two integers >= %lld", key, (long long)lo);
}

/* 'valid' or 'same'; returns true for same. */
bool kr_cfg_padding(kr_ctx *c, const cJSON *cfg)
{
    const char *p = kr_cfg_str(c, cfg, "padding", "valid");
    if (strcmp(p, "same") == 0)
        return true;
    if (strcmp(p, "valid") != 0)
        kr_fail(c, CV_ERR_UNSUPPORTED, "padding '%s' is not supported (valid, same)", p);
    return false;
}

/* channels_last is what cnnviz runs; channels_first only where it is trivial. */
bool kr_channels_last(kr_ctx *c, const cJSON *cfg, bool first_ok)
{
    const char *f = kr_cfg_str(c, cfg, "data_format", "channels_last");
    if (strcmp(f, "channels_last") == 0)
        return true;
    if (strcmp(f, "channels_first") == 0 && first_ok)
        return false;
    kr_fail(c, CV_ERR_UNSUPPORTED, "data_format '%s' is not supported (channels_last only)", f);
    return true;
}

/* ---- shapes ---------------------------------------------------------------------- */

char *kr_dims_str(int nd, const int64_t *d, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int k = 0; k < nd && used < len; k++) {
        if (d[k] < 0)
            used += (size_t)snprintf(buf + used, len - used, k ? ", None" : "None");
        else
            used += (size_t)snprintf(buf + used, len - used, k ? ", %lld" : "%lld", (long long)d[k]);
    }
    if (used < len)
        snprintf(buf + used, len - used, "]");
    return buf;
}

/* Output size of a conv/pool along one axis as TF computes it. */
int64_t kr_window_out(kr_ctx *c, int64_t in, int64_t k, int64_t s, int64_t d, bool same)
{
    if (in < 0)
        return -1;
    if (same)
        return (in + s - 1) / s;
    int64_t eff = (k - 1) * d + 1;
    if (in < eff) {
        kr_fail(c, CV_ERR_SHAPE, "input size %lld is smaller than the window %lld", (long long)in, (long long)eff);
        return -1;
    }
    return (in - eff) / s + 1;
}

kr_tensor *kr_need_rank(kr_ctx *c, kr_tensor *x, int rank)
{
    if (x->rank != rank) {
        char s[160];
        kr_fail(c, CV_ERR_UNSUPPORTED, "input %s has rank %d; this layer needs rank %d", kr_dims_str(x->rank, x->shape, s, sizeof s),
              x->rank, rank);
    }
    return x;
}

/* ---- weights ------------------------------------------------------------------------ */

cv_status kr_load_layer_weights(kr_ctx *c, kr_layer *L)
{
    c->L = L;
    if (!c->wf)
        return kr_fail(c, CV_ERR_INVALID, "no weights file");
    L->loaded = true;
    cv_status st = kr_weights_get(c->wf, L->name, L->cls, &L->w, &L->nw, c->err);
    if (st != CV_OK)
        return c->st = st;
    if (L->nw < 0) {
        if (c->wf->old_layout)
            return kr_fail(c, CV_ERR_FORMAT, "the file's layer_<k> groups ran out before this layer (the file has weights "
                                           "for fewer layers than the model)");
        return kr_fail(c, CV_ERR_FORMAT, "missing from the weights file (no group '%s')", L->name);
    }
    return CV_OK;
}

/* The layer's weights must be n arrays. By-name files are read here, after
 * the config was checked, so a config problem is reported before a
 * missing-weights one. */
bool kr_want_weights(kr_ctx *c, int n, const char *names)
{
    if (c->st != CV_OK)
        return false;
    if (!c->L->loaded && kr_load_layer_weights(c, c->L) != CV_OK)
        return false;
    if (c->L->nw != n) {
        kr_fail(c, CV_ERR_FORMAT, "the file has %d weight arrays for it, expected %d (%s)", c->L->nw, n, names);
        return false;
    }
    return true;
}

/* Does array a have shape d (entries < 0 match anything)? */
bool kr_dims_match(const kr_array *a, int nd, const int64_t *d)
{
    if (a->ndim != nd)
        return false;
    for (int k = 0; k < nd; k++)
        if (d[k] >= 0 && a->d[k] != d[k])
            return false;
    return true;
}

bool kr_check_dims(kr_ctx *c, const kr_array *a, const char *what, int nd, const int64_t *d)
{
    if (c->st != CV_OK)
        return false;
    if (kr_dims_match(a, nd, d))
        return true;
    char s1[160], s2[160];
    kr_fail(c, CV_ERR_SHAPE, "%s has shape %s in the file, expected %s", what, kr_dims_str(a->ndim, a->d, s1, sizeof s1),
          kr_dims_str(nd, d, s2, sizeof s2));
    return false;
}

/* Take ownership of weight array k. */
float *kr_take(kr_ctx *c, int k)
{
    float *p = c->L->w[k].data;
    c->L->w[k].data = NULL;
    return p;
}
