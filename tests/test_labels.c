/* Class labels: files of any line length, index prefixes, limits, and files
 * that are not files (a FIFO must not block). */
#include "lib/test.h"
#include "cnnviz_io.h"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[128];

static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
    return path;
}

static void test_index_prefixes_and_blanks(void)
{
    const char text[] = "0, tench\n1:goldfish\n\n  2 great white shark  \r\nn01491361 tiger shark\n";
    cv_labels l;
    cv_error err;
    REQUIRE(cv_labels_read(&l, write_file("a.txt", text, sizeof text - 1), 0, &err) == CV_OK, "%s", err.msg);
    CHECK(l.n == 4, "n = %d, expected 4 (blank lines skipped)", l.n);
    if (l.n == 4) {
        CHECK(strcmp(l.names[0], "tench") == 0, "names[0] = '%s'", l.names[0]);
        CHECK(strcmp(l.names[1], "goldfish") == 0, "names[1] = '%s'", l.names[1]);
        CHECK(strcmp(l.names[2], "great white shark") == 0, "names[2] = '%s'", l.names[2]);
        CHECK(strcmp(l.names[3], "n01491361 tiger shark") == 0, "names[3] = '%s'", l.names[3]);
    }
    cv_labels_free(&l);
}

/* A line longer than any fixed buffer must stay one label: before, a
 * 4096-byte fgets split it and shifted every later label by one. */
static void test_long_line_keeps_later_labels_in_place(void)
{
    size_t long_len = 100000;
    char *text = malloc(long_len + 64);
    REQUIRE(text, "malloc");
    size_t n = (size_t)sprintf(text, "first\n");
    memset(text + n, 'x', long_len);
    n += long_len;
    n += (size_t)sprintf(text + n, "\nthird\n");
    cv_labels l;
    cv_error err;
    cv_status st = cv_labels_read(&l, write_file("long.txt", text, n), 0, &err);
    free(text);
    REQUIRE(st == CV_OK, "%s", err.msg);
    CHECK(l.n == 3, "n = %d, expected 3", l.n);
    if (l.n == 3) {
        CHECK(strlen(l.names[1]) == long_len, "long label has %zu characters, expected %zu", strlen(l.names[1]),
              long_len);
        CHECK(strcmp(l.names[2], "third") == 0, "names[2] = '%s', expected 'third'", l.names[2]);
    }
    cv_labels_free(&l);
}

static void test_memory_limit(void)
{
    size_t n = 3 << 20;
    char *text = malloc(n);
    REQUIRE(text, "malloc");
    for (size_t k = 0; k < n; k++)
        text[k] = k % 2 ? '\n' : 'a'; /* 1.5 M one-letter labels: the index is 12 MiB */
    const char *path = write_file("many.txt", text, n);
    free(text);
    cv_labels l;
    cv_error err;
    cv_status st = cv_labels_read(&l, path, (size_t)8 << 20, &err);
    CHECK(st == CV_ERR_LIMIT, "status %d (%s), expected CV_ERR_LIMIT with an 8 MiB limit", st, err.msg);
    cv_labels_free(&l);
    st = cv_labels_read(&l, path, (size_t)1 << 20, &err);
    CHECK(st == CV_ERR_LIMIT, "status %d, expected CV_ERR_LIMIT for a 3 MiB file and 1 MiB", st);
    CHECK(strstr(err.msg, "limit") != NULL, "message: %s", err.msg);
    st = cv_labels_read(&l, path, (size_t)64 << 20, &err);
    CHECK(st == CV_OK && l.n == (int)(n / 2), "status %d, n = %d, expected %zu", st, l.n, n / 2);
    cv_labels_free(&l);
}

static void test_not_regular_files(void)
{
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo");
    alarm(10); /* a regression blocks in open(): fail by SIGALRM instead of hanging */
    cv_labels l;
    cv_error err;
    cv_status st = cv_labels_read(&l, fifo, 0, &err);
    alarm(0);
    CHECK(st == CV_ERR_IO && strstr(err.msg, "FIFO"), "status %d: %s", st, err.msg);
    unlink(fifo);
    st = cv_labels_read(&l, dir, 0, &err);
    CHECK(st == CV_ERR_IO && strstr(err.msg, "directory"), "status %d: %s", st, err.msg);
    st = cv_labels_read(&l, write_file("empty.txt", "\n\n \n", 4), 0, &err);
    CHECK(st == CV_ERR_FORMAT, "status %d for a file of blank lines: %s", st, err.msg);
    st = cv_labels_read(&l, write_file("nul.txt", "a\0b\n", 4), 0, &err);
    CHECK(st == CV_ERR_FORMAT, "status %d for a file with a NUL byte: %s", st, err.msg);
}

