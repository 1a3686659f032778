#include "realdata.h"
#include "cnnviz_io.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cv_status test_squeezenet_bus(const char *shared, bool antialias, cv_model **m, float **x, cv_error *err)
{
    return test_squeezenet_image(shared, "bus.jpg", antialias, m, x, NULL, NULL, err);
}

bool test_shared_box(const char *shared, const char *image, int box[4])
{
    char path[512], line[512], name[256];
    snprintf(path, sizeof path, "%s/images/boxes.txt", shared);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, fp))
        found = line[0] != '#' && sscanf(line, "%255s %d %d %d %d", name, &box[0], &box[1], &box[2], &box[3]) == 5 &&
                strcmp(name, image) == 0;
    fclose(fp);
    return found;
}

cv_status test_squeezenet_image(const char *shared, const char *image, bool antialias, cv_model **m, float **x,
                                int *w, int *h, cv_error *err)
{
    char mp[512], ip[512];
    snprintf(mp, sizeof mp, "%s/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx", shared);
    snprintf(ip, sizeof ip, "%s/images/%s", shared, image);
    *m = NULL;
    *x = NULL;
    cv_image img = {0}, sized = {0};
    cv_preprocess pre;
    cv_status st;
    if ((st = cv_model_load(m, mp, NULL, err)) != CV_OK || (st = cv_image_load(&img, ip, err)) != CV_OK ||
        (st = antialias ? cv_image_resize_antialias(&sized, &img, 224, 224, err)
                        : cv_image_resize(&sized, &img, 224, 224, err)) != CV_OK ||
        (st = cv_preprocess_preset(&pre, "raw", err)) != CV_OK)
        goto fail;
    pre.bgr = 1;
    if (w)
        *w = img.w;
    if (h)
        *h = img.h;
    if (!(*x = malloc(sizeof(float) * 3 * 224 * 224))) {
        st = err->status = CV_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        goto fail;
    }
    cv_preprocess_image(&pre, &sized, 3, 0, *x);
    cv_image_free(&img);
    cv_image_free(&sized);
    return CV_OK;
fail:
    cv_model_free(*m);
    *m = NULL;
    cv_image_free(&img);
    cv_image_free(&sized);
    return st;
}
