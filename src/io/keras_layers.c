/* Keras layers -> ONNX-op nodes, one converter per layer class.
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
 * Each converter reads its config, checks and converts its weights, emits
 * its nodes with the builders of keras_graph.c and checks c->st once.
 */
#include "keras.h"
#include "../core/limits.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A conv kernel as OIHW [cout, cin, kh, kw] from the file's HWIO
 * [kh, kw, cin, cout] (Keras 2; Keras 1 files with Theano ordering store
 * OIHW, accepted when the shape says so). *cin < 0: take it from the file.
 * Flips kernels 180 degrees when asked (keras.utils.convert_kernel). */
static float *conv_kernel(kr_ctx *c, int k, const char *what, int64_t kh, int64_t kw, int64_t *cin, int64_t cout)
{
    if (c->st != CV_OK)
        return NULL;
    const kr_array *a = &c->L->w[k];
    int64_t hwio[4] = {kh, kw, *cin, cout}, oihw[4] = {cout, *cin, kh, kw};
    bool is_hwio = kr_dims_match(a, 4, hwio), is_oihw = kr_dims_match(a, 4, oihw);
    if (is_hwio && is_oihw) /* ambiguous (all sizes equal): the old layout is Theano's */
        is_hwio = !c->wf->old_layout;
    if (!is_hwio && !is_oihw) {
        kr_check_dims(c, a, what, 4, hwio);
        return NULL;
    }
    if (*cin < 0)
        *cin = is_hwio ? a->d[2] : a->d[1];
    size_t n = (size_t)(kh * kw * *cin * cout);
    float *w = malloc(sizeof *w * (n ? n : 1));
    if (!w) {
        kr_fail(c, CV_ERR_NOMEM, "out of memory converting %s", what);
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
static float *depthwise_kernel(kr_ctx *c, int k, int64_t kh, int64_t kw, int64_t *C, int64_t mult)
{
    if (c->st != CV_OK)
        return NULL;
    const kr_array *a = &c->L->w[k];
    int64_t want[4] = {kh, kw, *C, mult};
    if (!kr_check_dims(c, a, "depthwise_kernel", 4, want))
        return NULL;
    *C = a->d[2];
    int64_t ch = *C;
    size_t n = (size_t)(kh * kw * ch * mult);
    float *w = malloc(sizeof *w * (n ? n : 1));
    if (!w) {
        kr_fail(c, CV_ERR_NOMEM, "out of memory converting the depthwise kernel");
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
static int vector_const(kr_ctx *c, int k, const char *what, int64_t n, const char *suffix)
{
    int64_t d[1] = {n};
    if (!kr_check_dims(c, &c->L->w[k], what, 1, d))
        return -1;
    char name[KR_NAME_MAX + 64];
    int64_t len = c->L->w[k].d[0];
    return kr_const_f32(c, kr_name(c, name, sizeof name, suffix), 1, &len, kr_take(c, k));
}

/* ---- activations ------------------------------------------------------------------------- */

/* y = act(x), the last node named `name`. nchw: x is a rank-4 tensor held
 * NCHW (Keras' last axis is axis 1 here). "linear" returns x. */
static int activation(kr_ctx *c, const char *act, int x, bool nchw, const char *name)
{
    int k = -1, y = -1;
    char aux[KR_NAME_MAX + 64];
    if (c->st != CV_OK)
        return -1;
    if (strcmp(act, "linear") == 0)
        return x;
    if (strcmp(act, "relu") == 0)
        return kr_emit(c, name, "Relu", &x, 1, NULL);
    if (strcmp(act, "sigmoid") == 0)
        return kr_emit(c, name, "Sigmoid", &x, 1, NULL);
    if (strcmp(act, "tanh") == 0)
        return kr_emit(c, name, "Tanh", &x, 1, NULL);
    if (strcmp(act, "softmax") == 0) {
        /* opset 13 Softmax: one axis, Keras' last. */
        y = kr_emit(c, name, "Softmax", &x, 1, &k);
        kr_set_int(c, k, "axis", nchw ? 1 : -1);
        return y;
    }
    if (strcmp(act, "relu6") == 0) {
        snprintf(aux, sizeof aux, "%s/min", name);
        int lo = kr_const_scalar(c, aux, 0.0f);
        snprintf(aux, sizeof aux, "%s/max", name);
        int hi = kr_const_scalar(c, aux, 6.0f);
        int in[3] = {x, lo, hi};
        return kr_emit(c, name, "Clip", in, 3, NULL);
    }
    if (strcmp(act, "elu") == 0) {
        y = kr_emit(c, name, "Elu", &x, 1, &k);
        kr_set_float(c, k, "alpha", 1.0f);
        return y;
    }
    if (strcmp(act, "selu") == 0) {
        /* Keras' constants (Klambauer et al.) */
        y = kr_emit(c, name, "Selu", &x, 1, &k);
        kr_set_float(c, k, "alpha", 1.6732632423543772f);
        kr_set_float(c, k, "gamma", 1.0507009873554805f);
        return y;
    }
    if (strcmp(act, "swish") == 0 || strcmp(act, "silu") == 0) {
        snprintf(aux, sizeof aux, "%s/sigmoid", name);
        int s = kr_emit(c, aux, "Sigmoid", &x, 1, NULL);
        int in[2] = {x, s};
        return kr_emit(c, name, "Mul", in, 2, NULL);
    }
    if (strcmp(act, "hard_sigmoid") == 0) {
        /* Keras 2: clip(0.2 x + 0.5, 0, 1) */
        y = kr_emit(c, name, "HardSigmoid", &x, 1, &k);
        kr_set_float(c, k, "alpha", 0.2f);
        kr_set_float(c, k, "beta", 0.5f);
        return y;
    }
    kr_fail(c, CV_ERR_UNSUPPORTED, "activation '%s' is not supported", act);
    return -1;
}

/* The layer's "activation" option as a string ("linear" when absent). */
static const char *layer_activation(kr_ctx *c)
{
    const cJSON *j = kr_cfg_get(c->L->cfg, "activation");
    if (!j || cJSON_IsNull(j))
        return "linear";
    if (cJSON_IsString(j))
        return j->valuestring;
    kr_fail(c, CV_ERR_UNSUPPORTED, "only named activations are supported (a custom activation object was given)");
    return "linear";
}

/* Name for the node before a fused activation. */
static char *pre_act_name(kr_ctx *c, const char *act, const char *what, char *buf, size_t len)
{
    return kr_name(c, buf, len, strcmp(act, "linear") == 0 ? NULL : what);
}

/* ---- layers -------------------------------------------------------------------------------- */

static void set_window(kr_ctx *c, int k, const int64_t kernel[2], const int64_t strides[2], bool same)
{
    kr_set_ints(c, k, "kernel_shape", kernel, 2);
    kr_set_ints(c, k, "strides", strides, 2);
    if (same) {
        kr_set_string(c, k, "auto_pad", "SAME_UPPER"); /* = TF's 'same' (extra padding at the end) */
    } else {
        int64_t pads[4] = {0, 0, 0, 0};
        kr_set_ints(c, k, "pads", pads, 4);
    }
}

static cv_status conv_out_shape(kr_ctx *c, const kr_tensor *x, kr_tensor *out, const int64_t kern[2],
                                const int64_t s[2], const int64_t d[2], bool same, int64_t channels)
{
    out->rank = 4;
    out->shape[0] = x->shape[0];
    out->shape[1] = kr_window_out(c, x->shape[1], kern[0], s[0], d[0], same);
    out->shape[2] = kr_window_out(c, x->shape[2], kern[1], s[1], d[1], same);
    out->shape[3] = channels;
    return c->st;
}

static cv_status do_conv2d(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, cfg, false);
    int64_t filters = kr_cfg_int(c, cfg, "filters", -1, 1, 1 << 20), kern[2], s[2], d[2];
    int64_t groups = kr_cfg_int(c, cfg, "groups", 1, 1, 1 << 20);
    kr_cfg_pair(c, cfg, "kernel_size", -1, 1, kern);
    kr_cfg_pair(c, cfg, "strides", 1, 1, s);
    kr_cfg_pair(c, cfg, "dilation_rate", 1, 1, d);
    bool same = kr_cfg_padding(c, cfg), bias = kr_cfg_bool(c, cfg, "use_bias", true);
    const char *act = layer_activation(c);
    if (c->st == CV_OK && (filters < 0 || kern[0] < 0))
        return kr_fail(c, CV_ERR_FORMAT, "config needs 'filters' and 'kernel_size'");
    if (!kr_want_weights(c, bias ? 2 : 1, bias ? "kernel, bias" : "kernel"))
        return c->st;
    int64_t cin = x->shape[3];
    if (cin > 0 && cin % groups != 0)
        return kr_fail(c, CV_ERR_SHAPE, "%lld input channels do not split into %lld groups", (long long)cin,
                     (long long)groups);
    int64_t cin_g = cin > 0 ? cin / groups : -1;
    float *w = conv_kernel(c, 0, "kernel", kern[0], kern[1], &cin_g, filters);
    char name[KR_NAME_MAX + 64];
    int64_t wd[4] = {filters, cin_g, kern[0], kern[1]};
    int ins[3] = {x->v, kr_const_f32(c, kr_name(c, name, sizeof name, "kernel"), 4, wd, w), -1};
    if (bias)
        ins[2] = vector_const(c, 1, "bias", filters, "bias");
    int k = -1;
    int y = kr_emit(c, pre_act_name(c, act, "conv", name, sizeof name), "Conv", ins, bias ? 3 : 2, &k);
    set_window(c, k, kern, s, same);
    kr_set_ints(c, k, "dilations", d, 2);
    kr_set_int(c, k, "group", groups);
    out->v = activation(c, act, y, true, kr_name(c, name, sizeof name, NULL));
    return conv_out_shape(c, x, out, kern, s, d, same, filters);
}

static cv_status do_depthwise(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, cfg, false);
    int64_t kern[2], s[2], d[2], mult = kr_cfg_int(c, cfg, "depth_multiplier", 1, 1, 1 << 16);
    kr_cfg_pair(c, cfg, "kernel_size", -1, 1, kern);
    kr_cfg_pair(c, cfg, "strides", 1, 1, s);
    kr_cfg_pair(c, cfg, "dilation_rate", 1, 1, d);
    bool same = kr_cfg_padding(c, cfg), bias = kr_cfg_bool(c, cfg, "use_bias", true);
    const char *act = layer_activation(c);
    if (c->st == CV_OK && kern[0] < 0)
        return kr_fail(c, CV_ERR_FORMAT, "config needs 'kernel_size'");
    if (!kr_want_weights(c, bias ? 2 : 1, bias ? "depthwise_kernel, bias" : "depthwise_kernel"))
        return c->st;
    int64_t C = x->shape[3];
    float *w = depthwise_kernel(c, 0, kern[0], kern[1], &C, mult);
    char name[KR_NAME_MAX + 64];
    int64_t wd[4] = {C * mult, 1, kern[0], kern[1]};
    int ins[3] = {x->v, kr_const_f32(c, kr_name(c, name, sizeof name, "kernel"), 4, wd, w), -1};
    if (bias)
        ins[2] = vector_const(c, 1, "bias", C * mult, "bias");
    int k = -1;
    int y = kr_emit(c, pre_act_name(c, act, "conv", name, sizeof name), "Conv", ins, bias ? 3 : 2, &k);
    set_window(c, k, kern, s, same);
    kr_set_ints(c, k, "dilations", d, 2);
    kr_set_int(c, k, "group", C);
    out->v = activation(c, act, y, true, kr_name(c, name, sizeof name, NULL));
    return conv_out_shape(c, x, out, kern, s, d, same, C * mult);
}

/* SeparableConv2D = depthwise conv (strides, dilation, padding) then a
 * 1x1 pointwise conv with the bias. */
static cv_status do_separable(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, cfg, false);
    int64_t filters = kr_cfg_int(c, cfg, "filters", -1, 1, 1 << 20), kern[2], s[2], d[2];
    int64_t mult = kr_cfg_int(c, cfg, "depth_multiplier", 1, 1, 1 << 16);
    kr_cfg_pair(c, cfg, "kernel_size", -1, 1, kern);
    kr_cfg_pair(c, cfg, "strides", 1, 1, s);
    kr_cfg_pair(c, cfg, "dilation_rate", 1, 1, d);
    bool same = kr_cfg_padding(c, cfg), bias = kr_cfg_bool(c, cfg, "use_bias", true);
    const char *act = layer_activation(c);
    if (c->st == CV_OK && (filters < 0 || kern[0] < 0))
        return kr_fail(c, CV_ERR_FORMAT, "config needs 'filters' and 'kernel_size'");
    if (!kr_want_weights(c, bias ? 3 : 2, bias ? "depthwise_kernel, pointwise_kernel, bias"
                                            : "depthwise_kernel, pointwise_kernel"))
        return c->st;
    int64_t C = x->shape[3];
    float *dw = depthwise_kernel(c, 0, kern[0], kern[1], &C, mult);
    char name[KR_NAME_MAX + 64];
    int64_t dwd[4] = {C * mult, 1, kern[0], kern[1]};
    int ins[3] = {x->v, kr_const_f32(c, kr_name(c, name, sizeof name, "depthwise_kernel"), 4, dwd, dw), -1};
    int k = -1;
    int y = kr_emit(c, kr_name(c, name, sizeof name, "depthwise"), "Conv", ins, 2, &k);
    set_window(c, k, kern, s, same);
    kr_set_ints(c, k, "dilations", d, 2);
    kr_set_int(c, k, "group", C);
    int64_t one[2] = {1, 1}, cm = C * mult;
    float *pw = conv_kernel(c, 1, "pointwise_kernel", 1, 1, &cm, filters);
    int64_t pwd[4] = {filters, cm, 1, 1};
    int pins[3] = {y, kr_const_f32(c, kr_name(c, name, sizeof name, "pointwise_kernel"), 4, pwd, pw), -1};
    if (bias)
        pins[2] = vector_const(c, 2, "bias", filters, "bias");
    y = kr_emit(c, pre_act_name(c, act, "conv", name, sizeof name), "Conv", pins, bias ? 3 : 2, &k);
    set_window(c, k, one, one, false);
    out->v = activation(c, act, y, true, kr_name(c, name, sizeof name, NULL));
    return conv_out_shape(c, x, out, kern, s, d, same, filters);
}

/* Dense on the last axis. Rank 2: Gemm with the [in, units] kernel as B
 * (no copy). Higher ranks: MatMul + Add in Keras order (images are
 * transposed to NHWC and back). */
static cv_status do_dense(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = in[0];
    int64_t units = kr_cfg_int(c, cfg, "units", -1, 1, 1 << 24);
    if (c->st == CV_OK && units < 0) /* Keras 1: output_dim */
        units = kr_cfg_int(c, cfg, "output_dim", -1, 1, 1 << 24);
    bool bias = kr_cfg_bool(c, cfg, "use_bias", kr_cfg_bool(c, cfg, "bias", true));
    const char *act = layer_activation(c);
    if (c->st == CV_OK && units < 0)
        return kr_fail(c, CV_ERR_FORMAT, "config needs 'units'");
    if (x->rank < 2)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "input has rank %d; Dense needs rank 2 or more", x->rank);
    if (!kr_want_weights(c, bias ? 2 : 1, bias ? "kernel, bias" : "kernel"))
        return c->st;
    int64_t kd[2] = {x->shape[x->rank - 1], units};
    if (!kr_check_dims(c, &c->L->w[0], "kernel", 2, kd))
        return c->st;
    kd[0] = c->L->w[0].d[0];
    char name[KR_NAME_MAX + 64];
    int kv = kr_const_f32(c, kr_name(c, name, sizeof name, "kernel"), 2, kd, kr_take(c, 0));
    int bv = bias ? vector_const(c, 1, "bias", units, "bias") : -1;
    bool image = x->rank == 4;
    int y = x->v;
    *out = *x;
    out->shape[x->rank - 1] = units;
    if (x->rank == 2) {
        int ins[3] = {y, kv, bv};
        y = kr_emit(c, pre_act_name(c, act, "matmul", name, sizeof name), "Gemm", ins, bias ? 3 : 2, NULL);
        out->v = activation(c, act, y, false, kr_name(c, name, sizeof name, NULL));
        return c->st;
    }
    if (image)
        y = kr_transpose(c, y, KR_TO_NHWC, 4, kr_name(c, name, sizeof name, "to_nhwc"));
    bool last_is_matmul = !bias && strcmp(act, "linear") == 0 && !image;
    int ins[2] = {y, kv};
    y = kr_emit(c, last_is_matmul ? kr_name(c, name, sizeof name, NULL) : kr_name(c, name, sizeof name, "matmul"), "MatMul", ins, 2,
             NULL);
    if (bias) {
        bool last = strcmp(act, "linear") == 0 && !image;
        int bins[2] = {y, bv};
        y = kr_emit(c, last ? kr_name(c, name, sizeof name, NULL) : kr_name(c, name, sizeof name, "add"), "Add", bins, 2, NULL);
    }
    if (strcmp(act, "linear") != 0)
        y = activation(c, act, y, false, image ? kr_name(c, name, sizeof name, "act") : kr_name(c, name, sizeof name, NULL));
    if (image)
        y = kr_transpose(c, y, KR_TO_NCHW, 4, kr_name(c, name, sizeof name, NULL));
    out->v = y;
    return c->st;
}

