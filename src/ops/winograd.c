/* Winograd F(4x4, 3x3) convolution (see winograd.h).
 *
 * Each 4x4 block of output (a "tile") needs a 6x6 input patch d. With
 *   V = B^T d B (per input channel), U = G g G^T (per weight 3x3 g),
 *   M = sum over input channels of U . V (elementwise, 36 products),
 *   Y = A^T M A,
 * the 36 sums over channels are 36 independent matrix products
 * M[xi] (M x tiles) = U[xi] (M x C) . V[xi] (C x tiles), done here by a
 * register-blocked kernel: 16 output channels x 16 tiles per call, the
 * tiles in one 16-float vector (an AVX-512 register). Tiles are the vector
 * lanes everywhere, so the transforms run on whole vectors of tiles and
 * read and write memory contiguously.
 *
 * Layouts (floats), xi = 6*k + l for entry (k, l) of a 6x6 transform:
 *   U: [36][Mp/16][C][16]      (Mp = M rounded up to 16, zero padded)
 *   V: [36][Tp/16][C][16]      (Tp = tiles in the chunk rounded up to 16)
 *   O: [36][Mp][Tp]            (the products, before the output transform)
 * Two ways to put tiles in lanes:
 * - wide (images 64 pixels wide or more): tiles numbered row-major, the
 *   tile rows of all images one after the other, a vector holding 16
 *   tiles of one row, read and written with shuffles of contiguous rows;
 *   processed in chunks of whole tile rows so that V and O stay small
 *   (wino_grid);
 * - narrow (smaller images, and per-image output sizes): a list of tiles
 *   (image, tile row, tile column), all images' one after the other, 16
 *   consecutive tiles of the list to a vector whatever rows or images they
 *   come from, read by AVX-512 gathers (or a lane-by-lane copy) and written
 *   lane by lane; processed in chunks of the list (wino_conv_narrow).
 * Either way small images share the pass over U.
 *
 * The transform matrices are Lavin & Gray's (interpolation points 0, +-1,
 * +-2 and infinity), as in most Winograd convolution libraries.
 */
/* -std=c11 turns off fusing a*b+c into one FMA instruction; the kernels
 * here want it (half the instructions, and one rounding instead of two). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include "../core/graph.h" /* cv_clamp */
#include "winograd.h"
#include "../core/cpu.h"
#include <stdint.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#define WINO_NR 16         /* tiles per kernel call: one vector */
#define WINO_MB 16         /* output channels per kernel call */
#define WINO_CHUNK_FLOATS ((int64_t)1 << 20) /* V + O per chunk, at least: 4 MiB */

typedef float v16 __attribute__((vector_size(64)));
/* the same, for loads and stores at any float alignment */
typedef float v16u __attribute__((vector_size(64), aligned(4)));

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/* Where a tile row holds few tiles (the small windows of incremental
 * occlusion: 3 to 11 tiles across), a vector per tile row would leave most
 * lanes idle: then the narrow layout. */
#define WINO_NARROW_BELOW 16 /* tiles per row (measured: 12 and 24 do no better) */

/* Floats of V and O per chunk: small chunks keep them in cache between
 * the phases, but every chunk reads all of U, so let a chunk's V and O be
 * at least half U's size. */
static int64_t wino_chunk_budget(const cv_wino_geom *g)
{
    int64_t budget = (int64_t)cv_wino_weights_floats(g->m, g->c) / 2;
    return budget < WINO_CHUNK_FLOATS ? WINO_CHUNK_FLOATS : budget;
}

/* The wide layout's tile grid and chunking for g: tiles per row, tile rows
 * per image, rows per chunk (of the n * th rows of the batch). */
static void wino_grid(const cv_wino_geom *g, int64_t *tw, int64_t *th, int64_t *rows)
{
    *tw = (g->ow + 3) / 4;
    *th = (g->oh + 3) / 4;
    int64_t all = (g->n > 0 ? g->n : 1) * *th;
    int64_t per_row = 36 * round_up(*tw, WINO_NR) * (g->c + round_up(g->m, WINO_MB));
    int64_t r = wino_chunk_budget(g) / (per_row ? per_row : 1);
    *rows = r < 1 ? 1 : r > all ? all : r;
}

