/* Pooling (ONNX): MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool.
 *
 *   x (N, C, IH, IW) -> y (N, C, OH, OW); 1-D pools run as 2-D with height 1.
 *   MaxPool:     y = max over the window's taps inside x (padding never wins);
 *                optional Indices output: the flat index of that tap in x.
 *   AveragePool: y = sum over the taps inside x / count, where count is the
 *                number of taps inside x, or with count_include_pad the
 *                number inside the padded input (x plus pads; a ceil_mode
 *                window may reach past even that, and those taps never count).
 *   Global*:     one window covering all spatial positions, any rank >= 3.
 * Backward: MaxPool routes dy to the argmax, recomputed from x (ties go to
 * the first tap in row-major window order, as forward picks it);
 * AveragePool spreads dy / count over the taps inside x.
 * All loops run one channel plane per OpenMP iteration, so backward's
 * scatter never has two threads adding into one pixel.
 */
/* no trapping math: lets GCC vectorize the NaN-keeping max selects below
 * as blends (with it, a select stays a branch, and the loop scalar);
 * nothing here enables floating-point exceptions. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "../core/cpu.h"
#include "../core/graph.h"
#include "window.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cv_window_attrs win;
    int count_include_pad;  /* AveragePool */
    int storage_order;      /* MaxPool Indices: 0 row-major, 1 column-major */
    bool is_max;
} pool_params;

/* Work per plane above which the plane loop goes parallel. */
#define POOL_OMP_MIN 32768

