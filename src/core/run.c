/* The executor: plans a run for one input shape (shape inference, constant
 * folding, memory), runs forward, and runs backward to the input.
 *
 * Planning walks the nodes in topological order once. A node whose inputs
 * are all known at plan time (initializers, Constant, the shape arithmetic
 * exporters emit around Shape) is evaluated then and its outputs become
 * constants, so forward runs only the float work that depends on the input.
 */
#include "graph.h"
#include "limits.h"
#include "mempool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cv_run {
    const cv_model *m;
    cv_tensor *t;           /* [n_values] runtime tensors */
    bool *is_static;        /* [n_values] data known at plan time */
    bool *owned;            /* [n_values] t[v] holds data of this run: its own buffer or its slot */
    bool *keep;             /* [n_values] kept after forward (outputs, or all with need_grad) */
    bool *needed;           /* [n_nodes] on the path to the requested outputs */
    bool *grad_dirty;       /* [n_values] t[v].grad may hold a nonzero value (need_grad) */
    int *last_use;          /* [n_values] last node reading it */
    double *macs;           /* [n_nodes] */
    double *seconds;        /* [2 * n_nodes] wall time in forward [2k] and backward [2k + 1] */
    cv_tensor ***node_in;   /* [n_nodes][n_in] */
    cv_tensor ***node_out;  /* [n_nodes][n_out] */
    int *targets;           /* values returned by cv_run_output */
    int n_targets;
    int last_node;
    bool need_grad;
    bool relu_redirect;
    int conv_algo; /* cv_conv_algo */
    cv_backward_rule backward_rule;
    float *scratch;
    size_t scratch_floats;
    size_t limit;           /* memory limit in bytes (the model's, else what is available) */
    size_t static_bytes;    /* taken by outputs folded at plan time */
    /* Activations live in the slots of one plan (mempool.h), computed at
     * plan time: forward binds each value to its slot, so repeated forwards
     * (occlusion batches, filter iterations) reuse the same memory instead
     * of mapping and page-faulting it afresh each time (that cost a quarter
     * to a half of the time on big batches). Folded values and the input
     * have buffers of their own. */
    mem_plan plan;
    void **slot_mem;        /* [plan.n_slots] each slot's buffer, in arena */
    /* The slots side by side in one buffer, allocated when the first is
     * bound, and the gradients likewise in one (need_grad): two large
     * buffers go on huge pages (cv_malloc_large) where a hundred buffers of
     * a megabyte or less would not, and their first touch cost a third of
     * a cold ResNet18 saliency in page faults. */
    void *arena, *grad_block;
    int *release_at;        /* [n_values] node after which forward unbinds it, -1: never */
    size_t planned_bytes;   /* what check_memory counted against the limit */
    size_t held_bytes;      /* what the run's buffers take now */
    size_t scratch_bytes;   /* of them, the scratch buffer */
    /* Clamps folded into their producers (plan_fusion): node k computes
     * and stores clamp[k] of its output straight into value fused_out[k]
     * (-1: not fused), and the clamp node, absorbed, does not run. */
    int *fused_out;         /* [n_nodes] */
    bool *absorbed;         /* [n_nodes] */
    cv_clamp *clamp;        /* [n_nodes] */
};

cv_run_options cv_run_defaults(void)
{
    cv_run_options o = {.stop_layer = -1, .need_grad = 0, .keep_all = 0};
    return o;
}

/* Forward is done with v: its slot is the next value's. Only the pointer
 * goes, so a released value reads as absent (cv_run_layer_output). */
static void unbind(cv_run *r, int v)
{
    r->t[v].f = NULL;
    r->t[v].i = NULL;
    r->owned[v] = false;
}

void cv_run_free(cv_run *r)
{
    if (!r)
        return;
    if (r->t) {
        for (int v = 0; v < r->m->n_values; v++) {
            bool own_buffer = r->owned[v] && (!r->plan.slot || r->plan.slot[v] < 0);
            if (own_buffer)
                free(r->t[v].f ? (void *)r->t[v].f : (void *)r->t[v].i);
        }
    }
    free(r->grad_block);
    free(r->arena);
    free(r->slot_mem);
    free(r->release_at);
    mem_plan_free(&r->plan);
    if (r->node_in)
        for (int k = 0; k < r->m->n_nodes; k++) {
            free(r->node_in[k]);
            free(r->node_out[k]);
        }
    free(r->node_in);
    free(r->node_out);
    free(r->t);
    free(r->is_static);
    free(r->owned);
    free(r->keep);
    free(r->needed);
    free(r->grad_dirty);
    free(r->last_use);
    free(r->macs);
    free(r->seconds);
    free(r->targets);
    free(r->scratch);
    free(r->fused_out);
    free(r->absorbed);
    free(r->clamp);
    free(r);
}

static void set_data(cv_tensor *t, void *p)
{
    if (t->dtype == CV_I64)
        t->i = p;
    else
        t->f = p;
}

