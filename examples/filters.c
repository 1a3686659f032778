/* Filter visualisation with libcnnviz, using only the public headers: for
 * the first filters of a layer, synthesise the images that excite each
 * one most (gradient ascent on the input), and save them as one PNG grid.
 *
 *   cc filters.c $(pkg-config --cflags --libs cnnviz) -o filters
 *   ./filters models/fashion_cnn.onnx conv2 grid.png [N]
 *
 * N (default 4) filters, 0 .. N-1, with the original tool's method
 * (CV_FILTERS_SEED) and seed 0: the pictures `cnnviz filters --layer conv2
 * --filters 0,1,2,3 --tiles` writes as filter_<k>.png, side by side with
 * 5 black pixels between them, rows of floor(sqrt(N)).
 */
#include "cnnviz.h"
#include "cnnviz_io.h"
#include "cnnviz_render.h"
#include "cnnviz_viz.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s MODEL LAYER OUT.png [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 4 ? atoi(argv[4]) : 4;
    cv_error err;
    cv_model *model = NULL;
    cv_filters_result res = {0};
    cv_image *tiles = NULL, grid = {0};
    int *ks = NULL, status = 1, channels, assumed;
    cv_input_geometry g;

    cv_filters_options o = cv_filters_defaults();
    if (cv_model_load(&model, argv[1], NULL, &err) != CV_OK || cv_model_input_geometry(model, 0, 0, &g, &err) != CV_OK ||
        cv_preprocess_auto(&o.pre, model, &assumed, &err) != CV_OK)
        goto fail;
    /* The layer by name (its message lists close names when it is not
     * there), and how many filters (output channels) it has. */
    if ((o.layer = cv_model_find_layer(model, argv[2], &err)) < 0 ||
        cv_filters_layer_channels(model, o.layer, g.height, g.width, &channels, &err) != CV_OK)
        goto fail;
    n = n < 1 ? 1 : n > channels ? channels : n;
    if (!(ks = malloc(sizeof(int) * (size_t)n)) || !(tiles = calloc((size_t)n, sizeof *tiles)))
        goto nomem;
    for (int k = 0; k < n; k++)
        ks[k] = k;
    o.filters = ks;
    o.n_filters = n;
    o.height = g.height;
    o.width = g.width;
    o.seed = 0;
    if (cv_filters_run(&res, model, &o, &err) != CV_OK)
        goto fail;

    /* res.rgb holds the pictures one after another (h x w x 3 bytes each):
     * cv_image views of them, not copies, for the grid. */
    for (int k = 0; k < res.count; k++)
        tiles[k] = (cv_image){res.width, res.height, 3, res.rgb + (size_t)k * res.width * res.height * 3};
    if (cv_render_grid(tiles, res.count, res.width, res.height, 0, 5, &grid, &err) != CV_OK ||
        cv_image_save_png(&grid, argv[3], &err) != CV_OK)
        goto fail;
    for (int k = 0; k < res.count; k++)
        printf("filter %d: mean activation %g (%s)\n", res.filters[k], res.activation[k], cv_filters_status(&res, k));
    printf("%s: %d x %d\n", argv[3], grid.w, grid.h);
    status = 0;
    goto out;
nomem:
    fprintf(stderr, "filters: out of memory\n");
    goto out;
fail:
    fprintf(stderr, "filters: %s\n", err.msg);
out:
    cv_image_free(&grid);
    free(tiles);
    free(ks);
    cv_filters_result_free(&res);
    cv_model_free(model);
    return status;
}