static cv_status do_pool(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out, const char *op)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, cfg, false);
    int64_t kern[2], s[2], one[2] = {1, 1};
    kr_cfg_pair(c, cfg, "pool_size", 2, 1, kern);
    kr_cfg_pair(c, cfg, "strides", -1, 1, s);
    if (s[0] < 0) { /* strides default to the pool size */
        s[0] = kern[0];
        s[1] = kern[1];
    }
    bool same = kr_cfg_padding(c, cfg);
    char name[KR_NAME_MAX + 64];
    int k = -1;
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), op, &x->v, 1, &k);
    set_window(c, k, kern, s, same);
    if (strcmp(op, "AveragePool") == 0)
        kr_set_int(c, k, "count_include_pad", 0); /* TF averages over the valid cells only */
    return conv_out_shape(c, x, out, kern, s, one, same, x->shape[3]);
}

static cv_status do_maxpool(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    return do_pool(c, in, n_in, out, "MaxPool");
}

static cv_status do_avgpool(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    return do_pool(c, in, n_in, out, "AveragePool");
}

static cv_status do_global_pool(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out, const char *op)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, cfg, false);
    bool keepdims = kr_cfg_bool(c, cfg, "keepdims", false);
    char name[KR_NAME_MAX + 64];
    int y = kr_emit(c, kr_name(c, name, sizeof name, keepdims ? NULL : "pool"), op, &x->v, 1, NULL);
    out->shape[0] = x->shape[0];
    if (keepdims) {
        out->rank = 4;
        out->shape[1] = out->shape[2] = 1;
        out->shape[3] = x->shape[3];
        out->v = y;
        return c->st;
    }
    int k = -1;
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Flatten", &y, 1, &k);
    kr_set_int(c, k, "axis", 1);
    out->rank = 2;
    out->shape[1] = x->shape[3];
    return c->st;
}

