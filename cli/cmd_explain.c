/* cnnviz explain: attribution maps (saliency, Input x Gradient, SmoothGrad,
 * Integrated Gradients, guided backprop, Grad-CAM, Grad-CAM++, Score-CAM,
 * guided Grad-CAM, RISE) for one image, as files and pictures. A thin layer
 * over include/cnnviz_explain.h: the numbers are the library's; this file
 * parses flags, prints, and draws. */
#include "cli.h"
#include "cnnviz_eval.h"
#include "cnnviz_explain.h"
#include "cnnviz_occlusion.h"
#include "cnnviz_render.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The IG "blur" baseline: a Gaussian of this fraction of the input's longer
 * side (11.2 px at 224), strong enough to wipe out the object's edges. */
#define BLUR_SIGMA_FRACTION 0.05
/* overlay.png shows the photo enlarged until its shorter side is at least
 * this (a 28 x 28 digit, a 220 x 165 photo), or the picture, its colour
 * bar and its caption would be unreadable; map.npy keeps the map's size. */
#define MIN_PICTURE_SIDE 448
/* Gradient maps are spiky: a few pixels would take the whole colour range.
 * Their pictures saturate at this percentile (Captum's default clips the top
 * 2 %); the colour bar shows the range drawn. */
#define GRADIENT_DISPLAY_PERCENTILE 99.0

/* The share of an --input's values that may fall outside 0..255 once its
 * preprocessing is undone (rounding, a few stray values) before
 * the picture is taken to be of another preprocessing. */
#define INPUT_CLIPPED_SHARE 0.01

static const cli_opt opts[] = {
    {"img", "image", "PATH", NULL, "image to explain (JPEG or PNG); repeat it or name a folder for batch mode"},
    {"input", NULL, "X.npy", NULL,
     "or the preprocessed model input itself (the model's layout, batch 1, as cnnviz eval --input takes); "
     "pictures are drawn on the input with the preprocessing undone"},
    {"size", NULL, "S", "224", "input side for models without a fixed size (--img)"},
    {"method", "methods", "M[,M...]", "gradcam",
     "saliency, inputxgrad, smoothgrad, ig, guided, gradcam, gradcam++, scorecam, guided-gradcam, rise; "
     "several separated by commas, or all"},
    {"class", NULL, "K|NAME", NULL, "class to explain: an index or a name from the labels (default: the top-1)"},
    {"layer", NULL, "NAME|N", NULL,
     "CAM layer (gradcam, gradcam++, scorecam, guided-gradcam), by name or node index (see `cnnviz layers`); "
     "default: the last layer with a spatial output before the class scores (printed)"},
    {"samples", NULL, "N", NULL, "smoothgrad: noisy copies (default 50); rise: random masks (default 4000)"},
    {"sigma", NULL, "S", "0.15", "smoothgrad: noise std as a fraction of (max - min) of the model input"},
    {"seed", NULL, "N", "0", "smoothgrad noise and rise masks: random seed"},
    {"steps", NULL, "N", "50", "ig: steps of the right Riemann sum"},
    {"baseline", NULL, "B", "zero",
     "ig baseline x': zero (zeros in model-input space), black (a black image, preprocessed), blur (the input "
     "Gaussian-blurred in model-input space, sigma = 5% of its longer side: 11.2 px at 224), mean (each "
     "channel's mean of the input), or FILE.npy in the model input's shape"},
    {"grid", NULL, "N", "7", "rise: mask grid side"},
    {"keep", NULL, "P", "0.5", "rise: probability that a grid cell is kept"},
    {"batch", NULL, "N", "0",
     "samples per batched pass, and with --eval inputs per pass (0: chosen from --max-memory)"},
    {"eval", NULL, NULL, NULL,
     "after each map, its deletion and insertion AUCs as cnnviz eval computes them: compare.csv, summary.json, "
     "the captions and a table"},
    {"eval-steps", NULL, "N", NULL, "--eval: curve steps, N + 1 inputs per curve (default: cnnviz eval's, 100)"},
    {"deletion-fill", NULL, "F", "zero", "--eval: what deleted pixels become: zero (RISE's definition), blur or mean"},
    {"pointing", NULL, "x0,y0,x1,y1|FILE", NULL,
     "--eval: also the pointing game of every map against a box in original-image pixels, or a file of boxes "
     "(as cnnviz eval: 15 px tolerance)"},
    {"cmap", NULL, "NAME", "jet",
     "colour map: jet, rocket, viridis, magma, grey, diverging (signed maps are drawn diverging unless this is given)"},
    {"alpha", NULL, "A", "0.7", "overlay opacity where the map is strongest, 0..1 (where it is 0 the photo shows clear)"},
    {"out", NULL, "DIR", "out/explain", "output directory"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_batch_opts, cli_preprocess_opts, NULL};

/* ---- options ------------------------------------------------------------------ */

typedef struct {
    const char *img_path, *input_path, *baseline;
    const char *source;              /* what is explained, for messages: one of the two paths */
    cv_explain_method method[CV_EXPLAIN_COUNT];
    int n_methods;
    long samples, seed, steps, grid, batch;
    double sigma, keep, alpha;
    cv_cmap cmap;
    bool cmap_given;      /* --cmap on the command line: also for signed maps */
    bool eval;                       /* --eval: deletion and insertion of every map */
    long eval_steps;
    cv_eval_fill eval_fill;          /* --deletion-fill */
    cv_eval_box boxes[CLI_MAX_BOXES]; /* --pointing, in original-image pixels */
    int n_boxes;
} ex_opts;

/* "gradcam,ig" or "all" -> the methods, each once, in the order given. */
static bool parse_methods(const char *list, ex_opts *o)
{
    cv_error err;
    if (strcmp(list, "all") == 0) {
        for (int k = 0; k < CV_EXPLAIN_COUNT; k++)
            o->method[o->n_methods++] = (cv_explain_method)k;
        return true;
    }
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return cli_usage_error("--method: list too long"), false;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        cv_explain_method m;
        if (cv_explain_method_from_name(&m, name, &err) != CV_OK)
            return cli_usage_error("--method: %s, or all", err.msg), false;
        for (int k = 0; k < o->n_methods; k++)
            if (o->method[k] == m)
                return cli_usage_error("--method: '%s' is listed twice", name), false;
        o->method[o->n_methods++] = m;
    }
    if (!o->n_methods)
        return cli_usage_error("--method: no method named (see --help)"), false;
    return true;
}