static cv_status out_of_memory(const cv_run *r, int v, size_t bytes, cv_error *err)
{
    char s[128];
    return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory allocating tensor '%s' %s (%zu bytes)", r->m->path,
                   r->m->values[v].name, cv_shape_str(&r->t[v].shape, s, sizeof s), bytes);
}

/* A buffer of v's own, for values outside the plan: folded at plan time,
 * and the input. */
static cv_status alloc_own(cv_run *r, int v, cv_error *err)
{
    cv_tensor *t = &r->t[v];
    if (r->owned[v])
        return CV_OK;
    size_t n = cv_shape_numel(&t->shape);
    size_t elem = t->dtype == CV_I64 ? sizeof(int64_t) : sizeof(float);
    size_t bytes;
    if (!cv_mul_size(n ? n : 1, elem, &bytes))
        return cv_fail(err, CV_ERR_LIMIT, "%s: tensor '%s' is too large", r->m->path, r->m->values[v].name);
    void *p = cv_malloc_large(bytes);
    if (!p)
        return out_of_memory(r, v, bytes, err);
    set_data(t, p);
    r->owned[v] = true;
    r->held_bytes += bytes;
    return CV_OK;
}

/* Bytes rounded up to a cache line: where the next buffer of a block starts. */
static size_t line_up(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* Point v at its planned slot, allocating the arena of all slots the first
 * time. */
static cv_status bind_slot(cv_run *r, int v, cv_error *err)
{
    if (r->owned[v])
        return CV_OK;
    if (!r->arena) {
        size_t total = 0;
        for (int k = 0; k < r->plan.n_slots; k++)
            total += r->plan.slot_bytes[k]; /* whole cache lines (plan_memory); check_memory bounded the sum */
        if (!(r->arena = cv_malloc_large(total)))
            return out_of_memory(r, v, total, err);
        r->held_bytes += total;
        size_t off = 0;
        for (int k = 0; k < r->plan.n_slots; off += r->plan.slot_bytes[k], k++)
            r->slot_mem[k] = (char *)r->arena + off;
    }
    set_data(&r->t[v], r->slot_mem[r->plan.slot[v]]);
    r->owned[v] = true;
    return CV_OK;
}

/* The scratch buffer resized to floats; false when out of memory. */
static bool resize_scratch(cv_run *r, size_t floats)
{
    float *s = realloc(r->scratch, floats * sizeof(float));
    if (!s)
        return false;
    r->scratch = s;
    r->held_bytes = r->held_bytes - r->scratch_bytes + floats * sizeof(float);
    r->scratch_bytes = floats * sizeof(float);
    return true;
}

/* Bytes of a planned tensor (shape checked by plan_node: no overflow). */
static size_t tensor_bytes(const cv_tensor *t)
{
    size_t n = cv_shape_numel(&t->shape);
    return (n ? n : 1) * (t->dtype == CV_I64 ? sizeof(int64_t) : sizeof(float));
}

/* "12.5 MiB" */
static char *mib_str(size_t bytes, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
    return buf;
}

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

/* Whether forward runs node k: it is needed, not folded at plan time and
 * not absorbed by its producer. */
static bool node_runs(const cv_run *r, int k)
{
    if (!r->needed[k] || (r->absorbed && r->absorbed[k]))
        return false;
    const cv_node *n = &r->m->nodes[k];
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0 && !r->is_static[n->out[o]])
            return true;
    return false;
}

/* The value node k writes as its output o: the model's, or for a node
 * with a folded clamp, the clamp's output. */
static int out_value(const cv_run *r, int k, int o)
{
    return o == 0 && r->fused_out && r->fused_out[k] >= 0 ? r->fused_out[k] : r->m->nodes[k].out[o];
}

/* The memory plan: forward's order of buffer use, walked once on sizes.
 * Before node k its outputs come; after it go the inputs it reads last and
 * the outputs nobody reads (a Dropout mask), unless kept (outputs, or all
 * with need_grad). Kept values get slots of their own, which no value
 * before or after uses, so they survive the next forward's early layers
 * as they survive forward's end, and a second forward (occlusion and filter
 * visualization run many) adds nothing. Folded values and the input are
 * outside the plan. */
static cv_status plan_memory(cv_run *r, cv_error *err)
{
    const cv_model *m = r->m;
    cv_status st = mem_plan_init(&r->plan, m->n_values, err);
    if (st != CV_OK)
        return st;
    r->release_at = malloc(sizeof(int) * (size_t)(m->n_values ? m->n_values : 1));
    if (!r->release_at)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    for (int v = 0; v < m->n_values; v++)
        r->release_at[v] = -1;
    for (int k = 0; k <= r->last_node; k++) {
        if (!node_runs(r, k))
            continue;
        const cv_node *n = &m->nodes[k];
        for (int o = 0; o < n->n_out; o++) {
            int v = out_value(r, k, o);
            if (v >= 0 && (st = mem_plan_alloc(&r->plan, v, line_up(tensor_bytes(&r->t[v])), r->keep[v], err)) != CV_OK)
                return st;
        }
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            if (v >= 0 && r->plan.slot[v] >= 0 && r->last_use[v] == k && !r->keep[v]) {
                r->release_at[v] = k;
                mem_plan_release(&r->plan, v);
            }
        }
        for (int o = 0; o < n->n_out; o++) {
            int v = out_value(r, k, o);
            if (v >= 0 && r->last_use[v] < 0 && !r->keep[v]) {
                r->release_at[v] = k;
                mem_plan_release(&r->plan, v);
            }
        }
    }
    r->slot_mem = calloc((size_t)(r->plan.n_slots ? r->plan.n_slots : 1), sizeof(void *));
    return r->slot_mem ? CV_OK : cv_fail(err, CV_ERR_NOMEM, "out of memory");
}

