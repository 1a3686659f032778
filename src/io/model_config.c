/* A model's sidecar: "<model file>.cnnviz.json" beside the model says, once,
 * what the model file itself does not (how to preprocess, its input size,
 * its labels file), so that every command gets the right answer without
 * flags. It carries the keys a model's own metadata can carry and, read
 * at load, takes precedence over them: the person who writes the sidecar
 * knows the model better than a file that says nothing.
 *
 * The sidecar comes with the model, so it is as hostile as the model: it
 * is read size-capped, without following a symbolic link, and every value
 * is checked before it is used; a labels file it names must be a plain
 * file name in the model's own folder.
 */
#include "cnnviz_io.h"
#include "../core/graph.h"
#include "atomic.h"
#include "file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIDECAR_SUFFIX ".cnnviz.json"
#define SIDECAR_MAX_BYTES ((size_t)64 << 10) /* a few keys; more is not a sidecar */
#define SIDECAR_FORMAT 1

char *cv_model_config_path(const char *model_path)
{
    size_t n = strlen(model_path) + sizeof SIDECAR_SUFFIX;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", model_path, SIDECAR_SUFFIX);
    return p;
}

/* One path component naming a file in the model's folder. */
static bool plain_file_name(const char *name)
{
    return name[0] && strchr(name, '/') == NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int cv_model_config_file_name_ok(const char *name)
{
    return plain_file_name(name) && strlen(name) < sizeof(((cv_model_config *)0)->labels);
}

cv_status cv_path_beside_model(char *out, size_t cap, const char *model_path, const char *name, const char *what,
                               int *exists, cv_error *err)
{
    const char *slash = strrchr(model_path, '/');
    int dir_len = slash ? (int)(slash - model_path + 1) : 0;
    *exists = 0;
    if (!plain_file_name(name))
        return cv_fail(err, CV_ERR_INVALID, "%s: %s '%s' is not a file name in the model's folder", model_path,
                       what, name);
    if (snprintf(out, cap, "%.*s%s", dir_len, model_path, name) >= (int)cap)
        return cv_fail(err, CV_ERR_INVALID, "%s: path too long", model_path);
    struct stat st;
    if (lstat(out, &st) != 0)
        /* a name too long for the file system names no file there */
        return errno == ENOENT || errno == ENAMETOOLONG ? CV_OK : cv_fail(err, CV_ERR_IO, "%s: %s", out, strerror(errno));
    /* a link named like a sidecar or labels file must not reach /etc */
    if (S_ISLNK(st.st_mode))
        return cv_fail(err, CV_ERR_INVALID,
                       "%s: %s is a symbolic link (refused: it could lead outside the model's folder)", out, what);
    *exists = 1;
    return CV_OK;
}

/* ---- reading -------------------------------------------------------------- */

static cv_status read_numbers(const cJSON *v, float *out, int max, int *n, bool positive, const char *path,
                              const char *key, cv_error *err)
{
    int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : cJSON_IsNumber(v) ? 1 : 0;
    if (count < 1 || count > max || (max == 3 && count == 2))
        return cv_fail(err, CV_ERR_FORMAT, "%s: \"%s\" must be %s", path, key,
                       max == 3 ? "a number or an array of 3 numbers" : "a number or an array [height, width]");
    for (int k = 0; k < count; k++) {
        const cJSON *x = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, k) : v;
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || fabs(x->valuedouble) > 1e30 ||
            (positive && x->valuedouble <= 0))
            return cv_fail(err, CV_ERR_FORMAT, "%s: \"%s\" holds a value that is not a %snumber", path, key,
                           positive ? "positive " : "finite ");
        out[k] = (float)x->valuedouble;
    }
    *n = count;
    return CV_OK;
}

static cv_status read_string(const cJSON *v, char *out, size_t cap, const char *path, const char *key,
                             cv_error *err)
{
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        return cv_fail(err, CV_ERR_FORMAT, "%s: \"%s\" must be a string of at most %zu bytes", path, key, cap - 1);
    snprintf(out, cap, "%s", v->valuestring);
    return CV_OK;
}

/* One key of the sidecar into c; unknown keys are errors, so a typo
 * ("preprocesss") is not silently a model without preprocessing. */
