/* Incremental inference for occlusion maps.
 *
 * An occluder changes a small square of the input, yet a plain occlusion
 * map re-runs the whole network per position. Here (after Nakandala, Kumar
 * and Papakonstantinou, "Incremental and Approximate Inference for Faster
 * Occlusion-based Deep CNN Explanations", SIGMOD 2019) the clean image runs
 * once with every activation kept; then, per position, each layer recomputes
 * only the window of its output that the changed input can reach, reading
 * everything else from the clean activations. In a batch of positions a
 * layer's windows share one size (the largest the batch needs), so the
 * batch runs through each layer as one ordinary op call; convolutions are
 * told each position's own range and compute only that (size_windows).
 *
 * Per value, a position's state is either
 *   PATCH: a [B, C, rh, rw] window whose corner is where the position's
 *          changed range starts; valid within that range, and outside it
 *          the value equals the clean activation, or
 *   FULL:  a whole [B, ...] tensor (from the first layer whose change covers
 *          everything, e.g. global pooling or a dense layer, and for any op
 *          this engine does not know how to window).
 * Results are exact: a window is recomputed from exactly the inputs the
 * full network would read.
 */
#include "cpu.h"
#include "graph.h"
#include "limits.h"
#include "mempool.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

typedef enum { V_NONE, V_STATIC, V_PATCH, V_FULL } vkind;

typedef enum {
    N_SKIP,      /* static or not needed */
    N_POINTWISE, /* one spatial runtime input, output window = input window */
    N_MERGE,     /* several same-shape runtime inputs (Add, Concat, ...) */
    N_WINDOW,    /* Conv / pools: output window from an input window */
    N_FULL       /* plain op on whole tensors */
} nkind;

typedef struct {
    vkind kind;
    int rh, rw;          /* PATCH window size, for the positions of the current batch */
    int max_rh, max_rw;  /* ... and the largest over all positions */
    int *cy0, *cy1, *cx0, *cx1; /* [n_pos] changed range [c0, c1); (cy0, cx0) is also
                                 * the corner of the position's window */
    cv_tensor buf;       /* PATCH [B,C,rh,rw] or FULL [B,...] */
    size_t cap;          /* floats buf.f holds */
    int last_use;        /* last node reading buf in a run */
} vstate;

typedef struct {
    nkind kind;
    int kh, kw, sh, sw, dh, dw, ph, pw; /* N_WINDOW geometry; ph/pw = leading pads */
    float pad_value;
    bool in_place;       /* N_POINTWISE whose operator may run in place (cv_op_def.in_place) */
    cv_tensor *tmp;      /* gathered inputs [n_in] */
    size_t *tmp_cap;     /* [n_in] floats each holds */
} nstate;

struct cv_incr {
    const cv_model *m;
    cv_run *clean;
    int n_pos, max_batch, patch_h, patch_w;
    double field_cap;    /* cv_incr_options.field_cap */
    bool shared_clean;   /* clean belongs to cv_incr_options.share_clean's owner */
    vstate *v;
    nstate *n;
    float *scratch;
    size_t scratch_floats;
    /* Buffers no value holds now, for the next to need one: values die
     * at their last reader, so a run needs a few layers' worth of memory,
     * and reused buffers are warm in cache. */
    mem_pool pool;
    double macs_incr, macs_full;
    double *node_seconds; /* [n_nodes] time spent per node, over all runs */
    double *node_macs;    /* [n_nodes] estimated multiply-adds per position */
    double bytes_per_pos; /* buffer memory a position adds at a run's peak */
    int *out_rows, *out_cols; /* [max_batch] cv_op_ctx.out_rows / out_cols */
    int *gather_y, *gather_x; /* [n_pos] corners of the windows a node gathers */
};

/* ---- geometry ---------------------------------------------------------------- */

static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int ceil_div(int a, int b) { return -floor_div(-a, b); }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A static input that broadcasts against [B,C,h,w] without spatial extent. */
static bool nonspatial_const(const cv_tensor *t)
{
    const cv_shape *s = &t->shape;
    if (s->ndim > 4)
        return false;
    if (s->ndim >= 2 && s->d[s->ndim - 1] != 1)
        return s->ndim < 2 ? true : false;
    if (s->ndim >= 2 && s->d[s->ndim - 2] != 1)
        return false;
    if (s->ndim == 1 && s->d[0] != 1)
        return false; /* [W] would broadcast along width */
    if (s->ndim == 4 && s->d[0] != 1)
        return false;
    return true;
}

/* ---- planning ----------------------------------------------------------------- */

static bool alloc_ranges(vstate *vs, int n)
{
    vs->cy0 = malloc(sizeof(int) * (size_t)n);
    vs->cy1 = malloc(sizeof(int) * (size_t)n);
    vs->cx0 = malloc(sizeof(int) * (size_t)n);
    vs->cx1 = malloc(sizeof(int) * (size_t)n);
    return vs->cy0 && vs->cy1 && vs->cx0 && vs->cx1;
}

