/* Rendering: colour maps, heatmaps with labelled colour bars, captions,
 * grids of tiles, overlays and label maps. See include/cnnviz_render.h.
 *
 * The perceptual colour maps (rocket, viridis, magma) are not stored as
 * 256-entry tables: each is a smooth curve (cubic Hermite per channel,
 * Catmull-Rom tangents on non-uniform knots) through ten points sampled
 * from the published definitions (seaborn's rocket, matplotlib's viridis
 * and magma), placed where the curves bend most. Against the published
 * tables the fit is within 2/255 per channel at every 16th entry. Jet is
 * matplotlib's piecewise-linear definition.
 */
#include "cnnviz_render.h"
#include "../core/graph.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour maps ------------------------------------------------------------ */

#define CV_CMAP_KNOTS 10

typedef struct {
    float t[CV_CMAP_KNOTS];       /* knot positions in [0, 1] (table index / 255) */
    float rgb[CV_CMAP_KNOTS][3];  /* colour at each knot, 0..1 */
} cv_cmap_curve;

static const cv_cmap_curve cv_rocket = {
    {0 / 255.f, 16 / 255.f, 32 / 255.f, 64 / 255.f, 96 / 255.f, 128 / 255.f, 160 / 255.f, 192 / 255.f,
     224 / 255.f, 1.f},
    {{0.0106f, 0.0181f, 0.1002f}, {0.0957f, 0.0605f, 0.1620f}, {0.1864f, 0.0917f, 0.2270f},
     {0.3809f, 0.1206f, 0.3251f}, {0.5910f, 0.1081f, 0.3585f}, {0.7965f, 0.1051f, 0.3106f},
     {0.9268f, 0.2982f, 0.2429f}, {0.9592f, 0.5331f, 0.3749f}, {0.9659f, 0.7384f, 0.6005f},
     {0.9814f, 0.9206f, 0.8654f}},
};

static const cv_cmap_curve cv_viridis = {
    {0 / 255.f, 16 / 255.f, 32 / 255.f, 64 / 255.f, 128 / 255.f, 160 / 255.f, 192 / 255.f, 208 / 255.f,
     240 / 255.f, 1.f},
    {{0.2670f, 0.0049f, 0.3294f}, {0.2823f, 0.0950f, 0.4173f}, {0.2788f, 0.1755f, 0.4834f},
     {0.2297f, 0.3224f, 0.5457f}, {0.1276f, 0.5669f, 0.5506f}, {0.1579f, 0.6838f, 0.5017f},
     {0.3692f, 0.7889f, 0.3829f}, {0.5160f, 0.8312f, 0.2943f}, {0.8456f, 0.8873f, 0.0997f},
     {0.9932f, 0.9062f, 0.1439f}},
};

static const cv_cmap_curve cv_magma = {
    {0 / 255.f, 16 / 255.f, 32 / 255.f, 48 / 255.f, 64 / 255.f, 112 / 255.f, 144 / 255.f, 176 / 255.f,
     208 / 255.f, 1.f},
    {{0.0015f, 0.0005f, 0.0139f}, {0.0396f, 0.0311f, 0.1335f}, {0.1131f, 0.0655f, 0.2768f},
     {0.2117f, 0.0620f, 0.4186f}, {0.3167f, 0.0717f, 0.4854f}, {0.6136f, 0.1818f, 0.4985f},
     {0.8169f, 0.2559f, 0.4365f}, {0.9609f, 0.4183f, 0.3596f}, {0.9961f, 0.6537f, 0.4462f},
     {0.9871f, 0.9914f, 0.7495f}},
};

static float cv_curve_slope(const cv_cmap_curve *c, int j, int k)
{
    if (j == 0)
        return (c->rgb[1][k] - c->rgb[0][k]) / (c->t[1] - c->t[0]);
    if (j == CV_CMAP_KNOTS - 1)
        return (c->rgb[j][k] - c->rgb[j - 1][k]) / (c->t[j] - c->t[j - 1]);
    return (c->rgb[j + 1][k] - c->rgb[j - 1][k]) / (c->t[j + 1] - c->t[j - 1]);
}

static void cv_curve_eval(const cv_cmap_curve *c, float t, float out[3])
{
    int j = 0;
    while (j < CV_CMAP_KNOTS - 2 && t >= c->t[j + 1])
        j++;
    float h = c->t[j + 1] - c->t[j], u = (t - c->t[j]) / h;
    float u2 = u * u, u3 = u2 * u;
    float h00 = 2 * u3 - 3 * u2 + 1, h10 = u3 - 2 * u2 + u, h01 = -2 * u3 + 3 * u2, h11 = u3 - u2;
    for (int k = 0; k < 3; k++)
        out[k] = h00 * c->rgb[j][k] + h10 * h * cv_curve_slope(c, j, k) + h01 * c->rgb[j + 1][k] +
                 h11 * h * cv_curve_slope(c, j + 1, k);
}

