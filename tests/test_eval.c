/* Faithfulness metrics (include/cnnviz_eval.h). Deletion and insertion
 * curves against tests/fixtures/make_eval_ref.py (PyTorch/NumPy, float64,
 * from the definitions): every curve point and both AUCs within CURVE_TOL
 * absolute, for an NCHW net ending in Softmax and an NHWC net ending in
 * logits, maps with and without ties, steps that do and do not round halves,
 * automatic and small batches; the blurred insertion start within BLUR_TOL.
 * The pointing game on hand-made maps; the sanity check on nets where the
 * answer is known; the CLI's files. */
#include "cnnviz_eval.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include "../src/core/graph.h"
#include "lib/netbuild.h"
#include "lib/test.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DIR "tests/fixtures/eval"
#define CURVE_TOL 1e-5
#define BLUR_TOL 1e-6

static char cli_path_buf[600];

typedef struct {
    char net[32], map[64], curves[128];
    int target, steps;
    double del_auc, ins_auc;
} ref_case;

static int read_manifest(ref_case *c, int max)
{
    FILE *f = fopen(DIR "/manifest.txt", "r");
    if (!f)
        return -1;
    int n = 0;
    while (n < max && fscanf(f, "%31s %63s %d %d %127s %lf %lf", c[n].net, c[n].map, &c[n].target, &c[n].steps,
                             c[n].curves, &c[n].del_auc, &c[n].ins_auc) == 7)
        n++;
    fclose(f);
    return n;
}

/* The reference curve: n_i, deletion and insertion per step. */
static bool read_curves(const ref_case *c, long *n, double *del, double *ins)
{
    char path[300];
    snprintf(path, sizeof path, DIR "/%s", c->curves);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    int i, got = 0;
    for (int k = 0; k <= c->steps; k++)
        got += fscanf(f, "%d %ld %lf %lf", &i, &n[k], &del[k], &ins[k]) == 4 && i == k;
    fclose(f);
    return got == c->steps + 1;
}

typedef struct {
    cv_model *m;
    float *x, *map;
    cv_shape xs, ms;
} net;

static bool load(const char *name, const char *map, net *L)
{
    char path[300];
    cv_error err;
    memset(L, 0, sizeof *L);
    snprintf(path, sizeof path, DIR "/%s.onnx", name);
    bool ok = cv_model_load(&L->m, path, NULL, &err) == CV_OK;
    snprintf(path, sizeof path, DIR "/%s_input.npy", name);
    ok = ok && cv_npy_read(path, &L->xs, &L->x, &err) == CV_OK;
    snprintf(path, sizeof path, DIR "/%s.npy", map);
    ok = ok && (!map || cv_npy_read(path, &L->ms, &L->map, &err) == CV_OK);
    if (!ok)
        fprintf(stderr, "    %s\n", err.msg);
    return ok;
}

static void unload(net *L)
{
    cv_model_free(L->m);
    free(L->x);
    free(L->map);
}

/* Largest |difference| between the C curve and the reference. */
static double curve_diff(const double *got, const double *want, int steps)
{
    double d = 0;
    for (int i = 0; i <= steps; i++)
        d = fmax(d, fabs(got[i] - want[i]));
    return d;
}

