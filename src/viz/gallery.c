/* The gallery: DIR/index.html from a batch run's manifest(s)
 * (cnnviz_gallery.h). Three steps: read the manifest lines into entries
 * (gallery_read_*), keep the last entry per index (gallery_dedupe), write
 * the page (gallery_page_*). Every string from the manifest goes out
 * through html_text or url_path; nothing from it reaches the script. */
#include "cnnviz_gallery.h"
#include "../core/graph.h"
#include "../io/atomic.h"
#include "../io/file.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Caps on what one entry keeps: longer strings are cut (at a UTF-8
 * boundary, when written) and further numbers dropped, so a hostile line
 * costs at most about CV_GALLERY_MAX_LINE of memory. */
#define GL_MAX_NUMBERS 24
#define GL_MAX_TEXT 4096

typedef struct {
    char *key;
    double value;
} gl_number;

typedef struct {
    int64_t index;
    long seq;              /* order read: a later line of an index wins */
    bool failed;
    char *input, *out, *error, *top_name, *picture, *thumbnail;
    bool has_class, has_prob, has_seconds;
    int64_t top_class;
    double top_prob, seconds;
    int n_numbers;
    gl_number numbers[GL_MAX_NUMBERS];
} gl_entry;

typedef struct {
    gl_entry *e;
    int n, cap;
    cv_gallery_report *rep;
} gl_list;

static void entry_free(gl_entry *e)
{
    free(e->input);
    free(e->out);
    free(e->error);
    free(e->top_name);
    free(e->picture);
    free(e->thumbnail);
    for (int k = 0; k < e->n_numbers; k++)
        free(e->numbers[k].key);
    memset(e, 0, sizeof *e);
}

/* ---- reading ------------------------------------------------------------ */

static void note_skip(gl_list *l, const char *file, long line, const char *why)
{
    l->rep->skipped++;
    if (!l->rep->first_skip[0])
        snprintf(l->rep->first_skip, sizeof l->rep->first_skip, "%s line %ld: %s", file, line, why);
}

/* A copy of s cut to GL_MAX_TEXT bytes; *oom set when malloc fails. */
static char *text_copy(const char *s, bool *oom)
{
    size_t n = strnlen(s, GL_MAX_TEXT);
    char *c = malloc(n + 1);
    if (!c) {
        *oom = true;
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* A copy of item's string, NULL when item is absent, null or no string. */
static char *json_text(const cJSON *item, bool *oom)
{
    return cJSON_IsString(item) && item->valuestring ? text_copy(item->valuestring, oom) : NULL;
}

static bool json_finite(const cJSON *item, double *v)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return false;
    *v = item->valuedouble;
    return true;
}

/* An integer that a double holds exactly (JSON numbers are doubles). */
static bool json_count(const cJSON *item, int64_t *v)
{
    double d;
    if (!json_finite(item, &d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return false;
    *v = (int64_t)d;
    return true;
}

static void entry_numbers(gl_entry *e, const cJSON *numbers, bool *oom)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, numbers) {
        double v;
        if (e->n_numbers == GL_MAX_NUMBERS || !it->string || !json_finite(it, &v))
            continue;   /* the spec says numbers only: anything else is not shown */
        char *k = text_copy(it->string, oom);
        if (!k)
            return;
        e->numbers[e->n_numbers++] = (gl_number){k, v};
    }
}

/* One parsed line into e; NULL on success, else why the line is skipped. */
static const char *entry_from_json(gl_entry *e, const cJSON *j, bool *oom)
{
    if (!cJSON_IsObject(j))
        return "not a JSON object";
    if (!json_count(cJSON_GetObjectItemCaseSensitive(j, "index"), &e->index) || e->index < 0)
        return "no \"index\" (a whole number >= 0)";
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (!cJSON_IsString(st) || (strcmp(st->valuestring, "ok") && strcmp(st->valuestring, "failed")))
        return "\"status\" is neither \"ok\" nor \"failed\"";
    e->failed = !strcmp(st->valuestring, "failed");
    e->input = json_text(cJSON_GetObjectItemCaseSensitive(j, "input"), oom);
    e->out = json_text(cJSON_GetObjectItemCaseSensitive(j, "out"), oom);
    e->error = json_text(cJSON_GetObjectItemCaseSensitive(j, "error"), oom);
    e->top_name = json_text(cJSON_GetObjectItemCaseSensitive(j, "top_name"), oom);
    e->picture = json_text(cJSON_GetObjectItemCaseSensitive(j, "picture"), oom);
    e->thumbnail = json_text(cJSON_GetObjectItemCaseSensitive(j, "thumbnail"), oom);
    e->has_class = json_count(cJSON_GetObjectItemCaseSensitive(j, "top_class"), &e->top_class);
    e->has_prob = json_finite(cJSON_GetObjectItemCaseSensitive(j, "top_prob"), &e->top_prob);
    e->has_seconds = json_finite(cJSON_GetObjectItemCaseSensitive(j, "seconds"), &e->seconds);
    const cJSON *nums = cJSON_GetObjectItemCaseSensitive(j, "numbers");
    if (cJSON_IsObject(nums))
        entry_numbers(e, nums, oom);
    return NULL;
}

static cv_status list_add(gl_list *l, const gl_entry *e, cv_error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        gl_entry *p = realloc(l->e, (size_t)cap * sizeof *p);
        if (!p)
            return cv_fail(err, CV_ERR_NOMEM, "gallery: out of memory after %d manifest entries", l->n);
        l->e = p;
        l->cap = cap;
    }
    l->e[l->n++] = *e;
    return CV_OK;
}

