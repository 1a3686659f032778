/* Classes on the command line: --class as an index or a name, and the
 * top-k table that predict and occlusion print. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_resolve_class(const char *spec, const cv_labels *labels, int *target)
{
    *target = -1;
    if (!spec)
        return true;
    char *end;
    errno = 0;
    long k = strtol(spec, &end, 10);
    if (!errno && end != spec && !*end) {
        if (k < 0 || k > 1000000) {
            cli_usage_error("--class %ld is out of range", k);
            return false;
        }
        *target = (int)k;
        return true;
    }
    if (!labels->n) {
        cli_usage_error("--class '%s' is a name, but the model has no class names (pass --labels FILE or an index)", spec);
        return false;
    }
    cv_error err;
    int found = cv_labels_find(labels, spec, &err);
    if (found < 0) {
        cli_usage_error("--class: %s (see --labels, or pass an index)", err.msg);
        return false;
    }
    *target = found;
    return true;
}

/* f gets s as one CSV field: quoted, with its quotes doubled. */
static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_table(FILE *f, const int *top, int shown, const float *scores, const cv_labels *labels)
{
    int width = 4;
    for (int rank = 0; rank < shown; rank++) {
        char name[256];
        int len = (int)strlen(cli_printable(cli_label(labels, top[rank]), name, sizeof name));
        width = len > width ? len : width;
    }
    width = width < CLI_NAME_COLUMN ? width : CLI_NAME_COLUMN;
    for (int rank = 0; rank < shown; rank++) {
        char name[256];
        cli_printable(cli_label(labels, top[rank]), name, sizeof name);
        if ((int)strlen(name) > width)
            memcpy(name + width - 3, "...", 4);
        fprintf(f, "%3d. %-*s %6d  %.4f\n", rank + 1, width, name, top[rank], scores[top[rank]]);
    }
}

static bool write_json(FILE *f, const int *top, int shown, int n, const float *scores, const cv_labels *labels,
                       const cli_top_context *ctx)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
    char buf[1024];
    if (!o || !list) {
        cJSON_Delete(o);
        cJSON_Delete(list);
        return false;
    }
    cJSON_AddStringToObject(o, "image", cli_json_text(ctx && ctx->image ? ctx->image : "", buf, sizeof buf));
    cJSON_AddNumberToObject(o, "classes", n);
    cJSON_AddBoolToObject(o, "softmax", ctx && ctx->softmax);
    cJSON_AddBoolToObject(o, "preprocessing_assumed", ctx && ctx->assumed);
    cJSON_AddItemToObject(o, "top", list);
    for (int rank = 0; rank < shown; rank++) {
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddNumberToObject(e, "rank", rank + 1);
        cJSON_AddNumberToObject(e, "index", top[rank]);
        if (labels->n)
            cJSON_AddStringToObject(e, "label", cli_json_text(cli_label(labels, top[rank]), buf, sizeof buf));
        else
            cJSON_AddNullToObject(e, "label");
        cJSON_AddNumberToObject(e, "probability", scores[top[rank]]);
        cJSON_AddItemToArray(list, e);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return false;
    fprintf(f, "%s\n", text);
    cJSON_free(text);
    return true;
}

bool cli_write_top_classes(FILE *f, cli_top_format format, const float *scores, int n, const cv_labels *labels,
                           int k, const cli_top_context *ctx)
{
    int *top = malloc(sizeof(int) * (size_t)(k > 0 && k < n ? k : n > 0 ? n : 1));
    if (!top) {
        cli_error("out of memory");
        return false;
    }
    int shown = cv_topk(top, k, scores, n > 0 ? (size_t)n : 0);
    bool ok = true;
    if (format == CLI_TOP_TEXT) {
        write_table(f, top, shown, scores, labels);
    } else if (format == CLI_TOP_CSV) {
        fputs("rank,index,label,probability\n", f);
        for (int rank = 0; rank < shown; rank++) {
            fprintf(f, "%d,%d,", rank + 1, top[rank]);
            char name[256];
            csv_field(f, labels->n ? cli_printable(cli_label(labels, top[rank]), name, sizeof name) : "");
            fprintf(f, ",%.9g\n", scores[top[rank]]);
        }
    } else {
        ok = write_json(f, top, shown, n, scores, labels, ctx);
        if (!ok)
            cli_error("out of memory");
    }
    free(top);
    return ok;
}

void cli_print_top_classes(const float *scores, int n, const cv_labels *labels, int k)
{
    cli_write_top_classes(stdout, CLI_TOP_TEXT, scores, n, labels, k, NULL);
}
