/* Keras model config -> ONNX-op nodes.
 *
 * Layout: Keras tensors are channels-last. Every rank-4 Keras tensor
 * [N,H,W,C] is held NCHW inside the graph (the input gets one Transpose
 * right after it), so convolutions and pools run in the engine's layout;
 * tensors of other ranks are held exactly as Keras has them. Where Keras
 * semantics depend on the order (Flatten, Reshape, Dense on images,
 * Concatenate's axis, PReLU's alpha) the converter transposes or remaps.
 *
 * Names: the node producing a Keras layer's output is named exactly like
 * the layer (so `--layer block5_conv3` works) and its output value has the
 * same name; helper nodes get "<layer>/<what>" names. A layer with a fused
 * activation ("activation": "relu") names its conv/matmul "<layer>/conv" or
 * "<layer>/matmul" and the activation node "<layer>", which is what Keras'
 * layer.output is.
 *
 * Shapes: each Keras tensor carries its Keras shape with -1 for unknown
 * dimensions, so weights are checked against the config at load time
 * wherever the sizes are known.
 *
 * Errors use a sticky status (kctx.st): builders do nothing once it is set,
 * so a converter can emit a run of nodes and check once.
 */
#include "keras.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KR_NAME_MAX 200 /* longest layer name accepted */

typedef struct {
    char *layer;                /* producing Keras layer */
    int node, tensor;           /* Keras node and tensor index */
    int v;                      /* value holding it (NCHW when rank is 4) */
    int rank;
    int64_t shape[CV_MAX_DIMS]; /* Keras (channels-last) shape, -1 unknown */
} ktensor;

typedef struct {
    const cJSON *json;
    const char *name, *cls;
    const cJSON *cfg;
    kr_array *w;                /* weights in the file's order */
    int nw;                     /* -1: not loaded / none in the file */
    bool loaded;                /* kr_weights_get was called */
    int calls;                  /* inbound nodes converted so far */
} klayer;

typedef struct {
    cv_model *m;
    kr_weights *wf;
    const cv_load_options *opt;
    cv_error *err;
    const char *path;
    cv_status st;               /* sticky: first failure */
    ktensor *t;
    int nt, capt;
    klayer *L;                  /* layer being converted */
    char base[KR_NAME_MAX + 32];/* node name for this call of L */
} kctx;

/* ---- errors ---------------------------------------------------------------- */

static cv_status lfail(kctx *c, cv_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fail naming the file and the current layer; keeps the first failure. */
static cv_status lfail(kctx *c, cv_status st, const char *fmt, ...)
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
static void keep(kctx *c, cv_status st)
{
    if (c->st == CV_OK && st != CV_OK)
        c->st = st;
}

/* ---- graph builders ------------------------------------------------------------ */

static char *nm(kctx *c, char *buf, size_t len, const char *suffix)
{
    if (suffix)
        snprintf(buf, len, "%s/%s", c->base, suffix);
    else
        snprintf(buf, len, "%s", c->base);
    return buf;
}

/* A new value named `name`; refuses a name already in use. */
static int new_value(kctx *c, const char *name)
{
    if (c->st != CV_OK)
        return -1;
    if (cv_model_find_value(c->m, name) >= 0) {
        lfail(c, CV_ERR_FORMAT, "the name '%s' is used twice in the model", name);
        return -1;
    }
    int v = cv_model_value(c->m, name, c->err);
    if (v < 0)
        keep(c, CV_ERR_NOMEM);
    return v;
}

/* Node `name` of type op reading in[]; its one output value has the same
 * name. Returns the output value (node index in *node), -1 on failure. */
static int emit(kctx *c, const char *name, const char *op, const int *in, int n_in, int *node)
{
    int v = new_value(c, name);
    if (v < 0)
        return -1;
    int k = cv_model_add_node(c->m, name, op, in, n_in, &v, 1, c->err);
    if (k < 0) {
        keep(c, CV_ERR_NOMEM);
        return -1;
    }
    if (node)
        *node = k;
    return v;
}

static void set_int(kctx *c, int k, const char *a, int64_t v)
{
    if (c->st == CV_OK)
        keep(c, cv_node_set_int(c->m, k, a, v, c->err));
}

static void set_float(kctx *c, int k, const char *a, float v)
{
    if (c->st == CV_OK)
        keep(c, cv_node_set_float(c->m, k, a, v, c->err));
}

static void set_ints(kctx *c, int k, const char *a, const int64_t *v, int n)
{
    if (c->st == CV_OK)
        keep(c, cv_node_set_ints(c->m, k, a, v, n, c->err));
}

static void set_string(kctx *c, int k, const char *a, const char *v)
{
    if (c->st == CV_OK)
        keep(c, cv_node_set_string(c->m, k, a, v, c->err));
}

/* A float constant; takes ownership of data (freed on failure). */
static int const_f32(kctx *c, const char *name, int ndim, const int64_t *dims, float *data)
{
    int v = new_value(c, name);
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

static int const_i64(kctx *c, const char *name, const int64_t *x, int n)
{
    int64_t *data = malloc(sizeof *data * (size_t)(n ? n : 1));
    if (!data) {
        lfail(c, CV_ERR_NOMEM, "out of memory");
        return -1;
    }
    memcpy(data, x, sizeof *data * (size_t)n);
    int v = new_value(c, name);
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

static int const_scalar(kctx *c, const char *name, float x)
{
    float *data = malloc(sizeof *data);
    if (!data) {
        lfail(c, CV_ERR_NOMEM, "out of memory");
        return -1;
    }
    *data = x;
    return const_f32(c, name, 0, NULL, data);
}

static int transpose(kctx *c, int x, const int64_t *perm, int n, const char *name)
{
    int k = -1;
    int y = emit(c, name, "Transpose", &x, 1, &k);
    if (y >= 0)
        set_ints(c, k, "perm", perm, n);
    return y;
}

static const int64_t TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

/* ---- config readers ---------------------------------------------------------------- */

static const cJSON *cfg_get(const cJSON *cfg, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(cfg, key);
}

/* Present and not null. */
static bool cfg_has(const cJSON *cfg, const char *key)
{
    const cJSON *j = cfg_get(cfg, key);
    return j && !cJSON_IsNull(j);
}

static bool is_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out)
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
static int64_t cfg_int(kctx *c, const cJSON *cfg, const char *key, int64_t dflt, int64_t lo, int64_t hi)
{
    if (!cfg_has(cfg, key))
        return dflt;
    int64_t v;
    if (!is_int(cfg_get(cfg, key), lo, hi, &v)) {
        lfail(c, CV_ERR_FORMAT, "config '%s' should be an integer in [%lld, %lld]", key, (long long)lo,
              (long long)hi);
        return dflt;
    }
    return v;
}

static double cfg_num(kctx *c, const cJSON *cfg, const char *key, double dflt)
{
    if (!cfg_has(cfg, key))
        return dflt;
    const cJSON *j = cfg_get(cfg, key);
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble)) {
        lfail(c, CV_ERR_FORMAT, "config '%s' should be a number", key);
        return dflt;
    }
    return j->valuedouble;
}

static bool cfg_bool(kctx *c, const cJSON *cfg, const char *key, bool dflt)
{
    if (!cfg_has(cfg, key))
        return dflt;
    const cJSON *j = cfg_get(cfg, key);
    if (!cJSON_IsBool(j)) {
        lfail(c, CV_ERR_FORMAT, "config '%s' should be true or false", key);
        return dflt;
    }
    return cJSON_IsTrue(j);
}

static const char *cfg_str(kctx *c, const cJSON *cfg, const char *key, const char *dflt)
{
    if (!cfg_has(cfg, key))
        return dflt;
    const cJSON *j = cfg_get(cfg, key);
    if (!cJSON_IsString(j)) {
        lfail(c, CV_ERR_FORMAT, "config '%s' should be a string", key);
        return dflt;
    }
    return j->valuestring;
}

/* A 2-D size: an integer or a list of two (Keras normalises to lists). */
static void cfg_pair(kctx *c, const cJSON *cfg, const char *key, int64_t dflt, int64_t lo, int64_t out[2])
{
    out[0] = out[1] = dflt;
    if (!cfg_has(cfg, key))
        return;
    const cJSON *j = cfg_get(cfg, key);
    int64_t hi = 1 << 20;
    if (is_int(j, lo, hi, &out[0])) {
        out[1] = out[0];
        return;
    }
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2 && is_int(cJSON_GetArrayItem(j, 0), lo, hi, &out[0]) &&
        is_int(cJSON_GetArrayItem(j, 1), lo, hi, &out[1]))
        return;
    lfail(c, CV_ERR_FORMAT, "config '%s' should be an integer or two integers >= %lld", key, (long long)lo);
}

/* 'valid' or 'same'; returns true for same. */
static bool cfg_padding(kctx *c, const cJSON *cfg)
{
    const char *p = cfg_str(c, cfg, "padding", "valid");
    if (strcmp(p, "same") == 0)
        return true;
    if (strcmp(p, "valid") != 0)
        lfail(c, CV_ERR_UNSUPPORTED, "padding '%s' is not supported (valid, same)", p);
    return false;
}

