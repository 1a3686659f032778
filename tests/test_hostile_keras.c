/* Hostile Keras HDF5 files, built here with the HDF5 C API from the small
 * valid fixture tests/fixtures/keras/seq_cnn.h5 (copied into a private
 * /tmp folder, one weight or attribute replaced):
 *
 *   - data from other files: external storage (H5Pset_external, pointing
 *     at a secret file or a FIFO), a virtual dataset, external links at
 *     every level, soft links, a filter only a plugin would provide;
 *   - memory bombs: huge declared datasets never written (fill values),
 *     a 10 MB model_config, a 10 MB keras_version, a 1000-name weight list;
 *   - an architecture file (keras_config) that is a FIFO or a directory.
 *
 * Each of these loaded (or hung, or took gigabytes) before; each must now
 * be refused quickly, with one line naming the file and the dataset. */
#include "lib/test.h"
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE "tests/fixtures/keras/seq_cnn.h5"
#define KERNEL "model_weights/conv_a/conv_a/kernel:0" /* float32 [3, 3, 3, 4] */
#define KERNEL_ELEMS 108

static char tmp[256];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double peak_rss_mib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_maxrss / 1024.0; /* KiB on Linux */
}

/* dir/name into buf. */
static const char *in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmp, name);
    return buf;
}

