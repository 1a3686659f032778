/* Time cnnviz forward passes: bench_forward MODEL.onnx N C H W [repeats] [profile [backward]]
 * Prints "median_ms <x>" and the spread, for bench/bench_forward.py to compare
 * with PyTorch in the same run; with "profile", then the layers that took
 * 1% of the time or more, slowest first (ms per forward, GMAC/s). With
 * "profile backward" each repeat is a forward and a backward from the last
 * layer to the input, as the attribution methods run them (gradients kept,
 * CV_CONV_EXACT_BACKWARD), and the profile is the backward's.
 * BENCH_NO_FUSION=1 in the environment sets cv_run_options.no_fusion (each
 * Relu/Clip its own pass, as before fusion: to measure what fusing saves). */
#include "cnnviz.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"

/* Then the time of each operator type, all its layers together (what a
 * fused or faster kernel for that type can save at most). */
static void print_op_totals(const cv_model *m, const bench_layer_time *e, int n, double sum)
{
    const char *op[64];
    double s[64];
    int kinds = 0;
    for (int k = 0; k < n; k++) {
        const char *t = cv_model_layer_op(m, e[k].layer);
        int j = 0;
        while (j < kinds && strcmp(op[j], t) != 0)
            j++;
        if (j == kinds && kinds < 64) {
            op[kinds] = t;
            s[kinds++] = 0;
        }
        if (j < kinds)
            s[j] += e[k].s;
    }
    printf("  by operator:");
    for (int j = 0; j < kinds; j++)
        if (s[j] >= 0.005 * sum)
            printf(" %s %.2f ms (%.0f%%);", op[j], 1e3 * s[j], 100 * s[j] / sum);
    printf("\n");
}

static void print_profile(const cv_model *m, const cv_run *r, int forwards, int backward)
{
    int n = cv_model_num_layers(m);
    bench_layer_time *e = malloc(sizeof *e * (size_t)(n ? n : 1));
    double sum = 0;
    for (int k = 0; k < n; k++) {
        e[k] = (bench_layer_time){k, cv_run_layer_seconds(r, k, backward) / forwards};
        sum += e[k].s;
    }
    qsort(e, (size_t)n, sizeof *e, bench_slowest_first);
    for (int k = 0; k < n && e[k].s >= 0.01 * sum; k++) {
        cv_shape s = cv_run_layer_shape(r, e[k].layer);
        char shape[96];
        cv_shape_str(&s, shape, sizeof shape);
        printf("  %-36.36s %-18s %-20s %7.2f ms %5.1f%% %7.1f GMAC/s\n", cv_model_layer_name(m, e[k].layer),
               cv_model_layer_op(m, e[k].layer), shape, 1e3 * e[k].s, 100 * e[k].s / sum,
               cv_run_layer_macs(r, e[k].layer) / e[k].s * 1e-9);
    }
    print_op_totals(m, e, n, sum);
    free(e);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: bench_forward MODEL N C H W [repeats]\n");
        return 2;
    }
    int repeats = argc > 6 ? atoi(argv[6]) : 5;
    if (repeats < 1 || repeats > 1000)
        repeats = 5;
    cv_shape s = {4, {atol(argv[2]), atol(argv[3]), atol(argv[4]), atol(argv[5])}};
    cv_error err;
    cv_model *m;
    if (cv_model_load(&m, argv[1], NULL, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int profile = argc > 7 && strcmp(argv[7], "profile") == 0, backward = profile && argc > 8 &&
                                                                      strcmp(argv[8], "backward") == 0;
    cv_run *r;
    cv_run_options opt = cv_run_defaults();
    opt.need_grad = backward;
    opt.no_fusion = getenv("BENCH_NO_FUSION") && atoi(getenv("BENCH_NO_FUSION"));
    if (backward)
        opt.conv_algo = CV_CONV_EXACT_BACKWARD;
    if (getenv("BENCH_CONV_ALGO")) /* cv_conv_algo's number: 1 im2col, 2 Winograd wherever it applies */
        opt.conv_algo = atoi(getenv("BENCH_CONV_ALGO"));
    if (cv_run_create(&r, m, &s, &opt, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n = cv_shape_numel(&s);
    float *x = malloc(n * sizeof(float));
    for (size_t k = 0; k < n; k++)
        x[k] = (float)((k * 2654435761u) % 1000) / 1000.0f - 0.5f;
    double *t = malloc(sizeof(double) * (size_t)repeats);
    int last = cv_model_num_layers(m) - 1;
    cv_shape ys = cv_run_layer_shape(r, last);
    float *seed = calloc(cv_shape_numel(&ys) ? cv_shape_numel(&ys) : 1, sizeof(float));
    seed[0] = 1.0f; /* d (first output) / d input: a saliency map */
    /* k = -1: an untimed warm-up of the same work, which also makes the
     * weight copies the convolutions keep (Winograd, flipped for backward) */
    for (int k = -1; k < repeats; k++) {
        double t0 = now();
        const float *grad;
        if (cv_run_forward(r, x, &err) != CV_OK || (backward && cv_run_backward(r, last, seed, &grad, &err) != CV_OK)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (k >= 0)
            t[k] = (now() - t0) * 1e3;
    }
    free(seed);
    double median = bench_median(t, repeats);
    printf("median_ms %.3f min_ms %.3f max_ms %.3f\n", median, t[0], t[repeats - 1]);
    if (profile)
        print_profile(m, r, repeats + 1, backward);
    free(t);
    free(x);
    cv_run_free(r);
    cv_model_free(m);
    return 0;
}
