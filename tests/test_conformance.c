/* ONNX's own backend tests (Debian's libonnx-testdata): each case is a
 * directory with model.onnx and test_data_set_N/{input,output}_K.pb.
 *
 * For every case whose operators are all in cnnviz's registry and whose
 * first input is float32, the other inputs are bound as constants (the
 * engine has one real input), the model runs, and every output is compared
 * with the expected one: |got - want| <= 1e-5 + 1e-4 |want|. A missing
 * operator is a skip, never a failure; a supported operator giving a wrong
 * answer (or a loader error) is a failure.
 *
 * Each case runs in a child process, so a crash or a hang in one operator
 * shows up as that case failing while the rest still run. Set
 * CNNVIZ_CONFORMANCE_FILTER=substring to run only matching cases. */
#include "../src/core/loaders.h"
#include "lib/test.h"
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA_ROOT "/usr/share/libonnx-testdata/data"
#define RTOL 1e-4
#define ATOL 1e-5
#define CASE_SECONDS 60

/* Cases known to fail, each with the reason (reported to the operator's
 * owner). They print as XFAIL and do not fail the run; one that starts
 * passing prints XPASS so the entry can go. */
static const struct {
    const char *name;
    const char *why;
} known_failures[] = {
    /* The installed test data (onnx 1.12) truncates to bfloat16; cnnviz
     * rounds to nearest-even as onnx's own helper, PyTorch and onnx >= 1.14
     * do, so these expected values are off by one bfloat16 ulp. */
    {"node/test_cast_FLOAT_to_BFLOAT16", "test data truncates to bfloat16; cnnviz rounds to nearest-even"},
    {"node/test_castlike_FLOAT_to_BFLOAT16_expanded", "test data truncates to bfloat16; cnnviz rounds to nearest-even"},
    {NULL, NULL},
};

static const char *known_failure(const char *name)
{
    for (size_t k = 0; known_failures[k].name; k++)
        if (strcmp(known_failures[k].name, name) == 0)
            return known_failures[k].why;
    return NULL;
}

/* ---- counts ---------------------------------------------------------------- */

typedef struct {
    int ran, passed, failed, xfailed, xpassed;
    int skip_op, skip_input, skip_other;
    /* distinct unsupported operators and how many cases each blocks */
    char *ops[512];
    int op_cases[512];
    int n_ops;
    int printed_skips;
} tally;

static void note_unsupported(tally *t, const char *op)
{
    for (int k = 0; k < t->n_ops; k++)
        if (strcmp(t->ops[k], op) == 0) {
            t->op_cases[k]++;
            return;
        }
    if (t->n_ops < 512) {
        t->ops[t->n_ops] = strdup(op);
        t->op_cases[t->n_ops++] = 1;
    }
}

/* ---- one case, in the child ---------------------------------------------------- */

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Value k of a tensor as a double, whatever its dtype. */
static double at(cv_dtype dt, const void *data, size_t k)
{
    return dt == CV_I64 ? (double)((const int64_t *)data)[k] : (double)((const float *)data)[k];
}

/* Runs data set `set` of the case; writes a one-line verdict into msg.
 * Returns 'P' (pass), 'F' (fail) or 'S' (skip: something unsupported). */
