/* NumPy .npy: round trips, the header layout numpy expects, hand-made v1,
 * v2 and v3 headers, a file numpy wrote, and every kind of bad file. */
#include "cnnviz_io.h"
#include "lib/test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* A .npy with the given version, header text (padded here) and data. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data, size_t nbytes)
{
    size_t prefix = major == 1 ? 10 : 12, len = strlen(dict);
    size_t total = (prefix + len + 1 + 63) / 64 * 64, hlen = total - prefix;
    unsigned char *b = calloc(total + nbytes, 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)hlen, b[9] = (unsigned char)(hlen >> 8);
    } else {
        for (int k = 0; k < 4; k++)
            b[8 + k] = (unsigned char)(hlen >> (8 * k));
    }
    memcpy(b + prefix, dict, len);
    memset(b + prefix + len, ' ', hlen - len - 1);
    b[total - 1] = '\n';
    if (nbytes)
        memcpy(b + total, data, nbytes);
    write_all(path, b, total + nbytes);
    free(b);
}

static int one_line_naming(const cv_error *err, const char *path)
{
    return strstr(err->msg, path) && !strchr(err->msg, '\n');
}

static void test_round_trip_f32(void)
{
    cv_shape shapes[] = {{0, {0}}, {1, {5}}, {3, {2, 3, 4}}, {4, {1, 3, 7, 7}}, {2, {0, 3}}};
    const char *texts[] = {"'shape': ()", "'shape': (5,)", "'shape': (2, 3, 4)", "'shape': (1, 3, 7, 7)",
                           "'shape': (0, 3)"};
    test_seed(21);
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        size_t n = cv_shape_numel(&shapes[k]);
        if (shapes[k].ndim == 0)
            n = 1;
        float *x = malloc(sizeof(float) * (n ? n : 1));
        test_fill(x, n, -5, 5);
        const char *p = tmp_path("f32.npy");
        cv_error err;
        REQUIRE(cv_npy_write_f32(p, &shapes[k], x, &err) == CV_OK, "%s", err.msg);
        /* the header as numpy writes it: dict, spaces, '\n', data at a multiple of 64 */
        size_t len;
        unsigned char *b = read_all(p, &len);
        REQUIRE(b, "read back");
        size_t hlen = b[8] | (size_t)b[9] << 8;
        CHECK(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0, "magic/version");
        CHECK((10 + hlen) % 64 == 0, "data offset %zu not a multiple of 64", 10 + hlen);
        CHECK(b[10 + hlen - 1] == '\n', "header does not end with a newline");
        CHECK(strstr((char *)b + 10, texts[k]) != NULL, "header lacks %s: %.80s", texts[k], b + 10);
        CHECK(strstr((char *)b + 10, "'descr': '<f4'") && strstr((char *)b + 10, "'fortran_order': False"),
              "header: %.80s", b + 10);
        CHECK(len == 10 + hlen + n * 4, "file is %zu bytes", len);
        free(b);

        cv_shape s;
        float *y;
        REQUIRE(cv_npy_read(p, &s, &y, &err) == CV_OK, "%s", err.msg);
        CHECK(cv_shape_equal(&s, &shapes[k]), "shape differs (ndim %d)", s.ndim);
        CHECK(y != NULL, "data NULL");
        CHECK(n == 0 || memcmp(x, y, n * 4) == 0, "data differs");
        free(x);
        free(y);
    }
}

static void test_round_trip_f64(void)
{
    cv_shape s = {2, {3, 5}}, r;
    double x[15];
    for (int i = 0; i < 15; i++)
        x[i] = (i - 7) * 0.1234567890123;
    const char *p = tmp_path("f64.npy");
    cv_error err;
    REQUIRE(cv_npy_write_f64(p, &s, x, &err) == CV_OK, "%s", err.msg);
    size_t len;
    unsigned char *b = read_all(p, &len);
    CHECK(b && strstr((char *)b + 10, "'descr': '<f8'"), "descr");
    free(b);
    float *y;
    REQUIRE(cv_npy_read(p, &r, &y, &err) == CV_OK, "%s", err.msg);
    double maxd = 0;
    for (int i = 0; i < 15; i++) {
        double d = y[i] - (float)x[i];
        maxd = d > maxd ? d : -d > maxd ? -d : maxd;
    }
    printf("    f64 -> f32 on read: max diff from (float)x %.3g\n", maxd);
    CHECK(cv_shape_equal(&r, &s) && maxd == 0, "f64 conversion: %g", maxd);
    free(y);
}

