/* ONNX loader: a ModelProto, parsed by protobuf-c (code generated from
 * Debian's onnx.proto), becomes a cv_model through the builder in graph.h.
 *
 * Model files are hostile input. The file size is capped before reading;
 * before protobuf-c unpacks anything, a scan of the wire bytes
 * (onnx_wire.h) refuses messages nested too deep for its recursion and
 * files that would unpack to more than max_memory; every tensor's element
 * count is overflow-checked and capped before anything is allocated for
 * it, and the strings the model keeps count against the same budget; the
 * bytes present must match the declared shape; external data may only
 * name regular files inside the model's directory, reached without
 * following a symbolic link.
 *
 * Data types: the engine computes in float32 (and int64 for shape
 * arithmetic), so float16 / bfloat16 / double tensors become float32 and
 * integer / bool tensors become int64 here, once, at load time.
 *
 * Versions: any IR version and any default-domain opset are accepted; the
 * opset goes into m->opset and operators whose meaning changed between
 * opsets (Softmax's axis, Reshape's inputs) read it. Other domains are
 * refused by name, as are subgraphs (If, Loop, Scan). */
#include "../core/loaders.h"
#include "onnx.pb-c.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "file.h"
#include "onnx_wire.h"

#define ONNX_MAX_FILE ((size_t)2 << 30)   /* protobuf's own limit on one message */
#define ONNX_MAX_TOTAL ((size_t)16 << 30) /* all constant data of one model, by default */
#define ONNX_MAX_COUNT (1 << 24)          /* nodes, inputs of a node, attribute lengths */

typedef struct {
    const char *path;   /* the file being read, for messages */
    char dir[4096];     /* its directory: external data is relative to it */
    size_t max_tensor;  /* bytes one tensor may take once converted */
    size_t max_total;   /* bytes all constants together may take */
    size_t total;
} onnx_ctx;

/* Graph inputs to replace by constants (cv_load_onnx_bound). */
typedef struct {
    int n;
    const char *const *names;
    const cv_dtype *dtypes;
    const cv_shape *shapes;
    const void *const *datas;
} onnx_binding;

/* protobuf-c leaves absent optional strings NULL. */
static const char *S(const char *s) { return s ? s : ""; }

static bool is_default_domain(const char *d) { return !d || !*d || strcmp(d, "ai.onnx") == 0; }

static cv_status ctx_init(onnx_ctx *c, const char *path, const cv_load_options *opt, cv_error *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->max_tensor = CV_MAX_TENSOR_BYTES;
    c->max_total = ONNX_MAX_TOTAL;
    if (opt && opt->max_memory) {
        c->max_total = opt->max_memory;
        if (opt->max_memory < c->max_tensor)
            c->max_tensor = opt->max_memory;
    }
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(c->dir, sizeof c->dir, ".");
    else if (slash == path)
        snprintf(c->dir, sizeof c->dir, "/");
    else if ((size_t)(slash - path) >= sizeof c->dir)
        return cv_fail(err, CV_ERR_LIMIT, "%s: path is too long", path);
    else
        snprintf(c->dir, sizeof c->dir, "%.*s", (int)(slash - path), path);
    return CV_OK;
}

/* Count bytes the model will keep (strings copied from the file: metadata,
 * string attributes, names) against the same budget as its constants, so
 * that max_memory bounds everything a file can make the loader hold. */
static cv_status charge(onnx_ctx *c, size_t bytes, const char *what, cv_error *err)
{
    char lim[64];
    if (bytes > c->max_total - c->total)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s: the model's constants and strings exceed the %s limit",
                       c->path, what, cv_bytes_str(c->max_total, lim, sizeof lim));
    c->total += bytes;
    return CV_OK;
}

/* What a copied string costs: its bytes and malloc's bookkeeping. */
static size_t str_cost(const char *s) { return strlen(s) + 1 + 16; }

/* ---- tensors ------------------------------------------------------------ */

typedef struct {
    int type;          /* ONNX elem_type */
    const char *name;
    size_t raw_size;   /* bytes per element in raw_data */
    cv_dtype to;       /* what the engine keeps */
} elem_info;

static const elem_info elem_table[] = {
    {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, "float32", 4, CV_F32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, "float16", 2, CV_F32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, "bfloat16", 2, CV_F32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, "float64", 8, CV_F32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT64, "int64", 8, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT32, "int32", 4, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT16, "int16", 2, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT8, "int8", 1, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT64, "uint64", 8, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT32, "uint32", 4, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT16, "uint16", 2, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, "uint8", 1, CV_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, "bool", 1, CV_I64},
};

static const elem_info *find_elem(int type)
{
    for (size_t k = 0; k < sizeof elem_table / sizeof elem_table[0]; k++)
        if (elem_table[k].type == type)
            return &elem_table[k];
    return NULL;
}

static const char *elem_name(int type)
{
    static const char *const others[] = {"undefined", [8] = "string", [14] = "complex64", [15] = "complex128"};
    const elem_info *e = find_elem(type);
    if (e)
        return e->name;
    if (type >= 0 && type < (int)(sizeof others / sizeof others[0]) && others[type])
        return others[type];
    return "an unknown type";
}

/* Little-endian unsigned integer of n bytes: file data is little-endian
 * whatever the host is. */
static uint64_t le_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;)
        v = v << 8 | p[k];
    return v;
}

