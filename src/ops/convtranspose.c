/* ConvTranspose (ONNX, opsets 1-17): 2-D transposed convolution, and 1-D
 * as 2-D with height 1. 3-D is refused.
 *
 *   x (N, C, IH, IW), w (C, M/group, KH, KW), optional b (M) -> y (N, M, OH, OW)
 *   y[n, g*mg + m, iy*SH - PT + ki*DH, ix*SW - PL + kj*DW] += x[n, c, iy, ix] * w[c, m, ki, kj]
 * for c in group g (cg = C/group input channels, mg = M/group output
 * channels per group), plus b[m] everywhere. It is the adjoint (the input
 * gradient) of a Conv from y-space to x-space with the same strides,
 * dilations and pads; the geometry below is that Conv's, in a cv_window
 * whose "input" is y (ih = OH, iw = OW) and whose "output" is x.
 *
 * Output size per axis, with keff = (K - 1) D + 1 and
 * full = S (I - 1) + output_padding + keff:
 * - explicit pads: O = full - pad_begin - pad_end;
 * - output_shape given: O = output_shape, total = full - O split as
 *   ONNX says: SAME_UPPER -> begin = total // 2, else begin = total -
 *   total // 2 (floor division, as ONNX's reference; a negative total,
 *   an output larger than `full`, is zero rows added — at the end for -1);
 * - auto_pad SAME_UPPER / SAME_LOWER: O = I S, split likewise;
 * - VALID: no pads, O = full.
 *
 * Forward, per image and group: col (K, tile) = w_g^T . x_g[:, tile]
 * (sgemm, K = mg*KH*KW), then col2im adds col into y. Backward to the
 * input is the Conv: dx_g += w_g . im2col(dy_g). The column matrix is
 * tiled over x's pixels so that it stays within CT_COL_TILE_FLOATS.
 * Gradients with respect to w and b are not computed: they must be
 * constants, which infer checks.
 */
#include "../core/blas.h"
#include "../core/graph.h"
#include "window.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Column tile, in floats (8 MiB), as Conv's. */
#define CT_COL_TILE_FLOATS ((int64_t)1 << 21)

typedef struct {
    cv_window_attrs win;     /* kernel_shape, strides, dilations, pads, auto_pad */
    int64_t group;
    int n_outpad, n_outshape;
    int64_t outpad[2];
    int64_t outshape[2];     /* spatial output_shape (the N, C prefix dropped) */
} ct_params;

typedef struct {
    int64_t n, c, m;         /* batch, input channels, output channels */
    int64_t g, cg, mg;       /* groups, input and output channels per group */
    cv_window w;             /* the adjoint Conv's geometry: ih, iw = OH, OW; oh, ow = IH, IW */
    int64_t k;               /* rows of the column matrix: mg*KH*KW */
    int64_t p;               /* pixels of one x plane: IH*IW */
    int64_t tile;            /* x pixels per column tile */
} ct_plan;

static cv_status ct_init(cv_node *node, const cv_model *m, cv_error *err)
{
    ct_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    node->params = p;
    if (node->n_in < 2 || node->n_in > 3 || node->in[0] < 0 || node->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs X, W and an optional B, got %d inputs", node->n_in);
    cv_status st = cv_window_parse(node, &p->win, false, true, false, err);
    if (st != CV_OK)
        return st;
    p->group = cv_attr_int(node, "group", 1);
    if (p->group < 1)
        return cv_fail(err, CV_ERR_INVALID, "attribute 'group' = %lld, expected >= 1", (long long)p->group);
    int64_t tmp[8];
    int k = cv_attr_ints(node, "output_padding", tmp, 8);
    if (k > 2)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "attribute 'output_padding' has %d entries: only 1-D and 2-D are supported", k);
    p->n_outpad = k < 0 ? 0 : k;
    for (int i = 0; i < p->n_outpad; i++) {
        if (tmp[i] < 0 || tmp[i] > (1 << 20))
            return cv_fail(err, CV_ERR_INVALID, "output_padding entry %d is %lld, expected 0 or more", i, (long long)tmp[i]);
        p->outpad[i] = tmp[i];
    }
    k = cv_attr_ints(node, "output_shape", tmp, 8);
    if (k > 4)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "attribute 'output_shape' has %d entries: only 1-D and 2-D are supported", k);
    p->n_outshape = k < 0 ? 0 : k;
    for (int i = 0; i < p->n_outshape; i++) {
        if (tmp[i] < 1 || tmp[i] > ((int64_t)1 << 30))
            return cv_fail(err, CV_ERR_INVALID, "output_shape entry %d is %lld, expected a positive size", i,
                           (long long)tmp[i]);
        p->outshape[i] = tmp[i];
    }
    return CV_OK;
}