static void check_case(const ref_case *c, const net *L, int batch, int metrics)
{
    long n[1100];
    double del[1100], ins[1100];
    if (c->steps >= 1100 || !read_curves(c, n, del, ins)) {
        CHECK(0, "cannot read %s", c->curves);
        return;
    }
    cv_eval_options o = cv_eval_defaults();
    o.steps = c->steps;
    o.batch = batch;
    cv_eval_curves cv;
    cv_error err;
    /* the softmax net is asked for its top-1 class (-1), the other by index */
    int target = strcmp(c->net, "cnn") == 0 ? -1 : c->target;
    cv_status st = cv_eval_curves_run(L->m, &L->xs, L->x, L->map, target, metrics, &o, &cv, &err);
    REQUIRE(st == CV_OK, "%s", err.msg);
    CHECK(cv.target == c->target, "target %d, want %d", cv.target, c->target);
    int wrong_n = 0;
    for (int i = 0; i <= c->steps; i++)
        wrong_n += cv.pixels[i] != n[i];
    CHECK(wrong_n == 0, "%d steps remove another number of pixels than the reference", wrong_n);
    double dd = cv.deletion ? curve_diff(cv.deletion, del, c->steps) : 0;
    double di = cv.insertion ? curve_diff(cv.insertion, ins, c->steps) : 0;
    double da = cv.deletion ? fabs(cv.deletion_auc - c->del_auc) : 0;
    double dia = cv.insertion ? fabs(cv.insertion_auc - c->ins_auc) : 0;
    printf("    %s %s N=%d batch %d (%s): max |diff| deletion %.2e insertion %.2e, AUC %.2e %.2e\n", c->net, c->map,
           c->steps, cv.batch, metrics == CV_EVAL_BOTH ? "both" : metrics == CV_EVAL_DELETION ? "deletion" : "insertion",
           dd, di, da, dia);
    CHECK(dd <= CURVE_TOL && di <= CURVE_TOL, "curves differ by %.2e / %.2e", dd, di);
    CHECK(da <= CURVE_TOL && dia <= CURVE_TOL, "AUCs differ by %.2e / %.2e", da, dia);
    CHECK((metrics & CV_EVAL_DELETION) ? cv.deletion != NULL : cv.deletion == NULL, "deletion curve presence");
    CHECK((metrics & CV_EVAL_INSERTION) ? cv.insertion != NULL : cv.insertion == NULL, "insertion curve presence");
    long want_forwards = (long)(c->steps + 1) * (metrics == CV_EVAL_BOTH ? 2 : 1);
    CHECK(cv.forwards == want_forwards, "%ld forwards, want %ld", cv.forwards, want_forwards);
    cv_eval_curves_free(&cv);
}

static void test_curves_reference(void)
{
    ref_case c[16];
    int n = read_manifest(c, 16);
    REQUIRE(n >= 8, "cannot read " DIR "/manifest.txt (%d cases)", n);
    for (int k = 0; k < n; k++) {
        net L;
        if (!load(c[k].net, c[k].map, &L)) {
            CHECK(0, "cannot load %s", c[k].net);
            unload(&L);
            continue;
        }
        check_case(&c[k], &L, 0, CV_EVAL_BOTH);
        if (c[k].steps == 10) { /* batches of 3: 22 inputs end in a partial batch */
            check_case(&c[k], &L, 3, CV_EVAL_BOTH);
            check_case(&c[k], &L, 0, CV_EVAL_DELETION);
            check_case(&c[k], &L, 4, CV_EVAL_INSERTION);
        }
        unload(&L);
    }
}

static void test_blur_reference(void)
{
    const char *nets[] = {"cnn", "nhwc"};
    for (int k = 0; k < 2; k++) {
        net L;
        char path[300];
        cv_shape bs;
        float *want = NULL;
        cv_error err;
        snprintf(path, sizeof path, DIR "/%s_blur.npy", nets[k]);
        if (!load(nets[k], NULL, &L) || cv_npy_read(path, &bs, &want, &err) != CV_OK) {
            CHECK(0, "cannot load %s", nets[k]);
            unload(&L);
            continue;
        }
        int nhwc = cv_model_input_nhwc(L.m);
        CHECK(nhwc == (k == 1), "%s: layout nhwc=%d", nets[k], nhwc);
        size_t n = cv_shape_numel(&L.xs);
        float *got = malloc(n * sizeof(float));
        int c = (int)L.xs.d[nhwc ? 3 : 1], h = (int)L.xs.d[nhwc ? 1 : 2], w = (int)L.xs.d[nhwc ? 2 : 3];
        CHECK(cv_eval_blur(got, L.x, c, h, w, nhwc, &err) == CV_OK, "%s", err.msg);
        double d = 0;
        for (size_t i = 0; i < n; i++)
            d = fmax(d, fabs(got[i] - want[i]));
        printf("    %s: blurred input max |diff| %.2e\n", nets[k], d);
        CHECK(d <= BLUR_TOL, "blur differs by %.2e", d);
        free(got);
        free(want);
        unload(&L);
    }
}

