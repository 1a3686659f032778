/* Batch mode: many images per run, resumable and sharded (cli.h, and
 * docs in README "Many images"). The image list, its folders, the shard,
 * the --out root, the manifest and the progress live here; the commands
 * give a setup step and a per-image (or per-group) step. */
#include "cli.h"
#include "cnnviz_gallery.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const cli_opt cli_batch_opts[] = {
    {"list", NULL, "FILE", NULL,
     "many images: their paths, one per line ('-': stdin); with --img (repeated, or a directory: every "
     ".jpg/.jpeg/.png under it) this is batch mode, one folder per image under --out and a manifest.jsonl"},
    {"shard", NULL, "K/N", NULL,
     "batch: only image i with i % N == K (default: Slurm's SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of "
     "SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX of --shard-count); writes manifest-K-of-N.jsonl"},
    {"shard-count", NULL, "N", NULL, "batch: shards of a Kubernetes Indexed Job (this one: JOB_COMPLETION_INDEX)"},
    {"resume", NULL, NULL, NULL, "batch: skip images whose manifest line says ok and whose folder exists"},
    {"force", NULL, NULL, NULL, "batch: write into a non-empty --out that cnnviz did not make"},
    {"html", NULL, NULL, NULL, "batch: also write --out/index.html, a page of the results (as cnnviz gallery)"},
    {NULL},
};

#define MARKER ".cnnviz-batch" /* in an --out root batch mode made */
#define MAX_DEPTH 64           /* of directories walked for images */
#define THUMB_SIDE 160

/* ---- the image list ------------------------------------------------------ */

typedef struct {
    char *input; /* the path to load */
    char *rel;   /* its folder under --out */
} batch_image;

typedef struct {
    batch_image *v;
    size_t n, cap;
} batch_list;

static void list_free(batch_list *l)
{
    for (size_t k = 0; k < l->n; k++) {
        free(l->v[k].input);
        free(l->v[k].rel);
    }
    free(l->v);
}

/* name minus its extension (".jpg"), unless the dot starts the name */
static char *strip_extension(const char *name)
{
    char *s = strdup(name);
    if (!s)
        return NULL;
    char *dot = strrchr(s, '.'), *slash = strrchr(s, '/');
    if (dot && dot != s && (!slash || dot > slash + 1))
        *dot = 0;
    return s;
}

static bool list_add(batch_list *l, const char *input, const char *rel)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        batch_image *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return cli_error("out of memory"), false;
        l->v = v, l->cap = cap;
    }
    batch_image *b = &l->v[l->n];
    if (!(b->input = strdup(input)) || !(b->rel = strip_extension(rel))) {
        free(b->input);
        return cli_error("out of memory"), false;
    }
    l->n++;
    return true;
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".png") == 0);
}

/* --out, when it exists: a walk does not descend into it, so that
 * `--img . --out out` does not take the last run's pictures as images. */
static struct stat out_root;
static bool out_root_known;

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The images under dir/sub (sub "" or ending in '/'), relative to dir,
 * appended to names: regular files (links to them too) ending in an image
 * extension; folders are walked, links to folders are not (no cycles), nor
 * are --out and other batch outputs (their thumbnails are not photos). */
static bool walk(const char *dir, const char *sub, int depth, char ***names, size_t *n, size_t *cap)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return cli_error("%s: cannot read the folder: %s", path, strerror(errno)), false;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char rel[8192], full[16400];
        snprintf(rel, sizeof rel, "%s%s", sub, e->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, rel);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            char marker[16500];
            snprintf(marker, sizeof marker, "%s/" MARKER, full);
            if ((out_root_known && st.st_dev == out_root.st_dev && st.st_ino == out_root.st_ino) ||
                access(marker, F_OK) == 0)
                continue; /* --out, or another batch run's output: not photos */
            if (depth + 1 >= MAX_DEPTH)
                ok = (cli_error("%s: folders nested deeper than %d", full, MAX_DEPTH), false);
            else if (strlen(rel) + 2 < sizeof rel) {
                strcat(rel, "/");
                ok = walk(dir, rel, depth + 1, names, n, cap);
            }
            continue;
        }
        if (!is_image_name(e->d_name) || stat(full, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 256;
            char **grown = realloc(*names, *cap * sizeof(char *));
            if (!grown) {
                ok = (cli_error("out of memory"), false);
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strdup(rel)))
            ok = (cli_error("out of memory"), false);
        else
            (*n)++;
    }
    closedir(d);
    return ok;
}

