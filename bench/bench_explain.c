/* Time one attribution method: bench_explain MODEL METHOD [samples] [repeats] [batch]
 *
 * MODEL takes a 1 x 3 x 224 x 224 input (NCHW); METHOD is a name of
 * include/cnnviz_explain.h ("saliency", "gradcam", "smoothgrad", ...);
 * samples sets SmoothGrad's and RISE's sample count and IG's steps (0: the
 * method's default). The explainer (plan and runs, the top-1 class) is
 * made once; each repeat times cv_explainer_set_input (the forward pass on
 * the image) and cv_explain_run for that class: what a user explaining one
 * image after another pays, and what PyTorch's side pays (a forward and a
 * backward; the plan is made once there too). One untimed run comes first, as
 * on PyTorch's side: the first run also makes the weight copies the
 * convolutions keep (Winograd, flipped) and touches the arena's pages, and
 * with two repeats a median would be that cold run. Prints "median_ms <x>
 * min_ms .. max_ms .. first_ms .. batch <b> passes <p> blas <core>" for
 * bench/bench_explain.py to compare with PyTorch in the same run. */
#include "cnnviz_explain.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench_util.h"

static int fail(const cv_error *err)
{
    fprintf(stderr, "%s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_explain MODEL METHOD [samples] [repeats] [batch]\n");
        return 2;
    }
    int samples = argc > 3 ? atoi(argv[3]) : 0;
    int repeats = argc > 4 ? atoi(argv[4]) : 3;
    if (repeats < 1 || repeats > 1000)
        repeats = 3;
    cv_error err;
    cv_explain_method method;
    cv_model *m;
    if (cv_explain_method_from_name(&method, argv[2], &err) != CV_OK ||
        cv_model_load(&m, argv[1], NULL, &err) != CV_OK)
        return fail(&err);
    cv_shape s = {4, {1, 3, 224, 224}};
    size_t n = cv_shape_numel(&s);
    float *x = malloc(n * sizeof(float));
    double *t = malloc(sizeof(double) * (size_t)repeats);
    if (!x || !t)
        return 1;
    for (size_t k = 0; k < n; k++) /* the same pattern as bench_forward */
        x[k] = (float)((k * 2654435761u) % 1000) / 1000.0f - 0.5f;
    cv_explain_options o = cv_explain_defaults();
    if (samples > 0) {
        o.samples = samples;
        o.steps = samples;
    }
    if (argc > 5) /* inputs per pass (0: from the memory budget) */
        o.batch = atoi(argv[5]);
    cv_explainer *ex;
    if (cv_explainer_create(&ex, m, &s, x, &o, &err) != CV_OK)
        return fail(&err);
    int target = cv_explainer_top_class(ex);
    cv_explain_result res = {0};
    long passes = 0;
    int batch = 0;
    double first_ms = 0;
    for (int k = -1; k < repeats; k++) { /* k = -1: the untimed warm-up */
        double t0 = now();
        if (cv_explainer_set_input(ex, x, &err) != CV_OK || cv_explain_run(ex, method, target, &res, &err) != CV_OK)
            return fail(&err);
        double ms = (now() - t0) * 1e3;
        if (k < 0)
            first_ms = ms;
        else
            t[k] = ms;
        passes = res.passes;
        batch = res.batch;
        cv_explain_result_free(&res);
    }
    double median = bench_median(t, repeats);
    printf("median_ms %.3f min_ms %.3f max_ms %.3f first_ms %.3f batch %d passes %ld blas %s\n", median, t[0],
           t[repeats - 1], first_ms, batch, passes, cv_blas_core());
    cv_explainer_free(ex);
    cv_model_free(m);
    free(t);
    free(x);
    return 0;
}
