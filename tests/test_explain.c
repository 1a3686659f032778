/* Attribution methods (include/cnnviz_explain.h) against PyTorch autograd
 * (tests/fixtures/make_explain_ref.py: every method from its published
 * definition, in float64). Tolerance: the C result's max abs error over
 * the reference's max |value| must be within ERR_FACTOR times what
 * PyTorch's own float32 computation loses (the fixture's ERR32), and never
 * needs to be tighter than ERR_FLOOR. Also: Integrated Gradients'
 * completeness at 256 steps, the Adebayo et al. (2018) model-randomisation
 * sanity check, batching and the helpers. */
#include "cnnviz_explain.h"
#include "cnnviz_io.h"
#include "../src/core/graph.h"
#include "lib/realdata.h"
#include "lib/test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_DIR "tests/fixtures/explain"
#define ERR_FACTOR 20.0
#define ERR_FLOOR 2e-6
#define COMPLETENESS_TOL 1e-3

typedef struct {
    char dir[512];
    int target;
    int samples, seed, steps, rise_samples, rise_grid, rise_seed;
    double sigma, rise_p;
    int layer_shape[3];
    int n;
    char method[CV_EXPLAIN_COUNT][32], file[CV_EXPLAIN_COUNT][64];
    double err32[CV_EXPLAIN_COUNT];
} fixture;

static bool read_fixture(const char *dir, fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    char path[600], line[512];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    while (fgets(line, sizeof line, fp)) {
        if (sscanf(line, "target %d", &f->target) == 1)
            continue;
        if (sscanf(line, "params samples %d sigma %lf seed %d steps %d rise_samples %d rise_grid %d rise_p %lf rise_seed %d",
                   &f->samples, &f->sigma, &f->seed, &f->steps, &f->rise_samples, &f->rise_grid, &f->rise_p,
                   &f->rise_seed) == 8)
            continue;
        if (sscanf(line, "layer_shape %d %d %d", &f->layer_shape[0], &f->layer_shape[1], &f->layer_shape[2]) == 3)
            continue;
        if (f->n < CV_EXPLAIN_COUNT &&
            sscanf(line, "%31s %63s %lf", f->method[f->n], f->file[f->n], &f->err32[f->n]) == 3)
            f->n++;
    }
    fclose(fp);
    return f->n > 0;
}

typedef struct {
    cv_model *m;
    float *x;
    cv_shape shape;
} loaded;

static bool load_net(const fixture *f, loaded *L)
{
    char path[600];
    cv_error err;
    memset(L, 0, sizeof *L);
    snprintf(path, sizeof path, "%s/model.onnx", f->dir);
    if (cv_model_load(&L->m, path, NULL, &err) != CV_OK) {
        fprintf(stderr, "    %s\n", err.msg);
        return false;
    }
    snprintf(path, sizeof path, "%s/input.npy", f->dir);
    if (cv_npy_read(path, &L->shape, &L->x, &err) != CV_OK) {
        fprintf(stderr, "    %s\n", err.msg);
        return false;
    }
    return true;
}

static void free_net(loaded *L)
{
    cv_model_free(L->m);
    free(L->x);
}

static cv_explain_options fixture_options(const fixture *f, cv_explain_method method)
{
    cv_explain_options o = cv_explain_defaults();
    o.sigma = f->sigma;
    o.steps = f->steps;
    o.samples = method == CV_EXPLAIN_RISE ? f->rise_samples : f->samples;
    o.seed = (uint64_t)(method == CV_EXPLAIN_RISE ? f->rise_seed : f->seed);
    o.rise_grid = f->rise_grid;
    o.rise_p = f->rise_p;
    return o;
}

