/* Shared steps of the attribution methods (src/viz/explain*.c): the
 * explainer's state, batched gradient and forward passes, maps, random
 * numbers. Internal: not part of the public API. */
#ifndef CV_EXPLAIN_INTERNAL_H
#define CV_EXPLAIN_INTERNAL_H

#include "cnnviz_explain.h"
#include "../core/graph.h"

/* A run kept for the next pass that needs the same plan (the next batch,
 * cv_explain_run again): planning a run and faulting in its fresh buffers
 * cost about as much as a ResNet18 pass. */
typedef struct {
    cv_run *run;
    int batch, grad, rule;
    long used;               /* when it was last handed out (ex_kept_run's clock) */
} ex_kept;

enum { EX_KEPT_RUNS = 2 };

struct cv_explainer {
    const cv_model *m;
    cv_shape in_shape;       /* batch 1 */
    const float *input;      /* [numel], the caller's */
    size_t numel;            /* values per input item */
    int channels, height, width, nhwc;
    cv_explain_options o;
    int logit_layer;         /* node whose output 0 holds the class scores */
    int before_softmax;      /* the graph's final Softmax reads the logit layer */
    int softmax;             /* probabilities = softmax(logits) */
    int n_classes;
    float *logits, *probs;   /* [n_classes] of the input */
    cv_run *grad1;           /* batch-1 exact-gradient run, input forwarded once */
    size_t grad_item_bytes;  /* estimated plan bytes per batch item: with gradients */
    size_t fwd_item_bytes;   /* ... forward only */
    float in_min, in_max;
    ex_kept kept[EX_KEPT_RUNS];
    long clock;
};

/* Batched passes. fill writes sample s's input (numel floats, the model's
 * layout) into x; samples are asked for in order 0, 1, ..., n - 1. */
typedef void (*ex_fill_fn)(void *user, long s, float *x);
/* After each batch: samples [first, first + count), their logits
 * [count x n_classes] and, for gradient passes, dy/dx [count x numel]. */
typedef void (*ex_consume_fn)(void *user, long first, int count, const float *logits, const float *grads);

typedef struct {
    ex_fill_fn fill;
    ex_consume_fn consume;
    void *user;
    int target;              /* gradient passes: the class whose logit is differentiated */
    int backward_rule;       /* cv_backward_rule */
} ex_pass;

/* n samples through forward + backward of the target's logit. */
cv_status ex_grad_batches(cv_explainer *e, long n, const ex_pass *p, long *passes, int *batch, cv_error *err);
/* n samples through the forward pass only. */
cv_status ex_forward_batches(cv_explainer *e, long n, const ex_pass *p, long *passes, int *batch, cv_error *err);

/* A batch-b run up to the logit layer: with exact gradients (need_grad,
 * conv_algo CV_CONV_IM2COL, the backward rule) or forward only. */
cv_status ex_make_run(const cv_explainer *e, int b, bool grad, int backward_rule, cv_run **out, cv_error *err);
/* The same plan, owned by the explainer and reused: one made earlier when
 * it matches, else a new one in the least recently used slot. A batched
 * run (b > 1) first frees the other batched ones, so the explainer holds at
 * most one batch's memory beside batch-1 runs. Valid until the next call. */
cv_status ex_kept_run(cv_explainer *e, int b, bool grad, int backward_rule, cv_run **out, cv_error *err);
/* Backward from the target logit of each of b items: to the input (*gx),
 * or with until >= 0 only down to that layer's output (gx unused). */
cv_status ex_backward_target(const cv_explainer *e, cv_run *r, int b, int target, int until, const float **gx,
                             cv_error *err);

/* The probability of target given one item's logits. */
double ex_probability(const cv_explainer *e, const float *logits, int target);
/* Gradient-method map: max over channels of |attr| -> [height, width]. */
void ex_map_abs_max(const cv_explainer *e, const float *attr, float *map);
/* Index of channel c, row y, column x in an input item. */
size_t ex_input_index(const cv_explainer *e, int c, int y, int x);

/* The random stream of cnnviz_explain.h. */
uint64_t ex_rng_next(uint64_t *state);
double ex_rng_uniform(uint64_t *state);
double ex_rng_normal(uint64_t *state);

/* Method families. res->attribution, attr_shape and map are theirs to fill;
 * target, score and probability are set before. */
cv_status ex_run_gradient(cv_explainer *e, cv_explain_method method, cv_explain_result *res, cv_error *err);
cv_status ex_run_cam(cv_explainer *e, cv_explain_method method, cv_explain_result *res, cv_error *err);
cv_status ex_run_rise(cv_explainer *e, cv_explain_result *res, cv_error *err);
/* Guided backprop's attribution [numel] of target into out (explain_grad.c),
 * for guided Grad-CAM. */
cv_status ex_guided(cv_explainer *e, int target, float *out, cv_error *err);

#endif
