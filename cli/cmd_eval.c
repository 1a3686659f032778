/* cnnviz eval: how faithful a map is (include/cnnviz_eval.h): deletion and
 * insertion curves, the pointing game, the model-randomisation check. */
#include "cli.h"
#include "cnnviz_eval.h"
#include "cnnviz_render.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const cli_opt opts[] = {
    {"img", "image", "PATH", NULL, "image the map explains (JPEG or PNG); repeat it or name a folder for batch mode, where --map is a "
     "template with {} for each image's folder, a folder of <image folder>/map.npy, or one map for all"},
    {"input", NULL, "X.npy", NULL, "or the preprocessed input tensor itself (the model's layout, batch 1)"},
    {"size", NULL, "S", "224", "input side the image is resized to (models without a fixed size)"},
    {"map", NULL, "MAP.npy", NULL, "the map: [H, W] at the model input's resolution, higher = more important"},
    {"class", NULL, "K|NAME", NULL, "class the map explains: an index or a name (default: the top-1)"},
    {"metric", NULL, "M", "all", "deletion, insertion or all"},
    {"steps", NULL, "N", "100", "curve steps: N + 1 inputs per curve"},
    {"deletion-fill", NULL, "F", "zero", "what deleted pixels become: zero (RISE's definition), blur or mean"},
    {"batch", NULL, "N", "0", "inputs per forward pass (0: chosen from memory)"},
    {"pointing", NULL, "x0,y0,x1,y1|FILE", NULL,
     "pointing game: a box in original-image pixels, or a file of boxes (one per line); 15 px tolerance"},
    {"sanity", NULL, NULL, NULL, "model-randomisation sanity check (Adebayo et al. 2018): sanity.png"},
    {"sanity-method", NULL, "M", "saliency", "the sanity check's method: saliency, gradcam, ... (gradient methods)"},
    {"seed", NULL, "N", "0", "the sanity check's random weights"},
    {"out", NULL, "DIR", "out/eval", "output directory"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_batch_opts, cli_preprocess_opts, NULL};

typedef struct {
    cv_model *m;
    cv_labels labels;
    cv_shape xs;
    float *x, *map;
    int image_w, image_h, target, metrics;
    long steps, batch, seed;
    cv_eval_fill fill;
    cv_eval_box boxes[CLI_MAX_BOXES];
    int n_boxes;
    const char *dir;
} eval_job;

static void on_progress(void *user, long done, long total)
{
    cli_progress *pr = user;
    pr->total = total;
    cli_progress_update(pr, done);
}

/* Model, class names and --class. */
static bool load_model(const cli_args *a, eval_job *j)
{
    return cli_load_model(a, &j->m) && cli_labels(a, j->m, &j->labels) &&
           cli_resolve_class(cli_str(a, "class"), &j->labels, &j->target);
}

/* The input (image or tensor) and the map that ranks its pixels. */
static bool load_inputs(const cli_args *a, eval_job *j, const char *img, const char *map_path)
{
    const char *npy = cli_str(a, "input");
    cli_input_geom g;
    if (img) {
        cv_preprocess pre;
        cv_image original = {0};
        if (!cli_input_geometry(a, j->m, "size", &g) || !cli_preprocess(a, j->m, &pre) ||
            !(j->x = cli_image_input(a, j->m, img, &g, &pre, &original)))
            return false;
        j->image_w = original.w;
        j->image_h = original.h;
        cv_image_free(&original);
    } else if (!cli_read_input_image(a, npy, j->m, &g, &j->x)) {
        return false;
    } else {
        j->image_w = g.width, j->image_h = g.height;
    }
    j->xs = cli_input_shape(&g, 1);
    int h = g.height, w = g.width;
    cv_shape ms;
    cv_error err;
    if (cv_npy_read(map_path, &ms, &j->map, &err) != CV_OK)
        return cli_fail(&err), false;
    char buf[160];
    if (ms.ndim < 2 || ms.d[ms.ndim - 2] != h || ms.d[ms.ndim - 1] != w || cv_shape_numel(&ms) != (size_t)h * w)
        return cli_error("--map %s is %s; expected [%d, %d], the model input's resolution", map_path,
                         cv_shape_str(&ms, buf, sizeof buf), h, w), false;
    return true;
}

