/* Naive reference kernels for the operator tests: the textbook loops,
 * written for clarity, not speed, and sharing no code with src/. Layouts
 * are NCHW float32; sums are accumulated in double.
 */
#ifndef CV_TEST_REF_H
#define CV_TEST_REF_H
#include <stddef.h>
#include <stdint.h>

/* 2-D convolution / pooling geometry with explicit pads. */
typedef struct {
    int n, c, h, w;          /* input */
    int m, group;            /* conv: output channels, groups */
    int kh, kw;              /* kernel */
    int sh, sw;              /* strides */
    int dh, dw;              /* dilations */
    int pt, pl, pb, pr;      /* pads: top, left, bottom, right */
    int ceil_mode;           /* pool */
    int count_include_pad;   /* average pool */
} ref_geom;

/* Output size (floor, or ceil with the rule that a window may not start in
 * the end padding); <= 0 when the window does not fit. */
void ref_out_size(const ref_geom *g, int *oh, int *ow);

/* y (n, m, oh, ow) = conv(x (n, c, h, w), w (m, c/group, kh, kw)) + b (m, or NULL) */
void ref_conv2d(float *y, const float *x, const float *w, const float *b, const ref_geom *g);
/* dx (n, c, h, w) = d(sum(dy * y))/dx for the conv above (overwrites dx). */
void ref_conv2d_backward_input(float *dx, const float *dy, const float *w, const ref_geom *g);

/* y (n, c, oh, ow); idx (same, or NULL): flat row-major index into x of the
 * first maximum. Padding never wins. */
void ref_maxpool2d(float *y, int64_t *idx, const float *x, const ref_geom *g);
void ref_avgpool2d(float *y, const float *x, const ref_geom *g);
/* dx (n, c, h, w) = gradient of sum(dy * y) for the pools above (overwrites dx). */
void ref_maxpool2d_backward(float *dx, const float *dy, const float *x, const ref_geom *g);
void ref_avgpool2d_backward(float *dx, const float *dy, const ref_geom *g);

/* y = (x - mean) / sqrt(var + eps) * scale + bias; stat k applies to the
 * elements x[n, k, s] for x viewed as (n, len, inner). */
void ref_batchnorm(float *y, const float *x, const float *scale, const float *bias, const float *mean,
                   const float *var, float eps, int n, int len, int inner);

/* ONNX LRN over x (n, c, s). */
void ref_lrn(float *y, const float *x, int n, int c, int s, int size, float alpha, float beta, float bias);

/* Golden records written by tests/fixtures/conv_ops_torch.py (format in
 * its docstring): op name, float params, tensors. */
typedef struct {
    int ndim;
    int64_t d[8];
    size_t numel;
    float *data;
} ref_tensor;

typedef struct {
    char op[16];
    int n_params;
    float params[32];
    int n_tensors;
    ref_tensor t[8];
} ref_record;

/* The records of operator `op` in file `path`: returns their count and
 * sets *out (free with ref_golden_free), or -1 with a reason in why. */
int ref_golden_load(const char *path, const char *op, ref_record **out, char *why, size_t why_len);
void ref_golden_free(ref_record *r, int n);

#endif
