/* A command's output folder as one set: written in a staging folder beside
 * --out and moved into place whole, so a folder is either a previous
 * complete set or the new complete set, never a mix (see cli.h). */
#include "cli.h"
#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST "manifest.json"

/* The set being written, so messages can name --out, not the staging folder. */
static const cli_outset *current;
#define MAX_DEPTH 2 /* --out/ and --out/frames/: all a command writes */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names under dir (relative, "frames/00000.png"), sorted, into *names;
 * only what cnnviz writes: regular files and folders, MAX_DEPTH deep. */
static bool list_files(const char *dir, const char *rel, int depth, char ***names, size_t *n, size_t *cap)
{
    char path[4600];
    snprintf(path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4600];
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        char full[9300];
        snprintf(full, sizeof full, "%s/%s", dir, sub);
        struct stat st;
        if (lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth + 1 < MAX_DEPTH) {
            ok = list_files(dir, sub, depth + 1, names, n, cap);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            char **grown = realloc(*names, *cap * sizeof(char *));
            if (!grown) {
                ok = false;
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strdup(sub)))
            ok = false;
        else
            (*n)++;
    }
    closedir(d);
    return ok;
}

static void free_names(char **names, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
}

/* The manifest of the set in dir, NUL-terminated, or NULL. */
static char *read_manifest(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" MANIFEST, dir);
    uint8_t *text;
    size_t len;
    cv_error err;
    return cv_file_read_all(path, "a manifest", (size_t)16 << 20, &text, &len, &err) == CV_OK ? (char *)text : NULL;
}

/* Remove a previous set from dir: the files its manifest names (found by
 * walking dir without following links, so a name can never reach outside),
 * their folders once empty, the manifest, then dir. Anything else stays, and
 * dir is then renamed aside to "<aside_base>.previous-XXXXXX" (that name in
 * aside; "" when dir is gone). */
static void remove_set(const char *dir, const char *aside_base, char *aside, size_t aside_len)
{
    aside[0] = 0;
    char *manifest = read_manifest(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    list_files(dir, "", 0, &names, &n, &cap);
    char path[4700], quoted[4300];
    for (size_t k = 0; k < n && manifest; k++) {
        snprintf(quoted, sizeof quoted, "\"%s\"", names[k]);
        if (!strstr(manifest, quoted) && strcmp(names[k], MANIFEST) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        unlink(path);
        char *slash = strrchr(path, '/');
        if (strchr(names[k], '/')) {
            *slash = 0;
            rmdir(path); /* the subfolder, once empty */
        }
    }
    free_names(names, n);
    free(manifest);
    if (rmdir(dir) == 0)
        return;
    snprintf(aside, aside_len, "%s.previous-XXXXXX", aside_base);
    if (!mkdtemp(aside) || rmdir(aside) != 0 || rename(dir, aside) != 0)
        aside[0] = 0;
}

bool cli_outset_begin(cli_outset *s, const char *dir, const char *command)
{
    memset(s, 0, sizeof *s);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n + sizeof ".tmp-XXXXXX" > sizeof s->stage) {
        cli_error("output directory name is empty or too long");
        return false;
    }
    snprintf(s->final, sizeof s->final, "%.*s", (int)n, dir);
    snprintf(s->command, sizeof s->command, "%s", command);
    struct stat st;
    if (lstat(s->final, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cli_error("%s: exists and is not a directory (--out names the folder cnnviz writes)", s->final);
        return false;
    }
    /* the parent must exist for the staging folder beside --out */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", s->final);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        if (!cli_make_dir(parent))
            return false;
    }
    snprintf(s->stage, sizeof s->stage, "%s.tmp-XXXXXX", s->final);
    if (!mkdtemp(s->stage)) {
        cli_error("%s: cannot create a folder beside it to write into: %s", s->final, strerror(errno));
        return false;
    }
    /* mkdtemp makes it 0700; the set gets the mode mkdir would give it */
    mode_t mask = umask(0);
    umask(mask);
    chmod(s->stage, 0777 & ~mask);
    s->active = true;
    current = s;
    return true;
}

/* "a.png, b.npy, frames/ (100 files)" into s->summary: names are sorted,
 * so a folder's files are together. */
static void summarize(cli_outset *s, char **names, size_t n)
{
    size_t used = 0;
    s->summary[0] = 0;
    for (size_t k = 0; k < n && used < sizeof s->summary; k++) {
        const char *slash = strchr(names[k], '/');
        size_t run = 1;
        if (slash)
            while (k + run < n && strncmp(names[k + run], names[k], (size_t)(slash - names[k]) + 1) == 0)
                run++;
        if (slash)
            used += (size_t)snprintf(s->summary + used, sizeof s->summary - used, "%s%.*s/ (%zu files)",
                                     used ? ", " : "", (int)(slash - names[k]), names[k], run);
        else
            used += (size_t)snprintf(s->summary + used, sizeof s->summary - used, "%s%s", used ? ", " : "", names[k]);
        k += run - 1;
    }
    /* what may make every file wrong is said where people look */
    if (used < sizeof s->summary)
        snprintf(s->summary + used, sizeof s->summary - used, "%s", cli_assumed_preprocessing());
}

static bool write_manifest(const cli_outset *s, char **names, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" MANIFEST, s->stage);
    FILE *f = fopen(path, "wbx");
    if (!f)
        return false;
    fprintf(f, "{\n  \"tool\": \"cnnviz\",\n  \"command\": \"%s\",\n  \"files\": [", s->command);
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%s\n    \"%s\"", k ? "," : "", names[k]); /* names are ours: plain ASCII */
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0;
}