/* matplotlib's jet: per channel, straight lines between (t, value) knots */
static float cv_ramp(const float (*k)[2], int n, float t)
{
    for (int i = 1; i < n; i++)
        if (t <= k[i][0])
            return k[i - 1][1] + (k[i][1] - k[i - 1][1]) * (t - k[i - 1][0]) / (k[i][0] - k[i - 1][0]);
    return k[n - 1][1];
}

static void cv_jet(float t, float out[3])
{
    static const float r[][2] = {{0, 0}, {0.35f, 0}, {0.66f, 1}, {0.89f, 1}, {1, 0.5f}};
    static const float g[][2] = {{0, 0}, {0.125f, 0}, {0.375f, 1}, {0.64f, 1}, {0.91f, 0}, {1, 0}};
    static const float b[][2] = {{0, 0.5f}, {0.11f, 1}, {0.34f, 1}, {0.65f, 0}, {1, 0}};
    out[0] = cv_ramp(r, 5, t);
    out[1] = cv_ramp(g, 6, t);
    out[2] = cv_ramp(b, 5, t);
}

/* A diverging map for signed values, blue (below 0) through light grey
 * (0) to red (above 0): nine points of Moreland's "cool to warm" map
 * (Diverging Color Maps for Scientific Visualization, 2009), which keeps
 * both halves equally bright, joined by straight lines. */
static void cv_diverging(float t, float out[3])
{
    static const float r[][2] = {{0, 59 / 255.f},      {0.125f, 98 / 255.f},  {0.25f, 141 / 255.f},
                                 {0.375f, 184 / 255.f}, {0.5f, 221 / 255.f},   {0.625f, 245 / 255.f},
                                 {0.75f, 244 / 255.f},  {0.875f, 222 / 255.f}, {1, 180 / 255.f}};
    static const float g[][2] = {{0, 76 / 255.f},      {0.125f, 130 / 255.f}, {0.25f, 176 / 255.f},
                                 {0.375f, 208 / 255.f}, {0.5f, 221 / 255.f},   {0.625f, 196 / 255.f},
                                 {0.75f, 154 / 255.f},  {0.875f, 96 / 255.f},  {1, 4 / 255.f}};
    static const float b[][2] = {{0, 192 / 255.f},     {0.125f, 234 / 255.f}, {0.25f, 254 / 255.f},
                                 {0.375f, 249 / 255.f}, {0.5f, 221 / 255.f},   {0.625f, 173 / 255.f},
                                 {0.75f, 123 / 255.f},  {0.875f, 77 / 255.f},  {1, 38 / 255.f}};
    out[0] = cv_ramp(r, 9, t);
    out[1] = cv_ramp(g, 9, t);
    out[2] = cv_ramp(b, 9, t);
}

static const uint8_t cv_nan_rgb[3] = {200, 200, 200};

void cv_cmap_rgb(cv_cmap cmap, float t, uint8_t rgb[3])
{
    if (t != t) {
        memcpy(rgb, cv_nan_rgb, 3);
        return;
    }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float c[3];
    switch (cmap) {
    case CV_CMAP_ROCKET: cv_curve_eval(&cv_rocket, t, c); break;
    case CV_CMAP_VIRIDIS: cv_curve_eval(&cv_viridis, t, c); break;
    case CV_CMAP_MAGMA: cv_curve_eval(&cv_magma, t, c); break;
    case CV_CMAP_JET: cv_jet(t, c); break;
    case CV_CMAP_DIVERGING: cv_diverging(t, c); break;
    default: c[0] = c[1] = c[2] = t; break;
    }
    for (int k = 0; k < 3; k++) {
        float v = c[k] * 255.0f + 0.5f;
        rgb[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

void cv_cmap_lut(cv_cmap cmap, uint8_t lut[256][3])
{
    for (int i = 0; i < 256; i++)
        cv_cmap_rgb(cmap, i / 255.0f, lut[i]);
}

static const char *const cv_cmap_names[] = {"rocket", "viridis", "magma", "jet", "grey", "diverging"};
#define CV_CMAP_COUNT (int)(sizeof cv_cmap_names / sizeof cv_cmap_names[0])

const char *cv_cmap_name(cv_cmap cmap)
{
    return (unsigned)cmap < (unsigned)CV_CMAP_COUNT ? cv_cmap_names[cmap] : "?";
}

cv_status cv_cmap_from_name(cv_cmap *out, const char *name, cv_error *err)
{
    for (int k = 0; k < CV_CMAP_COUNT; k++)
        if (strcmp(name, cv_cmap_names[k]) == 0) {
            *out = (cv_cmap)k;
            return CV_OK;
        }
    if (strcmp(name, "gray") == 0) {
        *out = CV_CMAP_GREY;
        return CV_OK;
    }
    return cv_fail(err, CV_ERR_INVALID, "colour map '%s' is unknown (expected rocket, viridis, magma, jet, grey or diverging)",
                   name);
}

/* Map a value to a LUT index given the range; -1 for NaN. */
static int cv_lut_index(float v, float lo, float hi)
{
    if (v != v)
        return -1;
    float t = (v - lo) / (hi - lo) * 255.0f + 0.5f;
    return t <= 0 ? 0 : t >= 255 ? 255 : (int)t;
}

void cv_render_auto_range(const float *map, size_t n, float *vmin, float *vmax)
{
    if (*vmax > *vmin)
        return;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(map[i])) {
            lo = map[i] < lo ? map[i] : lo;
            hi = map[i] > hi ? map[i] : hi;
        }
    if (lo > hi)
        lo = 0, hi = 1;
    else if (lo == hi)
        lo -= 0.5f, hi += 0.5f;
    *vmin = lo;
    *vmax = hi;
}

/* ---- drawing --------------------------------------------------------------- */

void cv_render_fill_rect(cv_image *img, int x, int y, int w, int h, const uint8_t rgb[3])
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > img->w ? img->w : x + w, y1 = y + h > img->h ? img->h : y + h;
    uint8_t grey = (uint8_t)((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] + 500) / 1000);
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            uint8_t *p = img->px + ((size_t)yy * img->w + xx) * img->c;
            if (img->c < 3) {
                p[0] = grey;
                if (img->c == 2)
                    p[1] = 255;
            } else {
                p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
                if (img->c == 4)
                    p[3] = 255;
            }
        }
}

