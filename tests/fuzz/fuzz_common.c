/* What the fuzz harnesses share: scratch files, invariant checks, and
 * running a loaded model within a time and memory budget. See fuzz.h. */
#include "fuzz.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define CV_FUZZ_SLOTS 4

static int slot_fd[CV_FUZZ_SLOTS] = {-1, -1, -1, -1};
static char slot_path[CV_FUZZ_SLOTS][300];
static char scratch_dir[256];

void cv_fuzz_invariant(const char *what, const char *detail)
{
    fprintf(stderr, "cnnviz fuzz: invariant broken: %s: %s\n", what, detail ? detail : "");
    abort();
}

static void remove_scratch(void)
{
    for (int k = 0; k < CV_FUZZ_SLOTS; k++)
        if (slot_fd[k] >= 0) {
            close(slot_fd[k]);
            unlink(slot_path[k]);
        }
    if (scratch_dir[0])
        rmdir(scratch_dir);
}

/* A private directory for the scratch files, in memory where possible
 * (/dev/shm): a fuzzer rewrites them hundreds of times a second. Real
 * files rather than memfds, because libhdf5 resolves the path it is given
 * and cannot open /proc/self/fd/N. */
static void make_scratch_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    const char *cands[] = {"/dev/shm", tmp && *tmp ? tmp : "/tmp", "/tmp"};
    for (size_t k = 0; k < sizeof cands / sizeof cands[0]; k++) {
        snprintf(scratch_dir, sizeof scratch_dir, "%.200s/cnnviz-fuzz-XXXXXX", cands[k]);
        if (mkdtemp(scratch_dir)) {
            atexit(remove_scratch);
            return;
        }
    }
    scratch_dir[0] = 0;
    cv_fuzz_invariant("cannot create a scratch directory", cands[1]);
}

const char *cv_fuzz_file(int slot, const uint8_t *data, size_t size)
{
    if (slot < 0 || slot >= CV_FUZZ_SLOTS)
        cv_fuzz_invariant("scratch slot out of range", NULL);
    if (!scratch_dir[0])
        make_scratch_dir();
    if (slot_fd[slot] < 0) {
        snprintf(slot_path[slot], sizeof slot_path[slot], "%s/input%d", scratch_dir, slot);
        slot_fd[slot] = open(slot_path[slot], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (slot_fd[slot] < 0)
            cv_fuzz_invariant("cannot create a scratch file", slot_path[slot]);
    }
    int fd = slot_fd[slot];
    if (ftruncate(fd, 0) != 0)
        cv_fuzz_invariant("cannot truncate a scratch file", slot_path[slot]);
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            cv_fuzz_invariant("cannot write a scratch file", slot_path[slot]);
        done += (size_t)n;
    }
    return slot_path[slot];
}

const char *cv_fuzz_root(void)
{
    const char *r = getenv("CNNVIZ_FUZZ_ROOT");
    return r && *r ? r : ".";
}

void cv_fuzz_check_error(cv_status st, const cv_error *err, const char *what)
{
    if (st == CV_OK)
        return;
    if (st < CV_ERR_IO || st > CV_ERR_LIMIT)
        cv_fuzz_invariant(what, "unknown status");
    if (err->status != st)
        cv_fuzz_invariant(what, "returned status differs from err->status");
    if (!memchr(err->msg, '\0', sizeof err->msg) || err->msg[0] == '\0')
        cv_fuzz_invariant(what, "failure without a message");
    if (getenv("CNNVIZ_FUZZ_VERBOSE"))
        fprintf(stderr, "      %s: %s\n", what, err->msg);
}

/* Read every element of a tensor, so a buffer shorter than its shape
 * shows up under AddressSanitizer (and uninitialised data under valgrind). */
static double touch(const cv_tensor *t)
{
    size_t n = cv_shape_numel(&t->shape);
    double s = 0;
    if (n == 0)
        return 0;
    if (t->dtype == CV_I64) {
        if (!t->i)
            cv_fuzz_invariant("run output", "int64 output without data");
        for (size_t k = 0; k < n; k++)
            s += (double)t->i[k];
    } else {
        if (!t->f)
            cv_fuzz_invariant("run output", "float output without data");
        for (size_t k = 0; k < n; k++)
            s += t->f[k];
    }
    return s;
}

