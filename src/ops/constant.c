/* Constants and the shape-arithmetic family: Constant, Shape, Size, Gather,
 * Slice, ConstantOfShape, Cast. Exporters wrap reshapes in chains like
 * Shape -> Gather -> Unsqueeze -> Concat -> Reshape; the executor folds
 * those at plan time (their inputs are all known), so these mostly run
 * once per plan on int64 data. Gather, Slice and Cast also run on float
 * activations and have a backward.
 *
 * Element types: cnnviz tensors are float32 or int64. Cast stores every
 * floating type in float32, with the value rounded as the target holds it
 * (float16 and bfloat16: round to nearest even; double: exact), and every
 * integer type and bool in int64, likewise converted as the target would
 * hold it (bool: x != 0; int32: wraps to 32 bits; float -> integer
 * truncates toward zero, saturating).
 */
#include "bcast.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Constant -----------------------------------------------------------------
 * value (a tensor attribute: the index of a constant model value), or
 * value_float(s) / value_int(s) (opset 12). */

typedef struct {
    cv_dtype dtype;
    cv_shape shape;
    const void *data;   /* model-owned (a constant value or the attribute's array) */
    int64_t scalar_i;   /* value_int */
    float scalar_f;     /* value_float */
} constant_params;

static cv_status constant_init(cv_node *n, const cv_model *m, cv_error *err)
{
    constant_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    if (n->n_attr != 1)
        return cv_fail(err, CV_ERR_INVALID, "needs exactly one value attribute, has %d attributes", n->n_attr);
    const cv_attr *a = &n->attrs[0];
    if (strcmp(a->name, "value") == 0 && a->type == CV_ATTR_TENSOR) {
        if (a->tensor < 0 || a->tensor >= m->n_values)
            return cv_fail(err, CV_ERR_INVALID, "'value' refers to no tensor");
        const cv_value *v = &m->values[a->tensor];
        p->dtype = v->dtype;
        p->shape = v->shape;
        p->data = v->data;
        if (!p->data && cv_shape_numel(&v->shape) > 0)
            return cv_fail(err, CV_ERR_INVALID, "'value' tensor '%s' has no data", v->name);
    } else if (strcmp(a->name, "value_float") == 0 && a->type == CV_ATTR_FLOAT) {
        p->dtype = CV_F32;
        p->shape.ndim = 0;
        p->scalar_f = a->f;
        p->data = &p->scalar_f;
    } else if (strcmp(a->name, "value_floats") == 0 && a->type == CV_ATTR_FLOATS) {
        p->dtype = CV_F32;
        p->shape = (cv_shape){1, {a->n}};
        p->data = a->floats;
    } else if (strcmp(a->name, "value_int") == 0 && a->type == CV_ATTR_INT) {
        p->dtype = CV_I64;
        p->shape.ndim = 0;
        p->scalar_i = a->i;
        p->data = &p->scalar_i;
    } else if (strcmp(a->name, "value_ints") == 0 && a->type == CV_ATTR_INTS) {
        p->dtype = CV_I64;
        p->shape = (cv_shape){1, {a->n}};
        p->data = a->ints;
    } else {
        return cv_fail(err, CV_ERR_UNSUPPORTED, "attribute '%s' is not supported (value, value_float(s), value_int(s) are)",
                       a->name);
    }
    return CV_OK;
}

static cv_status constant_infer(cv_op_ctx *c, cv_error *err)
{
    const constant_params *p = c->params;
    c->out[0]->dtype = p->dtype;
    c->out[0]->shape = p->shape;
    return CV_OK;
}

static void constant_forward(cv_op_ctx *c)
{
    const constant_params *p = c->params;
    size_t n = cv_shape_numel(&p->shape);
    if (n)
        memcpy(cv_tensor_bytes(c->out[0]), p->data, n * cv_dtype_size(p->dtype));
}