/* Floor division (Python's //), for pad splits that may be negative. */
static int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* One spatial axis: output size and pads. */
static cv_status ct_axis(const ct_params *p, int i, int nsp, int64_t in, int64_t k, int64_t s, int64_t d,
                         int64_t *out, int64_t *pb, int64_t *pe, const char *xs, cv_error *err)
{
    int64_t keff = (k - 1) * d + 1;
    int64_t full = s * (in - 1) + (p->n_outpad ? p->outpad[i] : 0) + keff;
    const cv_window_attrs *a = &p->win;
    int64_t o, total;
    if (p->n_outshape || a->auto_pad == CV_AUTO_PAD_SAME_UPPER || a->auto_pad == CV_AUTO_PAD_SAME_LOWER) {
        o = p->n_outshape ? p->outshape[p->n_outshape - nsp + i] : in * s;
        total = full - o;
        int64_t half = floor_div2(total);
        *pb = a->auto_pad == CV_AUTO_PAD_SAME_UPPER ? half : total - half;
        *pe = total - *pb;
    } else if (a->auto_pad == CV_AUTO_PAD_VALID) {
        *pb = *pe = 0;
        o = full;
    } else {
        *pb = a->n_pads ? a->pads[i] : 0;
        *pe = a->n_pads ? a->pads[nsp + i] : 0;
        o = full - *pb - *pe;
    }
    if (o < 1)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: output size %lld along spatial axis %d (pads %lld+%lld) is empty",
                       xs, (long long)o, i, (long long)*pb, (long long)*pe);
    /* so that products of two sides (pixel counts) stay within int64 */
    if (o > INT_MAX)
        return cv_fail(err, CV_ERR_LIMIT, "input %s: output size %lld along spatial axis %d is too large", xs,
                       (long long)o, i);
    *out = o;
    return CV_OK;
}

/* Check the shapes and resolve the geometry. Called by infer (which
 * reports errors) and by forward/backward (which cannot fail then). */
