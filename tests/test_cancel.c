/* The cancel flag of the long calls (occlusion, explain, filters): a flag
 * set before the call, or by the progress callback during it, stops the run
 * between batches with CV_ERR_CANCELLED and a message, after exactly one
 * batch; a clear flag changes nothing. What a binding (Python's Ctrl-C)
 * relies on. Runs the bundled models/fashion_cnn.onnx (1 x 28 x 28). */
#include "lib/test.h"
#include "cnnviz_explain.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include "cnnviz_viz.h"
#include <string.h>

#define MODEL "models/fashion_cnn.onnx"
#define IMAGE "models/samples/sneaker.png"

/* The flag and the calls the progress callback saw; the callback sets the
 * flag when set_at calls have been made (0: never). */
typedef struct {
    volatile int flag;
    int calls, set_at;
} cancel_state;

static void bump(cancel_state *s)
{
    if (++s->calls == s->set_at)
        s->flag = 1;
}

static void occ_progress(void *user, long done, long total) { bump(user); }
static void filters_progress(void *user, const cv_filters_progress *p) { bump(user); }

static cv_model *model;
static float input[28 * 28];

static bool load(void)
{
    if (model)
        return true;
    cv_error err;
    cv_image img = {0};
    cv_input_geometry g;
    cv_preprocess p;
    bool ok = cv_model_load(&model, MODEL, NULL, &err) == CV_OK &&
              cv_model_input_geometry(model, 0, 0, &g, &err) == CV_OK && cv_preprocess_auto(&p, model, NULL, &err) == CV_OK &&
              cv_image_load(&img, IMAGE, &err) == CV_OK &&
              cv_input_from_image(input, &img, &g, &p, CV_RESIZE_ANTIALIAS, &err) == CV_OK;
    cv_image_free(&img);
    if (!ok)
        fprintf(stderr, "    %s\n", err.msg);
    return ok;
}

static void test_status_string(void)
{
    CHECK(strcmp(cv_status_string(CV_ERR_CANCELLED), "cancelled") == 0, "'%s'", cv_status_string(CV_ERR_CANCELLED));
}

/* Occlusion, 5 x 5 positions one per batch: set_at 0 runs them all. */
static cv_status occlusion_with(cancel_state *s, int preset, cv_error *err)
{
    cv_occlusion_geometry g = {1, 28, 28, 0};
    cv_occlusion_params p = cv_occlusion_defaults();
    p.occ_size = 8;
    p.stride = 5;
    p.batch = 1;
    p.engine = CV_OCCLUSION_ENGINE_FULL;
    p.progress = occ_progress;
    p.user = s;
    p.cancel = &s->flag;
    s->flag = preset;
    double map[25];
    cv_occlusion *o = NULL;
    cv_status st = cv_occlusion_create(&o, model, input, &g, &p, err);
    if (st == CV_OK)
        st = cv_occlusion_run(o, -1, map, NULL, NULL, err);
    cv_occlusion_free(o);
    return st;
}

static void test_occlusion(void)
{
    REQUIRE(load(), "cannot load %s", MODEL);
    cv_error err;
    cancel_state s = {0, 0, 0};
    cv_status st = occlusion_with(&s, 0, &err);
    CHECK(st == CV_OK && s.calls == 25, "clear flag: %s, %d progress calls (want 25)", cv_status_string(st), s.calls);
    s = (cancel_state){0, 0, 3};
    st = occlusion_with(&s, 0, &err);
    CHECK(st == CV_ERR_CANCELLED && s.calls == 3, "set by the 3rd callback: %s, %d calls", cv_status_string(st),
          s.calls);
    CHECK(st != CV_ERR_CANCELLED || strstr(err.msg, "cancelled after 3 of 25"), "message '%s'", err.msg);
    s = (cancel_state){0, 0, 0};
    st = occlusion_with(&s, 1, &err);
    CHECK(st == CV_ERR_CANCELLED && s.calls == 1, "set before: %s, %d calls (one batch)", cv_status_string(st), s.calls);
}