static float bits_to_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* n elements of raw little-endian data of ONNX type `type` into dst
 * (float* or int64_t* as elem_info.to says). */
static void convert_raw(int type, const uint8_t *src, size_t n, void *dst)
{
    float *f = dst;
    int64_t *i = dst;
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(f, src, n * 4);
#else
        for (size_t k = 0; k < n; k++)
            f[k] = bits_to_float((uint32_t)le_uint(src + 4 * k, 4));
#endif
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
        for (size_t k = 0; k < n; k++)
            f[k] = cv_half_to_float((uint16_t)le_uint(src + 2 * k, 2));
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        for (size_t k = 0; k < n; k++)
            f[k] = bits_to_float((uint32_t)le_uint(src + 2 * k, 2) << 16);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        for (size_t k = 0; k < n; k++)
            f[k] = (float)bits_to_double(le_uint(src + 8 * k, 8));
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: /* values past INT64_MAX wrap; no model needs them */
        for (size_t k = 0; k < n; k++)
            i[k] = (int64_t)le_uint(src + 8 * k, 8);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        for (size_t k = 0; k < n; k++)
            i[k] = (int32_t)(uint32_t)le_uint(src + 4 * k, 4);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        for (size_t k = 0; k < n; k++)
            i[k] = (int64_t)le_uint(src + 4 * k, 4);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        for (size_t k = 0; k < n; k++)
            i[k] = (int16_t)(uint16_t)le_uint(src + 2 * k, 2);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
        for (size_t k = 0; k < n; k++)
            i[k] = (int64_t)le_uint(src + 2 * k, 2);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        for (size_t k = 0; k < n; k++)
            i[k] = (int8_t)src[k];
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        for (size_t k = 0; k < n; k++)
            i[k] = src[k];
        break;
    }
}

/* Number of values in the typed field that holds `type`'s data. */
static size_t typed_count(const Onnx__TensorProto *t, int type)
{
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return t->n_float_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return t->n_double_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return t->n_int64_data;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return t->n_uint64_data;
    default: return t->n_int32_data; /* float16/bfloat16 bits, small ints, bool */
    }
}

static void convert_typed(const Onnx__TensorProto *t, int type, size_t n, void *dst)
{
    float *f = dst;
    int64_t *i = dst;
    for (size_t k = 0; k < n; k++) {
        switch (type) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: f[k] = t->float_data[k]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: f[k] = (float)t->double_data[k]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: f[k] = cv_half_to_float((uint16_t)t->int32_data[k]); break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
            f[k] = bits_to_float((uint32_t)(uint16_t)t->int32_data[k] << 16);
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: i[k] = t->int64_data[k]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: i[k] = (int64_t)t->uint64_data[k]; break;
        default: i[k] = t->int32_data[k]; break;
        }
    }
}

/* Decimal unsigned number; false if s is not one. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* A relative path that stays inside its directory: not absolute, no ".."
 * component (either slash counts: files made on Windows use '\'). */
static bool path_stays_inside(const char *loc)
{
    if (loc[0] == '/' || loc[0] == '\\' || (loc[0] && loc[1] == ':'))
        return false;
    const char *p = loc;
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        if (*p)
            p++;
    }
    return true;
}

/* Open loc, relative to the directory dir, one component at a time with
 * O_NOFOLLOW: a symbolic link anywhere on the way (etc -> /etc in the
 * model's folder) is refused instead of followed, so the file opened is
 * the one the path names inside dir, whatever is swapped in meanwhile.
 * Links are refused even when they would stay inside: telling that safely
 * needs the same walk, and exporters write plain files. O_NONBLOCK: a FIFO
 * must not block the open; cv_file_open_fd refuses it afterwards.
 * Returns the descriptor, or -1 with errno set and *bad_part naming the
 * component that failed. */
