#include "oplab.h"
#include "netbuild.h"
#include "test.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void oplab_begin(oplab *lab, const char *op_type, const cv_shape *x_shape)
{
    memset(lab, 0, sizeof *lab);
    lab->m = cv_model_new("<oplab>", &lab->err);
    lab->x_shape = *x_shape;
    int x = nb_model_input(lab->m, -1, "x", x_shape, &lab->err);
    int y = cv_model_value(lab->m, "y", &lab->err);
    lab->m->outputs = malloc(sizeof(int));
    lab->m->outputs[0] = y;
    lab->m->n_outputs = 1;
    lab->node = cv_model_add_node(lab->m, "op", op_type, &x, 1, &y, 1, &lab->err);
}

static void add_input(oplab *lab, int v)
{
    cv_node *n = &lab->m->nodes[lab->node];
    n->in = realloc(n->in, sizeof(int) * (size_t)(n->n_in + 1));
    n->in[n->n_in++] = v;
}

static void add_const(oplab *lab, cv_dtype dtype, const cv_shape *shape, const void *data)
{
    char name[32];
    snprintf(name, sizeof name, "c%d", lab->m->n_values);
    add_input(lab, nb_model_const(lab->m, name, dtype, shape, data, &lab->err));
}

void oplab_const(oplab *lab, const cv_shape *shape, const float *data) { add_const(lab, CV_F32, shape, data); }

void oplab_const_i64(oplab *lab, const cv_shape *shape, const int64_t *data) { add_const(lab, CV_I64, shape, data); }

void oplab_none(oplab *lab) { add_input(lab, -1); }

cv_status oplab_end(oplab *lab) { return cv_model_finalize(lab->m, &lab->err); }

/* Fill every computed (not constant-folded) node output of the run with
 * NaN (int64: INT64_MIN), so that a forward which leaves part of its
 * output unwritten shows in the comparison with the reference. */
static void poison_outputs(oplab *lab)
{
    for (int k = 0; k < lab->m->n_nodes; k++) {
        const cv_node *n = &lab->m->nodes[k];
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            cv_tensor *t = v >= 0 && !cv_run_value_static(lab->run, v) ? cv_run_value(lab->run, v) : NULL;
            size_t numel = t ? cv_shape_numel(&t->shape) : 0;
            for (size_t i = 0; i < numel; i++)
                if (t->dtype == CV_I64 && t->i)
                    t->i[i] = INT64_MIN;
                else if (t->dtype == CV_F32 && t->f)
                    t->f[i] = NAN;
        }
    }
}

/* Plan and run; with poison, run twice and fill the outputs with NaN in
 * between: the run keeps its output buffers, so the second forward must
 * write every value of them. */
static cv_status plan_and_run(oplab *lab, const float *x, bool poison)
{
    cv_run_free(lab->run);
    lab->run = NULL;
    cv_run_options opt = cv_run_defaults();
    opt.need_grad = 1;
    opt.conv_algo = lab->conv_algo;
    cv_status st = cv_run_create(&lab->run, lab->m, &lab->x_shape, &opt, &lab->err);
    if (st != CV_OK)
        return st;
    if ((st = cv_run_forward(lab->run, x, &lab->err)) != CV_OK)
        return st;
    if (poison) {
        poison_outputs(lab);
        if ((st = cv_run_forward(lab->run, x, &lab->err)) != CV_OK)
            return st;
    }
    const cv_tensor *y = cv_run_output(lab->run, 0);
    lab->y = y->f;
    lab->y_shape = y->shape;
    lab->y_numel = cv_shape_numel(&y->shape);
    return CV_OK;
}

cv_status oplab_forward(oplab *lab, const float *x) { return plan_and_run(lab, x, true); }

static double weighted_sum(oplab *lab, const float *x, const float *w)
{
    if (plan_and_run(lab, x, false) != CV_OK) /* finite differences: once is enough */
        return NAN;
    double s = 0;
    for (size_t k = 0; k < lab->y_numel; k++)
        s += (double)w[k] * lab->y[k];
    return s;
}

double oplab_gradcheck(oplab *lab, const float *x, float eps)
{
    size_t nx = cv_shape_numel(&lab->x_shape);
    if (oplab_forward(lab, x) != CV_OK) {
        printf("    gradcheck: forward failed: %s\n", lab->err.msg);
        return INFINITY;
    }
    size_t ny = lab->y_numel;
    float *w = malloc(ny * sizeof(float));
    float *xp = malloc(nx * sizeof(float));
    float *analytic = malloc(nx * sizeof(float));
    float *numeric = malloc(nx * sizeof(float));
    test_fill(w, ny, -1.0f, 1.0f);
    const float *g = NULL;
    int layer = lab->m->n_nodes - 1;
    if (cv_run_backward(lab->run, layer, w, &g, &lab->err) != CV_OK) {
        printf("    gradcheck: backward failed: %s\n", lab->err.msg);
        free(w); free(xp); free(analytic); free(numeric);
        return INFINITY;
    }
    memcpy(analytic, g, nx * sizeof(float));
    memcpy(xp, x, nx * sizeof(float));
    for (size_t k = 0; k < nx; k++) {
        float orig = xp[k];
        xp[k] = orig + eps;
        double fp = weighted_sum(lab, xp, w);
        xp[k] = orig - eps;
        double fm = weighted_sum(lab, xp, w);
        xp[k] = orig;
        numeric[k] = (float)((fp - fm) / (2.0 * eps));
    }
    double e = test_max_rel_diff(analytic, numeric, nx);
    printf("    gradcheck %s: max rel err %.3g over %zu inputs\n", lab->m->nodes[lab->node].op_type, e, nx);
    free(w); free(xp); free(analytic); free(numeric);
    oplab_forward(lab, x); /* leave lab->y for x */
    return e;
}

void oplab_free(oplab *lab)
{
    cv_run_free(lab->run);
    cv_model_free(lab->m);
    memset(lab, 0, sizeof *lab);
}