/* Whether g takes the narrow layout: few tiles per row, or per-image
 * output sizes. */
static bool wino_narrow(const cv_wino_geom *g) { return (g->ow + 3) / 4 < WINO_NARROW_BELOW || g->vr || g->vc; }

/* The narrow layout: tiles per chunk, a multiple of 16 (at most the
 * whole batch's). */
static int64_t wino_narrow_chunk(const cv_wino_geom *g)
{
    int64_t all = round_up((g->n > 0 ? g->n : 1) * ((g->oh + 3) / 4) * ((g->ow + 3) / 4), WINO_NR);
    int64_t t = wino_chunk_budget(g) / (36 * (g->c + round_up(g->m, WINO_MB))) / WINO_NR * WINO_NR;
    t = t < WINO_NR ? WINO_NR : t;
    return t < all ? t : all;
}

/* A tile of the narrow layout: image, tile row, tile column. */
typedef struct {
    int32_t img, ty, tx;
} wino_tile;

size_t cv_wino_weights_floats(int64_t m, int64_t c) { return (size_t)(36 * round_up(m, WINO_MB) * c); }

size_t cv_wino_scratch_floats(const cv_wino_geom *g)
{
    /* room for either layout: per-image sizes may come only at run time */
    int64_t tw, th, rows, per_tile = 36 * (g->c + round_up(g->m, WINO_MB));
    wino_grid(g, &tw, &th, &rows);
    int64_t wide = round_up(rows * tw, WINO_NR) * per_tile, chunk = wino_narrow_chunk(g);
    int64_t narrow = chunk * per_tile + chunk * (int64_t)(sizeof(wino_tile) / sizeof(float));
    return (size_t)((wide > narrow ? wide : narrow) + WINO_NR); /* + a vector of slack */
}

/* ---- weights: U = G g G^T ------------------------------------------------ */

/* o[0..5] = G . (a, b, c) */
static inline void g_col(float *o, float a, float b, float c)
{
    o[0] = a * 0.25f;
    o[1] = -(a + b + c) * (1.0f / 6.0f);
    o[2] = -(a - b + c) * (1.0f / 6.0f);
    o[3] = a * (1.0f / 24.0f) + b * (1.0f / 12.0f) + c * (1.0f / 6.0f);
    o[4] = a * (1.0f / 24.0f) - b * (1.0f / 12.0f) + c * (1.0f / 6.0f);
    o[5] = c;
}

void cv_wino_transform_weights(float *u, const float *w, int64_t m, int64_t c, bool flip)
{
    /* the transformed conv has mo outputs and ci inputs */
    int64_t mo = flip ? c : m, ci = flip ? m : c, mp = round_up(mo, WINO_MB);
    memset(u, 0, cv_wino_weights_floats(mo, ci) * sizeof(float));
#pragma omp parallel for schedule(static) if (mo * ci >= 4096)
    for (int64_t o = 0; o < mo; o++)
        for (int64_t i = 0; i < ci; i++) {
            float g[3][3], t[6][3], r[6];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    g[a][b] = flip ? w[((i * c + o) * 3 + 2 - a) * 3 + 2 - b] : w[((o * c + i) * 3 + a) * 3 + b];
            for (int b = 0; b < 3; b++) { /* t = G g: columns */
                float col[6];
                g_col(col, g[0][b], g[1][b], g[2][b]);
                for (int k = 0; k < 6; k++)
                    t[k][b] = col[k];
            }
            for (int k = 0; k < 6; k++) { /* U = t G^T: rows */
                g_col(r, t[k][0], t[k][1], t[k][2]);
                for (int l = 0; l < 6; l++)
                    u[(((int64_t)(k * 6 + l) * (mp / WINO_MB) + o / WINO_MB) * ci + i) * WINO_MB + o % WINO_MB] = r[l];
            }
        }
}

/* ---- input transform: V = B^T d B ---------------------------------------- */

