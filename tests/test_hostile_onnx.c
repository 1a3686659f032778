/* Hostile ONNX files, round two: each file is made here, at test time, in
 * a private folder under /tmp, by protobuf-c's packing API or as raw wire
 * bytes where protobuf-c could not write it (packing 3000 nested graphs
 * recurses as deep as unpacking them).
 *
 * - external data that leaves the model's folder through a symbolic link
 *   (a folder link etc -> outside, a file link), and through a link in a
 *   tensor .pb file's folder;
 * - non-regular files: a FIFO or a directory as the model, as external
 *   data, as a tensor file;
 * - subgraphs (If in If in If ...) and types (sequence of sequence ...)
 *   nested 3000 deep, which overflowed protobuf-c's recursive unpack, and
 *   files at the nesting limit, which must still get their normal answer;
 * - metadata that unpacks to many times its size, and strings the model
 *   keeps, counted against cv_load_options.max_memory.
 *
 * Loads that could crash or block run in a child process with an alarm,
 * so a regression shows as a failed check naming the signal instead of
 * killing or hanging the suite. */
#include "../src/core/loaders.h"
#include "../src/io/onnx_wire.h"
#include "lib/test.h"
#include "onnx.pb-c.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool has(const char *msg, const char *part) { return strstr(msg, part) != NULL; }

/* Valgrind's own memory hides the loader's, and its stack is not ours. */
static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* ---- files ------------------------------------------------------------------ */

static bool write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static bool write_message(const char *path, const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return false;
    protobuf_c_message_pack(msg, buf);
    bool ok = write_file(path, buf, len);
    free(buf);
    return ok;
}

/* The scratch folder and the folders made in it (one level deep). */
static void remove_tree(const char *dir, const char *const *subdirs)
{
    char p[512];
    for (int k = 0; subdirs && subdirs[k]; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, subdirs[k]);
        test_remove_dir(p);
    }
    test_remove_dir(dir);
}

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* ---- a small valid model, through protobuf-c ----------------------------------- */

static const float kWeights[4] = {1.5f, -2.0f, 0.25f, 8.0f};

/* x -> Relu -> y, with one initializer "w" (float32 [4]) whose data lies in
 * the external file `location`, or inline when location is NULL; extra
 * metadata and an extra initializer are optional. */
typedef struct {
    const char *location;
    const char *meta_value;         /* one metadata_props entry "note" = this, or none */
    const Onnx__TensorProto *extra; /* another initializer, or none */
} model_spec;

static bool write_model(const char *path, const model_spec *spec)
{
    Onnx__TensorProto__DataType f32 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = 1;
    tt.elem_type = f32;
    Onnx__TypeProto tp = ONNX__TYPE_PROTO__INIT;
    tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp.tensor_type = &tt;
    Onnx__ValueInfoProto x = ONNX__VALUE_INFO_PROTO__INIT, y = ONNX__VALUE_INFO_PROTO__INIT;
    x.name = "x";
    x.type = &tp;
    y.name = "y";
    y.type = &tp;
    char *node_in[] = {"x"}, *node_out[] = {"y"};
    Onnx__NodeProto relu = ONNX__NODE_PROTO__INIT;
    relu.op_type = "Relu";
    relu.name = "relu";
    relu.n_input = 1;
    relu.input = node_in;
    relu.n_output = 1;
    relu.output = node_out;

    int64_t dims[1] = {4};
    Onnx__TensorProto w = ONNX__TENSOR_PROTO__INIT;
    w.name = "w";
    w.has_data_type = 1;
    w.data_type = f32;
    w.n_dims = 1;
    w.dims = dims;
    Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *locs[1] = {&loc};
    if (spec->location) {
        loc.key = "location";
        loc.value = (char *)spec->location;
        w.has_data_location = 1;
        w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        w.n_external_data = 1;
        w.external_data = locs;
    } else {
        w.has_raw_data = 1;
        w.raw_data.len = sizeof kWeights;
        w.raw_data.data = (uint8_t *)kWeights;
    }
    Onnx__TensorProto *inits[2] = {&w, (Onnx__TensorProto *)spec->extra};

    Onnx__ValueInfoProto *ins[1] = {&x}, *outs[1] = {&y};
    Onnx__NodeProto *nodes[1] = {&relu};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = "g";
    g.n_node = 1;
    g.node = nodes;
    g.n_input = 1;
    g.input = ins;
    g.n_output = 1;
    g.output = outs;
    g.n_initializer = spec->extra ? 2 : 1;
    g.initializer = inits;

    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = {&opset};
    opset.has_version = 1;
    opset.version = 13;
    Onnx__StringStringEntryProto note = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *notes[1] = {&note};
    note.key = "note";
    note.value = (char *)spec->meta_value;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1;
    m.opset_import = opsets;
    m.graph = &g;
    if (spec->meta_value) {
        m.n_metadata_props = 1;
        m.metadata_props = notes;
    }
    return write_message(path, &m.base);
}

