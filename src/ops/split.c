/* Split: cut a tensor along one axis into consecutive parts, one per
 * output. float32 or int64.
 *
 * Where the part lengths come from depends on the opset:
 * - opset 1: the `split` attribute or a second input;
 * - opsets 2-12: the `split` attribute;
 * - opsets 13+: an optional second input, which must be constant;
 * - opset 18: or the `num_outputs` attribute: parts of ceil(dim / n), the
 *   last one smaller when dim does not divide.
 * With none of these the axis is cut into equal parts, one per output (it
 * must divide evenly). Parts may be empty.
 *
 * Backward copies each output's gradient back into its slice of the
 * input's (outputs without a gradient contribute nothing).
 */
#include "bcast.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t axis;
    bool lens_from_input;   /* input 1 holds the lengths */
    int64_t num_outputs;    /* opset 18 attribute, 0 when absent */
} split_params;

static cv_status split_init(cv_node *n, const cv_model *m, cv_error *err)
{
    int opset = cv_opset(m);
    if (n->n_in < 1 || n->n_in > 2 || n->in[0] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects inputs (input, optional split), got %d inputs", n->n_in);
    if (n->n_out < 1)
        return cv_fail(err, CV_ERR_INVALID, "has no outputs");
    split_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    p->axis = cv_attr_int(n, "axis", 0);
    p->lens_from_input = n->n_in > 1 && n->in[1] >= 0;
    const cv_attr *sa = cv_node_attr(n, "split");
    if (sa && opset >= 13)
        return cv_fail(err, CV_ERR_INVALID, "opset %d Split takes 'split' as an input, not an attribute", opset);
    if (p->lens_from_input && opset >= 2 && opset < 13)
        return cv_fail(err, CV_ERR_INVALID, "opset %d Split takes 'split' as an attribute, not an input", opset);
    if (sa && p->lens_from_input)
        return cv_fail(err, CV_ERR_INVALID, "'split' is given both as attribute and as input");
    if (sa && (sa->type != CV_ATTR_INTS || sa->n != n->n_out))
        return cv_fail(err, CV_ERR_INVALID, "attribute 'split' has %d entries for %d outputs", sa->n, n->n_out);
    const cv_attr *no = cv_node_attr(n, "num_outputs");
    if (no) {
        if (opset < 18)
            return cv_fail(err, CV_ERR_INVALID, "attribute 'num_outputs' needs opset 18 (the model has %d)", opset);
        if (p->lens_from_input)
            return cv_fail(err, CV_ERR_INVALID, "'num_outputs' and a 'split' input cannot both be given");
        if (no->i != n->n_out)
            return cv_fail(err, CV_ERR_INVALID, "num_outputs = %lld but the node has %d outputs", (long long)no->i,
                           n->n_out);
        p->num_outputs = no->i;
    }
    return CV_OK;
}

/* Length of part k of an axis of size dim. Checked by split_check. */
static int64_t split_len(const cv_op_ctx *c, int k, int64_t dim)
{
    const split_params *p = c->params;
    if (p->lens_from_input)
        return c->in[1]->i[k];
    const cv_attr *sa = cv_node_attr(c->node, "split");
    if (sa)
        return sa->ints[k];
    int64_t n = c->n_out;
    if (p->num_outputs) {
        int64_t chunk = (dim + n - 1) / n;
        return k < n - 1 ? chunk : dim - chunk * (n - 1);
    }
    return dim / n;
}

static cv_status split_check(cv_op_ctx *c, int *axis, cv_error *err)
{
    const split_params *p = c->params;
    const cv_shape *xs = &c->in[0]->shape;
    char b[160];
    int a = cv_norm_axis(p->axis, xs->ndim);
    if (a < 0)
        return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for input %s", (long long)p->axis,
                       cv_shape_str(xs, b, sizeof b));
    int64_t dim = xs->d[a], n = c->n_out;
    if (p->lens_from_input) {
        const cv_tensor *s = c->in[1];
        if (c->in_static && !c->in_static[1]) /* in_static: only while planning */
            return cv_fail(err, CV_ERR_UNSUPPORTED, "input 'split' must be constant");
        if (s->dtype != CV_I64 || s->shape.ndim > 1 || cv_shape_numel(&s->shape) != (size_t)n)
            return cv_fail(err, CV_ERR_INVALID, "input 'split' must be a 1-D int64 tensor of %lld entries (one per output)",
                           (long long)n);
    } else if (!cv_node_attr(c->node, "split") && !p->num_outputs && dim % n != 0) {
        return cv_fail(err, CV_ERR_SHAPE, "axis %d of input %s (%lld) does not split into %lld equal parts", a,
                       cv_shape_str(xs, b, sizeof b), (long long)dim, (long long)n);
    }
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        int64_t len = split_len(c, k, dim);
        if (len < 0 || len > dim)
            return cv_fail(err, CV_ERR_INVALID, "part %d has length %lld (axis %d of input %s is %lld long)", k,
                           (long long)len, a, cv_shape_str(xs, b, sizeof b), (long long)dim);
        total += len;
    }
    if (total != dim)
        return cv_fail(err, CV_ERR_SHAPE, "the parts add up to %lld but axis %d of input %s is %lld long",
                       (long long)total, a, cv_shape_str(xs, b, sizeof b), (long long)dim);
    *axis = a;
    return CV_OK;
}

