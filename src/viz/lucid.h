/* Building blocks of `--method lucid` (src/viz/lucid.c), each with its exact
 * backward, kept separate from the driver so tests can check them one by one.
 *
 * The image a filter sees is made from free parameters p in four steps:
 *
 *   spectrum  S = scale * p          p: per channel a complex half-spectrum,
 *                                       [H][2K] = real parts | imaginary parts,
 *                                       K = W/2 + 1 (the rfft layout)
 *   pixels    z = irfft2(S)          a real 2-D inverse DFT (numpy's irfft2
 *                                       with s=(H, W)), done as GEMMs with
 *                                       precomputed cos/sin matrices
 *   colour    u = M z                3x3 per pixel: ImageNet colour decorrelation
 *   range     rgb = sigmoid(u)       in (0, 1), RGB, planar [C][H][W]
 *
 * scale = sqrt(H W) / max(|f|, 1 / max(H, W)) / 4 puts 1/f energy in the
 * spectrum, so equal steps on every parameter give natural-looking images.
 *
 * Then each optimisation step warps rgb with a random jitter, scale and
 * rotation (bilinear, grey outside) before the model sees it.
 */
#ifndef CV_LUCID_H
#define CV_LUCID_H

#include "../core/graph.h"
#include "cnnviz_io.h"

/* The colour decorrelation matrix for RGB, column j = eigenvector j of
 * ImageNet's pixel covariance times sqrt(eigenvalue j / eigenvalue 0). */
extern const float cv_lucid_colour[3][3];

typedef struct cv_lucid cv_lucid;

/* Precompute the DFT matrices and the spectrum scale for H x W images with
 * `channels` channels (1: grey, no colour step; 3: RGB). */
cv_status cv_lucid_create(cv_lucid **out, int h, int w, int channels, cv_error *err);
void cv_lucid_free(cv_lucid *l);

/* Parameters of one image (channels * H * 2K floats). */
size_t cv_lucid_num_params(const cv_lucid *l);
/* Floats of work memory one cv_lucid_render/_backward call needs. */
size_t cv_lucid_work_floats(const cv_lucid *l);

/* params -> rgb for one image. rgb: [C][H][W] in (0, 1). */
void cv_lucid_render(const cv_lucid *l, float *rgb, const float *params, float *work);
/* d(params) += J^T d(rgb) for one image; rgb is render's output for the
 * same params (the sigmoid's derivative is read from it). */
void cv_lucid_render_backward(const cv_lucid *l, float *dparams, const float *drgb, const float *rgb,
                              float *work);

/* The 2-D real inverse DFT alone, for one plane: z [H][W] from a half
 * spectrum spec [H][2K] (real | imaginary), no scaling beyond irfft2's 1/(HW).
 * Exposed for the tests that compare it with numpy.fft.irfft2. */
void cv_lucid_irfft2(const cv_lucid *l, float *z, const float *spec, float *work);
/* The spectrum scale, [H][K]. */
const float *cv_lucid_scale(const cv_lucid *l);

/* A random view of the image: the model-input pixel at offset p from the
 * centre samples the image at centre + (dx, dy) + R(angle) p / scale. */
typedef struct {
    float scale;   /* > 1 zooms in */
    float angle;   /* radians */
    float dx, dy;  /* pixels */
} cv_warp;

/* out [C][H][W] = image [C][H][W] seen through t; pixels that fall outside
 * the image read `pad`. Bilinear. */
void cv_warp_forward(float *out, const float *img, int c, int h, int w, const cv_warp *t, float pad);
/* dimg += the transpose of cv_warp_forward applied to dout (pad gets no gradient). */
void cv_warp_backward(float *dimg, const float *dout, int c, int h, int w, const cv_warp *t);

/* rgb [C][H][W] in (0, 1), RGB plane order -> model input [C][H][W] in the
 * channel order fed to the model: x = (255 rgb * pre.scale - mean) / std. */
void cv_lucid_to_input(float *x, const float *rgb, int c, size_t plane, const cv_preprocess *pre);
/* drgb = the transpose of cv_lucid_to_input applied to dx (overwrites drgb). */
void cv_lucid_to_input_backward(float *drgb, const float *dx, int c, size_t plane, const cv_preprocess *pre);

/* Adam (Kingma & Ba) ascent step on n parameters: p += lr * mhat / (sqrt(vhat) + eps).
 * t is the 1-based step number; m, v start at zero. */
void cv_adam_ascent(float *p, float *m, float *v, const float *g, size_t n, int t, float lr);

#endif