static bool write_csv(const eval_job *j, const cv_eval_curves *c)
{
    char path[4096];
    FILE *f = fopen(cli_path(path, sizeof path, j->dir, "curves.csv"), "w");
    if (!f)
        return cli_error("cannot write %s", path), false;
    fprintf(f, "step,fraction,deletion_p,insertion_p\n");
    for (int i = 0; i <= c->steps; i++)
        fprintf(f, "%d,%.6g,%.9g,%.9g\n", i, c->fraction[i], c->deletion ? c->deletion[i] : NAN,
                c->insertion ? c->insertion[i] : NAN);
    return fclose(f) == 0 || (cli_error("cannot write %s", path), false);
}

/* A JSON number, null for NaN (the metric not asked for). */
static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *pointing_json(const eval_job *j, const cv_eval_pointing *pt)
{
    cJSON *list = cJSON_CreateArray();
    for (int k = 0; k < j->n_boxes; k++) {
        cJSON *o = cJSON_CreateObject(), *box = cJSON_AddArrayToObject(o, "box");
        const double corner[4] = {j->boxes[k].x0, j->boxes[k].y0, j->boxes[k].x1, j->boxes[k].y1};
        for (int c = 0; c < 4; c++)
            cJSON_AddItemToArray(box, cJSON_CreateNumber(corner[c]));
        cJSON_AddBoolToObject(o, "hit", pt[k].hit);
        cJSON_AddNumberToObject(o, "max_x", pt[k].max_x);
        cJSON_AddNumberToObject(o, "max_y", pt[k].max_y);
        cJSON_AddNumberToObject(o, "distance", pt[k].distance);
        cJSON_AddNumberToObject(o, "tied_maxima", (double)pt[k].n_max);
        cJSON_AddNumberToObject(o, "tied_maxima_hit", (double)pt[k].n_max_hit);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *sanity_json(const eval_job *j, const cv_eval_sanity *s)
{
    cJSON *o = cJSON_CreateObject();
    char name[1024];
    cJSON_AddStringToObject(o, "method", cv_explain_method_name(s->method));
    cJSON_AddNumberToObject(o, "seed", (double)j->seed);
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    for (int k = 0; k < s->n_layers; k++) {
        cJSON *l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "k", k + 1);
        cJSON_AddStringToObject(l, "layer", cli_json_text(cv_model_layer_name(j->m, s->layer[k]), name, sizeof name));
        add_number(l, "rank_correlation", s->rank_correlation[k]);
        add_number(l, "ssim", s->ssim[k]);
        cJSON_AddBoolToObject(l, "unchanged", s->unchanged[k]);
        cJSON_AddItemToArray(layers, l);
    }
    return o;
}

/* eval.json, by cJSON as explain's summary.json: names from files (class
 * and layer names) may hold quotes and backslashes. */
static bool write_json(const eval_job *j, const cv_eval_curves *c, const cv_eval_pointing *pt,
                       const cv_eval_sanity *s)
{
    char name[1024];
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "class", c->target);
    cJSON_AddStringToObject(root, "class_name", cli_json_text(cli_label(&j->labels, c->target), name, sizeof name));
    cJSON_AddNumberToObject(root, "steps", c->steps);
    cJSON_AddStringToObject(root, "deletion_fill", cv_eval_fill_name((cv_eval_fill)c->deletion_fill));
    add_number(root, "deletion_auc", c->deletion_auc);
    add_number(root, "insertion_auc", c->insertion_auc);
    cJSON_AddNumberToObject(root, "forwards", (double)c->forwards);
    cJSON_AddNumberToObject(root, "batch", c->batch);
    cJSON_AddNumberToObject(root, "seconds", c->seconds);
    if (j->n_boxes)
        cJSON_AddItemToObject(root, "pointing", pointing_json(j, pt));
    if (s && s->n_layers)
        cJSON_AddItemToObject(root, "sanity", sanity_json(j, s));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return cli_error("out of memory"), false;
    char path[4096];
    cv_error err;
    cv_status st = cv_file_write(cli_path(path, sizeof path, j->dir, "eval.json"), text, strlen(text), &err);
    free(text);
    return st == CV_OK || (cli_fail(&err), false);
}