/* The target's probability for one input, by a forward pass of its own. */
static double probability_of(const net *L, const float *x, int target)
{
    cv_run *r = NULL;
    cv_error err;
    cv_run_options ro = cv_run_defaults();
    double p = NAN;
    if (cv_run_create(&r, L->m, &L->xs, &ro, &err) == CV_OK && cv_run_forward(r, x, &err) == CV_OK) {
        const cv_tensor *y = cv_run_output(r, 0);
        size_t nc = cv_shape_numel(&y->shape);
        float probs[1000];
        if (nc <= 1000 && target < (int)nc) {
            cv_scores_to_probabilities(probs, y->f, nc);
            p = probs[target];
        }
    } else {
        fprintf(stderr, "    %s\n", err.msg);
    }
    cv_run_free(r);
    return p;
}

/* The deletion input at step i built here from the definition: the first
 * n_i ranked pixels of x replaced by fill (every channel). */
static void deleted_by_hand(const net *L, int i, int steps, const float *fill, float *out)
{
    int nhwc = cv_model_input_nhwc(L->m);
    int c = (int)L->xs.d[nhwc ? 3 : 1], h = (int)L->xs.d[nhwc ? 1 : 2], w = (int)L->xs.d[nhwc ? 2 : 3];
    size_t plane = (size_t)h * w, *order = malloc(plane * sizeof(size_t));
    cv_error err;
    memcpy(out, L->x, cv_shape_numel(&L->xs) * sizeof(float));
    if (!order || cv_eval_rank_pixels(L->map, h, w, order, &err) != CV_OK) {
        free(order);
        return;
    }
    for (long r = 0; r < cv_eval_step_pixels(i, steps, (long)plane); r++)
        for (int ch = 0; ch < c; ch++) {
            size_t k = nhwc ? order[r] * c + ch : ch * plane + order[r];
            out[k] = fill[k];
        }
    free(order);
}

/* --deletion-fill blur and mean, checked against inputs built here: at a
 * middle step and at the last (every pixel deleted: the blurred input,
 * which is also insertion's first point, or the channel means). */