static void cv_fill_all(cv_image *img, uint8_t v)
{
    memset(img->px, v, (size_t)img->w * img->h * img->c);
}

/* Outline of a rectangle, 1 pixel wide, inside (x, y, w, h). */
static void cv_frame(cv_image *img, int x, int y, int w, int h, const uint8_t rgb[3])
{
    cv_render_fill_rect(img, x, y, w, 1, rgb);
    cv_render_fill_rect(img, x, y + h - 1, w, 1, rgb);
    cv_render_fill_rect(img, x, y, 1, h, rgb);
    cv_render_fill_rect(img, x + w - 1, y, 1, h, rgb);
}

static const uint8_t cv_black[3] = {0, 0, 0};
static const uint8_t cv_dark[3] = {40, 40, 40};
static const uint8_t cv_mid[3] = {128, 128, 128};

/* Cell size so the longer side is about 400 pixels. */
static int cv_auto_cell(int rows, int cols)
{
    int m = rows > cols ? rows : cols;
    int c = 400 / (m > 0 ? m : 1);
    return c < 1 ? 1 : c > 64 ? 64 : c;
}

/* ---- colour-bar ticks --------------------------------------------------------- */

#define CV_MAX_TICKS 8

typedef struct {
    int n;
    double v[CV_MAX_TICKS + 2];
    char label[CV_MAX_TICKS + 2][24];
} cv_ticks;

/* Round-number ticks inside [lo, hi], at most max_n of them: steps of
 * 1, 2, 2.5 or 5 times a power of ten, labelled with the same number of
 * decimals (0.25, 0.50, 0.75). */
static void cv_make_ticks(cv_ticks *tk, double lo, double hi, int max_n)
{
    tk->n = 0;
    if (max_n < 2)
        max_n = 2;
    if (max_n > CV_MAX_TICKS)
        max_n = CV_MAX_TICKS;
    double range = hi - lo;
    if (!(range > 0) || !isfinite(range))
        return;
    for (int target = max_n; target >= 2; target--) {
        double rough = range / (target - 1);
        double mag = pow(10.0, floor(log10(rough)));
        double norm = rough / mag, m;
        if (norm <= 1.0 + 1e-9) m = 1;
        else if (norm <= 2.0 + 1e-9) m = 2;
        else if (norm <= 2.5 + 1e-9) m = 2.5;
        else if (norm <= 5.0 + 1e-9) m = 5;
        else m = 10;
        double step = m * mag;
        double first = ceil(lo / step - 1e-9) * step;
        int n = 0;
        for (double v = first; v <= hi + step * 1e-9 && n < CV_MAX_TICKS + 2; v += step)
            tk->v[n++] = fabs(v) < step * 1e-9 ? 0.0 : v; /* no "-0.00" */
        if (n > max_n)
            continue;
        int dec = 0; /* the fewest decimals that write the step exactly */
        while (dec < 6 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6 * step * pow(10, dec))
            dec++;
        double big = fmax(fabs(lo), fabs(hi));
        for (int k = 0; k < n; k++) {
            if (big >= 1e5 || dec > 5)
                snprintf(tk->label[k], sizeof tk->label[k], "%.3g", tk->v[k]);
            else
                snprintf(tk->label[k], sizeof tk->label[k], "%.*f", dec, tk->v[k]);
        }
        tk->n = n;
        return;
    }
}