bool cli_outset_commit(cli_outset *s)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool listed = list_files(s->stage, "", 0, &names, &n, &cap);
    if (listed)
        qsort(names, n, sizeof *names, compare_names);
    bool ok = listed && write_manifest(s, names, n);
    if (ok)
        summarize(s, names, n);
    free_names(names, n);
    if (!ok) {
        cli_error("%s: cannot write " MANIFEST ": %s", s->stage, strerror(errno));
        cli_outset_abort(s);
        return false;
    }
    /* Swap the new set in, in one step when --out exists (renameat2
     * RENAME_EXCHANGE), then clear the old set out of the way. */
    if (rename(s->stage, s->final) != 0) {
        if (errno != EEXIST && errno != ENOTEMPTY) {
            cli_error("%s: cannot move the finished outputs into place: %s", s->final, strerror(errno));
            cli_outset_abort(s);
            return false;
        }
        /* --out exists: swap it with the new set in one step, then clear
         * the old set, now under the staging name, away */
        char left[4200];
        if (renameat2(AT_FDCWD, s->stage, AT_FDCWD, s->final, RENAME_EXCHANGE) == 0) {
            remove_set(s->stage, s->final, left, sizeof left);
        } else {
            /* no exchange on this file system: move the old set aside first */
            snprintf(left, sizeof left, "%s.previous-XXXXXX", s->final);
            if (!mkdtemp(left) || rmdir(left) != 0 || rename(s->final, left) != 0 ||
                rename(s->stage, s->final) != 0) {
                cli_error("%s: cannot replace the previous outputs: %s", s->final, strerror(errno));
                cli_outset_abort(s);
                return false;
            }
            char old[4200];
            snprintf(old, sizeof old, "%s", left);
            remove_set(old, s->final, left, sizeof left);
        }
        if (left[0])
            cli_note("%s held files cnnviz did not write; they are kept in %s", s->final, left);
    }
    s->active = false;
    current = NULL;
    return true;
}

void cli_outset_abort(cli_outset *s)
{
    if (!s->active)
        return;
    /* everything in the staging folder is this run's own */
    char **names = NULL;
    size_t n = 0, cap = 0;
    list_files(s->stage, "", 0, &names, &n, &cap);
    char path[4700];
    for (size_t k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/%s", s->stage, names[k]);
        unlink(path);
        if (strchr(names[k], '/')) {
            *strrchr(path, '/') = 0;
            rmdir(path);
        }
    }
    free_names(names, n);
    rmdir(s->stage);
    s->active = false;
    current = NULL;
}

const char *cli_outset_unstage(const char *text, char *buf, size_t len)
{
    if (!current || !len)
        return text;
    size_t used = 0, n = strlen(current->stage);
    for (const char *p = text; *p && used + 1 < len;) {
        if (strncmp(p, current->stage, n) == 0) {
            used += (size_t)snprintf(buf + used, len - used, "%s", current->final);
            p += n;
        } else {
            buf[used++] = *p++;
        }
    }
    buf[used < len ? used : len - 1] = 0;
    return buf;
}