static bool parse_opts(const cli_args *a, ex_opts *o)
{
    memset(o, 0, sizeof *o);
    cv_error err;
    o->img_path = cli_batch_mode(a) ? "" : cli_str(a, "img"); /* batch mode: each image's */
    o->input_path = cli_str(a, "input");
    if (o->input_path && cli_batch_mode(a))
        return cli_usage_error("--input is one tensor: batch mode (several --img, a folder, --list) takes images"),
               false;
    if (!o->img_path == !o->input_path)
        return cli_usage_error("give one of --img and --input"), false;
    o->source = o->img_path ? o->img_path : o->input_path;
    if (!parse_methods(cli_str(a, "method"), o))
        return false;
    static const cli_method_option for_methods[] = {
        {"samples", "smoothgrad,rise"}, {"sigma", "smoothgrad"}, {"seed", "smoothgrad,rise"}, {"steps", "ig"},
        {"baseline", "ig"},             {"grid", "rise"},        {"keep", "rise"},            {NULL},
    };
    const char *names[CV_EXPLAIN_COUNT];
    for (int k = 0; k < o->n_methods; k++)
        names[k] = cv_explain_method_name(o->method[k]);
    if (!cli_check_method_options(a, for_methods, names, o->n_methods))
        return false;
    if ((cli_given(a, "samples") && !cli_int(a, "samples", 1, 10000000, &o->samples)) ||
        !cli_float(a, "sigma", 0, 100, &o->sigma) || !cli_int(a, "seed", 0, 0x7fffffffL, &o->seed) ||
        !cli_int(a, "steps", 1, 1000000, &o->steps) || !cli_int(a, "grid", 1, 4096, &o->grid) ||
        !cli_float(a, "keep", 0, 1, &o->keep) || !cli_int(a, "batch", 0, 4096, &o->batch) ||
        !cli_float(a, "alpha", 0, 1, &o->alpha))
        return false;
    if (!(o->keep > 0))
        return cli_usage_error("--keep must be in (0, 1], got %g", o->keep), false;
    /* --steps is IG's; the curves' steps default to the library's, which
     * is what cnnviz eval --steps defaults to */
    o->eval = cli_flag(a, "eval");
    o->eval_steps = cv_eval_defaults().steps;
    if (cli_given(a, "eval-steps") && !cli_int(a, "eval-steps", 1, 100000, &o->eval_steps))
        return false;
    if (cli_given(a, "eval-steps") && !o->eval)
        cli_note("--eval-steps is for --eval, which is not given; ignored");
    if (cv_eval_fill_from_name(&o->eval_fill, cli_str(a, "deletion-fill"), &err) != CV_OK)
        return cli_usage_error("--deletion-fill: %s", err.msg), false;
    if (cli_given(a, "deletion-fill") && !o->eval)
        cli_note("--deletion-fill is for --eval, which is not given; ignored");
    if (cli_given(a, "pointing") && !o->eval)
        cli_note("--pointing is for --eval, which is not given; ignored");
    else if (cli_given(a, "pointing") && !cli_parse_boxes(cli_str(a, "pointing"), o->boxes, &o->n_boxes))
        return false;
    o->cmap_given = cli_given(a, "cmap");
    if (cv_cmap_from_name(&o->cmap, cli_str(a, "cmap"), &err) != CV_OK)
        return cli_fail(&err), false;
    o->baseline = cli_str(a, "baseline");
    return true;
}

/* ---- what one run holds ------------------------------------------------------- */

typedef struct {
    ex_opts opt;
    const char *dir;                 /* the staging folder */
    cv_model *m;
    cv_labels labels;
    cli_input_geom g;
    cv_preprocess pre;
    float *x, *baseline;             /* the model's input; IG's x' (NULL: zeros) */
    char baseline_desc[160];
    cv_image original;               /* the photo as loaded, or the picture of --input */
    cv_explainer *ex;
    cv_explain_options eo;
    int target, layer;               /* layer: the CAM layer, -1 when none is used */
    char tname[256];                 /* the target's name, printable */
    cv_explain_result res[CV_EXPLAIN_COUNT];
    cv_eval_curves curves[CV_EXPLAIN_COUNT]; /* --eval: each map's deletion and insertion */
    int hits[CV_EXPLAIN_COUNT];      /* --eval --pointing: boxes each map's maximum hits */
    cv_image overlay[CV_EXPLAIN_COUNT]; /* for compare.png, at tile size */
    double t_start, t_load, t_forward;
} ex_job;

static void job_free(ex_job *j)
{
    for (int k = 0; k < CV_EXPLAIN_COUNT; k++) {
        cv_explain_result_free(&j->res[k]);
        cv_eval_curves_free(&j->curves[k]);
        cv_image_free(&j->overlay[k]);
    }
    cv_explainer_free(j->ex);
    cv_image_free(&j->original);
    cv_labels_free(&j->labels);
    free(j->x);
    free(j->baseline);
    cv_model_free(j->m);
}

static bool uses_method(const ex_job *j, cv_explain_method m)
{
    for (int k = 0; k < j->opt.n_methods; k++)
        if (j->opt.method[k] == m)
            return true;
    return false;
}

static bool uses_layer(const ex_job *j)
{
    for (int k = 0; k < j->opt.n_methods; k++)
        if (cv_explain_method_uses_layer(j->opt.method[k]))
            return true;
    return false;
}

/* ---- inputs ------------------------------------------------------------------- */

/* --layer: a node index, or a name (cv_model_find_layer). -1 after an error. */
static int parse_layer(const cv_model *m, const char *spec)
{
    char *end;
    errno = 0;
    long k = strtol(spec, &end, 10);
    if (!errno && end != spec && !*end) {
        if (k < 0 || k >= cv_model_num_layers(m))
            return cli_usage_error("--layer %ld is out of range: the model has %d layers (0..%d; see `cnnviz layers`)", k,
                             cv_model_num_layers(m), cv_model_num_layers(m) - 1), -1;
        return (int)k;
    }
    return cli_find_layer(m, spec);
}

