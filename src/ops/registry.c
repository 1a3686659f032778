/* The operator table: each file in src/ops/ exports a NULL-terminated list
 * of the operators it implements, named cv_ops_<file>. */
#include "../core/graph.h"
#include <string.h>

extern const cv_op_def *const cv_ops_conv[];
extern const cv_op_def *const cv_ops_pool[];
extern const cv_op_def *const cv_ops_batchnorm[];
extern const cv_op_def *const cv_ops_lrn[];
extern const cv_op_def *const cv_ops_activation[];
extern const cv_op_def *const cv_ops_softmax[];
extern const cv_op_def *const cv_ops_gemm[];
extern const cv_op_def *const cv_ops_elementwise[];
extern const cv_op_def *const cv_ops_concat[];
extern const cv_op_def *const cv_ops_reshape[];
extern const cv_op_def *const cv_ops_transpose[];
extern const cv_op_def *const cv_ops_pad[];
extern const cv_op_def *const cv_ops_reduce[];
extern const cv_op_def *const cv_ops_constant[];
extern const cv_op_def *const cv_ops_math[];
extern const cv_op_def *const cv_ops_variadic[];
extern const cv_op_def *const cv_ops_split[];
extern const cv_op_def *const cv_ops_expand[];
extern const cv_op_def *const cv_ops_resize[];
extern const cv_op_def *const cv_ops_convtranspose[];

static const cv_op_def *const *const groups[] = {
    cv_ops_conv,
    cv_ops_pool,
    cv_ops_batchnorm,
    cv_ops_lrn,
    cv_ops_activation,
    cv_ops_softmax,
    cv_ops_gemm,
    cv_ops_elementwise,
    cv_ops_concat,
    cv_ops_reshape,
    cv_ops_transpose,
    cv_ops_pad,
    cv_ops_reduce,
    cv_ops_constant,
    cv_ops_math,
    cv_ops_variadic,
    cv_ops_split,
    cv_ops_expand,
    cv_ops_resize,
    cv_ops_convtranspose,
};

const cv_op_def *cv_op_find(const char *type)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const cv_op_def *const *op = groups[g]; *op; op++)
            if (strcmp((*op)->type, type) == 0)
                return *op;
    return NULL;
}

const cv_op_def *cv_op_at(int i)
{
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (const cv_op_def *const *op = groups[g]; *op; op++)
            if (i-- == 0)
                return *op;
    return NULL;
}
