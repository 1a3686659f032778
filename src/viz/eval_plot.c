/* Pictures of the faithfulness metrics (include/cnnviz_eval.h): the
 * deletion and insertion curves on labelled axes, and the sanity check's
 * maps in a row. Drawn with cv_render_text (Cairo) and plain pixels: the
 * project links no vector graphics library. */
#include "cnnviz_eval.h"
#include "cnnviz_render.h"
#include "../core/graph.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t black[3] = {0, 0, 0}, grey[3] = {200, 200, 200}, white[3] = {255, 255, 255};
static const uint8_t del_rgb[3] = {214, 39, 40}, ins_rgb[3] = {31, 119, 180};

/* ---- curves ---------------------------------------------------------------- */

#define PLOT_W 820
#define PLOT_H 560
#define LEFT 100   /* room for the y tick labels */
#define RIGHT 30
#define TOP 70     /* title and the y axis label */
#define BOTTOM 80  /* x tick labels and the x axis label */

typedef struct {
    cv_image *img;
    double ymax;
} plot;

static int px_x(double f) { return LEFT + (int)lround(f * (PLOT_W - LEFT - RIGHT)); }
static int px_y(const plot *p, double v) { return PLOT_H - BOTTOM - (int)lround(v / p->ymax * (PLOT_H - TOP - BOTTOM)); }

/* A 3-pixel-wide line, by stepping along the longer axis. */
static void line(cv_image *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    int n = abs(x1 - x0) > abs(y1 - y0) ? abs(x1 - x0) : abs(y1 - y0);
    for (int s = 0; s <= n; s++) {
        double t = n ? (double)s / n : 0;
        int x = (int)lround(x0 + t * (x1 - x0)), y = (int)lround(y0 + t * (y1 - y0));
        cv_render_fill_rect(img, x - 1, y - 1, 3, 3, rgb);
    }
}

static void text_centred(cv_image *img, int cx, int y, const char *s, int scale, const uint8_t rgb[3])
{
    cv_render_text(img, cx - cv_render_text_width(s, scale) / 2, y, s, scale, rgb);
}

/* A round step for about 5 intervals up to ymax. */
static double tick_step(double ymax)
{
    double raw = ymax / 5, mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    return mag * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10);
}

static void axes(plot *p, const char *title)
{
    cv_image *img = p->img;
    int x0 = px_x(0), x1 = px_x(1), y0 = px_y(p, 0), y1 = px_y(p, p->ymax);
    double step = tick_step(p->ymax);
    char s[64];
    for (int i = 0; i <= 5; i++) { /* x: fraction of pixels */
        int x = px_x(i / 5.0);
        cv_render_fill_rect(img, x, y1, 1, y0 - y1, grey);
        cv_render_fill_rect(img, x, y0, 1, 6, black);
        snprintf(s, sizeof s, "%.1f", i / 5.0);
        text_centred(img, x, y0 + 12, s, 2, black);
    }
    for (int i = 0; i * step <= p->ymax * (1 + 1e-9); i++) { /* y: probability */
        int y = px_y(p, i * step);
        cv_render_fill_rect(img, x0, y, x1 - x0, 1, grey);
        cv_render_fill_rect(img, x0 - 6, y, 6, 1, black);
        snprintf(s, sizeof s, "%.3g", i * step);
        cv_render_text(img, x0 - 10 - cv_render_text_width(s, 2), y - CV_FONT_HEIGHT, s, 2, black);
    }
    cv_render_fill_rect(img, x0, y1, 2, y0 - y1 + 1, black);
    cv_render_fill_rect(img, x0, y0, x1 - x0 + 1, 2, black);
    text_centred(img, (x0 + x1) / 2, PLOT_H - 30, "fraction of pixels deleted / inserted (ranked by the map)", 2,
                 black);
    /* right of the axis, above the frame: left of it, the taller Cairo text
     * ran into the top tick label */
    cv_render_text(img, x0 + 8, TOP - 28, "probability of the class", 2, black);
    if (title)
        text_centred(img, PLOT_W / 2, 12, title, 2, black);
}

static void curve(plot *p, const double *y, int steps, const uint8_t rgb[3])
{
    for (int i = 0; i < steps; i++)
        line(p->img, px_x((double)i / steps), px_y(p, fmin(y[i], p->ymax)), px_x((double)(i + 1) / steps),
             px_y(p, fmin(y[i + 1], p->ymax)), rgb);
}

