/* Whole networks against PyTorch reference tensors; see netref.h. */
#include "netref.h"
#include "cnnviz_io.h"
#include "test.h"
#include <math.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* dir + "/" + rel into out (rel unchanged when dir is empty). */
static void join(char *out, size_t len, const char *dir, const char *rel)
{
    if (!dir[0] || rel[0] == '/')
        snprintf(out, len, "%s", rel);
    else
        snprintf(out, len, "%s/%s", dir, rel);
}

int netref_read_manifest(const char *path, netref_case **cases, char *msg, size_t msg_len)
{
    *cases = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msg_len, "%s: cannot open", path);
        return -1;
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        dir[0] = 0;
    int n = 0, cap = 0, lineno = 0;
    netref_case *cs = NULL;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == 0)
            continue;
        char model[400], input[400], output[400], tensor[400], grad[400];
        int batch, channel;
        if (sscanf(p, "%399s %399s %d %399s %399s %d %399s", model, input, &batch, output, tensor,
                   &channel, grad) != 7 || batch < 1 || channel < 0) {
            snprintf(msg, msg_len, "%s:%d: expected MODEL INPUT BATCH OUTPUT GRAD_TENSOR CHANNEL GRAD",
                     path, lineno);
            free(cs);
            fclose(f);
            return -1;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            netref_case *grown = realloc(cs, (size_t)cap * sizeof *cs);
            if (!grown) {
                snprintf(msg, msg_len, "out of memory");
                free(cs);
                fclose(f);
                return -1;
            }
            cs = grown;
        }
        netref_case *c = &cs[n++];
        join(c->model, sizeof c->model, dir, model);
        join(c->input, sizeof c->input, dir, input);
        join(c->output, sizeof c->output, dir, output);
        snprintf(c->tensor, sizeof c->tensor, "%s", tensor);
        join(c->grad, sizeof c->grad, dir, grad);
        c->batch = batch;
        c->channel = channel;
    }
    fclose(f);
    *cases = cs;
    return n;
}

/* Index of the largest of n values. */
static size_t argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (x[k] > x[best])
            best = k;
    return best;
}

static void check_forward(const netref_case *c, const cv_model *m, const cv_shape *in_shape,
                          const float *input, double tol)
{
    cv_error err;
    cv_shape ref_shape;
    float *ref = NULL;
    cv_run *run = NULL;
    REQUIRE(cv_npy_read(c->output, &ref_shape, &ref, &err) == CV_OK, "%s", err.msg);
    cv_status st = cv_run_create(&run, m, in_shape, NULL, &err);
    CHECK(st == CV_OK, "plan: %s", err.msg);
    double t0 = now_s();
    if (st == CV_OK && (st = cv_run_forward(run, input, &err)) != CV_OK)
        CHECK(0, "forward: %s", err.msg);
    double t1 = now_s();
    const cv_tensor *y = st == CV_OK ? cv_run_output(run, 0) : NULL;
    size_t n = cv_shape_numel(&ref_shape);
    if (y) {
        char a[160], b[160];
        CHECK(cv_shape_numel(&y->shape) == n && y->shape.d[0] == ref_shape.d[0],
              "output %s, PyTorch %s", cv_shape_str(&y->shape, a, sizeof a), cv_shape_str(&ref_shape, b, sizeof b));
    }
    if (y && !test_failed_now) {
        double abs_err = test_max_abs_diff(y->f, ref, n), rel = test_max_rel_diff(y->f, ref, n);
        printf("    forward %s batch %d: max abs diff %.3g, rel %.3g, %.1f ms\n", c->model, c->batch, abs_err,
               rel, 1e3 * (t1 - t0));
        CHECK(rel <= tol, "output differs from PyTorch: rel max err %.3g > %.0e", rel, tol);
        /* Same top class per item, unless PyTorch's top two are closer than the tolerance. */
        size_t items = (size_t)ref_shape.d[0], per = n / items;
        double scale = 0;
        for (size_t k = 0; k < n; k++)
            scale = fmax(scale, fabs(ref[k]));
        for (size_t i = 0; i < items; i++) {
            size_t want = argmax(ref + i * per, per), got = argmax(y->f + i * per, per);
            CHECK(want == got || ref[i * per + got] >= ref[i * per + want] - 2 * tol * scale,
                  "item %zu: argmax %zu, PyTorch %zu (%g vs %g)", i, got, want,
                  (double)ref[i * per + got], (double)ref[i * per + want]);
        }
    }
    cv_run_free(run);
    free(ref);
}

/* Input gradient of mean(L[:, channel]) by the engine, its convolutions
 * computed as algo says, compared with PyTorch's: max |a-b| / max |b| into *rel_max and ||a-b|| / ||b|| into
 * *rel_l2. Returns 0, or -1 after a failed CHECK (plan, run, shapes). */
