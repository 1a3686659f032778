/* What a C program needs to classify an image, through the public API only
 * (the CLI makes the same calls): the model's input as an image, the
 * preprocessing it declares, an image made into input values, class
 * scores as probabilities, the top k, and the labels a model comes with.
 * Each is checked against a naive reference written here. */
#include "lib/test.h"
#include "lib/netbuild.h"
#include "cnnviz_io.h"
#include <math.h>
#include <string.h>
#include <unistd.h>

static char dir[128];

/* ---- class scores --------------------------------------------------------- */

/* Softmax in long double, without the max shift (the scores are small). */
static void ref_softmax(double *p, const float *s, size_t n)
{
    long double sum = 0;
    for (size_t k = 0; k < n; k++)
        sum += expl((long double)s[k]);
    for (size_t k = 0; k < n; k++)
        p[k] = (double)(expl((long double)s[k]) / sum);
}

static void test_probabilities_softmax_unless_distribution(void)
{
    test_seed(7);
    enum { N = 1000 };
    float s[N], p[N];
    double ref[N];
    /* logits: softmax applied, to float rounding */
    test_fill(s, N, -8, 8);
    for (size_t k = 0; k < N; k++)
        p[k] = NAN;
    CHECK(cv_scores_is_distribution(s, N) == 0, "logits taken for a distribution");
    CHECK(cv_scores_to_probabilities(p, s, N) == 1, "softmax not applied to logits");
    ref_softmax(ref, s, N);
    double worst = 0, sum = 0;
    for (size_t k = 0; k < N; k++) {
        double d = fabs(p[k] - ref[k]) / ref[k];
        worst = d > worst || isnan(d) ? d : worst;
        sum += p[k];
    }
    printf("    softmax of %d logits: max relative difference %.3g, sum %.7f\n", N, worst, sum);
    CHECK(worst < 1e-6, "max relative difference %.3g (tolerance 1e-6)", worst);

    /* a distribution is copied unchanged, bit for bit, in place too */
    float d[4] = {0.1f, 0.2f, 0.3f, 0.4f}, q[4] = {NAN, NAN, NAN, NAN};
    CHECK(cv_scores_is_distribution(d, 4) == 1, "0.1..0.4 is not taken for a distribution");
    CHECK(cv_scores_to_probabilities(q, d, 4) == 0, "softmax applied to a distribution");
    CHECK(memcmp(q, d, sizeof d) == 0, "distribution changed: %g %g %g %g", q[0], q[1], q[2], q[3]);
    CHECK(cv_scores_to_probabilities(d, d, 4) == 0 && d[3] == 0.4f, "in place");

    /* the rule's edges: a sum 2e-3 off 1, one value above 1, NaN */
    float off[3] = {0.5f, 0.3f, 0.202f}, big[2] = {1.5f, -0.5f}, nan3[3] = {0.5f, NAN, 0.5f};
    CHECK(cv_scores_is_distribution(off, 3) == 0, "sum 1.002 taken for a distribution");
    CHECK(cv_scores_is_distribution(big, 2) == 0, "1.5, -0.5 taken for a distribution");
    CHECK(cv_scores_is_distribution(nan3, 3) == 0, "NaN taken for a probability");
    float within[3] = {0.5f, 0.3f, 0.2005f};
    CHECK(cv_scores_is_distribution(within, 3) == 1, "sum 1.0005 (within 1e-3) not a distribution");

    /* large logits do not overflow: the maximum is shifted out */
    float huge[3] = {1000.0f, 999.0f, -1000.0f}, hp[3];
    cv_scores_to_probabilities(hp, huge, 3);
    double e1 = exp(-1.0);
    CHECK(fabs(hp[0] - 1 / (1 + e1)) < 1e-6 && fabs(hp[1] - e1 / (1 + e1)) < 1e-6 && hp[2] == 0.0f,
          "softmax(1000, 999, -1000) = %g %g %g", hp[0], hp[1], hp[2]);
}

/* Reference top k: every index, sorted by the rule with a simple stable
 * insertion sort (higher first, NaN last, ties in index order). */
