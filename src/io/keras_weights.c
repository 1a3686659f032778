/* Keras HDF5: attributes and weight arrays.
 *
 * Two weight layouts exist:
 *   by name  <root>/<layer> with attribute weight_names = ["<layer>/kernel:0", ...],
 *            each name a dataset path relative to the layer's group; <root> is
 *            `model_weights` in a full model (model.save) and `/` in a
 *            save_weights file. Layers are matched by name.
 *   old      /layer_<k> with attribute nb_params and datasets param_<p>
 *            (Keras 0.x/1.x). Groups have no layer names, so the k-th group
 *            holding params goes to the k-th layer that has weights.
 * The file is treated as hostile: every rank, size and count is checked
 * before anything is allocated or read.
 */
#include "keras.h"
#include "file.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kr_attr_exists(hid_t obj, const char *name)
{
    return H5Aexists(obj, name) > 0;
}

void kr_strings_free(char **s, int n)
{
    if (!s)
        return;
    for (int k = 0; k < n; k++)
        free(s[k]);
    free(s);
}

/* Copy len bytes into a new nul-terminated string, dropping the trailing
 * padding (nul or space) that fixed-length HDF5 strings carry. */
static char *copy_fixed(const char *src, size_t len)
{
    while (len > 0 && (src[len - 1] == '\0' || src[len - 1] == ' '))
        len--;
    const char *nul = memchr(src, '\0', len);
    if (nul)
        len = (size_t)(nul - src);
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, src, len);
        s[len] = '\0';
    }
    return s;
}

/* What one attribute read may take: entries, bytes of text, the budget. */
typedef struct {
    const char *what, *path; /* for messages */
    int max_entries;
    size_t max_bytes;
    kr_budget *budget;
} attr_limits;

static cv_status too_long(const attr_limits *l, cv_error *err)
{
    char lim[64];
    return cv_fail(err, CV_ERR_LIMIT, "%s: attribute %s is longer than %s", l->path, l->what,
                   cv_bytes_str(l->max_bytes, lim, sizeof lim));
}

/* Variable-length strings: libhdf5 allocates each one as it reads, so the
 * entry cap (checked before) is what bounds that; the copies are charged. */
static cv_status read_vlen(hid_t attr, hid_t type, const attr_limits *l, char **list, size_t count, cv_error *err)
{
    cv_status st = kr_budget_take_meta(l->budget, count * sizeof(char *), l->path, l->what, err);
    char **ptrs = st == CV_OK ? calloc(count, sizeof *ptrs) : NULL;
    if (st == CV_OK && !ptrs)
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", l->path, l->what);
    hid_t mtype = H5Tcopy(H5T_C_S1);
    if (st == CV_OK && (mtype < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
                        H5Tset_cset(mtype, H5Tget_cset(type)) < 0 || H5Aread(attr, mtype, ptrs) < 0)) {
        memset(ptrs, 0, count * sizeof *ptrs); /* nothing of a failed read is ours to free */
        st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be read", l->path, l->what);
    }
    size_t total = 0;
    for (size_t k = 0; st == CV_OK && k < count; k++) {
        total += ptrs[k] ? strnlen(ptrs[k], l->max_bytes + 1) : 0;
        if (total > l->max_bytes)
            st = too_long(l, err);
    }
    /* libhdf5's copies and ours */
    if (st == CV_OK)
        st = kr_budget_take_meta(l->budget, 2 * total + count, l->path, l->what, err);
    for (size_t k = 0; ptrs && k < count; k++) {
        if (st == CV_OK && !(list[k] = copy_fixed(ptrs[k] ? ptrs[k] : "", ptrs[k] ? strlen(ptrs[k]) : 0)))
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", l->path, l->what);
        if (ptrs[k])
            H5free_memory(ptrs[k]);
    }
    free(ptrs);
    if (mtype >= 0)
        H5Tclose(mtype);
    return st;
}

/* Fixed-length strings: the size is known before reading; the raw buffer
 * and the copies are charged first. */