/* A directory's images, sorted by their path relative to it. */
static bool add_directory(batch_list *l, const char *dir)
{
    char **names = NULL;
    size_t n = 0, cap = 0, len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    char base[4096];
    snprintf(base, sizeof base, "%.*s", (int)len, dir);
    bool ok = walk(base, "", 0, &names, &n, &cap);
    if (ok)
        qsort(names, n, sizeof *names, compare_strings);
    if (ok && n == 0)
        cli_warning("%s: no .jpg, .jpeg or .png files in it", dir);
    for (size_t k = 0; k < n; k++) {
        char input[12400];
        snprintf(input, sizeof input, "%s/%s", base, names[k]);
        ok = ok && list_add(l, strcmp(base, "/") ? input : input + 1, names[k]);
        free(names[k]);
    }
    free(names);
    return ok;
}

/* A file's folder: its path with leading "/" and "./" dropped, "." and
 * empty components dropped and ".." made "__", so that it stays under --out. */
static void direct_rel(const char *path, char *rel, size_t len)
{
    size_t used = 0;
    rel[0] = 0;
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n && !(n == 1 && p[0] == '.') && used + n + 2 < len) {
            bool up = n == 2 && p[0] == '.' && p[1] == '.';
            used += (size_t)snprintf(rel + used, len - used, "%s%.*s", used ? "/" : "", up ? 2 : (int)n, up ? "__" : p);
        }
        p += n + (p[n] == '/');
    }
}

/* One --img value or --list line: a directory expands in place. */
static bool add_path(batch_list *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return add_directory(l, path);
    char rel[4096];
    direct_rel(path, rel, sizeof rel);
    if (!rel[0])
        return cli_usage_error("'%s' names no image file", path), false;
    return list_add(l, path, rel);
}

/* fn(user, line, len) for each line of f, its end of line ("\n", "\r\n")
 * removed, until fn returns false; false also on a read error (said,
 * naming what: the option or file). */
static bool for_each_line(FILE *f, const char *what, bool (*fn)(void *user, char *line, size_t len), void *user)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        ok = fn(user, line, (size_t)len);
    }
    if (ok && ferror(f))
        ok = (cli_error("%s: read error", what), false);
    free(line);
    return ok;
}

static bool add_list_line(void *list, char *line, size_t len)
{
    return len == 0 || add_path(list, line);
}

static bool add_list_file(batch_list *l, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return cli_error("--list %s: %s", path, strerror(errno)), false;
    char what[PATH_MAX + 16];
    snprintf(what, sizeof what, "--list %s", path);
    bool ok = for_each_line(f, what, add_list_line, l);
    if (f != stdin)
        fclose(f);
    return ok;
}

/* --img and --list in the order given. */
static bool expand_inputs(const cli_args *a, batch_list *l)
{
    for (int k = 0; k < a->n; k++) {
        const char *name = a->opt[k]->name;
        if (strcmp(name, "img") == 0 && !add_path(l, a->val[k]))
            return false;
        if (strcmp(name, "list") == 0 && !add_list_file(l, a->val[k]))
            return false;
    }
    if (l->n == 0)
        return cli_usage_error("batch mode: no images (--img DIR holds none, or --list is empty)"), false;
    return true;
}

