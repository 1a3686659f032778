/* Winograd F(4x4, 3x3) convolution (see winograd.h).
 *
 * Each 4x4 block of output (a "tile") needs a 6x6 input patch d. With
 *   V = B^T d B (per input channel), U = G g G^T (per weight 3x3 g),
 *   M = sum over input channels of U . V (elementwise, 36 products),
 *   Y = A^T M A,
 * the 36 sums over channels are 36 independent matrix products
 * M[xi] (tiles x M) = V[xi] (tiles x C) . U[xi] (C x M), done here by a
 * register-blocked kernel: 8 tiles x 32 output channels per call, the
 * output channels in two 16-float vectors (one AVX-512 register each).
 *
 * Layouts (floats), xi = 6*k + l for entry (k, l) of a 6x6 transform:
 *   U: [36][Mp/32][C][32]      (Mp = M rounded up to 32, zero padded)
 *   V: [36][Tp/8][C][8]        (Tp = tiles in the chunk rounded up to 8)
 *   O: [36][Tp][Mp]            (the products, before the output transform)
 * Tiles are numbered row-major; an image is processed in chunks of whole
 * tile rows so that V and O stay within WINO_CHUNK_FLOATS.
 *
 * The transform matrices are Lavin & Gray's (interpolation points 0, +-1,
 * +-2 and infinity), as in most Winograd convolution libraries.
 */
#include "winograd.h"
#include <string.h>

#define WINO_NR 8          /* tiles per kernel call */
#define WINO_MB 32         /* output channels per kernel call */
#define WINO_RUN 64        /* tiles per input/output transform batch */
#define WINO_CHUNK_FLOATS ((int64_t)1 << 22) /* V + O per chunk: 16 MiB */

typedef float v16 __attribute__((vector_size(64)));
/* the same, for loads and stores at any float alignment */
typedef float v16u __attribute__((vector_size(64), aligned(4)));

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/* Tile grid and chunking for g: tiles per row, tile rows, rows per chunk. */
static void wino_grid(const cv_wino_geom *g, int64_t *tw, int64_t *th, int64_t *rows)
{
    *tw = (g->ow + 3) / 4;
    *th = (g->oh + 3) / 4;
    int64_t per_row = 36 * round_up(*tw, WINO_NR) * (g->c + round_up(g->m, WINO_MB));
    int64_t r = WINO_CHUNK_FLOATS / (per_row ? per_row : 1);
    *rows = r < 1 ? 1 : r > *th ? *th : r;
}

size_t cv_wino_weights_floats(int64_t m, int64_t c) { return (size_t)(36 * round_up(m, WINO_MB) * c); }

