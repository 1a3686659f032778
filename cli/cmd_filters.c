/* cnnviz filters: what each filter of a layer responds to, by gradient ascent
 * on the input image (the original tool's Program 1, and a better method). */
#include "cli.h"
#include <cjson/cJSON.h>
#include "cnnviz_render.h"
#include "cnnviz_viz.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_opt opts[] = {
    {"layer", NULL, "NAME", NULL, "layer whose filters (output channels) to show; list them with `cnnviz layers`"},
    {"class", NULL, "K|NAME", NULL, "instead of --layer: the image a class's score (its logit, before a final "
                                    "Softmax) rises most for; an index or a class name"},
    {"method", NULL, "M", "seed", "seed: the original algorithm to the letter; lucid: Fourier-parameterised, "
                                  "decorrelated colour, random views, Adam (clearer pictures)"},
    {"iterations", NULL, "N", NULL, "gradient ascent steps (default: 20 for seed, 256 for lucid)"},
    {"img", NULL, "PATH", NULL, "seed: start from this image (resized to --size) instead of noise U[0,1)*20+128; repeat it or name a "
                                "folder for batch mode: the pictures grown from each image"},
    {"num_filters", NULL, "N", "64", "how many filters: all when the layer has no more, else a random sorted draw"},
    {"filters", NULL, "K,K,...", NULL, "exactly these filter indices (instead of --num_filters)"},
    {"size", NULL, "S", "128", "image side, for models without a fixed input size (or to override it)"},
    {"seed", NULL, "N", "0", "random seed (noise, filter draw, lucid's views)"},
    {"out", NULL, "DIR", "filters_out", "output directory: grid.png, filters.npy, filters.txt"},
    {"tiles", NULL, NULL, NULL, "also write each picture as filter_<k>.png"},
    {"jpeg", NULL, NULL, NULL, "also write the grid as grid.jpg"},
    {"lr", NULL, "R", "0.05", "lucid: Adam step size"},
    {"batch", NULL, "N", NULL, "most filters optimised at once (default: as many as fit --max-memory, "
                               "at most 2 GiB of buffers)"},
    {NULL},
};

/* The preprocessing options; --labels names --class's classes. */
static const cli_opt pre_opts[] = {
    {"preprocess", NULL, "P", "auto", "input preprocessing: auto, raw, caffe, tf, torch, unit (the original tool "
                                      "fed raw BGR: --preprocess raw --bgr)"},
    {"bgr", NULL, NULL, NULL, "feed channels in BGR order"},
    {"mean", NULL, "A,B,C", NULL, "subtract per-channel means (after the preset's scaling)"},
    {"std", NULL, "A,B,C", NULL, "divide by per-channel std (after the preset's scaling)"},
    {"labels", NULL, "FILE", NULL, "class names for --class, one per line (or index,name)"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_batch_opts, pre_opts, NULL};

/* "3,17,42" -> indices in [0, channels); false after printing an error. */
static bool parse_filters(const char *s, int channels, const char *layer, int **out, int *n)
{
    int cap = 16, count = 0;
    int *ks = malloc(sizeof(int) * (size_t)cap);
    if (!ks)
        return cli_error("out of memory"), false;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long k = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ',')) {
            free(ks);
            return cli_usage_error("--filters expects comma-separated integers, got '%s'", s), false;
        }
        if (k < 0 || k >= channels) {
            free(ks);
            return cli_usage_error("--filters: filter %ld is out of range: layer '%s' has %d channels (0..%d)", k, layer,
                             channels, channels - 1),
                   false;
        }
        if (count == cap) {
            int *k2 = realloc(ks, sizeof(int) * (size_t)(cap *= 2));
            if (!k2) {
                free(ks);
                return cli_error("out of memory"), false;
            }
            ks = k2;
        }
        ks[count++] = (int)k;
        p = *end ? end + 1 : end;
    }
    if (!count) {
        free(ks);
        return cli_usage_error("--filters is empty"), false;
    }
    *out = ks;
    *n = count;
    return true;
}

typedef struct {
    cli_progress bar;
    char what[96];
} progress_state;

static void on_progress(void *user, const cv_filters_progress *p)
{
    progress_state *s = user;
    snprintf(s->what, sizeof s->what, "filters %d/%d, iteration %d/%d", p->filters_done, p->filters_total,
             p->iteration, p->iterations);
    s->bar.total = p->steps;
    cli_progress_update(&s->bar, p->step);
}

