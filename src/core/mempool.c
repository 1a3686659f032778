/* Buffer pool and the forward pass's memory plan (mempool.h). */
#include "mempool.h"
#include "graph.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void mem_pool_init(mem_pool *pool) { memset(pool, 0, sizeof *pool); }

/* Whether block size c is a better choice than the current best b
 * (have_best false: there is none yet) for need bytes under rule. */
static bool better_fit(size_t c, bool have_best, size_t b, size_t need, mem_fit_rule rule)
{
    bool fits = c >= need;
    if (rule == MEM_FIT_2X)
        return fits && c / 2 <= need && (!have_best || c < b);
    bool best_fits = have_best && b >= need;
    if (!have_best)
        return true;
    if (fits)
        return !best_fits || c < b;
    return !best_fits && c > b; /* neither fits: the largest, to grow */
}

bool mem_pool_take(mem_pool *pool, size_t need, mem_fit_rule rule, mem_block *got)
{
    int best = -1;
    for (int k = 0; k < pool->n; k++)
        if (better_fit(pool->blk[k].bytes, best >= 0, best >= 0 ? pool->blk[best].bytes : 0, need, rule))
            best = k;
    if (best < 0)
        return false;
    *got = pool->blk[best];
    pool->blk[best] = pool->blk[--pool->n];
    return true;
}

bool mem_pool_give(mem_pool *pool, mem_block b)
{
    if (pool->n == pool->cap) {
        int cap = pool->cap ? 2 * pool->cap : 16;
        mem_block *blk = realloc(pool->blk, sizeof *blk * (size_t)cap);
        if (!blk)
            return false;
        pool->blk = blk;
        pool->cap = cap;
    }
    pool->blk[pool->n++] = b;
    return true;
}

void mem_pool_free_all(mem_pool *pool)
{
    for (int k = 0; k < pool->n; k++)
        free(pool->blk[k].p);
    free(pool->blk);
    mem_pool_init(pool);
}

cv_status mem_plan_init(mem_plan *plan, int n_values, cv_error *err)
{
    memset(plan, 0, sizeof *plan);
    size_t n = n_values > 0 ? (size_t)n_values : 1;
    plan->n_values = n_values;
    plan->slot = malloc(n * sizeof(int));
    plan->born = malloc(n * sizeof(int));
    plan->dies = malloc(n * sizeof(int));
    if (!plan->slot || !plan->born || !plan->dies) {
        mem_plan_free(plan);
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    }
    for (int v = 0; v < n_values; v++)
        plan->slot[v] = plan->born[v] = plan->dies[v] = -1;
    return CV_OK;
}

static cv_status new_slot(mem_plan *plan, size_t bytes, int *slot, cv_error *err)
{
    if (plan->n_slots == plan->cap_slots) {
        int cap = plan->cap_slots ? 2 * plan->cap_slots : 16;
        size_t *sb = realloc(plan->slot_bytes, sizeof *sb * (size_t)cap);
        if (!sb)
            return cv_fail(err, CV_ERR_NOMEM, "out of memory");
        plan->slot_bytes = sb;
        plan->cap_slots = cap;
    }
    plan->slot_bytes[plan->n_slots] = bytes;
    plan->total_bytes = plan->total_bytes > SIZE_MAX - bytes ? SIZE_MAX : plan->total_bytes + bytes;
    *slot = plan->n_slots++;
    return CV_OK;
}

cv_status mem_plan_alloc(mem_plan *plan, int v, size_t bytes, bool exclusive, cv_error *err)
{
    if (plan->slot[v] >= 0)
        return CV_OK;
    mem_block b;
    int slot = -1;
    if (!exclusive && mem_pool_take(&plan->free, bytes, MEM_FIT_2X, &b)) {
        slot = b.slot;
    } else {
        cv_status st = new_slot(plan, bytes, &slot, err);
        if (st != CV_OK)
            return st;
    }
    plan->slot[v] = slot;
    plan->born[v] = plan->step++;
    return CV_OK;
}

void mem_plan_release(mem_plan *plan, int v)
{
    if (plan->slot[v] < 0 || plan->dies[v] >= 0)
        return;
    plan->dies[v] = plan->step++;
    mem_block b = {NULL, plan->slot_bytes[plan->slot[v]], plan->slot[v]};
    /* Should the table not grow, the slot just stays unused from now on:
     * the plan only gets larger, never wrong. */
    (void)mem_pool_give(&plan->free, b);
}

void mem_plan_free(mem_plan *plan)
{
    free(plan->slot);
    free(plan->born);
    free(plan->dies);
    free(plan->slot_bytes);
    free(plan->free.blk); /* blocks of a plan hold no buffers */
    memset(plan, 0, sizeof *plan);
}
