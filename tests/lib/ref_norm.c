/* Naive BatchNormalization (inference) and LRN. */
#include "ref.h"
#include <math.h>
#include <stddef.h>

void ref_batchnorm(float *y, const float *x, const float *scale, const float *bias, const float *mean,
                   const float *var, float eps, int n, int len, int inner)
{
    for (int b = 0; b < n; b++)
        for (int k = 0; k < len; k++)
            for (int s = 0; s < inner; s++) {
                size_t i = ((size_t)b * len + k) * inner + s;
                y[i] = (float)(((double)x[i] - mean[k]) / sqrt((double)var[k] + eps) * scale[k] + bias[k]);
            }
}

void ref_lrn(float *y, const float *x, int n, int c, int s, int size, float alpha, float beta, float bias)
{
    int lo = (size - 1) / 2, hi = (size - 1 + 1) / 2; /* floor and ceil of (size-1)/2 */
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < s; p++) {
                double sq = 0;
                for (int i = ch - lo; i <= ch + hi; i++)
                    if (i >= 0 && i < c) {
                        double v = x[((size_t)b * c + i) * s + p];
                        sq += v * v;
                    }
                size_t k = ((size_t)b * c + ch) * s + p;
                y[k] = (float)(x[k] / pow(bias + alpha / size * sq, beta));
            }
}
