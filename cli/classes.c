/* Classes on the command line: --class as an index or a name, and the
 * top-k table that predict and occlusion print. */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

void cli_print_top_classes(const float *scores, int n, const cv_labels *labels, int k)
{
    int *top = malloc(sizeof(int) * (size_t)(k > 0 && k < n ? k : n > 0 ? n : 1));
    if (!top) {
        cli_error("out of memory");
        return;
    }
    int shown = cv_topk(top, k, scores, n > 0 ? (size_t)n : 0);
    for (int rank = 0; rank < shown; rank++) {
        char name[256];
        printf("%3d. %-32s %5d  %.4f\n", rank + 1, cli_printable(cli_label(labels, top[rank]), name, sizeof name),
               top[rank], scores[top[rank]]);
    }
    free(top);
}
