/* Class activation maps over a layer's output A ([K, h, w], one image):
 *   gradcam         ReLU(sum_k a_k A_k), a_k the spatial mean of dy/dA_k (Selvaraju et al. 2017)
 *   gradcam++       a_k = sum_ij w_kij ReLU(g_kij), w_kij = g^2 / (2 g^2 + (sum_ab A_kab) g^3),
 *                   g = dy/dA, w = 0 where the denominator is 0 (Chattopadhyay et al. 2018,
 *                   the closed form)
 *   scorecam        a = softmax over k of y(x * M_k), M_k = A_k upsampled to the input and
 *                   min-max normalised (channels with a constant A_k are left out) (Wang et
 *                   al. 2020, Algorithm 1)
 *   guided-gradcam  upsampled Grad-CAM times max over channels of |guided backprop|
 * y is the target's logit. */
#include "explain_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int layer, k, h, w;
    const float *a;   /* [k, h, w] activations */
    const float *g;   /* [k, h, w] dy/dA after a backward pass, else NULL */
} cam_layer;

static cv_status resolve_layer(cv_explainer *e, cam_layer *L, cv_error *err)
{
    int layer = e->o.layer >= 0 ? e->o.layer : cv_explainer_default_layer(e, err);
    if (layer < 0)
        return CV_ERR_INVALID;
    const char *name = layer < cv_model_num_layers(e->m) ? cv_model_layer_name(e->m, layer) : "?";
    cv_shape s = cv_run_layer_shape(e->grad1, layer);
    const cv_tensor *t = cv_run_layer_output(e->grad1, layer);
    char b[160];
    if (s.ndim == 0 || !t || !t->grad)
        return cv_fail(err, CV_ERR_INVALID, "%s: layer '%s' is not between the input and the class scores",
                       cv_model_path(e->m), name);
    if (s.ndim != 4 || t->dtype != CV_F32)
        return cv_fail(err, CV_ERR_INVALID, "%s: layer '%s' has output %s: CAM methods need a [1, K, h, w] layer",
                       cv_model_path(e->m), name, cv_shape_str(&s, b, sizeof b));
    *L = (cam_layer){layer, (int)s.d[1], (int)s.d[2], (int)s.d[3], t->f, NULL};
    return CV_OK;
}

/* cam[h, w] = ReLU(sum_k weight[k] A_k) */
static void weighted_sum_relu(float *cam, const cam_layer *L, const double *weight)
{
    size_t hw = (size_t)L->h * L->w;
    for (size_t i = 0; i < hw; i++) {
        double s = 0;
        for (int k = 0; k < L->k; k++)
            s += weight[k] * L->a[(size_t)k * hw + i];
        cam[i] = s > 0 ? (float)s : 0.0f;
    }
}

static void gradcam_weights(const cam_layer *L, bool plus, double *weight)
{
    size_t hw = (size_t)L->h * L->w;
    for (int k = 0; k < L->k; k++) {
        const float *a = L->a + (size_t)k * hw, *g = L->g + (size_t)k * hw;
        double s = 0, sum_a = 0;
        if (!plus) {
            for (size_t i = 0; i < hw; i++)
                s += g[i];
            weight[k] = s / (double)hw;
            continue;
        }
        for (size_t i = 0; i < hw; i++)
            sum_a += a[i];
        for (size_t i = 0; i < hw; i++) {
            double g2 = (double)g[i] * g[i], g3 = g2 * g[i], den = 2 * g2 + sum_a * g3;
            if (den != 0 && g[i] > 0)
                s += g2 / den * g[i];
        }
        weight[k] = s;
    }
}

static cv_status gradcam(cv_explainer *e, cam_layer *L, bool plus, int target, float *cam, cv_error *err)
{
    cv_status st = ex_backward_target(e, e->grad1, 1, target, L->layer, NULL, err);
    if (st != CV_OK)
        return st;
    L->g = cv_run_layer_output(e->grad1, L->layer)->grad;
    double *weight = malloc((size_t)L->k * sizeof(double));
    if (!weight)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    gradcam_weights(L, plus, weight);
    weighted_sum_relu(cam, L, weight);
    free(weight);
    return CV_OK;
}

/* ---- Score-CAM ------------------------------------------------------------ */

typedef struct {
    const cv_explainer *e;
    const cam_layer *L;
    const int *channel;   /* [n] the channels with a non-constant map */
    float *up;            /* [H, W] scratch */
    double *score;        /* [n] y(x * M_k) */
    int target;
} scorecam_state;

/* A_k upsampled to the input; its minimum and maximum. */
static void upsampled_channel(const cv_explainer *e, const cam_layer *L, int k, float *up, float *lo, float *hi)
{
    cv_explain_upsample(up, e->height, e->width, L->a + (size_t)k * L->h * L->w, L->h, L->w);
    *lo = *hi = up[0];
    for (size_t i = 1; i < (size_t)e->height * e->width; i++) {
        *lo = fminf(*lo, up[i]);
        *hi = fmaxf(*hi, up[i]);
    }
}