typedef int i16 __attribute__((vector_size(64)));
typedef int i16u __attribute__((vector_size(64), aligned(4)));

#ifdef __clang__
/* clang has no __builtin_shuffle (GCC's, with a mask vector) and its
 * __builtin_shufflevector wants constant lanes. The clang builds are the
 * fuzzers and sanitizer runs (docs/robustness.md), where speed does not
 * matter: lane loops with GCC's semantics (mask taken modulo the lanes). */
static inline v16 wino_shuffle2(v16 a, v16 b, i16 m)
{
    v16 r;
    for (int k = 0; k < 16; k++) {
        int i = m[k] & 31;
        r[k] = i < 16 ? a[i] : b[i - 16];
    }
    return r;
}
static inline v16 wino_shuffle1(v16 a, i16 m)
{
    v16 r;
    for (int k = 0; k < 16; k++)
        r[k] = a[m[k] & 15];
    return r;
}
#define WINO_SHUFFLE_PICK(a1, a2, a3, name, ...) name
#define __builtin_shuffle(...) WINO_SHUFFLE_PICK(__VA_ARGS__, wino_shuffle2, wino_shuffle1, none)(__VA_ARGS__)
#endif

/* o[k] = (B^T in)[k], k < 6, for in[j] = in[j*si]; vectors of 16 tiles */
static inline void bt6(v16 *o, int so, const v16 *in, int si)
{
    v16 d0 = in[0], d1 = in[si], d2 = in[2 * si], d3 = in[3 * si], d4 = in[4 * si], d5 = in[5 * si];
    o[0] = 4.0f * d0 - 5.0f * d2 + d4;
    o[so] = -4.0f * (d1 + d2) + d3 + d4;
    o[2 * so] = 4.0f * (d1 - d2) - d3 + d4;
    o[3 * so] = 2.0f * (d3 - d1) - d2 + d4;
    o[4 * so] = 2.0f * (d1 - d3) - d2 + d4;
    o[5 * so] = 4.0f * d1 - 5.0f * d3 + d5;
}

/* p[j][t] = f[4t + j] for j < 4, t < 16: the four phases of 64 floats */
static inline void deinterleave4(v16 *p, const float *f)
{
    const i16 ev = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29};
    const i16 od = {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
    const i16 lo = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const i16 hi = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    v16 a0 = *(const v16u *)f, a1 = *(const v16u *)(f + 16), a2 = *(const v16u *)(f + 32),
        a3 = *(const v16u *)(f + 48);
    v16 s0 = __builtin_shuffle(a0, a1, ev), s1 = __builtin_shuffle(a0, a1, od);
    v16 s2 = __builtin_shuffle(a2, a3, ev), s3 = __builtin_shuffle(a2, a3, od);
    p[0] = __builtin_shuffle(s0, s2, lo);
    p[1] = __builtin_shuffle(s0, s2, hi);
    p[2] = __builtin_shuffle(s1, s3, lo);
    p[3] = __builtin_shuffle(s1, s3, hi);
}

/* Lanes t < n of vec into the tile vectors of V for tiles tl0 .. tl0+n-1
 * (n <= 16): at most two vectors, each read, blended and written back.
 * p points at the vector of tile block 0; step is the distance between
 * consecutive tile blocks. */
static inline void store_tiles(float *p, int64_t step, int64_t tl0, int n, v16 vec)
{
    const i16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    int o = (int)(tl0 % WINO_NR);
    float *b0 = p + tl0 / WINO_NR * step;
    if (o == 0 && n == WINO_NR) {
        *(v16u *)b0 = vec;
        return;
    }
    v16 rot = __builtin_shuffle(vec, (iota - o) & 15); /* lane k holds tile tl0 - o + k */
    i16 m0 = (iota >= o) & (iota < o + n), m1 = iota < o + n - WINO_NR;
    i16 r = (i16)rot, old = *(const i16u *)b0;
    *(i16u *)b0 = (r & m0) | (old & ~m0);
    if (o + n > WINO_NR) {
        float *b1 = b0 + step;
        old = *(const i16u *)b1;
        *(i16u *)b1 = (r & m1) | (old & ~m1);
    }
}