bool cli_batch_mode(const cli_args *a)
{
    if (cli_count(a, "img") > 1 || cli_given(a, "list"))
        return true;
    struct stat st;
    const char *img = cli_str(a, "img");
    return img && stat(img, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cli_batch_options_ok(const cli_args *a)
{
    static const char *const only[] = {"shard", "shard-count", "resume", "force", "html", NULL};
    for (int k = 0; only[k]; k++)
        if (cli_given(a, only[k]))
            return cli_usage_error("--%s is for batch mode: several --img, an --img folder or --list", only[k]),
                   false;
    return true;
}

/* ---- folders ------------------------------------------------------------- */

static int compare_rels(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_shard_manifest(const char *name);

/* A folder that would be one of the files batch mode (or the gallery)
 * writes in --out, or look like a cli_outset's staging or set-aside folder. */
static bool reserved_name(const char *rel)
{
    bool top = !strchr(rel, '/');
    return (top && (strcmp(rel, MARKER) == 0 || strcmp(rel, "index.html") == 0 || strcmp(rel, "manifest.jsonl") == 0 ||
                    is_shard_manifest(rel))) ||
           strstr(rel, ".tmp-") || strstr(rel, ".previous-");
}

/* Every image must have a folder of its own: two mapping to one folder,
 * or one folder inside another's (it would be replaced with it), is a
 * usage error, caught before any work so every shard agrees. */
static bool check_folders(const batch_list *l)
{
    char **rels = malloc((l->n ? l->n : 1) * sizeof(char *));
    if (!rels)
        return cli_error("out of memory"), false;
    for (size_t k = 0; k < l->n; k++)
        rels[k] = l->v[k].rel;
    qsort(rels, l->n, sizeof *rels, compare_rels);
    bool ok = true;
    for (size_t k = 0; ok && k < l->n; k++) {
        if (reserved_name(rels[k]))
            ok = (cli_usage_error("image folder '%s' would clash with what cnnviz writes in --out (rename the image)",
                                  rels[k]), false);
        else if (k + 1 < l->n && strcmp(rels[k], rels[k + 1]) == 0)
            ok = (cli_usage_error("two images map to the folder '%s' (e.g. a.jpg and a.png): rename one", rels[k]),
                  false);
        /* an ancestor of rels[k] among the folders? */
        char up[4096];
        snprintf(up, sizeof up, "%s", rels[k]);
        for (char *slash; ok && (slash = strrchr(up, '/'));) {
            *slash = 0;
            char *key = up;
            if (bsearch(&key, rels, l->n, sizeof *rels, compare_rels))
                ok = (cli_usage_error("image folder '%s' would be inside image folder '%s': rename one", rels[k], up),
                      false);
        }
    }
    free(rels);
    return ok;
}

/* ---- the shard ----------------------------------------------------------- */

typedef struct {
    long k, n; /* n 0: no shard */
} batch_shard;

static bool parse_long(const char *s, long *v)
{
    char *end;
    errno = 0;
    *v = s ? strtol(s, &end, 10) : 0;
    return s && *s && !errno && !*end;
}

/* --shard K/N, else Slurm's array variables, else JOB_COMPLETION_INDEX
 * with --shard-count; the note says which. */
static bool choose_shard(const cli_args *a, batch_shard *s)
{
    s->k = s->n = 0;
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *job = getenv("JOB_COMPLETION_INDEX");
    if (cli_given(a, "shard")) {
        const char *v = cli_str(a, "shard");
        char tail;
        if (sscanf(v, "%ld/%ld%c", &s->k, &s->n, &tail) != 2 || s->n < 1 || s->k < 0 || s->k >= s->n)
            return cli_usage_error("--shard K/N with 0 <= K < N, got '%s'", v), false;
    } else if (cli_given(a, "shard-count")) {
        if (!cli_int(a, "shard-count", 1, 1L << 30, &s->n))
            return false;
        if (!parse_long(job, &s->k) || s->k < 0 || s->k >= s->n)
            return cli_usage_error("--shard-count %ld needs JOB_COMPLETION_INDEX in 0..%ld (a Kubernetes Indexed "
                                   "Job sets it); it is '%s'", s->n, s->n - 1, job ? job : "unset"), false;
        cli_note("shard %ld/%ld from JOB_COMPLETION_INDEX and --shard-count", s->k, s->n);
    } else if (id && count) {
        long i, lo = 0;
        if (!parse_long(id, &i) || !parse_long(count, &s->n) || (min && !parse_long(min, &lo)) || s->n < 1 ||
            i - lo < 0 || i - lo >= s->n)
            return cli_usage_error("SLURM_ARRAY_TASK_ID=%s, SLURM_ARRAY_TASK_MIN=%s, SLURM_ARRAY_TASK_COUNT=%s do "
                                   "not make a shard (an --array with a step? give --shard K/N)", id, min ? min : "unset",
                                   count), false;
        s->k = i - lo;
        cli_note("shard %ld/%ld from Slurm (SLURM_ARRAY_TASK_ID %s - SLURM_ARRAY_TASK_MIN %ld of "
                 "SLURM_ARRAY_TASK_COUNT %s)", s->k, s->n, id, lo, count);
    } else if (job) {
        cli_note("JOB_COMPLETION_INDEX is set but --shard-count is not: every image is done here");
    }
    return true;
}

/* ---- the --out root ------------------------------------------------------ */

/* Make --out or take it over: an empty folder, or one with batch mode's
 * marker, or any with --force. Shards starting together all succeed:
 * mkdir and the marker's O_EXCL creation tolerate each other, and a root
 * whose listing shows the marker is ours. */
static bool claim_root(const char *out, bool force)
{
    if (!cli_make_dir(out))
        return false;
    DIR *d = opendir(out);
    if (!d)
        return cli_error("%s: %s", out, strerror(errno)), false;
    bool empty = true, marked = false;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        marked |= strcmp(e->d_name, MARKER) == 0;
        empty = false;
    }
    closedir(d);
    if (!empty && !marked && !force)
        return cli_error("%s: not empty and not made by cnnviz's batch mode; choose another --out, or add --force "
                         "to write into it (only the images' folders and the manifest are replaced)", out), false;
    if (marked)
        return true;
    char path[4200];
    snprintf(path, sizeof path, "%s/" MARKER, out);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
        return cli_error("%s: %s", path, strerror(errno)), false;
    if (fd >= 0) {
        static const char text[] = "cnnviz batch output: one folder per image, manifest*.jsonl\n";
        bool ok = write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1);
        if (close(fd) != 0 || !ok)
            return cli_error("%s: cannot write", path), false;
    }
    return true;
}

/* ---- the manifest -------------------------------------------------------- */

static void manifest_path(char *buf, size_t len, const char *out, const batch_shard *s)
{
    if (s->n)
        snprintf(buf, len, "%s/manifest-%ld-of-%ld.jsonl", out, s->k, s->n);
    else
        snprintf(buf, len, "%s/manifest.jsonl", out);
}

static void add_text(cJSON *o, const char *key, const char *s)
{
    char buf[8192];
    if (s)
        cJSON_AddStringToObject(o, key, cli_json_text(s, buf, sizeof buf));
    else
        cJSON_AddNullToObject(o, key);
}

/* One image's line, keys in the order of docs (manifest-spec). */
static char *manifest_line(const cli_batch_item *it, bool thumb, double seconds)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)it->index);
    add_text(o, "input", it->input);
    add_text(o, "out", it->rel);
    cJSON_AddStringToObject(o, "status", it->ok ? "ok" : "failed");
    add_text(o, "error", it->ok ? NULL : it->error);
    bool top = it->ok && it->top_class >= 0;
    if (top) {
        cJSON_AddNumberToObject(o, "top_class", it->top_class);
        add_text(o, "top_name", it->top_name);
        cJSON_AddNumberToObject(o, "top_prob", it->top_prob);
    } else {
        cJSON_AddNullToObject(o, "top_class");
        cJSON_AddNullToObject(o, "top_name");
        cJSON_AddNullToObject(o, "top_prob");
    }
    add_text(o, "picture", it->ok && it->picture[0] ? it->picture : NULL);
    add_text(o, "thumbnail", it->ok && thumb ? "thumb.png" : NULL);
    /* a failed image's numbers may be half made: none */
    cJSON_AddItemToObject(o, "numbers", it->ok && it->numbers ? it->numbers : cJSON_CreateObject());
    if (!it->ok)
        cJSON_Delete(it->numbers);
    cJSON_AddNumberToObject(o, "seconds", round(seconds * 1000) / 1000);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The line and its newline in one write() on the O_APPEND descriptor, after
 * the image's folder was moved into place: a line present means its folder
 * is complete, and a killed run leaves whole lines (each shard appends to a
 * file of its own, so NFS's non-atomic appends across clients never mix). */
static bool append_line(int fd, const char *path, const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 2);
    if (!buf)
        return cli_error("out of memory"), false;
    memcpy(buf, text, n);
    buf[n] = '\n';
    ssize_t w = write(fd, buf, n + 1);
    free(buf);
    if (w != (ssize_t)(n + 1))
        return cli_error("%s: cannot append: %s", path, w < 0 ? strerror(errno) : "short write"), false;
    return true;
}

