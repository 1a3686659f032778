/* Conv (ONNX, opsets 1-17): 2-D convolution, and 1-D as 2-D with height 1.
 *
 *   x (N, C, IH, IW), w (M, C/group, KH, KW), optional b (M) -> y (N, M, OH, OW)
 *   y[n, m, oy, ox] = b[m] + sum_{c in group(m), ki, kj}
 *                     w[m, c, ki, kj] * x[n, c, oy*SH - PT + ki*DH, ox*SW - PL + kj*DW]
 * (x is zero outside its bounds). Attributes: kernel_shape (else from w),
 * strides, dilations, pads, auto_pad, group.
 *
 * Five kernels, chosen per node and input size by conv_plan_make:
 * - 1x1, stride 1, no padding: y_g = w_g . x_g, one sgemm per image and group;
 * - one group of at most 4 input channels (a model's first layer on RGB or
 *   grey images): a direct kernel (conv_direct.c), forward only;
 * - depthwise (one input channel per group): a direct loop, OpenMP over
 *   channel planes;
 * - 3x3, stride 1, one group, enough channels: Winograd F(4x4, 3x3)
 *   (winograd.c), 4x fewer multiplications; the transformed weights are
 *   made on first use and kept with the node;
 * - anything else: im2col + sgemm, tiled over output pixels so that the
 *   column matrix (K x tile, K = C/group*KH*KW) stays in cache between being
 *   written and being packed by sgemm.
 * Backward to the input mirrors each: dx_g += w_g^T . dy_g (1x1), Winograd
 * on dy with flipped weights, col2im(w_g^T . dy_g) (general), and a direct
 * scatter (depthwise).
 * Gradients with respect to w and b are not computed: weights must be
 * constants, which infer checks.
 */
/* -std=c11 turns off fusing a*b+c into one FMA instruction; the kernels
 * here want it (half the instructions, and one rounding instead of two). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include "../core/cpu.h"
#include "../core/blas.h"
#include "../core/graph.h"
#include "conv_depthwise.h"
#include "conv_direct.h"
#include "winograd.h"
#include "window.h"
#include <limits.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Column-matrix tile, in floats (8 MiB). Tiling bounds the scratch and
 * keeps the tile in cache between im2col writing it and sgemm packing it;
 * much smaller tiles make sgemm calls too narrow to run at full speed
 * (measured on VGG16: 1 MiB tiles 30% slower, 8 MiB best). */
#define CONV_COL_TILE_FLOATS ((int64_t)1 << 21)

typedef struct {
    cv_window_attrs win;
    int64_t group;
    /* Winograd-transformed weights, [0] for forward, [1] for backward, made
     * on first use (a node's weights never change: they are constants) and
     * published atomically so that concurrent runs of one model are safe. */
    _Atomic(float *) wino_u[2];
    /* The weights of the backward-to-input convolution (conv_flip_weights),
     * made on first use in the same way. */
    _Atomic(float *) flipped;
} conv_params;

static void conv_free_params(void *params)
{
    conv_params *p = params;
    if (!p)
        return;
    free(atomic_load(&p->wino_u[0]));
    free(atomic_load(&p->wino_u[1]));
    free(atomic_load(&p->flipped));
    free(p);
}

typedef enum { CONV_IM2COL, CONV_1X1, CONV_DEPTHWISE } conv_kind;

/* Everything the kernels need for one input size. */
typedef struct {
    int64_t n, c, m;        /* batch, input channels, output channels */
    int64_t g, cg, mg;      /* groups; input and output channels per group */
    cv_window w;            /* resolved geometry (2-D) */
    int64_t k;              /* rows of the column matrix: cg*KH*KW */
    int64_t p;              /* output pixels per image: OH*OW */
    int64_t tile;           /* output pixels per im2col tile */
    int64_t nb;             /* images per sgemm call (small images, group 1: see conv_batch_small) */
    conv_kind kind;
    bool wino_fits[2];      /* Winograd applies, forward [0] / backward [1] */
    bool wino[2];           /* ... and is chosen */
    cv_wino_geom wg[2];     /* ... and its geometry (backward: dy -> dx) */
    /* Backward to the input as a forward im2col convolution of dy (stride 1
     * only, see conv_choose_flip): whether it applies, its window (dy ->
     * dx), the rows of its column matrix (mg*KH*KW) and its tile. */
    bool flip;
    cv_window bw;
    int64_t bk, btile;
    /* the direct kernel (conv_choose_direct): whether it applies, whether
     * it is chosen, its geometry */
    bool direct_fits, direct;
    cv_direct_geom dg;
} conv_plan;