static char run_set(const char *dir, const char *set, const cv_onnx_info *info, char *msg, size_t len)
{
    char path[2048], model[2048];
    int n = info->n_inputs;
    cv_dtype dt[64];
    cv_shape sh[64];
    void *data[64] = {0};
    cv_error err;
    char verdict = 'P';
    cv_model *m = NULL;
    cv_run *r = NULL;
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    if (n > 64) {
        snprintf(msg, len, "%d inputs", n);
        return 'S';
    }
    for (int k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/%s/input_%d.pb", dir, set, k);
        cv_status st = cv_onnx_read_tensor(path, &dt[k], &sh[k], &data[k], &err);
        if (st != CV_OK) {
            snprintf(msg, len, "%s", err.msg);
            verdict = st == CV_ERR_UNSUPPORTED ? 'S' : 'F';
            goto out;
        }
    }
    if (cv_shape_numel(&sh[0]) == 0) {
        /* cv_run_create refuses empty inputs by design: nothing to visualize */
        snprintf(msg, len, "empty input");
        verdict = 'S';
        goto out;
    }
    cv_status st = cv_load_onnx_bound(&m, model, NULL, n - 1, (const char *const *)info->inputs + 1, dt + 1,
                                      sh + 1, (const void *const *)data + 1, &err);
    if (st == CV_OK) {
        cv_run_options opt = cv_run_defaults();
        st = cv_run_create(&r, m, &sh[0], &opt, &err);
    }
    if (st == CV_OK)
        st = cv_run_forward(r, data[0], &err);
    if (st != CV_OK) {
        snprintf(msg, len, "%s", err.msg);
        verdict = st == CV_ERR_UNSUPPORTED ? 'S' : 'F';
        goto out;
    }
    double worst = 0;
    int n_out = 0;
    for (int k = 0;; k++) {
        snprintf(path, sizeof path, "%s/%s/output_%d.pb", dir, set, k);
        if (!file_exists(path))
            break;
        cv_dtype wdt;
        cv_shape ws;
        void *want;
        if ((st = cv_onnx_read_tensor(path, &wdt, &ws, &want, &err)) != CV_OK) {
            snprintf(msg, len, "%s", err.msg);
            verdict = st == CV_ERR_UNSUPPORTED ? 'S' : 'F';
            goto out;
        }
        n_out++;
        if (k < info->n_outputs && info->output_types[k] == 16 /* bfloat16 */ && wdt == CV_I64) {
            /* numpy has no bfloat16: ONNX's test data holds the bits as uint16 */
            size_t numel = cv_shape_numel(&ws);
            float *f = malloc((numel ? numel : 1) * sizeof(float));
            for (size_t i = 0; f && i < numel; i++) {
                uint32_t bits = (uint32_t)((int64_t *)want)[i] << 16;
                memcpy(&f[i], &bits, sizeof bits);
            }
            free(want);
            want = f;
            wdt = CV_F32;
        }
        const cv_tensor *got = cv_run_output(r, k);
        char a[160], b[160];
        if (!got) {
            snprintf(msg, len, "output %d missing (the model has %d)", k, cv_model_num_outputs(m));
            verdict = 'F';
        } else if (!cv_shape_equal(&got->shape, &ws)) {
            snprintf(msg, len, "output %d has shape %s, want %s", k, cv_shape_str(&got->shape, a, sizeof a),
                     cv_shape_str(&ws, b, sizeof b));
            verdict = 'F';
        } else {
            size_t numel = cv_shape_numel(&ws);
            const void *gd = got->dtype == CV_I64 ? (const void *)got->i : (const void *)got->f;
            for (size_t i = 0; i < numel; i++) {
                double g = at(got->dtype, gd, i), w = at(wdt, want, i);
                double d = fabs(g - w);
                if (isnan(w) && isnan(g))
                    continue;
                if (isinf(w) && g == w)
                    continue;
                if (!(d <= ATOL + RTOL * fabs(w))) {
                    if (verdict == 'P')
                        snprintf(msg, len, "output %d [%zu]: got %.7g, want %.7g", k, i, g, w);
                    verdict = 'F';
                }
                if (d > worst || isnan(d))
                    worst = isnan(d) ? INFINITY : d;
            }
        }
        free(want);
        if (verdict != 'P')
            break;
    }
    if (verdict == 'F' && worst > 0) {
        size_t used = strlen(msg);
        snprintf(msg + used, len - used, "; max diff %.3g", worst);
    } else if (verdict == 'P') {
        snprintf(msg, len, "%d outputs, max diff %.3g", n_out, worst);
        if (n_out == 0) {
            snprintf(msg, len, "no expected outputs");
            verdict = 'S';
        }
    }
out:
    cv_run_free(r);
    cv_model_free(m);
    for (int k = 0; k < n; k++)
        free(data[k]);
    return verdict;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of the entries in dir that start with prefix. */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, sizeof(char *) * (size_t)cap);
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static void free_list(char **l, int n)
{
    for (int k = 0; k < n; k++)
        free(l[k]);
    free(l);
}

/* The child: every data set of the case; verdict letter + message on fd. */
static void child_run(const char *dir, const cv_onnx_info *info, int fd)
{
    alarm(CASE_SECONDS);
    char **sets;
    int n_sets = list_dir(dir, "test_data_set_", &sets);
    char msg[2400] = "no test data sets", line[2600];
    char verdict = 'S';
    for (int s = 0; s < n_sets; s++) {
        verdict = run_set(dir, sets[s], info, msg, sizeof msg);
        if (verdict != 'P') {
            if (n_sets > 1) {
                snprintf(line, sizeof line, "%s: %s", sets[s], msg);
                snprintf(msg, sizeof msg, "%.1100s", line);
            }
            break;
        }
    }
    free_list(sets, n_sets);
    int n = snprintf(line, sizeof line, "%c%s", verdict, msg);
    if (write(fd, line, (size_t)n) < 0)
        _exit(3);
    _exit(0);
}

/* Fork, run, collect the verdict. */
static char run_case(const char *dir, const cv_onnx_info *info, char *msg, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(msg, len, "pipe failed");
        return 'F';
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        snprintf(msg, len, "fork failed");
        return 'F';
    }
    if (pid == 0) {
        close(fds[0]);
        child_run(dir, info, fds[1]);
    }
    close(fds[1]);
    char buf[1400];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        snprintf(msg, len, "crashed (%s)", WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status)));
        return 'F';
    }
    if (got == 0) {
        snprintf(msg, len, "no verdict (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 'F';
    }
    snprintf(msg, len, "%.1100s", buf + 1);
    return buf[0];
}