/* A dead filter's tile gets a red cross, so it is not mistaken for a picture. */
static void mark_dead(uint8_t *rgb, int w, int h)
{
    for (int y = 0; y < h; y++) {
        int x0 = (int)((long)y * (w - 1) / (h > 1 ? h - 1 : 1));
        for (int t = -1; t <= 1; t++)
            for (int side = 0; side < 2; side++) {
                int x = (side ? w - 1 - x0 : x0) + t;
                if (x >= 0 && x < w) {
                    uint8_t *q = rgb + ((size_t)y * w + x) * 3;
                    q[0] = 220, q[1] = 30, q[2] = 30;
                }
            }
    }
}

/* Atomically, through the library's writer: an exclusive temporary name,
 * so a file or symlink planted at a guessable name is never written. */
static bool write_text(const char *path, const char *text)
{
    cv_error err;
    if (cv_file_write(path, text, strlen(text), &err) != CV_OK)
        return cli_fail(&err), false;
    return true;
}

/* What the command line asks for, checked. */
typedef struct {
    const char *layer_name, *method_s, *img_path, *out_dir;
    cv_filters_method method;
    long iters, num, seed, batch;
    double lr;
    size_t mem_bytes;
} filters_args;

/* The flags into fa; false after a message (exit status 2). */
static bool parse_args(const cli_args *a, filters_args *fa)
{
    memset(fa, 0, sizeof *fa);
    if (cli_given(a, "class") && (cli_given(a, "layer") || cli_given(a, "filters")))
        return cli_usage_error("--class chooses the layer and the filter: give it without --layer and --filters"), false;
    if (!cli_given(a, "class") && !(fa->layer_name = cli_require(a, "layer")))
        return false;
    fa->method_s = cli_str(a, "method");
    if (strcmp(fa->method_s, "seed") == 0)
        fa->method = CV_FILTERS_SEED;
    else if (strcmp(fa->method_s, "lucid") == 0)
        fa->method = CV_FILTERS_LUCID;
    else
        return cli_usage_error("--method must be seed or lucid, got '%s'", fa->method_s), false;
    static const cli_method_option for_methods[] = {{"lr", "lucid"}, {"img", "seed"}, {NULL}};
    if (!cli_check_method_options(a, for_methods, &fa->method_s, 1))
        return false;
    if (cli_given(a, "iterations") && !cli_int(a, "iterations", 1, 1000000, &fa->iters))
        return false;
    if (!cli_int(a, "num_filters", 1, 1 << 20, &fa->num) || !cli_int(a, "seed", 0, 0x7fffffffffffffffL, &fa->seed) ||
        !cli_float(a, "lr", 1e-6, 10, &fa->lr))
        return false;
    /* --max-memory is the common model option (cli_model_opts): it caps
     * every run, and the chunks of filters are sized within it */
    if (!cli_max_memory(a, &fa->mem_bytes))
        return false;
    if (cli_given(a, "batch") && !cli_int(a, "batch", 1, 1 << 20, &fa->batch))
        return false;
    fa->img_path = cli_str(a, "img");
    fa->out_dir = cli_str(a, "out");
    if (fa->img_path && fa->method == CV_FILTERS_LUCID) {
        cli_note("--img is not used by --method lucid (it starts from a random spectrum)");
        fa->img_path = NULL;
    }
    return true;
}

/* The model and what was chosen in it; freed by job_free. */
typedef struct {
    cv_model *m;
    int layer, channels;
    int *ks, n;          /* the filters */
    cli_input_geom g;
    float *init;         /* --img as model input, or NULL */
    char class_title[300]; /* --class: "class 8 (Bag)", the grid's title */
} filters_job;

static void job_free(filters_job *j)
{
    free(j->init);
    free(j->ks);
    cv_model_free(j->m);
}

/* --class: the class-score layer (logits before a final Softmax: a
 * probability's gradient vanishes where the class already wins) and that
 * class as its one filter. */
static bool choose_class(const cli_args *a, filters_args *fa, filters_job *j, int before_softmax)
{
    cv_labels labels;
    fa->layer_name = cv_model_layer_name(j->m, j->layer);
    if (!cli_labels(a, j->m, &labels))
        return false;
    int k;
    bool ok = cli_resolve_class(cli_str(a, "class"), &labels, &k);
    if (ok && k >= j->channels)
        ok = (cli_error("--class %d: layer '%s' scores %d classes", k, fa->layer_name, j->channels), false);
    if (ok && (ok = (j->ks = malloc(sizeof(int))) != NULL)) {
        j->ks[0] = k;
        j->n = 1;
        char name[256];
        cli_printable(cli_label(&labels, k), name, sizeof name);
        printf("class %d (%s): the score of layer '%s'%s\n", k, name, fa->layer_name,
               before_softmax ? ", the logits before the final Softmax" : "");
        snprintf(j->class_title, sizeof j->class_title, "class %d (%.*s)", k, (int)strcspn(name, ","), name);
    }
    cv_labels_free(&labels);
    return ok;
}

