/* cnnviz occlusion: occlusion sensitivity maps (the original tool's
 * viz_occlusion, for any classifier), their pictures and raw numbers. */
#include "cli.h"
#include "cnnviz_occlusion.h"
#include "cnnviz_render.h"
#include <ctype.h>
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
    {"img", "image", "PATH", NULL, "image to explain (JPEG or PNG)"},
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
    {"cmap", NULL, "NAME", "rocket", "colour map: rocket, viridis, magma, jet, grey"},
    {"frames", NULL, NULL, NULL, "also one PNG per position in DIR/frames/, frames.gif (5 fps) and, when ffmpeg is "
                                 "on PATH, frames.mp4"},
    {"all-classes", NULL, NULL, NULL, "also the most likely class at each position: all_classes.png and .npy"},
    {NULL},
};
static const cli_opt *const groups[] = {cli_model_opts, opts, cli_preprocess_opts, NULL};

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
        cli_error("--pixel expects a grey level 0..255, 'mean' or 'blur', got '%s'", s);
        return false;
    }
    *kind = FILL_GREY;
    *grey = v;
    return true;
}

/* Case-insensitive equality of s with t[0..n). */
static bool same_ci(const char *s, const char *t, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (tolower((unsigned char)s[k]) != tolower((unsigned char)t[k]))
            return false;
    return true;
}

/* Edit distance between a and b[0..n), ignoring case; stops counting at 9. */
static int edit_distance(const char *a, const char *b, size_t n)
{
    size_t m = strlen(a);
    if (m > 63 || n > 63)
        return 9;
    int row[64];
    for (size_t j = 0; j <= n; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= m; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int up = row[j];
            int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[n] < 9 ? row[n] : 9;
}

/* How well `name` fits the synonym s[0..n): 0 a whole word of it, 1 a
 * prefix, 2 a substring, 3 + d within edit distance d <= 2; -1 not at all. */
static int fit_score(const char *name, const char *s, size_t n)
{
    size_t len = strlen(name);
    int best = -1;
    for (size_t k = 0; k + len <= n; k++) {
        bool eq = true;
        for (size_t j = 0; j < len && eq; j++)
            eq = tolower((unsigned char)s[k + j]) == tolower((unsigned char)name[j]);
        if (!eq)
            continue;
        bool word = (k == 0 || s[k - 1] == ' ' || s[k - 1] == '-') &&
                    (k + len == n || s[k + len] == ' ' || s[k + len] == '-');
        int sc = word ? 0 : k == 0 ? 1 : 2;
        if (best < 0 || sc < best)
            best = sc;
    }
    if (best >= 0)
        return best;
    int d = edit_distance(name, s, n);
    return d <= 2 ? 3 + d : -1;
}

/* A class name matches a label when it equals the label or one of its
 * comma-separated synonyms ("tabby, tabby cat"), ignoring case. */
static int find_class(const char *name, char **labels, int n_labels)
{
    for (int k = 0; k < n_labels; k++) {
        const char *s = labels[k];
        if (same_ci(name, s, strlen(s)))
            return k;
        while (*s) {
            while (*s == ' ' || *s == ',')
                s++;
            size_t len = strcspn(s, ",");
            while (len && s[len - 1] == ' ')
                len--;
            if (len && same_ci(name, s, len))
                return k;
            s += strcspn(s, ",");
        }
    }
    return -1;
}

/* --class as an index (>= 0), -1 when absent, -2 after an error. */
static int resolve_class(const char *spec, char **labels, int n_labels)
{
    if (!spec)
        return -1;
    char *end;
    errno = 0;
    long k = strtol(spec, &end, 10);
    if (!errno && end != spec && !*end) {
        if (k < 0 || k > 1000000) {
            cli_error("--class %ld is out of range", k);
            return -2;
        }
        return (int)k;
    }
    if (!labels) {
        cli_error("--class '%s' is a name, but the model has no class names (pass --labels FILE or an index)", spec);
        return -2;
    }
    int found = find_class(spec, labels, n_labels);
    if (found >= 0)
        return found;
    /* Suggest the five best fits over every label's synonyms. */
    int best[5], best_score[5], shown = 0;
    for (int j = 0; j < n_labels; j++) {
        int score = -1;
        for (const char *p = labels[j]; *p;) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t len = strcspn(p, ",");
            while (len && p[len - 1] == ' ')
                len--;
            int sc = len ? fit_score(spec, p, len) : -1;
            if (sc >= 0 && (score < 0 || sc < score))
                score = sc;
            p += strcspn(p, ",");
        }
        if (score < 0 || (shown == 5 && score >= best_score[4]))
            continue;
        int at = shown < 5 ? shown++ : 4;
        while (at > 0 && best_score[at - 1] > score) {
            best[at] = best[at - 1];
            best_score[at] = best_score[at - 1];
            at--;
        }
        best[at] = j;
        best_score[at] = score;
    }
    char hint[1024] = "";
    size_t used = 0;
    for (int k = 0; k < shown && used < sizeof hint; k++)
        used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%d '%s'", k ? ", " : "", best[k], labels[best[k]]);
    if (shown)
        cli_error("--class: unknown class name '%s'; did you mean %s?", spec, hint);
    else
        cli_error("--class: unknown class name '%s' (no class name is close; see --labels or pass an index)", spec);
    return -2;
}

