/* Approximate mode's adaptive drill-down (Krypton, SIGMOD 2019): evaluate
 * a coarse grid, interpolate the rest, then evaluate every position of the
 * most sensitive coarse cells. Cells rather than single positions: a
 * drilled region is a neighbourhood whose edges are coarse positions, where
 * the interpolation is already exact, so no seam appears at its border.
 *
 * The drill-down only chooses positions; the driver evaluates them through
 * the occ_evaluator it passes (occlusion_engine.h).
 */
#include "occlusion_engine.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The coarse grid: sample rows ra[0 .. mr) and columns ca[0 .. mc), and
 * for each grid row i (column j) the coarse interval rcell[i] holding it
 * and the weight rt[i] of its far end. */
typedef struct {
    int *ra, *ca, mr, mc;
    int *rcell, *ccell;
    double *rt, *ct;
} coarse_grid;

/* Coarse sample indices along one side of n grid positions: 0, k, 2k, ...
 * and n - 1. Returns how many (at most n / k + 2). */
static int coarse_axis(int *at, int n, int k)
{
    int m = 0;
    for (int i = 0; i < n; i += k)
        at[m++] = i;
    if (at[m - 1] != n - 1)
        at[m++] = n - 1;
    return m;
}

/* For each grid index 0..n-1: the coarse interval a holding it (at[a] <= i
 * <= at[a + 1]) and the weight t of at[a + 1]. */
static void coarse_weights(int *cell, double *t, const int *at, int m, int n)
{
    int a = 0;
    for (int i = 0; i < n; i++) {
        while (a + 2 < m && i > at[a + 1])
            a++;
        cell[i] = a;
        int b = a + 1 < m ? a + 1 : a;
        t[i] = at[b] > at[a] ? (double)(i - at[a]) / (at[b] - at[a]) : 0.0;
    }
}

static void coarse_free(coarse_grid *c)
{
    free(c->ra);
    free(c->ca);
    free(c->rcell);
    free(c->ccell);
    free(c->rt);
    free(c->ct);
}

static bool coarse_make(coarse_grid *c, int rows, int cols, int k)
{
    memset(c, 0, sizeof *c);
    c->ra = malloc(sizeof(int) * (size_t)(rows + 2));
    c->ca = malloc(sizeof(int) * (size_t)(cols + 2));
    c->rcell = malloc(sizeof(int) * (size_t)rows);
    c->ccell = malloc(sizeof(int) * (size_t)cols);
    c->rt = malloc(sizeof(double) * (size_t)rows);
    c->ct = malloc(sizeof(double) * (size_t)cols);
    if (!c->ra || !c->ca || !c->rcell || !c->ccell || !c->rt || !c->ct)
        return false;
    c->mr = coarse_axis(c->ra, rows, k);
    c->mc = coarse_axis(c->ca, cols, k);
    coarse_weights(c->rcell, c->rt, c->ra, c->mr, rows);
    coarse_weights(c->ccell, c->ct, c->ca, c->mc, cols);
    return true;
}

/* Coarse sample a's successor along a side of m samples (itself at the end). */
static int next(int a, int m) { return a + 1 < m ? a + 1 : a; }

/* Every position not evaluated (have[at] == 0) from its coarse cell's
 * corners: map and top_prob bilinearly, top_class from the nearest corner. */
static void interpolate(const coarse_grid *c, int rows, int cols, const unsigned char *have, double *map,
                        int *top_class, double *top_prob)
{
    for (int i = 0; i < rows; i++) {
        int a0 = c->ra[c->rcell[i]], a1 = c->ra[next(c->rcell[i], c->mr)];
        for (int j = 0; j < cols; j++) {
            long at = (long)i * cols + j;
            if (have[at])
                continue;
            int b0 = c->ca[c->ccell[j]], b1 = c->ca[next(c->ccell[j], c->mc)];
            double ty = c->rt[i], tx = c->ct[j];
            long p00 = (long)a0 * cols + b0, p01 = (long)a0 * cols + b1, p10 = (long)a1 * cols + b0,
                 p11 = (long)a1 * cols + b1;
            map[at] = (map[p00] * (1 - tx) + map[p01] * tx) * (1 - ty) + (map[p10] * (1 - tx) + map[p11] * tx) * ty;
            if (top_prob)
                top_prob[at] = (top_prob[p00] * (1 - tx) + top_prob[p01] * tx) * (1 - ty) +
                               (top_prob[p10] * (1 - tx) + top_prob[p11] * tx) * ty;
            if (top_class)
                top_class[at] = top_class[(long)(ty < 0.5 ? a0 : a1) * cols + (tx < 0.5 ? b0 : b1)];
        }
    }
}

typedef struct {
    double score;
    int a, b;
} coarse_cell;

