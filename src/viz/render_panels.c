/* Panels in a tidy grid (include/cnnviz_render.h): as many columns as make
 * the picture about as wide as a screen, the short last row centred. For
 * pictures a person compares side by side (explain's compare.png, eval's
 * sanity.png); the filter grid keeps the original tool's layout
 * (cv_render_grid). */
#include "cnnviz_render.h"
#include "../core/graph.h"
#include <math.h>
#include <string.h>

/* The shape a grid aims at: width over height of a laptop screen, near
 * enough to 16:10 and 4:3 alike. */
#define TARGET_ASPECT 1.5
/* What one empty cell costs, against |ln(aspect / TARGET_ASPECT)|: a
 * grid one cell short beats one a third too wide or too tall (7 panels:
 * 4 + 3 rather than 3 + 3 + 1; 11: 4 + 4 + 3 rather than 6 + 5). */
#define EMPTY_CELL_COST 0.5

int cv_render_panel_columns(int count, int panel_w, int panel_h, int margin)
{
    if (count <= 1 || panel_w <= 0 || panel_h <= 0)
        return 1;
    int best = count;
    double best_cost = INFINITY;
    for (int cols = 1; cols <= count; cols++) {
        int rows = (count + cols - 1) / cols;
        double w = (double)cols * panel_w + (cols - 1) * (double)margin;
        double h = (double)rows * panel_h + (rows - 1) * (double)margin;
        double cost = fabs(log(w / h / TARGET_ASPECT)) + EMPTY_CELL_COST * (rows * cols - count);
        if (cost < best_cost - 1e-12) { /* ties: the fewer columns, found first */
            best_cost = cost;
            best = cols;
        }
    }
    return best;
}

/* src (1, 3 or 4 channels; alpha ignored) into the RGB picture dst at (x0, y0). */
static void paste(cv_image *dst, const cv_image *src, int x0, int y0)
{
    for (int y = 0; y < src->h; y++)
        for (int x = 0; x < src->w; x++) {
            const uint8_t *p = src->px + ((size_t)y * src->w + x) * src->c;
            uint8_t *q = dst->px + ((size_t)(y0 + y) * dst->w + x0 + x) * 3;
            if (src->c >= 3)
                q[0] = p[0], q[1] = p[1], q[2] = p[2];
            else
                q[0] = q[1] = q[2] = p[0];
        }
}

static cv_status check_panels(const cv_image *panels, int count, int margin, int *cell_w, int *cell_h,
                              cv_error *err)
{
    if (!panels || count <= 0 || margin < 0)
        return cv_fail(err, CV_ERR_INVALID, "panels: %d panels, margin %d", count, margin);
    *cell_w = *cell_h = 0;
    for (int k = 0; k < count; k++) {
        const cv_image *t = &panels[k];
        if (!t->px || t->w <= 0 || t->h <= 0 || t->c < 1 || t->c > 4)
            return cv_fail(err, CV_ERR_INVALID, "panels: panel %d is empty or has %d channels", k, t->c);
        *cell_w = t->w > *cell_w ? t->w : *cell_w;
        *cell_h = t->h > *cell_h ? t->h : *cell_h;
    }
    return CV_OK;
}

cv_status cv_render_panels(const cv_image *panels, int count, int cols, int margin, const uint8_t bg[3],
                           cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    int cw = 0, ch = 0;
    cv_status st = check_panels(panels, count, margin, &cw, &ch, err);
    if (st != CV_OK)
        return st;
    if (cols <= 0)
        cols = cv_render_panel_columns(count, cw, ch, margin);
    cols = cols < count ? cols : count;
    int rows = (count + cols - 1) / cols;
    int64_t W = (int64_t)cols * cw + (int64_t)(cols - 1) * margin;
    int64_t H = (int64_t)rows * ch + (int64_t)(rows - 1) * margin;
    if (W > CV_IMAGE_MAX_SIDE || H > CV_IMAGE_MAX_SIDE)
        return cv_fail(err, CV_ERR_LIMIT, "panels: %lld x %lld pixels exceeds the image size limit", (long long)W,
                       (long long)H);
    if ((st = cv_image_alloc(out, (int)W, (int)H, 3, err)) != CV_OK)
        return st;
    cv_render_fill_rect(out, 0, 0, out->w, out->h, bg);
    for (int k = 0; k < count; k++) {
        int row = k / cols, col = k % cols, in_row = row < rows - 1 ? cols : count - row * cols;
        /* a short last row is shifted right by half of what it lacks */
        int64_t x = (int64_t)col * (cw + margin) + (int64_t)(cols - in_row) * (cw + margin) / 2;
        int64_t y = (int64_t)row * (ch + margin);
        /* a smaller panel: centred across its cell, at its top */
        paste(out, &panels[k], (int)x + (cw - panels[k].w) / 2, (int)y);
    }
    return CV_OK;
}
