/* Winograd F(4x4, 3x3): 3x3 convolution, stride 1, no dilation, one group,
 * computed as 36 small matrix products in the transformed
 * domain (2.25 multiplications per output instead of 9). Used by conv.c
 * for forward and, with flipped and transposed weights, for backward to
 * the input.
 *
 *   y (N, M, OH, OW) = [y +] bias + conv3x3(x (N, C, IH, IW), w)
 * with the input zero outside [0, IH) x [0, IW), the window of output
 * (oy, ox) starting at input (oy - pt, ox - pl), and any OH, OW (they fix
 * the bottom and right padding).
 *
 * The three phases (input transform, products, output transform) run as
 * OpenMP loops; none calls BLAS.
 */
#ifndef CV_OPS_WINOGRAD_H
#define CV_OPS_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t n;             /* images */
    int64_t c, m;          /* input and output channels */
    int64_t ih, iw;        /* input size */
    int64_t oh, ow;        /* output size */
    int64_t pt, pl;        /* top and left padding */
    /* Optional, per image: only output rows [0, vr[i]) and columns
     * [0, vc[i]) are wanted (incremental occlusion's windows, whose sizes
     * differ per position); the rest of y may be left as it was. NULL: all. */
    const int *vr, *vc;
    /* Optional: store clamp(y) (a Relu or Clip folded into the Conv). */
    const struct cv_clamp *clamp;
} cv_wino_geom;

/* Floats of transformed weights for m outputs and c inputs. */
size_t cv_wino_weights_floats(int64_t m, int64_t c);

/* u = the transformed weights of w (M, C, 3, 3). With flip, the weights of
 * the backward-to-input convolution instead: w' (C, M, 3, 3) with
 * w'[c][m][i][j] = w[m][c][2-i][2-j]; then pass m and c as given for w,
 * and use u with a geometry whose c and m are swapped. */
void cv_wino_transform_weights(float *u, const float *w, int64_t m, int64_t c, bool flip);

/* Scratch floats cv_wino_conv needs for geometry g. */
size_t cv_wino_scratch_floats(const cv_wino_geom *g);

/* y = bias + conv (accumulate false; bias may be NULL) or y += conv
 * (accumulate true), for the g->n images. u from cv_wino_transform_weights. */
void cv_wino_conv(float *y, const float *x, const float *u, const float *bias, const cv_wino_geom *g,
                  bool accumulate, float *scratch);

#endif