/* Winograd F(4x4, 3x3) where it applies: 3x3, stride 1, no dilation, one
 * group; and, as algo (cv_conv_algo) says: never (CV_CONV_IM2COL), always
 * (CV_CONV_WINOGRAD), or where it pays (CV_CONV_AUTO): enough channels
 * that the 36 products dominate the transforms. Backward runs the
 * transposed convolution, whose padding 2 - pad must not be negative. */
static void conv_choose_winograd(conv_plan *pl, int algo)
{
    const cv_window *w = &pl->w;
    bool fits = pl->kind == CONV_IM2COL && pl->g == 1 && w->kh == 3 && w->kw == 3 && w->sh == 1 &&
                w->sw == 1 && w->dh == 1 && w->dw == 1 && w->ih > 1;
    /* Below ~16 tiles (4x4 output blocks) per weight pass, reading the
     * transformed weights (4x the size of w) costs more than the saved
     * multiplications. At 14x14 (16 tiles at batch 1) Winograd ran 3x
     * faster than im2col on an AVX-512 Xeon (VGG16's 512-channel layers,
     * bench/conv_bench; ResNet18 forward 14.5 -> 11.8 ms) and as fast on
     * Zen 4 with AVX2 sgemm; at 7x7 (4 tiles) it is 2-3x slower. */
    int64_t tiles = pl->n * ((w->oh + 3) / 4) * ((w->ow + 3) / 4);
    bool pays = algo == CV_CONV_WINOGRAD ||
                ((algo == CV_CONV_AUTO || algo == CV_CONV_EXACT_BACKWARD) && pl->c >= 16 && pl->m >= 16 && tiles >= 16);
    pl->wino_fits[0] = fits;
    pl->wino_fits[1] = fits && w->pt <= 2 && w->pl <= 2 && w->pb <= 2 && w->pr <= 2;
    pl->wino[0] = pl->wino_fits[0] && pays;
    pl->wino[1] = pl->wino_fits[1] && pays && algo != CV_CONV_EXACT_BACKWARD;
    pl->wg[0] = (cv_wino_geom){.n = pl->n, .c = pl->c, .m = pl->m, .ih = w->ih, .iw = w->iw, .oh = w->oh, .ow = w->ow,
                               .pt = w->pt, .pl = w->pl};
    pl->wg[1] = (cv_wino_geom){.n = pl->n, .c = pl->m, .m = pl->c, .ih = w->oh, .iw = w->ow, .oh = w->ih, .ow = w->iw,
                               .pt = 2 - w->pt, .pl = 2 - w->pl};
}

/* Pixels per column tile for a column matrix of k rows and p pixels. */
static int64_t conv_col_tile(int64_t k, int64_t p)
{
    if (k * p <= CONV_COL_TILE_FLOATS)
        return p;
    int64_t tile = CONV_COL_TILE_FLOATS / k;
    tile = tile < 64 ? 64 : tile & ~(int64_t)15; /* at least a few vectors wide */
    return tile > p ? p : tile;
}

/* A stride-1 convolution's gradient to its input is the correlation of dy
 * with the flipped, transposed weights, padded by d*(K-1) - pad: a forward
 * convolution, run as im2col of dy + one sgemm whose inner dimension is
 * mg*KH*KW. The other way (sgemm into a column matrix of the input's
 * patches, then col2im's scattered adds) has inner dimension mg, writes
 * and rereads K times the input, and ran at half the rate: ResNet18's
 * 3x3 layers 58-75 GMAC/s that way, 99-115 this way (AMD Zen 5, 2 threads).
 * Both are direct sums in float32: the same accuracy. Strided
 * convolutions keep col2im. */
