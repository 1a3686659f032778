/* The kernels built per instruction set (src/core/cpu.h) compute the same
 * function on every path: a network through each dispatched kernel
 * (Winograd wide and narrow layouts, im2col, depthwise wide and narrow,
 * ReLU, Clip, Sigmoid, MaxPool, GlobalAveragePool; incremental occlusion's gather) is run on
 * every level this CPU has, forced with cv_isa_set, and each layer's
 * output compared with the default path's. Tolerance: 1e-4 of the layer's
 * largest magnitude (the paths differ by fused multiply-adds and the order
 * of sums within a vector, about 1e-6 here). On a CPU without AVX-512 the
 * wider paths are skipped, and the generic one is always tested. */
#include "lib/netbuild.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>
#include <strings.h>

#define SIDE 72 /* Winograd's wide layout needs 64 columns or more */

static cv_model *isa_net(void)
{
    netbuild nb;
    cv_shape xs = {4, {2, 3, SIDE, SIDE}};
    int x = nb_begin(&nb, &xs, 13);
    x = nb_clip(&nb, nb_conv(&nb, x, 3, 16, 3, 1, 1, 1), 0.0f, 6.0f); /* Winograd wide (forced) */
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 16, 16, 3, 1, 1, 16));   /* depthwise */
    x = nb_pool(&nb, "MaxPool", x, 2, 2, 0, 0, 0);
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 16, 16, 3, 1, 1, 1));    /* Winograd narrow */
    x = nb_conv(&nb, x, 16, 16, 3, 2, 1, 1);                           /* im2col */
    x = nb_conv(&nb, x, 16, 16, 5, 2, 2, 16);                          /* depthwise, narrow, strided: phase planes */
    x = nb_conv(&nb, x, 16, 16, 3, 1, 1, 16);                          /* depthwise, narrow, stride 1 */
    x = nb_unary(&nb, "Sigmoid", nb_conv(&nb, x, 16, 8, 1, 1, 0, 1)); /* 1x1 */
    x = nb_unary(&nb, "GlobalAveragePool", x);
    return nb_end(&nb, x);
}

static void fill_input(float *x, size_t n)
{
    test_seed(12);
    for (size_t k = 0; k < n; k++)
        x[k] = test_uniform(-1.0f, 1.0f);
}

/* Every layer's output of m on x with level isa, copied into outs[layer]. */
static bool run_layers(const cv_model *m, const float *x, const cv_shape *s, cv_isa isa, float **outs, size_t *sizes)
{
    cv_error err;
    if (cv_isa_set(isa, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return false;
    }
    cv_run_options opt = cv_run_defaults();
    opt.keep_all = 1;
    opt.conv_algo = CV_CONV_WINOGRAD; /* Winograd wherever it fits */
    cv_run *r;
    bool ok = cv_run_create(&r, m, s, &opt, &err) == CV_OK && cv_run_forward(r, x, &err) == CV_OK;
    CHECK(ok, "%s: %s", cv_isa_name(isa), err.msg);
    for (int l = 0; ok && l < cv_model_num_layers(m); l++) {
        const cv_tensor *t = cv_run_layer_output(r, l);
        if (!t || t->dtype != CV_F32)
            continue;
        sizes[l] = cv_shape_numel(&t->shape);
        outs[l] = malloc(sizes[l] * sizeof(float));
        memcpy(outs[l], t->f, sizes[l] * sizeof(float));
    }
    cv_run_free(r);
    return ok;
}

/* Largest difference between a and b over the largest |a|. */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, big = 1e-30;
    for (size_t k = 0; k < n; k++) {
        double e = fabs((double)a[k] - b[k]);
        d = e > d || e != e ? e : d;
        big = fabs(a[k]) > big ? fabs(a[k]) : big;
    }
    return d / big;
}

static void test_forward_every_level(void)
{
    cv_model *m = isa_net();
    REQUIRE(m, "network not built");
    cv_shape s = {4, {2, 3, SIDE, SIDE}};
    size_t n = cv_shape_numel(&s);
    float *x = malloc(n * sizeof(float));
    fill_input(x, n);
    int layers = cv_model_num_layers(m);
    cv_isa best = cv_isa_detected();
    float **ref = calloc((size_t)layers, sizeof *ref), **got = calloc((size_t)layers, sizeof *got);
    size_t *nref = calloc((size_t)layers, sizeof(size_t)), *ngot = calloc((size_t)layers, sizeof(size_t));
    if (run_layers(m, x, &s, best, ref, nref))
        for (int isa = CV_ISA_GENERIC; isa <= (int)best; isa++) {
            memset(ngot, 0, (size_t)layers * sizeof(size_t));
            if (!run_layers(m, x, &s, (cv_isa)isa, got, ngot))
                break;
            double worst = 0;
            for (int l = 0; l < layers; l++) {
                CHECK(ngot[l] == nref[l], "layer %d: %zu values, default path %zu", l, ngot[l], nref[l]);
                if (ngot[l] == nref[l] && nref[l]) {
                    double d = rel_diff(ref[l], got[l], nref[l]);
                    CHECK(d <= 1e-4, "%s, layer %d: relative difference %g", cv_isa_name((cv_isa)isa), l, d);
                    worst = d > worst ? d : worst;
                }
                free(got[l]);
                got[l] = NULL;
            }
            printf("    %s vs %s: largest relative difference %.3g over %d layers\n", cv_isa_name((cv_isa)isa),
                   cv_isa_name(best), worst, layers);
        }
    for (int l = 0; l < layers; l++)
        free(ref[l]);
    free(ref), free(got), free(nref), free(ngot), free(x);
    cv_model_free(m);
    cv_isa_set(best, NULL);
}

/* Incremental occlusion (its gather, and Winograd on per-position windows)
 * gives the same outputs on every level. */