/* Class k's name, printable (escaped: it came from a file); the result
 * lasts until the call after next. */
static const char *label_of(char **labels, int n_labels, int k)
{
    static char printable[2][256];
    static int turn;
    turn ^= 1;
    return cli_printable(labels && k >= 0 && k < n_labels ? labels[k] : "-", printable[turn], sizeof printable[turn]);
}

/* Write text atomically (cv_file_write: an exclusive temporary file beside
 * the target, renamed), so a file or symlink planted at a guessable
 * temporary name is never written. */
static bool write_csv(const char *path, const double *map, int rows, int cols)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        cli_error("out of memory");
        return false;
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            fprintf(f, "%.9g%c", map[(size_t)i * cols + j], j + 1 < cols ? ',' : '\n');
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

/* A white band above img with text centred in it, at font scale 2 when
 * that fits the width (the maps are about 400 pixels wide). */
static cv_status add_caption(const cv_image *img, const char *text, cv_image *out, cv_error *err)
{
    int s = cv_render_text_width(text, 2) + 16 <= img->w ? 2 : 1;
    int tw = cv_render_text_width(text, s), band = CV_FONT_LINE * s + 12;
    int W = img->w > tw + 16 ? img->w : tw + 16;
    cv_status st = cv_image_alloc(out, W, img->h + band, 3, err);
    if (st != CV_OK)
        return st;
    const uint8_t white[3] = {255, 255, 255}, black[3] = {0, 0, 0};
    cv_render_fill_rect(out, 0, 0, W, out->h, white);
    int ox = (W - img->w) / 2;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            for (int c = 0; c < 3; c++)
                out->px[((size_t)(y + band) * W + ox + x) * 3 + c] =
                    img->px[((size_t)y * img->w + x) * img->c + (img->c >= 3 ? c : 0)];
    cv_render_text(out, (W - tw) / 2, 8, text, s, black);
    return CV_OK;
}