/* channels_last is what cnnviz runs; channels_first only where it is trivial. */
static bool channels_last(kctx *c, const cJSON *cfg, bool first_ok)
{
    const char *f = cfg_str(c, cfg, "data_format", "channels_last");
    if (strcmp(f, "channels_last") == 0)
        return true;
    if (strcmp(f, "channels_first") == 0 && first_ok)
        return false;
    lfail(c, CV_ERR_UNSUPPORTED, "data_format '%s' is not supported (channels_last only)", f);
    return true;
}

/* ---- shapes ---------------------------------------------------------------------- */

static char *dims_str(int nd, const int64_t *d, char *buf, size_t len)
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
static int64_t window_out(kctx *c, int64_t in, int64_t k, int64_t s, int64_t d, bool same)
{
    if (in < 0)
        return -1;
    if (same)
        return (in + s - 1) / s;
    int64_t eff = (k - 1) * d + 1;
    if (in < eff) {
        lfail(c, CV_ERR_SHAPE, "input size %lld is smaller than the window %lld", (long long)in, (long long)eff);
        return -1;
    }
    return (in - eff) / s + 1;
}

static ktensor *need_rank(kctx *c, ktensor *x, int rank)
{
    if (x->rank != rank) {
        char s[160];
        lfail(c, CV_ERR_UNSUPPORTED, "input %s has rank %d; this layer needs rank %d", dims_str(x->rank, x->shape, s, sizeof s),
              x->rank, rank);
    }
    return x;
}

/* ---- weights ------------------------------------------------------------------------ */

static cv_status load_layer_weights(kctx *c, klayer *L);

/* The layer's weights must be n arrays. By-name files are read here, after
 * the config was checked, so a config problem is reported before a
 * missing-weights one. */
static bool want_weights(kctx *c, int n, const char *names)
{
    if (c->st != CV_OK)
        return false;
    if (!c->L->loaded && load_layer_weights(c, c->L) != CV_OK)
        return false;
    if (c->L->nw != n) {
        lfail(c, CV_ERR_FORMAT, "the file has %d weight arrays for it, expected %d (%s)", c->L->nw, n, names);
        return false;
    }
    return true;
}

/* Does array a have shape d (entries < 0 match anything)? */
static bool dims_match(const kr_array *a, int nd, const int64_t *d)
{
    if (a->ndim != nd)
        return false;
    for (int k = 0; k < nd; k++)
        if (d[k] >= 0 && a->d[k] != d[k])
            return false;
    return true;
}

static bool check_dims(kctx *c, const kr_array *a, const char *what, int nd, const int64_t *d)
{
    if (c->st != CV_OK)
        return false;
    if (dims_match(a, nd, d))
        return true;
    char s1[160], s2[160];
    lfail(c, CV_ERR_SHAPE, "%s has shape %s in the file, expected %s", what, dims_str(a->ndim, a->d, s1, sizeof s1),
          dims_str(nd, d, s2, sizeof s2));
    return false;
}

/* Take ownership of weight array k. */
static float *take(kctx *c, int k)
{
    float *p = c->L->w[k].data;
    c->L->w[k].data = NULL;
    return p;
}

/* A conv kernel as OIHW [cout, cin, kh, kw] from the file's HWIO
 * [kh, kw, cin, cout] (Keras 2; Keras 1 files with Theano ordering store
 * OIHW, accepted when the shape says so). *cin < 0: take it from the file.
 * Flips kernels 180 degrees when asked (keras.utils.convert_kernel). */
static float *conv_kernel(kctx *c, int k, const char *what, int64_t kh, int64_t kw, int64_t *cin, int64_t cout)
{
    if (c->st != CV_OK)
        return NULL;
    const kr_array *a = &c->L->w[k];
    int64_t hwio[4] = {kh, kw, *cin, cout}, oihw[4] = {cout, *cin, kh, kw};
    bool is_hwio = dims_match(a, 4, hwio), is_oihw = dims_match(a, 4, oihw);
    if (is_hwio && is_oihw) /* ambiguous (all sizes equal): the old layout is Theano's */
        is_hwio = !c->wf->old_layout;
    if (!is_hwio && !is_oihw) {
        check_dims(c, a, what, 4, hwio);
        return NULL;
    }
    if (*cin < 0)
        *cin = is_hwio ? a->d[2] : a->d[1];
    size_t n = (size_t)(kh * kw * *cin * cout);
    float *w = malloc(sizeof *w * (n ? n : 1));
    if (!w) {
        lfail(c, CV_ERR_NOMEM, "out of memory converting %s", what);
        return NULL;
    }
    int64_t ci = *cin;
    bool flip = c->opt && c->opt->keras_flip_kernels;
    for (int64_t o = 0; o < cout; o++)
        for (int64_t i = 0; i < ci; i++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++) {
                    int64_t sy = flip ? kh - 1 - y : y, sx = flip ? kw - 1 - x : x;
                    size_t src = is_hwio ? (size_t)(((sy * kw + sx) * ci + i) * cout + o)
                                         : (size_t)(((o * ci + i) * kh + sy) * kw + sx);
                    w[((o * ci + i) * kh + y) * kw + x] = a->data[src];
                }
    return w;
}

/* A depthwise kernel [kh, kw, C, mult] as OIHW [C*mult, 1, kh, kw] with
 * output channel c*mult + j, the order TF's depthwise_conv2d uses. */
static float *depthwise_kernel(kctx *c, int k, int64_t kh, int64_t kw, int64_t *C, int64_t mult)
{
    if (c->st != CV_OK)
        return NULL;
    const kr_array *a = &c->L->w[k];
    int64_t want[4] = {kh, kw, *C, mult};
    if (!check_dims(c, a, "depthwise_kernel", 4, want))
        return NULL;
    *C = a->d[2];
    int64_t ch = *C;
    size_t n = (size_t)(kh * kw * ch * mult);
    float *w = malloc(sizeof *w * (n ? n : 1));
    if (!w) {
        lfail(c, CV_ERR_NOMEM, "out of memory converting the depthwise kernel");
        return NULL;
    }
    bool flip = c->opt && c->opt->keras_flip_kernels;
    for (int64_t i = 0; i < ch; i++)
        for (int64_t j = 0; j < mult; j++)
            for (int64_t y = 0; y < kh; y++)
                for (int64_t x = 0; x < kw; x++) {
                    int64_t sy = flip ? kh - 1 - y : y, sx = flip ? kw - 1 - x : x;
                    w[((i * mult + j) * kh + y) * kw + x] = a->data[((sy * kw + sx) * ch + i) * mult + j];
                }
    return w;
}

/* A per-channel vector weight of length n (bias, BN parameters). */
static int vector_const(kctx *c, int k, const char *what, int64_t n, const char *suffix)
{
    int64_t d[1] = {n};
    if (!check_dims(c, &c->L->w[k], what, 1, d))
        return -1;
    char name[KR_NAME_MAX + 64];
    int64_t len = c->L->w[k].d[0];
    return const_f32(c, nm(c, name, sizeof name, suffix), 1, &len, take(c, k));
}

/* ---- activations ------------------------------------------------------------------------- */

/* y = act(x), the last node named `name`. nchw: x is a rank-4 tensor held
 * NCHW (Keras' last axis is axis 1 here). "linear" returns x. */
static int activation(kctx *c, const char *act, int x, bool nchw, const char *name)
{
    int k = -1, y = -1;
    char aux[KR_NAME_MAX + 64];
    if (c->st != CV_OK)
        return -1;
    if (strcmp(act, "linear") == 0)
        return x;
    if (strcmp(act, "relu") == 0)
        return emit(c, name, "Relu", &x, 1, NULL);
    if (strcmp(act, "sigmoid") == 0)
        return emit(c, name, "Sigmoid", &x, 1, NULL);
    if (strcmp(act, "tanh") == 0)
        return emit(c, name, "Tanh", &x, 1, NULL);
    if (strcmp(act, "softmax") == 0) {
        /* opset 13 Softmax: one axis, Keras' last. */
        y = emit(c, name, "Softmax", &x, 1, &k);
        set_int(c, k, "axis", nchw ? 1 : -1);
        return y;
    }
    if (strcmp(act, "relu6") == 0) {
        snprintf(aux, sizeof aux, "%s/min", name);
        int lo = const_scalar(c, aux, 0.0f);
        snprintf(aux, sizeof aux, "%s/max", name);
        int hi = const_scalar(c, aux, 6.0f);
        int in[3] = {x, lo, hi};
        return emit(c, name, "Clip", in, 3, NULL);
    }
    if (strcmp(act, "elu") == 0) {
        y = emit(c, name, "Elu", &x, 1, &k);
        set_float(c, k, "alpha", 1.0f);
        return y;
    }
    if (strcmp(act, "selu") == 0) {
        /* Keras' constants (Klambauer et al.) */
        y = emit(c, name, "Selu", &x, 1, &k);
        set_float(c, k, "alpha", 1.6732632423543772f);
        set_float(c, k, "gamma", 1.0507009873554805f);
        return y;
    }
    if (strcmp(act, "swish") == 0 || strcmp(act, "silu") == 0) {
        snprintf(aux, sizeof aux, "%s/sigmoid", name);
        int s = emit(c, aux, "Sigmoid", &x, 1, NULL);
        int in[2] = {x, s};
        return emit(c, name, "Mul", in, 2, NULL);
    }
    if (strcmp(act, "hard_sigmoid") == 0) {
        /* Keras 2: clip(0.2 x + 0.5, 0, 1) */
        y = emit(c, name, "HardSigmoid", &x, 1, &k);
        set_float(c, k, "alpha", 0.2f);
        set_float(c, k, "beta", 0.5f);
        return y;
    }
    lfail(c, CV_ERR_UNSUPPORTED, "activation '%s' is not supported", act);
    return -1;
}

