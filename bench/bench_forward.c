/* Time cnnviz forward passes: bench_forward MODEL.onnx N C H W [repeats]
 * Prints "median_ms <x>" and the spread, for bench/bench_forward.py to compare
 * with PyTorch in the same run. */
#include "cnnviz.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench_util.h"

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
    cv_run *r;
    cv_run_options opt = cv_run_defaults();
    if (cv_run_create(&r, m, &s, &opt, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n = cv_shape_numel(&s);
    float *x = malloc(n * sizeof(float));
    for (size_t k = 0; k < n; k++)
        x[k] = (float)((k * 2654435761u) % 1000) / 1000.0f - 0.5f;
    double *t = malloc(sizeof(double) * (size_t)repeats);
    if (cv_run_forward(r, x, &err) != CV_OK) { /* warm-up */
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int k = 0; k < repeats; k++) {
        double t0 = now();
        cv_run_forward(r, x, &err);
        t[k] = (now() - t0) * 1e3;
    }
    qsort(t, (size_t)repeats, sizeof(double), bench_cmp_double);
    printf("median_ms %.3f min_ms %.3f max_ms %.3f\n", t[repeats / 2], t[0], t[repeats - 1]);
    free(t);
    free(x);
    cv_run_free(r);
    cv_model_free(m);
    return 0;
}
