/* Fuzz target: the Keras HDF5 importer — our side of it: the model_config
 * JSON and the checks on weight shapes and types.
 *
 * Byte-mutating an HDF5 file would mostly fuzz libhdf5's own parser, and
 * libhdf5 1.10 has known heap overflows on corrupt files (CVE-2018-17432,
 * CVE-2020-10810, ...; see docs/robustness.md) that no caller can guard
 * against. So an input is a recipe that edits a valid template file with
 * libhdf5 itself, and the result is always a well-formed HDF5 file:
 *
 *   byte 0     template: an index into the list below (modulo its length;
 *              a template that is absent — the ../shared one is optional —
 *              falls back to the first, so committed inputs replay the same
 *              wherever they run)
 *   byte 1     flags: 1 model_config as a variable-length string (else
 *              fixed-length); 2 run backward too; 4 pass the JSON as
 *              cv_load_options.keras_config (a separate file) instead;
 *              8 give no architecture at all (weights-only templates then
 *              use the built-in VGG16); 16 keras_flip_kernels; 32 every
 *              edit has a storage byte (below)
 *   byte 2     number of weight edits (modulo 9), then for each:
 *                byte  which dataset (modulo the template's count, in name order)
 *                byte  low 4 bits: rank (modulo 9); high bits: element type
 *                      (0-1 float32, 2 float64, 3 int32)
 *                byte  (flag 32 only) storage: low 3 bits the kind, the
 *                      high 5 bits p its parameter:
 *                      0 contiguous, written late (as without flag 32)
 *                      1 chunked (chunks of up to 16 per dimension), fill
 *                        value from p; p&1 write the data, p&2 unlimited
 *                        max dims and 2^20-element chunks, p&4 deflate
 *                      2 compact (only small datasets can be)
 *                      3 contiguous, never written, fill value from p
 *                      4 external storage: raw data in another file
 *                      5 virtual: mapped from another dataset, in this
 *                        file (p&1) or in a copy of the template
 *                      6 external link to the same path in a copy of the
 *                        template; p&1 replaces the dataset's group instead
 *                      7 soft link to the next dataset (p&1: to nothing;
 *                        p&2: the group, to the next dataset's group)
 *                      cnnviz must refuse 4-7 before reading anything.
 *                rank x uint16 LE dimension; 0xFF00 and above means 2^(v & 63)
 *              The dataset is replaced by one of that shape; data is written
 *              when it has at most 65536 elements (else it reads as zeros).
 *   the rest   the architecture JSON; when empty the template's own is kept.
 *
 * A short input (under 3 bytes) means template 0, unedited.
 */
#include "fuzz.h"
#include <hdf5.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *h5;   /* relative to cv_fuzz_root() */
    const char *json; /* architecture for a weights-only file, or NULL */
} kf_template;

static const kf_template kf_templates[] = {
    {"tests/fixtures/keras/seq_cnn.h5", NULL},
    {"tests/fixtures/keras/func_blocks.h5", NULL},
    {"tests/fixtures/keras/func_misc.h5", NULL},
    {"tests/fixtures/keras/minmax.h5", NULL},
    {"tests/fixtures/keras/smooth.h5", NULL},
    {"tests/fixtures/keras/weights_only.h5", "tests/fixtures/keras/weights_only.json"},
    {"tests/fixtures/keras/old_layout.h5", "tests/fixtures/keras/old_layout.json"},
    {"tests/fixtures/keras/vgg16_block1.h5", NULL},
    {"../shared/models/keras_resnet8_cifar10/pretrainedResnet.h5", NULL},
};
#define KF_N_TEMPLATES ((int)(sizeof kf_templates / sizeof kf_templates[0]))
#define KF_MAX_DATASETS 256
#define KF_WRITE_LIMIT 65536

typedef struct {
    const kf_template *t;
    bool present;
    uint8_t *bytes;
    size_t size;
    char *json;       /* contents of t->json */
    size_t json_len;
} kf_loaded;

static kf_loaded kf_tpl[KF_N_TEMPLATES];
static bool kf_ready;

static uint8_t *kf_read(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", cv_fuzz_root(), rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *p = realloc(buf, cap + 1);
            if (!p)
                cv_fuzz_invariant("harness", "out of memory reading a template");
            buf = p;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[used] = 0;
    *len = used;
    return buf;
}