static void test_deletion_fills(void)
{
    const char *nets[] = {"cnn", "nhwc"}, *maps[] = {"map_tied", "map_smooth"};
    for (int k = 0; k < 2; k++) {
        net L;
        if (!load(nets[k], maps[k], &L)) {
            CHECK(0, "cannot load %s / %s", nets[k], maps[k]);
            unload(&L);
            continue;
        }
        int nhwc = cv_model_input_nhwc(L.m), steps = 10;
        int c = (int)L.xs.d[nhwc ? 3 : 1], h = (int)L.xs.d[nhwc ? 1 : 2], w = (int)L.xs.d[nhwc ? 2 : 3];
        size_t n = cv_shape_numel(&L.xs), plane = (size_t)h * w;
        float *fill = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
        REQUIRE(fill && x, "out of memory");
        for (int f = CV_EVAL_FILL_BLUR; f <= CV_EVAL_FILL_MEAN; f++) {
            cv_error err;
            if (f == CV_EVAL_FILL_BLUR) {
                REQUIRE(cv_eval_blur(fill, L.x, c, h, w, nhwc, &err) == CV_OK, "%s", err.msg);
            } else {
                for (int ch = 0; ch < c; ch++) {
                    double sum = 0;
                    for (size_t q = 0; q < plane; q++)
                        sum += L.x[nhwc ? q * c + ch : ch * plane + q];
                    for (size_t q = 0; q < plane; q++)
                        fill[nhwc ? q * c + ch : ch * plane + q] = (float)(sum / plane);
                }
            }
            cv_eval_options o = cv_eval_defaults();
            o.steps = steps;
            o.deletion_fill = f;
            cv_eval_curves cv;
            REQUIRE(cv_eval_curves_run(L.m, &L.xs, L.x, L.map, -1, CV_EVAL_BOTH, &o, &cv, &err) == CV_OK, "%s",
                    err.msg);
            deleted_by_hand(&L, 4, steps, fill, x);
            double mid = probability_of(&L, x, cv.target);
            deleted_by_hand(&L, steps, steps, fill, x);
            double last = probability_of(&L, x, cv.target);
            const char *name = cv_eval_fill_name((cv_eval_fill)f);
            printf("    %s, deletion to %s: step 4 %.7f (by hand %.7f), step %d %.7f (by hand %.7f; insertion's "
                   "start %.7f)\n", nets[k], name, cv.deletion[4], mid, steps, cv.deletion[steps], last,
                   cv.insertion[0]);
            CHECK(fabs(cv.deletion[4] - mid) <= CURVE_TOL && fabs(cv.deletion[steps] - last) <= CURVE_TOL,
                  "%s %s: the curve is not the definition's", nets[k], name);
            CHECK(f != CV_EVAL_FILL_BLUR || fabs(cv.deletion[steps] - cv.insertion[0]) <= CURVE_TOL,
                  "%s: deleting every pixel to blur is not insertion's start", nets[k]);
            CHECK(cv.deletion_fill == f, "the curves say fill %d", cv.deletion_fill);
            cv_eval_curves_free(&cv);
        }
        cv_eval_options o = cv_eval_defaults();
        o.deletion_fill = 3;
        cv_eval_curves cv;
        cv_error err;
        CHECK(cv_eval_curves_run(L.m, &L.xs, L.x, L.map, -1, CV_EVAL_BOTH, &o, &cv, &err) == CV_ERR_INVALID,
              "an unknown fill is accepted");
        free(fill);
        free(x);
        unload(&L);
    }
    cv_eval_fill f;
    cv_error err;
    CHECK(cv_eval_fill_from_name(&f, "mean", &err) == CV_OK && f == CV_EVAL_FILL_MEAN &&
              cv_eval_fill_from_name(&f, "grey", &err) == CV_ERR_INVALID,
          "fill names");
}

static void test_ranking_steps_auc(void)
{
    /* 2 x 3: ties of 5 in index order, NaN last */
    const float map[6] = {1, 5, NAN, 5, 7, 1};
    const size_t want[6] = {4, 1, 3, 0, 5, 2};
    size_t order[6];
    cv_error err;
    REQUIRE(cv_eval_rank_pixels(map, 2, 3, order, &err) == CV_OK, "%s", err.msg);
    int wrong = 0;
    for (int k = 0; k < 6; k++)
        wrong += order[k] != want[k];
    CHECK(wrong == 0, "ranking %zu %zu %zu %zu %zu %zu", order[0], order[1], order[2], order[3], order[4], order[5]);
    /* 480 pixels in 64 steps: 7.5 per step, halves up */
    CHECK(cv_eval_step_pixels(1, 64, 480) == 8 && cv_eval_step_pixels(2, 64, 480) == 15 &&
              cv_eval_step_pixels(3, 64, 480) == 23 && cv_eval_step_pixels(64, 64, 480) == 480 &&
              cv_eval_step_pixels(0, 64, 480) == 0,
          "steps %ld %ld %ld", cv_eval_step_pixels(1, 64, 480), cv_eval_step_pixels(2, 64, 480),
          cv_eval_step_pixels(3, 64, 480));
    const double y[5] = {1, 0.5, 0.5, 0, 0}; /* trapezoids of width 1/4 */
    double auc = cv_eval_auc(y, 4);
    CHECK(fabs(auc - (0.75 + 0.5 + 0.25 + 0) / 4) < 1e-15, "auc %.17g", auc);
}

/* Pointing game on a 20 x 20 map of a 200 x 200 image: one map pixel is 10
 * image pixels. */
