/* Approximate occlusion maps (Krypton's projective-field threshold and
 * adaptive drill-down) and the map comparison (MAE, SSIM): the
 * approximation switched off or covering everything gives the exact map;
 * switched on, the map stays close to the exact one; bad options are
 * refused; SSIM against hand-computed values and its properties. */
#include "lib/netbuild.h"
#include "lib/realdata.h"
#include "lib/test.h"
#include "cnnviz_io.h"
#include "cnnviz_occlusion.h"
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static double max_abs_diff_d(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t k = 0; k < n; k++)
        d = fmax(d, fabs(a[k] - b[k]));
    return d;
}

/* ---- SSIM and MAE ---------------------------------------------------------------- */

/* One 7 x 7 window, x = k / 48 (k = 0..48 row-major) against ref = 1 - x.
 * By hand: L = 1, C1 = 1e-4, C2 = 9e-4; both means 0.5; sample variance
 * sum (k - 24)^2 / 48 / 48^2 = 9800 / 48 / 2304 = 0.0886140046; covariance
 * its negative. SSIM = (2 * 0.25 + C1)(-2 v + C2) / ((0.5 + C1)(2 v + C2))
 * = (-2 v + C2) / (2 v + C2) = -0.98989490756. */
static void test_ssim_by_hand(void)
{
    double x[49], ref[49];
    for (int k = 0; k < 49; k++) {
        x[k] = k / 48.0;
        ref[k] = 1.0 - x[k];
    }
    cv_occlusion_map_error e;
    cv_error err;
    REQUIRE(cv_occlusion_compare(x, ref, 7, 7, &e, &err) == CV_OK, "%s", err.msg);
    double want = -0.98989490756;
    printf("    7x7 reversed ramp: SSIM %.11f (hand %.11f), MAE %.6f\n", e.ssim, want, e.mae);
    CHECK(fabs(e.ssim - want) < 1e-9, "SSIM %.12f, want %.12f", e.ssim, want);
    /* MAE: mean |2k/48 - 1| = 2/48 * mean |k - 24| = 2/48 * 600/49 */
    CHECK(fabs(e.mae - 1200.0 / (48.0 * 49.0)) < 1e-12, "MAE %.12f", e.mae);
    CHECK(fabs(e.max_abs - 1.0) < 1e-12, "max abs %g", e.max_abs);

    /* A 3 x 4 map, smaller than the window: one 3 x 4 window. x = k / 11,
     * ref = x with 0.3 added at k = 5. L = 1 (ref runs 0 .. 1); means
     * 0.5 and 0.525; from the sample (co)variances (numpy, ddof=1) the
     * formula gives 0.96488364788. */
    double a[12], b[12];
    for (int k = 0; k < 12; k++)
        a[k] = b[k] = k / 11.0;
    b[5] += 0.3;
    REQUIRE(cv_occlusion_compare(a, b, 3, 4, &e, &err) == CV_OK, "%s", err.msg);
    printf("    3x4 map (one window): SSIM %.11f (want 0.96488364788)\n", e.ssim);
    CHECK(fabs(e.ssim - 0.96488364788) < 1e-9, "SSIM %.12f", e.ssim);
    CHECK(fabs(e.mae - 0.3 / 12) < 1e-12 && fabs(e.max_abs - 0.3) < 1e-12, "MAE %g max %g", e.mae, e.max_abs);
}

/* The same SSIM another way, as scikit-image computes it: local means and
 * (co)variances for every pixel by a 7 x 7 box filter with reflected
 * borders, the SSIM map, then the mean over the map cropped by 3 on each
 * side (the pixels whose window lies inside). */
