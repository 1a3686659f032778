/* Unary math (Sqrt, Exp, Log, Neg, Abs, Reciprocal, Erf, Softplus,
 * Softsign, Floor, Ceil, Round, Sign, and the trigonometric/hyperbolic
 * family) and binary Pow. out = f(in), same shape; forward and backward of
 * each op are one line apiece in the table below.
 *
 * Gradients follow PyTorch's formulas, including at the awkward points:
 * - Abs: sign(x), 0 at x == 0.
 * - Sqrt: dy / (2 sqrt(x)) (inf at 0, like torch).
 * - Floor, Ceil, Round, Sign: piecewise constant, gradient 0 everywhere
 *   (they have a backward that adds nothing, so a path through them is not
 *   an error, as in torch).
 * - Pow: d base = e b^(e-1) dy, and 0 where e == 0; d exponent =
 *   b^e ln(b) dy, and 0 where b == 0 and e >= 0.
 *
 * Neg, Abs and Sign also take int64 (shape arithmetic); int64 Neg/Abs wrap
 * instead of trapping on INT64_MIN.
 */
#include "bcast.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Output: the input's shape and type. float32 only, or (ints_ok) int64 too. */
static cv_status unary_check(cv_op_ctx *c, bool ints_ok, cv_error *err)
{
    const cv_tensor *x = c->n_in == 1 ? c->in[0] : NULL;
    if (!x)
        return cv_fail(err, CV_ERR_INVALID, "expects 1 input, got %d", c->n_in);
    if (x->dtype != CV_F32 && !(ints_ok && x->dtype == CV_I64))
        return cv_fail(err, CV_ERR_INVALID, "expects a float32%s input", ints_ok ? " or int64" : "");
    c->out[0]->dtype = x->dtype;
    c->out[0]->shape = x->shape;
    return CV_OK;
}

static cv_status infer_float(cv_op_ctx *c, cv_error *err) { return unary_check(c, false, err); }
static cv_status infer_number(cv_op_ctx *c, cv_error *err) { return unary_check(c, true, err); }

/* A piecewise-constant op: its gradient is zero, so nothing is added. */
static void zero_backward(cv_op_ctx *c) { (void)c; }

