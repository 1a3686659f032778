/* The CLI's output folder is one set (cli/outset.c): a failed rerun leaves
 * the previous set untouched, concurrent runs publish one complete set, a
 * full disk (RLIMIT_FSIZE) is reported, not a silent SIGXFSZ death, and
 * strings from files reach the terminal escaped. Runs the built cnnviz on
 * the bundled Fashion-MNIST model. */
#include "lib/test.h"
#include "cnnviz_io.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char cli[512], dir[128];
static rlim_t child_address_space; /* RLIMIT_AS for the child, 0: none */
static const char *model = "models/fashion_cnn.onnx", *image = "models/samples/sneaker.png";

/* Start cnnviz with args (NULL-terminated) in a child, stdout+stderr into
 * log, with a file-size limit (0: none) and the default SIGXFSZ action, as a
 * shell would give it. Returns the pid. */
static pid_t start(const char *log, rlim_t fsize, const char *const *args)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    signal(SIGXFSZ, SIG_DFL);
    if (fsize) {
        struct rlimit rl = {fsize, fsize};
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    if (child_address_space) {
        struct rlimit rl = {child_address_space, child_address_space};
        setrlimit(RLIMIT_AS, &rl);
    }
    alarm(120); /* a hang fails the test instead of the suite */
    char *argv[32];
    int n = 0;
    argv[n++] = cli;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    execv(cli, argv);
    _exit(127);
}

