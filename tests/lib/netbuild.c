#include "netbuild.h"
#include "test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fresh(netbuild *nb, const char *prefix)
{
    char name[64];
    snprintf(name, sizeof name, "%s%d", prefix, nb->counter++);
    return cv_model_value(nb->m, name, &nb->err);
}

int nb_model_const(cv_model *m, const char *name, cv_dtype dtype, const cv_shape *shape, const void *data,
                   cv_error *err)
{
    int v = cv_model_value(m, name, err);
    if (v < 0)
        return -1;
    size_t bytes = cv_shape_numel(shape) * (dtype == CV_I64 ? sizeof(int64_t) : sizeof(float));
    void *d = malloc(bytes ? bytes : 1);
    if (!d)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory"), -1;
    memcpy(d, data, bytes);
    m->values[v].shape = *shape;
    m->values[v].dtype = dtype;
    m->values[v].data = d;
    return v;
}

int nb_model_input(cv_model *m, int v, const char *name, const cv_shape *shape, cv_error *err)
{
    if (v < 0 && (v = cv_model_value(m, name, err)) < 0)
        return -1;
    m->values[v].shape = *shape;
    m->input = v;
    return v;
}

int nb_begin(netbuild *nb, const cv_shape *x_shape, int opset)
{
    nb->counter = 0;
    nb->m = cv_model_new("<netbuild>", &nb->err);
    int x = nb_model_input(nb->m, -1, "input", x_shape, &nb->err);
    nb->m->opset = opset;
    return x;
}

int nb_const(netbuild *nb, const cv_shape *shape, float lo, float hi)
{
    char name[64];
    snprintf(name, sizeof name, "w%d", nb->counter++);
    size_t n = cv_shape_numel(shape);
    float *d = malloc((n ? n : 1) * sizeof(float));
    if (!d)
        return cv_fail(&nb->err, CV_ERR_NOMEM, "out of memory"), -1;
    test_fill(d, n, lo, hi);
    int v = nb_model_const(nb->m, name, CV_F32, shape, d, &nb->err);
    free(d);
    return v;
}

int nb_node(netbuild *nb, const char *op, const int *in, int n_in)
{
    int y = fresh(nb, "t");
    char name[64];
    snprintf(name, sizeof name, "%s_%d", op, nb->counter);
    cv_model_add_node(nb->m, name, op, in, n_in, &y, 1, &nb->err);
    return y;
}

static int last_node(netbuild *nb) { return nb->m->n_nodes - 1; }

int nb_conv(netbuild *nb, int x, int cin, int cout, int k, int stride, int pad, int group)
{
    float scale = 1.0f / (float)(cin / group * k * k);
    cv_shape ws = {4, {cout, cin / group, k, k}}, bs = {1, {cout}};
    int in[3] = {x, nb_const(nb, &ws, -2 * scale, 2 * scale), nb_const(nb, &bs, -0.1f, 0.1f)};
    int y = nb_node(nb, "Conv", in, 3);
    int64_t pads[4] = {pad, pad, pad, pad}, strides[2] = {stride, stride}, ks[2] = {k, k};
    cv_node_set_ints(nb->m, last_node(nb), "pads", pads, 4, &nb->err);
    cv_node_set_ints(nb->m, last_node(nb), "strides", strides, 2, &nb->err);
    cv_node_set_ints(nb->m, last_node(nb), "kernel_shape", ks, 2, &nb->err);
    cv_node_set_int(nb->m, last_node(nb), "group", group, &nb->err);
    return y;
}

int nb_unary(netbuild *nb, const char *op, int x) { return nb_node(nb, op, &x, 1); }

int nb_binary(netbuild *nb, const char *op, int a, int b)
{
    int in[2] = {a, b};
    return nb_node(nb, op, in, 2);
}

int nb_clip(netbuild *nb, int x, float lo, float hi)
{
    cv_shape s = {0, {0}};
    int a = nb_const(nb, &s, lo, lo), b = nb_const(nb, &s, hi, hi);
    int in[3] = {x, a, b};
    return nb_node(nb, "Clip", in, 3);
}

int nb_pool(netbuild *nb, const char *op, int x, int k, int stride, int pad, int ceil_mode, int count_include_pad)
{
    int y = nb_node(nb, op, &x, 1);
    int64_t pads[4] = {pad, pad, pad, pad}, strides[2] = {stride, stride}, ks[2] = {k, k};
    cv_node_set_ints(nb->m, last_node(nb), "pads", pads, 4, &nb->err);
    cv_node_set_ints(nb->m, last_node(nb), "strides", strides, 2, &nb->err);
    cv_node_set_ints(nb->m, last_node(nb), "kernel_shape", ks, 2, &nb->err);
    if (ceil_mode)
        cv_node_set_int(nb->m, last_node(nb), "ceil_mode", 1, &nb->err);
    if (count_include_pad)
        cv_node_set_int(nb->m, last_node(nb), "count_include_pad", 1, &nb->err);
    return y;
}

int nb_concat(netbuild *nb, int a, int b)
{
    int y = nb_binary(nb, "Concat", a, b);
    cv_node_set_int(nb->m, last_node(nb), "axis", 1, &nb->err);
    return y;
}

int nb_gemm(netbuild *nb, int x, int in, int out)
{
    int f = nb_unary(nb, "Flatten", x);
    cv_shape ws = {2, {out, in}}, bs = {1, {out}};
    float s = 1.0f / (float)in;
    int ins[3] = {f, nb_const(nb, &ws, -3 * s, 3 * s), nb_const(nb, &bs, -0.1f, 0.1f)};
    int y = nb_node(nb, "Gemm", ins, 3);
    cv_node_set_int(nb->m, last_node(nb), "transB", 1, &nb->err);
    return y;
}

cv_model *nb_end(netbuild *nb, int out)
{
    nb->m->outputs = malloc(sizeof(int));
    nb->m->outputs[0] = out;
    nb->m->n_outputs = 1;
    if (cv_model_finalize(nb->m, &nb->err) != CV_OK) {
        cv_model_free(nb->m);
        nb->m = NULL;
    }
    return nb->m;
}