/* Projective-field thresholding (Krypton's tau): a changed range longer
 * than ceil(cap * n) shrinks to that length around its centre; what the
 * patch would reach beyond it is read as unchanged (clean). cap = 1 keeps
 * every range, and the results exact. The range stays inside [0, n) since
 * the shorter one lies within the longer. */
static void cap_range(int *c0, int *c1, int n, double cap)
{
    if (cap >= 1.0)
        return;
    int limit = (int)ceil(cap * n - 1e-9);
    limit = limit < 1 ? 1 : limit;
    int len = *c1 - *c0;
    if (len <= limit)
        return;
    *c0 += (len - limit) / 2;
    *c1 = *c0 + limit;
}

static void free_ranges(vstate *vs)
{
    free(vs->cy0);
    free(vs->cy1);
    free(vs->cx0);
    free(vs->cx1);
}

void cv_incr_free(cv_incr *ic)
{
    if (!ic)
        return;
    const cv_model *m = ic->m;
    if (ic->v)
        for (int v = 0; v < m->n_values; v++) {
            free_ranges(&ic->v[v]);
            free(ic->v[v].buf.f);
        }
    if (ic->n)
        for (int k = 0; k < m->n_nodes; k++) {
            nstate *ns = &ic->n[k];
            if (ns->tmp)
                for (int i = 0; i < m->nodes[k].n_in; i++)
                    free(ns->tmp[i].f);
            free(ns->tmp);
            free(ns->tmp_cap);
        }
    free(ic->v);
    free(ic->n);
    free(ic->node_seconds);
    free(ic->node_macs);
    free(ic->out_rows);
    free(ic->out_cols);
    free(ic->gather_y);
    free(ic->gather_x);
    free(ic->scratch);
    mem_pool_free_all(&ic->pool);
    if (!ic->shared_clean)
        cv_run_free(ic->clean);
    free(ic);
}

/* Window size of PATCH value v for positions [first, first + count): the
 * largest changed range among them (per batch, not over all positions: a
 * batch away from the borders needs less). Each window starts where its
 * position's range starts, and only that range is valid: a window may
 * reach past the map's bottom or right edge, and what an op computes
 * beyond the range is never read (gather overlays the range only), so
 * convolutions compute just each position's range (out_rows, out_cols). */
static void size_windows(cv_incr *ic, int v, int first, int count)
{
    vstate *vs = &ic->v[v];
    int rh = 1, rw = 1;
    for (int p = first; p < first + count; p++) {
        rh = vs->cy1[p] - vs->cy0[p] > rh ? vs->cy1[p] - vs->cy0[p] : rh;
        rw = vs->cx1[p] - vs->cx0[p] > rw ? vs->cx1[p] - vs->cx0[p] : rw;
    }
    vs->rh = rh;
    vs->rw = rw;
}

/* How node recomputes for the patches, from its operator's traits
 * (cv_op_def.spatial, .spatial_fit, .in_place); N_FULL when it cannot be
 * windowed. n_patch: how many of its inputs are PATCH values. */
static nkind node_kind(cv_incr *ic, const cv_node *node, int n_patch, nstate *ns)
{
    const cv_op_def *op = node->op;
    if (node->n_in > CV_NODE_MAX_INPUTS || node->n_in < 1)
        return N_FULL;
    cv_tensor *in[CV_NODE_MAX_INPUTS];
    for (int i = 0; i < node->n_in; i++)
        in[i] = node->in[i] >= 0 ? cv_run_value(ic->clean, node->in[i]) : NULL;
    cv_op_ctx ctx = {.node = node, .params = node->params, .model = ic->m, .n_in = node->n_in, .in = in};
    const cv_tensor *yc = cv_run_value(ic->clean, node->out[0]);
    int x = node->in[0];
    bool first_patch = x >= 0 && ic->v[x].kind == V_PATCH;
    cv_window w;
    float pad = 0.0f;
    if (op->spatial == CV_SPATIAL_WINDOW) {
        if (!first_patch || n_patch != 1 || in[0]->shape.ndim != 4 || !op->spatial_fit(&ctx, &w, &pad))
            return N_FULL;
        ns->kh = (int)w.kh;
        ns->kw = (int)w.kw;
        ns->sh = (int)w.sh;
        ns->sw = (int)w.sw;
        ns->dh = (int)w.dh;
        ns->dw = (int)w.dw;
        ns->ph = (int)w.pt;
        ns->pw = (int)w.pl;
        ns->pad_value = pad;
        return N_WINDOW;
    }
    bool concat = op->spatial == CV_SPATIAL_CONCAT;
    if (!concat && op->spatial != CV_SPATIAL_POINTWISE)
        return N_FULL;
    if (concat && op->spatial_fit && !op->spatial_fit(&ctx, &w, &pad))
        return N_FULL;
    for (int i = 0; i < node->n_in; i++) {
        const cv_tensor *tv = in[i];
        if (!tv)
            continue;
        if (ic->v[node->in[i]].kind == V_STATIC) {
            if (concat || !nonspatial_const(tv))
                return N_FULL;
        } else if (tv->shape.ndim != 4 || tv->shape.d[2] != yc->shape.d[2] || tv->shape.d[3] != yc->shape.d[3] ||
                   tv->shape.d[0] != 1) {
            return N_FULL;
        }
    }
    if (n_patch == 1 && first_patch && !concat) {
        ns->in_place = op->in_place;
        return N_POINTWISE;
    }
    return N_MERGE;
}