/* --resume: done[i] when the last line for index i says ok for the same
 * folder, and the folder is there. Lines that do not parse are ignored. */
static bool read_done(const char *path, const char *out, const batch_list *l, bool *done)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT || (cli_error("%s: %s", path, strerror(errno)), false);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index");
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(o, "out");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
        if (cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < (double)l->n && cJSON_IsString(st)) {
            size_t i = (size_t)idx->valuedouble;
            char folder[8400];
            struct stat sb;
            snprintf(folder, sizeof folder, "%s/%s", out, l->v[i].rel);
            done[i] = strcmp(st->valuestring, "ok") == 0 && cJSON_IsString(rel) &&
                      strcmp(rel->valuestring, l->v[i].rel) == 0 && stat(folder, &sb) == 0 && S_ISDIR(sb.st_mode);
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    return true;
}

/* ---- progress ------------------------------------------------------------ */

typedef struct {
    long total, done, failed;
    double start;
    bool tty;
} batch_progress;

static void progress_draw(batch_progress *p, const cli_batch_item *it)
{
    if (cli_quiet)
        return;
    double el = cli_now() - p->start, rate = el > 0 ? (double)p->done / el : 0;
    double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
    char fail[32] = "";
    if (p->failed)
        snprintf(fail, sizeof fail, ", %ld failed", p->failed);
    if (p->tty) {
        fprintf(stderr, "\rimages %ld/%ld%s  %.2f images/s  ETA %.0fs  ", p->done, p->total, fail, rate, eta);
        if (p->done == p->total)
            fputc('\n', stderr);
        fflush(stderr);
    } else { /* a job's log: one line per image */
        char rel[1024];
        fprintf(stderr, "cnnviz: image %ld/%ld %s %s%s, %.2f images/s, ETA %.0fs\n", p->done, p->total,
                cli_printable(it->rel, rel, sizeof rel), it->ok ? "ok" : "FAILED", fail, rate, eta);
    }
}