static bool save_png(const cv_image *img, const eval_job *j, const char *name)
{
    char path[4096];
    cv_error err;
    if (cv_image_save_png(img, cli_path(path, sizeof path, j->dir, name), &err) != CV_OK)
        return cli_fail(&err), false;
    return true;
}

static bool run_curves(const cli_args *a, eval_job *j, cv_eval_curves *c)
{
    cv_eval_options o = cv_eval_defaults();
    o.steps = (int)j->steps;
    o.batch = (int)j->batch;
    o.deletion_fill = (int)j->fill;
    cli_progress pr;
    cv_error err;
    if (!cli_max_memory(a, &o.max_memory))
        return false;
    cli_progress_start(&pr, "eval", 0);
    o.progress = on_progress;
    o.user = &pr;
    cv_status st = cv_eval_curves_run(j->m, &j->xs, j->x, j->map, j->target, j->metrics, &o, c, &err);
    cli_progress_end(&pr);
    if (st != CV_OK)
        return cli_fail(&err), false;
    char label[256], title[400];
    cli_printable(cli_label(&j->labels, c->target), label, sizeof label);
    printf("class %d (%s), %d steps, %ld forward passes in batches of %d, %.2f s\n", c->target, label, c->steps,
           c->forwards, c->batch, c->seconds);
    if (c->deletion)
        printf("deletion AUC  %.4f (lower: more faithful; deleted pixels set to %s)\n", c->deletion_auc,
               c->deletion_fill == CV_EVAL_FILL_BLUR   ? "the blurred input"
               : c->deletion_fill == CV_EVAL_FILL_MEAN ? "each channel's mean"
                                                       : "0");
    if (c->insertion)
        printf("insertion AUC %.4f (higher: more faithful)\n", c->insertion_auc);
    if (strcmp(label, "-") == 0)
        snprintf(title, sizeof title, "deletion and insertion, class %d", c->target);
    else
        snprintf(title, sizeof title, "deletion and insertion, class %d: %.40s", c->target, label);
    cv_image pic = {0};
    if (cv_eval_render_curves(c, title, &pic, &err) != CV_OK)
        return cli_fail(&err), false;
    bool ok = write_csv(j, c) && save_png(&pic, j, "curves.png");
    cv_image_free(&pic);
    return ok;
}

static bool run_pointing(eval_job *j, int target, cv_eval_pointing *pt)
{
    cv_error err;
    int h = (int)j->xs.d[cv_model_input_nhwc(j->m) ? 1 : 2], w = (int)j->xs.d[cv_model_input_nhwc(j->m) ? 2 : 3];
    int hits = 0;
    for (int k = 0; k < j->n_boxes; k++) {
        if (cv_eval_pointing_game(j->map, h, w, j->image_w, j->image_h, &j->boxes[k], CV_EVAL_POINTING_TOLERANCE,
                                  &pt[k], &err) != CV_OK)
            return cli_fail(&err), false;
        hits += pt[k].hit;
        printf("pointing box (%g, %g, %g, %g): %s, maximum at map pixel (%d, %d), %.1f px from the box%s\n",
               j->boxes[k].x0, j->boxes[k].y0, j->boxes[k].x1, j->boxes[k].y1, pt[k].hit ? "hit" : "miss",
               pt[k].max_x, pt[k].max_y, pt[k].distance, pt[k].n_max > 1 ? " (tied maxima: the first decides)" : "");
    }
    if (j->n_boxes > 1)
        printf("pointing game: %d of %d hits\n", hits, j->n_boxes);
    (void)target;
    return true;
}