static const cv_op_def constant = {
    .type = "Constant", .init = constant_init, .infer = constant_infer, .forward = constant_forward,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- Shape (start/end from opset 15) and Size ----------------------------------- */

/* Clamped [start, end) of the dims Shape returns. */
static void shape_range(const cv_op_ctx *c, int64_t *start, int64_t *end)
{
    int64_t r = c->in[0]->shape.ndim;
    int64_t s = cv_attr_int(c->node, "start", 0), e = cv_attr_int(c->node, "end", r);
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *start = s;
    *end = e > s ? e : s;
}

static cv_status shape_infer(cv_op_ctx *c, cv_error *err)
{
    if (c->n_in < 1 || !c->in[0])
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    int64_t s, e;
    shape_range(c, &s, &e);
    c->out[0]->dtype = CV_I64;
    c->out[0]->shape = (cv_shape){1, {e - s}};
    return CV_OK;
}

static void shape_forward(cv_op_ctx *c)
{
    int64_t s, e;
    shape_range(c, &s, &e);
    for (int64_t k = s; k < e; k++)
        c->out[0]->i[k - s] = c->in[0]->shape.d[k];
}

static const cv_op_def shape = {
    .type = "Shape", .infer = shape_infer, .forward = shape_forward, .shape_only = true,
    .spatial = CV_SPATIAL_WHOLE,
};

static cv_status size_infer(cv_op_ctx *c, cv_error *err)
{
    if (c->n_in < 1 || !c->in[0])
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    c->out[0]->dtype = CV_I64;
    c->out[0]->shape.ndim = 0;
    return CV_OK;
}

static void size_forward(cv_op_ctx *c) { c->out[0]->i[0] = (int64_t)cv_shape_numel(&c->in[0]->shape); }

static const cv_op_def size = {
    .type = "Size", .infer = size_infer, .forward = size_forward, .shape_only = true,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- Gather ---------------------------------------------------------------------
 * out = data[:axis] + indices.shape + data[axis+1:]; negative indices count
 * from the end. Seen as (outer, n, inner) data and (outer, ni, inner) out. */

static void gather_view(const cv_op_ctx *c, int *axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    const cv_shape *s = &c->in[0]->shape;
    *axis = cv_norm_axis(cv_attr_int(c->node, "axis", 0), s->ndim);
    *outer = *inner = 1;
    for (int d = 0; d < s->ndim; d++) {
        if (d < *axis)
            *outer *= s->d[d];
        else if (d > *axis)
            *inner *= s->d[d];
    }
    *n = s->d[*axis];
}

static cv_status gather_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0], *idx = c->n_in > 1 ? c->in[1] : NULL;
    char s[160];
    if (!x)
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "data must be float32 or int64");
    if (!idx || idx->dtype != CV_I64)
        return cv_fail(err, CV_ERR_INVALID, "'indices' must be an integer tensor");
    int64_t axis_attr = cv_attr_int(c->node, "axis", 0);
    int axis = cv_norm_axis(axis_attr, x->shape.ndim);
    if (axis < 0)
        return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range for data %s", (long long)axis_attr,
                       cv_shape_str(&x->shape, s, sizeof s));
    int r = x->shape.ndim - 1 + idx->shape.ndim;
    if (r > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "result would have %d dims (at most %d supported)", r, CV_MAX_DIMS);
    cv_shape out = {0, {0}};
    for (int d = 0; d < axis; d++)
        out.d[out.ndim++] = x->shape.d[d];
    for (int d = 0; d < idx->shape.ndim; d++)
        out.d[out.ndim++] = idx->shape.d[d];
    for (int d = axis + 1; d < x->shape.ndim; d++)
        out.d[out.ndim++] = x->shape.d[d];
    if (c->in_static[1]) {
        int64_t n = x->shape.d[axis];
        size_t ni = cv_shape_numel(&idx->shape);
        for (size_t k = 0; k < ni; k++)
            if (idx->i[k] < -n || idx->i[k] >= n)
                return cv_fail(err, CV_ERR_INVALID, "index %lld is out of range for axis %d of data %s",
                               (long long)idx->i[k], axis, cv_shape_str(&x->shape, s, sizeof s));
    }
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

/* Normalised index, or -1 when out of range (runtime indices only: static
 * ones were checked by infer). */
static int64_t gather_index(int64_t i, int64_t n)
{
    if (i < 0)
        i += n;
    return i >= 0 && i < n ? i : -1;
}

static void gather_forward(cv_op_ctx *c)
{
    int axis;
    int64_t outer, n, inner;
    gather_view(c, &axis, &outer, &n, &inner);
    const int64_t *idx = c->in[1]->i;
    int64_t ni = (int64_t)cv_shape_numel(&c->in[1]->shape);
    size_t es = cv_dtype_size(c->in[0]->dtype);
    const char *x = cv_tensor_bytes(c->in[0]); /* (outer, n, inner) */
    char *y = cv_tensor_bytes(c->out[0]);      /* (outer, ni, inner) */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t i = gather_index(idx[j], n);
            char *dst = y + (size_t)((o * ni + j) * inner) * es;
            if (i < 0)
                memset(dst, 0, (size_t)inner * es);
            else
                memcpy(dst, x + (size_t)((o * n + i) * inner) * es, (size_t)inner * es);
        }
}