/* V for batch tile rows R0 .. R0+rows-1 of x (N, C, IH, IW), 16 tiles at a
 * time: tile t of a run reads input columns col0 + 4t .. col0 + 4t + 5.
 * One job per channel: a tile vector shared by two tile rows is then
 * blended by one thread only. */
static void input_transform(float *v, const float *x, const cv_wino_geom *g, int64_t r0, int64_t rows,
                            int64_t tw, int64_t th, int64_t tp)
{
    int64_t tiles = rows * tw;
    enum { SPAN = 4 * WINO_NR + 4 }; /* columns read per run: 68 (66 used) */
#pragma omp parallel for schedule(static) if (g->c * tiles >= 64)
    for (int64_t ch = 0; ch < g->c; ch++) {
        for (int64_t r = 0; r < rows; r++) {
            int64_t img = (r0 + r) / th, ty = (r0 + r) % th;
            const float *xc = x + (img * g->c + ch) * g->ih * g->iw;
            float buf[6][SPAN];
            static const float zero[SPAN];
            for (int64_t tx0 = 0; tx0 < tw; tx0 += WINO_NR) {
                int n = (int)(tw - tx0 < WINO_NR ? tw - tx0 : WINO_NR);
                int64_t col0 = tx0 * 4 - g->pl;
                bool inside = col0 >= 0 && col0 + SPAN <= g->iw;
                v16 d[36], t1[36], vt[36];
                for (int i = 0; i < 6; i++) {
                    int64_t iy = ty * 4 - g->pt + i;
                    const float *src;
                    if (iy < 0 || iy >= g->ih) {
                        src = zero;
                    } else if (inside) {
                        src = xc + iy * g->iw + col0;
                    } else { /* a border run: copy with zeros outside the row */
                        const float *xr = xc + iy * g->iw;
                        for (int q = 0; q < SPAN; q++)
                            buf[i][q] = col0 + q >= 0 && col0 + q < g->iw ? xr[col0 + q] : 0.0f;
                        src = buf[i];
                    }
                    v16 p[8];
                    deinterleave4(p, src);      /* columns 4t + 0..3 */
                    deinterleave4(p + 4, src + 4); /* columns 4t + 4..7 */
                    for (int j = 0; j < 6; j++)
                        d[i * 6 + j] = p[j];
                }
                for (int j = 0; j < 6; j++) /* columns: t1[k][j] = sum_i BT[k][i] d[i][j] */
                    bt6(t1 + j, 6, d + j, 6);
                for (int k = 0; k < 6; k++) /* rows: vt[k][l] = sum_j BT[l][j] t1[k][j] */
                    bt6(vt + k * 6, 1, t1 + k * 6, 1);
                for (int xi = 0; xi < 36; xi++)
                    store_tiles(v + xi * g->c * tp + ch * WINO_NR, g->c * WINO_NR, r * tw + tx0, n, vt[xi]);
            }
            /* the padding tiles of the last vector: zero, so the kernel reads numbers */
            if (r == rows - 1 && tiles < tp)
                for (int xi = 0; xi < 36; xi++)
                    store_tiles(v + xi * g->c * tp + ch * WINO_NR, g->c * WINO_NR, tiles, (int)(tp - tiles),
                                (v16){0});
        }
    }
}

/* The narrow layout's input side: d holds the 6x6 patches (entry i*6+j)
 * of run `run` (16 consecutive tiles of the list) in channel ch; their
 * V = B^T d B goes to its place in v. */
static inline void transform_run(float *v, const v16 *d, int64_t c, int64_t tp, int64_t run, int64_t ch)
{
    v16 t1[36], vt[36];
    for (int j = 0; j < 6; j++) /* columns, then rows, as input_transform */
        bt6(t1 + j, 6, d + j, 6);
    for (int k = 0; k < 6; k++)
        bt6(vt + k * 6, 1, t1 + k * 6, 1);
    for (int xi = 0; xi < 36; xi++)
        *(v16u *)(v + xi * c * tp + (run * c + ch) * WINO_NR) = vt[xi];
}