static void read_accessors(cv_model *m)
{
    volatile size_t sink = 0;
    if (!cv_model_path(m) || !cv_model_input_name(m))
        cv_fuzz_invariant("model", "NULL path or input name");
    sink += (size_t)cv_model_num_outputs(m) + (size_t)cv_model_input_nhwc(m);
    const char *meta = cv_model_meta(m, "labels");
    sink += meta ? strlen(meta) : 0;
    int nl = cv_model_num_layers(m);
    for (int k = 0; k < nl; k++) {
        const char *name = cv_model_layer_name(m, k), *op = cv_model_layer_op(m, k);
        const char *out = cv_model_layer_output(m, k);
        if (!name || !op || !out)
            cv_fuzz_invariant("model", "NULL layer name, op or output");
        sink += strlen(name) + strlen(op) + strlen(out) + cv_model_layer_params(m, k);
    }
    cv_error err;
    if (nl > 0 && cv_model_find_layer(m, cv_model_layer_name(m, nl - 1), &err) < 0)
        cv_fuzz_invariant("cv_model_find_layer", "a listed layer name is not found");
    if (cv_model_find_layer(m, "\x01no such layer", &err) >= 0 || !err.msg[0])
        cv_fuzz_invariant("cv_model_find_layer", "a missing layer found or not reported");
    (void)sink;
}

/* A concrete input shape from the declared one: unknown dimensions become
 * 1 (batch) or 8, and with shrink, spatial sizes are cut to 16 so that a
 * model declared for 224 x 224 still runs within the budget (models that
 * need their exact size then fail to plan, which is fine). */
static cv_shape pick_shape(const cv_model *m, int shrink)
{
    cv_shape s = cv_model_input_shape(m);
    int nhwc = cv_model_input_nhwc(m);
    if (s.ndim == 0) {
        cv_shape d = {4, {1, 3, 8, 8}};
        if (nhwc) {
            d.d[1] = d.d[2] = 8;
            d.d[3] = 3;
        }
        return d;
    }
    for (int k = 0; k < s.ndim; k++) {
        if (s.d[k] < 1)
            s.d[k] = k == 0 ? 1 : 8;
        bool spatial = s.ndim == 4 && k >= 1 && k != (nhwc ? 3 : 1);
        if (shrink && (spatial || k == 0) && s.d[k] > (k == 0 ? 1 : 16))
            s.d[k] = k == 0 ? 1 : 16;
    }
    return s;
}

static bool try_run(cv_model *m, const cv_shape *in_shape, int with_grad, uint32_t seed)
{
    size_t n = cv_shape_numel(in_shape);
    if (n == 0 || n > CV_FUZZ_MAX_INPUT)
        return false;
    int nl = cv_model_num_layers(m);
    cv_run_options opt = cv_run_defaults();
    opt.need_grad = with_grad;
    if (with_grad && nl > 0 && (seed & 4))
        opt.stop_layer = (int)(seed % (uint32_t)nl);
    cv_run *r;
    cv_error err;
    cv_status st = cv_run_create(&r, m, in_shape, &opt, &err);
    if (st != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_run_create");
        return false;
    }
    double macs = 0;
    for (int k = 0; k < nl; k++) {
        macs += cv_run_layer_macs(r, k);
        cv_shape ls = cv_run_layer_shape(r, k);
        (void)ls;
    }
    if (!(macs <= CV_FUZZ_MAX_MACS)) {
        cv_run_free(r);
        return false;
    }
    float *x = malloc(n * sizeof(float));
    if (!x)
        cv_fuzz_invariant("harness", "out of memory for the input");
    uint32_t h = seed * 2654435761u + 1;
    for (size_t k = 0; k < n; k++) {
        h ^= h << 13;
        h ^= h >> 17;
        h ^= h << 5;
        x[k] = (float)(h % 2001) / 1000.0f - 1.0f;
    }
    if ((st = cv_run_forward(r, x, &err)) != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_run_forward");
    } else {
        volatile double sink = 0;
        for (int k = 0; cv_run_output(r, k); k++)
            sink += touch(cv_run_output(r, k));
        int layer = opt.stop_layer >= 0 ? opt.stop_layer : nl - 1;
        cv_shape ts = layer >= 0 ? cv_run_layer_shape(r, layer) : (cv_shape){0, {0}};
        size_t tn = cv_shape_numel(&ts);
        if (with_grad && ts.ndim > 0 && tn > 0) {
            float *seed_grad = malloc(tn * sizeof(float));
            if (!seed_grad)
                cv_fuzz_invariant("harness", "out of memory for the gradient seed");
            for (size_t k = 0; k < tn; k++)
                seed_grad[k] = 1.0f;
            const float *g = NULL;
            st = cv_run_backward(r, layer, seed_grad, &g, &err);
            if (st != CV_OK)
                cv_fuzz_check_error(st, &err, "cv_run_backward");
            else if (!g)
                cv_fuzz_invariant("cv_run_backward", "success without an input gradient");
            else
                for (size_t k = 0; k < n; k++)
                    sink += g[k];
            free(seed_grad);
        }
        (void)sink;
    }
    free(x);
    cv_run_free(r);
    return true;
}

void cv_fuzz_exercise_model(cv_model *m, int with_grad, uint32_t seed)
{
    read_accessors(m);
    cv_shape s = pick_shape(m, 0);
    if (!try_run(m, &s, with_grad, seed)) {
        cv_shape small = pick_shape(m, 1);
        if (!cv_shape_equal(&small, &s))
            try_run(m, &small, with_grad, seed);
    }
}