static void pointing_case(const char *what, const float *map, const cv_eval_box *box, int hit, long n_max,
                          long n_max_hit)
{
    cv_eval_pointing p;
    cv_error err;
    REQUIRE(cv_eval_pointing_game(map, 20, 20, 200, 200, box, CV_EVAL_POINTING_TOLERANCE, &p, &err) == CV_OK, "%s",
            err.msg);
    printf("    %s: maximum at (%d, %d), %.1f px from the box: %s (%ld tied, %ld of them hit)\n", what, p.max_x,
           p.max_y, p.distance, p.hit ? "hit" : "miss", p.n_max, p.n_max_hit);
    CHECK(p.hit == hit && p.n_max == n_max && p.n_max_hit == n_max_hit, "%s: hit %d n_max %ld n_max_hit %ld", what,
          p.hit, p.n_max, p.n_max_hit);
}

static void test_pointing_game(void)
{
    float map[400];
    const cv_eval_box box = {50, 60, 100, 120}; /* map pixels x 5..10, y 6..12 */
    for (int k = 0; k < 400; k++)
        map[k] = (float)(k % 7) * 0.01f;
    map[8 * 20 + 7] = 1; /* centre (75, 85): inside */
    pointing_case("inside", map, &box, 1, 1, 1);
    map[8 * 20 + 7] = 0;
    map[8 * 20 + 10] = 1; /* centre (105, 85): 5 px right of the box */
    pointing_case("within 15 px", map, &box, 1, 1, 1);
    map[8 * 20 + 10] = 0;
    map[8 * 20 + 11] = 1; /* centre (115, 85): 15 px: on the tolerance, a hit */
    pointing_case("at 15 px", map, &box, 1, 1, 1);
    map[8 * 20 + 11] = 0;
    map[8 * 20 + 12] = 1; /* centre (125, 85): 25 px */
    pointing_case("outside", map, &box, 0, 1, 0);
    map[1 * 20 + 1] = 1;  /* a tie before it in row-major order, far away: decides, and misses */
    map[8 * 20 + 7] = 1;  /* and one inside */
    pointing_case("tied maxima", map, &box, 0, 3, 1);
    cv_eval_box bad = {10, 0, 5, 5};
    cv_eval_pointing p;
    cv_error err;
    CHECK(cv_eval_pointing_game(map, 20, 20, 200, 200, &bad, 15, &p, &err) == CV_ERR_INVALID, "x0 > x1 accepted");
}

/* Sanity check on the explain fixture's ResNet-like net: randomising every
 * layer must change the map, and the model must come back as it was. */
