/* cnnviz rendering: pictures a person can read.
 *
 *     cv_error err;
 *     cv_image heat, over;
 *     // a 38 x 38 occlusion map of probabilities, drawn with a colour bar
 *     cv_render_heatmap(prob, 38, 38, 0.0f, 1.0f, CV_CMAP_ROCKET, 0, &heat, &err);
 *     cv_image_save_png(&heat, "occlusion.png", &err);
 *     // the same map over the photo, 50 % opaque
 *     cv_render_overlay_alpha(&photo, prob, 38, 38, 0.0f, 1.0f, CV_CMAP_JET, 0.5f, &over, &err);
 *     cv_image_free(&heat);
 *     cv_image_free(&over);
 *
 * Conventions: every function that makes a picture allocates *out (free it
 * with cv_image_free) and returns a cv_status with a message in err; on
 * failure *out is left empty. Pictures are 8-bit RGB (c = 3), rows top to
 * bottom. Maps are float, row-major (rows x cols), row 0 at the top.
 * Value ranges: where vmin/vmax are taken, passing vmax <= vmin (or NaN)
 * means "the range of the finite values in the map". NaN cells are drawn
 * light grey. Drawing helpers clip to the image and accept c = 1, 3 or 4.
 */
#ifndef CNNVIZ_RENDER_H
#define CNNVIZ_RENDER_H

#include "cnnviz_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- colour maps ---------------------------------------------------------- */

typedef enum {
    CV_CMAP_ROCKET,  /* seaborn's default: black-purple-red-cream, perceptually uniform */
    CV_CMAP_VIRIDIS,
    CV_CMAP_MAGMA,
    CV_CMAP_JET,     /* rainbow; familiar, but not perceptually uniform */
    CV_CMAP_GREY,
    CV_CMAP_DIVERGING /* blue - light grey - red (Moreland's cool-warm), for signed maps centred on 0 */
} cv_cmap;

/* "rocket", "viridis", "magma", "jet", "grey" (or "gray"), "diverging". */
CV_API cv_status cv_cmap_from_name(cv_cmap *out, const char *name, cv_error *err);
CV_API const char *cv_cmap_name(cv_cmap cmap);
/* Colour at t in [0, 1] (clamped; NaN gives light grey). */
CV_API void cv_cmap_rgb(cv_cmap cmap, float t, uint8_t rgb[3]);
/* 256-entry table: lut[i] = cv_cmap_rgb(cmap, i / 255). */
CV_API void cv_cmap_lut(cv_cmap cmap, uint8_t lut[256][3]);

/* ---- drawing ------------------------------------------------------------- */

/* Text is DejaVu Sans drawn by Cairo, antialiased. At scale 1 a line's box
 * is CV_FONT_HEIGHT pixels tall (ascenders to descenders) and lines are
 * CV_FONT_LINE apart; CV_FONT_ADVANCE is a typical character's width, for
 * estimating how many characters fit. Bytes outside printable ASCII draw
 * as '?'. */
#define CV_FONT_ADVANCE 6
#define CV_FONT_HEIGHT 12
#define CV_FONT_LINE 14

/* Width in pixels of text drawn at scale (no trailing gap). */
CV_API int cv_render_text_width(const char *text, int scale);
/* Draw text with its top-left corner at (x, y); '\n' starts a new line.
 * Returns the x just past the last glyph of the last line. */
CV_API int cv_render_text(cv_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3]);
CV_API void cv_render_fill_rect(cv_image *img, int x, int y, int w, int h, const uint8_t rgb[3]);

/* ---- display range ---------------------------------------------------------- */

/* The range [*lo, *hi] a map of n values is drawn with: its smallest value
 * to its largest (percentile >= 100), or to the value of rank
 * floor(percentile / 100 * (m - 1)) in ascending order, m being the number
 * of non-NaN values, so that a few spikes (per-pixel gradients) do not
 * wash the rest out. NaN values are left out; infinities count. When that
 * gives hi <= lo, hi is the largest value if that is above lo, else lo + 1,
 * so a flat map still gets a range; no values at all give [0, 1]. O(n):
 * min and max in one pass, the percentile by selection on a copy (the
 * only allocation, CV_ERR_NOMEM when it fails). */
