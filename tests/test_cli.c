/* The cnnviz tool end to end: each command run as a user runs it (the
 * built BUILD/cnnviz beside BUILD/tests), its files read back and checked
 * against PyTorch fixtures or the library, and bad flags refused with a
 * message before anything is written. The library behind each command is
 * tested in its own program (test_occlusion, test_occlusion_approx,
 * test_filters); the output folder's guarantees in test_cli_outputs. */
#include "lib/test.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char cli_exe[512];

static bool exists(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}


/* A 2-D float32 .npy as doubles; NULL after a message. */
static double *read_f64_map(const char *path, int *rows, int *cols)
{
    cv_shape s;
    float *f;
    cv_error err;
    if (cv_npy_read(path, &s, &f, &err) != CV_OK || s.ndim != 2) {
        fprintf(stderr, "    %s\n", s.ndim != 2 ? "not a 2-D array" : err.msg);
        return NULL;
    }
    *rows = (int)s.d[0];
    *cols = (int)s.d[1];
    size_t n = cv_shape_numel(&s);
    double *d = malloc(n * sizeof(double));
    for (size_t k = 0; d && k < n; k++)
        d[k] = f[k];
    free(f);
    return d;
}

/* ---- cnnviz occlusion ------------------------------------------------------------ */

/* `cnnviz occlusion` on the PyTorch fixture: the map it saves equals
 * PyTorch's, every picture is written; bad input fails before any output. */
