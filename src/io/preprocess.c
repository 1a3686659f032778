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
 * mean / std overrides are in the preset's scaled range (after `scale`),
 * so `unit` with mean 0.5 and std 0.5 gives [-1, 1].
 *
 * Also here: the model's input as an image (cv_model_input_geometry), the
 * preprocessing a model declares (cv_preprocess_auto), and an image made
 * into one input item (cv_input_from_image).
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

/* "a,b,c" or "a" into v[3]; what names the value in messages ("mean"). */
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
    return cv_parse3(p->mean, csv, "mean", 0, err);
}

cv_status cv_preprocess_set_std(cv_preprocess *p, const char *csv, cv_error *err)
{
    return cv_parse3(p->std, csv, "std", 1, err);
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

/* ---- a model's input as an image ----------------------------------------- */

/* The size a model's metadata (or sidecar) gives its free input, "H,W". */
static cv_status declared_size(const cv_model *m, int *height, int *width, cv_error *err)
{
    const char *v = cv_model_meta(m, "input_size");
    if (!v)
        return CV_OK;
    int h, w, used = 0;
    if (sscanf(v, "%d,%d%n", &h, &w, &used) != 2 || v[used] || h < 1 || w < 1 || h > 65536 || w > 65536)
        return cv_fail(err, CV_ERR_FORMAT, "%s: metadata input_size '%.40s': expected H,W", cv_model_path(m), v);
    *height = h, *width = w;
    return CV_OK;
}

cv_status cv_model_input_geometry(const cv_model *m, int height, int width, cv_input_geometry *g, cv_error *err)
{
    cv_shape s = cv_model_input_shape(m);
    char buf[160];
    memset(g, 0, sizeof *g);
    if (s.ndim != 4 && s.ndim != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: input '%s' has shape %s; an image input has 4 dimensions",
                       cv_model_path(m), cv_model_input_name(m), cv_shape_str(&s, buf, sizeof buf));
    int nhwc = cv_model_input_nhwc(m);
    int64_t c = s.ndim ? s.d[nhwc ? 3 : 1] : -1;
    int64_t h = s.ndim ? s.d[nhwc ? 1 : 2] : -1;
    int64_t w = s.ndim ? s.d[nhwc ? 2 : 3] : -1;
    if (c > 0 && c != 1 && c != 3)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: input '%s' has %lld channels; images give 1 or 3",
                       cv_model_path(m), cv_model_input_name(m), (long long)c);
    if (height < 0 || width < 0 || (height > 0) != (width > 0))
        return cv_fail(err, CV_ERR_INVALID, "input size %d x %d: give both height and width, or neither", height,
                       width);
    if (height == 0 && !(h > 0 && w > 0) && declared_size(m, &height, &width, err) != CV_OK)
        return err->status;
    if (height == 0 && !(h > 0 && w > 0))
        return cv_fail(err, CV_ERR_INVALID, "%s: input '%s' has no fixed height and width; give a size",
                       cv_model_path(m), cv_model_input_name(m));
    if (height == 0 && (h > INT32_MAX || w > INT32_MAX))
        return cv_fail(err, CV_ERR_LIMIT, "%s: input '%s' declares %s, too large for an image", cv_model_path(m),
                       cv_model_input_name(m), cv_shape_str(&s, buf, sizeof buf));
    g->channels = c > 0 ? (int)c : 3;
    g->height = height ? height : (int)h;
    g->width = width ? width : (int)w;
    g->nhwc = nhwc;
    return CV_OK;
}

cv_shape cv_input_shape(const cv_input_geometry *g, int batch)
{
    cv_shape s = {4, {batch, g->channels, g->height, g->width}};
    if (g->nhwc) {
        s.d[1] = g->height;
        s.d[2] = g->width;
        s.d[3] = g->channels;
    }
    return s;
}

/* ---- what a model declares ------------------------------------------------ */

static bool is_keras(const cv_model *m)
{
    const char *p = cv_model_path(m);
    size_t n = strlen(p);
    return (n > 3 && strcmp(p + n - 3, ".h5") == 0) || (n > 5 && strcmp(p + n - 5, ".hdf5") == 0) ||
           cv_model_meta(m, "keras_version");
}