CV_API cv_status cv_render_display_range(const float *map, size_t n, double percentile, float *lo, float *hi,
                                         cv_error *err);

/* ---- pictures -------------------------------------------------------------- */

/* A map as a picture: each cell a cell_px x cell_px square (cell_px <= 0:
 * chosen so the map is about 400 pixels on its longer side), on white,
 * with a vertical colour bar on the right labelled with round numbers
 * (0.25, 0.50, ...). The bar's top is vmax. */
CV_API cv_status cv_render_heatmap(const float *map, int rows, int cols, float vmin, float vmax,
                                   cv_cmap cmap, int cell_px, cv_image *out, cv_error *err);

/* `in` with a vertical colour bar on its right, on white, as
 * cv_render_heatmap draws it (vmin at the bottom, vmax at the top,
 * round-number ticks; font scale 2 when in is at least 300 pixels tall):
 * for overlays, whose colours otherwise have no scale. vmax > vmin. */
CV_API cv_status cv_render_colorbar(const cv_image *in, float vmin, float vmax, cv_cmap cmap, cv_image *out,
                                    cv_error *err);

/* A white band above `in` with `text` centred in it (lines split at
 * '\n'): font scale 2 when the text fits in.w with 8 pixels either side,
 * else 1; the picture is widened, on white, when the text is wider. */
CV_API cv_status cv_render_caption(const cv_image *in, const char *text, cv_image *out, cv_error *err);
/* The same band under `in` (a panel's numbers below its picture). */
CV_API cv_status cv_render_caption_below(const cv_image *in, const char *text, cv_image *out, cv_error *err);

/* Tiles in a grid on black: n_per_side columns (<= 0: floor(sqrt(count)),
 * as the original tool), margin pixels between tiles (the original used 5)
 * and none around; tile k goes to row k / n, column k % n. Unlike the
 * original, a count that is not a square gets extra rows instead of
 * dropping tiles. All tiles must be tile_w x tile_h (1, 3 or 4 channels;
 * alpha is ignored). */
CV_API cv_status cv_render_grid(const cv_image *tiles, int count, int tile_w, int tile_h, int n_per_side,
                                int margin, cv_image *out, cv_error *err);

/* A labelled filter grid: each tile enlarged (nearest neighbour, an
 * integer factor) to at least min_tile_px on its longer side, its number
 * (numbers[k]) under it, floor(sqrt(count)) columns on white, title over
 * the grid. Tiles may have 1, 3 or 4 channels. */
CV_API cv_status cv_render_filter_grid(const cv_image *tiles, int count, const int *numbers, const char *title,
                                       int min_tile_px, cv_image *out, cv_error *err);

/* Panels side by side for comparing (labelled overlays, maps): cols
 * columns (<= 0: cv_render_panel_columns), panel k in row k / cols, a short
 * last row centred; every cell the size of the largest panel, a smaller
 * panel centred across its cell and at its top; margin pixels between
 * cells, none around; background bg. Panels may differ in size (1, 3 or 4
 * channels; alpha is ignored). */
CV_API cv_status cv_render_panels(const cv_image *panels, int count, int cols, int margin, const uint8_t bg[3],
                                  cv_image *out, cv_error *err);
/* The columns cv_render_panels picks for count cells of panel_w x
 * panel_h: the grid whose picture is nearest 3:2 (width to height, on a
 * log scale), an empty cell in the last row counting as much as being a
 * factor e^0.5 off. 7 square panels: 4 + 3; 11: 4 + 4 + 3; 6: 3 + 3. */
CV_API int cv_render_panel_columns(int count, int panel_w, int panel_h, int margin);

/* img blended with the colour-mapped map: out = (1 - alpha) img + alpha colour.
 * The map (rows x cols, any size) is resized bilinearly to img's size. */
CV_API cv_status cv_render_overlay_alpha(const cv_image *img, const float *map, int rows, int cols,
                                         float vmin, float vmax, cv_cmap cmap, float alpha,
                                         cv_image *out, cv_error *err);

