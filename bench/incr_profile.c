/* Where incremental occlusion spends its time, layer by layer:
 *   incr_profile MODEL.onnx IMAGE.png [occ 40] [stride 5] [batch 64] [max positions]
 * Runs the occlusion grid (black occluder, torch preprocessing, image at
 * the model's input size) through cv_incr and prints each layer's share
 * of the time and its ms per position, slowest first, after the total
 * (wall and CPU time). */
#include "cnnviz.h"
#include "cnnviz_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_util.h"


int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: incr_profile MODEL IMAGE [occ] [stride] [batch] [max positions]\n");
        return 2;
    }
    int occ = argc > 3 ? atoi(argv[3]) : 40, stride = argc > 4 ? atoi(argv[4]) : 5;
    int batch = argc > 5 ? atoi(argv[5]) : 64, limit = argc > 6 ? atoi(argv[6]) : 0;
    cv_error err;
    cv_model *m;
    cv_image img = {0}, sized = {0};
    cv_preprocess pre;
    if (cv_model_load(&m, argv[1], NULL, &err) != CV_OK || cv_image_load(&img, argv[2], &err) != CV_OK ||
        cv_preprocess_preset(&pre, "torch", &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cv_shape s = cv_model_input_shape(m);
    s.d[0] = 1;
    int C = (int)s.d[1], H = (int)s.d[2], W = (int)s.d[3];
    if (cv_image_resize(&sized, &img, W, H, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    float *x = malloc(sizeof(float) * (size_t)C * H * W);
    cv_preprocess_image(&pre, &sized, C, 0, x);
    int rows = (H - occ + stride - 1) / stride + 1, cols = (W - occ + stride - 1) / stride + 1;
    int n = rows * cols;
    if (limit > 0 && limit < n)
        n = limit;
    int *py = malloc(sizeof(int) * (size_t)n), *px = malloc(sizeof(int) * (size_t)n);
    for (int k = 0; k < n; k++) {
        int y = k / cols * stride, xx = k % cols * stride;
        py[k] = y + occ <= H ? y : H - occ;
        px[k] = xx + occ <= W ? xx : W - occ;
    }
    size_t patch = (size_t)C * occ * occ;
    float *patches = malloc(sizeof(float) * patch * (size_t)batch);
    for (size_t i = 0; i < patch * (size_t)batch; i++)
        patches[i] = cv_preprocess_value(&pre, 0.0f, (int)(i / ((size_t)occ * occ) % (size_t)C));
    cv_incr *ic;
    double t0 = now();
    cv_incr_options io = cv_incr_defaults();
    io.max_batch = batch;
    if (cv_incr_create(&ic, m, &s, x, &(cv_incr_patches){n, py, px, occ, occ}, &io, &err) != CV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t1 = now(), c1 = cpu_now();
    const cv_tensor *out;
    for (int first = 0; first < n; first += batch) {
        int count = n - first < batch ? n - first : batch;
        if (cv_incr_run(ic, first, count, patches, &out, &err) != CV_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    double t2 = now(), c2 = cpu_now();
    int L = cv_model_num_layers(m);
    bench_layer_time *e = malloc(sizeof *e * (size_t)L);
    double sum = 0;
    for (int k = 0; k < L; k++) {
        e[k] = (bench_layer_time){k, cv_incr_layer_seconds(ic, k)};
        sum += e[k].s;
    }
    qsort(e, (size_t)L, sizeof *e, bench_slowest_first);
    /* CPU time per position too: on a shared machine it varies less */
    printf("%d positions (occ %d, stride %d, batch %d): setup %.2f s, %.2f ms per position (CPU %.2f ms), %.1fx "
           "fewer MACs, buffers %.1f MiB per position\n",
           n, occ, stride, batch, t1 - t0, 1e3 * (t2 - t1) / n, 1e3 * (c2 - c1) / n, cv_incr_speedup_bound(ic),
           cv_incr_bytes_per_position(ic) / 1048576.0);
    for (int k = 0; k < L && e[k].s > 0.005 * sum; k++)
        printf("  %-40.40s %-12s %5.1f%%  %7.3f ms/pos %8.1f MMAC/pos %6.1f GMAC/s\n", cv_model_layer_name(m, e[k].layer),
               cv_model_layer_op(m, e[k].layer), 100 * e[k].s / sum, 1e3 * e[k].s / n,
               cv_incr_layer_macs(ic, e[k].layer) / 1e6, cv_incr_layer_macs(ic, e[k].layer) * n / e[k].s / 1e9);
    cv_incr_free(ic);
    cv_model_free(m);
    return 0;
}