static bool above(const float *s, int a, int b)
{
    if (isnan(s[a]) || isnan(s[b]))
        return !isnan(s[a]) && isnan(s[b]);
    return s[a] > s[b];
}

static void ref_topk(int *order, const float *s, int n)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && above(s, i, order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

static void test_topk_against_a_sort(void)
{
    test_seed(11);
    static const int sizes[] = {1, 2, 5, 10, 97, 1000};
    static const int ks[] = {1, 3, 5, 10, 1000, 2000};
    int cases = 0;
    for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++) {
        int n = sizes[a];
        float *s = malloc(sizeof(float) * (size_t)n);
        int *ref = malloc(sizeof(int) * (size_t)n), *got = malloc(sizeof(int) * (size_t)n + sizeof(int) * 2000);
        REQUIRE(s && ref && got, "malloc");
        for (int variant = 0; variant < 3; variant++) {
            for (int i = 0; i < n; i++) /* variant 1: many ties; 2: ties and NaNs */
                s[i] = variant == 0 ? test_uniform(-1, 1) : (float)(int)test_uniform(0, 4);
            if (variant == 2)
                for (int i = 0; i < n; i += 3)
                    s[i] = NAN;
            ref_topk(ref, s, n);
            for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
                int k = ks[b];
                for (int i = 0; i < n + 2000; i++)
                    got[i] = -7;
                int m = cv_topk(got, k, s, (size_t)n);
                int want = k < n ? k : n;
                CHECK(m == want, "n %d k %d: returned %d, expected %d", n, k, m, want);
                for (int i = 0; i < want && m == want; i++)
                    if (got[i] != ref[i]) {
                        CHECK(got[i] == ref[i], "n %d k %d variant %d: top[%d] = %d, reference %d", n, k, variant, i,
                              got[i], ref[i]);
                        break;
                    }
                CHECK(k >= n || got[want] == -7, "n %d k %d: wrote past min(k, n)", n, k);
                cases++;
            }
        }
        free(s);
        free(ref);
        free(got);
    }
    float one = 1;
    int t = -7;
    CHECK(cv_topk(&t, 0, &one, 1) == 0 && t == -7, "k 0 wrote");
    CHECK(cv_topk(&t, 3, &one, 0) == 0 && t == -7, "n 0 wrote");
    printf("    %d (n, k, ties/NaN) cases equal a full sort\n", cases);
}

/* ---- the model's input as an image ---------------------------------------- */

static cv_model *net(const cv_shape *xs)
{
    netbuild nb;
    int x = nb_begin(&nb, xs, 13);
    x = nb_unary(&nb, "Relu", x);
    cv_model *m = nb_end(&nb, x);
    if (!m)
        fprintf(stderr, "    netbuild: %s\n", nb.err.msg);
    return m;
}