static void test_sanity_changes(void)
{
    cv_model *m = NULL;
    float *x = NULL;
    cv_shape xs;
    cv_error err;
    REQUIRE(cv_model_load(&m, "tests/fixtures/explain/res/model.onnx", NULL, &err) == CV_OK &&
                cv_npy_read("tests/fixtures/explain/res/input.npy", &xs, &x, &err) == CV_OK,
            "%s", err.msg);
    const cv_explain_method methods[2] = {CV_EXPLAIN_SALIENCY, CV_EXPLAIN_GRADCAM};
    float *first = NULL;
    size_t pixels = (size_t)xs.d[2] * xs.d[3];
    for (int t = 0; t < 4; t++) {
        cv_eval_sanity_options o = cv_eval_sanity_defaults();
        o.method = methods[t % 2];
        o.seed = 5;
        cv_eval_sanity s;
        cv_status st = cv_eval_sanity_run(m, &xs, x, -1, &o, &s, &err);
        if (st != CV_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        int L = s.n_layers;
        printf("    %s, %d layers: rank correlation per k", cv_explain_method_name(o.method), L);
        for (int k = 0; k < L; k++)
            printf(" %.3f%s", s.rank_correlation[k], s.unchanged[k] ? "*" : "");
        printf("; SSIM at k = L %.3f\n", s.ssim[L - 1]);
        CHECK(L == 5, "%d parameterised layers, want 5 (4 Conv, 1 Gemm)", L);
        CHECK(fabs(s.rank_correlation[L - 1]) < 0.5 && !s.unchanged[L - 1], "all randomised: correlation %.3f",
              s.rank_correlation[L - 1]);
        if (t == 0)
            first = memcpy(malloc(pixels * sizeof(float)), s.maps, pixels * sizeof(float));
        if (t == 2) { /* the same again: the weights were restored */
            double d = 0;
            for (size_t k = 0; k < pixels; k++)
                d = fmax(d, fabs(first[k] - s.maps[k]));
            CHECK(d == 0, "the second run's original map differs by %.2e: weights not restored", d);
        }
        cv_eval_sanity_free(&s);
    }
    free(first);
    free(x);
    cv_model_free(m);
}

/* Conv(3 -> 1) -> Relu -> GlobalAveragePool -> Gemm(1 -> 2): the Gemm only
 * scales the one feature, so re-drawing it leaves the saliency map's ranks
 * as they were (flagged unchanged); re-drawing the Conv changes them. */
static void test_sanity_known(void)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, 12, 12}};
    test_seed(42);
    int v = nb_begin(&nb, &xs, 13);
    v = nb_conv(&nb, v, 3, 1, 3, 1, 1, 1);
    v = nb_unary(&nb, "Relu", v);
    v = nb_unary(&nb, "GlobalAveragePool", v);
    v = nb_gemm(&nb, v, 1, 2);
    cv_model *m = nb_end(&nb, v);
    REQUIRE(m, "%s", nb.err.msg);
    float x[3 * 12 * 12];
    for (int k = 0; k < 3 * 12 * 12; k++)
        x[k] = (float)sin(k * 0.37) + 0.5f;
    cv_eval_sanity_options o = cv_eval_sanity_defaults();
    o.seed = 3;
    cv_eval_sanity s;
    cv_error err;
    cv_status st = cv_eval_sanity_run(m, &xs, x, 0, &o, &s, &err);
    if (st == CV_OK) {
        printf("    Gemm re-drawn: rank correlation %.4f SSIM %.4f%s; Conv too: %.4f SSIM %.4f%s\n",
               s.rank_correlation[0], s.ssim[0], s.unchanged[0] ? " (unchanged)" : "", s.rank_correlation[1],
               s.ssim[1], s.unchanged[1] ? " (unchanged)" : "");
        CHECK(s.n_layers == 2, "%d layers", s.n_layers);
        CHECK(s.unchanged[0] && s.rank_correlation[0] > 0.9999 && s.ssim[0] > 0.9999, "Gemm: %.4f %.4f",
              s.rank_correlation[0], s.ssim[0]);
        CHECK(!s.unchanged[1] && s.rank_correlation[1] < 0.9, "Conv: %.4f", s.rank_correlation[1]);
        cv_eval_sanity_free(&s);
    } else {
        CHECK(0, "%s", err.msg);
    }
    o.method = CV_EXPLAIN_RISE;
    CHECK(cv_eval_sanity_run(m, &xs, x, 0, &o, &s, &err) == CV_ERR_INVALID, "RISE accepted for the sanity check");
    cv_model_free(m);
}

/* cnnviz eval on the NHWC fixture: curves.csv holds the reference curves,
 * and the pictures and eval.json are written. */