static void test_occlusion_cli(void)
{
    if (access(cli_exe, X_OK) != 0)
        SKIP("%.200s is not built", cli_exe);
    char dir[256], out[300], img_path[300];
    snprintf(dir, sizeof dir, "/tmp/cnnviz_test_occlusion_%ld", (long)getpid());
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(img_path, sizeof img_path, "%s/in.png", dir);
    sh("rm -rf '%s' && mkdir -p '%s'", dir, dir);
    /* The fixture's input back to pixels: x = (p / 255 - 0.5) / 0.25. */
    cv_shape xs;
    float *x;
    cv_error err;
    REQUIRE(cv_npy_read("tests/fixtures/occlusion/input.npy", &xs, &x, &err) == CV_OK, "%s", err.msg);
    cv_image img;
    REQUIRE(cv_image_alloc(&img, 24, 24, 3, &err) == CV_OK, "%s", err.msg);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 24 * 24; k++)
            img.px[k * 3 + c] = (uint8_t)lround((x[c * 576 + k] * 0.25 + 0.5) * 255);
    free(x);
    REQUIRE(cv_image_save_png(&img, img_path, &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);
    const char *model = "tests/fixtures/occlusion/tiny_cnn.onnx";
    const char *common = "--preprocess unit --mean 0.5 --std 0.25 --size 24";
    int rc = sh("%s occlusion --model %s --img %s %s --occ_size 7 --stride 3 --batch 5 --all-classes --out %s"
                " > %s/log 2>&1", cli_exe, model, img_path, common, out, dir);
    REQUIRE(rc == 0, "cnnviz exited with %d (see %s/log)", rc, dir);
    const char *files[] = {"probs.npy", "probs.csv", "heatmap.png", "heatmap_reg.png", "overlay.png",
                           "overlay_alpha.png", "all_classes.png", "all_classes.npy"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
        CHECK(exists(out, files[k]), "%s/%s missing", out, files[k]);
    char path[400];
    snprintf(path, sizeof path, "%s/probs.npy", out);
    cv_shape ms;
    float *got;
    int rows, cols;
    double *want = read_f64_map("tests/fixtures/occlusion/map.npy", &rows, &cols);
    REQUIRE(want && cv_npy_read(path, &ms, &got, &err) == CV_OK, "%s", err.msg);
    REQUIRE(ms.ndim == 2 && ms.d[0] == rows && ms.d[1] == cols, "probs.npy shape");
    double d = 0;
    for (int k = 0; k < rows * cols; k++)
        d = fmax(d, fabs(got[k] - want[k]));
    printf("    cnnviz occlusion on the fixture: probs.npy vs PyTorch max abs diff %.3g\n", d);
    CHECK(d <= 1e-5, "probs.npy differs by %g", d);
    free(got);
    free(want);
    /* overlay.png is the input times the regularised map spread over the
     * pixels where its windows are (cv_occlusion_pixel_map, smooth): so
     * overlay / input, where the input is bright enough to divide, follows
     * that map to within the PNG's rounding */
    {
        double *map = read_f64_map(path, &rows, &cols); /* probs.npy */
        double *reg = malloc(sizeof(double) * (size_t)(rows * cols));
        float *pix = malloc(sizeof(float) * 24 * 24);
        cv_occlusion_geometry og = {3, 24, 24, 0};
        REQUIRE(map && reg && pix, "out of memory or no probs.npy");
        REQUIRE(cv_occlusion_regularize(reg, map, rows, cols, 1, 25, &err) == CV_OK &&
                    cv_occlusion_pixel_map(pix, reg, &og, 7, 3, 1, &err) == CV_OK,
                "%s", err.msg);
        cv_image ov, in;
        char ov_path[400];
        snprintf(ov_path, sizeof ov_path, "%s/overlay.png", out);
        REQUIRE(cv_image_load(&ov, ov_path, &err) == CV_OK && cv_image_load(&in, img_path, &err) == CV_OK, "%s",
                err.msg);
        /* shown enlarged by a whole factor (19: 24 -> 456 >= 448 px), nearest
         * neighbour, under its caption band */
        const int f = 19, band = ov.h - 24 * f;
        REQUIRE(ov.w == 24 * f && band > 0 && in.w == 24 && in.h == 24, "overlay %dx%d", ov.w, ov.h);
        double worst = 0;
        for (int k = 0; k < 24 * 24 * 3; k++)
            if (in.px[k] >= 64) {
                double v = pix[k / 3] < 0 ? 0 : pix[k / 3] > 1 ? 1 : pix[k / 3];
                int x = k / 3 % 24 * f + f / 2, y = band + k / 3 / 24 * f + f / 2;
                worst = fmax(worst, fabs(ov.px[((size_t)y * ov.w + x) * 3 + k % 3] - v * in.px[k]));
            }
        printf("    overlay.png against input x pixel map: largest difference %.2f levels (tol 1.5)\n", worst);
        CHECK(worst <= 1.5, "overlay.png is not the input times the pixel map: %.2f levels off", worst);
        cv_image_free(&ov);
        cv_image_free(&in);
        free(map);
        free(reg);
        free(pix);
    }
    /* probs.csv: a header of window left edges (24 px, occluder 7, stride
     * 3: 0, 3, ..., 18, the last window clipped at the border), then each
     * row led by its window top edge */
    snprintf(path, sizeof path, "%s/probs.csv", out);
    char csv[256];
    test_slurp(path, csv, sizeof csv);
    printf("    probs.csv begins: %.40s...\n", csv);
    CHECK(strncmp(csv, "y0\\x0,0,3,6,9,12,15,18\n", 23) == 0, "probs.csv header: %.40s", csv);
    char *second = strchr(csv, '\n');
    CHECK(second && strncmp(second + 1, "0,", 2) == 0, "probs.csv first row does not start with y0 = 0");

    /* Bad input: a clear message, non-zero exit, nothing written. */
    const struct {
        const char *args, *expect;
    } bad[] = {
        {"--occ_size 25", "larger than --size"},
        {"--occ_size 7 --stride 0", "--stride"},
        {"--occ_size 7 --stride -2", "--stride"},
        {"--occ_size 7 --class 10", "out of range"},
        {"--occ_size 7 --class tench", "no class names"},
        {"--occ_size 7 --pixel 300", "--pixel"},
        {"--occ_size 7 --cmap hot", "hot"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        rc = sh("%s occlusion --model %s --img %s %s %s --out %s/bad > %s/err 2>&1", cli_exe, model, img_path,
                common, bad[k].args, dir, dir);
        char msg[512] = "";
        snprintf(path, sizeof path, "%s/err", dir);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(msg, 1, sizeof msg - 1, f);
            msg[n] = 0;
            fclose(f);
        }
        msg[strcspn(msg, "\n")] = 0;
        printf("    %-26s -> exit %d: %s\n", bad[k].args, rc, msg);
        snprintf(path, sizeof path, "%s/bad", dir);
        CHECK(rc != 0 && strstr(msg, bad[k].expect) && !exists(path, "probs.npy"), "%s: exit %d, '%s'",
              bad[k].args, rc, msg);
    }
    rc = sh("%s occlusion --model %s --img %s/none.png %s --occ_size 7 --out %s/bad > /dev/null 2>&1", cli_exe, model, dir,
            common, dir);
    CHECK(rc != 0, "a missing image gave exit 0");
    rc = sh("%s occlusion --model %s --img %s %s --occ_size 7 --out /proc/cnnviz/out > /dev/null 2>&1", cli_exe, model,
            img_path, common);
    CHECK(rc != 0, "an unwritable --out gave exit 0");

    /* --class by name through a labels file: a synonym in any case picks
     * its class; a typo fails with the closest name suggested. */
    snprintf(path, sizeof path, "%s/labels.txt", dir);
    FILE *lf = fopen(path, "w");
    REQUIRE(lf, "cannot write %s", path);
    for (int k = 0; k < 10; k++)
        fprintf(lf, "%d,class %d, synonym %c\n", k, k, 'a' + k);
    fclose(lf);
    rc = sh("%s occlusion --model %s --img %s %s --occ_size 7 --stride 3 --labels %s --class 'Synonym D' --out %s/named"
            " > %s/log 2>&1 && grep -q 'target: class 3 (class 3, synonym d)' %s/log", cli_exe, model, img_path,
            common, path, dir, dir, dir);
    CHECK(rc == 0, "--class 'Synonym D' did not pick class 3 (see %s/log)", dir);
    rc = sh("%s occlusion --model %s --img %s %s --occ_size 7 --labels %s --class 'synonim d' --out %s/named2"
            " > %s/log 2>&1", cli_exe, model, img_path, common, path, dir, dir);
    CHECK(rc != 0 && sh("grep -q \"did you mean 3 'class 3, synonym d'\" %s/log", dir) == 0,
          "a typo: exit %d, no suggestion (see %s/log)", rc, dir);
    sh("rm -rf '%s'", dir);
}


/* overlay_alpha.png sits on the photo where the model looks: the fixture
 * model's class 0 sums a known square (rows 6..15, columns 8..17 of 24 x
 * 24; tests/fixtures/make_square_model.py), so with --score logit the
 * overlay must be tinted red over the square and clear (the photo's own
 * pixels, enlarged 19x) wherever no window reaches it. */
static void test_overlay_on_known_square(void)
{
    if (access(cli_exe, X_OK) != 0)
        SKIP("%.200s is not built", cli_exe);
    char dir[128], path[300];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "square"), "cannot make a scratch directory");
    cv_image img, ov;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 24, 24, 3, &err) == CV_OK, "%s", err.msg);
    for (int k = 0; k < 24 * 24 * 3; k++) /* a grey ramp, the square bright */
        img.px[k] = (uint8_t)(k / 72 >= 6 && k / 72 < 16 && k / 3 % 24 >= 8 && k / 3 % 24 < 18 ? 230 : 60 + 4 * (k / 72));
    snprintf(path, sizeof path, "%s/in.png", dir);
    REQUIRE(cv_image_save_png(&img, path, &err) == CV_OK, "%s", err.msg);
    int rc = sh("%s occlusion --model tests/fixtures/occlusion/square_model.onnx --img %s --preprocess unit "
                "--size 24 --occ_size 3 --stride 1 --score logit --pixel 0 --quiet --out %s/out > %s/log 2>&1",
                cli_exe, path, dir, dir);
    REQUIRE(rc == 0, "cnnviz occlusion exited with %d (see %s/log)", rc, dir);
    snprintf(path, sizeof path, "%s/out/overlay_alpha.png", dir);
    REQUIRE(cv_image_load(&ov, path, &err) == CV_OK, "%s", err.msg);
    const int f = 19, band = ov.h - 24 * f;
    REQUIRE(band > 0 && ov.w > 24 * f, "overlay_alpha.png is %d x %d: no caption band or colour bar", ov.w, ov.h);
    /* input pixel (x, y) at the middle of its 19 x 19 block */
    int tinted_in = 0, clear_out = 0, n_in = 0, n_out = 0;
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 24; x++) {
            const uint8_t *o = ov.px + ((size_t)(band + y * f + f / 2) * ov.w + x * f + f / 2) * 3;
            const uint8_t *p = img.px + ((size_t)y * 24 + x) * 3;
            bool in_square = y >= 7 && y < 15 && x >= 9 && x < 17;      /* inside by a pixel */
            bool far = y < 5 || y >= 17 || x < 7 || x >= 19; /* no 3 px window centred here reaches the square */
            n_in += in_square, n_out += far;
            /* the photo is grey: a tint shows as red above blue */
            tinted_in += in_square && o[0] > o[2] + 40 && p[0] == p[2];
            clear_out += far && o[0] == p[0] && o[1] == p[1] && o[2] == p[2];
        }
    printf("    overlay on a known square: %d of %d square pixels tinted red, %d of %d far pixels clear\n", tinted_in,
           n_in, clear_out, n_out);
    bool ok = tinted_in == n_in && clear_out == n_out;
    CHECK(ok, "the overlay is not where the square is (see %s)", path);
    cv_image_free(&ov);
    cv_image_free(&img);
    if (ok)
        sh("rm -rf '%s'", dir);
}