/* FILE.npy as IG's baseline: the model input's shape, batch 1 or none. */
static bool read_baseline_file(const cli_args *a, ex_job *j, const char *path)
{
    cv_error err;
    cv_shape s, want = cli_input_shape(&j->g, 1);
    size_t max_memory;
    if (!cli_max_memory(a, &max_memory))
        return false;
    if (cv_npy_read_limited(path, &s, &j->baseline, max_memory, &err) != CV_OK)
        return cli_usage_error("--baseline: %s (zero, black, blur, mean or an .npy file)", err.msg), false;
    cv_shape unbatched = {want.ndim - 1, {0}};
    for (int d = 1; d < want.ndim; d++)
        unbatched.d[d - 1] = want.d[d];
    if (!cv_shape_equal(&s, &want) && !cv_shape_equal(&s, &unbatched)) {
        char got[160], need[160];
        return cli_error("--baseline %s: shape %s, the model input is %s", path, cv_shape_str(&s, got, sizeof got),
                         cv_shape_str(&want, need, sizeof need)), false;
    }
    snprintf(j->baseline_desc, sizeof j->baseline_desc, "%s", path);
    return true;
}

/* IG's baseline x' from --baseline, in model-input space (j->baseline;
 * NULL for zero, the library's default). */
static bool make_baseline(const cli_args *a, ex_job *j)
{
    const char *b = j->opt.baseline;
    const cli_input_geom *g = &j->g;
    cv_occlusion_geometry og = {g->channels, g->height, g->width, g->nhwc};
    size_t n = (size_t)g->channels * g->height * g->width;
    cv_error err;
    if (!uses_method(j, CV_EXPLAIN_IG)) {
        if (cli_given(a, "baseline"))
            cli_note("--baseline is for ig, which is not among the methods; ignored");
        return true;
    }
    if (strcmp(b, "zero") == 0) {
        snprintf(j->baseline_desc, sizeof j->baseline_desc, "zero (zeros in model-input space)");
        return true;
    }
    if (strcmp(b, "black") && strcmp(b, "blur") && strcmp(b, "mean"))
        return read_baseline_file(a, j, b);
    if (!(j->baseline = malloc(n * sizeof(float))))
        return cli_error("out of memory"), false;
    if (strcmp(b, "blur") == 0) {
        double sigma = BLUR_SIGMA_FRACTION * (g->height > g->width ? g->height : g->width);
        if (cv_occlusion_fill_blur(j->baseline, j->x, &og, sigma, &err) != CV_OK)
            return cli_fail(&err), false;
        snprintf(j->baseline_desc, sizeof j->baseline_desc, "blur (the input blurred, Gaussian sigma %.3g px)", sigma);
        return true;
    }
    float value[CV_OCCLUSION_MAX_CHANNELS];
    if (g->channels > CV_OCCLUSION_MAX_CHANNELS)
        return cli_error("--baseline %s: the model takes %d channels, at most %d are supported", b, g->channels,
                         CV_OCCLUSION_MAX_CHANNELS), false;
    bool black = strcmp(b, "black") == 0;
    if (black)
        for (int c = 0; c < g->channels; c++)
            value[c] = cv_preprocess_value(&j->pre, 0.0f, c);
    else
        cv_occlusion_fill_mean(value, j->x, &og);
    for (size_t i = 0; i < n; i++) /* channel of element i in either layout */
        j->baseline[i] = value[g->nhwc ? i % g->channels : i / ((size_t)g->height * g->width)];
    snprintf(j->baseline_desc, sizeof j->baseline_desc, "%s", black ? "black (a black image, preprocessed)"
                                                                    : "mean (each channel's mean of the input)");
    return true;
}

/* --input: the picture is the input itself, the preprocessing of the flags
 * (or the model's metadata) undone; one that preprocessing does not
 * explain is drawn stretched from its minimum to its maximum instead. */
static bool input_picture(ex_job *j)
{
    cv_error err;
    long clipped;
    size_t n = (size_t)j->g.channels * j->g.height * j->g.width;
    if (cv_image_from_input(&j->original, j->x, &j->g, &j->pre, &clipped, &err) != CV_OK)
        return cli_fail(&err), false;
    if ((double)clipped <= INPUT_CLIPPED_SHARE * (double)n)
        return true;
    cli_note("--input: %ld of %zu values fall outside 0..255 once the '%s' preprocessing is undone (set "
             "--preprocess); the pictures show the input stretched from its minimum to its maximum",
             clipped, n, j->pre.name);
    cv_image_free(&j->original);
    if (cv_image_from_input(&j->original, j->x, &j->g, NULL, NULL, &err) != CV_OK)
        return cli_fail(&err), false;
    return true;
}

/* The model's input from --img (resized and preprocessed) or --input (as
 * it is), and the picture overlays are drawn on: the photo, or a picture
 * of the tensor. */
static bool load_image(const cli_args *a, ex_job *j)
{
    if (j->opt.input_path) {
        if (cli_given(a, "size"))
            cli_note("--size is for --img; --input keeps its own size");
        if (!cli_read_input_image(a, j->opt.input_path, j->m, &j->g, &j->x) || !input_picture(j))
            return false;
    } else if (!cli_input_geometry(a, j->m, "size", &j->g) ||
               !(j->x = cli_image_input(a, j->m, j->opt.img_path, &j->g, &j->pre, &j->original))) {
        return false;
    }
    return true;
}

/* The model, class names, --class and --layer. */
static bool load_model(const cli_args *a, ex_job *j)
{
    if (!cli_load_model(a, &j->m) || !cli_preprocess(a, j->m, &j->pre))
        return false;
    if (!cli_labels(a, j->m, &j->labels) || !cli_resolve_class(cli_str(a, "class"), &j->labels, &j->target))
        return false;
    j->layer = -1;
    if (cli_given(a, "layer")) {
        if (!uses_layer(j))
            cli_note("--layer is for gradcam, gradcam++, scorecam and guided-gradcam; ignored");
        else if ((j->layer = parse_layer(j->m, cli_str(a, "layer"))) < 0)
            return false;
    }
    return true;
}

/* ---- running ------------------------------------------------------------------ */

static void on_progress(void *user, long done, long total)
{
    cli_progress *pr = user;
    pr->total = total;
    cli_progress_update(pr, done);
}

