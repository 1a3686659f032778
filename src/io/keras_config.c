/* Keras model config -> graph: the model input (NHWC, transposed once to
 * NCHW), each layer call in dependency order (Sequential chains; Functional
 * inbound_nodes, Keras 1/2 lists and Keras 3 keras_history), the outputs.
 * Layer classes are converted by keras_layers.c. */
#include "keras.h"
#include "../core/limits.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ------------------------------------------------------------------------------ */

static kr_tensor *find_tensor(kr_ctx *c, const char *layer, int node, int tensor)
{
    for (int k = 0; k < c->nt; k++)
        if (c->t[k].node == node && c->t[k].tensor == tensor && strcmp(c->t[k].layer, layer) == 0)
            return &c->t[k];
    return NULL;
}

static cv_status add_tensor(kr_ctx *c, const char *layer, int node, const kr_tensor *t)
{
    if (c->nt == c->capt) {
        int cap = c->capt ? c->capt * 2 : 64;
        kr_tensor *p = realloc(c->t, sizeof *p * (size_t)cap);
        if (!p)
            return kr_fail(c, CV_ERR_NOMEM, "out of memory");
        c->t = p;
        c->capt = cap;
    }
    kr_tensor *d = &c->t[c->nt];
    *d = *t;
    d->node = node;
    d->tensor = 0;
    if (!(d->layer = strdup(layer)))
        return kr_fail(c, CV_ERR_NOMEM, "out of memory");
    c->nt++;
    return CV_OK;
}

/* The model input from an InputLayer's config (or the first layer's
 * batch_input_shape in a Sequential model). Images come in NHWC and are
 * transposed once to NCHW. */
static cv_status make_input(kr_ctx *c, const char *name, const cJSON *cfg, const cJSON *fallback)
{
    const cJSON *shape = kr_cfg_get(cfg, "batch_input_shape");
    if (!shape || cJSON_IsNull(shape))
        shape = kr_cfg_get(cfg, "batch_shape");
    if (!shape || cJSON_IsNull(shape))
        shape = fallback;
    int r = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : 0;
    if (r < 2 || r > CV_MAX_DIMS)
        return kr_fail(c, CV_ERR_FORMAT, "cannot tell the model's input shape (no batch_input_shape of rank 2..%d)",
                     CV_MAX_DIMS);
    const char *dtype = kr_cfg_str(c, cfg, "dtype", "float32");
    if (c->st == CV_OK && strncmp(dtype, "float", 5) != 0)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "input dtype '%s' is not supported (float only)", dtype);
    kr_tensor t = {.rank = r};
    t.shape[0] = -1;
    for (int k = 1; k < r; k++) {
        const cJSON *j = cJSON_GetArrayItem(shape, k);
        if (cJSON_IsNull(j))
            t.shape[k] = -1;
        else if (!kr_is_int(j, 1, 1 << 30, &t.shape[k]))
            return kr_fail(c, CV_ERR_FORMAT, "batch_input_shape entry %d is not a size", k);
    }
    if (c->m->input >= 0)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "the model has more than one input; cnnviz supports one");
    int v = kr_new_value(c, name);
    if (v < 0)
        return c->st;
    c->m->input = v;
    c->m->values[v].shape.ndim = r;
    for (int k = 0; k < r; k++)
        c->m->values[v].shape.d[k] = t.shape[k];
    t.v = v;
    if (r == 4) {
        char tn[KR_NAME_MAX + 32];
        snprintf(tn, sizeof tn, "%s/transpose", name);
        c->m->input_nhwc = 1;
        t.v = kr_transpose(c, v, KR_TO_NCHW, 4, tn);
    }
    if (c->st == CV_OK)
        add_tensor(c, name, 0, &t);
    return c->st;
}

/* Parse one inbound reference: ["layer", node, tensor(, kwargs)] (Keras 1/2)
 * or {"keras_history": [...]} inside Keras 3's args. */
