/* NumPy .npy files (format versions 1.0, 2.0, 3.0):
 *
 *     "\x93NUMPY" major minor  header_len (uint16 LE in v1, uint32 LE in v2/v3)
 *     header: a Python dict literal, e.g.
 *         {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *     padded with spaces and a final '\n' so the data starts on a multiple of 64
 *     data: C-order, little-endian
 *
 * The reader parses the dict itself (no Python) and validates everything
 * against the file: a shape whose product overflows, a header longer than
 * the file, or data shorter or longer than the shape says is an error that
 * names the file and the numbers.
 */
#include "cnnviz_io.h"
#include "../core/graph.h"
#include "atomic.h"
#include "file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* numpy itself refuses headers above 10000 bytes by default; allow more,
 * but not so much that a hostile length makes us read a huge buffer */
#define CV_NPY_MAX_HEADER 100000

static int cv_host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

static void cv_swap_bytes(void *p, size_t n, size_t size)
{
    uint8_t *b = p;
    for (size_t k = 0; k < n; k++, b += size)
        for (size_t i = 0; i < size / 2; i++) {
            uint8_t t = b[i];
            b[i] = b[size - 1 - i];
            b[size - 1 - i] = t;
        }
}

/* ---- header dict parser -------------------------------------------------- */

typedef struct {
    const char *s, *end;
    const char *path;
    cv_error *err;
} cv_npy_parser;

static void cv_npy_ws(cv_npy_parser *p)
{
    while (p->s < p->end && isspace((unsigned char)*p->s))
        p->s++;
}

/* A quoted Python string without escapes (all .npy keys and descrs are). */
static cv_status cv_npy_string(cv_npy_parser *p, char *out, size_t cap)
{
    cv_npy_ws(p);
    if (p->s >= p->end || (*p->s != '\'' && *p->s != '"'))
        return cv_fail(p->err, CV_ERR_FORMAT, "%s: bad .npy header: expected a quoted string", p->path);
    char q = *p->s++;
    size_t n = 0;
    while (p->s < p->end && *p->s != q) {
        if (*p->s == '\\' || n + 1 >= cap)
            return cv_fail(p->err, CV_ERR_FORMAT, "%s: bad .npy header: string too long or escaped", p->path);
        out[n++] = *p->s++;
    }
    if (p->s >= p->end)
        return cv_fail(p->err, CV_ERR_FORMAT, "%s: bad .npy header: unterminated string", p->path);
    p->s++;
    out[n] = 0;
    return CV_OK;
}

static int cv_npy_eat(cv_npy_parser *p, char c)
{
    cv_npy_ws(p);
    if (p->s < p->end && *p->s == c) {
        p->s++;
        return 1;
    }
    return 0;
}

static cv_status cv_npy_shape(cv_npy_parser *p, cv_shape *shape)
{
    shape->ndim = 0;
    if (!cv_npy_eat(p, '('))
        return cv_fail(p->err, CV_ERR_FORMAT, "%s: bad .npy header: 'shape' is not a tuple", p->path);
    for (;;) {
        if (cv_npy_eat(p, ')'))
            return CV_OK;
        cv_npy_ws(p);
        if (p->s >= p->end || !isdigit((unsigned char)*p->s))
            return cv_fail(p->err, CV_ERR_FORMAT,
                           "%s: bad .npy header: 'shape' must hold non-negative integers", p->path);
        int64_t v = 0;
        while (p->s < p->end && isdigit((unsigned char)*p->s)) {
            if (v > (INT64_MAX - 9) / 10)
                return cv_fail(p->err, CV_ERR_LIMIT, "%s: .npy shape dimension too large", p->path);
            v = v * 10 + (*p->s++ - '0');
        }
        if (p->s < p->end && (*p->s == 'L' || *p->s == 'l')) /* written by Python 2 */
            p->s++;
        if (shape->ndim == CV_MAX_DIMS)
            return cv_fail(p->err, CV_ERR_UNSUPPORTED, "%s: .npy array has more than %d dimensions",
                           p->path, CV_MAX_DIMS);
        shape->d[shape->ndim++] = v;
        if (cv_npy_eat(p, ','))
            continue;
        if (cv_npy_eat(p, ')'))
            return CV_OK;
        return cv_fail(p->err, CV_ERR_FORMAT, "%s: bad .npy header: expected ',' or ')' in 'shape'", p->path);
    }
}