static cv_status ct_plan_make(const cv_op_ctx *c, ct_plan *pl, cv_error *err)
{
    const ct_params *p = c->params;
    const cv_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    char xs[160] = "", ws[160] = "", bs[160] = "";
    if (x->dtype != CV_F32 || w->dtype != CV_F32 || (b && b->dtype != CV_F32))
        return cv_fail(err, CV_ERR_INVALID, "expects float32 inputs");
    if (err) {
        cv_shape_str(&x->shape, xs, sizeof xs);
        cv_shape_str(&w->shape, ws, sizeof ws);
    }
    if (x->shape.ndim == 5)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "input %s: 3-D transposed convolution is not supported", xs);
    if (x->shape.ndim < 3 || x->shape.ndim > 4)
        return cv_fail(err, CV_ERR_SHAPE, "input %s: expected (N, C, H, W) or (N, C, L)", xs);
    if (w->shape.ndim != x->shape.ndim)
        return cv_fail(err, CV_ERR_SHAPE, "weights %s do not match input %s: expected %d dimensions", ws, xs,
                       x->shape.ndim);
    int nsp = x->shape.ndim - 2;
    const cv_window_attrs *a = &p->win;
    if ((a->n_kernel && a->n_kernel != nsp) || (a->n_strides && a->n_strides != nsp) || (a->n_dil && a->n_dil != nsp) ||
        (a->n_pads && a->n_pads != 2 * nsp) || (p->n_outpad && p->n_outpad != nsp) ||
        (p->n_outshape && p->n_outshape != nsp && p->n_outshape != nsp + 2))
        return cv_fail(err, CV_ERR_SHAPE,
                       "input %s has %d spatial axes; the attributes disagree (kernel_shape %d, strides %d, "
                       "dilations %d, pads %d, output_padding %d, output_shape %d entries)",
                       xs, nsp, a->n_kernel, a->n_strides, a->n_dil, a->n_pads, p->n_outpad, p->n_outshape);
    memset(pl, 0, sizeof *pl);
    pl->n = x->shape.d[0];
    pl->c = x->shape.d[1];
    pl->g = p->group;
    if (w->shape.d[0] != pl->c)
        return cv_fail(err, CV_ERR_SHAPE, "weights %s: expected %lld input channels (input %s) first", ws,
                       (long long)pl->c, xs);
    if (pl->c % pl->g != 0)
        return cv_fail(err, CV_ERR_SHAPE, "input %s has %lld channels, not divisible by group %lld", xs,
                       (long long)pl->c, (long long)pl->g);
    pl->cg = pl->c / pl->g;
    pl->mg = w->shape.d[1];
    if (pl->mg < 1)
        return cv_fail(err, CV_ERR_SHAPE, "weights %s have no output channels", ws);
    /* bound both factors first: a hostile group (with an empty input, any
     * group divides 0 channels) times the weights' count overflows int64 */
    if (pl->mg > INT_MAX || pl->g > INT_MAX || pl->mg * pl->g > INT_MAX)
        return cv_fail(err, CV_ERR_LIMIT, "weights %s with group %lld give too many output channels", ws,
                       (long long)pl->g);
    pl->m = pl->mg * pl->g;
    if (b && (b->shape.ndim != 1 || b->shape.d[0] != pl->m))
        return cv_fail(err, CV_ERR_SHAPE, "bias %s does not match weights %s: expected [%lld]",
                       cv_shape_str(&b->shape, bs, sizeof bs), ws, (long long)pl->m);
    cv_window *g = &pl->w;
    const int64_t *kd = &w->shape.d[2];
    for (int i = 0; i < nsp; i++)
        if (a->n_kernel && a->kernel[i] != kd[i])
            return cv_fail(err, CV_ERR_SHAPE, "kernel_shape entry %d is %lld but the weights have %lld", i,
                           (long long)a->kernel[i], (long long)kd[i]);
    /* axis i of the attributes is H for 2-D, W for the last */
    int64_t in[2] = {nsp == 2 ? x->shape.d[2] : 1, x->shape.d[x->shape.ndim - 1]};
    int64_t k[2] = {nsp == 2 ? kd[0] : 1, kd[nsp - 1]};
    int64_t s[2] = {1, 1}, d[2] = {1, 1}, o[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0};
    for (int i = 0; i < nsp; i++) {
        int ax = nsp == 2 ? i : 1;
        if (a->n_strides)
            s[ax] = a->strides[i];
        if (a->n_dil)
            d[ax] = a->dil[i];
        if (k[ax] < 1)
            return cv_fail(err, CV_ERR_SHAPE, "weights %s: empty kernel", ws);
        cv_status st = ct_axis(p, i, nsp, in[ax], k[ax], s[ax], d[ax], &o[ax], &pb[ax], &pe[ax], xs, err);
        if (st != CV_OK)
            return st;
    }
    g->ih = o[0];
    g->iw = o[1];
    g->oh = in[0];
    g->ow = in[1];
    g->kh = k[0];
    g->kw = k[1];
    g->sh = s[0];
    g->sw = s[1];
    g->dh = d[0];
    g->dw = d[1];
    g->pt = pb[0];
    g->pl = pb[1];
    g->pb = pe[0];
    g->pr = pe[1];
    pl->k = pl->mg * g->kh * g->kw;
    pl->p = g->oh * g->ow;
    pl->tile = pl->p;
    if (pl->k * pl->p > CT_COL_TILE_FLOATS) {
        pl->tile = CT_COL_TILE_FLOATS / pl->k;
        pl->tile = pl->tile < 64 ? 64 : pl->tile & ~(int64_t)15;
        if (pl->tile > pl->p)
            pl->tile = pl->p;
    }
    return CV_OK;
}

