/* Ops that change only the shape: Flatten, Reshape, Squeeze, Unsqueeze,
 * Identity and (inference) Dropout. Data is copied unchanged (never aliased:
 * the executor frees buffers independently), float32 or int64; backward
 * adds the output gradient back element for element.
 *
 * Shape-like inputs (Reshape's shape, the axes of Squeeze/Unsqueeze from
 * opset 13) must be constant at plan time.
 */
#include "bcast.h"
#include <stdlib.h>
#include <string.h>

/* Common forward/backward: same elements, new shape. */
static void copy_forward(cv_op_ctx *c)
{
    size_t n = cv_shape_numel(&c->in[0]->shape);
    memcpy(cv_tensor_bytes(c->out[0]), cv_tensor_bytes(c->in[0]), n * cv_dtype_size(c->in[0]->dtype));
}

static void copy_backward(cv_op_ctx *c)
{
    float *dx = c->in[0]->grad;
    const float *dy = c->out[0]->grad;
    if (!dx || !dy)
        return;
    size_t n = cv_shape_numel(&c->in[0]->shape);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += dy[k];
}

static cv_status check_data(const cv_op_ctx *c, cv_error *err)
{
    if (c->n_in < 1 || !c->in[0])
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    if (c->in[0]->dtype != CV_F32 && c->in[0]->dtype != CV_I64)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "data must be float32 or int64");
    return CV_OK;
}

/* Read a static int64 1-D "axes"/"shape" input k into v (at most max). */
static cv_status read_ints_input(const cv_op_ctx *c, int k, const char *what, int64_t *v, int max, int *count,
                                 cv_error *err)
{
    const cv_tensor *t = c->in[k];
    if (!c->in_static[k])
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'%s' input must be constant", what);
    if (t->dtype != CV_I64 || t->shape.ndim > 1)
        return cv_fail(err, CV_ERR_INVALID, "'%s' must be a 1-D int64 tensor", what);
    size_t n = cv_shape_numel(&t->shape);
    if (n > (size_t)max)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'%s' has %zu entries (at most %d supported)", what, n, max);
    memcpy(v, t->i, n * sizeof(int64_t));
    *count = (int)n;
    return CV_OK;
}

/* ---- Identity ---------------------------------------------------------------- */

static cv_status identity_infer(cv_op_ctx *c, cv_error *err)
{
    cv_status st = check_data(c, err);
    if (st != CV_OK)
        return st;
    c->out[0]->dtype = c->in[0]->dtype;
    c->out[0]->shape = c->in[0]->shape;
    return CV_OK;
}

static const cv_op_def identity = {
    .type = "Identity", .infer = identity_infer, .forward = copy_forward, .backward = copy_backward,
    .spatial = CV_SPATIAL_POINTWISE,
};

/* ---- Dropout (inference: identity) -------------------------------------------
 * Opset < 12: `ratio` attribute; from 12: optional inputs ratio and
 * training_mode. A constant true training_mode would mean random dropout,
 * which a visualisation tool has no use for: refused. The optional mask is
 * all ones: float before opset 10, bool (stored as int64) from 10. */

typedef struct {
    bool mask_i64;
} dropout_params;

static cv_status dropout_init(cv_node *n, const cv_model *m, cv_error *err)
{
    dropout_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    p->mask_i64 = cv_opset(m) >= 10;
    n->params = p;
    return CV_OK;
}

static cv_status dropout_infer(cv_op_ctx *c, cv_error *err)
{
    const dropout_params *p = c->params;
    cv_status st = identity_infer(c, err);
    if (st != CV_OK)
        return st;
    if (c->n_in > 2 && c->in[2]) {
        const cv_tensor *t = c->in[2];
        if (!c->in_static[2])
            return cv_fail(err, CV_ERR_UNSUPPORTED, "'training_mode' input must be constant");
        bool on = cv_shape_numel(&t->shape) > 0 && (t->dtype == CV_I64 ? t->i[0] != 0 : t->f[0] != 0.0f);
        if (on)
            return cv_fail(err, CV_ERR_UNSUPPORTED, "training-mode (random) dropout is not supported");
    }
    if (c->n_out > 1 && c->out[1]) {
        c->out[1]->dtype = p->mask_i64 ? CV_I64 : CV_F32;
        c->out[1]->shape = c->in[0]->shape;
    }
    return CV_OK;
}

