/* The one memory plan (src/core/mempool.h): the pool's fit rules, and on
 * netbuild nets that the executor's plan is sound (no two values alive at
 * once share a slot, every slot holds its values), that the memory check
 * counts exactly what the run then holds, that a second forward adds
 * nothing, and that reusing slots leaves the output unchanged. */
#include "../src/core/mempool.h"
#include "lib/netbuild.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

static void test_pool_fit_rules(void)
{
    mem_pool pool;
    mem_pool_init(&pool);
    size_t sizes[] = {100, 400, 250, 1000};
    for (int k = 0; k < 4; k++)
        REQUIRE(mem_pool_give(&pool, (mem_block){NULL, sizes[k], k}), "give %d", k);
    mem_block b;
    /* 2x: the smallest that fits, never one over twice the need */
    CHECK(mem_pool_take(&pool, 200, MEM_FIT_2X, &b) && b.bytes == 250, "took %zu for 200", b.bytes);
    CHECK(!mem_pool_take(&pool, 120, MEM_FIT_2X, &b), "400 is over twice 120, yet took %zu", b.bytes);
    CHECK(mem_pool_take(&pool, 90, MEM_FIT_2X, &b) && b.bytes == 100, "took %zu for 90", b.bytes);
    /* or-largest: the largest when none fits, for the caller to grow */
    CHECK(mem_pool_take(&pool, 5000, MEM_FIT_OR_LARGEST, &b) && b.bytes == 1000, "took %zu for 5000", b.bytes);
    CHECK(mem_pool_take(&pool, 1, MEM_FIT_OR_LARGEST, &b) && b.bytes == 400, "took %zu for 1", b.bytes);
    CHECK(pool.n == 0 && !mem_pool_take(&pool, 1, MEM_FIT_OR_LARGEST, &b), "pool should be empty (%d)", pool.n);
    mem_pool_free_all(&pool);
}

static void test_plan_reuses_released_slots(void)
{
    mem_plan plan;
    cv_error err;
    REQUIRE(mem_plan_init(&plan, 5, &err) == CV_OK, "%s", err.msg);
    CHECK(mem_plan_alloc(&plan, 0, 1000, false, &err) == CV_OK, "%s", err.msg);
    CHECK(mem_plan_alloc(&plan, 1, 800, false, &err) == CV_OK, "%s", err.msg);
    mem_plan_release(&plan, 0);
    CHECK(mem_plan_alloc(&plan, 2, 900, false, &err) == CV_OK, "%s", err.msg); /* reuses 0's slot */
    CHECK(mem_plan_alloc(&plan, 3, 10, true, &err) == CV_OK, "%s", err.msg);   /* kept: its own */
    mem_plan_release(&plan, 1);
    CHECK(mem_plan_alloc(&plan, 4, 300, false, &err) == CV_OK, "%s", err.msg); /* 800 > 2 x 300: new */
    CHECK(plan.slot[2] == plan.slot[0], "value 2 in slot %d, 0's was %d", plan.slot[2], plan.slot[0]);
    CHECK(plan.slot[4] != plan.slot[1], "value 4 took an 800-byte slot for 300 bytes");
    CHECK(plan.n_slots == 4 && plan.total_bytes == 1000 + 800 + 10 + 300, "%d slots, %zu bytes", plan.n_slots,
          plan.total_bytes);
    mem_plan_free(&plan);
}

/* A net with a skip connection and branches of different sizes, so that
 * lifetimes overlap in more than one way. */
static cv_model *branchy_net(const cv_shape *xs, netbuild *nb)
{
    int x = nb_begin(nb, xs, 13);
    int a = nb_unary(nb, "Relu", nb_conv(nb, x, 3, 8, 3, 1, 1, 1));
    int b = nb_conv(nb, a, 8, 8, 3, 1, 1, 1);
    int c = nb_unary(nb, "Relu", nb_binary(nb, "Add", a, b));
    int d = nb_pool(nb, "MaxPool", c, 2, 2, 0, 0, 0);
    int e = nb_concat(nb, nb_conv(nb, d, 8, 4, 1, 1, 0, 1), nb_unary(nb, "Sigmoid", d));
    int f = nb_unary(nb, "Relu", nb_conv(nb, e, 12, 16, 3, 2, 1, 1));
    return nb_end(nb, nb_gemm(nb, f, 16 * 4 * 4, 10));
}

