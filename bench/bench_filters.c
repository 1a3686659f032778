/* One gradient-ascent iteration of `cnnviz filters` (method seed), timed
 * through the library's own path: cv_filters_run with N filters in one
 * batch, the time between progress callbacks. The first iteration (which
 * also plans the run) is reported apart. Driven by bench/bench_filters.sh.
 *
 *   bench_filters MODEL LAYER FILTERS SIZE ITERATIONS
 * prints one line per iteration: "iter <k> <seconds>".
 */
#include "cnnviz_viz.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench_util.h"

static double last;

static void tick(void *user, const cv_filters_progress *p)
{
    double t = now();
    printf("iter %d %.4f\n", p->iteration, t - last);
    fflush(stdout);
    last = t;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL LAYER FILTERS SIZE ITERATIONS\n", argv[0]);
        return 2;
    }
    cv_error err;
    cv_model *m;
    if (cv_model_load(&m, argv[1], NULL, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cv_filters_options o = cv_filters_defaults();
    if ((o.layer = cv_model_find_layer(m, argv[2], &err)) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int n = atoi(argv[3]);
    o.height = o.width = atoi(argv[4]);
    o.iterations = atoi(argv[5]);
    int channels;
    if (cv_filters_layer_channels(m, o.layer, o.height, o.width, &channels, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int *ks = malloc(sizeof(int) * (size_t)n);
    o.n_filters = cv_filters_choose(ks, n, channels, 0);
    o.filters = ks;
    o.pre.bgr = 1;
    o.max_memory = (size_t)4 << 30; /* one batch */
    o.progress = tick;
    cv_filters_result res;
    last = now();
    if (cv_filters_run(&res, m, &o, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("batches %d\n", res.n_chunks);
    cv_filters_result_free(&res);
    free(ks);
    cv_model_free(m);
    return 0;
}