static void dropout_forward(cv_op_ctx *c)
{
    copy_forward(c);
    if (c->n_out > 1 && c->out[1]) {
        cv_tensor *mask = c->out[1];
        size_t n = cv_shape_numel(&mask->shape);
        for (size_t k = 0; k < n; k++) {
            if (mask->dtype == CV_I64)
                mask->i[k] = 1;
            else
                mask->f[k] = 1.0f;
        }
    }
}

static const cv_op_def dropout = {
    .type = "Dropout", .init = dropout_init, .infer = dropout_infer,
    .forward = dropout_forward, .backward = copy_backward,
    .spatial = CV_SPATIAL_POINTWISE,
};

/* ---- Flatten: (prod dims[:axis], prod dims[axis:]) ----------------------------- */

static cv_status flatten_infer(cv_op_ctx *c, cv_error *err)
{
    cv_status st = check_data(c, err);
    if (st != CV_OK)
        return st;
    const cv_shape *s = &c->in[0]->shape;
    int64_t axis = cv_attr_int(c->node, "axis", 1);
    char b[160];
    if (axis < -s->ndim || axis > s->ndim)
        return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for input %s",
                       (long long)axis, cv_shape_str(s, b, sizeof b));
    if (axis < 0)
        axis += s->ndim;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < s->ndim; d++) {
        if (d < axis)
            outer *= s->d[d];
        else
            inner *= s->d[d];
    }
    c->out[0]->dtype = c->in[0]->dtype;
    c->out[0]->shape = (cv_shape){2, {outer, inner}};
    return CV_OK;
}