static cv_status plan_node(cv_incr *ic, int k, cv_error *err)
{
    const cv_model *m = ic->m;
    const cv_node *node = &m->nodes[k];
    nstate *ns = &ic->n[k];
    int n_pos = ic->n_pos;
    bool any_runtime = false, any_full = false;
    int n_patch = 0;
    for (int i = 0; i < node->n_in; i++) {
        int v = node->in[i];
        if (v < 0)
            continue;
        vkind kd = ic->v[v].kind;
        if (kd == V_FULL)
            any_full = true;
        if (kd == V_PATCH)
            n_patch++;
        if (kd == V_PATCH || kd == V_FULL)
            any_runtime = true;
    }
    if (!cv_run_node_needed(ic->clean, k) || !any_runtime) {
        ns->kind = N_SKIP;
        for (int o = 0; o < node->n_out; o++)
            if (node->out[o] >= 0)
                ic->v[node->out[o]].kind = V_STATIC; /* unchanged: read the clean value */
        return CV_OK;
    }
    int y = node->out[0];
    vstate *out = &ic->v[y];
    const cv_tensor *yc = cv_run_value(ic->clean, y);
    ns->kind = N_FULL;
    if (!any_full && node->n_out == 1 && yc->shape.ndim == 4)
        ns->kind = node_kind(ic, node, n_patch, ns);
    if (ns->kind == N_FULL) {
        for (int o = 0; o < node->n_out; o++)
            if (node->out[o] >= 0)
                ic->v[node->out[o]].kind = V_FULL;
        return CV_OK;
    }
    /* Changed ranges per position, then one window size for all. */
    if (!alloc_ranges(out, n_pos))
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    out->kind = V_PATCH;
    int H = (int)yc->shape.d[2], W = (int)yc->shape.d[3];
    if (ns->kind == N_POINTWISE) {
        const vstate *in = &ic->v[node->in[0]];
        out->rh = out->max_rh = in->max_rh;
        out->rw = out->max_rw = in->max_rw;
        memcpy(out->cy0, in->cy0, sizeof(int) * (size_t)n_pos);
        memcpy(out->cy1, in->cy1, sizeof(int) * (size_t)n_pos);
        memcpy(out->cx0, in->cx0, sizeof(int) * (size_t)n_pos);
        memcpy(out->cx1, in->cx1, sizeof(int) * (size_t)n_pos);
        return CV_OK;
    }
    for (int p = 0; p < n_pos; p++) {
        int y0 = H, y1 = 0, x0 = W, x1 = 0;
        if (ns->kind == N_WINDOW) {
            const vstate *in = &ic->v[node->in[0]];
            int keh = (ns->kh - 1) * ns->dh + 1, kew = (ns->kw - 1) * ns->dw + 1;
            y0 = ceil_div(in->cy0[p] + ns->ph - keh + 1, ns->sh);
            y1 = floor_div(in->cy1[p] - 1 + ns->ph, ns->sh) + 1;
            x0 = ceil_div(in->cx0[p] + ns->pw - kew + 1, ns->sw);
            x1 = floor_div(in->cx1[p] - 1 + ns->pw, ns->sw) + 1;
        } else {
            for (int i = 0; i < node->n_in; i++) {
                int v = node->in[i];
                if (v < 0 || ic->v[v].kind != V_PATCH)
                    continue;
                const vstate *in = &ic->v[v];
                y0 = in->cy0[p] < y0 ? in->cy0[p] : y0;
                y1 = in->cy1[p] > y1 ? in->cy1[p] : y1;
                x0 = in->cx0[p] < x0 ? in->cx0[p] : x0;
                x1 = in->cx1[p] > x1 ? in->cx1[p] : x1;
            }
        }
        y0 = clampi(y0, 0, H);
        y1 = clampi(y1, y0, H);
        x0 = clampi(x0, 0, W);
        x1 = clampi(x1, x0, W);
        if (y1 == y0) { /* nothing changes here; keep a 1-row window */
            y1 = y0 < H ? y0 + 1 : y0;
            y0 = y1 - 1;
        }
        if (x1 == x0) {
            x1 = x0 < W ? x0 + 1 : x0;
            x0 = x1 - 1;
        }
        cap_range(&y0, &y1, H, ic->field_cap);
        cap_range(&x0, &x1, W, ic->field_cap);
        out->cy0[p] = y0;
        out->cy1[p] = y1;
        out->cx0[p] = x0;
        out->cx1[p] = x1;
    }
    size_windows(ic, y, 0, n_pos); /* the largest: what buffers must hold */
    out->max_rh = out->rh;
    out->max_rw = out->rw;
    return CV_OK;
}