static cv_status do_gap(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    return do_global_pool(c, in, n_in, out, "GlobalAveragePool");
}

static cv_status do_gmp(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    return do_global_pool(c, in, n_in, out, "GlobalMaxPool");
}

/* ZeroPadding2D / Cropping2D option: int, [sym_h, sym_w] or [[top, bottom], [left, right]]. */
static void cfg_borders(kr_ctx *c, const char *key, int64_t b[4] /* top, bottom, left, right */)
{
    const cJSON *j = kr_cfg_get(c->L->cfg, key);
    int64_t hi = 1 << 20, v;
    b[0] = b[1] = b[2] = b[3] = 0;
    if (!j)
        return;
    if (kr_is_int(j, 0, hi, &v)) {
        b[0] = b[1] = b[2] = b[3] = v;
        return;
    }
    if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == 2) {
        const cJSON *h = cJSON_GetArrayItem(j, 0), *w = cJSON_GetArrayItem(j, 1);
        if (kr_is_int(h, 0, hi, &b[0]) && kr_is_int(w, 0, hi, &b[2])) {
            b[1] = b[0];
            b[3] = b[2];
            return;
        }
        if (cJSON_IsArray(h) && cJSON_IsArray(w) && cJSON_GetArraySize(h) == 2 && cJSON_GetArraySize(w) == 2 &&
            kr_is_int(cJSON_GetArrayItem(h, 0), 0, hi, &b[0]) && kr_is_int(cJSON_GetArrayItem(h, 1), 0, hi, &b[1]) &&
            kr_is_int(cJSON_GetArrayItem(w, 0), 0, hi, &b[2]) && kr_is_int(cJSON_GetArrayItem(w, 1), 0, hi, &b[3]))
            return;
    }
    kr_fail(c, CV_ERR_FORMAT, "config '%s' should be an integer, two integers or two pairs", key);
}

