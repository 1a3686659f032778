/* Model file loaders; cv_model_load dispatches on the file's magic. */
#ifndef CV_LOADERS_H
#define CV_LOADERS_H
#include "graph.h"

cv_status cv_load_onnx(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err);
cv_status cv_load_keras(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err);

#endif
