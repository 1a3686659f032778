/* TEMPORARY: placeholders until the image/npy/preprocess module lands
 * (branch io). Deleted at that merge. */
#include "cnnviz_io.h"
#include "../core/graph.h"
#define PENDING(fn) return cv_fail(err, CV_ERR_UNSUPPORTED, "%s is not available yet", #fn)
cv_status cv_image_load(cv_image *img, const char *path, cv_error *err) { PENDING(image loading); }
cv_status cv_image_resize(cv_image *out, const cv_image *in, int w, int h, cv_error *err) { PENDING(resize); }
void cv_image_free(cv_image *img) {}
cv_status cv_npy_read(const char *path, cv_shape *shape, float **data, cv_error *err) { PENDING(npy); }
cv_status cv_npy_write_f32(const char *path, const cv_shape *shape, const float *data, cv_error *err) { PENDING(npy); }
cv_status cv_preprocess_preset(cv_preprocess *p, const char *name, cv_error *err) { PENDING(preprocess); }
cv_status cv_preprocess_set_mean(cv_preprocess *p, const char *csv, cv_error *err) { PENDING(preprocess); }
cv_status cv_preprocess_set_std(cv_preprocess *p, const char *csv, cv_error *err) { PENDING(preprocess); }
void cv_preprocess_image(const cv_preprocess *p, const cv_image *img, int channels, int nhwc, float *out) {}