static cv_status pool_init_common(cv_node *node, bool is_max, cv_error *err)
{
    pool_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    node->params = p;
    p->is_max = is_max;
    /* AveragePool has dilations only from opset 19, but they cost nothing here. */
    cv_status st = cv_window_parse(node, &p->win, true, true, true, err);
    if (st != CV_OK)
        return st;
    if (node->n_in != 1 || node->in[0] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects one input, got %d", node->n_in);
    if (is_max) {
        int64_t so = cv_attr_int(node, "storage_order", 0);
        if (so != 0 && so != 1)
            return cv_fail(err, CV_ERR_INVALID, "attribute 'storage_order' = %lld, expected 0 or 1", (long long)so);
        p->storage_order = (int)so;
        if (node->n_out > 2)
            return cv_fail(err, CV_ERR_INVALID, "expects at most 2 outputs (Y, Indices), got %d", node->n_out);
    } else {
        int64_t cip = cv_attr_int(node, "count_include_pad", 0);
        if (cip != 0 && cip != 1)
            return cv_fail(err, CV_ERR_INVALID, "attribute 'count_include_pad' = %lld, expected 0 or 1", (long long)cip);
        p->count_include_pad = (int)cip;
        if (node->n_out != 1)
            return cv_fail(err, CV_ERR_INVALID, "expects one output, got %d", node->n_out);
    }
    return CV_OK;
}

static cv_status maxpool_init(cv_node *node, const cv_model *m, cv_error *err)
{
    return pool_init_common(node, true, err);
}

static cv_status avgpool_init(cv_node *node, const cv_model *m, cv_error *err)
{
    return pool_init_common(node, false, err);
}

/* true when some output window along one axis has no tap inside the input. */
static bool axis_has_empty_window(int64_t o, int64_t s, int64_t pb, int64_t k, int64_t d, int64_t in)
{
    for (int64_t i = 0; i < o; i++) {
        int64_t t0, t1;
        cv_window_taps(cv_window_start(i, s, pb), k, d, 0, in, &t0, &t1);
        if (t0 >= t1)
            return true;
    }
    return false;
}

static cv_status pool_infer(cv_op_ctx *c, cv_error *err)
{
    const pool_params *p = c->params;
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 input");
    cv_window w;
    cv_window_attrs win = c->unpadded ? cv_window_unpadded(&p->win) : p->win;
    cv_status st = cv_window_resolve(&win, &x->shape, NULL, &w, err);
    if (st != CV_OK)
        return st;
    /* A window entirely in the padding has no maximum, and no average
     * unless padding counts: refuse rather than invent a value. */
    if ((p->is_max || !p->count_include_pad) &&
        (axis_has_empty_window(w.oh, w.sh, w.pt, w.kh, w.dh, w.ih) ||
         axis_has_empty_window(w.ow, w.sw, w.pl, w.kw, w.dw, w.iw))) {
        char xs[160];
        return cv_fail(err, CV_ERR_UNSUPPORTED, "input %s: pads so large that some windows see no input",
                       cv_shape_str(&x->shape, xs, sizeof xs));
    }
    cv_tensor *y = c->out[0];
    y->dtype = CV_F32;
    y->shape = x->shape;
    if (y->shape.ndim == 4)
        y->shape.d[2] = w.oh;
    y->shape.d[y->shape.ndim - 1] = w.ow;
    if (c->n_out > 1 && c->out[1]) {
        c->out[1]->dtype = CV_I64;
        c->out[1]->shape = y->shape;
    }
    return CV_OK;
}

/* Resolve again at run time (infer accepted these shapes). */
static void pool_geometry(const cv_op_ctx *c, cv_window *w, int64_t *planes)
{
    const pool_params *p = c->params;
    cv_window_attrs win = c->unpadded ? cv_window_unpadded(&p->win) : p->win;
    cv_window_resolve(&win, &c->in[0]->shape, NULL, w, NULL);
    *planes = c->in[0]->shape.d[0] * c->in[0]->shape.d[1];
}

/* The argmax tap of output (oy, ox) in plane xp (IH, IW), as an offset
 * into the plane; first maximum in row-major window order, NaN wins. */
static inline int64_t max_tap(const float *xp, const cv_window *w, int64_t oy, int64_t ox)
{
    int64_t iy0 = cv_window_start(oy, w->sh, w->pt), ix0 = cv_window_start(ox, w->sw, w->pl);
    int64_t ki0, ki1, kj0, kj1;
    cv_window_taps(iy0, w->kh, w->dh, 0, w->ih, &ki0, &ki1);
    cv_window_taps(ix0, w->kw, w->dw, 0, w->iw, &kj0, &kj1);
    int64_t best_at = (iy0 + ki0 * w->dh) * w->iw + ix0 + kj0 * w->dw;
    float best = xp[best_at];
    for (int64_t ki = ki0; ki < ki1; ki++) {
        const float *row = xp + (iy0 + ki * w->dh) * w->iw + ix0;
        for (int64_t kj = kj0; kj < kj1; kj++) {
            float v = row[kj * w->dw];
            if (v > best || (v != v && best == best)) {
                best = v;
                best_at = row + kj * w->dw - xp;
            }
        }
    }
    return best_at;
}

/* Outputs ox in [*a, *b) have all their column taps inside x. */
static void pool_inner_columns(const cv_window *w, int64_t *a, int64_t *b)
{
    *a = w->pl > 0 ? (w->pl + w->sw - 1) / w->sw : 0;
    *b = w->ow;
    while (*b > *a && (*b - 1) * w->sw - w->pl + (w->kw - 1) * w->dw >= w->iw)
        (*b)--;
    if (*a > *b)
        *a = *b;
}

/* max_tap for a window wholly inside x (top-left tap at win) whose
 * maximum y the forward computed: the first tap equal to it (the first
 * NaN when y is NaN), which is the scan's first maximum. One exit per
 * window instead of a branch per tap on the data, and no clipping. */
static inline int64_t max_tap_inner(const float *xp, const float *win, const cv_window *w, float y)
{
    bool nan = y != y;
    for (int64_t ki = 0; ki < w->kh; ki++)
        for (int64_t kj = 0; kj < w->kw; kj++) {
            const float *v = win + ki * w->dh * w->iw + kj * w->dw;
            if (*v == y || (nan && *v != *v))
                return v - xp;
        }
    return win - xp; /* not reached: y is one of the taps */
}

/* max that keeps a NaN, as the scans here do */
static inline float max_nan(float a, float b) { return a > b || a != a ? a : b; }

/* yr[o] = max over the window of the output columns o in [a, b), whose
 * taps all lie inside x, for a window row range that does too: a pass per
 * tap over the row, each a loop the compiler vectorizes (stride 1 and 2
 * spelled out so that it sees the stride). Kept for windows wider than
 * max_row_inner's buffer. */
static void max_row_taps(float *yr, const float *xp, const cv_window *w, int64_t iy0, int64_t a, int64_t b)
{
    for (int64_t ki = 0; ki < w->kh; ki++)
        for (int64_t kj = 0; kj < w->kw; kj++) {
            const float *xs = xp + (iy0 + ki * w->dh) * w->iw - w->pl + kj * w->dw;
            bool first = ki == 0 && kj == 0;
            if (w->sw == 1)
                for (int64_t o = a; o < b; o++)
                    yr[o] = first ? xs[o] : max_nan(xs[o], yr[o]);
            else if (w->sw == 2)
                for (int64_t o = a; o < b; o++)
                    yr[o] = first ? xs[2 * o] : max_nan(xs[2 * o], yr[o]);
            else
                for (int64_t o = a; o < b; o++)
                    yr[o] = first ? xs[o * w->sw] : max_nan(xs[o * w->sw], yr[o]);
        }
}

/* Columns of max_row_inner's buffer of column maxima (16 KiB: L1). */
#define POOL_VBUF 4096

/* vr[i] = max over the window's rows of input column c0 + i, i < n
 * (rows in window order, so ties and NaNs resolve as in max_row_taps). */
static void max_rows_vertical(float *vr, const float *xp, const cv_window *w, int64_t iy0, int64_t c0, int64_t n)
{
    const float *r0 = xp + iy0 * w->iw + c0;
    int64_t step = w->dh * w->iw, ki = 1;
    if (w->kh >= 3) { /* the common 3 rows in one pass: one store per column */
        const float *r1 = r0 + step, *r2 = r1 + step;
        for (int64_t i = 0; i < n; i++)
            vr[i] = max_nan(r2[i], max_nan(r1[i], r0[i]));
        ki = 3;
    } else {
        memcpy(vr, r0, (size_t)n * sizeof *vr);
    }
    for (; ki < w->kh; ki++) {
        const float *r = r0 + ki * step;
        for (int64_t i = 0; i < n; i++)
            vr[i] = max_nan(r[i], vr[i]);
    }
}

/* max_row_taps' result, computed as the max over the window's rows of
 * each input column (contiguous loads), then over each window's columns
 * of those (strided loads over a row in L1): 2 passes instead of kh * kw
 * strided ones. ResNet18's 3x3 stride-2 MaxPool on [16, 64, 112, 112]:
 * 4.95 ms -> 2.50 ms (AVX-512, 2 threads; about 26 GB/s of memory
 * traffic). Ties and NaNs: every max keeps the earlier tap unless the
 * later one is greater or NaN, as before; only which of +0 and -0 wins a
 * tie may differ (backward's argmax compares by ==, so it is unchanged). */
static void max_row_inner(float *yr, const float *xp, const cv_window *w, int64_t iy0, int64_t a, int64_t b)
{
    int64_t span = (w->kw - 1) * w->dw + 1; /* input columns of one window */
    if (span > POOL_VBUF) {
        max_row_taps(yr, xp, w, iy0, a, b);
        return;
    }
    float vr[POOL_VBUF];
    int64_t chunk = (POOL_VBUF - span) / w->sw + 1; /* outputs per buffer */
    for (int64_t o0 = a; o0 < b; o0 += chunk) {
        int64_t o1 = o0 + chunk < b ? o0 + chunk : b;
        int64_t c0 = o0 * w->sw - w->pl, n = (o1 - 1 - o0) * w->sw + span;
        max_rows_vertical(vr, xp, w, iy0, c0, n);
        for (int64_t kj = 0; kj < w->kw; kj++) {
            const float *vs = vr + kj * w->dw - o0 * w->sw; /* vs[o * sw]: tap kj of output o */
            if (w->sw == 1)
                for (int64_t o = o0; o < o1; o++)
                    yr[o] = kj == 0 ? vs[o] : max_nan(vs[o], yr[o]);
            else if (w->sw == 2)
                for (int64_t o = o0; o < o1; o++)
                    yr[o] = kj == 0 ? vs[2 * o] : max_nan(vs[2 * o], yr[o]);
            else
                for (int64_t o = o0; o < o1; o++)
                    yr[o] = kj == 0 ? vs[o * w->sw] : max_nan(vs[o * w->sw], yr[o]);
        }
    }
}

/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, maxpool_forward, (cv_op_ctx *c));

