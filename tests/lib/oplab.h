/* Build one-operator models in memory and check them: forward against a
 * caller's naive reference, backward against central finite differences.
 *
 *     cv_shape xs = {4, {2, 3, 8, 8}};
 *     oplab lab;
 *     oplab_begin(&lab, "Conv", &xs);              // input "x" -> node -> "y"
 *     oplab_const(&lab, &ws, w);                   // extra inputs: constants
 *     cv_node_set_ints(lab.m, lab.node, "pads", pads, 4, NULL);
 *     REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
 *     oplab_forward(&lab, x);                      // lab.y, lab.y_shape
 *     double e = oplab_gradcheck(&lab, x, 1e-2);   // max relative error
 *     oplab_free(&lab);
 */
#ifndef CV_OPLAB_H
#define CV_OPLAB_H
#include "../../src/core/graph.h"

typedef struct {
    cv_model *m;
    int node;
    cv_shape x_shape;
    cv_error err;
    int conv_algo;      /* cv_run_options.conv_algo of oplab_forward's run (0: CV_CONV_AUTO) */
    cv_run *run;        /* after oplab_forward */
    const float *y;     /* output 0 after oplab_forward */
    cv_shape y_shape;
    size_t y_numel;
} oplab;

void oplab_begin(oplab *lab, const char *op_type, const cv_shape *x_shape);
/* Append a constant float input (copied). */
void oplab_const(oplab *lab, const cv_shape *shape, const float *data);
void oplab_const_i64(oplab *lab, const cv_shape *shape, const int64_t *data);
/* Append an omitted optional input (""). */
void oplab_none(oplab *lab);
/* Finalize (runs the op's init); returns its status, message in lab->err. */
cv_status oplab_end(oplab *lab);
/* Plan and run forward (with need_grad); returns status. The forward runs
 * twice, its outputs filled with NaN (int64: INT64_MIN) before the second
 * time, so an op that leaves values unwritten fails its comparison. */
cv_status oplab_forward(oplab *lab, const float *x);
/* Max relative error between analytic d(sum(w*y))/dx and central differences
 * with step eps, for random weights w. Prints the error. */
double oplab_gradcheck(oplab *lab, const float *x, float eps);
void oplab_free(oplab *lab);

#endif
