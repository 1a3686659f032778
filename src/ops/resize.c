/* Resize (opsets 10-18) and Upsample (opsets 1-9): nearest and linear
 * interpolation of a float32 tensor.
 *
 * Inputs by version:
 *   Upsample 1-6:  X; attributes height_scale, width_scale (4-D X)
 *   Upsample 7-8:  X; attribute scales
 *   Upsample 9:    X, scales
 *   Resize 10:     X, scales
 *   Resize 11+:    X, roi, scales, sizes (roi/scales optional from 13)
 * scales and sizes must be constant (they fix the output shape); giving
 * sizes (non-empty) means the scale of axis i is sizes[i] / X.shape[i].
 * Output size from scales: floor(X.shape[i] * scales[i]). Opset 18's
 * `axes` and `keep_aspect_ratio_policy` are supported; `antialias` is
 * refused where it would change the result (linear downscaling).
 *
 * Each output coordinate x maps to an input coordinate by
 * coordinate_transformation_mode (scale = the axis' scale, computed in
 * double from the float32 scale as ONNX's reference does):
 *   half_pixel            (x + 0.5) / scale - 0.5            (default, 11+)
 *   pytorch_half_pixel    the same, but -0.5 when the output length is 1
 *   align_corners         x (in - 1) / (in * scale - 1), 0 when the output length is 1
 *   asymmetric            x / scale                          (Upsample, Resize 10)
 *   tf_half_pixel_for_nn  (x + 0.5) / scale
 * align_corners divides by in * scale - 1, which is sizes - 1 when sizes
 * are given; with scales whose product is not a whole number it is what
 * ONNX's reference (and its test data) use, not round(in * scale) - 1.
 * tf_crop_and_resize and mode "cubic" are refused (CV_ERR_UNSUPPORTED).
 *
 * nearest picks one input index: exact coordinates are taken as they are;
 * otherwise nearest_mode rounds (round_prefer_floor, the default;
 * round_prefer_ceil; floor; ceil). Upsample and Resize-10 (which predate
 * nearest_mode) floor, which is what PyTorch's "nearest" computes;
 * onnxruntime instead takes ceil when such a model downsamples by a
 * fractional factor. Indices are clamped to the input.
 * linear blends the two neighbours floor(c) and floor(c) + 1 with weights
 * 1 - t and t (t = c - floor(c)), clamping both to the input (edge
 * padding), on at most the last two axes (bilinear on H, W); resizing any
 * other axis linearly is refused. nearest works on any axes.
 *
 * Backward is the adjoint: each output gradient goes back to the input
 * element(s) it was read from, times the same weights.
 */
#include "bcast.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { RS_NEAREST, RS_LINEAR } rs_mode;
typedef enum { RS_HALF_PIXEL, RS_PYTORCH_HALF_PIXEL, RS_ALIGN_CORNERS, RS_ASYMMETRIC, RS_TF_HALF_PIXEL_NN } rs_coord;
typedef enum { RS_ROUND_PREFER_FLOOR, RS_ROUND_PREFER_CEIL, RS_FLOOR, RS_CEIL } rs_round;
typedef enum { RS_STRETCH, RS_NOT_LARGER, RS_NOT_SMALLER } rs_policy;

typedef struct {
    rs_mode mode;
    rs_coord coord;
    rs_round round;
    int scales_in, sizes_in;      /* input slots, -1 when the version has none */
    int n_attr_scales;            /* Upsample < 9: scales from attributes */
    float attr_scales[CV_MAX_DIMS];
    int n_axes;                   /* opset 18 `axes`; 0 = all */
    int64_t axes[CV_MAX_DIMS];
    rs_policy policy;
    bool antialias;
} rs_params;

/* One output index along one axis: the input indices it reads and their weights. */
typedef struct {
    int64_t i0, i1;
    float w0, w1;
} rs_tap;

static cv_status rs_pick(const char *v, const char *const *names, int n, int *out, const char *attr, cv_error *err)
{
    for (int k = 0; k < n; k++)
        if (strcmp(v, names[k]) == 0) {
            *out = k;
            return CV_OK;
        }
    return cv_fail(err, CV_ERR_INVALID, "attribute '%s' = '%s' is not a valid value", attr, v);
}

