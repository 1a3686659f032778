/* The full-inference engine: copies of the image, one window each, through
 * a run planned once for a batch of them. The batch is what fits the
 * driver's memory budget (or the caller's fixed batch), at most
 * CV_MAX_AUTO_BATCH; a graph that fixes its batch size goes one image at a
 * time.
 */
#include "occlusion_engine.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    occ_engine base;
    const cv_model *m;
    const float *image, *fill;
    float fill_value[CV_OCCLUSION_MAX_CHANNELS];
    cv_occlusion_geometry g;
    size_t item;        /* floats per image */
    cv_run *run_full;   /* planned for base.batch images */
    cv_run *run_part;   /* planned for part_n < batch images (the last batch, the base image) */
    int part_n;
    float *input;       /* [batch x item] */
} full_engine;

static cv_shape batch_shape(const cv_occlusion_geometry *g, int n)
{
    cv_shape s = {4, {n, g->channels, g->height, g->width}};
    if (g->nhwc) {
        s.d[1] = g->height;
        s.d[2] = g->width;
        s.d[3] = g->channels;
    }
    return s;
}

/* Plan a run for n images and check that output 0 holds n_classes floats
 * per image (*n_classes = 0: learn it). */
static cv_status plan_run(cv_run **out, const cv_model *m, const cv_occlusion_geometry *g, int n,
                          int *n_classes, cv_error *err)
{
    cv_shape s = batch_shape(g, n);
    cv_run_options opt = cv_run_defaults();
    cv_status st = cv_run_create(out, m, &s, &opt, err);
    if (st != CV_OK)
        return st;
    const cv_tensor *y = cv_run_output(*out, 0);
    size_t numel = y ? cv_shape_numel(&y->shape) : 0;
    char buf[160];
    if (!y || y->dtype != CV_F32 || numel == 0 || numel % (size_t)n != 0 || y->shape.ndim < 1 ||
        y->shape.d[0] != n || (*n_classes && numel / (size_t)n != (size_t)*n_classes)) {
        cv_run_free(*out);
        *out = NULL;
        return cv_fail(err, CV_ERR_SHAPE, "%s: output 0 %s does not hold class scores for a batch of %d",
                       cv_model_path(m), y ? cv_shape_str(&y->shape, buf, sizeof buf) : "(none)", n);
    }
    if (numel / (size_t)n > CV_MAX_CLASSES) {
        cv_run_free(*out);
        *out = NULL;
        return cv_fail(err, CV_ERR_LIMIT, "%s: output 0 has %zu values per image; a classifier was expected",
                       cv_model_path(m), numel / (size_t)n);
    }
    *n_classes = (int)(numel / (size_t)n);
    return CV_OK;
}

static cv_status full_eval(occ_engine *base, const occ_window *w, int n, float *scores, cv_error *err)
{
    full_engine *e = (full_engine *)base;
    cv_status st;
    cv_run *r = e->run_full;
    if (n != e->base.batch) {
        if (n != e->part_n) {
            /* Plan once per distinct count: the base image, then the last batch. */
            cv_run_free(e->run_part);
            e->run_part = NULL;
            e->part_n = 0;
            if ((st = plan_run(&e->run_part, e->m, &e->g, n, &e->base.n_classes, err)) != CV_OK)
                return st;
            e->part_n = n;
        }
        r = e->run_part;
    }
    for (int k = 0; k < n; k++) { /* x: [n x item] */
        float *x = e->input + (size_t)k * e->item;
        memcpy(x, e->image, e->item * sizeof(float));
        occ_apply_window(x, &w[k], &e->g, e->fill, e->fill_value);
    }
    if ((st = cv_run_forward(r, e->input, err)) != CV_OK)
        return st;
    memcpy(scores, cv_run_output(r, 0)->f, (size_t)n * (size_t)e->base.n_classes * sizeof(float));
    return CV_OK;
}

static void full_free(occ_engine *base)
{
    full_engine *e = (full_engine *)base;
    cv_run_free(e->run_full);
    cv_run_free(e->run_part);
    free(e->input);
    free(e);
}

static const occ_engine_ops full_ops = {"full", full_eval, NULL, NULL, full_free};

/* Bytes one image needs through the network: the sum of every planned
 * layer output (an upper bound: the executor frees tensors after their last
 * reader). */
static size_t bytes_per_image(const cv_run *r, const cv_model *m, size_t item)
{
    double total = (double)item * sizeof(float) * 2; /* our copy and the run's input */
    for (int k = 0; k < cv_model_num_layers(m); k++) {
        cv_shape s = cv_run_layer_shape(r, k);
        if (s.ndim > 0)
            total += (double)cv_shape_numel(&s) * sizeof(float);
    }
    return total > (double)SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)total;
}

/* The batch: the caller's, or what fits the budget at e's measured size
 * per image; never more than the grid. */
static long choose_batch(const full_engine *e, const occ_engine_config *c)
{
    long batch = c->p->batch;
    if (batch <= 0) {
        size_t per = bytes_per_image(e->run_part, c->m, e->item);
        batch = per ? (long)(c->budget / per) : CV_MAX_AUTO_BATCH;
        if (batch > CV_MAX_AUTO_BATCH)
            batch = CV_MAX_AUTO_BATCH;
    }
    long positions = (long)c->rows * c->cols;
    if (batch > positions)
        batch = positions;
    return batch < 1 ? 1 : batch;
}

/* Plan run_full for the batch; a graph that fixes its batch size (e.g. a
 * Reshape to [1, -1]) goes one image at a time, which cv_occlusion_batch
 * tells the caller. */
static cv_status plan_batch(full_engine *e, long batch, cv_error *err)
{
    if (batch > 1) {
        cv_error batch_err;
        if (plan_run(&e->run_full, e->m, &e->g, (int)batch, &e->base.n_classes, &batch_err) != CV_OK) {
            if (batch_err.status == CV_ERR_NOMEM)
                return cv_fail(err, CV_ERR_NOMEM, "%s", batch_err.msg);
            batch = 1;
        }
    }
    if (batch == 1) {
        e->run_full = e->run_part;
        e->run_part = NULL;
        e->part_n = 0;
    }
    e->base.batch = (int)batch;
    size_t floats;
    if (!cv_mul_size(e->item, (size_t)batch, &floats) || !(e->input = malloc(floats * sizeof(float))))
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for a batch of %ld images", batch);
    return CV_OK;
}

cv_status occ_full_engine_create(occ_engine **out, const occ_engine_config *c, cv_error *err)
{
    *out = NULL;
    full_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory");
    e->base.ops = &full_ops;
    e->base.field_cap = 1.0;
    e->m = c->m;
    e->image = c->image;
    e->fill = c->p->fill;
    memcpy(e->fill_value, c->p->fill_value, sizeof e->fill_value);
    e->g = c->g;
    e->item = (size_t)c->g.channels * (size_t)c->g.height * (size_t)c->g.width;
    cv_status st;
    /* Batch 1 first: it classifies the base image and measures an image. */
    if ((st = plan_run(&e->run_part, c->m, &c->g, 1, &e->base.n_classes, err)) != CV_OK)
        goto fail;
    e->part_n = 1;
    if ((st = plan_batch(e, choose_batch(e, c), err)) != CV_OK)
        goto fail;
    *out = &e->base;
    return CV_OK;
fail:
    full_free(&e->base);
    return st;
}