static int open_inside(const char *dir, const char *loc, char *bad_part, size_t bad_len)
{
    snprintf(bad_part, bad_len, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (const char *p = loc; fd >= 0;) {
        size_t n = strcspn(p, "/");
        const char *next = p[n] == '/' ? p + n + 1 : p + n;
        bool last = !*next;
        snprintf(bad_part, bad_len, "%.*s", (int)(n < bad_len ? n : bad_len - 1), p);
        bool skip = n == 0 || (n == 1 && p[0] == '.'); /* "a//b", "./a" */
        if (skip && last) { /* "a/", ".": names a directory, not a file */
            close(fd);
            errno = EISDIR;
            return -1;
        }
        if (skip) {
            p = next;
            continue;
        }
        if (n > NAME_MAX) {
            close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        char part[NAME_MAX + 1];
        memcpy(part, p, n);
        part[n] = 0;
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (last ? 0 : O_DIRECTORY);
        int child = openat(fd, part, flags);
        int e = errno;
        /* O_NOFOLLOW | O_DIRECTORY on a link to a folder says ENOTDIR */
        struct stat st;
        if (child < 0 && e == ENOTDIR && fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            e = ELOOP;
        close(fd);
        errno = e;
        if (last || child < 0)
            return child;
        fd = child;
        p = next;
    }
    return -1;
}

/* The `want` bytes of an EXTERNAL tensor from the file its external_data
 * names, into a malloc'ed buffer. */
static cv_status read_external(const onnx_ctx *c, const Onnx__TensorProto *t, const char *what, size_t want,
                               uint8_t **out, cv_error *err)
{
    *out = NULL;
    const char *loc = NULL;
    uint64_t offset = 0, length = want;
    for (size_t k = 0; k < t->n_external_data; k++) {
        const char *key = S(t->external_data[k]->key), *val = S(t->external_data[k]->value);
        if (strcmp(key, "location") == 0)
            loc = val;
        else if (strcmp(key, "offset") == 0 && !parse_u64(val, &offset))
            return cv_fail(err, CV_ERR_FORMAT, "%s: %s: external data offset '%s' is not a number", c->path, what, val);
        else if (strcmp(key, "length") == 0 && !parse_u64(val, &length))
            return cv_fail(err, CV_ERR_FORMAT, "%s: %s: external data length '%s' is not a number", c->path, what, val);
    }
    if (!loc || !*loc)
        return cv_fail(err, CV_ERR_FORMAT, "%s: %s: external data without a location", c->path, what);
    if (!path_stays_inside(loc))
        return cv_fail(err, CV_ERR_INVALID,
                       "%s: %s: external data location '%s' is absolute or leaves the model's directory; refused",
                       c->path, what, loc);
    if (length != want)
        return cv_fail(err, CV_ERR_FORMAT, "%s: %s: external data length is %llu bytes, expected %zu",
                       c->path, what, (unsigned long long)length, want);
    char full[8192], part[NAME_MAX + 1];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", c->dir, loc) >= sizeof full)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s: external data path is too long", c->path, what);
    int fd = open_inside(c->dir, loc, part, sizeof part);
    if (fd < 0 && errno == ELOOP)
        return cv_fail(err, CV_ERR_INVALID,
                       "%s: %s: external data location '%s' goes through the symbolic link '%s'; "
                       "cnnviz does not follow links in external data locations",
                       c->path, what, loc, part);
    if (fd < 0)
        return cv_fail(err, CV_ERR_IO, "%s: %s: cannot open external data file '%s' ('%s'): %s", c->path, what, full,
                       part, strerror(errno));
    FILE *f;
    uint64_t size;
    char role[600];
    snprintf(role, sizeof role, "external data of %s", what);
    cv_status st = cv_file_open_fd(fd, full, role, &f, &size, err);
    if (st != CV_OK)
        return st;
    if (offset > size || want > size - offset) {
        fclose(f);
        return cv_fail(err, CV_ERR_FORMAT, "%s: %s: external data file '%s' has %llu bytes, but %zu are needed at offset %llu",
                       c->path, what, full, (unsigned long long)size, want, (unsigned long long)offset);
    }
    uint8_t *b = malloc(want ? want : 1);
    if (!b) {
        fclose(f);
        return cv_fail(err, CV_ERR_NOMEM, "%s: %s: out of memory (%zu bytes)", c->path, what, want);
    }
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || fread(b, 1, want, f) != want) {
        fclose(f);
        free(b);
        return cv_fail(err, CV_ERR_IO, "%s: %s: cannot read external data file '%s'", c->path, what, full);
    }
    fclose(f);
    *out = b;
    return CV_OK;
}

/* protobuf-c's allocations: the bytes of raw_data (megabytes each) on
 * huge pages like every large buffer (cv_malloc_large); its many small
 * ones from malloc. free_unpacked's default free() frees both. */
static void *onnx_alloc(void *unused, size_t size)
{
    (void)unused;
    return size >= ((size_t)2 << 20) ? cv_malloc_large(size) : malloc(size);
}

static void onnx_free(void *unused, void *p)
{
    (void)unused;
    free(p);
}

static ProtobufCAllocator onnx_allocator = {.alloc = onnx_alloc, .free = onnx_free};

/* A TensorProto into engine form: dtype, exact shape, malloc'ed data (at
 * least 8 bytes, so an empty tensor still has a pointer). `what` names the
 * tensor in messages ("initializer 'conv1.weight'"). */
static cv_status decode_tensor(onnx_ctx *c, const Onnx__TensorProto *t, const char *what, cv_dtype *dtype,
                               cv_shape *shape, void **data, cv_error *err)
{
    *data = NULL;
    int type = t->has_data_type ? t->data_type : 0;
    const elem_info *e = find_elem(type);
    if (!e)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: %s has element type %s (%d), which cnnviz does not support",
                       c->path, what, elem_name(type), type);
    if (t->segment)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: %s is stored in segments, which cnnviz does not support",
                       c->path, what);
    if (t->n_dims > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: %s has %zu dimensions (at most %d supported)",
                       c->path, what, t->n_dims, CV_MAX_DIMS);
    shape->ndim = (int)t->n_dims;
    size_t numel = 1;
    bool overflow = false;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: %s has a negative dimension (%lld)", c->path, what,
                           (long long)t->dims[k]);
        shape->d[k] = t->dims[k];
        if (!cv_mul_size(numel, (size_t)t->dims[k], &numel))
            overflow = true;
    }
    size_t out_size = e->to == CV_I64 ? sizeof(int64_t) : sizeof(float), bytes;
    char s[160], lim[64];
    /* Refuse before allocating or reading anything: the declared shape alone
     * may claim terabytes. */
    if (overflow || !cv_mul_size(numel, out_size, &bytes) || bytes > c->max_tensor)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s %s is too large (over the %s limit for one tensor)",
                       c->path, what, cv_shape_str(shape, s, sizeof s), cv_bytes_str(c->max_tensor, lim, sizeof lim));
    if (bytes > c->max_total - c->total)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s: the model's constants exceed the %s limit",
                       c->path, what, cv_bytes_str(c->max_total, lim, sizeof lim));
    size_t raw_bytes = numel * e->raw_size; /* <= 2 * bytes: no overflow */
    uint8_t *ext = NULL;
    const uint8_t *raw = NULL;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        cv_status st = read_external(c, t, what, raw_bytes, &ext, err);
        if (st != CV_OK)
            return st;
        raw = ext;
    } else if (t->has_raw_data && (t->raw_data.len > 0 || typed_count(t, type) == 0)) {
        if (t->raw_data.len != raw_bytes)
            return cv_fail(err, CV_ERR_FORMAT, "%s: %s %s %s: raw_data has %zu bytes, expected %zu",
                           c->path, what, e->name, cv_shape_str(shape, s, sizeof s), t->raw_data.len, raw_bytes);
        raw = t->raw_data.data;
    } else if (typed_count(t, type) != numel) {
        return cv_fail(err, CV_ERR_FORMAT, "%s: %s %s %s holds %zu values, expected %zu",
                       c->path, what, e->name, cv_shape_str(shape, s, sizeof s), typed_count(t, type), numel);
    }
    void *d = cv_malloc_large(bytes > 8 ? bytes : 8);
    if (!d) {
        free(ext);
        return cv_fail(err, CV_ERR_NOMEM, "%s: %s: out of memory (%zu bytes)", c->path, what, bytes);
    }
    if (raw)
        convert_raw(type, raw, numel, d);
    else
        convert_typed(t, type, numel, d);
    free(ext);
    c->total += bytes;
    *dtype = e->to;
    *data = d;
    return CV_OK;
}