/* A TensorProto file (the ONNX test-data format) whose data is external. */
static bool write_tensor_file(const char *path, const char *location)
{
    int64_t dims[1] = {4};
    Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *locs[1] = {&loc};
    loc.key = "location";
    loc.value = (char *)location;
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.name = "input_0";
    t.has_data_type = 1;
    t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t.n_dims = 1;
    t.dims = dims;
    t.has_data_location = 1;
    t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t.n_external_data = 1;
    t.external_data = locs;
    return write_message(path, &t.base);
}

/* ---- raw wire bytes, written back to front -------------------------------------- */

/* Nested messages are easiest to write innermost first: each wrap only
 * prepends a tag and the length of everything after it. */
typedef struct {
    uint8_t *buf;
    size_t cap, pos; /* the bytes are buf[pos..cap) */
} rev_buf;

static bool rev_init(rev_buf *r, size_t cap)
{
    r->buf = malloc(cap);
    r->cap = r->pos = cap;
    return r->buf != NULL;
}

static size_t rev_len(const rev_buf *r) { return r->cap - r->pos; }

static void rev_bytes(rev_buf *r, const void *p, size_t n)
{
    if (n > r->pos)
        abort(); /* the test sized the buffer wrong */
    r->pos -= n;
    memcpy(r->buf + r->pos, p, n);
}

static void rev_varint(rev_buf *r, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    rev_bytes(r, b, n);
}

/* Make the last `content` bytes field `field` of the enclosing message. */
static void rev_wrap(rev_buf *r, int field, size_t content)
{
    rev_varint(r, content);
    rev_varint(r, (uint64_t)field << 3 | 2);
}

static void rev_string(rev_buf *r, int field, const char *s)
{
    rev_bytes(r, s, strlen(s));
    rev_wrap(r, field, strlen(s));
}

static void rev_int(rev_buf *r, int field, uint64_t v)
{
    rev_varint(r, v);
    rev_varint(r, (uint64_t)field << 3);
}

/* ModelProto fields around a GraphProto that is the last `graph` bytes:
 * graph (7), opset_import (8) {version (2) 13}, ir_version (1) 8. */
static void rev_model(rev_buf *r, size_t graph)
{
    rev_wrap(r, 7, graph);
    size_t before = rev_len(r);
    rev_int(r, 2, 13);
    rev_wrap(r, 8, rev_len(r) - before);
    rev_int(r, 1, 8);
}

/* Prepend a graph input ValueInfoProto {name "x"} (GraphProto.input, 11),
 * of the TypeProto that is the last type_bytes bytes (0: no type). */
static void rev_input_x(rev_buf *r, size_t type_bytes)
{
    size_t before = rev_len(r) - type_bytes;
    if (type_bytes)
        rev_wrap(r, 2, type_bytes); /* ValueInfoProto.type */
    rev_string(r, 1, "x");
    rev_wrap(r, 11, rev_len(r) - before);
}

/* In the two writers below each message extends to the buffer's end, so
 * its length is rev_len() once its fields are written. */

/* A model whose top graph holds an If node whose then_branch holds an If
 * node ... `graphs` GraphProto levels in all (the top one is 1). The top
 * graph has an input "x", so that the loader reaches its nodes. */
