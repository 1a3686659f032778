/* Small helpers shared by the operator files that broadcast or take axes
 * (elementwise.c, activation.c, ...). Header-only: everything is static
 * inline, so each op file stays self-contained.
 *
 * Broadcast iteration: an output shape and one or two input shapes are
 * aligned to the right (numpy rules), size-1 dimensions dropped and
 * neighbouring dimensions merged where both inputs step through them the
 * same way. What is left is usually 1-3 dimensions, e.g. the per-channel
 * bias case [N,C,H,W] + [1,C,1,1] becomes [N, C, H*W] with strides
 * a = (C*HW, HW, 1), b = (0, 1, 0). Loops then run over "rows" (all but the
 * last merged dimension) and an inner contiguous or constant run.
 */
#ifndef CV_OPS_BCAST_H
#define CV_OPS_BCAST_H
#include "../core/graph.h"
#include <string.h>

typedef struct {
    int nd;                     /* merged dimensions, >= 1 */
    int64_t dim[CV_MAX_DIMS];   /* merged output dims */
    int64_t sa[CV_MAX_DIMS];    /* element strides of a (0 where a broadcasts) */
    int64_t sb[CV_MAX_DIMS];    /* element strides of b (0 where b broadcasts) */
    int64_t rows;               /* product of dim[0 .. nd-2] */
    int64_t len;                /* dim[nd-1] */
} cv_bcast;

/* Strides of `in` seen through `out` (same rank after right alignment). */
static inline void cv_bcast_strides_(const cv_shape *out, const cv_shape *in, int64_t *s)
{
    int64_t stride = 1;
    for (int k = out->ndim - 1; k >= 0; k--) {
        int ki = k - (out->ndim - in->ndim);
        int64_t d = ki >= 0 ? in->d[ki] : 1;
        s[k] = d == 1 ? 0 : stride;
        stride *= d;
    }
}

/* Plan iteration over `out` (already the broadcast of a and b; b may be NULL). */
static inline void cv_bcast_plan(cv_bcast *p, const cv_shape *out, const cv_shape *a, const cv_shape *b)
{
    int64_t sa[CV_MAX_DIMS], sb[CV_MAX_DIMS];
    cv_bcast_strides_(out, a, sa);
    cv_bcast_strides_(out, b ? b : a, sb);
    p->nd = 0;
    for (int k = 0; k < out->ndim; k++) {
        if (out->d[k] == 1)
            continue; /* contributes nothing to any offset */
        int j = p->nd - 1;
        /* merge into the previous dim when both inputs continue it contiguously */
        if (j >= 0 && p->sa[j] == sa[k] * out->d[k] && p->sb[j] == sb[k] * out->d[k]) {
            p->dim[j] *= out->d[k];
            p->sa[j] = sa[k];
            p->sb[j] = sb[k];
            continue;
        }
        p->dim[p->nd] = out->d[k];
        p->sa[p->nd] = sa[k];
        p->sb[p->nd] = sb[k];
        p->nd++;
    }
    if (p->nd == 0) { /* a scalar, or all dims 1 */
        p->nd = 1;
        p->dim[0] = cv_shape_numel(out) ? 1 : 0;
        p->sa[0] = p->sb[0] = 0;
    }
    p->rows = 1;
    for (int k = 0; k < p->nd - 1; k++)
        p->rows *= p->dim[k];
    p->len = p->dim[p->nd - 1];
}

/* Offsets into a and b of the first element of row r. */
static inline void cv_bcast_row(const cv_bcast *p, int64_t r, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int k = p->nd - 2; k >= 0; k--) {
        int64_t i = r % p->dim[k];
        r /= p->dim[k];
        a += i * p->sa[k];
        b += i * p->sb[k];
    }
    *oa = a;
    *ob = b;
}

/* Normalise an axis in [-rank, rank) to [0, rank); -1 when out of range. */
static inline int cv_norm_axis(int64_t axis, int rank)
{
    if (axis < -rank || axis >= rank)
        return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

/* Opset the model was exported with; 0 (unknown, e.g. a model built in
 * memory) means the newest semantics we implement. */
static inline int cv_opset(const cv_model *m) { return m->opset > 0 ? m->opset : 17; }

static inline size_t cv_dtype_size(cv_dtype t) { return t == CV_I64 ? sizeof(int64_t) : sizeof(float); }

/* Data pointer of a tensor as bytes, whatever its dtype. */
static inline void *cv_tensor_bytes(const cv_tensor *t) { return t->dtype == CV_I64 ? (void *)t->i : (void *)t->f; }

#endif
