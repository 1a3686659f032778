/* Preprocessing presets, overrides, layouts, grey conversion, and
 * cv_preprocess_value agreeing with whole images. Expected numbers are
 * written out from each convention's definition, not from the library. */
#include "cnnviz_io.h"
#include "lib/test.h"

#include <math.h>
#include <string.h>

/* a 2 x 2 image with known pixels */
static const uint8_t px4[12] = {10, 128, 250, 0, 0, 0, 255, 255, 255, 40, 80, 120};

static cv_image image4(void)
{
    cv_image img = {2, 2, 3, (uint8_t *)px4};
    return img;
}

/* expected value for fed channel k of pixel i under a convention */
static double expect(const char *preset, int i, int k)
{
    const uint8_t *p = px4 + 3 * i;
    if (strcmp(preset, "raw") == 0)
        return p[k];
    if (strcmp(preset, "caffe") == 0) { /* BGR, minus the BGR ImageNet mean */
        static const double mean_bgr[3] = {103.939, 116.779, 123.68};
        return p[2 - k] - mean_bgr[k];
    }
    if (strcmp(preset, "tf") == 0)
        return p[k] / 127.5 - 1.0;
    if (strcmp(preset, "torch") == 0) {
        static const double m[3] = {0.485, 0.456, 0.406}, s[3] = {0.229, 0.224, 0.225};
        return (p[k] / 255.0 - m[k]) / s[k];
    }
    return p[k] / 255.0; /* unit */
}

static void test_presets(void)
{
    const char *names[] = {"raw", "caffe", "tf", "torch", "unit"};
    cv_image img = image4();
    for (int n = 0; n < 5; n++) {
        cv_preprocess p;
        cv_error err;
        REQUIRE(cv_preprocess_preset(&p, names[n], &err) == CV_OK, "%s", err.msg);
        CHECK(strcmp(p.name, names[n]) == 0, "name %s", p.name);
        float chw[12], hwc[12];
        for (int i = 0; i < 12; i++)
            chw[i] = hwc[i] = NAN;
        cv_preprocess_image(&p, &img, 3, 0, chw);
        cv_preprocess_image(&p, &img, 3, 1, hwc);
        double maxd = 0;
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 3; k++) {
                double e = expect(names[n], i, k);
                double d1 = fabs(chw[k * 4 + i] - e), d2 = fabs(hwc[i * 3 + k] - e);
                maxd = fmax(maxd, fmax(d1, d2));
                if (d1 != d1 || d2 != d2)
                    maxd = INFINITY;
            }
        double tol = strcmp(names[n], "raw") == 0 || strcmp(names[n], "caffe") == 0 ? 1e-4 : 1e-5;
        printf("    %-5s: max abs diff %.3g (CHW and HWC); pixel (10,128,250) -> %.5f %.5f %.5f\n", names[n],
               maxd, chw[0], chw[4], chw[8]);
        CHECK(maxd < tol, "%s: %g", names[n], maxd);
    }
    cv_preprocess p;
    cv_error err;
    CHECK(cv_preprocess_preset(&p, "imagenet", &err) == CV_ERR_INVALID && strstr(err.msg, "imagenet") &&
              strstr(err.msg, "torch"),
          "unknown preset: %s", err.msg);
}

