/* Relu and Clip folded into the Conv before them (src/core/run.c
 * plan_fusion, cv_op_ctx.clamp): a fused run must give the unfused run's
 * outputs bit for bit, on every convolution kernel (im2col, 1x1, batched
 * small images, Winograd wide and narrow, depthwise), with NaN inputs (Relu
 * turns NaN to 0, Clip keeps it), and must fold only where nothing can see
 * the difference: not a Conv output with a second reader, not one asked
 * for with keep_all or stop_layer, not in a gradient run. That a fold
 * happened is seen from the clamp layer's time: a folded node never runs. */
#include "lib/netbuild.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

/* Each Conv followed by its clamp, then a final Add so that the output is
 * not itself a clamp's. clamp_layer[] gets the clamps' layer indices.
 * clip_first: the first clamp is a Clip (which keeps NaN) instead of a
 * Relu (which turns it to 0), so that NaN inputs reach both kinds. */
static int first_clamp(netbuild *nb, int x, bool clip_first)
{
    return clip_first ? nb_clip(nb, x, -1.0f, 1.0f) : nb_unary(nb, "Relu", x);
}

static cv_model *chain_net(int batch, int side, bool clip_first, int *clamp_layer, int *n_clamps)
{
    netbuild nb;
    cv_shape xs = {4, {batch, 3, side, side}};
    int x = nb_begin(&nb, &xs, 13), k = 0;
    x = nb_conv(&nb, x, 3, 16, 3, 2, 1, 1);          /* direct (3 channels), stride 2 */
    x = first_clamp(&nb, x, clip_first);
    clamp_layer[k++] = nb.m->n_nodes - 1;
    x = nb_conv(&nb, x, 16, 24, 1, 1, 0, 1);         /* 1x1 */
    x = nb_clip(&nb, x, 0.0f, 6.0f);
    clamp_layer[k++] = nb.m->n_nodes - 1;
    x = nb_conv(&nb, x, 24, 24, 3, 1, 1, 24);        /* depthwise */
    x = nb_clip(&nb, x, -0.5f, 0.5f);
    clamp_layer[k++] = nb.m->n_nodes - 1;
    x = nb_conv(&nb, x, 24, 16, 3, 1, 1, 1);         /* Winograd where it pays */
    x = nb_unary(&nb, "Relu", x);
    clamp_layer[k++] = nb.m->n_nodes - 1;
    int y = nb_conv(&nb, x, 16, 16, 3, 1, 1, 1);     /* two readers: not folded */
    int a = nb_unary(&nb, "Relu", y);
    x = nb_binary(&nb, "Add", a, y);
    *n_clamps = k;
    return nb_end(&nb, x);
}

static void fill(float *x, size_t n, unsigned seed, bool nans)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
        if (nans && i % 97 == 5)
            x[i] = NAN;
    }
}

/* Forward once with opt; a copy of output 0 in *out (caller frees). */
static cv_status run_once(const cv_model *m, const cv_shape *s, const float *x, cv_run_options opt, float **out,
                          size_t *n, cv_run **keep)
{
    cv_error err;
    cv_run *r;
    cv_status st = cv_run_create(&r, m, s, &opt, &err);
    if (st != CV_OK) {
        fprintf(stderr, "    %s\n", err.msg);
        return st;
    }
    if ((st = cv_run_forward(r, x, &err)) != CV_OK) {
        fprintf(stderr, "    %s\n", err.msg);
        cv_run_free(r);
        return st;
    }
    const cv_tensor *y = cv_run_output(r, 0);
    *n = cv_shape_numel(&y->shape);
    *out = malloc(*n * sizeof(float));
    memcpy(*out, y->f, *n * sizeof(float));
    *keep = r;
    return CV_OK;
}