static void test_input_geometry(void)
{
    cv_error err;
    cv_input_geometry g;
    cv_shape fixed = {4, {1, 3, 32, 24}};
    cv_model *m = net(&fixed);
    REQUIRE(m, "model");
    REQUIRE(cv_model_input_geometry(m, 0, 0, &g, &err) == CV_OK, "%s", err.msg);
    CHECK(g.channels == 3 && g.height == 32 && g.width == 24 && g.nhwc == 0, "got %d x %d x %d nhwc %d", g.channels,
          g.height, g.width, g.nhwc);
    cv_shape s = cv_input_shape(&g, 5);
    cv_shape want = {4, {5, 3, 32, 24}};
    CHECK(cv_shape_equal(&s, &want), "cv_input_shape NCHW");
    REQUIRE(cv_model_input_geometry(m, 64, 48, &g, &err) == CV_OK, "%s", err.msg);
    CHECK(g.height == 64 && g.width == 48, "a given size does not override: %d x %d", g.height, g.width);
    CHECK(cv_model_input_geometry(m, 64, 0, &g, &err) == CV_ERR_INVALID, "height without width accepted");
    /* channels-last */
    m->input_nhwc = 1;
    cv_shape nhwc_decl = {4, {1, 16, 20, 1}};
    nb_model_input(m, m->input, NULL, &nhwc_decl, NULL);
    REQUIRE(cv_model_input_geometry(m, 0, 0, &g, &err) == CV_OK, "%s", err.msg);
    CHECK(g.channels == 1 && g.height == 16 && g.width == 20 && g.nhwc == 1, "NHWC: %d x %d x %d", g.channels,
          g.height, g.width);
    s = cv_input_shape(&g, 2);
    cv_shape want_nhwc = {4, {2, 16, 20, 1}};
    CHECK(cv_shape_equal(&s, &want_nhwc), "cv_input_shape NHWC");
    cv_model_free(m);

    /* a free size needs one; 2 channels and 2-D inputs are not images */
    cv_shape free_size = {4, {-1, 3, -1, -1}};
    REQUIRE((m = net(&free_size)), "model");
    cv_status st = cv_model_input_geometry(m, 0, 0, &g, &err);
    printf("    free size: %s: %s\n", cv_status_string(st), err.msg);
    CHECK(st == CV_ERR_INVALID && strstr(err.msg, "no fixed height"), "free size: %s", err.msg);
    CHECK(cv_model_input_geometry(m, 40, 40, &g, &err) == CV_OK && g.height == 40 && g.channels == 3, "%s", err.msg);
    cv_model_free(m);
    cv_shape two = {4, {1, 2, 8, 8}}, flat = {2, {1, 10}};
    REQUIRE((m = net(&two)), "model");
    st = cv_model_input_geometry(m, 0, 0, &g, &err);
    CHECK(st == CV_ERR_UNSUPPORTED && strstr(err.msg, "2 channels"), "2 channels: %s", err.msg);
    cv_model_free(m);
    REQUIRE((m = net(&flat)), "model");
    st = cv_model_input_geometry(m, 8, 8, &g, &err);
    CHECK(st == CV_ERR_UNSUPPORTED && strstr(err.msg, "4 dimensions"), "2-D: %s", err.msg);
    /* the library names no CLI flag */
    CHECK(!strstr(err.msg, "--"), "message names a flag: %s", err.msg);
    cv_model_free(m);
}

/* ---- preprocessing a model declares ---------------------------------------- */

static void test_preprocess_auto(void)
{
    cv_error err;
    cv_preprocess p, want;
    int assumed = -1;
    cv_shape xs = {4, {1, 3, 8, 8}};
    cv_model *m = net(&xs);
    REQUIRE(m, "model");
    /* nothing declared, not Keras: torch, and said to be assumed */
    REQUIRE(cv_preprocess_auto(&p, m, &assumed, &err) == CV_OK, "%s", err.msg);
    cv_preprocess_preset(&want, "torch", &err);
    CHECK(assumed == 1 && memcmp(&p, &want, sizeof p) == 0, "undeclared: '%s', assumed %d", p.name, assumed);
    /* a Keras model (keras_version metadata): raw */
    REQUIRE(cv_model_set_meta(m, "keras_version", "2.13.1", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_auto(&p, m, &assumed, &err) == CV_OK, "%s", err.msg);
    CHECK(assumed == 1 && strcmp(p.name, "raw") == 0 && p.scale == 1 && p.bgr == 0, "Keras: '%s'", p.name);
    cv_model_free(m);

    /* declared: preset, BGR order, mean and std from metadata */
    REQUIRE((m = net(&xs)), "model");
    cv_model_set_meta(m, "preprocess", "unit", &err);
    cv_model_set_meta(m, "channel_order", "BGR", &err);
    cv_model_set_meta(m, "mean", "0.5,0.25,0.125", &err);
    cv_model_set_meta(m, "std", "0.5", &err);
    REQUIRE(cv_preprocess_auto(&p, m, &assumed, &err) == CV_OK, "%s", err.msg);
    CHECK(assumed == 0 && strcmp(p.name, "unit") == 0 && p.bgr == 1 && p.scale == 1.0f / 255.0f,
          "declared: '%s' bgr %d", p.name, p.bgr);
    CHECK(p.mean[0] == 0.5f && p.mean[1] == 0.25f && p.mean[2] == 0.125f && p.std[0] == 0.5f && p.std[2] == 0.5f,
          "mean %g %g %g std %g %g %g", p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2]);
    CHECK(cv_preprocess_auto(&p, m, NULL, &err) == CV_OK, "assumed may be NULL");
    cv_model_free(m);
    /* metadata that does not parse: an error naming the model and the key */
    REQUIRE((m = net(&xs)), "model");
    cv_model_set_meta(m, "preprocess", "unit", &err);
    cv_model_set_meta(m, "std", "0", &err);
    cv_status st = cv_preprocess_auto(&p, m, NULL, &err);
    printf("    bad std metadata: %s\n", err.msg);
    CHECK(st == CV_ERR_INVALID && strstr(err.msg, "<netbuild>") && strstr(err.msg, "metadata std '0'") &&
              !strstr(err.msg, "--"),
          "bad std: %s", err.msg);
    cv_model_free(m);
    REQUIRE((m = net(&xs)), "model");
    cv_model_set_meta(m, "preprocess", "imagenet", &err);
    st = cv_preprocess_auto(&p, m, NULL, &err);
    CHECK(st == CV_ERR_INVALID && strstr(err.msg, "'preprocess'") && strstr(err.msg, "imagenet"), "bad preset: %s",
          err.msg);
    cv_model_free(m);

    /* cv_preprocess_set_mean / set_std name the value, not a flag */
    st = cv_preprocess_set_mean(&p, "1,2", &err);
    CHECK(st == CV_ERR_INVALID && strncmp(err.msg, "mean '1,2'", 10) == 0, "set_mean: %s", err.msg);
}

