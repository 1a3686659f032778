/* Which kernels the linked BLAS runs, for benchmarks and reports: most of
 * a convolution's time is its sgemm, and a DYNAMIC_ARCH OpenBLAS picks
 * them when it loads (from CPUID, or from OPENBLAS_CORETYPE, which some
 * machines set to an older core on purpose). The symbol is weak: with
 * another BLAS the answer is "not OpenBLAS". */
#include "cnnviz.h"
#include <stddef.h>

extern char *openblas_get_corename(void) __attribute__((weak));

const char *cv_blas_core(void)
{
    if (!openblas_get_corename)
        return "not OpenBLAS";
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}