static void gather_backward(cv_op_ctx *c)
{
    float *dx = c->in[0]->grad; /* (outer, n, inner) */
    if (!dx)
        return;
    int axis;
    int64_t outer, n, inner;
    gather_view(c, &axis, &outer, &n, &inner);
    const int64_t *idx = c->in[1]->i;
    int64_t ni = (int64_t)cv_shape_numel(&c->in[1]->shape);
    const float *dy = c->out[0]->grad; /* (outer, ni, inner) */
    /* Repeated indices add up: scatter-add. */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t i = gather_index(idx[j], n);
            if (i < 0)
                continue;
            float *d = dx + (o * n + i) * inner;
            const float *g = dy + (o * ni + j) * inner;
            for (int64_t k = 0; k < inner; k++)
                d[k] += g[k];
        }
}

static const cv_op_def gather = {
    .type = "Gather", .infer = gather_infer, .forward = gather_forward, .backward = gather_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- Slice ----------------------------------------------------------------------
 * Opset < 10: starts/ends/axes attributes; from 10: inputs starts, ends,
 * axes?, steps? (constant). Negative starts/ends count from the end; values
 * past either end (INT64_MAX included) are clamped. */

typedef struct {
    int64_t start[CV_MAX_DIMS], step[CV_MAX_DIMS], count[CV_MAX_DIMS];
} slice_geom;

/* Input k (1..4) or attribute `name` as a list; *n = -1 when absent. */
static cv_status slice_list(const cv_op_ctx *c, int k, const char *name, int64_t *v, int *n, cv_error *err)
{
    if (cv_node_attr(c->node, name)) {
        *n = cv_attr_ints(c->node, name, v, CV_MAX_DIMS);
        if (*n < 0 || *n > CV_MAX_DIMS)
            return cv_fail(err, CV_ERR_INVALID, "'%s' must list at most %d ints", name, CV_MAX_DIMS);
        return CV_OK;
    }
    *n = -1;
    if (c->n_in <= k || !c->in[k])
        return CV_OK;
    const cv_tensor *t = c->in[k];
    if (c->in_static && !c->in_static[k]) /* in_static is set while planning only */
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'%s' input must be constant", name);
    size_t cnt = cv_shape_numel(&t->shape);
    if (t->dtype != CV_I64 || t->shape.ndim > 1 || cnt > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_INVALID, "'%s' must be a 1-D int64 tensor of at most %d entries", name, CV_MAX_DIMS);
    memcpy(v, t->i, cnt * sizeof(int64_t));
    *n = (int)cnt;
    return CV_OK;
}

static cv_status slice_plan(const cv_op_ctx *c, slice_geom *g, cv_shape *out, cv_error *err)
{
    const cv_shape *s = &c->in[0]->shape;
    int64_t starts[CV_MAX_DIMS], ends[CV_MAX_DIMS], axes[CV_MAX_DIMS], steps[CV_MAX_DIMS];
    int ns, ne, na, nt;
    cv_status st;
    if ((st = slice_list(c, 1, "starts", starts, &ns, err)) != CV_OK ||
        (st = slice_list(c, 2, "ends", ends, &ne, err)) != CV_OK ||
        (st = slice_list(c, 3, "axes", axes, &na, err)) != CV_OK ||
        (st = slice_list(c, 4, "steps", steps, &nt, err)) != CV_OK)
        return st;
    if (ns < 0 || ne < 0)
        return cv_fail(err, CV_ERR_INVALID, "needs 'starts' and 'ends'");
    if (ne != ns || (na >= 0 && na != ns) || (nt >= 0 && nt != ns))
        return cv_fail(err, CV_ERR_INVALID, "starts, ends, axes and steps have different lengths");
    *out = *s;
    for (int d = 0; d < s->ndim; d++) {
        g->start[d] = 0;
        g->step[d] = 1;
        g->count[d] = s->d[d];
    }
    bool seen[CV_MAX_DIMS] = {false};
    char b[160];
    for (int k = 0; k < ns; k++) {
        int64_t a_in = na >= 0 ? axes[k] : k;
        int a = cv_norm_axis(a_in, s->ndim);
        if (a < 0 || seen[a])
            return cv_fail(err, CV_ERR_INVALID, "axis %lld is out of range or repeated for input %s", (long long)a_in,
                           cv_shape_str(s, b, sizeof b));
        seen[a] = true;
        int64_t n = s->d[a], step = nt >= 0 ? steps[k] : 1, lo = starts[k], hi = ends[k];
        if (step == 0)
            return cv_fail(err, CV_ERR_INVALID, "step 0 on axis %d", a);
        if (lo < 0)
            lo += n; /* no overflow: n >= 0 */
        if (hi < 0)
            hi += n;
        int64_t count;
        if (step > 0) {
            lo = lo < 0 ? 0 : lo > n ? n : lo;
            hi = hi < 0 ? 0 : hi > n ? n : hi;
            count = hi > lo ? (hi - lo - 1) / step + 1 : 0;
        } else {
            lo = lo < 0 ? 0 : lo > n - 1 ? n - 1 : lo;
            hi = hi < -1 ? -1 : hi > n - 1 ? n - 1 : hi;
            /* -step overflows for INT64_MIN: divide by the magnitude unsigned */
            count = n > 0 && lo > hi ? (int64_t)((uint64_t)(lo - hi - 1) / ((uint64_t)0 - (uint64_t)step)) + 1 : 0;
        }
        /* With at most one element the step is never taken; a hostile one
         * (INT64_MAX) would overflow the offset arithmetic of the walk. */
        if (count <= 1)
            step = step > 0 ? 1 : -1;
        g->start[a] = count ? lo : 0;
        g->step[a] = step;
        g->count[a] = count;
        out->d[a] = count;
    }
    return CV_OK;
}

static cv_status slice_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *x = c->in[0];
    if (!x)
        return cv_fail(err, CV_ERR_INVALID, "missing the data input");
    if (x->dtype != CV_F32 && x->dtype != CV_I64)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "data must be float32 or int64");
    slice_geom g;
    cv_status st = slice_plan(c, &g, &c->out[0]->shape, err);
    c->out[0]->dtype = x->dtype;
    return st;
}