/* ---- one group of images -------------------------------------------------- */

typedef struct {
    const cli_args *a;
    const cli_batch_ops *ops;
    const char *out;
    int fd;              /* the manifest, O_APPEND */
    char manifest[4200];
    batch_progress pr;
    size_t max_memory;
    bool runtime_error;  /* a manifest write failed: stop */
} batch_run;

/* thumb.png: the photo with its longer side THUMB_SIDE px, aspect kept. */
static bool write_thumb(const batch_run *b, cli_batch_item *it)
{
    cv_image img = {0}, small = {0};
    cv_error err;
    char path[4300];
    cv_status st = cv_image_load_limited(&img, it->input, b->max_memory, &err);
    if (st == CV_OK) {
        int big = img.w > img.h ? img.w : img.h;
        int w = img.w >= img.h ? THUMB_SIDE : (int)lround((double)img.w * THUMB_SIDE / big);
        int h = img.h >= img.w ? THUMB_SIDE : (int)lround((double)img.h * THUMB_SIDE / big);
        st = cv_image_resize_antialias(&small, &img, w < 1 ? 1 : w, h < 1 ? 1 : h, &err);
    }
    if (st == CV_OK)
        st = cv_image_save_png(&small, cli_path(path, sizeof path, it->dir, "thumb.png"), &err);
    cv_image_free(&img);
    cv_image_free(&small);
    if (st != CV_OK)
        cli_fail(&err);
    return st == CV_OK;
}

static void item_failed(cli_batch_item *it)
{
    it->ok = false;
    if (!it->error[0])
        snprintf(it->error, sizeof it->error, "%s", *cli_last_error() ? cli_last_error() : "failed");
}

/* One image of a group: what the manifest says, and its folder. */
typedef struct {
    cli_batch_item it;
    cli_outset set; /* ~9 KiB: on the heap, as groups may be large */
    bool thumb;
} batch_slot;

/* Each image's folder as a cli_outset of its own and its thumb.png; false
 * (the image failed) when either cannot be made. */
static bool begin_image(const batch_run *b, const batch_image *im, size_t index, batch_slot *s)
{
    cli_batch_item *it = &s->it;
    *it = (cli_batch_item){.index = (long)index, .input = im->input, .rel = im->rel, .top_class = -1};
    it->numbers = cJSON_CreateObject();
    cli_clear_last_error();
    char final[8400];
    snprintf(final, sizeof final, "%s/%s", b->out, im->rel);
    if (!cli_outset_begin(&s->set, final, b->ops->command)) {
        s->set.active = false;
        return false;
    }
    it->dir = s->set.stage;
    return s->thumb = write_thumb(b, it);
}

/* Images which[0..n) (n <= ops->group): the command runs on those whose
 * folder and thumbnail could be made; then each folder is moved into
 * place and its line appended, in index order. */
