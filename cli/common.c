/* Steps shared by the commands: loading the model, working out its input
 * geometry and preprocessing, class names, probabilities, output folders
 * and the progress bar. */
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const cli_opt cli_model_opts[] = {
    {"model", "weights_path", "PATH", NULL, "model file: ONNX (.onnx) or Keras HDF5 (.h5)"},
    {"config", NULL, "JSON", NULL, "Keras: architecture (model.to_json()) for a weights-only .h5"},
    {"flip-kernels", NULL, NULL, NULL, "Keras: flip conv kernels (Theano-trained weights)"},
    {"max-memory", NULL, "SIZE", NULL,
     "refuse models and runs needing more memory than SIZE: MiB, or with a unit (512M, 2G); "
     "default: what is available"},
    {NULL},
};

/* "512" (MiB), "512K", "1.5G", "2GiB", "300MB", "1000000B" -> bytes
 * (binary units; a bare number is MiB, as --max-memory always took). */
static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0))
        return false;
    double mult = *end ? 1 : 1024.0 * 1024;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1024.0; end++; break;
    case 'M': mult = 1024.0 * 1024; end++; break;
    case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mult > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "ib") == 0 || toupper((unsigned char)*end) == 'B'))
        end += toupper((unsigned char)*end) == 'B' ? 1 : 2;
    else if (mult == 1 && toupper((unsigned char)*end) == 'B')
        end++;
    if (*end || v * mult >= 18446744073709551615.0 || v * mult < 1)
        return false;
    *out = (size_t)(v * mult);
    return true;
}

const cli_opt cli_preprocess_opts[] = {
    {"preprocess", NULL, "P", "auto", "input preprocessing: auto, raw, caffe, tf, torch, unit"},
    {"bgr", NULL, NULL, NULL, "feed channels in BGR order"},
    {"mean", NULL, "A,B,C", NULL, "subtract per-channel means (after the preset's scaling)"},
    {"std", NULL, "A,B,C", NULL, "divide by per-channel std (after the preset's scaling)"},
    {"labels", NULL, "FILE", NULL, "class names, one per line (or index,name)"},
    {"resize", NULL, "MODE", "squash",
     "photo to input shape: squash (stretch, as the original), crop (shorter side to the input, centre crop, as "
     "torchvision's Resize+CenterCrop) or pad (letterbox, neutral bands); overlays show what the model saw"},
    {"interp", NULL, "MODE", "antialias",
     "image resampling: antialias (PIL/torchvision-style when shrinking) or bilinear (OpenCV INTER_LINEAR)"},
    {NULL},
};

bool cli_max_memory(const cli_args *a, size_t *bytes)
{
    *bytes = 0;
    const char *mm = cli_str(a, "max-memory");
    if (mm && (!parse_size(mm, bytes) || *bytes < ((size_t)1 << 20))) {
        cli_usage_error("--max-memory expects a size of at least 1 MiB, such as 512 (MiB), 512M or 2G; got '%s'", mm);
        return false;
    }
    return true;
}

void cli_hint(const cv_error *err)
{
    if (strstr(err->msg, "max_memory") || (err->status == CV_ERR_LIMIT && strstr(err->msg, "memory limit")))
        cli_note("--max-memory sets the memory limit");
}

int cli_find_layer(const cv_model *m, const char *name)
{
    cv_error err;
    int layer = cv_model_find_layer(m, name, &err);
    if (layer < 0)
        cli_usage_error("%s (list them with `cnnviz layers --model %s`)", err.msg, cv_model_path(m));
    return layer;
}

bool cli_load_model(const cli_args *a, cv_model **m)
{
    const char *path = cli_require(a, "model");
    if (!path)
        return false;
    cv_load_options opt = {0};
    opt.keras_config = cli_str(a, "config");
    opt.keras_flip_kernels = cli_flag(a, "flip-kernels");
    if (!cli_max_memory(a, &opt.max_memory))
        return false;
    cv_error err;
    if (cv_model_load(m, path, &opt, &err) != CV_OK) {
        cli_fail(&err);
        return false;
    }
    return true;
}

