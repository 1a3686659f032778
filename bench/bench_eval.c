/* Time a deletion + insertion evaluation: bench_eval MODEL.onnx SIDE STEPS [repeats]
 * A random input and a random map (fixed seed; only speed is measured),
 * target 0, N = STEPS: 2 (N + 1) forward passes in batches. Prints
 * "median_ms <x>" and the spread, for bench/bench_eval.py to compare with
 * PyTorch's batched forward of the same inputs in the same run. */
#include "cnnviz_eval.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench_util.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_eval MODEL SIDE STEPS [repeats]\n");
        return 2;
    }
    int side = atoi(argv[2]), steps = atoi(argv[3]), repeats = argc > 4 ? atoi(argv[4]) : 3;
    if (side < 8 || steps < 1 || repeats < 1 || repeats > 100) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    cv_error err;
    cv_model *m;
    if (cv_model_load(&m, argv[1], NULL, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cv_shape s = {4, {1, 3, side, side}};
    size_t n = (size_t)3 * side * side, px = (size_t)side * side;
    float *x = malloc(n * sizeof(float)), *map = malloc(px * sizeof(float));
    unsigned long long r = 12345;
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 40) / (float)(1 << 24) - 0.5f;
    for (size_t i = 0; i < px; i++)
        map[i] = (float)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 40);
    cv_eval_options o = cv_eval_defaults();
    o.steps = steps;
    double *t = malloc(sizeof(double) * repeats);
    int batch = 0;
    long forwards = 0;
    for (int k = 0; k <= repeats; k++) { /* the first is a warm-up */
        cv_eval_curves c;
        double t0 = now();
        if (cv_eval_curves_run(m, &s, x, map, 0, CV_EVAL_BOTH, &o, &c, &err) != CV_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (k)
            t[k - 1] = (now() - t0) * 1e3;
        batch = c.batch;
        forwards = c.forwards;
        cv_eval_curves_free(&c);
    }
    double median = bench_median(t, repeats);
    printf("median_ms %.1f min_ms %.1f max_ms %.1f forwards %ld batch %d\n", median, t[0], t[repeats - 1],
           forwards, batch);
    free(t);
    free(x);
    free(map);
    cv_model_free(m);
    return 0;
}