static int64_t add_known(int64_t a, int64_t b) { return a < 0 ? -1 : a + b; }

static cv_status do_zeropad(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, c->L->cfg, false);
    int64_t b[4];
    cfg_borders(c, "padding", b);
    char name[KR_NAME_MAX + 64];
    int64_t pads[8] = {0, 0, b[0], b[2], 0, 0, b[1], b[3]}; /* NCHW begins, then ends */
    int ins[2] = {x->v, kr_const_i64(c, kr_name(c, name, sizeof name, "pads"), pads, 8)};
    int k = -1;
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Pad", ins, 2, &k);
    kr_set_string(c, k, "mode", "constant");
    *out = (kr_tensor){.v = out->v, .rank = 4,
                     .shape = {x->shape[0], add_known(x->shape[1], b[0] + b[1]), add_known(x->shape[2], b[2] + b[3]),
                               x->shape[3]}};
    return c->st;
}

static cv_status do_cropping(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    kr_tensor *x = kr_need_rank(c, in[0], 4);
    kr_channels_last(c, c->L->cfg, false);
    int64_t b[4];
    cfg_borders(c, "cropping", b);
    char name[KR_NAME_MAX + 64];
    int64_t starts[2] = {b[0], b[2]}, ends[2] = {b[1] ? -b[1] : INT64_MAX, b[3] ? -b[3] : INT64_MAX};
    int64_t axes[2] = {2, 3};
    int ins[4] = {x->v, kr_const_i64(c, kr_name(c, name, sizeof name, "starts"), starts, 2),
                  kr_const_i64(c, kr_name(c, name, sizeof name, "ends"), ends, 2),
                  kr_const_i64(c, kr_name(c, name, sizeof name, "axes"), axes, 2)};
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Slice", ins, 4, NULL);
    out->rank = 4;
    out->shape[0] = x->shape[0];
    out->shape[1] = add_known(x->shape[1], -(b[0] + b[1]));
    out->shape[2] = add_known(x->shape[2], -(b[2] + b[3]));
    out->shape[3] = x->shape[3];
    if (c->st == CV_OK && ((x->shape[1] >= 0 && out->shape[1] <= 0) || (x->shape[2] >= 0 && out->shape[2] <= 0)))
        return kr_fail(c, CV_ERR_SHAPE, "cropping removes the whole input");
    return c->st;
}