/* in (c = 1 to 4) pasted into the RGB picture out with its top left at
 * (ox, oy), inside out: grey as three equal channels, alpha dropped. RGB
 * rows are one memcpy each; the pixel-by-pixel copy it replaces took
 * 0.4 ms for a 448 x 448 overlay, copied twice (colour bar, caption). */
static void cv_copy_rgb(cv_image *out, const cv_image *in, int ox, int oy)
{
    for (int y = 0; y < in->h; y++) {
        const uint8_t *p = in->px + (size_t)y * in->w * in->c;
        uint8_t *q = out->px + ((size_t)(y + oy) * out->w + ox) * 3;
        if (in->c == 3) {
            memcpy(q, p, (size_t)in->w * 3);
            continue;
        }
        for (int x = 0; x < in->w; x++, p += in->c, q += 3) {
            if (in->c > 3)
                q[0] = p[0], q[1] = p[1], q[2] = p[2];
            else
                q[0] = q[1] = q[2] = p[0];
        }
    }
}

/* ---- colour bar ---------------------------------------------------------------- */

/* A vertical colour bar bar_h pixels tall with round-number ticks on its
 * right, at font scale s: vmax at the top row, vmin at the bottom. */
typedef struct {
    int s, bar_w, tick, tick_gap, label_h, bar_h;
    cv_ticks tk;
    int label_w;
} cv_bar_layout;

static void cv_bar_plan(cv_bar_layout *b, int bar_h, int s, float vmin, float vmax)
{
    b->s = s;
    b->bar_w = 14 * s;
    b->tick = 3 * s;
    b->tick_gap = 4 * s;
    b->label_h = CV_FONT_HEIGHT * s;
    b->bar_h = bar_h < 4 * b->label_h ? 4 * b->label_h : bar_h; /* tiny maps still get a readable bar */
    cv_make_ticks(&b->tk, vmin, vmax, b->bar_h / (b->label_h * 3));
    b->label_w = 0;
    for (int k = 0; k < b->tk.n; k++) {
        int w = cv_render_text_width(b->tk.label[k], s);
        b->label_w = w > b->label_w ? w : b->label_w;
    }
}

/* Width of the bar with its frame, ticks and labels. */
static int cv_bar_width(const cv_bar_layout *b) { return b->bar_w + 1 + b->tick + b->tick_gap + b->label_w; }

static void cv_bar_draw(cv_image *out, const cv_bar_layout *b, int bar_x, int by, float vmin, float vmax,
                        const uint8_t lut[256][3])
{
    for (int y = 0; y < b->bar_h; y++) {
        float t = 1.0f - (y + 0.5f) / b->bar_h;
        int i = (int)(t * 255.0f + 0.5f);
        cv_render_fill_rect(out, bar_x, by + y, b->bar_w, 1, lut[i]);
    }
    cv_frame(out, bar_x - 1, by - 1, b->bar_w + 2, b->bar_h + 2, cv_mid);
    int s = b->s;
    for (int k = 0; k < b->tk.n; k++) {
        double t = (b->tk.v[k] - vmin) / ((double)vmax - vmin);
        int y = by + (int)lround((1.0 - t) * (b->bar_h - 1));
        cv_render_fill_rect(out, bar_x + b->bar_w + 1, y - s / 2, b->tick, s, cv_dark);
        cv_render_text(out, bar_x + b->bar_w + 1 + b->tick + b->tick_gap, y - b->label_h / 2, b->tk.label[k], s,
                       cv_black);
    }
}

/* ---- heatmap ------------------------------------------------------------------ */

cv_status cv_render_heatmap(const float *map, int rows, int cols, float vmin, float vmax,
                            cv_cmap cmap, int cell_px, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!map || rows <= 0 || cols <= 0)
        return cv_fail(err, CV_ERR_INVALID, "heatmap: empty map (%d x %d)", rows, cols);
    if (cell_px <= 0)
        cell_px = cv_auto_cell(rows, cols);
    if ((int64_t)rows * cell_px > CV_IMAGE_MAX_SIDE || (int64_t)cols * cell_px > CV_IMAGE_MAX_SIDE)
        return cv_fail(err, CV_ERR_LIMIT, "heatmap: %d x %d cells of %d pixels exceed the image size limit",
                       rows, cols, cell_px);
    cv_render_auto_range(map, (size_t)rows * cols, &vmin, &vmax);

    int mw = cols * cell_px, mh = rows * cell_px;
    int s = mh >= 300 ? 2 : 1;               /* font scale */
    int pad = 10 * s, gap = 8 * s;
    cv_bar_layout bar;
    cv_bar_plan(&bar, mh, s, vmin, vmax);
    int bar_x = pad + mw + gap;
    int W = bar_x + cv_bar_width(&bar) + pad;
    int H = pad + (mh > bar.bar_h ? mh : bar.bar_h) + pad;
    cv_status st = cv_image_alloc(out, W, H, 3, err);
    if (st != CV_OK)
        return st;
    cv_fill_all(out, 255);

    uint8_t lut[256][3];
    cv_cmap_lut(cmap, lut);
    int my = pad + (bar.bar_h > mh ? (bar.bar_h - mh) / 2 : 0);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            int i = cv_lut_index(map[(size_t)r * cols + c], vmin, vmax);
            cv_render_fill_rect(out, pad + c * cell_px, my + r * cell_px, cell_px, cell_px,
                                i < 0 ? cv_nan_rgb : lut[i]);
        }
    cv_bar_draw(out, &bar, bar_x, pad + (mh > bar.bar_h ? (mh - bar.bar_h) / 2 : 0), vmin, vmax, lut);
    return CV_OK;
}