static cv_status ct_infer(cv_op_ctx *c, cv_error *err)
{
    ct_plan pl;
    cv_status st = ct_plan_make(c, &pl, err);
    if (st != CV_OK)
        return st;
    if (!c->in_static[1] || (c->n_in > 2 && c->in[2] && !c->in_static[2]))
        return cv_fail(err, CV_ERR_UNSUPPORTED, "weights or bias computed from the input are not supported");
    if (pl.p > INT_MAX || pl.k > INT_MAX || pl.cg > INT_MAX || pl.w.ih * pl.w.iw > INT_MAX)
        return cv_fail(err, CV_ERR_LIMIT, "transposed convolution of %lld pixels x %lld taps is too large",
                       (long long)pl.p, (long long)pl.k);
    cv_tensor *y = c->out[0];
    y->dtype = CV_F32;
    y->shape = c->in[0]->shape;
    y->shape.d[1] = pl.m;
    if (y->shape.ndim == 4)
        y->shape.d[2] = pl.w.ih;
    y->shape.d[y->shape.ndim - 1] = pl.w.iw;
    c->scratch_floats = (size_t)(pl.k * pl.tile);
    return CV_OK;
}



static void ct_forward(cv_op_ctx *c)
{
    ct_plan pl;
    if (ct_plan_make(c, &pl, NULL) != CV_OK)
        return; /* unreachable: infer accepted these shapes */
    const float *x = c->in[0]->f;                                   /* (N, C, IH, IW) */
    const float *wt = c->in[1]->f;                                  /* (C, mg, KH, KW) */
    const float *bias = c->n_in > 2 && c->in[2] ? c->in[2]->f : NULL; /* (M) */
    float *y = c->out[0]->f;                                        /* (N, M, OH, OW) */
    int64_t ohw = pl.w.ih * pl.w.iw;
    for (int64_t q = 0; q < pl.n * pl.m; q++) {
        float v = bias ? bias[q % pl.m] : 0.0f, *yp = y + q * ohw;
        for (int64_t t = 0; t < ohw; t++)
            yp[t] = v;
    }
    for (int64_t n = 0; n < pl.n; n++)
        for (int64_t g = 0; g < pl.g; g++) {
            const float *wg = wt + g * pl.cg * pl.k;                 /* (cg, K) */
            const float *xg = x + (n * pl.c + g * pl.cg) * pl.p;     /* (cg, P) */
            float *yg = y + (n * pl.m + g * pl.mg) * ohw;            /* (mg, OH, OW) */
            for (int64_t p0 = 0; p0 < pl.p; p0 += pl.tile) {
                int64_t np = pl.p - p0 < pl.tile ? pl.p - p0 : pl.tile;
                cv_sgemm(true, false, pl.k, np, pl.cg, 1.0f, wg, pl.k, xg + p0, pl.p, 0.0f, c->scratch, np);
                cv_window_col2im_add(yg, c->scratch, &pl.w, pl.mg, p0, np);
            }
        }
}

static void ct_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    ct_plan pl;
    if (ct_plan_make(c, &pl, NULL) != CV_OK)
        return;
    const float *wt = c->in[1]->f;                                  /* (C, mg, KH, KW) */
    const float *dy = c->out[0]->grad;                              /* (N, M, OH, OW) */
    float *dx = c->in[0]->grad;                                     /* (N, C, IH, IW) */
    int64_t ohw = pl.w.ih * pl.w.iw;
    for (int64_t n = 0; n < pl.n; n++)
        for (int64_t g = 0; g < pl.g; g++) {
            const float *wg = wt + g * pl.cg * pl.k;                 /* (cg, K) */
            const float *dyg = dy + (n * pl.m + g * pl.mg) * ohw;    /* (mg, OH, OW) */
            float *dxg = dx + (n * pl.c + g * pl.cg) * pl.p;         /* (cg, P) */
            for (int64_t p0 = 0; p0 < pl.p; p0 += pl.tile) {
                int64_t np = pl.p - p0 < pl.tile ? pl.p - p0 : pl.tile;
                cv_window_im2col(c->scratch, dyg, &pl.w, pl.mg, p0, np);
                /* dx_g[:, tile] += w_g . col; beta = 1 adds */
                cv_sgemm(false, false, pl.cg, np, pl.k, 1.0f, wg, pl.k, c->scratch, np, 1.0f, dxg + p0, pl.p);
            }
        }
}

static double ct_macs(const cv_op_ctx *c)
{
    ct_plan pl;
    if (ct_plan_make(c, &pl, NULL) != CV_OK)
        return 0.0;
    return (double)pl.n * (double)pl.c * (double)pl.p * (double)pl.k;
}

static const cv_op_def convtranspose = {
    .type = "ConvTranspose", .init = ct_init, .infer = ct_infer, .forward = ct_forward,
    .backward = ct_backward, .macs = ct_macs,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_convtranspose[] = {&convtranspose, NULL};
