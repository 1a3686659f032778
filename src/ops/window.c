/* Sliding-window attributes (Conv, MaxPool, AveragePool): parsing and the
 * ONNX output-size rules. See window.h. */
#include "../core/cpu.h"
#include "window.h"
#include <string.h>

/* Larger kernels, strides, dilations or pads are surely a corrupt file; the
 * cap also keeps every product below in int64 range. */
#define WINDOW_MAX_ATTR ((int64_t)1 << 20)

static cv_status read_list(const cv_node *n, const char *name, int64_t *out, int max, int *count,
                           int64_t min_value, cv_error *err)
{
    int64_t tmp[8];
    int k = cv_attr_ints(n, name, tmp, 8);
    *count = k < 0 ? 0 : k;
    if (k < 0)
        return CV_OK;
    if (k > max)
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "attribute '%s' has %d entries: only 1-D and 2-D windows are supported", name, k);
    for (int i = 0; i < k; i++) {
        if (tmp[i] < min_value)
            return cv_fail(err, CV_ERR_INVALID, "attribute '%s' entry %d is %lld, expected >= %lld", name, i,
                           (long long)tmp[i], (long long)min_value);
        if (tmp[i] > WINDOW_MAX_ATTR)
            return cv_fail(err, CV_ERR_LIMIT, "attribute '%s' entry %d is %lld, above the limit %lld", name, i,
                           (long long)tmp[i], (long long)WINDOW_MAX_ATTR);
        out[i] = tmp[i];
    }
    return CV_OK;
}

cv_status cv_window_parse(const cv_node *n, cv_window_attrs *a, bool need_kernel, bool allow_dil,
                          bool allow_ceil, cv_error *err)
{
    memset(a, 0, sizeof *a);
    cv_status st;
    if ((st = read_list(n, "kernel_shape", a->kernel, 2, &a->n_kernel, 1, err)) != CV_OK ||
        (st = read_list(n, "strides", a->strides, 2, &a->n_strides, 1, err)) != CV_OK ||
        (st = read_list(n, "dilations", a->dil, 2, &a->n_dil, 1, err)) != CV_OK ||
        (st = read_list(n, "pads", a->pads, 4, &a->n_pads, 0, err)) != CV_OK)
        return st;
    if (need_kernel && a->n_kernel == 0)
        return cv_fail(err, CV_ERR_INVALID, "attribute 'kernel_shape' is required");
    if (a->n_dil && !allow_dil)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "attribute 'dilations' is not supported for this operator");
    /* All lists that are present must describe the same number of axes. */
    int nsp = a->n_kernel ? a->n_kernel : a->n_strides ? a->n_strides : a->n_dil ? a->n_dil : a->n_pads / 2;
    if ((a->n_kernel && a->n_kernel != nsp) || (a->n_strides && a->n_strides != nsp) ||
        (a->n_dil && a->n_dil != nsp) || (a->n_pads && a->n_pads != 2 * nsp))
        return cv_fail(err, CV_ERR_INVALID,
                       "window attributes disagree on the number of axes: kernel_shape %d, strides %d, "
                       "dilations %d, pads %d (expected twice the others)",
                       a->n_kernel, a->n_strides, a->n_dil, a->n_pads);

    const char *ap = cv_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == 0)
        a->auto_pad = CV_AUTO_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        a->auto_pad = CV_AUTO_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        a->auto_pad = CV_AUTO_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        a->auto_pad = CV_AUTO_PAD_VALID;
    else
        return cv_fail(err, CV_ERR_INVALID,
                       "attribute 'auto_pad' = '%s', expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap);
    if (a->auto_pad != CV_AUTO_PAD_NOTSET)
        for (int i = 0; i < a->n_pads; i++)
            if (a->pads[i] != 0)
                return cv_fail(err, CV_ERR_INVALID, "attribute 'pads' cannot be used together with auto_pad = '%s'", ap);

    int64_t cm = cv_attr_int(n, "ceil_mode", 0);
    if (cm != 0 && cm != 1)
        return cv_fail(err, CV_ERR_INVALID, "attribute 'ceil_mode' = %lld, expected 0 or 1", (long long)cm);
    if (cm && !allow_ceil)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "attribute 'ceil_mode' is not supported for this operator");
    a->ceil_mode = (int)cm;
    return CV_OK;
}