/* One line (NUL-ended, its newline kept) of file `name`. */
static cv_status read_line(gl_list *l, const char *name, long lineno, const char *line, cv_error *err)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (!*p)
        return CV_OK;   /* blank lines are no entries */
    l->rep->lines++;
    if (l->n >= CV_GALLERY_MAX_CARDS) {
        note_skip(l, name, lineno, "past CV_GALLERY_MAX_CARDS lines: not shown");
        return CV_OK;
    }
    cJSON *j = cJSON_ParseWithOpts(line, NULL, 1);
    gl_entry e = {.seq = l->rep->lines};
    bool oom = false;
    const char *why = j ? entry_from_json(&e, j, &oom) : "not valid JSON";
    cJSON_Delete(j);
    if (oom) {
        entry_free(&e);
        return cv_fail(err, CV_ERR_NOMEM, "gallery: out of memory reading %s", name);
    }
    if (why) {
        entry_free(&e);
        note_skip(l, name, lineno, why);
        return CV_OK;
    }
    cv_status s = list_add(l, &e, err);
    if (s != CV_OK)
        entry_free(&e);
    return s;
}

/* Every line of dir/name; *budget: bytes the manifests may still take. */
static cv_status read_manifest(gl_list *l, const char *dir, const char *name, int64_t *budget, cv_error *err)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f;
    uint64_t size;
    cv_status s = cv_file_open_read(path, "a manifest", &f, &size, err);
    if (s != CV_OK)
        return s;
    if ((int64_t)size > *budget) {
        fclose(f);
        return cv_fail(err, CV_ERR_LIMIT, "%s: the manifests are larger than the gallery reads (%lld bytes)",
                       path, (long long)CV_GALLERY_MAX_BYTES);
    }
    *budget -= (int64_t)size;
    l->rep->manifests++;
    char *buf = malloc(CV_GALLERY_MAX_LINE + 2);
    if (!buf) {
        fclose(f);
        return cv_fail(err, CV_ERR_NOMEM, "gallery: out of memory");
    }
    long lineno = 0;
    uint64_t seen = 0;   /* a file that grows while read stops at its first size */
    while (s == CV_OK && seen < size && fgets(buf, CV_GALLERY_MAX_LINE + 2, f)) {
        size_t n = strlen(buf);
        seen += n;
        lineno++;
        if (n > CV_GALLERY_MAX_LINE && buf[n - 1] != '\n') {
            int c;
            while ((c = getc(f)) != EOF && c != '\n')
                seen++;
            l->rep->lines++;
            note_skip(l, name, lineno, "longer than CV_GALLERY_MAX_LINE bytes");
            continue;
        }
        s = read_line(l, name, lineno, buf, err);
    }
    if (s == CV_OK && ferror(f))
        s = cv_fail(err, CV_ERR_IO, "%s: read error", path);
    free(buf);
    fclose(f);
    return s;
}

