/* Internal graph IR shared by the loaders (ONNX, Keras), the operators and
 * the executor. Operator semantics are ONNX's: a Keras importer emits ONNX
 * op types and attributes, so every op is implemented once.
 *
 * Lifetimes: a cv_model owns its values, nodes, attributes and constant
 * data (one model = one lifetime). A cv_run owns activation buffers for one
 * planned input shape.
 */
#ifndef CV_GRAPH_H
#define CV_GRAPH_H

#include "cnnviz.h"
#include <stdarg.h>
#include <stdbool.h>

/* ---- errors ------------------------------------------------------------ */

/* Write a message into err (may be NULL) and return status. The place that
 * detects an error writes the message; callers only propagate. */
cv_status cv_fail(cv_error *err, cv_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- checked sizes ------------------------------------------------------ */

/* a*b into *out; returns false on overflow. */
bool cv_mul_size(size_t a, size_t b, size_t *out);
/* Levenshtein distance between a[0 .. na) and b[0 .. nb), over at most
 * their first 64 characters; fold_case: ignoring ASCII case. For "did you
 * mean" suggestions (layer names, class names). */
int cv_edit_distance(const char *a, size_t na, const char *b, size_t nb, bool fold_case);
/* Default cap on a single tensor: 4 GiB of floats. */
#define CV_MAX_TENSOR_BYTES ((size_t)4 << 30)

/* Work (elements, or multiply-adds for cheap kernels) below which a loop
 * stays on one thread: waking OpenMP's team costs a few microseconds, about
 * what one core needs for 64 Ki simple float operations, so a smaller loop
 * only loses by going parallel. */
#define CV_OMP_MIN_ELEMS 65536

/* ---- values (named tensors) --------------------------------------------- */

typedef struct {
    char *name;
    cv_dtype dtype;
    cv_shape shape;      /* declared shape (-1 for unknown dims); for constants exact */
    void *data;          /* constant data (float* or int64_t*), owned; NULL if runtime */
    int producer;        /* node index producing it, -1 for inputs and constants */
} cv_value;

/* ---- attributes --------------------------------------------------------- */

typedef enum {
    CV_ATTR_INT, CV_ATTR_FLOAT, CV_ATTR_INTS, CV_ATTR_FLOATS, CV_ATTR_STRING, CV_ATTR_TENSOR
} cv_attr_type;

typedef struct {
    char *name;
    cv_attr_type type;
    int64_t i;
    float f;
    int n;              /* length of ints / floats */
    int64_t *ints;
    float *floats;
    char *s;
    int tensor;         /* CV_ATTR_TENSOR: index of a constant value in the model */
} cv_attr;

/* ---- nodes -------------------------------------------------------------- */

struct cv_op_def;

typedef struct {
    char *name;
    char *op_type;
    const struct cv_op_def *op;
    int n_in, n_out;
    int *in;            /* value indices; -1 for an omitted optional input */
    int *out;
    int n_attr;
    cv_attr *attrs;
    void *params;       /* op-specific, made by op->init, freed by op->free_params (or free) */
} cv_node;

struct cv_model {
    char *path;
    cv_value *values;
    int n_values, cap_values;
    int *value_index;   /* open-addressing hash of value names: index + 1, 0 = empty */
    int index_cap;      /* power of two, at least 2 * n_values */
    cv_node *nodes;     /* in topological order */
    int n_nodes, cap_nodes;
    int input;          /* the one real input value */
    int *outputs;
    int n_outputs;
    int input_nhwc;
    int opset;
    size_t max_memory;  /* bytes a run's activations may take (cv_load_options.max_memory); 0 = available memory */
    char **meta_keys, **meta_vals;
    int n_meta;
    char *config_path;  /* the sidecar applied at load (cv_model_apply_config), or NULL */
};

/* Building a model (used by loaders). All return -1 / NULL on NOMEM with err set. */
cv_model *cv_model_new(const char *path, cv_error *err);
/* Returns the value index of `name`, creating it if new. */
int cv_model_value(cv_model *m, const char *name, cv_error *err);
int cv_model_find_value(const cv_model *m, const char *name);
/* Appends a node; in/out are value indices. Returns node index or -1. */
int cv_model_add_node(cv_model *m, const char *name, const char *op_type,
                      const int *in, int n_in, const int *out, int n_out, cv_error *err);
/* Attribute builders on node k (copy their arguments). */
cv_status cv_node_set_int(cv_model *m, int k, const char *name, int64_t v, cv_error *err);
cv_status cv_node_set_float(cv_model *m, int k, const char *name, float v, cv_error *err);
cv_status cv_node_set_ints(cv_model *m, int k, const char *name, const int64_t *v, int n, cv_error *err);
cv_status cv_node_set_floats(cv_model *m, int k, const char *name, const float *v, int n, cv_error *err);
cv_status cv_node_set_string(cv_model *m, int k, const char *name, const char *v, cv_error *err);
cv_status cv_model_set_meta(cv_model *m, const char *key, const char *val, cv_error *err);
/* Replace key's value (val NULL: remove the key): for the sidecar, which
 * overrides what the model file declares. */
cv_status cv_model_put_meta(cv_model *m, const char *key, const char *val, cv_error *err);
/* Read the model's sidecar, if it has one, into its metadata (model_config.c). */
cv_status cv_model_apply_config(cv_model *m, cv_error *err);
/* Adds a constant value that takes ownership of data (float* or int64_t*,
 * numel(shape) elements; freed even on failure). If `name` is taken, a
 * suffix makes it unique. Returns the value index or -1. */
int cv_model_add_constant(cv_model *m, const char *name, cv_dtype dtype, const cv_shape *shape,
                          void *data, cv_error *err);
/* TENSOR attribute on node k referring to constant value `value`. */
cv_status cv_node_set_tensor(cv_model *m, int k, const char *name, int value, cv_error *err);

/* Resolve op defs, run each op's init (attribute parsing/validation),
 * sort nodes topologically and check the graph is well formed. Loaders call
 * this last. Errors name the node, op and model file. */
cv_status cv_model_finalize(cv_model *m, cv_error *err);

/* Attribute lookup (NULL if absent). */
const cv_attr *cv_node_attr(const cv_node *n, const char *name);
int64_t cv_attr_int(const cv_node *n, const char *name, int64_t dflt);
float cv_attr_float(const cv_node *n, const char *name, float dflt);
const char *cv_attr_string(const cv_node *n, const char *name, const char *dflt);
/* ints attribute: copies up to max entries into out, returns count, or -1 if absent. */
int cv_attr_ints(const cv_node *n, const char *name, int64_t *out, int max);

/* ---- operators ---------------------------------------------------------- */

/* What an operator sees when it runs: its node, its parsed params, and the
 * runtime tensors of its inputs and outputs (in[k] NULL for an omitted
 * optional input). */
typedef struct {
    const cv_node *node;
    const void *params;
    const cv_model *model;
    int n_in, n_out;
    cv_tensor **in;
    cv_tensor **out;
    float *scratch;       /* forward/backward: at least scratch_floats floats */
    size_t scratch_floats;/* infer: set to what forward/backward need */
    const bool *in_static;/* infer: in_static[k] true when in[k]'s data is known now */
    bool relu_redirect;   /* backward: cv_run_options.relu_redirect */
    /* forward, optional (incremental occlusion): of output 0 (N, C, H, W)
     * only rows [0, out_rows[i]) and columns [0, out_cols[i]) of image i
     * are wanted, and an op may leave the rest as it was. NULL: all. */
    const int *out_rows, *out_cols;
    /* infer / forward of a CV_SPATIAL_WINDOW op (incremental inference):
     * run as if the node's pads were 0 (and auto_pad VALID); the caller
     * has put the padding into the input window itself. */
    bool unpadded;
    /* infer / forward / backward of Conv: cv_run_options.conv_algo (a
     * cv_conv_algo; 0, CV_CONV_AUTO, where the caller sets nothing). */
    int conv_algo;
    /* forward of an op with fuses_clamp: apply this clamp to every output
     * value before storing it (the executor folded the Relu or Clip that
     * was the output's only reader into this node). NULL: none. */
    const struct cv_clamp *clamp;
} cv_op_ctx;

/* A clamp an op can apply to its own outputs: Relu and Clip folded into
 * the Conv before them, so the activation costs no pass over memory of its
 * own (MobileNetV2's Clips took 17% of its forward as separate passes).
 * NaN follows the folded op: Relu (x > 0 ? x : 0) makes it lo, Clip
 * (x < lo ? lo : x) keeps it, so a fused run equals an unfused one bit for
 * bit. */
typedef struct cv_clamp {
    float lo, hi;
    bool nan_to_lo;
} cv_clamp;

static inline float cv_clamp_apply(const cv_clamp *k, float v)
{
    v = k->nan_to_lo ? (v > k->lo ? v : k->lo) : (v < k->lo ? k->lo : v);
    return v > k->hi ? k->hi : v;
}

/* y[0 .. n) = clamp(y), in place; a loop the compiler vectorizes. */
static inline void cv_clamp_run(const cv_clamp *k, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cv_clamp_apply(k, y[i]);
}

/* How an op's backward treats a ReLU-like gate, for modified backward rules
 * (cv_run_options.backward_rule). CV_GATE_RELU: the op passes the output
 * gradient where its input is positive and blocks it elsewhere, so guided
 * backpropagation (Springenberg et al. 2015) clamps the incoming gradient
 * to max(0, g) before the op's own backward. Only Relu has it: guided
 * backprop is defined for ReLU, and Captum's GuidedBackprop (the reference
 * implementation users compare with) overrides nn.ReLU only. LeakyRelu,
 * PRelu, Elu, Selu, Softplus let negative inputs through and are not gates;
 * Clip is a gate only when its lower bound is 0 (Relu6), which is a per-node
 * fact, not the op's, so Clip stays CV_GATE_NONE (Captum too leaves
 * nn.ReLU6 alone). */
typedef enum { CV_GATE_NONE = 0, CV_GATE_RELU } cv_gate;

/* How an op's output window relates to its inputs' windows (the spatial
 * dims H, W of N,C,H,W tensors) — what incremental inference
 * (src/core/incremental.c) needs to recompute only a changed region.
 * Every op states one; tests/test_op_traits.c fails on one that does not,
 * so adding an op can never silently lose the incremental speed-up. */
typedef enum {
    CV_SPATIAL_UNDECIDED = 0, /* no decision: refused by tests/test_op_traits.c */
    /* Output pixel (h, w) reads only pixel (h, w) of each input (channels
     * may mix: BatchNormalization, LRN), inputs broadcast numpy-style. */
    CV_SPATIAL_POINTWISE,
    /* Sliding window (Conv, pools): the geometry is op->spatial_fit's. */
    CV_SPATIAL_WINDOW,
    /* Stacks inputs of one spatial size along an axis (Concat); windowed
     * when op->spatial_fit says the axis is the channel axis. */
    CV_SPATIAL_CONCAT,
    /* Anything else: an output pixel may read the whole map, or the op
     * moves pixels (reshape, transpose, pad, resize, dense layers), or its
     * values are int64 (comparisons, Cast, Where), which the engine's
     * float windows do not hold. */
    CV_SPATIAL_WHOLE,
} cv_spatial;

/* Resolved geometry of one sliding-window op for one input size, in 2-D
 * (src/ops/window.h makes it from the ONNX attributes). */
typedef struct {
    int64_t ih, iw;        /* input spatial size */
    int64_t oh, ow;        /* output spatial size */
    int64_t kh, kw;        /* kernel */
    int64_t sh, sw;        /* strides */
    int64_t dh, dw;        /* dilations */
    int64_t pt, pl, pb, pr;/* pads: top, left, bottom, right */
} cv_window;

typedef struct cv_op_def {
    const char *type;
    /* Parse and validate attributes once (may allocate node->params).
     * Optional. Errors: CV_ERR_UNSUPPORTED for attributes we do not do. */
    cv_status (*init)(cv_node *node, const cv_model *m, cv_error *err);
    /* Set out[k]->dtype and ->shape from the input shapes (and static input
     * data such as a Reshape's shape). Also set ctx->scratch_floats. Never
     * writes output data (no buffer exists yet): an op whose output depends
     * only on shapes (Shape) sets shape_only, and the executor runs its
     * forward at plan time. */
    cv_status (*infer)(cv_op_ctx *ctx, cv_error *err);
    /* Compute outputs from inputs. Buffers are allocated by the executor. */
    void (*forward)(cv_op_ctx *ctx);
    /* ADD d(loss)/d(in[k]) into in[k]->grad for every input whose grad is
     * non-NULL, given out[k]->grad. The executor zeroes grads before a
     * backward pass. NULL = not differentiable. */
    void (*backward)(cv_op_ctx *ctx);
    /* Multiply-adds for the planned shapes (for `cnnviz layers`). Optional. */
    double (*macs)(const cv_op_ctx *ctx);
    /* true: output data depends only on input shapes (Shape, Size): the
     * executor calls forward at plan time and treats the output as constant. */
    bool shape_only;
    /* See cv_gate. */
    cv_gate gate;
    /* See cv_spatial. */
    cv_spatial spatial;
    /* Whether this node, with its attributes and the planned inputs in ctx
     * (shapes, static data), keeps the op's spatial trait: a Concat on the
     * channel axis; a Conv or pool whose windows can be recomputed exactly
     * from a gathered input window padded with *pad_value (an AveragePool
     * whose pads do not count cannot). CV_SPATIAL_WINDOW ops also write
     * their resolved geometry into *w. Required for CV_SPATIAL_WINDOW, and
     * for CV_SPATIAL_CONCAT (NULL there: any axis). */
    bool (*spatial_fit)(const cv_op_ctx *ctx, cv_window *w, float *pad_value);
    /* forward may run with out[0] aliasing in[0]: each y[i] is written
     * after x[i] is read, and no other x[j] is read (not LRN, which reads
     * neighbouring channels; not the copies, which use memcpy). */
    bool in_place;
    /* An elementwise clamp (Relu, Clip with bounds known at plan time):
     * fills *k and returns true when this node, as planned in ctx, computes
     * exactly y = cv_clamp_apply(k, x) of its input 0. NULL: never. */
    bool (*as_clamp)(const cv_op_ctx *ctx, cv_clamp *k);
    /* forward honours ctx->clamp (Conv), so the executor may fold a clamp
     * that is the only reader of output 0 into this node. */
    bool fuses_clamp;
    void (*free_params)(void *params);
} cv_op_def;

const cv_op_def *cv_op_find(const char *type);
/* The i-th registered operator (0, 1, ...), NULL past the last. */
const cv_op_def *cv_op_at(int i);

/* Executor internals for engines built on a run (incremental inference). */
cv_tensor *cv_run_value(cv_run *r, int v);
bool cv_run_value_static(const cv_run *r, int v);
bool cv_run_node_needed(const cv_run *r, int k);
/* The run's memory plan (src/core/mempool.h); the bytes check_memory
 * counted against the limit; the bytes the run's buffers take now (after a
 * forward, the same). */
struct mem_plan;
const struct mem_plan *cv_run_mem_plan(const cv_run *r);
size_t cv_run_planned_bytes(const cv_run *r);
size_t cv_run_held_bytes(const cv_run *r);

/* Address space (src/core/addrspace.c). The bytes OpenBLAS will map for
 * its per-thread work buffers on first use (0 once they exist), and whether
 * a further `bytes` of mappings fit under RLIMIT_AS (*limit: the limit, 0
 * when there is none). */
size_t cv_blas_workspace_bytes(void);
void cv_blas_workspace_mapped(void);
bool cv_address_space_fits(size_t bytes, size_t *limit);
/* malloc for buffers of megabytes (weights, activations, gradients, a
 * model file), aligned to 64 bytes at least; from 2 MiB 2 MiB-aligned and
 * advised to transparent huge pages, so the first touch costs one page
 * fault per 2 MiB instead of 512; free() frees it. ResNet18 saliency, the
 * whole process (bench_explain, 3 repeats): 68k page faults -> 13k,
 * 0.97 s -> 0.41-0.56 s (AMD Zen 5 VM, where page faults are dear). Small
 * buffers, and runs under RLIMIT_AS, get no huge-page alignment. */
void *cv_malloc_large(size_t bytes);

/* Helpers for ops. */
/* Numpy-style broadcast of a and b into out; CV_ERR_SHAPE if incompatible. */
cv_status cv_broadcast_shape(const cv_shape *a, const cv_shape *b, cv_shape *out);
/* float16 bits -> float32 */
float cv_half_to_float(uint16_t h);
uint16_t cv_float_to_half(float f);

#endif