static void test_csv_metadata(void)
{
    cv_labels l;
    cv_error err;
    REQUIRE(cv_labels_parse_csv(&l, "cat, dog,,bird ", 0, &err) == CV_OK, "%s", err.msg);
    CHECK(l.n == 4, "n = %d, expected 4 (an empty name keeps its index)", l.n);
    if (l.n == 4)
        CHECK(strcmp(l.names[1], "dog") == 0 && l.names[2][0] == 0 && strcmp(l.names[3], "bird") == 0,
              "names: '%s' '%s' '%s'", l.names[1], l.names[2], l.names[3]);
    cv_labels_free(&l);
    CHECK(cv_labels_parse_csv(&l, "a,b,c,d,e,f,g,h", 16, &err) == CV_ERR_LIMIT, "16-byte limit: %s", err.msg);
}

/* A class by name: the whole label or a synonym, any case, the first label
 * that has it; a typo gets the closest labels suggested, best first; a
 * name close to nothing fails without suggestions. */
static void test_find(void)
{
    const char text[] = "tench, Tinca tinca\ngoldfish, Carassius auratus\ntabby, tabby cat\ntiger cat\n"
                        "Egyptian cat\ncat\n";
    cv_labels l;
    cv_error err;
    REQUIRE(cv_labels_read(&l, write_file("find.txt", text, sizeof text - 1), 0, &err) == CV_OK, "%s", err.msg);
    REQUIRE(l.n == 6, "n = %d", l.n);
    int k = cv_labels_find(&l, "tench, tinca tinca", &err);
    CHECK(k == 0, "the whole label: %d", k);
    k = cv_labels_find(&l, "carassius AURATUS", &err);
    CHECK(k == 1, "a synonym, any case: %d", k);
    k = cv_labels_find(&l, "tabby cat", &err);
    CHECK(k == 2, "the second synonym: %d", k);
    k = cv_labels_find(&l, "cat", &err);
    CHECK(k == 5, "'cat' is label 5 exactly, not a word of 'tabby cat': %d", k);
    memset(&err, 0, sizeof err);
    k = cv_labels_find(&l, "goldfsh", &err);
    printf("    %s\n", err.msg);
    CHECK(k == -1 && err.status == CV_ERR_INVALID, "a typo matched %d (status %d)", k, err.status);
    CHECK(strstr(err.msg, "did you mean 1 'goldfish, Carassius auratus'") != NULL, "suggestion: %s", err.msg);
    k = cv_labels_find(&l, "tiger", &err);
    printf("    %s\n", err.msg);
    /* 'tiger' is a whole word of label 3 only: it comes first. */
    CHECK(k == -1 && strstr(err.msg, "did you mean 3 'tiger cat'") != NULL, "word fit first: %s", err.msg);
    k = cv_labels_find(&l, "zzzzqqqq", &err);
    printf("    %s\n", err.msg);
    CHECK(k == -1 && err.status == CV_ERR_INVALID && !strstr(err.msg, "did you mean"), "no fit: %s", err.msg);
    CHECK(!strstr(err.msg, "--"), "a library message names no CLI flag: %s", err.msg);
    cv_labels_free(&l);
}

/* Escaping for the terminal: control characters, C1 controls and broken
 * UTF-8 become \xNN; valid UTF-8 text stays. */
static void test_escape(void)
{
    char out[128];
    size_t n = cv_escape(out, sizeof out, "a\x1b[2Jb\nc");
    CHECK(strcmp(out, "a\\x1b[2Jb\\x0ac") == 0 && n == strlen(out), "escaped: %s (%zu)", out, n);
    cv_escape(out, sizeof out, "caf\xc3\xa9 \xc2\x9b \xff");
    CHECK(strcmp(out, "caf\xc3\xa9 \\xc2\\x9b \\xff") == 0, "escaped: %s", out);
    n = cv_escape(out, 4, "abcdef");
    CHECK(n == 6 && strcmp(out, "abc") == 0, "truncated: '%s' needs %zu", out, n);
}

int main(void)
{
    if (!test_make_tmpdir(dir, sizeof dir, "labels")) {
        fprintf(stderr, "cannot make a temporary directory\n");
        return 1;
    }
    RUN(test_index_prefixes_and_blanks);
    RUN(test_long_line_keeps_later_labels_in_place);
    RUN(test_memory_limit);
    RUN(test_not_regular_files);
    RUN(test_csv_metadata);
    RUN(test_escape);
    RUN(test_find);
    test_remove_dir(dir);
    return test_summary("labels");
}