static bool nested_graph_model(const char *path, int graphs, size_t *size)
{
    rev_buf r;
    if (!rev_init(&r, 64 + 40 * (size_t)graphs))
        return false;
    for (int level = 2; level <= graphs; level++) {
        rev_wrap(&r, 6, rev_len(&r)); /* AttributeProto.g: the graph so far */
        rev_int(&r, 20, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
        rev_string(&r, 1, "then_branch");
        rev_wrap(&r, 5, rev_len(&r)); /* NodeProto.attribute */
        rev_string(&r, 4, "If");      /* NodeProto.op_type */
        rev_wrap(&r, 1, rev_len(&r)); /* GraphProto.node */
    }
    rev_input_x(&r, 0);
    rev_model(&r, rev_len(&r));
    *size = rev_len(&r);
    bool ok = write_file(path, r.buf + r.pos, *size);
    free(r.buf);
    return ok;
}

/* A model whose input "x" is a sequence of sequences ... of float tensors:
 * `types` TypeProto levels in all. */
static bool nested_type_model(const char *path, int types, size_t *size)
{
    rev_buf r;
    if (!rev_init(&r, 64 + 8 * (size_t)types))
        return false;
    rev_int(&r, 1, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT); /* Tensor.elem_type */
    rev_wrap(&r, 1, rev_len(&r));                        /* TypeProto.tensor_type */
    for (int level = 2; level <= types; level++) {
        rev_wrap(&r, 1, rev_len(&r)); /* Sequence.elem_type */
        rev_wrap(&r, 4, rev_len(&r)); /* TypeProto.sequence_type */
    }
    rev_input_x(&r, rev_len(&r));
    rev_model(&r, rev_len(&r));
    *size = rev_len(&r);
    bool ok = write_file(path, r.buf + r.pos, *size);
    free(r.buf);
    return ok;
}

/* ---- loads in a child process ---------------------------------------------------- */

typedef enum { LOAD_MODEL, LOAD_ONNX, INSPECT, READ_TENSOR } load_kind;

typedef struct {
    load_kind how;
    const char *path;
    size_t max_memory;  /* 0: the default */
    size_t stack_limit; /* 0: leave the stack limit alone */
} load_job;

typedef struct {
    cv_status st;
    char msg[2048];
    int signal;       /* what ended the child: 0 when it returned, -1 when it could not run */
    long peak_rss_kb; /* the child's peak resident memory */
} child_result;

static cv_status do_load(const load_job *j, cv_error *err)
{
    cv_load_options opt = {0};
    opt.max_memory = j->max_memory;
    cv_model *m = NULL;
    cv_status st;
    if (j->how == LOAD_MODEL) {
        st = cv_model_load(&m, j->path, &opt, err);
    } else if (j->how == LOAD_ONNX) {
        st = cv_load_onnx(&m, j->path, &opt, err);
    } else if (j->how == INSPECT) {
        cv_onnx_info info;
        if ((st = cv_onnx_inspect(j->path, &info, err)) == CV_OK)
            cv_onnx_info_free(&info);
    } else {
        cv_dtype dt;
        cv_shape sh;
        void *data = NULL;
        st = cv_onnx_read_tensor(j->path, &dt, &sh, &data, err);
        free(data);
    }
    cv_model_free(m);
    return st;
}

/* Run the job in a child that an alarm ends after `seconds`, so that a
 * crash or a blocking open is a failed check, not a dead or hung suite. */
static child_result run_child(const load_job *j, unsigned seconds)
{
    child_result res;
    memset(&res, 0, sizeof res);
    res.st = CV_ERR_IO;
    res.signal = -1;
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(res.msg, sizeof res.msg, "pipe: %s", strerror(errno));
        return res;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(seconds);
        if (j->stack_limit) {
            struct rlimit rl = {j->stack_limit, j->stack_limit};
            setrlimit(RLIMIT_STACK, &rl);
        }
        cv_error err = {0};
        res.st = do_load(j, &err);
        res.signal = 0;
        snprintf(res.msg, sizeof res.msg, "%s", res.st == CV_OK ? "" : err.msg);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        res.peak_rss_kb = ru.ru_maxrss;
        _exit(write(fds[1], &res, sizeof res) == (ssize_t)sizeof res ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    for (ssize_t n = 1; pid > 0 && got < sizeof res && n > 0; got += n > 0 ? (size_t)n : 0)
        n = read(fds[0], (char *)&res + got, sizeof res - got);
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        res.signal = -1;
        snprintf(res.msg, sizeof res.msg, "fork or wait failed");
    } else if (WIFSIGNALED(status)) {
        res.signal = WTERMSIG(status);
        snprintf(res.msg, sizeof res.msg, "the child died of signal %d (%s)%s", res.signal,
                 strsignal(res.signal), res.signal == SIGALRM ? ": it blocked or ran too long" : "");
    } else if (got != sizeof res) {
        res.signal = -1;
        snprintf(res.msg, sizeof res.msg, "the child sent no result (exit %d)", WEXITSTATUS(status));
    }
    return res;
}

/* The job returns (no crash, no hang) with status `want` and each of parts
 * in its message. */
static child_result expect_status(const load_job *j, cv_status want, const char *const *parts)
{
    child_result r = run_child(j, 60);
    printf("    %s -> %s: %s\n", j->path, cv_status_string(r.st), r.msg);
    CHECK(r.signal == 0, "%s: %s", j->path, r.msg);
    CHECK(r.st == want, "%s: status %s, want %s (%s)", j->path, cv_status_string(r.st), cv_status_string(want),
          r.msg);
    for (int k = 0; r.signal == 0 && parts && parts[k]; k++)
        CHECK(has(r.msg, parts[k]), "%s: message lacks '%s'", j->path, parts[k]);
    return r;
}

/* ---- 1. external data must stay inside the model's folder ------------------------- */

/* A folder `outside` with a 16-byte secret.bin, and a model folder `dir`
 * beside it. */
typedef struct {
    char root[128], dir[256], outside[256], secret[320];
} two_folders;

static bool make_two_folders(two_folders *t, const char *tag)
{
    if (!test_make_tmpdir(t->root, sizeof t->root, tag))
        return false;
    path_in(t->dir, sizeof t->dir, t->root, "model");
    path_in(t->outside, sizeof t->outside, t->root, "outside");
    path_in(t->secret, sizeof t->secret, t->outside, "secret.bin");
    return mkdir(t->dir, 0700) == 0 && mkdir(t->outside, 0700) == 0 &&
           write_file(t->secret, kWeights, sizeof kWeights);
}

static void remove_two_folders(const two_folders *t, const char *const *model_subdirs)
{
    remove_tree(t->dir, model_subdirs);
    test_remove_dir(t->outside);
    test_remove_dir(t->root);
}

static void test_external_through_folder_link(void)
{
    two_folders t;
    REQUIRE(make_two_folders(&t, "extlink"), "cannot make the folders");
    char link[320], model[320];
    path_in(link, sizeof link, t.dir, "etc");
    path_in(model, sizeof model, t.dir, "model.onnx");
    /* etc -> ../outside, as etc -> /etc would be: the loader read
     * etc/secret.bin before (the lexical check saw no ".." and no '/'). */
    REQUIRE(symlink(t.outside, link) == 0, "symlink: %s", strerror(errno));
    REQUIRE(write_model(model, &(model_spec){.location = "etc/secret.bin"}), "cannot write %s", model);
    load_job j = {LOAD_MODEL, model, 0, 0};
    const char *parts[] = {"initializer 'w'", "'etc/secret.bin'", "symbolic link 'etc'", NULL};
    expect_status(&j, CV_ERR_INVALID, parts);
    remove_two_folders(&t, NULL);
}

static void test_external_file_link(void)
{
    two_folders t;
    REQUIRE(make_two_folders(&t, "extfile"), "cannot make the folders");
    char link[320], model[320];
    path_in(link, sizeof link, t.dir, "w.bin");
    path_in(model, sizeof model, t.dir, "model.onnx");
    REQUIRE(symlink(t.secret, link) == 0, "symlink: %s", strerror(errno));
    REQUIRE(write_model(model, &(model_spec){.location = "./w.bin"}), "cannot write %s", model);
    load_job j = {LOAD_MODEL, model, 0, 0};
    const char *parts[] = {"initializer 'w'", "'./w.bin'", "symbolic link 'w.bin'", NULL};
    expect_status(&j, CV_ERR_INVALID, parts);
    remove_two_folders(&t, NULL);
}

/* Plain files in plain subfolders still load, with the bytes they hold;
 * "./" and "//" in the location are harmless. */
static void test_external_plain_subfolder_loads(void)
{
    two_folders t;
    REQUIRE(make_two_folders(&t, "extok"), "cannot make the folders");
    char sub[320], bin[400], model[320];
    path_in(sub, sizeof sub, t.dir, "weights");
    path_in(bin, sizeof bin, sub, "w.bin");
    path_in(model, sizeof model, t.dir, "model.onnx");
    REQUIRE(mkdir(sub, 0700) == 0 && write_file(bin, kWeights, sizeof kWeights), "cannot write %s", bin);
    const char *locations[] = {"weights/w.bin", "./weights//w.bin"};
    for (int k = 0; k < 2; k++) {
        REQUIRE(write_model(model, &(model_spec){.location = locations[k]}), "cannot write %s", model);
        cv_model *m = NULL;
        cv_error err;
        cv_status st = cv_model_load(&m, model, NULL, &err);
        CHECK(st == CV_OK, "location '%s': %s", locations[k], err.msg);
        int v = m ? cv_model_find_value(m, "w") : -1;
        const float *w = v >= 0 ? m->values[v].data : NULL;
        CHECK(w && memcmp(w, kWeights, sizeof kWeights) == 0, "location '%s': w = %g %g %g %g", locations[k],
              w ? w[0] : 0, w ? w[1] : 0, w ? w[2] : 0, w ? w[3] : 0);
        printf("    location '%s': loaded, w[3] = %g\n", locations[k], w ? w[3] : 0);
        cv_model_free(m);
    }
    const char *subs[] = {"weights", NULL};
    remove_two_folders(&t, subs);
}

/* A tensor .pb file's external data is relative to its folder, and held to
 * the same rule. */
static void test_read_tensor_external_link(void)
{
    two_folders t;
    REQUIRE(make_two_folders(&t, "pblink"), "cannot make the folders");
    char link[320], pb[320], bin[320];
    path_in(link, sizeof link, t.dir, "data");
    path_in(pb, sizeof pb, t.dir, "input_0.pb");
    REQUIRE(symlink(t.outside, link) == 0, "symlink: %s", strerror(errno));
    REQUIRE(write_tensor_file(pb, "data/secret.bin"), "cannot write %s", pb);
    load_job j = {READ_TENSOR, pb, 0, 0};
    const char *parts[] = {"tensor 'input_0'", "'data/secret.bin'", "symbolic link 'data'", NULL};
    expect_status(&j, CV_ERR_INVALID, parts);
    /* the same tensor with its data in a plain file beside it reads */
    path_in(bin, sizeof bin, t.dir, "plain.bin");
    REQUIRE(write_file(bin, kWeights, sizeof kWeights) && write_tensor_file(pb, "plain.bin"), "cannot write");
    cv_dtype dt;
    cv_shape sh;
    void *data = NULL;
    cv_error err;
    CHECK(cv_onnx_read_tensor(pb, &dt, &sh, &data, &err) == CV_OK, "%s", err.msg);
    CHECK(data && sh.ndim == 1 && sh.d[0] == 4 && memcmp(data, kWeights, sizeof kWeights) == 0,
          "plain.bin read back as ndim %d", sh.ndim);
    free(data);
    remove_two_folders(&t, NULL);
}

/* ---- 3. non-regular files --------------------------------------------------------- */

static void test_fifo_and_directory_as_model(void)
{
    char dir[128], fifo[192], sub[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "fifo"), "no tmpdir");
    path_in(fifo, sizeof fifo, dir, "model.onnx");
    path_in(sub, sizeof sub, dir, "folder.onnx");
    REQUIRE(mkfifo(fifo, 0600) == 0 && mkdir(sub, 0700) == 0, "mkfifo/mkdir: %s", strerror(errno));
    const char *fifo_parts[] = {"model.onnx", "FIFO", NULL}, *dir_parts[] = {"folder.onnx", "directory", NULL};
    for (load_kind how = LOAD_MODEL; how <= INSPECT; how++) {
        load_job j = {how, fifo, 0, 0};
        expect_status(&j, CV_ERR_IO, fifo_parts);
        j.path = sub;
        expect_status(&j, CV_ERR_IO, dir_parts);
    }
    const char *subs[] = {"folder.onnx", NULL};
    remove_tree(dir, subs);
}