/* ---- an image as input values --------------------------------------------- */

static void test_input_from_image_matches_reference(void)
{
    cv_error err;
    cv_image img = {0};
    REQUIRE(cv_image_alloc(&img, 37, 23, 3, &err) == CV_OK, "%s", err.msg);
    for (size_t i = 0; i < (size_t)37 * 23 * 3; i++)
        img.px[i] = (uint8_t)((i * 7919) % 251);
    cv_preprocess p;
    cv_preprocess_preset(&p, "caffe", &err); /* BGR, means: channel order matters */
    static const struct {
        int channels, nhwc;
        cv_resize_mode mode;
    } cases[] = {{3, 0, CV_RESIZE_ANTIALIAS}, {3, 1, CV_RESIZE_BILINEAR}, {1, 0, CV_RESIZE_ANTIALIAS}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cv_input_geometry g = {cases[c].channels, 16, 12, cases[c].nhwc};
        size_t n = (size_t)g.channels * g.height * g.width;
        float *x = malloc(sizeof(float) * n);
        REQUIRE(x, "malloc");
        for (size_t i = 0; i < n; i++)
            x[i] = NAN;
        REQUIRE(cv_input_from_image(x, &img, &g, &p, cases[c].mode, &err) == CV_OK, "%s", err.msg);
        /* reference: the resize, then the formula per pixel, written out */
        cv_image sized;
        REQUIRE((cases[c].mode == CV_RESIZE_BILINEAR ? cv_image_resize(&sized, &img, 12, 16, &err)
                                                     : cv_image_resize_antialias(&sized, &img, 12, 16, &err)) == CV_OK,
                "%s", err.msg);
        double worst = 0;
        for (int y = 0; y < 16; y++)
            for (int xx = 0; xx < 12; xx++) {
                const uint8_t *px = sized.px + ((size_t)y * 12 + xx) * 3;
                float rgb[3] = {px[0], px[1], px[2]};
                for (int k = 0; k < g.channels; k++) {
                    float v = g.channels == 1 ? 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2]
                                              : rgb[p.bgr ? 2 - k : k];
                    double want = ((double)v * p.scale - p.mean[k]) / p.std[k];
                    size_t at = g.nhwc ? ((size_t)y * 12 + xx) * g.channels + k
                                       : ((size_t)k * 16 + y) * 12 + xx;
                    double d = fabs(x[at] - want);
                    worst = d > worst || isnan(d) ? d : worst;
                }
            }
        cv_image_free(&sized);
        printf("    %d channel(s), %s, %s: max abs difference %.3g\n", g.channels, g.nhwc ? "HWC" : "CHW",
               cases[c].mode == CV_RESIZE_BILINEAR ? "bilinear" : "antialias", worst);
        CHECK(worst < 1e-4, "max abs difference %.3g (tolerance 1e-4 on values up to 255)", worst);
        free(x);
    }
    /* bad arguments leave out unwritten */
    cv_input_geometry two = {2, 16, 12, 0};
    float sentinel = NAN;
    CHECK(cv_input_from_image(&sentinel, &img, &two, &p, CV_RESIZE_ANTIALIAS, &err) == CV_ERR_INVALID &&
              isnan(sentinel),
          "2 channels accepted");
    cv_image_free(&img);
}