/* ---- execution ------------------------------------------------------------------ */

/* Shape of value v's buffer for b positions: PATCH [b, C, rh, rw] or FULL. */
static cv_shape buf_shape(const cv_incr *ic, int v, int b)
{
    cv_shape s = cv_run_value(ic->clean, v)->shape;
    if (s.ndim > 0)
        s.d[0] = b;
    if (ic->v[v].kind == V_PATCH) {
        s.d[2] = ic->v[v].rh;
        s.d[3] = ic->v[v].rw;
    }
    return s;
}

/* Give t's buffer back to the pool (freed, should the pool not grow). */
static void release(cv_incr *ic, cv_tensor *t, size_t *cap)
{
    if (!t->f)
        return;
    mem_block b = {t->f, *cap * sizeof(float), -1};
    if (!mem_pool_give(&ic->pool, b))
        free(t->f);
    t->f = NULL;
    *cap = 0;
}

/* Make t a float tensor of shape s whose buffer holds it: its own if large
 * enough, else the smallest pooled one that is, else the largest pooled one
 * (or a new one) grown: buffers grow with the batch, and growing the
 * largest keeps their number small. */
static cv_status ensure(cv_incr *ic, cv_tensor *t, size_t *cap, const cv_shape *s, cv_error *err)
{
    size_t need = cv_shape_numel(s);
    need = need ? need : 1;
    if (!t->f || *cap < need) {
        release(ic, t, cap);
        mem_block b = {NULL, 0, -1};
        (void)mem_pool_take(&ic->pool, need * sizeof(float), MEM_FIT_OR_LARGEST, &b);
        float *f = b.p;
        size_t have = b.bytes / sizeof(float);
        if (have < need) {
            float *g = realloc(f, need * sizeof(float));
            if (!g) {
                free(f);
                return cv_fail(err, CV_ERR_NOMEM, "out of memory for incremental buffers (%zu MiB)",
                               need * sizeof(float) >> 20);
            }
            f = g;
            have = need;
        }
        t->f = f;
        *cap = have;
    }
    t->dtype = CV_F32;
    t->shape = *s;
    return CV_OK;
}

/* n floats from s to d. Window rows are short (5 to 50 floats), where a
 * memcpy call per row costs more than the copy: with AVX-512, whole
 * vectors and one masked vector (masked-off lanes are not read). */
static inline void copy_floats(float *d, const float *s, int n)
{
#ifdef __AVX512F__
    for (; n >= 16; n -= 16, d += 16, s += 16)
        _mm512_storeu_ps(d, _mm512_loadu_ps(s));
    if (n > 0) {
        __mmask16 k = (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(d, k, _mm512_maskz_loadu_ps(k, s));
    }
#else
    memcpy(d, s, sizeof(float) * (size_t)n);
#endif
}

/* Fill dst [b, C, h, w] with value v seen through windows with corners (wy, wx) per
 * position: clean activation, overlaid by v's PATCH, `pad` outside the map. */
/* (built per instruction set: src/core/cpu.h) */
CV_ISA_DECLARE(void, incr_gather,
               (const cv_incr *ic, int v, int first, int b, const int *wy, const int *wx, int h, int w, float pad,
                float *dst));

void CV_ISA_NAME(incr_gather)(const cv_incr *ic, int v, int first, int b, const int *wy, const int *wx, int h, int w,
                   float pad, float *dst)
{
    const cv_tensor *clean = cv_run_value(ic->clean, v);
    const vstate *vs = &ic->v[v];
    int C = (int)clean->shape.d[1], H = (int)clean->shape.d[2], W = (int)clean->shape.d[3];
    const float *patch = vs->kind == V_PATCH ? vs->buf.f : NULL;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < b; i++)
        for (int c = 0; c < C; c++) {
            int p = first + i;
            int oy = wy[p], ox = wx[p];
            float *d = dst + ((size_t)i * C + c) * (size_t)h * w;
            const float *src = clean->f + (size_t)c * H * W;
            for (int r = 0; r < h; r++) {
                int y = oy + r;
                float *row = d + (size_t)r * w;
                if (y < 0 || y >= H) {
                    for (int q = 0; q < w; q++)
                        row[q] = pad;
                    continue;
                }
                int q0 = clampi(-ox, 0, w), q1 = clampi(W - ox, q0, w);
                for (int q = 0; q < q0; q++)
                    row[q] = pad;
                copy_floats(row + q0, src + (size_t)y * W + ox + q0, q1 - q0);
                for (int q = q1; q < w; q++)
                    row[q] = pad;
                if (!patch)
                    continue;
                /* only the changed range: the rest of the window may hold
                 * anything (see size_windows) */
                int py = vs->cy0[p], px = vs->cx0[p]; /* the window's corner */
                if (y < vs->cy0[p] || y >= vs->cy1[p])
                    continue;
                int a = vs->cx0[p] > ox ? vs->cx0[p] : ox, e = vs->cx1[p] < ox + w ? vs->cx1[p] : ox + w;
                if (e > a)
                    copy_floats(row + (a - ox), patch + (((size_t)i * C + c) * vs->rh + (y - py)) * vs->rw + (a - px),
                                e - a);
            }
        }
}

