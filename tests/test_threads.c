/* The threading rule the README states: a cv_model is read-only once
 * loaded, so threads may share one while each has its own cv_run. Four
 * threads plan runs on one freshly loaded model at the same time (so they
 * race to make the Winograd weights its 3x3 convolutions cache, the one
 * thing a run writes into the model) and run forward and backward again
 * and again; every output and input gradient must equal what one thread
 * computes alone. Under make check-asan the same runs are checked for
 * memory errors. */
#include "lib/test.h"
#include <pthread.h>
#include <string.h>

#define MODEL "models/fashion_cnn.onnx"
#define N_THREADS 4
#define ROUNDS 4
#define BATCH 2

typedef struct {
    const cv_model *m;
    cv_shape shape;
    const float *x;          /* the thread's input */
    float *out, *grad;       /* what the thread computed, last round */
    size_t n_out, n_in;
    int mismatched_rounds;   /* rounds whose results differ from the first */
    char err[256];
} job;

/* One forward and one backward (seeded with ones at the class scores)
 * through a run of r's own. */
static cv_status forward_backward(cv_run *r, const job *j, float *out, float *grad, cv_error *err)
{
    cv_status st = cv_run_forward(r, j->x, err);
    if (st != CV_OK)
        return st;
    const cv_tensor *y = cv_run_output(r, 0);
    if (cv_shape_numel(&y->shape) != j->n_out) {
        snprintf(err->msg, sizeof err->msg, "%zu outputs, not %zu", cv_shape_numel(&y->shape), j->n_out);
        return CV_ERR_SHAPE;
    }
    memcpy(out, y->f, j->n_out * sizeof(float));
    float *seed = malloc(j->n_out * sizeof(float));
    if (!seed)
        return CV_ERR_NOMEM;
    for (size_t k = 0; k < j->n_out; k++)
        seed[k] = 1.0f;
    const float *g = NULL;
    int layer = cv_model_num_layers(j->m) - 1;
    st = cv_run_backward(r, layer, seed, &g, err);
    free(seed);
    if (st == CV_OK)
        memcpy(grad, g, j->n_in * sizeof(float));
    return st;
}

static void *thread_main(void *arg)
{
    job *j = arg;
    cv_error err;
    cv_run *r = NULL;
    cv_run_options opt = cv_run_defaults();
    opt.need_grad = 1;
    float *out = malloc(j->n_out * sizeof(float)), *grad = malloc(j->n_in * sizeof(float));
    if (!out || !grad || cv_run_create(&r, j->m, &j->shape, &opt, &err) != CV_OK) {
        snprintf(j->err, sizeof j->err, "%.200s", out && grad ? err.msg : "out of memory");
        goto out;
    }
    for (int round = 0; round < ROUNDS; round++) {
        if (forward_backward(r, j, out, grad, &err) != CV_OK) {
            snprintf(j->err, sizeof j->err, "round %d: %.200s", round, err.msg);
            break;
        }
        if (round == 0) {
            memcpy(j->out, out, j->n_out * sizeof(float));
            memcpy(j->grad, grad, j->n_in * sizeof(float));
        } else if (memcmp(j->out, out, j->n_out * sizeof(float)) || memcmp(j->grad, grad, j->n_in * sizeof(float))) {
            j->mismatched_rounds++;
        }
    }
out:
    cv_run_free(r);
    free(out);
    free(grad);
    return NULL;
}

static void test_threads_share_a_model(void)
{
    cv_error err;
    cv_model *alone = NULL, *shared = NULL;
    REQUIRE(cv_model_load(&alone, MODEL, NULL, &err) == CV_OK && cv_model_load(&shared, MODEL, NULL, &err) == CV_OK,
            "%s", err.msg);
    cv_input_geometry g;
    REQUIRE(cv_model_input_geometry(shared, 0, 0, &g, &err) == CV_OK, "%s", err.msg);
    cv_shape shape = cv_input_shape(&g, BATCH);
    size_t n_in = cv_shape_numel(&shape), n_out = 10 * BATCH;

    job jobs[N_THREADS], ref[N_THREADS];
    float *buf = calloc((size_t)N_THREADS * 2 * (n_in + n_in + n_out), sizeof(float));
    REQUIRE(buf, "out of memory");
    float *p = buf;
    test_seed(7);
    for (int t = 0; t < N_THREADS; t++) {
        float *x = p;
        p += n_in;
        test_fill(x, n_in, -1, 1);
        jobs[t] = (job){shared, shape, x, p, p + n_out, n_out, n_in, 0, ""};
        p += n_out + n_in;
        ref[t] = (job){alone, shape, x, p, p + n_out, n_out, n_in, 0, ""};
        p += n_out + n_in;
    }
    /* What one thread computes alone, on the other model. */
    for (int t = 0; t < N_THREADS; t++)
        thread_main(&ref[t]);
    pthread_t tid[N_THREADS];
    int started = 0;
    for (int t = 0; t < N_THREADS; t++)
        started += pthread_create(&tid[t], NULL, thread_main, &jobs[t]) == 0;
    CHECK(started == N_THREADS, "%d of %d threads started", started, N_THREADS);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);

    double worst_out = 0, worst_grad = 0;
    for (int t = 0; t < started; t++) {
        CHECK(!ref[t].err[0] && !jobs[t].err[0], "thread %d: %s%s", t, ref[t].err, jobs[t].err);
        CHECK(jobs[t].mismatched_rounds == 0 && ref[t].mismatched_rounds == 0,
              "thread %d: %d of %d rounds differ from its first", t, jobs[t].mismatched_rounds, ROUNDS);
        double d_out = test_max_rel_diff(jobs[t].out, ref[t].out, n_out);
        double d_grad = test_max_rel_diff(jobs[t].grad, ref[t].grad, n_in);
        worst_out = d_out > worst_out ? d_out : worst_out;
        worst_grad = d_grad > worst_grad ? d_grad : worst_grad;
    }
    /* The same kernels on the same data: equal to rounding of a different
     * OpenMP split at most (in practice 0). */
    printf("    %d threads x %d rounds on one model: max rel diff from one thread alone: output %.3g, input "
           "gradient %.3g\n", started, ROUNDS, worst_out, worst_grad);
    CHECK(worst_out <= 1e-5 && worst_grad <= 1e-5, "output %g, gradient %g", worst_out, worst_grad);
    free(buf);
    cv_model_free(shared);
    cv_model_free(alone);
}

int main(void)
{
    RUN(test_threads_share_a_model);
    return test_summary("threads");
}
