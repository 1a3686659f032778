/* Buffers reused between tensors, and the memory plan of a forward pass.
 * Internal to libcnnviz (module prefix mem_, see limits.h).
 *
 * mem_pool: buffers nobody holds now, waiting for the next tensor that
 * fits, so repeated runs reuse memory instead of mapping and page-faulting
 * it afresh (that cost a quarter to a half of the time on big occlusion
 * batches). The incremental engine keeps one, its buffers growing with the
 * batch.
 *
 * mem_plan: the executor's schedule, computed once at plan time from the
 * order in which forward allocates and releases its activations: each
 * value gets a slot (an index into a table of slot sizes), values alive at
 * the same time never share one, and the sum of the slot sizes is the
 * memory forward needs. Forward then binds each value to its slot instead
 * of searching a pool, so every later forward reuses the same slots and
 * adds no memory.
 */
#ifndef CV_MEMPOOL_H
#define CV_MEMPOOL_H

#include "cnnviz.h"
#include <stdbool.h>
#include <stddef.h>

/* A buffer of bytes; slot: which plan slot it stands for (planning works
 * on sizes only, p NULL), -1 for a real buffer outside a plan. */
typedef struct {
    void *p;
    size_t bytes;
    int slot;
} mem_block;

typedef struct {
    mem_block *blk;
    int n, cap;
} mem_pool;

typedef enum {
    /* The smallest block of at least need bytes and at most twice that:
     * a much larger one is left for a tensor that needs it. */
    MEM_FIT_2X,
    /* The smallest block of at least need bytes, else the largest one,
     * which the caller grows with realloc (buffers that grow with the
     * batch: growing the largest keeps their number small). */
    MEM_FIT_OR_LARGEST,
} mem_fit_rule;

/* An empty pool (also what {0} gives). */
void mem_pool_init(mem_pool *pool);
/* Take a block for need bytes by rule into *got; false when none
 * qualifies (the pool is empty, or no block fits under MEM_FIT_2X). */
bool mem_pool_take(mem_pool *pool, size_t need, mem_fit_rule rule, mem_block *got);
/* Give b back; false when the pool could not grow its table, in which
 * case b is still the caller's. */
bool mem_pool_give(mem_pool *pool, mem_block b);
/* Free every block's buffer and the pool's table; the pool is empty after. */
void mem_pool_free_all(mem_pool *pool);

typedef struct mem_plan {
    int n_values;
    int *slot;          /* [n_values] slot of each scheduled value, -1: none */
    int *born, *dies;   /* [n_values] step of its allocation and release (-1: never) */
    size_t *slot_bytes; /* [n_slots] */
    int n_slots, cap_slots;
    size_t total_bytes; /* sum of slot_bytes, saturating */
    int step;           /* allocations and releases so far */
    mem_pool free;      /* slots released, as blocks of their size */
} mem_plan;

/* An empty plan for values 0 .. n_values - 1. */
cv_status mem_plan_init(mem_plan *plan, int n_values, cv_error *err);
/* Value v needs bytes from now on. exclusive: a new slot that no other
 * value ever uses (a value kept after forward must survive the next
 * forward's early layers); else a released slot by MEM_FIT_2X, or a new
 * one. A value already scheduled keeps its slot. */
cv_status mem_plan_alloc(mem_plan *plan, int v, size_t bytes, bool exclusive, cv_error *err);
/* Value v is dead from now on: its slot may serve a later value. */
void mem_plan_release(mem_plan *plan, int v);
void mem_plan_free(mem_plan *plan);

#endif