void CV_ISA_NAME(maxpool_forward)(cv_op_ctx *c)
{
    const pool_params *p = c->params;
    cv_window w;
    int64_t planes;
    pool_geometry(c, &w, &planes);
    const float *x = c->in[0]->f;                       /* (planes, IH, IW) */
    float *y = c->out[0]->f;                            /* (planes, OH, OW) */
    int64_t *idx = c->n_out > 1 && c->out[1] ? c->out[1]->i : NULL;
    int64_t in_plane = w.ih * w.iw, out_plane = w.oh * w.ow;
    int64_t ox_a, ox_b;
    pool_inner_columns(&w, &ox_a, &ox_b);
#pragma omp parallel for schedule(static) if (planes * out_plane * w.kh * w.kw >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++) {
        const float *xp = x + q * in_plane;
        float *yp = y + q * out_plane;
        for (int64_t oy = 0; oy < w.oh; oy++) {
            int64_t iy0 = cv_window_start(oy, w.sh, w.pt), ki0, ki1;
            cv_window_taps(iy0, w.kh, w.dh, 0, w.ih, &ki0, &ki1);
            bool full_rows = ki0 == 0 && ki1 == w.kh && !idx;
            if (full_rows && ox_a < ox_b)
                max_row_inner(yp + oy * w.ow, xp, &w, iy0, ox_a, ox_b);
            for (int64_t ox = 0; ox < w.ow; ox++) {
                if (full_rows && ox == ox_a && ox_a < ox_b) {
                    ox = ox_b - 1; /* done by max_row_inner */
                    continue;
                }
                int64_t at = max_tap(xp, &w, oy, ox);
                yp[oy * w.ow + ox] = xp[at];
                if (idx) {
                    int64_t h = at / w.iw, col = at % w.iw;
                    idx[q * out_plane + oy * w.ow + ox] =
                        q * in_plane + (p->storage_order ? h + col * w.ih : at);
                }
            }
        }
    }
}