static void conv_choose_flip(conv_plan *pl)
{
    const cv_window *w = &pl->w;
    int64_t eh = w->dh * (w->kh - 1), ew = w->dw * (w->kw - 1); /* kernel extent - 1 */
    pl->flip = pl->kind == CONV_IM2COL && w->sh == 1 && w->sw == 1 && w->pt <= eh && w->pb <= eh &&
               w->pl <= ew && w->pr <= ew;
    if (!pl->flip)
        return;
    pl->bw = (cv_window){.ih = w->oh, .iw = w->ow, .oh = w->ih, .ow = w->iw, .kh = w->kh, .kw = w->kw,
                         .sh = 1, .sw = 1, .dh = w->dh, .dw = w->dw,
                         .pt = eh - w->pt, .pl = ew - w->pl, .pb = eh - w->pb, .pr = ew - w->pr};
    pl->bk = pl->mg * w->kh * w->kw;
    pl->btile = conv_col_tile(pl->bk, w->ih * w->iw);
}

/* The direct kernel (conv_direct.h) for one group of few input channels,
 * where im2col's column matrix has too few rows for sgemm to run well;
 * unless algo (cv_conv_algo) asks for im2col. ResNet18's 7x7/2 stem went
 * from 2.2-2.8 ms to 0.87-0.98 (AMD Zen 5, 2 threads). */
static void conv_choose_direct(conv_plan *pl, int algo)
{
    pl->dg = (cv_direct_geom){.n = pl->n, .c = pl->c, .m = pl->m, .w = pl->w};
    pl->direct_fits = pl->kind == CONV_IM2COL && pl->g == 1 && cv_conv_direct_fits(&pl->dg);
    pl->direct = pl->direct_fits && algo != CV_CONV_IM2COL;
}

/* Publish weights made for a cache slot of conv_params, unless another run
 * published its own first (then made is freed, and theirs returned). */
static const float *conv_publish(_Atomic(float *) *slot, float *made)
{
    float *none = NULL;
    if (atomic_compare_exchange_strong(slot, &none, made))
        return made;
    free(made);
    return none;
}

/* The weights of the backward convolution, per group (cg, mg, KH, KW):
 * wf[g][ci][mi][a][b] = w[g*mg + mi][ci][KH-1-a][KW-1-b]; made now if need
 * be, NULL when there is no memory for them (the caller then uses col2im). */
static const float *conv_flip_weights(const cv_op_ctx *c, const conv_plan *pl)
{
    conv_params *p = (conv_params *)c->params;
    float *wf = atomic_load_explicit(&p->flipped, memory_order_acquire);
    if (wf)
        return wf;
    int64_t kh = pl->w.kh, kw = pl->w.kw, taps = kh * kw, total = pl->m * pl->cg * taps;
    wf = cv_malloc_large((size_t)total * sizeof(float));
    if (!wf)
        return NULL;
    const float *w = c->in[1]->f;
#pragma omp parallel for schedule(static) if (total >= CV_OMP_MIN_ELEMS)
    for (int64_t o = 0; o < pl->m; o++) {
        int64_t g = o / pl->mg, mi = o % pl->mg;
        for (int64_t ci = 0; ci < pl->cg; ci++)
            for (int64_t t = 0; t < taps; t++)
                wf[((g * pl->cg + ci) * pl->mg + mi) * taps + t] = w[(o * pl->cg + ci) * taps + taps - 1 - t];
    }
    return conv_publish(&p->flipped, wf);
}

/* The transformed weights for direction dir, made now if need be; NULL
 * when there is no memory for them (the caller then uses im2col). */