static void kf_init(void)
{
    if (kf_ready)
        return;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    for (int k = 0; k < KF_N_TEMPLATES; k++) {
        kf_loaded *l = &kf_tpl[k];
        l->t = &kf_templates[k];
        if (!(l->bytes = kf_read(l->t->h5, &l->size)))
            continue;
        if (l->t->json && !(l->json = (char *)kf_read(l->t->json, &l->json_len))) {
            free(l->bytes);
            l->bytes = NULL;
            continue;
        }
        l->present = true;
    }
    if (!kf_tpl[0].present)
        cv_fuzz_invariant("fuzz_keras", "template files not found (run from the repository root or set CNNVIZ_FUZZ_ROOT)");
    kf_ready = true;
}

static const kf_loaded *kf_pick(int index)
{
    const kf_loaded *t = &kf_tpl[index % KF_N_TEMPLATES];
    return t->present ? t : &kf_tpl[0];
}

/* ---- editing the template --------------------------------------------------- */

typedef struct {
    char *names[KF_MAX_DATASETS];
    int n;
} kf_list;

static herr_t kf_collect(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
    kf_list *l = arg;
    (void)info;
    if (l->n >= KF_MAX_DATASETS)
        return 1;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    if (H5Iget_type(o) == H5I_DATASET && (l->names[l->n] = strdup(name)))
        l->n++;
    H5Oclose(o);
    return 0;
}

static hsize_t kf_dim(const uint8_t *p)
{
    unsigned v = p[0] | (unsigned)p[1] << 8;
    return v >= 0xFF00 ? (hsize_t)1 << (v & 63 ? (v & 63) : 1) : (hsize_t)v;
}

/* One edit of the recipe. */
typedef struct {
    int which, rank, type, kind, param;
    hsize_t dims[CV_MAX_DIMS];
} kf_edit_op;

/* Parse the edit at data[pos]; returns the position after it, 0 when the
 * input ends inside it. */
static size_t kf_parse_edit(const uint8_t *data, size_t size, size_t pos, bool storage_byte, kf_edit_op *e)
{
    size_t head = storage_byte ? 3 : 2;
    if (pos + head > size)
        return 0;
    e->which = data[pos];
    e->rank = (data[pos + 1] & 15) % 9;
    e->type = data[pos + 1] >> 4 > 3 ? 0 : data[pos + 1] >> 4;
    e->kind = storage_byte ? data[pos + 2] & 7 : 0;
    e->param = storage_byte ? data[pos + 2] >> 3 : 0;
    pos += head;
    if (pos + 2 * (size_t)e->rank > size)
        return 0;
    for (int k = 0; k < e->rank; k++)
        e->dims[k] = kf_dim(data + pos + 2 * k);
    return pos + 2 * (size_t)e->rank;
}

/* Write the dataset's values when it is small: a pattern in its type. */
static void kf_write_values(hid_t ds, hid_t space, int type)
{
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n <= 0 || n > KF_WRITE_LIMIT)
        return;
    double *v = malloc((size_t)n * sizeof(double));
    if (!v)
        cv_fuzz_invariant("harness", "out of memory");
    for (hssize_t k = 0; k < n; k++)
        v[k] = (double)((k * 7919) % 23) / 11.0 - 1.0;
    if (type == 3) {
        int *iv = (int *)v; /* ints fit in the doubles' space */
        for (hssize_t k = 0; k < n; k++)
            iv[k] = (int)(k % 5) - 2;
        H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv);
    } else if (type == 2) {
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    } else {
        float *fv = (float *)v;
        for (hssize_t k = 0; k < n; k++)
            fv[k] = (float)v[k];
        H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, fv);
    }
    free(v);
}

/* The creation property list for storage kinds 0-5; *maxdims_unlimited
 * when the dataspace must be extendible (big chunks). */
