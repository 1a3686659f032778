/* A tiny test harness. Each tests/test_*.c is its own program:
 *
 *     static void test_relu(void) { CHECK(x == y, "x=%g y=%g", x, y); }
 *     int main(void) { RUN(test_relu); return test_summary("ops"); }
 *
 * It prints PASS/FAIL/SKIP per test and a closing "N passed, N failed"
 * line; tests/run.sh adds those lines up across programs. */
#ifndef CV_TEST_H
#define CV_TEST_H
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include "cnnviz.h"

extern int test_failed_now;   /* set by CHECK inside the running test */
extern int test_skipped_now;
extern char test_skip_reason[256];

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "    %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            test_failed_now = 1;                                             \
        }                                                                    \
    } while (0)

/* Stop the test now if a check failed (e.g. before dereferencing). */
#define REQUIRE(cond, ...)                                                   \
    do {                                                                     \
        CHECK(cond, __VA_ARGS__);                                            \
        if (test_failed_now)                                                 \
            return;                                                          \
    } while (0)

#define SKIP(...)                                                            \
    do {                                                                     \
        snprintf(test_skip_reason, sizeof test_skip_reason, __VA_ARGS__);   \
        test_skipped_now = 1;                                                \
        return;                                                              \
    } while (0)

#define RUN(fn) test_run(#fn, fn)

void test_run(const char *name, void (*fn)(void));
int test_summary(const char *suite);

/* Path of ../shared relative to the repo root (tests run from the root),
 * or NULL when it is absent; tests that need it SKIP visibly. */
const char *test_shared_dir(void);

/* A private scratch directory under /tmp ("/tmp/cnnviz-test-<tag>-XXXXXX")
 * written into dir (at least 64 bytes); false if it cannot be made.
 * test_remove_dir deletes it with the plain files in it. */
bool test_make_tmpdir(char *dir, size_t len, const char *tag);
void test_remove_dir(const char *dir);
/* The whole of a small file into buf (at most len - 1 bytes, NUL-ended;
 * "" when it cannot be read). */
void test_slurp(const char *path, char *buf, size_t len);

/* Run a shell command made printf-style (at most 4095 bytes); returns its
 * exit status, or -1 when it did not exit normally (a signal) or could not
 * be started. For tests that drive the cnnviz binary or clean up. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Deterministic random numbers (xorshift), uniform in [lo, hi). */
void test_seed(unsigned long long seed);
float test_uniform(float lo, float hi);
void test_fill(float *x, size_t n, float lo, float hi);

/* max |a-b| and max |a-b| / (max |b| + tiny) over n values. */
double test_max_abs_diff(const float *a, const float *b, size_t n);
double test_max_rel_diff(const float *a, const float *b, size_t n);

#endif
