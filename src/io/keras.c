/* Keras HDF5 loader (issue 6). */
#include "../core/loaders.h"

cv_status cv_load_keras(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err)
{
    *out = NULL;
    return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: Keras HDF5 models are not supported yet", path);
}
