/* Keras HDF5: keeping libhdf5 inside the model file and inside the budget.
 *
 * libhdf5 does what the file says. An external link opens another HDF5
 * file; a dataset with external storage (H5Pset_external) reads its raw
 * bytes from any file it names, /etc/passwd or a FIFO included; a virtual
 * dataset maps datasets of other files; a filter id libhdf5 does not know
 * makes it search HDF5_PLUGIN_PATH and load a shared library. And a few
 * bytes can declare a dataset of gigabytes that was never written: reading
 * it returns the fill value, as much of it as the buffer we allocated.
 *
 * So: names are resolved one link at a time and only hard links are
 * followed (kr_h5_find); every dataset's creation properties are checked
 * before its space, type or data is touched (kr_h5_check_dataset); link
 * access lists refuse external-link traversal as a second layer; and
 * every allocation the file's contents decide is charged to one budget
 * first (kr_budget_take).
 */
#include "keras.h"
#include "file.h"
#include <stdio.h>
#include <string.h>

/* ---- the budget ------------------------------------------------------------------ */

cv_status kr_budget_take(kr_budget *b, size_t bytes, const char *path, const char *what, cv_error *err)
{
    if (!b)
        return CV_OK;
    if (bytes > b->max - b->used) {
        char need[64], lim[64], used[64];
        return cv_fail(err, CV_ERR_LIMIT, "%s: %s needs %s, more than is left of the model's memory limit of %s (%s used)",
                       path, what, cv_bytes_str(bytes, need, sizeof need), cv_bytes_str(b->max, lim, sizeof lim),
                       cv_bytes_str(b->used, used, sizeof used));
    }
    b->used += bytes;
    return CV_OK;
}

cv_status kr_budget_take_meta(kr_budget *b, size_t bytes, const char *path, const char *what, cv_error *err)
{
    if (!b)
        return CV_OK;
    size_t free_part = bytes < b->meta_grace ? bytes : b->meta_grace;
    cv_status st = kr_budget_take(b, bytes - free_part, path, what, err);
    if (st == CV_OK)
        b->meta_grace -= free_part;
    return st;
}

size_t kr_budget_left(const kr_budget *b)
{
    return b->max - b->used + b->meta_grace;
}

/* ---- opening the file and its links ----------------------------------------------- */

/* Returning a negative value fails the traversal: no external link is
 * ever followed, even one that kr_h5_find did not see (a second layer). */
static herr_t refuse_external_link(const char *parent_file, const char *parent_group, const char *child_file,
                                   const char *child_object, unsigned *acc_flags, hid_t fapl, void *op_data)
{
    (void)parent_file, (void)parent_group, (void)child_file, (void)child_object;
    (void)acc_flags, (void)fapl, (void)op_data;
    return -1;
}