/* The layer's "activation" option as a string ("linear" when absent). */
static const char *layer_activation(kctx *c)
{
    const cJSON *j = cfg_get(c->L->cfg, "activation");
    if (!j || cJSON_IsNull(j))
        return "linear";
    if (cJSON_IsString(j))
        return j->valuestring;
    lfail(c, CV_ERR_UNSUPPORTED, "only named activations are supported (a custom activation object was given)");
    return "linear";
}

/* Name for the node before a fused activation. */
static char *pre_act_name(kctx *c, const char *act, const char *what, char *buf, size_t len)
{
    return nm(c, buf, len, strcmp(act, "linear") == 0 ? NULL : what);
}

/* ---- layers -------------------------------------------------------------------------------- */

typedef cv_status (*convert_fn)(kctx *c, ktensor **in, int n_in, ktensor *out);

static void set_window(kctx *c, int k, const int64_t kernel[2], const int64_t strides[2], bool same)
{
    set_ints(c, k, "kernel_shape", kernel, 2);
    set_ints(c, k, "strides", strides, 2);
    if (same) {
        set_string(c, k, "auto_pad", "SAME_UPPER"); /* = TF's 'same' (extra padding at the end) */
    } else {
        int64_t pads[4] = {0, 0, 0, 0};
        set_ints(c, k, "pads", pads, 4);
    }
}

static cv_status conv_out_shape(kctx *c, const ktensor *x, ktensor *out, const int64_t kern[2],
                                const int64_t s[2], const int64_t d[2], bool same, int64_t channels)
{
    out->rank = 4;
    out->shape[0] = x->shape[0];
    out->shape[1] = window_out(c, x->shape[1], kern[0], s[0], d[0], same);
    out->shape[2] = window_out(c, x->shape[2], kern[1], s[1], d[1], same);
    out->shape[3] = channels;
    return c->st;
}

static cv_status do_conv2d(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, cfg, false);
    int64_t filters = cfg_int(c, cfg, "filters", -1, 1, 1 << 20), kern[2], s[2], d[2];
    int64_t groups = cfg_int(c, cfg, "groups", 1, 1, 1 << 20);
    cfg_pair(c, cfg, "kernel_size", -1, 1, kern);
    cfg_pair(c, cfg, "strides", 1, 1, s);
    cfg_pair(c, cfg, "dilation_rate", 1, 1, d);
    bool same = cfg_padding(c, cfg), bias = cfg_bool(c, cfg, "use_bias", true);
    const char *act = layer_activation(c);
    if (c->st == CV_OK && (filters < 0 || kern[0] < 0))
        return lfail(c, CV_ERR_FORMAT, "config needs 'filters' and 'kernel_size'");
    if (!want_weights(c, bias ? 2 : 1, bias ? "kernel, bias" : "kernel"))
        return c->st;
    int64_t cin = x->shape[3];
    if (cin > 0 && cin % groups != 0)
        return lfail(c, CV_ERR_SHAPE, "%lld input channels do not split into %lld groups", (long long)cin,
                     (long long)groups);
    int64_t cin_g = cin > 0 ? cin / groups : -1;
    float *w = conv_kernel(c, 0, "kernel", kern[0], kern[1], &cin_g, filters);
    char name[KR_NAME_MAX + 64];
    int64_t wd[4] = {filters, cin_g, kern[0], kern[1]};
    int ins[3] = {x->v, const_f32(c, nm(c, name, sizeof name, "kernel"), 4, wd, w), -1};
    if (bias)
        ins[2] = vector_const(c, 1, "bias", filters, "bias");
    int k = -1;
    int y = emit(c, pre_act_name(c, act, "conv", name, sizeof name), "Conv", ins, bias ? 3 : 2, &k);
    set_window(c, k, kern, s, same);
    set_ints(c, k, "dilations", d, 2);
    set_int(c, k, "group", groups);
    out->v = activation(c, act, y, true, nm(c, name, sizeof name, NULL));
    return conv_out_shape(c, x, out, kern, s, d, same, filters);
}

static cv_status do_depthwise(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, cfg, false);
    int64_t kern[2], s[2], d[2], mult = cfg_int(c, cfg, "depth_multiplier", 1, 1, 1 << 16);
    cfg_pair(c, cfg, "kernel_size", -1, 1, kern);
    cfg_pair(c, cfg, "strides", 1, 1, s);
    cfg_pair(c, cfg, "dilation_rate", 1, 1, d);
    bool same = cfg_padding(c, cfg), bias = cfg_bool(c, cfg, "use_bias", true);
    const char *act = layer_activation(c);
    if (c->st == CV_OK && kern[0] < 0)
        return lfail(c, CV_ERR_FORMAT, "config needs 'kernel_size'");
    if (!want_weights(c, bias ? 2 : 1, bias ? "depthwise_kernel, bias" : "depthwise_kernel"))
        return c->st;
    int64_t C = x->shape[3];
    float *w = depthwise_kernel(c, 0, kern[0], kern[1], &C, mult);
    char name[KR_NAME_MAX + 64];
    int64_t wd[4] = {C * mult, 1, kern[0], kern[1]};
    int ins[3] = {x->v, const_f32(c, nm(c, name, sizeof name, "kernel"), 4, wd, w), -1};
    if (bias)
        ins[2] = vector_const(c, 1, "bias", C * mult, "bias");
    int k = -1;
    int y = emit(c, pre_act_name(c, act, "conv", name, sizeof name), "Conv", ins, bias ? 3 : 2, &k);
    set_window(c, k, kern, s, same);
    set_ints(c, k, "dilations", d, 2);
    set_int(c, k, "group", C);
    out->v = activation(c, act, y, true, nm(c, name, sizeof name, NULL));
    return conv_out_shape(c, x, out, kern, s, d, same, C * mult);
}

/* SeparableConv2D = depthwise conv (strides, dilation, padding) then a
 * 1x1 pointwise conv with the bias. */
static cv_status do_separable(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, cfg, false);
    int64_t filters = cfg_int(c, cfg, "filters", -1, 1, 1 << 20), kern[2], s[2], d[2];
    int64_t mult = cfg_int(c, cfg, "depth_multiplier", 1, 1, 1 << 16);
    cfg_pair(c, cfg, "kernel_size", -1, 1, kern);
    cfg_pair(c, cfg, "strides", 1, 1, s);
    cfg_pair(c, cfg, "dilation_rate", 1, 1, d);
    bool same = cfg_padding(c, cfg), bias = cfg_bool(c, cfg, "use_bias", true);
    const char *act = layer_activation(c);
    if (c->st == CV_OK && (filters < 0 || kern[0] < 0))
        return lfail(c, CV_ERR_FORMAT, "config needs 'filters' and 'kernel_size'");
    if (!want_weights(c, bias ? 3 : 2, bias ? "depthwise_kernel, pointwise_kernel, bias"
                                            : "depthwise_kernel, pointwise_kernel"))
        return c->st;
    int64_t C = x->shape[3];
    float *dw = depthwise_kernel(c, 0, kern[0], kern[1], &C, mult);
    char name[KR_NAME_MAX + 64];
    int64_t dwd[4] = {C * mult, 1, kern[0], kern[1]};
    int ins[3] = {x->v, const_f32(c, nm(c, name, sizeof name, "depthwise_kernel"), 4, dwd, dw), -1};
    int k = -1;
    int y = emit(c, nm(c, name, sizeof name, "depthwise"), "Conv", ins, 2, &k);
    set_window(c, k, kern, s, same);
    set_ints(c, k, "dilations", d, 2);
    set_int(c, k, "group", C);
    int64_t one[2] = {1, 1}, cm = C * mult;
    float *pw = conv_kernel(c, 1, "pointwise_kernel", 1, 1, &cm, filters);
    int64_t pwd[4] = {filters, cm, 1, 1};
    int pins[3] = {y, const_f32(c, nm(c, name, sizeof name, "pointwise_kernel"), 4, pwd, pw), -1};
    if (bias)
        pins[2] = vector_const(c, 2, "bias", filters, "bias");
    y = emit(c, pre_act_name(c, act, "conv", name, sizeof name), "Conv", pins, bias ? 3 : 2, &k);
    set_window(c, k, one, one, false);
    out->v = activation(c, act, y, true, nm(c, name, sizeof name, NULL));
    return conv_out_shape(c, x, out, kern, s, d, same, filters);
}