static cv_status read_key(cv_model_config *c, const cJSON *v, const char *path, cv_error *err)
{
    const char *key = v->string;
    cv_error why;
    if (strcmp(key, "cnnviz_model_config") == 0) {
        if (!cJSON_IsNumber(v) || v->valuedouble != SIDECAR_FORMAT)
            return cv_fail(err, CV_ERR_FORMAT, "%s: format %s is not one this cnnviz reads (%d)", path,
                           cJSON_IsNumber(v) ? "version" : "marker", SIDECAR_FORMAT);
        return CV_OK;
    }
    if (strcmp(key, "preprocess") == 0) {
        cv_preprocess p;
        if (read_string(v, c->preprocess, sizeof c->preprocess, path, key, err) != CV_OK)
            return err->status;
        if (cv_preprocess_preset(&p, c->preprocess, &why) != CV_OK)
            return cv_fail(err, CV_ERR_FORMAT, "%s: %s", path, why.msg);
        return CV_OK;
    }
    if (strcmp(key, "channel_order") == 0) {
        if (read_string(v, c->channel_order, sizeof c->channel_order, path, key, err) != CV_OK)
            return err->status;
        if (strcmp(c->channel_order, "RGB") != 0 && strcmp(c->channel_order, "BGR") != 0)
            return cv_fail(err, CV_ERR_FORMAT, "%s: \"channel_order\" must be \"RGB\" or \"BGR\"", path);
        return CV_OK;
    }
    if (strcmp(key, "mean") == 0)
        return read_numbers(v, c->mean, 3, &c->n_mean, false, path, key, err);
    if (strcmp(key, "std") == 0)
        return read_numbers(v, c->std, 3, &c->n_std, true, path, key, err);
    if (strcmp(key, "input_size") == 0) {
        float hw[2];
        int n;
        if (read_numbers(v, hw, 2, &n, true, path, key, err) != CV_OK)
            return err->status;
        if (n == 1)
            hw[1] = hw[0];
        if (hw[0] != floorf(hw[0]) || hw[1] != floorf(hw[1]) || hw[0] > 65536 || hw[1] > 65536)
            return cv_fail(err, CV_ERR_FORMAT, "%s: \"input_size\" must be whole pixels, at most 65536", path);
        c->height = (int)hw[0], c->width = (int)hw[1];
        return CV_OK;
    }
    if (strcmp(key, "labels") == 0) {
        if (read_string(v, c->labels, sizeof c->labels, path, key, err) != CV_OK)
            return err->status;
        if (!cv_model_config_file_name_ok(c->labels))
            return cv_fail(err, CV_ERR_FORMAT, "%s: \"labels\" must name a file in the model's folder (no '/')",
                           path);
        return CV_OK;
    }
    return cv_fail(err, CV_ERR_FORMAT,
                   "%s: unknown key \"%.64s\" (known: preprocess, channel_order, mean, std, input_size, labels)",
                   path, key);
}

/* Mean, std and channel order refine a preset: without one they would
 * silently not apply (cv_preprocess_auto assumes a preset then). */
static cv_status check_complete(const cv_model_config *c, const char *path, cv_error *err)
{
    if (!c->preprocess[0] && (c->n_mean || c->n_std || c->channel_order[0]))
        return cv_fail(err, CV_ERR_FORMAT, "%s: \"mean\", \"std\" and \"channel_order\" need \"preprocess\" too",
                       path);
    return CV_OK;
}

cv_status cv_model_config_read(cv_model_config *c, const char *model_path, int *found, cv_error *err)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    char *path = cv_model_config_path(model_path);
    if (!path)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char beside[4096];
    int exists;
    uint8_t *text = NULL;
    size_t len = 0;
    cv_error why;
    cv_status st = cv_path_beside_model(beside, sizeof beside, model_path, name, "its sidecar", &exists, &why);
    if (st == CV_OK && !exists) {
        free(path);
        return CV_OK; /* no sidecar: the model says all there is */
    }
    if (st == CV_OK)
        st = cv_file_read_all(beside, "a model sidecar (JSON)", SIDECAR_MAX_BYTES, &text, &len, &why);
    cJSON *doc = st == CV_OK ? cJSON_ParseWithLength((const char *)text, len) : NULL;
    if (st == CV_OK && !cJSON_IsObject(doc))
        st = cv_fail(&why, CV_ERR_FORMAT, "%s: not a JSON object", path);
    for (const cJSON *v = doc ? doc->child : NULL; st == CV_OK && v; v = v->next)
        st = read_key(c, v, path, &why);
    if (st == CV_OK)
        st = check_complete(c, path, &why);
    cJSON_Delete(doc);
    free(text);
    free(path);
    if (st != CV_OK) {
        memset(c, 0, sizeof *c);
        return cv_fail(err, st, "%s", why.msg);
    }
    *found = 1;
    return CV_OK;
}

