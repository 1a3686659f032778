/* The model: values, nodes and attributes, built by a loader, then frozen
 * by cv_model_finalize. Also the public read-only accessors. */
#include "graph.h"
#include "loaders.h"
#include "../io/file.h"
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

cv_model *cv_model_new(const char *path, cv_error *err)
{
    cv_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = dup_str(path ? path : "<memory>"))) {
        free(m);
        cv_fail(err, CV_ERR_NOMEM, "out of memory creating model");
        return NULL;
    }
    m->input = -1;
    return m;
}

static void free_attr(cv_attr *a)
{
    free(a->name);
    free(a->ints);
    free(a->floats);
    free(a->s);
}

void cv_model_free(cv_model *m)
{
    if (!m)
        return;
    for (int k = 0; k < m->n_values; k++) {
        free(m->values[k].name);
        free(m->values[k].data);
    }
    for (int k = 0; k < m->n_nodes; k++) {
        cv_node *n = &m->nodes[k];
        if (n->op && n->op->free_params)
            n->op->free_params(n->params);
        else
            free(n->params);
        for (int a = 0; a < n->n_attr; a++)
            free_attr(&n->attrs[a]);
        free(n->attrs);
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
    }
    for (int k = 0; k < m->n_meta; k++) {
        free(m->meta_keys[k]);
        free(m->meta_vals[k]);
    }
    free(m->meta_keys);
    free(m->meta_vals);
    free(m->config_path);
    free(m->values);
    free(m->value_index);
    free(m->nodes);
    free(m->outputs);
    free(m->path);
    free(m);
}

static bool grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return true;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return false;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return true;
}

/* FNV-1a: value names are short; the index keeps loading linear in the
 * number of names (a linear search made 20,000-node graphs take seconds). */
static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int cv_model_find_value(const cv_model *m, const char *name)
{
    if (!m->index_cap)
        return -1;
    size_t mask = (size_t)m->index_cap - 1;
    for (size_t h = name_hash(name) & mask;; h = (h + 1) & mask) {
        int k = m->value_index[h] - 1;
        if (k < 0)
            return -1;
        if (strcmp(m->values[k].name, name) == 0)
            return k;
    }
}

static void index_insert(cv_model *m, int k)
{
    size_t mask = (size_t)m->index_cap - 1, h = name_hash(m->values[k].name) & mask;
    while (m->value_index[h])
        h = (h + 1) & mask;
    m->value_index[h] = k + 1;
}

/* Keep the index at most half full. */
static bool index_reserve(cv_model *m, int n)
{
    if ((size_t)n * 2 <= (size_t)m->index_cap)
        return true;
    int cap = m->index_cap ? m->index_cap : 64;
    while ((size_t)n * 2 > (size_t)cap)
        cap *= 2;
    int *idx = calloc((size_t)cap, sizeof(int));
    if (!idx)
        return false;
    free(m->value_index);
    m->value_index = idx;
    m->index_cap = cap;
    for (int k = 0; k < m->n_values; k++)
        index_insert(m, k);
    return true;
}

int cv_model_value(cv_model *m, const char *name, cv_error *err)
{
    int k = cv_model_find_value(m, name);
    if (k >= 0)
        return k;
    if (!grow((void **)&m->values, &m->cap_values, m->n_values + 1, sizeof *m->values) ||
        !index_reserve(m, m->n_values + 1)) {
        cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
        return -1;
    }
    cv_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    if (!(v->name = dup_str(name))) {
        cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
        return -1;
    }
    v->dtype = CV_F32;
    v->producer = -1;
    index_insert(m, m->n_values);
    return m->n_values++;
}