/* Load the model, find the layer, the input size, preprocessing, the
 * filters and the starting image; false after a message. */
static bool prepare(const cli_args *a, filters_args *fa, filters_job *j, cv_filters_options *o)
{
    cv_error err;
    bool by_class = cli_given(a, "class");
    if (!cli_load_model(a, &j->m))
        return false;
    int before_softmax = 0;
    j->layer = by_class ? cv_model_class_score_layer(j->m, &before_softmax) : cli_find_layer(j->m, fa->layer_name);
    if (j->layer < 0) {
        if (by_class)
            cli_error("%s: no layer gives class scores", cv_model_path(j->m));
        return false;
    }
    if (!cli_input_geometry(a, j->m, "size", &j->g) || !cli_preprocess(a, j->m, &o->pre))
        return false;
    if (cv_filters_layer_channels(j->m, j->layer, j->g.height, j->g.width, &j->channels, &err) != CV_OK)
        return cli_fail(&err), false;
    if (by_class) {
        if (!choose_class(a, fa, j, before_softmax))
            return false;
    } else if (cli_given(a, "filters")) {
        if (!parse_filters(cli_str(a, "filters"), j->channels, fa->layer_name, &j->ks, &j->n))
            return false;
    } else {
        if (!(j->ks = malloc(sizeof(int) * (size_t)(fa->num < j->channels ? fa->num : j->channels))))
            return cli_error("out of memory"), false;
        j->n = cv_filters_choose(j->ks, (int)fa->num, j->channels, (uint64_t)fa->seed);
    }
    if (fa->img_path && !(j->init = cli_image_input(a, j->m, fa->img_path, &j->g, &o->pre, NULL)))
        return false;
    o->layer = j->layer;
    o->filters = j->ks;
    o->n_filters = j->n;
    o->height = j->g.height;
    o->width = j->g.width;
    o->iterations = (int)fa->iters;
    o->init = j->init;
    o->seed = (uint64_t)fa->seed;
    o->lr = (float)fa->lr;
    o->max_batch = (int)fa->batch;
    o->max_memory = fa->mem_bytes;
    return true;
}

static void print_plan(const filters_args *fa, const filters_job *j)
{
    char name[256], op[128];
    printf("%s: layer '%s' (%s), %d of %d filters, %dx%d, method %s:", cv_model_path(j->m),
           cli_printable(cv_model_layer_name(j->m, j->layer), name, sizeof name),
           cli_printable(cv_model_layer_op(j->m, j->layer), op, sizeof op), j->n, j->channels, j->g.width,
           j->g.height, fa->method_s);
    for (int i = 0; i < j->n; i++)
        printf(" %d", j->ks[i]);
    printf("\n");
    fflush(stdout);
}

/* cv_filters_run with a progress bar; *elapsed in seconds. */
static bool run_with_progress(cv_filters_result *res, const cv_model *m, cv_filters_options *o, double *elapsed)
{
    progress_state ps;
    o->progress = on_progress;
    o->progress_user = &ps;
    snprintf(ps.what, sizeof ps.what, "filters");
    int steps_guess = o->iterations ? o->iterations : o->method == CV_FILTERS_SEED ? 20 : 256;
    cli_progress_start(&ps.bar, ps.what, steps_guess);
    double t0 = cli_now();
    cv_error err;
    if (cv_filters_run(res, m, o, &err) != CV_OK) {
        if (ps.bar.tty)
            fputc('\n', stderr);
        return cli_fail(&err), false;
    }
    cli_progress_end(&ps.bar);
    *elapsed = cli_now() - t0;
    return true;
}

#define TILE_MIN_SIDE 96
#define GRID_MIN_SIDE 448

/* grid.png (dead filters crossed out; titled, numbered, small tiles
 * enlarged), grid.jpg and filter_<k>.png when asked, filters.npy, into stage. */
