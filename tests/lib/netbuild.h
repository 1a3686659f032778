/* Build small networks in memory with random weights, for engine tests:
 *
 *     netbuild nb;
 *     cv_shape xs = {4, {1, 3, 32, 32}};
 *     int x = nb_begin(&nb, &xs, 13);
 *     x = nb_conv(&nb, x, 3, 8, 3, 1, 1, 1);
 *     x = nb_unary(&nb, "Relu", x);
 *     ...
 *     cv_model *m = nb_end(&nb, x);   // NULL on error, message in nb.err
 */
#ifndef CV_NETBUILD_H
#define CV_NETBUILD_H
#include "../../src/core/graph.h"

typedef struct {
    cv_model *m;
    int counter;
    cv_error err;
} netbuild;

int nb_begin(netbuild *nb, const cv_shape *x_shape, int opset);
int nb_const(netbuild *nb, const cv_shape *shape, float lo, float hi);
/* Conv with weights [cout, cin/group, k, k] and bias; pads symmetric. */
int nb_conv(netbuild *nb, int x, int cin, int cout, int k, int stride, int pad, int group);
int nb_unary(netbuild *nb, const char *op, int x);
int nb_binary(netbuild *nb, const char *op, int a, int b);
int nb_clip(netbuild *nb, int x, float lo, float hi);
int nb_pool(netbuild *nb, const char *op, int x, int k, int stride, int pad, int ceil_mode, int count_include_pad);
int nb_concat(netbuild *nb, int a, int b);
int nb_gemm(netbuild *nb, int x, int in, int out); /* Flatten then Gemm */
/* Generic node with one output; returns the output value. */
int nb_node(netbuild *nb, const char *op, const int *in, int n_in);
cv_model *nb_end(netbuild *nb, int out);

/* On any model under construction (netbuild's, oplab's, or one a test
 * wires by hand), the only places tests write model values:
 * nb_model_const: a new constant value named name holding a copy of data
 * (dtype CV_F32 or CV_I64, numel(shape) elements); -1 on error.
 * nb_model_input: value v (created as name when v < 0) becomes the
 * model's runtime input with shape shape; returns it. */
int nb_model_const(cv_model *m, const char *name, cv_dtype dtype, const cv_shape *shape, const void *data,
                   cv_error *err);
int nb_model_input(cv_model *m, int v, const char *name, const cv_shape *shape, cv_error *err);

#endif