int cv_model_add_node(cv_model *m, const char *name, const char *op_type,
                      const int *in, int n_in, const int *out, int n_out, cv_error *err)
{
    if (!grow((void **)&m->nodes, &m->cap_nodes, m->n_nodes + 1, sizeof *m->nodes))
        goto nomem;
    cv_node *n = &m->nodes[m->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = dup_str(name ? name : "");
    n->op_type = dup_str(op_type);
    n->in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
    n->out = malloc(sizeof(int) * (size_t)(n_out ? n_out : 1));
    if (!n->name || !n->op_type || !n->in || !n->out) {
        free(n->name); free(n->op_type); free(n->in); free(n->out);
        goto nomem;
    }
    memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    memcpy(n->out, out, sizeof(int) * (size_t)n_out);
    n->n_in = n_in;
    n->n_out = n_out;
    return m->n_nodes++;
nomem:
    cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    return -1;
}

static cv_attr *new_attr(cv_model *m, int k, const char *name, cv_attr_type type, cv_error *err)
{
    cv_node *n = &m->nodes[k];
    cv_attr *a = realloc(n->attrs, sizeof *a * (size_t)(n->n_attr + 1));
    if (!a) {
        cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
        return NULL;
    }
    n->attrs = a;
    a = &n->attrs[n->n_attr];
    memset(a, 0, sizeof *a);
    if (!(a->name = dup_str(name))) {
        cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
        return NULL;
    }
    a->type = type;
    a->tensor = -1;
    n->n_attr++;
    return a;
}

cv_status cv_node_set_int(cv_model *m, int k, const char *name, int64_t v, cv_error *err)
{
    cv_attr *a = new_attr(m, k, name, CV_ATTR_INT, err);
    if (!a)
        return CV_ERR_NOMEM;
    a->i = v;
    return CV_OK;
}

cv_status cv_node_set_float(cv_model *m, int k, const char *name, float v, cv_error *err)
{
    cv_attr *a = new_attr(m, k, name, CV_ATTR_FLOAT, err);
    if (!a)
        return CV_ERR_NOMEM;
    a->f = v;
    return CV_OK;
}

cv_status cv_node_set_ints(cv_model *m, int k, const char *name, const int64_t *v, int n, cv_error *err)
{
    cv_attr *a = new_attr(m, k, name, CV_ATTR_INTS, err);
    if (!a || !(a->ints = malloc(sizeof *v * (size_t)(n ? n : 1))))
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    memcpy(a->ints, v, sizeof *v * (size_t)n);
    a->n = n;
    return CV_OK;
}

cv_status cv_node_set_floats(cv_model *m, int k, const char *name, const float *v, int n, cv_error *err)
{
    cv_attr *a = new_attr(m, k, name, CV_ATTR_FLOATS, err);
    if (!a || !(a->floats = malloc(sizeof *v * (size_t)(n ? n : 1))))
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    memcpy(a->floats, v, sizeof *v * (size_t)n);
    a->n = n;
    return CV_OK;
}

cv_status cv_node_set_string(cv_model *m, int k, const char *name, const char *v, cv_error *err)
{
    cv_attr *a = new_attr(m, k, name, CV_ATTR_STRING, err);
    if (!a || !(a->s = dup_str(v)))
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    return CV_OK;
}

cv_status cv_model_set_meta(cv_model *m, const char *key, const char *val, cv_error *err)
{
    char **k2 = realloc(m->meta_keys, sizeof(char *) * (size_t)(m->n_meta + 1));
    if (!k2)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    m->meta_keys = k2;
    char **v2 = realloc(m->meta_vals, sizeof(char *) * (size_t)(m->n_meta + 1));
    if (!v2)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    m->meta_vals = v2;
    m->meta_keys[m->n_meta] = dup_str(key);
    m->meta_vals[m->n_meta] = dup_str(val);
    if (!m->meta_keys[m->n_meta] || !m->meta_vals[m->n_meta]) {
        free(m->meta_keys[m->n_meta]);
        free(m->meta_vals[m->n_meta]);
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    }
    m->n_meta++;
    return CV_OK;
}

cv_status cv_model_put_meta(cv_model *m, const char *key, const char *val, cv_error *err)
{
    for (int k = 0; k < m->n_meta; k++) {
        if (strcmp(m->meta_keys[k], key) != 0)
            continue;
        free(m->meta_keys[k]);
        free(m->meta_vals[k]);
        m->n_meta--;
        memmove(m->meta_keys + k, m->meta_keys + k + 1, sizeof(char *) * (size_t)(m->n_meta - k));
        memmove(m->meta_vals + k, m->meta_vals + k + 1, sizeof(char *) * (size_t)(m->n_meta - k));
        k--;
    }
    return val ? cv_model_set_meta(m, key, val, err) : CV_OK;
}

int cv_model_add_constant(cv_model *m, const char *name, cv_dtype dtype, const cv_shape *shape,
                          void *data, cv_error *err)
{
    /* Attribute tensors have no name of their own in ONNX; the caller makes
     * one from the node and attribute, and we only add a counter on a clash. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (int n = 2; cv_model_find_value(m, buf) >= 0; n++)
        snprintf(buf, sizeof buf, "%s#%d", name, n);
    int v = cv_model_value(m, buf, err);
    if (v < 0) {
        free(data);
        return -1;
    }
    m->values[v].dtype = dtype;
    m->values[v].shape = *shape;
    m->values[v].data = data;
    return v;
}

cv_status cv_node_set_tensor(cv_model *m, int k, const char *name, int value, cv_error *err)
{
    cv_attr *a = new_attr(m, k, name, CV_ATTR_TENSOR, err);
    if (!a)
        return CV_ERR_NOMEM;
    a->tensor = value;
    return CV_OK;
}

const cv_attr *cv_node_attr(const cv_node *n, const char *name)
{
    for (int k = 0; k < n->n_attr; k++)
        if (strcmp(n->attrs[k].name, name) == 0)
            return &n->attrs[k];
    return NULL;
}

int64_t cv_attr_int(const cv_node *n, const char *name, int64_t dflt)
{
    const cv_attr *a = cv_node_attr(n, name);
    return a && a->type == CV_ATTR_INT ? a->i : dflt;
}

float cv_attr_float(const cv_node *n, const char *name, float dflt)
{
    const cv_attr *a = cv_node_attr(n, name);
    if (a && a->type == CV_ATTR_FLOAT)
        return a->f;
    if (a && a->type == CV_ATTR_INT)
        return (float)a->i;
    return dflt;
}

const char *cv_attr_string(const cv_node *n, const char *name, const char *dflt)
{
    const cv_attr *a = cv_node_attr(n, name);
    return a && a->type == CV_ATTR_STRING ? a->s : dflt;
}

int cv_attr_ints(const cv_node *n, const char *name, int64_t *out, int max)
{
    const cv_attr *a = cv_node_attr(n, name);
    if (!a || a->type != CV_ATTR_INTS)
        return -1;
    for (int k = 0; k < a->n && k < max; k++)
        out[k] = a->ints[k];
    return a->n;
}

/* Order nodes so every node comes after the producers of its inputs
 * (Kahn's algorithm); fails on cycles and on inputs nobody produces. */
static cv_status sort_nodes(cv_model *m, cv_error *err)
{
    int nn = m->n_nodes, nv = m->n_values;
    int *producer = malloc(sizeof(int) * (size_t)(nv ? nv : 1));
    int *pending = calloc((size_t)(nn ? nn : 1), sizeof(int));
    int *order = malloc(sizeof(int) * (size_t)(nn ? nn : 1));
    bool *done = calloc((size_t)(nn ? nn : 1), sizeof(bool));
    cv_node *sorted = malloc(sizeof(cv_node) * (size_t)(nn ? nn : 1));
    cv_status st = CV_OK;
    if (!producer || !pending || !order || !done || !sorted) {
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
        goto out;
    }
    for (int v = 0; v < nv; v++)
        producer[v] = -1;
    for (int k = 0; k < nn; k++)
        for (int o = 0; o < m->nodes[k].n_out; o++) {
            int v = m->nodes[k].out[o];
            if (v < 0)
                continue;
            if (producer[v] >= 0) {
                st = cv_fail(err, CV_ERR_FORMAT, "%s: tensor '%s' is produced by two nodes ('%s' and '%s')",
                             m->path, m->values[v].name, m->nodes[producer[v]].name, m->nodes[k].name);
                goto out;
            }
            producer[v] = k;
        }
    for (int k = 0; k < nn; k++)
        for (int i = 0; i < m->nodes[k].n_in; i++) {
            int v = m->nodes[k].in[i];
            if (v < 0)
                continue;
            if (producer[v] < 0 && !m->values[v].data && v != m->input) {
                st = cv_fail(err, CV_ERR_FORMAT, "%s: node '%s' (%s) reads tensor '%s', which no node, initializer or input provides",
                             m->path, m->nodes[k].name, m->nodes[k].op_type, m->values[v].name);
                goto out;
            }
        }
    /* Simple repeated scan: models have at most a few thousand nodes. */
    int placed = 0;
    while (placed < nn) {
        int before = placed;
        for (int k = 0; k < nn; k++) {
            if (done[k])
                continue;
            bool ready = true;
            for (int i = 0; i < m->nodes[k].n_in && ready; i++) {
                int v = m->nodes[k].in[i];
                if (v >= 0 && producer[v] >= 0 && !done[producer[v]])
                    ready = false;
            }
            if (ready) {
                done[k] = true;
                order[placed++] = k;
            }
        }
        if (placed == before) {
            st = cv_fail(err, CV_ERR_FORMAT, "%s: the graph has a cycle", m->path);
            goto out;
        }
    }
    for (int k = 0; k < nn; k++)
        sorted[k] = m->nodes[order[k]];
    if (nn > 0) /* a graph without nodes has m->nodes NULL: no memcpy from/to NULL */
        memcpy(m->nodes, sorted, sizeof(cv_node) * (size_t)nn);
    for (int k = 0; k < nn; k++)
        for (int o = 0; o < m->nodes[k].n_out; o++)
            if (m->nodes[k].out[o] >= 0)
                m->values[m->nodes[k].out[o]].producer = k;
out:
    free(producer);
    free(pending);
    free(order);
    free(done);
    free(sorted);
    return st;
}

cv_status cv_model_finalize(cv_model *m, cv_error *err)
{
    if (m->input < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: the model has no input", m->path);
    if (m->n_outputs < 1)
        return cv_fail(err, CV_ERR_FORMAT, "%s: the model has no output", m->path);
    for (int k = 0; k < m->n_nodes; k++) {
        cv_node *n = &m->nodes[k];
        if (n->n_out < 1 || n->out[0] < 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: node '%s' (%s) has no first output", m->path, n->name,
                           n->op_type);
        n->op = cv_op_find(n->op_type);
        if (!n->op)
            return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: node '%s' uses operator '%s', which cnnviz does not support",
                           m->path, n->name, n->op_type);
    }
    cv_status st = sort_nodes(m, err);
    if (st != CV_OK)
        return st;
    for (int k = 0; k < m->n_nodes; k++) {
        cv_node *n = &m->nodes[k];
        if (n->op->init && (st = n->op->init(n, m, err)) != CV_OK) {
            /* prefix the op's message with the model file and node */
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
            return cv_fail(err, st, "%s: node '%s' (%s): %s", m->path, n->name, n->op_type, inner);
        }
    }
    return CV_OK;
}

/* ---- public accessors ---------------------------------------------------- */

cv_status cv_model_load(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err)
{
    *out = NULL;
    FILE *f;
    cv_status fs = cv_file_open_read(path, "a model file", &f, NULL, err);
    if (fs != CV_OK)
        return fs;
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    static const unsigned char hdf5_magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got == 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: file is empty", path);
    /* One limit for the loader (constants) and, kept in the model, for
     * every run's activations: the caller's, else the memory available now. */
    cv_load_options o = {0};
    if (opt)
        o = *opt;
    o.max_memory = cv_memory_limit(o.max_memory);
    cv_status s = got == 8 && memcmp(magic, hdf5_magic, 8) == 0 ? cv_load_keras(out, path, &o, err)
                                                                 : cv_load_onnx(out, path, &o, err);
    if (s == CV_OK)
        (*out)->max_memory = o.max_memory;
    if (s == CV_OK && !o.ignore_sidecar && (s = cv_model_apply_config(*out, err)) != CV_OK) {
        cv_model_free(*out);
        *out = NULL;
    }
    return s;
}

const char *cv_model_path(const cv_model *m) { return m->path; }
int cv_model_num_outputs(const cv_model *m) { return m->n_outputs; }
cv_shape cv_model_input_shape(const cv_model *m) { return m->values[m->input].shape; }
int cv_model_input_nhwc(const cv_model *m) { return m->input_nhwc; }
const char *cv_model_input_name(const cv_model *m) { return m->values[m->input].name; }

int cv_model_class_score_layer(const cv_model *m, int *before_softmax)
{
    *before_softmax = 0;
    int v = m->n_outputs > 0 ? m->outputs[0] : -1;
    int k = v >= 0 ? m->values[v].producer : -1;
    if (k >= 0 && strcmp(m->nodes[k].op_type, "Softmax") == 0 && m->nodes[k].n_in >= 1 && m->nodes[k].in[0] >= 0) {
        int before = m->values[m->nodes[k].in[0]].producer;
        if (before >= 0) {
            *before_softmax = 1;
            return before;
        }
    }
    return k;
}

const char *cv_model_meta(const cv_model *m, const char *key)
{
    for (int k = 0; k < m->n_meta; k++)
        if (strcmp(m->meta_keys[k], key) == 0)
            return m->meta_vals[k];
    return NULL;
}

int cv_model_num_layers(const cv_model *m) { return m->n_nodes; }

const char *cv_model_layer_name(const cv_model *m, int layer)
{
    const cv_node *n = &m->nodes[layer];
    if (n->name[0])
        return n->name;
    return n->n_out > 0 && n->out[0] >= 0 ? m->values[n->out[0]].name : "";
}

const char *cv_model_layer_op(const cv_model *m, int layer) { return m->nodes[layer].op_type; }

const char *cv_model_layer_output(const cv_model *m, int layer)
{
    const cv_node *n = &m->nodes[layer];
    return n->n_out > 0 && n->out[0] >= 0 ? m->values[n->out[0]].name : "";
}

size_t cv_model_layer_params(const cv_model *m, int layer)
{
    const cv_node *n = &m->nodes[layer];
    size_t total = 0;
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v >= 0 && m->values[v].data && m->values[v].dtype == CV_F32 && m->values[v].producer < 0)
            total += cv_shape_numel(&m->values[v].shape);
    }
    return total;
}