static bool write_pictures(const cli_args *a, const filters_args *fa, const filters_job *j,
                           const cv_filters_result *res, const char *stage)
{
    size_t tile_px = (size_t)res->width * res->height * 3;
    cv_image *tiles = malloc(sizeof(cv_image) * (size_t)res->count), grid = {0};
    if (!tiles)
        return cli_error("out of memory"), false;
    for (int i = 0; i < res->count; i++) {
        tiles[i] = (cv_image){res->width, res->height, 3, res->rgb + i * tile_px};
        if (res->dead[i])
            mark_dead(tiles[i].px, res->width, res->height);
    }
    char path[4200];
    cv_error err;
    char title[600];
    const char *model = cv_model_path(j->m), *slash = strrchr(model, '/');
    if (j->class_title[0])
        snprintf(title, sizeof title, "%s: %s, %s", slash ? slash + 1 : model, j->class_title, fa->method_s);
    else
        snprintf(title, sizeof title, "%s: layer %s, %s", slash ? slash + 1 : model,
                 cv_model_layer_name(j->m, j->layer), fa->method_s);
    /* tiles of at least 96 px, and a grid of at least about 448 px across:
     * one class visualisation is one big picture, not a 96 px stamp */
    int cols = (int)floor(sqrt((double)res->count)), min_tile = GRID_MIN_SIDE / (cols > 0 ? cols : 1);
    cv_status st = cv_render_filter_grid(tiles, res->count, res->filters, title,
                                         min_tile > TILE_MIN_SIDE ? min_tile : TILE_MIN_SIDE, &grid, &err);
    if (st == CV_OK)
        st = cv_image_save_png(&grid, cli_path(path, sizeof path, stage, "grid.png"), &err);
    if (st == CV_OK && cli_flag(a, "jpeg"))
        st = cv_image_save_jpeg(&grid, cli_path(path, sizeof path, stage, "grid.jpg"), 95, &err);
    for (int i = 0; st == CV_OK && cli_flag(a, "tiles") && i < res->count; i++) {
        char name[64];
        snprintf(name, sizeof name, "filter_%d.png", res->filters[i]);
        st = cv_image_save_png(&tiles[i], cli_path(path, sizeof path, stage, name), &err);
    }
    free(tiles);
    cv_image_free(&grid);
    cv_shape ns = {4, {res->count, res->height, res->width, res->channels}};
    if (st == CV_OK)
        st = cv_npy_write_f32(cli_path(path, sizeof path, stage, "filters.npy"), &ns, res->images, &err);
    if (st != CV_OK)
        return cli_fail(&err), false;
    return true;
}

/* filters.txt: each filter's final mean activation and status. */
static bool write_table(const filters_args *fa, const filters_job *j, const cv_filters_result *res,
                        const char *stage)
{
    size_t cap = 512 + (size_t)res->count * 64;
    char *txt = malloc(cap), path[4200];
    if (!txt)
        return cli_error("out of memory"), false;
    size_t used = (size_t)snprintf(txt, cap,
                                   "# cnnviz filters: %s, layer '%s', method %s, %d iterations, %dx%d, seed %ld\n"
                                   "# filter\tmean_activation\tstatus\n",
                                   cv_model_path(j->m), cv_model_layer_name(j->m, j->layer), fa->method_s,
                                   res->iterations, res->width, res->height, fa->seed);
    for (int i = 0; i < res->count && used < cap; i++)
        used += (size_t)snprintf(txt + used, cap - used, "%d\t%.6g\t%s\n", res->filters[i], res->activation[i],
                                 cv_filters_status(res, i));
    bool ok = write_text(cli_path(path, sizeof path, stage, "filters.txt"), txt);
    free(txt);
    return ok;
}

static void report_dead(const cv_filters_result *res)
{
    if (!res->n_dead)
        return;
    fprintf(stderr, "cnnviz: %d filter(s) never received a gradient (dead ReLU?), crossed out in the grid:",
            res->n_dead);
    for (int i = 0; i < res->count; i++)
        if (res->dead[i])
            fprintf(stderr, " %d", res->filters[i]);
    fputc('\n', stderr);
}

/* ---- batch mode: one picture set per seed image ---------------------------- */

typedef struct {
    filters_args fa;
    filters_job j;
    cv_filters_options o;
} filters_batch;

static bool batch_setup(const cli_args *a, void *user)
{
    filters_batch *b = user;
    b->fa.img_path = NULL; /* each image's, below */
    if (!prepare(a, &b->fa, &b->j, &b->o))
        return false;
    print_plan(&b->fa, &b->j);
    return true;
}