static int cmp_cell(const void *pa, const void *pb)
{
    const coarse_cell *x = pa, *y = pb;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1; /* largest drop first */
    return x->a != y->a ? (x->a > y->a) - (x->a < y->a) : (x->b > y->b) - (x->b < y->b);
}

/* Mark in drill[] the positions of the cells with the largest drop of the
 * target's probability at their corners, until they cover `want`
 * positions (Krypton drills into the regions that matter most for the
 * prediction; where occluding raises the probability it is interpolated).
 * Returns the positions covered, or -1 when out of memory. */
static long choose_cells(const coarse_grid *c, int cols, const double *map, double base, long want,
                         unsigned char *drill)
{
    const int mr = c->mr, mc = c->mc;
    int nr = mr > 1 ? mr - 1 : 1, ncl = mc > 1 ? mc - 1 : 1;
    coarse_cell *cells = malloc(sizeof(coarse_cell) * (size_t)nr * ncl);
    if (!cells)
        return -1;
    for (int a = 0; a < nr; a++)
        for (int b = 0; b < ncl; b++) {
            int a1 = next(a, mr), b1 = next(b, mc);
            double v[4] = {map[(long)c->ra[a] * cols + c->ca[b]], map[(long)c->ra[a] * cols + c->ca[b1]],
                           map[(long)c->ra[a1] * cols + c->ca[b]], map[(long)c->ra[a1] * cols + c->ca[b1]]};
            double sc = -INFINITY;
            for (int q = 0; q < 4; q++)
                sc = fmax(sc, base - v[q]);
            cells[(size_t)a * ncl + b] = (coarse_cell){sc, a, b};
        }
    qsort(cells, (size_t)nr * ncl, sizeof(coarse_cell), cmp_cell);
    long covered = 0;
    for (long k = 0; k < (long)nr * ncl && covered < want; k++) {
        int a = cells[k].a, b = cells[k].b;
        int i1 = c->ra[next(a, mr)], j1 = c->ca[next(b, mc)];
        for (int i = c->ra[a]; i <= i1; i++)
            for (int j = c->ca[b]; j <= j1; j++) {
                long at = (long)i * cols + j;
                if (!drill[at]) {
                    drill[at] = 1;
                    covered++;
                }
            }
    }
    free(cells);
    return covered;
}

cv_status occ_drill_run(const occ_evaluator *ev, int rows, int cols, const cv_occlusion_approx *a, double base,
                        double *map, int *top_class, double *top_prob, occ_drill_stats *stats, cv_error *err)
{
    const long total = (long)rows * cols;
    cv_status st = CV_ERR_NOMEM;
    coarse_grid c;
    bool grid_ok = coarse_make(&c, rows, cols, a->coarse_factor);
    long *pos = malloc(sizeof(long) * (size_t)total);
    unsigned char *have = calloc((size_t)total, 1), *drill = calloc((size_t)total, 1);
    if (!grid_ok || !pos || !have || !drill)
        goto out;
    long n_coarse = 0;
    for (int i = 0; i < c.mr; i++)
        for (int j = 0; j < c.mc; j++) {
            long at = (long)c.ra[i] * cols + c.ca[j];
            pos[n_coarse++] = at;
            have[at] = 1;
        }
    const double frac = a->drill_fraction;
    long want = (long)ceil(frac * (double)total - 1e-9);
    long estimate = n_coarse + (long)((double)(total - n_coarse) * frac);
    if ((st = ev->prepare(ev->ctx, pos, n_coarse, err)) != CV_OK ||
        (st = ev->eval(ev->ctx, pos, n_coarse, estimate, err)) != CV_OK)
        goto out;
    interpolate(&c, rows, cols, have, map, top_class, top_prob);
    long covered = choose_cells(&c, cols, map, base, want, drill), n_fine = 0;
    if (covered < 0) {
        st = CV_ERR_NOMEM;
        goto out;
    }
    for (long at = 0; at < total; at++) /* row-major: neighbours share batches */
        if (drill[at] && !have[at])
            pos[n_fine++] = at;
    if ((st = ev->prepare(ev->ctx, pos, n_fine, err)) != CV_OK ||
        (st = ev->eval(ev->ctx, pos, n_fine, n_coarse + n_fine, err)) != CV_OK)
        goto out;
    stats->evaluated = n_coarse + n_fine;
    stats->coarse = n_coarse;
    stats->drilled = covered;
    st = CV_OK;
out:
    if (st == CV_ERR_NOMEM && err->status != CV_ERR_NOMEM)
        st = cv_fail(err, CV_ERR_NOMEM, "occlusion: out of memory for the approximate map (%ld positions)", total);
    coarse_free(&c);
    free(pos);
    free(have);
    free(drill);
    return st;
}
