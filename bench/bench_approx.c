/* Approximate occlusion maps against the exact one, for choosing
 * cv_occlusion_approx's defaults:
 *
 *   bench_approx MODEL IMAGE PRESET BGR STRIDE [TAU,COARSE,DRILL ...]
 *
 * PRESET: a cv_preprocess preset ("torch", "raw", ...); BGR 0 or 1. The
 * image is resized (antialiased) to the model's 224 x 224 input, occluded
 * by a 40 px black square at STRIDE. The exact map (incremental engine) is
 * computed once; then one approximate map per
 * setting. Prints one line per setting: wall and CPU seconds (planning
 * included), the speed-up over the exact map in CPU time (steadier than wall
 * time when other jobs share the machine), positions evaluated, the
 * multiply-add reduction against the exact map, MAE and SSIM.
 * BENCH_APPROX_DUMP=DIR also writes the maps as .npy there. */
#include "cnnviz.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

/* One map; returns wall seconds (create + run) or -1; *cpu: CPU seconds. */
static double one_map(const cv_model *m, const float *x, const cv_occlusion_geometry *g,
                      const cv_occlusion_params *p, double *map, cv_occlusion_stats *stats, double *engine_macs,
                      double *cpu)
{
    cv_error err;
    cv_occlusion *o;
    double t0 = now(), c0 = cpu_now();
    if (cv_occlusion_create(&o, m, x, g, p, &err) != CV_OK || cv_occlusion_run(o, p->target, map, NULL, NULL, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    double t = now() - t0;
    *cpu = cpu_now() - c0;
    *stats = cv_occlusion_last_stats(o);
    *engine_macs = cv_occlusion_engine_speedup(o);
    cv_occlusion_free(o);
    return t;
}

int main(int argc, char **argv)
{
    /* passive OpenMP waiting, as the cnnviz tool runs (cli/main.c): spinning
     * pools fight for the cores and count as CPU time */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execv("/proc/self/exe", argv);
    }
    if (argc < 6) {
        fprintf(stderr, "usage: bench_approx MODEL IMAGE PRESET BGR STRIDE [TAU,COARSE,DRILL ...]\n");
        return 2;
    }
    cv_error err;
    cv_model *m;
    cv_image img = {0}, sized = {0};
    cv_preprocess pre;
    if (cv_model_load(&m, argv[1], NULL, &err) != CV_OK || cv_image_load(&img, argv[2], &err) != CV_OK ||
        cv_image_resize_antialias(&sized, &img, 224, 224, &err) != CV_OK ||
        cv_preprocess_preset(&pre, argv[3], &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    pre.bgr = atoi(argv[4]);
    float *x = malloc(sizeof(float) * 3 * 224 * 224);
    cv_preprocess_image(&pre, &sized, 3, 0, x);
    cv_occlusion_geometry g = {3, 224, 224, 0};
    cv_occlusion_params p = cv_occlusion_defaults();
    p.stride = atoi(argv[5]);
    p.engine = CV_OCCLUSION_ENGINE_INCREMENTAL;
    for (int c = 0; c < 3; c++)
        p.fill_value[c] = cv_preprocess_value(&pre, 0.0f, c);
    int rows, cols;
    if (cv_occlusion_grid_size(&g, p.occ_size, p.stride, &rows, &cols, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n = (size_t)rows * cols;
    double *exact = malloc(n * sizeof(double)), *map = malloc(n * sizeof(double));
    cv_occlusion_stats st;
    double macs_exact, macs, c_exact, c;
    double t_exact = one_map(m, x, &g, &p, exact, &st, &macs_exact, &c_exact);
    if (t_exact < 0)
        return 1;
    /* BENCH_APPROX_DUMP=DIR: also write DIR/exact.npy and DIR/approx_K.npy (K: the setting's number) */
    const char *dump = getenv("BENCH_APPROX_DUMP");
    char path[4096];
    cv_shape ms = {2, {rows, cols}};
    if (dump) {
        snprintf(path, sizeof path, "%s/exact.npy", dump);
        if (cv_npy_write_f64(path, &ms, exact, &err) != CV_OK)
            fprintf(stderr, "%s\n", err.msg);
    }
    printf("%s, stride %d: %d x %d positions; exact incremental map %.2f s, %.2f CPU s (%.2fx fewer multiply-adds "
           "than full)\n", argv[1], p.stride, rows, cols, t_exact, c_exact, macs_exact);
    printf("%5s %6s %5s %8s %8s %8s %9s %9s %10s %7s\n", "tau", "coarse", "drill", "seconds", "CPU s", "speedup",
           "evaluated", "macs/exact", "MAE", "SSIM");
    for (int a = 6; a < argc; a++) {
        double tau, drill;
        int coarse;
        if (sscanf(argv[a], "%lf,%d,%lf", &tau, &coarse, &drill) != 3) {
            fprintf(stderr, "bad setting '%s' (want TAU,COARSE,DRILL)\n", argv[a]);
            return 2;
        }
        cv_occlusion_params q = p;
        q.approx.enabled = 1;
        q.approx.tau = tau;
        q.approx.coarse_factor = coarse;
        q.approx.drill_fraction = drill;
        double t = one_map(m, x, &g, &q, map, &st, &macs, &c);
        if (t < 0)
            return 1;
        cv_occlusion_map_error e;
        if (cv_occlusion_compare(map, exact, rows, cols, &e, &err) != CV_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        if (dump) {
            snprintf(path, sizeof path, "%s/approx_%d.npy", dump, a - 5);
            if (cv_npy_write_f64(path, &ms, map, &err) != CV_OK)
                fprintf(stderr, "%s\n", err.msg);
        }
        double saved = macs / macs_exact * (double)n / (double)st.evaluated;
        printf("%5.2f %6d %5.2f %8.2f %8.2f %7.2fx %9ld %9.2fx %10.3g %7.4f\n", tau, coarse, drill, t, c,
               c_exact / c, st.evaluated, saved, e.mae, e.ssim);
        fflush(stdout);
    }
    free(exact);
    free(map);
    free(x);
    cv_image_free(&img);
    cv_image_free(&sized);
    cv_model_free(m);
    return 0;
}