static bool create_explainer(const cli_args *a, ex_job *j, cli_progress *pr)
{
    const ex_opts *o = &j->opt;
    cv_explain_options *eo = &j->eo;
    *eo = cv_explain_defaults();
    eo->layer = j->layer;
    eo->samples = (int)o->samples; /* 0: each method's default */
    eo->sigma = o->sigma;
    eo->steps = (int)o->steps;
    eo->baseline = j->baseline;
    eo->seed = (uint64_t)o->seed;
    eo->rise_grid = (int)o->grid;
    eo->rise_p = o->keep;
    eo->batch = (int)o->batch;
    if (!cli_max_memory(a, &eo->max_memory))
        return false;
    eo->progress = on_progress;
    eo->user = pr;
    cv_shape shape = cli_input_shape(&j->g, 1);
    cv_error err;
    double t0 = cli_now();
    if (cv_explainer_create(&j->ex, j->m, &shape, j->x, eo, &err) != CV_OK)
        return cli_fail(&err), false;
    j->t_forward = cli_now() - t0;
    return true;
}

/* The top 5, the class explained and, for CAM methods, the layer. */
static bool print_plan(ex_job *j)
{
    int n;
    const float *probs = cv_explainer_probs(j->ex, &n);
    if (j->labels.n && j->labels.n != n)
        cli_note("%d class names for %d outputs", j->labels.n, n);
    if (j->target >= n)
        return cli_usage_error("--class %d is out of range: the model has %d classes (0..%d)", j->target, n, n - 1), false;
    printf("%s: top 5 of %d classes\n", j->opt.source, n);
    cli_print_top_classes(probs, n, &j->labels, 5);
    if (j->target < 0)
        j->target = cv_explainer_top_class(j->ex);
    cli_printable(cli_label(&j->labels, j->target), j->tname, sizeof j->tname);
    const float *logits = cv_explainer_logits(j->ex, &n);
    printf("class: %d (%s), p = %.4f; score y = %.5g (%s)\n", j->target, j->tname, probs[j->target],
           logits[j->target],
           cv_explainer_before_softmax(j->ex) ? "the logit: the input of the model's final Softmax"
                                              : "the model's output");
    if (uses_layer(j)) {
        cv_error err;
        bool dflt = j->layer < 0;
        if (dflt && (j->layer = cv_explainer_default_layer(j->ex, &err)) < 0)
            return cli_fail(&err), false;
        char name[256];
        printf("layer: %d '%s' (%s)%s\n", j->layer,
               cli_printable(cv_model_layer_name(j->m, j->layer), name, sizeof name),
               cv_model_layer_op(j->m, j->layer),
               dflt ? ", the default: the last layer with a spatial output before the class scores (set --layer)"
                    : "");
    }
    fflush(stdout);
    return true;
}

/* What a method's line says after its time: IG's completeness check. */
static void print_result(const ex_job *j, const cv_explain_result *r)
{
    char shape[160];
    printf("%-14s %.3f s, %ld pass%s (batch %d), attribution %s\n", cv_explain_method_name(r->method), r->seconds,
           r->passes, r->passes == 1 ? "" : "es", r->batch, cv_shape_str(&r->attr_shape, shape, sizeof shape));
    if (r->method == CV_EXPLAIN_IG) {
        double want = r->score - r->baseline_score;
        printf("  completeness: sum of attribution %.6g vs y(x) - y(x') = %.6g - %.6g = %.6g; relative gap %.3g "
               "(%ld steps, baseline %s; more --steps shrink it)\n",
               r->attribution_sum, r->score, r->baseline_score, want, fabs(r->attribution_sum - want) / fabs(want),
               j->opt.steps, j->baseline_desc);
    }
    fflush(stdout);
}

/* --eval --pointing: how many boxes method k's map points into, by the
 * library call cnnviz eval --pointing makes. */
static bool point_map(ex_job *j, int k, const cv_shape *shape)
{
    int nhwc = cv_model_input_nhwc(j->m), h = (int)shape->d[nhwc ? 1 : 2], w = (int)shape->d[nhwc ? 2 : 3];
    j->hits[k] = 0;
    for (int b = 0; b < j->opt.n_boxes; b++) {
        cv_eval_pointing pt;
        cv_error err;
        if (cv_eval_pointing_game(j->res[k].map, h, w, j->original.w, j->original.h, &j->opt.boxes[b],
                                  CV_EVAL_POINTING_TOLERANCE, &pt, &err) != CV_OK)
            return cli_fail(&err), false;
        j->hits[k] += pt.hit;
    }
    printf("  pointing game: %d of %d box%s hit\n", j->hits[k], j->opt.n_boxes, j->opt.n_boxes == 1 ? "" : "es");
    return true;
}

/* --eval: the deletion and insertion curves of method k's map for the
 * class explained, by the library call cnnviz eval makes, so that the AUCs
 * are the ones `cnnviz eval --map <method>/map.npy` reports. */
static bool evaluate_map(const cli_args *a, ex_job *j, int k, cli_progress *pr)
{
    cv_eval_options o = cv_eval_defaults();
    o.steps = (int)j->opt.eval_steps;
    o.batch = (int)j->opt.batch;
    o.deletion_fill = (int)j->opt.eval_fill;
    if (!cli_max_memory(a, &o.max_memory))
        return false;
    o.progress = on_progress;
    o.user = pr;
    cv_shape shape = cli_input_shape(&j->g, 1);
    cv_eval_curves *c = &j->curves[k];
    cv_error err;
    cli_progress_start(pr, "eval", 0);
    cv_status st = cv_eval_curves_run(j->m, &shape, j->x, j->res[k].map, j->target, CV_EVAL_BOTH, &o, c, &err);
    cli_progress_end(pr);
    if (st != CV_OK)
        return cli_fail(&err), false;
    printf("  deletion AUC %.4f, insertion AUC %.4f (%d steps, %ld forward passes, %.2f s)\n", c->deletion_auc,
           c->insertion_auc, c->steps, c->forwards, c->seconds);
    if (j->opt.n_boxes && !point_map(j, k, &shape))
        return false;
    fflush(stdout);
    return true;
}