/* Digits at *s as a number (at most 9 of them); false when there are none. */
static bool take_digits(const char **s, long *v)
{
    int n = 0;
    *v = 0;
    while (**s >= '0' && **s <= '9' && n < 9) {
        *v = *v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    return n > 0 && !(**s >= '0' && **s <= '9');
}

/* "manifest-K-of-N.jsonl" with 0 <= K < N, digits only. */
static bool shard_name(const char *s, long *k, long *n)
{
    if (strncmp(s, "manifest-", 9))
        return false;
    s += 9;
    if (!take_digits(&s, k) || strncmp(s, "-of-", 4))
        return false;
    s += 4;
    return take_digits(&s, n) && !strcmp(s, ".jsonl") && *k < *n;
}

typedef struct {
    long k, n;
    char name[64];
} gl_shard;

static int shard_cmp(const void *a, const void *b)
{
    const gl_shard *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* manifest.jsonl when there is one, else every shard's manifest, in
 * (N, K) order so the result does not depend on readdir's order. */
static cv_status read_all(gl_list *l, const char *dir, cv_error *err)
{
    int64_t budget = CV_GALLERY_MAX_BYTES;
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/manifest.jsonl", dir);
    if (stat(path, &st) == 0)
        return read_manifest(l, dir, "manifest.jsonl", &budget, err);
    DIR *d = opendir(dir);
    if (!d)
        return cv_fail(err, CV_ERR_IO, "%s: cannot open the folder", dir);
    gl_shard *sh = malloc(CV_GALLERY_MAX_SHARDS * sizeof *sh);
    int n = 0;
    struct dirent *de;
    while (sh && (de = readdir(d)) != NULL) {
        long k, total;
        if (strlen(de->d_name) < sizeof sh->name && shard_name(de->d_name, &k, &total) &&
            n < CV_GALLERY_MAX_SHARDS) {
            sh[n] = (gl_shard){.k = k, .n = total};
            snprintf(sh[n].name, sizeof sh[n].name, "%s", de->d_name);
            n++;
        }
    }
    closedir(d);
    if (!sh)
        return cv_fail(err, CV_ERR_NOMEM, "gallery: out of memory");
    cv_status s = n ? CV_OK : cv_fail(err, CV_ERR_IO, "%s: no manifest.jsonl or manifest-K-of-N.jsonl in it", dir);
    qsort(sh, (size_t)n, sizeof *sh, shard_cmp);
    for (int i = 0; i < n && s == CV_OK; i++)
        s = read_manifest(l, dir, sh[i].name, &budget, err);
    free(sh);
    return s;
}

static int entry_cmp(const void *a, const void *b)
{
    const gl_entry *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Index order, the last line of each index kept. */
static void gallery_dedupe(gl_list *l)
{
    qsort(l->e, (size_t)l->n, sizeof *l->e, entry_cmp);
    int w = 0;
    for (int r = 0; r < l->n; r++) {
        if (r + 1 < l->n && l->e[r + 1].index == l->e[r].index) {
            entry_free(&l->e[r]);
            continue;
        }
        l->e[w++] = l->e[r];
    }
    l->n = w;
}

/* ---- writing ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are not). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n <= 1)
        return n;
    uint32_t cp = c & (0x7F >> n);
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* s as HTML text or a double-quoted attribute value: the five markup
 * characters as entities, control characters and bytes that are not
 * UTF-8 as U+FFFD. */
static void html_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        int n = utf8_len(p);
        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7F))) {
            fputs("\xEF\xBF\xBD", f);
            p++;
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fwrite(p, 1, (size_t)n, f);
        }
        p += n;
    }
}

/* A path relative to DIR that stays inside it: not empty, no leading
 * '/', no "", "." or ".." component, no backslash or control character. */
static bool rel_path_ok(const char *s)
{
    if (!s || !*s || *s == '/')
        return false;
    for (const char *c = s; *c;) {
        const char *end = strchr(c, '/');
        size_t n = end ? (size_t)(end - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)c[k] < 0x20 || c[k] == '\\' || c[k] == 0x7F)
                return false;
        c += n + (end != NULL);
        if (end && !*c)
            return false;   /* a trailing '/' */
    }
    return true;
}

