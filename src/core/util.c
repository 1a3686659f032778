/* Version and status strings, error formatting, checked sizes, shapes,
 * float16. */
#include "graph.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cv_version(void) { return CV_VERSION; }

const char *cv_status_string(cv_status s)
{
    switch (s) {
    case CV_OK: return "ok";
    case CV_ERR_IO: return "i/o error";
    case CV_ERR_FORMAT: return "bad file format";
    case CV_ERR_INVALID: return "invalid input";
    case CV_ERR_UNSUPPORTED: return "unsupported";
    case CV_ERR_SHAPE: return "shape mismatch";
    case CV_ERR_NOMEM: return "out of memory";
    case CV_ERR_LIMIT: return "size limit exceeded";
    case CV_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

/* Length of the valid UTF-8 sequence at s (1..4) that is printable text,
 * or 0: a lone continuation byte, a truncated or overlong sequence, a
 * surrogate, or a C1 control (U+0080..U+009F), which some terminals obey. */
static int utf8_printable_len(const unsigned char *s)
{
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    if (!n || (s[0] >= 0xF0 && n != 4))
        return 0;
    for (int k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if (n == 2 && s[0] == 0xC2 && s[1] < 0xA0)
        return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
        return 0;
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
        return 0;
    return n;
}

size_t cv_escape(char *out, size_t cap, const char *in)
{
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;
    for (const unsigned char *s = (const unsigned char *)in; *s;) {
        char tmp[4];
        const char *piece = (const char *)s;
        int n = 1;
        if (*s >= 0x80)
            n = utf8_printable_len(s);
        if ((*s < 0x20 || *s == 0x7F) || n == 0) {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hex[*s >> 4];
            tmp[3] = hex[*s & 15];
            piece = tmp;
            n = 4;
            s++;
        } else {
            s += n;
        }
        for (int k = 0; k < n; k++, used++)
            if (used + 1 < cap)
                out[used] = piece[k];
    }
    if (cap)
        out[used < cap ? used : cap - 1] = 0;
    return used;
}

/* Back up from position k of s to the start of a UTF-8 sequence. */
static size_t utf8_boundary(const char *s, size_t k)
{
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* text (escaped) into msg; when it does not fit, keep a third of the room
 * for its start and the rest for its end, where the reason is. */
static void fit_message(char *msg, size_t cap, const char *text)
{
    size_t need = cv_escape(msg, cap, text);
    if (need < cap)
        return;
    char *full = malloc(need + 1);
    if (!full)
        return; /* msg holds the start: better than nothing */
    cv_escape(full, need + 1, text);
    static const char gap[] = " ... ";
    size_t room = cap - 1 - (sizeof gap - 1);
    size_t head = utf8_boundary(full, room / 3);
    size_t tail_at = need - (room - head);
    while (tail_at < need && ((unsigned char)full[tail_at] & 0xC0) == 0x80)
        tail_at++;
    memcpy(msg, full, head);
    memcpy(msg + head, gap, sizeof gap - 1);
    memcpy(msg + head + sizeof gap - 1, full + tail_at, need - tail_at + 1);
    free(full);
}

cv_status cv_fail(cv_error *err, cv_status status, const char *fmt, ...)
{
    if (err) {
        char small[4096];
        va_list ap, again;
        va_start(ap, fmt);
        va_copy(again, ap);
        int n = vsnprintf(small, sizeof small, fmt, ap);
        char *text = small;
        if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)) != NULL)
            vsnprintf(text, (size_t)n + 1, fmt, again);
        else if (!text)
            text = small;
        va_end(again);
        va_end(ap);
        fit_message(err->msg, sizeof err->msg, n < 0 ? "error message could not be formatted" : text);
        if (text != small)
            free(text);
        err->status = status;
    }
    return status;
}

bool cv_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* MemAvailable from /proc/meminfo in bytes, or 0. */
static size_t meminfo_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return kib > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)kib * 1024;
}

double cv_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t cv_memory_limit(size_t requested)
{
    if (requested)
        return requested;
    size_t avail = meminfo_available();
    if (avail)
        return avail;
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t bytes;
    if (pages > 0 && page > 0 && cv_mul_size((size_t)pages, (size_t)page, &bytes))
        return bytes;
    return (size_t)4 << 30;
}

size_t cv_shape_numel(const cv_shape *s)
{
    size_t n = 1;
    for (int k = 0; k < s->ndim; k++) {
        if (s->d[k] < 0 || !cv_mul_size(n, (size_t)s->d[k], &n))
            return 0;
        if (n > ((size_t)1 << 48)) /* far past any real tensor: treat as overflow */
            return 0;
    }
    return n;
}

int cv_shape_equal(const cv_shape *a, const cv_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->d[k] != b->d[k])
            return 0;
    return 1;
}

char *cv_shape_str(const cv_shape *s, char *buf, size_t len)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int k = 0; k < s->ndim && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, k ? ", %lld" : "%lld", (long long)s->d[k]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
    return buf;
}

cv_status cv_broadcast_shape(const cv_shape *a, const cv_shape *b, cv_shape *out)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = nd;
    for (int k = 0; k < nd; k++) {
        int ka = k - (nd - a->ndim), kb = k - (nd - b->ndim);
        int64_t da = ka >= 0 ? a->d[ka] : 1, db = kb >= 0 ? b->d[kb] : 1;
        if (da == db || db == 1)
            out->d[k] = da;
        else if (da == 1)
            out->d[k] = db;
        else
            return CV_ERR_SHAPE;
    }
    return CV_OK;
}

float cv_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t cv_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff)
        return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, which is correct rounding */
    return (uint16_t)half;
}

int cv_edit_distance(const char *a, size_t na, const char *b, size_t nb, bool fold_case)
{
    enum { MAX = 64 };
    if (na > MAX)
        na = MAX;
    if (nb > MAX)
        nb = MAX;
    int row[MAX + 1];
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            unsigned char x = (unsigned char)a[i - 1], y = (unsigned char)b[j - 1];
            bool differ = fold_case ? tolower(x) != tolower(y) : x != y;
            int sub = diag + differ;
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[nb];
}