/* ---- value infos --------------------------------------------------------- */

/* Element type and shape a graph input declares. *elem is 0 when unknown,
 * -1 when the value is not a tensor (a sequence, a map). Unknown and
 * symbolic dimensions become -1. */
static cv_status value_info_shape(const onnx_ctx *c, const Onnx__ValueInfoProto *vi, int *elem, cv_shape *shape,
                                  cv_error *err)
{
    *elem = 0;
    shape->ndim = 0;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return CV_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        *elem = -1;
        return CV_OK;
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    *elem = tt->has_elem_type ? tt->elem_type : 0;
    if (!tt->shape)
        return CV_OK;
    if (tt->shape->n_dim > CV_MAX_DIMS)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions (at most %d supported)",
                       c->path, S(vi->name), tt->shape->n_dim, CV_MAX_DIMS);
    shape->ndim = (int)tt->shape->n_dim;
    for (size_t k = 0; k < tt->shape->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        /* Some exporters write 0 for "any size"; a zero-sized input cannot
         * be run anyway, so it is as good as unknown. */
        if (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0)
            shape->d[k] = d->dim_value;
        else
            shape->d[k] = -1;
    }
    return CV_OK;
}

/* ---- nodes and attributes --------------------------------------------------- */

/* Attributes written before IR 0.0.2 carry no type; the field set tells it. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type)
        return a->type;
    if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    if (a->n_tensors) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
    if (a->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static cv_status add_attr(onnx_ctx *c, cv_model *m, int k, const char *node, const char *op,
                          const Onnx__AttributeProto *a, cv_error *err)
{
    const char *name = S(a->name);
    if (!*name)
        return cv_fail(err, CV_ERR_FORMAT, "%s: node '%s' (%s) has an attribute without a name", c->path, node, op);
    switch (attr_type(a)) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        return cv_node_set_int(m, k, name, a->i, err);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        return cv_node_set_float(m, k, name, a->f, err);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        if (a->n_ints > ONNX_MAX_COUNT)
            return cv_fail(err, CV_ERR_LIMIT, "%s: node '%s' (%s): attribute '%s' has %zu values",
                           c->path, node, op, name, a->n_ints);
        /* an empty list arrives as NULL; the builder memcpy's from it */
        return cv_node_set_ints(m, k, name, a->n_ints ? a->ints : (const int64_t[1]){0}, (int)a->n_ints, err);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        if (a->n_floats > ONNX_MAX_COUNT)
            return cv_fail(err, CV_ERR_LIMIT, "%s: node '%s' (%s): attribute '%s' has %zu values",
                           c->path, node, op, name, a->n_floats);
        return cv_node_set_floats(m, k, name, a->n_floats ? a->floats : (const float[1]){0}, (int)a->n_floats, err);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
        cv_status st = charge(c, a->s.len + 1 + 16, "string attributes", err);
        if (st != CV_OK)
            return st;
        /* bytes in the file; the IR wants a C string */
        char *s = malloc(a->s.len + 1);
        if (!s)
            return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", c->path);
        if (a->s.len)
            memcpy(s, a->s.data, a->s.len);
        s[a->s.len] = 0;
        st = cv_node_set_string(m, k, name, s, err);
        free(s);
        return st;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        if (!a->t)
            return cv_fail(err, CV_ERR_FORMAT, "%s: node '%s' (%s): tensor attribute '%s' holds no tensor",
                           c->path, node, op, name);
        char what[512], vname[512];
        snprintf(what, sizeof what, "attribute '%s' of node '%s'", name, node);
        snprintf(vname, sizeof vname, "%s:%s", node, name);
        cv_dtype dt;
        cv_shape shape;
        void *data;
        cv_status st = decode_tensor(c, a->t, what, &dt, &shape, &data, err);
        if (st != CV_OK)
            return st;
        int v = cv_model_add_constant(m, vname, dt, &shape, data, err);
        if (v < 0)
            return CV_ERR_NOMEM;
        return cv_node_set_tensor(m, k, name, v, err);
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "%s: node '%s' (%s): attribute '%s' is a subgraph; cnnviz does not support control flow",
                       c->path, node, op, name);
    default:
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: node '%s' (%s): attribute '%s' has a type (%d) cnnviz does not support",
                       c->path, node, op, name, attr_type(a));
    }
}