cv_status cv_render_colorbar(const cv_image *in, float vmin, float vmax, cv_cmap cmap, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!in->px || in->w <= 0 || in->h <= 0 || in->c < 1 || in->c > 4)
        return cv_fail(err, CV_ERR_INVALID, "colour bar: empty image");
    if (!(vmax > vmin) || !isfinite(vmin) || !isfinite(vmax))
        return cv_fail(err, CV_ERR_INVALID, "colour bar: empty range [%g, %g]", vmin, vmax);
    int s = in->h >= 300 ? 2 : 1;
    int pad = 10 * s, gap = 8 * s;
    cv_bar_layout bar;
    cv_bar_plan(&bar, in->h - 2 * pad, s, vmin, vmax);
    int bar_x = in->w + gap;
    int64_t W = (int64_t)bar_x + cv_bar_width(&bar) + pad;
    int H = in->h > bar.bar_h + 2 * pad ? in->h : bar.bar_h + 2 * pad;
    if (W > CV_IMAGE_MAX_SIDE)
        return cv_fail(err, CV_ERR_LIMIT, "colour bar: %lld pixels wide exceeds the image size limit", (long long)W);
    cv_status st = cv_image_alloc(out, (int)W, H, 3, err);
    if (st != CV_OK)
        return st;
    cv_fill_all(out, 255);
    cv_copy_rgb(out, in, 0, (H - in->h) / 2);
    uint8_t lut[256][3];
    cv_cmap_lut(cmap, lut);
    cv_bar_draw(out, &bar, bar_x, (H - bar.bar_h) / 2, vmin, vmax, lut);
    return CV_OK;
}

/* ---- caption ------------------------------------------------------------------ */

/* The band above the picture (below = 0) or under it (below = 1). */
static cv_status caption_band(const cv_image *in, const char *text, int below, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!in->px || in->c < 1 || in->c > 4)
        return cv_fail(err, CV_ERR_INVALID, "caption: empty image");
    /* Scale 2 when the text fits the image's width at it with 8 pixels
     * either side (a map about 400 pixels wide takes ~23 characters). */
    int s = cv_render_text_width(text, 2) + 16 <= in->w ? 2 : 1;
    int lines = 1;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    int tw = cv_render_text_width(text, s);
    int band = lines * CV_FONT_LINE * s + 12;
    int W = in->w > tw + 16 ? in->w : tw + 16;
    cv_status st = cv_image_alloc(out, W, in->h + band, 3, err);
    if (st != CV_OK)
        return st;
    cv_fill_all(out, 255);
    cv_copy_rgb(out, in, (W - in->w) / 2, below ? 0 : band);
    /* under the picture the text sits 4 pixels lower: the same gap to the
     * picture as a band above leaves */
    cv_render_text(out, (W - tw) / 2, below ? in->h + 4 : 8, text, s, cv_black);
    return CV_OK;
}

cv_status cv_render_caption(const cv_image *in, const char *text, cv_image *out, cv_error *err)
{
    return caption_band(in, text, 0, out, err);
}

cv_status cv_render_caption_below(const cv_image *in, const char *text, cv_image *out, cv_error *err)
{
    return caption_band(in, text, 1, out, err);
}

/* ---- grid ---------------------------------------------------------------------- */