size_t cv_wino_scratch_floats(const cv_wino_geom *g)
{
    int64_t tw, th, rows;
    wino_grid(g, &tw, &th, &rows);
    int64_t tp = round_up(rows * tw, WINO_NR);
    return (size_t)(36 * tp * (g->c + round_up(g->m, WINO_MB)));
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

/* out[k*so][t] = (B^T in)[k] for t < n, where in[j] = in + j*si. */
static inline void bt6(float *out, int64_t so, const float *in, int64_t si, int n)
{
    const float *i0 = in, *i1 = in + si, *i2 = in + 2 * si, *i3 = in + 3 * si, *i4 = in + 4 * si, *i5 = in + 5 * si;
    float *o0 = out, *o1 = out + so, *o2 = out + 2 * so, *o3 = out + 3 * so, *o4 = out + 4 * so, *o5 = out + 5 * so;
    for (int t = 0; t < n; t++) {
        float d0 = i0[t], d1 = i1[t], d2 = i2[t], d3 = i3[t], d4 = i4[t], d5 = i5[t];
        o0[t] = 4.0f * d0 - 5.0f * d2 + d4;
        o1[t] = -4.0f * (d1 + d2) + d3 + d4;
        o2[t] = 4.0f * (d1 - d2) - d3 + d4;
        o3[t] = 2.0f * (d3 - d1) - d2 + d4;
        o4[t] = 2.0f * (d1 - d3) - d2 + d4;
        o5[t] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* V for tile rows ty0 .. ty0+rows-1 of x (C, IH, IW). */
static void input_transform(float *v, const float *x, const cv_wino_geom *g, int64_t ty0, int64_t rows,
                            int64_t tw, int64_t tp)
{
    int64_t jobs = g->c * rows, tiles = rows * tw;
#pragma omp parallel for schedule(static) if (jobs * tw >= 64)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t ch = job / rows, r = job % rows, ty = ty0 + r;
        const float *xc = x + ch * g->ih * g->iw;
        float row[6][4 * WINO_RUN + 2], d[36][WINO_RUN], t1[36][WINO_RUN], vt[36][WINO_RUN];
        for (int64_t tx0 = 0; tx0 < tw; tx0 += WINO_RUN) {
            int n = (int)(tw - tx0 < WINO_RUN ? tw - tx0 : WINO_RUN), width = 4 * n + 2;
            /* the 6 input rows under this run of tiles, zero outside x */
            int64_t col0 = tx0 * 4 - g->pl;
            int64_t a = col0 < 0 ? -col0 : 0, b = g->iw - col0 < width ? g->iw - col0 : width;
            for (int i = 0; i < 6; i++) {
                int64_t iy = ty * 4 - g->pt + i;
                if (iy < 0 || iy >= g->ih || b <= a) {
                    memset(row[i], 0, (size_t)width * sizeof(float));
                    continue;
                }
                for (int64_t q = 0; q < a && q < width; q++)
                    row[i][q] = 0.0f;
                memcpy(row[i] + a, xc + iy * g->iw + col0 + a, (size_t)(b - a) * sizeof(float));
                for (int64_t q = b < a ? a : b; q < width; q++)
                    row[i][q] = 0.0f;
            }
            /* d[i*6+j][t]: patch entry (i, j) of tile t */
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++)
                    for (int t = 0; t < n; t++)
                        d[i * 6 + j][t] = row[i][4 * t + j];
            for (int j = 0; j < 6; j++) /* columns: t1[k][j] = sum_i BT[k][i] d[i][j] */
                bt6(t1[j], 6 * WINO_RUN, d[j], 6 * WINO_RUN, n);
            for (int k = 0; k < 6; k++) /* rows: vt[k][l] = sum_j BT[l][j] t1[k][j] */
                bt6(vt[k * 6], WINO_RUN, t1[k * 6], WINO_RUN, n);
            for (int xi = 0; xi < 36; xi++)
                for (int t = 0; t < n; t++) {
                    int64_t tl = r * tw + tx0 + t;
                    v[((xi * (tp / WINO_NR) + tl / WINO_NR) * g->c + ch) * WINO_NR + tl % WINO_NR] = vt[xi][t];
                }
        }
        /* the padding tiles of the last block: zero, so the kernel reads numbers */
        if (r == rows - 1)
            for (int xi = 0; xi < 36; xi++)
                for (int64_t tl = tiles; tl < tp; tl++)
                    v[((xi * (tp / WINO_NR) + tl / WINO_NR) * g->c + ch) * WINO_NR + tl % WINO_NR] = 0.0f;
    }
}

/* ---- products: O[xi] = V[xi] . U[xi] -------------------------------------- */

/* o (8 tiles, ldo) [0:32] = sum_k v[k][0:8] * u[k][0:32] over k < kk. */
static inline void kernel_8x32(float *o, int64_t ldo, const float *u, const float *v, int64_t kk)
{
    v16 a0[WINO_NR], a1[WINO_NR];
    for (int j = 0; j < WINO_NR; j++) {
        a0[j] = (v16){0};
        a1[j] = (v16){0};
    }
    for (int64_t k = 0; k < kk; k++) {
        v16 u0 = *(const v16u *)(u + k * WINO_MB), u1 = *(const v16u *)(u + k * WINO_MB + 16);
        const float *vk = v + k * WINO_NR;
        for (int j = 0; j < WINO_NR; j++) {
            a0[j] += u0 * vk[j];
            a1[j] += u1 * vk[j];
        }
    }
    for (int j = 0; j < WINO_NR; j++) {
        *(v16u *)(o + j * ldo) = a0[j];
        *(v16u *)(o + j * ldo + 16) = a1[j];
    }
}

static void products(float *o, const float *u, const float *v, const cv_wino_geom *g, int64_t tp)
{
    int64_t mp = round_up(g->m, WINO_MB), mblocks = mp / WINO_MB, jobs = 36 * mblocks;
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t xi = job / mblocks, mb = job % mblocks;
        const float *up = u + (xi * mblocks + mb) * g->c * WINO_MB;
        for (int64_t tb = 0; tb < tp / WINO_NR; tb++)
            kernel_8x32(o + (xi * tp + tb * WINO_NR) * mp + mb * WINO_MB, mp, up,
                        v + (xi * (tp / WINO_NR) + tb) * g->c * WINO_NR, g->c);
    }
}

