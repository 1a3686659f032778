/* cnnviz predict: classify one image. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"img", "image", "PATH", NULL, "image to classify (JPEG or PNG)"},
    {"top", NULL, "K", "5", "how many classes to print"},
    {"size", NULL, "S", NULL, "input side for models without a fixed size"},
    {"format", NULL, "F", "text", "text (a table), csv (rank,index,label,probability) or json, on stdout"},
    {"json", NULL, NULL, NULL, "the same as --format json"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_preprocess_opts, NULL};

/* --format / --json; false after a usage error. */
static bool output_format(const cli_args *a, cli_top_format *format)
{
    static const char *const names[] = {"text", "csv", "json", NULL}; /* in the order of cli_top_format */
    const char *f = cli_str(a, "format");
    if (cli_flag(a, "json")) {
        if (cli_given(a, "format") && strcmp(f, "json") != 0) {
            cli_usage_error("--json and --format %s disagree", f);
            return false;
        }
        f = "json";
    }
    int k = cli_pick(f, names);
    if (k < 0) {
        cli_usage_error("--format %s: expected text, csv or json", f);
        return false;
    }
    *format = (cli_top_format)k;
    return true;
}

static int run(const cli_args *a)
{
    long top;
    cli_top_format format;
    const char *img_path = cli_require(a, "img");
    if (!img_path || !cli_int(a, "top", 1, 100000, &top) || !output_format(a, &format))
        return 2;
    cv_model *m = NULL;
    cv_run *r = NULL;
    float *x = NULL, *probs = NULL;
    cv_labels labels = {0};
    int status = 1;
    cli_input_geom g;
    cv_preprocess p;
    cv_error err;
    if (!cli_load_model(a, &m) || !cli_input_geometry(a, m, "size", &g) || !cli_preprocess(a, m, &p))
        goto out;
    if (!(x = cli_image_input(a, m, img_path, &g, &p, NULL)))
        goto out;
    cv_shape shape = cli_input_shape(&g, 1);
    cv_run_options opt = cv_run_defaults();
    if (cv_run_create(&r, m, &shape, &opt, &err) != CV_OK || cv_run_forward(r, x, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    int n = 0;
    bool softmaxed;
    if (!(probs = cli_probabilities(cv_run_output(r, 0), 0, &n, &softmaxed))) {
        cli_error("out of memory");
        goto out;
    }
    if (!cli_labels(a, m, &labels))
        goto out;
    if (labels.n && labels.n != n)
        cli_note("%d class names for %d outputs", labels.n, n);
    if (format == CLI_TOP_TEXT)
        printf("%s: top %ld of %d classes%s%s\n", img_path, top < n ? top : n, n,
               softmaxed ? " (softmax of the model's logits)" : "", cli_assumed_preprocessing());
    cli_top_context ctx = {img_path, softmaxed, *cli_assumed_preprocessing() != 0};
    status = cli_write_top_classes(stdout, format, probs, n, &labels, (int)top, &ctx) ? 0 : 1;
out:
    cv_labels_free(&labels);
    free(probs);
    free(x);
    cv_run_free(r);
    cv_model_free(m);
    return status;
}

const cli_cmd cli_cmd_predict = {
    "predict", "classify an image and print the top classes with their probabilities",
    "Softmax is applied only when the model outputs logits. Class names come from --labels, "
    "the model's metadata, or a labels.txt beside the model. --format csv and json print only the classes "
    "(notes and warnings go to stderr), for scripts.",
    groups, run,
};
