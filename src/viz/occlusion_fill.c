/* What the occluder shows: writing it into an image (occ_apply_window),
 * and the fills a caller can choose besides a constant: the image's mean
 * colour and a Gaussian-blurred copy.
 */
#include "occlusion_engine.h"
#include <math.h>
#include <stdlib.h>

void occ_apply_window(float *x, const occ_window *w, const cv_occlusion_geometry *g, const float *fill,
                      const float *fill_value)
{
    const int C = g->channels, H = g->height, W = g->width;
    for (int c = 0; c < C; c++)
        for (int y = w->y0; y < w->y1; y++)
            for (int xx = w->x0; xx < w->x1; xx++) {
                size_t k = g->nhwc ? ((size_t)y * W + xx) * C + c : ((size_t)c * H + y) * W + xx;
                x[k] = fill ? fill[k] : fill_value[c];
            }
}

void cv_occlusion_fill_mean(float value[CV_OCCLUSION_MAX_CHANNELS], const float *image,
                            const cv_occlusion_geometry *g)
{
    const size_t hw = (size_t)g->height * (size_t)g->width;
    for (int c = 0; c < CV_OCCLUSION_MAX_CHANNELS; c++) {
        if (c >= g->channels) {
            value[c] = 0;
            continue;
        }
        double sum = 0;
        for (size_t k = 0; k < hw; k++)
            sum += image[g->nhwc ? k * (size_t)g->channels + (size_t)c : (size_t)c * hw + k];
        value[c] = (float)(sum / (double)hw);
    }
}

cv_status cv_occlusion_fill_blur(float *out, const float *image, const cv_occlusion_geometry *g, double sigma,
                                 cv_error *err)
{
    if (!(sigma > 0) || sigma > 1e4)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: blur sigma must be in (0, 1e4], got %g", sigma);
    const int C = g->channels, H = g->height, W = g->width;
    const int radius = (int)ceil(3 * sigma);
    const size_t hw = (size_t)H * (size_t)W;
    double *kern = malloc(sizeof(double) * (size_t)(2 * radius + 1));
    double *tmp = malloc(sizeof(double) * hw); /* [H x W] one channel after the row pass */
    if (!kern || !tmp) {
        free(kern);
        free(tmp);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for the blur");
    }
    double ksum = 0;
    for (int d = -radius; d <= radius; d++)
        ksum += kern[d + radius] = exp(-0.5 * d * d / (sigma * sigma));
    for (int d = 0; d <= 2 * radius; d++)
        kern[d] /= ksum;
    /* Element (c, y, x) of either layout. */
#define AT(c, y, x) (g->nhwc ? ((size_t)(y) * W + (x)) * C + (c) : (size_t)(c) * hw + (size_t)(y) * W + (x))
    for (int c = 0; c < C; c++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = 0;
                for (int d = -radius; d <= radius; d++)
                    s += kern[d + radius] * image[AT(c, y, occ_reflect101(x + d, W))];
                tmp[(size_t)y * W + x] = s;
            }
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double s = 0;
                for (int d = -radius; d <= radius; d++)
                    s += kern[d + radius] * tmp[(size_t)occ_reflect101(y + d, H) * W + x];
                out[AT(c, y, x)] = (float)s;
            }
    }
#undef AT
    free(kern);
    free(tmp);
    return CV_OK;
}