static void test_incremental_every_level(void)
{
    cv_model *m = isa_net();
    REQUIRE(m, "network not built");
    cv_shape s = {4, {1, 3, SIDE, SIDE}};
    size_t n = cv_shape_numel(&s);
    float *x = malloc(n * sizeof(float));
    fill_input(x, n);
    enum { NPOS = 6, PATCH = 9 };
    int py[NPOS] = {0, 5, 17, 30, 47, SIDE - PATCH}, px[NPOS] = {0, 40, 9, 63 - PATCH, 22, SIDE - PATCH};
    float *patches = calloc((size_t)NPOS * 3 * PATCH * PATCH, sizeof(float));
    cv_isa best = cv_isa_detected();
    float *ref = NULL;
    size_t nref = 0;
    for (int isa = (int)best; isa >= CV_ISA_GENERIC; isa--) {
        cv_error err;
        REQUIRE(cv_isa_set((cv_isa)isa, &err) == CV_OK, "%s", err.msg);
        cv_incr *ic = NULL;
        const cv_tensor *out;
        cv_incr_options io = cv_incr_defaults();
        io.max_batch = NPOS; /* one batch: windows of different sizes share it */
        bool ok = cv_incr_create(&ic, m, &s, x, &(cv_incr_patches){NPOS, py, px, PATCH, PATCH}, &io, &err) == CV_OK;
        ok = ok && cv_incr_run(ic, 0, NPOS, patches, &out, &err) == CV_OK;
        CHECK(ok, "%s: %s", cv_isa_name((cv_isa)isa), err.msg);
        if (ok) {
            size_t k = cv_shape_numel(&out->shape);
            if (!ref) {
                nref = k;
                ref = malloc(k * sizeof(float));
                memcpy(ref, out->f, k * sizeof(float));
            } else {
                double d = k == nref ? rel_diff(ref, out->f, k) : INFINITY;
                CHECK(d <= 1e-4, "%s vs %s: relative difference %g", cv_isa_name((cv_isa)isa), cv_isa_name(best), d);
                printf("    incremental, %s vs %s: largest relative difference %.3g\n", cv_isa_name((cv_isa)isa),
                       cv_isa_name(best), d);
            }
        }
        cv_incr_free(ic);
    }
    cv_isa_set(best, NULL);
    free(ref), free(patches), free(x);
    cv_model_free(m);
}

static void test_isa_api(void)
{
    cv_error err;
    cv_isa best = cv_isa_detected(), k;
    CHECK(cv_isa_active() <= best, "active %s above detected %s", cv_isa_name(cv_isa_active()), cv_isa_name(best));
    CHECK(cv_isa_set(CV_ISA_GENERIC, &err) == CV_OK && cv_isa_active() == CV_ISA_GENERIC, "generic not set");
    if (best < CV_ISA_AVX512)
        CHECK(cv_isa_set(CV_ISA_AVX512, &err) == CV_ERR_UNSUPPORTED, "AVX-512 accepted on a CPU without it");
    CHECK(cv_isa_set((cv_isa)7, &err) == CV_ERR_INVALID, "level 7 accepted");
    CHECK(cv_isa_parse("avx2", &k, &err) == CV_OK && k == CV_ISA_AVX2, "avx2 not parsed");
    CHECK(cv_isa_parse("sse9", &k, &err) == CV_ERR_INVALID, "sse9 parsed");
    CHECK(cv_isa_set(best, &err) == CV_OK && cv_isa_active() == best, "best level not restored");
    printf("    this CPU: %s\n", cv_isa_name(best));
}

/* The BLAS kernels are named, a core chosen through OPENBLAS_CORETYPE
 * (set on some of this project's machines) is the one reported, and without
 * it, in a DYNAMIC_ARCH OpenBLAS, a CPU runs kernels of its own tier: never
 * the SSE3 fallback on an AVX2 or AVX-512 CPU (what OpenBLAS 0.3.21 picks on
 * Intel CPUs newer than it knows: 5x slower sgemm), never AVX2 kernels on an
 * AVX-512 CPU (what it picks on Zen 5: 2x slower). */
extern void gotoblas_dynamic_init(void) __attribute__((weak));

static bool core_in(const char *core, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(core, *list) == 0)
            return true;
    return false;
}

static void test_blas_core(void)
{
    const char *core = cv_blas_core(), *want = getenv("OPENBLAS_CORETYPE");
    printf("    BLAS kernels: %s (OPENBLAS_CORETYPE %s)\n", core, want ? want : "unset");
    CHECK(core && *core, "no BLAS core name");
    if (want && *want && strcmp(core, "not OpenBLAS") != 0)
        CHECK(strcasecmp(core, want) == 0, "OPENBLAS_CORETYPE=%s but the kernels are %s", want, core);
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2[] = {"Haswell", "Zen", "Excavator", "SkylakeX", "Cooperlake", "SapphireRapids",
                                       NULL};
    if ((want && *want) || !gotoblas_dynamic_init) {
        printf("    (kernel tier not checked: %s)\n", want && *want ? "OPENBLAS_CORETYPE set" : "not DYNAMIC_ARCH");
        return;
    }
    cv_isa cpu = cv_isa_detected();
    if (cpu == CV_ISA_AVX512)
        CHECK(core_in(core, avx512), "an AVX-512 CPU runs OpenBLAS's %s kernels", core);
    else if (cpu == CV_ISA_AVX2)
        CHECK(core_in(core, avx2), "an AVX2 CPU runs OpenBLAS's %s kernels", core);
}

int main(void)
{
    RUN(test_isa_api);
    RUN(test_blas_core);
    RUN(test_forward_every_level);
    RUN(test_incremental_every_level);
    return test_summary("isa");
}