static void gather(const cv_incr *ic, int v, int first, int b, const int *wy, const int *wx, int h, int w,
                   float pad, float *dst)
{
    CV_ISA_CALL(incr_gather, (ic, v, first, b, wy, wx, h, w, pad, dst));
}

/* unpadded: a window op on a gathered window that holds its padding. */
static cv_status run_op(cv_incr *ic, const cv_node *node, bool unpadded, cv_tensor **in, cv_tensor **out,
                        const int *out_rows, const int *out_cols, cv_error *err)
{
    cv_op_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    bool in_static[CV_NODE_MAX_INPUTS] = {false};
    ctx.node = node;
    ctx.params = node->params;
    ctx.unpadded = unpadded;
    ctx.model = ic->m;
    ctx.n_in = node->n_in;
    ctx.n_out = node->n_out;
    ctx.in = in;
    ctx.out = out;
    for (int i = 0; i < node->n_in && i < CV_NODE_MAX_INPUTS; i++)
        in_static[i] = node->in[i] < 0 || ic->v[node->in[i]].kind == V_STATIC;
    ctx.in_static = in_static;
    ctx.out_rows = out_rows;
    ctx.out_cols = out_cols;
    /* infer checks the shapes; output buffers are ours, keep their pointers */
    cv_shape keep[CV_NODE_MAX_OUTPUTS];
    for (int o = 0; o < node->n_out && o < CV_NODE_MAX_OUTPUTS; o++)
        if (out[o])
            keep[o] = out[o]->shape;
    cv_status st = node->op->infer(&ctx, err);
    if (st != CV_OK)
        return st;
    for (int o = 0; o < node->n_out && o < CV_NODE_MAX_OUTPUTS; o++)
        if (out[o] && !cv_shape_equal(&keep[o], &out[o]->shape)) {
            char a[128], b[128];
            return cv_fail(err, CV_ERR_SHAPE, "incremental: node '%s' gives %s, expected %s", node->name,
                           cv_shape_str(&out[o]->shape, a, sizeof a), cv_shape_str(&keep[o], b, sizeof b));
        }
    if (ctx.scratch_floats > ic->scratch_floats) {
        float *s = realloc(ic->scratch, ctx.scratch_floats * sizeof(float));
        if (!s)
            return cv_fail(err, CV_ERR_NOMEM, "out of memory");
        ic->scratch = s;
        ic->scratch_floats = ctx.scratch_floats;
    }
    ctx.scratch = ic->scratch;
    ctx.scratch_floats = ic->scratch_floats;
    node->op->forward(&ctx);
    return CV_OK;
}