/* Every method of one fixture net against PyTorch. */
static void check_fixture(const char *dir)
{
    fixture f;
    REQUIRE(read_fixture(dir, &f), "cannot read %s/manifest.txt", dir);
    loaded L;
    if (!load_net(&f, &L)) {
        free_net(&L);
        REQUIRE(0, "cannot load %s", dir);
    }
    for (int k = 0; k < f.n; k++) {
        cv_error err;
        cv_explain_method method;
        if (cv_explain_method_from_name(&method, f.method[k], &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        cv_explain_options o = fixture_options(&f, method);
        cv_explainer *ex = NULL;
        cv_explain_result res = {0};
        if (cv_explainer_create(&ex, L.m, &L.shape, L.x, &o, &err) != CV_OK ||
            cv_explain_run(ex, method, f.target, &res, &err) != CV_OK) {
            CHECK(0, "%s: %s: %s", dir, f.method[k], err.msg);
            cv_explainer_free(ex);
            continue;
        }
        CHECK(cv_explainer_top_class(ex) == f.target, "top class %d, PyTorch %d", cv_explainer_top_class(ex),
              f.target);
        char path[700];
        cv_shape rs;
        float *ref = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, f.file[k]);
        if (cv_npy_read(path, &rs, &ref, &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
        } else if (!cv_shape_equal(&rs, &res.attr_shape)) {
            char a[160], b[160];
            CHECK(0, "%s: attribution %s, PyTorch %s", f.method[k], cv_shape_str(&res.attr_shape, a, sizeof a),
                  cv_shape_str(&rs, b, sizeof b));
        } else {
            size_t n = cv_shape_numel(&rs);
            double rel = test_max_rel_diff(res.attribution, ref, n);
            double tol = fmax(ERR_FACTOR * f.err32[k], ERR_FLOOR);
            printf("    %-28s %-15s max rel error %.2e (PyTorch float32 %.2e, tolerance %.1e)\n", dir, f.method[k],
                   rel, f.err32[k], tol);
            CHECK(rel <= tol, "%s %s: max rel error %.3g > %.3g", dir, f.method[k], rel, tol);
        }
        if (cv_explain_method_uses_layer(method) && method != CV_EXPLAIN_GUIDED_GRADCAM) {
            CHECK(res.attr_shape.d[0] == f.layer_shape[1] && res.attr_shape.d[1] == f.layer_shape[2],
                  "CAM at %lld x %lld, PyTorch's layer is %d x %d", (long long)res.attr_shape.d[0],
                  (long long)res.attr_shape.d[1], f.layer_shape[1], f.layer_shape[2]);
        }
        free(ref);
        cv_explain_result_free(&res);
        cv_explainer_free(ex);
    }
    free_net(&L);
}

static void test_small_cnn(void) { check_fixture(SMALL_DIR "/cnn"); }
static void test_small_resnet(void) { check_fixture(SMALL_DIR "/res"); }

static const char *large_dir(void)
{
    const char *d = getenv("CNNVIZ_EXPLAIN_DIR");
    return d && *d ? d : "build/fixtures/explain";
}

static void check_large(const char *name)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", large_dir(), name);
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        SKIP("%.200s absent (make fixtures-explain-large EXPLAIN_MODELS=%s)", path, name);
    fclose(fp);
    check_fixture(dir);
}

static void test_resnet18(void) { check_large("resnet18"); }
static void test_vgg16(void) { check_large("vgg16"); }
static void test_mobilenet_v2(void) { check_large("mobilenet_v2"); }

/* Integrated Gradients' completeness: sum of the attribution = y(x) - y(x')
 * as the steps grow. The right Riemann sum's gap is first order,
 * about (y'(1) - y'(0)) / (2 n) along the path: a property of the model,
 * not of the arithmetic (the attribution matches PyTorch's float64 to 1e-7
 * above). Measured at 256 steps on the trained Fashion-MNIST CNN and the
 * small nets it is 6e-5 to 4.4e-3 (printed), so 1e-3 at 256 steps holds
 * only for some images; checked: the gap at 256 steps below 1e-2, at 2048
 * steps below 1e-3, and shrinking at least 3x from 256 to 2048 steps (a
 * bias that does not converge would fail this). */
static double completeness_gap(const cv_model *m, const cv_shape *shape, const float *x, const float *base, int steps)
{
    cv_explain_options o = cv_explain_defaults();
    o.steps = steps;
    o.baseline = base;
    cv_explainer *ex = NULL;
    cv_explain_result res = {0};
    cv_error err;
    double rel = NAN;
    if (cv_explainer_create(&ex, m, shape, x, &o, &err) != CV_OK ||
        cv_explain_run(ex, CV_EXPLAIN_IG, cv_explainer_top_class(ex), &res, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
    } else {
        double want = res.score - res.baseline_score;
        rel = fabs(res.attribution_sum - want) / fabs(want);
    }
    cv_explain_result_free(&res);
    cv_explainer_free(ex);
    return rel;
}

static void check_completeness(const char *what, const cv_model *m, const cv_shape *shape, const float *x)
{
    size_t n = cv_shape_numel(shape);
    float *mean_base = malloc(n * sizeof(float));
    REQUIRE(mean_base, "out of memory");
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    for (size_t i = 0; i < n; i++)
        mean_base[i] = (float)(mean / (double)n);
    for (int b = 0; b < 2; b++) {
        double g256 = completeness_gap(m, shape, x, b ? mean_base : NULL, 256);
        double g2048 = completeness_gap(m, shape, x, b ? mean_base : NULL, 2048);
        printf("    %-28s %s baseline: relative gap |sum - (y(x) - y(x'))| / |y(x) - y(x')| %.2e at 256 steps, %.2e "
               "at 2048\n", what, b ? "mean" : "zero", g256, g2048);
        CHECK(g256 <= 1e-2 && g2048 <= COMPLETENESS_TOL && (g2048 <= g256 / 3 || g256 < 1e-4),
              "%s: completeness gaps %.3g (256 steps), %.3g (2048)", what, g256, g2048);
    }
    free(mean_base);
}

static void check_completeness_fixture(const char *dir)
{
    fixture f;
    loaded L;
    if (!read_fixture(dir, &f) || !load_net(&f, &L))
        REQUIRE(0, "cannot load %s", dir);
    check_completeness(dir, L.m, &L.shape, L.x);
    free_net(&L);
}

static void test_ig_completeness(void)
{
    const char *samples[] = {"ankle_boot.png", "bag.png"};
    cv_error err;
    cv_model *m = NULL;
    cv_preprocess p;
    REQUIRE(cv_model_load(&m, "models/fashion_cnn.onnx", NULL, &err) == CV_OK &&
                cv_preprocess_preset(&p, "unit", &err) == CV_OK, "%s", err.msg);
    const char *mean = cv_model_meta(m, "mean"), *std = cv_model_meta(m, "std");
    if ((mean && cv_preprocess_set_mean(&p, mean, &err) != CV_OK) || (std && cv_preprocess_set_std(&p, std, &err) != CV_OK))
        CHECK(0, "%s", err.msg);
    cv_shape xs = {4, {1, 1, 28, 28}};
    for (size_t k = 0; k < sizeof samples / sizeof *samples; k++) {
        char path[200];
        snprintf(path, sizeof path, "models/samples/%s", samples[k]);
        cv_image img;
        if (cv_image_load(&img, path, &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        float x[28 * 28];
        if (img.w == 28 && img.h == 28) {
            cv_preprocess_image(&p, &img, 1, 0, x);
            check_completeness(samples[k], m, &xs, x);
        }
        cv_image_free(&img);
    }
    cv_model_free(m);
    check_completeness_fixture(SMALL_DIR "/res");
    check_completeness_fixture(SMALL_DIR "/cnn");
}

/* One method's map for the net as it is now. */
static float *method_map(loaded *L, cv_explain_method method, int target)
{
    cv_explainer *ex = NULL;
    cv_explain_result res = {0};
    cv_error err;
    float *map = NULL;
    if (cv_explainer_create(&ex, L->m, &L->shape, L->x, NULL, &err) == CV_OK &&
        cv_explain_run(ex, method, target, &res, &err) == CV_OK) {
        map = res.map;
        res.map = NULL;
    } else {
        fprintf(stderr, "    %s\n", err.msg);
    }
    cv_explain_result_free(&res);
    cv_explainer_free(ex);
    return map;
}

/* Adebayo et al. 2018, cascading randomisation: re-draw the weights of the
 * last layers (from the logits down to the last convolution) and a method
 * that depends on the model must give a different map. The same model
 * twice gives rank correlation 1 (the control). */
static void test_sanity_randomisation(void)
{
    fixture f;
    loaded L;
    REQUIRE(read_fixture(SMALL_DIR "/res", &f) && load_net(&f, &L), "cannot load the fixture");
    const cv_explain_method methods[] = {CV_EXPLAIN_GRADCAM, CV_EXPLAIN_SALIENCY};
    float *before[2], *again[2], *after[2];
    size_t n = (size_t)L.shape.d[2] * L.shape.d[3];
    for (int k = 0; k < 2; k++) {
        before[k] = method_map(&L, methods[k], f.target);
        again[k] = method_map(&L, methods[k], f.target);
    }
    /* the weights of the Gemm and of the last two Convs */
    test_seed(2018);
    int redrawn = 0;
    for (int k = L.m->n_nodes - 1; k >= 0 && redrawn < 3; k--) {
        cv_node *nd = &L.m->nodes[k];
        if (strcmp(nd->op_type, "Gemm") && strcmp(nd->op_type, "Conv") && strcmp(nd->op_type, "MatMul"))
            continue;
        cv_value *w = &L.m->values[nd->in[1]];
        if (w->data && w->dtype == CV_F32) {
            size_t count = cv_shape_numel(&w->shape);
            float scale = 0;
            for (size_t i = 0; i < count; i++)
                scale = fmaxf(scale, fabsf(((float *)w->data)[i]));
            test_fill(w->data, count, -scale, scale);
            redrawn++;
        }
    }
    CHECK(redrawn == 3, "redrew %d layers", redrawn);
    for (int k = 0; k < 2; k++)
        after[k] = method_map(&L, methods[k], f.target);
    for (int k = 0; k < 2; k++) {
        if (!before[k] || !again[k] || !after[k]) {
            CHECK(0, "%s failed", cv_explain_method_name(methods[k]));
            continue;
        }
        double same = cv_explain_rank_correlation(before[k], again[k], n);
        double rnd = cv_explain_rank_correlation(before[k], after[k], n);
        printf("    %s: rank correlation with itself %.3f, after randomising the last 3 layers %.3f (must drop "
               "below 0.5)\n", cv_explain_method_name(methods[k]), same, rnd);
        CHECK(same > 0.999, "the same model gave correlation %.3f", same);
        CHECK(rnd < 0.5, "randomised model still correlates %.3f", rnd);
    }
    for (int k = 0; k < 2; k++) {
        free(before[k]);
        free(again[k]);
        free(after[k]);
    }
    free_net(&L);
}

/* SmoothGrad and RISE give the same result whatever the batch (partial
 * last batches included), and the same seed the same result. */
static void test_batching(void)
{
    fixture f;
    loaded L;
    REQUIRE(read_fixture(SMALL_DIR "/cnn", &f) && load_net(&f, &L), "cannot load the fixture");
    const cv_explain_method methods[] = {CV_EXPLAIN_SMOOTHGRAD, CV_EXPLAIN_RISE, CV_EXPLAIN_SCORECAM, CV_EXPLAIN_IG};
    for (int k = 0; k < 4; k++) {
        float *attr[2] = {NULL, NULL};
        size_t n = 0;
        for (int b = 0; b < 2; b++) {
            cv_explain_options o = fixture_options(&f, methods[k]);
            o.batch = b ? 3 : 1;
            cv_explainer *ex = NULL;
            cv_explain_result res = {0};
            cv_error err;
            if (cv_explainer_create(&ex, L.m, &L.shape, L.x, &o, &err) == CV_OK &&
                cv_explain_run(ex, methods[k], f.target, &res, &err) == CV_OK) {
                attr[b] = res.attribution;
                res.attribution = NULL;
                n = cv_shape_numel(&res.attr_shape);
                CHECK(res.batch == o.batch, "batch %d, asked %d", res.batch, o.batch);
            } else {
                CHECK(0, "%s", err.msg);
            }
            cv_explain_result_free(&res);
            cv_explainer_free(ex);
        }
        if (attr[0] && attr[1]) {
            double rel = test_max_rel_diff(attr[1], attr[0], n);
            CHECK(rel < 1e-5, "%s: batch 3 vs batch 1: %.3g", cv_explain_method_name(methods[k]), rel);
        }
        free(attr[0]);
        free(attr[1]);
    }
    free_net(&L);
}

/* One explainer moved to a second image (cv_explainer_set_input) gives
 * what a fresh explainer on that image gives, for every method, after its
 * kept runs were used on the first image. */
static void test_set_input(void)
{
    fixture f;
    loaded L;
    REQUIRE(read_fixture(SMALL_DIR "/cnn", &f) && load_net(&f, &L), "cannot load the fixture");
    size_t numel = cv_shape_numel(&L.shape);
    float *other = malloc(numel * sizeof(float));
    REQUIRE(other, "out of memory");
    for (size_t i = 0; i < numel; i++)
        other[i] = 0.5f - L.x[i] + 0.01f * (float)(i % 7);
    for (int k = 0; k < f.n; k++) {
        cv_explain_method method;
        cv_error err;
        if (cv_explain_method_from_name(&method, f.method[k], &err) != CV_OK)
            continue;
        cv_explain_options o = fixture_options(&f, method);
        cv_explainer *moved = NULL, *fresh = NULL;
        cv_explain_result first = {0}, a = {0}, b = {0};
        bool ok = cv_explainer_create(&moved, L.m, &L.shape, other, &o, &err) == CV_OK &&
                  cv_explain_run(moved, method, f.target, &first, &err) == CV_OK &&
                  cv_explainer_set_input(moved, L.x, &err) == CV_OK &&
                  cv_explain_run(moved, method, f.target, &a, &err) == CV_OK &&
                  cv_explainer_create(&fresh, L.m, &L.shape, L.x, &o, &err) == CV_OK &&
                  cv_explain_run(fresh, method, f.target, &b, &err) == CV_OK;
        CHECK(ok, "%s: %s", f.method[k], err.msg);
        if (ok) {
            size_t n = cv_shape_numel(&b.attr_shape);
            double rel = test_max_rel_diff(a.attribution, b.attribution, n);
            double moved_first = test_max_rel_diff(first.attribution, b.attribution, n);
            printf("    %-15s moved vs fresh %.3g (first image vs second %.3g)\n", f.method[k], rel, moved_first);
            CHECK(rel == 0, "%s: the moved explainer differs by %.3g", f.method[k], rel);
            CHECK(moved_first > 1e-3, "%s: the two images give the same attribution", f.method[k]);
            int nc = 0;
            const float *pa = cv_explainer_probs(moved, &nc), *pb = cv_explainer_probs(fresh, NULL);
            CHECK(memcmp(pa, pb, (size_t)nc * sizeof(float)) == 0, "%s: probabilities differ", f.method[k]);
        }
        cv_explain_result_free(&first);
        cv_explain_result_free(&a);
        cv_explain_result_free(&b);
        cv_explainer_free(moved);
        cv_explainer_free(fresh);
    }
    free(other);
    free_net(&L);
}

/* The upsampling against hand values (PyTorch's interpolate, align_corners
 * False, 2 x 2 -> 4 x 4), the rank correlation on known cases, names. */
static void test_helpers(void)
{
    const float in[4] = {0, 1, 2, 3};
    float out[16];
    cv_explain_upsample(out, 4, 4, in, 2, 2);
    const float want[16] = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
    CHECK(test_max_abs_diff(out, want, 16) < 1e-6, "upsample differs by %g", test_max_abs_diff(out, want, 16));
    const float a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, c[5] = {5, 4, 3, 2, 1}, d[5] = {1, 1, 2, 2, 3};
    CHECK(fabs(cv_explain_rank_correlation(a, b, 5) - 1) < 1e-12, "monotone: %g", cv_explain_rank_correlation(a, b, 5));
    CHECK(fabs(cv_explain_rank_correlation(a, c, 5) + 1) < 1e-12, "reversed: %g", cv_explain_rank_correlation(a, c, 5));
    /* ties: ranks of d are 1.5 1.5 3.5 3.5 5 -> Pearson with 1..5 = 0.9487 */
    CHECK(fabs(cv_explain_rank_correlation(a, d, 5) - 0.9486833) < 1e-6, "ties: %g",
          cv_explain_rank_correlation(a, d, 5));
    for (int k = 0; k < CV_EXPLAIN_COUNT; k++) {
        cv_explain_method m;
        cv_error err;
        CHECK(cv_explain_method_from_name(&m, cv_explain_method_name((cv_explain_method)k), &err) == CV_OK &&
                  m == (cv_explain_method)k, "name %d", k);
    }
    cv_explain_method m;
    cv_error err;
    CHECK(cv_explain_method_from_name(&m, "gradcam+", &err) == CV_ERR_INVALID && strstr(err.msg, "gradcam++"),
          "unknown names are refused with the list: %s", err.msg);
}

/* Bad arguments: a class out of range, a layer that is not spatial. */
static void test_errors(void)
{
    fixture f;
    loaded L;
    REQUIRE(read_fixture(SMALL_DIR "/cnn", &f) && load_net(&f, &L), "cannot load the fixture");
    cv_explainer *ex = NULL;
    cv_explain_result res;
    cv_error err;
    cv_explain_options o = cv_explain_defaults();
    if (cv_explainer_create(&ex, L.m, &L.shape, L.x, &o, &err) != CV_OK) {
        free_net(&L);
        REQUIRE(0, "%s", err.msg);
    }
    CHECK(cv_explainer_before_softmax(ex) == 1, "the cnn fixture ends in Softmax: scores are its input");
    CHECK(cv_explain_run(ex, CV_EXPLAIN_SALIENCY, 10, &res, &err) == CV_ERR_INVALID && strstr(err.msg, "0..9"),
          "class 10 of 10: %s", err.msg);
    int logits = cv_explainer_logit_layer(ex);
    cv_explainer_free(ex);
    ex = NULL;
    o.layer = logits; /* [1, 10]: no spatial axes */
    if (cv_explainer_create(&ex, L.m, &L.shape, L.x, &o, &err) == CV_OK)
        CHECK(cv_explain_run(ex, CV_EXPLAIN_GRADCAM, 0, &res, &err) == CV_ERR_INVALID && strstr(err.msg, "[1, K, h, w]"),
              "a 2-D layer for Grad-CAM: %s", err.msg);
    cv_explainer_free(ex);
    free_net(&L);
}

/* A real classifier's Grad-CAM falls on the object: ../shared SqueezeNet
 * 1.1 (ImageNet, float16) on photos with a hand-drawn box of the object
 * (shared/images/boxes.txt). The share of the map's mass inside the box
 * must be most of it (above one half) and well above the box's share of
 * the image (what a flat map would give): at least 1.25 times. */
static void check_gradcam_on_object(const char *shared, const char *image, int want_class)
{
    cv_model *m = NULL;
    float *x = NULL;
    int w = 0, h = 0, box[4];
    cv_error err;
    REQUIRE(test_shared_box(shared, image, box), "no box for %s in boxes.txt", image);
    REQUIRE(test_squeezenet_image(shared, image, true, &m, &x, &w, &h, &err) == CV_OK, "%s", err.msg);
    cv_shape shape = {4, {1, 3, 224, 224}};
    cv_explainer *ex = NULL;
    cv_explain_result res = {0};
    if (cv_explainer_create(&ex, m, &shape, x, NULL, &err) != CV_OK ||
        cv_explain_run(ex, CV_EXPLAIN_GRADCAM, cv_explainer_top_class(ex), &res, &err) != CV_OK) {
        CHECK(0, "%s: %s", image, err.msg);
    } else {
        double inside = 0, total = 0, box_px = 0;
        for (int i = 0; i < 224; i++)
            for (int j = 0; j < 224; j++) {
                /* the pixel's centre in the original photo */
                double ox = (j + 0.5) * w / 224.0, oy = (i + 0.5) * h / 224.0;
                bool in = ox >= box[0] && ox < box[2] && oy >= box[1] && oy < box[3];
                double v = res.map[(size_t)i * 224 + j];
                total += v;
                inside += in ? v : 0;
                box_px += in;
            }
        double mass = total > 0 ? inside / total : 0, area = box_px / (224.0 * 224.0);
        printf("    %s: class %d (p %.3f), layer %s: %.1f%% of the Grad-CAM mass inside the object's box, which "
               "covers %.1f%% of the image\n", image, res.target, res.probability, m->nodes[res.layer].name,
               100 * mass, 100 * area);
        CHECK(res.target == want_class, "%s: top class %d, want %d", image, res.target, want_class);
        CHECK(mass > 0.5 && mass >= 1.25 * area, "%s: %.3f of the mass inside a box of %.3f of the image", image,
              mass, area);
    }
    cv_explain_result_free(&res);
    cv_explainer_free(ex);
    cv_model_free(m);
    free(x);
}

static void test_squeezenet_gradcam_on_object(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("../shared is absent (needs SqueezeNet, bus.jpg, kitten_224.png and boxes.txt)");
    check_gradcam_on_object(shared, "bus.jpg", 779);        /* school bus */
    check_gradcam_on_object(shared, "kitten_224.png", 281); /* tabby cat */
}

int main(void)
{
    RUN(test_helpers);
    RUN(test_small_cnn);
    RUN(test_small_resnet);
    RUN(test_ig_completeness);
    RUN(test_sanity_randomisation);
    RUN(test_batching);
    RUN(test_set_input);
    RUN(test_errors);
    RUN(test_resnet18);
    RUN(test_vgg16);
    RUN(test_mobilenet_v2);
    RUN(test_squeezenet_gradcam_on_object);
    return test_summary("explain");
}