cv_status cv_render_grid(const cv_image *tiles, int count, int tile_w, int tile_h, int n_per_side,
                         int margin, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (count <= 0 || tile_w <= 0 || tile_h <= 0 || margin < 0)
        return cv_fail(err, CV_ERR_INVALID, "grid: %d tiles of %d x %d, margin %d", count, tile_w, tile_h,
                       margin);
    for (int k = 0; k < count; k++)
        if (tiles[k].w != tile_w || tiles[k].h != tile_h || !tiles[k].px || tiles[k].c < 1 || tiles[k].c > 4)
            return cv_fail(err, CV_ERR_INVALID, "grid: tile %d is %d x %d x %d (expected %d x %d)", k,
                           tiles[k].w, tiles[k].h, tiles[k].c, tile_w, tile_h);
    int n = n_per_side > 0 ? n_per_side : (int)floor(sqrt((double)count) + 1e-9);
    if (n < 1)
        n = 1;
    int cols = n < count ? n : count;
    int rows = (count + cols - 1) / cols;
    int64_t W = (int64_t)cols * tile_w + (int64_t)(cols - 1) * margin;
    int64_t H = (int64_t)rows * tile_h + (int64_t)(rows - 1) * margin;
    if (W > CV_IMAGE_MAX_SIDE || H > CV_IMAGE_MAX_SIDE)
        return cv_fail(err, CV_ERR_LIMIT, "grid: %lld x %lld pixels exceeds the image size limit",
                       (long long)W, (long long)H);
    cv_status st = cv_image_alloc(out, (int)W, (int)H, 3, err); /* zeroed: black margins */
    if (st != CV_OK)
        return st;
    for (int k = 0; k < count; k++) {
        const cv_image *t = &tiles[k];
        int ox = (k % cols) * (tile_w + margin), oy = (k / cols) * (tile_h + margin);
        for (int y = 0; y < tile_h; y++)
            for (int x = 0; x < tile_w; x++) {
                const uint8_t *p = t->px + ((size_t)y * tile_w + x) * t->c;
                uint8_t *q = out->px + ((size_t)(oy + y) * W + ox + x) * 3;
                if (t->c >= 3)
                    q[0] = p[0], q[1] = p[1], q[2] = p[2];
                else
                    q[0] = q[1] = q[2] = p[0];
            }
    }
    return CV_OK;
}

/* ---- overlays -------------------------------------------------------------------- */

float *cv_render_map_to_image(const cv_image *img, const float *map, int rows, int cols, cv_error *err)
{
    if (!img->px || img->w <= 0 || img->h <= 0 || img->c < 1 || img->c > 4) {
        cv_fail(err, CV_ERR_INVALID, "overlay: empty image");
        return NULL;
    }
    if (!map || rows <= 0 || cols <= 0) {
        cv_fail(err, CV_ERR_INVALID, "overlay: empty map (%d x %d)", rows, cols);
        return NULL;
    }
    float *m = malloc(sizeof(float) * (size_t)img->w * img->h);
    if (!m) {
        cv_fail(err, CV_ERR_NOMEM, "overlay: out of memory");
        return NULL;
    }
    cv_resize_bilinear_f32(m, img->h, img->w, map, rows, cols, 1);
    return m;
}

/* The LUT index and opacity of each of n map values, the same numbers
 * cv_lut_index and the blend formula give, written without branches on
 * the data so they vectorise (NaN: index 0, opacity 0). */
static void cv_blend_weights(const float *m, int n, float lo, float hi, float alpha, float reach, int *idx,
                             float *a)
{
    for (int i = 0; i < n; i++) {
        float v = m[i];
        float t = (v - lo) / (hi - lo) * 255.0f + 0.5f;
        int li = t <= 0 ? 0 : t >= 255 ? 255 : (int)t;
        float r = reach > 0 ? fabsf(v) / reach : 1.0f;
        float w = alpha * (r < 1.0f ? r : 1.0f); /* fminf(r, 1), NaN giving 1 as fminf does */
        bool nan = v != v;
        idx[i] = nan ? 0 : li;
        a[i] = nan ? 0.0f : reach > 0 ? w : alpha;
    }
}

/* Each pixel: (1 - a) * photo + a * colour, rounded; a = 0 (NaN) leaves the
 * photo as it is, since (1 - 0) * p + 0 * colour is p exactly. Weights
 * first, a row chunk at a time, then the gathers from the LUT: 2.6 ms per
 * 448 x 448 overlay computed pixel by pixel with branches, 1.4 ms so. */
void cv_render_blend(cv_image *out, const cv_image *img, const float *m, float lo, float hi, cv_cmap cmap,
                     float alpha, float reach)
{
    enum { CHUNK = 256 };
    uint8_t lut[256][3];
    cv_cmap_lut(cmap, lut);
    size_t n = (size_t)img->w * img->h;
    int c = img->c, g = c >= 3 ? 1 : 0; /* grey photos read channel 0 for all three */
    int idx[CHUNK];
    float a[CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        int len = n - i0 < CHUNK ? (int)(n - i0) : CHUNK;
        cv_blend_weights(m + i0, len, lo, hi, alpha, reach, idx, a);
        for (int j = 0; j < len; j++) {
            const uint8_t *p = img->px + (i0 + j) * c;
            uint8_t *q = out->px + (i0 + j) * 3;
            for (int k = 0; k < 3; k++) {
                float base = p[k * g];
                float v = (1 - a[j]) * base + a[j] * lut[idx[j]][k];
                q[k] = (uint8_t)(v + 0.5f > 255 ? 255 : v + 0.5f);
            }
        }
    }
}

