/* Naive convolution and pooling: loops straight from the definitions. */
#include "ref.h"
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int axis_out(int in, int pb, int pe, int k, int s, int d, int ceil_mode)
{
    int span = in + pb + pe - ((k - 1) * d + 1);
    if (span < 0)
        return 0;
    int o = (ceil_mode ? (int)ceil((double)span / s) : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + pb)
        o--;
    return o;
}

void ref_out_size(const ref_geom *g, int *oh, int *ow)
{
    *oh = axis_out(g->h, g->pt, g->pb, g->kh, g->sh, g->dh, g->ceil_mode);
    *ow = axis_out(g->w, g->pl, g->pr, g->kw, g->sw, g->dw, g->ceil_mode);
}

void ref_conv2d(float *y, const float *x, const float *w, const float *b, const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    int cg = g->c / g->group, mg = g->m / g->group;
    for (int n = 0; n < g->n; n++)
        for (int m = 0; m < g->m; m++) {
            int grp = m / mg;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = b ? b[m] : 0.0;
                    for (int c = 0; c < cg; c++)
                        for (int ki = 0; ki < g->kh; ki++)
                            for (int kj = 0; kj < g->kw; kj++) {
                                int iy = oy * g->sh - g->pt + ki * g->dh;
                                int ix = ox * g->sw - g->pl + kj * g->dw;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                int ic = grp * cg + c;
                                s += (double)w[((size_t)(m * cg + c) * g->kh + ki) * g->kw + kj] *
                                     x[(((size_t)n * g->c + ic) * g->h + iy) * g->w + ix];
                            }
                    y[(((size_t)n * g->m + m) * oh + oy) * ow + ox] = (float)s;
                }
        }
}

void ref_conv2d_backward_input(float *dx, const float *dy, const float *w, const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    int cg = g->c / g->group, mg = g->m / g->group;
    memset(dx, 0, (size_t)g->n * g->c * g->h * g->w * sizeof(float));
    for (int n = 0; n < g->n; n++)
        for (int m = 0; m < g->m; m++) {
            int grp = m / mg;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    float d = dy[(((size_t)n * g->m + m) * oh + oy) * ow + ox];
                    for (int c = 0; c < cg; c++)
                        for (int ki = 0; ki < g->kh; ki++)
                            for (int kj = 0; kj < g->kw; kj++) {
                                int iy = oy * g->sh - g->pt + ki * g->dh;
                                int ix = ox * g->sw - g->pl + kj * g->dw;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                int ic = grp * cg + c;
                                dx[(((size_t)n * g->c + ic) * g->h + iy) * g->w + ix] +=
                                    d * w[((size_t)(m * cg + c) * g->kh + ki) * g->kw + kj];
                            }
                }
        }
}

void ref_maxpool2d(float *y, int64_t *idx, const float *x, const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    for (int q = 0; q < g->n * g->c; q++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float best = -INFINITY;
                int64_t at = -1;
                for (int ki = 0; ki < g->kh; ki++)
                    for (int kj = 0; kj < g->kw; kj++) {
                        int iy = oy * g->sh - g->pt + ki * g->dh;
                        int ix = ox * g->sw - g->pl + kj * g->dw;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                            continue;
                        int64_t k = ((int64_t)q * g->h + iy) * g->w + ix;
                        if (at < 0 || x[k] > best) {
                            best = x[k];
                            at = k;
                        }
                    }
                size_t o = ((size_t)q * oh + oy) * ow + ox;
                y[o] = best;
                if (idx)
                    idx[o] = at;
            }
}

void ref_avgpool2d(float *y, const float *x, const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    for (int q = 0; q < g->n * g->c; q++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double s = 0;
                int inside = 0, padded = 0;
                for (int ki = 0; ki < g->kh; ki++)
                    for (int kj = 0; kj < g->kw; kj++) {
                        int iy = oy * g->sh - g->pt + ki * g->dh;
                        int ix = ox * g->sw - g->pl + kj * g->dw;
                        if (iy >= -g->pt && iy < g->h + g->pb && ix >= -g->pl && ix < g->w + g->pr)
                            padded++;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                            continue;
                        s += x[((size_t)q * g->h + iy) * g->w + ix];
                        inside++;
                    }
                int count = g->count_include_pad ? padded : inside;
                y[((size_t)q * oh + oy) * ow + ox] = count ? (float)(s / count) : 0.0f;
            }
}

void ref_maxpool2d_backward(float *dx, const float *dy, const float *x, const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    size_t ny = (size_t)g->n * g->c * oh * ow;
    float *y = malloc(ny * sizeof(float));
    int64_t *idx = malloc(ny * sizeof(int64_t));
    ref_maxpool2d(y, idx, x, g);
    memset(dx, 0, (size_t)g->n * g->c * g->h * g->w * sizeof(float));
    for (size_t k = 0; k < ny; k++)
        if (idx[k] >= 0)
            dx[idx[k]] += dy[k];
    free(y);
    free(idx);
}

void ref_avgpool2d_backward(float *dx, const float *dy, const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    memset(dx, 0, (size_t)g->n * g->c * g->h * g->w * sizeof(float));
    for (int q = 0; q < g->n * g->c; q++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int inside = 0, padded = 0;
                for (int pass = 0; pass < 2; pass++)
                    for (int ki = 0; ki < g->kh; ki++)
                        for (int kj = 0; kj < g->kw; kj++) {
                            int iy = oy * g->sh - g->pt + ki * g->dh;
                            int ix = ox * g->sw - g->pl + kj * g->dw;
                            int in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                            if (pass == 0) {
                                padded += iy >= -g->pt && iy < g->h + g->pb && ix >= -g->pl && ix < g->w + g->pr;
                                inside += in;
                            } else if (in) {
                                int count = g->count_include_pad ? padded : inside;
                                dx[((size_t)q * g->h + iy) * g->w + ix] += dy[((size_t)q * oh + oy) * ow + ox] / count;
                            }
                        }
            }
}