/* The most memory the run will hold: what planning folded, the input,
 * scratch, and the slots of the memory plan; with need_grad, a gradient
 * for every float activation and the input. Refused before anything of it
 * is allocated when over the limit. */
/* Under an address-space limit (ulimit -v) the run's buffers and OpenBLAS's
 * work buffers must fit in what is left of it: OpenBLAS hangs, retrying its
 * mmap forever, where they do not (src/core/addrspace.c). */
static cv_status check_address_space(const cv_run *r, size_t total, cv_error *err)
{
    size_t blas = cv_blas_workspace_bytes(), limit;
    if (cv_address_space_fits(add_sat(total, blas), &limit))
        return CV_OK;
    char a[32], b[32], c[32];
    return cv_fail(err, CV_ERR_NOMEM,
                   "out of memory: a run of %s needs about %s, and OpenBLAS %s for its work buffer, more address "
                   "space than the limit of %s (ulimit -v) leaves; raise the limit",
                   r->m->path, mib_str(total, a, sizeof a), mib_str(blas, b, sizeof b), mib_str(limit, c, sizeof c));
}

static cv_status check_memory(cv_run *r, const cv_shape *in_shape, cv_error *err)
{
    const cv_model *m = r->m;
    int big = m->input;
    size_t big_bytes = tensor_bytes(&r->t[m->input]);
    size_t scratch = r->scratch_floats > SIZE_MAX / sizeof(float) ? SIZE_MAX : r->scratch_floats * sizeof(float);
    size_t total = add_sat(add_sat(r->static_bytes, tensor_bytes(&r->t[m->input])), scratch);
    total = add_sat(total, r->plan.total_bytes);
    for (int v = 0; v < m->n_values; v++) {
        if (r->plan.slot[v] < 0)
            continue;
        size_t b = tensor_bytes(&r->t[v]);
        if (b > big_bytes) {
            big_bytes = b;
            big = v;
        }
        if (r->need_grad && r->t[v].dtype == CV_F32)
            total = add_sat(total, line_up(b));
    }
    if (r->need_grad)
        total = add_sat(total, line_up(tensor_bytes(&r->t[m->input]))); /* the input's gradient */
    r->planned_bytes = total;
    if (total <= r->limit)
        return check_address_space(r, total, err);
    char is[160], bs[160], a[32], b[32], c[32];
    int producer = m->values[big].producer;
    return cv_fail(err, CV_ERR_LIMIT,
                   "%s: a run on input %s needs about %s%s, over the memory limit (max_memory) of %s; "
                   "the largest tensor is '%s' %s (%s)%s%s%s",
                   m->path, cv_shape_str(in_shape, is, sizeof is), mib_str(total, a, sizeof a),
                   r->need_grad ? " with gradients" : "", mib_str(r->limit, b, sizeof b), m->values[big].name,
                   cv_shape_str(&r->t[big].shape, bs, sizeof bs), mib_str(big_bytes, c, sizeof c),
                   producer >= 0 ? ", output of layer '" : "", producer >= 0 ? cv_model_layer_name(m, producer) : "",
                   producer >= 0 ? "'" : "");
}

static void make_ctx(const cv_run *r, int k, cv_op_ctx *ctx)
{
    const cv_node *n = &r->m->nodes[k];
    memset(ctx, 0, sizeof *ctx);
    ctx->node = n;
    ctx->params = n->params;
    ctx->model = r->m;
    ctx->n_in = n->n_in;
    ctx->n_out = n->n_out;
    ctx->in = r->node_in[k];
    ctx->out = r->node_out[k];
    ctx->scratch = r->scratch;
    ctx->scratch_floats = r->scratch_floats;
    ctx->relu_redirect = r->relu_redirect;
    ctx->conv_algo = r->conv_algo;
    ctx->clamp = r->fused_out && r->fused_out[k] >= 0 ? &r->clamp[k] : NULL;
}

/* Mark the nodes that the target values depend on. */
static void mark_needed(cv_run *r)
{
    const cv_model *m = r->m;
    bool *want = calloc((size_t)m->n_values, sizeof(bool));
    if (!want) { /* fall back to everything up to last_node */
        for (int k = 0; k <= r->last_node; k++)
            r->needed[k] = true;
        return;
    }
    for (int i = 0; i < r->n_targets; i++)
        want[r->targets[i]] = true;
    for (int k = r->last_node; k >= 0; k--) {
        const cv_node *n = &m->nodes[k];
        bool any = false;
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0 && want[n->out[o]])
                any = true;
        if (!any)
            continue;
        r->needed[k] = true;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0)
                want[n->in[i]] = true;
    }
    free(want);
}