static bool run_sanity(const cli_args *a, eval_job *j, int target, cv_eval_sanity *s)
{
    cv_eval_sanity_options o = cv_eval_sanity_defaults();
    cv_error err;
    if (cv_explain_method_from_name(&o.method, cli_str(a, "sanity-method"), &err) != CV_OK)
        return cli_fail(&err), false;
    o.seed = (uint64_t)j->seed;
    if (!cli_max_memory(a, &o.explain.max_memory))
        return false;
    cli_progress pr;
    cli_progress_start(&pr, "sanity", 0);
    o.progress = on_progress;
    o.user = &pr;
    cv_status st = cv_eval_sanity_run(j->m, &j->xs, j->x, target, &o, s, &err);
    cli_progress_end(&pr);
    if (st != CV_OK)
        return cli_fail(&err), false;
    printf("sanity (%s, cascading randomisation from the output, seed %ld):\n", cv_explain_method_name(o.method),
           j->seed);
    char name[256];
    for (int k = 0; k < s->n_layers; k++)
        printf("  k=%-3d %-32s rank correlation %7.4f  SSIM %7.4f%s\n", k + 1,
               cli_printable(cv_model_layer_name(j->m, s->layer[k]), name, sizeof name), s->rank_correlation[k],
               s->ssim[k], s->unchanged[k] ? "  UNCHANGED: the map does not depend on these weights" : "");
    cv_image pic = {0};
    if (cv_eval_render_sanity(j->m, s, &pic, &err) != CV_OK)
        return cli_fail(&err), false;
    bool ok = save_png(&pic, j, "sanity.png");
    cv_image_free(&pic);
    return ok;
}

static bool parse_opts(const cli_args *a, eval_job *j)
{
    const char *metric = cli_str(a, "metric");
    j->metrics = strcmp(metric, "deletion") == 0 ? CV_EVAL_DELETION : strcmp(metric, "insertion") == 0
                                                                          ? CV_EVAL_INSERTION
                                                                      : strcmp(metric, "all") == 0 ? CV_EVAL_BOTH : 0;
    if (!j->metrics)
        return cli_usage_error("--metric '%s': expected deletion, insertion or all", metric), false;
    if (!cli_int(a, "steps", 1, 100000, &j->steps) || !cli_int(a, "batch", 0, 4096, &j->batch) ||
        !cli_int(a, "seed", 0, 1L << 62, &j->seed))
        return false;
    cv_error err;
    if (cv_eval_fill_from_name(&j->fill, cli_str(a, "deletion-fill"), &err) != CV_OK)
        return cli_usage_error("--deletion-fill: %s", err.msg), false;
    return !cli_given(a, "pointing") || cli_parse_boxes(cli_str(a, "pointing"), j->boxes, &j->n_boxes);
}

/* ---- batch mode ------------------------------------------------------------ */

/* The image's map under --map: a template with "{}" for the image's folder,
 * a folder holding <folder>/map.npy (a batch explain's or occlusion's
 * --out), or one map for all. */
static bool batch_map_path(const char *spec, const char *rel, char *buf, size_t len)
{
    struct stat st;
    size_t used = 0;
    if (strstr(spec, "{}")) {
        for (const char *p = spec; *p && used + 1 < len;)
            if (strncmp(p, "{}", 2) == 0)
                used += (size_t)snprintf(buf + used, len - used, "%s", rel), p += 2;
            else
                buf[used++] = *p++;
        buf[used < len ? used : len - 1] = 0;
    } else if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(buf, len, "%s/%s/map.npy", spec, rel);
    } else {
        snprintf(buf, len, "%s", spec);
    }
    return strlen(buf) + 1 < len || (cli_error("--map: the path for %s is too long", rel), false);
}

static bool batch_setup(const cli_args *a, void *user) { return load_model(a, user); }

static void batch_numbers(const cli_args *a, const cv_eval_curves *c, cli_batch_item *it, const eval_job *j)
{
    if (!cli_given(a, "class") && (c->deletion || c->insertion)) { /* the top-1, on the whole input */
        it->top_class = c->target;
        it->top_prob = c->deletion ? c->deletion[0] : c->insertion[c->steps];
        snprintf(it->top_name, sizeof it->top_name, "%s", cli_label(&j->labels, c->target));
    }
    cJSON_AddNumberToObject(it->numbers, "target", c->target);
    if (c->deletion)
        cJSON_AddNumberToObject(it->numbers, "deletion_auc", c->deletion_auc);
    if (c->insertion)
        cJSON_AddNumberToObject(it->numbers, "insertion_auc", c->insertion_auc);
    snprintf(it->picture, sizeof it->picture, "curves.png");
}

