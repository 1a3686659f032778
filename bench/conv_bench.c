/* Conv speed on VGG16's 13 conv layers at 224x224 (batch 1): im2col + sgemm
 * (cv_run_options.conv_algo = CV_CONV_IM2COL) against the automatic choice (Winograd for
 * these 3x3 layers), next to a plain sgemm of the same (M, N, K) — the
 * ceiling for im2col + sgemm — and a square sgemm (the machine's sgemm
 * peak). Not a test: it prints.
 *
 * With main's Makefile: make bench && build/bench/conv_bench [reps] [backward]
 * (or: make all && cc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -Iinclude bench/conv_bench.c
 *  build/libcnnviz.a $(pkg-config --libs hdf5 openblas libprotobuf-c libpng libjpeg libcjson) -lm
 *  -o build/conv_bench).
 * On a busy machine, CONV_BENCH_CPU=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
 * compares single-threaded CPU time instead of wall time.
 */
#include "../src/core/graph.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall time, or with CONV_BENCH_CPU=1 the process's CPU time: on a busy
 * machine, single-threaded CPU time (OMP_NUM_THREADS=1
 * OPENBLAS_NUM_THREADS=1) still measures the work. */
static double now(void)
{
    static int cpu = -1;
    if (cpu < 0)
        cpu = getenv("CONV_BENCH_CPU") != NULL;
    struct timespec t;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void fill(float *x, size_t n, unsigned s)
{
    for (size_t k = 0; k < n; k++) {
        s = s * 1664525u + 1013904223u;
        x[k] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
}

/* A model with one 3x3/pad 1 Conv: x (1, c, h, h) -> y (1, m, h, h). */
static cv_model *one_conv(int64_t c, int64_t m, int64_t h, cv_error *err)
{
    cv_model *md = cv_model_new("<bench>", err);
    int x = cv_model_value(md, "x", err), y = cv_model_value(md, "y", err);
    int w = cv_model_value(md, "w", err), b = cv_model_value(md, "b", err);
    md->values[x].shape = (cv_shape){4, {1, c, h, h}};
    md->values[w].shape = (cv_shape){4, {m, c, 3, 3}};
    md->values[w].dtype = CV_F32;
    md->values[w].data = malloc((size_t)(m * c * 9) * sizeof(float));
    fill(md->values[w].data, (size_t)(m * c * 9), 7);
    md->values[b].shape = (cv_shape){1, {m}};
    md->values[b].dtype = CV_F32;
    md->values[b].data = calloc((size_t)m, sizeof(float));
    md->input = x;
    md->outputs = malloc(sizeof(int));
    md->outputs[0] = y;
    md->n_outputs = 1;
    int in[3] = {x, w, b};
    int k = cv_model_add_node(md, "conv", "Conv", in, 3, &y, 1, err);
    int64_t pads[4] = {1, 1, 1, 1};
    cv_node_set_ints(md, k, "pads", pads, 4, err);
    if (cv_model_finalize(md, err) != CV_OK) {
        cv_model_free(md);
        return NULL;
    }
    return md;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    int backward = argc > 2 && strcmp(argv[2], "backward") == 0;
    static const int64_t layers[13][3] = {
        {3, 64, 224}, {64, 64, 224}, {64, 128, 112}, {128, 128, 112}, {128, 256, 56}, {256, 256, 56},
        {256, 256, 56}, {256, 512, 28}, {512, 512, 28}, {512, 512, 28}, {512, 512, 14}, {512, 512, 14},
        {512, 512, 14}};
    cv_error err;
    double total_flop = 0, total_conv = 0, total_auto = 0, total_gemm = 0;
    printf("%s, best of %d; GFLOP/s counts direct-convolution flops (2*M*C*9*OH*OW)\n",
           backward ? "backward to the input" : "forward", reps);
    printf("%-14s %7s %9s %9s %9s   %6s %6s %6s\n", "layer", "GFLOP", "im2col", "auto", "sgemm", "im2col", "auto",
           "sgemm");
    printf("%-14s %7s %9s %9s %9s   %6s %6s %6s\n", "", "", "ms", "ms", "ms", "GF/s", "GF/s", "GF/s");
    for (int l = 0; l < 13; l++) {
        int64_t c = layers[l][0], m = layers[l][1], h = layers[l][2];
        cv_model *md = one_conv(c, m, h, &err);
        if (!md) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        cv_shape xs = {4, {1, c, h, h}};
        /* one run per algorithm: [0] im2col, [1] the automatic choice */
        static const int algo[2] = {CV_CONV_IM2COL, CV_CONV_AUTO};
        cv_run *run[2];
        for (int a = 0; a < 2; a++) {
            cv_run_options opt = cv_run_defaults();
            opt.need_grad = backward;
            opt.conv_algo = algo[a];
            if (cv_run_create(&run[a], md, &xs, &opt, &err) != CV_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        }
        size_t nx = (size_t)(c * h * h), ny = (size_t)(m * h * h), k = (size_t)(c * 9);
        float *x = malloc(nx * sizeof(float)), *seed = malloc(ny * sizeof(float));
        fill(x, nx, 3);
        fill(seed, ny, 5);
        double flop = 2.0 * (double)m * (double)(h * h) * (double)k;
        /* the two algorithms alternately, so that load from other processes hits both alike */
        double best[2] = {1e9, 1e9};
        for (int r = 0; r < reps + 1; r++)
            for (int a = 0; a < 2; a++) {
                cv_run_forward(run[a], x, &err);
                double t0 = now();
                if (backward) {
                    const float *g;
                    cv_run_backward(run[a], 0, seed, &g, &err);
                } else {
                    cv_run_forward(run[a], x, &err);
                }
                double t = now() - t0;
                if (t < best[a])
                    best[a] = t;
            }
        /* the same product as one sgemm, without im2col */
        float *a = malloc((size_t)m * k * sizeof(float)), *bm = malloc(k * (size_t)(h * h) * sizeof(float));
        float *cm = malloc(ny * sizeof(float));
        fill(a, (size_t)m * k, 1);
        fill(bm, k * (size_t)(h * h), 2);
        double gbest = 1e9;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)(h * h), (int)k, 1.0f, a, (int)k,
                        bm, (int)(h * h), 0.0f, cm, (int)(h * h));
            double t = now() - t0;
            if (r && t < gbest)
                gbest = t;
        }
        char name[32];
        snprintf(name, sizeof name, "%lldx%lld@%lld", (long long)c, (long long)m, (long long)h);
        printf("%-14s %7.3f %9.2f %9.2f %9.2f   %6.1f %6.1f %6.1f\n", name, flop * 1e-9, best[0] * 1e3,
               best[1] * 1e3, gbest * 1e3, flop / best[0] * 1e-9, flop / best[1] * 1e-9, flop / gbest * 1e-9);
        total_flop += flop;
        total_conv += best[0];
        total_auto += best[1];
        total_gemm += gbest;
        free(a); free(bm); free(cm); free(x); free(seed);
        cv_run_free(run[0]);
        cv_run_free(run[1]);
        cv_model_free(md);
    }
    printf("%-14s %7.3f %9.2f %9.2f %9.2f   %6.1f %6.1f %6.1f\n", "total", total_flop * 1e-9, total_conv * 1e3,
           total_auto * 1e3, total_gemm * 1e3, total_flop / total_conv * 1e-9, total_flop / total_auto * 1e-9,
           total_flop / total_gemm * 1e-9);
    int n = 2048;
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float));
    float *cc = malloc((size_t)n * n * sizeof(float));
    fill(a, (size_t)n * n, 1);
    fill(b, (size_t)n * n, 2);
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, cc, n);
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    printf("sgemm %dx%dx%d: %.1f GFLOP/s\n", n, n, n, 2.0 * n * n * (double)n / best * 1e-9);
    free(a); free(b); free(cc);
    return 0;
}