static cv_status plan_node(cv_run *r, int k, cv_error *err)
{
    const cv_model *m = r->m;
    const cv_node *n = &m->nodes[k];
    bool in_static[CV_NODE_MAX_INPUTS];
    bool all_static = true;
    if (n->n_in > CV_NODE_MAX_INPUTS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: node '%s' has %d inputs (at most %d supported)",
                       m->path, n->name, n->n_in, CV_NODE_MAX_INPUTS);
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        in_static[i] = v < 0 || r->is_static[v];
        if (!in_static[i])
            all_static = false;
    }
    cv_op_ctx ctx;
    make_ctx(r, k, &ctx);
    ctx.in_static = in_static;
    for (int o = 0; o < n->n_out; o++)
        if (n->out[o] >= 0)
            r->t[n->out[o]].dtype = CV_F32;
    cv_status st = n->op->infer(&ctx, err);
    if (st != CV_OK) {
        char inner[sizeof err->msg];
        memcpy(inner, err->msg, sizeof inner);
        return cv_fail(err, st, "%s: layer '%s' (%s): %s", m->path, cv_model_layer_name(m, k), n->op_type, inner);
    }
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        if (v < 0)
            continue;
        size_t numel = cv_shape_numel(&r->t[v].shape);
        char s[160];
        if (numel == 0 && r->t[v].shape.ndim > 0) {
            bool zero_dim = false;
            for (int d = 0; d < r->t[v].shape.ndim; d++)
                if (r->t[v].shape.d[d] == 0)
                    zero_dim = true;
            if (!zero_dim)
                return cv_fail(err, CV_ERR_LIMIT, "%s: layer '%s' (%s): output %s is too large",
                               m->path, cv_model_layer_name(m, k), n->op_type, cv_shape_str(&r->t[v].shape, s, sizeof s));
        }
        if (numel > CV_MAX_TENSOR_BYTES / sizeof(float))
            return cv_fail(err, CV_ERR_LIMIT, "%s: layer '%s' (%s): output %s would need more than %zu GiB",
                           m->path, cv_model_layer_name(m, k), n->op_type,
                           cv_shape_str(&r->t[v].shape, s, sizeof s), CV_MAX_TENSOR_BYTES >> 30);
    }
    if (ctx.scratch_floats > r->scratch_floats)
        r->scratch_floats = ctx.scratch_floats;
    if (n->op->macs)
        r->macs[k] = n->op->macs(&ctx);
    if (all_static || n->op->shape_only) {
        /* Constant folding: evaluate now, once. Folded outputs stay for the
         * run's lifetime, so they count against the limit as they come. */
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0 && !r->owned[n->out[o]]) {
                size_t b = tensor_bytes(&r->t[n->out[o]]);
                if (b > r->limit - r->static_bytes) {
                    char s[160], lim[32];
                    return cv_fail(err, CV_ERR_LIMIT,
                                   "%s: layer '%s' (%s): folding constant '%s' %s (%s) would take the run past its "
                                   "memory limit of %s",
                                   m->path, cv_model_layer_name(m, k), n->op_type, m->values[n->out[o]].name,
                                   cv_shape_str(&r->t[n->out[o]].shape, s, sizeof s), mib_str(b, lim, sizeof lim),
                                   mib_str(r->limit, (char[32]){0}, 32));
                }
                r->static_bytes += b;
            }
        if (ctx.scratch_floats && !resize_scratch(r, ctx.scratch_floats))
            return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", m->path);
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0 && (st = alloc_own(r, n->out[o], err)) != CV_OK)
                return st;
        make_ctx(r, k, &ctx);
        n->op->forward(&ctx);
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0)
                r->is_static[n->out[o]] = true;
    }
    return CV_OK;
}

/* Which values outlive forward (the targets; all with keep_all or
 * need_grad), and each value's last reader. */
static void mark_kept(cv_run *r, bool keep_all)
{
    const cv_model *m = r->m;
    for (int i = 0; i < r->n_targets; i++)
        r->keep[r->targets[i]] = true;
    for (int v = 0; v < m->n_values; v++) {
        /* with need_grad every activation, int64 ones too (a Where's
         * condition computed by a comparison): backward passes read them */
        bool runtime = v == m->input || (m->values[v].producer >= 0 && r->needed[m->values[v].producer]);
        if (keep_all || (r->need_grad && runtime && !r->is_static[v]))
            r->keep[v] = true;
    }
    for (int k = 0; k <= r->last_node; k++) {
        if (!r->needed[k])
            continue;
        const cv_node *n = &m->nodes[k];
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0)
                r->last_use[n->in[i]] = k;
    }
}

/* The clamp node that node k's output 0 can be folded into k with, or -1:
 * k's op applies clamps itself, its output is nobody's but that node's to
 * read (not kept: no layer output is asked for, no gradient pass), and the
 * reader is a clamp of the same shape that runs. */