static void run_group(batch_run *b, const batch_list *l, const size_t *which, int n)
{
    batch_slot *slots = calloc((size_t)n, sizeof *slots);
    cli_batch_item *sub = calloc((size_t)n, sizeof *sub);
    int *from = calloc((size_t)n, sizeof *from), m = 0;
    if (!slots || !sub || !from) {
        cli_error("out of memory");
        b->runtime_error = true;
        goto out;
    }
    double t0 = cli_now();
    for (int k = 0; k < n; k++) {
        if (begin_image(b, &l->v[which[k]], which[k], &slots[k]))
            sub[m] = slots[k].it, from[m++] = k;
        else
            item_failed(&slots[k].it);
    }
    cli_clear_last_error();
    if (m)
        b->ops->run(b->a, b->ops->ctx, sub, m);
    for (int k = 0; k < m; k++) {
        slots[from[k]].it = sub[k];
        if (!sub[k].ok)
            item_failed(&slots[from[k]].it);
    }
    double seconds = (cli_now() - t0) / n;
    for (int k = 0; k < n; k++) {
        cli_batch_item *it = &slots[k].it;
        if (it->ok && !cli_outset_commit(&slots[k].set))
            item_failed(it);
        cli_outset_abort(&slots[k].set);
        char *line = manifest_line(it, slots[k].thumb, seconds);
        if (!line || !append_line(b->fd, b->manifest, line))
            b->runtime_error = true;
        free(line);
        b->pr.done++;
        b->pr.failed += !it->ok;
        progress_draw(&b->pr, it);
    }
out:
    free(slots);
    free(sub);
    free(from);
}

/* ---- the run ------------------------------------------------------------- */

/* Remove the staging folders ("<rel>.tmp-XXXXXX") a killed run left for the
 * images about to be done: only this shard does them, and no image's folder
 * holds ".tmp-" (reserved_name), so they are theirs. Each folder holding
 * them is listed once. */
static void clear_stale_stages(const char *out, const batch_list *l, const size_t *which, size_t n)
{
    char **rels = malloc((n ? n : 1) * sizeof *rels), **parents = malloc((n ? n : 1) * sizeof *parents);
    size_t np = 0;
    for (size_t k = 0; rels && parents && k < n; k++) {
        rels[k] = l->v[which[k]].rel;
        const char *slash = strrchr(rels[k], '/');
        parents[np] = strndup(rels[k], slash ? (size_t)(slash - rels[k]) : 0);
        np += parents[np] != NULL;
    }
    if (rels && parents) {
        qsort(rels, n, sizeof *rels, compare_strings);
        qsort(parents, np, sizeof *parents, compare_strings);
    }
    for (size_t k = 0; rels && parents && k < np; k++) {
        if (k && strcmp(parents[k], parents[k - 1]) == 0)
            continue;
        char dir[8400];
        snprintf(dir, sizeof dir, "%s%s%s", out, *parents[k] ? "/" : "", parents[k]);
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));) {
            size_t len = strlen(e->d_name);
            if (len < 12 || strncmp(e->d_name + len - 11, ".tmp-", 5) != 0)
                continue;
            char rel[8400], *key = rel;
            snprintf(rel, sizeof rel, "%s%s%.*s", parents[k], *parents[k] ? "/" : "", (int)(len - 11), e->d_name);
            cli_outset stale = {.active = true}; /* cli_outset_abort empties and removes a staging folder */
            if (bsearch(&key, rels, n, sizeof *rels, compare_strings) &&
                snprintf(stale.stage, sizeof stale.stage, "%s/%s", dir, e->d_name) < (int)sizeof stale.stage)
                cli_outset_abort(&stale);
        }
        if (d)
            closedir(d);
    }
    for (size_t k = 0; parents && k < np; k++)
        free(parents[k]);
    free(parents);
    free(rels);
}

/* The images, checked, and this shard's share of them that --resume does
 * not skip, into *which (*n of them). */
static bool plan(const cli_args *a, batch_list *l, const batch_shard *sh, const char *out, const char *manifest,
                 size_t **which, size_t *n)
{
    out_root_known = stat(out, &out_root) == 0;
    if (!expand_inputs(a, l) || !check_folders(l))
        return false;
    bool *done = calloc(l->n, sizeof *done);
    *which = malloc(l->n * sizeof **which);
    if (!done || !*which)
        return free(done), cli_error("out of memory"), false;
    if (cli_flag(a, "resume") && !read_done(manifest, out, l, done))
        return free(done), false;
    size_t mine = 0;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (sh->n && (long)(i % (size_t)sh->n) != sh->k)
            continue;
        mine++;
        if (!done[i])
            (*which)[(*n)++] = i;
    }
    free(done);
    if (cli_flag(a, "resume"))
        cli_note("--resume: %zu of %zu images already done, %zu to do", mine - *n, mine, *n);
    return true;
}