static const float *conv_wino_weights(const cv_op_ctx *c, const conv_plan *pl, int dir)
{
    conv_params *p = (conv_params *)c->params; /* the cache is the one mutable field */
    if (cv_wino_scratch_floats(&pl->wg[dir]) > c->scratch_floats)
        return NULL; /* not planned for: use im2col */
    float *u = atomic_load_explicit(&p->wino_u[dir], memory_order_acquire);
    if (u)
        return u;
    size_t bytes = cv_wino_weights_floats(dir ? pl->c : pl->m, dir ? pl->m : pl->c) * sizeof(float);
    u = cv_malloc_large(bytes);
    if (!u)
        return NULL;
    cv_wino_transform_weights(u, c->in[1]->f, pl->m, pl->c, dir == 1);
    return conv_publish(&p->wino_u[dir], u);
}

/* Images of a few hundred pixels (the 7x7 and 14x14 maps of ResNet and
 * MobileNet, the windows of incremental occlusion) make per-image sgemm
 * calls too narrow to run well, and many calls cost thread wake-ups. Then
 * (group 1, batch > 1) the column matrices of nb images sit side by side,
 * K x (nb * P), and one sgemm does them all. */
#define CONV_BATCH_BELOW_PIXELS 256
#define CONV_BATCH_COLUMNS 2048

static void conv_batch_small(conv_plan *pl)
{
    pl->nb = 1;
    if (pl->kind == CONV_DEPTHWISE || pl->g != 1 || pl->n < 2 || pl->p >= CONV_BATCH_BELOW_PIXELS)
        return;
    int64_t nb = CONV_BATCH_COLUMNS / pl->p, fit = CONV_COL_TILE_FLOATS / (pl->k * pl->p);
    nb = nb < fit ? nb : fit;
    nb = nb < pl->n ? nb : pl->n;
    pl->nb = nb > 1 ? nb : 1;
}

/* Scratch floats of the batched path: one image's columns, the nb images'
 * columns and their outputs. */
static size_t conv_batch_scratch(const conv_plan *pl)
{
    return pl->nb > 1 ? (size_t)((pl->k + pl->k * pl->nb + pl->m * pl->nb) * pl->p) : 0;
}

