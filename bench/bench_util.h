/* What every benchmark in bench/ needs: a monotonic clock, process CPU
 * time, and the median of a sample. Header-only: each benchmark is one
 * translation unit linked against libcnnviz.a alone. */
#ifndef CNNVIZ_BENCH_UTIL_H
#define CNNVIZ_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wall seconds, for what a user waits. */
static inline double now(void) { return bench_clock(CLOCK_MONOTONIC); }

/* CPU seconds of the process (all threads): steadier than wall time on a
 * shared machine. */
static inline double cpu_now(void) { return bench_clock(CLOCK_PROCESS_CPUTIME_ID); }

/* A layer's share of a profile: sorted slowest first by bench_slowest_first. */
typedef struct {
    int layer;
    double s;
} bench_layer_time;

static inline int bench_slowest_first(const void *a, const void *b)
{
    double x = ((const bench_layer_time *)a)->s, y = ((const bench_layer_time *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts t[0..n) in place (so t[0] is the least, t[n-1] the most); returns
 * the median, the mean of the middle two for even n. */
static inline double bench_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), bench_cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

#endif