hid_t kr_h5_open(const char *path)
{
    /* The plain POSIX driver, whatever the environment says. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    hid_t file = -1;
    if (H5Pset_fapl_sec2(fapl) >= 0)
        file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return file;
}

/* An access list of class cls (link, group or dataset access: the latter
 * two derive from link access) that follows no external link and at most
 * one soft link. */
static hid_t safe_access_list(hid_t cls)
{
    hid_t p = H5Pcreate(cls);
    if (p < 0)
        return -1;
    if (H5Pset_elink_cb(p, refuse_external_link, NULL) < 0 || H5Pset_nlinks(p, 1) < 0) {
        H5Pclose(p);
        return -1;
    }
    return p;
}

cv_status kr_h5_access_open(kr_h5_access *a, const char *path, cv_error *err)
{
    a->lapl = safe_access_list(H5P_LINK_ACCESS);
    a->gapl = safe_access_list(H5P_GROUP_ACCESS);
    a->dapl = safe_access_list(H5P_DATASET_ACCESS);
    if (a->lapl < 0 || a->gapl < 0 || a->dapl < 0) {
        kr_h5_access_close(a);
        return cv_fail(err, CV_ERR_NOMEM, "%s: cannot create HDF5 access property lists", path);
    }
    return CV_OK;
}

void kr_h5_access_close(kr_h5_access *a)
{
    hid_t *lists[3] = {&a->lapl, &a->gapl, &a->dapl};
    for (int k = 0; k < 3; k++) {
        if (*lists[k] > 0)
            H5Pclose(*lists[k]);
        *lists[k] = -1;
    }
}

char *kr_h5_path(hid_t loc, const char *name, char *buf, size_t len)
{
    char group[512] = "";
    if (name[0] != '/' && H5Iget_name(loc, group, sizeof group) < 0)
        group[0] = '\0';
    const char *g = group[0] == '/' ? group + 1 : group;
    const char *n = name[0] == '/' ? name + 1 : name;
    snprintf(buf, len, "%.300s%s%.300s", g, g[0] ? "/" : "", n);
    return buf;
}

/* What a link of this type would make libhdf5 do, for the message. */
static const char *link_refusal(H5L_type_t type)
{
    switch (type) {
    case H5L_TYPE_EXTERNAL:
        return "is an HDF5 external link (to an object in another file); cnnviz reads only the model file";
    case H5L_TYPE_SOFT:
        return "is an HDF5 soft link; cnnviz follows only hard links";
    default:
        return "is a user-defined HDF5 link; cnnviz follows only hard links";
    }
}

cv_status kr_h5_find(const kr_h5_access *a, hid_t loc, const char *name, const char *path, bool *found,
                     cv_error *err)
{
    *found = false;
    char buf[1024];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof buf)
        return CV_OK;
    memcpy(buf, name, len + 1);
    /* Each prefix ending at a '/' (or the end) is one link; H5Lexists and
     * H5Lget_info traverse every component before the last, which is
     * safe once each of those was seen to be a hard link. */
    for (size_t k = 1; k <= len; k++) {
        if ((buf[k] != '/' && buf[k] != '\0') || buf[k - 1] == '/')
            continue;
        char c = buf[k];
        buf[k] = '\0';
        if (H5Lexists(loc, buf, a->lapl) <= 0)
            return CV_OK;
        H5L_info_t info;
        herr_t got = H5Lget_info(loc, buf, &info, a->lapl);
        if (got < 0 || info.type != H5L_TYPE_HARD) {
            char where[700];
            kr_h5_path(loc, buf, where, sizeof where);
            return got < 0 ? cv_fail(err, CV_ERR_FORMAT, "%s: link '%s' cannot be read", path, where)
                           : cv_fail(err, CV_ERR_FORMAT, "%s: '%s' %s", path, where, link_refusal(info.type));
        }
        buf[k] = c;
    }
    *found = true;
    return CV_OK;
}

/* ---- dataset properties ------------------------------------------------------------ */

/* Filters built into libhdf5: any other id would be looked up as a plugin
 * (a shared library from HDF5_PLUGIN_PATH) when the data is read. */
static bool builtin_filter(H5Z_filter_t id)
{
    return id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE || id == H5Z_FILTER_FLETCHER32 ||
           id == H5Z_FILTER_SZIP || id == H5Z_FILTER_NBIT || id == H5Z_FILTER_SCALEOFFSET;
}

/* The refusal for dcpl, or NULL when its layout and filters are fine;
 * *chunk_elems gets the elements of one chunk (0 when not chunked). */
static const char *dcpl_refusal(hid_t dcpl, uint64_t *chunk_elems, char *buf, size_t len)
{
    *chunk_elems = 0;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout == H5D_VIRTUAL)
        return "is an HDF5 virtual dataset (its data would come from other files); cnnviz reads only the model file";
    if (layout < 0)
        return "has a storage layout that cannot be read";
    if (H5Pget_external_count(dcpl) != 0)
        return "stores its data in another file (HDF5 external storage); cnnviz reads only the model file";
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0)
        return "has filters that cannot be read";
    for (int k = 0; k < nf; k++) {
        unsigned flags, config;
        size_t nvalues = 0;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)k, &flags, &nvalues, NULL, 0, NULL, &config);
        if (!builtin_filter(id)) {
            snprintf(buf, len, "uses HDF5 filter %d, which libhdf5 would load as a plugin; cnnviz accepts only "
                     "the built-in filters", (int)id);
            return buf;
        }
    }
    if (layout == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK];
        int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
        if (rank < 0)
            return "has a chunk shape that cannot be read";
        uint64_t n = 1;
        for (int k = 0; k < rank; k++)
            n = chunk[k] && n > UINT64_MAX / chunk[k] ? UINT64_MAX : n * chunk[k];
        *chunk_elems = n;
    }
    return NULL;
}

cv_status kr_h5_check_dataset(hid_t ds, const char *path, const char *dsname, uint64_t *chunk_elems,
                              cv_error *err)
{
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl < 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: dataset '%s': its creation properties cannot be read", path, dsname);
    char buf[200];
    const char *why = dcpl_refusal(dcpl, chunk_elems, buf, sizeof buf);
    H5Pclose(dcpl);
    return why ? cv_fail(err, CV_ERR_FORMAT, "%s: dataset '%s' %s", path, dsname, why) : CV_OK;
}