static int foldable_clamp(const cv_run *r, int k, const int *readers, cv_clamp *clamp)
{
    const cv_model *m = r->m;
    const cv_node *n = &m->nodes[k];
    int v = n->n_out >= 1 ? n->out[0] : -1;
    if (!n->op->fuses_clamp || !node_runs(r, k) || v < 0 || r->keep[v] || readers[v] != 1)
        return -1;
    int j = r->last_use[v];
    const cv_node *c = j > k ? &m->nodes[j] : NULL;
    if (!c || !c->op->as_clamp || !node_runs(r, j) || c->in[0] != v || c->n_out < 1 || c->out[0] < 0)
        return -1;
    for (int i = 1; i < c->n_in; i++)
        if (c->in[i] >= 0 && !r->is_static[c->in[i]])
            return -1;
    const cv_tensor *x = &r->t[v], *y = &r->t[c->out[0]];
    if (x->dtype != CV_F32 || y->dtype != CV_F32 || !cv_shape_equal(&x->shape, &y->shape))
        return -1;
    cv_op_ctx ctx;
    make_ctx(r, j, &ctx);
    return c->op->as_clamp(&ctx, clamp) ? j : -1;
}

/* Fold each Relu or Clip that alone reads a Conv's output into the Conv:
 * the Conv stores clamped values where the clamp's output goes, and the
 * clamp node is skipped. Only where nothing can see the difference (see
 * foldable_clamp); a failed allocation just leaves everything unfused. */
static void plan_fusion(cv_run *r)
{
    const cv_model *m = r->m;
    size_t nn = (size_t)(m->n_nodes ? m->n_nodes : 1);
    int *readers = calloc((size_t)(m->n_values ? m->n_values : 1), sizeof(int));
    r->fused_out = malloc(nn * sizeof(int));
    r->absorbed = calloc(nn, sizeof(bool));
    r->clamp = calloc(nn, sizeof(cv_clamp));
    if (!readers || !r->fused_out || !r->absorbed || !r->clamp) {
        free(readers);
        free(r->fused_out);
        free(r->absorbed);
        free(r->clamp);
        r->fused_out = NULL;
        r->absorbed = NULL;
        r->clamp = NULL;
        return;
    }
    for (int k = 0; k <= r->last_node; k++)
        for (int i = 0; r->needed[k] && i < m->nodes[k].n_in; i++)
            if (m->nodes[k].in[i] >= 0)
                readers[m->nodes[k].in[i]]++;
    for (int k = 0; k < m->n_nodes; k++)
        r->fused_out[k] = -1;
    for (int k = 0; k <= r->last_node; k++) {
        int j = foldable_clamp(r, k, readers, &r->clamp[k]);
        if (j < 0)
            continue;
        r->fused_out[k] = m->nodes[j].out[0];
        r->node_out[k][0] = &r->t[r->fused_out[k]];
        r->absorbed[j] = true;
    }
    free(readers);
}

/* Bytes of v's gradient: 0 for a value that has none. */
static size_t grad_bytes(const cv_run *r, int v)
{
    if ((v != r->m->input && r->plan.slot[v] < 0) || r->t[v].dtype != CV_F32)
        return 0;
    size_t n = cv_shape_numel(&r->t[v].shape);
    return line_up((n ? n : 1) * sizeof(float));
}

/* With need_grad: every activation in its slot from the start, and a
 * gradient buffer for each float one and the input, all in one block. */
static cv_status alloc_gradients(cv_run *r, cv_error *err)
{
    const cv_model *m = r->m;
    size_t total = 0;
    for (int v = 0; v < m->n_values; v++) {
        cv_status st = v != m->input && r->plan.slot[v] >= 0 ? bind_slot(r, v, err) : CV_OK;
        if (st != CV_OK)
            return st;
        total += grad_bytes(r, v); /* check_memory bounded the sum */
    }
    if (!(r->grad_block = cv_malloc_large(total ? total : 64)))
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory for gradients", m->path);
    r->held_bytes += total;
    size_t off = 0;
    for (int v = 0; v < m->n_values; off += grad_bytes(r, v), v++)
        if (grad_bytes(r, v)) {
            r->t[v].grad = (float *)((char *)r->grad_block + off);
            r->grad_dirty[v] = true; /* malloc's bytes: the first backward clears them */
        }
    return CV_OK;
}

