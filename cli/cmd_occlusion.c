/* cnnviz occlusion: occlusion sensitivity maps (the original tool's
 * viz_occlusion, for any classifier), their pictures and raw numbers. */
#include "cli.h"
#include "cnnviz_occlusion.h"
#include "cnnviz_render.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const cli_opt opts[] = {
    {"img", "image", "PATH", NULL, "image to explain (JPEG or PNG); repeat it or name a folder for batch mode"},
    {"size", NULL, "S", "224", "input side the image is resized to (models without a fixed size, or to override)"},
    {"occ_size", NULL, "N", "40", "side of the square occluder, pixels of the resized image"},
    {"stride", NULL, "N", "5", "step between occluder positions, pixels"},
    {"pixel", NULL, "V|mean|blur", "0",
     "occluder fill: a grey level 0..255 (image space, before preprocessing), the image's mean colour, "
     "or a Gaussian-blurred copy of the image (sigma = occ_size / 4)"},
    {"class", NULL, "K|NAME", NULL, "class to explain: an index or a name from the labels (default: the top-1)"},
    {"norm", NULL, "0|1", "1", "regularised map: normalise first (mean 0, std 0.1, +0.5, clip to [0, 1])"},
    {"percentile", NULL, "P", "25", "regularised map: zero entries whose |x| is below this percentile"},
    {"out", NULL, "DIR", "out/occlusion", "output directory"},
    {"batch", NULL, "N", "0", "positions per forward pass (0: chosen from memory)"},
    {"engine", NULL, "E", "auto",
     "full (rerun the whole network per position), incremental (recompute only what the occluder reaches; "
     "N,C,H,W models) or auto (incremental where it saves at least 1.5x the work)"},
    {"exact-full", NULL, NULL, NULL, "the same as --engine full: rerun the whole network for every position"},
    {"approx", NULL, NULL, NULL,
     "compute an APPROXIMATE map, several times faster (Krypton, SIGMOD 2019): the occluder's effect is cut off "
     "where it spreads past --tau of a layer's map (incremental engine only), and a first pass at stride x "
     "--coarse is interpolated, then refined at the full stride only in the most sensitive --drill of the map. "
     "The map is not the exact one: --compare-exact reports how far it is (mean abs difference, SSIM)"},
    {"tau", NULL, "T", "0.8", "--approx: projective-field threshold in (0, 1]; 1 = no cut-off"},
    {"coarse", NULL, "K", "2", "--approx: first pass at K times the stride; 1 = no drill-down"},
    {"drill", NULL, "F", "0.1", "--approx: share of the map, in (0, 1], refined at the full stride"},
    {"compare-exact", NULL, NULL, NULL,
     "--approx: also compute the exact map and print the approximate map's error and speed-up against it"},
    {"score", NULL, "S", "prob",
     "what the map holds: prob (the class probability under the occluder), drop (its fall from the unoccluded "
     "probability: 0 = no effect), or logit (the model's raw score, before softmax: it shows effects that a "
     "probability near 0 or 1 squeezes flat; written as logits.npy / logits.csv)"},
    {"cmap", NULL, "NAME", "rocket",
     "colour map of the heatmaps: rocket, viridis, magma, jet, grey, diverging (overlay_alpha.png is diverging "
     "unless this is given)"},
    {"frames", NULL, NULL, NULL, "also one PNG per position in DIR/frames/, frames.gif (5 fps) and, when ffmpeg is "
                                 "on PATH, frames.mp4"},
    {"all-classes", NULL, NULL, NULL, "also the most likely class at each position: all_classes.png and .npy"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_batch_opts, cli_preprocess_opts, NULL};

/* ---- small helpers ------------------------------------------------------------ */

typedef enum { FILL_GREY, FILL_MEAN, FILL_BLUR } fill_kind;

static bool parse_pixel(const char *s, fill_kind *kind, double *grey)
{
    if (strcmp(s, "mean") == 0) {
        *kind = FILL_MEAN;
        return true;
    }
    if (strcmp(s, "blur") == 0) {
        *kind = FILL_BLUR;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 255)) {
        cli_usage_error("--pixel expects a grey level 0..255, 'mean' or 'blur', got '%s'", s);
        return false;
    }
    *kind = FILL_GREY;
    *grey = v;
    return true;
}

/* Write text atomically (cv_file_write: an exclusive temporary file beside
 * the target, renamed), so a file or symlink planted at a guessable
 * temporary name is never written. */
/* The grid as a table: a header row with each column's window left edge
 * (x0, pixels of the model input), then one row per window top edge (y0)
 * and its values; "y0\\x0" in the corner. pandas.read_csv(path,
 * index_col=0) reads it back with the pixel positions as labels. */
static bool write_csv(const char *path, const double *map, int rows, int cols, const cv_occlusion_geometry *g,
                      int occ_size, int stride)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        cli_error("out of memory");
        return false;
    }
    fputs("y0\\x0", f);
    for (int j = 0; j < cols; j++)
        fprintf(f, ",%d", cv_occlusion_window(g, occ_size, stride, 0, j).x0);
    fputc('\n', f);
    for (int i = 0; i < rows; i++) {
        fprintf(f, "%d", cv_occlusion_window(g, occ_size, stride, i, 0).y0);
        for (int j = 0; j < cols; j++)
            fprintf(f, ",%.9g", map[(size_t)i * cols + j]);
        fputc('\n', f);
    }
    bool ok = fclose(f) == 0;
    cv_error err;
    if (!ok)
        cli_error("out of memory");
    else if (cv_file_write(path, text, len, &err) != CV_OK)
        ok = false, cli_fail(&err);
    free(text);
    return ok;
}

