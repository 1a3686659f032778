/* Matrix products for the kernels: one thread pool for the whole library.
 *
 * cnnviz's own loops run on OpenMP; a pthreads OpenBLAS brings a second
 * pool, and the two hand the cores back and forth at every call (each
 * wake-up a futex round trip), or, left to spin, fight over them (ResNet18
 * saliency on 2 cores: 72 ms with both pools told to sleep at once, 166 ms
 * with their defaults). cv_sgemm instead splits a product over the OpenMP
 * threads by blocks of columns (or of rows, when there are few columns),
 * each block one single-threaded OpenBLAS call: OpenBLAS is set to one
 * thread the first time (openblas_set_num_threads, when the linked BLAS is
 * OpenBLAS; another BLAS is left as it is). */
#ifndef CV_BLAS_H
#define CV_BLAS_H

#include <stdbool.h>
#include <stdint.h>

/* C (m x n, row-major, leading dimension ldc) = alpha op(A) op(B) + beta C,
 * op(A) m x k (A stored k x m when ta), op(B) k x n (B stored n x k when tb):
 * cblas_sgemm's row-major meaning. */
/* OpenBLAS set to one thread (once, for the process); cv_sgemm calls it,
 * and so must a kernel calling another BLAS routine before any cv_sgemm. */
void cv_blas_single_threaded(void);

void cv_sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* cv_sgemm, then C = clamp(C) (struct cv_clamp, src/core/graph.h), done
 * block by block while each is in cache; clamp NULL: cv_sgemm. */
struct cv_clamp;
void cv_sgemm_clamped(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc, const struct cv_clamp *clamp);

/* y = alpha op(A) x + beta y, A m x n row-major (op(A) = A^T when ta),
 * split over the threads by blocks of y (a batch-1 dense layer streams
 * its weights once: one core alone cannot draw all the memory bandwidth). */
void cv_sgemv(bool ta, int64_t m, int64_t n, float alpha, const float *a, int64_t lda, const float *x, float beta,
              float *y);

#endif