static void test_fifo_as_external_data_and_tensor(void)
{
    char dir[128], fifo[192], model[192], pb[192], sub[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "extfifo"), "no tmpdir");
    path_in(fifo, sizeof fifo, dir, "w.bin");
    path_in(model, sizeof model, dir, "model.onnx");
    path_in(sub, sizeof sub, dir, "sub");
    REQUIRE(mkfifo(fifo, 0600) == 0 && mkdir(sub, 0700) == 0, "mkfifo/mkdir: %s", strerror(errno));
    /* before: fopen() on the FIFO waited for a writer forever */
    REQUIRE(write_model(model, &(model_spec){.location = "w.bin"}), "cannot write %s", model);
    load_job j = {LOAD_MODEL, model, 0, 0};
    const char *parts[] = {"initializer 'w'", "w.bin", "FIFO", NULL};
    expect_status(&j, CV_ERR_IO, parts);
    REQUIRE(write_model(model, &(model_spec){.location = "sub"}), "cannot write %s", model);
    const char *dir_parts[] = {"initializer 'w'", "sub", "directory", NULL};
    expect_status(&j, CV_ERR_IO, dir_parts);
    /* a tensor .pb whose external data is the FIFO, and a FIFO as the .pb */
    path_in(pb, sizeof pb, dir, "input_0.pb");
    REQUIRE(write_tensor_file(pb, "w.bin"), "cannot write %s", pb);
    load_job t = {READ_TENSOR, pb, 0, 0};
    const char *pb_parts[] = {"tensor 'input_0'", "FIFO", NULL};
    expect_status(&t, CV_ERR_IO, pb_parts);
    t.path = fifo;
    const char *fifo_parts[] = {"w.bin", "FIFO", NULL};
    expect_status(&t, CV_ERR_IO, fifo_parts);
    const char *subs[] = {"sub", NULL};
    remove_tree(dir, subs);
}

