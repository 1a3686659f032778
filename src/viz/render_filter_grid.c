/* The filter grid as a picture that explains itself (include/cnnviz_render.h):
 * tiles enlarged to a readable size, each with its filter number under it,
 * and a title over the whole grid (issue 17: 143 x 143 px grids with no
 * labels needed a separate script to be shown). */
#include "cnnviz_render.h"
#include "../core/graph.h"
#include "render_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nearest-neighbour enlargement by an integer factor: the pixels a filter
 * visualisation really has, as blocks, rather than blur invented by
 * interpolation. */
cv_status cv_render_upscale_nearest(const cv_image *in, int factor, cv_image *out, cv_error *err)
{
    cv_status st = cv_image_alloc(out, in->w * factor, in->h * factor, 3, err);
    if (st != CV_OK)
        return st;
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++) {
            const uint8_t *p = in->px + ((size_t)(y / factor) * in->w + x / factor) * in->c;
            uint8_t *q = out->px + ((size_t)y * out->w + x) * 3;
            q[0] = p[0];
            q[1] = in->c >= 3 ? p[1] : p[0];
            q[2] = in->c >= 3 ? p[2] : p[0];
        }
    return CV_OK;
}

/* Tile k enlarged, its number under it. */
static cv_status cv_numbered_tile(const cv_image *tile, int number, int factor, cv_image *out, cv_error *err)
{
    cv_image big = {0};
    cv_status st = cv_render_upscale_nearest(tile, factor, &big, err);
    if (st != CV_OK)
        return st;
    char text[24];
    snprintf(text, sizeof text, "%d", number);
    st = cv_render_caption_below(&big, text, out, err);
    cv_image_free(&big);
    return st;
}

cv_status cv_render_filter_grid(const cv_image *tiles, int count, const int *numbers, const char *title,
                                int min_tile_px, cv_image *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!tiles || count <= 0 || !numbers)
        return cv_fail(err, CV_ERR_INVALID, "filter grid: no tiles");
    int side = 0;
    for (int k = 0; k < count; k++) {
        if (!tiles[k].px || tiles[k].w <= 0 || tiles[k].h <= 0 || tiles[k].c < 1 || tiles[k].c > 4)
            return cv_fail(err, CV_ERR_INVALID, "filter grid: tile %d is empty", k);
        side = tiles[k].w > side ? tiles[k].w : side;
        side = tiles[k].h > side ? tiles[k].h : side;
    }
    int factor = min_tile_px > side ? (min_tile_px + side - 1) / side : 1;
    if ((int64_t)side * factor > 4096)
        factor = 4096 / side > 1 ? 4096 / side : 1;
    cv_image *cells = calloc((size_t)count, sizeof *cells);
    if (!cells)
        return cv_fail(err, CV_ERR_NOMEM, "filter grid: out of memory");
    cv_status st = CV_OK;
    for (int k = 0; k < count && st == CV_OK; k++)
        st = cv_numbered_tile(&tiles[k], numbers[k], factor, &cells[k], err);
    cv_image grid = {0};
    const uint8_t white[3] = {255, 255, 255};
    /* columns as the original's grid: floor(sqrt(count)) */
    int cols = (int)floor(sqrt((double)count));
    if (st == CV_OK)
        st = cv_render_panels(cells, count, cols < 1 ? 1 : cols, 6, white, &grid, err);
    for (int k = 0; k < count; k++)
        cv_image_free(&cells[k]);
    free(cells);
    if (st == CV_OK)
        st = cv_render_caption(&grid, title ? title : "", out, err);
    cv_image_free(&grid);
    return st;
}
