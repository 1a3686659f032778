/* Pad: constant, reflect and edge modes; negative pads crop.
 *
 * Opset < 11: `pads` and `value` attributes. Opset >= 11: `pads` is input 1
 * (must be constant), the optional constant_value is input 2; opset 18's
 * optional `axes` input 3 is accepted too. pads = [begin_0.., end_0..].
 *
 * Each output index along a dim maps to an input index (or "constant"):
 *   i = o - begin; inside [0, n) it is i itself; outside, constant mode
 *   gives the fill value, edge clamps, reflect mirrors without repeating
 *   the border (numpy "reflect", periodic for pads longer than the dim).
 * Backward adds dy to the input element each output came from.
 */
#include "bcast.h"
#include <stdlib.h>
#include <string.h>

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

typedef struct {
    int mode;
    bool attr_form;          /* pads/value given as attributes */
    int n_pads;
    int64_t pads[2 * CV_MAX_DIMS];
    float value;
} pad_params;

static cv_status pad_init(cv_node *n, const cv_model *m, cv_error *err)
{
    pad_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    const char *mode = cv_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") == 0)
        p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        p->mode = PAD_EDGE;
    else
        return cv_fail(err, CV_ERR_UNSUPPORTED, "mode '%s' is not supported (constant, reflect, edge are)", mode);
    const cv_attr *a = cv_node_attr(n, "pads");
    p->attr_form = a != NULL;
    if (p->attr_form) {
        if (a->type != CV_ATTR_INTS || a->n > 2 * CV_MAX_DIMS || a->n % 2)
            return cv_fail(err, CV_ERR_INVALID, "'pads' must list a begin and an end per dim (at most %d dims)",
                           CV_MAX_DIMS);
        p->n_pads = a->n;
        memcpy(p->pads, a->ints, sizeof(int64_t) * (size_t)a->n);
        p->value = cv_attr_float(n, "value", 0.0f);
    } else if (n->n_in < 2 || n->in[1] < 0) {
        return cv_fail(err, CV_ERR_INVALID, "needs 'pads' (an input from opset 11, an attribute before)");
    }
    return CV_OK;
}

/* begin/end per dim for this run's input; validated by pad_infer. */
static cv_status pad_amounts(const cv_op_ctx *c, int64_t *begin, int64_t *end, cv_error *err)
{
    const pad_params *p = c->params;
    int r = c->in[0]->shape.ndim;
    const int64_t *pads = p->pads;
    int np = p->n_pads;
    int axes[CV_MAX_DIMS];
    int na = r;
    for (int k = 0; k < r; k++)
        axes[k] = k;
    if (!p->attr_form) {
        const cv_tensor *t = c->in[1];
        if (t->dtype != CV_I64 || t->shape.ndim != 1)
            return cv_fail(err, CV_ERR_INVALID, "'pads' must be a 1-D int64 tensor");
        pads = t->i;
        np = (int)t->shape.d[0];
        if (c->n_in > 3 && c->in[3]) { /* opset 18 axes */
            const cv_tensor *at = c->in[3];
            if (at->dtype != CV_I64 || at->shape.ndim != 1 || at->shape.d[0] > r)
                return cv_fail(err, CV_ERR_INVALID, "'axes' must be a 1-D int64 tensor of at most %d entries", r);
            na = (int)at->shape.d[0];
            for (int k = 0; k < na; k++)
                if ((axes[k] = cv_norm_axis(at->i[k], r)) < 0)
                    return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range", (long long)at->i[k]);
        }
    }
    if (np != 2 * na)
        return cv_fail(err, CV_ERR_SHAPE, "'pads' has %d entries, expected %d for a %d-D input", np, 2 * na, r);
    for (int k = 0; k < r; k++)
        begin[k] = end[k] = 0;
    for (int k = 0; k < na; k++) {
        begin[axes[k]] = pads[k];
        end[axes[k]] = pads[k + na];
    }
    return CV_OK;
}

static cv_status pad_infer(cv_op_ctx *c, cv_error *err)
{
    const pad_params *p = c->params;
    const cv_tensor *x = c->in[0];
    if (!x)
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "data must be float32 or int64");
    static const char *const names[] = {"", "pads", "constant_value", "axes"};
    for (int k = 1; k < c->n_in && k < 4; k++)
        if (c->in[k] && !c->in_static[k] && k != 2)
            return cv_fail(err, CV_ERR_UNSUPPORTED, "'%s' input must be constant", names[k]);
    if (c->n_in > 2 && c->in[2] && (c->in[2]->dtype != x->dtype || cv_shape_numel(&c->in[2]->shape) != 1))
        return cv_fail(err, CV_ERR_INVALID, "'constant_value' must be one value of the data's type");
    int64_t begin[CV_MAX_DIMS], end[CV_MAX_DIMS];
    cv_status st = pad_amounts(c, begin, end, err);
    if (st != CV_OK)
        return st;
    cv_shape out = x->shape;
    char s[160];
    for (int k = 0; k < out.ndim; k++) {
        if (__builtin_add_overflow(x->shape.d[k], begin[k], &out.d[k]) ||
            __builtin_add_overflow(out.d[k], end[k], &out.d[k]))
            return cv_fail(err, CV_ERR_LIMIT, "pads %lld/%lld on dim %d overflow", (long long)begin[k],
                           (long long)end[k], k);
        if (out.d[k] < 0)
            return cv_fail(err, CV_ERR_SHAPE, "pads %lld/%lld crop more than dim %d of input %s", (long long)begin[k],
                           (long long)end[k], k, cv_shape_str(&x->shape, s, sizeof s));
        if (p->mode != PAD_CONSTANT && x->shape.d[k] == 0 && out.d[k] > 0)
            return cv_fail(err, CV_ERR_INVALID, "cannot %s-pad the empty dim %d of input %s",
                           p->mode == PAD_EDGE ? "edge" : "reflect", k, cv_shape_str(&x->shape, s, sizeof s));
    }
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

