/* Depthwise convolution (Conv with group == C), the kernels conv.c calls
 * for it: x (N, C, IH, IW), w (M, 1, KH, KW), b (M) or NULL ->
 * y (N, M, OH, OW), output channel m reading input channel m / mg; and
 * the backward to x. Built per instruction set (ISA_SRC in the Makefile).
 */
/* -std=c11 turns off fusing a*b+c into one FMA instruction; the kernels
 * here want it (half the instructions, and one rounding instead of two). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include "conv_depthwise.h"
#include "../core/cpu.h"
#include "../core/graph.h" /* cv_clamp */
#include <stdlib.h>
#include <string.h>

/* Depthwise kernels work on 16 output columns at a time, all taps of a
 * column summed in one register: one load of x per tap and one store of y
 * per 16 outputs, where a pass per tap over the row would load and store
 * y kh*kw times (EfficientNet-B0's 5x5 layers: 25). */
typedef float dw_v16 __attribute__((vector_size(64), aligned(4))); /* any float alignment */
typedef int dw_i16 __attribute__((vector_size(64)));
#define DW_LANES 16

/* v = 16 floats of x at stride sw from xs (reading xs[0 .. 15*sw] only).
 * (Through a pointer: a vector returned by value changes the ABI between
 * the builds for each instruction set, and GCC warns.) */
static inline void dw_load(dw_v16 *v, const float *xs, int64_t sw)
{
    if (sw == 1) {
        memcpy(v, xs, sizeof *v);
        return;
    }
#if defined(__GNUC__) && !defined(__clang__)
    if (sw == 2) { /* xs[0, 2, ..., 14] from the first 16, xs[16, ..., 30] as the odd lanes of xs[15 ..] */
        dw_v16 lo, hi;
        memcpy(&lo, xs, sizeof lo);
        memcpy(&hi, xs + 15, sizeof hi);
        *v = __builtin_shuffle(lo, hi, (dw_i16){0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31});
        return;
    }
#endif
    for (int l = 0; l < DW_LANES; l++)
        (*v)[l] = xs[l * sw];
}

/* y[oy, ox] of one plane, window rows ki0..ki1 (those inside x), every
 * column tap checked against x's bounds: the border columns and the tail. */
static float dw_column(const float *xc, const float *wk, float b, const cv_window *w, int64_t iy0, int64_t ki0,
                       int64_t ki1, int64_t ox)
{
    float acc = b;
    int64_t x0 = ox * w->sw - w->pl, kj0, kj1;
    cv_window_taps(x0, w->kw, w->dw, 0, w->iw, &kj0, &kj1);
    for (int64_t ki = ki0; ki < ki1; ki++) {
        const float *xr = xc + (iy0 + ki * w->dh) * w->iw + x0;
        for (int64_t kj = kj0; kj < kj1; kj++)
            acc += wk[ki * w->kw + kj] * xr[kj * w->dw];
    }
    return acc;
}

/* One output row, 16 columns at a time over the inner columns [i0, i1)
 * (at least 16 of them: the last vector overlaps the one before rather
 * than leave a scalar tail), the border columns one by one. */
static void dw_row_vectors(float *yr, const float *xc, const float *wk, float b, const cv_window *w, int64_t iy0,
                           int64_t ki0, int64_t ki1, int64_t i0, int64_t i1)
{
    for (int64_t ox = 0; ox < i0; ox++)
        yr[ox] = dw_column(xc, wk, b, w, iy0, ki0, ki1, ox);
    for (int64_t ox = i0; ox < i1; ox += DW_LANES) {
        if (ox + DW_LANES > i1)
            ox = i1 - DW_LANES;
        dw_v16 acc = (dw_v16){0} + b;
        const float *xs0 = xc + ox * w->sw - w->pl;
        for (int64_t ki = ki0; ki < ki1; ki++) {
            const float *xs = xs0 + (iy0 + ki * w->dh) * w->iw;
            for (int64_t kj = 0; kj < w->kw; kj++) {
                dw_v16 xv;
                dw_load(&xv, xs + kj * w->dw, w->sw);
                acc += wk[ki * w->kw + kj] * xv;
            }
        }
        memcpy(yr + ox, &acc, sizeof acc);
    }
    for (int64_t ox = i1; ox < w->ow; ox++)
        yr[ox] = dw_column(xc, wk, b, w, iy0, ki0, ki1, ox);
}

/* One output row of a narrow map (under 16 inner columns): a pass per tap
 * over the row, which the compiler vectorizes with masked tails. */