static void test_cli(void)
{
    char dir[128], cmd[2048], path[256];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "eval"), "no scratch folder");
    ref_case c[16];
    int n = read_manifest(c, 16), k = 0;
    while (k < n && !(strcmp(c[k].net, "nhwc") == 0 && c[k].steps == 10 && strcmp(c[k].map, "map_smooth") == 0))
        k++;
    REQUIRE(k < n, "no nhwc case");
    snprintf(cmd, sizeof cmd,
             "%s eval --model " DIR "/nhwc.onnx --input " DIR "/nhwc_input.npy --map " DIR "/map_smooth.npy "
             "--class %d --steps 10 --metric all --pointing 0,0,12,10 --sanity --out %s/out > %s/log 2>&1",
             cli_path_buf, c[k].target, dir, dir);
    int rc = system(cmd);
    CHECK(rc == 0, "cnnviz eval exited %d (%s)", rc, cmd);
    long np[1100];
    double del[1100], ins[1100];
    REQUIRE(read_curves(&c[k], np, del, ins), "no reference");
    snprintf(path, sizeof path, "%s/out/curves.csv", dir);
    FILE *f = fopen(path, "r");
    double d = f ? 0 : INFINITY;
    int rows = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int i;
        double fr, pd, pi;
        if (sscanf(line, "%d,%lf,%lf,%lf", &i, &fr, &pd, &pi) == 4 && i == rows && i <= 10) {
            d = fmax(d, fmax(fabs(pd - del[i]), fabs(pi - ins[i])));
            rows++;
        }
    }
    if (f)
        fclose(f);
    printf("    cnnviz eval: curves.csv %d rows, max |diff| %.2e\n", rows, d);
    CHECK(rows == 11 && d <= CURVE_TOL, "%d rows, diff %.2e", rows, d);
    const char *files[] = {"curves.png", "eval.json", "sanity.png"};
    for (int j = 0; j < 3; j++) {
        snprintf(path, sizeof path, "%s/out/%s", dir, files[j]);
        FILE *g = fopen(path, "rb");
        CHECK(g != NULL, "no %s", files[j]);
        if (g)
            fclose(g);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* sanity.png: the original and k = 1..L as a grid that wraps: 26 layers
 * (SqueezeNet's) in rows of 9, not one strip 27 maps wide; each map drawn
 * at the top of its panel with its caption under it; 2 layers in a row. */
static void test_sanity_picture(void)
{
    enum { L = 26, H = 6, W = 5 };
    float maps[(L + 1) * H * W];
    double r[L], ssim[L];
    int layer[L], unchanged[L];
    for (int i = 0; i < (L + 1) * H * W; i++)
        maps[i] = (float)((i * 7919) % 13);
    for (int k = 0; k < L; k++)
        r[k] = 0.5, ssim[k] = 0.25, layer[k] = k, unchanged[k] = k == 0;
    cv_eval_sanity s = {CV_EXPLAIN_SALIENCY, 3, H, W, L, layer, maps, r, ssim, unchanged, 0};
    cv_image pic;
    cv_error err;
    REQUIRE(cv_eval_render_sanity(NULL, &s, &pic, &err) == CV_OK, "%s", err.msg);
    printf("    26 layers: %d x %d pixels\n", pic.w, pic.h);
    CHECK(pic.w < 2000 && pic.h > 600 && pic.w > pic.h, "26 layers drawn %d x %d: not a wrapped grid", pic.w, pic.h);
    cv_image_free(&pic);
    s.n_layers = 2;
    REQUIRE(cv_eval_render_sanity(NULL, &s, &pic, &err) == CV_OK, "%s", err.msg);
    CHECK(pic.h < 400, "2 layers drawn %d high: not one row", pic.h);
    cv_image_free(&pic);
    s.n_layers = 0;
    CHECK(cv_eval_render_sanity(NULL, &s, &pic, &err) == CV_ERR_INVALID, "no layers accepted");
}

/* eval.json is JSON whatever the class names hold: a labels file whose
 * names have quotes, a backslash and a byte that is not UTF-8 gives a
 * file cJSON parses back, with the first two names as they were and the
 * third in its printable form; the pointing game and the sanity check's
 * entries are there too. */
static void test_cli_json_escaping(void)
{
    char dir[128], cmd[2048], path[256];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "eval-json"), "no scratch folder");
    static const char *names[5] = {"say \"cheese\"", "back\\slash \"and\" quote", "caf\xe9", "d", "e"};
    snprintf(path, sizeof path, "%s/labels.txt", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f, "cannot write %s", path);
    for (int k = 0; k < 5; k++)
        fprintf(f, "%s\n", names[k]);
    fclose(f);
    for (int target = 0; target < 3; target++) {
        snprintf(cmd, sizeof cmd,
                 "%s eval --model " DIR "/nhwc.onnx --input " DIR "/nhwc_input.npy --map " DIR "/map_smooth.npy "
                 "--class %d --steps 4 --labels %s/labels.txt --pointing 0,0,12,10 --sanity --out %s/out%d "
                 "> %s/log 2>&1",
                 cli_path_buf, target, dir, dir, target, dir);
        int rc = system(cmd);
        REQUIRE(rc == 0, "cnnviz eval exited %d (%s)", rc, cmd);
        snprintf(path, sizeof path, "%s/out%d/eval.json", dir, target);
        uint8_t *text = NULL;
        size_t len;
        cv_error err;
        REQUIRE(cv_file_read_all(path, "eval.json", 1 << 20, &text, &len, &err) == CV_OK, "%s", err.msg);
        cJSON *root = cJSON_ParseWithLength((const char *)text, len);
        cJSON *name = cJSON_GetObjectItem(root, "class_name");
        const char *want = target == 2 ? "caf\\xe9" : names[target];
        CHECK(root != NULL, "eval.json does not parse:\n%s", (const char *)text);
        CHECK(cJSON_IsString(name) && strcmp(name->valuestring, want) == 0, "class_name is %s, expected %s",
              cJSON_IsString(name) ? name->valuestring : "(none)", want);
        cJSON *pointing = cJSON_GetObjectItem(root, "pointing"), *sanity = cJSON_GetObjectItem(root, "sanity");
        CHECK(cJSON_GetArraySize(pointing) == 1 && cJSON_IsBool(cJSON_GetObjectItem(cJSON_GetArrayItem(pointing, 0),
                                                                                   "hit")),
              "eval.json: no pointing entry");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(sanity, "layers")) >= 1, "eval.json: no sanity layers");
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(root, "deletion_auc")), "eval.json: no deletion AUC");
        if (target == 1)
            printf("    class_name %s read back from eval.json\n", name ? name->valuestring : "-");
        cJSON_Delete(root);
        free(text);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "    could not remove %s\n", dir);
}