/* ---- 2. nesting ------------------------------------------------------------------ */

static void test_subgraphs_nested_3000_deep(void)
{
    char dir[128], path[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "nest"), "no tmpdir");
    path_in(path, sizeof path, dir, "model.onnx");
    size_t size;
    REQUIRE(nested_graph_model(path, 3000, &size), "cannot write %s", path);
    printf("    3000 nested subgraphs: %zu bytes\n", size);
    /* before: SIGSEGV in protobuf-c's recursive unpack */
    const char *parts[] = {"model.onnx", "subgraphs (GraphProto) nested 3000 deep", "limit of 32", NULL};
    for (load_kind how = LOAD_MODEL; how <= INSPECT; how++) {
        load_job j = {how, path, 0, 0};
        expect_status(&j, CV_ERR_LIMIT, parts);
    }
    test_remove_dir(dir);
}

/* At the limit the file parses and gets the answer it would get anyway
 * (If is not supported); one more level is refused. */
static void test_subgraphs_at_the_limit(void)
{
    char dir[128], path[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "nestlim"), "no tmpdir");
    path_in(path, sizeof path, dir, "model.onnx");
    size_t size;
    REQUIRE(nested_graph_model(path, CV_WIRE_MAX_NESTING, &size), "cannot write %s", path);
    load_job j = {LOAD_MODEL, path, 0, 0};
    const char *unsupported[] = {"'then_branch' is a subgraph", NULL};
    expect_status(&j, CV_ERR_UNSUPPORTED, unsupported);
    /* the deepest accepted file under a 256 KiB stack (protobuf-c recurses
     * through it); valgrind runs the program on a stack of its own */
    if (!under_valgrind()) {
        j.stack_limit = 256 << 10;
        expect_status(&j, CV_ERR_UNSUPPORTED, unsupported);
        j.stack_limit = 0;
    }
    REQUIRE(nested_graph_model(path, CV_WIRE_MAX_NESTING + 1, &size), "cannot write %s", path);
    const char *over[] = {"nested 33 deep", NULL};
    expect_status(&j, CV_ERR_LIMIT, over);
    test_remove_dir(dir);
}