/* Patches of the tile list lane by lane (the portable way). */
static void input_transform_narrow_copy(float *v, const float *x, const cv_wino_geom *g, const wino_tile *tl,
                                        int64_t tiles, int64_t tp)
{
    int64_t runs = tp / WINO_NR;
#pragma omp parallel for collapse(2) schedule(static) if (g->c * tiles >= 64)
    for (int64_t ch = 0; ch < g->c; ch++)
        for (int64_t run = 0; run < runs; run++) {
            float buf[36][WINO_NR] __attribute__((aligned(64)));
            for (int k = 0; k < WINO_NR; k++) {
                int64_t t = run * WINO_NR + k;
                if (t >= tiles) {
                    for (int ij = 0; ij < 36; ij++)
                        buf[ij][k] = 0.0f;
                    continue;
                }
                int64_t img = tl[t].img, ty = tl[t].ty, tx = tl[t].tx;
                const float *xc = x + (img * g->c + ch) * g->ih * g->iw;
                int64_t y0 = ty * 4 - g->pt, x0 = tx * 4 - g->pl;
                if (y0 >= 0 && y0 + 6 <= g->ih && x0 >= 0 && x0 + 6 <= g->iw) {
                    for (int i = 0; i < 6; i++)
                        for (int j = 0; j < 6; j++)
                            buf[i * 6 + j][k] = xc[(y0 + i) * g->iw + x0 + j];
                } else {
                    for (int i = 0; i < 6; i++)
                        for (int j = 0; j < 6; j++) {
                            int64_t yy = y0 + i, xx = x0 + j;
                            buf[i * 6 + j][k] =
                                yy >= 0 && yy < g->ih && xx >= 0 && xx < g->iw ? xc[yy * g->iw + xx] : 0.0f;
                        }
                }
            }
            v16 d[36];
            for (int ij = 0; ij < 36; ij++)
                d[ij] = *(const v16 *)buf[ij];
            transform_run(v, d, g->c, tp, run, ch);
        }
}

#ifdef __AVX512F__
/* The same with AVX-512 gathers: per run of 16 tiles, each lane's offset
 * into x and which of its 6 rows and 6 columns lie inside the image are
 * worked out once for a block of channels; then each of the 36 entries of
 * the 6x6 patches is one masked gather (zero where the patch leaves the
 * image, and for lanes past the last tile). Needs offsets below 2^31. */
#define WINO_GATHER_CHANNELS 32

static void input_transform_narrow_gather(float *v, const float *x, const cv_wino_geom *g, const wino_tile *tl,
                                          int64_t tiles, int64_t tp)
{
    int64_t runs = tp / WINO_NR, plane = g->ih * g->iw;
    int64_t cblocks = (g->c + WINO_GATHER_CHANNELS - 1) / WINO_GATHER_CHANNELS;
#pragma omp parallel for collapse(2) schedule(static) if (g->c * tiles >= 64)
    for (int64_t run = 0; run < runs; run++)
        for (int64_t cb = 0; cb < cblocks; cb++) {
            int32_t base[WINO_NR] __attribute__((aligned(64)));
            __mmask16 rowm[6] = {0}, colm[6] = {0};
            for (int k = 0; k < WINO_NR; k++) {
                int64_t t = run * WINO_NR + k;
                base[k] = 0;
                if (t >= tiles)
                    continue;
                int64_t img = tl[t].img, ty = tl[t].ty, tx = tl[t].tx;
                int64_t y0 = ty * 4 - g->pt, x0 = tx * 4 - g->pl;
                base[k] = (int32_t)(img * g->c * plane + y0 * g->iw + x0);
                for (int i = 0; i < 6; i++) {
                    if (y0 + i >= 0 && y0 + i < g->ih)
                        rowm[i] |= (__mmask16)(1u << k);
                    if (x0 + i >= 0 && x0 + i < g->iw)
                        colm[i] |= (__mmask16)(1u << k);
                }
            }
            __m512i vbase = _mm512_load_si512(base);
            int64_t c1 = (cb + 1) * WINO_GATHER_CHANNELS < g->c ? (cb + 1) * WINO_GATHER_CHANNELS : g->c;
            for (int64_t ch = cb * WINO_GATHER_CHANNELS; ch < c1; ch++) {
                __m512i off = _mm512_add_epi32(vbase, _mm512_set1_epi32((int32_t)(ch * plane)));
                v16 d[36];
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) {
                        __m512i at = _mm512_add_epi32(off, _mm512_set1_epi32((int32_t)(i * g->iw + j)));
                        d[i * 6 + j] = (v16)_mm512_mask_i32gather_ps(_mm512_setzero_ps(), rowm[i] & colm[j], at, x, 4);
                    }
                transform_run(v, d, g->c, tp, run, ch);
            }
        }
}
#endif