cv_status cv_render_overlay_alpha(const cv_image *img, const float *map, int rows, int cols,
                                  float vmin, float vmax, cv_cmap cmap, float alpha,
                                  cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(alpha >= 0 && alpha <= 1))
        return cv_fail(err, CV_ERR_INVALID, "overlay: alpha %g is outside [0, 1]", alpha);
    float *m = cv_render_map_to_image(img, map, rows, cols, err);
    if (!m)
        return err ? err->status : CV_ERR_INVALID;
    cv_render_auto_range(map, (size_t)rows * cols, &vmin, &vmax);
    cv_status st = cv_image_alloc(out, img->w, img->h, 3, err);
    if (st != CV_OK) {
        free(m);
        return st;
    }
    cv_render_blend(out, img, m, vmin, vmax, cmap, alpha, 0);
    free(m);
    return CV_OK;
}

cv_status cv_render_overlay_multiply(const cv_image *img, const float *map, int rows, int cols,
                                     cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    float *m = cv_render_map_to_image(img, map, rows, cols, err);
    if (!m)
        return err ? err->status : CV_ERR_INVALID;
    cv_status st = cv_image_alloc(out, img->w, img->h, 3, err);
    if (st != CV_OK) {
        free(m);
        return st;
    }
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++) {
        float w = m[i] != m[i] ? 0 : m[i] < 0 ? 0 : m[i] > 1 ? 1 : m[i];
        const uint8_t *p = img->px + i * img->c;
        for (int k = 0; k < 3; k++)
            out->px[i * 3 + k] = (uint8_t)(p[img->c >= 3 ? k : 0] * w + 0.5f);
    }
    free(m);
    return CV_OK;
}

/* ---- label maps ---------------------------------------------------------------- */

static void cv_hsv(float h, float s, float v, uint8_t rgb[3])
{
    float c[3];
    float hh = h * 6.0f;
    int i = (int)hh % 6;
    float f = hh - floorf(hh);
    float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch (i) {
    case 0: c[0] = v, c[1] = t, c[2] = p; break;
    case 1: c[0] = q, c[1] = v, c[2] = p; break;
    case 2: c[0] = p, c[1] = v, c[2] = t; break;
    case 3: c[0] = p, c[1] = q, c[2] = v; break;
    case 4: c[0] = t, c[1] = p, c[2] = v; break;
    default: c[0] = v, c[1] = p, c[2] = q; break;
    }
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)(c[k] * 255.0f + 0.5f);
}

/* Tableau's 20 categorical colours, its light grey swapped for two darker
 * ones (the greys were nearest each other): the smallest L1 distance
 * between two entries is 59 over 0..255 RGB. */
static const uint8_t cv_categorical[20][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28}, {0x94, 0x67, 0xbd},
    {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f}, {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
    {0xae, 0xc7, 0xe8}, {0xff, 0xbb, 0x78}, {0x98, 0xdf, 0x8a}, {0xff, 0x98, 0x96}, {0xc5, 0xb0, 0xd5},
    {0xc4, 0x9c, 0x94}, {0xf7, 0xb6, 0xd2}, {0x39, 0x3b, 0x79}, {0xdb, 0xdb, 0x8d}, {0x63, 0x79, 0x39},
};

void cv_label_rgb(int label, uint8_t rgb[3])
{
    if (label < 0) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    if (label < 20) {
        memcpy(rgb, cv_categorical[label], 3);
        return;
    }
    /* past the table: golden-ratio hue steps keep neighbouring indices far
     * apart; saturation and brightness alternate on slower cycles. Never
     * dark, so "none" (black) stands out. */
    double h = fmod(0.05 + label * 0.6180339887498949, 1.0);
    float s = (label / 7) % 2 ? 0.5f : 1.0f;
    float v = (label / 3) % 3 == 2 ? 0.6f : 1.0f;
    cv_hsv((float)h, s, v, rgb);
}

typedef struct {
    int label;
    size_t count;
    int colour; /* cv_label_rgb index: the label's rank by frequency, "none" -1 */
} cv_label_count;

static int cv_cmp_label(const void *a, const void *b)
{
    const cv_label_count *x = a, *y = b;
    return (x->label > y->label) - (x->label < y->label);
}

/* Colours by frequency rank, not class index: the few classes of one map
 * get the first, most distinct, colours of the table, whatever their
 * indices (bee eater 92, quill 749 and goldfinch 11 came out near-identical
 * when coloured by index). by_label: lc sorted by label, for lookups. */
static cv_label_count *cv_rank_colours(cv_label_count *lc, int n_lc)
{
    for (int k = 0, rank = 0; k < n_lc; k++)
        lc[k].colour = lc[k].label < 0 ? -1 : rank++;
    cv_label_count *by_label = malloc(sizeof *by_label * (size_t)(n_lc ? n_lc : 1));
    if (by_label) {
        memcpy(by_label, lc, sizeof *lc * (size_t)n_lc);
        qsort(by_label, (size_t)n_lc, sizeof *by_label, cv_cmp_label);
    }
    return by_label;
}