/* ---- writing -------------------------------------------------------------- */

static bool add_numbers(cJSON *o, const char *key, const float *v, int n)
{
    if (n == 1)
        return cJSON_AddNumberToObject(o, key, v[0]) != NULL;
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int k = 0; a && k < n; k++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateNumber(v[k])))
            return false;
    return a != NULL;
}

static cJSON *config_json(const cv_model_config *c)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddNumberToObject(o, "cnnviz_model_config", SIDECAR_FORMAT);
    if (ok && c->preprocess[0])
        ok = cJSON_AddStringToObject(o, "preprocess", c->preprocess) != NULL;
    if (ok && c->channel_order[0])
        ok = cJSON_AddStringToObject(o, "channel_order", c->channel_order) != NULL;
    if (ok && c->n_mean)
        ok = add_numbers(o, "mean", c->mean, c->n_mean);
    if (ok && c->n_std)
        ok = add_numbers(o, "std", c->std, c->n_std);
    float hw[2] = {(float)c->height, (float)c->width};
    if (ok && c->height)
        ok = add_numbers(o, "input_size", hw, 2);
    if (ok && c->labels[0])
        ok = cJSON_AddStringToObject(o, "labels", c->labels) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cv_status cv_model_config_write(const cv_model_config *c, const char *model_path, cv_error *err)
{
    char *path = cv_model_config_path(model_path);
    if (!path)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    cv_status st = check_complete(c, path, err);
    if (st == CV_OK && c->labels[0] && !cv_model_config_file_name_ok(c->labels))
        st = cv_fail(err, CV_ERR_INVALID, "labels '%s': a file name in the model's folder (no '/')", c->labels);
    cJSON *doc = st == CV_OK ? config_json(c) : NULL;
    char *text = doc ? cJSON_Print(doc) : NULL;
    if (st == CV_OK && !text)
        st = cv_fail(err, CV_ERR_NOMEM, "out of memory");
    cv_atomic a = {0};
    if (st == CV_OK && (st = cv_atomic_open(&a, path, err)) == CV_OK) {
        if (fputs(text, a.f) < 0 || fputc('\n', a.f) < 0) {
            cv_atomic_abort(&a);
            st = cv_fail(err, CV_ERR_IO, "%s: write failed", path);
        } else {
            st = cv_atomic_commit(&a, err);
        }
    }
    cJSON_free(text);
    cJSON_Delete(doc);
    free(path);
    return st;
}

/* ---- applying it at load -------------------------------------------------- */

static cv_status put_numbers(cv_model *m, const char *key, const float *v, int n, cv_error *err)
{
    char buf[96] = "";
    if (n == 1)
        snprintf(buf, sizeof buf, "%.9g", v[0]);
    else if (n)
        snprintf(buf, sizeof buf, "%.9g,%.9g,%.9g", v[0], v[1], v[2]);
    return cv_model_put_meta(m, key, n ? buf : NULL, err);
}

cv_status cv_model_apply_config(cv_model *m, cv_error *err)
{
    cv_model_config c;
    int found;
    cv_status st = cv_model_config_read(&c, m->path, &found, err);
    if (st != CV_OK || !found)
        return st;
    /* A preset declared here owns the whole recipe: the model's own mean,
     * std or channel order were meant for its own preset. */
    if (c.preprocess[0] &&
        ((st = cv_model_put_meta(m, "preprocess", c.preprocess, err)) != CV_OK ||
         (st = cv_model_put_meta(m, "channel_order", c.channel_order[0] ? c.channel_order : NULL, err)) != CV_OK ||
         (st = put_numbers(m, "mean", c.mean, c.n_mean, err)) != CV_OK ||
         (st = put_numbers(m, "std", c.std, c.n_std, err)) != CV_OK))
        return st;
    char hw[32];
    snprintf(hw, sizeof hw, "%d,%d", c.height, c.width);
    if (c.height && (st = cv_model_put_meta(m, "input_size", hw, err)) != CV_OK)
        return st;
    if (c.labels[0] && ((st = cv_model_put_meta(m, "labels", NULL, err)) != CV_OK ||
                        (st = cv_model_put_meta(m, "labels_file", c.labels, err)) != CV_OK))
        return st;
    m->config_path = cv_model_config_path(m->path);
    return m->config_path ? CV_OK : cv_fail(err, CV_ERR_NOMEM, "out of memory");
}

const char *cv_model_config_source(const cv_model *m) { return m->config_path; }
