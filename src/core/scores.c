/* What a classifier's output means: probabilities (softmax unless the
 * output already is a distribution) and the top k classes. */
#include "cnnviz.h"
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

int cv_scores_is_distribution(const float *scores, size_t n)
{
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        if (!(scores[k] >= 0.0f && scores[k] <= 1.0f))
            return 0;
        sum += scores[k];
    }
    return fabs(sum - 1.0) <= 1e-3;
}

int cv_scores_to_probabilities(float *probs, const float *scores, size_t n)
{
    if (cv_scores_is_distribution(scores, n)) {
        if (probs != scores && n)
            memmove(probs, scores, n * sizeof(float));
        return 0;
    }
    float mx = -INFINITY;
    for (size_t k = 0; k < n; k++)
        mx = scores[k] > mx ? scores[k] : mx;
    double sum = 0;
    for (size_t k = 0; k < n; k++)
        sum += exp((double)scores[k] - mx);
    for (size_t k = 0; k < n; k++)
        probs[k] = (float)(exp((double)scores[k] - mx) / sum);
    return 1;
}

/* Class a ranks above class b: a higher score, or an equal one and a lower
 * index; NaN ranks below every number. */
static bool ranks_above(const float *s, int a, int b)
{
    bool na = isnan(s[a]), nb = isnan(s[b]);
    if (na != nb)
        return nb;
    if (!na && s[a] != s[b])
        return s[a] > s[b];
    return a < b;
}

/* Restore the heap below slot i: each parent ranks below its children, so
 * top[0] is the lowest-ranked of the k kept. */
static void sift_down(int *top, int n, int i, const float *s)
{
    for (;;) {
        int low = i, l = 2 * i + 1, r = l + 1;
        if (l < n && ranks_above(s, top[low], top[l]))
            low = l;
        if (r < n && ranks_above(s, top[low], top[r]))
            low = r;
        if (low == i)
            return;
        int t = top[i];
        top[i] = top[low];
        top[low] = t;
        i = low;
    }
}

int cv_topk(int *top, int k, const float *scores, size_t n)
{
    if (k <= 0 || n == 0)
        return 0;
    if (n > INT_MAX) /* class indices are ints */
        n = INT_MAX;
    int kept = (size_t)k < n ? k : (int)n;
    for (int i = 0; i < kept; i++)
        top[i] = i;
    for (int i = kept / 2 - 1; i >= 0; i--)
        sift_down(top, kept, i, scores);
    for (size_t c = (size_t)kept; c < n; c++)
        if (ranks_above(scores, (int)c, top[0])) {
            top[0] = (int)c;
            sift_down(top, kept, 0, scores);
        }
    /* Heap sort: move the lowest-ranked kept class to the end each time. */
    for (int end = kept - 1; end > 0; end--) {
        int t = top[0];
        top[0] = top[end];
        top[end] = t;
        sift_down(top, end, 0, scores);
    }
    return kept;
}