/* One axis: output size and the resolved pads. */
static cv_status resolve_axis(const cv_window_attrs *a, int64_t in, int64_t k, int64_t s, int64_t d,
                              int64_t pb, int64_t pe, int64_t *out, int64_t *pb_out, int64_t *pe_out,
                              const char *axis, const char *xs, cv_error *err)
{
    int64_t keff = (k - 1) * d + 1; /* extent of a dilated kernel */
    int64_t o;
    if (in < 1)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: %s is %lld", xs, axis, (long long)in);
    switch (a->auto_pad) {
    case CV_AUTO_PAD_SAME_UPPER:
    case CV_AUTO_PAD_SAME_LOWER: {
        o = (in + s - 1) / s;
        int64_t total = (o - 1) * s + keff - in;
        if (total < 0)
            total = 0;
        /* the odd pixel goes at the end for SAME_UPPER, at the start for SAME_LOWER */
        pb = a->auto_pad == CV_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        pe = total - pb;
        break;
    }
    case CV_AUTO_PAD_VALID:
        pb = pe = 0;
        if (in < keff)
            return cv_fail(err, CV_ERR_SHAPE, "input %s: %s %lld is smaller than the kernel extent %lld (auto_pad VALID)",
                           xs, axis, (long long)in, (long long)keff);
        o = (in - keff) / s + 1;
        break;
    default: {
        int64_t padded = in + pb + pe;
        if (padded < keff)
            return cv_fail(err, CV_ERR_SHAPE,
                           "input %s: %s %lld padded by %lld+%lld is smaller than the kernel extent %lld",
                           xs, axis, (long long)in, (long long)pb, (long long)pe, (long long)keff);
        if (a->ceil_mode) {
            o = (padded - keff + s - 1) / s + 1;
            /* a window that would start in the end padding is dropped */
            if ((o - 1) * s >= in + pb)
                o--;
        } else {
            o = (padded - keff) / s + 1;
        }
    }
    }
    *out = o;
    *pb_out = pb;
    *pe_out = pe;
    return CV_OK;
}

cv_status cv_window_resolve(const cv_window_attrs *a, const cv_shape *x, const int64_t *kernel,
                            cv_window *w, cv_error *err)
{
    char xs[160] = "";
    if (err) /* messages only; forward resolves again without them */
        cv_shape_str(x, xs, sizeof xs);
    if (x->ndim == 5)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "input %s: 3-D windows are not supported", xs);
    if (x->ndim < 3 || x->ndim > 4)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: expected (N, C, H, W) or (N, C, L)", xs);
    int nsp = x->ndim - 2;
    if ((a->n_kernel && a->n_kernel != nsp) || (a->n_strides && a->n_strides != nsp) ||
        (a->n_dil && a->n_dil != nsp) || (a->n_pads && a->n_pads != 2 * nsp))
        return cv_fail(err, CV_ERR_SHAPE, "input %s has %d spatial axes, the window attributes have %d", xs, nsp,
                       a->n_kernel ? a->n_kernel : a->n_strides ? a->n_strides : a->n_dil ? a->n_dil : a->n_pads / 2);
    int64_t k[2], s[2] = {1, 1}, d[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0};
    for (int i = 0; i < nsp; i++) {
        if (a->n_kernel) {
            k[i] = a->kernel[i];
            if (kernel && kernel[i] != k[i])
                return cv_fail(err, CV_ERR_SHAPE, "kernel_shape entry %d is %lld but the weights have %lld",
                               i, (long long)k[i], (long long)kernel[i]);
        } else {
            k[i] = kernel ? kernel[i] : 1;
        }
        if (a->n_strides)
            s[i] = a->strides[i];
        if (a->n_dil)
            d[i] = a->dil[i];
        if (a->n_pads) {
            pb[i] = a->pads[i];
            pe[i] = a->pads[nsp + i];
        }
    }
    /* 1-D: a 1-tall window over a 1-tall image. */
    int64_t ih = nsp == 2 ? x->d[2] : 1, iw = x->d[x->ndim - 1];
    int h = nsp == 2 ? 0 : -1, wi = nsp - 1;
    memset(w, 0, sizeof *w);
    w->ih = ih;
    w->iw = iw;
    w->kh = h < 0 ? 1 : k[h];
    w->sh = h < 0 ? 1 : s[h];
    w->dh = h < 0 ? 1 : d[h];
    w->kw = k[wi];
    w->sw = s[wi];
    w->dw = d[wi];
    if (kernel && (w->kh < 1 || w->kw < 1 || w->kh > WINDOW_MAX_ATTR || w->kw > WINDOW_MAX_ATTR))
        return cv_fail(err, CV_ERR_SHAPE, "kernel size %lldx%lld is out of range", (long long)w->kh, (long long)w->kw);
    cv_status st;
    if (h < 0) {
        w->oh = 1;
    } else if ((st = resolve_axis(a, ih, w->kh, w->sh, w->dh, pb[h], pe[h], &w->oh, &w->pt, &w->pb,
                                  "height", xs, err)) != CV_OK) {
        return st;
    }
    if ((st = resolve_axis(a, iw, w->kw, w->sw, w->dw, pb[wi], pe[wi], &w->ow, &w->pl, &w->pr,
                           nsp == 2 ? "width" : "length", xs, err)) != CV_OK)
        return st;
    return CV_OK;
}