/* ---- output transform: Y = A^T M A ---------------------------------------- */

/* o[r] = (A^T in)[r], r < 4, for in[k] = in + k*si, vectors of 16 channels */
static inline void at4(v16 *o, const v16 *in, int si)
{
    v16 m0 = in[0], m1 = in[si], m2 = in[2 * si], m3 = in[3 * si], m4 = in[4 * si], m5 = in[5 * si];
    v16 s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
    o[0] = m0 + s12 + s34;
    o[1] = d12 + 2.0f * d34;
    o[2] = s12 + 4.0f * s34;
    o[3] = d12 + 8.0f * d34 + m5;
}

static void output_transform(float *y, const float *o, const float *bias, const cv_wino_geom *g, int64_t ty0,
                             int64_t rows, int64_t tw, int64_t tp, bool accumulate)
{
    int64_t mp = round_up(g->m, WINO_MB), mv = mp / 16, tiles = rows * tw, jobs = tiles * mv;
#pragma omp parallel for schedule(static)
    for (int64_t job = 0; job < jobs; job++) {
        int64_t tl = job / mv, m0 = job % mv * 16;
        int64_t oy0 = (ty0 + tl / tw) * 4, ox0 = tl % tw * 4;
        v16 in[36], cols[4][6], res[16];
        for (int xi = 0; xi < 36; xi++)
            in[xi] = *(const v16u *)(o + (xi * tp + tl) * mp + m0);
        for (int l = 0; l < 6; l++) { /* cols[r][l] = sum_k AT[r][k] M[k][l] */
            v16 t[4];
            at4(t, in + l, 6);
            for (int r = 0; r < 4; r++)
                cols[r][l] = t[r];
        }
        for (int r = 0; r < 4; r++) /* res[r*4+q] = sum_l AT[q][l] cols[r][l] */
            at4(res + r * 4, cols[r], 1);
        int64_t nm = g->m - m0 < 16 ? g->m - m0 : 16;
        for (int64_t lane = 0; lane < nm; lane++) {
            int64_t ch = m0 + lane;
            float b = bias && !accumulate ? bias[ch] : 0.0f;
            float *yc = y + ch * g->oh * g->ow;
            for (int r = 0; r < 4 && oy0 + r < g->oh; r++) {
                float *yr = yc + (oy0 + r) * g->ow + ox0;
                int q1 = g->ow - ox0 < 4 ? (int)(g->ow - ox0) : 4;
                if (accumulate)
                    for (int q = 0; q < q1; q++)
                        yr[q] += res[r * 4 + q][lane];
                else
                    for (int q = 0; q < q1; q++)
                        yr[q] = res[r * 4 + q][lane] + b;
            }
        }
    }
}

void cv_wino_conv(float *y, const float *x, const float *u, const float *bias, const cv_wino_geom *g,
                  bool accumulate, float *scratch)
{
    int64_t tw, th, rows;
    wino_grid(g, &tw, &th, &rows);
    int64_t tp_max = round_up(rows * tw, WINO_NR);
    float *v = scratch, *o = scratch + 36 * tp_max * g->c;
    for (int64_t ty0 = 0; ty0 < th; ty0 += rows) {
        int64_t nr = th - ty0 < rows ? th - ty0 : rows, tp = round_up(nr * tw, WINO_NR);
        input_transform(v, x, g, ty0, nr, tw, tp);
        products(o, u, v, g, tp);
        output_transform(y, o, bias, g, ty0, nr, tw, tp, accumulate);
    }
}
