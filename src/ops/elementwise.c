#include "../core/graph.h"
#include <stddef.h>

const cv_op_def *const cv_ops_elementwise[] = {NULL};