/* Open this shard's manifest: appended to with --resume, else started anew
 * (only this shard's file: the others' are never touched). */
static bool open_manifest(batch_run *b, bool resume)
{
    b->fd = open(b->manifest, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0666);
    if (b->fd < 0)
        return cli_error("%s: %s", b->manifest, strerror(errno)), false;
    /* a torn last line (a full disk) would swallow the next one: end it */
    char last = '\n';
    off_t size = lseek(b->fd, 0, SEEK_END);
    if (size > 0 && (pread(b->fd, &last, 1, size - 1) != 1 || (last != '\n' && write(b->fd, "\n", 1) != 1)))
        return cli_error("%s: cannot read or end its last line: %s", b->manifest, strerror(errno)), false;
    return true;
}

int cli_batch_run(const cli_args *a, const cli_batch_ops *ops)
{
    batch_list l = {0};
    batch_shard sh;
    size_t *which = NULL, n = 0;
    batch_run b = {.a = a, .ops = ops, .out = cli_str(a, "out"), .fd = -1};
    int status = CLI_EXIT_RUNTIME;
    if (!b.out || !*b.out) {
        cli_usage_error("batch mode needs --out DIR");
        goto out;
    }
    if (!cli_max_memory(a, &b.max_memory) || !choose_shard(a, &sh))
        goto out;
    manifest_path(b.manifest, sizeof b.manifest, b.out, &sh);
    /* the cheap checks first, then the model; --out is touched only once
     * both went well */
    if (!plan(a, &l, &sh, b.out, b.manifest, &which, &n) || !ops->setup(a, ops->ctx) ||
        !claim_root(b.out, cli_flag(a, "force")) || !open_manifest(&b, cli_flag(a, "resume")))
        goto out;
    clear_stale_stages(b.out, &l, which, n);
    b.pr = (batch_progress){.total = (long)n, .start = cli_now(), .tty = isatty(2) != 0};
    cli_progress_muted = true; /* the images' own bars would fight the batch's */
    int group = ops->group > 0 ? ops->group : 1;
    for (size_t k = 0; k < n && !b.runtime_error; k += (size_t)group)
        run_group(&b, &l, which + k, n - k < (size_t)group ? (int)(n - k) : group);
    cli_progress_muted = false;
    if (b.runtime_error)
        goto out;
    status = b.pr.failed ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
    if (!cli_quiet || b.pr.failed)
        fprintf(stderr, "cnnviz: %ld image%s done, %ld failed; %s\n", b.pr.done - b.pr.failed,
                b.pr.done - b.pr.failed == 1 ? "" : "s", b.pr.failed, b.manifest);
    if (cli_flag(a, "html")) { /* the page of every manifest in --out so far (other shards' too) */
        cv_gallery_report rep;
        cv_error err;
        if (cv_gallery_write(b.out, &rep, &err) != CV_OK)
            status = cli_fail(&err);
    }
out:
    if (ops->cleanup)
        ops->cleanup(ops->ctx);
    if (b.fd >= 0 && close(b.fd) != 0 && status == CLI_EXIT_OK)
        status = cli_error("%s: %s", b.manifest, strerror(errno));
    free(which);
    list_free(&l);
    return status;
}

void cli_batch_set_top(cli_batch_item *it, const float *scores, int n, const cv_labels *labels)
{
    int best = 0;
    for (int c = 1; c < n; c++)
        if (scores[c] > scores[best])
            best = c;
    if (n < 1)
        return;
    it->top_class = best;
    it->top_prob = scores[best];
    snprintf(it->top_name, sizeof it->top_name, "%s", cli_label(labels, best));
}

/* ---- cnnviz merge-manifests ---------------------------------------------- */

typedef struct {
    long index;
    size_t order; /* where it was read: among lines of one index, the last wins */
    char *line;   /* as written, without its newline */
} merge_line;

static int compare_index(const void *a, const void *b)
{
    const merge_line *x = a, *y = b;
    if (x->index != y->index)
        return (x->index > y->index) - (x->index < y->index);
    return (x->order > y->order) - (x->order < y->order);
}

static void sort_lines(merge_line *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        v[k].order = k;
    qsort(v, n, sizeof *v, compare_index);
}

typedef struct {
    const char *path;
    merge_line **v;
    size_t *n, *cap;
} merge_reader;

