/* The range a map is drawn with (include/cnnviz_render.h,
 * cv_render_display_range). The CLI once sorted a copy of every map to
 * read its minimum, maximum and 99th percentile: 3.1 ms of qsort for a
 * 224 x 224 map, per image of a batch, where one pass (min and max) or a
 * selection (the percentile) is O(n). */
#include "cnnviz_render.h"
#include "../core/graph.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void swap_floats(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

/* v[k] as it would be once v[0..n) were sorted, with v reordered around
 * it (no NaN in v). Hoare partitioning around the median of the first,
 * middle and last values: equal values split to both sides, so many ties
 * cost no more than distinct values. */
static float select_rank(float *v, size_t n, size_t k)
{
    size_t left = 0, right = n - 1;
    while (left < right) {
        size_t mid = left + (right - left) / 2;
        if (v[mid] < v[left])
            swap_floats(&v[mid], &v[left]);
        if (v[right] < v[left])
            swap_floats(&v[right], &v[left]);
        if (v[right] < v[mid])
            swap_floats(&v[right], &v[mid]);
        float pivot = v[mid];
        size_t i = left, j = right;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                swap_floats(&v[i], &v[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        /* now v[left..j] <= pivot <= v[i..right], and j < i */
        if (k <= j)
            right = j;
        else if (k >= i)
            left = i;
        else
            return v[k]; /* between j and i: equal to the pivot */
    }
    return v[k];
}

cv_status cv_render_display_range(const float *map, size_t n, double percentile, float *lo, float *hi,
                                  cv_error *err)
{
    float mn = INFINITY, mx = -INFINITY;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (map[i] == map[i]) { /* not NaN */
            mn = map[i] < mn ? map[i] : mn;
            mx = map[i] > mx ? map[i] : mx;
            m++;
        }
    if (m == 0) {
        *lo = 0, *hi = 1;
        return CV_OK;
    }
    *lo = mn;
    *hi = mx;
    if (percentile < 100 && m > 1) {
        float *v = malloc(m * sizeof(float));
        if (!v)
            return cv_fail(err, CV_ERR_NOMEM, "display range: out of memory for %zu values", m);
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (map[i] == map[i])
                v[j++] = map[i];
        double p = percentile > 0 ? percentile : 0;
        *hi = select_rank(v, m, (size_t)(p / 100.0 * (double)(m - 1)));
        free(v);
    }
    if (!(*hi > *lo))
        *hi = mx > *lo ? mx : *lo + 1; /* a flat map still gets a range */
    return CV_OK;
}