static void fill_masked(void *user, long s, float *x)
{
    scorecam_state *st = user;
    const cv_explainer *e = st->e;
    float lo, hi;
    upsampled_channel(e, st->L, st->channel[s], st->up, &lo, &hi);
    for (int y = 0; y < e->height; y++)
        for (int xx = 0; xx < e->width; xx++) {
            float m = (st->up[(size_t)y * e->width + xx] - lo) / (hi - lo);
            for (int c = 0; c < e->channels; c++) {
                size_t i = ex_input_index(e, c, y, xx);
                x[i] = e->input[i] * m;
            }
        }
}

static void keep_scores(void *user, long first, int count, const float *logits, const float *grads)
{
    scorecam_state *st = user;
    for (int b = 0; b < count; b++)
        st->score[first + b] = logits[(size_t)b * st->e->n_classes + st->target];
}

static cv_status scorecam(cv_explainer *e, const cam_layer *L, cv_explain_result *res, float *cam, cv_error *err)
{
    size_t hw_in = (size_t)e->height * e->width;
    int *channel = malloc((size_t)L->k * sizeof(int));
    double *score = malloc((size_t)L->k * sizeof(double)), *weight = calloc((size_t)L->k, sizeof(double));
    float *up = malloc(hw_in * sizeof(float));
    cv_status st = channel && score && weight && up ? CV_OK : cv_fail(err, CV_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int k = 0; st == CV_OK && k < L->k; k++) {
        float lo, hi;
        upsampled_channel(e, L, k, up, &lo, &hi);
        if (hi > lo)
            channel[n++] = k;
    }
    scorecam_state s = {e, L, channel, up, score, res->target};
    ex_pass p = {fill_masked, keep_scores, &s, res->target, CV_BACKWARD_EXACT};
    if (st == CV_OK && n > 0)
        st = ex_forward_batches(e, n, &p, &res->passes, &res->batch, err);
    if (st == CV_OK && n > 0) {
        double mx = score[0], sum = 0;
        for (int j = 1; j < n; j++)
            mx = fmax(mx, score[j]);
        for (int j = 0; j < n; j++)
            sum += exp(score[j] - mx);
        for (int j = 0; j < n; j++)
            weight[channel[j]] = exp(score[j] - mx) / sum;
    }
    if (st == CV_OK)
        weighted_sum_relu(cam, L, weight);
    free(channel);
    free(score);
    free(weight);
    free(up);
    return st;
}

/* ---- the family ---------------------------------------------------------------- */

static cv_status guided_gradcam(cv_explainer *e, cam_layer *L, cv_explain_result *res, cv_error *err)
{
    size_t hw_in = (size_t)e->height * e->width;
    float *cam = malloc((size_t)L->h * L->w * sizeof(float)), *guided = malloc(e->numel * sizeof(float));
    cv_status st = cam && guided ? CV_OK : cv_fail(err, CV_ERR_NOMEM, "out of memory");
    if (st == CV_OK && (st = gradcam(e, L, false, res->target, cam, err)) == CV_OK &&
        (st = ex_guided(e, res->target, guided, err)) == CV_OK) {
        cv_explain_upsample(res->attribution, e->height, e->width, cam, L->h, L->w);
        ex_map_abs_max(e, guided, res->map);
        for (size_t i = 0; i < hw_in; i++)
            res->map[i] = res->attribution[i] *= res->map[i];
    }
    res->passes = 2;
    free(cam);
    free(guided);
    return st;
}

cv_status ex_run_cam(cv_explainer *e, cv_explain_method method, cv_explain_result *res, cv_error *err)
{
    cam_layer L;
    cv_status st = resolve_layer(e, &L, err);
    if (st != CV_OK)
        return st;
    res->layer = L.layer;
    bool guided = method == CV_EXPLAIN_GUIDED_GRADCAM;
    res->attr_shape = guided ? (cv_shape){2, {e->height, e->width}} : (cv_shape){2, {L.h, L.w}};
    if (!(res->attribution = malloc(cv_shape_numel(&res->attr_shape) * sizeof(float))))
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    if (guided)
        return guided_gradcam(e, &L, res, err);
    if (method == CV_EXPLAIN_SCORECAM) {
        st = scorecam(e, &L, res, res->attribution, err);
    } else {
        st = gradcam(e, &L, method == CV_EXPLAIN_GRADCAMPP, res->target, res->attribution, err);
        res->passes = 1;
    }
    if (st == CV_OK)
        cv_explain_upsample(res->map, e->height, e->width, res->attribution, L.h, L.w);
    return st;
}