/* The legend in the top right corner of the plot area. */
static void legend(plot *p, const cv_eval_curves *c)
{
    char del[64], ins[64];
    if (c->deletion_fill == CV_EVAL_FILL_ZERO)
        snprintf(del, sizeof del, "deletion  AUC %.4f (lower: better)", c->deletion_auc);
    else
        snprintf(del, sizeof del, "deletion to %s  AUC %.4f (lower: better)",
                 cv_eval_fill_name((cv_eval_fill)c->deletion_fill), c->deletion_auc);
    snprintf(ins, sizeof ins, "insertion AUC %.4f (higher: better)", c->insertion_auc);
    int wide = cv_render_text_width(ins, 2), rows = (c->deletion != NULL) + (c->insertion != NULL);
    if (c->deletion && cv_render_text_width(del, 2) > wide)
        wide = cv_render_text_width(del, 2);
    int bw = wide + 60, bh = rows * 24 + 12, bx = px_x(1) - bw - 10, by = px_y(p, p->ymax) + 10;
    cv_render_fill_rect(p->img, bx - 2, by - 2, bw + 4, bh + 4, black);
    cv_render_fill_rect(p->img, bx, by, bw, bh, white);
    int y = by + 8;
    if (c->deletion) {
        cv_render_fill_rect(p->img, bx + 8, y + 5, 30, 4, del_rgb);
        cv_render_text(p->img, bx + 48, y, del, 2, black);
        y += 24;
    }
    if (c->insertion) {
        cv_render_fill_rect(p->img, bx + 8, y + 5, 30, 4, ins_rgb);
        cv_render_text(p->img, bx + 48, y, ins, 2, black);
    }
}

cv_status cv_eval_render_curves(const cv_eval_curves *c, const char *title, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!c || c->steps < 1 || (!c->deletion && !c->insertion))
        return cv_fail(err, CV_ERR_INVALID, "eval: no curve to draw");
    double top = 0;
    for (int i = 0; i <= c->steps; i++) {
        top = c->deletion && isfinite(c->deletion[i]) ? fmax(top, c->deletion[i]) : top;
        top = c->insertion && isfinite(c->insertion[i]) ? fmax(top, c->insertion[i]) : top;
    }
    /* probabilities: the whole [0, 1] unless the curves stay far below it */
    double step = tick_step(fmax(top, 1e-9) * 1.05);
    plot p = {out, top > 0.5 ? 1.0 : ceil(fmax(top, 1e-9) * 1.05 / step) * step};
    cv_status st = cv_image_alloc(out, PLOT_W, PLOT_H, 3, err);
    if (st != CV_OK)
        return st;
    memset(out->px, 255, (size_t)PLOT_W * PLOT_H * 3);
    axes(&p, title);
    if (c->deletion)
        curve(&p, c->deletion, c->steps, del_rgb);
    if (c->insertion)
        curve(&p, c->insertion, c->steps, ins_rgb);
    legend(&p, c);
    return CV_OK;
}

/* ---- the sanity maps -------------------------------------------------------- */

#define TILE 168
#define GAP 12
#define LABEL_H 78  /* three lines under a map: k and the layer, r, SSIM */
#define TITLE_H 40

/* Map k (nearest-neighbour to TILE x TILE, scaled by its own range, viridis) at (x0, y0). */
static void draw_map(cv_image *img, const float *map, int h, int w, int x0, int y0)
{
    size_t n = (size_t)h * w;
    float lo = map[0], hi = map[0];
    for (size_t k = 1; k < n; k++)
        lo = fminf(lo, map[k]), hi = fmaxf(hi, map[k]);
    for (int y = 0; y < TILE; y++)
        for (int x = 0; x < TILE; x++) {
            float v = map[(size_t)(y * h / TILE) * w + (size_t)(x * w / TILE)];
            uint8_t *q = img->px + ((size_t)(y0 + y) * img->w + (size_t)(x0 + x)) * 3;
            cv_cmap_rgb(CV_CMAP_VIRIDIS, hi > lo ? (v - lo) / (hi - lo) : 0.0f, q);
        }
}

