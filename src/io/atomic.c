/* Atomic file writes: temporary file beside the target, then rename. */
#include "atomic.h"
#include "cnnviz_io.h"
#include "../core/graph.h"
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A unique-enough suffix; O_EXCL makes collisions safe, we just retry. */
static void cv_atomic_suffix(char *out6, unsigned attempt)
{
    static atomic_uint counter;
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_nsec * 0x9E3779B97F4A7C15ull
                         ^ (unsigned long long)getpid() << 32
                         ^ (unsigned long long)atomic_fetch_add(&counter, 1) * 0xBF58476D1CE4E5B9ull
                         ^ attempt;
    for (int k = 0; k < 6; k++) {
        x ^= x >> 29;
        x *= 0x94D049BB133111EBull;
        out6[k] = alnum[(x >> 40) % (sizeof alnum - 1)];
    }
}

cv_status cv_atomic_open(cv_atomic *a, const char *path, cv_error *err)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = strdup(path);
    a->tmp = malloc(n + sizeof ".tmp-XXXXXX");
    if (!a->path || !a->tmp) {
        cv_atomic_abort(a);
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp-", 5);
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        cv_atomic_suffix(a->tmp + n + 5, attempt);
        a->tmp[n + 11] = 0;
        /* 0666 so the final file gets the usual umask-derived mode */
        int fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            int e = errno;
            free(a->tmp);
            a->tmp = NULL;
            cv_atomic_abort(a);
            return cv_fail(err, CV_ERR_IO, "%s: cannot create a file there: %s", path, strerror(e));
        }
        a->f = fdopen(fd, "wb");
        if (!a->f) {
            close(fd);
            cv_atomic_abort(a);
            return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
        }
        return CV_OK;
    }
    free(a->tmp);
    a->tmp = NULL;
    cv_atomic_abort(a);
    return cv_fail(err, CV_ERR_IO, "%s: cannot find a free temporary name beside it", path);
}

void cv_atomic_abort(cv_atomic *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

cv_status cv_atomic_commit(cv_atomic *a, cv_error *err)
{
    /* No fsync: the rename protects against a killed process, which is the
     * failure we care about; fsync per file would make writing hundreds of
     * occlusion frames slow. */
    errno = 0;
    int bad = fflush(a->f) != 0 || ferror(a->f);
    int e = errno ? errno : EIO;
    if (fclose(a->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    a->f = NULL;
    if (bad) {
        cv_fail(err, CV_ERR_IO, "%s: write failed: %s", a->path, strerror(e));
        cv_atomic_abort(a);
        return CV_ERR_IO;
    }
    if (rename(a->tmp, a->path) != 0) {
        cv_fail(err, CV_ERR_IO, "%s: cannot rename the finished file into place: %s",
                a->path, strerror(errno));
        cv_atomic_abort(a);
        return CV_ERR_IO;
    }
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
    return CV_OK;
}

cv_status cv_file_write(const char *path, const void *data, size_t len, cv_error *err)
{
    cv_atomic a;
    cv_status st = cv_atomic_open(&a, path, err);
    if (st != CV_OK)
        return st;
    if (len && fwrite(data, 1, len, a.f) != len) {
        int e = errno;
        cv_atomic_abort(&a);
        return cv_fail(err, CV_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return cv_atomic_commit(&a, err);
}