static void batch_numbers(const cv_filters_result *res, cli_batch_item *it)
{
    double sum = 0;
    for (int i = 0; i < res->count; i++)
        sum += res->activation[i];
    cJSON_AddNumberToObject(it->numbers, "filters", res->count);
    cJSON_AddNumberToObject(it->numbers, "dead", res->n_dead);
    cJSON_AddNumberToObject(it->numbers, "mean_activation", res->count ? sum / res->count : 0);
    snprintf(it->picture, sizeof it->picture, "grid.png");
}

/* The filters' pictures grown from one image, the model planned once. */
static void batch_image(const cli_args *a, void *user, cli_batch_item *items, int n)
{
    filters_batch *b = user;
    for (int k = 0; k < n; k++) {
        cli_batch_item *it = &items[k];
        cv_filters_result res = {0};
        double elapsed;
        free(b->j.init);
        b->j.init = cli_image_input(a, b->j.m, it->input, &b->j.g, &b->o.pre, NULL);
        b->o.init = b->j.init;
        it->ok = b->j.init && run_with_progress(&res, b->j.m, &b->o, &elapsed) &&
                 write_pictures(a, &b->fa, &b->j, &res, it->dir) && write_table(&b->fa, &b->j, &res, it->dir);
        if (it->ok) {
            report_dead(&res);
            batch_numbers(&res, it);
        }
        cv_filters_result_free(&res);
    }
}

static void batch_cleanup(void *user) { job_free(&((filters_batch *)user)->j); }

static int run_many(const cli_args *a, filters_args *fa)
{
    if (fa->method != CV_FILTERS_SEED)
        return cli_usage_error("batch mode grows the filters' pictures from each image: --method seed");
    filters_batch b = {.fa = *fa, .o = cv_filters_defaults()};
    b.o.method = fa->method;
    cli_batch_ops ops = {"filters", 1, batch_setup, batch_image, batch_cleanup, &b};
    return cli_batch_run(a, &ops);
}

static int run(const cli_args *a)
{
    filters_args fa;
    if (!parse_args(a, &fa))
        return 2;
    if (cli_batch_mode(a))
        return run_many(a, &fa);
    if (!cli_batch_options_ok(a))
        return CLI_EXIT_USAGE;
    cv_filters_options o = cv_filters_defaults();
    o.method = fa.method;
    filters_job j = {0};
    cli_outset set = {0};
    cv_filters_result res = {0};
    int status = 1;
    double elapsed;
    if (!prepare(a, &fa, &j, &o) || !cli_outset_begin(&set, fa.out_dir, "filters"))
        goto out;
    print_plan(&fa, &j);
    /* outputs go to set.stage, moved to --out, complete, at the end; and
     * only once the work succeeded */
    if (!run_with_progress(&res, j.m, &o, &elapsed) || !write_pictures(a, &fa, &j, &res, set.stage) ||
        !write_table(&fa, &j, &res, set.stage))
        goto out;
    report_dead(&res);
    if (!cli_outset_commit(&set))
        goto out;
    printf("%s: grid.png%s%s, filters.npy [%d, %d, %d, %d], filters.txt; %d iterations in %.1f s (%d batch%s)%s\n",
           fa.out_dir, cli_flag(a, "jpeg") ? ", grid.jpg" : "", cli_flag(a, "tiles") ? ", filter_<k>.png" : "",
           res.count, res.height, res.width, res.channels, res.iterations, elapsed, res.n_chunks,
           res.n_chunks == 1 ? "" : "es", cli_assumed_preprocessing());
    status = 0;
out:
    cli_outset_abort(&set);
    cv_filters_result_free(&res);
    job_free(&j);
    return status;
}

const cli_cmd cli_cmd_filters = {
    "filters", "synthesise, for filters of a layer, the images that excite them most (gradient ascent)",
    "Each chosen filter k gets an image that maximises the mean of channel k of --layer's output; all are "
    "optimised together in batches. --method seed is the original tool's algorithm (RMS-normalised gradient "
    "steps with blur/decay/clip regularisation, then mean/std deprocessing); --method lucid parameterises the "
    "image in Fourier space with ImageNet colour decorrelation and optimises random views of it with Adam. "
    "Writes DIR/grid.png (n x n tiles, each numbered and enlarged to at least 96 pixels, titled with the model, layer and method), DIR/filters.npy (float32 [count, size, size, C], the "
    "final model inputs in the channel order fed to the model) and DIR/filters.txt (the filters, their final mean "
    "activation, 'dead' for filters that never got a gradient, 'inactive' for a final mean activation of 0). " BATCH_HELP,
    groups, run,
};