/* One manifest line, with its index, onto the reader's list. */
static bool add_merge_line(void *reader, char *line, size_t len)
{
    merge_reader *r = reader;
    cJSON *o = cJSON_Parse(line);
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index");
    bool good = cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < 1e15;
    long index = good ? (long)idx->valuedouble : 0;
    cJSON_Delete(o);
    if (!good) {
        if (len)
            cli_warning("%s: a line that is not a manifest entry, skipped", r->path);
        return true;
    }
    if (*r->n == *r->cap) {
        size_t cap = *r->cap ? *r->cap * 2 : 256;
        merge_line *grown = realloc(*r->v, cap * sizeof **r->v);
        if (!grown)
            return cli_error("out of memory"), false;
        *r->v = grown;
        *r->cap = cap;
    }
    (*r->v)[*r->n] = (merge_line){index, 0, strdup(line)};
    return (*r->v)[(*r->n)++].line || (cli_error("out of memory"), false);
}

/* Every line of one shard's manifest, with its index, appended to *v;
 * later lines of one index override earlier ones after the sort. */
static bool read_lines(const char *path, merge_line **v, size_t *n, size_t *cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_error("%s: %s", path, strerror(errno)), false;
    merge_reader r = {path, v, n, cap};
    bool ok = for_each_line(f, path, add_merge_line, &r);
    fclose(f);
    return ok;
}

static bool is_shard_manifest(const char *name)
{
    long k, n;
    int end = 0;
    return sscanf(name, "manifest-%ld-of-%ld.jsonl%n", &k, &n, &end) == 2 && end > 0 && name[end] == 0;
}

/* The merged manifest's text: one line per index (the last one read of
 * it, the shards in name order), by index. */
static char *merged_text(merge_line *v, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += strlen(v[k].line) + 1;
    char *text = malloc(total + 1), *p = text;
    if (!text)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        if (k + 1 < n && v[k + 1].index == v[k].index)
            continue; /* a later line of the same index wins */
        size_t m = strlen(v[k].line);
        memcpy(p, v[k].line, m);
        p += m;
        *p++ = '\n';
    }
    *len = (size_t)(p - text);
    return text;
}

static int merge_run(const cli_args *a)
{
    const char *out = cli_require(a, "out");
    if (!out)
        return CLI_EXIT_USAGE;
    DIR *d = opendir(out);
    if (!d)
        return cli_error("%s: %s", out, strerror(errno));
    char **names = NULL;
    size_t nn = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (is_shard_manifest(e->d_name)) {
            char **grown = nn == cap ? realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names) : names;
            if (!grown || !(grown[nn] = strdup(e->d_name)))
                break;
            names = grown, nn++;
        }
    closedir(d);
    qsort(names, nn, sizeof *names, compare_strings);
    merge_line *v = NULL;
    size_t n = 0, vcap = 0;
    bool ok = nn > 0 || (cli_error("%s: no manifest-K-of-N.jsonl files to merge", out), false);
    for (size_t k = 0; ok && k < nn; k++) {
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", out, names[k]);
        ok = read_lines(path, &v, &n, &vcap);
    }
    if (ok)
        sort_lines(v, n);
    size_t len = 0;
    char *text = ok ? merged_text(v, n, &len) : NULL, path[4200];
    cv_error err;
    if (ok && !text)
        ok = (cli_error("out of memory"), false);
    if (ok && cv_file_write(cli_path(path, sizeof path, out, "manifest.jsonl"), text, len, &err) != CV_OK)
        ok = (cli_fail(&err), false);
    if (ok && !cli_quiet)
        fprintf(stderr, "cnnviz: %s from %zu shard manifest%s\n", path, nn, nn == 1 ? "" : "s");
    free(text);
    for (size_t k = 0; k < n; k++)
        free(v[k].line);
    for (size_t k = 0; k < nn; k++)
        free(names[k]);
    free(v);
    free(names);
    return ok ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

static const cli_opt merge_opts[] = {
    {"out", NULL, "DIR", NULL, "the batch output folder holding manifest-K-of-N.jsonl files"},
    {NULL},
};
static const cli_opt *const merge_groups[] = {merge_opts, NULL};

const cli_cmd cli_cmd_merge_manifests = {
    "merge-manifests", "join the shards' manifests of a batch run into DIR/manifest.jsonl",
    "Reads DIR/manifest-*-of-*.jsonl and writes DIR/manifest.jsonl: one line per image, by index, the last "
    "line of an index winning (a resumed shard appends), the lines as the shards wrote them: the same as a "
    "single-process run's manifest apart from \"seconds\".",
    merge_groups, merge_run,
};