/* Dense on the last axis. Rank 2: Gemm with the [in, units] kernel as B
 * (no copy). Higher ranks: MatMul + Add in Keras order (images are
 * transposed to NHWC and back). */
static cv_status do_dense(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = in[0];
    int64_t units = cfg_int(c, cfg, "units", -1, 1, 1 << 24);
    if (c->st == CV_OK && units < 0) /* Keras 1: output_dim */
        units = cfg_int(c, cfg, "output_dim", -1, 1, 1 << 24);
    bool bias = cfg_bool(c, cfg, "use_bias", cfg_bool(c, cfg, "bias", true));
    const char *act = layer_activation(c);
    if (c->st == CV_OK && units < 0)
        return lfail(c, CV_ERR_FORMAT, "config needs 'units'");
    if (x->rank < 2)
        return lfail(c, CV_ERR_UNSUPPORTED, "input has rank %d; Dense needs rank 2 or more", x->rank);
    if (!want_weights(c, bias ? 2 : 1, bias ? "kernel, bias" : "kernel"))
        return c->st;
    int64_t kd[2] = {x->shape[x->rank - 1], units};
    if (!check_dims(c, &c->L->w[0], "kernel", 2, kd))
        return c->st;
    kd[0] = c->L->w[0].d[0];
    char name[KR_NAME_MAX + 64];
    int kv = const_f32(c, nm(c, name, sizeof name, "kernel"), 2, kd, take(c, 0));
    int bv = bias ? vector_const(c, 1, "bias", units, "bias") : -1;
    bool image = x->rank == 4;
    int y = x->v;
    *out = *x;
    out->shape[x->rank - 1] = units;
    if (x->rank == 2) {
        int ins[3] = {y, kv, bv};
        y = emit(c, pre_act_name(c, act, "matmul", name, sizeof name), "Gemm", ins, bias ? 3 : 2, NULL);
        out->v = activation(c, act, y, false, nm(c, name, sizeof name, NULL));
        return c->st;
    }
    if (image)
        y = transpose(c, y, TO_NHWC, 4, nm(c, name, sizeof name, "to_nhwc"));
    bool last_is_matmul = !bias && strcmp(act, "linear") == 0 && !image;
    int ins[2] = {y, kv};
    y = emit(c, last_is_matmul ? nm(c, name, sizeof name, NULL) : nm(c, name, sizeof name, "matmul"), "MatMul", ins, 2,
             NULL);
    if (bias) {
        bool last = strcmp(act, "linear") == 0 && !image;
        int bins[2] = {y, bv};
        y = emit(c, last ? nm(c, name, sizeof name, NULL) : nm(c, name, sizeof name, "add"), "Add", bins, 2, NULL);
    }
    if (strcmp(act, "linear") != 0)
        y = activation(c, act, y, false, image ? nm(c, name, sizeof name, "act") : nm(c, name, sizeof name, NULL));
    if (image)
        y = transpose(c, y, TO_NCHW, 4, nm(c, name, sizeof name, NULL));
    out->v = y;
    return c->st;
}

static cv_status do_pool(kctx *c, ktensor **in, int n_in, ktensor *out, const char *op)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, cfg, false);
    int64_t kern[2], s[2], one[2] = {1, 1};
    cfg_pair(c, cfg, "pool_size", 2, 1, kern);
    cfg_pair(c, cfg, "strides", -1, 1, s);
    if (s[0] < 0) { /* strides default to the pool size */
        s[0] = kern[0];
        s[1] = kern[1];
    }
    bool same = cfg_padding(c, cfg);
    char name[KR_NAME_MAX + 64];
    int k = -1;
    out->v = emit(c, nm(c, name, sizeof name, NULL), op, &x->v, 1, &k);
    set_window(c, k, kern, s, same);
    if (strcmp(op, "AveragePool") == 0)
        set_int(c, k, "count_include_pad", 0); /* TF averages over the valid cells only */
    return conv_out_shape(c, x, out, kern, s, one, same, x->shape[3]);
}

static cv_status do_maxpool(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    return do_pool(c, in, n_in, out, "MaxPool");
}

static cv_status do_avgpool(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    return do_pool(c, in, n_in, out, "AveragePool");
}

static cv_status do_global_pool(kctx *c, ktensor **in, int n_in, ktensor *out, const char *op)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, cfg, false);
    bool keepdims = cfg_bool(c, cfg, "keepdims", false);
    char name[KR_NAME_MAX + 64];
    int y = emit(c, nm(c, name, sizeof name, keepdims ? NULL : "pool"), op, &x->v, 1, NULL);
    out->shape[0] = x->shape[0];
    if (keepdims) {
        out->rank = 4;
        out->shape[1] = out->shape[2] = 1;
        out->shape[3] = x->shape[3];
        out->v = y;
        return c->st;
    }
    int k = -1;
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Flatten", &y, 1, &k);
    set_int(c, k, "axis", 1);
    out->rank = 2;
    out->shape[1] = x->shape[3];
    return c->st;
}

static cv_status do_gap(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    return do_global_pool(c, in, n_in, out, "GlobalAveragePool");
}

static cv_status do_gmp(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    return do_global_pool(c, in, n_in, out, "GlobalMaxPool");
}

/* ZeroPadding2D / Cropping2D option: int, [sym_h, sym_w] or [[top, bottom], [left, right]]. */
static void cfg_borders(kctx *c, const char *key, int64_t b[4] /* top, bottom, left, right */)
{
    const cJSON *j = cfg_get(c->L->cfg, key);
    int64_t hi = 1 << 20, v;
    b[0] = b[1] = b[2] = b[3] = 0;
    if (!j)
        return;
    if (is_int(j, 0, hi, &v)) {
        b[0] = b[1] = b[2] = b[3] = v;
        return;
    }
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2) {
        const cJSON *h = cJSON_GetArrayItem(j, 0), *w = cJSON_GetArrayItem(j, 1);
        if (is_int(h, 0, hi, &b[0]) && is_int(w, 0, hi, &b[2])) {
            b[1] = b[0];
            b[3] = b[2];
            return;
        }
        if (cJSON_IsArray(h) && cJSON_IsArray(w) && cJSON_GetArraySize(h) == 2 && cJSON_GetArraySize(w) == 2 &&
            is_int(cJSON_GetArrayItem(h, 0), 0, hi, &b[0]) && is_int(cJSON_GetArrayItem(h, 1), 0, hi, &b[1]) &&
            is_int(cJSON_GetArrayItem(w, 0), 0, hi, &b[2]) && is_int(cJSON_GetArrayItem(w, 1), 0, hi, &b[3]))
            return;
    }
    lfail(c, CV_ERR_FORMAT, "config '%s' should be an integer, two integers or two pairs", key);
}

static int64_t add_known(int64_t a, int64_t b) { return a < 0 ? -1 : a + b; }

static cv_status do_zeropad(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, c->L->cfg, false);
    int64_t b[4];
    cfg_borders(c, "padding", b);
    char name[KR_NAME_MAX + 64];
    int64_t pads[8] = {0, 0, b[0], b[2], 0, 0, b[1], b[3]}; /* NCHW begins, then ends */
    int ins[2] = {x->v, const_i64(c, nm(c, name, sizeof name, "pads"), pads, 8)};
    int k = -1;
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Pad", ins, 2, &k);
    set_string(c, k, "mode", "constant");
    *out = (ktensor){.v = out->v, .rank = 4,
                     .shape = {x->shape[0], add_known(x->shape[1], b[0] + b[1]), add_known(x->shape[2], b[2] + b[3]),
                               x->shape[3]}};
    return c->st;
}

static cv_status do_cropping(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    ktensor *x = need_rank(c, in[0], 4);
    channels_last(c, c->L->cfg, false);
    int64_t b[4];
    cfg_borders(c, "cropping", b);
    char name[KR_NAME_MAX + 64];
    int64_t starts[2] = {b[0], b[2]}, ends[2] = {b[1] ? -b[1] : INT64_MAX, b[3] ? -b[3] : INT64_MAX};
    int64_t axes[2] = {2, 3};
    int ins[4] = {x->v, const_i64(c, nm(c, name, sizeof name, "starts"), starts, 2),
                  const_i64(c, nm(c, name, sizeof name, "ends"), ends, 2),
                  const_i64(c, nm(c, name, sizeof name, "axes"), axes, 2)};
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Slice", ins, 4, NULL);
    out->rank = 4;
    out->shape[0] = x->shape[0];
    out->shape[1] = add_known(x->shape[1], -(b[0] + b[1]));
    out->shape[2] = add_known(x->shape[2], -(b[2] + b[3]));
    out->shape[3] = x->shape[3];
    if (c->st == CV_OK && ((x->shape[1] >= 0 && out->shape[1] <= 0) || (x->shape[2] >= 0 && out->shape[2] <= 0)))
        return lfail(c, CV_ERR_SHAPE, "cropping removes the whole input");
    return c->st;
}