static cv_status conv_init(cv_node *node, const cv_model *m, cv_error *err)
{
    conv_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    node->params = p;
    cv_status st = cv_window_parse(node, &p->win, false, true, false, err);
    if (st != CV_OK)
        return st;
    p->group = cv_attr_int(node, "group", 1);
    if (p->group < 1)
        return cv_fail(err, CV_ERR_INVALID, "attribute 'group' = %lld, expected >= 1", (long long)p->group);
    if (node->n_in < 2 || node->n_in > 3 || node->in[0] < 0 || node->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs X, W and an optional B, got %d inputs", node->n_in);
    return CV_OK;
}

/* Check the shapes and choose a kernel. Called by infer (which reports the
 * errors) and by forward/backward (which cannot fail: infer passed). */
static cv_status conv_plan_make(const cv_op_ctx *c, conv_plan *pl, cv_error *err)
{
    const conv_params *p = c->params;
    const cv_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    char xs[160] = "", ws[160] = "", bs[160] = "";
    if (x->dtype != CV_F32 || w->dtype != CV_F32 || (b && b->dtype != CV_F32))
        return cv_fail(err, CV_ERR_INVALID, "expects float32 inputs");
    if (err) { /* only for messages: forward plans again without them */
        cv_shape_str(&x->shape, xs, sizeof xs);
        cv_shape_str(&w->shape, ws, sizeof ws);
    }
    if (x->shape.ndim == 5)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "input %s: 3-D convolution is not supported", xs);
    if (x->shape.ndim < 3 || x->shape.ndim > 4)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: expected (N, C, H, W) or (N, C, L)", xs);
    if (w->shape.ndim != x->shape.ndim)
        return cv_fail(err, CV_ERR_SHAPE, "weights %s do not match input %s: expected %d dimensions",
                       ws, xs, x->shape.ndim);
    memset(pl, 0, sizeof *pl);
    pl->n = x->shape.d[0];
    pl->c = x->shape.d[1];
    pl->m = w->shape.d[0];
    pl->g = p->group;
    if (pl->c % pl->g != 0)
        return cv_fail(err, CV_ERR_SHAPE, "input %s has %lld channels, not divisible by group %lld", xs,
                       (long long)pl->c, (long long)pl->g);
    /* divide rather than multiply: a hostile group times the weights'
     * channel count can overflow int64 */
    if (w->shape.d[1] != pl->c / pl->g) {
        int64_t expect;
        bool over = __builtin_mul_overflow(w->shape.d[1], pl->g, &expect);
        return cv_fail(err, CV_ERR_SHAPE, "input %s has %lld channels, weights %s expect %s%lld (group %lld)", xs,
                       (long long)pl->c, ws, over ? "more than " : "", (long long)(over ? INT64_MAX : expect),
                       (long long)pl->g);
    }
    if (pl->m < 1 || pl->m % pl->g != 0)
        return cv_fail(err, CV_ERR_SHAPE, "weights %s: %lld output channels, not a positive multiple of group %lld",
                       ws, (long long)pl->m, (long long)pl->g);
    if (b && (cv_shape_numel(&b->shape) != (size_t)pl->m || b->shape.ndim != 1))
        return cv_fail(err, CV_ERR_SHAPE, "bias %s does not match weights %s: expected [%lld]",
                       cv_shape_str(&b->shape, bs, sizeof bs), ws, (long long)pl->m);
    pl->cg = pl->c / pl->g;
    pl->mg = pl->m / pl->g;
    cv_window_attrs win = c->unpadded ? cv_window_unpadded(&p->win) : p->win;
    cv_status st = cv_window_resolve(&win, &x->shape, &w->shape.d[2], &pl->w, err);
    if (st != CV_OK)
        return st;
    const cv_window *g = &pl->w;
    pl->k = pl->cg * g->kh * g->kw;
    pl->p = g->oh * g->ow;
    /* sgemm takes int sizes; checking here also keeps k * p below (the
     * tiling test) from overflowing int64 on hostile pads */
    if (pl->p > INT_MAX || pl->k > INT_MAX || pl->m > INT_MAX)
        return cv_fail(err, CV_ERR_LIMIT, "convolution of %lld pixels x %lld taps x %lld channels is too large",
                       (long long)pl->p, (long long)pl->k, (long long)pl->m);
    if (pl->cg == 1 && pl->g > 1)
        pl->kind = CONV_DEPTHWISE;
    else if (g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && !g->pt && !g->pl && !g->pb && !g->pr)
        pl->kind = CONV_1X1;
    else
        pl->kind = CONV_IM2COL;
    pl->tile = pl->kind == CONV_IM2COL ? conv_col_tile(pl->k, pl->p) : pl->p;
    conv_choose_winograd(pl, c->conv_algo);
    conv_choose_flip(pl);
    conv_choose_direct(pl, c->conv_algo);
    conv_batch_small(pl);
    return CV_OK;
}

static cv_status conv_infer(cv_op_ctx *c, cv_error *err)
{
    conv_plan pl;
    cv_status st = conv_plan_make(c, &pl, err);
    if (st != CV_OK)
        return st;
    if (!c->in_static[1] || (c->n_in > 2 && !c->in_static[2]))
        return cv_fail(err, CV_ERR_UNSUPPORTED, "weights or bias computed from the input are not supported");
    cv_tensor *y = c->out[0];
    y->dtype = CV_F32;
    y->shape = c->in[0]->shape;
    y->shape.d[1] = pl.m;
    if (y->shape.ndim == 4)
        y->shape.d[2] = pl.w.oh;
    y->shape.d[y->shape.ndim - 1] = pl.w.ow;
    size_t need = pl.kind == CONV_IM2COL ? (size_t)(pl.k * pl.tile) : 0; /* im2col is also the fallback */
    /* room for Winograd and the direct kernel wherever they apply, whatever
     * conv_algo chose: a plan's memory (and so what a max_memory admits)
     * does not depend on the algorithm */
    for (int dir = 0; dir < 2; dir++)
        if (pl.wino_fits[dir] && cv_wino_scratch_floats(&pl.wg[dir]) > need)
            need = cv_wino_scratch_floats(&pl.wg[dir]);
    if (conv_batch_scratch(&pl) > need)
        need = conv_batch_scratch(&pl);
    size_t direct = pl.direct_fits ? cv_conv_direct_scratch_floats(&pl.dg, omp_get_max_threads()) : 0;
    need = direct > need ? direct : need;
    c->scratch_floats = need;
    return CV_OK;
}