/* Input index for output index o along a dim of size n padded by `begin`;
 * -1 = the constant fill. */
static int64_t pad_src(int mode, int64_t o, int64_t begin, int64_t n)
{
    int64_t i = o - begin;
    if (i >= 0 && i < n)
        return i;
    if (mode == PAD_CONSTANT)
        return -1;
    if (mode == PAD_EDGE)
        return i < 0 ? 0 : n - 1;
    if (n == 1)
        return 0;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

typedef struct {
    int r;
    int64_t begin[CV_MAX_DIMS];
    int64_t in_d[CV_MAX_DIMS], out_d[CV_MAX_DIMS], in_stride[CV_MAX_DIMS];
    int64_t rows, len;
} pad_geom;

static void pad_geometry(const cv_op_ctx *c, pad_geom *g)
{
    int64_t end[CV_MAX_DIMS];
    pad_amounts(c, g->begin, end, NULL);
    const cv_shape *s = &c->in[0]->shape;
    g->r = s->ndim;
    int64_t acc = 1;
    for (int k = g->r - 1; k >= 0; k--) {
        g->in_d[k] = s->d[k];
        g->out_d[k] = c->out[0]->shape.d[k];
        g->in_stride[k] = acc;
        acc *= s->d[k];
    }
    g->len = g->r ? g->out_d[g->r - 1] : 1;
    g->rows = 1;
    for (int k = 0; k < g->r - 1; k++)
        g->rows *= g->out_d[k];
}

/* Input offset of output row `row` (all dims but the last); -1 if the row
 * lies in the constant padding. */
static int64_t pad_row_src(const pad_geom *g, int mode, int64_t row)
{
    int64_t off = 0;
    for (int k = g->r - 2; k >= 0; k--) {
        int64_t o = row % g->out_d[k];
        row /= g->out_d[k];
        int64_t i = pad_src(mode, o, g->begin[k], g->in_d[k]);
        if (i < 0)
            return -1;
        off += i * g->in_stride[k];
    }
    return off;
}

#define PAD_ROWS(T, Y, X, FILL)                                                   \
    do {                                                                          \
        const int64_t n_ = g.r ? g.in_d[g.r - 1] : 1, b_ = g.r ? g.begin[g.r - 1] : 0; \
        _Pragma("omp parallel for if (g.rows * g.len > CV_OMP_MIN_ELEMS && g.rows > 1) schedule(static)") \
        for (int64_t row = 0; row < g.rows; row++) {                              \
            T *y = (Y) + row * g.len;                                             \
            int64_t off = pad_row_src(&g, p->mode, row);                          \
            for (int64_t k = 0; k < g.len; k++) {                                 \
                int64_t i = off < 0 ? -1 : pad_src(p->mode, k, b_, n_);           \
                y[k] = i < 0 ? (FILL) : (X)[off + i];                             \
            }                                                                     \
        }                                                                         \
    } while (0)

static void pad_forward(cv_op_ctx *c)
{
    const pad_params *p = c->params;
    pad_geom g;
    pad_geometry(c, &g);
    const cv_tensor *cv = c->n_in > 2 && !p->attr_form ? c->in[2] : NULL;
    if (c->in[0]->dtype == CV_I64) {
        int64_t fill = cv ? cv->i[0] : (int64_t)p->value;
        PAD_ROWS(int64_t, c->out[0]->i, c->in[0]->i, fill);
    } else {
        float fill = cv ? cv->f[0] : p->value;
        PAD_ROWS(float, c->out[0]->f, c->in[0]->f, fill);
    }
}

static void pad_backward(cv_op_ctx *c)
{
    const pad_params *p = c->params;
    float *dx = c->in[0]->grad;
    if (!dx)
        return;
    const float *dyall = c->out[0]->grad;
    pad_geom g;
    pad_geometry(c, &g);
    const int64_t n = g.r ? g.in_d[g.r - 1] : 1, b = g.r ? g.begin[g.r - 1] : 0;
    /* Constant mode maps outputs to distinct inputs: rows are independent.
     * Edge/reflect send several outputs to one input: stay serial. */
    bool par = p->mode == PAD_CONSTANT && g.rows * g.len > CV_OMP_MIN_ELEMS && g.rows > 1;
#pragma omp parallel for if (par) schedule(static)
    for (int64_t row = 0; row < g.rows; row++) {
        int64_t off = pad_row_src(&g, p->mode, row);
        if (off < 0)
            continue;
        const float *dy = dyall + row * g.len;
        for (int64_t k = 0; k < g.len; k++) {
            int64_t i = pad_src(p->mode, k, b, n);
            if (i >= 0)
                dx[off + i] += dy[k];
        }
    }
}

static const cv_op_def pad = {
    .type = "Pad", .init = pad_init, .infer = pad_infer, .forward = pad_forward, .backward = pad_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_pad[] = {&pad, NULL};