static void maxpool_forward(cv_op_ctx *c)
{
    CV_ISA_CALL(maxpool_forward, (c));
}

static void maxpool_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    cv_window w;
    int64_t planes;
    pool_geometry(c, &w, &planes);
    const float *x = c->in[0]->f;                       /* (planes, IH, IW) */
    const float *dy = c->out[0]->grad;                  /* (planes, OH, OW) */
    const float *y = c->out[0]->f;                      /* kept: runs with gradients keep activations */
    float *dx = c->in[0]->grad;                         /* (planes, IH, IW) */
    int64_t in_plane = w.ih * w.iw, out_plane = w.oh * w.ow, ox_a, ox_b;
    pool_inner_columns(&w, &ox_a, &ox_b);
#pragma omp parallel for schedule(static) if (planes * out_plane * w.kh * w.kw >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++) {
        const float *xp = x + q * in_plane, *dyp = dy + q * out_plane, *yp = y + q * out_plane;
        float *dxp = dx + q * in_plane;
        for (int64_t oy = 0; oy < w.oh; oy++) {
            int64_t iy0 = cv_window_start(oy, w.sh, w.pt), ki0, ki1;
            cv_window_taps(iy0, w.kh, w.dh, 0, w.ih, &ki0, &ki1);
            bool full_rows = ki0 == 0 && ki1 == w.kh;
            for (int64_t ox = 0; ox < w.ow; ox++) {
                bool inner = full_rows && ox >= ox_a && ox < ox_b;
                int64_t at = inner ? max_tap_inner(xp, xp + iy0 * w.iw + ox * w.sw - w.pl, &w, yp[oy * w.ow + ox])
                                   : max_tap(xp, &w, oy, ox);
                dxp[at] += dyp[oy * w.ow + ox];
            }
        }
    }
}