static cv_status run_node(cv_incr *ic, int k, int first, int b, cv_error *err)
{
    const cv_model *m = ic->m;
    const cv_node *node = &m->nodes[k];
    nstate *ns = &ic->n[k];
    cv_tensor *in[CV_NODE_MAX_INPUTS] = {NULL}, *out[CV_NODE_MAX_OUTPUTS] = {NULL};
    cv_status st;
    if (node->n_in > CV_NODE_MAX_INPUTS || node->n_out > CV_NODE_MAX_OUTPUTS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "node '%s' has too many inputs or outputs", node->name);
    /* An elementwise op on a window read for the last time writes over it. */
    int x = node->in[0];
    bool in_place = ns->kind == N_POINTWISE && ns->in_place && ic->v[x].last_use == k && x != m->outputs[0];
    if (in_place) {
        vstate *ys = &ic->v[node->out[0]];
        release(ic, &ys->buf, &ys->cap);
        ys->buf.f = ic->v[x].buf.f;
        ys->cap = ic->v[x].cap;
    }
    for (int o = 0; o < node->n_out; o++) {
        int v = node->out[o];
        if (v < 0)
            continue;
        cv_shape s = buf_shape(ic, v, b);
        if ((st = ensure(ic, &ic->v[v].buf, &ic->v[v].cap, &s, err)) != CV_OK)
            return st;
        out[o] = &ic->v[v].buf;
    }
    const vstate *ys = &ic->v[node->out[0]];
    for (int i = 0; i < node->n_in; i++) {
        int v = node->in[i];
        if (v < 0)
            continue;
        vkind kd = ic->v[v].kind;
        if (kd == V_STATIC || (kd == V_FULL && ns->kind == N_FULL) || (kd == V_PATCH && ns->kind == N_POINTWISE)) {
            in[i] = kd == V_STATIC ? cv_run_value(ic->clean, v) : &ic->v[v].buf;
            continue;
        }
        /* Gather v into the window this node reads. */
        const cv_tensor *clean = cv_run_value(ic->clean, v);
        cv_tensor *t = &ns->tmp[i];
        int h, w;
        const int *wy = ic->gather_y, *wx = ic->gather_x; /* window corners, per position */
        float pad = 0.0f;
        if (ns->kind == N_FULL) {
            h = (int)clean->shape.d[2];
            w = (int)clean->shape.d[3];
            for (int p = first; p < first + b; p++)
                ic->gather_y[p] = ic->gather_x[p] = 0;
        } else if (ns->kind == N_WINDOW) { /* what the output windows read */
            int keh = (ns->kh - 1) * ns->dh + 1, kew = (ns->kw - 1) * ns->dw + 1;
            h = (ys->rh - 1) * ns->sh + keh;
            w = (ys->rw - 1) * ns->sw + kew;
            for (int p = first; p < first + b; p++) {
                ic->gather_y[p] = ys->cy0[p] * ns->sh - ns->ph;
                ic->gather_x[p] = ys->cx0[p] * ns->sw - ns->pw;
            }
            pad = ns->pad_value;
        } else { /* N_MERGE: the output's window */
            h = ys->rh;
            w = ys->rw;
            wy = ys->cy0;
            wx = ys->cx0;
        }
        if (clean->shape.ndim != 4)
            return cv_fail(err, CV_ERR_UNSUPPORTED, "incremental: node '%s' input is not 4-D", node->name);
        cv_shape s = {4, {b, clean->shape.d[1], h, w}};
        if ((st = ensure(ic, t, &ns->tmp_cap[i], &s, err)) != CV_OK)
            return st;
        gather(ic, v, first, b, wy, wx, h, w, pad, t->f);
        in[i] = t;
    }
    const int *rows = NULL, *cols = NULL;
    if (ns->kind == N_WINDOW) { /* each position's changed range, from its window's corner */
        for (int i = 0; i < b; i++) {
            ic->out_rows[i] = ys->cy1[first + i] - ys->cy0[first + i];
            ic->out_cols[i] = ys->cx1[first + i] - ys->cx0[first + i];
        }
        rows = ic->out_rows;
        cols = ic->out_cols;
    }
    st = run_op(ic, node, ns->kind == N_WINDOW, in, out, rows, cols, err);
    if (in_place) { /* the buffer is the output's now */
        ic->v[x].buf.f = NULL;
        ic->v[x].cap = 0;
    }
    if (st != CV_OK)
        return st;
    /* Done with the gathered inputs, and with inputs read for the last time. */
    for (int i = 0; i < node->n_in; i++) {
        int v = node->in[i];
        release(ic, &ns->tmp[i], &ns->tmp_cap[i]);
        if (v >= 0 && ic->v[v].last_use == k && v != m->outputs[0])
            release(ic, &ic->v[v].buf, &ic->v[v].cap);
    }
    return CV_OK;
}

/* Multiply-adds per position, for positions run in batches of max_batch
 * in order: a layer's full count scaled by the part of its output the
 * batch's window covers (exact for convolutions and pools, whose work is
 * proportional to output pixels). */
static void estimate_macs(cv_incr *ic)
{
    const cv_model *m = ic->m;
    double total = 0;
    for (int first = 0; first < ic->n_pos; first += ic->max_batch) {
        int count = ic->n_pos - first < ic->max_batch ? ic->n_pos - first : ic->max_batch;
        for (int k = 0; k < m->n_nodes; k++) {
            if (ic->n[k].kind == N_SKIP)
                continue;
            int y = m->nodes[k].out[0];
            double macs = cv_run_layer_macs(ic->clean, k) * count;
            if (ic->v[y].kind == V_PATCH) {
                const cv_shape *s = &cv_run_value(ic->clean, y)->shape;
                size_windows(ic, y, first, count);
                macs *= (double)ic->v[y].rh * ic->v[y].rw / ((double)s->d[2] * (double)s->d[3]);
            }
            total += macs;
            ic->node_macs[k] += macs / ic->n_pos;
        }
    }
    ic->macs_incr = total / ic->n_pos;
}

cv_incr_options cv_incr_defaults(void)
{
    cv_incr_options o = {1, 1.0, NULL};
    return o;
}

/* Floats one position of value v takes: its largest window, or all of it. */
static double value_floats(const cv_incr *ic, int v)
{
    const cv_shape *s = &cv_run_value(ic->clean, v)->shape;
    double per = (double)cv_shape_numel(s) / (double)(s->ndim > 0 && s->d[0] > 0 ? s->d[0] : 1);
    if (ic->v[v].kind == V_PATCH)
        per = per / ((double)s->d[2] * (double)s->d[3]) * ic->v[v].max_rh * ic->v[v].max_rw;
    return per;
}

