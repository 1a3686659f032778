/* RISE (Petsiuk et al. 2018): N random masks M_i, each a grid s x s of
 * cells kept with probability p, upsampled bilinearly to (s + 1) x cell
 * (cell = ceil(H / s) rows, ceil(W / s) columns) and cropped at a random
 * shift below one cell; the map is sum_i P(class | x * M_i) M_i / (N p).
 * Masks are drawn in order from the stream of cnnviz_explain.h, in batches
 * of forward passes. */
#include "explain_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const cv_explainer *e;
    int grid, cell_h, cell_w, up_h, up_w, batch;
    double p;
    uint64_t rng;
    float *cells;   /* [grid, grid] */
    float *up;      /* [up_h, up_w] */
    float *masks;   /* [batch, H, W] the masks of the batch being run */
    double *sum;    /* [H, W] */
    int target;
} rise_state;

/* The next mask from the stream into mask [H, W]. */
static void draw_mask(rise_state *st, float *mask)
{
    const cv_explainer *e = st->e;
    for (int i = 0; i < st->grid * st->grid; i++)
        st->cells[i] = ex_rng_uniform(&st->rng) < st->p ? 1.0f : 0.0f;
    int dy = (int)(ex_rng_uniform(&st->rng) * st->cell_h), dx = (int)(ex_rng_uniform(&st->rng) * st->cell_w);
    cv_explain_upsample(st->up, st->up_h, st->up_w, st->cells, st->grid, st->grid);
    for (int y = 0; y < e->height; y++)
        memcpy(mask + (size_t)y * e->width, st->up + (size_t)(y + dy) * st->up_w + dx, (size_t)e->width * sizeof(float));
}

static void fill_masked(void *user, long s, float *x)
{
    rise_state *st = user;
    const cv_explainer *e = st->e;
    float *mask = st->masks + (size_t)(s % st->batch) * e->height * e->width;
    draw_mask(st, mask);
    for (int y = 0; y < e->height; y++)
        for (int xx = 0; xx < e->width; xx++)
            for (int c = 0; c < e->channels; c++) {
                size_t i = ex_input_index(e, c, y, xx);
                x[i] = e->input[i] * mask[(size_t)y * e->width + xx];
            }
}

static void add_weighted(void *user, long first, int count, const float *logits, const float *grads)
{
    rise_state *st = user;
    const cv_explainer *e = st->e;
    size_t hw = (size_t)e->height * e->width;
    for (int b = 0; b < count; b++) {
        double prob = ex_probability(e, logits + (size_t)b * e->n_classes, st->target);
        const float *mask = st->masks + (size_t)((first + b) % st->batch) * hw;
        for (size_t i = 0; i < hw; i++)
            st->sum[i] += prob * mask[i];
    }
}

cv_status ex_run_rise(cv_explainer *e, cv_explain_result *res, cv_error *err)
{
    long n = e->o.samples > 0 ? e->o.samples : 4000;
    int s = e->o.rise_grid;
    rise_state st = {.e = e, .grid = s, .p = e->o.rise_p, .rng = e->o.seed, .target = res->target};
    st.cell_h = (e->height + s - 1) / s;
    st.cell_w = (e->width + s - 1) / s;
    st.up_h = (s + 1) * st.cell_h;
    st.up_w = (s + 1) * st.cell_w;
    /* masks are kept per batch item: the batch the passes will use */
    st.batch = e->o.batch > 0 ? e->o.batch : 64;
    size_t hw = (size_t)e->height * e->width;
    res->attr_shape = (cv_shape){2, {e->height, e->width}};
    st.cells = malloc((size_t)s * s * sizeof(float));
    st.up = malloc((size_t)st.up_h * st.up_w * sizeof(float));
    st.masks = malloc((size_t)st.batch * hw * sizeof(float));
    st.sum = calloc(hw, sizeof(double));
    res->attribution = malloc(hw * sizeof(float));
    cv_status st_ = st.cells && st.up && st.masks && st.sum && res->attribution
                        ? CV_OK
                        : cv_fail(err, CV_ERR_NOMEM, "out of memory for RISE's masks");
    ex_pass p = {fill_masked, add_weighted, &st, res->target, CV_BACKWARD_EXACT};
    if (st_ == CV_OK)
        st_ = ex_forward_batches(e, n, &p, &res->passes, &res->batch, err);
    if (st_ == CV_OK)
        for (size_t i = 0; i < hw; i++)
            res->map[i] = res->attribution[i] = (float)(st.sum[i] / ((double)n * st.p));
    free(st.cells);
    free(st.up);
    free(st.masks);
    free(st.sum);
    return st_;
}
