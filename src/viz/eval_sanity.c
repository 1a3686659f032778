/* The model-randomisation sanity check (include/cnnviz_eval.h): re-draw the
 * weights of the last k parameterised layers, k = 1..L, recompute the map
 * each time and measure how much of the original map is left. */
#include "cnnviz_eval.h"
#include "cnnviz_occlusion.h"
#include "explain_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cv_eval_sanity_options cv_eval_sanity_defaults(void)
{
    cv_eval_sanity_options o = {.method = CV_EXPLAIN_SALIENCY, .unchanged_rank = 0.9,
                                .explain = cv_explain_defaults()};
    return o;
}

/* The weight of node k when it is a parameterised layer: a float constant
 * at input 1 of a Conv, ConvTranspose, Gemm or MatMul. */
static cv_value *layer_weight(cv_model *m, int k)
{
    const cv_node *nd = &m->nodes[k];
    static const char *const ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
    bool param = false;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        param |= strcmp(nd->op_type, ops[i]) == 0;
    if (!param || nd->n_in < 2 || nd->in[1] < 0)
        return NULL;
    cv_value *v = &m->values[nd->in[1]];
    return v->data && v->dtype == CV_F32 && cv_shape_numel(&v->shape) > 0 ? v : NULL;
}

/* The map of the method on the model as it is now, into map. */
static cv_status method_map(const cv_model *m, const cv_shape *s, const float *x, int *target,
                            const cv_eval_sanity_options *o, float *map, cv_error *err)
{
    cv_explainer *ex;
    cv_status st = cv_explainer_create(&ex, m, s, x, &o->explain, err);
    if (st != CV_OK)
        return st;
    if (*target < 0)
        *target = cv_explainer_top_class(ex);
    cv_explain_result res;
    if ((st = cv_explain_run(ex, o->method, *target, &res, err)) == CV_OK)
        memcpy(map, res.map, (size_t)res.height * res.width * sizeof(float));
    cv_explain_result_free(&res);
    cv_explainer_free(ex);
    return st;
}

/* A map scaled to [0, 1] by its minimum and maximum (all 0 when constant),
 * as doubles for SSIM. */
static void unit_range(double *out, const float *map, size_t n)
{
    float lo = map[0], hi = map[0];
    for (size_t k = 1; k < n; k++)
        lo = fminf(lo, map[k]), hi = fmaxf(hi, map[k]);
    for (size_t k = 0; k < n; k++)
        out[k] = hi > lo ? ((double)map[k] - lo) / ((double)hi - lo) : 0.0;
}

