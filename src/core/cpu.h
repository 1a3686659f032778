/* Instruction sets at run time (see cpu.c).
 *
 * The library is built for plain x86-64; the files with the hot loops
 * (ISA_SRC in the Makefile) are also compiled once per wider instruction
 * set, with CV_ISA_BUILD_AVX2 (-march=x86-64-v3) or CV_ISA_BUILD_AVX512
 * (-march=x86-64-v4) defined, and of those objects only the names
 * CV_ISA_NAME gives survive (objcopy makes every other name local). A
 * kernel is then written once:
 *
 *     CV_ISA_DECLARE(void, relu_kernel, (cv_op_ctx *c));
 *     void CV_ISA_NAME(relu_kernel)(cv_op_ctx *c) { ... }          // unchanged body
 *     static void relu_forward(cv_op_ctx *c) { CV_ISA_CALL(relu_kernel, (c)); }
 *
 * and every call takes the build cvi_cpu_isa() picks. OpenMP loops inside
 * the kernel are compiled with its instruction set too (they are outlined
 * from it), which per-function target_clones would not let CNNVIZ_ISA
 * override. */
#ifndef CV_CORE_CPU_H
#define CV_CORE_CPU_H

#include "cnnviz.h"

/* The path kernels take now: the CPU's best unless lowered by CNNVIZ_ISA
 * or cv_isa_set. Cheap (one relaxed atomic load after the first call). */
cv_isa cvi_cpu_isa(void);

#if defined(CV_ISA_BUILD_AVX512)
#define CV_ISA_NAME(f) cvi_##f##_avx512
#elif defined(CV_ISA_BUILD_AVX2)
#define CV_ISA_NAME(f) cvi_##f##_avx2
#else
#define CV_ISA_NAME(f) cvi_##f##_generic
#endif

/* The three builds of f (return type r, parameter list in parentheses). */
#define CV_ISA_DECLARE(r, f, params) r cvi_##f##_avx512 params, cvi_##f##_avx2 params, cvi_##f##_generic params

/* Call the build of f that cvi_cpu_isa() picks (args in parentheses).
 * CV_ISA_GENERIC_ONLY: a build with no wider objects (not x86-64). */
#ifdef CV_ISA_GENERIC_ONLY
#define CV_ISA_CALL(f, args) cvi_##f##_generic args
#else
#define CV_ISA_CALL(f, args)                                                                                        \
    (cvi_cpu_isa() == CV_ISA_AVX512 ? cvi_##f##_avx512 args                                                        \
     : cvi_cpu_isa() == CV_ISA_AVX2 ? cvi_##f##_avx2 args                                                          \
                                    : cvi_##f##_generic args)
#endif

#endif