static void test_types_nested_deep(void)
{
    char dir[128], path[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "nesttype"), "no tmpdir");
    path_in(path, sizeof path, dir, "model.onnx");
    size_t size;
    REQUIRE(nested_type_model(path, 20000, &size), "cannot write %s", path);
    printf("    a sequence type nested 20000 deep: %zu bytes\n", size);
    load_job j = {LOAD_MODEL, path, 0, 0};
    const char *parts[] = {"types (TypeProto) nested 20000 deep", NULL};
    expect_status(&j, CV_ERR_LIMIT, parts);
    /* at the limit: the normal answer for a sequence input */
    REQUIRE(nested_type_model(path, CV_WIRE_MAX_NESTING, &size), "cannot write %s", path);
    const char *normal[] = {"input 'x' is not a tensor", NULL};
    expect_status(&j, CV_ERR_UNSUPPORTED, normal);
    test_remove_dir(dir);
}

/* ---- 4. memory ------------------------------------------------------------------ */

/* The small model followed by `entries` metadata_props entries {key "k"}
 * (5 bytes each on the wire: protobuf appends repeated fields). */
static bool metadata_flood_model(const char *path, size_t entries, size_t *size)
{
    if (!write_model(path, &(model_spec){0}))
        return false;
    FILE *f = fopen(path, "ab");
    if (!f)
        return false;
    static const uint8_t entry[5] = {14 << 3 | 2, 3, 1 << 3 | 2, 1, 'k'};
    bool ok = true;
    for (size_t k = 0; k < entries && ok; k++)
        ok = fwrite(entry, 1, sizeof entry, f) == sizeof entry;
    ok = fclose(f) == 0 && ok;
    struct stat st;
    *size = ok && stat(path, &st) == 0 ? (size_t)st.st_size : 0;
    return ok;
}