/* y (rows, ld) [:, 0:cnt] = bias per row, so sgemm can run with beta = 1. */
static void conv_fill_bias(float *y, const float *bias, int64_t rows, int64_t cnt, int64_t ld)
{
    /* over the threads: on a 1x1 layer of 56x56 the fill is a tenth of the time */
#pragma omp parallel for schedule(static) if (rows * cnt >= CV_OMP_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        float v = bias[r], *yr = y + r * ld;
        for (int64_t t = 0; t < cnt; t++)
            yr[t] = v;
    }
}

/* Group 1, pl->nb images per sgemm: cols (K, nb*P) = the images' column
 * matrices side by side, yt (M, nb*P) = w . cols, then each image's P
 * columns of yt (plus bias) are its output. */
/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, conv_forward_batched,
               (float *y, const float *x, const float *wt, const float *bias, const conv_plan *pl,
                const cv_clamp *clamp, float *scratch));

void CV_ISA_NAME(conv_forward_batched)(float *y, const float *x, const float *wt, const float *bias, const conv_plan *pl,
                                       const cv_clamp *clamp, float *scratch)
{
    int64_t in_img = pl->c * pl->w.ih * pl->w.iw, out_img = pl->m * pl->p, P = pl->p;
    float *one = scratch, *cols = one + pl->k * P, *yt = cols + pl->k * pl->nb * P;
    for (int64_t n0 = 0; n0 < pl->n; n0 += pl->nb) {
        int64_t nb = pl->n - n0 < pl->nb ? pl->n - n0 : pl->nb, ld = nb * P;
        for (int64_t i = 0; i < nb; i++) {
            const float *src = x + (n0 + i) * in_img; /* 1x1: the image is its column matrix */
            if (pl->kind != CONV_1X1) {
                cv_window_im2col(one, src, &pl->w, pl->cg, 0, P);
                src = one;
            }
            for (int64_t r = 0; r < pl->k; r++)
                memcpy(cols + r * ld + i * P, src + r * P, sizeof(float) * (size_t)P);
        }
        cv_sgemm(false, false, pl->m, ld, pl->k, 1.0f, wt, pl->k, cols, ld, 0.0f, yt, ld);
#pragma omp parallel for schedule(static) if (nb * out_img >= CV_OMP_MIN_ELEMS)
        for (int64_t i = 0; i < nb; i++)
            for (int64_t m = 0; m < pl->m; m++) {
                float b = bias ? bias[m] : 0.0f, *dst = y + (n0 + i) * out_img + m * P;
                const float *row = yt + m * ld + i * P;
                if (clamp)
                    for (int64_t q = 0; q < P; q++)
                        dst[q] = cv_clamp_apply(clamp, row[q] + b);
                else
                    for (int64_t q = 0; q < P; q++)
                        dst[q] = row[q] + b;
            }
    }
}

static void conv_forward_batched(float *y, const float *x, const float *wt, const float *bias, const conv_plan *pl,
                                 const cv_clamp *clamp, float *scratch)
{
    CV_ISA_CALL(conv_forward_batched, (y, x, wt, bias, pl, clamp, scratch));
}