/* One image and its map; the model stays loaded. */
static void batch_image(const cli_args *a, void *user, cli_batch_item *items, int n)
{
    eval_job *j = user;
    for (int k = 0; k < n; k++) {
        cli_batch_item *it = &items[k];
        cv_eval_curves c = {0};
        cv_eval_sanity s = {0};
        cv_eval_pointing pt[CLI_MAX_BOXES];
        char map[8192];
        j->dir = it->dir;
        it->ok = batch_map_path(cli_str(a, "map"), it->rel, map, sizeof map) && load_inputs(a, j, it->input, map) &&
                 run_curves(a, j, &c) && (!j->n_boxes || run_pointing(j, c.target, pt)) &&
                 (!cli_flag(a, "sanity") || run_sanity(a, j, c.target, &s)) && write_json(j, &c, pt, &s);
        if (it->ok)
            batch_numbers(a, &c, it, j);
        cv_eval_curves_free(&c);
        cv_eval_sanity_free(&s);
        free(j->x);
        free(j->map);
        j->x = j->map = NULL;
    }
}

static void batch_cleanup(void *user)
{
    eval_job *j = user;
    cv_labels_free(&j->labels);
    cv_model_free(j->m);
}

/* ---- the command ------------------------------------------------------------- */

static int run(const cli_args *a)
{
    eval_job j = {0};
    if (!parse_opts(a, &j))
        return 2;
    const char *img = cli_str(a, "img"), *npy = cli_str(a, "input"), *map_path = cli_require(a, "map");
    if (!map_path)
        return 2;
    if (cli_batch_mode(a)) {
        if (npy)
            return cli_usage_error("--input is one tensor: batch mode (several --img, a folder, --list) takes "
                                   "images");
        cli_batch_ops ops = {"eval", 1, batch_setup, batch_image, batch_cleanup, &j};
        return cli_batch_run(a, &ops);
    }
    if (!cli_batch_options_ok(a))
        return CLI_EXIT_USAGE;
    if (!img == !npy)
        return cli_usage_error("give one of --img and --input");
    cli_outset set;
    if (!cli_outset_begin(&set, cli_str(a, "out"), "eval"))
        return 1;
    j.dir = set.stage;
    int status = 1;
    cv_eval_curves c = {0};
    cv_eval_sanity s = {0};
    cv_eval_pointing pt[CLI_MAX_BOXES];
    if (!load_model(a, &j) || !load_inputs(a, &j, img, map_path) || !run_curves(a, &j, &c) || (j.n_boxes && !run_pointing(&j, c.target, pt)) ||
        (cli_flag(a, "sanity") && !run_sanity(a, &j, c.target, &s)) || !write_json(&j, &c, pt, &s) ||
        !cli_outset_commit(&set))
        goto out;
    printf("wrote %s/: %s\n", set.final, set.summary);
    status = 0;
out:
    cli_outset_abort(&set);
    cv_eval_curves_free(&c);
    cv_eval_sanity_free(&s);
    cv_labels_free(&j.labels);
    free(j.x);
    free(j.map);
    cv_model_free(j.m);
    return status;
}

const cli_cmd cli_cmd_eval = {
    "eval", "how faithful a map is: deletion and insertion curves, pointing game, randomisation sanity check",
    "Ranks the pixels by --map (descending, ties by pixel index) and, for i = 0..N, sets the first round(i H W / N) "
    "to 0 in the preprocessed input (deletion) or puts them back into a Gaussian-blurred input (sigma 5, 11 taps; "
    "insertion), recording the class's probability; the AUC is the trapezoid rule over i / N (include/"
    "cnnviz_eval.h). Writes to --out: curves.csv, curves.png, eval.json; with --sanity, sanity.png. " BATCH_HELP,
    groups, run,
};