/* The peak of the buffers a run holds, per position, following the run:
 * each node's outputs and gathered inputs come, the gathered inputs and the
 * values read for the last time go (an upper bound: in-place ops and pool
 * reuse only lower it). */
static void estimate_bytes(cv_incr *ic)
{
    const cv_model *m = ic->m;
    double live = value_floats(ic, m->input), peak = live;
    for (int k = 0; k < m->n_nodes; k++) {
        const nstate *ns = &ic->n[k];
        const cv_node *node = &m->nodes[k];
        if (ns->kind == N_SKIP)
            continue;
        double out = 0, gathered = 0;
        for (int o = 0; o < node->n_out; o++)
            if (node->out[o] >= 0)
                out += value_floats(ic, node->out[o]);
        const vstate *ys = &ic->v[node->out[0]];
        for (int i = 0; i < node->n_in; i++) {
            int v = node->in[i];
            if (v < 0 || ic->v[v].kind == V_STATIC || ns->kind == N_POINTWISE ||
                (ns->kind == N_FULL && ic->v[v].kind == V_FULL))
                continue;
            const cv_shape *s = &cv_run_value(ic->clean, v)->shape;
            double h = (double)s->d[2], w = (double)s->d[3];
            if (ns->kind == N_WINDOW) {
                h = (ys->max_rh - 1) * ns->sh + (ns->kh - 1) * ns->dh + 1;
                w = (ys->max_rw - 1) * ns->sw + (ns->kw - 1) * ns->dw + 1;
            } else if (ns->kind == N_MERGE) {
                h = ys->max_rh;
                w = ys->max_rw;
            }
            gathered += (double)s->d[1] * h * w;
        }
        live += out;
        peak = live + gathered > peak ? live + gathered : peak;
        for (int i = 0; i < node->n_in; i++) {
            int v = node->in[i];
            bool first = true; /* an input listed twice goes once */
            for (int j = 0; j < i; j++)
                first = first && node->in[j] != v;
            if (v >= 0 && first && ic->v[v].last_use == k && v != m->outputs[0] && ic->v[v].kind != V_STATIC)
                live -= value_floats(ic, v);
        }
    }
    ic->bytes_per_pos = peak * sizeof(float);
}