/* Product of dims from..rank-1; -1 when one is unknown or the product is
 * past 2^48 (no real tensor is; the executor refuses such shapes). */
static int64_t prod_known(const kr_tensor *x, int from)
{
    int64_t p = 1;
    for (int k = from; k < x->rank; k++) {
        if (x->shape[k] < 0 || (x->shape[k] > 0 && p > ((int64_t)1 << 48) / x->shape[k]))
            return -1;
        p *= x->shape[k];
    }
    return p;
}

/* Keras flattens channels-last: NHWC order, hence the transpose. */
static cv_status do_flatten(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    kr_tensor *x = in[0];
    bool last = kr_channels_last(c, c->L->cfg, true);
    char name[KR_NAME_MAX + 64];
    int y = x->v;
    if (x->rank == 4 && last)
        y = kr_transpose(c, y, KR_TO_NHWC, 4, kr_name(c, name, sizeof name, "to_nhwc"));
    /* channels_first on an image: Keras moves C to axis 1 first, which is
     * how the graph already holds it. On rank 3 it is a real transpose. */
    if (x->rank == 3 && !last) {
        int64_t perm[3] = {0, 2, 1};
        y = kr_transpose(c, y, perm, 3, kr_name(c, name, sizeof name, "to_channels_first"));
    }
    int k = -1;
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Flatten", &y, 1, &k);
    kr_set_int(c, k, "axis", 1);
    out->rank = 2;
    out->shape[0] = x->shape[0];
    out->shape[1] = prod_known(x, 1);
    return c->st;
}

static cv_status do_reshape(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    kr_tensor *x = in[0];
    const cJSON *ts = kr_cfg_get(c->L->cfg, "target_shape");
    int n = cJSON_IsArray(ts) ? cJSON_GetArraySize(ts) : -1;
    if (n < 1 || n + 1 > CV_MAX_DIMS)
        return kr_fail(c, CV_ERR_FORMAT, "config 'target_shape' should be a list of 1 to %d sizes", CV_MAX_DIMS - 1);
    int64_t shape[CV_MAX_DIMS];
    shape[0] = 0; /* ONNX: copy the batch size */
    int unknown = -1;
    int64_t known = 1;
    for (int k = 0; k < n; k++) {
        if (!kr_is_int(cJSON_GetArrayItem(ts, k), -1, 1 << 30, &shape[k + 1]) || shape[k + 1] == 0 ||
            (shape[k + 1] == -1 && unknown >= 0))
            return kr_fail(c, CV_ERR_FORMAT, "config 'target_shape' entry %d is not a size (or a second -1)", k);
        if (shape[k + 1] < 0)
            unknown = k + 1;
        else if (known > ((int64_t)1 << 48) / shape[k + 1])
            return kr_fail(c, CV_ERR_LIMIT, "config 'target_shape' has more than 2^48 elements");
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
        return kr_fail(c, CV_ERR_SHAPE, "cannot reshape %s to target_shape with %lld elements", kr_dims_str(x->rank, x->shape, s1, sizeof s1),
                     (long long)known);
    }
    if (unknown >= 0)
        out->shape[unknown] = total >= 0 ? total / known : -1;
    char name[KR_NAME_MAX + 64];
    int y = x->v;
    if (x->rank == 4)
        y = kr_transpose(c, y, KR_TO_NHWC, 4, kr_name(c, name, sizeof name, "to_nhwc"));
    int ins[2] = {y, kr_const_i64(c, kr_name(c, name, sizeof name, "shape"), shape, n + 1)};
    y = kr_emit(c, kr_name(c, name, sizeof name, out->rank == 4 ? "reshape" : NULL), "Reshape", ins, 2, NULL);
    if (out->rank == 4)
        y = kr_transpose(c, y, KR_TO_NCHW, 4, kr_name(c, name, sizeof name, NULL));
    out->v = y;
    return c->st;
}