static hid_t kf_dcpl(const kf_edit_op *e, const char *other_name, bool *maxdims_unlimited)
{
    *maxdims_unlimited = false;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    float fill = e->param == 31 ? (float)NAN : (float)(e->param - 8);
    H5Pset_alloc_time(dcpl, e->kind == 1   ? H5D_ALLOC_TIME_INCR
                            : e->kind == 2 ? H5D_ALLOC_TIME_EARLY /* the only one compact allows */
                                           : H5D_ALLOC_TIME_LATE);
    H5Pset_fill_time(dcpl, e->kind == 0 ? H5D_FILL_TIME_NEVER : H5D_FILL_TIME_IFSET);
    if (e->kind == 1 || e->kind == 3)
        H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &fill);
    if (e->kind == 1 && e->rank > 0) {
        hsize_t chunk[CV_MAX_DIMS];
        *maxdims_unlimited = (e->param & 2) != 0;
        for (int k = 0; k < e->rank; k++)
            chunk[k] = e->dims[k] == 0 ? 1 : e->dims[k] < 16 ? e->dims[k] : 16;
        if (*maxdims_unlimited) {
            /* A chunk of 2^20 elements, far larger than a small dataset
             * (libhdf5 decodes chunks whole): the first dimension takes
             * what the others leave, so a written dataset has few chunks. */
            hsize_t rest = 1;
            for (int k = 1; k < e->rank; k++)
                rest *= chunk[k];
            chunk[0] = rest >= ((hsize_t)1 << 20) ? 1 : ((hsize_t)1 << 20) / rest;
        }
        H5Pset_chunk(dcpl, e->rank, chunk);
        if (e->param & 4)
            H5Pset_deflate(dcpl, 6);
    } else if (e->kind == 2) {
        H5Pset_layout(dcpl, H5D_COMPACT);
    } else if (e->kind == 4) {
        static const uint8_t raw[4096] = {1, 2, 3, 4};
        H5Pset_external(dcpl, cv_fuzz_file(2, raw, sizeof raw), 0, H5F_UNLIMITED);
    } else if (e->kind == 5) {
        hid_t space = H5Screate_simple(e->rank, e->dims, NULL);
        const char *file = e->param & 1 ? "." : cv_fuzz_file(3, kf_tpl[0].bytes, kf_tpl[0].size);
        if (space >= 0)
            H5Pset_virtual(dcpl, space, file, other_name, space);
        if (space >= 0)
            H5Sclose(space);
    }
    return dcpl;
}

/* Kinds 6 and 7: put a link where the dataset (or its group) was. */
static void kf_replace_by_link(hid_t root, const char *name, const char *other, const kf_edit_op *e)
{
    char at[1100], target[1100];
    snprintf(at, sizeof at, "%s", name);
    snprintf(target, sizeof target, "%s", other);
    bool group = e->kind == 6 ? (e->param & 1) : (e->param & 2);
    char *slash = strrchr(at, '/'), *tslash = strrchr(target, '/');
    if (group && slash && tslash && tslash != target) {
        *slash = '\0'; /* the dataset's group */
        *tslash = '\0';
    }
    if (H5Ldelete(root, at, H5P_DEFAULT) < 0)
        return;
    if (e->kind == 6) {
        char abs[1700], rootname[512] = "";
        H5Iget_name(root, rootname, sizeof rootname);
        snprintf(abs, sizeof abs, "%s/%s", strcmp(rootname, "/") == 0 ? "" : rootname, at);
        H5Lcreate_external(cv_fuzz_file(3, kf_tpl[0].bytes, kf_tpl[0].size), abs, root, at, H5P_DEFAULT,
                           H5P_DEFAULT);
    } else {
        H5Lcreate_soft(e->param & 1 ? "/nothing/here" : target, root, at, H5P_DEFAULT, H5P_DEFAULT);
    }
}

/* Replace dataset `name` as edit e says; other is another dataset's
 * absolute path (a virtual source, a soft link's target). */
