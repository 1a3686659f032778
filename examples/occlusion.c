/* Occlusion sensitivity with libcnnviz, using only the public headers:
 * slide a black square over the image and record, at each position, the
 * probability the model still gives its top class.
 *
 *   cc occlusion.c $(pkg-config --cflags --libs cnnviz) -o occlusion
 *   ./occlusion models/fashion_cnn.onnx models/samples/bag.png map.npy [OCC [STRIDE]]
 *
 * writes map.npy: float64 [rows, cols] (numpy.load reads it), the values
 * `cnnviz occlusion --occ_size OCC --stride STRIDE` writes to probs.npy.
 * OCC (default 40) and STRIDE (default 5) are pixels of the model's input.
 */
#include "cnnviz.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: %s MODEL IMAGE OUT.npy [OCC_SIZE [STRIDE]]\n", argv[0]);
        return 2;
    }
    cv_error err;
    cv_model *model = NULL;
    cv_occlusion *occ = NULL;
    cv_image img = {0};
    float *x = NULL;
    double *map = NULL;
    int status = 1;

    /* The image as the model's input: its size and layout, preprocessed as
     * the model declares (or as cnnviz assumes when it declares nothing). */
    cv_input_geometry g;
    cv_preprocess prep;
    int assumed;
    if (cv_model_load(&model, argv[1], NULL, &err) != CV_OK || cv_image_load(&img, argv[2], &err) != CV_OK ||
        cv_model_input_geometry(model, 0, 0, &g, &err) != CV_OK ||
        cv_preprocess_auto(&prep, model, &assumed, &err) != CV_OK)
        goto fail;
    if (!(x = malloc(sizeof(float) * (size_t)g.channels * (size_t)g.height * (size_t)g.width)))
        goto nomem;
    if (cv_input_from_image(x, &img, &g, &prep, CV_RESIZE_ANTIALIAS, &err) != CV_OK)
        goto fail;

    /* The occluder is written into the preprocessed input: pixel value 0
     * (black) becomes cv_preprocess_value(0) in model space. */
    cv_occlusion_geometry og = {g.channels, g.height, g.width, g.nhwc};
    cv_occlusion_params p = cv_occlusion_defaults();
    p.occ_size = argc > 4 ? atoi(argv[4]) : 40;
    p.stride = argc > 5 ? atoi(argv[5]) : 5;
    for (int c = 0; c < g.channels; c++)
        p.fill_value[c] = cv_preprocess_value(&prep, 0.0f, c);
    if (cv_occlusion_create(&occ, model, x, &og, &p, &err) != CV_OK)
        goto fail;
    int rows, cols, n_classes;
    cv_occlusion_grid(occ, &rows, &cols);
    const float *base = cv_occlusion_base_probs(occ, &n_classes);
    if (!(map = malloc(sizeof(double) * (size_t)rows * (size_t)cols)))
        goto nomem;
    int top;
    cv_topk(&top, 1, base, (size_t)n_classes);
    if (cv_occlusion_run(occ, -1, map, NULL, NULL, &err) != CV_OK) /* -1: the top class */
        goto fail;

    cv_shape shape = {2, {rows, cols}};
    if (cv_npy_write_f64(argv[3], &shape, map, &err) != CV_OK)
        goto fail;
    double lowest = map[0];
    for (int k = 1; k < rows * cols; k++)
        lowest = map[k] < lowest ? map[k] : lowest;
    printf("class %d: p %.4f unoccluded, %.4f at the most sensitive of %d x %d positions (%s engine)\n", top,
           base[top], lowest, rows, cols, cv_occlusion_engine_name(occ));
    status = 0;
    goto out;
nomem:
    fprintf(stderr, "occlusion: out of memory\n");
    goto out;
fail:
    fprintf(stderr, "occlusion: %s\n", err.msg);
out:
    free(map);
    cv_occlusion_free(occ);
    free(x);
    cv_image_free(&img);
    cv_model_free(model);
    return status;
}