/* Rescaling (Keras 2.6+ preprocessing): y = x * scale + offset, both
 * scalars. */
static cv_status do_rescaling(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    double scale = kr_cfg_num(c, c->L->cfg, "scale", 1.0), offset = kr_cfg_num(c, c->L->cfg, "offset", 0.0);
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    int mins[2] = {in[0]->v, kr_const_scalar(c, kr_name(c, name, sizeof name, "scale"), (float)scale)};
    int y = kr_emit(c, kr_name(c, name, sizeof name, "mul"), "Mul", mins, 2, NULL);
    int ains[2] = {y, kr_const_scalar(c, kr_name(c, name, sizeof name, "offset"), (float)offset)};
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Add", ains, 2, NULL);
    return c->st;
}

/* Dropout, noise and regularisation layers: identity at inference. */
static cv_status do_identity(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Identity", &in[0]->v, 1, NULL);
    return c->st;
}

static cv_status do_activation(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const char *act = layer_activation(c);
    if (c->st == CV_OK && strcmp(act, "linear") == 0)
        return do_identity(c, in, n_in, out);
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    out->v = activation(c, act, in[0]->v, in[0]->rank == 4, kr_name(c, name, sizeof name, NULL));
    return c->st;
}

static cv_status do_softmax(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    int64_t axis = kr_cfg_int(c, c->L->cfg, "axis", -1, -8, 8);
    if (c->st == CV_OK && axis != -1 && axis != in[0]->rank - 1)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "softmax over axis %lld is not supported (last axis only)", (long long)axis);
    char name[KR_NAME_MAX + 64];
    *out = *in[0];
    out->v = activation(c, "softmax", in[0]->v, in[0]->rank == 4, kr_name(c, name, sizeof name, NULL));
    return c->st;
}

static cv_status do_relu(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    bool capped = kr_cfg_has(cfg, "max_value");
    double mv = kr_cfg_num(c, cfg, "max_value", 0), slope = kr_cfg_num(c, cfg, "negative_slope", 0);
    double th = kr_cfg_num(c, cfg, "threshold", 0);
    char name[KR_NAME_MAX + 64], aux[KR_NAME_MAX + 64];
    *out = *in[0];
    int x = in[0]->v, k = -1;
    if (c->st != CV_OK)
        return c->st;
    if (th != 0 || (capped && slope != 0) || (capped && mv < 0)) {
        char mvs[32] = "None";
        if (capped)
            snprintf(mvs, sizeof mvs, "%g", mv);
        return kr_fail(c, CV_ERR_UNSUPPORTED,
                     "ReLU with threshold %g, negative_slope %g and max_value %s is not supported (supported: "
                     "plain, max_value >= 0, or negative_slope alone)",
                     th, slope, mvs);
    }
    if (capped) {
        int ins[3] = {x, kr_const_scalar(c, kr_name(c, aux, sizeof aux, "min"), 0.0f),
                      kr_const_scalar(c, kr_name(c, aux, sizeof aux, "max"), (float)mv)};
        out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Clip", ins, 3, NULL);
    } else if (slope != 0) {
        out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "LeakyRelu", &x, 1, &k);
        kr_set_float(c, k, "alpha", (float)slope);
    } else {
        out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Relu", &x, 1, NULL);
    }
    return c->st;
}

static cv_status do_leaky(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    double alpha = kr_cfg_num(c, cfg, "alpha", kr_cfg_num(c, cfg, "negative_slope", 0.3));
    char name[KR_NAME_MAX + 64];
    int k = -1;
    *out = *in[0];
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "LeakyRelu", &in[0]->v, 1, &k);
    kr_set_float(c, k, "alpha", (float)alpha);
    return c->st;
}

static cv_status do_elu(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    double alpha = kr_cfg_num(c, c->L->cfg, "alpha", 1.0);
    char name[KR_NAME_MAX + 64];
    int k = -1;
    *out = *in[0];
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Elu", &in[0]->v, 1, &k);
    kr_set_float(c, k, "alpha", (float)alpha);
    return c->st;
}