static void cv_cell_rgb(const cv_label_count *by_label, int n_lc, int label, uint8_t rgb[3])
{
    cv_label_count key = {.label = label};
    const cv_label_count *hit = bsearch(&key, by_label, (size_t)n_lc, sizeof key, cv_cmp_label);
    cv_label_rgb(hit ? hit->colour : -1, rgb);
}

static int cv_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cv_cmp_count(const void *a, const void *b)
{
    const cv_label_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return (x->label > y->label) - (x->label < y->label);
}

#define CV_LEGEND_MAX 20

cv_status cv_render_labels(const int *labels, int rows, int cols, const char *const *names, int n_names,
                           int cell_px, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!labels || rows <= 0 || cols <= 0)
        return cv_fail(err, CV_ERR_INVALID, "label map: empty (%d x %d)", rows, cols);
    if (cell_px <= 0)
        cell_px = cv_auto_cell(rows, cols);
    if ((int64_t)rows * cell_px > CV_IMAGE_MAX_SIDE || (int64_t)cols * cell_px > CV_IMAGE_MAX_SIDE)
        return cv_fail(err, CV_ERR_LIMIT, "label map: %d x %d cells of %d pixels exceed the image size limit",
                       rows, cols, cell_px);
    size_t n = (size_t)rows * cols;

    /* count each label: sort a copy, then run lengths */
    int *sorted = malloc(n * sizeof *sorted);
    cv_label_count *lc = malloc(n * sizeof *lc);
    if (!sorted || !lc) {
        free(sorted);
        free(lc);
        return cv_fail(err, CV_ERR_NOMEM, "label map: out of memory");
    }
    memcpy(sorted, labels, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cv_cmp_int);
    int n_lc = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && sorted[j] == sorted[i])
            j++;
        lc[n_lc].label = sorted[i];
        lc[n_lc].count = j - i;
        n_lc++;
        i = j;
    }
    free(sorted);
    qsort(lc, (size_t)n_lc, sizeof *lc, cv_cmp_count);
    cv_label_count *by_label = cv_rank_colours(lc, n_lc);
    if (!by_label) {
        free(lc);
        return cv_fail(err, CV_ERR_NOMEM, "label map: out of memory");
    }

    int shown = n_lc > CV_LEGEND_MAX ? CV_LEGEND_MAX : n_lc;
    char (*text)[64] = malloc(sizeof *text * (size_t)(shown + 1));
    if (!text) {
        free(lc);
        free(by_label);
        return cv_fail(err, CV_ERR_NOMEM, "label map: out of memory");
    }
    for (int k = 0; k < shown; k++) {
        int l = lc[k].label;
        char name[40];
        if (l < 0)
            snprintf(name, sizeof name, "none");
        else if (names && l < n_names && names[l])
            snprintf(name, sizeof name, "%.32s%s", names[l], strlen(names[l]) > 32 ? ".." : "");
        else
            snprintf(name, sizeof name, "%d", l);
        double share = 100.0 * lc[k].count / n;
        if (share >= 1 || share == 0)
            snprintf(text[k], sizeof text[k], "%s (%.0f%%)", name, share);
        else
            snprintf(text[k], sizeof text[k], "%s (<1%%)", name);
    }
    if (n_lc > shown)
        snprintf(text[shown], sizeof text[shown], "+%d more", n_lc - shown);
    int n_text = shown + (n_lc > shown);

    int mw = cols * cell_px, mh = rows * cell_px;
    int s = mh >= 300 ? 2 : 1;
    int pad = 10 * s, gap = 10 * s, sw = CV_FONT_HEIGHT * s, entry_h = (CV_FONT_LINE + 4) * s;
    int text_w = 0;
    for (int k = 0; k < n_text; k++) {
        int w = cv_render_text_width(text[k], s);
        text_w = w > text_w ? w : text_w;
    }
    int legend_h = n_text * entry_h;
    int lx = pad + mw + gap;
    int W = lx + sw + 4 * s + text_w + pad;
    int H = pad + (mh > legend_h ? mh : legend_h) + pad;
    cv_status st = cv_image_alloc(out, W, H, 3, err);
    if (st != CV_OK) {
        free(lc);
        free(by_label);
        free(text);
        return st;
    }
    cv_fill_all(out, 255);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            uint8_t rgb[3];
            cv_cell_rgb(by_label, n_lc, labels[(size_t)r * cols + c], rgb);
            cv_render_fill_rect(out, pad + c * cell_px, pad + r * cell_px, cell_px, cell_px, rgb);
        }
    for (int k = 0; k < n_text; k++) {
        int y = pad + k * entry_h;
        if (k < shown) {
            uint8_t rgb[3];
            cv_label_rgb(lc[k].colour, rgb);
            cv_render_fill_rect(out, lx, y, sw, sw, rgb);
            cv_frame(out, lx, y, sw, sw, cv_dark);
        }
        cv_render_text(out, lx + sw + 4 * s, y, text[k], s, cv_black);
    }
    free(lc);
    free(by_label);
    free(text);
    return CV_OK;
}