/* How far layer is from the name a user typed, for suggestions: a user
 * types the start or a part of a long name ("fire9" for "fire9/concat_1"),
 * which edit distance alone ranks below any short name ("conv1_1"). So
 * names that start with the typed text come first, then names that
 * contain it, then the rest; by edit distance within each group. */
static int layer_name_distance(const char *typed, const char *layer)
{
    size_t n = strlen(typed);
    int group = strncmp(layer, typed, n) == 0 ? 0 : strstr(layer, typed) ? 1 : 2;
    int d = cv_edit_distance(typed, n, layer, strlen(layer), false);
    return group * (1 << 20) + d; /* d is at most 64 */
}

int cv_model_find_layer(const cv_model *m, const char *name, cv_error *err)
{
    for (int k = 0; k < m->n_nodes; k++)
        if (strcmp(m->nodes[k].name, name) == 0)
            return k;
    for (int k = 0; k < m->n_nodes; k++)
        for (int o = 0; o < m->nodes[k].n_out; o++)
            if (m->nodes[k].out[o] >= 0 && strcmp(m->values[m->nodes[k].out[o]].name, name) == 0)
                return k;
    /* Not found: suggest the three closest layer names. */
    int best[3] = {-1, -1, -1}, bestd[3] = {INT_MAX, INT_MAX, INT_MAX};
    for (int k = 0; k < m->n_nodes; k++) {
        int d = layer_name_distance(name, cv_model_layer_name(m, k));
        for (int s = 0; s < 3; s++)
            if (d < bestd[s]) {
                for (int t = 2; t > s; t--) {
                    best[t] = best[t - 1];
                    bestd[t] = bestd[t - 1];
                }
                best[s] = k;
                bestd[s] = d;
                break;
            }
    }
    char hint[512] = "";
    size_t used = 0;
    for (int s = 0; s < 3 && best[s] >= 0; s++)
        used += (size_t)snprintf(hint + used, sizeof hint - used, "%s'%s'", s ? ", " : "",
                                 cv_model_layer_name(m, best[s]));
    cv_fail(err, CV_ERR_INVALID, "%s: no layer named '%s'%s%s",
            m->path, name, used ? "; close matches: " : "", hint);
    return -1;
}