static int64_t prod_known(const ktensor *x, int from)
{
    int64_t p = 1;
    for (int k = from; k < x->rank; k++) {
        if (x->shape[k] < 0)
            return -1;
        p *= x->shape[k];
    }
    return p;
}

/* Keras flattens channels-last: NHWC order, hence the transpose. */
static cv_status do_flatten(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    ktensor *x = in[0];
    bool last = channels_last(c, c->L->cfg, true);
    char name[KR_NAME_MAX + 64];
    int y = x->v;
    if (x->rank == 4 && last)
        y = transpose(c, y, TO_NHWC, 4, nm(c, name, sizeof name, "to_nhwc"));
    /* channels_first on an image: Keras moves C to axis 1 first, which is
     * how the graph already holds it. On rank 3 it is a real transpose. */
    if (x->rank == 3 && !last) {
        int64_t perm[3] = {0, 2, 1};
        y = transpose(c, y, perm, 3, nm(c, name, sizeof name, "to_channels_first"));
    }
    int k = -1;
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Flatten", &y, 1, &k);
    set_int(c, k, "axis", 1);
    out->rank = 2;
    out->shape[0] = x->shape[0];
    out->shape[1] = prod_known(x, 1);
    return c->st;
}

static cv_status do_reshape(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    ktensor *x = in[0];
    const cJSON *ts = cfg_get(c->L->cfg, "target_shape");
    int n = cJSON_IsArray(ts) ? cJSON_GetArraySize(ts) : -1;
    if (n < 1 || n + 1 > CV_MAX_DIMS)
        return lfail(c, CV_ERR_FORMAT, "config 'target_shape' should be a list of 1 to %d sizes", CV_MAX_DIMS - 1);
    int64_t shape[CV_MAX_DIMS];
    shape[0] = 0; /* ONNX: copy the batch size */
    int unknown = -1;
    int64_t known = 1;
    for (int k = 0; k < n; k++) {
        if (!is_int(cJSON_GetArrayItem(ts, k), -1, 1 << 30, &shape[k + 1]) || shape[k + 1] == 0 ||
            (shape[k + 1] == -1 && unknown >= 0))
            return lfail(c, CV_ERR_FORMAT, "config 'target_shape' entry %d is not a size (or a second -1)", k);
        if (shape[k + 1] < 0)
            unknown = k + 1;
        else
            known *= shape[k + 1];
    }
    out->rank = n + 1;
    out->shape[0] = x->shape[0];
    for (int k = 1; k <= n; k++)
        out->shape[k] = shape[k];
    int64_t total = prod_known(x, 1);
    if (total >= 0 && ((unknown < 0 && total != known) || (unknown >= 0 && total % known != 0))) {
        char s1[160];
        return lfail(c, CV_ERR_SHAPE, "cannot reshape %s to target_shape with %lld elements", dims_str(x->rank, x->shape, s1, sizeof s1),
                     (long long)known);
    }
    if (unknown >= 0)
        out->shape[unknown] = total >= 0 ? total / known : -1;
    char name[KR_NAME_MAX + 64];
    int y = x->v;
    if (x->rank == 4)
        y = transpose(c, y, TO_NHWC, 4, nm(c, name, sizeof name, "to_nhwc"));
    int ins[2] = {y, const_i64(c, nm(c, name, sizeof name, "shape"), shape, n + 1)};
    y = emit(c, nm(c, name, sizeof name, out->rank == 4 ? "reshape" : NULL), "Reshape", ins, 2, NULL);
    if (out->rank == 4)
        y = transpose(c, y, TO_NCHW, 4, nm(c, name, sizeof name, NULL));
    out->v = y;
    return c->st;
}

/* Dropout, noise and regularisation layers: identity at inference. */
static cv_status do_identity(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Identity", &in[0]->v, 1, NULL);
    return c->st;
}

static cv_status do_activation(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const char *act = layer_activation(c);
    if (c->st == CV_OK && strcmp(act, "linear") == 0)
        return do_identity(c, in, n_in, out);
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    out->v = activation(c, act, in[0]->v, in[0]->rank == 4, nm(c, name, sizeof name, NULL));
    return c->st;
}

static cv_status do_softmax(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    int64_t axis = cfg_int(c, c->L->cfg, "axis", -1, -8, 8);
    if (c->st == CV_OK && axis != -1 && axis != in[0]->rank - 1)
        return lfail(c, CV_ERR_UNSUPPORTED, "softmax over axis %lld is not supported (last axis only)", (long long)axis);
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    out->v = activation(c, "softmax", in[0]->v, in[0]->rank == 4, nm(c, name, sizeof name, NULL));
    return c->st;
}

static cv_status do_relu(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    bool capped = cfg_has(cfg, "max_value");
    double mv = cfg_num(c, cfg, "max_value", 0), slope = cfg_num(c, cfg, "negative_slope", 0);
    double th = cfg_num(c, cfg, "threshold", 0);
    char name[KR_NAME_MAX + 64], aux[KR_NAME_MAX + 64];
    *out = *in[0];
    int x = in[0]->v, k = -1;
    if (c->st != CV_OK)
        return c->st;
    if (th != 0 || (capped && slope != 0) || (capped && mv < 0)) {
        char mvs[32] = "None";
        if (capped)
            snprintf(mvs, sizeof mvs, "%g", mv);
        return lfail(c, CV_ERR_UNSUPPORTED,
                     "ReLU with threshold %g, negative_slope %g and max_value %s is not supported (supported: "
                     "plain, max_value >= 0, or negative_slope alone)",
                     th, slope, mvs);
    }
    if (capped) {
        int ins[3] = {x, const_scalar(c, nm(c, aux, sizeof aux, "min"), 0.0f),
                      const_scalar(c, nm(c, aux, sizeof aux, "max"), (float)mv)};
        out->v = emit(c, nm(c, name, sizeof name, NULL), "Clip", ins, 3, NULL);
    } else if (slope != 0) {
        out->v = emit(c, nm(c, name, sizeof name, NULL), "LeakyRelu", &x, 1, &k);
        set_float(c, k, "alpha", (float)slope);
    } else {
        out->v = emit(c, nm(c, name, sizeof name, NULL), "Relu", &x, 1, NULL);
    }
    return c->st;
}

static cv_status do_leaky(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    double alpha = cfg_num(c, cfg, "alpha", cfg_num(c, cfg, "negative_slope", 0.3));
    char name[KR_NAME_MAX + 64];
    int k = -1;
    *out = *in[0];
    out->v = emit(c, nm(c, name, sizeof name, NULL), "LeakyRelu", &in[0]->v, 1, &k);
    set_float(c, k, "alpha", (float)alpha);
    return c->st;
}

static cv_status do_elu(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    double alpha = cfg_num(c, c->L->cfg, "alpha", 1.0);
    char name[KR_NAME_MAX + 64];
    int k = -1;
    *out = *in[0];
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Elu", &in[0]->v, 1, &k);
    set_float(c, k, "alpha", (float)alpha);
    return c->st;
}

/* alpha has the input's shape without the batch, 1 on shared_axes. */
static cv_status do_prelu(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    ktensor *x = in[0];
    *out = *x;
    if (!want_weights(c, 1, "alpha"))
        return c->st;
    int r = x->rank - 1;
    int64_t want[CV_MAX_DIMS];
    for (int k = 0; k < r; k++)
        want[k] = x->shape[k + 1];
    const cJSON *sh = cfg_get(c->L->cfg, "shared_axes");
    if (cJSON_IsNumber(sh) || cJSON_IsArray(sh)) {
        int n = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : 1;
        for (int k = 0; k < n; k++) {
            int64_t a;
            if (!is_int(cJSON_IsArray(sh) ? cJSON_GetArrayItem(sh, k) : sh, 1, r, &a))
                return lfail(c, CV_ERR_FORMAT, "config 'shared_axes' should list axes 1..%d", r);
            want[a - 1] = 1;
        }
    }
    if (!check_dims(c, &c->L->w[0], "alpha", r, want))
        return c->st;
    kr_array *a = &c->L->w[0];
    float *slope = take(c, 0);
    int64_t d[CV_MAX_DIMS];
    for (int k = 0; k < r; k++)
        d[k] = a->d[k];
    if (x->rank == 4) { /* [H, W, C] -> [C, H, W] to broadcast against NCHW */
        size_t cnt = (size_t)(d[0] * d[1] * d[2]);
        float *t = malloc(sizeof *t * (cnt ? cnt : 1));
        if (!t) {
            free(slope);
            return lfail(c, CV_ERR_NOMEM, "out of memory");
        }
        for (int64_t h = 0; h < d[0]; h++)
            for (int64_t w = 0; w < d[1]; w++)
                for (int64_t ch = 0; ch < d[2]; ch++)
                    t[(ch * d[0] + h) * d[1] + w] = slope[(h * d[1] + w) * d[2] + ch];
        free(slope);
        slope = t;
        int64_t hwc[3] = {d[0], d[1], d[2]};
        d[0] = hwc[2];
        d[1] = hwc[0];
        d[2] = hwc[1];
    }
    char name[KR_NAME_MAX + 64];
    int ins[2] = {x->v, const_f32(c, nm(c, name, sizeof name, "alpha"), r, d, slope)};
    out->v = emit(c, nm(c, name, sizeof name, NULL), "PRelu", ins, 2, NULL);
    return c->st;
}