static void dw_row_taps(float *yr, const float *xc, const float *wk, float b, const cv_window *w, int64_t iy0,
                        int64_t ki0, int64_t ki1)
{
    for (int64_t ox = 0; ox < w->ow; ox++)
        yr[ox] = b;
    for (int64_t ki = ki0; ki < ki1; ki++) {
        const float *xr = xc + (iy0 + ki * w->dh) * w->iw;
        for (int64_t kj = 0; kj < w->kw; kj++) {
            float wv = wk[ki * w->kw + kj];
            int64_t off = kj * w->dw - w->pl, a, e;
            cv_window_taps(off, w->ow, w->sw, 0, w->iw, &a, &e);
            if (w->sw == 1) {
                const float *xs = xr + off;
                for (int64_t ox = a; ox < e; ox++)
                    yr[ox] += wv * xs[ox];
            } else {
                for (int64_t ox = a; ox < e; ox++)
                    yr[ox] += wv * xr[ox * w->sw + off];
            }
        }
    }
}

/* Narrow maps (EfficientNet's and MobileNet's 14x14 and 7x7 layers: fewer
 * than 16 inner columns, where a pass per tap over a row of 7 or 14 ran at
 * 3-4 GMAC/s at stride 1, and under 1 GMAC/s at stride 2): the plane is
 * copied with its zero padding (ph x pw) into xp, split by stride into
 * sh*sw phase planes of qh x qw, phase (a, b) holding the padded pixels
 * (r*sh + a, c*sw + b). Tap (ki, kj) of output (oy, ox) is then pixel
 * (oy + ki*dh / sh, ox + kj*dw / sw) of phase (ki*dh % sh, kj*dw % sw), so
 * y on a qw-wide grid is, per tap, one pass over a run of (oh-1)*qw + ow
 * floats of one phase plane, with no per-row ends; the grid's columns past
 * ow are dropped on the way out. At stride 1 there is one phase, xp itself.
 * Measured (AVX-512, 1 thread): 5x5 stride 2 on [1, 672, 14, 14]
 * 0.64 -> 0.23 ms, 3x3 stride 2 on [1, 240, 28, 28] 0.33 -> 0.18 ms.
 * Whether it applies: dw_flat_fits. */
#define DW_FLAT_FLOATS 4096 /* xp and the grid, each (16 KiB on the stack) */

/* Phase planes' size (qh x qw) for the padded plane of w. */
static void dw_flat_phase(const cv_window *w, int64_t *qh, int64_t *qw)
{
    int64_t ph = w->ih + w->pt + w->pb, pw = w->iw + w->pl + w->pr;
    *qh = (ph + w->sh - 1) / w->sh;
    *qw = (pw + w->sw - 1) / w->sw;
}

static bool dw_flat_fits(const cv_window *w)
{
    int64_t ph = w->ih + w->pt + w->pb, pw = w->iw + w->pl + w->pr, qh, qw;
    dw_flat_phase(w, &qh, &qw);
    /* every tap of every output inside the padded plane (so inside its phase plane) */
    return w->kw <= 64 && w->sh * w->sw * qh * qw <= DW_FLAT_FLOATS && (w->oh - 1) * w->sh + (w->kh - 1) * w->dh < ph &&
           (w->ow - 1) * w->sw + (w->kw - 1) * w->dw < pw;
}

/* xp (sh*sw phase planes of qh x qw, zeroed) = the padded plane xc, split by phase. */
static void dw_flat_fill(float *xp, const float *xc, const cv_window *w, int64_t qh, int64_t qw)
{
    int64_t plane = qh * qw;
    memset(xp, 0, sizeof(float) * (size_t)(w->sh * w->sw * plane));
    /* padded row pr = r + pt is row pr / sh of phase row pr % sh: counted
     * along, as integer divisions per row cost as much as a 7x7 plane's taps */
    int64_t ph_row = w->pt % w->sh, q_row = w->pt / w->sh;
    for (int64_t r = 0; r < w->ih; r++, ph_row == w->sh - 1 ? (ph_row = 0, q_row++) : ph_row++) {
        const float *xr = xc + r * w->iw;
        float *row = xp + ph_row * w->sw * plane + q_row * qw;
        if (w->sw == 1) {
            memcpy(row + w->pl, xr, sizeof(float) * (size_t)w->iw);
            continue;
        }
        for (int64_t f = 0; f < w->sw; f++) { /* phase f: padded columns j*sw + f */
            int64_t j0, j1;
            cv_window_taps(f - w->pl, qw, w->sw, 0, w->iw, &j0, &j1);
            float *dst = row + f * plane;
            for (int64_t j = j0; j < j1; j++)
                dst[j] = xr[j * w->sw + f - w->pl];
        }
    }
}

/* grid[0 .. n) += wv * xs[0 .. n). Not inlined: inside dw_plane_flat's tap
 * loops GCC unrolled and jammed two taps into one scalar loop (3x slower
 * than stride 1 had run before, measured). */
__attribute__((noinline)) static void dw_axpy(float *restrict grid, const float *restrict xs, float wv, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        grid[j] += wv * xs[j];
}

