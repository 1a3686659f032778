/* Which kernels the linked BLAS runs, for benchmarks and reports: most of
 * a convolution's time is its sgemm, and a DYNAMIC_ARCH OpenBLAS picks
 * them when it loads (from CPUID, or from OPENBLAS_CORETYPE, which some
 * machines set to an older core on purpose). The symbol is weak: with
 * another BLAS the answer is "not OpenBLAS". */
#include "cnnviz.h"
#include "blas.h"
#include <cblas.h>
#include <omp.h>
#include <stddef.h>
#include <threads.h>

extern char *openblas_get_corename(void) __attribute__((weak));

const char *cv_blas_core(void)
{
    if (!openblas_get_corename)
        return "not OpenBLAS";
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}

/* ---- cv_sgemm (blas.h) ---------------------------------------------------- */

extern void openblas_set_num_threads(int) __attribute__((weak));

static once_flag single_threaded_blas = ONCE_FLAG_INIT;

static void make_blas_single_threaded(void)
{
    if (openblas_set_num_threads)
        openblas_set_num_threads(1);
}

/* Below this many multiply-adds a product runs in one call: splitting costs
 * more than it saves. */
#define SGEMM_SPLIT_MACS ((int64_t)1 << 18)

static void sgemm_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void cv_blas_single_threaded(void) { call_once(&single_threaded_blas, make_blas_single_threaded); }

void cv_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cv_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads < 2 || m * n * k < SGEMM_SPLIT_MACS) {
        sgemm_call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* blocks of columns, multiples of 16 (a whole number of the kernels'
     * register tiles), when each thread gets at least 64; else of rows */
    bool by_cols = n >= 64 * (int64_t)threads;
    int64_t extent = by_cols ? n : m, align = by_cols ? 16 : 8;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo = extent * t / nt / align * align, hi = t == nt - 1 ? extent : extent * (t + 1) / nt / align * align;
        if (hi > lo) {
            if (by_cols)
                sgemm_call(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
            else
                sgemm_call(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc,
                           ldc);
        }
    }
}

void cv_sgemv(bool ta, int64_t m, int64_t n, float alpha, const float *a, int64_t lda, const float *x, float beta,
              float *y)
{
    cv_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    int64_t out = ta ? n : m;
    if (threads < 2 || m * n < SGEMM_SPLIT_MACS || out < 64 * (int64_t)threads) {
        cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, (int)m, (int)n, alpha, a, (int)lda, x, 1, beta, y,
                    1);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo = out * t / nt / 16 * 16, hi = t == nt - 1 ? out : out * (t + 1) / nt / 16 * 16;
        if (hi > lo && ta) /* columns lo..hi of A */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)m, (int)(hi - lo), alpha, a + lo, (int)lda, x, 1, beta,
                        y + lo, 1);
        else if (hi > lo) /* rows lo..hi */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(hi - lo), (int)n, alpha, a + lo * lda, (int)lda, x, 1,
                        beta, y + lo, 1);
    }
}
