/* Atomic file writes for the writers in src/io and src/viz: write to
 * "<path>.tmp-XXXXXX" beside the target, then rename over it, so a killed
 * or failed write never leaves a file that looks complete.
 *
 *     cv_atomic a;
 *     if (cv_atomic_open(&a, path, err) != CV_OK) return err->status;
 *     ... fwrite(..., a.f) ...            (on a failure: cv_atomic_abort(&a))
 *     return cv_atomic_commit(&a, err);   (closes, renames; removes on failure)
 */
#ifndef CV_ATOMIC_H
#define CV_ATOMIC_H

#include "cnnviz.h"
#include <stdio.h>

typedef struct {
    FILE *f;        /* open for writing (binary) */
    char *path;     /* final name (copy) */
    char *tmp;      /* temporary name beside it */
} cv_atomic;

cv_status cv_atomic_open(cv_atomic *a, const char *path, cv_error *err);
/* Close and rename into place. On any failure the temporary file is removed
 * and err names the target. Frees a's strings either way. */
cv_status cv_atomic_commit(cv_atomic *a, cv_error *err);
/* Close and remove the temporary file; safe on a zeroed or aborted a. */
void cv_atomic_abort(cv_atomic *a);

#endif