static cv_status add_node(onnx_ctx *c, cv_model *m, size_t index, const Onnx__NodeProto *np, cv_error *err)
{
    const char *op = S(np->op_type);
    const char *name = S(np->name);
    char fallback[256];
    if (!*name) {
        /* Nameless nodes (common in exports) are called by their first output. */
        if (np->n_output > 0 && S(np->output[0])[0]) {
            name = np->output[0];
        } else {
            snprintf(fallback, sizeof fallback, "%s_%zu", *op ? op : "node", index);
            name = fallback;
        }
    }
    if (!*op)
        return cv_fail(err, CV_ERR_FORMAT, "%s: node '%s' has no op_type", c->path, name);
    if (!is_default_domain(np->domain))
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "%s: node '%s' uses operator '%s' from domain '%s'; cnnviz supports only the default ONNX domain",
                       c->path, name, op, np->domain);
    if (np->n_input > ONNX_MAX_COUNT || np->n_output > ONNX_MAX_COUNT)
        return cv_fail(err, CV_ERR_LIMIT, "%s: node '%s' (%s) has too many inputs or outputs", c->path, name, op);
    int *in = malloc(sizeof(int) * (np->n_input + 1));
    int *out = malloc(sizeof(int) * (np->n_output + 1));
    cv_status st = CV_OK;
    if (!in || !out) {
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", c->path);
        goto done;
    }
    /* An empty name is an omitted optional input or output. */
    for (size_t i = 0; i < np->n_input; i++) {
        const char *s = S(np->input[i]);
        in[i] = *s ? cv_model_value(m, s, err) : -1;
        if (*s && in[i] < 0) {
            st = CV_ERR_NOMEM;
            goto done;
        }
    }
    for (size_t o = 0; o < np->n_output; o++) {
        const char *s = S(np->output[o]);
        out[o] = *s ? cv_model_value(m, s, err) : -1;
        if (*s && out[o] < 0) {
            st = CV_ERR_NOMEM;
            goto done;
        }
        if (out[o] >= 0 && (out[o] == m->input || m->values[out[o]].data)) {
            st = cv_fail(err, CV_ERR_FORMAT, "%s: node '%s' (%s) writes '%s', which is also %s",
                         c->path, name, op, s, out[o] == m->input ? "the graph input" : "an initializer");
            goto done;
        }
    }
    if ((st = charge(c, str_cost(name) + str_cost(op), "node names", err)) != CV_OK)
        goto done;
    int k = cv_model_add_node(m, name, op, in, (int)np->n_input, out, (int)np->n_output, err);
    if (k < 0) {
        st = CV_ERR_NOMEM;
        goto done;
    }
    for (size_t a = 0; a < np->n_attribute && st == CV_OK; a++)
        st = add_attr(c, m, k, name, op, np->attribute[a], err);
done:
    free(in);
    free(out);
    return st;
}

/* ---- the model ----------------------------------------------------------- */

static int default_opset(const Onnx__ModelProto *mp)
{
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[k];
        if (o && is_default_domain(o->domain))
            return !o->has_version || o->version < 1 ? 1 : o->version > INT_MAX ? INT_MAX : (int)o->version;
    }
    return 1;
}

/* What a type's nesting is called in messages. */
static const char *nesting_name(const char *type)
{
    if (type && strcmp(type, "GraphProto") == 0)
        return "subgraphs (GraphProto)";
    if (type && strcmp(type, "TypeProto") == 0)
        return "types (TypeProto)";
    return type ? type : "messages";
}

/* Refuse, before protobuf-c sees them, bytes that would take its recursive
 * unpack too deep (a stack overflow, not an error, past a few thousand
 * levels) or make it allocate more than max_memory (a file of millions of
 * tiny metadata entries unpacks to twenty times its size). */
static cv_status check_wire(const char *path, const ProtobufCMessageDescriptor *desc, const uint8_t *buf,
                            size_t len, size_t max_memory, cv_error *err)
{
    cv_wire_report r;
    if (cv_wire_scan(desc, buf, len, &r) != 0)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
    if (r.type_depth > CV_WIRE_MAX_NESTING)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s nested %d deep, more than cnnviz's limit of %d", path,
                       nesting_name(r.deep_type), r.type_depth, CV_WIRE_MAX_NESTING);
    if (r.depth > CV_WIRE_MAX_DEPTH)
        return cv_fail(err, CV_ERR_LIMIT, "%s: protobuf messages nested %d deep, more than cnnviz's limit of %d",
                       path, r.depth, CV_WIRE_MAX_DEPTH);
    if (r.unpacked_bytes > max_memory) {
        char need[64], lim[64];
        return cv_fail(err, CV_ERR_LIMIT, "%s: parsing the file would take about %s, more than the %s memory limit",
                       path, cv_bytes_str(r.unpacked_bytes, need, sizeof need), cv_bytes_str(max_memory, lim, sizeof lim));
    }
    return CV_OK;
}

