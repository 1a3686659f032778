/* `cnnviz explain` (cli/cmd_explain.c) is a thin layer over
 * include/cnnviz_explain.h: every method's attribution.npy and map.npy are
 * the library's own result for the same image and options (the library is
 * checked against PyTorch in tests/test_explain.c), every file is there
 * with the right shape, IG prints its completeness check, and a bad method
 * or class name fails with a message saying what would work. Runs the built
 * cnnviz on the bundled Fashion-MNIST model, and on ../shared SqueezeNet
 * when present. */
#include "lib/test.h"
#include "cnnviz_explain.h"
#include "cnnviz_io.h"
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char cli[512], dir[128];
static const char *model = "models/fashion_cnn.onnx", *image = "models/samples/sneaker.png";
/* small sample counts keep the run short; the library's defaults are
 * tested in test_explain.c */
#define SAMPLES "12"
#define STEPS "16"

/* Run cnnviz with args (NULL-terminated), stdout+stderr into log; the exit
 * code, or 128 + signal. */
static int run_cli(const char *log, const char *const *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        alarm(300); /* a hang fails the test instead of the suite */
        char *argv[40];
        int n = 0;
        argv[n++] = cli;
        for (; args[n - 1] && n < 39; n++)
            argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(cli, argv);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *read_text(const char *path)
{
    uint8_t *text;
    size_t len;
    cv_error err;
    return cv_file_read_all(path, "a file", (size_t)64 << 20, &text, &len, &err) == CV_OK ? (char *)text : NULL;
}

static bool file_contains(const char *path, const char *needle)
{
    char *text = read_text(path);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

static void show_log(const char *log)
{
    char *text = read_text(log);
    fprintf(stderr, "    --- %s ---\n%s\n", log, text ? text : "(unreadable)");
    free(text);
}

/* run_cli for a run that should succeed: its log is shown when it fails. */
static int run_cli_shown(const char *log, const char *const *args)
{
    int rc = run_cli(log, args);
    if (rc != 0)
        show_log(log);
    return rc;
}

/* The explainer for the image as cnnviz preprocesses it (the model's
 * declared preprocessing, antialiased resize), with the options the CLI
 * run below was given. */
static cv_explainer *library_explainer(cv_model *m, float **x)
{
    cv_error err;
    cv_input_geometry g;
    cv_preprocess p;
    cv_image img = {0};
    cv_explainer *ex = NULL;
    *x = NULL;
    if (cv_model_input_geometry(m, 0, 0, &g, &err) != CV_OK || cv_preprocess_auto(&p, m, NULL, &err) != CV_OK ||
        cv_image_load(&img, image, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    *x = malloc(sizeof(float) * (size_t)g.channels * g.height * g.width);
    cv_explain_options o = cv_explain_defaults();
    o.samples = atoi(SAMPLES);
    o.steps = atoi(STEPS);
    cv_shape s = cv_input_shape(&g, 1);
    if (!*x || cv_input_from_image(*x, &img, &g, &p, CV_RESIZE_ANTIALIAS, &err) != CV_OK ||
        cv_explainer_create(&ex, m, &s, *x, &o, &err) != CV_OK)
        CHECK(0, "%s", *x ? err.msg : "out of memory");
    cv_image_free(&img);
    return ex;
}

/* DIR/<method>/name holds the library's values in the library's shape. */
static void check_npy(const char *mdir, const char *name, const cv_shape *want, const float *values)
{
    char path[700], a[160], b[160];
    snprintf(path, sizeof path, "%s/%s", mdir, name);
    cv_shape s;
    float *got = NULL;
    cv_error err;
    if (cv_npy_read(path, &s, &got, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    if (!cv_shape_equal(&s, want)) {
        CHECK(0, "%s is %s, the library's result is %s", path, cv_shape_str(&s, a, sizeof a),
              cv_shape_str(want, b, sizeof b));
    } else {
        /* the batch the CLI picks from free memory may differ from this
         * process's: batching changes only rounding (test_explain.c) */
        double rel = test_max_rel_diff(got, values, cv_shape_numel(&s));
        CHECK(rel <= 1e-5, "%s differs from the library's result by %.3g (relative)", path, rel);
    }
    free(got);
}

static void check_picture(const char *mdir, const char *name, int min_w, int min_h)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", mdir, name);
    cv_image img = {0};
    cv_error err;
    if (cv_image_load(&img, path, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    CHECK(img.w >= min_w && img.h >= min_h, "%s is %d x %d, expected at least %d x %d", path, img.w, img.h, min_w,
          min_h);
    cv_image_free(&img);
}

/* --method all: each method in DIR/<method>/ equals the library's result. */
static void test_every_method_matches_library(void)
{
    char out[300], log[300];
    snprintf(out, sizeof out, "%s/all", dir);
    snprintf(log, sizeof log, "%s/all.log", dir);
    const char *args[] = {"explain", "--model", model, "--img", image, "--method", "all", "--samples", SAMPLES,
                          "--steps", STEPS, "--out", out, NULL};
    int rc = run_cli_shown(log, args);
    REQUIRE(rc == 0, "cnnviz explain --method all exited %d", rc);
    CHECK(file_contains(log, "completeness: sum of attribution"), "IG's completeness line is not printed");
    CHECK(file_contains(log, "layer: "), "the CAM layer is not printed");
    cv_model *m = NULL;
    cv_error err;
    REQUIRE(cv_model_load(&m, model, NULL, &err) == CV_OK, "%s", err.msg);
    float *x;
    cv_explainer *ex = library_explainer(m, &x);
    for (int k = 0; ex && k < CV_EXPLAIN_COUNT; k++) {
        cv_explain_result r;
        if (cv_explain_run(ex, (cv_explain_method)k, cv_explainer_top_class(ex), &r, &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        char mdir[500];
        snprintf(mdir, sizeof mdir, "%s/%s", out, cv_explain_method_name((cv_explain_method)k));
        cv_shape ms = {2, {r.height, r.width}};
        check_npy(mdir, "attribution.npy", &r.attr_shape, r.attribution);
        check_npy(mdir, "map.npy", &ms, r.map);
        /* the 28 x 28 photo is drawn enlarged, with a colour bar beside it */
        check_picture(mdir, "overlay.png", 224 + 20, 224);
        check_picture(mdir, "heatmap.png", 28, 28);
        cv_explain_result_free(&r);
    }
    cv_explainer_free(ex);
    free(x);
    cv_model_free(m);
    check_picture(out, "compare.png", 224 * 4, 224 * 3); /* 11 panels: 4 + 4 + 3 */
    char path[400];
    snprintf(path, sizeof path, "%s/summary.json", out);
    char *text = read_text(path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *methods = cJSON_GetObjectItem(root, "methods");
    CHECK(cJSON_GetArraySize(methods) == CV_EXPLAIN_COUNT, "summary.json lists %d methods, expected %d",
          cJSON_GetArraySize(methods), CV_EXPLAIN_COUNT);
    cJSON_Delete(root);
    free(text);
}

/* --class by name; its index and name reach summary.json, one method's
 * files lie in --out itself. */
static void test_class_by_name(void)
{
    char out[300], log[300], path[400];
    snprintf(out, sizeof out, "%s/sandal", dir);
    snprintf(log, sizeof log, "%s/sandal.log", dir);
    const char *args[] = {"explain", "--model", model, "--img", image, "--method", "gradcam", "--class", "sandal",
                          "--out", out, NULL};
    int rc = run_cli_shown(log, args);
    REQUIRE(rc == 0, "--class sandal exited %d", rc);
    snprintf(path, sizeof path, "%s/summary.json", out);
    char *text = read_text(path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *cls = cJSON_GetObjectItem(root, "class");
    cJSON *index = cJSON_GetObjectItem(cls, "index"), *name = cJSON_GetObjectItem(cls, "name");
    CHECK(cJSON_IsNumber(index) && index->valueint == 5, "summary.json: class index is not 5 (Sandal)");
    CHECK(cJSON_IsString(name) && strcmp(name->valuestring, "Sandal") == 0, "summary.json: class name is not Sandal");
    cJSON_Delete(root);
    free(text);
    snprintf(path, sizeof path, "%s/attribution.npy", out);
    CHECK(access(path, R_OK) == 0, "one method's files are not in --out itself");
}

/* A bad method, class name or baseline fails with exit status non-zero and
 * a message naming what would work; nothing is left in --out. */
static void test_bad_arguments(void)
{
    struct {
        const char *flag, *value, *message;
    } cases[] = {
        {"--method", "gradcamz", "unknown method 'gradcamz'"},
        {"--class", "sneakr", "Sneaker"},      /* the suggestion */
        {"--baseline", "nothing.npy", "--baseline"},
        {"--layer", "no_such_layer", "no_such_layer"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char out[300], log[300];
        snprintf(out, sizeof out, "%s/bad%zu", dir, k);
        snprintf(log, sizeof log, "%s/bad%zu.log", dir, k);
        const char *args[] = {"explain", "--model", model, "--img", image, "--method", "ig,gradcam", cases[k].flag,
                              cases[k].value, "--out", out, NULL};
        int rc = run_cli(log, args);
        CHECK(rc == 1 || rc == 2, "%s %s exited %d", cases[k].flag, cases[k].value, rc);
        CHECK(file_contains(log, cases[k].message), "%s %s: the message does not mention '%s'", cases[k].flag,
              cases[k].value, cases[k].message);
        if (!file_contains(log, cases[k].message))
            show_log(log);
        CHECK(access(out, F_OK) != 0, "%s %s left %s behind", cases[k].flag, cases[k].value, out);
    }
}

/* A number from a JSON file: root's key, or methods[index]'s when index >= 0. */
static double json_number(const char *path, int index, const char *key)
{
    char *text = read_text(path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *obj = index >= 0 ? cJSON_GetArrayItem(cJSON_GetObjectItem(root, "methods"), index) : root;
    cJSON *v = cJSON_GetObjectItem(obj, key);
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    cJSON_Delete(root);
    free(text);
    return x;
}

/* compare.csv: the header, then one row per method in the order given. */
static int read_compare_csv(const char *path, char names[][32], double *del, double *ins, int max)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int n = 0;
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f) || strcmp(line, "method,deletion_auc,insertion_auc,seconds\n") != 0)
        n = -2;
    double sec;
    while (n >= 0 && n < max && fgets(line, sizeof line, f))
        if (sscanf(line, "%31[^,],%lf,%lf,%lf", names[n], &del[n], &ins[n], &sec) == 4 && sec >= 0)
            n++;
    fclose(f);
    return n;
}

/* cnnviz eval --map mdir/map.npy on the same image, class and steps: its
 * AUCs equal del and ins (the same library call on the same input). */
static void check_against_eval(const char *mdir, const char *steps, double del, double ins, const char *tag)
{
    char map[600], out[300], log[300], path[400];
    snprintf(map, sizeof map, "%s/map.npy", mdir);
    snprintf(out, sizeof out, "%s/eval-%s", dir, tag);
    snprintf(log, sizeof log, "%s/eval-%s.log", dir, tag);
    const char *args[] = {"eval", "--model", model, "--img", image, "--map", map, "--batch", "8",
                          steps ? "--steps" : NULL, steps, NULL};
    const char *tail[] = {"--out", out};
    const char *argv[16];
    int n = 0;
    for (; args[n]; n++)
        argv[n] = args[n];
    argv[n++] = tail[0];
    argv[n++] = tail[1];
    argv[n] = NULL;
    int rc = run_cli_shown(log, argv);
    REQUIRE(rc == 0, "cnnviz eval --map %s exited %d", map, rc);
    snprintf(path, sizeof path, "%s/eval.json", out);
    double ed = json_number(path, -1, "deletion_auc"), ei = json_number(path, -1, "insertion_auc");
    printf("    %s: explain --eval deletion %.9f insertion %.9f; cnnviz eval %.9f %.9f\n", tag, del, ins, ed, ei);
    CHECK(fabs(ed - del) <= 1e-6 && fabs(ei - ins) <= 1e-6,
          "%s: explain --eval says deletion %.9g insertion %.9g, cnnviz eval %.9g %.9g", tag, del, ins, ed, ei);
}

/* --eval with several methods: compare.csv and summary.json hold each
 * map's AUCs, the table is printed, and the AUCs are cnnviz eval's for
 * that map (--eval-steps as eval's --steps; --batch fixed in both so the
 * passes are the same). */
static void test_eval_matches_cnnviz_eval(void)
{
    char out[300], log[300], path[400], mdir[400];
    snprintf(out, sizeof out, "%s/evalmany", dir);
    snprintf(log, sizeof log, "%s/evalmany.log", dir);
    const char *args[] = {"explain", "--model", model, "--img", image, "--methods", "gradcam,saliency,rise",
                          "--samples", SAMPLES, "--batch", "8", "--eval", "--eval-steps", "20", "--out", out, NULL};
    int rc = run_cli_shown(log, args);
    REQUIRE(rc == 0, "cnnviz explain --eval exited %d", rc);
    CHECK(file_contains(log, "deletion AUC  insertion AUC"), "the table of AUCs is not printed");
    char names[8][32];
    double del[8], ins[8];
    snprintf(path, sizeof path, "%s/compare.csv", out);
    int n = read_compare_csv(path, names, del, ins, 8);
    REQUIRE(n == 3, "compare.csv: %d rows (-1: missing, -2: bad header), expected 3", n);
    const char *want[] = {"gradcam", "saliency", "rise"};
    snprintf(path, sizeof path, "%s/summary.json", out);
    for (int k = 0; k < 3; k++) {
        CHECK(strcmp(names[k], want[k]) == 0, "compare.csv row %d is %s, expected %s", k + 1, names[k], want[k]);
        double sd = json_number(path, k, "deletion_auc"), si = json_number(path, k, "insertion_auc");
        CHECK(fabs(sd - del[k]) <= 1e-8 && fabs(si - ins[k]) <= 1e-8,
              "summary.json's AUCs for %s (%g, %g) are not compare.csv's (%g, %g)", want[k], sd, si, del[k], ins[k]);
        CHECK(del[k] >= 0 && del[k] <= 1 && ins[k] >= 0 && ins[k] <= 1, "%s: AUCs %g %g outside [0, 1]", want[k],
              del[k], ins[k]);
    }
    /* 4 panels of at least 224 px: 2 x 2 or 4 x 1, as their captions' height makes the aspect */
    check_picture(out, "compare.png", 224 * 2, 224);
    for (int k = 0; k < 2; k++) {
        snprintf(mdir, sizeof mdir, "%s/%s", out, want[k]);
        check_against_eval(mdir, "20", del[k], ins[k], want[k]);
    }
}

/* eval.json's pointing[index].hit: 1, 0, or -1 when absent. */
static int json_pointing_hit(const char *path, int index)
{
    char *text = read_text(path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *hit = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "pointing"), index), "hit");
    int h = cJSON_IsBool(hit) ? cJSON_IsTrue(hit) : -1;
    cJSON_Delete(root);
    free(text);
    return h;
}

/* --eval --pointing FILE --deletion-fill mean: compare.csv gains the
 * pointing columns, and each map's hits and deletion AUC are what cnnviz
 * eval --pointing FILE --deletion-fill mean says of that map. The boxes:
 * the whole 28 x 28 image (every map hits it) and its top-left corner. */
static void test_eval_pointing_and_fill(void)
{
    char out[300], log[300], path[600], boxes[300], map[500], eout[400];
    snprintf(out, sizeof out, "%s/evalpoint", dir);
    snprintf(log, sizeof log, "%s/evalpoint.log", dir);
    snprintf(boxes, sizeof boxes, "%s/boxes.txt", dir);
    FILE *f = fopen(boxes, "w");
    REQUIRE(f, "cannot write %s", boxes);
    fprintf(f, "# x0 y0 x1 y1\n0 0 28 28\n0,0,3,3\n");
    fclose(f);
    const char *args[] = {"explain", "--model", model, "--img", image, "--methods", "gradcam,saliency", "--batch", "8",
                          "--eval", "--eval-steps", "10", "--pointing", boxes, "--deletion-fill", "mean", "--out", out,
                          NULL};
    int rc = run_cli_shown(log, args);
    REQUIRE(rc == 0, "cnnviz explain --eval --pointing exited %d", rc);
    CHECK(file_contains(log, "pointing"), "the table has no pointing column");
    snprintf(path, sizeof path, "%s/compare.csv", out);
    char *csv = read_text(path);
    REQUIRE(csv, "no %s", path);
    const char *want[] = {"gradcam", "saliency"};
    const char *header = "method,deletion_auc,insertion_auc,seconds,pointing_hits,pointing_boxes\n";
    CHECK(strncmp(csv, header, strlen(header)) == 0,
          "compare.csv header: %.80s", csv);
    const char *row = strchr(csv, '\n');
    for (int k = 0; k < 2 && row; k++, row = strchr(row + 1, '\n')) {
        char name[32];
        double del, ins, sec;
        int hits = -1, n_boxes = -1;
        CHECK(sscanf(row + 1, "%31[^,],%lf,%lf,%lf,%d,%d", name, &del, &ins, &sec, &hits, &n_boxes) == 6 &&
                  strcmp(name, want[k]) == 0,
              "compare.csv row %d: %.80s", k + 1, row + 1);
        snprintf(map, sizeof map, "%s/%s/map.npy", out, want[k]);
        snprintf(eout, sizeof eout, "%s/eval-%s", out, want[k]);
        snprintf(log, sizeof log, "%s/evalpoint-%s.log", dir, want[k]);
        const char *eargs[] = {"eval", "--model", model, "--img", image, "--map", map, "--batch", "8", "--steps", "10",
                               "--pointing", boxes, "--deletion-fill", "mean", "--out", eout, NULL};
        REQUIRE(run_cli_shown(log, eargs) == 0, "cnnviz eval --map %s exited non-zero", map);
        snprintf(path, sizeof path, "%s/eval.json", eout);
        int h0 = json_pointing_hit(path, 0), h1 = json_pointing_hit(path, 1);
        double ed = json_number(path, -1, "deletion_auc");
        printf("    %s: explain --eval %d of %d boxes hit, deletion to mean %.9f; cnnviz eval hits %d %d, %.9f\n",
               want[k], hits, n_boxes, del, h0, h1, ed);
        CHECK(n_boxes == 2 && h0 == 1 && hits == h0 + h1, "%s: %d hits of %d boxes; cnnviz eval: %d %d", want[k],
              hits, n_boxes, h0, h1);
        CHECK(fabs(ed - del) <= 1e-6, "%s: deletion AUC %.9g, cnnviz eval's %.9g", want[k], del, ed);
    }
    free(csv);
}

/* --eval with one method and no --eval-steps: cnnviz eval's default
 * steps (100) on both sides, compare.csv in --out itself. */
static void test_eval_default_steps(void)
{
    char out[300], log[300], path[400];
    snprintf(out, sizeof out, "%s/evalone", dir);
    snprintf(log, sizeof log, "%s/evalone.log", dir);
    const char *args[] = {"explain", "--model", model, "--img", image, "--method", "gradcam", "--batch", "8",
                          "--eval", "--out", out, NULL};
    int rc = run_cli_shown(log, args);
    REQUIRE(rc == 0, "cnnviz explain --method gradcam --eval exited %d", rc);
    snprintf(path, sizeof path, "%s/summary.json", out);
    double steps = json_number(path, 0, "eval_steps");
    CHECK(steps == 100, "summary.json: eval_steps %g, expected cnnviz eval's default 100", steps);
    char names[2][32];
    double del[2], ins[2];
    snprintf(path, sizeof path, "%s/compare.csv", out);
    REQUIRE(read_compare_csv(path, names, del, ins, 2) == 1, "compare.csv does not hold one row");
    check_against_eval(out, NULL, del[0], ins[0], "gradcam-default");
}

/* Largest per-channel difference of two pictures; -1 when their sizes differ
 * or one cannot be read. */
static int picture_diff(const char *a, const char *b)
{
    cv_image x = {0}, y = {0};
    cv_error err;
    int d = -1;
    if (cv_image_load(&x, a, &err) == CV_OK && cv_image_load(&y, b, &err) == CV_OK && x.w == y.w && x.h == y.h &&
        x.c == y.c) {
        d = 0;
        for (size_t i = 0; i < (size_t)x.w * x.h * x.c; i++)
            d = abs(x.px[i] - y.px[i]) > d ? abs(x.px[i] - y.px[i]) : d;
    }
    cv_image_free(&x);
    cv_image_free(&y);
    return d;
}

/* --input X.npy, the tensor --img makes: the same maps as --img, and the
 * pictures drawn on the input with its preprocessing undone, which for
 * the 28 x 28 grey sneaker is the photo itself; a tensor that is not one
 * image in the model's layout, or both --img and --input, fail. */
static void test_input_tensor(void)
{
    char npy[300], out_img[300], out_npy[300], log[300], a[400], b[400];
    cv_model *m = NULL;
    cv_error err;
    REQUIRE(cv_model_load(&m, model, NULL, &err) == CV_OK, "%s", err.msg);
    float *x;
    cv_explainer *ex = library_explainer(m, &x);
    cv_explainer_free(ex);
    cv_input_geometry g;
    REQUIRE(x && cv_model_input_geometry(m, 0, 0, &g, &err) == CV_OK, "%s", err.msg);
    cv_shape s = cv_input_shape(&g, 1);
    snprintf(npy, sizeof npy, "%s/sneaker_input.npy", dir);
    CHECK(cv_npy_write_f32(npy, &s, x, &err) == CV_OK, "%s", err.msg);
    free(x);
    cv_model_free(m);
    snprintf(out_img, sizeof out_img, "%s/from-img", dir);
    snprintf(out_npy, sizeof out_npy, "%s/from-npy", dir);
    snprintf(log, sizeof log, "%s/from-npy.log", dir);
    const char *by_img[] = {"explain", "--model", model, "--img", image, "--methods", "saliency,gradcam", "--out",
                            out_img, NULL};
    const char *by_npy[] = {"explain", "--model", model, "--input", npy, "--methods", "saliency,gradcam", "--out",
                            out_npy, NULL};
    int rc1 = run_cli(log, by_img), rc2 = run_cli(log, by_npy);
    if (rc2 != 0)
        show_log(log);
    REQUIRE(rc1 == 0 && rc2 == 0, "explain --img exited %d, --input %d", rc1, rc2);
    CHECK(file_contains(log, "sneaker_input.npy: top 5"), "the input is not named in the output");
    const char *files[] = {"saliency/map.npy", "gradcam/map.npy", "gradcam/overlay.png", "compare.png"};
    for (int k = 0; k < 4; k++) {
        snprintf(a, sizeof a, "%s/%s", out_img, files[k]);
        snprintf(b, sizeof b, "%s/%s", out_npy, files[k]);
        if (strstr(files[k], ".npy")) {
            cv_shape sa, sb;
            float *va = NULL, *vb = NULL;
            bool same = cv_npy_read(a, &sa, &va, &err) == CV_OK && cv_npy_read(b, &sb, &vb, &err) == CV_OK &&
                        cv_shape_equal(&sa, &sb) && memcmp(va, vb, cv_shape_numel(&sa) * sizeof(float)) == 0;
            CHECK(same, "%s: --input's map is not --img's", files[k]);
            free(va);
            free(vb);
        } else {
            int d = picture_diff(a, b);
            printf("    %s: --input's picture differs from --img's by at most %d\n", files[k], d);
            CHECK(d >= 0 && d <= 1, "%s: --input's picture differs from --img's by %d", files[k], d);
        }
    }
    snprintf(a, sizeof a, "%s/summary.json", out_npy);
    CHECK(file_contains(a, "\"input\":"), "summary.json does not name the input");
    /* a map is no input; both sources at once */
    snprintf(a, sizeof a, "%s/saliency/map.npy", out_npy);
    snprintf(b, sizeof b, "%s/bad-input", dir);
    const char *bad1[] = {"explain", "--model", model, "--input", a, "--out", b, NULL};
    const char *bad2[] = {"explain", "--model", model, "--input", npy, "--img", image, "--out", b, NULL};
    int rc = run_cli(log, bad1);
    CHECK((rc == 1 || rc == 2) && file_contains(log, "map.npy"), "a [28, 28] --input: exit %d", rc);
    rc = run_cli(log, bad2);
    CHECK(rc == 2 && file_contains(log, "give one of --img and --input"), "--img and --input: exit %d", rc);
    CHECK(access(b, F_OK) != 0, "a failed run left %s", b);
}

/* Real model: Grad-CAM of SqueezeNet on the bus explains "school bus". */
static void test_squeezenet_bus(void)
{
    const char *shared = test_shared_dir();
    char m[400], img[400], out[300], log[300];
    snprintf(m, sizeof m, "%s/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx", shared ? shared : "..");
    snprintf(img, sizeof img, "%s/images/bus.jpg", shared ? shared : "..");
    if (!shared || access(m, R_OK) != 0 || access(img, R_OK) != 0)
        SKIP("SqueezeNet or bus.jpg absent under %s", shared ? shared : "../shared (not there)");
    snprintf(out, sizeof out, "%s/bus", dir);
    snprintf(log, sizeof log, "%s/bus.log", dir);
    const char *args[] = {"explain", "--model", m, "--img", img, "--preprocess", "raw", "--bgr", "--method",
                          "gradcam,saliency", "--out", out, NULL};
    int rc = run_cli_shown(log, args);
    REQUIRE(rc == 0, "SqueezeNet explain exited %d", rc);
    CHECK(file_contains(log, "class: 779 (school bus)"), "the bus is not explained as class 779 'school bus'");
    CHECK(file_contains(log, "the logit: the input of the model's final Softmax"),
          "the score is not said to be the logit before the Softmax");
    char mdir[512];
    snprintf(mdir, sizeof mdir, "%s/gradcam", out);
    check_picture(mdir, "overlay.png", 220, 165); /* the photo's own size */
    check_picture(out, "compare.png", 224 * 2, 224 * 2); /* 3 landscape panels: 2 + 1 */
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    /* argv[0] is BUILD/tests/test_cli_explain; the tool is BUILD/cnnviz */
    int build_len = slash ? (int)(slash - argv[0]) - (int)strlen("/tests") : 0;
    snprintf(cli, sizeof cli, "%.*s/cnnviz", build_len > 0 ? build_len : 0, argv[0]);
    if (access(cli, X_OK) != 0 || access(model, R_OK) != 0 || !test_make_tmpdir(dir, sizeof dir, "cli-explain")) {
        printf("SKIP cli_explain (%s or %s missing, or no temporary folder)\n", cli, model);
        return test_summary("cli_explain");
    }
    RUN(test_every_method_matches_library);
    RUN(test_class_by_name);
    RUN(test_bad_arguments);
    RUN(test_eval_matches_cnnviz_eval);
    RUN(test_eval_default_steps);
    RUN(test_eval_pointing_and_fill);
    RUN(test_input_tensor);
    RUN(test_squeezenet_bus);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("cli_explain");
}
