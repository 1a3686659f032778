/* cnnviz layers: every layer's name, op, output shape, parameters and cost. */
#include "cli.h"
#include <stdio.h>

static const cli_opt opts[] = {
    {"size", NULL, "S", NULL, "input side for models without a fixed size (or to see another size)"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, NULL};

static int run(const cli_args *a)
{
    cv_model *m = NULL;
    cv_run *r = NULL;
    cv_error err;
    int status = 1;
    if (!cli_load_model(a, &m))
        return 1;
    cv_shape shape = cv_model_input_shape(m);
    cli_input_geom g;
    if (shape.ndim == 4) {
        if (!cli_input_geometry(a, m, "size", &g))
            goto out;
        shape = cli_input_shape(&g, 1);
    } else {
        for (int k = 0; k < shape.ndim; k++)
            if (shape.d[k] < 0)
                shape.d[k] = 1;
    }
    cv_run_options opt = cv_run_defaults();
    if (cv_run_create(&r, m, &shape, &opt, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char buf[160];
    char name[256], op[128];
    printf("%s: input '%s' %s\n", cv_model_path(m), cli_printable(cv_model_input_name(m), name, sizeof name),
           cv_shape_str(&shape, buf, sizeof buf));
    printf("%4s  %-36s %-20s %-22s %12s %14s\n", "#", "layer", "op", "output", "params", "mult-adds");
    size_t total_params = 0;
    double total_macs = 0;
    for (int k = 0; k < cv_model_num_layers(m); k++) {
        cv_shape out = cv_run_layer_shape(r, k);
        size_t params = cv_model_layer_params(m, k);
        double macs = cv_run_layer_macs(r, k);
        total_params += params;
        total_macs += macs;
        printf("%4d  %-36s %-20s %-22s %12zu %14.0f\n", k, cli_printable(cv_model_layer_name(m, k), name, sizeof name),
               cli_printable(cv_model_layer_op(m, k), op, sizeof op),
               out.ndim ? cv_shape_str(&out, buf, sizeof buf) : "-", params, macs);
    }
    printf("total: %d layers, %zu parameters, %.3f G mult-adds\n", cv_model_num_layers(m), total_params,
           total_macs / 1e9);
    status = 0;
out:
    cv_run_free(r);
    cv_model_free(m);
    return status;
}

const cli_cmd cli_cmd_layers = {
    "layers", "list every layer: name, op, output shape, parameter count and multiply-adds",
    "Layer names (or their output tensor names) are what --layer accepts in other commands.",
    groups, run,
};