/* ---- the labels a model comes with ------------------------------------------ */

static void write_text(const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
}

static void test_labels_for_model(void)
{
    cv_error err;
    cv_labels l;
    cv_shape xs = {4, {1, 3, 8, 8}};
    cv_model *m = net(&xs);
    REQUIRE(m, "model");
    char path[256];
    snprintf(path, sizeof path, "%s/net.onnx", dir);
    free(m->path);
    m->path = strdup(path);
    REQUIRE(m->path, "strdup");
    /* none: CV_OK and no names */
    CHECK(cv_labels_for_model(&l, m, 0, &err) == CV_OK && l.n == 0, "no labels: n %d", l.n);
    /* a file beside the model; an unreadable first candidate is passed over */
    write_text("labels.txt", "cat\0dog\n", 8);
    write_text("classes.txt", "0 cat\n1 dog\n2 bird\n", 19);
    REQUIRE(cv_labels_for_model(&l, m, 0, &err) == CV_OK, "%s", err.msg);
    CHECK(l.n == 3 && strcmp(l.names[2], "bird") == 0, "beside: n %d", l.n);
    cv_labels_free(&l);
    /* every candidate unusable: the first error, no names */
    char p2[300];
    snprintf(p2, sizeof p2, "%s/classes.txt", dir);
    unlink(p2);
    cv_status st = cv_labels_for_model(&l, m, 0, &err);
    printf("    only a bad labels.txt: %s: %s\n", cv_status_string(st), err.msg);
    CHECK(st == CV_ERR_FORMAT && l.n == 0 && strstr(err.msg, "labels.txt"), "bad file: %s", err.msg);
    /* metadata wins over files, and its blank entries keep indices */
    cv_model_set_meta(m, "labels", "zero,,two", &err);
    REQUIRE(cv_labels_for_model(&l, m, 0, &err) == CV_OK, "%s", err.msg);
    CHECK(l.n == 3 && strcmp(l.names[0], "zero") == 0 && strcmp(l.names[1], "") == 0 &&
              strcmp(l.names[2], "two") == 0,
          "metadata: n %d", l.n);
    cv_labels_free(&l);
    /* within the memory limit */
    st = cv_labels_for_model(&l, m, 4, &err);
    CHECK(st == CV_ERR_LIMIT && l.n == 0 && strstr(err.msg, "net.onnx"), "limit: %s: %s", cv_status_string(st),
          err.msg);
    snprintf(p2, sizeof p2, "%s/labels.txt", dir);
    unlink(p2);
    cv_model_free(m);
}

/* ---- memory limits ------------------------------------------------------------ */

static void test_memory_limit_has_one_meaning(void)
{
    size_t avail = cv_memory_limit(0);
    printf("    max_memory 0 resolves to %zu MiB\n", avail >> 20);
    CHECK(cv_memory_limit(12345) == 12345, "a given limit is not kept");
    CHECK(avail >= ((size_t)1 << 20), "0 resolves to %zu bytes", avail);
}

int main(void)
{
    if (!test_make_tmpdir(dir, sizeof dir, "input-api")) {
        printf("SKIP input_api (no temporary folder)\n");
        return test_summary("input_api");
    }
    RUN(test_probabilities_softmax_unless_distribution);
    RUN(test_topk_against_a_sort);
    RUN(test_input_geometry);
    RUN(test_preprocess_auto);
    RUN(test_input_from_image_matches_reference);
    RUN(test_labels_for_model);
    RUN(test_memory_limit_has_one_meaning);
    test_remove_dir(dir);
    return test_summary("input_api");
}