static int copy_fixture(const char *to)
{
    FILE *a = fopen(FIXTURE, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[65536];
    size_t got;
    while (ok && (got = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, got, b) == got;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* A fresh copy of the fixture as tmp/name, open for writing (< 0 on failure). */
static hid_t fresh_model(const char *name, char *path, size_t len)
{
    in_tmp(path, len, name);
    if (copy_fixture(path) != 0)
        return -1;
    return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
}

/* Replace dataset `name` by a float32 one of shape dims made with dcpl;
 * values written when given. */
static int replace_dataset(hid_t file, const char *name, int rank, const hsize_t *dims, hid_t dcpl,
                           const float *values)
{
    if (H5Ldelete(file, name, H5P_DEFAULT) < 0)
        return -1;
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = ds < 0 ? -1 : 0;
    if (ds >= 0 && values && H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0)
        rc = -1;
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    return rc;
}

/* Load path (keras_config and max_memory as given); the status, with the
 * message in err and the seconds it took in *secs. */
static cv_status load(const char *path, const char *config, size_t max_memory, cv_error *err, double *secs)
{
    cv_load_options opt = {.keras_config = config, .max_memory = max_memory};
    cv_model *m = NULL;
    double t0 = now_s();
    cv_status st = cv_model_load(&m, path, &opt, err);
    *secs = now_s() - t0;
    if (st != CV_OK)
        CHECK(m == NULL, "a model came back with a failure");
    cv_model_free(m);
    return st;
}

/* Expect a refusal with status want whose one-line message holds every
 * part (NULL-terminated), within max_secs. */
static void expect_refused(const char *label, const char *path, const char *config, size_t max_memory,
                           cv_status want, double max_secs, const char *const *parts)
{
    cv_error err = {0};
    double secs;
    cv_status st = load(path, config, max_memory, &err, &secs);
    printf("    %s -> %s in %.3f s: %s\n", label, cv_status_string(st), secs, st == CV_OK ? "(loaded)" : err.msg);
    CHECK(st == want, "%s: %s, expected %s", label, cv_status_string(st), cv_status_string(want));
    CHECK(secs < max_secs, "%s took %.2f s (at most %.1f expected)", label, secs, max_secs);
    if (st == CV_OK)
        return;
    CHECK(strchr(err.msg, '\n') == NULL, "%s: message has several lines", label);
    for (int k = 0; parts[k]; k++)
        CHECK(strstr(err.msg, parts[k]) != NULL, "%s: message lacks '%s'", label, parts[k]);
}

/* ---- data from other files ----------------------------------------------------------- */

/* Raw data in another file: a secret the old loader read as weights, and
 * a FIFO, whose open would have blocked for ever. */
static void test_external_storage(void)
{
    char model[512], secret[512], fifo[512];
    in_tmp(secret, sizeof secret, "secret.bin");
    FILE *f = fopen(secret, "wb");
    REQUIRE(f, "cannot write %s", secret);
    float pattern[KERNEL_ELEMS];
    for (int k = 0; k < KERNEL_ELEMS; k++)
        pattern[k] = 1234.5f;
    fwrite(pattern, sizeof pattern, 1, f);
    fclose(f);
    in_tmp(fifo, sizeof fifo, "pipe");
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    const char *targets[] = {secret, fifo, "/etc/passwd"};
    alarm(60); /* a loader that opens the FIFO hangs: fail instead */
    for (int t = 0; t < 3; t++) {
        hid_t file = fresh_model("external_storage.h5", model, sizeof model);
        REQUIRE(file >= 0, "cannot copy the fixture");
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_external(dcpl, targets[t], 0, sizeof pattern);
        hsize_t dims[4] = {3, 3, 3, 4};
        int rc = replace_dataset(file, KERNEL, 4, dims, dcpl, NULL);
        H5Pclose(dcpl);
        H5Fclose(file);
        REQUIRE(rc == 0, "cannot make the external-storage dataset");
        static const char *const parts[] = {"external_storage.h5", "dataset '" KERNEL "'", "external storage",
                                            "reads only the model file", NULL};
        char label[600];
        snprintf(label, sizeof label, "external storage in %s", targets[t]);
        expect_refused(label, model, NULL, 0, CV_ERR_FORMAT, 5, parts);
    }
    alarm(0);
    unlink(fifo);
}

/* A virtual dataset whose source is a dataset of another HDF5 file. */
static void test_virtual_dataset(void)
{
    char model[512], source[512];
    in_tmp(source, sizeof source, "source.h5");
    hsize_t dims[4] = {3, 3, 3, 4};
    hid_t src = H5Fcreate(source, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(src >= 0, "cannot create %s", source);
    float values[KERNEL_ELEMS];
    for (int k = 0; k < KERNEL_ELEMS; k++)
        values[k] = 77.0f;
    hid_t space = H5Screate_simple(4, dims, NULL);
    hid_t sds = H5Dcreate2(src, "stolen", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(sds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(sds);
    H5Fclose(src);

    hid_t file = fresh_model("virtual.h5", model, sizeof model);
    REQUIRE(file >= 0, "cannot copy the fixture");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t vs = H5Pset_virtual(dcpl, space, source, "/stolen", space);
    int rc = vs < 0 ? -1 : replace_dataset(file, KERNEL, 4, dims, dcpl, NULL);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
    REQUIRE(rc == 0, "cannot make the virtual dataset");
    static const char *const parts[] = {"virtual.h5", "dataset '" KERNEL "'", "virtual dataset", "other files", NULL};
    expect_refused("virtual dataset", model, NULL, 0, CV_ERR_FORMAT, 5, parts);
}

/* External links in place of the weights group, a layer group, a
 * dataset: each led into another HDF5 file (here a copy of the fixture,
 * so the old loader succeeded). */
static void test_external_links(void)
{
    char model[512], other[512];
    in_tmp(other, sizeof other, "other.h5");
    REQUIRE(copy_fixture(other) == 0, "cannot copy the fixture");
    static const char *const where[] = {"model_weights", "model_weights/conv_a", KERNEL};
    for (int k = 0; k < 3; k++) {
        hid_t file = fresh_model("external_link.h5", model, sizeof model);
        REQUIRE(file >= 0, "cannot copy the fixture");
        char target[300];
        snprintf(target, sizeof target, "/%s", where[k]);
        int rc = H5Ldelete(file, where[k], H5P_DEFAULT) < 0 ||
                 H5Lcreate_external(other, target, file, where[k], H5P_DEFAULT, H5P_DEFAULT) < 0;
        H5Fclose(file);
        REQUIRE(rc == 0, "cannot make the external link %s", where[k]);
        char quoted[320];
        snprintf(quoted, sizeof quoted, "'%s'", where[k]);
        const char *const parts[] = {"external_link.h5", quoted, "external link", "another file", NULL};
        char label[400];
        snprintf(label, sizeof label, "external link at %s", where[k]);
        expect_refused(label, model, NULL, 0, CV_ERR_FORMAT, 5, parts);
    }
}

/* A soft link, even one inside the file, is not followed: it could point
 * around the per-link checks. */
static void test_soft_link(void)
{
    char model[512];
    hid_t file = fresh_model("soft_link.h5", model, sizeof model);
    REQUIRE(file >= 0, "cannot copy the fixture");
    int rc = H5Lmove(file, KERNEL, file, "model_weights/conv_a/conv_a/moved", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
             H5Lcreate_soft("/model_weights/conv_a/conv_a/moved", file, KERNEL, H5P_DEFAULT, H5P_DEFAULT) < 0;
    H5Fclose(file);
    REQUIRE(rc == 0, "cannot make the soft link");
    static const char *const parts[] = {"soft_link.h5", "'" KERNEL "'", "soft link", NULL};
    expect_refused("soft link to a weight", model, NULL, 0, CV_ERR_FORMAT, 5, parts);
}

/* A filter libhdf5 does not have would be searched for as a plugin (a
 * shared library from HDF5_PLUGIN_PATH) when the data is read. */
static void test_plugin_filter(void)
{
    char model[512];
    hid_t file = fresh_model("plugin_filter.h5", model, sizeof model);
    REQUIRE(file >= 0, "cannot copy the fixture");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t dims[4] = {3, 3, 3, 4}, chunk[4] = {3, 3, 3, 4};
    H5Pset_chunk(dcpl, 4, chunk);
    H5Pset_filter(dcpl, 32123, H5Z_FLAG_OPTIONAL, 0, NULL); /* optional: written unfiltered */
    float values[KERNEL_ELEMS] = {0};
    int rc = replace_dataset(file, KERNEL, 4, dims, dcpl, values);
    H5Pclose(dcpl);
    H5Fclose(file);
    REQUIRE(rc == 0, "cannot make the dataset with filter 32123");
    static const char *const parts[] = {"plugin_filter.h5", "dataset '" KERNEL "'", "filter 32123", "plugin", NULL};
    expect_refused("unknown filter 32123", model, NULL, 0, CV_ERR_FORMAT, 5, parts);
}

/* ---- memory bombs ----------------------------------------------------------------- */

/* A dataset declared rows x cols and never written: a few KB of file. */
static int make_bomb(const char *name, char *model, size_t len, hsize_t rows, hsize_t cols, bool chunked)
{
    hid_t file = fresh_model(name, model, len);
    if (file < 0)
        return -1;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t dims[2] = {rows, cols}, chunk[2] = {256, 256};
    if (chunked)
        H5Pset_chunk(dcpl, 2, chunk);
    int rc = replace_dataset(file, KERNEL, 2, dims, dcpl, NULL);
    H5Pclose(dcpl);
    H5Fclose(file);
    struct stat sb;
    if (rc == 0 && stat(model, &sb) == 0)
        printf("    %s: %llu x %llu float32 declared (%.1f GiB), file %lld bytes\n", name, (unsigned long long)rows,
               (unsigned long long)cols, (double)(rows * cols * 4) / (1 << 30), (long long)sb.st_size);
    return rc;
}

/* Declared gigabytes, written nothing: refused before allocating, with
 * the default budget (the memory available) and with a small one. Runs
 * first, so the process's peak RSS says whether anything was allocated. */
static void test_fill_value_bombs(void)
{
    char model[512];
    static const char *const cap_parts[] = {"chunk_bomb.h5", KERNEL, "limit", NULL};
    REQUIRE(make_bomb("chunk_bomb.h5", model, sizeof model, 65536, 65536, true) == 0, "cannot make the bomb");
    expect_refused("16 GiB chunked, default budget", model, NULL, 0, CV_ERR_LIMIT, 2, cap_parts);
    expect_refused("16 GiB chunked, 16 MiB budget", model, NULL, (size_t)16 << 20, CV_ERR_LIMIT, 2, cap_parts);

    static const char *const fill_parts[] = {"fill_bomb.h5", KERNEL, "stores only 0 bytes", "fill values", NULL};
    REQUIRE(make_bomb("fill_bomb.h5", model, sizeof model, 16384, 32768, true) == 0, "cannot make the bomb");
    expect_refused("2 GiB chunked, default budget", model, NULL, 0, CV_ERR_LIMIT, 2, fill_parts);
    REQUIRE(make_bomb("fill_bomb.h5", model, sizeof model, 16384, 32768, false) == 0, "cannot make the bomb");
    expect_refused("2 GiB contiguous, default budget", model, NULL, 0, CV_ERR_LIMIT, 2, fill_parts);

    static const char *const budget_parts[] = {"budget_bomb.h5", KERNEL, "16 MiB", NULL};
    REQUIRE(make_bomb("budget_bomb.h5", model, sizeof model, 4096, 4096, true) == 0, "cannot make the bomb");
    expect_refused("64 MiB chunked, 16 MiB budget", model, NULL, (size_t)16 << 20, CV_ERR_LIMIT, 2, budget_parts);
    double rss = peak_rss_mib();
    printf("    peak RSS after the bombs: %.0f MiB\n", rss);
    CHECK(rss < 1024, "peak RSS %.0f MiB: a bomb was allocated", rss);
}

static int write_string_attr(hid_t obj, const char *name, const char *text);

/* A string attribute of obj as a new C string (NULL when unreadable). */
static char *read_string_attr(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : -1;
    char *out = NULL;
    if (type >= 0 && H5Tis_variable_str(type) > 0) {
        char *p = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, &p) >= 0 && p) {
            out = strdup(p);
            H5free_memory(p);
        }
        H5Tclose(mt);
    } else if (type >= 0 && (out = calloc(H5Tget_size(type) + 1, 1)) && H5Aread(a, type, out) < 0) {
        free(out);
        out = NULL;
    }
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    return out;
}

/* The fixture's model_config with a `"labels": [0,0,...]` member of
 * about `bytes` bytes put first: 2 bytes of text per cJSON node. */
static char *config_with_labels(size_t bytes)
{
    hid_t src = H5Fopen(FIXTURE, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *orig = src >= 0 ? read_string_attr(src, "model_config") : NULL;
    if (src >= 0)
        H5Fclose(src);
    char *brace = orig ? strchr(orig, '{') : NULL;
    char *out = brace ? malloc(bytes + strlen(orig) + 64) : NULL;
    if (out) {
        size_t at = (size_t)(brace - orig) + 1, pos = at;
        memcpy(out, orig, at);
        pos += (size_t)sprintf(out + pos, "\"labels\": [0");
        while (pos < bytes)
            out[pos++] = ',', out[pos++] = '0';
        pos += (size_t)sprintf(out + pos, "], ");
        strcpy(out + pos, brace + 1);
    }
    free(orig);
    return out;
}

/* The fixture rebuilt as tmp/name in the HDF5 1.8 format, which stores
 * attributes over 64 KiB (the fixture's 1.6 format cannot): its weights
 * group copied, model_config as given. Open for writing, < 0 on failure. */
static hid_t model_with_big_attrs(const char *name, char *path, size_t len, const char *model_config)
{
    in_tmp(path, len, name);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t dst = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    hid_t src = H5Fopen(FIXTURE, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *own = src >= 0 && !model_config ? read_string_attr(src, "model_config") : NULL;
    int rc = dst < 0 || src < 0 || H5Ocopy(src, "model_weights", dst, "model_weights", H5P_DEFAULT, H5P_DEFAULT) < 0 ||
             !(model_config || own) || write_string_attr(dst, "model_config", model_config ? model_config : own) != 0;
    free(own);
    if (src >= 0)
        H5Fclose(src);
    if (rc && dst >= 0) {
        H5Fclose(dst);
        dst = -1;
    }
    return dst;
}

/* A string attribute `name` on obj holding text (fixed-length). */
static int write_string_attr(hid_t obj, const char *name, const char *text)
{
    if (H5Aexists(obj, name) > 0)
        H5Adelete(obj, name);
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
    H5Tset_size(type, strlen(text) + 1);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, text) < 0 ? -1 : 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

/* 10 MB of metadata under a 16 MiB budget: a model_config whose parse
 * took ~400 MB (a cJSON node per "0,") is refused before parsing; an
 * oversized keras_version is dropped; a 1000-name weight list is refused
 * before libhdf5 reads it. */
static void test_metadata_bombs(void)
{
    char model[512];
    char *text = config_with_labels((size_t)10 << 20);
    REQUIRE(text, "cannot read the fixture's model_config");
    hid_t file = model_with_big_attrs("labels.h5", model, sizeof model, text);
    free(text);
    REQUIRE(file >= 0, "cannot write the 10 MB model_config");
    H5Fclose(file);
    static const char *const parts[] = {"labels.h5", "model_config", "16 MiB", NULL};
    double before = peak_rss_mib();
    expect_refused("10 MB model_config, 16 MiB budget", model, NULL, (size_t)16 << 20, CV_ERR_LIMIT, 5, parts);
    double after = peak_rss_mib();
    printf("    peak RSS %.0f -> %.0f MiB\n", before, after);
    CHECK(after - before < 100, "peak RSS grew by %.0f MiB", after - before);

    /* 4 MB: the text fits the budget, its parse (~2 million nodes) does not */
    text = config_with_labels((size_t)4 << 20);
    REQUIRE(text, "cannot read the fixture's model_config");
    file = model_with_big_attrs("labels4.h5", model, sizeof model, text);
    free(text);
    REQUIRE(file >= 0, "cannot write the 4 MB model_config");
    H5Fclose(file);
    static const char *const parse_parts[] = {"labels4.h5", "parsing model_config", "16 MiB", NULL};
    before = peak_rss_mib();
    expect_refused("4 MB model_config, 16 MiB budget", model, NULL, (size_t)16 << 20, CV_ERR_LIMIT, 5, parse_parts);
    after = peak_rss_mib();
    printf("    peak RSS %.0f -> %.0f MiB\n", before, after);
    CHECK(after - before < 100, "peak RSS grew by %.0f MiB", after - before);

    file = model_with_big_attrs("version.h5", model, sizeof model, NULL);
    REQUIRE(file >= 0, "cannot rebuild the fixture");
    char *big = malloc((size_t)10 << 20);
    REQUIRE(big, "out of memory");
    memset(big, 'v', ((size_t)10 << 20) - 1);
    big[((size_t)10 << 20) - 1] = '\0';
    int rc = write_string_attr(file, "keras_version", big);
    free(big);
    H5Fclose(file);
    REQUIRE(rc == 0, "cannot write keras_version");
    cv_load_options opt = {.max_memory = (size_t)16 << 20};
    cv_model *m = NULL;
    cv_error err = {0};
    cv_status st = cv_model_load(&m, model, &opt, &err);
    const char *v = m ? cv_model_meta(m, "keras_version") : NULL;
    printf("    10 MB keras_version -> %s, kept %zu bytes of it\n", cv_status_string(st), v ? strlen(v) : 0);
    CHECK(st == CV_OK, "%s", err.msg);
    CHECK(!v || strlen(v) <= 4096, "keras_version of %zu bytes kept", strlen(v));
    cv_model_free(m);
}

/* 1000 weight names on a layer: refused from the entry count, before
 * libhdf5 allocates one string per name. */
static void test_long_weight_list(void)
{
    char model[512];
    hid_t file = fresh_model("names.h5", model, sizeof model);
    REQUIRE(file >= 0, "cannot copy the fixture");
    hid_t g = H5Gopen2(file, "model_weights/conv_a", H5P_DEFAULT);
    H5Adelete(g, "weight_names");
    hsize_t n = 1000;
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate_simple(1, &n, NULL);
    H5Tset_size(type, 16);
    char *names = calloc(1000, 16);
    for (int k = 0; k < 1000; k++)
        snprintf(names + 16 * k, 16, "conv_a/w%d:0", k);
    hid_t a = H5Acreate2(g, "weight_names", type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, names) < 0;
    free(names);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
    H5Gclose(g);
    H5Fclose(file);
    REQUIRE(rc == 0, "cannot write weight_names");
    static const char *const parts[] = {"names.h5", "weight_names", "1000 entries", "at most 64", NULL};
    expect_refused("1000 weight names", model, NULL, 0, CV_ERR_LIMIT, 5, parts);
}

/* ---- the architecture file ------------------------------------------------------------- */

/* keras_config naming a FIFO must not block; a directory says so. */
static void test_config_not_regular(void)
{
    char fifo[512], dir[512];
    in_tmp(fifo, sizeof fifo, "config.fifo");
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    in_tmp(dir, sizeof dir, "config.dir");
    REQUIRE(mkdir(dir, 0700) == 0, "mkdir: %s", strerror(errno));
    alarm(60);
    static const char *const fifo_parts[] = {FIXTURE, "config.fifo", "FIFO", NULL};
    expect_refused("keras_config is a FIFO", FIXTURE, fifo, 0, CV_ERR_IO, 5, fifo_parts);
    static const char *const dir_parts[] = {FIXTURE, "config.dir", "directory", NULL};
    expect_refused("keras_config is a directory", FIXTURE, dir, 0, CV_ERR_IO, 5, dir_parts);
    alarm(0);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!test_make_tmpdir(tmp, sizeof tmp, "hostile-keras")) {
        fprintf(stderr, "cannot make a directory under /tmp\n");
        return 1;
    }
    RUN(test_fill_value_bombs); /* first: its peak RSS check needs a fresh process */
    RUN(test_external_storage);
    RUN(test_virtual_dataset);
    RUN(test_external_links);
    RUN(test_soft_link);
    RUN(test_plugin_filter);
    RUN(test_metadata_bombs);
    RUN(test_long_weight_list);
    RUN(test_config_not_regular);
    test_remove_dir(tmp);
    return test_summary("hostile_keras");
}