/* How cv_render_overlay draws a map over a photo. */
typedef struct {
    float vmin, vmax;    /* the colour scale (vmax <= vmin: the map's range), always widened to reach 0 */
    cv_cmap cmap;        /* for a map of one sign: 0 at one end of the bar */
    cv_cmap signed_cmap; /* for a map of both signs, on a scale symmetric about 0 */
    int symmetric;       /* always the symmetric scale and signed_cmap, even for a map of one sign */
    float alpha;         /* opacity where |value| reaches the end of the scale */
    int min_side;        /* the photo enlarged for display until its shorter side is at least this (0: never) */
    int colorbar;        /* a colour bar on the right */
    const char *caption; /* a caption band above, or NULL */
} cv_overlay_style;

/* 0 / 0 (the map's range), rocket, diverging, not symmetric, alpha 0.7,
 * 448 px, with a colour bar, no caption. */
CV_API cv_overlay_style cv_overlay_style_defaults(void);

/* `in` for display: a copy (RGB) when its shorter side is at least
 * min_side, else enlarged until it reaches it, by nearest neighbour and an
 * integer factor when that factor is 4 or more (small inputs stay sharp
 * pixels), else bilinearly. */
CV_API cv_status cv_render_enlarge(const cv_image *in, int min_side, cv_image *out, cv_error *err);

/* A map over a photo that a reader can take in without the code: each
 * pixel's opacity is alpha * |v| / m, where m is the end of the scale
 * farthest from 0, so where the map is 0 (no effect) the photo shows
 * untouched and only what matters is tinted. A map with both signs (a
 * probability that falls under some windows and rises under others) is
 * drawn on [-m, m] with signed_cmap, else on [0, m] (or [-m, 0]) with
 * cmap. The photo is shown as cv_render_enlarge(photo, min_side) gives it;
 * the map (rows x cols, any size) is resized bilinearly to that. NaN cells
 * are left clear. */
CV_API cv_status cv_render_overlay(const cv_image *photo, const float *map, int rows, int cols, const cv_overlay_style *style,
                            cv_image *out, cv_error *err);

/* The original tool's "projection": map values (clamped to [0, 1], resized
 * bilinearly to img's size) multiplied into every channel of img. */
CV_API cv_status cv_render_overlay_multiply(const cv_image *img, const float *map, int rows, int cols,
                                            cv_image *out, cv_error *err);

/* A label map (class index per cell; < 0 = none, drawn black) as distinct
 * colours with a legend on the right listing the labels present, most
 * frequent first, as "name (share %)". The i-th most frequent label gets
 * colour cv_label_rgb(i), whatever its class index. names[k] names label k; labels
 * without a name (k >= n_names or names NULL) show as their number. */
CV_API cv_status cv_render_labels(const int *labels, int rows, int cols, const char *const *names, int n_names,
                                  int cell_px, cv_image *out, cv_error *err);
/* The k-th categorical colour (a fixed Tableau-like table of 20, then hue
 * steps; black for k < 0). */
CV_API void cv_label_rgb(int label, uint8_t rgb[3]);

/* ---- animated GIF ------------------------------------------------------------ */

/* Write frames (all the same size) as an animated GIF that loops, with a
 * 256-colour global palette made by median cut over all frames and
 * delay_cs hundredths of a second per frame. Written atomically. */
CV_API cv_status cv_gif_write(const char *path, const cv_image *frames, int n, int delay_cs, cv_error *err);

/* The same, one frame at a time, for sequences too long to hold in memory.
 * The palette comes from `sample` (median cut), or is a fixed 6x7x6 colour
 * cube when sample is NULL. Nothing appears at path before cv_gif_end. */
typedef struct cv_gif cv_gif;
CV_API cv_status cv_gif_begin(cv_gif **out, const char *path, int w, int h, const cv_image *sample, cv_error *err);
CV_API cv_status cv_gif_add(cv_gif *g, const cv_image *frame, int delay_cs, cv_error *err);
CV_API cv_status cv_gif_end(cv_gif *g, cv_error *err);   /* finishes and frees g, even on failure */
CV_API void cv_gif_abort(cv_gif *g);                     /* discards; accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