static bool parse_ref(const cJSON *j, const char **layer, int *node, int *tensor)
{
    int64_t a, b;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) < 3 || !cJSON_IsString(cJSON_GetArrayItem(j, 0)) ||
        !kr_is_int(cJSON_GetArrayItem(j, 1), 0, 1 << 20, &a) || !kr_is_int(cJSON_GetArrayItem(j, 2), 0, 1 << 20, &b))
        return false;
    *layer = cJSON_GetArrayItem(j, 0)->valuestring;
    *node = (int)a;
    *tensor = (int)b;
    return true;
}

typedef struct {
    const char *layer;
    int node, tensor;
} kref;

/* Keras 3 wraps references in {"class_name": "__keras_tensor__", "config":
 * {"keras_history": [...]}} anywhere inside "args". Collect them in order. */
static void collect_history(const cJSON *j, kref *refs, int max, int *n, bool *bad)
{
    if (!j || *bad)
        return;
    const cJSON *h = cJSON_IsObject(j) ? kr_cfg_get(j, "keras_history") : NULL;
    if (h) {
        if (*n >= max || !parse_ref(h, &refs[*n].layer, &refs[*n].node, &refs[*n].tensor))
            *bad = true;
        else
            (*n)++;
        return;
    }
    if (cJSON_IsArray(j) || cJSON_IsObject(j))
        for (const cJSON *e = j->child; e; e = e->next)
            collect_history(e, refs, max, n, bad);
}

static cv_status parse_inbound(kr_ctx *c, const cJSON *node, kref *refs, int max, int *n)
{
    *n = 0;
    bool bad = false;
    if (cJSON_IsArray(node)) {
        for (const cJSON *e = node->child; e && !bad; e = e->next) {
            if (*n >= max || !parse_ref(e, &refs[*n].layer, &refs[*n].node, &refs[*n].tensor))
                bad = true;
            else
                (*n)++;
        }
    } else if (cJSON_IsObject(node)) {
        collect_history(kr_cfg_get(node, "args"), refs, max, n, &bad);
    } else {
        bad = true;
    }
    if (bad || *n == 0)
        return kr_fail(c, CV_ERR_FORMAT, "model_config: inbound_nodes entry is not a list of [layer, node, tensor] "
                                       "references (or has more than %d)", max);
    return CV_OK;
}

/* Unsupported layers are reported with the class in the message body; the
 * generic "layer 'x' (Class):" prefix would repeat it, so write it here. */
static cv_status unsupported_layer(kr_ctx *c, kr_layer *L)
{
    c->st = CV_ERR_UNSUPPORTED;
    const char *what = strcmp(L->cls, "Functional") == 0 || strcmp(L->cls, "Model") == 0 ||
                               strcmp(L->cls, "Sequential") == 0
                           ? " (a nested model; rebuild it flat)"
                           : "";
    return cv_fail(c->err, CV_ERR_UNSUPPORTED, "%s: layer '%s' has class %s, which cnnviz does not support%s", c->path,
                   L->name, L->cls, what);
}

/* Run layer L's converter for one call (Keras node `call`) on inputs in[]. */
static cv_status convert_call(kr_ctx *c, kr_layer *L, int call, kr_tensor **in, int n_in)
{
    c->L = L;
    if (call == 0)
        snprintf(c->base, sizeof c->base, "%s", L->name);
    else /* a shared layer applied again */
        snprintf(c->base, sizeof c->base, "%s/call%d", L->name, call);
    const kr_layer_kind *kind = kr_find_kind(L->cls);
    if (!kind)
        return unsupported_layer(c, L);
    for (int i = 0; i < n_in; i++)
        if (in[i]->tensor != 0)
            return kr_fail(c, CV_ERR_UNSUPPORTED, "reads output %d of a layer; only single-output layers are supported",
                         in[i]->tensor);
    if (!kind->multi_input && n_in != 1)
        return kr_fail(c, CV_ERR_FORMAT, "has %d inputs; expected 1", n_in);
    kr_tensor out;
    memset(&out, 0, sizeof out);
    out.v = -1;
    cv_status st = kind->fn(c, in, n_in, &out);
    if (st == CV_OK && c->st == CV_OK && out.v < 0)
        return kr_fail(c, CV_ERR_FORMAT, "produced no output");
    if (st != CV_OK || c->st != CV_OK)
        return c->st != CV_OK ? c->st : st;
    return add_tensor(c, L->name, call, &out);
}