bool cli_input_geometry(const cli_args *a, const cv_model *m, const char *size_opt, cli_input_geom *g)
{
    /* --size given overrides the model's size; its default (when the
     * option has one) only fills a free size. */
    long size = 0;
    if (size_opt && cli_given(a, size_opt) && !cli_int(a, size_opt, 8, 4096, &size))
        return false;
    cv_error err;
    cv_status st = cv_model_input_geometry(m, (int)size, (int)size, g, &err);
    if (st == CV_ERR_INVALID && !size && size_opt && cli_str(a, size_opt)) {
        if (!cli_int(a, size_opt, 8, 4096, &size))
            return false;
        st = cv_model_input_geometry(m, (int)size, (int)size, g, &err);
    }
    if (st == CV_ERR_INVALID && !size)
        return cli_usage_error("%s (pass --%s)", err.msg, size_opt), false;
    if (st != CV_OK)
        return cli_fail(&err), false;
    return true;
}

cv_shape cli_input_shape(const cli_input_geom *g, int batch)
{
    return cv_input_shape(g, batch);
}

static char assumed_preprocessing[64];

const char *cli_assumed_preprocessing(void) { return assumed_preprocessing; }

/* Wrong preprocessing gives confident wrong answers (SqueezeNet on a bus:
 * "mosquito net" under torch's), so an assumption is said loudly, with
 * the way to make it go away for good, and again on the summary line. */
static void warn_assumed(const cv_model *m, const cv_preprocess *p)
{
    if (assumed_preprocessing[0])
        return; /* once per run */
    snprintf(assumed_preprocessing, sizeof assumed_preprocessing, " [preprocessing ASSUMED: %s]", p->name);
    cli_warning("%s declares no preprocessing; assuming %s. Answers are wrong if the model was trained "
                "otherwise: give --preprocess, or declare it once with `cnnviz config --model %s --preprocess "
                "raw|caffe|tf|torch|unit [--bgr]`",
                cv_model_path(m),
                strcmp(p->name, "raw") == 0 ? "raw 0..255 RGB" : "torch (RGB/255, ImageNet mean/std)",
                cv_model_path(m));
}

bool cli_preprocess(const cli_args *a, const cv_model *m, cv_preprocess *p)
{
    cv_error err;
    const char *name = cli_str(a, "preprocess");
    if (strcmp(name, "auto") == 0) {
        int assumed;
        if (cv_preprocess_auto(p, m, &assumed, &err) != CV_OK)
            return cli_fail(&err), false;
        if (assumed)
            warn_assumed(m, p);
    } else if (cv_preprocess_preset(p, name, &err) != CV_OK) {
        return cli_fail(&err), false;
    }
    if (cli_flag(a, "bgr"))
        p->bgr = 1;
    if (cli_given(a, "mean") && cv_preprocess_set_mean(p, cli_str(a, "mean"), &err) != CV_OK)
        return cli_error("--%s", err.msg), false;
    if (cli_given(a, "std") && cv_preprocess_set_std(p, cli_str(a, "std"), &err) != CV_OK)
        return cli_error("--%s", err.msg), false;
    return true;
}

bool cli_labels(const cli_args *a, const cv_model *m, cv_labels *labels)
{
    memset(labels, 0, sizeof *labels);
    size_t max_memory;
    if (!cli_max_memory(a, &max_memory))
        return false;
    cv_error err;
    const char *path = cli_str(a, "labels");
    if (path) {
        if (cv_labels_read(labels, path, max_memory, &err) != CV_OK)
            return cli_fail(&err), false;
        return true;
    }
    if (cv_labels_for_model(labels, m, max_memory, &err) != CV_OK)
        cli_note("%s (class names are not used)", err.msg);
    return true;
}

const char *cli_label(const cv_labels *labels, int k)
{
    return k >= 0 && k < labels->n ? labels->names[k] : "-";
}