static int grad_errors(const netref_case *c, const char *ref_path, const cv_model *m, const cv_shape *in_shape,
                       const float *input, cv_conv_algo algo, const char *how, double *rel_max, double *rel_l2)
{
    cv_error err;
    cv_shape ref_shape;
    float *ref = NULL, *seed = NULL;
    cv_run *run = NULL;
    int layer = cv_model_find_layer(m, c->tensor, &err), ok = -1;
    CHECK(layer >= 0, "%s", err.msg);
    if (layer < 0)
        return -1;
    if (cv_npy_read(ref_path, &ref_shape, &ref, &err) != CV_OK) {
        CHECK(0, "%s", err.msg);
        return -1;
    }
    cv_run_options opt = cv_run_defaults();
    opt.stop_layer = layer;
    opt.need_grad = 1;
    opt.conv_algo = algo;
    const cv_tensor *t = NULL;
    char s[160];
    if (cv_run_create(&run, m, in_shape, &opt, &err) != CV_OK)
        CHECK(0, "plan to layer '%s': %s", c->tensor, err.msg);
    else if (cv_run_forward(run, input, &err) != CV_OK)
        CHECK(0, "forward to layer '%s': %s", c->tensor, err.msg);
    else if (!(t = cv_run_output(run, 0)) || t->shape.ndim != 4 || c->channel >= t->shape.d[1])
        CHECK(0, "layer '%s' output %s has no channel %d", c->tensor,
              t ? cv_shape_str(&t->shape, s, sizeof s) : "(none)", c->channel);
    else if (cv_shape_numel(&ref_shape) != cv_shape_numel(in_shape))
        CHECK(0, "gradient reference has %zu values, input %zu", cv_shape_numel(&ref_shape),
              cv_shape_numel(in_shape));
    else {
        /* seed = d mean(L[:, k]) / dL: 1/(N*H*W) on channel k, 0 elsewhere. */
        size_t n = cv_shape_numel(&t->shape), plane = (size_t)(t->shape.d[2] * t->shape.d[3]);
        size_t ch = (size_t)t->shape.d[1], in_n = cv_shape_numel(in_shape);
        seed = calloc(n, sizeof(float));
        CHECK(seed != NULL, "out of memory");
        const float *g = NULL;
        double t0 = now_s();
        if (seed) {
            float v = (float)(1.0 / ((double)t->shape.d[0] * (double)plane));
            for (size_t i = 0; i < (size_t)t->shape.d[0]; i++)
                for (size_t p = 0; p < plane; p++)
                    seed[(i * ch + (size_t)c->channel) * plane + p] = v;
            if (cv_run_backward(run, layer, seed, &g, &err) != CV_OK)
                CHECK(0, "backward from '%s': %s", c->tensor, err.msg);
        }
        double t1 = now_s();
        if (g) {
            double d2 = 0, r2 = 0;
            for (size_t k = 0; k < in_n; k++) {
                double d = (double)g[k] - (double)ref[k];
                d2 += d * d;
                r2 += (double)ref[k] * ref[k];
            }
            *rel_max = test_max_rel_diff(g, ref, in_n);
            *rel_l2 = sqrt(d2) / (sqrt(r2) + 1e-30);
            printf("    gradient of mean(%s[:, %d])%s: max abs diff %.3g, rel %.3g, rel L2 %.3g, %.1f ms\n",
                   c->tensor, c->channel, how, test_max_abs_diff(g, ref, in_n), *rel_max, *rel_l2,
                   1e3 * (t1 - t0));
            ok = 0;
        }
    }
    free(seed);
    cv_run_free(run);
    free(ref);
    return ok;
}

static double kink_l2_tol;

void netref_set_kink_tolerance(double l2_tol) { kink_l2_tol = l2_tol; }

