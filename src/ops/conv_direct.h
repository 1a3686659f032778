/* Direct convolution for few input channels (conv_direct.c), called by
 * conv.c: the first layer of an image model, on RGB or grey input.
 *
 * There im2col's column matrix has only C*KH*KW rows (ResNet's 7x7/2 stem
 * 147, VGG's 3x3 27, MobileNet's 3x3/2 27), and sgemm, which packs its
 * operands for an inner dimension of hundreds, ran the ResNet18 stem at
 * 37-52 GMAC/s on 2 Zen 5 cores where oneDNN's direct kernel reaches 131
 * (PyTorch 1.13's profiler, same run). This kernel keeps 16 output
 * pixels of one channel per vector and a block of channels x pixels in
 * registers: each weight, broadcast once, feeds a row of the block, and
 * each input vector a column.
 *
 *   y[n, m, oy, ox] = clamp(b[m] + sum_{c, a, b} w[m, c, a, b] *
 *                     x[n, c, oy*SH - PT + a*DH, ox*SW - PL + b*DW])
 * summed in the order c, a, b (as the naive loop and im2col do), x zero
 * outside its bounds. One group only.
 */
#ifndef CV_OPS_CONV_DIRECT_H
#define CV_OPS_CONV_DIRECT_H
#include "window.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t n, c, m;                 /* images, input channels, output channels */
    cv_window w;                     /* resolved geometry (2-D) */
    const struct cv_clamp *clamp;    /* optional: store clamp(y) (a folded Relu or Clip) */
} cv_direct_geom;

/* Whether the kernel takes g (conv.c also asks for one group and a kernel
 * other than a plain 1x1): at most CV_DIRECT_MAX_CHANNELS input channels,
 * and strides, dilations and sizes that bound its scratch. */
#define CV_DIRECT_MAX_CHANNELS 4
bool cv_conv_direct_fits(const cv_direct_geom *g);

/* Floats of scratch for `threads` threads. */
size_t cv_conv_direct_scratch_floats(const cv_direct_geom *g, int threads);

/* y (N, M, OH, OW) = the convolution above, w (M, C, KH, KW) as the model
 * has it, bias (M) or NULL. Uses as many threads as scratch_floats holds. */
void cv_conv_direct_forward(float *y, const float *x, const float *w, const float *bias, const cv_direct_geom *g,
                            float *scratch, size_t scratch_floats);

#endif
