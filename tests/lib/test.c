#include "test.h"
#include <math.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

int test_failed_now, test_skipped_now;
char test_skip_reason[256];
static int n_pass, n_fail, n_skip;

void test_run(const char *name, void (*fn)(void))
{
    test_failed_now = test_skipped_now = 0;
    test_skip_reason[0] = 0;
    fn();
    if (test_failed_now) {
        n_fail++;
        printf("FAIL %s\n", name);
    } else if (test_skipped_now) {
        n_skip++;
        printf("SKIP %s: %s\n", name, test_skip_reason);
    } else {
        n_pass++;
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

int test_summary(const char *suite)
{
    printf("%s: %d passed, %d failed, %d skipped\n", suite, n_pass, n_fail, n_skip);
    return n_fail ? 1 : 0;
}

const char *test_shared_dir(void)
{
    struct stat st;
    const char *env = getenv("CNNVIZ_SHARED");
    if (env && stat(env, &st) == 0)
        return env;
    if (stat("../shared/models", &st) == 0)
        return "../shared";
    return NULL;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ull;

void test_seed(unsigned long long seed) { rng = seed ? seed : 1; }

float test_uniform(float lo, float hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (float)((rng >> 40) * (1.0 / 16777216.0));
}

void test_fill(float *x, size_t n, float lo, float hi)
{
    for (size_t k = 0; k < n; k++)
        x[k] = test_uniform(lo, hi);
}

double test_max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t k = 0; k < n; k++) {
        double d = fabs((double)a[k] - (double)b[k]);
        if (d > m || d != d)
            m = d != d ? INFINITY : d;
    }
    return m;
}

double test_max_rel_diff(const float *a, const float *b, size_t n)
{
    double scale = 0;
    for (size_t k = 0; k < n; k++)
        if (fabs(b[k]) > scale)
            scale = fabs(b[k]);
    return test_max_abs_diff(a, b, n) / (scale + 1e-12);
}

bool test_make_tmpdir(char *dir, size_t len, const char *tag)
{
    snprintf(dir, len, "/tmp/cnnviz-test-%s-XXXXXX", tag);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return false;
    }
    return true;
}

void test_slurp(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
}

void test_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        fprintf(stderr, "sh: command of %d bytes is too long\n", n);
        return -1;
    }
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
