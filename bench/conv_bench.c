/* Conv speed on VGG16's 13 conv layers at 224x224 (batch 1): im2col + sgemm
 * (cv_run_options.conv_algo = CV_CONV_IM2COL) against the automatic choice (Winograd for
 * these 3x3 layers), next to a plain sgemm of the same (M, N, K) — the
 * ceiling for im2col + sgemm — and a square sgemm (the machine's sgemm
 * peak). Not a test: it prints.
 *
 * With main's Makefile: make bench && build/bench/conv_bench [reps] [backward | sweep]
 * (sweep: torchvision's conv shapes beside sgemm, see sweep() below)
 * (or: make all && cc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -Iinclude bench/conv_bench.c
 *  build/libcnnviz.a $(pkg-config --libs hdf5 openblas libprotobuf-c libpng libjpeg libcjson) -lm
 *  -o build/conv_bench).
 * On a busy machine, CONV_BENCH_CPU=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
 * compares single-threaded CPU time instead of wall time.
 */
#include "../src/core/blas.h" /* cv_sgemm: the products as the kernels call them */
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

/* A model with one Conv, kernel k x k, stride st, group g, padding k / 2:
 * x (1, c, h, h) -> y (1, m, oh, oh). */
static cv_model *conv_model(int64_t c, int64_t m, int64_t h, int64_t k, int64_t st, int64_t g, cv_error *err)
{
    cv_model *md = cv_model_new("<bench>", err);
    int x = cv_model_value(md, "x", err), y = cv_model_value(md, "y", err);
    int w = cv_model_value(md, "w", err), b = cv_model_value(md, "b", err);
    size_t nw = (size_t)(m * (c / g) * k * k);
    md->values[x].shape = (cv_shape){4, {1, c, h, h}};
    md->values[w].shape = (cv_shape){4, {m, c / g, k, k}};
    md->values[w].dtype = CV_F32;
    md->values[w].data = malloc(nw * sizeof(float));
    fill(md->values[w].data, nw, 7);
    md->values[b].shape = (cv_shape){1, {m}};
    md->values[b].dtype = CV_F32;
    md->values[b].data = calloc((size_t)m, sizeof(float));
    md->input = x;
    md->outputs = malloc(sizeof(int));
    md->outputs[0] = y;
    md->n_outputs = 1;
    int in[3] = {x, w, b};
    int node = cv_model_add_node(md, "conv", "Conv", in, 3, &y, 1, err);
    int64_t pads[4] = {k / 2, k / 2, k / 2, k / 2}, strides[2] = {st, st};
    cv_node_set_ints(md, node, "pads", pads, 4, err);
    cv_node_set_ints(md, node, "strides", strides, 2, err);
    cv_node_set_int(md, node, "group", g, err);
    if (cv_model_finalize(md, err) != CV_OK) {
        cv_model_free(md);
        return NULL;
    }
    return md;
}

static cv_model *one_conv(int64_t c, int64_t m, int64_t h, cv_error *err) { return conv_model(c, m, h, 3, 1, 1, err); }

/* GFLOP/s of cv_sgemm (both threads, as the convolutions call it) on an
 * m x n x k product: the rate a convolution of that shape could reach. */
static double sgemm_rate(int64_t m, int64_t n, int64_t k, int reps)
{
    float *a = malloc((size_t)(m * k) * sizeof(float)), *b = malloc((size_t)(k * n) * sizeof(float));
    float *c = malloc((size_t)(m * n) * sizeof(float));
    fill(a, (size_t)(m * k), 1);
    fill(b, (size_t)(k * n), 2);
    double best = 1e9;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now();
        cv_sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (r && t < best)
            best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * (double)(m * n * k) / best * 1e-9;
}

/* The shapes of torchvision's models (kernel 1/3/5/7, stride 1/2, dense
 * and depthwise, 16 to 2048 channels, 7 to 224 pixels), batch 1, the
 * automatic kernel: GFLOP/s beside cv_sgemm's on the same (M, N, K) and on
 * a square 1024 product, flagged when under a third of the square rate.
 * Depthwise convolutions do 2*k*k flops per output and are bound by memory:
 * their GB/s (input and output read or written once) is the number to
 * read. */