/* Captum's occlusion attribution on a 4 x 4 input, 2 x 2 windows at
 * stride 1 (3 x 3 positions): pixel (0, 0) is under window (0, 0) only,
 * pixel (1, 1) under the four windows (0..1, 0..1). */
static void test_occlusion_attribution(void)
{
    cv_occlusion_geometry g = {1, 4, 4, 0};
    double p[9];
    for (int k = 0; k < 9; k++)
        p[k] = 0.1 * k;
    float a[16];
    cv_error err;
    REQUIRE(cv_occlusion_attribution(a, p, 0.9, &g, 2, 1, &err) == CV_OK, "%s", err.msg);
    double want00 = 0.9 - p[0], want11 = 0.9 - (p[0] + p[1] + p[3] + p[4]) / 4, want33 = 0.9 - p[8];
    double d = fmax(fabs(a[0] - want00), fmax(fabs(a[5] - want11), fabs(a[15] - want33)));
    printf("    occlusion attribution: max |diff| %.2e at three pixels\n", d);
    CHECK(d < 1e-7, "attribution %g %g %g, want %g %g %g", a[0], a[5], a[15], want00, want11, want33);
    /* stride 3 > window 2: pixel 2 of each row is under no window: 0 */
    double q[4] = {0.5, 0.5, 0.5, 0.5};
    cv_occlusion_geometry g5 = {1, 5, 5, 0};
    float b[25];
    REQUIRE(cv_occlusion_attribution(b, q, 0.9, &g5, 2, 3, &err) == CV_OK, "%s", err.msg);
    CHECK(b[2] == 0.0f && fabsf(b[0] - 0.4f) < 1e-6f, "uncovered %g, covered %g", b[2], b[0]);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    int build_len = slash ? (int)(slash - argv[0]) - 6 : 0; /* argv[0] is BUILD/tests/test_eval */
    snprintf(cli_path_buf, sizeof cli_path_buf, "%.*s/cnnviz", build_len > 0 ? build_len : 0, argv[0]);
    RUN(test_ranking_steps_auc);
    RUN(test_blur_reference);
    RUN(test_curves_reference);
    RUN(test_deletion_fills);
    RUN(test_pointing_game);
    RUN(test_sanity_changes);
    RUN(test_sanity_known);
    RUN(test_occlusion_attribution);
    RUN(test_cli);
    RUN(test_cli_json_escaping);
    RUN(test_sanity_picture);
    return test_summary("eval");
}