static cv_status set_outputs(kr_ctx *c, const kref *refs, int n)
{
    c->L = NULL;
    if (!(c->m->outputs = malloc(sizeof(int) * (size_t)(n ? n : 1))))
        return kr_fail(c, CV_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n; k++) {
        kr_tensor *t = find_tensor(c, refs[k].layer, refs[k].node, refs[k].tensor);
        if (!t)
            return kr_fail(c, CV_ERR_FORMAT, "model_config: output '%s' (node %d, tensor %d) is not produced by any layer",
                         refs[k].layer, refs[k].node, refs[k].tensor);
        c->m->outputs[c->m->n_outputs++] = t->v;
    }
    return CV_OK;
}

/* A model built with model.build(shape) has no InputLayer and records the
 * shape as the model's build_input_shape. */
static cv_status build_sequential(kr_ctx *c, const cJSON *cfg, kr_layer *L, int n)
{
    if (n < 1)
        return kr_fail(c, CV_ERR_FORMAT, "model_config: the Sequential model has no layers");
    int first = 0;
    const char *input_name = L[0].name;
    char synth[KR_NAME_MAX + 16];
    c->L = &L[0];
    if (strcmp(L[0].cls, "InputLayer") == 0) {
        first = 1;
    } else {
        /* Keras names the implicit input "<first layer>_input". */
        snprintf(synth, sizeof synth, "%s_input", L[0].name);
        input_name = synth;
    }
    if (make_input(c, input_name, L[0].cfg, cJSON_IsObject(cfg) ? kr_cfg_get(cfg, "build_input_shape") : NULL) != CV_OK)
        return c->st;
    kr_tensor *prev = find_tensor(c, input_name, 0, 0);
    int prev_idx = (int)(prev - c->t);
    for (int k = first; k < n; k++) {
        if (strcmp(L[k].cls, "InputLayer") == 0) {
            c->L = &L[k];
            return kr_fail(c, CV_ERR_FORMAT, "an InputLayer in the middle of a Sequential model");
        }
        if (!kr_find_kind(L[k].cls))
            return unsupported_layer(c, &L[k]);
        kr_tensor *in = &c->t[prev_idx];
        if (convert_call(c, &L[k], 0, &in, 1) != CV_OK)
            return c->st;
        prev_idx = c->nt - 1;
    }
    c->L = NULL;
    kref out = {c->t[prev_idx].layer, c->t[prev_idx].node, 0};
    return set_outputs(c, &out, 1);
}

/* The list of [name, node, tensor] refs in input_layers / output_layers
 * (Keras 3 writes a single ref without the outer list). */
static cv_status parse_io(kr_ctx *c, const cJSON *j, const char *what, kref *refs, int max, int *n)
{
    *n = 0;
    c->L = NULL;
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) >= 1 && cJSON_IsString(cJSON_GetArrayItem(j, 0))) {
        if (!parse_ref(j, &refs[0].layer, &refs[0].node, &refs[0].tensor))
            return kr_fail(c, CV_ERR_FORMAT, "model_config: '%s' is not a list of [layer, node, tensor]", what);
        *n = 1;
        return CV_OK;
    }
    if (!cJSON_IsArray(j))
        return kr_fail(c, CV_ERR_FORMAT, "model_config: '%s' is missing", what);
    for (const cJSON *e = j->child; e; e = e->next) {
        if (*n >= max || !parse_ref(e, &refs[*n].layer, &refs[*n].node, &refs[*n].tensor))
            return kr_fail(c, CV_ERR_FORMAT, "model_config: '%s' is not a list of [layer, node, tensor] (at most %d)", what, max);
        (*n)++;
    }
    return CV_OK;
}

