/* Direct convolution for few input channels: see conv_direct.h.
 *
 * Work is split into jobs of one output row segment (up to DIRECT_CHUNK
 * pixels of one row of one image). A job
 * 1. copies the input rows the segment reads, one per (c, a), zero-padded
 *    and split into SW phase planes: plane[c, a][r][i] is the input at
 *    column (ox0 + i)*SW + r - PL, so that tap (a, b) of the 16 pixels
 *    j .. j+15 is one unit-stride vector load, at i = j + b*DW/SW of
 *    phase b*DW % SW, whatever the stride;
 * 2. accumulates register blocks of MB output channels x JV vectors of 16
 *    pixels: per tap, MB broadcast weights and JV input vectors feed
 *    MB*JV vector multiply-adds, in the order c, a, b;
 * 3. stores each block straight into y's rows (NCHW), then the clamp.
 * The copy (C*KH*SW planes of about a segment) is small next to the
 * K x segment x M multiply-adds, and no transpose is needed.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast") /* one FMA per multiply-add, as conv.c */
#endif
#include "conv_direct.h"
#include "../core/cpu.h"
#include "../core/graph.h" /* cv_clamp */
#include <omp.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

/* Output pixels per job (a row segment): a multiple of every build's
 * JV * 16. Its input planes and output rows stay in the core's L1/L2. */
#define DIRECT_CHUNK 128

/* Register blocks per build, sized to its vector registers (v16 is one
 * AVX-512 register, two AVX2 or four SSE ones): MB*JV accumulators plus
 * JV input vectors and one broadcast weight. */
#if defined(CV_ISA_BUILD_AVX512)
#define MB 6
#define JV 4 /* 24 + 4 + 1 of 32 registers */
#elif defined(CV_ISA_BUILD_AVX2)
#define MB 4
#define JV 1 /* 2 x (4 + 1) + 1 of 16 */
#else
#define MB 2
#define JV 1 /* 4 x (2 + 1) + 1 of 16 */
#endif
/* The largest MB and JV of any build: the scratch must not depend on
 * which build runs (CNNVIZ_ISA may change it after planning). */
#define MB_MAX 6
#define JV_MAX 4

/* Limits that bound a job's planes: strides and the kernel's extent along
 * a row (wider ones go to im2col, where they cost nothing extra). */
#define DIRECT_MAX_STRIDE 8
#define DIRECT_MAX_EXTENT 64
#define DIRECT_MAX_TAPS 512

bool cv_conv_direct_fits(const cv_direct_geom *g)
{
    const cv_window *w = &g->w;
    /* each factor bounded before the products: a hostile model's sizes
     * would overflow them */
    return g->c >= 1 && g->c <= CV_DIRECT_MAX_CHANNELS && w->sw <= DIRECT_MAX_STRIDE && w->kh <= DIRECT_MAX_TAPS &&
           w->kw <= DIRECT_MAX_EXTENT + 1 && w->dw <= DIRECT_MAX_EXTENT && (w->kw - 1) * w->dw <= DIRECT_MAX_EXTENT &&
           g->c * w->kh * w->kw <= DIRECT_MAX_TAPS;
}

static int64_t direct_taps(const cv_direct_geom *g) { return g->c * g->w.kh * g->w.kw; }

/* Floats of one phase plane: a segment, plus the reach of the last tap. */
static int64_t plane_len(const cv_window *w) { return DIRECT_CHUNK + (w->kw - 1) * w->dw / w->sw + 1; }

/* Per thread: the planes, a zero weight row (the channels past M of the
 * last block), and MB_MAX rows of a block for outputs that are not kept. */
static size_t direct_thread_floats(const cv_direct_geom *g)
{
    const cv_window *w = &g->w;
    int64_t planes = g->c * w->kh * w->sw * plane_len(w);
    return (size_t)(planes + direct_taps(g) + MB_MAX * JV_MAX * 16 + 16);
}

size_t cv_conv_direct_scratch_floats(const cv_direct_geom *g, int threads)
{
    return direct_thread_floats(g) * (size_t)(threads > 0 ? threads : 1);
}

