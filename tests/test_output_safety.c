/* Output safety of every file writer (PNG, JPEG, .npy, GIF, text): a write that
 * fails half way (disk full, simulated with RLIMIT_FSIZE) or a process
 * killed while writing never leaves a file that looks complete, never
 * damages a file already at the target, and leaves no temporary files
 * behind; writing to a symlink replaces the link, not the file it points
 * to. All through the temp-file-and-rename of src/io/atomic.c. */
#include "../src/io/atomic.h"
#include "cnnviz_io.h"
#include "cnnviz_render.h"
#include "lib/test.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];

static void make_dir(void)
{
    if (dir[0])
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cnnviz-out-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        dir[0] = 0;
}

static void path_in(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

/* Files in dir whose names contain ".tmp-" (leftover temporaries). */
static int count_temps(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp-"))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void remove_all(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
}

static int file_equals(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Noise compresses badly, so every format needs well over the limit. */
static cv_image noise_image(int w, int h)
{
    cv_image img;
    cv_image_alloc(&img, w, h, 3, NULL);
    unsigned x = 12345;
    for (size_t k = 0; k < (size_t)w * h * 3; k++) {
        x = x * 1103515245u + 12345u;
        img.px[k] = (uint8_t)(x >> 16);
    }
    return img;
}

typedef cv_status (*writer_fn)(const char *path, cv_error *err);

static cv_image g_img;
static float g_data[64 * 64];

static cv_status w_png(const char *p, cv_error *e) { return cv_image_save_png(&g_img, p, e); }
static cv_status w_jpeg(const char *p, cv_error *e) { return cv_image_save_jpeg(&g_img, p, 95, e); }
static cv_status w_npy32(const char *p, cv_error *e)
{
    cv_shape s = {2, {64, 64}};
    return cv_npy_write_f32(p, &s, g_data, e);
}
static cv_status w_npy64(const char *p, cv_error *e)
{
    static double d[64 * 64];
    cv_shape s = {2, {64, 64}};
    return cv_npy_write_f64(p, &s, d, e);
}
static cv_status w_gif(const char *p, cv_error *e)
{
    cv_image frames[2] = {g_img, g_img};
    return cv_gif_write(p, frames, 2, 10, e);
}

static cv_status w_text(const char *p, cv_error *e)
{
    static char text[8192];
    for (size_t k = 0; k + 1 < sizeof text; k++)
        text[k] = (char)('a' + k % 26);
    return cv_file_write(p, text, sizeof text - 1, e);
}

static const struct {
    const char *name, *file;
    writer_fn fn;
} writers[] = {
    {"png", "out.png", w_png}, {"jpeg", "out.jpg", w_jpeg}, {"npy f32", "out.npy", w_npy32},
    {"npy f64", "out64.npy", w_npy64}, {"gif", "out.gif", w_gif}, {"text", "out.csv", w_text},
};
#define N_WRITERS ((int)(sizeof writers / sizeof writers[0]))

static void setup(void)
{
    make_dir();
    if (!g_img.px)
        g_img = noise_image(96, 96);
    for (int k = 0; k < 64 * 64; k++)
        g_data[k] = (float)k * 0.37f;
}

/* Each writer succeeds normally and leaves exactly its file. */
static void test_writers_succeed(void)
{
    setup();
    if (!dir[0])
        SKIP("no temporary directory");
    for (int k = 0; k < N_WRITERS; k++) {
        char p[512];
        path_in(p, sizeof p, writers[k].file);
        cv_error err;
        cv_status st = writers[k].fn(p, &err);
        CHECK(st == CV_OK, "%s: %s", writers[k].name, err.msg);
        struct stat sb;
        CHECK(stat(p, &sb) == 0 && sb.st_size > 1000, "%s: no output", writers[k].name);
    }
    CHECK(count_temps() == 0, "%d temporary files left", count_temps());
    remove_all();
}

/* Disk full half way: the file-size limit makes write() fail with EFBIG
 * (SIGXFSZ ignored), as ENOSPC would. */
static void test_failed_write_leaves_nothing(void)
{
    setup();
    if (!dir[0])
        SKIP("no temporary directory");
    struct rlimit old;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0, "getrlimit");
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    for (int k = 0; k < N_WRITERS; k++) {
        char p[512];
        path_in(p, sizeof p, writers[k].file);
        /* 1: no file at the target before */
        unlink(p);
        struct rlimit lim = {700, old.rlim_max};
        REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
        cv_error err = {0};
        cv_status st = writers[k].fn(p, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        printf("    %s, disk full: %s\n", writers[k].name, st == CV_OK ? "(succeeded?)" : err.msg);
        CHECK(st == CV_ERR_IO, "%s: status %d, expected an i/o error", writers[k].name, st);
        CHECK(access(p, F_OK) != 0, "%s: a partial file was left at the target", writers[k].name);
        CHECK(count_temps() == 0, "%s: %d temporary files left", writers[k].name, count_temps());
        /* 2: an older file at the target survives intact */
        write_text(p, "older output");
        REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
        st = writers[k].fn(p, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(st == CV_ERR_IO, "%s: status %d", writers[k].name, st);
        CHECK(file_equals(p, "older output"), "%s: the older file at the target was damaged", writers[k].name);
        CHECK(count_temps() == 0, "%s: %d temporary files left", writers[k].name, count_temps());
        unlink(p);
    }
    signal(SIGXFSZ, old_handler);
    remove_all();
}

/* A process killed while writing: only a temporary name can exist, never
 * the target. */
static void test_killed_writer(void)
{
    setup();
    if (!dir[0])
        SKIP("no temporary directory");
    char p[512];
    path_in(p, sizeof p, "killed.npy");
    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe");
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork");
    if (pid == 0) {
        cv_atomic a;
        if (cv_atomic_open(&a, p, NULL) != CV_OK)
            _exit(2);
        fputs("\x93NUMPY half of a file", a.f);
        fflush(a.f);
        if (write(fds[1], "w", 1) != 1) /* tell the parent we are mid-write */
            _exit(3);
        pause(); /* killed here */
        _exit(4);
    }
    char c;
    CHECK(read(fds[0], &c, 1) == 1, "child did not start writing");
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    CHECK(WIFSIGNALED(status), "child was not killed");
    CHECK(access(p, F_OK) != 0, "a killed writer left a file at the target");
    CHECK(count_temps() == 1, "expected the one temporary file of the killed writer, found %d", count_temps());
    remove_all();
}

/* Writing to a symlink replaces the link; the file it points to (which the
 * command never named) is untouched. */
static void test_symlink_target(void)
{
    setup();
    if (!dir[0])
        SKIP("no temporary directory");
    char victim[512], link_path[512];
    path_in(victim, sizeof victim, "victim.txt");
    path_in(link_path, sizeof link_path, "link.png");
    write_text(victim, "precious");
    REQUIRE(symlink(victim, link_path) == 0, "symlink: %s", strerror(errno));
    cv_error err;
    CHECK(cv_image_save_png(&g_img, link_path, &err) == CV_OK, "%s", err.msg);
    CHECK(file_equals(victim, "precious"), "the symlink's target was overwritten");
    struct stat sb;
    CHECK(lstat(link_path, &sb) == 0 && S_ISREG(sb.st_mode), "the link was not replaced by the image");
    remove_all();
}

/* Targets that cannot be written: clear errors, nothing created. */
static void test_bad_targets(void)
{
    setup();
    if (!dir[0])
        SKIP("no temporary directory");
    char p[512];
    cv_error err;
    path_in(p, sizeof p, "no/such/dir/out.png");
    cv_status st = cv_image_save_png(&g_img, p, &err);
    printf("    missing directory: %s\n", err.msg);
    CHECK(st == CV_ERR_IO && strstr(err.msg, "no/such/dir/out.png"), "status %d: %s", st, err.msg);
    path_in(p, sizeof p, "adir");
    REQUIRE(mkdir(p, 0777) == 0, "mkdir");
    st = cv_npy_write_f32(p, &(cv_shape){1, {4}}, g_data, &err);
    printf("    target is a directory: %s\n", err.msg);
    CHECK(st == CV_ERR_IO, "status %d", st);
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode), "the directory was replaced");
    CHECK(count_temps() == 0, "%d temporary files left", count_temps());
    rmdir(p);
    remove_all();
}

int main(void)
{
    RUN(test_writers_succeed);
    RUN(test_failed_write_leaves_nothing);
    RUN(test_killed_writer);
    RUN(test_symlink_target);
    RUN(test_bad_targets);
    cv_image_free(&g_img);
    if (dir[0]) {
        remove_all();
        rmdir(dir);
    }
    return test_summary("output_safety");
}
