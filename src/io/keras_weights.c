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

/* Read every string of an open attribute; *out has *n new strings. */
static cv_status read_strings(hid_t attr, const char *what, const char *path, char ***out, int *n,
                              cv_error *err)
{
    *out = NULL;
    *n = 0;
    cv_status st = CV_OK;
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr), mtype = -1;
    char **list = NULL;
    void *raw = NULL;
    if (type < 0 || space < 0) {
        st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be read", path, what);
        goto out;
    }
    hssize_t npts = H5Sget_simple_extent_npoints(space);
    if (npts < 0 || npts > KR_MAX_LIST) {
        st = cv_fail(err, CV_ERR_LIMIT, "%s: attribute %s has %lld entries (at most %d accepted)", path,
                     what, (long long)npts, KR_MAX_LIST);
        goto out;
    }
    if (npts == 0) /* Keras writes an empty list as an empty float array */
        goto out;
    if (H5Tget_class(type) != H5T_STRING) {
        st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s is not a string", path, what);
        goto out;
    }
    size_t count = (size_t)npts;
    if (!(list = calloc(count, sizeof *list))) {
        st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", path, what);
        goto out;
    }
    htri_t var = H5Tis_variable_str(type);
    if (var > 0) {
        mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(type));
        char **ptrs = calloc(count, sizeof *ptrs);
        if (!ptrs) {
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", path, what);
            goto out;
        }
        raw = ptrs;
        if (H5Aread(attr, mtype, ptrs) < 0) {
            st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be read", path, what);
            goto out;
        }
        size_t total = 0;
        for (size_t k = 0; k < count; k++) {
            size_t len = ptrs[k] ? strnlen(ptrs[k], KR_MAX_ATTR_BYTES + 1) : 0;
            total += len;
            if (st == CV_OK && total > KR_MAX_ATTR_BYTES)
                st = cv_fail(err, CV_ERR_LIMIT, "%s: attribute %s is larger than %zu MiB", path, what,
                             KR_MAX_ATTR_BYTES >> 20);
            if (st == CV_OK && !(list[k] = copy_fixed(ptrs[k] ? ptrs[k] : "", len)))
                st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", path, what);
            if (ptrs[k])
                H5free_memory(ptrs[k]);
        }
        if (st != CV_OK)
            goto out;
    } else {
        size_t size = H5Tget_size(type), bytes;
        if (size == 0 || !cv_mul_size(size, count, &bytes) || bytes > KR_MAX_ATTR_BYTES) {
            st = cv_fail(err, CV_ERR_LIMIT, "%s: attribute %s is larger than %zu MiB", path, what,
                         KR_MAX_ATTR_BYTES >> 20);
            goto out;
        }
        /* Read with the file's own string type so no padding conversion
         * shortens a string that fills its whole width. */
        mtype = H5Tcopy(type);
        if (!(raw = malloc(bytes))) {
            st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", path, what);
            goto out;
        }
        if (H5Aread(attr, mtype, raw) < 0) {
            st = cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be read", path, what);
            goto out;
        }
        for (size_t k = 0; k < count; k++)
            if (!(list[k] = copy_fixed((const char *)raw + k * size, size))) {
                st = cv_fail(err, CV_ERR_NOMEM, "%s: out of memory reading attribute %s", path, what);
                goto out;
            }
    }
    *out = list;
    *n = (int)count;
    list = NULL;
out:
    if (list)
        kr_strings_free(list, (int)npts);
    free(raw);
    if (mtype >= 0)
        H5Tclose(mtype);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return st;
}

static cv_status open_and_read(hid_t obj, const char *name, const char *where, const char *path,
                               char ***out, int *n, cv_error *err)
{
    char what[640];
    snprintf(what, sizeof what, "'%.300s' of %.300s", name, where);
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: attribute %s cannot be opened", path, what);
    cv_status st = read_strings(attr, what, path, out, n, err);
    H5Aclose(attr);
    return st;
}