static inline float sigmoidf_(float v)
{
    float e = expf(-fabsf(v)); /* never overflows */
    return (v >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* log(1 + e^v) without overflow for large v or loss for very negative v. */
static inline float softplusf_(float v) { return (v > 0.0f ? v : 0.0f) + log1pf(expf(-fabsf(v))); }

/* 0 for both zeros (as numpy); NaN stays NaN. */
static inline float signf_(float v) { return v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v == 0.0f ? 0.0f : v; }

/* One float unary op. In FWD, v is x[k]; in BWD, v is x[k], r is y[k] and
 * g is dy[k], and the expression is d(in) for that element. */
#define UNARY_FLOAT(ID, FWD, BWD)                                                   \
    static void ID##_forward(cv_op_ctx *c)                                          \
    {                                                                               \
        const float *x = c->in[0]->f; /* any shape */                               \
        float *y = c->out[0]->f;                                                    \
        size_t n = cv_shape_numel(&c->in[0]->shape);                                \
        _Pragma("omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)")                 \
        for (size_t k = 0; k < n; k++) {                                            \
            const float v = x[k];                                                   \
            y[k] = (FWD);                                                           \
        }                                                                           \
    }                                                                               \
    static void ID##_backward(cv_op_ctx *c)                                         \
    {                                                                               \
        if (!c->in[0]->grad)                                                        \
            return;                                                                 \
        const float *x = c->in[0]->f, *y = c->out[0]->f, *dy = c->out[0]->grad;    \
        float *dx = c->in[0]->grad;                                                 \
        size_t n = cv_shape_numel(&c->in[0]->shape);                                \
        _Pragma("omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)")                 \
        for (size_t k = 0; k < n; k++) {                                            \
            const float v = x[k], r = y[k], g = dy[k];                              \
            (void)v;                                                                \
            (void)r;                                                                \
            dx[k] += (BWD);                                                         \
        }                                                                           \
    }

/* A float op with zero gradient. */
#define UNARY_FLAT(ID, FWD)                                                         \
    static void ID##_forward(cv_op_ctx *c)                                          \
    {                                                                               \
        const float *x = c->in[0]->f;                                               \
        float *y = c->out[0]->f;                                                    \
        size_t n = cv_shape_numel(&c->in[0]->shape);                                \
        _Pragma("omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)")                 \
        for (size_t k = 0; k < n; k++) {                                            \
            const float v = x[k];                                                   \
            y[k] = (FWD);                                                           \
        }                                                                           \
    }

UNARY_FLOAT(sqrt_, sqrtf(v), g * 0.5f / r)
UNARY_FLOAT(exp_, expf(v), g * r)
UNARY_FLOAT(log_, logf(v), g / v)
UNARY_FLOAT(recip, 1.0f / v, -g * r * r)
UNARY_FLOAT(erf_, erff(v), g * 1.12837916709551257390f * expf(-v * v)) /* 2/sqrt(pi) */
UNARY_FLOAT(softplus, softplusf_(v), g * sigmoidf_(v))
UNARY_FLOAT(softsign, v / (1.0f + fabsf(v)), g / ((1.0f + fabsf(v)) * (1.0f + fabsf(v))))
UNARY_FLOAT(sin_, sinf(v), g * cosf(v))
UNARY_FLOAT(cos_, cosf(v), -g * sinf(v))
UNARY_FLOAT(tan_, tanf(v), g * (1.0f + r * r))
UNARY_FLOAT(asin_, asinf(v), g / sqrtf(1.0f - v * v))
UNARY_FLOAT(acos_, acosf(v), -g / sqrtf(1.0f - v * v))
UNARY_FLOAT(atan_, atanf(v), g / (1.0f + v * v))
UNARY_FLOAT(sinh_, sinhf(v), g * coshf(v))
UNARY_FLOAT(cosh_, coshf(v), g * sinhf(v))
UNARY_FLOAT(asinh_, asinhf(v), g / sqrtf(v * v + 1.0f))
UNARY_FLOAT(acosh_, acoshf(v), g / sqrtf((v - 1.0f) * (v + 1.0f)))
UNARY_FLOAT(atanh_, atanhf(v), g / (1.0f - v * v))
UNARY_FLAT(floor_, floorf(v))
UNARY_FLAT(ceil_, ceilf(v))
UNARY_FLAT(round_, rintf(v)) /* halves to even, as ONNX says (default rounding mode) */

/* ---- Neg, Abs, Sign: float32 or int64 ------------------------------------- */

static void neg_forward(cv_op_ctx *c)
{
    size_t n = cv_shape_numel(&c->in[0]->shape);
    if (c->in[0]->dtype == CV_I64) {
        for (size_t k = 0; k < n; k++)
            c->out[0]->i[k] = (int64_t)(0 - (uint64_t)c->in[0]->i[k]);
        return;
    }
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = -x[k];
}

static void neg_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = cv_shape_numel(&c->in[0]->shape);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] -= dy[k];
}

static void abs_forward(cv_op_ctx *c)
{
    size_t n = cv_shape_numel(&c->in[0]->shape);
    if (c->in[0]->dtype == CV_I64) {
        for (size_t k = 0; k < n; k++) {
            int64_t v = c->in[0]->i[k];
            c->out[0]->i[k] = v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
        }
        return;
    }
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = fabsf(x[k]);
}

static void abs_backward(cv_op_ctx *c)
{
    if (!c->in[0]->grad)
        return;
    const float *x = c->in[0]->f, *dy = c->out[0]->grad;
    float *dx = c->in[0]->grad;
    size_t n = cv_shape_numel(&c->in[0]->shape);
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        dx[k] += x[k] > 0.0f ? dy[k] : x[k] < 0.0f ? -dy[k] : 0.0f;
}

static void sign_forward(cv_op_ctx *c)
{
    size_t n = cv_shape_numel(&c->in[0]->shape);
    if (c->in[0]->dtype == CV_I64) {
        for (size_t k = 0; k < n; k++) {
            int64_t v = c->in[0]->i[k];
            c->out[0]->i[k] = v > 0 ? 1 : v < 0 ? -1 : 0;
        }
        return;
    }
    const float *x = c->in[0]->f;
    float *y = c->out[0]->f;
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
    for (size_t k = 0; k < n; k++)
        y[k] = signf_(x[k]);
}

/* ---- Pow: y = b ^ e, numpy broadcasting --------------------------------------
 * The base is float32; the exponent float32 or int64 (opset 12+ allows
 * mixed types; int exponents are converted to float in scratch). The
 * common exported case, a constant scalar exponent (x ** 2, x ** 0.5),
 * runs a plain loop with the usual values special-cased. */