static void test_metadata_flood_bounded(void)
{
    char dir[128], path[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "meta"), "no tmpdir");
    path_in(path, sizeof path, dir, "model.onnx");
    size_t size;
    REQUIRE(metadata_flood_model(path, 2 << 20, &size), "cannot write %s", path);
    printf("    2M metadata entries: %.1f MiB file\n", size / 1048576.0);
    /* before: loaded, after protobuf-c and the model's copies took ~400 MB */
    load_job j = {LOAD_MODEL, path, (size_t)16 << 20, 0};
    const char *parts[] = {"model.onnx", "parsing the file would take about", "16 MiB memory limit", NULL};
    child_result r = expect_status(&j, CV_ERR_LIMIT, parts);
    printf("    peak RSS of the refused load: %.1f MiB\n", r.peak_rss_kb / 1024.0);
    if (!under_valgrind())
        CHECK(r.peak_rss_kb < 64 * 1024, "peak RSS %ld KiB with a 16 MiB limit", r.peak_rss_kb);
    test_remove_dir(dir);
}

/* Strings the model keeps count with its constants: 4.5 MiB of metadata
 * plus a float16 initializer that becomes 4 MiB of float32 pass the parse
 * estimate (about 6.5 MiB) but not an 8 MiB limit; 16 MiB loads. */
static void test_kept_strings_counted(void)
{
    char dir[128], path[192];
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "keep"), "no tmpdir");
    path_in(path, sizeof path, dir, "model.onnx");
    size_t meta_len = (size_t)9 << 19, n_half = (size_t)1 << 20;
    char *meta = malloc(meta_len + 1);
    uint16_t *halves = calloc(n_half, sizeof *halves);
    REQUIRE(meta && halves, "out of memory");
    memset(meta, 'm', meta_len);
    meta[meta_len] = 0;
    int64_t dims[1] = {(int64_t)n_half};
    Onnx__TensorProto big = ONNX__TENSOR_PROTO__INIT;
    big.name = "big";
    big.has_data_type = 1;
    big.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    big.n_dims = 1;
    big.dims = dims;
    big.has_raw_data = 1;
    big.raw_data.len = n_half * sizeof *halves;
    big.raw_data.data = (uint8_t *)halves;
    bool wrote = write_model(path, &(model_spec){.meta_value = meta, .extra = &big});
    free(halves);
    free(meta);
    REQUIRE(wrote, "cannot write %s", path);
    load_job j = {LOAD_MODEL, path, (size_t)8 << 20, 0};
    const char *parts[] = {"model.onnx", "8 MiB limit", NULL};
    expect_status(&j, CV_ERR_LIMIT, parts);
    j.max_memory = (size_t)16 << 20;
    child_result r = expect_status(&j, CV_OK, NULL);
    printf("    loaded with 16 MiB: peak RSS %.1f MiB\n", r.peak_rss_kb / 1024.0);
    test_remove_dir(dir);
}

/* ---- the scan against protobuf-c itself ------------------------------------------- */

/* An allocator that counts what protobuf-c's unpack holds at its peak. */
typedef struct {
    size_t live, peak;
} alloc_count;

static void *counting_alloc(void *data, size_t size)
{
    alloc_count *c = data;
    size_t *p = malloc(size + sizeof(size_t) * 2); /* keeps 16-byte alignment */
    if (!p)
        return NULL;
    p[0] = size;
    c->live += size;
    if (c->live > c->peak)
        c->peak = c->live;
    return p + 2;
}

static void counting_free(void *data, void *ptr)
{
    alloc_count *c = data;
    if (!ptr)
        return;
    size_t *p = (size_t *)ptr - 2;
    c->live -= p[0];
    free(p);
}

/* One file's bytes: where protobuf-c's unpack succeeds, the scan must have
 * walked the whole file (not stopped as if invalid), and its estimate must
 * cover what unpack held at its peak. Returns false on a broken rule. */