cv_status cv_preprocess_auto(cv_preprocess *p, const cv_model *m, int *assumed, cv_error *err)
{
    const char *declared = cv_model_meta(m, "preprocess");
    if (assumed)
        *assumed = !declared;
    if (!declared)
        return cv_preprocess_preset(p, is_keras(m) ? "raw" : "torch", err);
    cv_error why;
    cv_status st = cv_preprocess_preset(p, declared, &why);
    if (st != CV_OK)
        return cv_fail(err, st, "%s: metadata 'preprocess': %s", cv_model_path(m), why.msg);
    const char *order = cv_model_meta(m, "channel_order");
    if (order && (strcmp(order, "BGR") == 0 || strcmp(order, "bgr") == 0))
        p->bgr = 1;
    else if (order && (strcmp(order, "RGB") == 0 || strcmp(order, "rgb") == 0))
        p->bgr = 0; /* "caffe" but fed RGB */
    static const char *const keys[2] = {"mean", "std"};
    for (int k = 0; k < 2; k++) {
        const char *v = cv_model_meta(m, keys[k]);
        char what[4200];
        snprintf(what, sizeof what, "%s: metadata %s", cv_model_path(m), keys[k]);
        if (v && (st = cv_parse3(k ? p->std : p->mean, v, what, k, err)) != CV_OK)
            return st;
    }
    return CV_OK;
}

/* ---- an image as model input ---------------------------------------------- */

cv_status cv_input_from_image(float *out, const cv_image *img, const cv_input_geometry *g, const cv_preprocess *p,
                              cv_resize_mode mode, cv_error *err)
{
    if (g->channels != 1 && g->channels != 3)
        return cv_fail(err, CV_ERR_INVALID, "an image input has 1 or 3 channels, not %d", g->channels);
    if (mode != CV_RESIZE_ANTIALIAS && mode != CV_RESIZE_BILINEAR)
        return cv_fail(err, CV_ERR_INVALID, "resize mode %d is unknown", (int)mode);
    cv_image sized = {0};
    cv_status st = mode == CV_RESIZE_BILINEAR ? cv_image_resize(&sized, img, g->width, g->height, err)
                                              : cv_image_resize_antialias(&sized, img, g->width, g->height, err);
    if (st != CV_OK)
        return st;
    cv_preprocess_image(p, &sized, g->channels, g->nhwc, out);
    cv_image_free(&sized);
    return CV_OK;
}

/* ---- model input back to a picture ----------------------------------------- */

/* Value v of channel c back to a 0..255 pixel by p's inverse, rounded and
 * clamped; *clipped counts the values the clamp changed by more than half
 * a level (an input another preprocessing made). */
static uint8_t cv_unpre(const cv_preprocess *p, float v, int c, long *clipped)
{
    double pixel = ((double)v * p->std[c] + p->mean[c]) / p->scale;
    if (!(pixel >= -0.5 && pixel <= 255.5)) /* NaN too */
        ++*clipped;
    return (uint8_t)(pixel >= 0 && pixel <= 255 ? lround(pixel) : pixel > 255 ? 255 : 0);
}

/* The range of the finite values, and 255 / its width. */
static void cv_input_stretch(const float *x, size_t n, float *lo, double *gain)
{
    float a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            a = x[i] < a ? x[i] : a, b = x[i] > b ? x[i] : b;
    *lo = a <= b ? a : 0;
    *gain = a < b ? 255.0 / ((double)b - a) : 0;
}

cv_status cv_image_from_input(cv_image *out, const float *x, const cv_input_geometry *g, const cv_preprocess *p,
                              long *clipped, cv_error *err)
{
    memset(out, 0, sizeof *out);
    long dummy = 0, *clip = clipped ? clipped : &dummy;
    *clip = 0;
    if (g->channels != 1 && g->channels != 3)
        return cv_fail(err, CV_ERR_INVALID, "a picture of the input needs 1 or 3 channels, not %d", g->channels);
    cv_status st = cv_image_alloc(out, g->width, g->height, 3, err);
    if (st != CV_OK)
        return st;
    size_t hw = (size_t)g->width * g->height;
    float lo;
    double gain;
    cv_input_stretch(x, hw * g->channels, &lo, &gain);
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < g->channels; c++) {
            float v = x[g->nhwc ? i * g->channels + c : c * hw + i];
            double s = isfinite(v) ? (v - lo) * gain : 0;
            uint8_t px = p ? cv_unpre(p, v, c, clip) : (uint8_t)lround(s > 255 ? 255 : s);
            if (g->channels == 1) /* grey: the same value in R, G and B */
                out->px[i * 3] = out->px[i * 3 + 1] = out->px[i * 3 + 2] = px;
            else /* fed channel c is RGB channel 2 - c when fed BGR */
                out->px[i * 3 + (p && p->bgr ? 2 - c : c)] = px;
        }
    return CV_OK;
}