static void kf_replace(hid_t root, const char *name, const char *other, const kf_edit_op *e)
{
    if (e->kind >= 6) {
        kf_replace_by_link(root, name, other, e);
        return;
    }
    hid_t file_t = e->type == 3 ? H5T_STD_I32LE : e->type == 2 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
    bool unlimited;
    hid_t dcpl = kf_dcpl(e, other, &unlimited);
    hsize_t maxdims[CV_MAX_DIMS];
    for (int k = 0; k < e->rank; k++)
        maxdims[k] = unlimited ? H5S_UNLIMITED : e->dims[k];
    hid_t space = e->rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(e->rank, e->dims, maxdims);
    if (space >= 0 && H5Ldelete(root, name, H5P_DEFAULT) >= 0) {
        hid_t ds = H5Dcreate2(root, name, file_t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        /* kinds 1 (unless p&1), 3, 4 and 5 leave the data unwritten */
        bool write = e->kind == 0 || e->kind == 2 || (e->kind == 1 && (e->param & 1));
        if (ds >= 0 && write)
            kf_write_values(ds, space, e->type);
        if (ds >= 0)
            H5Dclose(ds);
    }
    if (space >= 0)
        H5Sclose(space);
    H5Pclose(dcpl);
}

/* Replace the root attribute model_config by text (len bytes). */
static void kf_set_config(hid_t file, const char *text, size_t len, int vlen)
{
    if (H5Aexists(file, "model_config") > 0)
        H5Adelete(file, "model_config");
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    if (vlen) {
        H5Tset_size(type, H5T_VARIABLE);
        hid_t a = H5Acreate2(file, "model_config", type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            char *copy = malloc(len + 1); /* a C string: stops at the first nul */
            if (!copy)
                cv_fuzz_invariant("harness", "out of memory");
            memcpy(copy, text, len);
            copy[len] = 0;
            const char *p = copy;
            H5Awrite(a, type, &p);
            free(copy);
            H5Aclose(a);
        }
    } else {
        H5Tset_size(type, len ? len : 1);
        hid_t a = H5Acreate2(file, "model_config", type, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Awrite(a, type, len ? text : "");
            H5Aclose(a);
        }
    }
    H5Sclose(space);
    H5Tclose(type);
}

/* Apply the recipe's weight edits, and the JSON when json_in_attr, to the
 * file at path. */
static void kf_edit(const char *path, const uint8_t *data, size_t size, uint8_t flags, const char *json,
                    size_t json_len, bool json_in_attr)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0)
        cv_fuzz_invariant("fuzz_keras", "a template does not open with libhdf5");
    hid_t root = H5Lexists(file, "model_weights", H5P_DEFAULT) > 0 ? H5Gopen2(file, "model_weights", H5P_DEFAULT)
                                                                    : H5Gopen2(file, "/", H5P_DEFAULT);
    kf_list l = {.n = 0};
    if (root >= 0)
        H5Lvisit(root, H5_INDEX_NAME, H5_ITER_INC, kf_collect, &l);
    char rootname[512] = "";
    if (root >= 0)
        H5Iget_name(root, rootname, sizeof rootname);
    size_t pos = 3;
    int edits = size >= 3 ? data[2] % 9 : 0;
    for (int e = 0; e < edits; e++) {
        kf_edit_op op;
        if (!(pos = kf_parse_edit(data, size, pos, flags & 32, &op)))
            break;
        if (l.n == 0 || root < 0)
            continue;
        char other[1100]; /* the next dataset, by absolute path */
        snprintf(other, sizeof other, "%s/%s", strcmp(rootname, "/") == 0 ? "" : rootname,
                 l.names[(op.which + 1) % l.n]);
        kf_replace(root, l.names[op.which % l.n], other, &op);
    }
    if (json_in_attr)
        kf_set_config(file, json, json_len, flags & 1);
    for (int k = 0; k < l.n; k++)
        free(l.names[k]);
    if (root >= 0)
        H5Gclose(root);
    H5Fclose(file);
}

/* Where the architecture JSON starts: after the header and the edits. */
static size_t kf_json_offset(const uint8_t *data, size_t size)
{
    if (size < 3)
        return size;
    size_t pos = 3;
    int edits = data[2] % 9;
    for (int e = 0; e < edits; e++) {
        kf_edit_op op;
        size_t next = kf_parse_edit(data, size, pos, data[1] & 32, &op);
        if (!next) /* cut in its dimensions: the edit swallows the rest; cut in its head: the rest is JSON */
            return pos + ((data[1] & 32) ? 3 : 2) <= size ? size : pos;
        pos = next;
    }
    return pos > size ? size : pos;
}