static void check_plan_sound(cv_run *run)
{
    const mem_plan *p = cv_run_mem_plan(run);
    int planned = 0, clashes = 0, small = 0;
    for (int v = 0; v < p->n_values; v++) {
        if (p->slot[v] < 0)
            continue;
        planned++;
        const cv_tensor *t = cv_run_value(run, v); /* the run's shapes: the model's may be symbolic */
        if (p->slot_bytes[p->slot[v]] < cv_shape_numel(&t->shape) * (t->dtype == CV_I64 ? 8 : sizeof(float)))
            small++;
        int vd = p->dies[v] < 0 ? 1 << 30 : p->dies[v];
        for (int u = 0; u < v; u++) {
            if (p->slot[u] != p->slot[v])
                continue;
            int ud = p->dies[u] < 0 ? 1 << 30 : p->dies[u];
            if (p->born[u] < vd && p->born[v] < ud)
                clashes++;
        }
    }
    CHECK(planned > 5, "only %d values planned", planned);
    CHECK(clashes == 0, "%d pairs of values alive at once share a slot", clashes);
    CHECK(small == 0, "%d values larger than their slot", small);
    CHECK(p->n_slots < planned, "%d slots for %d values: nothing reused", p->n_slots, planned);
}

static void test_run_follows_plan(void)
{
    netbuild nb;
    cv_shape xs = {4, {2, 3, 16, 16}};
    cv_model *m = branchy_net(&xs, &nb);
    REQUIRE(m, "%s", nb.err.msg);
    size_t n = cv_shape_numel(&xs);
    float *x = malloc(n * sizeof(float)), y1[20], y2[20];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)sin(0.37 * (double)i);
    cv_error err;
    cv_run *run = NULL, *all = NULL;
    cv_run_options keep = cv_run_defaults();
    keep.keep_all = 1;
    REQUIRE(cv_run_create(&run, m, &xs, NULL, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_run_create(&all, m, &xs, &keep, &err) == CV_OK, "%s", err.msg);
    check_plan_sound(run);
    size_t planned = cv_run_planned_bytes(run);
    CHECK(cv_run_forward(run, x, &err) == CV_OK, "%s", err.msg);
    size_t after_one = cv_run_held_bytes(run);
    memcpy(y1, cv_run_output(run, 0)->f, sizeof y1);
    CHECK(cv_run_forward(run, x, &err) == CV_OK, "%s", err.msg);
    memcpy(y2, cv_run_output(run, 0)->f, sizeof y2);
    printf("    planned %zu bytes, held %zu after one forward, %zu after two\n", planned, after_one,
           cv_run_held_bytes(run));
    CHECK(after_one == planned, "the check counted %zu bytes, forward holds %zu", planned, after_one);
    CHECK(cv_run_held_bytes(run) == after_one, "a second forward grew the run to %zu bytes",
          cv_run_held_bytes(run));
    /* with every value kept no slot is shared: the same outputs prove the
     * shared slots were not overwritten while still read */
    CHECK(cv_run_forward(all, x, &err) == CV_OK, "%s", err.msg);
    float diff = 0;
    for (int i = 0; i < 20; i++) {
        float d1 = fabsf(y1[i] - cv_run_output(all, 0)->f[i]), d2 = fabsf(y1[i] - y2[i]);
        diff = fmaxf(diff, fmaxf(d1, d2));
    }
    CHECK(diff == 0.0f, "outputs differ by %g (shared slots vs none, or between forwards)", diff);
    CHECK(cv_run_planned_bytes(all) > planned, "keeping all (%zu bytes) should need more than %zu",
          cv_run_planned_bytes(all), planned);
    cv_run_free(run);
    cv_run_free(all);
    cv_model_free(m);
    free(x);
}

int main(void)
{
    RUN(test_pool_fit_rules);
    RUN(test_plan_reuses_released_slots);
    RUN(test_run_follows_plan);
    return test_summary("mempool");
}
