/* Depthwise convolution kernels (conv_depthwise.c), called by conv.c. */
#ifndef CV_OPS_CONV_DEPTHWISE_H
#define CV_OPS_CONV_DEPTHWISE_H
#include "window.h"
#include <stdint.h>

/* What the kernels need of conv.c's plan (the same names). */
typedef struct {
    int64_t n, c, m;  /* batch, input channels, output channels */
    int64_t mg;       /* output channels per input channel (m / c) */
    int64_t p;        /* output pixels per image: OH*OW */
    cv_window w;      /* resolved geometry (2-D) */
    /* forward, optional: store clamp(y), each plane as it is made (a Relu
     * or Clip folded into the Conv: cv_op_ctx.clamp) */
    const struct cv_clamp *clamp;
} cv_dw_geom;

/* y (N, M, OH, OW) = depthwise-conv(x (N, C, IH, IW), wt (M, 1, KH, KW)) + bias (M, or NULL) */
void cv_conv_depthwise_forward(float *y, const float *x, const float *wt, const float *bias, const cv_dw_geom *pl);
/* dx (N, C, IH, IW) += depthwise-conv^T(dy (N, M, OH, OW)) */
void cv_conv_depthwise_backward(float *dx, const float *dy, const float *wt, const cv_dw_geom *pl);

#endif
