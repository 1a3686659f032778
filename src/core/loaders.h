/* Model file loaders; cv_model_load dispatches on the file's magic. */
#ifndef CV_LOADERS_H
#define CV_LOADERS_H
#include "graph.h"

cv_status cv_load_onnx(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err);
cv_status cv_load_keras(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err);

/* ---- ONNX extras (conformance runner, tools) ------------------------------ */

/* Load an ONNX model with some named graph inputs replaced by constants:
 * input names[k] becomes a constant of dtypes[k] / shapes[k] holding a copy
 * of datas[k] (float* for CV_F32, int64_t* for CV_I64). The one input left
 * unbound is the model's real input. Operator test models often have several
 * inputs (Add(x, y), Reshape(data, shape)); binding all but the first lets
 * the single-input engine run them. */
cv_status cv_load_onnx_bound(cv_model **out, const char *path, const cv_load_options *opt,
                             int n_bind, const char *const *names, const cv_dtype *dtypes,
                             const cv_shape *shapes, const void *const *datas, cv_error *err);

/* Read a serialized TensorProto (the ONNX test data format: input_0.pb,
 * output_0.pb). float32/float16/bfloat16/double become CV_F32; integer and
 * bool types become CV_I64. *data is malloc'ed (free it), never NULL on
 * success, even for an empty tensor. External data is read relative to the
 * file's directory. */
cv_status cv_onnx_read_tensor(const char *path, cv_dtype *dtype, cv_shape *shape, void **data,
                              cv_error *err);

/* What an ONNX file declares, read without building the model. */
typedef struct {
    int n_inputs;       /* real graph inputs (not initializers), in order */
    char **inputs;
    int *input_types;   /* ONNX elem_type of each (1 float, 7 int64, 10 float16, ...); 0 when
                           not declared, -1 when not a tensor (a sequence, a map) */
    int n_outputs;      /* graph outputs, in order */
    char **outputs;
    int *output_types;  /* as input_types */
    int n_ops;          /* distinct operator types, in first-use order; an operator from
                           another domain is written "domain:Op" */
    char **ops;
    int opset;          /* default-domain opset (1 when absent) */
    int64_t ir_version;
} cv_onnx_info;

cv_status cv_onnx_inspect(const char *path, cv_onnx_info *info, cv_error *err);
void cv_onnx_info_free(cv_onnx_info *info);

#endif