static cv_status read_fixed(hid_t attr, hid_t type, const attr_limits *l, char **list, size_t count, cv_error *err)
{
    size_t size = H5Tget_size(type), bytes;
    if (size == 0 || !cv_mul_size(size, count, &bytes) || bytes > l->max_bytes)
        return too_long(l, err);
    cv_status st = kr_budget_take_meta(l->budget, 2 * bytes + count, l->path, l->what, err);
    if (st != CV_OK)
        return st;
    /* Read with the file's own string type so no padding conversion
     * shortens a string that fills its whole width. */
    hid_t mtype = H5Tcopy(type);
    char *raw = malloc(bytes);
    if (!raw)
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", l->path, l->what);
    else if (mtype < 0 || H5Aread(attr, mtype, raw) < 0)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be read", l->path, l->what);
    for (size_t k = 0; st == CV_OK && k < count; k++)
        if (!(list[k] = copy_fixed(raw + k * size, size)))
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", l->path, l->what);
    free(raw);
    if (mtype >= 0)
        H5Tclose(mtype);
    return st;
}

/* Read every string of an open attribute; *out has *n new strings. */
static cv_status read_strings(hid_t attr, const attr_limits *l, char ***out, int *n, cv_error *err)
{
    *out = NULL;
    *n = 0;
    cv_status st = CV_OK;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    char **list = NULL;
    hssize_t npts = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (type < 0 || npts < 0)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be read", l->path, l->what);
    else if (npts > l->max_entries)
        st = cv_fail(err, CV_ERR_LIMIT, "%s: attribute %s has %lld entries (at most %d accepted)", l->path,
                     l->what, (long long)npts, l->max_entries);
    else if (npts > 0 && H5Tget_class(type) != H5T_STRING) /* Keras writes an empty list as an empty float array */
        st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s is not a string", l->path, l->what);
    size_t count = npts > 0 ? (size_t)npts : 0;
    if (st == CV_OK && count > 0) {
        if ((st = kr_budget_take_meta(l->budget, count * sizeof *list, l->path, l->what, err)) == CV_OK &&
            !(list = calloc(count, sizeof *list)))
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", l->path, l->what);
        if (st == CV_OK)
            st = H5Tis_variable_str(type) > 0 ? read_vlen(attr, type, l, list, count, err)
                                              : read_fixed(attr, type, l, list, count, err);
    }
    if (st == CV_OK) {
        *out = list;
        *n = (int)count;
    } else {
        kr_strings_free(list, (int)count);
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static cv_status open_and_read(hid_t obj, const char *name, const char *where, attr_limits *l, char ***out,
                               int *n, cv_error *err)
{
    char what[640];
    snprintf(what, sizeof what, "'%.300s' of %.300s", name, where);
    l->what = what;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be opened", l->path, what);
    cv_status st = read_strings(attr, l, out, n, err);
    H5Aclose(attr);
    return st;
}

cv_status kr_attr_string(hid_t obj, const char *name, const char *where, const char *path, size_t max_bytes,
                         kr_budget *b, char **out, cv_error *err)
{
    *out = NULL;
    if (!kr_attr_exists(obj, name))
        return CV_OK;
    char **list;
    int n;
    attr_limits l = {.path = path, .max_entries = 1, .max_bytes = max_bytes, .budget = b};
    cv_status st = open_and_read(obj, name, where, &l, &list, &n, err);
    if (st != CV_OK)
        return st;
    if (n != 1) {
        kr_strings_free(list, n);
        return cv_fail(err, CV_ERR_FORMAT, "%s: attribute '%s' of %s should be one string, has %d entries",
                       path, name, where, n);
    }
    *out = list[0];
    free(list);
    return CV_OK;
}

cv_status kr_attr_strings(hid_t obj, const char *name, const char *where, const char *path, int max_entries,
                          kr_budget *b, char ***out, int *n, cv_error *err)
{
    *out = NULL;
    *n = -1;
    attr_limits l = {.path = path, .max_entries = max_entries, .max_bytes = KR_MAX_ATTR_BYTES, .budget = b};
    if (kr_attr_exists(obj, name))
        return open_and_read(obj, name, where, &l, out, n, err);
    /* Keras splits lists over the 64 KiB attribute limit into name0, name1, ... */
    char **all = NULL;
    int total = 0;
    for (int chunk = 0; chunk < 10000; chunk++) {
        char cname[300];
        snprintf(cname, sizeof cname, "%s%d", name, chunk);
        if (!kr_attr_exists(obj, cname))
            break;
        char **part = NULL;
        int np = 0;
        l.max_entries = max_entries - total; /* before reading: the entries are what libhdf5 allocates */
        cv_status st = open_and_read(obj, cname, where, &l, &part, &np, err);
        char **grown = st == CV_OK ? realloc(all, sizeof *all * (size_t)(total + np + 1)) : NULL;
        if (st == CV_OK && !grown)
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
        if (st != CV_OK) {
            kr_strings_free(part, np);
            kr_strings_free(all, total);
            return st;
        }
        all = grown;
        for (int k = 0; k < np; k++)
            all[total++] = part[k];
        free(part);
        *n = total;
    }
    *out = all;
    return CV_OK;
}

/* An integer attribute (old layout's nb_layers / nb_params); -1 if absent
 * or not a small integer. */
static long long attr_int(hid_t obj, const char *name)
{
    if (!kr_attr_exists(obj, name))
        return -1;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return -1;
    long long v = -1;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    if (type >= 0 && space >= 0 && H5Tget_class(type) == H5T_INTEGER &&
        H5Sget_simple_extent_npoints(space) == 1 && H5Aread(attr, H5T_NATIVE_LLONG, &v) < 0)
        v = -1;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(attr);
    return v;
}

/* ---- weights -------------------------------------------------------------------- */

/* name under loc, through hard links only (kr_h5_find). */
static cv_status find(const kr_weights *w, hid_t loc, const char *name, bool *found, cv_error *err)
{
    return kr_h5_find(&w->acc, loc, name, w->path, found, err);
}

/* Old layout: the number of layer_<k> groups, from nb_layers or by counting. */
static cv_status count_old_layers(kr_weights *w, long long nb, cv_error *err)
{
    bool found = true;
    if (nb < 0) /* no count: the groups layer_0, layer_1, ... until one is missing */
        for (nb = 0; nb < KR_MAX_LAYERS; nb++) {
            char g[32];
            snprintf(g, sizeof g, "layer_%lld", nb);
            cv_status st = find(w, w->file, g, &found, err);
            if (st != CV_OK)
                return st;
            if (!found)
                break;
        }
    if (nb > KR_MAX_LAYERS)
        return cv_fail(err, CV_ERR_LIMIT, "%s: nb_layers = %lld (at most %d accepted)", w->path, nb, KR_MAX_LAYERS);
    w->old_layout = 1;
    w->n_old = (int)nb;
    return CV_OK;
}

cv_status kr_weights_open(kr_weights *w, const char *path, hid_t file, size_t max_bytes, cv_error *err)
{
    memset(w, 0, sizeof *w);
    w->path = path;
    w->file = file;
    w->root = -1;
    w->mem.max = max_bytes;
    w->mem.meta_grace = KR_META_GRACE_BYTES;
    w->acc.lapl = w->acc.gapl = w->acc.dapl = -1;
    cv_status st = kr_h5_access_open(&w->acc, path, err);
    bool found = false;
    if (st == CV_OK)
        st = find(w, file, "model_weights", &found, err);
    if (st != CV_OK)
        return st;
    if (found) {
        w->root = H5Gopen2(file, "model_weights", w->acc.gapl);
        if (w->root < 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: group 'model_weights' cannot be opened", path);
        return CV_OK;
    }
    if (!kr_attr_exists(file, "layer_names")) {
        long long nb = attr_int(file, "nb_layers");
        if (nb < 0 && (st = find(w, file, "layer_0", &found, err)) != CV_OK)
            return st;
        if (nb < 0 && !found)
            return cv_fail(err, CV_ERR_FORMAT,
                           "%s: HDF5 file is not a Keras model or weights file (no model_config, model_weights, "
                           "layer_names or layer_0)",
                           path);
        if ((st = count_old_layers(w, nb, err)) != CV_OK)
            return st;
    }
    w->root = H5Gopen2(file, "/", w->acc.gapl);
    return w->root < 0 ? cv_fail(err, CV_ERR_FORMAT, "%s: root group cannot be opened", path) : CV_OK;
}

void kr_weights_close(kr_weights *w)
{
    if (!w)
        return;
    if (w->root >= 0)
        H5Gclose(w->root);
    w->root = -1;
    kr_h5_access_close(&w->acc);
}

int kr_weights_has_layer(const kr_weights *w, const char *name)
{
    bool found = false;
    cv_error ignored; /* a link that leads elsewhere counts as absent here; kr_weights_get refuses it */
    return !w->old_layout && find(w, w->root, name, &found, &ignored) == CV_OK && found;
}

void kr_arrays_free(kr_array *a, int n)
{
    if (!a)
        return;
    for (int k = 0; k < n; k++)
        free(a[k].data);
    free(a);
}

/* The shape of an open float dataset into a; *numel its elements
 * (SIZE_MAX when they do not fit a size_t). */
static cv_status read_shape(const kr_weights *w, hid_t ds, const char *what, kr_array *a, size_t *numel,
                            size_t *elem_size, cv_error *err)
{
    cv_status st = CV_OK;
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    int nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_FLOAT)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: %s is not a float array", w->path, what);
    else if (nd < 0 || nd > CV_MAX_DIMS)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: %s has %d dimensions", w->path, what, nd);
    if (st == CV_OK) {
        hsize_t dims[CV_MAX_DIMS];
        H5Sget_simple_extent_dims(space, dims, NULL);
        *numel = 1;
        *elem_size = H5Tget_size(type);
        a->ndim = nd;
        for (int k = 0; k < nd; k++) {
            a->d[k] = (int64_t)dims[k];
            if (dims[k] > ((hsize_t)1 << 40) || !cv_mul_size(*numel, (size_t)dims[k], numel))
                *numel = SIZE_MAX;
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

/* May the array (bytes as float32 in memory, declared bytes as stored
 * type) be allocated? Charges the budget; refuses what is over the
 * per-tensor cap or the budget, and what the file does not really hold. */
static cv_status admit_array(kr_weights *w, hid_t ds, const char *what, size_t numel, size_t elem_size,
                             uint64_t chunk_elems, size_t *bytes, cv_error *err)
{
    size_t declared = 0, cap = w->mem.max < CV_MAX_TENSOR_BYTES ? w->mem.max : CV_MAX_TENSOR_BYTES;
    char lim[64], got[64];
    if (numel == SIZE_MAX || !cv_mul_size(numel, sizeof(float), bytes) || *bytes > cap)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s would take the weights past the limit of %s (one array, max_memory)",
                       w->path, what, cv_bytes_str(cap, lim, sizeof lim));
    if (!cv_mul_size(numel, elem_size ? elem_size : 1, &declared))
        declared = SIZE_MAX;
    hsize_t stored = H5Dget_storage_size(ds);
    if (declared > KR_BOMB_MIN_BYTES && stored < declared / KR_BOMB_RATIO)
        return cv_fail(err, CV_ERR_LIMIT,
                       "%s: %s declares %s but the file stores only %llu bytes of it (never written: it would read "
                       "as fill values); refused as a decompression bomb",
                       w->path, what, cv_bytes_str(declared, got, sizeof got), (unsigned long long)stored);
    /* libhdf5 holds a whole chunk while decoding it. */
    size_t chunk_bytes = chunk_elems > SIZE_MAX / (elem_size ? elem_size : 1) ? SIZE_MAX
                                                                              : (size_t)chunk_elems * elem_size;
    if (chunk_bytes > KR_CHUNK_FREE_BYTES) {
        if (chunk_bytes > cap || chunk_bytes > w->mem.max - w->mem.used)
            return cv_fail(err, CV_ERR_LIMIT, "%s: %s is stored in chunks of %s, more than the memory limit allows",
                           w->path, what, cv_bytes_str(chunk_bytes, got, sizeof got));
    }
    return kr_budget_take(&w->mem, *bytes, w->path, what, err);
}

/* Read the float dataset `name` (relative to group g) into a. */
static cv_status read_array(kr_weights *w, hid_t g, const char *name, const char *layer, kr_array *a,
                            cv_error *err)
{
    char dsname[700], what[1024];
    kr_h5_path(g, name, dsname, sizeof dsname);
    snprintf(what, sizeof what, "layer '%.200s': weight '%.700s'", layer, dsname);
    bool found = false;
    cv_status st = find(w, g, name, &found, err);
    if (st != CV_OK)
        return st;
    if (!found)
        return cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s': weight '%s' is listed but missing", w->path, layer, name);
    hid_t ds = H5Dopen2(g, name, w->acc.dapl);
    if (ds < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: %s is not a dataset", w->path, what);
    /* Where the data comes from is settled before the space or the data
     * is touched (a virtual dataset reads other files to answer either). */
    uint64_t chunk_elems = 0;
    size_t numel = 0, elem_size = 0, bytes = 0;
    if ((st = kr_h5_check_dataset(ds, w->path, dsname, &chunk_elems, err)) == CV_OK &&
        (st = read_shape(w, ds, what, a, &numel, &elem_size, err)) == CV_OK &&
        (st = admit_array(w, ds, what, numel, elem_size, chunk_elems, &bytes, err)) == CV_OK &&
        !(a->data = cv_malloc_large(bytes ? bytes : sizeof(float))))
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory for %s (%zu bytes)", w->path, what, bytes);
    /* HDF5 converts float16/float64 files to float32 here. */
    if (st == CV_OK && numel && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0) {
        free(a->data);
        a->data = NULL;
        st = cv_fail(err, CV_ERR_FORMAT, "%s: %s cannot be read (truncated file?)", w->path, what);
    }
    H5Dclose(ds);
    return st;
}

static cv_status read_list(kr_weights *w, hid_t g, char **names, int n, const char *layer, kr_array **out,
                           cv_error *err)
{
    kr_array *a = calloc((size_t)(n ? n : 1), sizeof *a);
    if (!a)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", w->path);
    for (int k = 0; k < n; k++) {
        cv_status st = read_array(w, g, names[k], layer, &a[k], err);
        if (st != CV_OK) {
            kr_arrays_free(a, n);
            return st;
        }
    }
    *out = a;
    return CV_OK;
}

/* Old layout: open group layer_<k> (hard links only); *g < 0 on failure. */
static cv_status open_old_group(kr_weights *w, const char *gname, hid_t *g, cv_error *err)
{
    *g = -1;
    bool found = false;
    cv_status st = find(w, w->root, gname, &found, err);
    if (st != CV_OK)
        return st;
    if (!found)
        return cv_fail(err, CV_ERR_FORMAT, "%s: group '%s' is missing (nb_layers says %d)", w->path, gname, w->n_old);
    if ((*g = H5Gopen2(w->root, gname, w->acc.gapl)) < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: '%s' is not a group", w->path, gname);
    return CV_OK;
}

/* Old layout: nb_params of group g, or else the count of param_0, param_1, ... */
static cv_status count_params(kr_weights *w, hid_t g, const char *gname, long long *np, cv_error *err)
{
    *np = attr_int(g, "nb_params");
    bool found = true;
    if (*np < 0)
        for (*np = 0; *np < KR_MAX_WEIGHTS; ++*np) {
            char p[32];
            snprintf(p, sizeof p, "param_%lld", *np);
            cv_status st = find(w, g, p, &found, err);
            if (st != CV_OK)
                return st;
            if (!found)
                break;
        }
    if (*np > KR_MAX_WEIGHTS)
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s has nb_params = %lld", w->path, gname, *np);
    return CV_OK;
}

/* Old layout: the next layer_<k> with at least one param_<p>. */
static cv_status get_old(kr_weights *w, const char *layer, kr_array **out, int *n, cv_error *err)
{
    for (; w->next_old < w->n_old; w->next_old++) {
        char gname[32];
        snprintf(gname, sizeof gname, "layer_%d", w->next_old);
        hid_t g;
        long long np = 0;
        cv_status st = open_old_group(w, gname, &g, err);
        if (st == CV_OK)
            st = count_params(w, g, gname, &np, err);
        if (st == CV_OK && np == 0) {
            H5Gclose(g);
            continue;
        }
        if (st == CV_OK) {
            char *names[KR_MAX_WEIGHTS];
            char storage[KR_MAX_WEIGHTS][24];
            for (int p = 0; p < np; p++) {
                snprintf(storage[p], sizeof storage[p], "param_%d", p);
                names[p] = storage[p];
            }
            char who[300];
            snprintf(who, sizeof who, "%s (from %s)", layer, gname);
            if ((st = read_list(w, g, names, (int)np, who, out, err)) == CV_OK) {
                *n = (int)np;
                w->next_old++;
            }
        }
        if (g >= 0)
            H5Gclose(g);
        return st;
    }
    *n = -1;
    return CV_OK;
}

cv_status kr_weights_get(kr_weights *w, const char *layer, const char *cls, kr_array **out, int *n,
                         cv_error *err)
{
    *out = NULL;
    *n = -1;
    if (w->old_layout)
        return get_old(w, layer, out, n, err);
    bool found = false;
    cv_status st = find(w, w->root, layer, &found, err);
    if (st != CV_OK || !found)
        return st;
    hid_t g = H5Gopen2(w->root, layer, w->acc.gapl);
    if (g < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s' (%s): its weights entry is not a group", w->path,
                       layer, cls);
    char **names = NULL;
    int nn = -1;
    char where[300];
    snprintf(where, sizeof where, "layer '%s'", layer);
    st = kr_attr_strings(g, "weight_names", where, w->path, KR_MAX_WEIGHTS, &w->mem, &names, &nn, err);
    if (st == CV_OK && nn < 0)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s' (%s): its weights group has no weight_names attribute",
                     w->path, layer, cls);
    if (st == CV_OK && (st = read_list(w, g, names, nn, layer, out, err)) == CV_OK)
        *n = nn;
    kr_strings_free(names, nn);
    H5Gclose(g);
    return st;
}