static cv_status pow_init(cv_node *n, const cv_model *m, cv_error *err)
{
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return cv_fail(err, CV_ERR_INVALID, "expects 2 inputs (X, Y), got %d", n->n_in);
    if (cv_node_attr(n, "axis") || cv_attr_int(n, "broadcast", 0) != 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "legacy (opset < 7) 'broadcast'/'axis' attributes are not supported");
    return CV_OK;
}

static cv_status pow_infer(cv_op_ctx *c, cv_error *err)
{
    const cv_tensor *b = c->in[0], *e = c->in[1];
    char sa[160], sb[160];
    if (b->dtype != CV_F32)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "only a float32 base is supported (got int64)");
    if (cv_broadcast_shape(&b->shape, &e->shape, &c->out[0]->shape) != CV_OK)
        return cv_fail(err, CV_ERR_SHAPE, "base %s and exponent %s do not broadcast",
                       cv_shape_str(&b->shape, sa, sizeof sa), cv_shape_str(&e->shape, sb, sizeof sb));
    c->out[0]->dtype = CV_F32;
    c->scratch_floats = e->dtype == CV_I64 ? cv_shape_numel(&e->shape) : 0;
    return CV_OK;
}

/* The exponent as floats (converted into scratch when it is int64). */
static const float *pow_exponent(const cv_op_ctx *c)
{
    const cv_tensor *e = c->in[1];
    if (e->dtype == CV_F32)
        return e->f;
    size_t n = cv_shape_numel(&e->shape);
    for (size_t k = 0; k < n; k++)
        c->scratch[k] = (float)e->i[k];
    return c->scratch;
}

static inline float pow1(float b, float e)
{
    if (e == 2.0f)
        return b * b;
    if (e == 0.5f)
        return sqrtf(b);
    if (e == 1.0f)
        return b;
    return powf(b, e);
}

/* d y / d b at one element. */
static inline float pow_dbase(float b, float e)
{
    if (e == 0.0f)
        return 0.0f;
    if (e == 2.0f)
        return 2.0f * b;
    if (e == 1.0f)
        return 1.0f;
    return e * powf(b, e - 1.0f);
}

static void pow_forward(cv_op_ctx *c)
{
    const float *b = c->in[0]->f, *e = pow_exponent(c);
    float *y = c->out[0]->f;
    const cv_shape *ys = &c->out[0]->shape;
    if (cv_shape_numel(&c->in[1]->shape) == 1 && cv_shape_numel(&c->in[0]->shape) == cv_shape_numel(ys)) {
        /* scalar exponent: y has b's elements in b's order */
        const float ev = e[0];
        size_t n = cv_shape_numel(ys);
        if (ev == 2.0f) {
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
            for (size_t k = 0; k < n; k++)
                y[k] = b[k] * b[k];
        } else if (ev == 0.5f) {
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
            for (size_t k = 0; k < n; k++)
                y[k] = sqrtf(b[k]);
        } else {
#pragma omp parallel for if (n > CV_OMP_MIN_ELEMS) schedule(static)
            for (size_t k = 0; k < n; k++)
                y[k] = powf(b[k], ev);
        }
        return;
    }
    cv_bcast bc;
    cv_bcast_plan(&bc, ys, &c->in[0]->shape, &c->in[1]->shape);
    const int64_t sa = bc.sa[bc.nd - 1], sb = bc.sb[bc.nd - 1], len = bc.len;
#pragma omp parallel for if (bc.rows * len > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
    for (int64_t r = 0; r < bc.rows; r++) {
        int64_t oa, ob;
        cv_bcast_row(&bc, r, &oa, &ob);
        for (int64_t k = 0; k < len; k++)
            y[r * len + k] = pow1(b[oa + k * sa], e[ob + k * sb]);
    }
}