static void compare_fused(int batch, int side, int algo, bool nans)
{
    int clamp_layer[8], n_clamps;
    cv_model *m = chain_net(batch, side, nans, clamp_layer, &n_clamps);
    REQUIRE(m, "net");
    cv_shape s = {4, {batch, 3, side, side}};
    size_t nx = (size_t)batch * 3 * side * side, n1, n2;
    float *x = malloc(nx * sizeof(float)), *y1 = NULL, *y2 = NULL;
    fill(x, nx, 7u + (unsigned)side, nans);
    cv_run_options fused = cv_run_defaults(), plain = cv_run_defaults();
    fused.conv_algo = plain.conv_algo = algo;
    plain.no_fusion = 1;
    cv_run *rf = NULL, *rp = NULL;
    if (run_once(m, &s, x, fused, &y1, &n1, &rf) == CV_OK && run_once(m, &s, x, plain, &y2, &n2, &rp) == CV_OK) {
        CHECK(n1 == n2, "sizes %zu %zu", n1, n2);
        /* with NaNs, a fold that got either NaN rule wrong gives finite
         * values where the unfused run has NaN or 0, further down */
        size_t diff = 0;
        for (size_t i = 0; i < n1 && n1 == n2; i++)
            diff += memcmp(&y1[i], &y2[i], sizeof(float)) != 0;
        CHECK(diff == 0, "batch %d side %d algo %d%s: %zu of %zu outputs differ from the unfused run", batch, side,
              algo, nans ? " with NaN" : "", diff, n1);
        for (int k = 0; k < n_clamps; k++) {
            CHECK(cv_run_layer_seconds(rf, clamp_layer[k], 0) == 0.0, "clamp layer %d ran: not folded",
                  clamp_layer[k]);
            CHECK(cv_run_layer_seconds(rp, clamp_layer[k], 0) > 0.0, "unfused clamp layer %d did not run",
                  clamp_layer[k]);
        }
        int second_reader = cv_model_num_layers(m) - 2; /* the Relu beside the Add */
        CHECK(cv_run_layer_seconds(rf, second_reader, 0) > 0.0, "a Conv output with two readers was folded");
    } else {
        CHECK(0, "runs failed");
    }
    cv_run_free(rf);
    cv_run_free(rp);
    free(x);
    free(y1);
    free(y2);
    cv_model_free(m);
}

static void test_fused_equals_unfused(void)
{
    compare_fused(1, 40, CV_CONV_AUTO, false);     /* Winograd narrow (20 x 20 maps) */
    compare_fused(2, 130, CV_CONV_WINOGRAD, false);/* Winograd wide (65 columns) */
    compare_fused(3, 20, CV_CONV_IM2COL, false);   /* 10 x 10 maps: batched small images */
    compare_fused(1, 33, CV_CONV_IM2COL, false);   /* odd sizes, one image per sgemm */
}

static void test_fused_nan(void)
{
    compare_fused(1, 40, CV_CONV_AUTO, true);
    compare_fused(3, 20, CV_CONV_IM2COL, true);
}

/* Asked-for layers are never folded: keep_all keeps the Conv's raw output,
 * stop_layer at the Conv returns it unclamped, need_grad runs the clamp. */
static void test_not_folded_when_visible(void)
{
    int clamp_layer[8], n_clamps;
    cv_model *m = chain_net(1, 24, false, clamp_layer, &n_clamps);
    REQUIRE(m, "net");
    cv_shape s = {4, {1, 3, 24, 24}};
    float x[3 * 24 * 24];
    fill(x, sizeof x / sizeof x[0], 3u, false);
    cv_error err;
    cv_run_options o[3] = {cv_run_defaults(), cv_run_defaults(), cv_run_defaults()};
    o[0].keep_all = 1;
    o[1].stop_layer = clamp_layer[0] - 1; /* the first Conv */
    o[2].need_grad = 1;
    for (int k = 0; k < 3; k++) {
        cv_run *r;
        REQUIRE(cv_run_create(&r, m, &s, &o[k], &err) == CV_OK, "%s", err.msg);
        REQUIRE(cv_run_forward(r, x, &err) == CV_OK, "%s", err.msg);
        const cv_tensor *conv = cv_run_layer_output(r, clamp_layer[0] - 1);
        size_t negative = 0;
        for (size_t i = 0; conv && conv->f && i < cv_shape_numel(&conv->shape); i++)
            negative += conv->f[i] < 0.0f;
        CHECK(conv && conv->f && negative > 0, "option set %d: the Conv's own output (before Relu) is gone or "
                                               "clamped (%zu negative values)", k, negative);
        if (k != 1)
            CHECK(cv_run_layer_seconds(r, clamp_layer[0], 0) > 0.0, "option set %d: the Relu was folded", k);
        cv_run_free(r);
    }
    cv_model_free(m);
}

int main(void)
{
    RUN(test_fused_equals_unfused);
    RUN(test_fused_nan);
    RUN(test_not_folded_when_visible);
    return test_summary("fusion");
}