static void conv_forward(cv_op_ctx *c)
{
    conv_plan pl;
    if (conv_plan_make(c, &pl, NULL) != CV_OK)
        return; /* unreachable: infer accepted these shapes */
    const float *x = c->in[0]->f;                       /* (N, C, IH, IW) */
    const float *wt = c->in[1]->f;                      /* (M, cg, KH, KW) */
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->f : NULL; /* (M) */
    float *y = c->out[0]->f;                            /* (N, M, OH, OW) */
    int64_t in_img = pl.c * pl.w.ih * pl.w.iw, out_img = pl.m * pl.p;
    if (pl.kind == CONV_DEPTHWISE) {
        cv_conv_depthwise_forward(y, x, wt, bias, &(cv_dw_geom){pl.n, pl.c, pl.m, pl.mg, pl.p, pl.w, c->clamp});
        return;
    }
    const float *u = pl.wino[0] ? conv_wino_weights(c, &pl, 0) : NULL;
    if (u) {
        cv_wino_geom wg = pl.wg[0];
        wg.vr = c->out_rows; /* only the wanted corner of each image */
        wg.vc = c->out_cols;
        wg.clamp = c->clamp;
        cv_wino_conv(y, x, u, bias, &wg, false, c->scratch);
        return;
    }
    if (pl.direct) {
        pl.dg.clamp = c->clamp;
        cv_conv_direct_forward(y, x, wt, bias, &pl.dg, c->scratch, c->scratch_floats);
        return;
    }
    float beta = bias ? 1.0f : 0.0f;
    if (pl.nb > 1 && conv_batch_scratch(&pl) <= c->scratch_floats) {
        conv_forward_batched(y, x, wt, bias, &pl, c->clamp, c->scratch);
        return;
    }
    for (int64_t n = 0; n < pl.n; n++)
        for (int64_t g = 0; g < pl.g; g++) {
            const float *wg = wt + g * pl.mg * pl.k;    /* (mg, K) */
            const float *xg = x + n * in_img + g * pl.cg * pl.w.ih * pl.w.iw;
            float *yg = y + n * out_img + g * pl.mg * pl.p; /* (mg, P) */
            const float *bg = bias ? bias + g * pl.mg : NULL;
            if (pl.kind == CONV_1X1) {
                if (bg)
                    conv_fill_bias(yg, bg, pl.mg, pl.p, pl.p);
                cv_sgemm_clamped(false, false, pl.mg, pl.p, pl.k, 1.0f, wg, pl.k, xg, pl.p, beta, yg, pl.p, c->clamp);
                continue;
            }
            for (int64_t p0 = 0; p0 < pl.p; p0 += pl.tile) {
                int64_t np = pl.p - p0 < pl.tile ? pl.p - p0 : pl.tile;
                cv_window_im2col(c->scratch, xg, &pl.w, pl.cg, p0, np);
                if (bg)
                    conv_fill_bias(yg + p0, bg, pl.mg, np, pl.p);
                cv_sgemm_clamped(false, false, pl.mg, np, pl.k, 1.0f, wg, pl.k, c->scratch, np, beta, yg + p0, pl.p,
                                 c->clamp);
            }
        }
}

/* dx += the forward convolution of dy with the flipped weights wf
 * (conv_choose_flip): per image and group, im2col of dy's mg planes, then
 * dx_g (cg, IH*IW) += wf_g (cg, mg*KH*KW) . columns. */
static void conv_backward_flipped(float *dx, const float *dy, const float *wf, const conv_plan *pl, float *scratch)
{
    int64_t in_px = pl->w.ih * pl->w.iw;
    for (int64_t n = 0; n < pl->n; n++)
        for (int64_t g = 0; g < pl->g; g++) {
            const float *dyg = dy + (n * pl->m + g * pl->mg) * pl->p;
            float *dxg = dx + (n * pl->c + g * pl->cg) * in_px;
            const float *wg = wf + g * pl->cg * pl->bk;
            for (int64_t p0 = 0; p0 < in_px; p0 += pl->btile) {
                int64_t np = in_px - p0 < pl->btile ? in_px - p0 : pl->btile;
                cv_window_im2col(scratch, dyg, &pl->bw, pl->mg, p0, np);
                cv_sgemm(false, false, pl->cg, np, pl->bk, 1.0f, wg, pl->bk, scratch, np, 1.0f, dxg + p0, in_px);
            }
        }
}