/* dst[i] = row[first + i*step] for i in [0, len), 0 where that is outside
 * [0, iw): zeros, a copy, zeros. */
static void copy_strided(float *dst, const float *row, int64_t iw, int64_t first, int64_t step, int64_t len)
{
    int64_t lo = first >= 0 ? 0 : (-first + step - 1) / step; /* first i inside */
    int64_t hi = first >= iw ? 0 : (iw - 1 - first) / step + 1; /* one past the last */
    lo = lo < len ? lo : len;
    hi = hi < len ? hi : len;
    hi = hi > lo ? hi : lo;
    memset(dst, 0, sizeof(float) * (size_t)lo);
    if (step == 1)
        memcpy(dst + lo, row + first + lo, sizeof(float) * (size_t)(hi - lo));
    else if (step == 2) /* a constant stride: vectorized */
        for (int64_t i = lo; i < hi; i++)
            dst[i] = row[first + 2 * i];
    else
        for (int64_t i = lo; i < hi; i++)
            dst[i] = row[first + i * step];
    memset(dst + hi, 0, sizeof(float) * (size_t)(len - hi));
}

/* The planes of row oy of image xn for pixels ox0 .. (step 1 above). */
static void fill_planes(float *planes, const float *xn, const cv_direct_geom *g, int64_t oy, int64_t ox0)
{
    const cv_window *w = &g->w;
    int64_t len = plane_len(w), ix0 = ox0 * w->sw - w->pl;
    for (int64_t c = 0; c < g->c; c++)
        for (int64_t a = 0; a < w->kh; a++) {
            int64_t iy = oy * w->sh - w->pt + a * w->dh;
            float *dst = planes + (c * w->kh + a) * w->sw * len;
            if (iy < 0 || iy >= w->ih) {
                memset(dst, 0, sizeof(float) * (size_t)(w->sw * len));
                continue;
            }
            const float *row = xn + (c * w->ih + iy) * w->iw;
            for (int64_t r = 0; r < w->sw; r++)
                copy_strided(dst + r * len, row, w->iw, ix0 + r, w->sw, len);
        }
}