const char *cli_printable(const char *s, char *buf, size_t len)
{
    cv_escape(buf, len, s);
    return buf;
}

const char *cli_json_text(const char *s, char *buf, size_t len)
{
    /* cJSON escapes quotes, backslashes and ASCII controls itself, but
     * copies other bytes as they are: a name that is not valid UTF-8 would
     * make the file invalid JSON */
    size_t need = cv_escape(buf, len, s);
    return need == strlen(s) ? s : buf; /* every escape lengthens the text */
}

float *cli_probabilities(const cv_tensor *out, int item, int *n_classes, bool *applied_softmax)
{
    size_t total = cv_shape_numel(&out->shape);
    size_t batch = out->shape.ndim ? (size_t)out->shape.d[0] : 1;
    size_t n = batch ? total / batch : 0;
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p)
        return NULL;
    int softmax = cv_scores_to_probabilities(p, out->f + (size_t)item * n, n);
    *n_classes = (int)n;
    if (applied_softmax)
        *applied_softmax = softmax;
    return p;
}

bool cli_resize_modes(const cli_args *a, cv_fit *fit, cv_resize_mode *interp)
{
    const char *f = cli_str(a, "resize"), *i = cli_str(a, "interp");
    *fit = CV_FIT_SQUASH;
    *interp = CV_RESIZE_ANTIALIAS;
    if (f && (strcmp(f, "antialias") == 0 || strcmp(f, "bilinear") == 0))
        i = f; /* --resize once named the resampling: still understood */
    else if (f && cv_fit_from_name(f, fit) != 0)
        return cli_usage_error("--resize must be squash, crop or pad, got '%s'", f), false;
    if (i && strcmp(i, "bilinear") == 0)
        *interp = CV_RESIZE_BILINEAR;
    else if (i && strcmp(i, "antialias") != 0)
        return cli_usage_error("--interp must be antialias or bilinear, got '%s'", i), false;
    return true;
}

/* The photo at the input's aspect (cli_resize_modes): pad bands take the
 * colour the preprocessing maps to 0, so they say nothing to the model. */