static float *to_float(const double *x, size_t n)
{
    float *f = malloc((n ? n : 1) * sizeof(float));
    if (f)
        for (size_t k = 0; k < n; k++)
            f[k] = (float)x[k];
    return f;
}

/* Save a picture, with a caption band above it when caption is given. */
static bool save_picture(const cv_image *img, const char *caption, const char *dir, const char *name)
{
    cv_error err;
    cv_image captioned = {0};
    const cv_image *out = img;
    if (caption) {
        if (cv_render_caption(img, caption, &captioned, &err) != CV_OK)
            return cli_fail(&err), false;
        out = &captioned;
    }
    char path[4096];
    cv_status st = cv_image_save_png(out, cli_path(path, sizeof path, dir, name), &err);
    cv_image_free(&captioned);
    if (st != CV_OK)
        return cli_fail(&err), false;
    return true;
}

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    while (*path) {
        size_t len = strcspn(path, ":");
        char buf[4096];
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, len ? path : ".", prog);
        if (access(buf, X_OK) == 0)
            return true;
        path += len;
        if (*path == ':')
            path++;
    }
    return false;
}

/* frames/%05d.png -> frames.mp4 at 5 fps with ffmpeg (no shell involved);
 * written under a temporary name and renamed. */
static void make_mp4(const char *dir)
{
    char in[4200], tmp[4200], out[4200];
    snprintf(in, sizeof in, "%s/frames/%%05d.png", dir);
    snprintf(out, sizeof out, "%s/frames.mp4", dir);
    /* the temporary is created here, exclusively, under an unguessable
     * name; ffmpeg -y then overwrites that file and nothing else */
    snprintf(tmp, sizeof tmp, "%s/frames.mp4.tmp-XXXXXX.mp4", dir);
    int fd = mkstemps(tmp, 4);
    if (fd < 0) {
        cli_note("cannot create a temporary file for %s: %s", out, strerror(errno));
        return;
    }
    mode_t mask = umask(0); /* mkstemps makes 0600; give the usual mode */
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        /* keep 0600: still a correct file */
    }
    close(fd);
    char *argv[] = {"ffmpeg", "-y", "-loglevel", "error", "-framerate", "5", "-i", in, "-vf",
                    "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-pix_fmt", "yuv420p", tmp, NULL};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "ffmpeg", NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) < 0 ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0 || rename(tmp, out) != 0) {
        remove(tmp);
        cli_note("ffmpeg could not make %s; the frames and frames.gif are there", out);
        return;
    }
}

/* One frame per position (the original tool's video): DIR/frames/%05d.png,
 * frames.gif at 5 fps and, when ffmpeg is on PATH, frames.mp4. */