/* Taps of output (oy, ox) inside x, and the divisor for the average. */
static inline void avg_window(const cv_window *w, bool include_pad, int64_t oy, int64_t ox, int64_t *ki0,
                              int64_t *ki1, int64_t *kj0, int64_t *kj1, float *count)
{
    int64_t iy0 = cv_window_start(oy, w->sh, w->pt), ix0 = cv_window_start(ox, w->sw, w->pl);
    cv_window_taps(iy0, w->kh, w->dh, 0, w->ih, ki0, ki1);
    cv_window_taps(ix0, w->kw, w->dw, 0, w->iw, kj0, kj1);
    if (include_pad) {
        int64_t a0, a1, b0, b1;
        cv_window_taps(iy0, w->kh, w->dh, -w->pt, w->ih + w->pb, &a0, &a1);
        cv_window_taps(ix0, w->kw, w->dw, -w->pl, w->iw + w->pr, &b0, &b1);
        *count = (float)((a1 - a0) * (b1 - b0));
    } else {
        *count = (float)((*ki1 - *ki0) * (*kj1 - *kj0));
    }
}

static void avgpool_forward(cv_op_ctx *c)
{
    const pool_params *p = c->params;
    cv_window w;
    int64_t planes;
    pool_geometry(c, &w, &planes);
    const float *x = c->in[0]->f;                       /* (planes, IH, IW) */
    float *y = c->out[0]->f;                            /* (planes, OH, OW) */
    int64_t in_plane = w.ih * w.iw, out_plane = w.oh * w.ow;
    bool cip = p->count_include_pad;
#pragma omp parallel for schedule(static) if (planes * out_plane * w.kh * w.kw >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++) {
        const float *xp = x + q * in_plane;
        float *yp = y + q * out_plane;
        for (int64_t oy = 0; oy < w.oh; oy++)
            for (int64_t ox = 0; ox < w.ow; ox++) {
                int64_t ki0, ki1, kj0, kj1;
                float count;
                avg_window(&w, cip, oy, ox, &ki0, &ki1, &kj0, &kj1, &count);
                int64_t iy0 = cv_window_start(oy, w.sh, w.pt), ix0 = cv_window_start(ox, w.sw, w.pl);
                float s = 0.0f;
                for (int64_t ki = ki0; ki < ki1; ki++) {
                    const float *row = xp + (iy0 + ki * w.dh) * w.iw + ix0;
                    for (int64_t kj = kj0; kj < kj1; kj++)
                        s += row[kj * w.dw];
                }
                yp[oy * w.ow + ox] = count > 0 ? s / count : 0.0f;
            }
    }
}

static void avgpool_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const pool_params *p = c->params;
    cv_window w;
    int64_t planes;
    pool_geometry(c, &w, &planes);
    const float *dy = c->out[0]->grad;                  /* (planes, OH, OW) */
    float *dx = c->in[0]->grad;                         /* (planes, IH, IW) */
    int64_t in_plane = w.ih * w.iw, out_plane = w.oh * w.ow;
    bool cip = p->count_include_pad;