/* Parse the file into a ModelProto and check the parts every user needs.
 * max_memory bounds what parsing may allocate. */
static cv_status parse_model(const char *path, size_t max_memory, Onnx__ModelProto **out, cv_error *err)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    cv_status st = cv_file_read_all(path, "an ONNX model", ONNX_MAX_FILE, &buf, &len, err);
    if (st != CV_OK)
        return st;
    if ((st = check_wire(path, &onnx__model_proto__descriptor, buf, len, max_memory, err)) != CV_OK) {
        free(buf);
        return st;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&onnx_allocator, len, buf);
    free(buf);
    if (!mp)
        return cv_fail(err, CV_ERR_FORMAT, "%s: not a valid ONNX model (protobuf parse failed)", path);
    if (!mp->graph) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return cv_fail(err, CV_ERR_FORMAT, "%s: not a valid ONNX model (no graph)", path);
    }
    /* Required since IR 3; also what tells a file cut off right after the
     * graph from a complete one. */
    if (mp->has_ir_version && mp->ir_version >= 3 && mp->n_opset_import == 0) {
        long long ir = (long long)mp->ir_version;
        onnx__model_proto__free_unpacked(mp, NULL);
        return cv_fail(err, CV_ERR_FORMAT, "%s: not a valid ONNX model (IR version %lld but no opset_import; truncated?)",
                       path, ir);
    }
    *out = mp;
    return CV_OK;
}

static bool is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t k = 0; k < g->n_initializer; k++)
        if (strcmp(S(g->initializer[k]->name), name) == 0)
            return true;
    return false;
}

/* Bound inputs become constants holding copies of the caller's data. */
static cv_status bind_inputs(onnx_ctx *c, cv_model *m, const Onnx__GraphProto *g, const onnx_binding *b,
                             cv_error *err)
{
    for (int k = 0; k < b->n; k++) {
        const char *name = b->names[k];
        bool found = false;
        for (size_t i = 0; i < g->n_input && !found; i++)
            found = strcmp(S(g->input[i]->name), name) == 0 && !is_initializer(g, name);
        if (!found)
            return cv_fail(err, CV_ERR_INVALID, "%s: cannot bind '%s': the graph has no such (non-initializer) input",
                           c->path, name);
        if (cv_model_find_value(m, name) >= 0)
            return cv_fail(err, CV_ERR_INVALID, "%s: input '%s' is bound twice", c->path, name);
        const cv_shape *sh = &b->shapes[k];
        size_t numel = 1, bytes;
        size_t es = b->dtypes[k] == CV_I64 ? sizeof(int64_t) : sizeof(float);
        bool ok = sh->ndim >= 0 && sh->ndim <= CV_MAX_DIMS;
        for (int d = 0; ok && d < sh->ndim; d++)
            ok = sh->d[d] >= 0 && cv_mul_size(numel, (size_t)sh->d[d], &numel);
        if (!ok || !cv_mul_size(numel, es, &bytes) || bytes > c->max_tensor)
            return cv_fail(err, CV_ERR_LIMIT, "%s: bound input '%s' has an invalid or too large shape", c->path, name);
        void *data = cv_malloc_large(bytes > 8 ? bytes : 8);
        if (!data)
            return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", c->path);
        if (bytes)
            memcpy(data, b->datas[k], bytes);
        int v = cv_model_value(m, name, err);
        if (v < 0) {
            free(data);
            return CV_ERR_NOMEM;
        }
        m->values[v].dtype = b->dtypes[k] == CV_I64 ? CV_I64 : CV_F32;
        m->values[v].shape = *sh;
        m->values[v].data = data;
    }
    return CV_OK;
}

/* The one real input: a graph input that is neither an initializer (IR 3
 * lists those among the inputs) nor bound. */
static cv_status set_input(onnx_ctx *c, cv_model *m, const Onnx__GraphProto *g, cv_error *err)
{
    int n_real = 0, first = -1;
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = S(g->input[i]->name);
        if (!*name)
            return cv_fail(err, CV_ERR_FORMAT, "%s: graph input %zu has no name", c->path, i);
        int v = cv_model_find_value(m, name);
        if (v >= 0 && m->values[v].data)
            continue; /* an initializer or a bound input */
        if (first >= 0 && strcmp(S(g->input[first]->name), name) == 0)
            continue; /* listed twice */
        if (first < 0)
            first = (int)i;
        if (used < sizeof names)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", n_real ? ", " : "", name);
        n_real++;
    }
    if (n_real == 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: the model has no input (every graph input is an initializer)", c->path);
    if (n_real > 1)
        return cv_fail(err, CV_ERR_UNSUPPORTED,
                       "%s: the model has %d inputs (%s); cnnviz supports exactly one non-initializer input",
                       c->path, n_real, names);
    const Onnx__ValueInfoProto *vi = g->input[first];
    if ((m->input = cv_model_value(m, S(vi->name), err)) < 0)
        return CV_ERR_NOMEM;
    int elem;
    cv_shape shape;
    cv_status st = value_info_shape(c, vi, &elem, &shape, err);
    if (st != CV_OK)
        return st;
    if (elem < 0)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: input '%s' is not a tensor", c->path, S(vi->name));
    if (elem != 0 && elem != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && elem != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 &&
        elem != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE && elem != ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: input '%s' has element type %s; cnnviz needs a float input",
                       c->path, S(vi->name), elem_name(elem));
    cv_value *in = &m->values[m->input];
    in->dtype = CV_F32;
    in->shape = shape;
    /* The model runs in float32 either way; callers may want to know. */
    if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 && (st = cv_model_set_meta(m, "cnnviz.input_fp16", "1", err)) != CV_OK)
        return st;
    /* Channels-last exports (Keras via tf2onnx): N,H,W,C with C = 1 or 3 and
     * dimension 1 clearly not a channel count. */
    if (shape.ndim == 4 && (shape.d[3] == 1 || shape.d[3] == 3) && shape.d[1] != 1 && shape.d[1] != 3)
        m->input_nhwc = 1;
    return CV_OK;
}