/* Panel k: the map, then "k=3" with the end of the layer's name beside it
 * ("features.5/Conv" says more than "/net/"), the rank correlation (red
 * and "same" when flagged) and the SSIM; the original map says what the
 * others are compared with. */
static cv_status sanity_panel(const cv_model *m, const cv_eval_sanity *s, int k, cv_image *out, cv_error *err)
{
    cv_status st = cv_image_alloc(out, TILE, TILE + LABEL_H, 3, err);
    if (st != CV_OK)
        return st;
    memset(out->px, 255, (size_t)out->w * out->h * 3);
    draw_map(out, s->maps + (size_t)k * s->height * s->width, s->height, s->width, 0, 0);
    char a[32], r[48], q[48];
    int y = TILE + 6;
    if (k == 0) {
        cv_render_text(out, 0, y, "original", 2, black);
        cv_render_text(out, 0, y + 24, "the map compared", 1, black);
        return CV_OK;
    }
    bool same = s->unchanged[k - 1];
    snprintf(a, sizeof a, "k=%d", k);
    snprintf(r, sizeof r, "r=%.2f%s", s->rank_correlation[k - 1], same ? " same" : "");
    snprintf(q, sizeof q, "SSIM %.2f", s->ssim[k - 1]);
    cv_render_text(out, 0, y, a, 2, black);
    const char *name = m ? cv_model_layer_name(m, s->layer[k - 1]) : NULL;
    if (name) {
        int room = (TILE - cv_render_text_width(a, 2) - 8) / CV_FONT_ADVANCE;
        size_t len = strlen(name);
        cv_render_text(out, cv_render_text_width(a, 2) + 8, y + 4,
                       len > (size_t)room && room > 0 ? name + len - room : name, 1, black);
    }
    cv_render_text(out, 0, y + 24, r, 2, same ? del_rgb : black);
    cv_render_text(out, 0, y + 48, q, 2, black);
    return CV_OK;
}

/* The panels in a near-3:2 grid (cv_render_panels: many layers wrap into
 * rows, a short last row centred), with the title above and a margin. */
static cv_status sanity_sheet(const cv_image *panels, int n, const char *title, cv_image *out, cv_error *err)
{
    cv_image grid = {0};
    cv_status st = cv_render_panels(panels, n, 0, GAP, white, &grid, err);
    if (st == CV_OK && (int64_t)grid.w + 2 * GAP > CV_IMAGE_MAX_SIDE)
        st = cv_fail(err, CV_ERR_LIMIT, "sanity: the picture would be too large");
    int W = grid.w + 2 * GAP, tw = cv_render_text_width(title, 2) + 2 * GAP;
    if (st == CV_OK)
        st = cv_image_alloc(out, W > tw ? W : tw, TITLE_H + grid.h + GAP, 3, err);
    if (st == CV_OK) {
        memset(out->px, 255, (size_t)out->w * out->h * 3);
        cv_render_text(out, GAP, 12, title, 2, black);
        int ox = (out->w - grid.w) / 2;
        for (int y = 0; y < grid.h; y++)
            memcpy(out->px + ((size_t)(TITLE_H + y) * out->w + ox) * 3, grid.px + (size_t)y * grid.w * 3,
                   (size_t)grid.w * 3);
    }
    cv_image_free(&grid);
    return st;
}

cv_status cv_eval_render_sanity(const cv_model *m, const cv_eval_sanity *s, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s || !s->maps || s->n_layers < 1)
        return cv_fail(err, CV_ERR_INVALID, "sanity: no maps to draw");
    int n = s->n_layers + 1;
    cv_image *panels = calloc((size_t)n, sizeof *panels);
    if (!panels)
        return cv_fail(err, CV_ERR_NOMEM, "sanity: out of memory");
    cv_status st = CV_OK;
    for (int k = 0; k < n && st == CV_OK; k++)
        st = sanity_panel(m, s, k, &panels[k], err);
    char title[160];
    snprintf(title, sizeof title, "%s of class %d after re-drawing the last k layers' weights",
             cv_explain_method_name(s->method), s->target);
    if (st == CV_OK)
        st = sanity_sheet(panels, n, title, out, err);
    for (int k = 0; k < n; k++)
        cv_image_free(&panels[k]);
    free(panels);
    return st;
}
