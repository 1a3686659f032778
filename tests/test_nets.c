/* Small networks in the shapes of real CNN families (VGG, ResNet, MobileNetV2,
 * Inception, SqueezeNet, ShuffleNet, EfficientNet, AlexNet, DenseNet, ...),
 * exported by PyTorch at opsets 11, 13 and 17: outputs and one conv layer's
 * input gradient against PyTorch's (tests/fixtures/make_small_nets.py).
 * Also the bundled Fashion-MNIST model on its sample images. */
#include "cnnviz_io.h"
#include "lib/netref.h"
#include "lib/test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NETS_MANIFEST "tests/fixtures/nets/manifest.txt"
#define FASHION_MODEL "models/fashion_cnn.onnx"
#define FASHION_SAMPLES "models/samples"

/* Relative max errors allowed against PyTorch (float32 both sides; only the
 * order of summation differs). */
#define OUT_TOL 1e-4
#define GRAD_TOL 1e-3

static int meta_float(const cv_model *m, const char *key, float dflt, float *out)
{
    const char *v = cv_model_meta(m, key);
    *out = v ? strtof(v, NULL) : dflt;
    return v != NULL;
}

/* The bundled model: metadata as the CLI reads it, and each sample image
 * classified as models/samples/expected.txt (written by train_fashion.py)
 * says, with the same probability. */
static void test_fashion_samples(void)
{
    cv_error err;
    cv_model *m = NULL;
    REQUIRE(cv_model_load(&m, FASHION_MODEL, NULL, &err) == CV_OK, "%s", err.msg);
    const char *pre = cv_model_meta(m, "preprocess"), *labels = cv_model_meta(m, "labels");
    cv_shape decl = cv_model_input_shape(m);
    char s[160];
    CHECK(decl.ndim == 4 && decl.d[1] == 1 && decl.d[2] == 28 && decl.d[3] == 28,
          "declared input %s, expected [-1, 1, 28, 28]", cv_shape_str(&decl, s, sizeof s));
    CHECK(pre && strcmp(pre, "unit") == 0, "preprocess metadata '%s', expected 'unit'", pre ? pre : "(none)");
    CHECK(labels && strncmp(labels, "T-shirt/top,Trouser,", 20) == 0, "labels metadata '%s'",
          labels ? labels : "(none)");
    CHECK(cv_model_meta(m, "description") != NULL, "no description metadata");
    /* Short layer names for the command line (models/README.md). */
    static const char *const layers[] = {"conv1", "relu1", "pool1", "conv3", "relu4", "fc"};
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++)
        CHECK(cv_model_find_layer(m, layers[k], &err) >= 0, "%s", err.msg);
    CHECK(cv_model_num_layers(m) == 12, "%d layers, expected 12", cv_model_num_layers(m));
    cv_preprocess p;
    float mean, std;
    CHECK(meta_float(m, "mean", 0, &mean) && meta_float(m, "std", 1, &std), "no mean/std metadata");
    if (test_failed_now || cv_preprocess_preset(&p, "unit", &err) != CV_OK) {
        cv_model_free(m);
        REQUIRE(0, "metadata or preset: %s", test_failed_now ? "see above" : err.msg);
    }
    for (int c = 0; c < 3; c++) {
        p.mean[c] = mean;
        p.std[c] = std;
    }
    FILE *f = fopen(FASHION_SAMPLES "/expected.txt", "r");
    if (!f) {
        cv_model_free(m);
        REQUIRE(0, "%s/expected.txt: cannot open", FASHION_SAMPLES);
    }
    cv_shape xs = {4, {1, 1, 28, 28}};
    cv_run *run = NULL;
    if (cv_run_create(&run, m, &xs, NULL, &err) != CV_OK) {
        fclose(f);
        cv_model_free(m);
        REQUIRE(0, "%s", err.msg);
    }
    char line[512];
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        char file[128], cls[128];
        float want_p;
        /* tshirt.png 'T-shirt/top' 0.9884  # t10k index 19 */
        if (line[0] == '#' || sscanf(line, "%127s '%127[^']' %f", file, cls, &want_p) != 3)
            continue;
        char path[300];
        snprintf(path, sizeof path, "%s/%s", FASHION_SAMPLES, file);
        cv_image img;
        if (cv_image_load(&img, path, &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        float x[28 * 28];
        CHECK(img.w == 28 && img.h == 28, "%s is %dx%d", path, img.w, img.h);
        if (img.w == 28 && img.h == 28) {
            cv_preprocess_image(&p, &img, 1, 0, x);
            if (cv_run_forward(run, x, &err) != CV_OK) {
                CHECK(0, "%s", err.msg);
            } else {
                const float *z = cv_run_output(run, 0)->f; /* [1,10] logits */
                int best = 0;
                double sum = 0, zmax = z[0];
                for (int k = 1; k < 10; k++)
                    if (z[k] > z[best])
                        best = k, zmax = z[k];
                for (int k = 0; k < 10; k++)
                    sum += exp(z[k] - zmax);
                double prob = 1.0 / sum; /* softmax of the top class */
                /* The label of class `best` in the metadata list. */
                const char *l = labels;
                for (int k = 0; k < best && l; k++)
                    l = strchr(l, ',') ? strchr(l, ',') + 1 : NULL;
                size_t len = l ? strcspn(l, ",") : 0;
                printf("    %-15s -> %-12.*s p=%.4f (PyTorch: %s %.4f)\n", file, (int)len, l ? l : "", prob,
                       cls, want_p);
                CHECK(l && strlen(cls) == len && strncmp(l, cls, len) == 0, "%s: predicted %.*s, expected %s",
                      file, (int)len, l ? l : "?", cls);
                CHECK(fabs(prob - want_p) < 1e-3, "%s: p=%.4f, PyTorch %.4f", file, prob, want_p);
                checked++;
            }
        }
        cv_image_free(&img);
    }
    fclose(f);
    CHECK(checked >= 4, "only %d samples checked", checked);
    cv_run_free(run);
    cv_model_free(m);
}

int main(void)
{
    RUN(test_fashion_samples);
    int n = netref_run_manifest(NETS_MANIFEST, NULL, OUT_TOL, GRAD_TOL);
    printf("%d network cases from %s\n", n, NETS_MANIFEST);
    return test_summary("nets");
}