/* Layer j's weights re-drawn: N(0, std of its original weights). */
static void redraw(cv_value *v, const float *original, uint64_t *rng)
{
    size_t n = cv_shape_numel(&v->shape);
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += original[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (original[i] - mean) * (original[i] - mean);
    double sd = sqrt(var / (double)n);
    float *w = v->data;
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(sd * ex_rng_normal(rng));
}

static cv_status alloc_result(cv_eval_sanity *s, int L, size_t pixels, cv_error *err)
{
    s->n_layers = L;
    s->layer = malloc((size_t)L * sizeof(int));
    s->maps = malloc((size_t)(L + 1) * pixels * sizeof(float));
    s->rank_correlation = malloc((size_t)L * sizeof(double));
    s->ssim = malloc((size_t)L * sizeof(double));
    s->unchanged = malloc((size_t)L * sizeof(int));
    if (!s->layer || !s->maps || !s->rank_correlation || !s->ssim || !s->unchanged)
        return cv_fail(err, CV_ERR_NOMEM, "sanity: out of memory for %d maps", L + 1);
    return CV_OK;
}

/* Compare map k (1..L) with map 0. */
static cv_status compare(cv_eval_sanity *s, int k, double unchanged_rank, double *a, double *b, cv_error *err)
{
    size_t n = (size_t)s->height * s->width;
    const float *m0 = s->maps, *mk = s->maps + (size_t)k * n;
    cv_occlusion_map_error e;
    unit_range(a, mk, n);
    unit_range(b, m0, n);
    cv_status st = cv_occlusion_compare(a, b, s->height, s->width, &e, err);
    if (st != CV_OK)
        return st;
    s->rank_correlation[k - 1] = cv_explain_rank_correlation(m0, mk, n);
    s->ssim[k - 1] = e.ssim;
    s->unchanged[k - 1] = s->rank_correlation[k - 1] >= unchanged_rank;
    return CV_OK;
}

static cv_status check_options(const cv_eval_sanity_options *o, cv_error *err)
{
    if (o->method < 0 || o->method >= CV_EXPLAIN_COUNT || o->method == CV_EXPLAIN_SCORECAM ||
        o->method == CV_EXPLAIN_RISE)
        return cv_fail(err, CV_ERR_INVALID, "sanity: method %s: the check takes a gradient method (saliency, "
                       "inputxgrad, smoothgrad, ig, guided, gradcam, gradcam++, guided-gradcam)",
                       cv_explain_method_name(o->method));
    if (o->max_layers < 0 || !(o->unchanged_rank >= 0 && o->unchanged_rank <= 1))
        return cv_fail(err, CV_ERR_INVALID, "sanity: max_layers %d >= 0 and unchanged_rank %g in [0, 1]",
                       o->max_layers, o->unchanged_rank);
    return CV_OK;
}

/* The cascade itself, on weights saved in saved[0..L). */
static cv_status cascade(cv_model *m, const cv_shape *s, const float *x, const cv_eval_sanity_options *o,
                         cv_eval_sanity *out, float **saved, cv_error *err)
{
    size_t n = (size_t)out->height * out->width;
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    cv_status st = a && b ? CV_OK : cv_fail(err, CV_ERR_NOMEM, "sanity: out of memory");
    uint64_t rng = o->seed;
    if (st == CV_OK)
        st = method_map(m, s, x, &out->target, o, out->maps, err);
    for (int k = 1; st == CV_OK && k <= out->n_layers; k++) {
        redraw(&m->values[m->nodes[out->layer[k - 1]].in[1]], saved[k - 1], &rng);
        if ((st = method_map(m, s, x, &out->target, o, out->maps + (size_t)k * n, err)) != CV_OK ||
            (st = compare(out, k, o->unchanged_rank, a, b, err)) != CV_OK)
            break;
        if (o->progress)
            o->progress(o->user, k, out->n_layers);
    }
    free(a);
    free(b);
    return st;
}


cv_status cv_eval_sanity_run(cv_model *m, const cv_shape *in_shape, const float *input, int target,
                             const cv_eval_sanity_options *opt, cv_eval_sanity *out, cv_error *err)
{
    memset(out, 0, sizeof *out);
    cv_eval_sanity_options o = opt ? *opt : cv_eval_sanity_defaults();
    if (o.unchanged_rank == 0)
        o.unchanged_rank = 0.9;
    cv_status st = check_options(&o, err);
    if (st != CV_OK)
        return st;
    if (in_shape->ndim != 4)
        return cv_fail(err, CV_ERR_SHAPE, "sanity: expected a 4-D input of one image");
    double t0 = cv_seconds();
    int nhwc = cv_model_input_nhwc(m), L = 0;
    for (int k = m->n_nodes - 1; k >= 0; k--)
        L += layer_weight(m, k) != NULL;
    if (o.max_layers > 0 && o.max_layers < L)
        L = o.max_layers;
    if (L == 0)
        return cv_fail(err, CV_ERR_INVALID, "%s: no Conv, ConvTranspose, Gemm or MatMul with constant weights to "
                       "randomise", cv_model_path(m));
    out->method = o.method;
    out->target = target;
    out->height = (int)in_shape->d[nhwc ? 1 : 2];
    out->width = (int)in_shape->d[nhwc ? 2 : 3];
    float **saved = calloc((size_t)L, sizeof(float *));
    if (!saved || (st = alloc_result(out, L, (size_t)out->height * out->width, err)) != CV_OK) {
        st = saved ? st : cv_fail(err, CV_ERR_NOMEM, "sanity: out of memory");
        goto out;
    }
    for (int k = m->n_nodes - 1, j = 0; k >= 0 && j < L; k--) {
        cv_value *v = layer_weight(m, k);
        if (!v)
            continue;
        size_t bytes = cv_shape_numel(&v->shape) * sizeof(float);
        if (!(saved[j] = malloc(bytes))) {
            st = cv_fail(err, CV_ERR_NOMEM, "sanity: out of memory for a copy of the weights");
            goto out;
        }
        memcpy(saved[j], v->data, bytes);
        out->layer[j++] = k;
    }
    st = cascade(m, in_shape, input, &o, out, saved, err);
out:
    for (int j = 0; saved && j < L; j++)
        if (saved[j]) { /* the model as it came */
            cv_value *v = &m->values[m->nodes[out->layer[j]].in[1]];
            memcpy(v->data, saved[j], cv_shape_numel(&v->shape) * sizeof(float));
            free(saved[j]);
        }
    free(saved);
    out->seconds = cv_seconds() - t0;
    if (st != CV_OK)
        cv_eval_sanity_free(out);
    return st;
}

void cv_eval_sanity_free(cv_eval_sanity *s)
{
    if (!s)
        return;
    free(s->layer);
    free(s->maps);
    free(s->rank_correlation);
    free(s->ssim);
    free(s->unchanged);
    memset(s, 0, sizeof *s);
}
