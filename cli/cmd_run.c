/* cnnviz run: raw tensors in and out (.npy), optionally an inner layer. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>

static const cli_opt opts[] = {
    {"input", NULL, "X.npy", NULL, "input tensor (float32 or float64, C order, the model's input layout)"},
    {"output", NULL, "Y.npy", NULL, "where to write the output tensor (float32)"},
    {"layer", NULL, "NAME", NULL, "write this layer's output instead of the model's (node or tensor name)"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, NULL};

static int run(const cli_args *a)
{
    const char *in_path = cli_require(a, "input"), *out_path = cli_require(a, "output");
    if (!in_path || !out_path)
        return 2;
    cv_model *m = NULL;
    cv_run *r = NULL;
    float *x = NULL;
    cv_error err;
    int status = 1;
    cv_shape shape;
    if (!cli_load_model(a, &m) || !cli_read_input(a, in_path, m, &shape, &x))
        goto out;
    cv_run_options opt = cv_run_defaults();
    const char *layer = cli_str(a, "layer");
    if (layer && (opt.stop_layer = cli_find_layer(m, layer)) < 0)
        goto out;
    if (cv_run_create(&r, m, &shape, &opt, &err) != CV_OK || cv_run_forward(r, x, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    const cv_tensor *y = cv_run_output(r, 0);
    if (y->dtype != CV_F32) {
        cli_error("layer output is not a float tensor");
        goto out;
    }
    if (cv_npy_write_f32(out_path, &y->shape, y->f, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char buf[160];
    printf("%s: wrote %s\n", out_path, cv_shape_str(&y->shape, buf, sizeof buf));
    status = 0;
out:
    free(x);
    cv_run_free(r);
    cv_model_free(m);
    return status;
}

const cli_cmd cli_cmd_run = {
    "run", "run the model on a .npy tensor and write the output (or a layer's) as .npy",
    NULL, groups, run,
};
