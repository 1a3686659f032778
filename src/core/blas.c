/* The library's BLAS calls: which kernels the linked BLAS runs (most of a
 * convolution's time is its sgemm; a DYNAMIC_ARCH OpenBLAS picks them when
 * it loads, from CPUID or OPENBLAS_CORETYPE, and is mended below when it
 * picks kernels far below the CPU), and sgemm/sgemv split over the OpenMP
 * threads (blas.h). The OpenBLAS symbols are weak: another BLAS is used
 * as it is, and reported as "not OpenBLAS". */
#include "cnnviz.h"
#include "blas.h"
#include "cpu.h"
#include "graph.h" /* cv_clamp */
#include <cblas.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <threads.h>

extern char *openblas_get_corename(void) __attribute__((weak));
extern void openblas_set_num_threads(int) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static const char *blas_core_name(void)
{
    if (!openblas_get_corename)
        return "not OpenBLAS";
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0)
            return true;
    return false;
}

/* The instruction-set tier of OpenBLAS kernels named core: the tier of
 * vectors its sgemm uses (GENERIC: SSE-era or unknown). */
static cv_isa blas_core_tier(const char *core)
{
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2[] = {"Haswell", "Zen", "Excavator", NULL};
    if (name_in(core, avx512))
        return CV_ISA_AVX512;
    if (name_in(core, avx2))
        return CV_ISA_AVX2;
    return CV_ISA_GENERIC;
}

/* The OpenBLAS kernels to switch to, or NULL to keep OpenBLAS's choice.
 * A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU's vendor, family
 * and model, and a CPU newer than the release gets older kernels:
 * - Debian bookworm's 0.3.21 on an Intel Xeon of family 6, model 207
 *   (Emerald Rapids) falls back to Prescott's SSE3 kernels: sgemm
 *   45 GFLOP/s on 2 cores against 224 with its SkylakeX kernels;
 * - AVX2 kernels on an AVX-512 CPU cost as much: on an AMD EPYC of
 *   family 26 (Zen 5, full-width AVX-512) one core's sgemm ran at
 *   100 GFLOP/s (2048^3) with Haswell's kernels against 195 with
 *   SkylakeX's (conv shapes: 87-100 against 151-196). 0.3.21 picks its
 *   Cooperlake kernels there; a later CPU it does not know may get Zen's
 *   (Haswell's) ones.
 * So kernels of a lower tier than the CPU's are mended to the CPU's tier
 * (SkylakeX's kernels are the AVX-512 ones every later core shares in
 * 0.3.21). A core that OPENBLAS_CORETYPE names is the user's choice and
 * stays, even a slower one (it may be set for results that are the same
 * bits on every machine). */
static const char *blas_better_core(void)
{
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE"))
        return NULL;
    cv_isa cpu = cv_isa_detected();
    if (blas_core_tier(blas_core_name()) >= cpu)
        return NULL;
    switch (cpu) {
    case CV_ISA_AVX512: return "SkylakeX";
    case CV_ISA_AVX2: return "Haswell";
    case CV_ISA_GENERIC: return NULL;
    }
    return NULL;
}

/* Re-runs OpenBLAS's own kernel selection with OPENBLAS_CORETYPE set for
 * the moment (its only way in), then removes the variable again. It runs
 * once, before the library's first BLAS call; a host program's own BLAS
 * call on another thread at that instant would find no kernels, which is
 * why a program that sets OPENBLAS_CORETYPE is never touched. */
static void blas_mend_core(void)
{
    const char *core = blas_better_core();
    if (!core)
        return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

static once_flag blas_setup_once = ONCE_FLAG_INIT;

static void blas_setup(void)
{
    blas_mend_core();
    if (openblas_set_num_threads)
        openblas_set_num_threads(1);
}

void cv_blas_single_threaded(void) { call_once(&blas_setup_once, blas_setup); }

const char *cv_blas_core(void)
{
    cv_blas_single_threaded();
    return blas_core_name();
}

/* ---- cv_sgemm (blas.h) ---------------------------------------------------- */

/* Below this many multiply-adds a product runs in one call: splitting costs
 * more than it saves. */
#define SGEMM_SPLIT_MACS ((int64_t)1 << 18)

static void sgemm_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* With a clamp to apply (a Relu or Clip folded into a convolution), a
 * thread's block of columns goes to sgemm in chunks of about
 * SGEMM_CLAMP_FLOATS outputs, each clamped right after it is written,
 * while it is still in the core's L2 (a clamp of the whole product after
 * it cost a pass over memory of its own). */
#define SGEMM_CLAMP_FLOATS ((int64_t)1 << 16)

static void sgemm_block(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c, int64_t ldc, const cv_clamp *clamp)
{
    int64_t chunk = n;
    if (clamp && m * n > SGEMM_CLAMP_FLOATS) {
        chunk = SGEMM_CLAMP_FLOATS / m / 16 * 16;
        chunk = chunk < 64 ? 64 : chunk;
    }
    for (int64_t j = 0; j < n; j += chunk) {
        int64_t w = n - j < chunk ? n - j : chunk;
        sgemm_call(ta, tb, m, w, k, alpha, a, lda, tb ? b + j * ldb : b + j, ldb, beta, c + j, ldc);
        for (int64_t i = 0; clamp && i < m; i++)
            cv_clamp_run(clamp, c + i * ldc + j, w);
    }
}

void cv_sgemm_clamped(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc, const cv_clamp *clamp)
{
    cv_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads < 2 || m * n * k < SGEMM_SPLIT_MACS) {
        sgemm_block(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, clamp);
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
                sgemm_block(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc,
                            clamp);
            else
                sgemm_block(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
                            c + lo * ldc, ldc, clamp);
        }
    }
}

void cv_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cv_sgemm_clamped(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
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
