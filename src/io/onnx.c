/* ONNX loader. */
#include "../core/loaders.h"
#include "onnx.pb-c.h"

cv_status cv_load_onnx(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err)
{
    *out = NULL;
    return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: ONNX loading not written yet", path);
}