cv_status cv_run_create(cv_run **out, const cv_model *m, const cv_shape *input_shape,
                        const cv_run_options *opt, cv_error *err)
{
    *out = NULL;
    cv_run_options defaults = cv_run_defaults();
    if (!opt)
        opt = &defaults;
    if (opt->stop_layer >= m->n_nodes)
        return cv_fail(err, CV_ERR_INVALID, "%s: layer index %d out of range", m->path, opt->stop_layer);
    if (opt->backward_rule != CV_BACKWARD_EXACT && opt->backward_rule != CV_BACKWARD_GUIDED)
        return cv_fail(err, CV_ERR_INVALID, "unknown backward rule %d", opt->backward_rule);
    if (opt->conv_algo < CV_CONV_AUTO || opt->conv_algo > CV_CONV_EXACT_BACKWARD)
        return cv_fail(err, CV_ERR_INVALID, "unknown convolution algorithm %d", opt->conv_algo);
    const cv_shape *decl = &m->values[m->input].shape;
    char a[160], b[160];
    if (decl->ndim && decl->ndim != input_shape->ndim)
        return cv_fail(err, CV_ERR_SHAPE, "%s: input '%s' expects %d dimensions %s, got %s", m->path,
                       m->values[m->input].name, decl->ndim, cv_shape_str(decl, a, sizeof a),
                       cv_shape_str(input_shape, b, sizeof b));
    size_t in_numel = cv_shape_numel(input_shape);
    if (in_numel == 0 || in_numel > CV_MAX_TENSOR_BYTES / sizeof(float))
        return cv_fail(err, CV_ERR_LIMIT, "%s: input shape %s is empty or too large", m->path,
                       cv_shape_str(input_shape, b, sizeof b));

    cv_run *r = calloc(1, sizeof *r);
    if (!r)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    r->m = m;
    r->limit = cv_memory_limit(m->max_memory);
    size_t nv = (size_t)m->n_values, nn = (size_t)(m->n_nodes ? m->n_nodes : 1);
    r->t = calloc(nv, sizeof *r->t);
    r->is_static = calloc(nv, sizeof(bool));
    r->owned = calloc(nv, sizeof(bool));
    r->keep = calloc(nv, sizeof(bool));
    r->last_use = malloc(nv * sizeof(int));
    r->needed = calloc(nn, sizeof(bool));
    r->grad_dirty = calloc(nv ? nv : 1, sizeof(bool));
    r->macs = calloc(nn, sizeof(double));
    r->seconds = calloc(2 * (nn ? nn : 1), sizeof(double));
    r->node_in = calloc(nn, sizeof(cv_tensor **));
    r->node_out = calloc(nn, sizeof(cv_tensor **));
    r->targets = malloc(sizeof(int) * (size_t)(m->n_outputs + 8));
    cv_status st = CV_OK;
    if (!r->t || !r->is_static || !r->owned || !r->keep || !r->last_use || !r->needed || !r->grad_dirty || !r->macs || !r->seconds ||
        !r->node_in || !r->node_out || !r->targets) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
        goto fail;
    }
    r->need_grad = opt->need_grad != 0;
    r->relu_redirect = opt->relu_redirect != 0;
    r->conv_algo = opt->conv_algo;
    r->backward_rule = (cv_backward_rule)opt->backward_rule;
    for (int k = 0; k < m->n_nodes; k++) {
        const cv_node *n = &m->nodes[k];
        r->node_in[k] = calloc((size_t)(n->n_in + 1), sizeof(cv_tensor *));
        r->node_out[k] = calloc((size_t)(n->n_out + 1), sizeof(cv_tensor *));
        if (!r->node_in[k] || !r->node_out[k]) {
            st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < n->n_in; i++)
            r->node_in[k][i] = n->in[i] >= 0 ? &r->t[n->in[i]] : NULL;
        for (int o = 0; o < n->n_out; o++)
            r->node_out[k][o] = n->out[o] >= 0 ? &r->t[n->out[o]] : NULL;
    }
    for (int v = 0; v < m->n_values; v++) {
        const cv_value *val = &m->values[v];
        r->t[v].dtype = val->dtype;
        r->t[v].shape = val->shape;
        r->last_use[v] = -1;
        if (val->data && val->producer < 0) {
            if (val->dtype == CV_I64)
                r->t[v].i = val->data;
            else
                r->t[v].f = val->data;
            r->is_static[v] = true;
        }
    }
    r->t[m->input].dtype = CV_F32;
    r->t[m->input].shape = *input_shape;

    if (opt->stop_layer >= 0) {
        const cv_node *n = &m->nodes[opt->stop_layer];
        r->last_node = opt->stop_layer;
        for (int o = 0; o < n->n_out && o < 8; o++)
            if (n->out[o] >= 0)
                r->targets[r->n_targets++] = n->out[o];
    } else {
        r->last_node = m->n_nodes - 1;
        for (int o = 0; o < m->n_outputs; o++)
            r->targets[r->n_targets++] = m->outputs[o];
    }
    mark_needed(r);
    for (int k = 0; k <= r->last_node; k++)
        if (r->needed[k] && (st = plan_node(r, k, err)) != CV_OK)
            goto fail;
    mark_kept(r, opt->keep_all != 0);
    if (!opt->no_fusion)
        plan_fusion(r);
    if ((st = plan_memory(r, err)) != CV_OK || (st = check_memory(r, input_shape, err)) != CV_OK)
        goto fail;
    if (r->scratch_floats && !resize_scratch(r, r->scratch_floats)) {
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory for %zu scratch floats", m->path, r->scratch_floats);
        goto fail;
    }
    if ((st = alloc_own(r, m->input, err)) != CV_OK || (r->need_grad && (st = alloc_gradients(r, err)) != CV_OK))
        goto fail;
    *out = r;
    return CV_OK;
fail:
    cv_run_free(r);
    return st;
}