/* alpha has the input's shape without the batch, 1 on shared_axes. */
static cv_status do_prelu(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    kr_tensor *x = in[0];
    *out = *x;
    if (!kr_want_weights(c, 1, "alpha"))
        return c->st;
    int r = x->rank - 1;
    int64_t want[CV_MAX_DIMS];
    for (int k = 0; k < r; k++)
        want[k] = x->shape[k + 1];
    const cJSON *sh = kr_cfg_get(c->L->cfg, "shared_axes");
    if (cJSON_IsNumber(sh) || cJSON_IsArray(sh)) {
        int n = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : 1;
        for (int k = 0; k < n; k++) {
            int64_t a;
            if (!kr_is_int(cJSON_IsArray(sh) ? cJSON_GetArrayItem(sh, k) : sh, 1, r, &a))
                return kr_fail(c, CV_ERR_FORMAT, "config 'shared_axes' should list axes 1..%d", r);
            want[a - 1] = 1;
        }
    }
    if (!kr_check_dims(c, &c->L->w[0], "alpha", r, want))
        return c->st;
    kr_array *a = &c->L->w[0];
    float *slope = kr_take(c, 0);
    int64_t d[CV_MAX_DIMS];
    for (int k = 0; k < r; k++)
        d[k] = a->d[k];
    if (x->rank == 4) { /* [H, W, C] -> [C, H, W] to broadcast against NCHW */
        size_t cnt = (size_t)(d[0] * d[1] * d[2]);
        float *t = malloc(sizeof *t * (cnt ? cnt : 1));
        if (!t) {
            free(slope);
            return kr_fail(c, CV_ERR_NOMEM, "out of memory");
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
    int ins[2] = {x->v, kr_const_f32(c, kr_name(c, name, sizeof name, "alpha"), r, d, slope)};
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "PRelu", ins, 2, NULL);
    return c->st;
}

/* Inference BN over the last (channel) axis: BatchNormalization on images,
 * folded into Mul + Add elsewhere. */
static cv_status do_batchnorm(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    const cJSON *cfg = c->L->cfg;
    kr_tensor *x = in[0];
    *out = *x;
    const cJSON *axj = kr_cfg_get(cfg, "axis");
    int64_t axis = -1;
    if (cJSON_IsArray(axj) && cJSON_GetArraySize(axj) == 1)
        axj = cJSON_GetArrayItem(axj, 0);
    if (axj && !kr_is_int(axj, -8, 8, &axis))
        return kr_fail(c, CV_ERR_UNSUPPORTED, "config 'axis' should be one axis (the last)");
    if (axis != -1 && axis != x->rank - 1)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "normalising over axis %lld is not supported (the last axis, -1 or %d, only)",
                     (long long)axis, x->rank - 1);
    bool scale = kr_cfg_bool(c, cfg, "scale", true), center = kr_cfg_bool(c, cfg, "center", true);
    double eps = kr_cfg_num(c, cfg, "epsilon", 1e-3);
    int nw = (scale ? 1 : 0) + (center ? 1 : 0) + 2;
    const char *names = scale && center ? "gamma, beta, moving_mean, moving_variance"
                        : scale         ? "gamma, moving_mean, moving_variance"
                        : center        ? "beta, moving_mean, moving_variance"
                                        : "moving_mean, moving_variance";
    if (c->st != CV_OK || !kr_want_weights(c, nw, names))
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
            if (!kr_check_dims(c, &c->L->w[idx[p]], what[p], 1, want))
                return c->st;
            want[0] = C = c->L->w[idx[p]].d[0];
        }
    size_t n = (size_t)C;
    float *prm[4];
    for (int p = 0; p < 4; p++) {
        if (idx[p] >= 0) {
            prm[p] = kr_take(c, idx[p]);
        } else if ((prm[p] = malloc(sizeof(float) * (n ? n : 1)))) {
            for (size_t i = 0; i < n; i++)
                prm[p][i] = p == 0 ? 1.0f : 0.0f;
        }
    }
    char name[KR_NAME_MAX + 64];
    if (!prm[0] || !prm[1]) {
        for (int p = 0; p < 4; p++)
            free(prm[p]);
        return kr_fail(c, CV_ERR_NOMEM, "out of memory");
    }
    int64_t d[1] = {C};
    if (x->rank == 4) {
        int ins[5] = {x->v, kr_const_f32(c, kr_name(c, name, sizeof name, "gamma"), 1, d, prm[0]),
                      kr_const_f32(c, kr_name(c, name, sizeof name, "beta"), 1, d, prm[1]),
                      kr_const_f32(c, kr_name(c, name, sizeof name, "moving_mean"), 1, d, prm[2]),
                      kr_const_f32(c, kr_name(c, name, sizeof name, "moving_variance"), 1, d, prm[3])};
        int k = -1;
        out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "BatchNormalization", ins, 5, &k);
        kr_set_float(c, k, "epsilon", (float)eps);
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
    int mins[2] = {x->v, kr_const_f32(c, kr_name(c, name, sizeof name, "scale"), 1, d, prm[0])};
    int y = kr_emit(c, kr_name(c, name, sizeof name, "mul"), "Mul", mins, 2, NULL);
    int ains[2] = {y, kr_const_f32(c, kr_name(c, name, sizeof name, "shift"), 1, d, prm[1])};
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Add", ains, 2, NULL);
    return c->st;
}

