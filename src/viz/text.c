/* Text for captions, tick labels and legends, drawn by Cairo (antialiased
 * DejaVu Sans through fontconfig/freetype) into cnnviz's own 8-bit images.
 * Each call renders the text's coverage into a small A8 surface and blends
 * it onto the image, so the image keeps any channel count (1-4).
 * Hinting is off and antialiasing fixed to grey so that the same font files
 * give the same pixels on every machine (the tests check sizes and the
 * presence of ink, not glyph bitmaps). */
#include "cnnviz_render.h"

#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CV_FONT_FAMILY "DejaVu Sans"
/* The em size at scale 1: DejaVu Sans at 10 px has ascenders ~9 px and
 * descenders ~2.4 px, which fills CV_FONT_HEIGHT. */
#define CV_FONT_EM 10.0
#define CV_FONT_BASELINE 9.3 /* ascent at scale 1: baseline below the box top */

/* Cairo wants UTF-8; the contract is "other bytes draw as '?'", so a class
 * name with stray bytes still renders instead of failing silently. */
static char *cv_text_sanitised(const char *text, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        s[i] = ch >= 32 && ch < 127 ? (char)ch : '?';
    }
    s[n] = 0;
    return s;
}

static void cv_text_font(cairo_t *cr, int scale)
{
    cairo_select_font_face(cr, CV_FONT_FAMILY, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, CV_FONT_EM * scale);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
}

/* A context on a 1x1 surface, only for measuring. */
static double cv_line_advance(const char *line, size_t n, int scale)
{
    if (n == 0)
        return 0;
    char *s = cv_text_sanitised(line, n);
    if (!s)
        return 0;
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
    cairo_t *cr = cairo_create(sf);
    cv_text_font(cr, scale);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    cairo_destroy(cr);
    cairo_surface_destroy(sf);
    free(s);
    return te.x_advance;
}

int cv_render_text_width(const char *text, int scale)
{
    if (scale < 1)
        scale = 1;
    double widest = 0;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        double w = cv_line_advance(line, n, scale);
        widest = w > widest ? w : widest;
        line += n + (line[n] == '\n');
    }
    return (int)ceil(widest);
}

/* Blend coverage a (0-255) of colour rgb into pixel p of a c-channel image. */
static void cv_blend(uint8_t *p, int c, const uint8_t rgb[3], uint8_t grey, int a)
{
    if (c < 3) {
        p[0] = (uint8_t)((p[0] * (255 - a) + grey * a + 127) / 255);
        if (c == 2 && a > p[1])
            p[1] = (uint8_t)a;
        return;
    }
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)((p[k] * (255 - a) + rgb[k] * a + 127) / 255);
    if (c == 4 && a > p[3])
        p[3] = (uint8_t)a;
}

/* One line: its coverage on an A8 surface the size of the line's box
 * (plus a margin for glyphs that overhang their advance), blended at (x, y). */
static void cv_draw_line(cv_image *img, int x, int y, const char *s, int scale, const uint8_t rgb[3])
{
    int margin = 2 * scale;
    int w = cv_render_text_width(s, scale) + 2 * margin, h = (CV_FONT_LINE + 2) * scale;
    if (x - margin >= img->w || y >= img->h || x + w <= 0 || y + h <= 0)
        return;
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_A8, w, h);
    cairo_t *cr = cairo_create(sf);
    cv_text_font(cr, scale);
    cairo_move_to(cr, margin, CV_FONT_BASELINE * scale);
    cairo_show_text(cr, s);
    cairo_surface_flush(sf);
    const unsigned char *cov = cairo_image_surface_get_data(sf);
    int stride = cairo_image_surface_get_stride(sf);
    uint8_t grey = (uint8_t)((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] + 500) / 1000);
    for (int r = 0; r < h; r++) {
        int yy = y + r;
        if (yy < 0 || yy >= img->h)
            continue;
        for (int q = 0; q < w; q++) {
            int xx = x - margin + q, a = cov[(size_t)r * stride + q];
            if (a && xx >= 0 && xx < img->w)
                cv_blend(img->px + ((size_t)yy * img->w + xx) * img->c, img->c, rgb, grey, a);
        }
    }
    cairo_destroy(cr);
    cairo_surface_destroy(sf);
}

int cv_render_text(cv_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3])
{
    if (scale < 1)
        scale = 1;
    int cy = y, end = x;
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        char *s = cv_text_sanitised(line, n);
        if (!s)
            return end;
        cv_draw_line(img, x, cy, s, scale, rgb);
        end = x + cv_render_text_width(s, scale);
        free(s);
        if (line[n] != '\n')
            break;
        line += n + 1;
        cy += CV_FONT_LINE * scale;
        end = x;
    }
    return end;
}