cv_status cv_run_forward(cv_run *r, const float *input, cv_error *err)
{
    const cv_model *m = r->m;
    cv_status st;
    if ((st = alloc_own(r, m->input, err)) != CV_OK)
        return st;
    memcpy(r->t[m->input].f, input, cv_shape_numel(&r->t[m->input].shape) * sizeof(float));
    for (int k = 0; k <= r->last_node; k++) {
        if (!node_runs(r, k))
            continue;
        const cv_node *n = &m->nodes[k];
        for (int o = 0; o < n->n_out; o++)
            if (out_value(r, k, o) >= 0 && (st = bind_slot(r, out_value(r, k, o), err)) != CV_OK)
                return st;
        cv_op_ctx ctx;
        make_ctx(r, k, &ctx);
        double t0 = cv_seconds();
        n->op->forward(&ctx);
        r->seconds[2 * k] += cv_seconds() - t0;
        /* Unbind what the plan released here (no memory is freed: the
         * slot is a later value's). */
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && r->release_at[n->in[i]] == k)
                unbind(r, n->in[i]);
        for (int o = 0; o < n->n_out; o++)
            if (out_value(r, k, o) >= 0 && r->release_at[out_value(r, k, o)] == k)
                unbind(r, out_value(r, k, o));
    }
    cv_blas_workspace_mapped();
    return CV_OK;
}

const cv_tensor *cv_run_output(const cv_run *r, int k)
{
    if (k < 0 || k >= r->n_targets)
        return NULL;
    return &r->t[r->targets[k]];
}

const cv_tensor *cv_run_layer_output(const cv_run *r, int layer)
{
    if (layer < 0 || layer >= r->m->n_nodes || r->m->nodes[layer].n_out < 1)
        return NULL;
    int v = r->m->nodes[layer].out[0];
    if (v < 0 || (!r->owned[v] && !r->is_static[v]))
        return NULL;
    return &r->t[v];
}

cv_tensor *cv_run_value(cv_run *r, int v) { return &r->t[v]; }
const struct mem_plan *cv_run_mem_plan(const cv_run *r) { return &r->plan; }
size_t cv_run_planned_bytes(const cv_run *r) { return r->planned_bytes; }
size_t cv_run_held_bytes(const cv_run *r) { return r->held_bytes; }
bool cv_run_value_static(const cv_run *r, int v) { return r->is_static[v]; }
bool cv_run_node_needed(const cv_run *r, int k) { return r->needed[k]; }

cv_shape cv_run_layer_shape(const cv_run *r, int layer)
{
    cv_shape none = {0, {0}};
    if (layer < 0 || layer >= r->m->n_nodes || !r->needed[layer] || r->m->nodes[layer].n_out < 1 ||
        r->m->nodes[layer].out[0] < 0)
        return none;
    return r->t[r->m->nodes[layer].out[0]].shape;
}

double cv_run_layer_macs(const cv_run *r, int layer)
{
    return layer >= 0 && layer < r->m->n_nodes ? r->macs[layer] : 0.0;
}

double cv_run_layer_seconds(const cv_run *r, int layer, int backward)
{
    return layer >= 0 && layer < r->m->n_nodes ? r->seconds[2 * layer + (backward ? 1 : 0)] : 0.0;
}

/* Guided backpropagation at a ReLU gate: only positive gradient passes
 * down. Every reader of the node's outputs has run its backward by now
 * (reverse topological order), so the gradient is complete. */
static void clamp_output_grads(cv_run *r, const cv_node *n)
{
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        float *g = v >= 0 ? r->t[v].grad : NULL;
        if (!g)
            continue;
        size_t count = cv_shape_numel(&r->t[v].shape);
#pragma omp parallel for if (count > CV_OMP_MIN_ELEMS) schedule(static)
        for (size_t i = 0; i < count; i++)
            g[i] = g[i] > 0.0f ? g[i] : 0.0f;
    }
}

/* want[v]: value v's gradient is needed: v is an ancestor of the seeded
 * value. after_until[v]: v is computed from until's output (until < 0:
 * every value), so the backward of v's producer must run; below until's
 * output no backward runs, which is what makes Grad-CAM's dy/dA cheap. */
static void backward_reach(const cv_run *r, int layer, int until, bool *want, bool *after_until)
{
    const cv_model *m = r->m;
    int stop = until >= 0 ? m->nodes[until].out[0] : -1;
    for (int k = 0; k <= layer; k++) {
        const cv_node *n = &m->nodes[k];
        bool after = until < 0;
        for (int i = 0; i < n->n_in && !after; i++)
            after = n->in[i] >= 0 && (n->in[i] == stop || after_until[n->in[i]]);
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0)
                after_until[n->out[o]] = after && r->needed[k];
    }
    want[m->nodes[layer].out[0]] = true;
    for (int k = layer; k >= 0; k--) {
        const cv_node *n = &m->nodes[k];
        bool any = false;
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0 && want[n->out[o]] && after_until[n->out[o]])
                any = true;
        if (!any || !r->needed[k])
            continue;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && r->t[n->in[i]].grad)
                want[n->in[i]] = true;
    }
}