/* Exit code of pid, or 128 + signal. */
static int finish(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_cli(const char *log, rlim_t fsize, const char *const *args) { return finish(start(log, fsize, args)); }

static bool file_contains(const char *path, const char *needle)
{
    uint8_t *text;
    size_t len;
    cv_error err;
    if (cv_file_read_all(path, "a log", (size_t)64 << 20, &text, &len, &err) != CV_OK)
        return false;
    bool found = memmem(text, len, needle, strlen(needle)) != NULL;
    free(text);
    return found;
}

/* Entries of d (not . and ..), and how many contain `part` in their name. */
static int count_entries(const char *d, const char *part, int *matching)
{
    DIR *h = opendir(d);
    int n = 0;
    *matching = 0;
    for (struct dirent *e; h && (e = readdir(h));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        *matching += part && strstr(e->d_name, part) != NULL;
    }
    if (h)
        closedir(h);
    return n;
}

/* Every file in out is named by its manifest and every name is a file:
 * the set is complete and not mixed. */
static bool set_matches_manifest(const char *out, int *n_files)
{
    char path[600];
    snprintf(path, sizeof path, "%s/manifest.json", out);
    uint8_t *manifest;
    size_t len;
    cv_error err;
    *n_files = 0;
    if (cv_file_read_all(path, "a manifest", (size_t)16 << 20, &manifest, &len, &err) != CV_OK)
        return false;
    bool ok = true;
    int listed = 0;
    char *list = strstr((char *)manifest, "\"files\": [");
    for (char *q = list ? strchr(list, '[') : NULL; q && (q = strchr(q + 1, '"'));) {
        char *end = strchr(q + 1, '"');
        if (!end)
            break;
        *end = 0;
        snprintf(path, sizeof path, "%s/%s", out, q + 1);
        ok = ok && access(path, F_OK) == 0;
        listed++;
        q = end;
    }
    free(manifest);
    /* files present: top level plus frames/ */
    int dummy, top = count_entries(out, NULL, &dummy), frames = 0;
    snprintf(path, sizeof path, "%s/frames", out);
    struct stat st;
    if (stat(path, &st) == 0) {
        frames = count_entries(path, NULL, &dummy);
        top--; /* the folder itself */
    }
    *n_files = top - 1 + frames; /* manifest.json lists the others */
    return ok && listed == *n_files;
}

static void test_failed_rerun_keeps_previous_set(void)
{
    char out[256], log[256];
    snprintf(out, sizeof out, "%s/occ", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    const char *args[] = {"occlusion", "--model", model, "--img", image, "--size", "28", "--occ_size", "6",
                          "--stride", "2", "--frames", "--out", out, NULL};
    int rc = run_cli(log, 0, args);
    REQUIRE(rc == 0, "first run exited %d", rc);
    int n_before;
    REQUIRE(set_matches_manifest(out, &n_before), "first set does not match its manifest (%d files)", n_before);
    struct stat before;
    char heat[300];
    snprintf(heat, sizeof heat, "%s/heatmap.png", out);
    REQUIRE(stat(heat, &before) == 0, "no heatmap.png");

    /* frames.gif (~450 KB) cannot be written under a 200 KB file limit */
    rc = run_cli(log, 200000, args);
    CHECK(rc == 1, "rerun under RLIMIT_FSIZE exited %d, expected 1 (128 + %d would be death by SIGXFSZ)", rc,
          SIGXFSZ);
    CHECK(file_contains(log, "/occ/frames.gif: write failed") && file_contains(log, "File too large"),
          "the error does not name the file and the reason (see %s)", log);
    int n_after;
    CHECK(set_matches_manifest(out, &n_after) && n_after == n_before,
          "the previous set changed: %d files, %d before", n_after, n_before);
    struct stat after;
    CHECK(stat(heat, &after) == 0 && after.st_ino == before.st_ino, "heatmap.png was replaced by a failed run");
    int temps;
    count_entries(dir, ".tmp-", &temps);
    CHECK(temps == 0, "%d staging folders or temporary files left beside --out", temps);
}

/* Two runs with different outputs into one --out at once: whichever wins,
 * the folder holds exactly one run's files. */
static void test_concurrent_runs_publish_one_set(void)
{
    char out[256], log1[256], log2[256];
    snprintf(out, sizeof out, "%s/both", dir);
    snprintf(log1, sizeof log1, "%s/log1", dir);
    snprintf(log2, sizeof log2, "%s/log2", dir);
    const char *with_frames[] = {"occlusion", "--model", model, "--img", image, "--size", "28", "--occ_size", "6",
                                 "--stride", "2", "--frames", "--out", out, NULL};
    const char *plain[] = {"occlusion", "--model", model, "--img", image, "--size", "28", "--occ_size", "6",
                           "--stride", "1", "--all-classes", "--out", out, NULL};
    for (int round = 0; round < 3; round++) {
        pid_t a = start(log1, 0, with_frames), b = start(log2, 0, plain);
        int ra = finish(a), rb = finish(b);
        CHECK(ra == 0 && rb == 0, "round %d: runs exited %d and %d", round, ra, rb);
        int n;
        CHECK(set_matches_manifest(out, &n), "round %d: the folder is not one run's set (%d files)", round, n);
    }
    int temps, aside;
    count_entries(dir, ".tmp-", &temps);
    count_entries(dir, ".previous-", &aside);
    CHECK(temps == 0 && aside == 0, "%d staging and %d set-aside folders left", temps, aside);
}

/* A file the user put into --out is not deleted by a rerun: the old
 * folder is kept aside, and the user is told where. */
static void test_foreign_files_are_kept(void)
{
    char out[256], log[256], mine[300];
    snprintf(out, sizeof out, "%s/mixed", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    REQUIRE(mkdir(out, 0755) == 0, "mkdir");
    snprintf(mine, sizeof mine, "%s/notes.txt", out);
    FILE *f = fopen(mine, "w");
    REQUIRE(f, "fopen");
    fputs("mine", f);
    fclose(f);
    const char *args[] = {"occlusion", "--model", model, "--img", image, "--size", "28", "--occ_size", "6",
                          "--stride", "2", "--out", out, NULL};
    int rc = run_cli(log, 0, args);
    CHECK(rc == 0, "exited %d", rc);
    int n;
    CHECK(set_matches_manifest(out, &n), "the new set does not match its manifest");
    int aside;
    count_entries(dir, "mixed.previous-", &aside);
    CHECK(aside == 1 && file_contains(log, "notes.txt") == false && file_contains(log, ".previous-"),
          "%d set-aside folders; the note should say where notes.txt went (see %s)", aside, log);
}

/* A labels file with terminal escapes and a newline inside a name: stdout
 * shows them escaped. */
static void test_file_strings_are_escaped(void)
{
    char labels[256], log[256];
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    FILE *f = fopen(labels, "w");
    REQUIRE(f, "fopen");
    for (int k = 0; k < 10; k++)
        fprintf(f, "class\x1b]0;pwned\x07%d\x1b[2J\r\n", k);
    fclose(f);
    const char *args[] = {"predict", "--model", model, "--img", image, "--labels", labels, NULL};
    int rc = run_cli(log, 0, args);
    CHECK(rc == 0, "exited %d", rc);
    CHECK(!file_contains(log, "\x1b") && !file_contains(log, "\x07"), "raw escape bytes reached the terminal");
    CHECK(file_contains(log, "class\\x1b]0;pwned\\x07"), "the escaped name is not shown (see %s)", log);
}

/* Under a small address-space limit (ulimit -v) every command ends, with
 * its result or an "out of memory" error: OpenBLAS 0.3.21 retried a failed
 * 128 MiB buffer mmap forever, so even `layers` hung (cli/main.c,
 * src/core/addrspace.c). */
static void test_small_address_space_ends(void)
{
#if defined(__SANITIZE_ADDRESS__)
    SKIP("AddressSanitizer reserves terabytes of address space");
#else
    char out[256], log[256];
    snprintf(out, sizeof out, "%s/as", dir);
    snprintf(log, sizeof log, "%s/as.log", dir);
    const char *layers[] = {"layers", "--model", model, NULL};
    const char *occlusion[] = {"occlusion", "--model", model, "--img", image, "--size", "28", "--occ_size", "6",
                               "--out", out, NULL};
    const char *const *cmds[] = {layers, occlusion};
    rlim_t limits[] = {(rlim_t)120 << 20, (rlim_t)200 << 20, (rlim_t)400 << 20};
    for (int l = 0; l < 3; l++)
        for (int c = 0; c < 2; c++) {
            child_address_space = limits[l];
            int rc = run_cli(log, 0, cmds[c]);
            child_address_space = 0;
            printf("    %s under ulimit -v %lu KiB: exit %d%s\n", cmds[c][0], (unsigned long)(limits[l] >> 10), rc,
                   rc == 1 && file_contains(log, "memory") ? " (out of memory)" : "");
            CHECK(rc == 0 || (rc == 1 && file_contains(log, "memory")) || rc == 127,
                  "%s under a %lu MiB address-space limit exited %d (142: hung until alarm)", cmds[c][0],
                  (unsigned long)(limits[l] >> 20), rc);
        }
#endif
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *slash = strrchr(argv[0], '/');
    /* argv[0] is BUILD/tests/test_cli_outputs; the tool is BUILD/cnnviz */
    int build_len = slash ? (int)(slash - argv[0]) - (int)strlen("/tests") : 0;
    snprintf(cli, sizeof cli, "%.*s/cnnviz", build_len > 0 ? build_len : 0, argv[0]);
    if (access(cli, X_OK) != 0 || access(model, R_OK) != 0 || !test_make_tmpdir(dir, sizeof dir, "cli")) {
        printf("SKIP cli_outputs (%s or %s missing, or no temporary folder)\n", cli, model);
        return test_summary("cli_outputs");
    }
    RUN(test_failed_rerun_keeps_previous_set);
    RUN(test_concurrent_runs_publish_one_set);
    RUN(test_foreign_files_are_kept);
    RUN(test_file_strings_are_escaped);
    RUN(test_small_address_space_ends);
    if (sh("rm -rf '%s'", dir) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("cli_outputs");
}
