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
    /* A labels file beside the model, when there is one. */
    const char *mp = cv_model_path(m);
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