#pragma omp parallel for schedule(static) if (planes * out_plane * w.kh * w.kw >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++) {
        const float *dyp = dy + q * out_plane;
        float *dxp = dx + q * in_plane;
        for (int64_t oy = 0; oy < w.oh; oy++)
            for (int64_t ox = 0; ox < w.ow; ox++) {
                int64_t ki0, ki1, kj0, kj1;
                float count;
                avg_window(&w, cip, oy, ox, &ki0, &ki1, &kj0, &kj1, &count);
                if (count <= 0)
                    continue;
                int64_t iy0 = cv_window_start(oy, w.sh, w.pt), ix0 = cv_window_start(ox, w.sw, w.pl);
                float g = dyp[oy * w.ow + ox] / count;
                for (int64_t ki = ki0; ki < ki1; ki++) {
                    float *row = dxp + (iy0 + ki * w.dh) * w.iw + ix0;
                    for (int64_t kj = kj0; kj < kj1; kj++)
                        row[kj * w.dw] += g;
                }
            }
    }
}

/* ---- GlobalMaxPool, GlobalAveragePool ------------------------------------ */

static cv_status global_init(cv_node *node, const cv_model *m, cv_error *err)
{
    if (node->n_in != 1 || node->in[0] < 0 || node->n_out != 1)
        return cv_fail(err, CV_ERR_INVALID, "expects one input and one output");
    return CV_OK;
}

static cv_status global_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0];
    char xs[160];
    if (x->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 input");
    if (x->shape.ndim < 3)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: expected (N, C, spatial...)", cv_shape_str(&x->shape, xs, sizeof xs));
    for (int d = 2; d < x->shape.ndim; d++)
        if (x->shape.d[d] < 1)
            return cv_fail(err, CV_ERR_SHAPE, "input %s has an empty spatial axis", cv_shape_str(&x->shape, xs, sizeof xs));
    cv_tensor *y = c->out[0];
    y->dtype = CV_F32;
    y->shape = x->shape;
    for (int d = 2; d < y->shape.ndim; d++)
        y->shape.d[d] = 1;
    return CV_OK;
}

/* planes (N*C) and the spatial size of one plane. */
static void global_sizes(const cv_op_ctx *c, int64_t *planes, int64_t *size)
{
    const cv_shape *s = &c->in[0]->shape;
    *planes = s->d[0] * s->d[1];
    *size = 1;
    for (int d = 2; d < s->ndim; d++)
        *size *= s->d[d];
}

static inline int64_t global_argmax(const float *xp, int64_t size)
{
    int64_t at = 0;
    for (int64_t k = 1; k < size; k++)
        if (xp[k] > xp[at] || (xp[k] != xp[k] && xp[at] == xp[at]))
            at = k;
    return at;
}

static void globalmax_forward(cv_op_ctx *c)
{
    int64_t planes, size;
    global_sizes(c, &planes, &size);
    const float *x = c->in[0]->f;                       /* (planes, size) */
    float *y = c->out[0]->f;                            /* (planes) */
#pragma omp parallel for schedule(static) if (planes * size >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++)
        y[q] = x[q * size + global_argmax(x + q * size, size)];
}

static void globalmax_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    int64_t planes, size;
    global_sizes(c, &planes, &size);
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
#pragma omp parallel for schedule(static) if (planes * size >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++)
        dx[q * size + global_argmax(x + q * size, size)] += dy[q];
}

/* sum of xp[0 .. n) in double (a 224x224 plane loses digits in a float
 * sum), in 8 or 16 independent accumulators, which the
 * compiler turns into vectors of doubles: one serial chain waited out the
 * add's latency on every element. Measured, AVX-512, 2 threads:
 * [1, 32, 112, 112] 0.164 ms serial, 0.023 with 8 lanes, 0.018 with 16;
 * [1, 1152, 7, 7] 0.0134 serial, 0.0125 with 8 lanes, 0.0153 with 16
 * (short planes pay for the wider tail and final reduction). */
