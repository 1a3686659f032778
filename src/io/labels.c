/* Class names from a labels file or a model's metadata. */
#include "cnnviz_io.h"
#include "file.h"
#include "../core/graph.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Trim one name in place: blanks around it and an "123," / "123:" / "123 "
 * index before it (when `indexed`: file lines, not metadata lists). */
static char *trim_name(char *s, size_t n, bool indexed)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    size_t k = 0;
    while (indexed && k < n && isdigit((unsigned char)s[k]))
        k++;
    if (indexed && k > 0 && k < n && (s[k] == ',' || s[k] == ':' || s[k] == ' ' || s[k] == '\t')) {
        s += k + 1;
        n -= k + 1;
    }
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    s[n] = 0;
    return s;
}

/* Split l->text (len bytes, owned) at sep into names; blank lines are
 * skipped in files, kept (as "") in lists so indices stay right. */
static cv_status split_names(cv_labels *l, size_t len, char sep, bool file, size_t max_bytes, const char *what,
                             cv_error *err)
{
    size_t count = 1;
    for (size_t k = 0; k < len; k++)
        count += l->text[k] == sep;
    size_t index_bytes;
    if (!cv_mul_size(count, sizeof(char *), &index_bytes) || index_bytes > max_bytes - len || count > INT32_MAX) {
        char lim[64];
        return cv_fail(err, CV_ERR_LIMIT, "%s: %zu labels in %zu bytes need more than the memory limit of %s",
                       what, count, len, cv_bytes_str(max_bytes, lim, sizeof lim));
    }
    l->names = malloc(count * sizeof(char *));
    if (!l->names)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory for %zu labels", what, count);
    char *s = l->text, *end = l->text + len;
    while (s <= end) {
        char *e = memchr(s, sep, (size_t)(end - s));
        if (!e)
            e = end;
        char *name = trim_name(s, (size_t)(e - s), file);
        if (!file || *name)
            l->names[l->n++] = name;
        s = e + 1;
    }
    if (l->n == 0)
        return cv_fail(err, CV_ERR_FORMAT, "%s: no class names in it", what);
    return CV_OK;
}

cv_status cv_labels_read(cv_labels *out, const char *path, size_t max_bytes, cv_error *err)
{
    memset(out, 0, sizeof *out);
    max_bytes = cv_memory_limit(max_bytes);
    uint8_t *buf;
    size_t len;
    cv_status st = cv_file_read_all(path, "a labels file", max_bytes - 1, &buf, &len, err);
    if (st != CV_OK)
        return st;
    out->text = (char *)buf;
    if (memchr(buf, 0, len))
        st = cv_fail(err, CV_ERR_FORMAT, "%s: has NUL bytes, not a text file of labels", path);
    else
        st = split_names(out, len, '\n', true, max_bytes, path, err);
    if (st != CV_OK)
        cv_labels_free(out);
    return st;
}

cv_status cv_labels_parse_csv(cv_labels *out, const char *csv, size_t max_bytes, cv_error *err)
{
    memset(out, 0, sizeof *out);
    max_bytes = cv_memory_limit(max_bytes);
    size_t len = strlen(csv);
    if (len >= max_bytes) {
        char lim[64];
        return cv_fail(err, CV_ERR_LIMIT, "labels metadata: %zu bytes, more than the memory limit of %s", len,
                       cv_bytes_str(max_bytes, lim, sizeof lim));
    }
    out->text = malloc(len + 1);
    if (!out->text)
        return cv_fail(err, CV_ERR_NOMEM, "labels metadata: out of memory (%zu bytes)", len);
    memcpy(out->text, csv, len + 1);
    cv_status st = split_names(out, len, ',', false, max_bytes, "labels metadata", err);
    if (st != CV_OK)
        cv_labels_free(out);
    return st;
}

cv_status cv_labels_for_model(cv_labels *out, const cv_model *m, size_t max_bytes, cv_error *err)
{
    memset(out, 0, sizeof *out);
    const char *meta = cv_model_meta(m, "labels");
    if (meta) {
        cv_error why;
        cv_status st = cv_labels_parse_csv(out, meta, max_bytes, &why);
        if (st != CV_OK)
            return cv_fail(err, st, "%s: %s", cv_model_path(m), why.msg);
        return CV_OK;
    }
    const char *mp = cv_model_path(m);
    const char *named = cv_model_meta(m, "labels_file");
    if (named) {
        char p[4096];
        int exists;
        cv_status st = cv_path_beside_model(p, sizeof p, mp, named, "its labels file", &exists, err);
        if (st == CV_OK && !exists)
            st = cv_fail(err, CV_ERR_IO, "%s: labels file %s is missing", cv_model_config_source(m) ? cv_model_config_source(m) : mp, p);
        return st == CV_OK ? cv_labels_read(out, p, max_bytes, err) : st;
    }
    /* A labels file beside the model, when there is one. */
    const char *slash = strrchr(mp, '/');
    int dir_len = slash ? (int)(slash - mp + 1) : 0;
    static const char *const names[] = {"labels.txt", "Labels.txt", "synset.txt", "classes.txt"};
    cv_status first = CV_OK;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char p[4096];
        if (snprintf(p, sizeof p, "%.*s%s", dir_len, mp, names[k]) >= (int)sizeof p || access(p, F_OK) != 0)
            continue;
        cv_error why;
        cv_status st = cv_labels_read(out, p, max_bytes, &why);
        if (st == CV_OK)
            return CV_OK;
        if (first == CV_OK)
            first = cv_fail(err, st, "%s", why.msg);
    }
    return first;
}