/* folder/file as a relative URL: every byte but unreserved ones and '/'
 * percent-encoded (so ':' cannot start a scheme, '?' and '#' stay in the
 * path). */
static void url_path(FILE *f, const char *folder, const char *file)
{
    for (int part = 0; part < 2; part++) {
        const unsigned char *p = (const unsigned char *)(part ? file : folder);
        for (; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-._~/", *p))
                fputc(*p, f);
            else
                fprintf(f, "%%%02X", *p);
        }
        if (!part && file)
            fputc('/', f);
        if (!file)
            break;
    }
}

/* An <img> of out/file inside a link to it, or a placeholder saying why
 * there is none; the file must be a regular file under dir. what, the
 * caption, may come from the manifest (the picture's name). */
static void page_picture(FILE *f, const char *dir, const gl_entry *e, const char *file, const char *what)
{
    char path[16384];
    struct stat st;
    const char *missing = NULL;
    if (!file)
        missing = "none";
    else if (!rel_path_ok(e->out) || !rel_path_ok(file))
        missing = "unsafe path";
    else if (snprintf(path, sizeof path, "%s/%s/%s", dir, e->out, file) >= (int)sizeof path ||
             stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        missing = "missing";
    fputs("<figure>", f);
    if (missing) {
        fprintf(f, "<div class=\"nopic\">%s</div><figcaption>", missing);
        html_text(f, what);
        fputs("</figcaption></figure>", f);
        return;
    }
    fputs("<a href=\"", f);
    url_path(f, e->out, file);
    fputs("\"><img loading=\"lazy\" alt=\"", f);
    html_text(f, what);
    fputs("\" src=\"", f);
    url_path(f, e->out, file);
    fputs("\"></a><figcaption>", f);
    html_text(f, what);
    fputs("</figcaption></figure>", f);
}

static void page_card(FILE *f, const char *dir, const gl_entry *e)
{
    fprintf(f, "<article class=\"card %s\" data-index=\"%lld\" data-failed=\"%d\"", e->failed ? "failed" : "ok",
            (long long)e->index, e->failed);
    if (e->has_prob && !e->failed)
        fprintf(f, " data-score=\"%.9g\"", e->top_prob);
    fputs(">\n<div class=\"pics\">", f);
    page_picture(f, dir, e, e->thumbnail, "photo");
    if (e->picture)   /* predict has none: no empty box */
        page_picture(f, dir, e, e->picture, e->picture);
    fprintf(f, "</div>\n<div class=\"input\"><span class=\"idx\">#%lld</span> ", (long long)e->index);
    char folder[16384];
    struct stat st;
    if (rel_path_ok(e->out) && snprintf(folder, sizeof folder, "%s/%s", dir, e->out) < (int)sizeof folder &&
        stat(folder, &st) == 0 && S_ISDIR(st.st_mode)) {   /* a failed image has no folder */
        fputs("<a href=\"", f);
        url_path(f, e->out, NULL);
        fputs("/\">", f);
        html_text(f, e->input ? e->input : e->out);
        fputs("</a>", f);
    } else {
        html_text(f, e->input ? e->input : "(no input named)");
    }
    fputs("</div>\n", f);
    if (e->failed) {
        fputs("<div class=\"status\">FAILED</div><div class=\"error\">", f);
        html_text(f, e->error ? e->error : "(no message)");
        fputs("</div>\n", f);
    } else {
        fputs("<div class=\"top\">", f);
        if (e->top_name || e->has_class) {
            fputs("<span class=\"cls\">", f);
            html_text(f, e->top_name ? e->top_name : "");
            fputs("</span>", f);
            if (e->has_class)
                fprintf(f, " <span class=\"k\">(%lld)</span>", (long long)e->top_class);
        }
        if (e->has_prob)
            fprintf(f, " <span class=\"prob\">%.1f%%</span>", 100.0 * e->top_prob);
        fputs("</div>\n", f);
    }
    if (e->n_numbers || e->has_seconds) {
        fputs("<dl class=\"numbers\">", f);
        for (int k = 0; k < e->n_numbers; k++) {
            fputs("<dt>", f);
            html_text(f, e->numbers[k].key);
            fprintf(f, "</dt><dd>%.6g</dd>", e->numbers[k].value);
        }
        if (e->has_seconds)
            fprintf(f, "<dt>seconds</dt><dd>%.3g</dd>", e->seconds);
        fputs("</dl>\n", f);
    }
    fputs("</article>\n", f);
}

/* The page's script, static: it reads only the data-* numbers written by
 * page_card. Its SHA-256 is in the page's Content-Security-Policy, so no
 * other script or inline handler runs even if escaping failed somewhere;
 * tests/test_gallery.sh checks the hash against this text. */
static const char gallery_script[] =
    "(function(){\n"
    "var grid=document.getElementById('cards');\n"
    "function num(c,k,d){var v=parseFloat(c.getAttribute(k));return isNaN(v)?d:v;}\n"
    "function order(by){\n"
    " var cs=Array.prototype.slice.call(grid.children);\n"
    " cs.sort(function(a,b){\n"
    "  var d=0;\n"
    "  if(by==='failed')d=num(b,'data-failed',0)-num(a,'data-failed',0);\n"
    "  if(by==='score')d=num(b,'data-score',-1)-num(a,'data-score',-1);\n"
    "  if(by==='score-asc')d=num(a,'data-score',2)-num(b,'data-score',2);\n"
    "  return d||num(a,'data-index',0)-num(b,'data-index',0);});\n"
    " cs.forEach(function(c){grid.appendChild(c);});\n"
    " var bs=document.querySelectorAll('button[data-sort]');\n"
    " for(var i=0;i<bs.length;i++)bs[i].setAttribute('aria-pressed',bs[i].getAttribute('data-sort')===by);\n"
    " document.body.setAttribute('data-sort',by);}\n"
    "function fromHash(){var m=/sort=([a-z-]+)/.exec(location.hash);"
    "order(m&&document.querySelector('button[data-sort=\"'+m[1]+'\"]')?m[1]:'index');}\n"
    "document.getElementById('sorts').addEventListener('click',function(ev){\n"
    " var by=ev.target.getAttribute('data-sort');if(by){location.hash='sort='+by;}});\n"
    "document.getElementById('onlyfailed').addEventListener('change',function(ev){\n"
    " document.body.classList.toggle('onlyfailed',ev.target.checked);});\n"
    "window.addEventListener('hashchange',fromHash);fromHash();\n"
    "})();\n";
/* sha256 of gallery_script, base64 (tests/test_gallery.sh recomputes it). */
#define GALLERY_SCRIPT_SHA256 "sha256-yKqU0Dg8AO3eVlKyMxbTo3Pd4LS4jwKSDL4ulAxwTog="

static const char gallery_style[] =
    "body{font:14px/1.35 sans-serif;margin:0;background:#f3f3f3;color:#222}\n"
    "header{padding:12px 16px;background:#263238;color:#fff}\n"
    "header h1{font-size:18px;margin:0 0 6px}\n"
    "header .summary b{font-weight:bold}\n"
    "header .bad{color:#ff8a80}\n"
    "#sorts button{margin-right:4px;border:1px solid #90a4ae;background:#37474f;color:#fff;"
    "padding:3px 8px;border-radius:3px;cursor:pointer}\n"
    "#sorts button[aria-pressed=true]{background:#fff;color:#263238}\n"
    ".skipped{margin-top:6px;color:#ffd180}\n"
    "#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px;padding:12px}\n"
    ".card{background:#fff;border:1px solid #ccc;border-radius:4px;padding:8px;overflow-wrap:anywhere}\n"
    ".card.failed{border:2px solid #c62828;background:#ffebee}\n"
    "body.onlyfailed .card.ok{display:none}\n"
    ".pics{display:flex;gap:6px;min-height:80px}\n"
    ".pics figure{margin:0;text-align:center;font-size:11px;color:#777;max-width:162px;overflow:hidden}\n"
    ".pics img,.nopic{width:160px;height:160px;object-fit:contain;display:block;background:#fafafa;"
    "border:1px solid #ddd}\n"
    ".nopic{display:flex;align-items:center;justify-content:center;background:#eceff1;color:#78909c;"
    "font-size:12px}\n"
    ".input{margin-top:6px;font-family:monospace;font-size:12px}\n"
    ".idx{color:#888}\n"
    ".top{margin-top:4px;font-size:16px;display:flex;gap:6px;align-items:baseline}\n"
    ".top .k{color:#888;font-size:12px}\n"
    ".top .prob{font-weight:bold;margin-left:auto}\n"
    ".status{margin-top:4px;font-weight:bold;color:#c62828}\n"
    ".error{color:#b71c1c;font-family:monospace;font-size:12px;white-space:pre-wrap}\n"
    ".numbers{display:grid;grid-template-columns:max-content 1fr;gap:0 10px;margin:6px 0 0;font-size:12px}\n"
    ".numbers dt{color:#666}.numbers dd{margin:0;font-family:monospace}\n";

static void page_head(FILE *f, const char *dir, const gl_list *l)
{
    int failed = 0;
    for (int i = 0; i < l->n; i++)
        failed += l->e[i].failed;
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' file: data:; "
          "style-src 'unsafe-inline'; script-src '" GALLERY_SCRIPT_SHA256 "'; base-uri 'none'; form-action 'none'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width\">\n<title>cnnviz gallery: ", f);
    html_text(f, base);
    fprintf(f, "</title>\n<style>\n%s</style></head>\n<body data-sort=\"index\">\n<header><h1>cnnviz gallery: ",
            gallery_style);
    html_text(f, base);
    fprintf(f, "</h1>\n<div class=\"summary\"><b id=\"n-cards\">%d</b> images, <b>%d</b> ok, "
               "<b class=\"%s\" id=\"n-failed\">%d</b> failed</div>\n",
            l->n, l->n - failed, failed ? "bad" : "", failed);
    fputs("<div id=\"sorts\">sort: <button data-sort=\"index\">index</button>"
          "<button data-sort=\"score\">score, high first</button>"
          "<button data-sort=\"score-asc\">score, low first</button>"
          "<button data-sort=\"failed\">failures first</button>"
          " <label><input type=\"checkbox\" id=\"onlyfailed\"> failures only</label></div>\n", f);
    if (l->rep->skipped) {
        fprintf(f, "<div class=\"skipped\">%d manifest line%s could not be used; the first: ", l->rep->skipped,
                l->rep->skipped == 1 ? "" : "s");
        html_text(f, l->rep->first_skip);
        fputs("</div>\n", f);
    }
    fputs("</header>\n<main id=\"cards\">\n", f);
}

