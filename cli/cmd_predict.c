/* cnnviz predict: classify one image, or many in batched forwards. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt opts[] = {
    {"img", "image", "PATH", NULL, "image to classify (JPEG or PNG); repeat it or name a folder for batch mode"},
    {"top", NULL, "K", "5", "how many classes to print"},
    {"size", NULL, "S", NULL, "input side for models without a fixed size"},
    {"format", NULL, "F", "text", "text (a table), csv (rank,index,label,probability) or json, on stdout"},
    {"json", NULL, NULL, NULL, "the same as --format json"},
    {"out", NULL, "DIR", "out/predict", "batch mode: the folder of the images' folders (top.json, thumb.png) and "
                                        "manifest.jsonl"},
    {"batch", NULL, "N", "16", "batch mode: images per forward pass"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_batch_opts, cli_preprocess_opts, NULL};

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

/* ---- batch mode: groups of images through one planned run ---------------- */

typedef struct {
    long top;
    cli_top_format format;
    cv_model *m;
    cli_input_geom g;
    cv_preprocess p;
    cv_labels labels;
    cv_run *run[2];  /* for a full group, and for the last, smaller one */
    int run_batch[2];
    float *x;        /* [group, C, H, W] */
} batch_ctx;

static cv_run *run_for(batch_ctx *c, int n, cv_error *err);

static bool batch_setup(const cli_args *a, void *user)
{
    batch_ctx *c = user;
    long group;
    if (!cli_int(a, "top", 1, 100000, &c->top) || !output_format(a, &c->format) ||
        !cli_int(a, "batch", 1, 4096, &group))
        return false;
    if (!cli_load_model(a, &c->m) || !cli_input_geometry(a, c->m, "size", &c->g) || !cli_preprocess(a, c->m, &c->p) ||
        !cli_labels(a, c->m, &c->labels))
        return false;
    size_t item = (size_t)c->g.channels * c->g.height * c->g.width, max_memory;
    if (!cli_max_memory(a, &max_memory))
        return false;
    if ((double)group * item * sizeof(float) > (double)cv_memory_limit(max_memory))
        return cli_usage_error("--batch %ld: %ld inputs take more than the memory limit (--max-memory)", group, group),
               false;
    if (!(c->x = malloc((size_t)group * item * sizeof(float))))
        return cli_error("out of memory"), false;
    /* a full group's plan now: a --batch too large for the memory limit
     * is one message before any work, not a failure of every image */
    cv_error err;
    if (!run_for(c, (int)group, &err))
        return cli_fail(&err), false;
    return true;
}

/* The run for n images, planned once per size (the last group is smaller). */
static cv_run *run_for(batch_ctx *c, int n, cv_error *err)
{
    int slot = c->run[0] && c->run_batch[0] != n ? 1 : 0;
    if (c->run[slot] && c->run_batch[slot] == n)
        return c->run[slot];
    cv_run_free(c->run[slot]);
    c->run[slot] = NULL;
    cv_shape shape = cli_input_shape(&c->g, n);
    cv_run_options opt = cv_run_defaults();
    if (cv_run_create(&c->run[slot], c->m, &shape, &opt, err) != CV_OK)
        return NULL;
    c->run_batch[slot] = n;
    return c->run[slot];
}

/* One image's results: its top classes on stdout as without batch mode,
 * and as top.json in its folder. */
static bool batch_item_outputs(const batch_ctx *c, cli_batch_item *it, const float *probs, int n, bool softmaxed)
{
    cli_batch_set_top(it, probs, n, &c->labels);
    if (c->format == CLI_TOP_TEXT)
        printf("%s: top %ld of %d classes%s%s\n", it->input, c->top < n ? c->top : n, n,
               softmaxed ? " (softmax of the model's logits)" : "", cli_assumed_preprocessing());
    cli_top_context ctx = {it->input, softmaxed, *cli_assumed_preprocessing() != 0};
    if (!cli_write_top_classes(stdout, c->format, probs, n, &c->labels, (int)c->top, &ctx))
        return false;
    char *text = NULL, path[4200];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    bool ok = f && cli_write_top_classes(f, CLI_TOP_JSON, probs, n, &c->labels, (int)c->top, &ctx);
    if (f && fclose(f) != 0)
        ok = false;
    cv_error err;
    if (ok && cv_file_write(cli_path(path, sizeof path, it->dir, "top.json"), text, len, &err) != CV_OK)
        ok = (cli_fail(&err), false);
    free(text);
    return ok;
}

/* items[0..n): each image into its slot of the batch (one that does not
 * load fails alone), then one forward for those that did. */
static void batch_run(const cli_args *a, void *user, cli_batch_item *items, int n)
{
    batch_ctx *c = user;
    size_t item = (size_t)c->g.channels * c->g.height * c->g.width;
    int slot[n], m = 0;
    for (int k = 0; k < n; k++) {
        cli_clear_last_error();
        float *x = cli_image_input(a, c->m, items[k].input, &c->g, &c->p, NULL);
        if (!x) {
            snprintf(items[k].error, sizeof items[k].error, "%s", cli_last_error());
            continue;
        }
        memcpy(c->x + (size_t)m * item, x, item * sizeof(float));
        free(x);
        slot[m++] = k;
    }
    cv_error err;
    cv_run *r = m ? run_for(c, m, &err) : NULL;
    if (m && (!r || cv_run_forward(r, c->x, &err) != CV_OK)) {
        cli_fail(&err);
        return; /* every item stays failed, with this message */
    }
    for (int s = 0; s < m; s++) {
        cli_batch_item *it = &items[slot[s]];
        int classes = 0;
        bool softmaxed;
        float *probs = cli_probabilities(cv_run_output(r, 0), s, &classes, &softmaxed);
        cli_clear_last_error();
        it->ok = probs && batch_item_outputs(c, it, probs, classes, softmaxed);
        if (!it->ok)
            snprintf(it->error, sizeof it->error, "%s", probs ? cli_last_error() : "out of memory");
        free(probs);
    }
    fflush(stdout);
}

static void batch_cleanup(void *user)
{
    batch_ctx *c = user;
    cv_run_free(c->run[0]);
    cv_run_free(c->run[1]);
    cv_labels_free(&c->labels);
    cv_model_free(c->m);
    free(c->x);
}

static int run_many(const cli_args *a)
{
    batch_ctx c = {0};
    long group;
    if (!cli_int(a, "batch", 1, 4096, &group))
        return CLI_EXIT_USAGE;
    cli_batch_ops ops = {"predict", (int)group, batch_setup, batch_run, batch_cleanup, &c};
    return cli_batch_run(a, &ops);
}

static int run(const cli_args *a)
{
    if (cli_batch_mode(a))
        return run_many(a);
    if (!cli_batch_options_ok(a))
        return CLI_EXIT_USAGE;
    if (cli_given(a, "out") || cli_given(a, "batch"))
        cli_note("--out and --batch are for batch mode (several --img, a folder or --list); one image prints only");
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
    "(notes and warnings go to stderr), for scripts; in batch mode each image also gets top.json (the json "
    "format), in forwards of --batch images. " BATCH_HELP,
    groups, run,
};