static bool fit_photo(const cli_args *a, cv_image *img, const cli_input_geom *g, const cv_preprocess *p)
{
    cv_fit fit;
    cv_resize_mode interp;
    if (!cli_resize_modes(a, &fit, &interp))
        return false;
    if (fit == CV_FIT_SQUASH)
        return true;
    uint8_t neutral[3];
    for (int c = 0; c < 3; c++) {
        float v = p->mean[p->bgr ? 2 - c : c] / p->scale;
        neutral[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
    }
    cv_image fitted;
    cv_error err;
    if (cv_image_fit(&fitted, img, g->width, g->height, fit, neutral, &err) != CV_OK)
        return cli_fail(&err), false;
    cv_image_free(img);
    *img = fitted;
    return true;
}

/* Load the image, resize it to the model's input and preprocess it into a
 * new batch-1 input buffer. Shared with the other image commands. */
float *cli_image_input(const cli_args *a, const cv_model *m, const char *img_path, const cli_input_geom *g,
                       const cv_preprocess *p, cv_image *original)
{
    cv_fit fit;
    cv_resize_mode interp;
    size_t max_memory;
    if (!cli_resize_modes(a, &fit, &interp) || !cli_max_memory(a, &max_memory))
        return NULL;
    cv_error err;
    cv_image img = {0};
    if (cv_image_load_limited(&img, img_path, max_memory, &err) != CV_OK) {
        cli_fail(&err);
        return NULL;
    }
    if (!fit_photo(a, &img, g, p)) {
        cv_image_free(&img);
        return NULL;
    }
    float *x = malloc(sizeof(float) * (size_t)g->channels * (size_t)g->height * (size_t)g->width);
    if (!x)
        cli_error("out of memory");
    else if (cv_input_from_image(x, &img, g, p, interp, &err) != CV_OK) {
        cli_fail(&err);
        free(x);
        x = NULL;
    }
    if (original && x)
        *original = img;
    else
        cv_image_free(&img);
    return x;
}

/* Read an .npy input and check it fits the model's declared input: same
 * rank and channels; batch and spatial sizes may differ. */
bool cli_read_input(const cli_args *a, const char *path, const cv_model *m, cv_shape *shape, float **data)
{
    cv_error err;
    size_t max_memory;
    if (!cli_max_memory(a, &max_memory))
        return false;
    if (cv_npy_read_limited(path, shape, data, max_memory, &err) != CV_OK)
        return cli_fail(&err), false;
    cv_shape decl = cv_model_input_shape(m);
    bool ok = decl.ndim == 0 || decl.ndim == shape->ndim;
    int channel_axis = cv_model_input_nhwc(m) ? 3 : 1;
    for (int k = 1; ok && k < decl.ndim; k++) {
        bool spatial = decl.ndim == 4 && k != channel_axis;
        if (decl.d[k] > 0 && !spatial && decl.d[k] != shape->d[k])
            ok = false;
    }
    if (!ok) {
        char a[160], b[160];
        cli_error("%s: shape %s does not fit the model's input '%s' %s", path, cv_shape_str(shape, a, sizeof a),
                  cv_model_input_name(m), cv_shape_str(&decl, b, sizeof b));
        free(*data);
        *data = NULL;
        return false;
    }
    return true;
}

bool cli_read_input_image(const cli_args *a, const char *path, const cv_model *m, cli_input_geom *g, float **x)
{
    cv_shape s;
    if (!cli_read_input(a, path, m, &s, x))
        return false;
    int nhwc = cv_model_input_nhwc(m);
    if (s.ndim != 4 || s.d[0] != 1) {
        char buf[160];
        cli_error("--input %s is %s: expected one image, %s", path, cv_shape_str(&s, buf, sizeof buf),
                  nhwc ? "[1, H, W, C] (the model is channels-last)" : "[1, C, H, W]");
        free(*x);
        *x = NULL;
        return false;
    }
    g->nhwc = nhwc;
    g->channels = (int)s.d[nhwc ? 3 : 1];
    g->height = (int)s.d[nhwc ? 1 : 2];
    g->width = (int)s.d[nhwc ? 2 : 3];
    return true;
}

bool cli_make_dir(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        cli_error("output directory name is empty or too long");
        return false;
    }
    memcpy(buf, dir, n + 1);
    for (size_t k = 1; k <= n; k++) {
        if (buf[k] != '/' && buf[k] != 0)
            continue;
        char c = buf[k];
        buf[k] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            cli_error("%s: cannot create directory: %s", buf, strerror(errno));
            return false;
        }
        buf[k] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("%s: not a directory", dir);
        return false;
    }
    if (access(dir, W_OK) != 0) {
        cli_error("%s: directory is not writable", dir);
        return false;
    }
    return true;
}

void cli_overlay_title(char *buf, size_t len, const cv_model *m, const char *class_name, int target,
                       const char *symbol, double score)
{
    const char *path = cv_model_path(m), *slash = strrchr(path, '/');
    if (!class_name || !class_name[0] || strcmp(class_name, "-") == 0)
        snprintf(buf, len, "%s: class %d, %s = %.3f", slash ? slash + 1 : path, target, symbol, score);
    else
        snprintf(buf, len, "%s: %.*s (%d), %s = %.3f", slash ? slash + 1 : path, (int)strcspn(class_name, ","),
                 class_name, target, symbol, score);
}

const char *cli_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

double cli_now(void)
{
    return cv_seconds();
}

int cli_pick(const char *value, const char *const *names)
{
    for (int k = 0; value && names[k]; k++)
        if (strcmp(value, names[k]) == 0)
            return k;
    return -1;
}

/* name is one of the comma-separated names in list */
static bool in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ",");
        if (len == n && strncmp(s, name, n) == 0)
            return true;
        s += len + (s[len] == ',');
    }
    return false;
}