cv_status cv_incr_create(cv_incr **out, const cv_model *m, const cv_shape *in_shape, const float *clean_input,
                         const cv_incr_patches *patches, const cv_incr_options *options, cv_error *err)
{
    *out = NULL;
    int n_pos = patches->n, patch_h = patches->h, patch_w = patches->w;
    const int *pos_y = patches->y, *pos_x = patches->x;
    cv_incr_options o = options ? *options : cv_incr_defaults();
    int max_batch = o.max_batch;
    if (!(o.field_cap > 0.0 && o.field_cap <= 1.0))
        return cv_fail(err, CV_ERR_INVALID, "incremental: field cap (tau) must be in (0, 1], got %g", o.field_cap);
    if (in_shape->ndim != 4 || in_shape->d[0] != 1 || m->input_nhwc)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "incremental inference needs a 1xCxHxW (NCHW) input");
    int H = (int)in_shape->d[2], W = (int)in_shape->d[3];
    if (patch_h < 1 || patch_w < 1 || patch_h > H || patch_w > W || n_pos < 1 || max_batch < 1)
        return cv_fail(err, CV_ERR_INVALID, "incremental: bad patch size or position count");
    for (int p = 0; p < n_pos; p++)
        if (pos_y[p] < 0 || pos_x[p] < 0 || pos_y[p] + patch_h > H || pos_x[p] + patch_w > W)
            return cv_fail(err, CV_ERR_INVALID, "incremental: position %d (%d,%d) puts the patch outside the input",
                           p, pos_y[p], pos_x[p]);
    cv_incr *ic = calloc(1, sizeof *ic);
    if (!ic)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    ic->m = m;
    ic->n_pos = n_pos;
    ic->max_batch = max_batch;
    ic->field_cap = o.field_cap;
    ic->patch_h = patch_h;
    ic->patch_w = patch_w;
    cv_status st;
    cv_run_options opt = cv_run_defaults();
    opt.keep_all = 1;
    if (o.share_clean) {
        /* Another plan's clean activations: no second forward pass, and
         * one copy of every activation instead of two. */
        const cv_tensor *x0 = cv_run_value(o.share_clean->clean, m->input);
        size_t n = cv_shape_numel(in_shape);
        if (o.share_clean->m != m || !cv_shape_equal(&x0->shape, in_shape) ||
            memcmp(x0->f, clean_input, n * sizeof(float)) != 0) {
            st = cv_fail(err, CV_ERR_INVALID, "incremental: share_clean was made for another model or input");
            goto fail;
        }
        ic->clean = o.share_clean->clean;
        ic->shared_clean = true;
    } else if ((st = cv_run_create(&ic->clean, m, in_shape, &opt, err)) != CV_OK ||
               (st = cv_run_forward(ic->clean, clean_input, err)) != CV_OK)
        goto fail;
    ic->v = calloc((size_t)m->n_values, sizeof(vstate));
    ic->n = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof(nstate));
    ic->node_seconds = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof(double));
    ic->node_macs = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof(double));
    ic->out_rows = malloc(sizeof(int) * (size_t)max_batch);
    ic->out_cols = malloc(sizeof(int) * (size_t)max_batch);
    ic->gather_y = malloc(sizeof(int) * (size_t)n_pos);
    ic->gather_x = malloc(sizeof(int) * (size_t)n_pos);
    if (!ic->v || !ic->n || !ic->node_seconds || !ic->node_macs || !ic->out_rows || !ic->out_cols ||
        !ic->gather_y || !ic->gather_x) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int v = 0; v < m->n_values; v++)
        ic->v[v].kind = cv_run_value_static(ic->clean, v) ? V_STATIC : V_NONE;
    vstate *x = &ic->v[m->input];
    x->kind = V_PATCH;
    x->rh = x->max_rh = patch_h;
    x->rw = x->max_rw = patch_w;
    if (!alloc_ranges(x, n_pos)) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int p = 0; p < n_pos; p++) {
        x->cy0[p] = pos_y[p];
        x->cx0[p] = pos_x[p];
        x->cy1[p] = pos_y[p] + patch_h;
        x->cx1[p] = pos_x[p] + patch_w;
    }
    for (int k = 0; k < m->n_nodes; k++) {
        ic->n[k].tmp = calloc((size_t)m->nodes[k].n_in + 1, sizeof(cv_tensor));
        ic->n[k].tmp_cap = calloc((size_t)m->nodes[k].n_in + 1, sizeof(size_t));
        if (!ic->n[k].tmp || !ic->n[k].tmp_cap) {
            st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if ((st = plan_node(ic, k, err)) != CV_OK)
            goto fail;
        if (ic->n[k].kind != N_SKIP)
            ic->macs_full += cv_run_layer_macs(ic->clean, k);
    }
    estimate_macs(ic);
    for (int v = 0; v < m->n_values; v++)
        ic->v[v].last_use = -1;
    for (int k = 0; k < m->n_nodes; k++)
        if (ic->n[k].kind != N_SKIP)
            for (int i = 0; i < m->nodes[k].n_in; i++)
                if (m->nodes[k].in[i] >= 0)
                    ic->v[m->nodes[k].in[i]].last_use = k;
    estimate_bytes(ic);
    if (ic->v[m->outputs[0]].kind == V_STATIC || ic->v[m->outputs[0]].kind == V_NONE) {
        st = cv_fail(err, CV_ERR_INVALID, "%s: the output does not depend on the input", m->path);
        goto fail;
    }
    *out = ic;
    return CV_OK;
fail:
    cv_incr_free(ic);
    return st;
}


cv_status cv_incr_run(cv_incr *ic, int first, int count, const float *patches, const cv_tensor **out, cv_error *err)
{
    const cv_model *m = ic->m;
    if (first < 0 || count < 1 || count > ic->max_batch || first + count > ic->n_pos)
        return cv_fail(err, CV_ERR_INVALID, "incremental: positions [%d, %d) out of range", first, first + count);
    vstate *x = &ic->v[m->input];
    const cv_tensor *xc = cv_run_value(ic->clean, m->input);
    cv_shape s = {4, {count, xc->shape.d[1], ic->patch_h, ic->patch_w}};
    cv_status st = ensure(ic, &x->buf, &x->cap, &s, err);
    if (st != CV_OK)
        return st;
    memcpy(x->buf.f, patches, cv_shape_numel(&s) * sizeof(float));
    /* Per-position arrays are indexed by absolute position (first + item);
     * buffers by batch item. */
    for (int k = 0; k < m->n_nodes; k++) {
        if (ic->n[k].kind == N_SKIP)
            continue;
        double t0 = cv_seconds();
        int y = m->nodes[k].out[0];
        if (ic->v[y].kind == V_PATCH)
            size_windows(ic, y, first, count);
        if ((st = run_node(ic, k, first, count, err)) != CV_OK)
            return st;
        ic->node_seconds[k] += cv_seconds() - t0;
    }
    *out = &ic->v[m->outputs[0]].buf;
    return CV_OK;
}

double cv_incr_speedup_bound(const cv_incr *ic)
{
    return ic->macs_incr > 0 ? ic->macs_full / ic->macs_incr : 0.0;
}

double cv_incr_layer_seconds(const cv_incr *ic, int layer)
{
    return layer >= 0 && layer < ic->m->n_nodes ? ic->node_seconds[layer] : 0.0;
}

double cv_incr_layer_macs(const cv_incr *ic, int layer)
{
    return layer >= 0 && layer < ic->m->n_nodes ? ic->node_macs[layer] : 0.0;
}

double cv_incr_bytes_per_position(const cv_incr *ic) { return ic->bytes_per_pos; }
