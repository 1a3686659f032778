/* cv_sgemm and cv_sgemv (src/core/blas.h) against a naive float64
 * product: every transpose combination, with shapes that run as one call,
 * split by columns (n >= 64 per thread) and split by rows (few columns),
 * sub-matrices (leading dimensions larger than the width) and beta 0 / 1;
 * also from inside a parallel region (one call, no nested split). */
#include "../src/core/blas.h"
#include "lib/test.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#define TOL 1e-5 /* relative, against the largest |value| of the reference */

/* C = alpha op(A) op(B) + beta C in double; A, B, C with leading dimensions. */
static void naive(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                  int ldb, float beta, double *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
        }
}

static double compare(const float *got, const double *want, int m, int n, int ld)
{
    double worst = 0, scale = 1e-30;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            worst = fmax(worst, fabs(got[i * ld + j] - want[i * ld + j]));
            scale = fmax(scale, fabs(want[i * ld + j]));
        }
    return worst / scale;
}

static double one_case(bool ta, bool tb, int m, int n, int k, float beta, bool nested)
{
    int pad = 3, lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb, nc = (size_t)m * ldc;
    float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float)), *c = malloc(nc * sizeof(float));
    double *want = malloc(nc * sizeof(double));
    test_fill(a, na, -1, 1);
    test_fill(b, nb, -1, 1);
    test_fill(c, nc, -1, 1);
    for (size_t i = 0; i < nc; i++)
        want[i] = c[i];
    naive(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, want, ldc);
    if (nested) {
#pragma omp parallel num_threads(2)
        {
#pragma omp single
            cv_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, c, ldc);
        }
    } else {
        cv_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, c, ldc);
    }
    double d = compare(c, want, m, n, ldc);
    /* the padding between rows is never written */
    for (int i = 0; i < m && d <= TOL; i++)
        for (int j = n; j < ldc; j++)
            if (c[i * ldc + j] != (float)want[i * ldc + j])
                d = INFINITY;
    free(a);
    free(b);
    free(c);
    free(want);
    return d;
}

static void test_sgemm(void)
{
    /* m, n, k: small (one call), wide (columns split), tall and narrow (rows split), odd sizes */
    static const int shapes[][3] = {{5, 7, 3}, {64, 3136, 576}, {576, 49, 512}, {1000, 17, 300}, {37, 501, 129}};
    test_seed(5);
    double worst = 0;
    int cases = 0;
    for (int s = 0; s < 5; s++)
        for (int t = 0; t < 4; t++)
            for (int beta = 0; beta < 2; beta++)
                for (int nested = 0; nested < 2; nested++) {
                    const int *g = shapes[s];
                    double d = one_case(t & 1, t >> 1, g[0], g[1], g[2], (float)beta, nested);
                    CHECK(d <= TOL, "sgemm ta %d tb %d %dx%dx%d beta %d nested %d: rel diff %.3g", t & 1, t >> 1,
                          g[0], g[1], g[2], beta, nested, d);
                    worst = fmax(worst, d);
                    cases++;
                }
    printf("    %d products (%d threads): max rel diff %.2e (tol %.0e)\n", cases, omp_get_max_threads(), worst, TOL);
}

static void test_sgemv(void)
{
    static const int shapes[][2] = {{4, 9}, {4096, 3000}, {3000, 4096}, {100, 20000}};
    test_seed(6);
    double worst = 0;
    for (int s = 0; s < 4; s++)
        for (int ta = 0; ta < 2; ta++) {
            int m = shapes[s][0], n = shapes[s][1], lda = n + 2, out = ta ? n : m, in = ta ? m : n;
            float *a = malloc((size_t)m * lda * sizeof(float)), *x = malloc((size_t)in * sizeof(float));
            float *y = malloc((size_t)out * sizeof(float));
            double *want = malloc((size_t)out * sizeof(double));
            test_fill(a, (size_t)m * lda, -1, 1);
            test_fill(x, (size_t)in, -1, 1);
            test_fill(y, (size_t)out, -1, 1);
            for (int i = 0; i < out; i++) {
                double acc = 0;
                for (int p = 0; p < in; p++)
                    acc += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) * x[p];
                want[i] = 2.0 * acc + 0.5 * y[i];
            }
            cv_sgemv(ta, m, n, 2.0f, a, lda, x, 0.5f, y);
            double d = compare(y, want, 1, out, out);
            CHECK(d <= TOL, "sgemv ta %d %dx%d: rel diff %.3g", ta, m, n, d);
            worst = fmax(worst, d);
            free(a);
            free(x);
            free(y);
            free(want);
        }
    printf("    8 matrix-vector products: max rel diff %.2e (tol %.0e)\n", worst, TOL);
}

int main(void)
{
    RUN(test_sgemm);
    RUN(test_sgemv);
    return test_summary("blas");
}