/* Parse the dict; fills descr, fortran order and shape. */
static cv_status cv_npy_parse(const char *hdr, size_t len, const char *path, char *descr, size_t dcap,
                              int *fortran, cv_shape *shape, cv_error *err)
{
    cv_npy_parser p = {hdr, hdr + len, path, err};
    int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
    cv_status st;
    if (!cv_npy_eat(&p, '{'))
        return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: does not start with '{'", path);
    for (;;) {
        if (cv_npy_eat(&p, '}'))
            break;
        char key[32];
        if ((st = cv_npy_string(&p, key, sizeof key)) != CV_OK)
            return st;
        if (!cv_npy_eat(&p, ':'))
            return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: expected ':' after '%s'", path, key);
        if (strcmp(key, "descr") == 0) {
            if ((st = cv_npy_string(&p, descr, dcap)) != CV_OK)
                return st;
            seen_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            cv_npy_ws(&p);
            if ((size_t)(p.end - p.s) >= 4 && memcmp(p.s, "True", 4) == 0) {
                *fortran = 1;
                p.s += 4;
            } else if ((size_t)(p.end - p.s) >= 5 && memcmp(p.s, "False", 5) == 0) {
                *fortran = 0;
                p.s += 5;
            } else {
                return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: 'fortran_order' is not True or False",
                               path);
            }
            seen_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if ((st = cv_npy_shape(&p, shape)) != CV_OK)
                return st;
            seen_shape = 1;
        } else {
            return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: unexpected key '%s'", path, key);
        }
        if (cv_npy_eat(&p, ','))
            continue;
        if (cv_npy_eat(&p, '}'))
            break;
        return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: expected ',' or '}' after '%s'", path, key);
    }
    cv_npy_ws(&p);
    if (p.s != p.end)
        return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: text after the closing '}'", path);
    if (!seen_descr || !seen_fortran || !seen_shape)
        return cv_fail(err, CV_ERR_FORMAT, "%s: bad .npy header: missing '%s'", path,
                       !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
    return CV_OK;
}

/* ---- reader --------------------------------------------------------------- */

/* The magic, version and header length; *prefix is where the dict starts. */
static cv_status cv_npy_read_prefix(FILE *f, const char *path, uint64_t fsize, uint64_t *prefix, uint64_t *hlen,
                                    cv_error *err)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, f);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", path);
    int major = pre[6], minor = pre[7];
    if (major == 1) {
        *prefix = 10;
        *hlen = pre[8] | (uint64_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (got < 12)
            return cv_fail(err, CV_ERR_FORMAT, "%s: truncated .npy header", path);
        *prefix = 12;
        *hlen = pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
    } else {
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: .npy format version %d.%d (expected 1.0, 2.0 or 3.0)",
                       path, major, minor);
    }
    if (*hlen == 0 || *hlen > CV_NPY_MAX_HEADER)
        return cv_fail(err, CV_ERR_FORMAT, "%s: .npy header length %llu out of bounds (1 to %d)",
                       path, (unsigned long long)*hlen, CV_NPY_MAX_HEADER);
    if (*prefix + *hlen > fsize)
        return cv_fail(err, CV_ERR_FORMAT, "%s: truncated: the .npy header claims %llu bytes, the file has %llu",
                       path, (unsigned long long)(*prefix + *hlen), (unsigned long long)fsize);
    return CV_OK;
}

/* Read and parse the header dict: the shape, the item size (4 or 8) and
 * where the data starts. Reads at most CV_NPY_MAX_HEADER bytes. */
