/* cnnviz config: say once, beside the model, what its file does not say
 * (preprocessing, input size, labels), so every later command gets the
 * right answer without flags. The file is the model's sidecar,
 * "<model>.cnnviz.json" (cnnviz_io.h: cv_model_config). */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"preprocess", NULL, "P", NULL, "the model's preprocessing: raw, caffe, tf, torch or unit"},
    {"bgr", NULL, NULL, NULL, "the model takes channels in BGR order"},
    {"rgb", NULL, NULL, NULL, "the model takes channels in RGB order (e.g. caffe means, RGB input)"},
    {"mean", NULL, "A,B,C", NULL, "per-channel means, in the preset's scaled range"},
    {"std", NULL, "A,B,C", NULL, "per-channel standard deviations, in the preset's scaled range"},
    {"size", NULL, "H[,W]", NULL, "input size, for a model whose input has no fixed size"},
    {"labels", NULL, "FILE", NULL, "class names: a file in the model's folder"},
    {"clear", NULL, NULL, NULL, "start from nothing instead of the sidecar there is"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, NULL};

static void describe(const cv_model_config *c, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
#define ADD(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
    if (c->preprocess[0])
        ADD("preprocess %s%s%s", c->preprocess, c->channel_order[0] ? " " : "", c->channel_order);
    for (int k = 0; k < 2; k++) {
        int cnt = k ? c->n_std : c->n_mean;
        const float *v = k ? c->std : c->mean;
        if (cnt)
            ADD(cnt == 1 ? "%s%s %g" : "%s%s %g,%g,%g", n ? ", " : "", k ? "std" : "mean", v[0], v[1], v[2]);
    }
    if (c->height)
        ADD("%sinput %d x %d", n ? ", " : "", c->height, c->width);
    if (c->labels[0])
        ADD("%slabels %s", n ? ", " : "", c->labels);
    if (!n)
        ADD("nothing declared");
#undef ADD
}

/* --preprocess, --bgr/--rgb, --mean, --std into c, checked as the loader
 * will check them. A new preset drops the old preset's refinements. */
static bool set_preprocess(const cli_args *a, cv_model_config *c)
{
    cv_preprocess p;
    cv_error err;
    if (cli_given(a, "preprocess")) {
        if (cv_preprocess_preset(&p, cli_str(a, "preprocess"), &err) != CV_OK)
            return cli_usage_error("%s", err.msg), false;
        snprintf(c->preprocess, sizeof c->preprocess, "%s", p.name);
        c->channel_order[0] = 0;
        c->n_mean = c->n_std = 0;
    }
    if (cli_flag(a, "bgr") && cli_flag(a, "rgb"))
        return cli_usage_error("--bgr and --rgb contradict each other"), false;
    if (cli_flag(a, "bgr") || cli_flag(a, "rgb"))
        snprintf(c->channel_order, sizeof c->channel_order, "%s", cli_flag(a, "bgr") ? "BGR" : "RGB");
    if (cli_given(a, "mean")) {
        if (cv_preprocess_set_mean(&p, cli_str(a, "mean"), &err) != CV_OK)
            return cli_usage_error("--%s", err.msg), false;
        memcpy(c->mean, p.mean, sizeof c->mean);
        c->n_mean = 3;
    }
    if (cli_given(a, "std")) {
        if (cv_preprocess_set_std(&p, cli_str(a, "std"), &err) != CV_OK)
            return cli_usage_error("--%s", err.msg), false;
        memcpy(c->std, p.std, sizeof c->std);
        c->n_std = 3;
    }
    if (!c->preprocess[0] && (c->channel_order[0] || c->n_mean || c->n_std))
        return cli_usage_error("--bgr, --rgb, --mean and --std refine a preset: give --preprocess too"), false;
    return true;
}

