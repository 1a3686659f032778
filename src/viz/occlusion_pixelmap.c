/* A finished map made into pictures: spread back over the input's pixels
 * (cv_occlusion_pixel_map) and the original tool's regularised map
 * (cv_occlusion_regularize).
 */
#include "occlusion_engine.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Window k's span [lo, hi) along one axis (rows, or columns when `across`). */
static void span(const cv_occlusion_geometry *g, int occ, int stride, bool across, int k, int *lo, int *hi)
{
    cv_occlusion_rect r = cv_occlusion_window(g, occ, stride, across ? 0 : k, across ? k : 0);
    *lo = across ? r.x0 : r.y0;
    *hi = across ? r.x1 : r.y1;
}

/* For each pixel coordinate 0..n-1 along one axis (n: H, or W when
 * `across`): the window index k below it and the weight t of window k + 1,
 * interpolating between window centres (lo + hi - 1) / 2 of the clipped
 * windows. */
static void centre_weights(int *k_out, float *t_out, const cv_occlusion_geometry *g, bool across, int count,
                           int occ, int stride)
{
    const int n = across ? g->width : g->height;
    int k = 0;
    for (int y = 0; y < n; y++) {
        double c0, c1;
        for (;;) {
            int a0, b0, a1, b1;
            span(g, occ, stride, across, k, &a0, &b0);
            c0 = (a0 + b0 - 1) / 2.0;
            if (k + 1 >= count) {
                c1 = c0;
                break;
            }
            span(g, occ, stride, across, k + 1, &a1, &b1);
            c1 = (a1 + b1 - 1) / 2.0;
            if (y < c1)
                break;
            k++;
        }
        double t = c1 > c0 ? (y - c0) / (c1 - c0) : 0.0;
        k_out[y] = k;
        t_out[y] = (float)(t < 0 ? 0 : t > 1 ? 1 : t);
    }
}

static cv_status pixel_map_smooth(float *out, const double *map, int rows, int cols, const cv_occlusion_geometry *g,
                                  int occ, int stride, cv_error *err)
{
    const int H = g->height, W = g->width;
    int *ky = malloc(sizeof(int) * (size_t)H), *kx = malloc(sizeof(int) * (size_t)W);
    float *ty = malloc(sizeof(float) * (size_t)H), *tx = malloc(sizeof(float) * (size_t)W);
    if (!ky || !kx || !ty || !tx) {
        free(ky), free(kx), free(ty), free(tx);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for a %d x %d pixel map", H, W);
    }
    centre_weights(ky, ty, g, false, rows, occ, stride);
    centre_weights(kx, tx, g, true, cols, occ, stride);
    for (int y = 0; y < H; y++) {
        int i0 = ky[y], i1 = i0 + 1 < rows ? i0 + 1 : i0;
        for (int x = 0; x < W; x++) {
            int j0 = kx[x], j1 = j0 + 1 < cols ? j0 + 1 : j0;
            double a = map[(size_t)i0 * cols + j0] * (1 - tx[x]) + map[(size_t)i0 * cols + j1] * tx[x];
            double b = map[(size_t)i1 * cols + j0] * (1 - tx[x]) + map[(size_t)i1 * cols + j1] * tx[x];
            out[(size_t)y * W + x] = (float)(a * (1 - ty[y]) + b * ty[y]);
        }
    }
    free(ky), free(kx), free(ty), free(tx);
    return CV_OK;
}

cv_status cv_occlusion_pixel_map(float *out, const double *map, const cv_occlusion_geometry *g, int occ_size,
                                 int stride, int smooth, cv_error *err)
{
    int rows, cols;
    cv_status st = cv_occlusion_grid_size(g, occ_size, stride, &rows, &cols, err);
    if (st != CV_OK)
        return st;
    if (smooth)
        return pixel_map_smooth(out, map, rows, cols, g, occ_size, stride, err);
    const int H = g->height, W = g->width;
    /* Rectangle sums through 2-D difference arrays: O(H*W + rows*cols)
     * instead of O(H*W*occ^2/stride^2). */
    size_t n = (size_t)(H + 1) * (size_t)(W + 1);
    double *sum = calloc(n, sizeof(double)), *cnt = calloc(n, sizeof(double));
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for a %d x %d pixel map", H, W);
    }
