/* Sliding-window geometry shared by Conv and the pooling operators: the
 * ONNX attributes kernel_shape, strides, dilations, pads, auto_pad and
 * ceil_mode, parsed once (cv_window_parse, from an op's init) and resolved
 * against an input size (cv_window_resolve, from infer and again from
 * forward/backward — resolving is a few integer operations, and keeping the
 * result out of node->params lets two runs of one model plan different
 * input sizes).
 *
 * Everything is normalised to two spatial dimensions: a 1-D operator on an
 * (N, C, L) tensor is the 2-D one on (N, C, 1, L) with a 1-tall window.
 */
#ifndef CV_OPS_WINDOW_H
#define CV_OPS_WINDOW_H

#include "../core/graph.h"

typedef enum {
    CV_AUTO_PAD_NOTSET = 0,
    CV_AUTO_PAD_SAME_UPPER,
    CV_AUTO_PAD_SAME_LOWER,
    CV_AUTO_PAD_VALID
} cv_auto_pad;

/* Attributes as written in the node; n_* are the list lengths (0 = absent). */
typedef struct {
    int n_kernel, n_strides, n_dil, n_pads;
    int64_t kernel[2];
    int64_t strides[2];
    int64_t dil[2];
    int64_t pads[4];       /* ONNX order: begins of each axis, then ends */
    cv_auto_pad auto_pad;
    int ceil_mode;
} cv_window_attrs;

/* cv_window (the resolved geometry) is in graph.h: it is part of the
 * operator table's spatial trait. */

/* The attributes with the pads dropped: what an op resolves when told
 * ctx->unpadded (the caller padded the input itself). */
static inline cv_window_attrs cv_window_unpadded(const cv_window_attrs *a)
{
    cv_window_attrs u = *a;
    for (int i = 0; i < 4; i++)
        u.pads[i] = 0;
    u.auto_pad = CV_AUTO_PAD_NOTSET;
    return u;
}

/* Parse the window attributes of node n. need_kernel: kernel_shape is
 * required (pools) rather than optional (Conv: taken from W). allow_dil /
 * allow_ceil: whether this op (at the opsets we follow) has dilations /
 * ceil_mode; when it does not, the attribute is rejected as unsupported
 * rather than ignored. */
cv_status cv_window_parse(const cv_node *n, cv_window_attrs *a, bool need_kernel,
                          bool allow_dil, bool allow_ceil, cv_error *err);

/* Resolve for an input of shape x (rank 3 or 4: N, C, [H,] W). kernel:
 * the kernel's spatial sizes when the attribute may be absent (Conv, from
 * W), else NULL. CV_ERR_SHAPE when the sizes do not fit (window larger than
 * the padded input, attribute lengths against the input's rank). */
cv_status cv_window_resolve(const cv_window_attrs *a, const cv_shape *x, const int64_t *kernel,
                            cv_window *w, cv_error *err);

/* For output index o along one axis: the first input index the window
 * touches (may be negative: padding) — o*stride - pad_begin. */
static inline int64_t cv_window_start(int64_t o, int64_t stride, int64_t pad_begin)
{
    return o * stride - pad_begin;
}

/* The taps t in [0, k) whose input index start + t*d lies in [lo, hi):
 * returns them as [*t0, *t1) (empty when *t0 >= *t1). */
static inline void cv_window_taps(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi,
                                  int64_t *t0, int64_t *t1)
{
    int64_t a = 0, b = k;
    if (start < lo)
        a = (lo - start + d - 1) / d;
    if (start + (k - 1) * d >= hi)
        b = hi - start <= 0 ? 0 : (hi - start + d - 1) / d;
    if (b < a)
        b = a;
    *t0 = a;
    *t1 = b;
}

/* im2col / col2im over window w for channels input planes (see window.c). */
void cv_window_im2col(float *col, const float *x, const cv_window *w, int64_t channels, int64_t p0, int64_t np);
void cv_window_col2im_add(float *dx, const float *col, const cv_window *w, int64_t channels, int64_t p0, int64_t np);

#endif