static void input_transform_narrow(float *v, const float *x, const cv_wino_geom *g, const wino_tile *tl,
                                   int64_t tiles, int64_t tp)
{
#ifdef __AVX512F__
    /* masked-off lanes may hold any offset: only the real ones must fit */
    if (g->n * g->c * g->ih * g->iw < INT32_MAX - 8) {
        input_transform_narrow_gather(v, x, g, tl, tiles, tp);
        return;
    }
#endif
    input_transform_narrow_copy(v, x, g, tl, tiles, tp);
}

/* ---- products: O[xi] = V[xi] . U[xi] -------------------------------------- */

/* o[r*ldo .. +16] = sum_k u[k*16 + r] * v[k*ldv .. +16] for r < 16, k < kk:
 * 16 output channels (broadcast) times a vector of 16 tiles. */
static inline void kernel_16x16(float *o, int64_t ldo, const float *u, const float *v, int64_t ldv, int64_t kk)
{
    v16 acc[WINO_MB];
    for (int r = 0; r < WINO_MB; r++)
        acc[r] = (v16){0};
    for (int64_t k = 0; k < kk; k++) {
        v16 vk = *(const v16u *)(v + k * ldv);
        const float *uk = u + k * WINO_MB;
        for (int r = 0; r < WINO_MB; r++)
            acc[r] += uk[r] * vk;
    }
    for (int r = 0; r < WINO_MB; r++)
        *(v16u *)(o + r * ldo) = acc[r];
}

static void products(float *o, const float *u, const float *v, const cv_wino_geom *g, int64_t tp)
{
    int64_t mp = round_up(g->m, WINO_MB), mblocks = mp / WINO_MB, jobs = 36 * mblocks;
    /* one job keeps its U panel (C x 16) in L1 and sweeps the tiles */
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t xi = job / mblocks, mb = job % mblocks;
        const float *up = u + (xi * mblocks + mb) * g->c * WINO_MB;
        for (int64_t t0 = 0; t0 < tp; t0 += WINO_NR)
            kernel_16x16(o + (xi * mp + mb * WINO_MB) * tp + t0, tp, up, v + xi * g->c * tp + t0 * g->c, WINO_NR,
                         g->c);
    }
}

/* ---- output transform: Y = A^T M A ---------------------------------------- */

/* o[r] = (A^T in)[r], r < 4, for in[k] = in + k*si; vectors of 16 tiles */
static inline void at4(v16 *o, const v16 *in, int si)
{
    v16 m0 = in[0], m1 = in[si], m2 = in[2 * si], m3 = in[3 * si], m4 = in[4 * si], m5 = in[5 * si];
    v16 s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    o[0] = m0 + s12 + s34;
    o[1] = d12 + 2.0f * d34;
    o[2] = s12 + 4.0f * s34;
    o[3] = d12 + 8.0f * d34 + m5;
}

/* out (64 floats) = a0 b0 c0 d0 a1 b1 c1 d1 ... a15 b15 c15 d15: the four
 * output columns of 16 tiles, back in pixel order. */