/* Save a picture, with a caption band above it when caption is given. */
static bool save_picture(const cv_image *img, const char *caption, const char *dir, const char *name)
{
    cv_error err;
    cv_image captioned = {0};
    const cv_image *out = img;
    if (caption) {
        if (add_caption(img, caption, &captioned, &err) != CV_OK)
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

/* Frame k: the resized image with window k filled with prob*255 grey and
 * the probability written in it, as the original tool's video frames. */
static void draw_frame(cv_image *f, const cv_image *sized, int y0, int x0, int occ, double prob)
{
    memcpy(f->px, sized->px, (size_t)sized->w * sized->h * 3);
    int v = (int)lround(prob * 255.0);
    uint8_t grey[3] = {(uint8_t)v, (uint8_t)v, (uint8_t)v};
    int h = y0 + occ < sized->h ? occ : sized->h - y0, w = x0 + occ < sized->w ? occ : sized->w - x0;
    cv_render_fill_rect(f, x0, y0, w, h, grey);
    char text[32];
    snprintf(text, sizeof text, "%.4f", prob);
    int scale = w >= 2 * cv_render_text_width(text, 1) + 4 ? 2 : 1;
    int tw = cv_render_text_width(text, scale), th = CV_FONT_HEIGHT * scale;
    uint8_t ink[3] = {0, 0, 0};
    if (v < 128)
        ink[0] = ink[1] = ink[2] = 255;
    cv_render_text(f, x0 + (w - tw) / 2, y0 + (h - th) / 2, text, scale, ink);
}

/* Frames of small inputs (CIFAR's 32 x 32) are enlarged by a whole factor,
 * nearest neighbour, to about 224 pixels so the numbers fit and read. */
static cv_status enlarge(const cv_image *in, int factor, cv_image *out, cv_error *err)
{
    cv_status st = cv_image_alloc(out, in->w * factor, in->h * factor, 3, err);
    if (st != CV_OK)
        return st;
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < 3; c++)
                out->px[((size_t)y * out->w + x) * 3 + c] =
                    in->px[((size_t)(y / factor) * in->w + x / factor) * in->c + (in->c >= 3 ? c : 0)];
    return CV_OK;
}

static bool write_frames(const char *dir, const cv_image *sized_in, const double *map, int rows, int cols, int occ,
                         int stride)
{
    char fdir[4096], path[4200];
    cli_path(fdir, sizeof fdir, dir, "frames");
    if (!cli_make_dir(fdir))
        return false;
    cv_error err;
    cv_image f = {0}, big = {0};
    cv_gif *gif = NULL;
    bool ok = false;
    int side = sized_in->w > sized_in->h ? sized_in->w : sized_in->h;
    int factor = side >= 224 ? 1 : (224 + side - 1) / side;
    if (enlarge(sized_in, factor, &big, &err) != CV_OK || cv_image_alloc(&f, big.w, big.h, 3, &err) != CV_OK) {
        cv_image_free(&big);
        return cli_fail(&err), false;
    }
    const cv_image *sized = &big;
    occ *= factor;
    stride *= factor;
    /* Palette from a frame with a mid-grey window: the photo's colours plus greys. */
    draw_frame(&f, sized, 0, 0, occ, 0.5);
    if (cv_gif_begin(&gif, cli_path(path, sizeof path, dir, "frames.gif"), f.w, f.h, &f, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    cli_progress pr;
    cli_progress_start(&pr, "frames", (long)rows * cols);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            long k = (long)i * cols + j;
            draw_frame(&f, sized, i * stride, j * stride, occ, map[k]);
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
    cv_image_free(&big);
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

/* ---- the command --------------------------------------------------------------- */

static int run(const cli_args *a)
{
    long occ, stride, norm, batch, size_opt;
    double percentile, grey = 0;
    fill_kind fill = FILL_GREY;
    cv_cmap cmap;
    cv_error err;
    const char *img_path = cli_require(a, "img");
    if (!img_path || !cli_int(a, "occ_size", 1, 4096, &occ) || !cli_int(a, "stride", 1, 4096, &stride) ||
        !cli_int(a, "norm", 0, 1, &norm) || !cli_float(a, "percentile", 0, 100, &percentile) ||
        !cli_int(a, "batch", 0, 4096, &batch) || !cli_int(a, "size", 8, 4096, &size_opt) ||
        !parse_pixel(cli_str(a, "pixel"), &fill, &grey))
        return 2;
    if (cv_cmap_from_name(&cmap, cli_str(a, "cmap"), &err) != CV_OK)
        return cli_fail(&err), 2;
    bool approx = cli_flag(a, "approx"), compare = cli_flag(a, "compare-exact");
    double tau, drill;
    long coarse;
    if (!cli_float(a, "tau", 0, 1, &tau) || !cli_float(a, "drill", 0, 1, &drill) ||
        !cli_int(a, "coarse", 1, 4096, &coarse))
        return 2;
    if (!(tau > 0))
        return cli_error("--tau must be in (0, 1], got %g", tau), 2;
    if (!(drill > 0))
        return cli_error("--drill must be in (0, 1], got %g", drill), 2;
    if (!approx && (cli_given(a, "tau") || cli_given(a, "drill") || cli_given(a, "coarse") || compare))
        return cli_error("--tau, --coarse, --drill and --compare-exact tune approximate mode: add --approx"), 2;
    if (cli_flag(a, "exact-full") && (approx || (cli_given(a, "engine") && strcmp(cli_str(a, "engine"), "full"))))
        return cli_error("--exact-full asks for the exact map by full inference; it does not go with --approx or "
                         "--engine %s", cli_str(a, "engine")), 2;
    const char *engine_name = cli_flag(a, "exact-full") ? "full" : cli_str(a, "engine");
    cv_occlusion_engine engine = strcmp(engine_name, "full") == 0          ? CV_OCCLUSION_ENGINE_FULL
                                 : strcmp(engine_name, "incremental") == 0 ? CV_OCCLUSION_ENGINE_INCREMENTAL
                                                                           : CV_OCCLUSION_ENGINE_AUTO;
    if (engine == CV_OCCLUSION_ENGINE_AUTO && strcmp(engine_name, "auto") != 0)
        return cli_error("--engine must be auto, full or incremental, got '%s'", engine_name), 2;
    if (cli_given(a, "size") && occ > size_opt)
        return cli_error("--occ_size %ld is larger than --size %ld", occ, size_opt), 2;
    cli_outset set;
    if (!cli_outset_begin(&set, cli_str(a, "out"), "occlusion"))
        return 1;
    const char *dir = set.stage; /* moved to --out, complete, at the end */

    cv_model *m = NULL;
    cv_occlusion *o = NULL;
    float *x = NULL, *fill_img = NULL, *mapf = NULL, *regf = NULL, *drop = NULL;
    double *map = NULL, *reg = NULL, *top_d = NULL, *exact = NULL;
    int *top = NULL;
    cv_labels label_set = {0};
    int status = 1;
    cv_image original = {0}, sized = {0}, pic = {0}, proj = {0};
    cli_input_geom g;
    cv_preprocess pre;
    if (!cli_load_model(a, &m) || !cli_input_geometry(a, m, "size", &g) || !cli_preprocess(a, m, &pre))
        goto out;
    cv_occlusion_geometry og = {g.channels, g.height, g.width, g.nhwc};
    int rows, cols;
    if (cv_occlusion_grid_size(&og, (int)occ, (int)stride, &rows, &cols, &err) != CV_OK) {
        cli_error("--occ_size %ld does not fit the model's %d x %d input%s", occ, g.height, g.width,
                  occ > g.height || occ > g.width ? " (use a smaller --occ_size)" : "");
        goto out;
    }
    if (!cli_labels(a, m, &label_set))
        goto out;
    char **labels = label_set.names;
    int n_labels = label_set.n;
    int target = resolve_class(cli_str(a, "class"), labels, n_labels);
    if (target == -2)
        goto out;
    if (!(x = cli_image_input(a, m, img_path, &g, &pre, &original)))
        goto out;
    /* The picture the model saw, for the projection and the frames. */
    const char *resize_mode = cli_str(a, "resize");
    cv_status rs = resize_mode && strcmp(resize_mode, "bilinear") == 0
                       ? cv_image_resize(&sized, &original, g.width, g.height, &err)
                       : cv_image_resize_antialias(&sized, &original, g.width, g.height, &err);
    if (rs != CV_OK) {
        cli_fail(&err);
        goto out;
    }

    cv_occlusion_params p = cv_occlusion_defaults();
    p.occ_size = (int)occ;
    p.stride = (int)stride;
    p.batch = (int)batch;
    if (!cli_max_memory(a, &p.max_memory)) /* also bounds the automatic batch */
        goto out;
    p.engine = engine;
    p.approx.enabled = approx;
    p.approx.tau = tau;
    p.approx.coarse_factor = (int)coarse;
    p.approx.drill_fraction = drill;
    char fill_desc[64];
    if (fill == FILL_GREY) {
        for (int c = 0; c < g.channels; c++)
            p.fill_value[c] = cv_preprocess_value(&pre, (float)grey, c);
        snprintf(fill_desc, sizeof fill_desc, "grey %g", grey);
    } else if (fill == FILL_MEAN) {
        cv_occlusion_fill_mean(p.fill_value, x, &og);
        snprintf(fill_desc, sizeof fill_desc, "the image's mean colour");
    } else {
        size_t n = (size_t)g.channels * g.height * g.width;
        double sigma = occ / 4.0;
        if (!(fill_img = malloc(n * sizeof(float)))) {
            cli_error("out of memory");
            goto out;
        }
        if (cv_occlusion_fill_blur(fill_img, x, &og, sigma, &err) != CV_OK) {
            cli_fail(&err);
            goto out;
        }
        p.fill = fill_img;
        snprintf(fill_desc, sizeof fill_desc, "the image blurred (Gaussian, sigma %.4g px)", sigma);
    }
    cli_progress pr;
    p.progress = on_progress;
    p.user = &pr;
    double t_create = cli_now();
    if (cv_occlusion_create(&o, m, x, &og, &p, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    t_create = cli_now() - t_create;
    if (approx && tau < 1 && strcmp(cv_occlusion_engine_name(o), "full") == 0)
        cli_note("--tau %g needs the incremental engine; with full inference only the drill-down (--coarse %ld, "
                 "--drill %g) approximates", tau, coarse, drill);
    int n_classes;
    const float *probs = cv_occlusion_base_probs(o, &n_classes);
    if (labels && n_labels != n_classes)
        cli_note("%d class names for %d outputs", n_labels, n_classes);
    if (target >= n_classes) {
        cli_error("--class %d is out of range: the model has %d classes (0..%d)", target, n_classes, n_classes - 1);
        goto out;
    }
    printf("%s: top 5 of %d classes%s\n", img_path, n_classes,
           cv_occlusion_softmax_applied(o) ? " (softmax of the model's outputs)" : "");
    int top5[5] = {0};
    for (int k = 0; k < 5 && k < n_classes; k++) {
        int best = -1;
        for (int c = 0; c < n_classes; c++) {
            bool taken = false;
            for (int j = 0; j < k; j++)
                taken = taken || top5[j] == c;
            if (!taken && (best < 0 || probs[c] > probs[best]))
                best = c;
        }
        top5[k] = best;
        printf("%3d. %-32s %5d  %.4f\n", k + 1, label_of(labels, n_labels, best), best, probs[best]);
    }
    if (target < 0)
        target = top5[0];
    const char *tname = label_of(labels, n_labels, target);
    printf("target: class %d (%s), p = %.4f unoccluded\n", target, tname, probs[target]);
    long total = (long)rows * cols;
    printf("occluding: %d x %d = %ld positions, %ld px square, stride %ld, filled with %s; batch %d, engine %s",
           rows, cols, total, occ, stride, fill_desc, cv_occlusion_batch(o), cv_occlusion_engine_name(o));
    if (cv_occlusion_engine_speedup(o) != 1.0)
        printf(" (%.1fx fewer multiply-adds)", cv_occlusion_engine_speedup(o));
    printf("\n");
    fflush(stdout);

    size_t cells = (size_t)total;
    map = malloc(cells * sizeof(double));
    reg = malloc(cells * sizeof(double));
    top = malloc(cells * sizeof(int));
    if (!map || !reg || !top) {
        cli_error("out of memory");
        goto out;
    }
    cli_progress_start(&pr, "occlusion", total);
    double t0 = cli_now();
    cv_status st = cv_occlusion_run(o, target, map, top, NULL, &err);
    double elapsed = cli_now() - t0;
    if (st != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    cli_progress_end(&pr);
    double lo = map[0], hi = map[0];
    for (size_t k = 1; k < cells; k++) {
        lo = fmin(lo, map[k]);
        hi = fmax(hi, map[k]);
    }
    cv_occlusion_stats stats = cv_occlusion_last_stats(o);
    printf("done: %s%ld positions in %.2f s, %.2f ms per position; p(%s) from %.4f to %.4f\n",
           stats.approximate ? "APPROXIMATE map, " : "", total, elapsed, 1e3 * elapsed / (double)total, tname, lo, hi);
    double macs_approx = cv_occlusion_engine_speedup(o) * (double)total / (double)stats.evaluated;
    if (approx)
        printf("approximate: %ld of %ld positions evaluated (%ld at stride %ld, %ld more at stride %ld in the most "
               "sensitive %.0f%% of the map), tau %g; %.1fx fewer multiply-adds than full inference\n",
               stats.evaluated, total, stats.coarse ? stats.coarse : stats.evaluated,
               stats.coarse ? stride * coarse : stride, stats.evaluated - (stats.coarse ? stats.coarse : stats.evaluated),
               stride, 100.0 * (double)stats.drilled / (double)total, stats.tau, macs_approx);
    if (compare) {
        double macs_exact = 1;
        if (!(exact = malloc(cells * sizeof(double)))) {
            cli_error("out of memory");
            goto out;
        }
        double t_exact = exact_map(m, x, &og, &p, target, exact, &macs_exact);
        if (t_exact < 0)
            goto out;
        cv_occlusion_map_error me;
        if (cv_occlusion_compare(map, exact, rows, cols, &me, &err) != CV_OK) {
            cli_fail(&err);
            goto out;
        }
        double t_approx = t_create + elapsed;
        printf("approximate vs exact: MAE %.4g, max abs %.4g, SSIM %.4f, speed-up %.2fx (approx %.2f s, exact %.2f s, "
               "planning included); %.1fx fewer multiply-adds than the exact %s map\n",
               me.mae, me.max_abs, me.ssim, t_exact / t_approx, t_approx, t_exact, macs_approx / macs_exact,
               cv_occlusion_engine_name(o));
    }

    /* ---- outputs, only now that the map is complete ---- */
    if (cv_occlusion_regularize(reg, map, rows, cols, (int)norm, percentile, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    char path[4096], caption[512];
    cv_shape ms = {2, {rows, cols}};
    if (cv_npy_write_f64(cli_path(path, sizeof path, dir, "probs.npy"), &ms, map, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    if (!write_csv(cli_path(path, sizeof path, dir, "probs.csv"), map, rows, cols))
        goto out;

    mapf = to_float(map, cells);
    regf = to_float(reg, cells);
    drop = malloc((size_t)g.height * g.width * sizeof(float));
    if (!mapf || !regf || !drop) {
        cli_error("out of memory");
        goto out;
    }
    if (cv_render_heatmap(mapf, rows, cols, 0, 0, cmap, 0, &pic, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    snprintf(caption, sizeof caption, "p(%.*s) under a %ld px occluder%s", (int)strcspn(tname, ","), tname, occ,
             stats.approximate ? " (approximate)" : "");
    if (!save_picture(&pic, caption, dir, "heatmap.png"))
        goto out;
    cv_image_free(&pic);
    if (cv_render_heatmap(regf, rows, cols, 0, 0, cmap, 0, &pic, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    snprintf(caption, sizeof caption, "regularised (%sp%g, blur 3x3)", norm ? "norm, " : "", percentile);
    if (!save_picture(&pic, caption, dir, "heatmap_reg.png"))
        goto out;
    cv_image_free(&pic);

    /* The original's projection: at the model's size, then back to the photo's. */
    if (cv_render_overlay_multiply(&sized, regf, rows, cols, &proj, &err) != CV_OK ||
        cv_image_resize(&pic, &proj, original.w, original.h, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    if (!save_picture(&pic, NULL, dir, "overlay.png"))
        goto out;
    cv_image_free(&pic);
    /* The probability drop over the photo, interpolated between window
     * centres so it sits where the windows were: where hiding hurts most. */
    if (cv_occlusion_pixel_map(drop, map, &og, (int)occ, (int)stride, 1, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    for (size_t k = 0; k < (size_t)g.height * g.width; k++)
        drop[k] = probs[target] - drop[k];
    if (cv_render_overlay_alpha(&original, drop, g.height, g.width, 0, 0, cmap, 0.6f, &pic, &err) != CV_OK) {
        cli_fail(&err);
        goto out;
    }
    if (!save_picture(&pic, NULL, dir, "overlay_alpha.png"))
        goto out;
    cv_image_free(&pic);

    if (cli_flag(a, "all-classes")) {
        if (!(top_d = malloc(cells * sizeof(double)))) {
            cli_error("out of memory");
            goto out;
        }
        for (size_t k = 0; k < cells; k++)
            top_d[k] = top[k];
        if (cv_npy_write_f64(cli_path(path, sizeof path, dir, "all_classes.npy"), &ms, top_d, &err) != CV_OK) {
            cli_fail(&err);
            goto out;
        }
        if (cv_render_labels(top, rows, cols, (const char *const *)labels, n_labels, 0, &pic, &err) != CV_OK) {
            cli_fail(&err);
            goto out;
        }
        if (!save_picture(&pic, "top class under the occluder", dir, "all_classes.png"))
            goto out;
        cv_image_free(&pic);
    }
    if (cli_flag(a, "frames") && !write_frames(dir, &sized, map, rows, cols, (int)occ, (int)stride))
        goto out;
    if (!cli_outset_commit(&set))
        goto out;
    printf("wrote %s/: %s\n", set.final, set.summary);
    status = 0;
out:
    cli_outset_abort(&set);
    cv_image_free(&pic);
    cv_image_free(&proj);
    cv_image_free(&sized);
    cv_image_free(&original);
    cv_labels_free(&label_set);
    free(x);
    free(fill_img);
    free(map);
    free(exact);
    free(reg);
    free(top);
    free(top_d);
    free(mapf);
    free(regf);
    free(drop);
    cv_occlusion_free(o);
    cv_model_free(m);
    return status;
}

const cli_cmd cli_cmd_occlusion = {
    "occlusion", "occlusion sensitivity: where hiding the image lowers the class probability",
    "Slides a square occluder over the resized image and records the target class's probability at each "
    "position: rows = ceil((size - occ_size) / stride) + 1 positions per side, windows clipped at the border. "
    "Writes to --out: probs.npy (float64) and probs.csv, heatmap.png, heatmap_reg.png (the original tool's "
    "regularised map), overlay.png (that map multiplied into the photo) and overlay_alpha.png (the probability "
    "drop over the photo). Positions run in batches; the incremental engine recomputes only what each occluder "
    "can reach, with the same values. With --approx the map is APPROXIMATE (faster; its error against the exact "
    "map is what --compare-exact prints), and the files hold that approximate map.",
    groups, run,
};