/* Inference BN over the last (channel) axis: BatchNormalization on images,
 * folded into Mul + Add elsewhere. */
static cv_status do_batchnorm(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    const cJSON *cfg = c->L->cfg;
    ktensor *x = in[0];
    *out = *x;
    const cJSON *axj = cfg_get(cfg, "axis");
    int64_t axis = -1;
    if (cJSON_IsArray(axj) && cJSON_GetArraySize(axj) == 1)
        axj = cJSON_GetArrayItem(axj, 0);
    if (axj && !is_int(axj, -8, 8, &axis))
        return lfail(c, CV_ERR_UNSUPPORTED, "config 'axis' should be one axis (the last)");
    if (axis != -1 && axis != x->rank - 1)
        return lfail(c, CV_ERR_UNSUPPORTED, "normalising over axis %lld is not supported (the last axis, -1 or %d, only)",
                     (long long)axis, x->rank - 1);
    bool scale = cfg_bool(c, cfg, "scale", true), center = cfg_bool(c, cfg, "center", true);
    double eps = cfg_num(c, cfg, "epsilon", 1e-3);
    int nw = (scale ? 1 : 0) + (center ? 1 : 0) + 2;
    const char *names = scale && center ? "gamma, beta, moving_mean, moving_variance"
                        : scale         ? "gamma, moving_mean, moving_variance"
                        : center        ? "beta, moving_mean, moving_variance"
                                        : "moving_mean, moving_variance";
    if (c->st != CV_OK || !want_weights(c, nw, names))
        return c->st;
    int64_t C = x->shape[x->rank - 1];
    int64_t want[1] = {C};
    const char *what[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    int idx[4], w = 0; /* where each parameter is in the file's list, -1 if absent */
    idx[0] = scale ? w++ : -1;
    idx[1] = center ? w++ : -1;
    idx[2] = w++;
    idx[3] = w++;
    for (int p = 0; p < 4; p++)
        if (idx[p] >= 0) {
            if (!check_dims(c, &c->L->w[idx[p]], what[p], 1, want))
                return c->st;
            want[0] = C = c->L->w[idx[p]].d[0];
        }
    size_t n = (size_t)C;
    float *prm[4];
    for (int p = 0; p < 4; p++) {
        if (idx[p] >= 0) {
            prm[p] = take(c, idx[p]);
        } else if ((prm[p] = malloc(sizeof(float) * (n ? n : 1)))) {
            for (size_t i = 0; i < n; i++)
                prm[p][i] = p == 0 ? 1.0f : 0.0f;
        }
    }
    char name[KR_NAME_MAX + 64];
    if (!prm[0] || !prm[1]) {
        for (int p = 0; p < 4; p++)
            free(prm[p]);
        return lfail(c, CV_ERR_NOMEM, "out of memory");
    }
    int64_t d[1] = {C};
    if (x->rank == 4) {
        int ins[5] = {x->v, const_f32(c, nm(c, name, sizeof name, "gamma"), 1, d, prm[0]),
                      const_f32(c, nm(c, name, sizeof name, "beta"), 1, d, prm[1]),
                      const_f32(c, nm(c, name, sizeof name, "moving_mean"), 1, d, prm[2]),
                      const_f32(c, nm(c, name, sizeof name, "moving_variance"), 1, d, prm[3])};
        int k = -1;
        out->v = emit(c, nm(c, name, sizeof name, NULL), "BatchNormalization", ins, 5, &k);
        set_float(c, k, "epsilon", (float)eps);
        return c->st;
    }
    /* y = x * s + (beta - mean * s), s = gamma / sqrt(var + eps), per last axis */
    for (size_t i = 0; i < n; i++) {
        float s = (float)(prm[0][i] / sqrt((double)prm[3][i] + eps));
        prm[1][i] = prm[1][i] - prm[2][i] * s;
        prm[0][i] = s;
    }
    free(prm[2]);
    free(prm[3]);
    int mins[2] = {x->v, const_f32(c, nm(c, name, sizeof name, "scale"), 1, d, prm[0])};
    int y = emit(c, nm(c, name, sizeof name, "mul"), "Mul", mins, 2, NULL);
    int ains[2] = {y, const_f32(c, nm(c, name, sizeof name, "shift"), 1, d, prm[1])};
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Add", ains, 2, NULL);
    return c->st;
}

/* Elementwise merges: a chain of binary ONNX ops, the last named after the layer. */
static cv_status do_merge(kctx *c, ktensor **in, int n_in, ktensor *out, const char *op, bool average)
{
    if (n_in < 2 || (strcmp(op, "Sub") == 0 && n_in != 2))
        return lfail(c, CV_ERR_FORMAT, "has %d inputs (needs %s)", n_in, strcmp(op, "Sub") == 0 ? "2" : "2 or more");
    *out = *in[0];
    for (int i = 1; i < n_in; i++) {
        if (in[i]->rank != in[0]->rank)
            return lfail(c, CV_ERR_UNSUPPORTED, "inputs of rank %d and %d cannot be merged", in[0]->rank, in[i]->rank);
        for (int d = 1; d < out->rank; d++) {
            int64_t a = out->shape[d], b = in[i]->shape[d];
            if (a >= 0 && b >= 0 && a != b && a != 1 && b != 1) {
                char s1[160], s2[160];
                return lfail(c, CV_ERR_SHAPE, "inputs %s and %s do not match",
                             dims_str(out->rank, out->shape, s1, sizeof s1), dims_str(in[i]->rank, in[i]->shape, s2, sizeof s2));
            }
            out->shape[d] = a == 1 ? b : (b == 1 ? a : (a >= 0 ? a : b));
        }
    }
    char name[KR_NAME_MAX + 64], aux[32];
    int y = in[0]->v;
    for (int i = 1; i < n_in; i++) {
        int ins[2] = {y, in[i]->v};
        bool last = i == n_in - 1 && !average;
        snprintf(aux, sizeof aux, "%d", i);
        y = emit(c, nm(c, name, sizeof name, last ? NULL : aux), op, ins, 2, NULL);
    }
    if (average) {
        int ins[2] = {y, const_scalar(c, nm(c, name, sizeof name, "scale"), 1.0f / (float)n_in)};
        y = emit(c, nm(c, name, sizeof name, NULL), "Mul", ins, 2, NULL);
    }
    out->v = y;
    return c->st;
}

static cv_status do_add(kctx *c, ktensor **in, int n_in, ktensor *out) { return do_merge(c, in, n_in, out, "Add", false); }
static cv_status do_mul(kctx *c, ktensor **in, int n_in, ktensor *out) { return do_merge(c, in, n_in, out, "Mul", false); }
static cv_status do_sub(kctx *c, ktensor **in, int n_in, ktensor *out) { return do_merge(c, in, n_in, out, "Sub", false); }
static cv_status do_max(kctx *c, ktensor **in, int n_in, ktensor *out) { return do_merge(c, in, n_in, out, "Max", false); }
static cv_status do_min(kctx *c, ktensor **in, int n_in, ktensor *out) { return do_merge(c, in, n_in, out, "Min", false); }
static cv_status do_avg(kctx *c, ktensor **in, int n_in, ktensor *out) { return do_merge(c, in, n_in, out, "Add", true); }

static cv_status do_concat(kctx *c, ktensor **in, int n_in, ktensor *out)
{
    int64_t axis = cfg_int(c, c->L->cfg, "axis", -1, -8, 8);
    if (n_in < 1)
        return lfail(c, CV_ERR_FORMAT, "has no inputs");
    int r = in[0]->rank;
    if (axis < 0)
        axis += r;
    if (c->st == CV_OK && (axis <= 0 || axis >= r))
        return lfail(c, CV_ERR_UNSUPPORTED, "concatenating over axis %lld of rank-%d tensors is not supported", (long long)axis, r);
    *out = *in[0];
    int ins[64];
    if (n_in > 64)
        return lfail(c, CV_ERR_UNSUPPORTED, "has %d inputs (at most 64)", n_in);
    for (int i = 0; i < n_in; i++) {
        ins[i] = in[i]->v;
        if (in[i]->rank != r)
            return lfail(c, CV_ERR_SHAPE, "inputs have ranks %d and %d", r, in[i]->rank);
        if (i)
            out->shape[axis] = out->shape[axis] >= 0 && in[i]->shape[axis] >= 0 ? out->shape[axis] + in[i]->shape[axis] : -1;
    }
    /* Keras axes 1, 2, 3 of an NHWC image are H, W, C: NCHW axes 2, 3, 1. */
    int64_t onnx_axis = r == 4 ? (axis == 3 ? 1 : axis + 1) : axis;
    char name[KR_NAME_MAX + 64];
    int k = -1;
    out->v = emit(c, nm(c, name, sizeof name, NULL), "Concat", ins, n_in, &k);
    set_int(c, k, "axis", onnx_axis);
    return c->st;
}

typedef struct {
    const char *cls;
    convert_fn fn;
    bool weights;   /* has weight arrays in the file */
} layer_kind;

static const layer_kind KINDS[] = {
    {"Conv2D", do_conv2d, true},
    {"Convolution2D", do_conv2d, true},
    {"DepthwiseConv2D", do_depthwise, true},
    {"SeparableConv2D", do_separable, true},
    {"SeparableConvolution2D", do_separable, true},
    {"Dense", do_dense, true},
    {"MaxPooling2D", do_maxpool, false},
    {"MaxPool2D", do_maxpool, false},
    {"AveragePooling2D", do_avgpool, false},
    {"AvgPool2D", do_avgpool, false},
    {"GlobalAveragePooling2D", do_gap, false},
    {"GlobalAvgPool2D", do_gap, false},
    {"GlobalMaxPooling2D", do_gmp, false},
    {"GlobalMaxPool2D", do_gmp, false},
    {"ZeroPadding2D", do_zeropad, false},
    {"Cropping2D", do_cropping, false},
    {"Flatten", do_flatten, false},
    {"Reshape", do_reshape, false},
    {"Dropout", do_identity, false},
    {"SpatialDropout2D", do_identity, false},
    {"GaussianDropout", do_identity, false},
    {"GaussianNoise", do_identity, false},
    {"AlphaDropout", do_identity, false},
    {"ActivityRegularization", do_identity, false},
    {"Activation", do_activation, false},
    {"Softmax", do_softmax, false},
    {"ReLU", do_relu, false},
    {"LeakyReLU", do_leaky, false},
    {"ELU", do_elu, false},
    {"PReLU", do_prelu, true},
    {"BatchNormalization", do_batchnorm, true},
    {"Add", do_add, false},
    {"Multiply", do_mul, false},
    {"Subtract", do_sub, false},
    {"Maximum", do_max, false},
    {"Minimum", do_min, false},
    {"Average", do_avg, false},
    {"Concatenate", do_concat, false},
};

static const layer_kind *find_kind(const char *cls)
{
    for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
        if (strcmp(KINDS[k].cls, cls) == 0)
            return &KINDS[k];
    return NULL;
}

/* ---- the model ------------------------------------------------------------------------------ */

static ktensor *find_tensor(kctx *c, const char *layer, int node, int tensor)
{
    for (int k = 0; k < c->nt; k++)
        if (c->t[k].node == node && c->t[k].tensor == tensor && strcmp(c->t[k].layer, layer) == 0)
            return &c->t[k];
    return NULL;
}

static cv_status add_tensor(kctx *c, const char *layer, int node, const ktensor *t)
{
    if (c->nt == c->capt) {
        int cap = c->capt ? c->capt * 2 : 64;
        ktensor *p = realloc(c->t, sizeof *p * (size_t)cap);
        if (!p)
            return lfail(c, CV_ERR_NOMEM, "out of memory");
        c->t = p;
        c->capt = cap;
    }
    ktensor *d = &c->t[c->nt];
    *d = *t;
    d->node = node;
    d->tensor = 0;
    if (!(d->layer = strdup(layer)))
        return lfail(c, CV_ERR_NOMEM, "out of memory");
    c->nt++;
    return CV_OK;
}

/* The model input from an InputLayer's config (or the first layer's
 * batch_input_shape in a Sequential model). Images come in NHWC and are
 * transposed once to NCHW. */
static cv_status make_input(kctx *c, const char *name, const cJSON *cfg)
{
    const cJSON *shape = cfg_get(cfg, "batch_input_shape");
    if (!shape || cJSON_IsNull(shape))
        shape = cfg_get(cfg, "batch_shape");
    int r = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : 0;
    if (r < 2 || r > CV_MAX_DIMS)
        return lfail(c, CV_ERR_FORMAT, "cannot tell the model's input shape (no batch_input_shape of rank 2..%d)",
                     CV_MAX_DIMS);
    const char *dtype = cfg_str(c, cfg, "dtype", "float32");
    if (c->st == CV_OK && strncmp(dtype, "float", 5) != 0)
        return lfail(c, CV_ERR_UNSUPPORTED, "input dtype '%s' is not supported (float only)", dtype);
    ktensor t = {.rank = r};
    t.shape[0] = -1;
    for (int k = 1; k < r; k++) {
        const cJSON *j = cJSON_GetArrayItem(shape, k);
        if (cJSON_IsNull(j))
            t.shape[k] = -1;
        else if (!is_int(j, 1, 1 << 30, &t.shape[k]))
            return lfail(c, CV_ERR_FORMAT, "batch_input_shape entry %d is not a size", k);
    }
    if (c->m->input >= 0)
        return lfail(c, CV_ERR_UNSUPPORTED, "the model has more than one input; cnnviz supports one");
    int v = new_value(c, name);
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
        t.v = transpose(c, v, TO_NCHW, 4, tn);
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
        !is_int(cJSON_GetArrayItem(j, 1), 0, 1 << 20, &a) || !is_int(cJSON_GetArrayItem(j, 2), 0, 1 << 20, &b))
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
    const cJSON *h = cJSON_IsObject(j) ? cfg_get(j, "keras_history") : NULL;
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

static cv_status parse_inbound(kctx *c, const cJSON *node, kref *refs, int max, int *n)
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
        collect_history(cfg_get(node, "args"), refs, max, n, &bad);
    } else {
        bad = true;
    }
    if (bad || *n == 0)
        return lfail(c, CV_ERR_FORMAT, "model_config: inbound_nodes entry is not a list of [layer, node, tensor] "
                                       "references (or has more than %d)", max);
    return CV_OK;
}