int cv_fuzz_keras(const uint8_t *data, size_t size)
{
    kf_init();
    const kf_loaded *t = kf_pick(size ? data[0] : 0);
    uint8_t flags = size >= 2 ? data[1] : 0;
    size_t off = kf_json_offset(data, size);
    const char *json = (const char *)data + off;
    size_t json_len = size - off;
    bool no_config = flags & 8;
    bool weights_only = t->json != NULL;
    /* Where the architecture goes: into a file for keras_config (weights-
     * only templates, or flag 4), or into the model_config attribute. */
    bool config_file = !no_config && (weights_only || (flags & 4));
    if (json_len == 0 && weights_only) {
        json = t->json;
        json_len = t->json_len;
    }
    bool json_in_attr = !no_config && !config_file && json_len > 0;

    const char *path = cv_fuzz_file(0, t->bytes, t->size);
    kf_edit(path, data, size, flags, json, json_len, json_in_attr);
    if (no_config && !weights_only) { /* drop the file's own architecture too */
        hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        if (file >= 0) {
            if (H5Aexists(file, "model_config") > 0)
                H5Adelete(file, "model_config");
            H5Fclose(file);
        }
    }
    cv_load_options opt = {0};
    opt.max_memory = CV_FUZZ_MAX_MEMORY;
    opt.keras_flip_kernels = (flags & 16) != 0;
    if (config_file) /* (flag 4 without JSON gives an empty file: refused) */
        opt.keras_config = cv_fuzz_file(1, (const uint8_t *)json, json_len);
    cv_model *m = NULL;
    cv_error err;
    cv_status st = cv_model_load(&m, path, &opt, &err);
    if (st != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_model_load (keras)");
        if (m)
            cv_fuzz_invariant("cv_model_load (keras)", "a model returned with a failure");
        return 0;
    }
    if (!m)
        cv_fuzz_invariant("cv_model_load (keras)", "success without a model");
    uint32_t seed = 0;
    for (size_t k = 0; k < size && k < 64; k++)
        seed = seed * 31 + data[k];
    cv_fuzz_exercise_model(m, (flags & 2) != 0, seed);
    cv_model_free(m);
    return 0;
}

/* ---- seeds ----------------------------------------------------------------------- */

/* The template's model_config attribute as a new string, or NULL. */
static char *kf_model_config(const char *path)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return NULL;
    char *out = NULL;
    if (H5Aexists(file, "model_config") > 0) {
        hid_t a = H5Aopen(file, "model_config", H5P_DEFAULT);
        hid_t type = H5Aget_type(a);
        if (H5Tis_variable_str(type) > 0) {
            char *p = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(type)); /* no conversion between ASCII and UTF-8 */
            if (H5Aread(a, mt, &p) >= 0 && p) {
                out = strdup(p);
                H5free_memory(p);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(type);
            out = calloc(n + 1, 1);
            if (out && H5Aread(a, type, out) < 0) {
                free(out);
                out = NULL;
            }
        }
        H5Tclose(type);
        H5Aclose(a);
    }
    H5Fclose(file);
    return out;
}

/* Write the seeds into dir: for each template present, its own
 * architecture unedited (keras-<k>.seed), and for weights-only templates
 * also no architecture (keras-<k>-builtin.seed). Returns the number
 * written, -1 on error. */
int cv_fuzz_keras_seeds(const char *dir);
int cv_fuzz_keras_seeds(const char *dir)
{
    kf_init();
    int written = 0;
    for (int k = 0; k < KF_N_TEMPLATES; k++) {
        const kf_loaded *t = &kf_tpl[k];
        if (!t->present)
            continue;
        char *cfg = NULL;
        const char *json = t->json;
        if (!json)
            json = cfg = kf_model_config(cv_fuzz_file(0, t->bytes, t->size));
        for (int builtin = 0; builtin < (t->json ? 2 : 1); builtin++) {
            char name[4096];
            snprintf(name, sizeof name, "%s/keras-%d%s.seed", dir, k, builtin ? "-builtin" : "");
            FILE *f = fopen(name, "wb");
            if (!f) {
                free(cfg);
                return -1;
            }
            uint8_t head[3] = {(uint8_t)k, (uint8_t)(builtin ? 8 : 0), 0};
            fwrite(head, 1, 3, f);
            if (!builtin && json)
                fwrite(json, 1, strlen(json), f);
            if (fclose(f) != 0) {
                free(cfg);
                return -1;
            }
            written++;
        }
        if (k == 0 && json) {
            /* Two edits to show the recipe format: kernel of the first
             * layer with a wrong output count, and a bias 2^40 long. */
            static const uint8_t edits[] = {2, 1, 4, 3, 0, 3, 0, 3, 0, 5, 0, 0, 1, 0x28, 0xff};
            char name[4096];
            snprintf(name, sizeof name, "%s/keras-0-edits.seed", dir);
            FILE *f = fopen(name, "wb");
            if (f) {
                uint8_t head[2] = {0, 0};
                fwrite(head, 1, 2, f);
                fwrite(edits, 1, sizeof edits, f);
                fwrite(json, 1, strlen(json), f);
                if (fclose(f) == 0)
                    written++;
            }
        }
        free(cfg);
    }
    return written;
}

#ifdef CV_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return cv_fuzz_keras(data, size); }
#endif