cv_status kr_attr_string(hid_t obj, const char *name, const char *where, const char *path, char **out,
                         cv_error *err)
{
    *out = NULL;
    if (!kr_attr_exists(obj, name))
        return CV_OK;
    char **list;
    int n;
    cv_status st = open_and_read(obj, name, where, path, &list, &n, err);
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

cv_status kr_attr_strings(hid_t obj, const char *name, const char *where, const char *path, char ***out,
                          int *n, cv_error *err)
{
    *out = NULL;
    *n = -1;
    if (kr_attr_exists(obj, name))
        return open_and_read(obj, name, where, path, out, n, err);
    /* Keras splits lists over the 64 KiB attribute limit into name0, name1, ... */
    char **all = NULL;
    int total = 0;
    for (int chunk = 0; chunk < 10000; chunk++) {
        char cname[300];
        snprintf(cname, sizeof cname, "%s%d", name, chunk);
        if (!kr_attr_exists(obj, cname))
            break;
        char **part;
        int np;
        cv_status st = open_and_read(obj, cname, where, path, &part, &np, err);
        if (st == CV_OK && total + np > KR_MAX_LIST)
            st = cv_fail(err, CV_ERR_LIMIT, "%s: attribute '%s' of %s has more than %d entries", path, name,
                         where, KR_MAX_LIST);
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

/* H5Lexists fails (rather than answering no) when an intermediate group of
 * a path is missing; check each component. */
static int path_exists(hid_t loc, const char *name)
{
    char buf[1024];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, name, len + 1);
    for (size_t k = 0; k <= len; k++) {
        if (buf[k] != '/' && buf[k] != '\0')
            continue;
        if (k == 0)
            continue;
        char c = buf[k];
        buf[k] = '\0';
        if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0)
            return 0;
        buf[k] = c;
    }
    return 1;
}

cv_status kr_weights_open(kr_weights *w, const char *path, hid_t file, size_t max_bytes, cv_error *err)
{
    memset(w, 0, sizeof *w);
    w->path = path;
    w->file = file;
    w->root = -1;
    w->max_bytes = max_bytes;
    if (path_exists(file, "model_weights")) {
        w->root = H5Gopen2(file, "model_weights", H5P_DEFAULT);
        if (w->root < 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: group 'model_weights' cannot be opened", path);
        return CV_OK;
    }
    if (kr_attr_exists(file, "layer_names")) {
        w->root = H5Gopen2(file, "/", H5P_DEFAULT);
        return w->root < 0 ? cv_fail(err, CV_ERR_FORMAT, "%s: root group cannot be opened", path) : CV_OK;
    }
    long long nb = attr_int(file, "nb_layers");
    if (nb >= 0 || path_exists(file, "layer_0")) {
        if (nb < 0) /* no count: the groups layer_0, layer_1, ... until one is missing */
            for (nb = 0; nb < KR_MAX_LAYERS; nb++) {
                char g[32];
                snprintf(g, sizeof g, "layer_%lld", nb);
                if (!path_exists(file, g))
                    break;
            }
        if (nb > KR_MAX_LAYERS)
            return cv_fail(err, CV_ERR_LIMIT, "%s: nb_layers = %lld (at most %d accepted)", path, nb,
                           KR_MAX_LAYERS);
        w->old_layout = 1;
        w->n_old = (int)nb;
        w->root = H5Gopen2(file, "/", H5P_DEFAULT);
        return w->root < 0 ? cv_fail(err, CV_ERR_FORMAT, "%s: root group cannot be opened", path) : CV_OK;
    }
    return cv_fail(err, CV_ERR_FORMAT,
                   "%s: HDF5 file is not a Keras model or weights file (no model_config, model_weights, "
                   "layer_names or layer_0)",
                   path);
}

void kr_weights_close(kr_weights *w)
{
    if (w && w->root >= 0)
        H5Gclose(w->root);
    if (w)
        w->root = -1;
}

int kr_weights_has_layer(const kr_weights *w, const char *name)
{
    return !w->old_layout && path_exists(w->root, name);
}

void kr_arrays_free(kr_array *a, int n)
{
    if (!a)
        return;
    for (int k = 0; k < n; k++)
        free(a[k].data);
    free(a);
}

/* Read the float dataset `name` (relative to group g) into a. */
static cv_status read_array(kr_weights *w, hid_t g, const char *name, const char *layer, kr_array *a,
                            cv_error *err)
{
    if (!path_exists(g, name))
        return cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s': weight '%s' is listed but missing", w->path, layer,
                       name);
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s': weight '%s' is not a dataset", w->path, layer, name);
    cv_status st = CV_OK;
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_FLOAT) {
        st = cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s': weight '%s' is not a float array", w->path, layer,
                     name);
        goto out;
    }
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0 || nd > CV_MAX_DIMS) {
        st = cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s': weight '%s' has %d dimensions", w->path, layer, name,
                     nd);
        goto out;
    }
    hsize_t dims[CV_MAX_DIMS];
    H5Sget_simple_extent_dims(space, dims, NULL);
    size_t numel = 1;
    a->ndim = nd;
    for (int k = 0; k < nd; k++) {
        a->d[k] = (int64_t)dims[k];
        if (dims[k] > ((hsize_t)1 << 40) || !cv_mul_size(numel, (size_t)dims[k], &numel)) {
            numel = SIZE_MAX;
            break;
        }
    }
    size_t bytes;
    if (numel == SIZE_MAX || !cv_mul_size(numel, sizeof(float), &bytes) || bytes > w->max_bytes - w->used_bytes) {
        st = cv_fail(err, CV_ERR_LIMIT, "%s: layer '%s': weight '%s' would take the weights past the limit of %zu bytes",
                     w->path, layer, name, w->max_bytes);
        goto out;
    }
    if (!(a->data = malloc(bytes ? bytes : sizeof(float)))) {
        st = cv_fail(err, CV_ERR_NOMEM, "%s: layer '%s': out of memory for weight '%s' (%zu bytes)", w->path,
                     layer, name, bytes);
        goto out;
    }
    /* HDF5 converts float16/float64 files to float32 here. */
    if (numel && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) < 0) {
        free(a->data);
        a->data = NULL;
        st = cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s': weight '%s' cannot be read (truncated file?)", w->path,
                     layer, name);
        goto out;
    }
    w->used_bytes += bytes;
out:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
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

/* Old layout: the next layer_<k> with at least one param_<p>. */
static cv_status get_old(kr_weights *w, const char *layer, kr_array **out, int *n, cv_error *err)
{
    for (; w->next_old < w->n_old; w->next_old++) {
        char gname[32];
        snprintf(gname, sizeof gname, "layer_%d", w->next_old);
        if (!path_exists(w->root, gname))
            return cv_fail(err, CV_ERR_FORMAT, "%s: group '%s' is missing (nb_layers says %d)", w->path, gname,
                           w->n_old);
        hid_t g = H5Gopen2(w->root, gname, H5P_DEFAULT);
        if (g < 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: '%s' is not a group", w->path, gname);
        long long np = attr_int(g, "nb_params");
        if (np < 0) /* count param_0, param_1, ... */
            for (np = 0; np < 64; np++) {
                char p[32];
                snprintf(p, sizeof p, "param_%lld", np);
                if (!path_exists(g, p))
                    break;
            }
        if (np > 64) {
            H5Gclose(g);
            return cv_fail(err, CV_ERR_LIMIT, "%s: %s has nb_params = %lld", w->path, gname, np);
        }
        if (np == 0) {
            H5Gclose(g);
            continue;
        }
        char *names[64];
        char storage[64][24];
        for (int p = 0; p < np; p++) {
            snprintf(storage[p], sizeof storage[p], "param_%d", p);
            names[p] = storage[p];
        }
        char who[300];
        snprintf(who, sizeof who, "%s (from %s)", layer, gname);
        cv_status st = read_list(w, g, names, (int)np, who, out, err);
        H5Gclose(g);
        if (st == CV_OK) {
            *n = (int)np;
            w->next_old++;
        }
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
    if (!path_exists(w->root, layer))
        return CV_OK;
    hid_t g = H5Gopen2(w->root, layer, H5P_DEFAULT);
    if (g < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s' (%s): its weights entry is not a group", w->path,
                       layer, cls);
    char **names = NULL;
    int nn = -1;
    char where[300];
    snprintf(where, sizeof where, "layer '%s'", layer);
    cv_status st = kr_attr_strings(g, "weight_names", where, w->path, &names, &nn, err);
    if (st == CV_OK && nn < 0)
        st = cv_fail(err, CV_ERR_FORMAT, "%s: layer '%s' (%s): its weights group has no weight_names attribute",
                     w->path, layer, cls);
    if (st == CV_OK && nn > 64)
        st = cv_fail(err, CV_ERR_LIMIT, "%s: layer '%s' (%s) lists %d weights", w->path, layer, cls, nn);
    if (st == CV_OK && (st = read_list(w, g, names, nn, layer, out, err)) == CV_OK)
        *n = nn;
    kr_strings_free(names, nn);
    H5Gclose(g);
    return st;
}