/* Unsupported layers are reported with the class in the message body; the
 * generic "layer 'x' (Class):" prefix would repeat it, so write it here. */
static cv_status unsupported_layer(kctx *c, klayer *L)
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
static cv_status convert_call(kctx *c, klayer *L, int call, ktensor **in, int n_in)
{
    c->L = L;
    if (call == 0)
        snprintf(c->base, sizeof c->base, "%s", L->name);
    else /* a shared layer applied again */
        snprintf(c->base, sizeof c->base, "%s/call%d", L->name, call);
    const layer_kind *kind = find_kind(L->cls);
    if (!kind)
        return unsupported_layer(c, L);
    for (int i = 0; i < n_in; i++)
        if (in[i]->tensor != 0)
            return lfail(c, CV_ERR_UNSUPPORTED, "reads output %d of a layer; only single-output layers are supported",
                         in[i]->tensor);
    bool multi = kind->fn == do_add || kind->fn == do_mul || kind->fn == do_sub || kind->fn == do_max ||
                 kind->fn == do_min || kind->fn == do_avg || kind->fn == do_concat;
    if (!multi && n_in != 1)
        return lfail(c, CV_ERR_FORMAT, "has %d inputs; expected 1", n_in);
    ktensor out;
    memset(&out, 0, sizeof out);
    out.v = -1;
    cv_status st = kind->fn(c, in, n_in, &out);
    if (st == CV_OK && c->st == CV_OK && out.v < 0)
        return lfail(c, CV_ERR_FORMAT, "produced no output");
    if (st != CV_OK || c->st != CV_OK)
        return c->st != CV_OK ? c->st : st;
    return add_tensor(c, L->name, call, &out);
}

static cv_status load_layer_weights(kctx *c, klayer *L)
{
    c->L = L;
    if (!c->wf)
        return lfail(c, CV_ERR_INVALID, "no weights file");
    L->loaded = true;
    cv_status st = kr_weights_get(c->wf, L->name, L->cls, &L->w, &L->nw, c->err);
    if (st != CV_OK)
        return c->st = st;
    if (L->nw < 0) {
        if (c->wf->old_layout)
            return lfail(c, CV_ERR_FORMAT, "the file's layer_<k> groups ran out before this layer (the file has weights "
                                           "for fewer layers than the model)");
        return lfail(c, CV_ERR_FORMAT, "missing from the weights file (no group '%s')", L->name);
    }
    return CV_OK;
}

static cv_status set_outputs(kctx *c, const kref *refs, int n)
{
    c->L = NULL;
    if (!(c->m->outputs = malloc(sizeof(int) * (size_t)(n ? n : 1))))
        return lfail(c, CV_ERR_NOMEM, "out of memory");
    for (int k = 0; k < n; k++) {
        ktensor *t = find_tensor(c, refs[k].layer, refs[k].node, refs[k].tensor);
        if (!t)
            return lfail(c, CV_ERR_FORMAT, "model_config: output '%s' (node %d, tensor %d) is not produced by any layer",
                         refs[k].layer, refs[k].node, refs[k].tensor);
        c->m->outputs[c->m->n_outputs++] = t->v;
    }
    return CV_OK;
}