/* yr[i][0 .. jv*16) = init[i] + sum over taps t of wr[i][t] * x(t), for
 * the MB channels i and jv <= JV vectors of pixels from plane index j0;
 * rows = C*KH planes' worth of taps, tap_at[b] where column tap b starts
 * in a row's planes (direct_job). jv is a constant where this is
 * inlined, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void block(float *const *yr, const float *const *wr, const float *init,
                                                        const float *planes, const int64_t *tap_at,
                                                        const cv_window *w, int64_t rows, int64_t j0, int jv)
{
    int64_t len = plane_len(w);
    v16 acc[MB][JV];
    for (int i = 0; i < MB; i++)
        for (int j = 0; j < jv; j++)
            acc[i][j] = (v16){0} + init[i];
    for (int64_t ca = 0; ca < rows; ca++) {
        const float *base = planes + ca * w->sw * len + j0;
        for (int64_t b = 0; b < w->kw; b++) {
            int64_t t = ca * w->kw + b;
            const float *xp = base + tap_at[b];
            v16 xv[JV];
            for (int j = 0; j < jv; j++)
                xv[j] = *(const v16u *)(xp + j * 16);
            for (int i = 0; i < MB; i++) {
                float wv = wr[i][t];
                for (int j = 0; j < jv; j++)
                    acc[i][j] += wv * xv[j];
            }
        }
    }
    for (int i = 0; i < MB; i++)
        for (int j = 0; j < jv; j++)
            *(v16u *)(yr[i] + j * 16) = acc[i][j];
}

/* One job: pixels ox0 .. ox0 + cw - 1 of row oy of image n, all channels. */
static void direct_job(float *y, const float *x, const float *w, const float *bias, const cv_direct_geom *g,
                       int64_t n, int64_t oy, int64_t ox0, int64_t cw, float *scratch)
{
    const cv_window *win = &g->w;
    int64_t k = direct_taps(g), rows = g->c * win->kh, plane = win->oh * win->ow;
    float *planes = scratch, *zero = planes + rows * win->sw * plane_len(win), *spare = zero + k;
    memset(zero, 0, sizeof(float) * (size_t)k);
    fill_planes(planes, x + n * g->c * win->ih * win->iw, g, oy, ox0);
    /* column tap b reads phase b*DW % SW from index b*DW / SW: divided here
     * once, not per tap of every block (cv_conv_direct_fits bounds KW) */
    int64_t tap_at[DIRECT_MAX_EXTENT + 1];
    for (int64_t b = 0; b < win->kw; b++)
        tap_at[b] = b * win->dw % win->sw * plane_len(win) + b * win->dw / win->sw;
    float *yrow = y + n * g->m * plane + oy * win->ow + ox0;
    for (int64_t m0 = 0; m0 < g->m; m0 += MB) {
        const float *wr[MB];
        float init[MB], *yr[MB];
        for (int i = 0; i < MB; i++) {
            bool real = m0 + i < g->m;
            wr[i] = real ? w + (m0 + i) * k : zero;
            init[i] = real && bias ? bias[m0 + i] : 0.0f;
        }
        for (int64_t j0 = 0; j0 < cw; j0 += JV * 16) {
            int64_t left = cw - j0;
            int jv = left >= JV * 16 ? JV : (int)((left + 15) / 16);
            bool whole = left >= jv * 16; /* else through spare, then copied */
            for (int i = 0; i < MB; i++)
                yr[i] = whole && m0 + i < g->m ? yrow + (m0 + i) * plane + j0 : spare + i * JV * 16;
            switch (jv) {
#if JV >= 4
            case 4: block(yr, wr, init, planes, tap_at, win, rows, j0, 4); break;
            case 3: block(yr, wr, init, planes, tap_at, win, rows, j0, 3); break;
#endif
#if JV >= 2
            case 2: block(yr, wr, init, planes, tap_at, win, rows, j0, 2); break;
#endif
            default: block(yr, wr, init, planes, tap_at, win, rows, j0, 1); break;
            }
            for (int i = 0; i < MB && m0 + i < g->m; i++) {
                int64_t cnt = left < jv * 16 ? left : jv * 16;
                float *dst = yrow + (m0 + i) * plane + j0;
                if (!whole)
                    memcpy(dst, yr[i], sizeof(float) * (size_t)cnt);
                if (g->clamp)
                    cv_clamp_run(g->clamp, dst, cnt);
            }
        }
    }
}

/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, conv_direct_forward,
               (float *y, const float *x, const float *w, const float *bias, const cv_direct_geom *g,
                float *scratch, size_t scratch_floats));

void CV_ISA_NAME(conv_direct_forward)(float *y, const float *x, const float *w, const float *bias,
                                      const cv_direct_geom *g, float *scratch, size_t scratch_floats)
{
    const cv_window *win = &g->w;
    int64_t chunks = (win->ow + DIRECT_CHUNK - 1) / DIRECT_CHUNK, jobs = g->n * win->oh * chunks;
    size_t per = direct_thread_floats(g);
    int nth = omp_get_max_threads();
    if ((size_t)nth > scratch_floats / per) /* the thread count changed since infer */
        nth = (int)(scratch_floats / per);
    if (nth < 1)
        return; /* unreachable: infer planned one thread's worth at least */
    double macs = (double)g->n * (double)g->m * (double)(win->oh * win->ow) * (double)direct_taps(g);
#pragma omp parallel for num_threads(nth) schedule(static) if (macs >= (double)(1 << 18) && jobs > 1)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t n = job / (win->oh * chunks), oy = job / chunks % win->oh, ox0 = job % chunks * DIRECT_CHUNK;
        int64_t cw = win->ow - ox0 < DIRECT_CHUNK ? win->ow - ox0 : DIRECT_CHUNK;
        direct_job(y, x, w, bias, g, n, oy, ox0, cw, scratch + (size_t)omp_get_thread_num() * per);
    }
}

void cv_conv_direct_forward(float *y, const float *x, const float *w, const float *bias, const cv_direct_geom *g,
                            float *scratch, size_t scratch_floats)
{
    CV_ISA_CALL(conv_direct_forward, (y, x, w, bias, g, scratch, scratch_floats));
}
