/* Replays the fuzz harnesses (tests/fuzz/) on committed inputs, without
 * libFuzzer: every crash the fuzzers found (tests/fuzz/regress/<target>/)
 * and a small seed corpus (tests/fuzz/corpus/<target>/, plus the loader
 * fixtures). Under `make check-asan` this is where those inputs meet the
 * sanitizers on every CI run.
 *
 * A crash here is a crash of the test program; rerun with
 * CNNVIZ_FUZZ_VERBOSE=1 to see each input's name as it runs, or replay
 * files by hand:
 *
 *     build/tests/test_fuzz_replay onnx crash-1234 ...
 *     build/tests/test_fuzz_replay --keras-seeds DIR   (write keras seeds)
 */
#include "fuzz/fuzz.h"
#include "lib/test.h"
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cv_fuzz_keras_seeds(const char *dir);

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    fuzz_fn fn;
    const char *fixtures; /* a fixtures directory whose files are inputs too, or NULL */
    const char *suffix;   /* ... those ending so */
} targets[] = {
    {"onnx", cv_fuzz_onnx, "tests/fixtures/onnx", ".onnx"},
    {"keras", cv_fuzz_keras, NULL, NULL},
    {"image", cv_fuzz_image, NULL, NULL},
    {"npy", cv_fuzz_npy, "tests/fixtures/keras", ".npy"},
};
#define N_TARGETS ((int)(sizeof targets / sizeof targets[0]))

static const char *volatile current_input = "";

/* Name the input when a harness aborts (invariant) or crashes, then die
 * as before. */
static void on_signal(int sig)
{
    const char *a = "\ntest_fuzz_replay: crashed on input ";
    if (write(2, a, strlen(a)) < 0 || write(2, (const char *)current_input, strlen((const char *)current_input)) < 0 ||
        write(2, "\n", 1) < 0) {
        /* nothing more can be done from a signal handler */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0)
            break;
    }
    fclose(f);
    *len = used;
    return buf;
}

static int replay_file(fuzz_fn fn, const char *path)
{
    size_t len;
    uint8_t *data = read_all(path, &len);
    if (!data)
        return -1;
    current_input = path;
    if (getenv("CNNVIZ_FUZZ_VERBOSE")) {
        fprintf(stderr, "    replay %s (%zu bytes)\n", path, len);
        fflush(stderr);
    }
    /* libFuzzer hands over exactly len bytes: so do we (a copy, so that a
     * read past the end is a heap overflow ASan sees) */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact && len)
        memcpy(exact, data, len);
    free(data);
    if (!exact)
        return -1;
    fn(exact, len);
    free(exact);
    current_input = "";
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Replay every regular file in dir (ending in suffix when given), in name
 * order. Returns the count, -1 if dir is absent. */
static int replay_dir(fuzz_fn fn, const char *dir, const char *suffix, int *failed)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t l = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
        if (suffix && (l < sl || strcmp(e->d_name + l - sl, suffix) != 0))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, sizeof *names * (size_t)cap);
            if (!p)
                break;
            names = p;
        }
        if (!(names[n] = malloc(strlen(dir) + l + 2)))
            break;
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int done = 0;
    for (int k = 0; k < n; k++) {
        if (replay_file(fn, names[k]) == 0)
            done++;
        else {
            fprintf(stderr, "    cannot read %s\n", names[k]);
            (*failed)++;
        }
        free(names[k]);
    }
    free(names);
    return done;
}

static void replay_target(int t)
{
    char dir[256];
    int failed = 0, total = 0;
    snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", targets[t].name);
    int regress = replay_dir(targets[t].fn, dir, NULL, &failed);
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", targets[t].name);
    int corpus = replay_dir(targets[t].fn, dir, NULL, &failed);
    int fixtures = targets[t].fixtures ? replay_dir(targets[t].fn, targets[t].fixtures, targets[t].suffix, &failed) : 0;
    total = (regress > 0 ? regress : 0) + (corpus > 0 ? corpus : 0) + (fixtures > 0 ? fixtures : 0);
    printf("    %s: replayed %d regression inputs, %d corpus inputs, %d fixtures\n", targets[t].name,
           regress > 0 ? regress : 0, corpus > 0 ? corpus : 0, fixtures > 0 ? fixtures : 0);
    CHECK(failed == 0, "%d inputs could not be read", failed);
    CHECK(corpus > 0, "tests/fuzz/corpus/%s is missing or empty (run from the repository root)", targets[t].name);
    CHECK(total > 0, "nothing replayed");
}

static void test_replay_onnx(void) { replay_target(0); }
static void test_replay_keras(void) { replay_target(1); }
static void test_replay_image(void) { replay_target(2); }
static void test_replay_npy(void) { replay_target(3); }

/* Seeds that live outside the repository: replayed when present, so that
 * check-asan also covers the real models and photos. */
static void test_replay_shared(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("../shared is absent");
    char dir[512];
    int failed = 0;
    snprintf(dir, sizeof dir, "%s/images", shared);
    int images = replay_dir(cv_fuzz_image, dir, NULL, &failed);
    snprintf(dir, sizeof dir, "%s/models/squeezenet1.1_fp16_imagenet", shared);
    int models = replay_dir(cv_fuzz_onnx, dir, ".onnx", &failed);
    printf("    shared: replayed %d images, %d ONNX models\n", images, models);
    CHECK(failed == 0, "%d inputs could not be read", failed);
}

int main(int argc, char **argv)
{
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    if (argc >= 3 && strcmp(argv[1], "--keras-seeds") == 0) {
        int n = cv_fuzz_keras_seeds(argv[2]);
        printf("%d keras seeds written to %s\n", n, argv[2]);
        return n > 0 ? 0 : 1;
    }
    if (argc >= 3) {
        for (int t = 0; t < N_TARGETS; t++)
            if (strcmp(argv[1], targets[t].name) == 0) {
                setenv("CNNVIZ_FUZZ_VERBOSE", "1", 1);
                for (int k = 2; k < argc; k++)
                    if (replay_file(targets[t].fn, argv[k]) != 0)
                        fprintf(stderr, "cannot read %s\n", argv[k]);
                printf("replayed %d inputs without a crash\n", argc - 2);
                return 0;
            }
        fprintf(stderr, "usage: %s onnx|keras|image|npy FILE... | --keras-seeds DIR\n", argv[0]);
        return 2;
    }
    RUN(test_replay_onnx);
    RUN(test_replay_keras);
    RUN(test_replay_image);
    RUN(test_replay_npy);
    RUN(test_replay_shared);
    return test_summary("fuzz_replay");
}