#define D(a, y, x) a[(size_t)(y) * (W + 1) + (x)]
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            cv_occlusion_rect r = cv_occlusion_window(g, occ_size, stride, i, j);
            const int y0 = r.y0, y1 = r.y1, x0 = r.x0, x1 = r.x1;
            double v = map[(size_t)i * cols + j];
            D(sum, y0, x0) += v, D(sum, y0, x1) -= v, D(sum, y1, x0) -= v, D(sum, y1, x1) += v;
            D(cnt, y0, x0) += 1, D(cnt, y0, x1) -= 1, D(cnt, y1, x0) -= 1, D(cnt, y1, x1) += 1;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (x > 0) {
                D(sum, y, x) += D(sum, y, x - 1);
                D(cnt, y, x) += D(cnt, y, x - 1);
            }
            if (y > 0) {
                D(sum, y, x) += D(sum, y - 1, x) - (x > 0 ? D(sum, y - 1, x - 1) : 0);
                D(cnt, y, x) += D(cnt, y - 1, x) - (x > 0 ? D(cnt, y - 1, x - 1) : 0);
            }
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double c = D(cnt, y, x);
            out[(size_t)y * W + x] = c > 0.5 ? (float)(D(sum, y, x) / c) : NAN;
        }
#undef D
    free(sum);
    free(cnt);
    return CV_OK;
}

cv_status cv_occlusion_attribution(float *out, const double *map, double base_prob, const cv_occlusion_geometry *g,
                                   int occ_size, int stride, cv_error *err)
{
    /* the mean of base - p over the covering windows is base - (the mean of p) */
    cv_status st = cv_occlusion_pixel_map(out, map, g, occ_size, stride, 0, err);
    if (st != CV_OK)
        return st;
    for (size_t k = 0; k < (size_t)g->height * g->width; k++)
        out[k] = isnan(out[k]) ? 0.0f : (float)(base_prob - out[k]);
    return CV_OK;
}

/* ---- the regularised map ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cv_status cv_occlusion_regularize(double *out, const double *map, int rows, int cols, int norm,
                                  double percentile, cv_error *err)
{
    if (rows < 1 || cols < 1)
        return cv_fail(err, CV_ERR_INVALID, "occlusion: cannot regularise an empty %d x %d map", rows, cols);
    if (!(percentile >= 0 && percentile <= 100))
        return cv_fail(err, CV_ERR_INVALID, "occlusion: percentile must be in [0, 100], got %g", percentile);
    const size_t n = (size_t)rows * (size_t)cols;
    double *x = malloc(n * sizeof(double)), *sorted = malloc(n * sizeof(double));
    if (!x || !sorted) {
        free(x);
        free(sorted);
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    }
    memcpy(x, map, n * sizeof(double));
    if (norm) { /* as the original's deprocess */
        double mean = 0, var = 0;
        for (size_t k = 0; k < n; k++)
            mean += x[k];
        mean /= (double)n;
        for (size_t k = 0; k < n; k++)
            var += (x[k] - mean) * (x[k] - mean);
        double sd = sqrt(var / (double)n);
        for (size_t k = 0; k < n; k++) {
            double v = (x[k] - mean) / (sd + 1e-5) * 0.1 + 0.5;
            x[k] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
    for (size_t k = 0; k < n; k++)
        sorted[k] = fabs(x[k]);
    qsort(sorted, n, sizeof(double), cmp_double);
    /* numpy.percentile's default (linear) interpolation between ranks. */
    double pos = percentile / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : n - 1;
    double thresh = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
    for (size_t k = 0; k < n; k++)
        x[k] = fabs(x[k]) < thresh ? 1.0 : 1.0 - x[k]; /* zeroed, then 1 - x */
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double s = 0;
            for (int di = -1; di <= 1; di++)
                for (int dj = -1; dj <= 1; dj++)
                    s += x[(size_t)occ_reflect101(i + di, rows) * cols + occ_reflect101(j + dj, cols)];
            out[(size_t)i * cols + j] = s / 9.0;
        }
    free(x);
    free(sorted);
    return CV_OK;
}