static inline void interleave4(float *out, v16 a, v16 b, v16 c, v16 d)
{
    const i16 lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    const i16 hi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const i16 q0 = {0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23};
    const i16 q1 = {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31};
    v16 ab0 = __builtin_shuffle(a, b, lo), ab1 = __builtin_shuffle(a, b, hi);
    v16 cd0 = __builtin_shuffle(c, d, lo), cd1 = __builtin_shuffle(c, d, hi);
    *(v16u *)(out) = __builtin_shuffle(ab0, cd0, q0);
    *(v16u *)(out + 16) = __builtin_shuffle(ab0, cd0, q1);
    *(v16u *)(out + 32) = __builtin_shuffle(ab1, cd1, q0);
    *(v16u *)(out + 48) = __builtin_shuffle(ab1, cd1, q1);
}

static void output_transform(float *y, const float *o, const float *bias, const cv_wino_geom *g, int64_t r0,
                             int64_t rows, int64_t tw, int64_t th, int64_t tp, bool accumulate)
{
    int64_t mp = round_up(g->m, WINO_MB), jobs = g->m * rows;
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t ch = job / rows, r = job % rows, img = (r0 + r) / th, oy0 = (r0 + r) % th * 4;
        float b = bias && !accumulate ? bias[ch] : 0.0f;
        float *yc = y + (img * g->m + ch) * g->oh * g->ow;
        for (int64_t tx0 = 0; tx0 < tw; tx0 += WINO_NR) {
            /* 16 tiles of this tile row (the last vector may run into the
             * next row or the slack: those lanes are not stored) */
            const float *op = o + ch * tp + r * tw + tx0;
            v16 in[36], cols[4][6], res[4][4];
            for (int xi = 0; xi < 36; xi++)
                in[xi] = *(const v16u *)(op + xi * mp * tp);
            for (int l = 0; l < 6; l++) { /* cols[q][l] = sum_k AT[q][k] M[k][l] */
                v16 t[4];
                at4(t, in + l, 6);
                for (int q = 0; q < 4; q++)
                    cols[q][l] = t[q];
            }
            for (int q = 0; q < 4; q++) /* res[q][s] = sum_l AT[s][l] cols[q][l] */
                at4(res[q], cols[q], 1);
            int64_t x0 = tx0 * 4, nx = g->ow - x0 < 4 * WINO_NR ? g->ow - x0 : 4 * WINO_NR;
            for (int q = 0; q < 4 && oy0 + q < g->oh; q++) {
                float row[4 * WINO_NR], *yr = yc + (oy0 + q) * g->ow + x0;
                interleave4(row, res[q][0], res[q][1], res[q][2], res[q][3]);
                if (accumulate)
                    for (int64_t i = 0; i < nx; i++)
                        yr[i] += row[i];
                else if (g->clamp)
                    for (int64_t i = 0; i < nx; i++)
                        yr[i] = cv_clamp_apply(g->clamp, row[i] + b);
                else
                    for (int64_t i = 0; i < nx; i++)
                        yr[i] = row[i] + b;
            }
        }
    }
}

/* The output side of input_transform_narrow: a vector of 16 consecutive
 * tiles, scattered back to their rows and images. */
static void output_transform_narrow(float *y, const float *o, const float *bias, const cv_wino_geom *g,
                                    const wino_tile *tl, int64_t tiles, int64_t tp, bool accumulate)
{
    int64_t mp = round_up(g->m, WINO_MB), runs = tp / WINO_NR, jobs = g->m * runs;
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t ch = job / runs, run = job % runs;
        float b = bias && !accumulate ? bias[ch] : 0.0f;
        const float *op = o + ch * tp + run * WINO_NR;
        v16 in[36], cols[4][6];
        float res[4][4][WINO_NR] __attribute__((aligned(64)));
        for (int xi = 0; xi < 36; xi++)
            in[xi] = *(const v16u *)(op + xi * mp * tp);
        for (int l = 0; l < 6; l++) {
            v16 t[4];
            at4(t, in + l, 6);
            for (int q = 0; q < 4; q++)
                cols[q][l] = t[q];
        }
        for (int q = 0; q < 4; q++) {
            v16 r[4];
            at4(r, cols[q], 1);
            for (int s = 0; s < 4; s++)
                *(v16 *)res[q][s] = r[s];
        }
        for (int k = 0; k < WINO_NR && run * WINO_NR + k < tiles; k++) {
            const wino_tile *t = &tl[run * WINO_NR + k];
            int64_t img = t->img, ty = t->ty, tx = t->tx;
            float *yc = y + (img * g->m + ch) * g->oh * g->ow;
            for (int64_t q = 0; q < 4 && ty * 4 + q < g->oh; q++) {
                float *yr = yc + (ty * 4 + q) * g->ow + tx * 4;
                int64_t nx = g->ow - tx * 4 < 4 ? g->ow - tx * 4 : 4;
                if (accumulate)
                    for (int64_t s = 0; s < nx; s++)
                        yr[s] += res[q][s][k];
                else if (g->clamp)
                    for (int64_t s = 0; s < nx; s++)
                        yr[s] = cv_clamp_apply(g->clamp, res[q][s][k] + b);
                else
                    for (int64_t s = 0; s < nx; s++)
                        yr[s] = res[q][s][k] + b;
            }
        }
    }
}