/* --size only for a model whose input has none: a fixed input has its size. */
static bool set_size(const cli_args *a, const cv_model *m, cv_model_config *c)
{
    if (!cli_given(a, "size"))
        return true;
    const char *s = cli_str(a, "size");
    int h, w, used = 0;
    if (sscanf(s, "%d,%d%n", &h, &w, &used) == 2 && !s[used]) {
    } else if (sscanf(s, "%d%n", &h, &used) == 1 && !s[used]) {
        w = h;
    } else {
        return cli_usage_error("--size expects H or H,W, got '%s'", s), false;
    }
    if (h < 8 || w < 8 || h > 4096 || w > 4096)
        return cli_usage_error("--size %s: sides from 8 to 4096", s), false;
    cv_input_geometry g;
    cv_error err;
    if (cv_model_input_geometry(m, 0, 0, &g, &err) == CV_OK && (g.height != h || g.width != w))
        return cli_usage_error("%s takes %d x %d inputs; --size is for models without a fixed size",
                               cv_model_path(m), g.height, g.width), false;
    c->height = h, c->width = w;
    return true;
}

/* --labels: a readable file in the model's folder, stored by its name. */
static bool set_labels(const cli_args *a, const cv_model *m, cv_model_config *c)
{
    if (!cli_given(a, "labels"))
        return true;
    const char *given = cli_str(a, "labels");
    const char *name = strrchr(given, '/') ? strrchr(given, '/') + 1 : given;
    char path[4096];
    int exists;
    cv_error err;
    if (cv_path_beside_model(path, sizeof path, cv_model_path(m), name, "labels file", &exists, &err) != CV_OK)
        return cli_usage_error("%s", err.msg), false;
    if (!exists)
        return cli_error("%s: no such file beside the model (the sidecar names files in the model's folder)",
                         path), false;
    cv_labels l;
    size_t max_memory;
    if (!cli_max_memory(a, &max_memory))
        return false;
    if (cv_labels_read(&l, path, max_memory, &err) != CV_OK)
        return cli_fail(&err), false;
    cv_labels_free(&l);
    snprintf(c->labels, sizeof c->labels, "%s", name);
    return true;
}

static int run(const cli_args *a)
{
    const char *path = cli_require(a, "model");
    if (!path)
        return 2;
    cv_load_options lo = {0};
    lo.keras_config = cli_str(a, "config");
    lo.keras_flip_kernels = cli_flag(a, "flip-kernels");
    lo.ignore_sidecar = 1; /* a broken sidecar is what this command replaces */
    if (!cli_max_memory(a, &lo.max_memory))
        return 2;
    cv_model *m = NULL;
    cv_error err;
    if (cv_model_load(&m, path, &lo, &err) != CV_OK)
        return cli_fail(&err);
    cv_model_config c;
    int found = 0, status = 1;
    char *side = cv_model_config_path(path), text[600];
    if (!cli_flag(a, "clear") && cv_model_config_read(&c, path, &found, &err) != CV_OK) {
        cli_note("%s (replacing it)", err.msg);
        memset(&c, 0, sizeof c);
    } else if (cli_flag(a, "clear")) {
        memset(&c, 0, sizeof c);
    }
    bool change = cli_flag(a, "clear");
    static const char *const setters[] = {"preprocess", "bgr", "rgb", "mean", "std", "size", "labels"};
    for (size_t k = 0; k < sizeof setters / sizeof setters[0]; k++)
        change |= cli_given(a, setters[k]);
    if (!change) {
        describe(&c, text, sizeof text);
        printf("%s: %s\n", found ? side : "no sidecar", found ? text : "the model file's own metadata applies");
        status = 0;
    } else if (!set_preprocess(a, &c) || !set_size(a, m, &c) || !set_labels(a, m, &c)) {
        status = 2;
    } else if (cv_model_config_write(&c, path, &err) != CV_OK) {
        cli_fail(&err);
    } else {
        describe(&c, text, sizeof text);
        printf("wrote %s: %s\n", side, text);
        status = 0;
    }
    free(side);
    cv_model_free(m);
    return status;
}

const cli_cmd cli_cmd_config = {
    "config", "declare, once per model, its preprocessing, input size and labels (a sidecar file)",
    "Writes <model>.cnnviz.json beside the model: what the model file does not say. Every command reads "
    "it when it loads the model, before the model's own metadata; flags on a command still override "
    "it. Without settings, prints what the sidecar declares. Options given change only what they "
    "name; --clear starts from nothing.",
    groups, run,
};
