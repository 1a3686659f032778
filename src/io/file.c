/* Opening files for reading without trusting what the path names. */
#include "file.h"
#include "../core/graph.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cv_bytes_str(size_t bytes, char *buf, size_t len)
{
    if (bytes >= ((size_t)1 << 20) && bytes % ((size_t)1 << 20) == 0)
        snprintf(buf, len, "%zu MiB", bytes >> 20);
    else if (bytes >= ((size_t)1 << 20))
        snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
    else
        snprintf(buf, len, "%zu bytes", bytes);
    return buf;
}

static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)" : S_ISSOCK(mode) ? "a socket"
         : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device" : "not a regular file";
}

cv_status cv_file_open_fd(int fd, const char *path, const char *what, FILE **out, uint64_t *size,
                          cv_error *err)
{
    *out = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cv_fail(err, CV_ERR_IO, "%s: cannot stat %s: %s", path, what, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cv_fail(err, CV_ERR_IO, "%s: is %s, not %s", path, file_kind(st.st_mode), what);
    }
    /* a regular file never blocks, but later reads should not see EAGAIN either */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory opening %s", path, what);
    }
    *out = f;
    if (size)
        *size = (uint64_t)st.st_size;
    return CV_OK;
}

cv_status cv_file_open_read(const char *path, const char *what, FILE **out, uint64_t *size, cv_error *err)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cv_fail(err, CV_ERR_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
    return cv_file_open_fd(fd, path, what, out, size, err);
}

cv_status cv_file_read_all(const char *path, const char *what, size_t cap, uint8_t **buf, size_t *len,
                           cv_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f;
    uint64_t size;
    cv_status st = cv_file_open_read(path, what, &f, &size, err);
    if (st != CV_OK)
        return st;
    if (size == 0) {
        fclose(f);
        return cv_fail(err, CV_ERR_FORMAT, "%s: file is empty, not %s", path, what);
    }
    if (size > cap) {
        fclose(f);
        char lim[64];
        return cv_fail(err, CV_ERR_LIMIT, "%s: file has %llu bytes, more than the %s limit for %s", path,
                       (unsigned long long)size, cv_bytes_str(cap, lim, sizeof lim), what);
    }
    size_t n = (size_t)size;
    uint8_t *b = cv_malloc_large(n + 1);
    if (!b) {
        fclose(f);
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(b, 1, n, f);
    int e = ferror(f) ? errno : 0;
    fclose(f);
    if (got != n) {
        free(b);
        return e ? cv_fail(err, CV_ERR_IO, "%s: read failed after %zu of %zu bytes: %s", path, got, n, strerror(e))
                 : cv_fail(err, CV_ERR_FORMAT, "%s: file shrank while being read (%zu of %zu bytes)", path, got, n);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return CV_OK;
}