static cv_status split_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0];
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 or int64 input");
    int a;
    cv_status st = split_check(c, &a, err);
    if (st != CV_OK)
        return st;
    for (int k = 0; k < c->n_out; k++) {
        if (!c->out[k])
            continue;
        c->out[k]->dtype = x->dtype;
        c->out[k]->shape = x->shape;
        c->out[k]->shape.d[a] = split_len(c, k, x->shape.d[a]);
    }
    return CV_OK;
}

/* x viewed as (outer, dim, inner); part k is columns [off, off + len). */
static void split_geom(const cv_op_ctx *c, int a, int64_t *outer, int64_t *dim, int64_t *inner)
{
    const cv_shape *xs = &c->in[0]->shape;
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < a; d++)
        *outer *= xs->d[d];
    for (int d = a + 1; d < xs->ndim; d++)
        *inner *= xs->d[d];
    *dim = xs->d[a];
}

static void split_forward(cv_op_ctx *c)
{
    int a;
    if (split_check(c, &a, NULL) != CV_OK)
        return; /* unreachable: infer accepted it */
    int64_t outer, dim, inner, off = 0;
    split_geom(c, a, &outer, &dim, &inner);
    const cv_tensor *x = c->in[0];
    size_t es = cv_dtype_size(x->dtype);
    const char *xb = cv_tensor_bytes(x);
    for (int k = 0; k < c->n_out; k++) {
        int64_t len = split_len(c, k, dim);
        if (c->out[k]) {
            char *yb = cv_tensor_bytes(c->out[k]);
            size_t run = (size_t)(len * inner) * es;
            for (int64_t o = 0; o < outer; o++)
                memcpy(yb + (size_t)o * run, xb + ((size_t)(o * dim + off) * (size_t)inner) * es, run);
        }
        off += len;
    }
}

static void split_backward(cv_op_ctx *c)
{
    float *dx = c->in[0]->grad;
    if (!dx)
        return;
    int a;
    if (split_check(c, &a, NULL) != CV_OK)
        return;
    int64_t outer, dim, inner, off = 0;
    split_geom(c, a, &outer, &dim, &inner);
    for (int k = 0; k < c->n_out; k++) {
        int64_t len = split_len(c, k, dim), run = len * inner;
        const float *dy = c->out[k] ? c->out[k]->grad : NULL; /* (outer, len, inner) */
        if (dy)
            for (int64_t o = 0; o < outer; o++) {
                float *d = dx + (o * dim + off) * inner;
                const float *s = dy + o * run;
                for (int64_t t = 0; t < run; t++)
                    d[t] += s[t];
            }
        off += len;
    }
}

static const cv_op_def split = {
    .type = "Split", .init = split_init, .infer = split_infer, .forward = split_forward, .backward = split_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_split[] = {&split, NULL};