static cv_status set_outputs(onnx_ctx *c, cv_model *m, const Onnx__GraphProto *g, cv_error *err)
{
    if (g->n_output == 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: the model has no output", c->path);
    if (g->n_output > ONNX_MAX_COUNT)
        return cv_fail(err, CV_ERR_LIMIT, "%s: the model has too many outputs", c->path);
    if (!(m->outputs = malloc(sizeof(int) * g->n_output)))
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", c->path);
    for (size_t k = 0; k < g->n_output; k++) {
        const char *name = S(g->output[k]->name);
        int v = cv_model_find_value(m, name);
        bool made = v >= 0 && (v == m->input || m->values[v].data);
        for (int n = 0; n < m->n_nodes && v >= 0 && !made; n++)
            for (int o = 0; o < m->nodes[n].n_out && !made; o++)
                made = m->nodes[n].out[o] == v;
        if (!made)
            return cv_fail(err, CV_ERR_FORMAT, "%s: graph output '%s' is not produced by any node", c->path, name);
        m->outputs[m->n_outputs++] = v;
    }
    return CV_OK;
}

static cv_status build_model(onnx_ctx *c, const Onnx__ModelProto *mp, const onnx_binding *b, cv_model *m,
                             cv_error *err)
{
    const Onnx__GraphProto *g = mp->graph;
    cv_status st;
    m->opset = default_opset(mp);
    for (size_t k = 0; k < mp->n_metadata_props; k++) {
        const char *key = S(mp->metadata_props[k]->key), *val = S(mp->metadata_props[k]->value);
        if ((st = charge(c, str_cost(key) + str_cost(val) + 2 * sizeof(char *), "metadata_props", err)) != CV_OK ||
            (st = cv_model_set_meta(m, key, val, err)) != CV_OK)
            return st;
    }
    if (g->n_sparse_initializer)
        return cv_fail(err, CV_ERR_UNSUPPORTED, "%s: the model has sparse initializers, which cnnviz does not support",
                       c->path);
    if (g->n_node > ONNX_MAX_COUNT || g->n_initializer > ONNX_MAX_COUNT || g->n_input > ONNX_MAX_COUNT)
        return cv_fail(err, CV_ERR_LIMIT, "%s: the graph has too many nodes or tensors", c->path);
    for (size_t k = 0; k < g->n_initializer; k++) {
        const Onnx__TensorProto *t = g->initializer[k];
        const char *name = S(t->name);
        if (!*name)
            return cv_fail(err, CV_ERR_FORMAT, "%s: initializer %zu has no name", c->path, k);
        if (cv_model_find_value(m, name) >= 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: initializer '%s' appears twice", c->path, name);
        char what[512];
        snprintf(what, sizeof what, "initializer '%s'", name);
        cv_dtype dt;
        cv_shape shape;
        void *data;
        if ((st = decode_tensor(c, t, what, &dt, &shape, &data, err)) != CV_OK)
            return st;
        int v = cv_model_value(m, name, err);
        if (v < 0) {
            free(data);
            return CV_ERR_NOMEM;
        }
        m->values[v].dtype = dt;
        m->values[v].shape = shape;
        m->values[v].data = data;
    }
    if ((st = bind_inputs(c, m, g, b, err)) != CV_OK || (st = set_input(c, m, g, err)) != CV_OK)
        return st;
    for (size_t k = 0; k < g->n_node; k++)
        if ((st = add_node(c, m, k, g->node[k], err)) != CV_OK)
            return st;
    if ((st = set_outputs(c, m, g, err)) != CV_OK)
        return st;
    return cv_model_finalize(m, err);
}

static cv_status load(cv_model **out, const char *path, const cv_load_options *opt, const onnx_binding *b,
                      cv_error *err)
{
    *out = NULL;
    onnx_ctx c;
    cv_status st = ctx_init(&c, path, opt, err);
    if (st != CV_OK)
        return st;
    Onnx__ModelProto *mp;
    if ((st = parse_model(path, c.max_total, &mp, err)) != CV_OK)
        return st;
    cv_model *m = cv_model_new(path, err);
    if (!m) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return CV_ERR_NOMEM;
    }
    st = build_model(&c, mp, b, m, err);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != CV_OK) {
        cv_model_free(m);
        return st;
    }
    *out = m;
    return CV_OK;
}