static bool scan_agrees(const uint8_t *buf, size_t len, const char *what, size_t *estimate, size_t *peak)
{
    cv_wire_report r;
    if (cv_wire_scan(&onnx__model_proto__descriptor, buf, len, &r) != 0)
        return false;
    alloc_count count = {0, 0};
    ProtobufCAllocator a = {counting_alloc, counting_free, &count};
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&a, len, buf);
    bool ok = true;
    if (mp) {
        onnx__model_proto__free_unpacked(mp, &a);
        CHECK(!r.truncated, "%s: protobuf-c parsed it, the scan stopped early", what);
        CHECK(r.unpacked_bytes >= count.peak, "%s: estimate %zu bytes, unpack held %zu", what, r.unpacked_bytes,
              count.peak);
        ok = !r.truncated && r.unpacked_bytes >= count.peak;
    }
    *estimate = r.unpacked_bytes;
    *peak = mp ? count.peak : 0;
    return ok;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

/* Random mutations (bytes set, continuation bits set, cuts) of a file,
 * each checked by scan_agrees. Returns how many protobuf-c parsed. */
static int check_mutants(const uint8_t *buf, size_t len, const char *path, int count)
{
    int parsed = 0;
    uint8_t *mut = malloc(len);
    for (int m = 0; mut && m < count; m++) {
        memcpy(mut, buf, len);
        size_t cut = len;
        for (int e = 0; e < 1 + m % 4; e++) {
            size_t at = (size_t)test_uniform(0, (float)len) % len;
            mut[at] = (uint8_t)(m % 3 == 0 ? 0x80 | (int)test_uniform(0, 128) : (int)test_uniform(0, 256));
        }
        if (m % 5 == 0)
            cut = (size_t)test_uniform(1, (float)len) % len + 1;
        char what[600];
        snprintf(what, sizeof what, "mutant %d of %s", m, path);
        size_t estimate, peak;
        if (!scan_agrees(mut, cut, what, &estimate, &peak))
            break;
        parsed += peak > 0;
    }
    free(mut);
    return parsed;
}

/* Real models, a metadata flood, and 3000 random mutations of the nested
 * seeds. */
static void test_scan_agrees_with_protobuf_c(void)
{
    char shared[512], dir[128], flood[192];
    const char *sd = test_shared_dir();
    snprintf(shared, sizeof shared, "%s/models/squeezenet1.1_fp16_imagenet/SqueezeNet_fp16.onnx", sd ? sd : ".");
    REQUIRE(test_make_tmpdir(dir, sizeof dir, "scan"), "no tmpdir");
    path_in(flood, sizeof flood, dir, "flood.onnx");
    size_t flood_size;
    REQUIRE(metadata_flood_model(flood, 100000, &flood_size), "cannot write %s", flood);
    const char *files[] = {"tests/fuzz/corpus/onnx/nested_if_loop.onnx", "tests/fuzz/corpus/onnx/nested_types_function.onnx",
                           "tests/fuzz/corpus/onnx/cnn.onnx", "models/fashion_cnn.onnx", flood, sd ? shared : NULL};
    int parsed = 0;
    test_seed(11);
    for (size_t k = 0; k < sizeof files / sizeof files[0] && files[k]; k++) {
        size_t len, estimate, peak;
        uint8_t *buf = slurp(files[k], &len);
        REQUIRE(buf, "cannot read %s", files[k]);
        CHECK(scan_agrees(buf, len, files[k], &estimate, &peak), "%s", files[k]);
        printf("    %s: %zu bytes, unpack held %zu at its peak, the scan estimated %zu\n", files[k], len, peak,
               estimate);
        if (k < 2)
            parsed += check_mutants(buf, len, files[k], 1500);
        free(buf);
    }
    printf("    3000 mutants, %d of them parsed by protobuf-c\n", parsed);
    CHECK(parsed > 100, "only %d mutants parsed: the mutations test nothing", parsed);
    test_remove_dir(dir);
}

int main(void)
{
    RUN(test_external_through_folder_link);
    RUN(test_external_file_link);
    RUN(test_external_plain_subfolder_loads);
    RUN(test_read_tensor_external_link);
    RUN(test_fifo_and_directory_as_model);
    RUN(test_fifo_as_external_data_and_tensor);
    RUN(test_subgraphs_nested_3000_deep);
    RUN(test_subgraphs_at_the_limit);
    RUN(test_types_nested_deep);
    RUN(test_metadata_flood_bounded);
    RUN(test_kept_strings_counted);
    RUN(test_scan_agrees_with_protobuf_c);
    return test_summary("hostile_onnx");
}