static bool run_methods(const cli_args *a, ex_job *j, cli_progress *pr)
{
    for (int k = 0; k < j->opt.n_methods; k++) {
        cv_explain_method m = j->opt.method[k];
        cv_error err;
        cli_progress_start(pr, cv_explain_method_name(m), 0);
        if (cv_explain_run(j->ex, m, j->target, &j->res[k], &err) != CV_OK)
            return cli_fail(&err), false;
        if (pr->done > 0) /* only batched methods report progress */
            cli_progress_end(pr);
        print_result(j, &j->res[k]);
        if (j->opt.eval && !evaluate_map(a, j, k, pr))
            return false;
    }
    return true;
}

/* ---- pictures ----------------------------------------------------------------- */

/* The range a map is drawn with: min to max, or to the
 * GRADIENT_DISPLAY_PERCENTILE for per-pixel gradient maps. */
static bool display_range(const cv_explain_result *r, float *lo, float *hi)
{
    bool spiky = cv_explain_method_is_gradient(r->method) || r->method == CV_EXPLAIN_GUIDED_GRADCAM;
    cv_error err;
    if (cv_render_display_range(r->map, (size_t)r->height * r->width, spiky ? GRADIENT_DISPLAY_PERCENTILE : 100, lo,
                                hi, &err) != CV_OK)
        return cli_fail(&err), false;
    return true;
}

/* "gradcam: school bus (779), p = 0.9312", and with --eval
 * "; deletion AUC 0.1234, insertion AUC 0.7123" (c: the map's curves). */
static void caption_for(const ex_job *j, const cv_explain_result *r, const cv_eval_curves *c, char *buf,
                        size_t len)
{
    int n = snprintf(buf, len, "%s: %.*s (%d), p = %.4f", cv_explain_method_name(r->method),
                     (int)strcspn(j->tname, ","), j->tname, r->target, r->probability);
    if (j->opt.eval && n >= 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; deletion AUC %.4f, insertion AUC %.4f", c->deletion_auc,
                 c->insertion_auc);
}

static bool save_png(const cv_image *img, const char *caption, const char *dir, const char *name)
{
    cv_error err;
    cv_image captioned = {0};
    char path[4200];
    cv_status st = cv_render_caption(img, caption, &captioned, &err);
    if (st == CV_OK)
        st = cv_image_save_png(&captioned, cli_path(path, sizeof path, dir, name), &err);
    cv_image_free(&captioned);
    return st == CV_OK || (cli_fail(&err), false);
}

/* How method k's map is drawn over a photo: its display range, 0 clear
 * (cv_render_overlay), the chosen colour map for maps of one sign and the
 * diverging one for signed maps unless --cmap was given. */
static cv_overlay_style overlay_style(const ex_job *j, float lo, float hi, int min_side, const char *caption)
{
    cv_overlay_style s = cv_overlay_style_defaults();
    s.vmin = lo;
    s.vmax = hi;
    s.cmap = j->opt.cmap;
    if (j->opt.cmap_given)
        s.signed_cmap = j->opt.cmap;
    s.alpha = (float)j->opt.alpha;
    s.min_side = min_side;
    s.colorbar = caption != NULL;
    s.caption = caption;
    return s;
}

/* heatmap.png (the map at the input's resolution, with its colour bar) and
 * overlay.png (the map over the photo, enlarged when small, colour bar,
 * caption naming the model, class, p and method). */