static void conv_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    conv_plan pl;
    if (conv_plan_make(c, &pl, NULL) != CV_OK)
        return;
    const float *wt = c->in[1]->f;                      /* (M, cg, KH, KW) */
    const float *dy = c->out[0]->grad;                  /* (N, M, OH, OW) */
    float *dx = c->in[0]->grad;                         /* (N, C, IH, IW) */
    int64_t in_img = pl.c * pl.w.ih * pl.w.iw, out_img = pl.m * pl.p;
    if (pl.kind == CONV_DEPTHWISE) {
        cv_conv_depthwise_backward(dx, dy, wt, &(cv_dw_geom){pl.n, pl.c, pl.m, pl.mg, pl.p, pl.w, NULL});
        return;
    }
    const float *u = pl.wino[1] ? conv_wino_weights(c, &pl, 1) : NULL;
    if (u) {
        /* dx += the transposed convolution of dy: flipped weights, padding 2 - pad */
        cv_wino_conv(dx, dy, u, NULL, &pl.wg[1], true, c->scratch);
        return;
    }
    /* The flipped way takes no scratch of its own (a plan's memory, and so
     * what a max_memory admits, stays the forward's): its tiles fit in what
     * the forward planned, or it is not taken. */
    int64_t fit = pl.flip ? (int64_t)(c->scratch_floats / (size_t)pl.bk) : 0;
    if (fit < pl.btile)
        pl.btile = fit < 64 ? 0 : fit & ~(int64_t)15;
    const float *wf = pl.flip && pl.btile > 0 ? conv_flip_weights(c, &pl) : NULL;
    if (wf) {
        conv_backward_flipped(dx, dy, wf, &pl, c->scratch);
        return;
    }
    for (int64_t n = 0; n < pl.n; n++)
        for (int64_t g = 0; g < pl.g; g++) {
            const float *wg = wt + g * pl.mg * pl.k;    /* (mg, K) */
            const float *dyg = dy + n * out_img + g * pl.mg * pl.p; /* (mg, P) */
            float *dxg = dx + n * in_img + g * pl.cg * pl.w.ih * pl.w.iw;
            if (pl.kind == CONV_1X1) {
                /* dx_g (cg, P) += w_g^T . dy_g; beta = 1 adds */
                cv_sgemm(true, false, pl.k, pl.p, pl.mg, 1.0f, wg, pl.k, dyg, pl.p, 1.0f, dxg, pl.p);
                continue;
            }
            for (int64_t p0 = 0; p0 < pl.p; p0 += pl.tile) {
                int64_t np = pl.p - p0 < pl.tile ? pl.p - p0 : pl.tile;
                cv_sgemm(true, false, pl.k, np, pl.mg, 1.0f, wg, pl.k, dyg + p0, pl.p, 0.0f, c->scratch, np);
                cv_window_col2im_add(dxg, c->scratch, &pl.w, pl.cg, p0, np);
            }
        }
}

static double conv_macs(const cv_op_ctx *c)
{
    conv_plan pl;
    if (conv_plan_make(c, &pl, NULL) != CV_OK)
        return 0.0;
    return (double)pl.n * (double)pl.m * (double)pl.p * (double)pl.k;
}

/* Any convolution recomputes exactly on a zero-padded input window. */
static bool conv_spatial_fit(const cv_op_ctx *c, cv_window *w, float *pad_value)
{
    conv_plan pl;
    if (conv_plan_make(c, &pl, NULL) != CV_OK)
        return false;
    *w = pl.w;
    *pad_value = 0.0f;
    return true;
}

static const cv_op_def conv = {
    .type = "Conv", .init = conv_init, .infer = conv_infer, .forward = conv_forward,
    .backward = conv_backward, .macs = conv_macs, .free_params = conv_free_params,
    .spatial = CV_SPATIAL_WINDOW, .spatial_fit = conv_spatial_fit, .fuses_clamp = true,
};

const cv_op_def *const cv_ops_conv[] = {&conv, NULL};