cv_status cv_load_onnx(cv_model **out, const char *path, const cv_load_options *opt, cv_error *err)
{
    onnx_binding none = {0, NULL, NULL, NULL, NULL};
    return load(out, path, opt, &none, err);
}

cv_status cv_load_onnx_bound(cv_model **out, const char *path, const cv_load_options *opt,
                             int n_bind, const char *const *names, const cv_dtype *dtypes,
                             const cv_shape *shapes, const void *const *datas, cv_error *err)
{
    *out = NULL;
    if (n_bind < 0 || (n_bind > 0 && (!names || !dtypes || !shapes || !datas)))
        return cv_fail(err, CV_ERR_INVALID, "%s: invalid input bindings", path);
    onnx_binding b = {n_bind, names, dtypes, shapes, datas};
    return load(out, path, opt, &b, err);
}

/* ---- tensor files and inspection ------------------------------------------- */

cv_status cv_onnx_read_tensor(const char *path, cv_dtype *dtype, cv_shape *shape, void **data, cv_error *err)
{
    *data = NULL;
    onnx_ctx c;
    cv_status st = ctx_init(&c, path, NULL, err);
    if (st != CV_OK)
        return st;
    uint8_t *buf;
    size_t len;
    if ((st = cv_file_read_all(path, "an ONNX tensor file", ONNX_MAX_FILE, &buf, &len, err)) != CV_OK)
        return st;
    if ((st = check_wire(path, &onnx__tensor_proto__descriptor, buf, len, c.max_total, err)) != CV_OK) {
        free(buf);
        return st;
    }
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(&onnx_allocator, len, buf);
    free(buf);
    if (!t)
        return cv_fail(err, CV_ERR_FORMAT, "%s: not a valid ONNX tensor file (protobuf parse failed)", path);
    char what[512];
    snprintf(what, sizeof what, "tensor '%s'", S(t->name));
    st = decode_tensor(&c, t, what, dtype, shape, data, err);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return st;
}

static cv_status push_str(char ***list, int *n, const char *s, cv_error *err)
{
    char **l = realloc(*list, sizeof(char *) * (size_t)(*n + 1));
    if (!l)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    *list = l;
    if (!(l[*n] = strdup(s)))
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    (*n)++;
    return CV_OK;
}

cv_status cv_onnx_inspect(const char *path, cv_onnx_info *info, cv_error *err)
{
    memset(info, 0, sizeof *info);
    onnx_ctx c;
    cv_status st = ctx_init(&c, path, NULL, err);
    if (st != CV_OK)
        return st;
    Onnx__ModelProto *mp;
    if ((st = parse_model(path, c.max_total, &mp, err)) != CV_OK)
        return st;
    const Onnx__GraphProto *g = mp->graph;
    info->opset = default_opset(mp);
    info->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    if (g->n_input > ONNX_MAX_COUNT || g->n_node > ONNX_MAX_COUNT) {
        st = cv_fail(err, CV_ERR_LIMIT, "%s: the graph has too many nodes or inputs", path);
        goto out;
    }
    if (!(info->input_types = malloc(sizeof(int) * (g->n_input + 1)))) {
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < g->n_input && st == CV_OK; k++) {
        const char *name = S(g->input[k]->name);
        if (is_initializer(g, name))
            continue;
        int elem;
        cv_shape shape;
        if ((st = value_info_shape(&c, g->input[k], &elem, &shape, err)) != CV_OK)
            break;
        info->input_types[info->n_inputs] = elem;
        st = push_str(&info->inputs, &info->n_inputs, name, err);
    }
    if (st == CV_OK && g->n_output > ONNX_MAX_COUNT)
        st = cv_fail(err, CV_ERR_LIMIT, "%s: the graph has too many outputs", path);
    if (st == CV_OK && !(info->output_types = malloc(sizeof(int) * (g->n_output + 1))))
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < g->n_output && st == CV_OK; k++) {
        int elem;
        cv_shape shape;
        if ((st = value_info_shape(&c, g->output[k], &elem, &shape, err)) != CV_OK)
            break;
        info->output_types[info->n_outputs] = elem;
        st = push_str(&info->outputs, &info->n_outputs, S(g->output[k]->name), err);
    }
    for (size_t k = 0; k < g->n_node && st == CV_OK; k++) {
        const Onnx__NodeProto *np = g->node[k];
        char op[512];
        if (is_default_domain(np->domain))
            snprintf(op, sizeof op, "%s", S(np->op_type));
        else
            snprintf(op, sizeof op, "%s:%s", np->domain, S(np->op_type));
        bool seen = false;
        for (int i = 0; i < info->n_ops && !seen; i++)
            seen = strcmp(info->ops[i], op) == 0;
        if (!seen)
            st = push_str(&info->ops, &info->n_ops, op, err);
    }
out:
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != CV_OK)
        cv_onnx_info_free(info);
    return st;
}

void cv_onnx_info_free(cv_onnx_info *info)
{
    if (!info)
        return;
    for (int k = 0; k < info->n_inputs; k++)
        free(info->inputs[k]);
    for (int k = 0; k < info->n_ops; k++)
        free(info->ops[k]);
    for (int k = 0; k < info->n_outputs; k++)
        free(info->outputs[k]);
    free(info->outputs);
    free(info->output_types);
    free(info->inputs);
    free(info->input_types);
    free(info->ops);
    memset(info, 0, sizeof *info);
}