static bool save_pictures(const ex_job *j, int k, const char *dir, float lo, float hi)
{
    const cv_explain_result *r = &j->res[k];
    cv_error err;
    cv_image heat = {0}, over = {0};
    char caption[512], title[512];
    caption_for(j, r, &j->curves[k], caption, sizeof caption);
    cli_overlay_title(title, sizeof title, j->m, j->tname, r->target, "p", r->probability);
    char over_caption[1100];
    snprintf(over_caption, sizeof over_caption, "%s\n%s%s", title, cv_explain_method_name(r->method),
             j->opt.eval ? strchr(caption, ';') : "; clear = 0 (no attribution)");
    cv_overlay_style style = overlay_style(j, lo, hi, MIN_PICTURE_SIDE, over_caption);
    bool ok = false;
    if (cv_render_heatmap(r->map, r->height, r->width, lo, hi, j->opt.cmap, 0, &heat, &err) != CV_OK ||
        cv_render_overlay(&j->original, r->map, r->height, r->width, &style, &over, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char path[4200];
    ok = save_png(&heat, caption, dir, "heatmap.png") &&
         (cv_image_save_png(&over, cli_path(path, sizeof path, dir, "overlay.png"), &err) == CV_OK ||
          (cli_fail(&err), false));
out:
    cv_image_free(&heat);
    cv_image_free(&over);
    return ok;
}

/* Tiles of compare.png: the photo scaled so its shorter side is 224. */
static void tile_size(const cv_image *img, int *w, int *h)
{
    double s = 224.0 / (img->w < img->h ? img->w : img->h);
    *w = (int)lround(img->w * s);
    *h = (int)lround(img->h * s);
}

/* A tile with its label in a white band above and, when footer is not
 * NULL, that in a band below (cv_render_caption: labels and footers are at
 * most 17 characters, drawn at scale 2 on a tile at least 224 pixels wide,
 * so every tile is the same height). */
static bool labelled_tile(const cv_image *img, const char *label, const char *footer, cv_image *out)
{
    cv_error err;
    cv_image top = {0};
    cv_status st = cv_render_caption(img, label, footer ? &top : out, &err);
    if (st == CV_OK && footer)
        st = cv_render_caption_below(&top, footer, out, &err);
    cv_image_free(&top);
    return st == CV_OK || (cli_fail(&err), false);
}

/* An AUC in [0, 1] to 3 decimals without the leading zero (".123"): the
 * footer below then fits a tile at scale 2. */
static const char *auc_text(double auc, char *buf, size_t len)
{
    snprintf(buf, len, "%.3f", auc);
    return buf[0] == '0' && buf[1] == '.' ? buf + 1 : buf;
}

/* --eval: a tile's footer, "del .123 ins .712" (17 characters: the most
 * that fit at scale 2; " pt 1/1" with --pointing), with the photo's
 * saying which way is better. */
static const char *auc_footer(const ex_job *j, int k, char *buf, size_t len)
{
    if (!j->opt.eval)
        return NULL;
    if (k < 0)
        return "del low, ins high";
    char d[32], i[32];
    int n = snprintf(buf, len, "del %s ins %s", auc_text(j->curves[k].deletion_auc, d, sizeof d),
                     auc_text(j->curves[k].insertion_auc, i, sizeof i));
    if (j->opt.n_boxes && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " pt %d/%d", j->hits[k], j->opt.n_boxes);
    return buf;
}

/* compare.png: the photo and each method's overlay, labelled, in a
 * near-square grid on white with a short last row centred
 * (cv_render_panels). */
static bool save_compare(const ex_job *j)
{
    int n = j->opt.n_methods + 1, tw, th;
    tile_size(&j->original, &tw, &th);
    cv_image *tiles = calloc((size_t)n, sizeof *tiles), photo = {0}, grid = {0};
    cv_error err;
    bool ok = false;
    if (!tiles) {
        cli_error("out of memory");
        return false;
    }
    if (cv_image_resize_antialias(&photo, &j->original, tw, th, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char footer[64];
    if (!labelled_tile(&photo, "image", auc_footer(j, -1, footer, sizeof footer), &tiles[0]))
        goto out;
    for (int k = 0; k < j->opt.n_methods; k++)
        if (!labelled_tile(&j->overlay[k], cv_explain_method_name(j->opt.method[k]),
                           auc_footer(j, k, footer, sizeof footer), &tiles[k + 1]))
            goto out;
    static const uint8_t white[3] = {255, 255, 255};
    if (cv_render_panels(tiles, n, 0, 8, white, &grid, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char caption[512];
    snprintf(caption, sizeof caption, "class %.*s (%d), p = %.4f; each map on its own colour scale",
             (int)strcspn(j->tname, ","), j->tname, j->target, j->res[0].probability);
    ok = save_png(&grid, caption, j->dir, "compare.png");
out:
    for (int k = 0; k < n; k++)
        cv_image_free(&tiles[k]);
    free(tiles);
    cv_image_free(&photo);
    cv_image_free(&grid);
    return ok;
}

/* ---- files -------------------------------------------------------------------- */

/* Where method k's files go: --out itself for one method, --out/<method>/
 * for several. */
static bool method_dir(const ex_job *j, int k, char *buf, size_t len)
{
    if (j->opt.n_methods == 1) {
        snprintf(buf, len, "%s", j->dir);
        return true;
    }
    cli_path(buf, len, j->dir, cv_explain_method_name(j->opt.method[k]));
    return cli_make_dir(buf);
}

static bool write_method(ex_job *j, int k)
{
    const cv_explain_result *r = &j->res[k];
    char dir[4200], path[4300];
    cv_error err;
    if (!method_dir(j, k, dir, sizeof dir))
        return false;
    cv_shape ms = {2, {r->height, r->width}};
    if (cv_npy_write_f32(cli_path(path, sizeof path, dir, "attribution.npy"), &r->attr_shape, r->attribution, &err) !=
            CV_OK ||
        cv_npy_write_f32(cli_path(path, sizeof path, dir, "map.npy"), &ms, r->map, &err) != CV_OK)
        return cli_fail(&err), false;
    float lo, hi;
    if (!display_range(r, &lo, &hi) || !save_pictures(j, k, dir, lo, hi))
        return false;
    if (j->opt.n_methods > 1) { /* the overlay again at tile size, for compare.png */
        int tw, th;
        cv_image photo = {0};
        tile_size(&j->original, &tw, &th);
        cv_status st = cv_image_resize_antialias(&photo, &j->original, tw, th, &err);
        if (st == CV_OK) {
            cv_overlay_style style = overlay_style(j, lo, hi, 0, NULL);
            st = cv_render_overlay(&photo, r->map, r->height, r->width, &style, &j->overlay[k], &err);
        }
        cv_image_free(&photo);
        if (st != CV_OK)
            return cli_fail(&err), false;
    }
    return true;
}

/* The parameters that shaped method m's result, as the library ran it. */
static void add_parameters(const ex_job *j, const cv_explain_result *r, cJSON *p)
{
    switch (r->method) {
    case CV_EXPLAIN_SMOOTHGRAD:
        cJSON_AddNumberToObject(p, "samples", (double)r->passes);
        cJSON_AddNumberToObject(p, "sigma", j->opt.sigma);
        cJSON_AddNumberToObject(p, "seed", (double)j->opt.seed);
        break;
    case CV_EXPLAIN_IG:
        cJSON_AddNumberToObject(p, "steps", (double)j->opt.steps);
        cJSON_AddStringToObject(p, "baseline", j->baseline_desc);
        cJSON_AddNumberToObject(p, "score_baseline", r->baseline_score);
        cJSON_AddNumberToObject(p, "attribution_sum", r->attribution_sum);
        cJSON_AddNumberToObject(p, "completeness_gap",
                                fabs(r->attribution_sum - (r->score - r->baseline_score)) /
                                    fabs(r->score - r->baseline_score));
        break;
    case CV_EXPLAIN_RISE:
        cJSON_AddNumberToObject(p, "samples", (double)r->passes);
        cJSON_AddNumberToObject(p, "grid", (double)j->opt.grid);
        cJSON_AddNumberToObject(p, "keep", j->opt.keep);
        cJSON_AddNumberToObject(p, "seed", (double)j->opt.seed);
        break;
    default:
        break;
    }
    if (r->layer >= 0) {
        cJSON_AddNumberToObject(p, "layer", r->layer);
        char name[1024];
        cJSON_AddStringToObject(p, "layer_name", cli_json_text(cv_model_layer_name(j->m, r->layer), name, sizeof name));
    }
}

static cJSON *method_json(const ex_job *j, int k)
{
    const cv_explain_result *r = &j->res[k];
    cJSON *o = cJSON_CreateObject(), *shape = cJSON_AddArrayToObject(o, "attribution_shape");
    cJSON_AddStringToObject(o, "method", cv_explain_method_name(r->method));
    cJSON_AddStringToObject(o, "folder", j->opt.n_methods == 1 ? "." : cv_explain_method_name(r->method));
    for (int d = 0; d < r->attr_shape.ndim; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)r->attr_shape.d[d]));
    add_parameters(j, r, cJSON_AddObjectToObject(o, "parameters"));
    cJSON_AddNumberToObject(o, "passes", (double)r->passes);
    cJSON_AddNumberToObject(o, "batch", r->batch);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    if (j->opt.eval) {
        const cv_eval_curves *c = &j->curves[k];
        cJSON_AddNumberToObject(o, "deletion_auc", c->deletion_auc);
        cJSON_AddNumberToObject(o, "insertion_auc", c->insertion_auc);
        cJSON_AddNumberToObject(o, "eval_steps", c->steps);
        cJSON_AddStringToObject(o, "deletion_fill", cv_eval_fill_name((cv_eval_fill)c->deletion_fill));
        if (j->opt.n_boxes) {
            cJSON_AddNumberToObject(o, "pointing_hits", j->hits[k]);
            cJSON_AddNumberToObject(o, "pointing_boxes", j->opt.n_boxes);
        }
        cJSON_AddNumberToObject(o, "eval_seconds", c->seconds);
    }
    return o;
}

/* summary.json: what was explained, with what, and how long it took. */
static bool write_summary(const ex_job *j)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "command", "explain");
    cJSON_AddStringToObject(root, "model", cv_model_path(j->m));
    cJSON_AddStringToObject(root, j->opt.img_path ? "image" : "input", j->opt.source);
    cJSON_AddStringToObject(root, "preprocess", j->pre.name);
    cJSON *cls = cJSON_AddObjectToObject(root, "class");
    cJSON_AddNumberToObject(cls, "index", j->target);
    char name[1024];
    cJSON_AddStringToObject(cls, "name", cli_json_text(cli_label(&j->labels, j->target), name, sizeof name));
    cJSON_AddNumberToObject(cls, "probability", j->res[0].probability);
    cJSON_AddNumberToObject(cls, "score", j->res[0].score);
    cJSON_AddStringToObject(cls, "score_is", cv_explainer_before_softmax(j->ex) ? "logit before the final Softmax"
                                                                                 : "model output");
    cJSON *methods = cJSON_AddArrayToObject(root, "methods");
    double total = 0;
    for (int k = 0; k < j->opt.n_methods; k++) {
        cJSON_AddItemToArray(methods, method_json(j, k));
        total += j->res[k].seconds;
    }
    cJSON *t = cJSON_AddObjectToObject(root, "timings");
    cJSON_AddNumberToObject(t, "load_seconds", j->t_load);
    cJSON_AddNumberToObject(t, "forward_seconds", j->t_forward);
    cJSON_AddNumberToObject(t, "methods_seconds", total);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return cli_error("out of memory"), false;
    char path[4200];
    cv_error err;
    size_t len = strlen(text);
    cv_status st = cv_file_write(cli_path(path, sizeof path, j->dir, "summary.json"), text, len, &err);
    free(text);
    return st == CV_OK || (cli_fail(&err), false);
}

/* --eval: compare.csv, one row per method: its AUCs and the seconds its
 * map took (the curves' own time is in summary.json). */
static bool write_compare_csv(const ex_job *j)
{
    char path[4200];
    FILE *f = fopen(cli_path(path, sizeof path, j->dir, "compare.csv"), "w");
    if (!f)
        return cli_error("cannot write %s", path), false;
    fprintf(f, "method,deletion_auc,insertion_auc,seconds%s\n", j->opt.n_boxes ? ",pointing_hits,pointing_boxes" : "");
    for (int k = 0; k < j->opt.n_methods; k++) {
        fprintf(f, "%s,%.9g,%.9g,%.6f", cv_explain_method_name(j->opt.method[k]), j->curves[k].deletion_auc,
                j->curves[k].insertion_auc, j->res[k].seconds);
        if (j->opt.n_boxes)
            fprintf(f, ",%d,%d", j->hits[k], j->opt.n_boxes);
        fputc('\n', f);
    }
    return fclose(f) == 0 || (cli_error("cannot write %s", path), false);
}

static bool write_outputs(ex_job *j)
{
    for (int k = 0; k < j->opt.n_methods; k++)
        if (!write_method(j, k))
            return false;
    if (j->opt.n_methods > 1 && !save_compare(j))
        return false;
    if (j->opt.eval && !write_compare_csv(j))
        return false;
    return write_summary(j);
}

/* --eval: the AUCs side by side, in the order the methods ran. */
static void print_compare_table(const ex_job *j)
{
    printf("\n%-16s %13s %14s %9s%s\n", "method", "deletion AUC", "insertion AUC", "seconds",
           j->opt.n_boxes ? "  pointing" : "");
    for (int k = 0; k < j->opt.n_methods; k++) {
        printf("%-16s %13.4f %14.4f %9.2f", cv_explain_method_name(j->opt.method[k]), j->curves[k].deletion_auc,
               j->curves[k].insertion_auc, j->res[k].seconds);
        if (j->opt.n_boxes)
            printf("  %d/%d", j->hits[k], j->opt.n_boxes);
        putchar('\n');
    }
    printf("(deletion to %s: lower is more faithful; insertion: higher; %ld steps, as cnnviz eval)\n\n",
           cv_eval_fill_name(j->opt.eval_fill), j->opt.eval_steps);
}

/* ---- batch mode ---------------------------------------------------------------- */

typedef struct {
    ex_job j;
    int target; /* --class, -1 for each image's top-1 */
    cli_progress pr;
} ex_batch;

static bool batch_setup(const cli_args *a, void *user)
{
    ex_batch *b = user;
    b->j.t_start = cli_now();
    if (!load_model(a, &b->j))
        return false;
    b->target = b->j.target;
    return true;
}

/* What one image leaves behind, before the next. */
static void batch_image_free(ex_job *j)
{
    for (int k = 0; k < CV_EXPLAIN_COUNT; k++) {
        cv_explain_result_free(&j->res[k]);
        cv_eval_curves_free(&j->curves[k]);
        cv_image_free(&j->overlay[k]);
    }
    cv_image_free(&j->original);
}

/* The input and IG's baseline of the next image. The explainer keeps
 * pointers to both: the input is swapped by cv_explainer_set_input, the
 * baseline is rewritten in its buffer. */
static bool batch_next_input(const cli_args *a, ex_batch *b)
{
    ex_job *j = &b->j;
    float *x = j->x, *baseline = j->baseline;
    j->x = j->baseline = NULL;
    bool ok = load_image(a, j) && make_baseline(a, j);
    if (ok && baseline && j->baseline) {
        memcpy(baseline, j->baseline, sizeof(float) * (size_t)j->g.channels * j->g.height * j->g.width);
        free(j->baseline);
        j->baseline = baseline;
        baseline = NULL;
    }
    cv_error err;
    if (ok && j->ex && cv_explainer_set_input(j->ex, j->x, &err) != CV_OK)
        ok = (cli_fail(&err), false);
    else if (ok && !j->ex)
        ok = create_explainer(a, j, &b->pr);
    if (ok || !j->ex) {
        free(x);
        free(baseline);
    } else { /* the explainer still points at the last good ones */
        free(j->x);
        free(j->baseline);
        j->x = x, j->baseline = baseline;
    }
    return ok;
}

static void batch_numbers(const ex_job *j, cli_batch_item *it)
{
    int n;
    const float *probs = cv_explainer_probs(j->ex, &n);
    cli_batch_set_top(it, probs, n, &j->labels);
    cJSON_AddNumberToObject(it->numbers, "target", j->target);
    cJSON_AddNumberToObject(it->numbers, "target_prob", j->res[0].probability);
    cJSON_AddNumberToObject(it->numbers, "score", j->res[0].score);
    for (int k = 0; j->opt.eval && k < j->opt.n_methods; k++) {
        char key[64];
        const char *name = cv_explain_method_name(j->opt.method[k]);
        snprintf(key, sizeof key, "%s_deletion_auc", name);
        cJSON_AddNumberToObject(it->numbers, key, j->curves[k].deletion_auc);
        snprintf(key, sizeof key, "%s_insertion_auc", name);
        cJSON_AddNumberToObject(it->numbers, key, j->curves[k].insertion_auc);
    }
    if (j->opt.n_methods == 1)
        snprintf(it->picture, sizeof it->picture, "overlay.png");
    else
        snprintf(it->picture, sizeof it->picture, "%s/overlay.png", cv_explain_method_name(j->opt.method[0]));
}

/* One image through the explainer planned for the first. */
static void batch_image(const cli_args *a, void *user, cli_batch_item *items, int n)
{
    ex_batch *b = user;
    ex_job *j = &b->j;
    for (int k = 0; k < n; k++) {
        cli_batch_item *it = &items[k];
        j->t_start = cli_now();
        j->opt.img_path = j->opt.source = it->input;
        j->dir = it->dir;
        j->target = b->target;
        it->ok = batch_next_input(a, b);
        j->t_load = cli_now() - j->t_start;
        it->ok = it->ok && print_plan(j) && run_methods(a, j, &b->pr) && write_outputs(j);
        if (it->ok)
            batch_numbers(j, it);
        batch_image_free(j);
    }
}

static void batch_cleanup(void *user) { job_free(&((ex_batch *)user)->j); }

/* ---- the command -------------------------------------------------------------- */

static int run(const cli_args *a)
{
    ex_job j = {0};
    j.t_start = cli_now();
    if (!parse_opts(a, &j.opt))
        return 2;
    if (cli_batch_mode(a)) {
        ex_batch b = {.j = j};
        cli_batch_ops ops = {"explain", 1, batch_setup, batch_image, batch_cleanup, &b};
        return cli_batch_run(a, &ops);
    }
    if (!cli_batch_options_ok(a))
        return CLI_EXIT_USAGE;
    cli_outset set;
    if (!cli_outset_begin(&set, cli_str(a, "out"), "explain"))
        return 1;
    j.dir = set.stage; /* moved to --out, complete, at the end */
    int status = 1;
    cli_progress pr;
    if (!load_model(a, &j) || !load_image(a, &j) || !make_baseline(a, &j))
        goto out;
    j.t_load = cli_now() - j.t_start;
    if (!create_explainer(a, &j, &pr) || !print_plan(&j) || !run_methods(a, &j, &pr))
        goto out;
    double t_write = cli_now();
    if (!write_outputs(&j) || !cli_outset_commit(&set))
        goto out;
    t_write = cli_now() - t_write;
    double methods = 0;
    for (int k = 0; k < j.opt.n_methods; k++)
        methods += j.res[k].seconds;
    if (j.opt.eval)
        print_compare_table(&j);
    printf("wrote %s/: %s\n", set.final, set.summary);
    printf("done in %.2f s: loading %.2f s, first forward %.2f s, %d method%s %.2f s, writing %.2f s\n",
           cli_now() - j.t_start, j.t_load, j.t_forward, j.opt.n_methods, j.opt.n_methods == 1 ? "" : "s", methods,
           t_write);
    status = 0;
out:
    cli_outset_abort(&set);
    job_free(&j);
    return status;
}

const cli_cmd cli_cmd_explain = {
    "explain", "attribution maps: which pixels a class score depends on (Grad-CAM, saliency, IG, RISE, ...)",
    "Explains the class score y of --class (default: the top-1): the class's logit, i.e. the input of the "
    "model's final Softmax when the graph ends in one, else the model's output itself. Gradients are exact "
    "(the same as PyTorch's to rounding); sampled methods run in batches sized by --max-memory. "
    "Writes to --out, for one method, and to --out/<method>/ for each of several: attribution.npy (float32, "
    "the raw result: [C, H, W] in model-input space for saliency, inputxgrad, smoothgrad, ig and guided; "
    "[h, w] at the layer for gradcam, gradcam++ and scorecam; [H, W] for rise and guided-gradcam), map.npy "
    "(float32 [H, W] at the model input's resolution: what is drawn; max over channels of |attribution| for "
    "gradient methods, bilinear upsampling for CAM methods), heatmap.png and overlay.png (the map over the "
    "original photo, enlarged for display when under 448 px; with --input, on the input with "
    "its preprocessing undone; opacity grows with the map up to --alpha, 0 clear), with a colour bar and a caption; "
    "gradient maps are drawn up to their 99th "
    "percentile). Always --out/summary.json (class, score, probability, each method's parameters and time) "
    "and, with several methods, --out/compare.png: the photo and every method's overlay side by side. "
    "--eval runs deletion and insertion (as cnnviz eval, with its default of 100 steps; --eval-steps) on every "
    "map, for the class explained: --out/compare.csv (method, deletion_auc, insertion_auc, seconds: the "
    "method's time; with --pointing, pointing_hits and pointing_boxes: the pointing game of each map), the AUCs "
    "in summary.json and in the pictures' captions, and a table at the end. " BATCH_HELP,
    groups, run,
};