static cv_status rs_init(cv_node *n, const cv_model *m, cv_error *err)
{
    int opset = cv_opset(m);
    bool upsample = strcmp(n->op_type, "Upsample") == 0;
    rs_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    p->scales_in = p->sizes_in = -1;
    if (n->n_in < 1 || n->in[0] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects an input X");
    const char *mode = cv_attr_string(n, "mode", "nearest");
    if (strcmp(mode, "nearest") == 0)
        p->mode = RS_NEAREST;
    else if (strcmp(mode, "linear") == 0 || (upsample && strcmp(mode, "bilinear") == 0))
        p->mode = RS_LINEAR;
    else if (strcmp(mode, "cubic") == 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "mode 'cubic' is not supported (nearest and linear are)");
    else
        return cv_fail(err, CV_ERR_INVALID, "attribute 'mode' = '%s', expected nearest or linear", mode);

    bool legacy = upsample || opset < 11; /* Upsample and Resize-10 */
    p->coord = RS_ASYMMETRIC;
    p->round = RS_FLOOR;
    if (upsample && opset < 7) {
        float hs = cv_attr_float(n, "height_scale", 1.0f), ws = cv_attr_float(n, "width_scale", 1.0f);
        p->n_attr_scales = 4; /* the opset-1 form scales H and W of a 4-D X */
        p->attr_scales[0] = p->attr_scales[1] = 1.0f;
        p->attr_scales[2] = hs;
        p->attr_scales[3] = ws;
    } else if (upsample && opset < 9) {
        const cv_attr *a = cv_node_attr(n, "scales");
        if (!a || a->type != CV_ATTR_FLOATS)
            return cv_fail(err, CV_ERR_INVALID, "opset %d Upsample needs the 'scales' attribute", opset);
        if (a->n < 1 || a->n > CV_MAX_DIMS)
            return cv_fail(err, CV_ERR_INVALID, "attribute 'scales' has %d entries", a->n);
        p->n_attr_scales = a->n;
        memcpy(p->attr_scales, a->floats, sizeof(float) * (size_t)a->n);
    } else if (legacy) {
        p->scales_in = 1;
        if (n->n_in != 2 || n->in[1] < 0)
            return cv_fail(err, CV_ERR_INVALID, "opset %d %s expects inputs (X, scales), got %d", opset, n->op_type,
                           n->n_in);
    } else {
        p->scales_in = 2;
        p->sizes_in = 3;
        if (n->n_in > 4)
            return cv_fail(err, CV_ERR_INVALID, "expects at most 4 inputs (X, roi, scales, sizes), got %d", n->n_in);
        static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                             "tf_half_pixel_for_nn"};
        const char *ct = cv_attr_string(n, "coordinate_transformation_mode", "half_pixel");
        if (strcmp(ct, "tf_crop_and_resize") == 0)
            return cv_fail(err, CV_ERR_UNSUPPORTED, "coordinate_transformation_mode 'tf_crop_and_resize' is not supported");
        int v = 0;
        cv_status st = rs_pick(ct, coords, 5, &v, "coordinate_transformation_mode", err);
        if (st != CV_OK)
            return st;
        p->coord = (rs_coord)v;
        static const char *const rounds[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
        if ((st = rs_pick(cv_attr_string(n, "nearest_mode", "round_prefer_floor"), rounds, 4, &v, "nearest_mode",
                          err)) != CV_OK)
            return st;
        p->round = (rs_round)v;
        static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
        if ((st = rs_pick(cv_attr_string(n, "keep_aspect_ratio_policy", "stretch"), policies, 3, &v,
                          "keep_aspect_ratio_policy", err)) != CV_OK)
            return st;
        p->policy = (rs_policy)v;
        p->antialias = cv_attr_int(n, "antialias", 0) != 0;
        int na = cv_attr_ints(n, "axes", p->axes, CV_MAX_DIMS);
        if (na > CV_MAX_DIMS)
            return cv_fail(err, CV_ERR_INVALID, "attribute 'axes' has %d entries", na);
        p->n_axes = na < 0 ? 0 : na;
        /* exclude_outside, cubic_coeff_a and extrapolation_value only matter
         * for cubic and tf_crop_and_resize, which are refused above. */
    }
    return CV_OK;
}

/* Input k when the node has it (non-empty), else NULL. */
static const cv_tensor *rs_input(const cv_op_ctx *c, int k)
{
    if (k < 0 || k >= c->n_in || !c->in[k] || cv_shape_numel(&c->in[k]->shape) == 0)
        return NULL;
    return c->in[k];
}

/* Scale and output size of every axis, for this input shape. */
static cv_status rs_geometry(const cv_op_ctx *c, double *scale, int64_t *out, cv_error *err)
{
    const rs_params *p = c->params;
    const cv_shape *xs = &c->in[0]->shape;
    int r = xs->ndim;
    char b[160];
    if (r < 1)
        return cv_fail(err, CV_ERR_SHAPE, "cannot resize a scalar");
    /* which axes the scales/sizes entries refer to */
    int ax[CV_MAX_DIMS], na = p->n_axes ? p->n_axes : r;
    for (int k = 0; k < na; k++) {
        ax[k] = p->n_axes ? cv_norm_axis(p->axes[k], r) : k;
        if (ax[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "axes entry %lld is out of range for input %s", (long long)p->axes[k],
                           cv_shape_str(xs, b, sizeof b));
        for (int j = 0; j < k; j++)
            if (ax[j] == ax[k])
                return cv_fail(err, CV_ERR_INVALID, "axis %d appears twice in 'axes'", ax[k]);
    }
    for (int k = 0; k < r; k++) {
        scale[k] = 1.0;
        out[k] = xs->d[k];
    }
    const cv_tensor *sc = rs_input(c, p->scales_in), *sz = rs_input(c, p->sizes_in);
    if (sc && sz)
        return cv_fail(err, CV_ERR_INVALID, "give either 'scales' or 'sizes', not both");
    if (sz) {
        if (c->in_static && !c->in_static[p->sizes_in])
            return cv_fail(err, CV_ERR_UNSUPPORTED, "input 'sizes' must be constant");
        if (sz->dtype != CV_I64 || sz->shape.ndim != 1 || sz->shape.d[0] != na)
            return cv_fail(err, CV_ERR_INVALID, "input 'sizes' must be a 1-D int64 tensor of %d entries for input %s", na,
                           cv_shape_str(xs, b, sizeof b));
        double lo = INFINITY, hi = 0;
        for (int k = 0; k < na; k++) {
            int64_t in = xs->d[ax[k]], o = sz->i[k];
            if (o < 0 || o > ((int64_t)1 << 31))
                return cv_fail(err, CV_ERR_INVALID, "sizes entry %d is %lld", k, (long long)o);
            if (in == 0)
                return cv_fail(err, CV_ERR_SHAPE, "cannot resize the empty axis %d of %s", ax[k],
                               cv_shape_str(xs, b, sizeof b));
            scale[ax[k]] = (double)o / (double)in;
            out[ax[k]] = o;
            lo = scale[ax[k]] < lo ? scale[ax[k]] : lo;
            hi = scale[ax[k]] > hi ? scale[ax[k]] : hi;
        }
        if (p->policy != RS_STRETCH) /* one scale for all the axes, keeping the aspect ratio */
            for (int k = 0; k < na; k++) {
                double s = p->policy == RS_NOT_LARGER ? lo : hi;
                scale[ax[k]] = s;
                out[ax[k]] = (int64_t)floor(s * (double)xs->d[ax[k]] + 0.5);
            }
    } else {
        const float *sv = NULL;
        int ns = 0;
        if (sc) {
            if (c->in_static && !c->in_static[p->scales_in])
                return cv_fail(err, CV_ERR_UNSUPPORTED, "input 'scales' must be constant");
            if (sc->dtype != CV_F32 || sc->shape.ndim != 1)
                return cv_fail(err, CV_ERR_INVALID, "input 'scales' must be a 1-D float tensor");
            sv = sc->f;
            ns = (int)sc->shape.d[0];
        } else if (p->n_attr_scales) {
            sv = p->attr_scales;
            ns = p->n_attr_scales;
        } else {
            return cv_fail(err, CV_ERR_INVALID, "neither 'scales' nor 'sizes' is given");
        }
        if (ns != na)
            return cv_fail(err, CV_ERR_INVALID, "'scales' has %d entries for input %s (expected %d)", ns,
                           cv_shape_str(xs, b, sizeof b), na);
        for (int k = 0; k < na; k++) {
            if (!(sv[k] > 0.0f) || !isfinite(sv[k]))
                return cv_fail(err, CV_ERR_INVALID, "scales entry %d is %g, expected a positive number", k, sv[k]);
            double o = floor((double)sv[k] * (double)xs->d[ax[k]]);
            if (o > (double)((int64_t)1 << 31))
                return cv_fail(err, CV_ERR_LIMIT, "scales entry %d (%g) makes axis %d too long", k, sv[k], ax[k]);
            scale[ax[k]] = sv[k];
            out[ax[k]] = (int64_t)o;
        }
    }
    /* what we cannot do */
    for (int k = 0; k < r; k++) {
        bool identity = out[k] == xs->d[k] && scale[k] == 1.0;
        if (p->mode == RS_LINEAR && !identity && k < r - 2)
            return cv_fail(err, CV_ERR_UNSUPPORTED,
                           "linear resize of axis %d of %s: only the last two axes (H, W) can be resized linearly", k,
                           cv_shape_str(xs, b, sizeof b));
        if (p->mode == RS_LINEAR && p->antialias && scale[k] < 1.0)
            return cv_fail(err, CV_ERR_UNSUPPORTED, "antialias = 1 when downscaling is not supported");
        if (out[k] > 0 && xs->d[k] == 0)
            return cv_fail(err, CV_ERR_SHAPE, "cannot resize the empty axis %d of %s", k, cv_shape_str(xs, b, sizeof b));
    }
    return CV_OK;
}

/* Input coordinate of output index x along an axis. */
static double rs_source(const rs_params *p, int64_t x, double scale, int64_t in, int64_t out)
{
    double xd = (double)x;
    switch (p->coord) {
    case RS_HALF_PIXEL: return (xd + 0.5) / scale - 0.5;
    case RS_PYTORCH_HALF_PIXEL: return out > 1 ? (xd + 0.5) / scale - 0.5 : -0.5;
    case RS_ALIGN_CORNERS: return out > 1 ? xd * (double)(in - 1) / (scale * (double)in - 1.0) : 0.0;
    case RS_ASYMMETRIC: return xd / scale;
    default: return (xd + 0.5) / scale; /* tf_half_pixel_for_nn */
    }
}

static inline int64_t rs_clamp(int64_t i, int64_t in) { return i < 0 ? 0 : i >= in ? in - 1 : i; }

/* taps[0 .. out) for one axis. */
static void rs_taps(const rs_params *p, rs_tap *taps, double scale, int64_t in, int64_t out)
{
    bool identity = out == in && scale == 1.0;
    for (int64_t x = 0; x < out; x++) {
        rs_tap *t = &taps[x];
        if (identity) {
            *t = (rs_tap){x, x, 1.0f, 0.0f};
            continue;
        }
        double s = rs_source(p, x, scale, in, out), f = floor(s), frac = s - f;
        int64_t i;
        if (p->mode == RS_LINEAR) {
            t->i0 = rs_clamp((int64_t)f, in);
            t->i1 = rs_clamp((int64_t)f + 1, in);
            t->w1 = (float)frac;
            t->w0 = (float)(1.0 - frac);
            continue;
        }
        if (frac == 0.0)
            i = (int64_t)f;
        else
            switch (p->round) {
            case RS_ROUND_PREFER_FLOOR: i = (int64_t)f + (frac > 0.5); break;
            case RS_ROUND_PREFER_CEIL: i = (int64_t)f + (frac >= 0.5); break;
            case RS_FLOOR: i = (int64_t)f; break;
            default: i = (int64_t)f + 1; break;
            }
        *t = (rs_tap){rs_clamp(i, in), 0, 1.0f, 0.0f};
    }
}

static cv_status rs_infer(cv_op_ctx *c, cv_error *err)
{
    if (c->in[0]->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 input X");
    double scale[CV_MAX_DIMS];
    int64_t out[CV_MAX_DIMS];
    cv_status st = rs_geometry(c, scale, out, err);
    if (st != CV_OK)
        return st;
    cv_shape ys = c->in[0]->shape;
    size_t taps = 0;
    for (int k = 0; k < ys.ndim; k++) {
        ys.d[k] = out[k];
        taps += (size_t)out[k];
    }
    c->out[0]->dtype = CV_F32;
    c->out[0]->shape = ys;
    c->scratch_floats = (taps + 1) * (sizeof(rs_tap) / sizeof(float) + 1);
    return CV_OK;
}

/* The tap tables of every axis, laid out one after the other in scratch
 * (malloc'd memory: suitably aligned for rs_tap). tab[k] -> axis k. */
static void rs_tables(const cv_op_ctx *c, rs_tap **tab)
{
    const rs_params *p = c->params;
    double scale[CV_MAX_DIMS];
    int64_t out[CV_MAX_DIMS];
    rs_geometry(c, scale, out, NULL); /* infer accepted it */
    rs_tap *t = (rs_tap *)(void *)c->scratch;
    for (int k = 0; k < c->in[0]->shape.ndim; k++) {
        tab[k] = t;
        rs_taps(p, t, scale[k], c->in[0]->shape.d[k], out[k]);
        t += out[k];
    }
}

/* ---- linear: planes x (H, W) ------------------------------------------------------ */

/* x (planes, H, W) -> y (planes, OH, OW); th/tw: the taps of H and W
 * (rank-1 tensors have H = 1 and an identity th). */
static void rs_linear_forward(float *y, const float *x, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                              const rs_tap *th, const rs_tap *tw)
{
#pragma omp parallel for if (planes * oh * ow > 32768) schedule(static)
    for (int64_t q = 0; q < planes; q++) {
        const float *xp = x + q * h * w;
        float *yp = y + q * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            const rs_tap a = th[oy];
            const float *r0 = xp + a.i0 * w, *r1 = xp + a.i1 * w;
            float *yr = yp + oy * ow;
            for (int64_t ox = 0; ox < ow; ox++) {
                const rs_tap b = tw[ox];
                yr[ox] = a.w0 * (b.w0 * r0[b.i0] + b.w1 * r0[b.i1]) + a.w1 * (b.w0 * r1[b.i0] + b.w1 * r1[b.i1]);
            }
        }
    }
}

static void rs_linear_backward(float *dx, const float *dy, int64_t planes, int64_t h, int64_t w, int64_t oh,
                               int64_t ow, const rs_tap *th, const rs_tap *tw)
{
#pragma omp parallel for if (planes * oh * ow > 32768) schedule(static)
    for (int64_t q = 0; q < planes; q++) { /* each plane owns its part of dx */
        float *dp = dx + q * h * w;
        const float *gp = dy + q * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            const rs_tap a = th[oy];
            float *r0 = dp + a.i0 * w, *r1 = dp + a.i1 * w;
            const float *gr = gp + oy * ow;
            for (int64_t ox = 0; ox < ow; ox++) {
                const rs_tap b = tw[ox];
                float g0 = a.w0 * gr[ox], g1 = a.w1 * gr[ox];
                r0[b.i0] += b.w0 * g0;
                r0[b.i1] += b.w1 * g0;
                r1[b.i0] += b.w0 * g1;
                r1[b.i1] += b.w1 * g1;
            }
        }
    }
}

/* ---- nearest: any axes ---------------------------------------------------------------- */

/* Offset in x of the first element of output row r (rows of the last axis). */
static int64_t rs_nearest_row(const cv_shape *xs, const cv_shape *ys, rs_tap *const *tab, int64_t r)
{
    int64_t off = 0, stride = xs->d[xs->ndim - 1];
    for (int k = ys->ndim - 2; k >= 0; k--) {
        int64_t i = r % ys->d[k];
        r /= ys->d[k];
        off += tab[k][i].i0 * stride;
        stride *= xs->d[k];
    }
    return off;
}

static void rs_forward(cv_op_ctx *c)
{
    const rs_params *p = c->params;
    const cv_tensor *xt = c->in[0];
    cv_tensor *yt = c->out[0];
    const cv_shape *xs = &xt->shape, *ys = &yt->shape;
    if (cv_shape_numel(ys) == 0)
        return;
    rs_tap *tab[CV_MAX_DIMS];
    rs_tables(c, tab);
    int r = xs->ndim;
    int64_t w = xs->d[r - 1], ow = ys->d[r - 1];
    if (p->mode == RS_LINEAR) {
        int64_t h = r >= 2 ? xs->d[r - 2] : 1, oh = r >= 2 ? ys->d[r - 2] : 1;
        rs_tap one = {0, 0, 1.0f, 0.0f};
        rs_linear_forward(yt->f, xt->f, (int64_t)(cv_shape_numel(xs) / (size_t)(h * w)), h, w, oh, ow,
                          r >= 2 ? tab[r - 2] : &one, tab[r - 1]);
        return;
    }
    int64_t rows = (int64_t)(cv_shape_numel(ys) / (size_t)ow);
    const rs_tap *tw = tab[r - 1];
#pragma omp parallel for if (rows * ow > 32768) schedule(static)
    for (int64_t q = 0; q < rows; q++) {
        const float *xr = xt->f + rs_nearest_row(xs, ys, tab, q);
        float *yr = yt->f + q * ow;
        for (int64_t ox = 0; ox < ow; ox++)
            yr[ox] = xr[tw[ox].i0];
    }
}

static void rs_backward(cv_op_ctx *c)
{
    const rs_params *p = c->params;
    const cv_tensor *xt = c->in[0], *yt = c->out[0];
    if (!xt->grad || cv_shape_numel(&yt->shape) == 0)
        return;
    const cv_shape *xs = &xt->shape, *ys = &yt->shape;
    rs_tap *tab[CV_MAX_DIMS];
    rs_tables(c, tab);
    int r = xs->ndim;
    int64_t w = xs->d[r - 1], ow = ys->d[r - 1];
    if (p->mode == RS_LINEAR) {
        int64_t h = r >= 2 ? xs->d[r - 2] : 1, oh = r >= 2 ? ys->d[r - 2] : 1;
        rs_tap one = {0, 0, 1.0f, 0.0f};
        rs_linear_backward(xt->grad, yt->grad, (int64_t)(cv_shape_numel(xs) / (size_t)(h * w)), h, w, oh, ow,
                           r >= 2 ? tab[r - 2] : &one, tab[r - 1]);
        return;
    }
    /* Serial: output rows of different planes may read the same input row
     * (downsampling along a leading axis). */
    int64_t rows = (int64_t)(cv_shape_numel(ys) / (size_t)ow);
    const rs_tap *tw = tab[r - 1];
    for (int64_t q = 0; q < rows; q++) {
        float *dr = xt->grad + rs_nearest_row(xs, ys, tab, q);
        const float *gr = yt->grad + q * ow;
        for (int64_t ox = 0; ox < ow; ox++)
            dr[tw[ox].i0] += gr[ox];
    }
}

static const cv_op_def resize = {
    .type = "Resize", .init = rs_init, .infer = rs_infer, .forward = rs_forward, .backward = rs_backward,
    .spatial = CV_SPATIAL_WHOLE,
};
static const cv_op_def upsample = {
    .type = "Upsample", .init = rs_init, .infer = rs_infer, .forward = rs_forward, .backward = rs_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_resize[] = {&resize, &upsample, NULL};
