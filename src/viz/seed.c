/* The original tool's gradient-ascent iteration and deprocess; see seed.h.
 * The one deliberate difference from its code: the blur is spatial, per
 * channel (the original's transpose made it mix rows with colour channels). */
#include "seed.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cv_seed_normalize(float *g, size_t n)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    float inv = (float)(1.0 / (sqrt(ss / (double)(n ? n : 1)) + 1e-5));
    for (size_t i = 0; i < n; i++)
        g[i] *= inv;
}

/* BORDER_REFLECT_101: -1 -> 1, n -> n - 2 (n == 1: 0). */
static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

void cv_seed_blur3(float *out, const float *in, int c, int h, int w)
{
    for (int ch = 0; ch < c; ch++) {
        const float *p = in + (size_t)ch * h * w;
        float *o = out + (size_t)ch * h * w;
        for (int y = 0; y < h; y++) {
            const float *rows[3];
            for (int d = -1; d <= 1; d++)
                rows[d + 1] = p + (size_t)reflect101(y + d, h) * w;
            for (int x = 0; x < w; x++) {
                int xl = reflect101(x - 1, w), xr = reflect101(x + 1, w);
                double s = 0;
                for (int r = 0; r < 3; r++)
                    s += (double)rows[r][xl] + rows[r][x] + rows[r][xr];
                o[(size_t)y * w + x] = (float)(s / 9.0);
            }
        }
    }
}

/* k-th smallest of v[0..n) (0-based), reordering v so that everything
 * after position k is >= it (Hoare quickselect). */
static float select_kth(float *v, size_t n, size_t k)
{
    long lo = 0, hi = (long)n - 1, kk = (long)k;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break; /* v[j+1..i-1] all equal the pivot */
    }
    return v[kk];
}

double cv_seed_percentile(float *v, size_t n, double q)
{
    if (n == 0)
        return 0.0;
    double rank = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(rank);
    if (lo >= n - 1)
        return select_kth(v, n, n - 1);
    double t = rank - (double)lo;
    double a = select_kth(v, n, lo);
    /* After selection everything right of lo is >= v[lo]: the next order
     * statistic is the smallest of them. */
    float b = v[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        if (v[i] < b)
            b = v[i];
    /* numpy's _lerp: interpolate from the nearer end. */
    return t < 0.5 ? a + (b - a) * t : b - (b - a) * (1.0 - t);
}

void cv_seed_step(float *x, const float *g, int c, int h, int w, float *work)
{
    size_t n = (size_t)c * h * w;
    float *y = work, *tmp = work + n;
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] + g[i] * 0.9f;
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabsf(y[i]);
    float thr = (float)cv_seed_percentile(tmp, n, 1.0);
    cv_seed_blur3(tmp, y, c, h, w);
    /* The weights as the original computes them: float32 [3, 3, 1] / 7. */
    const float w_blur = 3.0f / 7.0f, w_decay = 3.0f / 7.0f, w_clip = 1.0f / 7.0f;
    for (size_t i = 0; i < n; i++) {
        float clip = fabsf(y[i]) < thr ? 0.0f : y[i];
        float r = w_blur * tmp[i] + w_decay * (0.8f * y[i]) + w_clip * clip;
        /* "subtract the original": the current image, as the original code does */
        x[i] = r - x[i];
    }
}

void cv_seed_deprocess(uint8_t *out, const float *x, size_t n)
{
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        var += ((double)x[i] - mean) * ((double)x[i] - mean);
    double sd = sqrt(var / (double)(n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        double v = ((double)x[i] - mean) / (sd + 1e-5) * 0.1 + 0.5;
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        out[i] = (uint8_t)(v * 255.0); /* truncation, as numpy's astype('uint8') */
    }
}
