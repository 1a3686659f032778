/* Extras on top of oplab for operator tests (header-only):
 *
 *     oplab_begin(&lab, "Add", &xs);
 *     oplab_const_i64(&lab, &as, a);
 *     oplab_const_i64(&lab, &bs, b);
 *     opcase_drop_x(&lab);              // node reads only the constants
 *     ...oplab_end, oplab_forward...
 *     const cv_tensor *y = opcase_out(&lab, 0);   // y->i for int64 results
 *
 * opcase_swap puts the runtime input x in another input slot;
 * opcase_set_tensor_attr attaches a tensor attribute (Constant's value). */
#ifndef CV_OPCASE_H
#define CV_OPCASE_H
#include "oplab.h"
#include "netbuild.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>

/* Remove input 0 (the runtime x) from the node. */
static inline void opcase_drop_x(oplab *lab)
{
    cv_node *n = &lab->m->nodes[lab->node];
    memmove(n->in, n->in + 1, sizeof(int) * (size_t)(n->n_in - 1));
    n->n_in--;
}

/* Swap node inputs i and j (e.g. to put x second). */
static inline void opcase_swap(oplab *lab, int i, int j)
{
    cv_node *n = &lab->m->nodes[lab->node];
    int t = n->in[i];
    n->in[i] = n->in[j];
    n->in[j] = t;
}

/* Add a second (third...) output to the node and make it a graph output. */
static inline void opcase_add_output(oplab *lab, const char *name)
{
    int v = cv_model_value(lab->m, name, &lab->err);
    cv_node *n = &lab->m->nodes[lab->node];
    n->out = realloc(n->out, sizeof(int) * (size_t)(n->n_out + 1));
    n->out[n->n_out++] = v;
    lab->m->outputs = realloc(lab->m->outputs, sizeof(int) * (size_t)(lab->m->n_outputs + 1));
    lab->m->outputs[lab->m->n_outputs++] = v;
}

/* A constant model value (not a node input), e.g. for tensor attributes. */
static inline int opcase_value(oplab *lab, cv_dtype dt, const cv_shape *s, const void *data)
{
    char name[32];
    snprintf(name, sizeof name, "t%d", lab->m->n_values);
    return nb_model_const(lab->m, name, dt, s, data, &lab->err);
}

/* Attach attribute `name` referring to constant value v. */
static inline void opcase_set_tensor_attr(oplab *lab, const char *name, int v)
{
    cv_node_set_int(lab->m, lab->node, name, 0, NULL);
    cv_node *n = &lab->m->nodes[lab->node];
    n->attrs[n->n_attr - 1].type = CV_ATTR_TENSOR;
    n->attrs[n->n_attr - 1].tensor = v;
}

static inline const cv_tensor *opcase_out(const oplab *lab, int k) { return cv_run_output(lab->run, k); }

/* max |a - b| over n int64 values (as a double). */
static inline double opcase_i64_diff(const int64_t *a, const int64_t *b, size_t n)
{
    double m = 0;
    for (size_t k = 0; k < n; k++) {
        double d = a[k] > b[k] ? (double)(a[k] - b[k]) : (double)(b[k] - a[k]);
        if (d > m)
            m = d;
    }
    return m;
}

/* Row-major offset of multi-index idx in shape s, broadcasting (size-1 dims
 * and missing leading dims of s read index 0). Used by naive references. */
static inline size_t opcase_bcast_offset(const cv_shape *s, const cv_shape *out, const int64_t *idx)
{
    size_t off = 0;
    for (int k = 0; k < s->ndim; k++) {
        int ko = k + out->ndim - s->ndim;
        int64_t i = s->d[k] == 1 ? 0 : idx[ko];
        off = off * (size_t)s->d[k] + (size_t)i;
    }
    return off;
}

/* Multi-index of flat offset f in shape s. */
static inline void opcase_unravel(const cv_shape *s, size_t f, int64_t *idx)
{
    for (int k = s->ndim - 1; k >= 0; k--) {
        idx[k] = (int64_t)(f % (size_t)s->d[k]);
        f /= (size_t)s->d[k];
    }
}

/* Keep values at least `gap` away from each of the points (kinks) so
 * central differences with a smaller step do not straddle them. */
static inline void opcase_avoid(float *x, size_t n, const float *kinks, int nk, float gap)
{
    for (size_t k = 0; k < n; k++)
        for (int j = 0; j < nk; j++)
            if (x[k] > kinks[j] - gap && x[k] < kinks[j] + gap)
                x[k] = kinks[j] + (x[k] < kinks[j] ? -2 * gap : 2 * gap);
}

#endif