static kr_layer *find_layer(kr_layer *L, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (strcmp(L[k].name, name) == 0)
            return &L[k];
    return NULL;
}

/* Functional: convert each (layer, inbound node) once all the tensors it
 * reads exist, repeating passes until nothing changes (config order is
 * usually topological already, so this is one pass in practice). */
static cv_status build_functional(kr_ctx *c, const cJSON *cfg, kr_layer *L, int n)
{
    kref refs[CV_NODE_MAX_INPUTS];
    int nr;
    if (parse_io(c, kr_cfg_get(cfg, "input_layers"), "input_layers", refs, CV_NODE_MAX_INPUTS, &nr) != CV_OK)
        return c->st;
    if (nr != 1)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "the model has %d inputs; cnnviz supports one", nr);
    kr_layer *in_layer = find_layer(L, n, refs[0].layer);
    if (!in_layer || strcmp(in_layer->cls, "InputLayer") != 0)
        return kr_fail(c, CV_ERR_FORMAT, "model_config: input '%s' is not an InputLayer of the model", refs[0].layer);
    c->L = in_layer;
    if (make_input(c, in_layer->name, in_layer->cfg, NULL) != CV_OK)
        return c->st;
    /* Check every reference up front so a typo gives one clear message. */
    for (int k = 0; k < n; k++) {
        c->L = &L[k];
        const cJSON *nodes = kr_cfg_get(L[k].json, "inbound_nodes");
        if (strcmp(L[k].cls, "InputLayer") == 0)
            continue;
        if (!cJSON_IsArray(nodes))
            return kr_fail(c, CV_ERR_FORMAT, "model_config: no inbound_nodes list");
        for (const cJSON *nd = nodes->child; nd; nd = nd->next) {
            if (parse_inbound(c, nd, refs, CV_NODE_MAX_INPUTS, &nr) != CV_OK)
                return c->st;
            for (int r = 0; r < nr; r++)
                if (!find_layer(L, n, refs[r].layer))
                    return kr_fail(c, CV_ERR_FORMAT, "model_config: reads from layer '%s', which is not in the model",
                                 refs[r].layer);
        }
        if (nodes->child && !kr_find_kind(L[k].cls))
            return unsupported_layer(c, &L[k]);
    }
    bool progress = true;
    while (progress) {
        progress = false;
        for (int k = 0; k < n; k++) {
            if (strcmp(L[k].cls, "InputLayer") == 0)
                continue;
            const cJSON *nodes = kr_cfg_get(L[k].json, "inbound_nodes");
            int total = cJSON_GetArraySize(nodes);
            while (L[k].calls < total) {
                c->L = &L[k];
                parse_inbound(c, cJSON_GetArrayItem(nodes, L[k].calls), refs, CV_NODE_MAX_INPUTS, &nr);
                kr_tensor *ins[CV_NODE_MAX_INPUTS];
                bool ready = true;
                for (int r = 0; r < nr && ready; r++)
                    ready = (ins[r] = find_tensor(c, refs[r].layer, refs[r].node, refs[r].tensor)) != NULL;
                if (!ready)
                    break;
                /* ins[] point into c->t, which add_tensor may move: copy them. */
                kr_tensor copies[CV_NODE_MAX_INPUTS];
                kr_tensor *pins[CV_NODE_MAX_INPUTS];
                for (int r = 0; r < nr; r++) {
                    copies[r] = *ins[r];
                    pins[r] = &copies[r];
                }
                if (convert_call(c, &L[k], L[k].calls, pins, nr) != CV_OK)
                    return c->st;
                L[k].calls++;
                progress = true;
            }
        }
    }
    for (int k = 0; k < n; k++) {
        const cJSON *nodes = kr_cfg_get(L[k].json, "inbound_nodes");
        if (strcmp(L[k].cls, "InputLayer") != 0 && L[k].calls < cJSON_GetArraySize(nodes)) {
            c->L = &L[k];
            return kr_fail(c, CV_ERR_FORMAT, "model_config: its inputs are never computed (a cycle, a second model input, "
                                           "or a missing output index)");
        }
    }
    if (parse_io(c, kr_cfg_get(cfg, "output_layers"), "output_layers", refs, CV_NODE_MAX_INPUTS, &nr) != CV_OK)
        return c->st;
    return set_outputs(c, refs, nr);
}

