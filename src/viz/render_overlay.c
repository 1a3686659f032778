/* A map over a photo, readable by itself (include/cnnviz_render.h,
 * cv_render_overlay): opacity grows with |value| so "no effect" is clear,
 * a signed map gets a diverging scale centred on 0, small photos are
 * enlarged for display, and the scale and caption travel with the picture
 * (issue 17: a 28 x 28 overlay without a scale, whose colours tinted the
 * whole photo, needed the code to be read). */
#include "cnnviz_render.h"
#include "../core/graph.h"
#include "render_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

cv_overlay_style cv_overlay_style_defaults(void)
{
    cv_overlay_style s = {0};
    s.cmap = CV_CMAP_ROCKET;
    s.signed_cmap = CV_CMAP_DIVERGING;
    s.alpha = 0.7f;
    s.min_side = 448;
    s.colorbar = 1;
    return s;
}

/* The scale, widened to reach 0; true for a map of both signs, which then
 * gets [-m, m]. *reach is m, the end of the scale farthest from 0. */
static bool overlay_scale(const float *map, size_t n, const cv_overlay_style *s, float *lo, float *hi, float *reach)
{
    *lo = s->vmin;
    *hi = s->vmax;
    cv_render_auto_range(map, n, lo, hi);
    *lo = *lo < 0 ? *lo : 0;
    *hi = *hi > 0 ? *hi : 0;
    bool both = *lo < 0 && *hi > 0;
    *reach = -*lo > *hi ? -*lo : *hi;
    if (!(*reach > 0)) /* an all-zero map: nothing to tint, a scale still to draw */
        *reach = *hi = 1;
    if (both || s->symmetric)
        *lo = -*reach, *hi = *reach;
    return both;
}

cv_status cv_render_enlarge(const cv_image *in, int min_side, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!in || !in->px || in->w <= 0 || in->h <= 0 || in->c < 1 || in->c > 4)
        return cv_fail(err, CV_ERR_INVALID, "enlarge: empty image");
    if (min_side < 0 || min_side > 8192)
        return cv_fail(err, CV_ERR_INVALID, "enlarge: min_side %d is outside [0, 8192]", min_side);
    int side = in->w < in->h ? in->w : in->h;
    int factor = min_side > side ? (min_side + side - 1) / side : 1;
    if (factor >= 4 || factor == 1)
        return cv_render_upscale_nearest(in, factor, out, err);
    double s = (double)min_side / side;
    return cv_image_resize(out, in, (int)lround(in->w * s), (int)lround(in->h * s), err);
}

cv_status cv_render_overlay(const cv_image *photo, const float *map, int rows, int cols, const cv_overlay_style *style,
                            cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    cv_overlay_style s = style ? *style : cv_overlay_style_defaults();
    if (!(s.alpha >= 0 && s.alpha <= 1))
        return cv_fail(err, CV_ERR_INVALID, "overlay: alpha %g is outside [0, 1]", s.alpha);
    if (!map || rows <= 0 || cols <= 0)
        return cv_fail(err, CV_ERR_INVALID, "overlay: empty map (%d x %d)", rows, cols);
    float lo, hi, reach;
    bool both = overlay_scale(map, (size_t)rows * cols, &s, &lo, &hi, &reach);
    cv_cmap cmap = both || s.symmetric ? s.signed_cmap : s.cmap;
    cv_image big = {0}, blended = {0}, barred = {0};
    const cv_image *shown = &big;
    float *m = NULL;
    cv_status st = cv_render_enlarge(photo, s.min_side, &big, err);
    if (st == CV_OK && !(m = cv_render_map_to_image(shown, map, rows, cols, err)))
        st = err ? err->status : CV_ERR_NOMEM;
    if (st == CV_OK)
        st = cv_image_alloc(&blended, shown->w, shown->h, 3, err);
    if (st == CV_OK) {
        cv_render_blend(&blended, shown, m, lo, hi, cmap, s.alpha, reach);
        if (s.colorbar)
            st = cv_render_colorbar(&blended, lo, hi, cmap, &barred, err);
    }
    cv_image *last = s.colorbar ? &barred : &blended;
    if (st == CV_OK && s.caption)
        st = cv_render_caption(last, s.caption, out, err);
    else if (st == CV_OK) { /* hand the last picture over as out */
        *out = *last;
        memset(last, 0, sizeof *last);
    }
    free(m);
    cv_image_free(&big);
    cv_image_free(&blended);
    cv_image_free(&barred);
    return st;
}