static cv_status gallery_page(const char *dir, const gl_list *l, cv_error *err)
{
    char path[8192];
    if (snprintf(path, sizeof path, "%s/index.html", dir) >= (int)sizeof path)
        return cv_fail(err, CV_ERR_INVALID, "gallery: the folder name is too long");
    cv_atomic a;
    cv_status s = cv_atomic_open(&a, path, err);
    if (s != CV_OK)
        return s;
    page_head(a.f, dir, l);
    for (int i = 0; i < l->n; i++)
        page_card(a.f, dir, &l->e[i]);
    fprintf(a.f, "</main>\n<script>%s</script>\n</body></html>\n", gallery_script);
    if (ferror(a.f)) {
        cv_atomic_abort(&a);
        return cv_fail(err, CV_ERR_IO, "%s: write error", path);
    }
    return cv_atomic_commit(&a, err);
}

cv_status cv_gallery_write(const char *dir, cv_gallery_report *report, cv_error *err)
{
    cv_gallery_report local;
    cv_gallery_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    if (!dir || !*dir)
        return cv_fail(err, CV_ERR_INVALID, "gallery: no folder given");
    gl_list l = {.rep = rep};
    cv_status s = read_all(&l, dir, err);
    if (s == CV_OK) {
        gallery_dedupe(&l);
        s = gallery_page(dir, &l, err);
    }
    if (s == CV_OK) {
        rep->cards = l.n;
        for (int i = 0; i < l.n; i++)
            rep->failed += l.e[i].failed;
    }
    for (int i = 0; i < l.n; i++)
        entry_free(&l.e[i]);
    free(l.e);
    return s;
}