cv_status kr_build(cv_model *m, const cJSON *model_json, kr_weights *w, const cv_load_options *opt, cv_error *err)
{
    kr_ctx c = {.m = m, .wf = w, .opt = opt, .err = err, .path = m->path};
    const cJSON *cls = kr_cfg_get(model_json, "class_name"), *cfg = kr_cfg_get(model_json, "config");
    if (!cJSON_IsString(cls) || !cfg)
        return cv_fail(err, CV_ERR_FORMAT, "%s: model_config has no class_name and config", m->path);
    bool sequential = strcmp(cls->valuestring, "Sequential") == 0;
    if (!sequential && strcmp(cls->valuestring, "Functional") != 0 && strcmp(cls->valuestring, "Model") != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: model_config has class %s (Sequential, Functional or Model expected)",
                       m->path, cls->valuestring);
    /* Keras <= 2.2.4 writes a Sequential config as the bare list of layers. */
    const cJSON *layers = sequential && cJSON_IsArray(cfg) ? cfg : kr_cfg_get(cfg, "layers");
    if (!cJSON_IsArray(layers))
        return cv_fail(err, CV_ERR_FORMAT, "%s: model_config has no list of layers", m->path);
    int n = cJSON_GetArraySize(layers);
    if (n > KR_MAX_LAYERS)
        return cv_fail(err, CV_ERR_LIMIT, "%s: model_config has %d layers (at most %d)", m->path, n, KR_MAX_LAYERS);
    kr_layer *L = calloc((size_t)(n ? n : 1), sizeof *L);
    if (!L)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    cv_status st = CV_OK;
    int k = 0;
    for (const cJSON *e = layers->child; e; e = e->next, k++) {
        const cJSON *lc = kr_cfg_get(e, "class_name"), *lcfg = kr_cfg_get(e, "config");
        const cJSON *name = kr_cfg_get(e, "name");
        if (!cJSON_IsString(name) && cJSON_IsObject(lcfg))
            name = kr_cfg_get(lcfg, "name");
        if (!cJSON_IsString(lc) || !cJSON_IsObject(lcfg) || !cJSON_IsString(name) || !name->valuestring[0] ||
            strlen(name->valuestring) > KR_NAME_MAX) {
            st = cv_fail(err, CV_ERR_FORMAT, "%s: model_config: layer %d has no class_name, name (1..%d characters) or config",
                         m->path, k, KR_NAME_MAX);
            goto out;
        }
        L[k] = (kr_layer){.json = e, .name = name->valuestring, .cls = lc->valuestring, .cfg = lcfg, .nw = -1};
        for (int j = 0; j < k; j++)
            if (strcmp(L[j].name, L[k].name) == 0) {
                st = cv_fail(err, CV_ERR_FORMAT, "%s: model_config: two layers are named '%s'", m->path, L[k].name);
                goto out;
            }
    }
    /* The old layout hands weights out by position: read them in config
     * order now. By-name files are read layer by layer as they convert. */
    for (k = 0; w && w->old_layout && k < n; k++) {
        const kr_layer_kind *kind = kr_find_kind(L[k].cls);
        if (kind && kind->weights && (st = kr_load_layer_weights(&c, &L[k])) != CV_OK)
            goto out;
    }
    m->opset = 13; /* the ONNX semantics the nodes are written for (Pad/Clip inputs, Softmax axis) */
    st = sequential ? build_sequential(&c, cfg, L, n) : build_functional(&c, cfg, L, n);
    if (st == CV_OK && c.st != CV_OK)
        st = c.st;
out:
    for (k = 0; k < n; k++)
        kr_arrays_free(L[k].w, L[k].nw);
    free(L);
    for (k = 0; k < c.nt; k++)
        free(c.t[k].layer);
    free(c.t);
    return st;
}