static const cv_op_def flatten = {
    .type = "Flatten", .infer = flatten_infer, .forward = copy_forward, .backward = copy_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- Reshape ---------------------------------------------------------------------
 * Target shape from input 1 (or the pre-opset-5 `shape` attribute). 0 copies
 * the input's dim at that index (unless allowzero=1: then it is a real 0),
 * one -1 is inferred from the element count. */

static bool mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

static cv_status reshape_infer(cv_op_ctx *c, cv_error *err)
{
    cv_status st = check_data(c, err);
    if (st != CV_OK)
        return st;
    const cv_shape *in = &c->in[0]->shape;
    int64_t want[CV_MAX_DIMS];
    int n;
    if (c->n_in > 1 && c->in[1]) {
        if ((st = read_ints_input(c, 1, "shape", want, CV_MAX_DIMS, &n, err)) != CV_OK)
            return st;
    } else if ((n = cv_attr_ints(c->node, "shape", want, CV_MAX_DIMS)) < 0) {
        return cv_fail(err, CV_ERR_INVALID, "needs a 'shape' input");
    } else if (n > CV_MAX_DIMS) {
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'shape' has %d entries (at most %d supported)", n, CV_MAX_DIMS);
    }
    bool allowzero = cv_attr_int(c->node, "allowzero", 0) != 0;
    cv_shape out = {n, {0}};
    int infer_at = -1;
    int64_t known = 1;
    char si[160], so[160];
    for (int k = 0; k < n; k++) {
        int64_t d = want[k];
        if (d == 0 && !allowzero) {
            if (k >= in->ndim)
                return cv_fail(err, CV_ERR_INVALID, "shape entry %d is 0 (copy) but the input %s has only %d dims",
                               k, cv_shape_str(in, si, sizeof si), in->ndim);
            d = in->d[k];
        } else if (d == -1) {
            if (infer_at >= 0)
                return cv_fail(err, CV_ERR_INVALID, "shape has more than one -1");
            infer_at = k;
            d = 1;
        } else if (d < 0) {
            return cv_fail(err, CV_ERR_INVALID, "shape entry %d is %lld", k, (long long)d);
        }
        out.d[k] = d;
        if (!mul_i64(known, d, &known))
            return cv_fail(err, CV_ERR_LIMIT, "shape entries overflow");
    }
    int64_t total = (int64_t)cv_shape_numel(in);
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            return cv_fail(err, CV_ERR_SHAPE, "cannot reshape input %s: -1 at entry %d has no exact size",
                           cv_shape_str(in, si, sizeof si), infer_at);
        out.d[infer_at] = total / known;
        known = total;
    }
    if (known != total) {
        return cv_fail(err, CV_ERR_SHAPE, "cannot reshape input %s (%lld elements) to %s", cv_shape_str(in, si, sizeof si),
                       (long long)total, cv_shape_str(&out, so, sizeof so));
    }
    c->out[0]->dtype = c->in[0]->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

static const cv_op_def reshape = {
    .type = "Reshape", .infer = reshape_infer, .forward = copy_forward, .backward = copy_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- Squeeze / Unsqueeze -----------------------------------------------------------
 * axes: an attribute before opset 13, an input from 13 (Squeeze's optional:
 * without axes every size-1 dim goes). Either form is accepted whatever the
 * opset, as long as only one is given. */

static cv_status get_axes(const cv_op_ctx *c, int64_t *axes, int *n, cv_error *err)
{
    int na = cv_attr_ints(c->node, "axes", axes, CV_MAX_DIMS);
    bool has_input = c->n_in > 1 && c->in[1];
    if (na >= 0 && has_input)
        return cv_fail(err, CV_ERR_INVALID, "'axes' is given both as attribute and as input");
    if (na > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'axes' has %d entries (at most %d supported)", na, CV_MAX_DIMS);
    *n = na;
    if (has_input)
        return read_ints_input(c, 1, "axes", axes, CV_MAX_DIMS, n, err);
    return CV_OK;
}

static cv_status squeeze_infer(cv_op_ctx *c, cv_error *err)
{
    cv_status st = check_data(c, err);
    if (st != CV_OK)
        return st;
    const cv_shape *in = &c->in[0]->shape;
    int64_t axes[CV_MAX_DIMS];
    int na;
    if ((st = get_axes(c, axes, &na, err)) != CV_OK)
        return st;
    bool drop[CV_MAX_DIMS] = {false};
    char s[160];
    if (na < 0) { /* no axes: every size-1 dim */
        for (int d = 0; d < in->ndim; d++)
            drop[d] = in->d[d] == 1;
    }
    for (int k = 0; k < na; k++) {
        int a = cv_norm_axis(axes[k], in->ndim);
        if (a < 0)
            return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for input %s", (long long)axes[k],
                           cv_shape_str(in, s, sizeof s));
        if (in->d[a] != 1)
            return cv_fail(err, CV_ERR_SHAPE, "cannot squeeze axis %d of input %s: its size is not 1", a,
                           cv_shape_str(in, s, sizeof s));
        drop[a] = true;
    }
    cv_shape out = {0, {0}};
    for (int d = 0; d < in->ndim; d++)
        if (!drop[d])
            out.d[out.ndim++] = in->d[d];
    c->out[0]->dtype = c->in[0]->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

static const cv_op_def squeeze = {
    .type = "Squeeze", .infer = squeeze_infer, .forward = copy_forward, .backward = copy_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

static cv_status unsqueeze_infer(cv_op_ctx *c, cv_error *err)
{
    cv_status st = check_data(c, err);
    if (st != CV_OK)
        return st;
    const cv_shape *in = &c->in[0]->shape;
    int64_t axes[CV_MAX_DIMS];
    int na;
    if ((st = get_axes(c, axes, &na, err)) != CV_OK)
        return st;
    if (na < 0)
        return cv_fail(err, CV_ERR_INVALID, "needs 'axes'");
    int r = in->ndim + na;
    if (r > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "result would have %d dims (at most %d supported)", r, CV_MAX_DIMS);
    bool ins[CV_MAX_DIMS] = {false};
    for (int k = 0; k < na; k++) {
        int a = cv_norm_axis(axes[k], r); /* relative to the output rank */
        if (a < 0 || ins[a])
            return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range or repeated for output rank %d",
                           (long long)axes[k], r);
        ins[a] = true;
    }
    cv_shape out = {r, {0}};
    for (int d = 0, j = 0; d < r; d++)
        out.d[d] = ins[d] ? 1 : in->d[j++];
    c->out[0]->dtype = c->in[0]->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

static const cv_op_def unsqueeze = {
    .type = "Unsqueeze", .infer = unsqueeze_infer, .forward = copy_forward, .backward = copy_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_reshape[] = {&flatten, &reshape, &squeeze, &unsqueeze, &identity, &dropout, NULL};
