/* The real model and photo in ../shared that several tests use. */
#ifndef CNNVIZ_TEST_REALDATA_H
#define CNNVIZ_TEST_REALDATA_H

#include "cnnviz.h"
#include <stdbool.h>

/* SqueezeNet 1.1 (float16 ONNX, ImageNet) from shared/models and
 * shared/images/bus.jpg resized to its 224 x 224 input (antialiased, or
 * plain bilinear) and preprocessed as it wants (raw 0..255, BGR). On
 * success *m is the model and *x the 3 x 224 x 224 input (caller frees
 * both); on failure err says which file and why. */
cv_status test_squeezenet_bus(const char *shared, bool antialias, cv_model **m, float **x, cv_error *err);

/* The same for any photo in shared/images (image: its file name); *w and
 * *h (either may be NULL) get the photo's original size. */
cv_status test_squeezenet_image(const char *shared, const char *image, bool antialias, cv_model **m, float **x,
                                int *w, int *h, cv_error *err);

/* The hand-drawn box of image's main object from shared/images/boxes.txt,
 * in original pixels, x0 y0 inclusive, x1 y1 exclusive; false when absent. */
bool test_shared_box(const char *shared, const char *image, int box[4]);

#endif
