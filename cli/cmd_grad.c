/* cnnviz grad: gradient of one channel's mean activation w.r.t. the input. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"input", NULL, "X.npy", NULL, "input tensor (float32 or float64, the model's input layout)"},
    {"layer", NULL, "NAME", NULL, "layer whose channel is the objective"},
    {"filter", NULL, "K", NULL, "channel (filter) index k: objective = mean of channel k over batch and space"},
    {"output", NULL, "G.npy", NULL, "where to write d(objective)/d(input), float32, input's shape"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, NULL};

static int run(const cli_args *a)
{
    const char *in_path = cli_require(a, "input"), *out_path = cli_require(a, "output");
    const char *layer_name = cli_require(a, "layer");
    long k;
    if (!in_path || !out_path || !layer_name || !cli_require(a, "filter") || !cli_int(a, "filter", 0, 1L << 30, &k))
        return 2;
    cv_model *m = NULL;
    cv_run *r = NULL;
    float *x = NULL, *seed = NULL;
    cv_error err;
    int status = 1;
    cv_shape shape;
    if (!cli_load_model(a, &m) || !cli_read_input(a, in_path, m, &shape, &x))
        goto out;
    int layer = cli_find_layer(m, layer_name);
    if (layer < 0)
        goto out;
    cv_run_options opt = cv_run_defaults();
    opt.stop_layer = layer;
    opt.need_grad = 1;
    if (cv_run_create(&r, m, &shape, &opt, &err) != CV_OK || cv_run_forward(r, x, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    cv_shape ys = cv_run_layer_shape(r, layer);
    char buf[160];
    if (ys.ndim < 2) {
        cli_error("layer '%s' has output %s: no channel axis", layer_name, cv_shape_str(&ys, buf, sizeof buf));
        goto out;
    }
    /* Channels are axis 1 (NCHW) of the engine's tensors. */
    size_t n = (size_t)ys.d[0], c = (size_t)ys.d[1], inner = 1;
    for (int d = 2; d < ys.ndim; d++)
        inner *= (size_t)ys.d[d];
    if ((size_t)k >= c) {
        cli_usage_error("--filter %ld is out of range: layer '%s' has %zu channels (0..%zu)", k, layer_name, c, c - 1);
        goto out;
    }
    size_t numel = cv_shape_numel(&ys);
    if (!(seed = calloc(numel, sizeof(float)))) {
        cli_error("out of memory");
        goto out;
    }
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < inner; i++)
            seed[(b * c + (size_t)k) * inner + i] = 1.0f / (float)(n * inner);
    const float *g;
    if (cv_run_backward(r, layer, seed, &g, &err) != CV_OK || cv_npy_write_f32(out_path, &shape, g, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char name[256];
    printf("%s: wrote d mean(%s[:, %ld]) / d input, %s\n", out_path, cli_printable(layer_name, name, sizeof name), k,
           cv_shape_str(&shape, buf, sizeof buf));
    status = 0;
out:
    free(seed);
    free(x);
    cv_run_free(r);
    cv_model_free(m);
    return status;
}

const cli_cmd cli_cmd_grad = {
    "grad", "write the gradient of one filter's mean activation with respect to the input (.npy)",
    "The objective is the mean over batch, height and width of channel --filter of --layer's output; "
    "the gradient has the input's shape (saliency-style raw numbers).",
    groups, run,
};