/* The gradient check proper; see netref_set_kink_tolerance for the second chance. */
static void check_grad(const netref_case *c, const cv_model *m, const cv_shape *in_shape,
                       const float *input, double tol)
{
    double rel, l2;
    if (grad_errors(c, c->grad, m, in_shape, input, CV_CONV_AUTO, "", &rel, &l2) != 0 || rel <= tol)
        return;
    /* A float64 gradient beside the float32 one (torchvision fixtures):
     * hold cnnviz to PyTorch's own float32 accuracy, i.e. pass when cnnviz
     * is at most twice as far from the float64 gradient as PyTorch is. */
    char p64[sizeof c->grad + 8];
    size_t n = strlen(c->grad);
    if (n > 4 && strcmp(c->grad + n - 4, ".npy") == 0) {
        snprintf(p64, sizeof p64, "%.*s64.npy", (int)(n - 4), c->grad);
        cv_shape s32, s64;
        float *g32 = NULL, *g64 = NULL;
        cv_error err;
        if (cv_npy_read(p64, &s64, &g64, &err) == CV_OK && cv_npy_read(c->grad, &s32, &g32, &err) == CV_OK &&
            cv_shape_numel(&s32) == cv_shape_numel(&s64)) {
            double torch_rel = test_max_rel_diff(g32, g64, cv_shape_numel(&s32)), rel64, l2b;
            free(g32);
            free(g64);
            if (grad_errors(c, p64, m, in_shape, input, CV_CONV_AUTO, " vs PyTorch float64", &rel64, &l2b) != 0)
                return;
            double bar = 2 * torch_rel > tol ? 2 * torch_rel : tol;
            printf("    PyTorch float32 vs float64: rel max err %.3g; cnnviz vs float64: %.3g (bar %.3g)\n",
                   torch_rel, rel64, bar);
            if (rel64 > bar) {
                /* Winograd rounds ~30x coarser than im2col; through a deep
                 * ReLU net that flips more near-zero units. The exact
                 * algorithm must meet the bar; the note records the gap. */
                double rel_im, l2_im;
                int r = grad_errors(c, p64, m, in_shape, input, CV_CONV_IM2COL, " vs float64, im2col convs", &rel_im,
                                    &l2_im);
                if (r != 0)
                    return;
                printf("    note: with Winograd convs %.3g, with im2col %.3g from the float64 gradient\n", rel64,
                       rel_im);
                rel64 = rel_im;
            }
            CHECK(rel64 <= bar, "input gradient: cnnviz is %.3g from the float64 gradient, PyTorch float32 %.3g",
                  rel64, torch_rel);
            return;
        }
        free(g32);
        free(g64);
    }
    if (kink_l2_tol <= 0 || l2 > kink_l2_tol) {
        CHECK(0, "input gradient differs from PyTorch: rel max err %.3g > %.0e", rel, tol);
        return;
    }
    double rel2, l2b;
    int r = grad_errors(c, c->grad, m, in_shape, input, CV_CONV_IM2COL, " with im2col convs", &rel2, &l2b);
    if (r != 0)
        return;
    CHECK(rel2 <= tol, "input gradient differs from PyTorch: rel max err %.3g > %.0e (%.3g with im2col convs)",
          rel, tol, rel2);
    if (rel2 <= tol)
        printf("    note: rel max err %.3g > %.0e with the default conv algorithms but %.3g with im2col: "
               "the difference is the fast convolution's rounding (a ReLU input near 0 changing sign), "
               "not a wrong gradient\n", rel, tol, rel2);
}

void netref_check(const netref_case *c, double out_tol, double grad_tol)
{
    cv_error err;
    cv_model *m = NULL;
    cv_shape xs;
    float *x = NULL;
    REQUIRE(cv_model_load(&m, c->model, NULL, &err) == CV_OK, "%s", err.msg);
    if (cv_npy_read(c->input, &xs, &x, &err) != CV_OK) {
        cv_model_free(m);
        REQUIRE(0, "%s", err.msg);
    }
    if (xs.ndim < 1 || xs.d[0] < c->batch) {
        char s[160];
        CHECK(0, "%s: shape %s has fewer than %d items", c->input, cv_shape_str(&xs, s, sizeof s), c->batch);
    } else {
        xs.d[0] = c->batch; /* items are contiguous: feed the leading ones */
        check_forward(c, m, &xs, x, out_tol);
        if (strcmp(c->tensor, "-") != 0) {
            int failed = test_failed_now;
            test_failed_now = 0; /* check the gradient even when the forward failed */
            check_grad(c, m, &xs, x, grad_tol);
            test_failed_now |= failed;
        }
    }
    free(x);
    cv_model_free(m);
}

static const netref_case *current;
static double current_out_tol, current_grad_tol;

static void run_current(void) { netref_check(current, current_out_tol, current_grad_tol); }

static char manifest_msg[1024];
static void manifest_missing(void) { CHECK(0, "%s", manifest_msg); }

int netref_run_manifest(const char *path, const char *label, double out_tol, double grad_tol)
{
    netref_case *cs;
    int n = netref_read_manifest(path, &cs, manifest_msg, sizeof manifest_msg);
    if (n < 0) {
        test_run(path, manifest_missing);
        return 0;
    }
    /* Name tests by the model path relative to the manifest's folder. */
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    for (int k = 0; k < n; k++) {
        const char *rel = cs[k].model + (strncmp(cs[k].model, path, dir_len) == 0 ? dir_len : 0);
        char name[700];
        snprintf(name, sizeof name, "%s%s%s batch %d, d %s", label ? label : "", label ? "/" : "", rel,
                 cs[k].batch, cs[k].tensor);
        current = &cs[k];
        current_out_tol = out_tol;
        current_grad_tol = grad_tol;
        test_run(name, run_current);
    }
    free(cs);
    return n;
}