/* Elementwise merges: a chain of binary ONNX ops, the last named after the layer. */
static cv_status do_merge(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out, const char *op, bool average)
{
    if (n_in < 2 || (strcmp(op, "Sub") == 0 && n_in != 2))
        return kr_fail(c, CV_ERR_FORMAT, "has %d inputs (needs %s)", n_in, strcmp(op, "Sub") == 0 ? "2" : "2 or more");
    *out = *in[0];
    for (int i = 1; i < n_in; i++) {
        if (in[i]->rank != in[0]->rank)
            return kr_fail(c, CV_ERR_UNSUPPORTED, "inputs of rank %d and %d cannot be merged", in[0]->rank, in[i]->rank);
        for (int d = 1; d < out->rank; d++) {
            int64_t a = out->shape[d], b = in[i]->shape[d];
            if (a >= 0 && b >= 0 && a != b && a != 1 && b != 1) {
                char s1[160], s2[160];
                return kr_fail(c, CV_ERR_SHAPE, "inputs %s and %s do not match",
                             kr_dims_str(out->rank, out->shape, s1, sizeof s1), kr_dims_str(in[i]->rank, in[i]->shape, s2, sizeof s2));
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
        y = kr_emit(c, kr_name(c, name, sizeof name, last ? NULL : aux), op, ins, 2, NULL);
    }
    if (average) {
        int ins[2] = {y, kr_const_scalar(c, kr_name(c, name, sizeof name, "scale"), 1.0f / (float)n_in)};
        y = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Mul", ins, 2, NULL);
    }
    out->v = y;
    return c->st;
}

static cv_status do_add(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out) { return do_merge(c, in, n_in, out, "Add", false); }
static cv_status do_mul(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out) { return do_merge(c, in, n_in, out, "Mul", false); }
static cv_status do_sub(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out) { return do_merge(c, in, n_in, out, "Sub", false); }
static cv_status do_max(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out) { return do_merge(c, in, n_in, out, "Max", false); }
static cv_status do_min(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out) { return do_merge(c, in, n_in, out, "Min", false); }
static cv_status do_avg(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out) { return do_merge(c, in, n_in, out, "Add", true); }

static cv_status do_concat(kr_ctx *c, kr_tensor **in, int n_in, kr_tensor *out)
{
    int64_t axis = kr_cfg_int(c, c->L->cfg, "axis", -1, -8, 8);
    if (n_in < 1)
        return kr_fail(c, CV_ERR_FORMAT, "has no inputs");
    int r = in[0]->rank;
    if (axis < 0)
        axis += r;
    if (c->st == CV_OK && (axis <= 0 || axis >= r))
        return kr_fail(c, CV_ERR_UNSUPPORTED, "concatenating over axis %lld of rank-%d tensors is not supported", (long long)axis, r);
    *out = *in[0];
    int ins[CV_NODE_MAX_INPUTS];
    if (n_in > CV_NODE_MAX_INPUTS)
        return kr_fail(c, CV_ERR_UNSUPPORTED, "has %d inputs (at most %d)", n_in, CV_NODE_MAX_INPUTS);
    for (int i = 0; i < n_in; i++) {
        ins[i] = in[i]->v;
        if (in[i]->rank != r)
            return kr_fail(c, CV_ERR_SHAPE, "inputs have ranks %d and %d", r, in[i]->rank);
        if (i)
            out->shape[axis] = out->shape[axis] >= 0 && in[i]->shape[axis] >= 0 ? out->shape[axis] + in[i]->shape[axis] : -1;
    }
    /* Keras axes 1, 2, 3 of an NHWC image are H, W, C: NCHW axes 2, 3, 1. */
    int64_t onnx_axis = r == 4 ? (axis == 3 ? 1 : axis + 1) : axis;
    char name[KR_NAME_MAX + 64];
    int k = -1;
    out->v = kr_emit(c, kr_name(c, name, sizeof name, NULL), "Concat", ins, n_in, &k);
    kr_set_int(c, k, "axis", onnx_axis);
    return c->st;
}

static const kr_layer_kind KINDS[] = {
    {"Conv2D", do_conv2d, true, false},
    {"Convolution2D", do_conv2d, true, false},
    {"DepthwiseConv2D", do_depthwise, true, false},
    {"SeparableConv2D", do_separable, true, false},
    {"SeparableConvolution2D", do_separable, true, false},
    {"Dense", do_dense, true, false},
    {"MaxPooling2D", do_maxpool, false, false},
    {"MaxPool2D", do_maxpool, false, false},
    {"AveragePooling2D", do_avgpool, false, false},
    {"AvgPool2D", do_avgpool, false, false},
    {"GlobalAveragePooling2D", do_gap, false, false},
    {"GlobalAvgPool2D", do_gap, false, false},
    {"GlobalMaxPooling2D", do_gmp, false, false},
    {"GlobalMaxPool2D", do_gmp, false, false},
    {"ZeroPadding2D", do_zeropad, false, false},
    {"Cropping2D", do_cropping, false, false},
    {"Flatten", do_flatten, false, false},
    {"Reshape", do_reshape, false, false},
    {"Dropout", do_identity, false, false},
    {"SpatialDropout2D", do_identity, false, false},
    {"GaussianDropout", do_identity, false, false},
    {"GaussianNoise", do_identity, false, false},
    {"AlphaDropout", do_identity, false, false},
    {"ActivityRegularization", do_identity, false, false},
    {"Rescaling", do_rescaling, false, false},
    {"Activation", do_activation, false, false},
    {"Softmax", do_softmax, false, false},
    {"ReLU", do_relu, false, false},
    {"LeakyReLU", do_leaky, false, false},
    {"ELU", do_elu, false, false},
    {"PReLU", do_prelu, true, false},
    {"BatchNormalization", do_batchnorm, true, false},
    {"Add", do_add, false, true},
    {"Multiply", do_mul, false, true},
    {"Subtract", do_sub, false, true},
    {"Maximum", do_max, false, true},
    {"Minimum", do_min, false, true},
    {"Average", do_avg, false, true},
    {"Concatenate", do_concat, false, true},
};

const kr_layer_kind *kr_find_kind(const char *cls)
{
    for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
        if (strcmp(KINDS[k].cls, cls) == 0)
            return &KINDS[k];
    return NULL;
}