static cv_status explain_with(cancel_state *s, cv_explain_method m, cv_explain_result *res, cv_error *err)
{
    cv_explain_options o = cv_explain_defaults();
    o.samples = 6;
    o.batch = 2;
    o.progress = occ_progress;
    o.user = s;
    o.cancel = &s->flag;
    cv_shape shape = {4, {1, 1, 28, 28}};
    cv_explainer *ex = NULL;
    cv_status st = cv_explainer_create(&ex, model, &shape, input, &o, err);
    if (st == CV_OK)
        st = cv_explain_run(ex, m, cv_explainer_top_class(ex), res, err);
    cv_explainer_free(ex);
    return st;
}

static void test_explain(void)
{
    REQUIRE(load(), "cannot load %s", MODEL);
    cv_error err;
    cv_explain_result res;
    cancel_state s = {0, 0, 0};
    cv_status st = explain_with(&s, CV_EXPLAIN_SMOOTHGRAD, &res, &err);
    CHECK(st == CV_OK && s.calls == 3, "clear flag: %s, %d calls (want 3 batches of 2)", cv_status_string(st),
          s.calls);
    if (st == CV_OK)
        cv_explain_result_free(&res);
    s = (cancel_state){0, 0, 1};
    memset(&res, 0x55, sizeof res); /* poisoned: the failure must empty it */
    st = explain_with(&s, CV_EXPLAIN_SMOOTHGRAD, &res, &err);
    CHECK(st == CV_ERR_CANCELLED && s.calls == 1, "set by the callback: %s, %d calls", cv_status_string(st), s.calls);
    CHECK(res.attribution == NULL && res.map == NULL, "a cancelled run leaves the result empty");
    CHECK(strstr(err.msg, "cancelled after 2 of 6"), "message '%s'", err.msg);
    s = (cancel_state){0, 0, 1};
    st = explain_with(&s, CV_EXPLAIN_RISE, &res, &err);
    CHECK(st == CV_ERR_CANCELLED && s.calls == 1, "rise: %s, %d calls", cv_status_string(st), s.calls);
}

static cv_status filters_with(cancel_state *s, cv_filters_method m, cv_error *err)
{
    cv_filters_options o = cv_filters_defaults();
    int ks[2] = {3, 7};
    o.method = m;
    o.layer = cv_model_find_layer(model, "conv3", err);
    o.filters = ks;
    o.n_filters = 2;
    o.height = o.width = 28;
    o.iterations = 5;
    cv_preprocess_auto(&o.pre, model, NULL, err);
    o.progress = filters_progress;
    o.progress_user = s;
    o.cancel = &s->flag;
    cv_filters_result res;
    cv_status st = cv_filters_run(&res, model, &o, err);
    CHECK(st == CV_OK || (res.count == 0 && res.images == NULL && res.rgb == NULL), "a failed run leaves res empty");
    cv_filters_result_free(&res);
    return st;
}

static void test_filters(void)
{
    REQUIRE(load(), "cannot load %s", MODEL);
    cv_error err;
    for (int m = 0; m < 2; m++) {
        cancel_state s = {0, 0, 0};
        cv_status st = filters_with(&s, (cv_filters_method)m, &err);
        CHECK(st == CV_OK && s.calls == 5, "method %d, clear flag: %s, %d calls (want 5)", m, cv_status_string(st),
              s.calls);
        s = (cancel_state){0, 0, 2};
        st = filters_with(&s, (cv_filters_method)m, &err);
        CHECK(st == CV_ERR_CANCELLED && s.calls == 2, "method %d, set at the 2nd iteration: %s, %d calls", m,
              cv_status_string(st), s.calls);
        CHECK(strstr(err.msg, "cancelled after iteration 2 of 5"), "message '%s'", err.msg);
    }
}

int main(void)
{
    RUN(test_status_string);
    RUN(test_occlusion);
    RUN(test_explain);
    RUN(test_filters);
    cv_model_free(model);
    return test_summary("cancel");
}