/* y (oh x ow) = the grid's first ow columns of each of its rows (qw wide). */
static void dw_flat_store(float *yp, const float *grid, const cv_window *w, int64_t qw)
{
    for (int64_t oy = 0; oy < w->oh; oy++)
        memcpy(yp + oy * w->ow, grid + oy * qw, sizeof(float) * (size_t)w->ow);
}

static void dw_plane_flat(float *yp, const float *xc, const float *wk, float b, const cv_window *w)
{
    int64_t qh, qw;
    dw_flat_phase(w, &qh, &qw);
    int64_t plane = qh * qw, cells = (w->oh - 1) * qw + w->ow; /* grid cells up to the last output */
    float xp[DW_FLAT_FLOATS], grid[DW_FLAT_FLOATS];
    dw_flat_fill(xp, xc, w, qh, qw);
    for (int64_t j = 0; j < cells; j++)
        grid[j] = b;
    if (w->sh == 1 && w->sw == 1) { /* one phase: as before the phases, inlined (7x7 maps: 20% faster than dw_axpy) */
        for (int64_t ki = 0; ki < w->kh; ki++)
            for (int64_t kj = 0; kj < w->kw; kj++) {
                float wv = wk[ki * w->kw + kj];
                const float *xs = xp + ki * w->dh * qw + kj * w->dw;
                for (int64_t j = 0; j < cells; j++)
                    grid[j] += wv * xs[j];
            }
        dw_flat_store(yp, grid, w, qw);
        return;
    }
    int64_t col_off[64]; /* offset in xp of tap column kj (the divisions once per plane, not per tap) */
    for (int64_t kj = 0; kj < w->kw; kj++) {
        int64_t c = kj * w->dw;
        col_off[kj] = (c % w->sw) * plane + c / w->sw;
    }
    for (int64_t ki = 0; ki < w->kh; ki++) {
        int64_t a = ki * w->dh, row_off = (a % w->sh) * w->sw * plane + (a / w->sh) * qw;
        for (int64_t kj = 0; kj < w->kw; kj++) {
            float wv = wk[ki * w->kw + kj];
            dw_axpy(grid, xp + row_off + col_off[kj], wv, cells);
        }
    }
    dw_flat_store(yp, grid, w, qw);
}

/* Wide maps with padding: the border columns, one by one through
 * dw_column, cost more than the 16-wide vectors (3x3 on 56x56: 2 border
 * columns against 4 vectors a row). So the plane is first copied into
 * buf, zero-padded (ph x pw, its border zeroed once by the caller), where
 * every output column is inner and each row one run of vectors. Measured
 * (AVX-512, 1 thread): 3x3 stride 1 [1, 144, 56, 56] 0.63 -> 0.37 ms,
 * 5x5 stride 1 [1, 240, 28, 28] 0.80 -> 0.33 ms, 3x3 stride 1
 * [1, 32, 112, 112] 0.42 -> 0.29 ms; 3x3 stride 2 on 112x112 unchanged
 * (0.46 ms). Planes above DW_PAD_FLOATS keep the border columns. */
#define DW_PAD_FLOATS ((int64_t)1 << 20)

static bool dw_pad_fits(const cv_window *w)
{
    int64_t ph = w->ih + w->pt + w->pb, pw = w->iw + w->pl + w->pr;
    return (w->pt || w->pl || w->pb || w->pr) && ph * pw <= DW_PAD_FLOATS;
}

static void dw_plane_padded(float *yp, float *buf, const float *xc, const float *wk, float b, const cv_window *w)
{
    int64_t pw = w->iw + w->pl + w->pr;
    for (int64_t r = 0; r < w->ih; r++)
        memcpy(buf + (r + w->pt) * pw + w->pl, xc + r * w->iw, sizeof(float) * (size_t)w->iw);
    cv_window wp = *w; /* the padded plane, as an unpadded input */
    wp.ih = w->ih + w->pt + w->pb;
    wp.iw = pw;
    wp.pt = wp.pl = wp.pb = wp.pr = 0;
    for (int64_t oy = 0; oy < w->oh; oy++)
        dw_row_vectors(yp + oy * w->ow, buf, wk, b, &wp, oy * w->sh, 0, w->kh, 0, w->ow);
}

/* One plane row by row, on x itself: inner columns [inner0, inner1). */
static void dw_plane_rows(float *yp, const float *xc, const float *wk, float b, const cv_window *w, int64_t inner0,
                          int64_t inner1)
{
    for (int64_t oy = 0; oy < w->oh; oy++) {
        float *yr = yp + oy * w->ow;
        int64_t iy0 = oy * w->sh - w->pt, ki0, ki1;
        cv_window_taps(iy0, w->kh, w->dh, 0, w->ih, &ki0, &ki1);
        if (inner1 - inner0 >= DW_LANES)
            dw_row_vectors(yr, xc, wk, b, w, iy0, ki0, ki1, inner0, inner1);
        else
            dw_row_taps(yr, xc, wk, b, w, iy0, ki0, ki1);
    }
}