static int sweep(int reps)
{
    static const struct {
        const char *model;
        int64_t c, m, h, k, s, g;
    } cases[] = {
        {"resnet stem", 3, 64, 224, 7, 2, 1},     {"vgg", 3, 64, 224, 3, 1, 1},
        {"resnet 3x3", 64, 64, 56, 3, 1, 1},      {"resnet 3x3", 128, 128, 28, 3, 1, 1},
        {"resnet 3x3", 256, 256, 14, 3, 1, 1},    {"resnet 3x3", 512, 512, 7, 3, 1, 1},
        {"resnet 3x3/2", 64, 128, 56, 3, 2, 1},   {"resnet 3x3/2", 128, 256, 28, 3, 2, 1},
        {"resnet 3x3/2", 256, 512, 14, 3, 2, 1},  {"resnet50 1x1", 64, 256, 56, 1, 1, 1},
        {"resnet50 1x1", 256, 64, 56, 1, 1, 1},   {"resnet50 1x1", 1024, 256, 14, 1, 1, 1},
        {"resnet50 1x1", 2048, 512, 7, 1, 1, 1},  {"downsample 1x1/2", 64, 128, 56, 1, 2, 1},
        {"downsample 1x1/2", 256, 512, 56, 1, 2, 1}, {"downsample 1x1/2", 1024, 2048, 14, 1, 2, 1},
        {"mobilenet 1x1", 16, 96, 112, 1, 1, 1},  {"mobilenet 1x1", 960, 160, 7, 1, 1, 1},
        {"5x5 dense", 32, 32, 56, 5, 1, 1},       {"depthwise 3x3", 32, 32, 112, 3, 1, 32},
        {"depthwise 3x3", 144, 144, 56, 3, 1, 144}, {"depthwise 3x3", 576, 576, 14, 3, 1, 576},
        {"depthwise 3x3/2", 96, 96, 112, 3, 2, 96}, {"depthwise 5x5", 672, 672, 14, 5, 1, 672},
        {"depthwise 5x5/2", 144, 144, 56, 5, 2, 144}, {"depthwise 5x5", 1152, 1152, 7, 5, 1, 1152},
    };
    double square = sgemm_rate(1024, 1024, 1024, reps), again = sgemm_rate(1024, 1024, 1024, reps);
    square = again > square ? again : square; /* the first call also wakes the threads and the BLAS */
    printf("sweep, batch 1, best of %d, automatic kernels; cv_sgemm 1024^3: %.1f GFLOP/s\n", reps, square);
    printf("%-18s %14s %6s %9s %9s %9s %7s\n", "model", "c->m@h k/s", "MFLOP", "ms", "GFLOP/s", "sgemm", "GB/s");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t c = cases[i].c, m = cases[i].m, h = cases[i].h, k = cases[i].k, st = cases[i].s, g = cases[i].g;
        cv_error err;
        cv_model *md = conv_model(c, m, h, k, st, g, &err);
        cv_run *run;
        cv_shape xs = {4, {1, c, h, h}};
        cv_run_options opt = cv_run_defaults();
        if (!md || cv_run_create(&run, md, &xs, &opt, &err) != CV_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        int64_t oh = (h + 2 * (k / 2) - k) / st + 1, kk = c / g * k * k;
        float *x = malloc((size_t)(c * h * h) * sizeof(float));
        fill(x, (size_t)(c * h * h), 3);
        double best = 1e9;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = now();
            cv_run_forward(run, x, &err);
            double t = now() - t0;
            if (r && t < best)
                best = t;
        }
        double flop = 2.0 * (double)(m * oh * oh) * (double)kk, rate = flop / best * 1e-9;
        double gbs = 4.0 * (double)(c * h * h + m * oh * oh) / best * 1e-9;
        char shape[48], gemm[16] = "-";
        snprintf(shape, sizeof shape, "%lld->%lld@%lld %lld/%lld", (long long)c, (long long)m, (long long)h,
                 (long long)k, (long long)st);
        if (g == 1)
            snprintf(gemm, sizeof gemm, "%.1f", sgemm_rate(m, oh * oh, kk, reps));
        printf("%-18s %14s %6.1f %9.3f %9.1f %9s %7.1f%s\n", cases[i].model, shape, flop * 1e-6, best * 1e3, rate,
               gemm, gbs, g == 1 && rate < square / 3 ? "  < 1/3 of sgemm" : "");
        free(x);
        cv_run_free(run);
        cv_model_free(md);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (argc > 2 && strcmp(argv[2], "sweep") == 0)
        return sweep(reps);
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
