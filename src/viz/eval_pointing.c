/* The pointing game (include/cnnviz_eval.h): is the map's maximum on the
 * object's box, give or take TorchRay's 15 pixels? */
#include "cnnviz_eval.h"
#include "../core/graph.h"
#include <math.h>

/* Distance from (x, y) to the rectangle [x0, x1] x [y0, y1] in original
 * pixels; sx, sy scale map-pixel differences to original pixels. */
static double box_distance(double x, double y, const cv_eval_box *b, double sx, double sy)
{
    double dx = x < b->x0 ? b->x0 - x : x > b->x1 ? x - b->x1 : 0;
    double dy = y < b->y0 ? b->y0 - y : y > b->y1 ? y - b->y1 : 0;
    return hypot(dx * sx, dy * sy);
}

cv_status cv_eval_pointing_game(const float *map, int h, int w, int image_w, int image_h, const cv_eval_box *box,
                                double tolerance, cv_eval_pointing *out, cv_error *err)
{
    if (h < 1 || w < 1 || image_w < 1 || image_h < 1)
        return cv_fail(err, CV_ERR_INVALID, "pointing game: a %d x %d map of a %d x %d image", w, h, image_w,
                       image_h);
    if (!(box->x0 <= box->x1 && box->y0 <= box->y1) || !(tolerance >= 0))
        return cv_fail(err, CV_ERR_INVALID, "pointing game: box (%g, %g, %g, %g) must have x0 <= x1 and y0 <= y1, "
                       "tolerance %g >= 0", box->x0, box->y0, box->x1, box->y1, tolerance);
    size_t n = (size_t)h * (size_t)w, best = n;
    for (size_t k = 0; k < n; k++)
        if (!isnan(map[k]) && (best == n || map[k] > map[best]))
            best = k;
    if (best == n)
        return cv_fail(err, CV_ERR_INVALID, "pointing game: the map has no value that is a number");
    /* Work in map pixels: the box scaled down, distances scaled back up. */
    double sx = (double)image_w / w, sy = (double)image_h / h;
    cv_eval_box mb = {box->x0 / sx, box->y0 / sy, box->x1 / sx, box->y1 / sy};
    out->map_box = mb;
    out->max_x = (int)(best % (size_t)w);
    out->max_y = (int)(best / (size_t)w);
    out->distance = box_distance(out->max_x + 0.5, out->max_y + 0.5, &mb, sx, sy);
    out->hit = out->distance <= tolerance;
    out->n_max = out->n_max_hit = 0;
    for (size_t k = 0; k < n; k++)
        if (map[k] == map[best]) {
            out->n_max++;
            double d = box_distance((double)(k % (size_t)w) + 0.5, (double)(k / (size_t)w) + 0.5, &mb, sx, sy);
            out->n_max_hit += d <= tolerance;
        }
    return CV_OK;
}