bool cli_check_method_options(const cli_args *a, const cli_method_option *table, const char *const *chosen, int n)
{
    for (const cli_method_option *t = table; t->option; t++) {
        if (!cli_given(a, t->option))
            continue;
        bool used = false;
        for (int k = 0; k < n && !used; k++)
            used = in_list(chosen[k], t->methods);
        if (!used) {
            char names[256] = "";
            for (int k = 0; k < n; k++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? "," : "", chosen[k]);
            cli_usage_error("--%s is for --method %s; --method %s does not use it", t->option, t->methods, names);
            return false;
        }
    }
    return true;
}

bool cli_quiet;
bool cli_progress_muted; /* batch mode: its own progress, not each image's */

void cli_progress_start(cli_progress *p, const char *what, long total)
{
    p->what = what;
    p->total = total;
    p->done = 0;
    p->start = cli_now();
    p->last_draw = p->start;
    p->last_frac = 0;
    p->tty = isatty(2) != 0;
}

static void draw(cli_progress *p)
{
    double el = cli_now() - p->start;
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    double rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    if (!p->tty) { /* a log: one line each, no bar */
        fprintf(stderr, "%s: %ld/%ld (%.0f%%), %.1f/s, elapsed %.0fs, ETA %.0fs\n", p->what, p->done, p->total,
                100 * frac, rate, el, eta);
        return;
    }
    int width = 30, fill = (int)(frac * width + 0.5);
    char bar[32];
    for (int k = 0; k < width; k++)
        bar[k] = k < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%s [%s] %ld/%ld  %.1f/s  elapsed %.0fs  ETA %.0fs  ", p->what, bar, p->done, p->total,
            rate, el, eta);
    fflush(stderr);
}

void cli_progress_update(cli_progress *p, long done)
{
    p->done = done;
    if (cli_quiet || cli_progress_muted || done >= p->total)
        return; /* the last line is cli_progress_end's */
    double now = cli_now(), frac = p->total ? (double)done / (double)p->total : 1.0;
    /* in a log, nothing in a run's first second: a quick run gets its last line only */
    bool due = p->tty ? now - p->last_draw >= 0.1
                      : now - p->start >= 1.0 &&
                            (frac - p->last_frac >= CLI_PROGRESS_STEP || now - p->last_draw >= CLI_PROGRESS_SECONDS);
    if (!due)
        return;
    p->last_draw = now;
    p->last_frac = frac;
    draw(p);
}

void cli_progress_end(cli_progress *p)
{
    if (cli_quiet || cli_progress_muted)
        return;
    draw(p);
    if (p->tty)
        fputc('\n', stderr);
}

/* ---- boxes ---------------------------------------------------------------- */

static bool parse_box(const char *s, cv_eval_box *b)
{
    return sscanf(s, " %lf , %lf , %lf , %lf", &b->x0, &b->y0, &b->x1, &b->y1) == 4 ||
           sscanf(s, " %lf %lf %lf %lf", &b->x0, &b->y0, &b->x1, &b->y1) == 4;
}

bool cli_parse_boxes(const char *spec, cv_eval_box *boxes, int *n)
{
    *n = 0;
    if (parse_box(spec, &boxes[0]))
        return *n = 1, true;
    FILE *f = fopen(spec, "r");
    if (!f)
        return cli_usage_error("--pointing '%s': neither x0,y0,x1,y1 nor a readable file", spec), false;
    char line[512];
    while (fgets(line, sizeof line, f) && *n < CLI_MAX_BOXES)
        if (line[strspn(line, " \t\r\n")] && line[0] != '#' && !parse_box(line, &boxes[(*n)++])) {
            fclose(f);
            return cli_error("--pointing %s: line '%.*s' is not x0,y0,x1,y1", spec, (int)strcspn(line, "\n"), line),
                   false;
        }
    fclose(f);
    return *n > 0 || (cli_error("--pointing %s: no boxes", spec), false);
}