/* int32 for class indices: NumPy's '<i4', the values as written */
static void test_write_i32(void)
{
    cv_shape s = {2, {2, 3}};
    int32_t x[6] = {0, 1, 999, -5, 2147483647, 7};
    const char *p = tmp_path("i32.npy");
    cv_error err;
    REQUIRE(cv_npy_write_i32(p, &s, x, &err) == CV_OK, "%s", err.msg);
    size_t len;
    unsigned char *b = read_all(p, &len);
    REQUIRE(b && len > sizeof x && (len - sizeof x) % 64 == 0, "i32 file of %zu bytes", b ? len : 0);
    size_t head = len - sizeof x;
    CHECK(strstr((char *)b + 10, "'descr': '<i4'") && strstr((char *)b + 10, "'shape': (2, 3)"), "i32 header");
    CHECK(memcmp(b + head, x, sizeof x) == 0, "i32 values");
    printf("    i32: header '%.44s...' (%zu bytes), %zu bytes of data\n", (char *)b + 10, head, sizeof x);
    free(b);
}

static void test_header_versions(void)
{
    float d[6] = {1, 2, 3, 4, 5, 6};
    const char *dicts[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{\"descr\": \"<f4\", \"shape\": (2,3), \"fortran_order\": False}", /* other order, double quotes */
        "{'shape':(2L, 3L),'fortran_order':False,'descr':'<f4'}",           /* Python 2 longs */
    };
    for (int major = 1; major <= 3; major++)
        for (size_t k = 0; k < 3; k++) {
            const char *p = tmp_path("v.npy");
            write_npy_raw(p, major, dicts[k], d, sizeof d);
            cv_shape s;
            float *y;
            cv_error err;
            cv_status st = cv_npy_read(p, &s, &y, &err);
            CHECK(st == CV_OK, "v%d dict %zu: %s", major, k, err.msg);
            if (st == CV_OK) {
                CHECK(s.ndim == 2 && s.d[0] == 2 && s.d[1] == 3 && memcmp(y, d, sizeof d) == 0,
                      "v%d dict %zu: wrong content", major, k);
                free(y);
            }
        }
    printf("    versions 1.0, 2.0, 3.0 x 3 header spellings read\n");
}

static void test_numpy_written(void)
{
    /* written by numpy.save in tests/fixtures/resize_torch.py */
    cv_shape s;
    float *y;
    cv_error err;
    REQUIRE(cv_npy_read("tests/fixtures/resize_torch_down.npy", &s, &y, &err) == CV_OK, "%s", err.msg);
    CHECK(s.ndim == 3 && s.d[0] == 6 && s.d[1] == 9 && s.d[2] == 3, "shape");
    free(y);
}

static void expect_error(const char *what, const char *p, cv_status want, const char *needle)
{
    cv_shape s;
    float *y = (float *)1;
    cv_error err;
    cv_status st = cv_npy_read(p, &s, &y, &err);
    printf("    %-22s -> %s\n", what, st == CV_OK ? "accepted" : err.msg);
    CHECK(st == want, "%s: status %d, want %d", what, st, want);
    CHECK(st == CV_OK || one_line_naming(&err, p), "%s: message '%s'", what, err.msg);
    CHECK(!needle || strstr(err.msg, needle), "%s: message lacks '%s'", what, needle);
    CHECK(st == CV_OK || y == NULL, "%s: data not NULL on failure", what);
    if (st == CV_OK)
        free(y);
}

static void test_bad_files(void)
{
    float d[6] = {0};
    const char *p = tmp_path("bad.npy");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", d, sizeof d);
    expect_error("fortran order", p, CV_ERR_UNSUPPORTED, "Fortran");
    write_npy_raw(p, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", d, 24);
    expect_error("int64 dtype", p, CV_ERR_UNSUPPORTED, "'<i8'");
    write_npy_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", d, 24);
    expect_error("big-endian float", p, CV_ERR_UNSUPPORTED, "'>f4'");
    write_npy_raw(p, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (6,), }", d, 6);
    expect_error("uint8 dtype", p, CV_ERR_UNSUPPORTED, "'|u1'");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", d, 21);
    expect_error("truncated data", p, CV_ERR_FORMAT, "truncated: expected 24 bytes of data, found 21");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", d, 0);
    expect_error("no data", p, CV_ERR_FORMAT, "truncated: expected 24 bytes of data, found 0");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", d, 24);
    expect_error("trailing bytes", p, CV_ERR_FORMAT, "4 bytes after the data");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", d,
                  24);
    expect_error("shape overflow", p, CV_ERR_LIMIT, NULL);
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", d, 24);
    expect_error("dimension overflow", p, CV_ERR_LIMIT, NULL);
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", d,
                  4);
    expect_error("9 dimensions", p, CV_ERR_UNSUPPORTED, NULL);
    write_npy_raw(p, 1, "{'descr': '<f4', 'shape': (6,), }", d, 24);
    expect_error("missing key", p, CV_ERR_FORMAT, "fortran_order");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", d, 24);
    expect_error("unexpected key", p, CV_ERR_FORMAT, "extra");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", d, 24);
    expect_error("negative dimension", p, CV_ERR_FORMAT, NULL);
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } junk", d, 24);
    expect_error("text after dict", p, CV_ERR_FORMAT, NULL);
    write_npy_raw(p, 1, "['descr', '<f4']", d, 24);
    expect_error("not a dict", p, CV_ERR_FORMAT, NULL);
    write_npy_raw(p, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", d, 24);
    expect_error("version 4.0", p, CV_ERR_UNSUPPORTED, "4.0");

    /* header length pointing past the end of the file, and zero */
    unsigned char b[64] = "\x93NUMPY\x01\x00";
    b[8] = 0xff, b[9] = 0x7f;
    write_all(p, b, 64);
    expect_error("header past the end", p, CV_ERR_FORMAT, "truncated");
    b[6] = 2, b[8] = 0xff, b[9] = 0xff, b[10] = 0xff, b[11] = 0x7f;
    write_all(p, b, 64);
    expect_error("v2 header 2 GiB", p, CV_ERR_FORMAT, "out of bounds");
    b[6] = 1, b[8] = 0, b[9] = 0;
    write_all(p, b, 64);
    expect_error("empty header", p, CV_ERR_FORMAT, "out of bounds");
    write_all(p, "\x93NUMP", 5);
    expect_error("short magic", p, CV_ERR_FORMAT, "magic");
    write_all(p, "PK\x03\x04 this is a zip", sizeof "PK\x03\x04 this is a zip" - 1);
    expect_error(".npz (zip)", p, CV_ERR_FORMAT, "magic");
    expect_error("missing file", tmp_path("nope.npy"), CV_ERR_IO, NULL);

    /* random bytes after a valid magic must never be accepted silently */
    test_seed(22);
    int refused = 0;
    for (int t = 0; t < 300; t++) {
        unsigned char r[300];
        size_t len = 10 + (size_t)test_uniform(0, 290);
        memcpy(r, "\x93NUMPY\x01\x00", 8);
        for (size_t i = 8; i < len; i++)
            r[i] = (unsigned char)test_uniform(0, 256);
        if (t % 2)
            r[9] = 0; /* plausible header lengths */
        write_all(p, r, len);
        cv_shape s;
        float *y;
        cv_error err;
        if (cv_npy_read(p, &s, &y, &err) != CV_OK)
            refused++;
        else
            free(y);
    }
    printf("    random headers: %d of 300 refused\n", refused);
    CHECK(refused == 300, "%d random files accepted", 300 - refused);
}