/* `cnnviz occlusion --approx --compare-exact` on the PyTorch fixture's tiny
 * model; its help; bad combinations fail before any output. */
static void test_occlusion_approx_cli(void)
{
    if (access(cli_exe, X_OK) != 0)
        SKIP("%.200s is not built", cli_exe);
    char dir[128], path[300], log[8192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "approx"), "cannot make a scratch directory");
    /* a 24 x 24 picture with a bright square */
    cv_image img;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 24, 24, 3, &err) == CV_OK, "%s", err.msg);
    for (int k = 0; k < 24 * 24 * 3; k++) {
        int y = k / 72, xx = (k / 3) % 24;
        img.px[k] = (uint8_t)(y >= 6 && y < 16 && xx >= 8 && xx < 18 ? 230 : 40 + 3 * y);
    }
    snprintf(path, sizeof path, "%s/in.png", dir);
    REQUIRE(cv_image_save_png(&img, path, &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);
    const char *model = "tests/fixtures/occlusion/tiny_cnn.onnx";
    const char *common = "--preprocess unit --mean 0.5 --std 0.25 --size 24 --occ_size 5 --stride 1";
    int rc = sh("%s occlusion --model %s --img %s/in.png %s --approx --coarse 3 --drill 0.3 --compare-exact --out %s/out"
                " > %s/log 2>&1",
                cli_exe, model, dir, common, dir, dir);
    snprintf(path, sizeof path, "%s/log", dir);
    test_slurp(path, log, sizeof log);
    char *cmp = strstr(log, "approximate vs exact: MAE");
    printf("    %.*s\n", cmp ? (int)strcspn(cmp, "\n") : 40, cmp ? cmp : log);
    CHECK(rc == 0, "cnnviz exited with %d:\n%s", rc, log);
    CHECK(cmp && strstr(cmp, "SSIM") && strstr(cmp, "speed-up"), "no comparison line:\n%s", log);
    CHECK(strstr(log, "done: APPROXIMATE map"), "the summary line does not say approximate:\n%s", log);
    snprintf(path, sizeof path, "%s/out/probs.npy", dir);
    CHECK(access(path, F_OK) == 0, "%s missing", path);

    /* --exact-full is --engine full */
    rc = sh("%s occlusion --model %s --img %s/in.png %s --exact-full --out %s/full > %s/log 2>&1", cli_exe, model, dir,
            common, dir, dir);
    snprintf(path, sizeof path, "%s/log", dir);
    test_slurp(path, log, sizeof log);
    CHECK(rc == 0 && strstr(log, "engine full") && !strstr(log, "APPROXIMATE"), "--exact-full: exit %d\n%s", rc, log);

    /* help says it is approximate and shows the library's defaults */
    rc = sh("%s occlusion --help > %s/help 2>&1", cli_exe, dir);
    snprintf(path, sizeof path, "%s/help", dir);
    char help[16384];
    test_slurp(path, help, sizeof help);
    cv_occlusion_params d = cv_occlusion_defaults();
    char want[3][64];
    snprintf(want[0], sizeof want[0], "(default: %g)", d.approx.tau);
    snprintf(want[1], sizeof want[1], "(default: %d)", d.approx.coarse_factor);
    snprintf(want[2], sizeof want[2], "(default: %g)", d.approx.drill_fraction);
    const char *opt_names[3] = {"\n  --tau ", "\n  --coarse ", "\n  --drill "};
    for (int k = 0; k < 3; k++) {
        char *at = strstr(help, opt_names[k]);
        CHECK(at && strstr(at, want[k]) && strstr(at, want[k]) - at < 300, "help of %s lacks '%s'", opt_names[k],
              want[k]);
    }
    CHECK(strstr(help, "APPROXIMATE"), "--help does not say the map is approximate");

    const struct {
        const char *args, *expect;
    } bad[] = {
        {"--approx --tau 0", "--tau"},
        {"--approx --tau 1.5", "--tau"},
        {"--approx --drill 0", "--drill"},
        {"--approx --coarse 0", "--coarse"},
        {"--tau 0.5", "--approx"},
        {"--compare-exact", "--approx"},
        {"--approx --exact-full", "--exact-full"},
        {"--exact-full --engine incremental", "--exact-full"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        rc = sh("%s occlusion --model %s --img %s/in.png %s %s --out %s/bad > %s/err 2>&1", cli_exe, model, dir,
                common, bad[k].args, dir, dir);
        snprintf(path, sizeof path, "%s/err", dir);
        char msg[1024];
        test_slurp(path, msg, sizeof msg);
        msg[strcspn(msg, "\n")] = 0;
        printf("    %-36s -> exit %d: %s\n", bad[k].args, rc, msg);
        snprintf(path, sizeof path, "%s/bad/probs.npy", dir);
        CHECK(rc != 0 && strstr(msg, bad[k].expect) && access(path, F_OK) != 0, "%s: exit %d, '%s'", bad[k].args,
              rc, msg);
    }
    sh("rm -rf '%s'", dir);
}


/* ---- cnnviz filters -------------------------------------------------------------- */

/* Run `cnnviz filters ARGS`; returns the exit status, stderr into errbuf. */
static int cli_run(const char *args, char *errbuf, size_t len)
{
    char errfile[] = "/tmp/cnnviz_filters_err_XXXXXX";
    int fd = mkstemp(errfile);
    if (fd < 0)
        return -1;
    close(fd);
    int st = sh("%s filters --model " "tests/fixtures/filters/small_net.onnx %s >/dev/null 2>%s", cli_exe, args, errfile);
    FILE *f = fopen(errfile, "r");
    size_t got = f ? fread(errbuf, 1, len - 1, f) : 0;
    errbuf[got] = 0;
    if (f)
        fclose(f);
    remove(errfile);
    return st;
}

/* `cnnviz filters` on the small fixture net: every output written, the dead
 * filter reported, bad input refused before any output. */
static void test_filters_cli(void)
{
    if (access(cli_exe, X_OK) != 0)
        SKIP("%.200s not built", cli_exe);
    char dir[] = "/tmp/cnnviz_filters_XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    char out[600], args[1024], err[4096];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(args, sizeof args, "--layer /Relu_1 --num_filters 4 --iterations 2 --out %s --tiles --jpeg", out);
    int rc = cli_run(args, err, sizeof err);
    CHECK(rc == 0, "exit %d: %s", rc, err);
    CHECK(exists(out, "grid.png") && exists(out, "grid.jpg") && exists(out, "filters.npy") &&
              exists(out, "filters.txt"), "outputs missing");
    char npy[700];
    snprintf(npy, sizeof npy, "%s/filters.npy", out);
    cv_shape s = {0};
    float *d = NULL;
    cv_error e;
    CHECK(cv_npy_read(npy, &s, &d, &e) == CV_OK && s.ndim == 4 && s.d[0] == 4 && s.d[1] == 16 && s.d[2] == 16 &&
              s.d[3] == 3, "filters.npy shape");
    free(d);
    char txt[700];
    snprintf(txt, sizeof txt, "%s/filters.txt", out);
    FILE *f = fopen(txt, "r");
    int lines = 0, k, ks[8], zero_ok = 0;
    char line[256], status[32];
    double act;
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%d", &k) == 1 && lines < 8) {
            ks[lines++] = k;
            /* a mean activation of 0 is never "ok" (issue 17) */
            if (sscanf(line, "%d %lf %31s", &k, &act, status) == 3 && act == 0 && strcmp(status, "ok") == 0)
                zero_ok++;
        }
    if (f)
        fclose(f);
    CHECK(lines == 4, "filters.txt lists %d filters", lines);
    CHECK(zero_ok == 0, "filters.txt marks %d filters of mean activation 0 'ok'", zero_ok);
    for (int i = 0; i < lines; i++) {
        char name[64];
        snprintf(name, sizeof name, "filter_%d.png", ks[i]);
        CHECK(exists(out, name), "%s missing", name);
    }
    /* the dead filter is reported by index */
    snprintf(args, sizeof args, "--layer /Relu_1 --filters 5,0 --iterations 2 --out %s", out);
    rc = cli_run(args, err, sizeof err);
    CHECK(rc == 0 && strstr(err, "never received a gradient") && strstr(err, ": 5"), "exit %d: %s", rc, err);
    printf("    dead filter: %s", err);

    /* bad input: a clear message, non-zero exit, nothing written */
    static const struct {
        const char *args, *expect;
    } bad[] = {
        {"--layer /Relu_2", "close matches"},
        {"--layer /Relu_1 --filters 0,6", "out of range"},
        {"--layer /Flatten --filters 9", "out of range"},
        {"--layer /Relu_1 --iterations 0", "--iterations"},
        {"--layer /Relu_1 --img /nonexistent/picture.png", "picture.png"},
        {"--layer /Relu_1 --method dream", "--method"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char fresh[600];
        snprintf(fresh, sizeof fresh, "%s/bad%zu", dir, i);
        snprintf(args, sizeof args, "%s --out %s", bad[i].args, fresh);
        rc = cli_run(args, err, sizeof err);
        struct stat st;
        printf("    %s -> exit %d: %s", bad[i].args, rc, err);
        CHECK(rc != 0 && strstr(err, bad[i].expect), "'%s': exit %d, message: %s", bad[i].args, rc, err);
        CHECK(stat(fresh, &st) != 0, "'%s' created %s", bad[i].args, fresh);
    }
    CHECK(sh("rm -rf '%s'", dir) == 0, "cleanup");
}


int main(int argc, char **argv)
{
    /* The tool sits beside the tests directory: BUILD/tests/test_cli -> BUILD/cnnviz. */
    const char *self = argc > 0 ? argv[0] : "build/tests/test_cli";
    size_t tail = strlen("tests/test_cli");
    size_t keep = strlen(self) >= tail ? strlen(self) - tail : 0;
    snprintf(cli_exe, sizeof cli_exe, "%.*scnnviz", (int)keep, self);
    RUN(test_occlusion_cli);
    RUN(test_occlusion_approx_cli);
    RUN(test_overlay_on_known_square);
    RUN(test_filters_cli);
    return test_summary("cli");
}