static double ssim_filtered(const double *x, const double *y, int rows, int cols)
{
    double lo = y[0], hi = y[0];
    for (int k = 1; k < rows * cols; k++)
        lo = fmin(lo, y[k]), hi = fmax(hi, y[k]);
    double L = hi - lo, C1 = (0.01 * L) * (0.01 * L), C2 = (0.03 * L) * (0.03 * L);
    double sum = 0;
    int count = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double s[5] = {0, 0, 0, 0, 0}; /* x, y, xx, yy, xy */
            for (int a = -3; a <= 3; a++)
                for (int b = -3; b <= 3; b++) {
                    int r = i + a, c = j + b; /* scipy's 'reflect': d c b a | a b c d | d c b a */
                    r = r < 0 ? -r - 1 : r >= rows ? 2 * rows - r - 1 : r;
                    c = c < 0 ? -c - 1 : c >= cols ? 2 * cols - c - 1 : c;
                    double u = x[r * cols + c], v = y[r * cols + c];
                    s[0] += u, s[1] += v, s[2] += u * u, s[3] += v * v, s[4] += u * v;
                }
            for (int q = 0; q < 5; q++)
                s[q] /= 49;
            double norm = 49.0 / 48.0;
            double vx = norm * (s[2] - s[0] * s[0]), vy = norm * (s[3] - s[1] * s[1]),
                   vxy = norm * (s[4] - s[0] * s[1]);
            double ss = (2 * s[0] * s[1] + C1) * (2 * vxy + C2) / ((s[0] * s[0] + s[1] * s[1] + C1) * (vx + vy + C2));
            if (i >= 3 && i < rows - 3 && j >= 3 && j < cols - 3)
                sum += ss, count++;
        }
    return sum / count;
}

static void test_ssim_properties(void)
{
    test_seed(21);
    enum { R = 19, C = 23 };
    double x[R * C], y[R * C], c1[R * C], c2[R * C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            x[i * C + j] = 0.5 + 0.4 * sin(i * 0.3) * cos(j * 0.2);
            y[i * C + j] = x[i * C + j] + test_uniform(-0.05f, 0.05f);
            c1[i * C + j] = c2[i * C + j] = 0.25;
        }
    cv_occlusion_map_error e;
    cv_error err;
    REQUIRE(cv_occlusion_compare(y, x, R, C, &e, &err) == CV_OK, "%s", err.msg);
    double ref = ssim_filtered(y, x, R, C);
    printf("    19x23 noisy map: SSIM %.12f, by box filter + crop %.12f, MAE %.4f\n", e.ssim, ref, e.mae);
    CHECK(fabs(e.ssim - ref) < 1e-12, "two ways disagree: %.15f vs %.15f", e.ssim, ref);
    CHECK(e.ssim > 0 && e.ssim < 1, "noisy map SSIM %g", e.ssim);

    REQUIRE(cv_occlusion_compare(x, x, R, C, &e, &err) == CV_OK, "%s", err.msg);
    CHECK(e.ssim == 1.0 && e.mae == 0 && e.max_abs == 0, "identical maps: SSIM %.17g MAE %g", e.ssim, e.mae);
    REQUIRE(cv_occlusion_compare(c1, c2, R, C, &e, &err) == CV_OK, "%s", err.msg);
    printf("    identical constant maps: SSIM %g\n", e.ssim);
    CHECK(e.ssim == 1.0, "identical constant maps: SSIM %g", e.ssim);
    REQUIRE(cv_occlusion_compare(x, c1, R, C, &e, &err) == CV_OK, "%s", err.msg);
    printf("    a map against a constant reference: SSIM %g (finite)\n", e.ssim);
    CHECK(isfinite(e.ssim) && e.ssim < 1, "constant reference: SSIM %g", e.ssim);
    REQUIRE(cv_occlusion_compare(c1, x, R, C, &e, &err) == CV_OK, "%s", err.msg);
    CHECK(isfinite(e.ssim) && e.ssim < 1, "constant map: SSIM %g", e.ssim);
    REQUIRE(cv_occlusion_compare(x, x, 1, 1, &e, &err) == CV_OK, "%s", err.msg);
    CHECK(e.ssim == 1.0, "1x1 identical: SSIM %g", e.ssim);
    /* a shifted copy is less similar than a lightly noisy one */
    double shifted[R * C];
    for (int k = 0; k < R * C; k++)
        shifted[k] = x[(k + 2) % (R * C)];
    cv_occlusion_map_error es;
    REQUIRE(cv_occlusion_compare(shifted, x, R, C, &es, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_occlusion_compare(y, x, R, C, &e, &err) == CV_OK, "%s", err.msg);
    printf("    shifted by 2: SSIM %.4f; noisy: %.4f\n", es.ssim, e.ssim);
    x[7] = NAN;
    CHECK(cv_occlusion_compare(x, y, R, C, &e, &err) == CV_ERR_INVALID, "NaN accepted");
    printf("    %s\n", err.msg);
    CHECK(cv_occlusion_compare(y, y, 0, C, &e, &err) == CV_ERR_INVALID, "0 rows accepted");
}

/* ---- a small network ------------------------------------------------------------- */

static bool have_ops(void)
{
    const char *ops[] = {"Conv", "Relu", "MaxPool", "Flatten", "Gemm", NULL};
    for (int k = 0; ops[k]; k++)
        if (!cv_op_find(ops[k]))
            return false;
    return true;
}

/* Conv 3x3, pad 1, He-uniform weights (bound sqrt(6 / fan_in)) and no
 * bias, so the signal keeps its size through the layers (netbuild's
 * smaller weights let the biases decide deep features, and the map would
 * be flat). */
static int he_conv(netbuild *nb, int x, int cin, int cout)
{
    float b = sqrtf(6.0f / (float)(cin * 9));
    cv_shape ws = {4, {cout, cin, 3, 3}};
    int in[2] = {x, nb_const(nb, &ws, -b, b)};
    int y = nb_node(nb, "Conv", in, 2);
    int64_t pads[4] = {1, 1, 1, 1}, ks[2] = {3, 3};
    cv_node_set_ints(nb->m, nb->m->n_nodes - 1, "pads", pads, 4, &nb->err);
    cv_node_set_ints(nb->m, nb->m->n_nodes - 1, "kernel_shape", ks, 2, &nb->err);
    return nb_unary(nb, "Relu", y);
}

/* VGG-shaped, 48 x 48: conv-relu x2, pool, conv-relu x2, pool, conv-relu,
 * pool, dense to 10 classes. */
static cv_model *vgg_like(void)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, 48, 48}};
    test_seed(17);
    int x = nb_begin(&nb, &xs, 13);
    x = he_conv(&nb, he_conv(&nb, x, 3, 8), 8, 8);
    x = nb_pool(&nb, "MaxPool", x, 2, 2, 0, 0, 0);
    x = he_conv(&nb, he_conv(&nb, x, 8, 16), 16, 16);
    x = nb_pool(&nb, "MaxPool", x, 2, 2, 0, 0, 0);
    x = he_conv(&nb, x, 16, 16);
    x = nb_pool(&nb, "MaxPool", x, 2, 2, 0, 0, 0);
    x = nb_gemm(&nb, x, 16 * 6 * 6, 10);
    return nb_end(&nb, x);
}