static void test_overrides(void)
{
    cv_preprocess p;
    cv_error err;
    /* unit + mean .5 + std .5 maps 0..255 onto [-1, 1] */
    REQUIRE(cv_preprocess_preset(&p, "unit", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_set_mean(&p, "0.5", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_set_std(&p, ".5", &err) == CV_OK, "%s", err.msg);
    float lo = cv_preprocess_value(&p, 0, 0), hi = cv_preprocess_value(&p, 255, 2);
    printf("    unit, mean .5, std .5: 0 -> %g, 255 -> %g\n", lo, hi);
    CHECK(fabsf(lo + 1) < 1e-6 && fabsf(hi - 1) < 1e-6, "got %g %g", lo, hi);

    /* three values, spaces allowed; overrides are in the preset's scaled range */
    REQUIRE(cv_preprocess_preset(&p, "raw", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_set_mean(&p, "1, 2,3", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_set_std(&p, "2,4,8", &err) == CV_OK, "%s", err.msg);
    CHECK(cv_preprocess_value(&p, 9, 0) == 4 && cv_preprocess_value(&p, 10, 1) == 2 &&
              cv_preprocess_value(&p, 11, 2) == 1,
          "per-channel override");

    /* bgr flag on its own */
    REQUIRE(cv_preprocess_preset(&p, "raw", &err) == CV_OK, "%s", err.msg);
    p.bgr = 1;
    cv_image img = image4();
    float out[12];
    cv_preprocess_image(&p, &img, 3, 0, out);
    CHECK(out[0] == 250 && out[4] == 128 && out[8] == 10, "bgr order: %g %g %g", out[0], out[4], out[8]);

    const char *bad_mean[] = {"", "a", "1,2", "1,2,3,4", "1;2;3", "1,,3", "nan", "1e999"};
    for (size_t k = 0; k < sizeof bad_mean / sizeof *bad_mean; k++) {
        cv_status st = cv_preprocess_set_mean(&p, bad_mean[k], &err);
        CHECK(st == CV_ERR_INVALID, "--mean '%s' accepted", bad_mean[k]);
        if (k == 2)
            printf("    e.g. %s\n", err.msg);
    }
    CHECK(cv_preprocess_set_std(&p, "0", &err) == CV_ERR_INVALID, "std 0 accepted");
    CHECK(cv_preprocess_set_std(&p, "1,0,1", &err) == CV_ERR_INVALID, "std with a 0 accepted");
    printf("    e.g. %s\n", err.msg);
}

static void test_grey(void)
{
    cv_preprocess p;
    cv_error err;
    REQUIRE(cv_preprocess_preset(&p, "unit", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_set_mean(&p, "0.1,0.9,0.9", &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_preprocess_set_std(&p, "0.5,9,9", &err) == CV_OK, "%s", err.msg);
    cv_image img = image4();
    float out[4];
    cv_preprocess_image(&p, &img, 1, 0, out);
    double maxd = 0;
    for (int i = 0; i < 4; i++) {
        const uint8_t *q = px4 + 3 * i;
        double y = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
        maxd = fmax(maxd, fabs(out[i] - (y / 255.0 - 0.1) / 0.5)); /* channel 0's mean and std */
    }
    printf("    grey (BT.601 luma, channel 0 mean/std): max abs diff %.3g\n", maxd);
    CHECK(maxd < 1e-5, "grey: %g", maxd);

    /* a 1-channel image fed to a 3-channel model repeats its value */
    uint8_t g[4] = {0, 100, 200, 255};
    cv_image gi = {2, 2, 1, g};
    REQUIRE(cv_preprocess_preset(&p, "raw", &err) == CV_OK, "%s", err.msg);
    float o3[12];
    cv_preprocess_image(&p, &gi, 3, 1, o3);
    CHECK(o3[3] == 100 && o3[4] == 100 && o3[5] == 100 && o3[11] == 255, "grey image to RGB model");
}

/* The occlusion window is filled with cv_preprocess_value; it must equal a
 * preprocessed uniform image exactly, for every preset and channel. */
static void test_value_matches_image(void)
{
    const char *names[] = {"raw", "caffe", "tf", "torch", "unit"};
    uint8_t px[3 * 4];
    int mismatches = 0;
    for (int n = 0; n < 5; n++) {
        cv_preprocess p;
        cv_error err;
        REQUIRE(cv_preprocess_preset(&p, names[n], &err) == CV_OK, "%s", err.msg);
        for (int v = 0; v < 256; v += 17) {
            memset(px, v, sizeof px);
            cv_image img = {2, 2, 3, px};
            float out[12];
            cv_preprocess_image(&p, &img, 3, 0, out);
            for (int k = 0; k < 3; k++)
                mismatches += out[k * 4] != cv_preprocess_value(&p, (float)v, k);
        }
    }
    CHECK(mismatches == 0, "%d values differ", mismatches);
}

/* cv_image_from_input undoes each preset (and BGR) in both layouts: the
 * pixels come back exactly; a grey input gives grey; values another
 * preprocessing made are counted as clipped; without a preprocessing the
 * input is stretched from its minimum to its maximum. */
static void test_input_to_image(void)
{
    const char *names[] = {"raw", "caffe", "tf", "torch", "unit"};
    cv_image img = image4(), back;
    cv_error err;
    float x[12];
    long clipped;
    for (int k = 0; k < 5; k++)
        for (int nhwc = 0; nhwc < 2; nhwc++) {
            cv_preprocess p;
            REQUIRE(cv_preprocess_preset(&p, names[k], &err) == CV_OK, "%s", err.msg);
            cv_input_geometry g = {3, 2, 2, nhwc};
            cv_preprocess_image(&p, &img, 3, nhwc, x);
            REQUIRE(cv_image_from_input(&back, x, &g, &p, &clipped, &err) == CV_OK, "%s", err.msg);
            int bad = 0;
            for (int i = 0; i < 12; i++)
                bad += back.px[i] != px4[i];
            CHECK(bad == 0 && clipped == 0 && back.w == 2 && back.h == 2 && back.c == 3,
                  "%s nhwc=%d: %d pixels differ, %ld clipped", names[k], nhwc, bad, clipped);
            cv_image_free(&back);
        }
    cv_preprocess raw, unit;
    cv_preprocess_preset(&raw, "raw", &err);
    cv_preprocess_preset(&unit, "unit", &err);
    float grey[4] = {0, 100, 200, 255};
    cv_input_geometry g1 = {1, 2, 2, 0};
    REQUIRE(cv_image_from_input(&back, grey, &g1, &raw, &clipped, &err) == CV_OK, "%s", err.msg);
    CHECK(back.px[3] == 100 && back.px[4] == 100 && back.px[5] == 100 && back.px[9] == 255 && clipped == 0,
          "grey: %d %d %d", back.px[3], back.px[4], back.px[5]);
    cv_image_free(&back);
    /* 0..255 values read as unit (0..1) preprocessing: all but the 0 clip */
    REQUIRE(cv_image_from_input(&back, grey, &g1, &unit, &clipped, &err) == CV_OK, "%s", err.msg);
    CHECK(clipped == 3, "%ld values clipped, expected 3", clipped);
    cv_image_free(&back);
    float spread[4] = {-2, -1, 0, 2};
    REQUIRE(cv_image_from_input(&back, spread, &g1, NULL, NULL, &err) == CV_OK, "%s", err.msg);
    CHECK(back.px[0] == 0 && back.px[3] == 64 && back.px[6] == 128 && back.px[9] == 255, "stretched: %d %d %d %d",
          back.px[0], back.px[3], back.px[6], back.px[9]);
    cv_image_free(&back);
    cv_input_geometry g2 = {2, 2, 2, 0};
    CHECK(cv_image_from_input(&back, x, &g2, &raw, NULL, &err) == CV_ERR_INVALID, "2 channels accepted");
}

int main(void)
{
    RUN(test_presets);
    RUN(test_overrides);
    RUN(test_grey);
    RUN(test_value_matches_image);
    RUN(test_input_to_image);
    return test_summary("preprocess");
}