/* Depthwise: group == C; output channel m reads input channel m / mg.
 * x (N, C, IH, IW), w (M, 1, KH, KW), b (M) or NULL -> y (N, M, OH, OW). */
/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, conv_depthwise_forward,
               (float *y, const float *x, const float *wt, const float *bias, const cv_dw_geom *pl));

void CV_ISA_NAME(conv_depthwise_forward)(float *y, const float *x, const float *wt, const float *bias,
                                   const cv_dw_geom *pl)
{
    const cv_window *w = &pl->w;
    int64_t planes = pl->n * pl->m;
    /* columns whose whole window row lies inside x: ox in [inner0, inner1) */
    int64_t inner0, inner1;
    cv_window_taps(-w->pl, w->ow, w->sw, 0, w->iw - (w->kw - 1) * w->dw, &inner0, &inner1);
    inner0 = inner0 < w->ow ? inner0 : w->ow; /* a padding wider than the output: no inner columns */
    bool flat = inner1 - inner0 < DW_LANES && dw_flat_fits(w);
    bool pad = !flat && inner1 - inner0 >= DW_LANES && dw_pad_fits(w);
    size_t pad_floats = (size_t)((w->ih + w->pt + w->pb) * (w->iw + w->pl + w->pr));
#pragma omp parallel if (planes * pl->p * w->kh * w->kw >= 32768)
    {
        /* out of memory: the border columns one by one instead */
        float *buf = pad ? calloc(pad_floats, sizeof(float)) : NULL;
#pragma omp for schedule(static)
        for (int64_t q = 0; q < planes; q++) {
            int64_t n = q / pl->m, m = q % pl->m, ch = m / pl->mg;
            const float *xc = x + (n * pl->c + ch) * w->ih * w->iw;
            const float *wk = wt + m * w->kh * w->kw;
            float *yp = y + q * pl->p;
            float b = bias ? bias[m] : 0.0f;
            if (flat)
                dw_plane_flat(yp, xc, wk, b, w);
            else if (buf)
                dw_plane_padded(yp, buf, xc, wk, b, w);
            else
                dw_plane_rows(yp, xc, wk, b, w, inner0, inner1);
            if (pl->clamp)
                cv_clamp_run(pl->clamp, yp, pl->p);
        }
        free(buf);
    }
}

void cv_conv_depthwise_forward(float *y, const float *x, const float *wt, const float *bias, const cv_dw_geom *pl)
{
    CV_ISA_CALL(conv_depthwise_forward, (y, x, wt, bias, pl));
}

/* dx (N, C, IH, IW) += depthwise-conv^T(dy (N, M, OH, OW)); one thread per
 * input channel plane, which gathers from its mg output channels. */
void cv_conv_depthwise_backward(float *dx, const float *dy, const float *wt, const cv_dw_geom *pl)
{
    const cv_window *w = &pl->w;
    int64_t planes = pl->n * pl->c;
#pragma omp parallel for schedule(static) if (planes * pl->p * w->kh * w->kw >= 32768)
    for (int64_t q = 0; q < planes; q++) {
        int64_t n = q / pl->c, ch = q % pl->c;
        float *dxc = dx + q * w->ih * w->iw;
        for (int64_t j = 0; j < pl->mg; j++) {
            int64_t m = ch * pl->mg + j;
            const float *dyp = dy + (n * pl->m + m) * pl->p;
            const float *wk = wt + m * w->kh * w->kw;
            for (int64_t oy = 0; oy < w->oh; oy++) {
                const float *dyr = dyp + oy * w->ow;
                int64_t iy0 = oy * w->sh - w->pt, ki0, ki1;
                cv_window_taps(iy0, w->kh, w->dh, 0, w->ih, &ki0, &ki1);
                for (int64_t ki = ki0; ki < ki1; ki++) {
                    float *dxr = dxc + (iy0 + ki * w->dh) * w->iw;
                    for (int64_t kj = 0; kj < w->kw; kj++) {
                        float wv = wk[ki * w->kw + kj];
                        int64_t off = kj * w->dw - w->pl, a, e;
                        cv_window_taps(off, w->ow, w->sw, 0, w->iw, &a, &e);
                        if (w->sw == 1) {
                            float *d = dxr + off;
                            for (int64_t ox = a; ox < e; ox++)
                                d[ox] += wv * dyr[ox];
                        } else {
                            for (int64_t ox = a; ox < e; ox++)
                                dxr[ox * w->sw + off] += wv * dyr[ox];
                        }
                    }
                }
            }
        }
    }
}