static void run_suite(const char *suite, tally *t)
{
    char root[512];
    snprintf(root, sizeof root, "%s/%s", DATA_ROOT, suite);
    const char *filter = getenv("CNNVIZ_CONFORMANCE_FILTER");
    char **cases;
    int n = list_dir(root, "test_", &cases);
    for (int c = 0; c < n; c++) {
        char dir[1024], model[1100], name[600], msg[2400];
        snprintf(dir, sizeof dir, "%s/%s", root, cases[c]);
        snprintf(model, sizeof model, "%s/model.onnx", dir);
        snprintf(name, sizeof name, "%s/%s", suite, cases[c]);
        if (filter && !strstr(name, filter))
            continue;
        if (!file_exists(model))
            continue; /* e.g. data/real: downloaded models, absent here */
        cv_onnx_info info;
        cv_error err;
        if (cv_onnx_inspect(model, &info, &err) != CV_OK) {
            /* ONNX's own files: a parse failure is the loader's fault */
            printf("FAIL %s: %s\n", name, err.msg);
            t->ran++;
            t->failed++;
            continue;
        }
        bool non_tensor = false;
        for (int k = 0; k < info.n_inputs; k++)
            non_tensor |= info.input_types[k] < 0;
        bool unsupported = false;
        for (int k = 0; k < info.n_ops; k++)
            if (strchr(info.ops[k], ':') || !cv_op_find(info.ops[k])) {
                note_unsupported(t, info.ops[k]);
                unsupported = true;
            }
        if (unsupported) {
            t->skip_op++;
        } else if (info.n_inputs < 1 || info.input_types[0] != 1 /* float32 */ || non_tensor) {
            t->skip_input++;
        } else {
            char v = run_case(dir, &info, msg, sizeof msg);
            const char *why = known_failure(name);
            if (v == 'S') {
                t->skip_other++;
                if (t->printed_skips++ < 60)
                    printf("skip %s: %s\n", name, msg);
            } else if (v == 'P') {
                t->ran++;
                t->passed++;
                if (why) {
                    t->xpassed++;
                    printf("XPASS %s (listed as a known failure: %s)\n", name, why);
                }
            } else {
                t->ran++;
                if (why) {
                    t->xfailed++;
                    printf("XFAIL %s: %s [known: %s]\n", name, msg, why);
                } else {
                    t->failed++;
                    printf("FAIL %s: %s\n", name, msg);
                }
            }
        }
        cv_onnx_info_free(&info);
    }
    free_list(cases, n);
}

static int cmp_op(const void *a, const void *b, void *t_)
{
    const tally *t = t_;
    int ia = *(const int *)a, ib = *(const int *)b;
    if (t->op_cases[ia] != t->op_cases[ib])
        return t->op_cases[ib] - t->op_cases[ia];
    return strcmp(t->ops[ia], t->ops[ib]);
}

static void test_conformance(void)
{
    struct stat st;
    if (stat(DATA_ROOT, &st) != 0)
        SKIP("%s is absent (install Debian's libonnx-testdata)", DATA_ROOT);
    tally t;
    memset(&t, 0, sizeof t);
    const char *suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    for (int s = 0; s < 4; s++) {
        tally before = t;
        run_suite(suites[s], &t);
        printf("  %s: %d ran, %d passed, %d failed, %d known failures, %d skipped\n", suites[s], t.ran - before.ran,
               t.passed - before.passed, t.failed - before.failed, t.xfailed - before.xfailed,
               (t.skip_op + t.skip_input + t.skip_other) - (before.skip_op + before.skip_input + before.skip_other));
    }
    int order[512];
    for (int k = 0; k < t.n_ops; k++)
        order[k] = k;
    qsort_r(order, (size_t)t.n_ops, sizeof(int), cmp_op, &t);
    printf("unsupported ops (%d, with the number of cases each blocks):", t.n_ops);
    for (int k = 0; k < t.n_ops; k++)
        printf("%s %s(%d)", k ? "," : "", t.ops[order[k]], t.op_cases[order[k]]);
    printf("\n");
    printf("conformance: %d cases ran, %d passed, %d failed, %d known failures, %d skipped "
           "(unsupported op %d, no float32 first input or a non-tensor input %d, unsupported at load/plan %d)\n",
           t.ran, t.passed, t.failed, t.xfailed, t.skip_op + t.skip_input + t.skip_other, t.skip_op, t.skip_input,
           t.skip_other);
    CHECK(t.failed == 0, "%d conformance cases failed", t.failed);
    for (int k = 0; k < t.n_ops; k++)
        free(t.ops[k]);
}

int main(void)
{
    RUN(test_conformance);
    return test_summary("conformance");
}