/* Input offset of each output element: rows over all dims but the last. */
typedef struct {
    int r;
    int64_t base, ostride_in[CV_MAX_DIMS], count[CV_MAX_DIMS];
    int64_t rows, len, inner_step;
} slice_walk;

static void slice_walk_init(const cv_op_ctx *c, slice_walk *w)
{
    slice_geom g;
    cv_shape out;
    slice_plan(c, &g, &out, NULL);
    const cv_shape *s = &c->in[0]->shape;
    w->r = s->ndim;
    int64_t acc = 1;
    w->base = 0;
    for (int d = s->ndim - 1; d >= 0; d--) {
        w->base += g.start[d] * acc;
        w->ostride_in[d] = g.step[d] * acc; /* input step per output step */
        w->count[d] = g.count[d];
        acc *= s->d[d];
    }
    w->len = w->r ? w->count[w->r - 1] : 1;
    w->inner_step = w->r ? w->ostride_in[w->r - 1] : 0;
    w->rows = 1;
    for (int d = 0; d < w->r - 1; d++)
        w->rows *= w->count[d];
}

static int64_t slice_row(const slice_walk *w, int64_t row)
{
    int64_t off = w->base;
    for (int d = w->r - 2; d >= 0; d--) {
        off += (row % w->count[d]) * w->ostride_in[d];
        row /= w->count[d];
    }
    return off;
}

static void slice_forward(cv_op_ctx *c)
{
    slice_walk w;
    slice_walk_init(c, &w);
    if (c->in[0]->dtype == CV_I64) {
        for (int64_t row = 0; row < w.rows; row++) {
            const int64_t *x = c->in[0]->i + slice_row(&w, row);
            int64_t *y = c->out[0]->i + row * w.len;
            for (int64_t k = 0; k < w.len; k++)
                y[k] = x[k * w.inner_step];
        }
        return;
    }
#pragma omp parallel for if (w.rows * w.len > CV_OMP_MIN_ELEMS && w.rows > 1) schedule(static)
    for (int64_t row = 0; row < w.rows; row++) {
        const float *x = c->in[0]->f + slice_row(&w, row);
        float *y = c->out[0]->f + row * w.len;
        for (int64_t k = 0; k < w.len; k++)
            y[k] = x[k * w.inner_step];
    }
}

static void slice_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    slice_walk w;
    slice_walk_init(c, &w);
    /* Each output element has its own source: rows are independent. */