static void test_write_errors(void)
{
    cv_error err;
    float x[2] = {1, 2};
    cv_shape s = {1, {2}};
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/dir/x.npy", tmpdir);
    CHECK(cv_npy_write_f32(bad, &s, x, &err) == CV_ERR_IO && one_line_naming(&err, bad), "%s", err.msg);
    cv_shape neg = {1, {-2}};
    CHECK(cv_npy_write_f32(tmp_path("neg.npy"), &neg, x, &err) == CV_ERR_INVALID, "negative shape accepted");
    DIR *d = opendir(tmpdir);
    int leftovers = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        leftovers += strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    CHECK(leftovers == 0, "%d temporary files left", leftovers);
}

/* What cv_npy_read said about path, read in a child under alarm(5) so a
 * read that blocks fails the test instead of hanging it. */
static cv_status read_in_child(const char *path, char *msg, size_t cap)
{
    int fds[2];
    snprintf(msg, cap, "no answer");
    if (pipe(fds) != 0)
        return CV_ERR_IO;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(5);
        cv_shape s;
        float *y;
        cv_error err;
        cv_status st = cv_npy_read(path, &s, &y, &err);
        if (st == CV_OK)
            free(y);
        int ok = write(fds[1], &st, sizeof st) == (ssize_t)sizeof st &&
                 write(fds[1], err.msg, sizeof err.msg) == (ssize_t)sizeof err.msg;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    cv_status st = CV_OK;
    char buf[sizeof ((cv_error *)0)->msg];
    int got = pid > 0 && read(fds[0], &st, sizeof st) == (ssize_t)sizeof st &&
              read(fds[0], buf, sizeof buf) == (ssize_t)sizeof buf;
    close(fds[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (got) {
        snprintf(msg, cap, "%s", buf);
        return st;
    }
    if (WIFSIGNALED(status))
        snprintf(msg, cap, "child killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (the read blocked)" : "");
    return CV_OK; /* no answer: a failure for every caller */
}

static void test_fifo_and_directory(void)
{
    const char *fifo = tmp_path("x.npy"), *dir = tmp_path("arrays.npy");
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    REQUIRE(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
    char mf[sizeof ((cv_error *)0)->msg], md[sizeof mf];
    cv_status sf = read_in_child(fifo, mf, sizeof mf), sd = read_in_child(dir, md, sizeof md);
    printf("    FIFO: %s\n    directory: %s\n", mf, md);
    CHECK(sf == CV_ERR_IO && strstr(mf, fifo) && strstr(mf, "FIFO"), "status %d: %s", sf, mf);
    CHECK(sd == CV_ERR_IO && strstr(md, dir) && strstr(md, "is a directory"), "status %d: %s", sd, md);
    unlink(fifo);
    rmdir(dir);
}

/* A sparse file whose header says (16384, 16384) float32 and whose size
 * matches: 1 GiB that takes no disk. The size check passes; the memory
 * limit refuses it before allocating. And the limit is exact: a small
 * float64 array needs 4 bytes a value, not 8. */
static void test_memory_limit(void)
{
    const char *p = tmp_path("sparse.npy");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (16384, 16384), }", NULL, 0);
    FILE *f = fopen(p, "r+b");
    REQUIRE(f, "open %s", p);
    int grown = fseek(f, 0, SEEK_END) == 0 && ftruncate(fileno(f), ftell(f) + ((off_t)1 << 30)) == 0;
    fclose(f);
    REQUIRE(grown, "cannot make %s sparse", p);
    cv_shape s;
    float *y = NULL;
    cv_error err;
    clock_t t0 = clock();
    cv_status st = cv_npy_read_limited(p, &s, &y, (size_t)64 << 20, &err);
    double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("    1 GiB sparse .npy, 64 MiB limit: %.3f s CPU, peak RSS %ld KiB: %s\n", cpu, ru.ru_maxrss,
           st == CV_OK ? "read" : err.msg);
    CHECK(st == CV_ERR_LIMIT && y == NULL && one_line_naming(&err, p) && strstr(err.msg, "1024 MiB") &&
              strstr(err.msg, "64 MiB"),
          "status %d: %s", st, err.msg);
    if (st == CV_OK)
        free(y);
    unlink(p);

    double d[6] = {1, 2, 3, 4, 5, 6};
    p = tmp_path("small_f64.npy");
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", d, sizeof d);
    st = cv_npy_read_limited(p, &s, &y, 24, &err);
    CHECK(st == CV_OK && y && y[5] == 6, "6 float64 values with a 24-byte limit: status %d (%s)", st,
          st == CV_OK ? "" : err.msg);
    if (st == CV_OK)
        free(y);
    st = cv_npy_read_limited(p, &s, &y, 23, &err);
    printf("    23-byte limit: %s\n", st == CV_OK ? "read" : err.msg);
    CHECK(st == CV_ERR_LIMIT && y == NULL, "6 values with a 23-byte limit: status %d", st);
    if (st == CV_OK)
        free(y);
}

int main(void)
{
    if (!test_make_tmpdir(tmpdir, sizeof tmpdir, "npy"))
        return 1;
    RUN(test_round_trip_f32);
    RUN(test_round_trip_f64);
    RUN(test_write_i32);
    RUN(test_header_versions);
    RUN(test_numpy_written);
    RUN(test_bad_files);
    RUN(test_write_errors);
    RUN(test_fifo_and_directory);
    RUN(test_memory_limit);
    test_remove_dir(tmpdir);
    return test_summary("npy");
}
