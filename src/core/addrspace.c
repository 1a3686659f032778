/* Address-space checks for runs under an address-space limit (ulimit -v,
 * RLIMIT_AS), where OpenBLAS 0.3.21 would otherwise hang: the first sgemm
 * of each thread maps a 128 MiB work buffer, and when that mmap fails
 * OpenBLAS retries it forever (measured: `ulimit -v 200000; cnnviz layers`
 * spun in mmap/ENOMEM until killed). It offers no way to learn of the
 * failure, so we ask the kernel first: a PROT_NONE, MAP_NORESERVE mapping of
 * the size a run will need costs nothing but address space, which is exactly
 * what RLIMIT_AS counts, and is unmapped at once. */
#include "graph.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* OpenBLAS's BUFFER_SIZE on x86-64 and arm64 (32 << 22) and the page it maps
 * beyond it: the size of the mmap seen failing under strace. */
#define BLAS_BUFFER_BYTES (((size_t)128 << 20) + 8192)

/* Set once a run has called BLAS: the caller's buffer then exists (OpenBLAS
 * keeps it) and takes no further address space. */
static atomic_int blas_buffers_mapped;

size_t cv_blas_workspace_bytes(void)
{
    /* OpenBLAS's worker threads map theirs when they start (when the
     * library loads, before main: the CLI sizes their number to the limit,
     * cli/main.c); what is left is the buffer of the thread that calls
     * sgemm, ours: no sgemm is called from inside a parallel loop. */
    return atomic_load(&blas_buffers_mapped) ? 0 : BLAS_BUFFER_BYTES;
}

void cv_blas_workspace_mapped(void) { atomic_store(&blas_buffers_mapped, 1); }

bool cv_address_space_fits(size_t bytes, size_t *limit)
{
    struct rlimit rl;
    *limit = 0;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return true; /* no limit: memory is --max-memory's business */
    *limit = rl.rlim_cur > SIZE_MAX ? SIZE_MAX : (size_t)rl.rlim_cur;
    if (bytes == 0)
        return true;
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    munmap(p, bytes);
    return true;
}

/* Transparent huge pages: 2 MiB each on x86-64 (and arm64 with 4 KiB base
 * pages). */
#define HUGE_PAGE_BYTES ((size_t)2 << 20)

void *cv_malloc_large(size_t bytes)
{
    struct rlimit rl;
    /* The alignment costs up to 2 MiB of address space, never touched, but
     * counted by RLIMIT_AS: under such a limit take plain malloc's. */
    bool limited = getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
    if (bytes < HUGE_PAGE_BYTES || limited) /* 64: a cache line, for vector loads */
        return aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes ? 0 : 64));
    /* aligned_alloc wants a multiple of the alignment; the tail past bytes
     * is address space only, never touched. */
    void *p = aligned_alloc(HUGE_PAGE_BYTES, (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES);
    if (!p)
        return NULL;
    /* Only the whole huge pages inside [p, p + bytes): the kernel never
     * backs memory the caller did not ask for (what max_memory counts stays
     * what the process holds). A kernel without THP says EINVAL: fine, the
     * buffer is still good. */
    madvise(p, bytes / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES, MADV_HUGEPAGE);
    return p;
}
