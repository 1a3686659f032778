/* The original tool's gradient-ascent step (`--method seed`), to the letter
 * of SEED.md "Program 1" (in the project's shared folder), on one planar image [C][H][W] in
 * model-input values. Used by filters.c; separate so tests can check each
 * piece against NumPy.
 */
#ifndef CV_SEED_H
#define CV_SEED_H

#include <stddef.h>
#include <stdint.h>

/* g /= sqrt(mean(g^2)) + 1e-5 over the n values of one image. */
void cv_seed_normalize(float *g, size_t n);

/* out = 3x3 box mean of each channel plane, borders reflected without
 * repeating the edge (OpenCV blur, BORDER_REFLECT_101). */
void cv_seed_blur3(float *out, const float *in, int c, int h, int w);

/* numpy.percentile(v, q) (linear interpolation) of n values; reorders v. */
double cv_seed_percentile(float *v, size_t n, double q);

/* One iteration in place: y = x + 0.9 g (g already normalised);
 * r = 3/7 blur(y) + 3/7 (0.8 y) + 1/7 clip(y), clip zeroing entries with
 * |y| below the 1st percentile of |y|; x = r - x.
 * work: at least 2 c h w floats. */
void cv_seed_step(float *x, const float *g, int c, int h, int w, float *work);

/* The original's deprocess of one image of n values:
 * (x - mean) / (std + 1e-5) * 0.1 + 0.5, clipped to [0, 1], times 255,
 * truncated to uint8 (numpy's astype). out[i] corresponds to x[i]. */
void cv_seed_deprocess(uint8_t *out, const float *x, size_t n);

#endif