/* col (C*KH*KW, np) = the input patches of output pixels p0 .. p0+np-1 of
 * window w over x (C, IH, IW); row kk = (c*KH + ki)*KW + kj, zeros where a
 * tap falls in the padding. Conv's im2col, and ConvTranspose's on the
 * adjoint geometry. Single-threaded on purpose: an OpenMP region here
 * leaves its workers spinning while the next sgemm's OpenBLAS threads want
 * the same cores, which cost more than the parallel copy saved. */
/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, window_im2col,
               (float *col, const float *x, const cv_window *w, int64_t channels, int64_t p0, int64_t np));

void CV_ISA_NAME(window_im2col)(float *col, const float *x, const cv_window *w, int64_t channels, int64_t p0,
                                int64_t np)
{
    int64_t khw = w->kh * w->kw;
    /* rows of col are independent: over the threads (a copy bound by memory
     * bandwidth, which one core cannot draw alone: the ResNet stem's 7x7/2
     * spent as long in a serial im2col as in its two-thread sgemm) */
#pragma omp parallel for schedule(static) if (channels * khw * np >= CV_OMP_MIN_ELEMS)
    for (int64_t kk = 0; kk < channels * khw; kk++) {
        int64_t ch = kk / khw, ki = kk / w->kw % w->kh, kj = kk % w->kw;
        const float *xc = x + ch * w->ih * w->iw;        /* (IH, IW) */
        float *dst = col + kk * np;
        int64_t off = kj * w->dw - w->pl;                /* ix = ox*SW + off */
        int64_t ox_lo, ox_hi;                            /* ox whose ix is inside */
        cv_window_taps(off, w->ow, w->sw, 0, w->iw, &ox_lo, &ox_hi);
        for (int64_t q = p0, end = p0 + np; q < end;) {
            int64_t oy = q / w->ow, ox = q % w->ow;
            int64_t cnt = w->ow - ox < end - q ? w->ow - ox : end - q;
            int64_t iy = oy * w->sh - w->pt + ki * w->dh;
            if (iy < 0 || iy >= w->ih) {
                memset(dst, 0, (size_t)cnt * sizeof(float));
            } else {
                const float *row = xc + iy * w->iw;
                int64_t a = ox_lo > ox ? ox_lo : ox, b = ox_hi < ox + cnt ? ox_hi : ox + cnt;
                if (b < a)
                    b = a;
                for (int64_t t = ox; t < a; t++)
                    dst[t - ox] = 0.0f;
                if (w->sw == 1)
                    memcpy(dst + (a - ox), row + a + off, (size_t)(b - a) * sizeof(float));
                else
                    for (int64_t t = a; t < b; t++)
                        dst[t - ox] = row[t * w->sw + off];
                for (int64_t t = b; t < ox + cnt; t++)
                    dst[t - ox] = 0.0f;
            }
            dst += cnt;
            q += cnt;
        }
    }
}

void cv_window_im2col(float *col, const float *x, const cv_window *w, int64_t channels, int64_t p0, int64_t np)
{
    CV_ISA_CALL(window_im2col, (col, x, w, channels, p0, np));
}

/* The adjoint of cv_window_im2col: dx (C, IH, IW) += the patches in col.
 * Channels write disjoint planes, so they run in parallel. */
void cv_window_col2im_add(float *dx, const float *col, const cv_window *w, int64_t channels, int64_t p0, int64_t np)
{
#pragma omp parallel for schedule(static) if (channels * w->kh * w->kw * np >= CV_OMP_MIN_ELEMS)
    for (int64_t ch = 0; ch < channels; ch++) {
        float *dxc = dx + ch * w->ih * w->iw;            /* (IH, IW) */
        for (int64_t ki = 0; ki < w->kh; ki++)
            for (int64_t kj = 0; kj < w->kw; kj++) {
                const float *src = col + ((ch * w->kh + ki) * w->kw + kj) * np;
                int64_t off = kj * w->dw - w->pl;
                int64_t ox_lo, ox_hi;
                cv_window_taps(off, w->ow, w->sw, 0, w->iw, &ox_lo, &ox_hi);
                for (int64_t q = p0, end = p0 + np; q < end;) {
                    int64_t oy = q / w->ow, ox = q % w->ow;
                    int64_t cnt = w->ow - ox < end - q ? w->ow - ox : end - q;
                    int64_t iy = oy * w->sh - w->pt + ki * w->dh;
                    if (iy >= 0 && iy < w->ih) {
                        float *row = dxc + iy * w->iw;
                        int64_t a = ox_lo > ox ? ox_lo : ox, b = ox_hi < ox + cnt ? ox_hi : ox + cnt;
                        for (int64_t t = a; t < b; t++)
                            row[t * w->sw + off] += src[t - ox];
                    }
                    src += cnt;
                    q += cnt;
                }
            }
    }
}