static cv_status cv_npy_read_header(FILE *f, const char *path, uint64_t fsize, cv_shape *shape, size_t *item,
                                    uint64_t *data_at, cv_error *err)
{
    uint64_t prefix = 0, hlen = 0;
    cv_status st = cv_npy_read_prefix(f, path, fsize, &prefix, &hlen, err);
    if (st != CV_OK)
        return st;
    char *hdr = malloc(hlen);
    if (!hdr)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
    if (fseek(f, (long)prefix, SEEK_SET) != 0 || fread(hdr, 1, hlen, f) != hlen) {
        free(hdr);
        return cv_fail(err, CV_ERR_IO, "%s: cannot read the .npy header", path);
    }
    char descr[32];
    int fortran = 0;
    st = cv_npy_parse(hdr, hlen, path, descr, sizeof descr, &fortran, shape, err);
    free(hdr);
    if (st != CV_OK)
        return st;
    if (strcmp(descr, "<f4") == 0)
        *item = 4;
    else if (strcmp(descr, "<f8") == 0)
        *item = 8;
    else
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (expected '<f4' or '<f8')",
                       path, descr);
    if (fortran)
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "%s: Fortran-order array; save it C-ordered (numpy.ascontiguousarray)", path);
    *data_at = prefix + hlen;
    return CV_OK;
}

/* The n values after the header into out (float32 as is, float64 through a
 * small buffer, byte-swapped on a big-endian host). */
static cv_status cv_npy_read_values(FILE *f, const char *path, size_t n, size_t item, float *out, cv_error *err)
{
    int swap = cv_host_big_endian();
    if (item == 4) {
        if (fread(out, 4, n, f) != n)
            return cv_fail(err, CV_ERR_IO, "%s: read failed", path);
        if (swap)
            cv_swap_bytes(out, n, 4);
        return CV_OK;
    }
    double buf[1024];
    for (size_t done = 0; done < n;) {
        size_t m = n - done < 1024 ? n - done : 1024;
        if (fread(buf, 8, m, f) != m)
            return cv_fail(err, CV_ERR_IO, "%s: read failed", path);
        if (swap)
            cv_swap_bytes(buf, m, 8);
        for (size_t k = 0; k < m; k++)
            out[done + k] = (float)buf[k];
        done += m;
    }
    return CV_OK;
}

cv_status cv_npy_read_limited(const char *path, cv_shape *shape, float **data, size_t max_bytes, cv_error *err)
{
    *data = NULL;
    memset(shape, 0, sizeof *shape);
    max_bytes = cv_memory_limit(max_bytes);
    FILE *f;
    uint64_t fsize;
    cv_status st = cv_file_open_read(path, "a NumPy .npy file", &f, &fsize, err);
    if (st != CV_OK)
        return st;
    size_t item = 0, n = 1, bytes = 0;
    uint64_t data_at = 0;
    st = cv_npy_read_header(f, path, fsize, shape, &item, &data_at, err);
    for (int k = 0; st == CV_OK && k < shape->ndim; k++)
        if (!cv_mul_size(n, (size_t)shape->d[k], &n))
            st = cv_fail(err, CV_ERR_LIMIT, "%s: .npy shape overflows", path);
    char sh[128], lim[32], need[32];
    if (st == CV_OK && (!cv_mul_size(n, item, &bytes) || bytes > CV_MAX_TENSOR_BYTES || n > CV_MAX_TENSOR_BYTES / 4))
        st = cv_fail(err, CV_ERR_LIMIT, "%s: .npy array %s is larger than the %zu-byte limit",
                     path, cv_shape_str(shape, sh, sizeof sh), (size_t)CV_MAX_TENSOR_BYTES);
    /* the file's size must match the shape exactly, so a header cannot
     * make us allocate more than the file holds; a sparse file can still
     * be large, hence the memory limit on what we allocate (n floats) */
    uint64_t have = st == CV_OK ? fsize - data_at : 0;
    if (st == CV_OK && have < bytes)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: truncated: expected %zu bytes of data, found %llu",
                     path, bytes, (unsigned long long)have);
    else if (st == CV_OK && have > bytes)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: %llu bytes after the data (expected exactly %zu bytes of data)",
                     path, (unsigned long long)(have - bytes), bytes);
    else if (st == CV_OK && n * sizeof(float) > max_bytes)
        st = cv_fail(err, CV_ERR_LIMIT, "%s: .npy array %s needs %s as float32, more than the %s memory limit",
                     path, cv_shape_str(shape, sh, sizeof sh), cv_bytes_str(n * sizeof(float), need, sizeof need),
                     cv_bytes_str(max_bytes, lim, sizeof lim));
    float *out = NULL;
    if (st == CV_OK && !(out = malloc(n ? n * sizeof(float) : 1))) /* non-NULL even for empty arrays */
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory for %zu values", path, n);
    if (st == CV_OK)
        st = cv_npy_read_values(f, path, n, item, out, err);
    fclose(f);
    if (st != CV_OK) {
        free(out);
        return st;
    }
    *data = out;
    return CV_OK;
}

