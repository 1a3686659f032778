/* Model input preprocessing: 0..255 pixels -> the values a model was
 * trained on, per channel c in the order fed to the model:
 *
 *     v = (pixel * scale - mean[c]) / std[c]
 *
 * The presets are the conventions of the common model zoos:
 *   raw    RGB, v = pixel
 *   caffe  BGR, v = pixel - ImageNet mean (Keras "caffe" mode: VGG, ResNet50)
 *   tf     RGB, v = pixel / 127.5 - 1   (Keras "tf" mode: MobileNet, Inception)
 *   torch  RGB, v = (pixel / 255 - ImageNet mean) / ImageNet std (torchvision)
 *   unit   RGB, v = pixel / 255
 * --mean / --std overrides are in the preset's scaled range (after `scale`),
 * so `unit` with mean 0.5 and std 0.5 gives [-1, 1].
 */
#include "cnnviz_io.h"
#include "../core/graph.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cv_preprocess_fill(cv_preprocess *p, const char *name, int bgr, float scale,
                               float m0, float m1, float m2, float s0, float s1, float s2)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->bgr = bgr;
    p->scale = scale;
    p->mean[0] = m0, p->mean[1] = m1, p->mean[2] = m2;
    p->std[0] = s0, p->std[1] = s1, p->std[2] = s2;
}

cv_status cv_preprocess_preset(cv_preprocess *p, const char *name, cv_error *err)
{
    if (strcmp(name, "raw") == 0)
        cv_preprocess_fill(p, name, 0, 1.0f, 0, 0, 0, 1, 1, 1);
    else if (strcmp(name, "caffe") == 0) /* means in B, G, R order: the order fed */
        cv_preprocess_fill(p, name, 1, 1.0f, 103.939f, 116.779f, 123.68f, 1, 1, 1);
    else if (strcmp(name, "tf") == 0)
        cv_preprocess_fill(p, name, 0, 1.0f / 127.5f, 1, 1, 1, 1, 1, 1);
    else if (strcmp(name, "torch") == 0)
        cv_preprocess_fill(p, name, 0, 1.0f / 255.0f, 0.485f, 0.456f, 0.406f, 0.229f, 0.224f, 0.225f);
    else if (strcmp(name, "unit") == 0)
        cv_preprocess_fill(p, name, 0, 1.0f / 255.0f, 0, 0, 0, 1, 1, 1);
    else
        return cv_fail(err, CV_ERR_INVALID,
                       "preprocessing '%s' is unknown (expected raw, caffe, tf, torch or unit)", name);
    return CV_OK;
}

/* "a,b,c" or "a" into v[3]; what names the option in messages. */
static cv_status cv_parse3(float v[3], const char *csv, const char *what, int nonzero, cv_error *err)
{
    float got[3];
    int n = 0;
    const char *s = csv;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || errno == ERANGE || !isfinite(x))
            return cv_fail(err, CV_ERR_INVALID, "%s '%s': expected one number or three separated by commas",
                           what, csv);
        if (n == 3)
            return cv_fail(err, CV_ERR_INVALID, "%s '%s': more than three values", what, csv);
        if (nonzero && x == 0)
            return cv_fail(err, CV_ERR_INVALID, "%s '%s': a standard deviation cannot be 0", what, csv);
        got[n++] = (float)x;
        while (*end == ' ')
            end++;
        if (*end == 0)
            break;
        if (*end != ',')
            return cv_fail(err, CV_ERR_INVALID, "%s '%s': unexpected '%c'", what, csv, *end);
        s = end + 1;
    }
    if (n == 2)
        return cv_fail(err, CV_ERR_INVALID, "%s '%s': two values (expected one or three)", what, csv);
    for (int k = 0; k < 3; k++)
        v[k] = got[n == 1 ? 0 : k];
    return CV_OK;
}

cv_status cv_preprocess_set_mean(cv_preprocess *p, const char *csv, cv_error *err)
{
    return cv_parse3(p->mean, csv, "--mean", 0, err);
}

cv_status cv_preprocess_set_std(cv_preprocess *p, const char *csv, cv_error *err)
{
    return cv_parse3(p->std, csv, "--std", 1, err);
}

/* The one formula, shared by whole images and single values so that an
 * occluded window filled with cv_preprocess_value matches a preprocessed
 * uniform image bit for bit. */
static inline float cv_pre(const cv_preprocess *p, float pixel, int c)
{
    return (pixel * p->scale - p->mean[c]) / p->std[c];
}

float cv_preprocess_value(const cv_preprocess *p, float pixel, int c)
{
    return cv_pre(p, pixel, c < 0 ? 0 : c > 2 ? 2 : c);
}

void cv_preprocess_image(const cv_preprocess *p, const cv_image *img, int channels, int nhwc, float *out)
{
    /* out is (channels, h, w) or (h, w, channels) for one batch item */
    size_t hw = (size_t)img->w * img->h;
    int ic = img->c;
    for (size_t i = 0; i < hw; i++) {
        const uint8_t *px = img->px + i * ic;
        float r, g, b;
        if (ic >= 3)
            r = px[0], g = px[1], b = px[2];
        else
            r = g = b = px[0];
        if (channels == 1) {
            /* ITU-R BT.601 luma, then channel 0's mean and std */
            float y = 0.299f * r + 0.587f * g + 0.114f * b;
            out[i] = cv_pre(p, y, 0);
            continue;
        }
        float fed[3] = {r, g, b};
        if (p->bgr)
            fed[0] = b, fed[2] = r;
        for (int k = 0; k < 3; k++) {
            float v = cv_pre(p, fed[k], k);
            if (nhwc)
                out[i * 3 + k] = v;
            else
                out[k * hw + i] = v;
        }
    }
}