#pragma omp parallel for if (w.rows * w.len > CV_OMP_MIN_ELEMS && w.rows > 1) schedule(static)
    for (int64_t row = 0; row < w.rows; row++) {
        float *dx = c->in[0]->grad + slice_row(&w, row);
        const float *dy = c->out[0]->grad + row * w.len;
        for (int64_t k = 0; k < w.len; k++)
            dx[k * w.inner_step] += dy[k];
    }
}

static const cv_op_def slice = {
    .type = "Slice", .infer = slice_infer, .forward = slice_forward, .backward = slice_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- ConstantOfShape: a tensor of the given shape filled with `value` -------- */

typedef struct {
    cv_dtype dtype;
    float f;
    int64_t i;
} cos_params;

static cv_status cos_init(cv_node *n, const cv_model *m, cv_error *err)
{
    cos_params *p = calloc(1, sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    p->dtype = CV_F32; /* default: float 0 */
    const cv_attr *a = cv_node_attr(n, "value");
    if (!a)
        return CV_OK;
    if (a->type != CV_ATTR_TENSOR || a->tensor < 0 || a->tensor >= m->n_values)
        return cv_fail(err, CV_ERR_INVALID, "'value' must be a one-element tensor");
    const cv_value *v = &m->values[a->tensor];
    if (cv_shape_numel(&v->shape) != 1 || !v->data)
        return cv_fail(err, CV_ERR_INVALID, "'value' must be a one-element tensor");
    p->dtype = v->dtype;
    if (v->dtype == CV_I64)
        p->i = *(const int64_t *)v->data;
    else
        p->f = *(const float *)v->data;
    return CV_OK;
}

static cv_status cos_infer(cv_op_ctx *c, cv_error *err)
{
    const cos_params *p = c->params;
    const cv_tensor *t = c->in[0];
    if (!t || !c->in_static[0])
        return cv_fail(err, CV_ERR_UNSUPPORTED, "'input' (the shape) must be constant");
    size_t n = cv_shape_numel(&t->shape);
    if (t->dtype != CV_I64 || t->shape.ndim != 1)
        return cv_fail(err, CV_ERR_INVALID, "the shape input must be a 1-D int64 tensor");
    if (n > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "shape has %zu dims (at most %d supported)", n, CV_MAX_DIMS);
    cv_shape out = {(int)n, {0}};
    for (size_t k = 0; k < n; k++) {
        if (t->i[k] < 0)
            return cv_fail(err, CV_ERR_INVALID, "shape entry %zu is negative (%lld)", k, (long long)t->i[k]);
        out.d[k] = t->i[k];
    }
    c->out[0]->dtype = p->dtype;
    c->out[0]->shape = out;
    return CV_OK;
}

static void cos_forward(cv_op_ctx *c)
{
    const cos_params *p = c->params;
    size_t n = cv_shape_numel(&c->out[0]->shape);
    for (size_t k = 0; k < n; k++) {
        if (p->dtype == CV_I64)
            c->out[0]->i[k] = p->i;
        else
            c->out[0]->f[k] = p->f;
    }
}

static const cv_op_def constant_of_shape = {
    .type = "ConstantOfShape", .init = cos_init, .infer = cos_infer, .forward = cos_forward,
    .spatial = CV_SPATIAL_WHOLE,
};

/* ---- Cast ---------------------------------------------------------------------- */

/* ONNX TensorProto.DataType numbers. */
enum {
    T_FLOAT = 1, T_UINT8 = 2, T_INT8 = 3, T_UINT16 = 4, T_INT16 = 5, T_INT32 = 6, T_INT64 = 7,
    T_STRING = 8, T_BOOL = 9, T_FLOAT16 = 10, T_DOUBLE = 11, T_UINT32 = 12, T_UINT64 = 13, T_BFLOAT16 = 16,
};

typedef struct {
    int to;
    cv_dtype dtype;
} cast_params;

static cv_status cast_init(cv_node *n, const cv_model *m, cv_error *err)
{
    const cv_attr *a = cv_node_attr(n, "to");
    if (!a || a->type != CV_ATTR_INT)
        return cv_fail(err, CV_ERR_INVALID, "the 'to' attribute is required");
    cast_params *p = malloc(sizeof *p);
    if (!p)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    n->params = p;
    p->to = (int)a->i;
    switch (a->i) {
    case T_FLOAT: case T_FLOAT16: case T_DOUBLE: case T_BFLOAT16:
        p->dtype = CV_F32;
        break;
    case T_UINT8: case T_INT8: case T_UINT16: case T_INT16: case T_INT32: case T_INT64:
    case T_BOOL: case T_UINT32: case T_UINT64:
        p->dtype = CV_I64;
        break;
    default:
        return cv_fail(err, CV_ERR_UNSUPPORTED, "casting to element type %lld is not supported", (long long)a->i);
    }
    return CV_OK;
}

static cv_status cast_infer(cv_op_ctx *c, cv_error *err)
{
    const cast_params *p = c->params;
    if (c->n_in < 1 || !c->in[0] || (c->in[0]->dtype != CV_F32 && c->in[0]->dtype != CV_I64))
        return cv_fail(err, CV_ERR_INVALID, "expects a float32 or int64 input");
    c->out[0]->dtype = p->dtype;
    c->out[0]->shape = c->in[0]->shape;
    return CV_OK;
}

/* An integer as the target integer type would hold it, widened back. */
static int64_t cast_narrow(int to, int64_t v)
{
    switch (to) {
    case T_BOOL: return v != 0;
    case T_UINT8: return (uint8_t)v;
    case T_INT8: return (int8_t)v;
    case T_UINT16: return (uint16_t)v;
    case T_INT16: return (int16_t)v;
    case T_INT32: return (int32_t)v;
    case T_UINT32: return (uint32_t)v;
    default: return v; /* int64; uint64 keeps its bits */
    }
}

/* float -> integer: truncate toward zero, saturate, NaN -> 0. */
static int64_t cast_f2i(int to, float x)
{
    if (to == T_BOOL)
        return x != 0.0f; /* NaN is true, as in C++ */
    if (x != x)
        return 0;
    if (x >= 9.2233720368547758e18f)
        return cast_narrow(to, INT64_MAX);
    if (x <= -9.2233720368547758e18f)
        return cast_narrow(to, INT64_MIN);
    return cast_narrow(to, (int64_t)x);
}

/* A float32 as a 16-bit float target would hold it. */
static float cast_round(int to, float v)
{
    if (to == T_FLOAT16)
        return cv_half_to_float(cv_float_to_half(v));
    if (to == T_BFLOAT16) { /* keep the top 16 bits, rounding to nearest even */
        uint32_t b;
        memcpy(&b, &v, sizeof b);
        if ((b & 0x7fffffffu) > 0x7f800000u)
            b |= 0x00400000u; /* NaN stays a (quiet) NaN */
        else
            b += 0x7fffu + ((b >> 16) & 1u);
        b &= 0xffff0000u;
        memcpy(&v, &b, sizeof v);
    }
    return v;
}

static void cast_forward(cv_op_ctx *c)
{
    const cast_params *p = c->params;
    const cv_tensor *x = c->in[0];
    cv_tensor *y = c->out[0];
    size_t n = cv_shape_numel(&x->shape);
    if (x->dtype == CV_F32 && y->dtype == CV_F32)
        for (size_t k = 0; k < n; k++)
            y->f[k] = cast_round(p->to, x->f[k]);
    else if (x->dtype == CV_F32)
        for (size_t k = 0; k < n; k++)
            y->i[k] = cast_f2i(p->to, x->f[k]);
    else if (y->dtype == CV_F32)
        for (size_t k = 0; k < n; k++)
            y->f[k] = cast_round(p->to, (float)x->i[k]);
    else
        for (size_t k = 0; k < n; k++)
            y->i[k] = cast_narrow(p->to, x->i[k]);
}

static void cast_backward(cv_op_ctx *c)
{
    /* Only float -> float carries a gradient: identity (rounding to a
     * 16-bit float passes the gradient straight through, as PyTorch's
     * .half() does). */
    float *dx = c->in[0]->grad;
    if (!dx || c->out[0]->dtype != CV_F32 || !c->out[0]->grad)
        return;
    size_t n = cv_shape_numel(&c->in[0]->shape);
    for (size_t k = 0; k < n; k++)
        dx[k] += c->out[0]->grad[k];
}

static const cv_op_def cast = {
    .type = "Cast", .init = cast_init, .infer = cast_infer, .forward = cast_forward, .backward = cast_backward,
    .spatial = CV_SPATIAL_WHOLE,
};

const cv_op_def *const cv_ops_constant[] = {
    &constant, &shape, &size, &gather, &slice, &constant_of_shape, &cast, NULL,
};