/* The narrow layout: each image's tiles (all, or those covering its
 * vr x vc output corner) listed one after the other, in chunks. */
static void wino_conv_narrow(float *y, const float *x, const float *u, const float *bias, const cv_wino_geom *g,
                             bool accumulate, float *scratch)
{
    int64_t chunk = wino_narrow_chunk(g), per_tile = 36 * (g->c + round_up(g->m, WINO_MB));
    float *v = scratch, *o = scratch + 36 * chunk * g->c;
    wino_tile *tl = (wino_tile *)(scratch + chunk * per_tile);
    int64_t img = 0, next = 0; /* where the next chunk starts: image, its tile */
    for (;;) {
        int64_t tiles = 0;
        while (tiles < chunk && img < g->n) {
            int64_t vr = g->vr ? g->vr[img] : g->oh, vc = g->vc ? g->vc[img] : g->ow;
            vr = vr < 0 ? 0 : vr > g->oh ? g->oh : vr;
            vc = vc < 0 ? 0 : vc > g->ow ? g->ow : vc;
            int64_t tw = (vc + 3) / 4, count = tw * ((vr + 3) / 4);
            for (; next < count && tiles < chunk; next++, tiles++)
                tl[tiles] = (wino_tile){(int32_t)img, (int32_t)(next / tw), (int32_t)(next % tw)};
            if (next == count) {
                img++;
                next = 0;
            }
        }
        if (tiles == 0)
            return;
        int64_t tp = round_up(tiles, WINO_NR);
        input_transform_narrow(v, x, g, tl, tiles, tp);
        products(o, u, v, g, tp);
        output_transform_narrow(y, o, bias, g, tl, tiles, tp, accumulate);
    }
}

/* (built per instruction set, src/core/cpu.h) */
CV_ISA_DECLARE(void, wino_conv,
               (float *y, const float *x, const float *u, const float *bias, const cv_wino_geom *g, bool accumulate,
                float *scratch));

void CV_ISA_NAME(wino_conv)(float *y, const float *x, const float *u, const float *bias, const cv_wino_geom *g,
                            bool accumulate, float *scratch)
{
    if (wino_narrow(g)) {
        wino_conv_narrow(y, x, u, bias, g, accumulate, scratch);
        return;
    }
    int64_t tw, th, rows;
    wino_grid(g, &tw, &th, &rows);
    int64_t tp_max = round_up(rows * tw, WINO_NR);
    float *v = scratch, *o = scratch + 36 * tp_max * g->c;
    for (int64_t r0 = 0; r0 < g->n * th; r0 += rows) {
        int64_t nr = g->n * th - r0 < rows ? g->n * th - r0 : rows, tp = round_up(nr * tw, WINO_NR);
        input_transform(v, x, g, r0, nr, tw, th, tp);
        products(o, u, v, g, tp);
        output_transform(y, o, bias, g, r0, nr, tw, th, tp, accumulate);
    }
}

void cv_wino_conv(float *y, const float *x, const float *u, const float *bias, const cv_wino_geom *g,
                  bool accumulate, float *scratch)
{
    CV_ISA_CALL(wino_conv, (y, x, u, bias, g, accumulate, scratch));
}