static cv_status check_backward_layer(const cv_run *r, int layer, const char *what, cv_error *err)
{
    const cv_model *m = r->m;
    if (layer < 0 || layer > r->last_node || !r->needed[layer])
        return cv_fail(err, CV_ERR_INVALID, "%s: %s layer %d is not part of this run", m->path, what, layer);
    int v = m->nodes[layer].out[0];
    if (v < 0 || !r->t[v].grad)
        return cv_fail(err, CV_ERR_INVALID, "%s: layer '%s' does not depend on the input", m->path,
                       cv_model_layer_name(m, layer));
    return CV_OK;
}

static void clear_grad(cv_run *r, int v, bool *cleared)
{
    memset(r->t[v].grad, 0, cv_shape_numel(&r->t[v].shape) * sizeof(float));
    r->grad_dirty[v] = false;
    cleared[v] = true;
}

/* The backward passes of the nodes from `layer` down to until's output
 * (until < 0: down to the input), in reverse topological order. */
static cv_status backward_between(cv_run *r, int layer, const float *seed, int until, cv_error *err)
{
    const cv_model *m = r->m;
    size_t nv = (size_t)m->n_values;
    /* want, after_until, and cleared: this pass has zeroed or set v's gradient */
    bool *flags = calloc(3 * (nv ? nv : 1), sizeof(bool));
    if (!flags)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    bool *want = flags, *after_until = flags + nv, *cleared = flags + 2 * nv;
    backward_reach(r, layer, until, want, after_until);
    /* A gradient nothing reaches reads 0: clear what an earlier pass left.
     * The wanted ones are cleared just before the first backward that adds
     * to them, when they are about to be written anyway, so the zeroes are
     * still in cache when the backward reads them back (rather than all
     * zeroed up front and read again from memory). */
    for (int v = 0; v < m->n_values; v++)
        if (r->grad_dirty[v] && !want[v])
            clear_grad(r, v, cleared);
    int target = m->nodes[layer].out[0];
    memcpy(r->t[target].grad, seed, cv_shape_numel(&r->t[target].shape) * sizeof(float));
    cleared[target] = r->grad_dirty[target] = true;
    cv_status st = CV_OK;
    for (int k = layer; k >= 0 && st == CV_OK; k--) {
        const cv_node *n = &m->nodes[k];
        if (!r->needed[k])
            continue;
        bool any_out = false, any_in = false;
        for (int o = 0; o < n->n_out; o++)
            if (n->out[o] >= 0 && want[n->out[o]] && after_until[n->out[o]] && r->t[n->out[o]].grad)
                any_out = true;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && want[n->in[i]] && r->t[n->in[i]].grad)
                any_in = true;
        if (!any_out || !any_in)
            continue;
        if (!n->op->backward) {
            st = cv_fail(err, CV_ERR_UNSUPPORTED, "%s: layer '%s': operator %s has no backward pass", m->path,
                         cv_model_layer_name(m, k), n->op_type);
            break;
        }
        if (r->backward_rule == CV_BACKWARD_GUIDED && n->op->gate == CV_GATE_RELU)
            clamp_output_grads(r, n);
        for (int i = 0; i < n->n_in; i++) /* the backward adds to these */
            if (n->in[i] >= 0 && r->t[n->in[i]].grad) {
                if (!cleared[n->in[i]])
                    clear_grad(r, n->in[i], cleared);
                r->grad_dirty[n->in[i]] = true;
            }
        cv_op_ctx ctx;
        make_ctx(r, k, &ctx);
        double t0 = cv_seconds();
        n->op->backward(&ctx);
        r->seconds[2 * k + 1] += cv_seconds() - t0;
    }
    for (int v = 0; v < m->n_values; v++) /* wanted, but no backward reached it */
        if (r->t[v].grad && !cleared[v] && r->grad_dirty[v])
            clear_grad(r, v, cleared);
    free(flags);
    return st;
}

cv_status cv_run_backward(cv_run *r, int layer, const float *seed, const float **input_grad, cv_error *err)
{
    if (!r->need_grad)
        return cv_fail(err, CV_ERR_INVALID, "backward needs a run planned with need_grad");
    cv_status st = check_backward_layer(r, layer, "backward from", err);
    if (st == CV_OK)
        st = backward_between(r, layer, seed, -1, err);
    if (st == CV_OK && input_grad)
        *input_grad = r->t[r->m->input].grad;
    return st;
}

cv_status cv_run_backward_until(cv_run *r, int layer, const float *seed, int until, cv_error *err)
{
    if (!r->need_grad)
        return cv_fail(err, CV_ERR_INVALID, "backward needs a run planned with need_grad");
    cv_status st = check_backward_layer(r, layer, "backward from", err);
    if (st == CV_OK)
        st = check_backward_layer(r, until, "backward until", err);
    if (st == CV_OK && until >= layer)
        st = cv_fail(err, CV_ERR_INVALID, "%s: backward until layer %d, which is not before layer %d", r->m->path,
                     until, layer);
    if (st == CV_OK)
        st = backward_between(r, layer, seed, until, err);
    return st;
}