/* A smooth picture with a bright square, so the map has structure. */
static float *test_image(void)
{
    float *x = malloc(sizeof(float) * 3 * 48 * 48);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 48; i++)
            for (int j = 0; j < 48; j++) {
                float v = 0.3f * sinf(0.2f * i + c) + 0.3f * cosf(0.15f * j);
                if (i >= 14 && i < 30 && j >= 18 && j < 34)
                    v += 1.5f;
                x[(c * 48 + i) * 48 + j] = v;
            }
    return x;
}

typedef struct {
    long calls, last_done, last_total;
    int monotonic;
} progress_log;

static void on_progress(void *user, long done, long total)
{
    progress_log *l = user;
    if (done <= l->last_done)
        l->monotonic = 0;
    l->calls++;
    l->last_done = done;
    l->last_total = total;
}

static const cv_occlusion_geometry geom = {3, 48, 48, 0};

static cv_occlusion_params small_params(cv_occlusion_engine engine)
{
    cv_occlusion_params p = cv_occlusion_defaults();
    p.occ_size = 10;
    p.stride = 2; /* 20 x 20 positions */
    p.engine = engine;
    p.batch = 16;
    return p;
}

/* map (rows x cols, malloc'd) with params p; NULL after a failed check. */
static double *map_with(const cv_model *m, const float *x, const cv_occlusion_params *p, cv_occlusion_stats *stats,
                        double *engine_speedup)
{
    cv_error err;
    cv_occlusion *o;
    int rows, cols;
    if (cv_occlusion_create(&o, m, x, &geom, p, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    cv_occlusion_grid(o, &rows, &cols);
    double *map = malloc(sizeof(double) * (size_t)rows * cols);
    for (int k = 0; k < rows * cols; k++)
        map[k] = NAN; /* poison: unwritten entries show */
    if (cv_occlusion_run(o, -1, map, NULL, NULL, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        free(map);
        map = NULL;
    }
    if (stats)
        *stats = cv_occlusion_last_stats(o);
    if (engine_speedup)
        *engine_speedup = cv_occlusion_engine_speedup(o);
    cv_occlusion_free(o);
    return map;
}

/* tau 1 with drill-down off, or with the drill-down covering the whole
 * map, gives the exact map. */
static void test_exact_when_off(void)
{
    if (!have_ops())
        SKIP("operators not all available");
    cv_model *m = vgg_like();
    REQUIRE(m, "model build failed");
    float *x = test_image();
    cv_occlusion_params p = small_params(CV_OCCLUSION_ENGINE_INCREMENTAL);
    cv_occlusion_stats st;
    double *exact = map_with(m, x, &p, &st, NULL);
    REQUIRE(exact, "exact map");
    const int n = 20 * 20;
    CHECK(st.evaluated == n && !st.approximate && st.tau == 1.0, "exact run: %ld evaluated", st.evaluated);
    const struct {
        double tau;
        int coarse;
        double drill;
        const char *what;
    } cases[] = {
        {1.0, 1, 0.25, "tau 1, coarse 1 (drill-down off)"},
        {1.0, 3, 1.0, "tau 1, drill fraction 1"},
        {1.0, 1, 1.0, "tau 1, coarse 1, drill 1"},
        /* through the two passes: the drilled cells cover every position */
        {1.0, 3, (n - 0.5) / n, "tau 1, coarse 3, drill 0.99875 (two passes)"},
        {1.0, 4, (n - 0.5) / n, "tau 1, coarse 4, drill 0.99875 (two passes)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cv_occlusion_params q = p;
        q.approx.enabled = 1;
        q.approx.tau = cases[c].tau;
        q.approx.coarse_factor = cases[c].coarse;
        q.approx.drill_fraction = cases[c].drill;
        double *map = map_with(m, x, &q, &st, NULL);
        if (!map)
            continue;
        double d = max_abs_diff_d(map, exact, n);
        printf("    %-44s: %ld evaluated, max abs diff %.3g\n", cases[c].what, st.evaluated, d);
        CHECK(d <= 1e-5 && st.evaluated == n && !st.approximate, "%s: diff %g, %ld evaluated, approximate %d",
              cases[c].what, d, st.evaluated, st.approximate);
        free(map);
    }
    free(exact);
    free(x);
    cv_model_free(m);
}

/* The defaults on a VGG-shaped net: fewer positions evaluated and fewer
 * multiply-adds per position, a map close to the exact one. */
static void test_bounded_error(void)
{
    if (!have_ops())
        SKIP("operators not all available");
    cv_model *m = vgg_like();
    REQUIRE(m, "model build failed");
    float *x = test_image();
    cv_occlusion_params p = small_params(CV_OCCLUSION_ENGINE_INCREMENTAL);
    double exact_speedup, approx_speedup;
    double *exact = map_with(m, x, &p, NULL, &exact_speedup);
    REQUIRE(exact, "exact map");
    const int n = 400;
    const struct {
        double tau;
        int coarse;
        double drill;
        double min_ssim, max_mae; /* max_mae: a share of the exact map's range */
    } cases[] = {
        /* floors a little below what was measured (printed) */
        {0.8, 2, 0.1, 0.85, 0.05},  /* the defaults */
        {1.0, 3, 0.25, 0.83, 0.05}, /* drill-down alone */
        {0.5, 1, 1.0, 0.90, 0.05},  /* tau alone */
        {0.5, 3, 0.25, 0.78, 0.08}, /* faster */
    };
    cv_occlusion_params dflt = cv_occlusion_defaults();
    CHECK(dflt.approx.tau == cases[0].tau && dflt.approx.coarse_factor == cases[0].coarse &&
              dflt.approx.drill_fraction == cases[0].drill && !dflt.approx.enabled,
          "the first case should be the defaults (%g, %d, %g)", dflt.approx.tau, dflt.approx.coarse_factor,
          dflt.approx.drill_fraction);
    double lo = exact[0], hi = exact[0];
    for (int k = 1; k < n; k++)
        lo = fmin(lo, exact[k]), hi = fmax(hi, exact[k]);
    REQUIRE(hi - lo > 1e-3, "the exact map is flat (%g to %g): the test net does not see the occluder", lo, hi);
    printf("    exact map: p from %.4f to %.4f; %.2fx fewer multiply-adds than full inference\n", lo, hi,
           exact_speedup);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cv_occlusion_params q = p;
        q.approx.enabled = 1;
        q.approx.tau = cases[c].tau;
        q.approx.coarse_factor = cases[c].coarse;
        q.approx.drill_fraction = cases[c].drill;
        progress_log log = {0, 0, 0, 1};
        q.progress = on_progress;
        q.user = &log;
        cv_occlusion_stats st;
        double *map = map_with(m, x, &q, &st, &approx_speedup);
        if (!map)
            continue;
        cv_occlusion_map_error e;
        cv_error err;
        REQUIRE(cv_occlusion_compare(map, exact, 20, 20, &e, &err) == CV_OK, "%s", err.msg);
        printf("    tau %.2f coarse %d drill %.2f: %3ld of %d evaluated (%ld coarse, %ld drilled), %.2fx fewer "
               "multiply-adds per position; MAE %.4f, max %.4f, SSIM %.4f\n",
               cases[c].tau, cases[c].coarse, cases[c].drill, st.evaluated, n, st.coarse, st.drilled,
               approx_speedup / exact_speedup, e.mae, e.max_abs, e.ssim);
        CHECK(st.approximate, "not marked approximate");
        CHECK(e.ssim >= cases[c].min_ssim && e.mae <= cases[c].max_mae * (hi - lo),
              "SSIM %g (floor %g), MAE %g (ceiling %g)", e.ssim, cases[c].min_ssim, e.mae,
              cases[c].max_mae * (hi - lo));
        if (cases[c].coarse > 1) {
            CHECK(st.evaluated < n && st.coarse > 0 && st.evaluated > st.coarse &&
                      st.drilled >= (long)ceil(cases[c].drill * n) && st.drilled < n,
                  "%ld evaluated (%ld coarse), %ld drilled", st.evaluated, st.coarse, st.drilled);
            CHECK(log.monotonic && log.last_done == st.evaluated && log.last_total == st.evaluated,
                  "progress ended at %ld/%ld, %ld evaluated", log.last_done, log.last_total, st.evaluated);
        }
        if (cases[c].tau <= 0.5) /* 0.8 leaves this small net's ranges alone */
            CHECK(approx_speedup > exact_speedup, "tau %g did not cut multiply-adds (%g vs %g)", cases[c].tau,
                  approx_speedup, exact_speedup);
        free(map);
    }
    free(exact);
    free(x);
    cv_model_free(m);
}

/* Grids of one position, or too small for a coarse pass to skip much:
 * no NaN, and the exact map wherever every position gets evaluated. */
static void test_small_grids(void)
{
    if (!have_ops())
        SKIP("operators not all available");
    cv_model *m = vgg_like();
    REQUIRE(m, "model build failed");
    float *x = test_image();
    const struct {
        int occ, stride;
    } grids[] = {{48, 5}, {40, 8}, {40, 3}, {30, 1}};
    for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
        cv_occlusion_params p = small_params(CV_OCCLUSION_ENGINE_INCREMENTAL);
        p.occ_size = grids[g].occ;
        p.stride = grids[g].stride;
        int rows, cols;
        cv_error err;
        REQUIRE(cv_occlusion_grid_size(&geom, p.occ_size, p.stride, &rows, &cols, &err) == CV_OK, "%s", err.msg);
        double *exact = map_with(m, x, &p, NULL, NULL);
        p.approx.enabled = 1;
        p.approx.tau = 1.0;
        p.approx.coarse_factor = 3;
        p.approx.drill_fraction = 0.1;
        cv_occlusion_stats st;
        double *map = map_with(m, x, &p, &st, NULL);
        REQUIRE(exact && map, "maps");
        int nan = 0;
        for (int k = 0; k < rows * cols; k++)
            nan += !isfinite(map[k]);
        double d = max_abs_diff_d(map, exact, (size_t)rows * cols);
        printf("    %2d x %2d grid: %3ld evaluated (%ld coarse), max abs diff to exact %.3g\n", rows, cols, st.evaluated,
               st.coarse, d);
        CHECK(nan == 0, "%d values are not finite", nan);
        if (st.evaluated == (long)rows * cols)
            CHECK(d <= 1e-5 && !st.approximate, "all evaluated, yet differs by %g", d);
        free(exact);
        free(map);
    }
    free(x);
    cv_model_free(m);
}

/* Full inference cannot cap the projective field: only the drill-down
 * approximates, and it picks the same positions as the incremental engine
 * with tau 1. */
static void test_full_engine_drill_only(void)
{
    if (!have_ops())
        SKIP("operators not all available");
    cv_model *m = vgg_like();
    REQUIRE(m, "model build failed");
    float *x = test_image();
    cv_occlusion_params p = small_params(CV_OCCLUSION_ENGINE_FULL);
    p.approx.enabled = 1;
    cv_occlusion_stats sf, si;
    double *full = map_with(m, x, &p, &sf, NULL);
    p.engine = CV_OCCLUSION_ENGINE_INCREMENTAL;
    p.approx.tau = 1.0;
    double *incr = map_with(m, x, &p, &si, NULL);
    REQUIRE(full && incr, "maps");
    double d = max_abs_diff_d(full, incr, 400);
    printf("    full engine, approx: tau in effect %g, %ld evaluated; vs incremental with tau 1: max abs diff %.3g\n",
           sf.tau, sf.evaluated, d);
    CHECK(sf.tau == 1.0 && sf.approximate && sf.evaluated == si.evaluated, "tau %g, %ld vs %ld evaluated", sf.tau,
          sf.evaluated, si.evaluated);
    CHECK(d <= 1e-5, "full and incremental drill-down differ by %g", d);
    free(full);
    free(incr);
    free(x);
    cv_model_free(m);
}

static void test_bad_options(void)
{
    if (!have_ops())
        SKIP("operators not all available");
    cv_model *m = vgg_like();
    REQUIRE(m, "model build failed");
    float *x = test_image();
    const struct {
        double tau;
        int coarse;
        double drill;
        const char *expect;
    } bad[] = {
        {0.0, 3, 0.25, "tau"},     {-0.5, 3, 0.25, "tau"},   {1.5, 3, 0.25, "tau"},  {NAN, 3, 0.25, "tau"},
        {0.5, 0, 0.25, "coarse"},  {0.5, -2, 0.25, "coarse"}, {0.5, 3, 0.0, "drill"}, {0.5, 3, 1.2, "drill"},
        {0.5, 3, -0.1, "drill"},   {0.5, 3, NAN, "drill"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cv_occlusion_params p = small_params(CV_OCCLUSION_ENGINE_AUTO);
        p.approx.enabled = 1;
        p.approx.tau = bad[k].tau;
        p.approx.coarse_factor = bad[k].coarse;
        p.approx.drill_fraction = bad[k].drill;
        cv_occlusion *o = NULL;
        cv_error err;
        cv_status st = cv_occlusion_create(&o, m, x, &geom, &p, &err);
        printf("    tau %g coarse %d drill %g -> %s\n", bad[k].tau, bad[k].coarse, bad[k].drill,
               st == CV_OK ? "accepted" : err.msg);
        CHECK(st == CV_ERR_INVALID && strstr(err.msg, bad[k].expect), "status %d: %s", st,
              st == CV_OK ? "" : err.msg);
        cv_occlusion_free(o);
        /* ignored while approximate mode is off */
        p.approx.enabled = 0;
        st = cv_occlusion_create(&o, m, x, &geom, &p, &err);
        CHECK(st == CV_OK, "approx off, yet refused: %s", err.msg);
        cv_occlusion_free(o);
    }
    free(x);
    cv_model_free(m);
}

/* cv_incr with a field cap: tau 1 is the default and exact; a smaller tau
 * cuts multiply-adds; out-of-range caps are refused. */
static void test_incr_field_cap(void)
{
    if (!have_ops())
        SKIP("operators not all available");
    cv_model *m = vgg_like();
    REQUIRE(m, "model build failed");
    float *x = test_image();
    cv_shape xs = {4, {1, 3, 48, 48}};
    int py[2] = {10, 0}, px[2] = {12, 38};
    float patches[2 * 3 * 10 * 10] = {0};
    double bound[3], out[3][10];
    const double caps[3] = {1.0, 0.5, 0.25};
    for (int c = 0; c < 3; c++) {
        cv_incr_options io = cv_incr_defaults();
        CHECK(io.field_cap == 1.0 && io.max_batch == 1, "defaults %g %d", io.field_cap, io.max_batch);
        io.max_batch = 2;
        io.field_cap = caps[c];
        cv_incr *ic = NULL;
        cv_error err;
        const cv_tensor *y;
        REQUIRE(cv_incr_create(&ic, m, &xs, x, &(cv_incr_patches){2, py, px, 10, 10}, &io, &err) == CV_OK, "%s", err.msg);
        REQUIRE(cv_incr_run(ic, 0, 2, patches, &y, &err) == CV_OK, "%s", err.msg);
        memcpy(out[c], y->f, sizeof out[c]);
        bound[c] = cv_incr_speedup_bound(ic);
        cv_incr_free(ic);
    }
    float d1 = 0, d2 = 0;
    for (int k = 0; k < 10; k++) {
        d1 = fmaxf(d1, fabsf((float)(out[1][k] - out[0][k])));
        d2 = fmaxf(d2, fabsf((float)(out[2][k] - out[0][k])));
    }
    printf("    multiply-add bound: tau 1 %.2fx, 0.5 %.2fx, 0.25 %.2fx; output change vs tau 1: %.3g, %.3g\n",
           bound[0], bound[1], bound[2], d1, d2);
    CHECK(bound[1] > bound[0] && bound[2] > bound[1], "smaller tau should mean less work");
    CHECK(d2 > 0, "tau 0.25 changed nothing: the cap is not applied");
    const double bad[] = {0.0, -1.0, 1.01, NAN};
    for (int k = 0; k < 4; k++) {
        cv_incr_options io = cv_incr_defaults();
        io.field_cap = bad[k];
        cv_incr *ic = NULL;
        cv_error err;
        CHECK(cv_incr_create(&ic, m, &xs, x, &(cv_incr_patches){2, py, px, 10, 10}, &io, &err) == CV_ERR_INVALID, "cap %g accepted",
              bad[k]);
        if (k == 0)
            printf("    %s\n", err.msg);
        cv_incr_free(ic);
    }
    free(x);
    cv_model_free(m);
}

/* SqueezeNet on the bus (../shared): the approximate map at the defaults
 * against the exact one, at stride 8 (24 x 24 positions) to stay quick. */
static void test_squeezenet(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("../shared is absent (needs SqueezeNet and bus.jpg)");
    cv_error err;
    cv_model *m;
    float *x;
    REQUIRE(test_squeezenet_bus(shared, true, &m, &x, &err) == CV_OK, "%s", err.msg);
    cv_occlusion_geometry g = {3, 224, 224, 0};
    cv_occlusion_params p = cv_occlusion_defaults();
    p.stride = 8;
    p.engine = CV_OCCLUSION_ENGINE_INCREMENTAL;
    int rows, cols;
    REQUIRE(cv_occlusion_grid_size(&g, p.occ_size, p.stride, &rows, &cols, &err) == CV_OK, "%s", err.msg);
    double *exact = malloc(sizeof(double) * rows * cols), *approx = malloc(sizeof(double) * rows * cols);
    REQUIRE(cv_occlusion_map(m, x, &g, &p, exact, &err) == CV_OK, "%s", err.msg);
    p.approx.enabled = 1;
    cv_occlusion *o;
    REQUIRE(cv_occlusion_create(&o, m, x, &g, &p, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_occlusion_run(o, -1, approx, NULL, NULL, &err) == CV_OK, "%s", err.msg);
    cv_occlusion_stats st = cv_occlusion_last_stats(o);
    cv_occlusion_free(o);
    cv_occlusion_map_error e;
    REQUIRE(cv_occlusion_compare(approx, exact, rows, cols, &e, &err) == CV_OK, "%s", err.msg);
    printf("    SqueezeNet, bus, %d x %d positions (stride 8), defaults tau %g coarse %d drill %g: %ld evaluated; "
           "approximate vs exact MAE %.3g, max %.3g, SSIM %.4f\n",
           rows, cols, p.approx.tau, p.approx.coarse_factor, p.approx.drill_fraction, st.evaluated, e.mae,
           e.max_abs, e.ssim);
    CHECK(e.ssim >= 0.9, "SSIM %g below 0.9", e.ssim);
    free(exact);
    free(approx);
    free(x);
    cv_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    RUN(test_ssim_by_hand);
    RUN(test_ssim_properties);
    RUN(test_incr_field_cap);
    RUN(test_exact_when_off);
    RUN(test_bounded_error);
    RUN(test_small_grids);
    RUN(test_full_engine_drill_only);
    RUN(test_bad_options);
    RUN(test_squeezenet);
    return test_summary("occlusion_approx");
}