#define SUM_DOUBLE_LANES(NAME, LANES)                                         \
    static inline double NAME(const float *xp, int64_t n)                     \
    {                                                                         \
        double acc[LANES] = {0};                                              \
        int64_t k = 0;                                                        \
        for (; k + LANES <= n; k += LANES)                                    \
            for (int j = 0; j < LANES; j++)                                   \
                acc[j] += xp[k + j];                                          \
        for (int j = 0; k < n; k++, j++)                                      \
            acc[j] += xp[k];                                                  \
        for (int w = LANES / 2; w > 0; w /= 2) /* pairwise: equal lengths */ \
            for (int j = 0; j < w; j++)                                       \
                acc[j] += acc[j + w];                                         \
        return acc[0];                                                        \
    }
SUM_DOUBLE_LANES(sum_double8, 8)
SUM_DOUBLE_LANES(sum_double16, 16)

static inline double sum_double(const float *xp, int64_t n)
{
    return n >= 256 ? sum_double16(xp, n) : sum_double8(xp, n);
}

/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, globalavg_forward, (cv_op_ctx *c));

void CV_ISA_NAME(globalavg_forward)(cv_op_ctx *c)
{
    int64_t planes, size;
    global_sizes(c, &planes, &size);
    const float *x = c->in[0]->f;                       /* (planes, size) */
    float *y = c->out[0]->f;                            /* (planes) */
#pragma omp parallel for schedule(static) if (planes * size >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++)
        y[q] = (float)(sum_double(x + q * size, size) / (double)size);
}

static void globalavg_forward(cv_op_ctx *c)
{
    CV_ISA_CALL(globalavg_forward, (c));
}

static void globalavg_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    int64_t planes, size;
    global_sizes(c, &planes, &size);
    const float *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
#pragma omp parallel for schedule(static) if (planes * size >= POOL_OMP_MIN)
    for (int64_t q = 0; q < planes; q++) {
        float g = dy[q] / (float)size, *dxp = dx + q * size;
        for (int64_t k = 0; k < size; k++)
            dxp[k] += g;
    }
}

/* A max pool recomputes exactly on an input window padded with -inf
 * (padding never wins). An average pool does on a zero-padded one only
 * where every window is whole: no pads, or pads that count (and no
 * ceil_mode, whose last windows are cut short). */
static bool pool_spatial_fit(const cv_op_ctx *c, cv_window *w, float *pad_value)
{
    const pool_params *p = c->params;
    if (cv_window_resolve(&p->win, &c->in[0]->shape, NULL, w, NULL) != CV_OK)
        return false;
    *pad_value = p->is_max ? -INFINITY : 0.0f;
    if (p->is_max)
        return true;
    bool pads = w->pt || w->pl || w->pb || w->pr;
    return (!pads || p->count_include_pad) && !p->win.ceil_mode;
}

static const cv_op_def maxpool = {
    .type = "MaxPool", .init = maxpool_init, .infer = pool_infer, .forward = maxpool_forward,
    .backward = maxpool_backward,
    .spatial = CV_SPATIAL_WINDOW, .spatial_fit = pool_spatial_fit,
};
static const cv_op_def avgpool = {
    .type = "AveragePool", .init = avgpool_init, .infer = pool_infer, .forward = avgpool_forward,
    .backward = avgpool_backward,
    .spatial = CV_SPATIAL_WINDOW, .spatial_fit = pool_spatial_fit,
};
static const cv_op_def globalmax = {
    .type = "GlobalMaxPool", .init = global_init, .infer = global_infer, .forward = globalmax_forward,
    .backward = globalmax_backward,
    .spatial = CV_SPATIAL_WHOLE,
};
static const cv_op_def globalavg = {
    .type = "GlobalAveragePool", .init = global_init, .infer = global_infer, .forward = globalavg_forward,
    .backward = globalavg_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_pool[] = {&maxpool, &avgpool, &globalmax, &globalavg, NULL};