cv_status cv_npy_read(const char *path, cv_shape *shape, float **data, cv_error *err)
{
    return cv_npy_read_limited(path, shape, data, 0, err);
}

/* ---- writers --------------------------------------------------------------- */

/* descr: NumPy's little-endian type ("<f4", "<f8", "<i4"), item bytes each. */
static cv_status cv_npy_write(const char *path, const cv_shape *shape, const void *data, const char *descr,
                              size_t item, cv_error *err)
{
    if (shape->ndim < 0 || shape->ndim > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_INVALID, "%s: %d dimensions (expected 0 to %d)", path, shape->ndim,
                       CV_MAX_DIMS);
    size_t n = 1;
    for (int k = 0; k < shape->ndim; k++)
        if (shape->d[k] < 0 || !cv_mul_size(n, (size_t)shape->d[k], &n))
            return cv_fail(err, CV_ERR_INVALID, "%s: bad shape for .npy", path);
    if (n && !data)
        return cv_fail(err, CV_ERR_INVALID, "%s: no data to write", path);

    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int k = 0; k < shape->ndim; k++)
        len += snprintf(dict + len, sizeof dict - len, k ? ", %lld" : "%lld", (long long)shape->d[k]);
    len += snprintf(dict + len, sizeof dict - len, "%s), }", shape->ndim == 1 ? "," : "");
    /* pad with spaces and end with '\n' so the data starts at a multiple of 64 */
    size_t prefix = 10, total = prefix + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - prefix; /* fits uint16: dict is under 512 bytes, so always v1 */
    unsigned char head[640];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)len);
    memset(head + 10 + len, ' ', hlen - (size_t)len - 1);
    head[padded - 1] = '\n';

    cv_atomic a;
    cv_status st = cv_atomic_open(&a, path, err);
    if (st != CV_OK)
        return st;
    int ok = fwrite(head, 1, padded, a.f) == padded;
    if (ok && cv_host_big_endian()) {
        uint8_t buf[8];
        for (size_t k = 0; k < n && ok; k++) {
            memcpy(buf, (const uint8_t *)data + k * item, item);
            cv_swap_bytes(buf, 1, item);
            ok = fwrite(buf, item, 1, a.f) == 1;
        }
    } else if (ok && n) {
        ok = fwrite(data, item, n, a.f) == n;
    }
    if (!ok) {
        int e = errno;
        cv_atomic_abort(&a);
        return cv_fail(err, CV_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return cv_atomic_commit(&a, err);
}

cv_status cv_npy_write_f32(const char *path, const cv_shape *shape, const float *data, cv_error *err)
{
    return cv_npy_write(path, shape, data, "<f4", 4, err);
}

cv_status cv_npy_write_f64(const char *path, const cv_shape *shape, const double *data, cv_error *err)
{
    return cv_npy_write(path, shape, data, "<f8", 8, err);
}

cv_status cv_npy_write_i32(const char *path, const cv_shape *shape, const int32_t *data, cv_error *err)
{
    return cv_npy_write(path, shape, data, "<i4", 4, err);
}