void cv_labels_free(cv_labels *l)
{
    if (!l)
        return;
    free(l->names);
    free(l->text);
    memset(l, 0, sizeof *l);
}

/* ---- finding a class by name ------------------------------------------------ */

/* Case-insensitive equality of s with t[0..n). */
static bool same_ci(const char *s, const char *t, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (tolower((unsigned char)s[k]) != tolower((unsigned char)t[k]))
            return false;
    return true;
}

/* The next synonym of a label from *s on ("a, b, c"): its start, its
 * length without surrounding blanks in *len, and *s moved past it; NULL at
 * the end. */
static const char *next_synonym(const char **s, size_t *len)
{
    const char *p = *s;
    while (*p == ' ' || *p == ',')
        p++;
    if (!*p)
        return NULL;
    size_t n = strcspn(p, ",");
    *s = p + n;
    while (n && p[n - 1] == ' ')
        n--;
    *len = n;
    return p;
}

/* How well `name` fits the synonym s[0..n): 0 a whole word of it, 1 a
 * prefix, 2 a substring, 3 + d within edit distance d <= 2; -1 not at all. */
static int fit_score(const char *name, const char *s, size_t n)
{
    size_t len = strlen(name);
    int best = -1;
    for (size_t k = 0; k + len <= n; k++) {
        bool eq = true;
        for (size_t j = 0; j < len && eq; j++)
            eq = tolower((unsigned char)s[k + j]) == tolower((unsigned char)name[j]);
        if (!eq)
            continue;
        bool word = (k == 0 || s[k - 1] == ' ' || s[k - 1] == '-') &&
                    (k + len == n || s[k + len] == ' ' || s[k + len] == '-');
        int sc = word ? 0 : k == 0 ? 1 : 2;
        if (best < 0 || sc < best)
            best = sc;
    }
    if (best >= 0)
        return best;
    if (len > 63 || n > 63) /* longer names are not typos of each other */
        return -1;
    int d = cv_edit_distance(name, len, s, n, true);
    return d <= 2 ? 3 + d : -1;
}

/* Label k's best fit_score over its synonyms, -1 when none fits. */
static int label_score(const char *name, const char *label)
{
    int score = -1;
    size_t len;
    for (const char *s = label, *syn; (syn = next_synonym(&s, &len));) {
        int sc = len ? fit_score(name, syn, len) : -1;
        if (sc >= 0 && (score < 0 || sc < score))
            score = sc;
    }
    return score;
}

enum { SUGGESTIONS = 5 };

/* The labels that fit name best (label_score), best first, ties by index:
 * their indices into best[]; returns how many (at most SUGGESTIONS). */
static int closest_labels(const cv_labels *l, const char *name, int best[SUGGESTIONS])
{
    int best_score[SUGGESTIONS], shown = 0;
    for (int j = 0; j < l->n; j++) {
        int score = label_score(name, l->names[j]);
        if (score < 0 || (shown == SUGGESTIONS && score >= best_score[SUGGESTIONS - 1]))
            continue;
        int at = shown < SUGGESTIONS ? shown++ : SUGGESTIONS - 1;
        while (at > 0 && best_score[at - 1] > score) {
            best[at] = best[at - 1];
            best_score[at] = best_score[at - 1];
            at--;
        }
        best[at] = j;
        best_score[at] = score;
    }
    return shown;
}

int cv_labels_find(const cv_labels *l, const char *name, cv_error *err)
{
    for (int k = 0; k < l->n; k++) {
        const char *s = l->names[k], *syn;
        if (same_ci(name, s, strlen(s)))
            return k;
        size_t len;
        while ((syn = next_synonym(&s, &len)))
            if (len && same_ci(name, syn, len))
                return k;
    }
    int best[SUGGESTIONS];
    int shown = closest_labels(l, name, best);
    if (!shown) {
        cv_fail(err, CV_ERR_INVALID, "unknown class name '%s': no class name is close", name);
        return -1;
    }
    char hint[1024] = "";
    size_t used = 0;
    for (int k = 0; k < shown && used < sizeof hint; k++)
        used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%d '%s'", k ? ", " : "", best[k],
                                 l->names[best[k]]);
    cv_fail(err, CV_ERR_INVALID, "unknown class name '%s'; did you mean %s?", name, hint);
    return -1;
}
