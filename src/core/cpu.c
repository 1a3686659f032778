/* Which vector instruction set the dispatched kernels use.
 *
 * Detected once from CPUID (through GCC's __builtin_cpu_supports, which
 * also checks that the OS saves the wider registers), then lowered by
 * CNNVIZ_ISA=generic|avx2|avx512 if set (read once, at the first kernel
 * call) or by cv_isa_set. A request above what the CPU has is lowered to
 * what it has: running AVX-512 code on a CPU without it would crash.
 *
 * The levels are the x86-64 psABI's: AVX2 is x86-64-v3 (AVX2, FMA, BMI2,
 * F16C, ...), AVX-512 is x86-64-v4 (F, VL, BW, DQ, CD): the flags
 * mk/isa.mk builds the kernels with. Zen 4 and Sapphire Rapids have v4. */
#include "cpu.h"
#include "graph.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static cv_isa cpu_detect(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return CV_ISA_AVX512;
    if (__builtin_cpu_supports("x86-64-v3"))
        return CV_ISA_AVX2;
#endif
    return CV_ISA_GENERIC;
}

cv_isa cv_isa_detected(void)
{
    static atomic_int detected = -1;
    int d = atomic_load_explicit(&detected, memory_order_relaxed);
    if (d < 0) {
        d = (int)cpu_detect();
        atomic_store_explicit(&detected, d, memory_order_relaxed);
    }
    return (cv_isa)d;
}

const char *cv_isa_name(cv_isa isa)
{
    switch (isa) {
    case CV_ISA_GENERIC: return "generic";
    case CV_ISA_AVX2: return "avx2";
    case CV_ISA_AVX512: return "avx512";
    }
    return "?";
}

/* The active level; -1 until the first call reads CNNVIZ_ISA. */
static atomic_int active = -1;

static int isa_from_env(void)
{
    cv_isa best = cv_isa_detected();
    const char *e = getenv("CNNVIZ_ISA");
    if (!e || !*e)
        return (int)best;
    for (int k = CV_ISA_GENERIC; k <= CV_ISA_AVX512; k++)
        if (strcmp(e, cv_isa_name((cv_isa)k)) == 0)
            return k < (int)best ? k : (int)best;
    return (int)best; /* an unknown name: the library cannot say so, the CLI does */
}

cv_isa cvi_cpu_isa(void)
{
    int a = atomic_load_explicit(&active, memory_order_relaxed);
    if (a >= 0)
        return (cv_isa)a;
    int expected = -1, e = isa_from_env();
    /* a concurrent cv_isa_set wins over the environment */
    if (!atomic_compare_exchange_strong(&active, &expected, e))
        return (cv_isa)expected;
    return (cv_isa)e;
}

cv_isa cv_isa_active(void) { return cvi_cpu_isa(); }

cv_status cv_isa_set(cv_isa isa, cv_error *err)
{
    if ((int)isa < CV_ISA_GENERIC || (int)isa > CV_ISA_AVX512)
        return cv_fail(err, CV_ERR_INVALID, "instruction set %d: expected generic, avx2 or avx512", (int)isa);
    if (isa > cv_isa_detected())
        return cv_fail(err, CV_ERR_UNSUPPORTED, "instruction set %s: this CPU has at most %s", cv_isa_name(isa),
                       cv_isa_name(cv_isa_detected()));
    atomic_store(&active, (int)isa);
    return CV_OK;
}

cv_status cv_isa_parse(const char *name, cv_isa *isa, cv_error *err)
{
    for (int k = CV_ISA_GENERIC; k <= CV_ISA_AVX512; k++)
        if (name && strcmp(name, cv_isa_name((cv_isa)k)) == 0) {
            *isa = (cv_isa)k;
            return CV_OK;
        }
    return cv_fail(err, CV_ERR_INVALID, "instruction set '%s': expected generic, avx2 or avx512",
                   name ? name : "(null)");
}
