/* Comparing two maps (an approximate one against the exact one): mean and
 * largest absolute difference, and SSIM as scikit-image computes it.
 */
#include "cnnviz_occlusion.h"
#include "../core/graph.h"
#include <math.h>
#include <stddef.h>

/* SSIM as scikit-image's structural_similarity with its defaults (the
 * definition is in the header). Direct sums per window: maps have a few
 * thousand positions, so O(rows * cols * 49) is nothing. */
static double ssim(const double *x, const double *y, int rows, int cols)
{
    const double K1 = 0.01, K2 = 0.03;
    double lo = y[0], hi = y[0];
    for (size_t k = 1; k < (size_t)rows * cols; k++) {
        lo = fmin(lo, y[k]);
        hi = fmax(hi, y[k]);
    }
    double L = hi > lo ? hi - lo : 1.0;
    double C1 = (K1 * L) * (K1 * L), C2 = (K2 * L) * (K2 * L);
    int wh = rows < 7 ? rows : 7, ww = cols < 7 ? cols : 7;
    double np = (double)wh * ww;
    double cov_norm = np > 1 ? np / (np - 1) : 1.0; /* sample covariance, as skimage */
    double sum = 0;
    long windows = 0;
    for (int i = 0; i + wh <= rows; i++)
        for (int j = 0; j + ww <= cols; j++) {
            double mx = 0, my = 0;
            for (int a = 0; a < wh; a++)
                for (int b = 0; b < ww; b++) {
                    mx += x[(size_t)(i + a) * cols + j + b];
                    my += y[(size_t)(i + a) * cols + j + b];
                }
            mx /= np;
            my /= np;
            double vx = 0, vy = 0, cxy = 0;
            for (int a = 0; a < wh; a++)
                for (int b = 0; b < ww; b++) {
                    double dx = x[(size_t)(i + a) * cols + j + b] - mx, dy = y[(size_t)(i + a) * cols + j + b] - my;
                    vx += dx * dx;
                    vy += dy * dy;
                    cxy += dx * dy;
                }
            vx = vx / np * cov_norm;
            vy = vy / np * cov_norm;
            cxy = cxy / np * cov_norm;
            sum += (2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
            windows++;
        }
    return sum / (double)windows;
}

cv_status cv_occlusion_compare(const double *map, const double *ref, int rows, int cols,
                               cv_occlusion_map_error *out, cv_error *err)
{
    if (rows < 1 || cols < 1 || (size_t)rows * (size_t)cols > (size_t)1 << 28)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: cannot compare %d x %d maps", rows, cols);
    const size_t n = (size_t)rows * cols;
    double sum = 0, mx = 0;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(map[k]) || !isfinite(ref[k]))
            return cv_fail(err, CV_ERR_INVALID, "occlusion: map value %zu is not finite (%g vs %g)", k, map[k],
                           ref[k]);
        double d = fabs(map[k] - ref[k]);
        sum += d;
        mx = fmax(mx, d);
    }
    out->mae = sum / (double)n;
    out->max_abs = mx;
    out->ssim = ssim(map, ref, rows, cols);
    return CV_OK;
}