static cv_status build_sequential(kctx *c, klayer *L, int n)
{
    if (n < 1)
        return lfail(c, CV_ERR_FORMAT, "model_config: the Sequential model has no layers");
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
    if (make_input(c, input_name, L[0].cfg) != CV_OK)
        return c->st;
    ktensor *prev = find_tensor(c, input_name, 0, 0);
    int prev_idx = (int)(prev - c->t);
    for (int k = first; k < n; k++) {
        if (strcmp(L[k].cls, "InputLayer") == 0) {
            c->L = &L[k];
            return lfail(c, CV_ERR_FORMAT, "an InputLayer in the middle of a Sequential model");
        }
        if (!find_kind(L[k].cls))
            return unsupported_layer(c, &L[k]);
        ktensor *in = &c->t[prev_idx];
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
static cv_status parse_io(kctx *c, const cJSON *j, const char *what, kref *refs, int max, int *n)
{
    *n = 0;
    c->L = NULL;
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) >= 1 && cJSON_IsString(cJSON_GetArrayItem(j, 0))) {
        if (!parse_ref(j, &refs[0].layer, &refs[0].node, &refs[0].tensor))
            return lfail(c, CV_ERR_FORMAT, "model_config: '%s' is not a list of [layer, node, tensor]", what);
        *n = 1;
        return CV_OK;
    }
    if (!cJSON_IsArray(j))
        return lfail(c, CV_ERR_FORMAT, "model_config: '%s' is missing", what);
    for (const cJSON *e = j->child; e; e = e->next) {
        if (*n >= max || !parse_ref(e, &refs[*n].layer, &refs[*n].node, &refs[*n].tensor))
            return lfail(c, CV_ERR_FORMAT, "model_config: '%s' is not a list of [layer, node, tensor] (at most %d)", what, max);
        (*n)++;
    }
    return CV_OK;
}

static klayer *find_layer(klayer *L, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (strcmp(L[k].name, name) == 0)
            return &L[k];
    return NULL;
}

/* Functional: convert each (layer, inbound node) once all the tensors it
 * reads exist, repeating passes until nothing changes (config order is
 * usually topological already, so this is one pass in practice). */
static cv_status build_functional(kctx *c, const cJSON *cfg, klayer *L, int n)
{
    kref refs[64];
    int nr;
    if (parse_io(c, cfg_get(cfg, "input_layers"), "input_layers", refs, 64, &nr) != CV_OK)
        return c->st;
    if (nr != 1)
        return lfail(c, CV_ERR_UNSUPPORTED, "the model has %d inputs; cnnviz supports one", nr);
    klayer *in_layer = find_layer(L, n, refs[0].layer);
    if (!in_layer || strcmp(in_layer->cls, "InputLayer") != 0)
        return lfail(c, CV_ERR_FORMAT, "model_config: input '%s' is not an InputLayer of the model", refs[0].layer);
    c->L = in_layer;
    if (make_input(c, in_layer->name, in_layer->cfg) != CV_OK)
        return c->st;
    /* Check every reference up front so a typo gives one clear message. */
    for (int k = 0; k < n; k++) {
        c->L = &L[k];
        const cJSON *nodes = cfg_get(L[k].json, "inbound_nodes");
        if (strcmp(L[k].cls, "InputLayer") == 0)
            continue;
        if (!cJSON_IsArray(nodes))
            return lfail(c, CV_ERR_FORMAT, "model_config: no inbound_nodes list");
        for (const cJSON *nd = nodes->child; nd; nd = nd->next) {
            if (parse_inbound(c, nd, refs, 64, &nr) != CV_OK)
                return c->st;
            for (int r = 0; r < nr; r++)
                if (!find_layer(L, n, refs[r].layer))
                    return lfail(c, CV_ERR_FORMAT, "model_config: reads from layer '%s', which is not in the model",
                                 refs[r].layer);
        }
        if (nodes->child && !find_kind(L[k].cls))
            return unsupported_layer(c, &L[k]);
    }
    bool progress = true;
    while (progress) {
        progress = false;
        for (int k = 0; k < n; k++) {
            if (strcmp(L[k].cls, "InputLayer") == 0)
                continue;
            const cJSON *nodes = cfg_get(L[k].json, "inbound_nodes");
            int total = cJSON_GetArraySize(nodes);
            while (L[k].calls < total) {
                c->L = &L[k];
                parse_inbound(c, cJSON_GetArrayItem(nodes, L[k].calls), refs, 64, &nr);
                ktensor *ins[64];
                bool ready = true;
                for (int r = 0; r < nr && ready; r++)
                    ready = (ins[r] = find_tensor(c, refs[r].layer, refs[r].node, refs[r].tensor)) != NULL;
                if (!ready)
                    break;
                /* ins[] point into c->t, which add_tensor may move: copy them. */
                ktensor copies[64];
                ktensor *pins[64];
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
        const cJSON *nodes = cfg_get(L[k].json, "inbound_nodes");
        if (strcmp(L[k].cls, "InputLayer") != 0 && L[k].calls < cJSON_GetArraySize(nodes)) {
            c->L = &L[k];
            return lfail(c, CV_ERR_FORMAT, "model_config: its inputs are never computed (a cycle, a second model input, "
                                           "or a missing output index)");
        }
    }
    if (parse_io(c, cfg_get(cfg, "output_layers"), "output_layers", refs, 64, &nr) != CV_OK)
        return c->st;
    return set_outputs(c, refs, nr);
}

cv_status kr_build(cv_model *m, const cJSON *model_json, kr_weights *w, const cv_load_options *opt, cv_error *err)
{
    kctx c = {.m = m, .wf = w, .opt = opt, .err = err, .path = m->path};
    const cJSON *cls = cfg_get(model_json, "class_name"), *cfg = cfg_get(model_json, "config");
    if (!cJSON_IsString(cls) || !cfg)
        return cv_fail(err, CV_ERR_FORMAT, "%s: model_config has no class_name and config", m->path);
    bool sequential = strcmp(cls->valuestring, "Sequential") == 0;
    if (!sequential && strcmp(cls->valuestring, "Functional") != 0 && strcmp(cls->valuestring, "Model") != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: model_config has class %s (Sequential, Functional or Model expected)",
                       m->path, cls->valuestring);
    /* Keras <= 2.2.4 writes a Sequential config as the bare list of layers. */
    const cJSON *layers = sequential && cJSON_IsArray(cfg) ? cfg : cfg_get(cfg, "layers");
    if (!cJSON_IsArray(layers))
        return cv_fail(err, CV_ERR_FORMAT, "%s: model_config has no list of layers", m->path);
    int n = cJSON_GetArraySize(layers);
    if (n > KR_MAX_LAYERS)
        return cv_fail(err, CV_ERR_LIMIT, "%s: model_config has %d layers (at most %d)", m->path, n, KR_MAX_LAYERS);
    klayer *L = calloc((size_t)(n ? n : 1), sizeof *L);
    if (!L)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
    cv_status st = CV_OK;
    int k = 0;
    for (const cJSON *e = layers->child; e; e = e->next, k++) {
        const cJSON *lc = cfg_get(e, "class_name"), *lcfg = cfg_get(e, "config");
        const cJSON *name = cfg_get(e, "name");
        if (!cJSON_IsString(name) && cJSON_IsObject(lcfg))
            name = cfg_get(lcfg, "name");
        if (!cJSON_IsString(lc) || !cJSON_IsObject(lcfg) || !cJSON_IsString(name) || !name->valuestring[0] ||
            strlen(name->valuestring) > KR_NAME_MAX) {
            st = cv_fail(err, CV_ERR_FORMAT, "%s: model_config: layer %d has no class_name, name (1..%d characters) or config",
                         m->path, k, KR_NAME_MAX);
            goto out;
        }
        L[k] = (klayer){.json = e, .name = name->valuestring, .cls = lc->valuestring, .cfg = lcfg, .nw = -1};
        for (int j = 0; j < k; j++)
            if (strcmp(L[j].name, L[k].name) == 0) {
                st = cv_fail(err, CV_ERR_FORMAT, "%s: model_config: two layers are named '%s'", m->path, L[k].name);
                goto out;
            }
    }
    /* The old layout hands weights out by position: read them in config
     * order now. By-name files are read layer by layer as they convert. */
    for (k = 0; w && w->old_layout && k < n; k++) {
        const layer_kind *kind = find_kind(L[k].cls);
        if (kind && kind->weights && (st = load_layer_weights(&c, &L[k])) != CV_OK)
            goto out;
    }
    m->opset = 13; /* the ONNX semantics the nodes are written for (Pad/Clip inputs, Softmax axis) */
    st = sequential ? build_sequential(&c, L, n) : build_functional(&c, cfg, L, n);
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