static void pow_backward(cv_op_ctx *c)
{
    const cv_tensor *bt = c->in[0], *et = c->in[1];
    const float *b = bt->f, *e = pow_exponent(c), *y = c->out[0]->f, *dy = c->out[0]->grad;
    cv_bcast bc;
    cv_bcast_plan(&bc, &c->out[0]->shape, &bt->shape, &et->shape);
    const int64_t sa = bc.sa[bc.nd - 1], sb = bc.sb[bc.nd - 1], len = bc.len;
    size_t ny = cv_shape_numel(&c->out[0]->shape);
    if (bt->grad) {
        float *db = bt->grad;
        /* rows may run in parallel only when the base is not broadcast */
        bool full = cv_shape_numel(&bt->shape) == ny;
#pragma omp parallel for if (full && ny > CV_OMP_MIN_ELEMS && bc.rows > 1) schedule(static)
        for (int64_t r = 0; r < bc.rows; r++) {
            int64_t oa, ob;
            cv_bcast_row(&bc, r, &oa, &ob);
            for (int64_t k = 0; k < len; k++)
                db[oa + k * sa] += dy[r * len + k] * pow_dbase(b[oa + k * sa], e[ob + k * sb]);
        }
    }
    if (et->grad) { /* a runtime float exponent */
        float *de = et->grad;
        for (int64_t r = 0; r < bc.rows; r++) {
            int64_t oa, ob;
            cv_bcast_row(&bc, r, &oa, &ob);
            for (int64_t k = 0; k < len; k++) {
                float bv = b[oa + k * sa], ev = e[ob + k * sb];
                if (!(bv == 0.0f && ev >= 0.0f))
                    de[ob + k * sb] += dy[r * len + k] * y[r * len + k] * logf(bv);
            }
        }
    }
}

/* ---- the table ------------------------------------------------------------ */

#define FLOAT_OP(TYPE, ID) \
    {.type = TYPE, .infer = infer_float, .forward = ID##_forward, .backward = ID##_backward, \
     .spatial = CV_SPATIAL_POINTWISE}
#define FLAT_OP(TYPE, ID) \
    {.type = TYPE, .infer = infer_float, .forward = ID##_forward, .backward = zero_backward, \
     .spatial = CV_SPATIAL_POINTWISE}

static const cv_op_def math_defs[] = {
    FLOAT_OP("Sqrt", sqrt_),
    FLOAT_OP("Exp", exp_),
    FLOAT_OP("Log", log_),
    FLOAT_OP("Reciprocal", recip),
    FLOAT_OP("Erf", erf_),
    FLOAT_OP("Softplus", softplus),
    FLOAT_OP("Softsign", softsign),
    FLOAT_OP("Sin", sin_),
    FLOAT_OP("Cos", cos_),
    FLOAT_OP("Tan", tan_),
    FLOAT_OP("Asin", asin_),
    FLOAT_OP("Acos", acos_),
    FLOAT_OP("Atan", atan_),
    FLOAT_OP("Sinh", sinh_),
    FLOAT_OP("Cosh", cosh_),
    FLOAT_OP("Asinh", asinh_),
    FLOAT_OP("Acosh", acosh_),
    FLOAT_OP("Atanh", atanh_),
    FLAT_OP("Floor", floor_),
    FLAT_OP("Ceil", ceil_),
    FLAT_OP("Round", round_),
    {.type = "Neg", .infer = infer_number, .forward = neg_forward, .backward = neg_backward,
     .spatial = CV_SPATIAL_POINTWISE},
    {.type = "Abs", .infer = infer_number, .forward = abs_forward, .backward = abs_backward,
     .spatial = CV_SPATIAL_POINTWISE},
    {.type = "Sign", .infer = infer_number, .forward = sign_forward, .backward = zero_backward,
     .spatial = CV_SPATIAL_POINTWISE},
    {.type = "Pow", .init = pow_init, .infer = pow_infer, .forward = pow_forward, .backward = pow_backward,
     .spatial = CV_SPATIAL_POINTWISE},
};

#define NDEFS (sizeof math_defs / sizeof math_defs[0])
_Static_assert(NDEFS == 25, "list every entry of math_defs in cv_ops_math");

const cv_op_def *const cv_ops_math[NDEFS + 1] = {
    &math_defs[0], &math_defs[1], &math_defs[2], &math_defs[3], &math_defs[4],
    &math_defs[5], &math_defs[6], &math_defs[7], &math_defs[8], &math_defs[9],
    &math_defs[10], &math_defs[11], &math_defs[12], &math_defs[13], &math_defs[14],
    &math_defs[15], &math_defs[16], &math_defs[17], &math_defs[18], &math_defs[19],
    &math_defs[20], &math_defs[21], &math_defs[22], &math_defs[23], &math_defs[24],
    NULL,
};