static bool write_frames(const char *dir, const cv_image *sized, const double *map, int rows, int cols, int occ,
                         int stride)
{
    char fdir[4096], path[4200];
    cli_path(fdir, sizeof fdir, dir, "frames");
    if (!cli_make_dir(fdir))
        return false;
    cv_error err;
    cv_image f = {0}, base = {0};
    cv_gif *gif = NULL;
    bool ok = false;
    int factor;
    if (cv_occlusion_frame_base(&base, &factor, sized, &err) != CV_OK ||
        cv_image_alloc(&f, base.w, base.h, 3, &err) != CV_OK) {
        cv_image_free(&base);
        return cli_fail(&err), false;
    }
    const cv_occlusion_geometry fg = {3, base.h, base.w, 0};
    occ *= factor;
    stride *= factor;
    /* Palette from a frame with a mid-grey window: the photo's colours plus greys. */
    cv_occlusion_draw_frame(&f, &base, cv_occlusion_window(&fg, occ, stride, 0, 0), 0.5);
    if (cv_gif_begin(&gif, cli_path(path, sizeof path, dir, "frames.gif"), f.w, f.h, &f, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    cli_progress pr;
    cli_progress_start(&pr, "frames", (long)rows * cols);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            long k = (long)i * cols + j;
            cv_occlusion_draw_frame(&f, &base, cv_occlusion_window(&fg, occ, stride, i, j), map[k]);
            snprintf(path, sizeof path, "%s/%05ld.png", fdir, k);
            if (cv_image_save_png(&f, path, &err) != CV_OK || cv_gif_add(gif, &f, 20, &err) != CV_OK) {
                cli_fail(&err);
                goto out;
            }
            cli_progress_update(&pr, k + 1);
        }
    cli_progress_end(&pr);
    cv_gif *g = gif;
    gif = NULL;
    if (cv_gif_end(g, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    if (on_path("ffmpeg"))
        make_mp4(dir);
    ok = true;
out:
    cv_gif_abort(gif);
    cv_image_free(&f);
    cv_image_free(&base);
    return ok;
}

static void on_progress(void *user, long done, long total)
{
    cli_progress *pr = user;
    pr->total = total; /* approximate mode learns its total after the first pass */
    cli_progress_update(pr, done);
}

/* The exact map for --compare-exact: same parameters, approximation off.
 * Returns the seconds it took (planning included), or -1 after an error. */
static double exact_map(const cv_model *m, const float *x, const cv_occlusion_geometry *og,
                        const cv_occlusion_params *p, int target, double *map, double *macs_ratio)
{
    cv_occlusion_params q = *p;
    q.approx.enabled = 0;
    cv_occlusion *o = NULL;
    cv_error err;
    cli_progress pr;
    q.user = &pr;
    cli_progress_start(&pr, "exact map", 0);
    double t0 = cli_now();
    if (cv_occlusion_create(&o, m, x, og, &q, &err) != CV_OK || cv_occlusion_run(o, target, map, NULL, NULL, &err) != CV_OK) {
        cv_occlusion_free(o);
        cli_fail(&err);
        return -1;
    }
    double t = cli_now() - t0;
    cli_progress_end(&pr);
    *macs_ratio = cv_occlusion_engine_speedup(o);
    cv_occlusion_free(o);
    return t;
}

/* ---- the command's steps --------------------------------------------------------- */

/* The options, parsed and checked before anything is loaded. */
typedef struct {
    const char *img_path;
    long occ, stride, norm, batch, size, coarse;
    double percentile, grey, tau, drill;
    fill_kind fill;
    cv_cmap cmap;
    bool cmap_given; /* --cmap on the command line: also for overlay_alpha.png */
    bool approx, compare;
    cv_occlusion_engine engine;
    enum { SCORE_PROB, SCORE_DROP, SCORE_LOGIT } score; /* --score */
} occ_opts;

/* What one run holds; job_free releases it. */
typedef struct {
    occ_opts opt;
    const char *dir;              /* the staging folder */
    cv_model *m;
    cv_occlusion *o;
    cv_labels labels;
    cli_input_geom g;
    cv_occlusion_geometry og;
    cv_preprocess pre;
    cv_occlusion_params p;
    char fill_desc[64];
    float *x, *fill_img;          /* the model's input; the blurred copy */
    cv_image original, sized;     /* the photo; as the model saw it */
    int rows, cols, target;
    const char *tname;            /* the target's name, printable */
    double *map, *reg, *exact;    /* [rows x cols] */
    int *top;                     /* [rows x cols] */
    cv_occlusion_stats stats;
} occ_job;

/* What belongs to one image (batch mode does many with one model). */
static void image_free(occ_job *j)
{
    cv_image_free(&j->sized);
    cv_image_free(&j->original);
    free(j->x);
    free(j->fill_img);
    free(j->map);
    free(j->reg);
    free(j->exact);
    free(j->top);
    cv_occlusion_free(j->o);
    j->x = j->fill_img = NULL;
    j->map = j->reg = j->exact = NULL;
    j->top = NULL;
    j->o = NULL;
}

static void job_free(occ_job *j)
{
    image_free(j);
    cv_labels_free(&j->labels);
    cv_model_free(j->m);
}

static bool parse_engine(const cli_args *a, bool approx, cv_occlusion_engine *engine)
{
    if (cli_flag(a, "exact-full") && (approx || (cli_given(a, "engine") && strcmp(cli_str(a, "engine"), "full"))))
        return cli_usage_error("--exact-full asks for the exact map by full inference; it does not go with --approx or "
                         "--engine %s", cli_str(a, "engine")), false;
    const char *name = cli_flag(a, "exact-full") ? "full" : cli_str(a, "engine");
    *engine = strcmp(name, "full") == 0          ? CV_OCCLUSION_ENGINE_FULL
              : strcmp(name, "incremental") == 0 ? CV_OCCLUSION_ENGINE_INCREMENTAL
                                                 : CV_OCCLUSION_ENGINE_AUTO;
    if (*engine == CV_OCCLUSION_ENGINE_AUTO && strcmp(name, "auto") != 0)
        return cli_usage_error("--engine must be auto, full or incremental, got '%s'", name), false;
    return true;
}

static bool parse_opts(const cli_args *a, occ_opts *o)
{
    cv_error err;
    memset(o, 0, sizeof *o);
    o->fill = FILL_GREY;
    o->img_path = cli_batch_mode(a) ? "" : cli_require(a, "img"); /* batch mode: each image's */
    if (!o->img_path || !cli_int(a, "occ_size", 1, 4096, &o->occ) || !cli_int(a, "stride", 1, 4096, &o->stride) ||
        !cli_int(a, "norm", 0, 1, &o->norm) || !cli_float(a, "percentile", 0, 100, &o->percentile) ||
        !cli_int(a, "batch", 0, 4096, &o->batch) || !cli_int(a, "size", 8, 4096, &o->size) ||
        !parse_pixel(cli_str(a, "pixel"), &o->fill, &o->grey))
        return false;
    o->cmap_given = cli_given(a, "cmap");
    if (cv_cmap_from_name(&o->cmap, cli_str(a, "cmap"), &err) != CV_OK)
        return cli_fail(&err), false;
    o->approx = cli_flag(a, "approx");
    o->compare = cli_flag(a, "compare-exact");
    if (!cli_float(a, "tau", 0, 1, &o->tau) || !cli_float(a, "drill", 0, 1, &o->drill) ||
        !cli_int(a, "coarse", 1, 4096, &o->coarse))
        return false;
    if (!(o->tau > 0))
        return cli_usage_error("--tau must be in (0, 1], got %g", o->tau), false;
    if (!(o->drill > 0))
        return cli_usage_error("--drill must be in (0, 1], got %g", o->drill), false;
    if (!o->approx && (cli_given(a, "tau") || cli_given(a, "drill") || cli_given(a, "coarse") || o->compare))
        return cli_usage_error("--tau, --coarse, --drill and --compare-exact tune approximate mode: add --approx"), false;
    if (!parse_engine(a, o->approx, &o->engine))
        return false;
    static const char *const scores[] = {"prob", "drop", "logit", NULL}; /* in the order of the enum */
    int score = cli_pick(cli_str(a, "score"), scores);
    if (score < 0)
        return cli_usage_error("--score must be prob, drop or logit, got '%s'", cli_str(a, "score")), false;
    o->score = score;
    if (cli_given(a, "size") && o->occ > o->size)
        return cli_usage_error("--occ_size %ld is larger than --size %ld", o->occ, o->size), false;
    return true;
}

/* The model, its input geometry and grid, the class names and --class. */
static bool load_model(const cli_args *a, occ_job *j)
{
    cv_error err;
    if (!cli_load_model(a, &j->m) || !cli_input_geometry(a, j->m, "size", &j->g) ||
        !cli_preprocess(a, j->m, &j->pre))
        return false;
    const cli_input_geom *g = &j->g;
    j->og = (cv_occlusion_geometry){g->channels, g->height, g->width, g->nhwc};
    if (cv_occlusion_grid_size(&j->og, (int)j->opt.occ, (int)j->opt.stride, &j->rows, &j->cols, &err) != CV_OK) {
        cli_usage_error("--occ_size %ld does not fit the model's %d x %d input%s", j->opt.occ, g->height, g->width,
                  j->opt.occ > g->height || j->opt.occ > g->width ? " (use a smaller --occ_size)" : "");
        return false;
    }
    return cli_labels(a, j->m, &j->labels) && cli_resolve_class(cli_str(a, "class"), &j->labels, &j->target);
}

/* The image as the model's input and as the picture the model saw (for
 * the projection and the frames). */
static bool load_image(const cli_args *a, occ_job *j)
{
    cv_error err;
    const cli_input_geom *g = &j->g;
    if (!(j->x = cli_image_input(a, j->m, j->opt.img_path, g, &j->pre, &j->original)))
        return false;
    cv_fit fit;
    cv_resize_mode interp;
    if (!cli_resize_modes(a, &fit, &interp))
        return false;
    cv_status rs = interp == CV_RESIZE_BILINEAR
                       ? cv_image_resize(&j->sized, &j->original, g->width, g->height, &err)
                       : cv_image_resize_antialias(&j->sized, &j->original, g->width, g->height, &err);
    if (rs != CV_OK)
        return cli_fail(&err), false;
    return true;
}

/* The occluder's fill into j->p, described in j->fill_desc. */
static bool set_fill(occ_job *j)
{
    const occ_opts *o = &j->opt;
    if (o->fill == FILL_GREY) {
        for (int c = 0; c < j->g.channels; c++)
            j->p.fill_value[c] = cv_preprocess_value(&j->pre, (float)o->grey, c);
        snprintf(j->fill_desc, sizeof j->fill_desc, "grey %g", o->grey);
        return true;
    }
    if (o->fill == FILL_MEAN) {
        cv_occlusion_fill_mean(j->p.fill_value, j->x, &j->og);
        snprintf(j->fill_desc, sizeof j->fill_desc, "the image's mean colour");
        return true;
    }
    size_t n = (size_t)j->g.channels * j->g.height * j->g.width;
    double sigma = o->occ / 4.0;
    cv_error err;
    if (!(j->fill_img = malloc(n * sizeof(float))))
        return cli_error("out of memory"), false;
    if (cv_occlusion_fill_blur(j->fill_img, j->x, &j->og, sigma, &err) != CV_OK)
        return cli_fail(&err), false;
    j->p.fill = j->fill_img;
    snprintf(j->fill_desc, sizeof j->fill_desc, "the image blurred (Gaussian, sigma %.4g px)", sigma);
    return true;
}

static bool set_params(const cli_args *a, occ_job *j, cli_progress *pr)
{
    const occ_opts *o = &j->opt;
    cv_occlusion_params *p = &j->p;
    *p = cv_occlusion_defaults();
    p->occ_size = (int)o->occ;
    p->stride = (int)o->stride;
    p->batch = (int)o->batch;
    if (!cli_max_memory(a, &p->max_memory)) /* also bounds the automatic batch */
        return false;
    p->engine = o->engine;
    p->score = o->score == SCORE_LOGIT ? CV_OCCLUSION_SCORE_RAW : CV_OCCLUSION_SCORE_AUTO;
    p->approx.enabled = o->approx;
    p->approx.tau = o->tau;
    p->approx.coarse_factor = (int)o->coarse;
    p->approx.drill_fraction = o->drill;
    p->progress = on_progress;
    p->user = pr;
    return set_fill(j);
}

/* "p" or "logit": what the map's numbers are. */
static const char *score_symbol(const occ_job *j) { return j->opt.score == SCORE_LOGIT ? "logit" : "p"; }

/* The unoccluded image's top 5, the target, and what is about to run. */
static bool print_plan(occ_job *j)
{
    const occ_opts *o = &j->opt;
    int n_classes;
    const float *probs = cv_occlusion_base_probs(j->o, &n_classes);
    if (j->labels.n && j->labels.n != n_classes)
        cli_note("%d class names for %d outputs", j->labels.n, n_classes);
    if (j->target >= n_classes)
        return cli_usage_error("--class %d is out of range: the model has %d classes (0..%d)", j->target, n_classes,
                         n_classes - 1), false;
    printf("%s: top 5 of %d classes%s\n", o->img_path, n_classes,
           cv_occlusion_softmax_applied(j->o) ? " (softmax of the model's outputs)" : "");
    cli_print_top_classes(probs, n_classes, &j->labels, 5);
    if (j->target < 0) { /* the top-1, as the list above */
        j->target = 0;
        for (int c = 1; c < n_classes; c++)
            if (probs[c] > probs[j->target])
                j->target = c;
    }
    static char tname[256];
    j->tname = cli_printable(cli_label(&j->labels, j->target), tname, sizeof tname);
    printf("target: class %d (%s), %s = %.4f unoccluded\n", j->target, j->tname, score_symbol(j), probs[j->target]);
    double sum = 0;
    bool in_unit = true;
    for (int c = 0; c < n_classes; c++) {
        sum += probs[c];
        in_unit &= probs[c] >= 0 && probs[c] <= 1;
    }
    if (j->opt.score == SCORE_LOGIT && in_unit && fabs(sum - 1) < 1e-3)
        cli_warning("--score logit: this model's outputs are already probabilities (it ends in a softmax), so the "
                    "map holds them as they are");
    long total = (long)j->rows * j->cols;
    printf("occluding: %d x %d = %ld positions, %ld px square, stride %ld, filled with %s; batch %d, engine %s",
           j->rows, j->cols, total, o->occ, o->stride, j->fill_desc, cv_occlusion_batch(j->o),
           cv_occlusion_engine_name(j->o));
    if (cv_occlusion_engine_speedup(j->o) != 1.0)
        printf(" (%.1fx fewer multiply-adds)", cv_occlusion_engine_speedup(j->o));
    printf("\n");
    fflush(stdout);
    return true;
}

/* --compare-exact: the exact map beside the approximate one, and how far
 * apart they are. t_approx: the approximate map's seconds, planning
 * included. */
static bool compare_exact(occ_job *j, double t_approx, double macs_approx)
{
    cv_error err;
    size_t cells = (size_t)j->rows * j->cols;
    double macs_exact = 1;
    if (!(j->exact = malloc(cells * sizeof(double))))
        return cli_error("out of memory"), false;
    double t_exact = exact_map(j->m, j->x, &j->og, &j->p, j->target, j->exact, &macs_exact);
    if (t_exact < 0)
        return false;
    cv_occlusion_map_error me;
    if (cv_occlusion_compare(j->map, j->exact, j->rows, j->cols, &me, &err) != CV_OK)
        return cli_fail(&err), false;
    printf("approximate vs exact: MAE %.4g, max abs %.4g, SSIM %.4f, speed-up %.2fx (approx %.2f s, exact %.2f s, "
           "planning included); %.1fx fewer multiply-adds than the exact %s map\n",
           me.mae, me.max_abs, me.ssim, t_exact / t_approx, t_approx, t_exact, macs_approx / macs_exact,
           cv_occlusion_engine_name(j->o));
    return true;
}

/* The map (and the top class at each position), with what it took.
 * t_create: the seconds cv_occlusion_create took. */
static bool compute_map(occ_job *j, cli_progress *pr, double t_create)
{
    const occ_opts *o = &j->opt;
    cv_error err;
    const long total = (long)j->rows * j->cols;
    const size_t cells = (size_t)total;
    j->map = malloc(cells * sizeof(double));
    j->reg = malloc(cells * sizeof(double));
    j->top = malloc(cells * sizeof(int));
    if (!j->map || !j->reg || !j->top)
        return cli_error("out of memory"), false;
    cli_progress_start(pr, "occlusion", total);
    double t0 = cli_now();
    cv_status st = cv_occlusion_run(j->o, j->target, j->map, j->top, NULL, &err);
    double elapsed = cli_now() - t0;
    if (st != CV_OK)
        return cli_fail(&err), false;
    cli_progress_end(pr);
    double lo = j->map[0], hi = j->map[0];
    for (size_t k = 1; k < cells; k++) {
        lo = fmin(lo, j->map[k]);
        hi = fmax(hi, j->map[k]);
    }
    cv_occlusion_stats stats = j->stats = cv_occlusion_last_stats(j->o);
    printf("done: %s%ld positions in %.2f s, %.2f ms per position; %s(%s) from %.4f to %.4f\n",
           stats.approximate ? "APPROXIMATE map, " : "", total, elapsed, 1e3 * elapsed / (double)total, score_symbol(j),
           j->tname, lo, hi);
    double macs_approx = cv_occlusion_engine_speedup(j->o) * (double)total / (double)stats.evaluated;
    if (o->approx) {
        long coarse = stats.coarse ? stats.coarse : stats.evaluated;
        printf("approximate: %ld of %ld positions evaluated (%ld at stride %ld, %ld more at stride %ld in the most "
               "sensitive %.0f%% of the map), tau %g; %.1fx fewer multiply-adds than full inference\n",
               stats.evaluated, total, coarse, stats.coarse ? o->stride * o->coarse : o->stride,
               stats.evaluated - coarse, o->stride, 100.0 * (double)stats.drilled / (double)total, stats.tau,
               macs_approx);
    }
    return !o->compare || compare_exact(j, t_create + elapsed, macs_approx);
}

/* A map of rows x cols doubles as a heatmap picture with a caption. */
static bool save_heatmap(const occ_job *j, const float *map, const char *caption, const char *name)
{
    cv_error err;
    cv_image pic = {0};
    if (cv_render_heatmap(map, j->rows, j->cols, 0, 0, j->opt.cmap, 0, &pic, &err) != CV_OK)
        return cli_fail(&err), false;
    bool ok = save_picture(&pic, caption, j->dir, name);
    cv_image_free(&pic);
    return ok;
}

/* The photo enlarged for display until its shorter side is at least this
 * (a 28 x 28 digit, a 220 x 165 photo): the .npy files keep the map's own
 * size. */
#define MIN_PICTURE_SIDE 448

/* overlay.png, the original's projection: the regularised map multiplied
 * into the picture at the model's size, then back to the photo's, each
 * value where its window is (a plain resize of the grid put it half a
 * window up and left); enlarged for display, with a caption. */
static bool save_projection(const occ_job *j, const char *title)
{
    cv_error err;
    cv_image proj = {0}, pic = {0}, big = {0};
    float *reg_pixels = malloc((size_t)j->g.height * j->g.width * sizeof(float));
    char caption[1024];
    snprintf(caption, sizeof caption, "%s\nphoto x regularised map: dark = hiding it costs little", title);
    bool ok = reg_pixels &&
              cv_occlusion_pixel_map(reg_pixels, j->reg, &j->og, (int)j->opt.occ, (int)j->opt.stride, 1, &err) ==
                  CV_OK &&
              cv_render_overlay_multiply(&j->sized, reg_pixels, j->g.height, j->g.width, &proj, &err) == CV_OK &&
              cv_image_resize(&pic, &proj, j->original.w, j->original.h, &err) == CV_OK &&
              cv_render_enlarge(&pic, MIN_PICTURE_SIDE, &big, &err) == CV_OK;
    if (!reg_pixels)
        cli_error("out of memory");
    else if (!ok)
        cli_fail(&err);
    ok = ok && save_picture(&big, caption, j->dir, "overlay.png");
    cv_image_free(&proj);
    cv_image_free(&pic);
    cv_image_free(&big);
    free(reg_pixels);
    return ok;
}

/* overlay_alpha.png: the fall in the score when each part is hidden, over
 * the photo, interpolated between window centres so it sits where the
 * windows were; on a diverging scale centred on 0 (red: hiding it lowers
 * the score, blue: raises it) with 0 clear, a colour bar and a caption. */
static bool save_drop_overlay(const occ_job *j, const char *title)
{
    cv_error err;
    cv_image pic = {0};
    size_t pixels = (size_t)j->g.height * j->g.width;
    float *drop = malloc(pixels * sizeof(float));
    if (!drop)
        return cli_error("out of memory"), false;
    char caption[1024];
    snprintf(caption, sizeof caption, "%s\nocclusion, %ld px patch: fall in %s when hidden\nred: falls, blue: rises, "
             "clear: no effect%s", title, j->opt.occ, score_symbol(j), j->stats.approximate ? " (approximate)" : "");
    cv_overlay_style style = cv_overlay_style_defaults();
    style.signed_cmap = j->opt.cmap_given ? j->opt.cmap : CV_CMAP_DIVERGING;
    style.symmetric = 1;
    style.min_side = MIN_PICTURE_SIDE;
    style.caption = caption;
    bool ok = cv_occlusion_pixel_map(drop, j->map, &j->og, (int)j->opt.occ, (int)j->opt.stride, 1, &err) == CV_OK;
    if (ok) {
        const float base = cv_occlusion_base_probs(j->o, NULL)[j->target];
        for (size_t k = 0; k < pixels; k++)
            drop[k] = base - drop[k];
        ok = cv_render_overlay(&j->original, drop, j->g.height, j->g.width, &style, &pic, &err) == CV_OK;
    }
    if (!ok)
        cli_fail(&err);
    ok = ok && save_picture(&pic, NULL, j->dir, "overlay_alpha.png");
    cv_image_free(&pic);
    free(drop);
    return ok;
}

static bool save_overlays(const occ_job *j)
{
    char title[512];
    const float base = cv_occlusion_base_probs(j->o, NULL)[j->target];
    cli_overlay_title(title, sizeof title, j->m, j->tname, j->target, score_symbol(j), base);
    return save_projection(j, title) && save_drop_overlay(j, title);
}

/* --all-classes: the most likely class at each position, as .npy and a picture. */
static bool save_all_classes(const occ_job *j)
{
    cv_error err;
    size_t cells = (size_t)j->rows * j->cols;
    int32_t *top = malloc(cells * sizeof(int32_t)); /* class indices: integers, not floats */
    if (!top)
        return cli_error("out of memory"), false;
    for (size_t k = 0; k < cells; k++)
        top[k] = (int32_t)j->top[k];
    char path[4096];
    cv_shape ms = {2, {j->rows, j->cols}};
    cv_status st = cv_npy_write_i32(cli_path(path, sizeof path, j->dir, "all_classes.npy"), &ms, top, &err);
    free(top);
    if (st != CV_OK)
        return cli_fail(&err), false;
    cv_image pic = {0};
    if (cv_render_labels(j->top, j->rows, j->cols, (const char *const *)j->labels.names, j->labels.n, 0, &pic,
                         &err) != CV_OK)
        return cli_fail(&err), false;
    bool ok = save_picture(&pic, "top class under the occluder", j->dir, "all_classes.png");
    cv_image_free(&pic);
    return ok;
}

/* map.npy: Captum's occlusion attribution at the model input's resolution
 * (the probability drop of each pixel averaged over the windows that cover
 * it), the map `cnnviz eval` ranks. */
static bool save_attribution(const occ_job *j)
{
    cv_error err;
    size_t pixels = (size_t)j->g.height * j->g.width;
    float *attr = malloc(pixels * sizeof(float));
    if (!attr)
        return cli_error("out of memory"), false;
    char path[4096];
    cv_shape s = {2, {j->g.height, j->g.width}};
    double base = cv_occlusion_base_probs(j->o, NULL)[j->target];
    bool ok = cv_occlusion_attribution(attr, j->map, base, &j->og, (int)j->opt.occ, (int)j->opt.stride, &err) ==
                  CV_OK &&
              cv_npy_write_f32(cli_path(path, sizeof path, j->dir, "map.npy"), &s, attr, &err) == CV_OK;
    free(attr);
    if (!ok)
        cli_fail(&err);
    return ok;
}

/* --score drop: map (floats) becomes the fall from the unoccluded score. */
static void map_to_drop(const occ_job *j, float *map)
{
    float base = cv_occlusion_base_probs(j->o, NULL)[j->target];
    for (size_t k = 0; k < (size_t)j->rows * j->cols; k++)
        map[k] = base - map[k];
}

/* heatmap.png's caption, with the range of what it shows, so that a
 * colour bar stretched over 0.982 to 1.000 is read as the 1.8% it is. */
static void heatmap_caption(const occ_job *j, const float *map, char *caption, size_t len)
{
    size_t cells = (size_t)j->rows * j->cols;
    float lo = map[0], hi = map[0];
    for (size_t k = 1; k < cells; k++) {
        lo = map[k] < lo ? map[k] : lo;
        hi = map[k] > hi ? map[k] : hi;
    }
    lo = fabsf(lo) < 5e-4f ? 0.0f : lo; /* no "-0.000" */
    int name_len = (int)strcspn(j->tname, ",");
    const char *what = j->opt.score == SCORE_DROP ? "drop in p" : score_symbol(j);
    snprintf(caption, len, "%s(%.*s), %ld px occluder: %.3g to %.3g%s", what, name_len, j->tname, j->opt.occ, lo, hi,
             j->stats.approximate ? " (approximate)" : "");
}

/* Every output, only now that the map is complete. */
static bool write_outputs(const cli_args *a, occ_job *j)
{
    const occ_opts *o = &j->opt;
    cv_error err;
    if (cv_occlusion_regularize(j->reg, j->map, j->rows, j->cols, (int)o->norm, o->percentile, &err) != CV_OK)
        return cli_fail(&err), false;
    char path[4096], caption[512];
    cv_shape ms = {2, {j->rows, j->cols}};
    bool logit = o->score == SCORE_LOGIT;
    if (cv_npy_write_f64(cli_path(path, sizeof path, j->dir, logit ? "logits.npy" : "probs.npy"), &ms, j->map, &err) !=
        CV_OK)
        return cli_fail(&err), false;
    if (!write_csv(cli_path(path, sizeof path, j->dir, logit ? "logits.csv" : "probs.csv"), j->map, j->rows, j->cols,
                   &j->og,
                   j->p.occ_size, j->p.stride) ||
        !save_attribution(j))
        return false;
    size_t cells = (size_t)j->rows * j->cols;
    float *mapf = to_float(j->map, cells), *regf = to_float(j->reg, cells);
    bool ok = false;
    if (!mapf || !regf) {
        cli_error("out of memory");
        goto out;
    }
    if (o->score == SCORE_DROP)
        map_to_drop(j, mapf);
    heatmap_caption(j, mapf, caption, sizeof caption);
    if (!save_heatmap(j, mapf, caption, "heatmap.png"))
        goto out;
    snprintf(caption, sizeof caption, "regularised (%sp%g, blur 3x3)", o->norm ? "norm, " : "", o->percentile);
    if (!save_heatmap(j, regf, caption, "heatmap_reg.png") || !save_overlays(j))
        goto out;
    if (cli_flag(a, "all-classes") && !save_all_classes(j))
        goto out;
    if (cli_flag(a, "frames") && !write_frames(j->dir, &j->sized, j->map, j->rows, j->cols, (int)o->occ, (int)o->stride))
        goto out;
    ok = true;
out:
    free(mapf);
    free(regf);
    return ok;
}

/* ---- batch mode ----------------------------------------------------------------- */

typedef struct {
    occ_job j;
    int target; /* --class, -1 for each image's top-1 */
    cli_progress pr;
} occ_batch;

static bool batch_setup(const cli_args *a, void *user)
{
    occ_batch *b = user;
    if (!load_model(a, &b->j))
        return false;
    b->target = b->j.target;
    return true;
}

/* The manifest's numbers: the class mapped, its unoccluded score and the
 * map's range. */
static void batch_numbers(const occ_job *j, cli_batch_item *it)
{
    int n;
    const float *probs = cv_occlusion_base_probs(j->o, &n);
    cli_batch_set_top(it, probs, n, &j->labels);
    size_t cells = (size_t)j->rows * j->cols;
    double lo = j->map[0], hi = j->map[0];
    for (size_t k = 1; k < cells; k++)
        lo = fmin(lo, j->map[k]), hi = fmax(hi, j->map[k]);
    cJSON_AddNumberToObject(it->numbers, "target", j->target);
    cJSON_AddNumberToObject(it->numbers, "target_prob", probs[j->target]);
    cJSON_AddNumberToObject(it->numbers, j->opt.score == SCORE_LOGIT ? "min_logit" : "min_prob", lo);
    cJSON_AddNumberToObject(it->numbers, j->opt.score == SCORE_LOGIT ? "max_logit" : "max_prob", hi);
    cJSON_AddNumberToObject(it->numbers, "positions", (double)cells);
    snprintf(it->picture, sizeof it->picture, "overlay_alpha.png");
}

/* One image, with the model loaded once: everything else is its own. */
static void batch_image(const cli_args *a, void *user, cli_batch_item *items, int n)
{
    occ_batch *b = user;
    occ_job *j = &b->j;
    for (int k = 0; k < n; k++) {
        cli_batch_item *it = &items[k];
        cv_error err;
        double t_create = cli_now();
        j->opt.img_path = it->input;
        j->dir = it->dir;
        j->target = b->target;
        it->ok = load_image(a, j) && set_params(a, j, &b->pr);
        if (it->ok && cv_occlusion_create(&j->o, j->m, j->x, &j->og, &j->p, &err) != CV_OK)
            it->ok = (cli_fail(&err), false);
        t_create = cli_now() - t_create;
        it->ok = it->ok && print_plan(j) && compute_map(j, &b->pr, t_create) && write_outputs(a, j);
        if (it->ok)
            batch_numbers(j, it);
        image_free(j);
    }
}

static void batch_cleanup(void *user) { job_free(&((occ_batch *)user)->j); }

/* ---- the command --------------------------------------------------------------- */

static int run(const cli_args *a)
{
    occ_job j = {0};
    if (!parse_opts(a, &j.opt))
        return 2;
    if (cli_batch_mode(a)) {
        occ_batch b = {.j = j};
        cli_batch_ops ops = {"occlusion", 1, batch_setup, batch_image, batch_cleanup, &b};
        return cli_batch_run(a, &ops);
    }
    if (!cli_batch_options_ok(a))
        return CLI_EXIT_USAGE;
    cli_outset set;
    if (!cli_outset_begin(&set, cli_str(a, "out"), "occlusion"))
        return 1;
    j.dir = set.stage; /* moved to --out, complete, at the end */
    int status = 1;
    cli_progress pr;
    cv_error err;
    if (!load_model(a, &j) || !load_image(a, &j) || !set_params(a, &j, &pr))
        goto out;
    double t_create = cli_now();
    if (cv_occlusion_create(&j.o, j.m, j.x, &j.og, &j.p, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    t_create = cli_now() - t_create;
    if (j.opt.approx && j.opt.tau < 1 && strcmp(cv_occlusion_engine_name(j.o), "full") == 0)
        cli_note("--tau %g needs the incremental engine; with full inference only the drill-down (--coarse %ld, "
                 "--drill %g) approximates", j.opt.tau, j.opt.coarse, j.opt.drill);
    if (!print_plan(&j) || !compute_map(&j, &pr, t_create) || !write_outputs(a, &j) || !cli_outset_commit(&set))
        goto out;
    printf("wrote %s/: %s\n", set.final, set.summary);
    status = 0;
out:
    cli_outset_abort(&set);
    job_free(&j);
    return status;
}

const cli_cmd cli_cmd_occlusion = {
    "occlusion", "occlusion sensitivity: where hiding the image lowers the class probability",
    "Slides a square occluder over the resized image and records the target class's probability at each "
    "position: rows = ceil((size - occ_size) / stride) + 1 positions per side, windows clipped at the border. "
    "Writes to --out: probs.npy (float64) and probs.csv (logits.npy and logits.csv with --score logit), map.npy (float32 [H, W] at the model input's "
    "resolution: each pixel's probability drop averaged over the windows covering it, Captum's occlusion "
    "attribution, for `cnnviz eval`), heatmap.png, heatmap_reg.png (the original tool's "
    "regularised map), overlay.png (that map multiplied into the photo) and overlay_alpha.png (the probability "
    "drop over the photo); --all-classes adds all_classes.npy (int32 [rows, cols]: the top class at each position) "
    "and all_classes.png. Positions run in batches; the incremental engine recomputes only what each occluder "
    "can reach, with the same values. With --approx the map is APPROXIMATE (faster; its error against the exact "
    "map is what --compare-exact prints), and the files hold that approximate map. " BATCH_HELP,
    groups, run,
};
