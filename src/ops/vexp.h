/* e^x in a form compilers vectorize: libm's expf is a call per element,
 * which no loop around it can vectorize (EfficientNet-B0's Sigmoids spent
 * 45% of its forward in expf).
 *
 * e^x = 2^n e^r with n = round(x / ln 2) and |r| <= ln 2 / 2; e^r by its
 * Taylor series to degree 7 (truncation below 5e-9), 2^n built in the
 * exponent bits. Measured against double exp over [-87, 88]: largest
 * relative error 7.6e-8, under one float ulp. Below -87.3 the result is 0
 * (no denormals: e^x < 1.2e-38 there), above 88.7 it stays e^88.7 (no
 * infinity): right for sigmoid's e^-|x|, not a drop-in expf.
 *
 * The loops that use it must be compiled without trapping math (GCC keeps
 * the clamps as branches otherwise, and a loop with branches stays scalar
 * under AVX2 and SSE): see the pragma in the files that include this. */
#ifndef CV_OPS_VEXP_H
#define CV_OPS_VEXP_H

#include <stdint.h>
#include <string.h>

/* e^x for x already in [-87.3, 88.7] (or NaN, which stays NaN): no
 * selects, for callers that clamp (and handle underflow) themselves. */
static inline float cv_vexpf_in_range(float x)
{
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer, kept in the low bits */
    float t = x * 1.44269504f + shift;
    float n = t - shift;
    /* ln 2 in two parts: the first has few bits, so n times it is exact */
    float r = x - n * 0.693145752f;
    r = r - n * 1.42860677e-6f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    /* n + 127 in the exponent field: 2^n (a shift: the multiply it was
     * compiled to, vpmulld, is slow) */
    bits = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float cv_vexpf(float x)
{
    float c = x < -87.3f ? -87.3f : x;
    c = c > 88.7f ? 88.7f : c;
    return x < -87.3f ? 0.0f : cv_vexpf_in_range(c);
}

#endif
