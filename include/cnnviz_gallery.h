/* cnnviz gallery: a browsable index.html over a batch run's output folder.
 *
 *     cv_gallery_report rep;
 *     cv_error err;
 *     if (cv_gallery_write("out", &rep, &err) != CV_OK) { ... err.msg ... }
 *     // out/index.html: rep.cards cards, rep.failed of them failed;
 *     // rep.skipped manifest lines could not be used (rep.first_skip says why)
 *
 * The cards come from DIR/manifest.jsonl, or, when that is absent, from the
 * shards' DIR/manifest-K-of-N.jsonl (docs/scale.md; the batch-mode manifest
 * spec): one card per image index, the last line of an index winning (a
 * resumed run appends), in index order. A card shows the thumbnail, the top
 * class and its probability, the command's picture, the "numbers" object
 * as a key/value list and the status; a failed card shows its error. The
 * page sorts by index, by score or failures first (index.html#sort=score,
 * #sort=failed open sorted), needs no network and links only relatively,
 * so the folder can be moved or opened from the file system.
 *
 * The manifest is hostile input. Every string from it is HTML-escaped
 * (bytes that are not UTF-8 become U+FFFD) and never reaches the script,
 * which reads only numbers the library formats itself; links are built
 * from relative paths without ".." and percent-encoded, so no scheme
 * ("javascript:") can be formed. Lines that are not JSON objects, lack
 * "index" or "status", are longer than CV_GALLERY_MAX_LINE or beyond
 * CV_GALLERY_MAX_CARDS are skipped and counted; a manifest that is not a
 * regular file or is larger than CV_GALLERY_MAX_BYTES is an error. The page
 * is written atomically (a temporary file renamed over index.html). */
#ifndef CNNVIZ_GALLERY_H
#define CNNVIZ_GALLERY_H

#include "cnnviz.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CV_GALLERY_MAX_LINE (64 * 1024)           /* bytes in one manifest line */
#define CV_GALLERY_MAX_CARDS 200000               /* distinct images shown */
#define CV_GALLERY_MAX_BYTES ((int64_t)1 << 28)   /* all manifests together (memory: about this much) */
#define CV_GALLERY_MAX_SHARDS 4096                /* manifest-K-of-N.jsonl files read */

typedef struct {
    int cards;            /* cards written (distinct indices) */
    int failed;           /* of them, status "failed" */
    int lines;            /* manifest lines read */
    int skipped;          /* lines that could not be used */
    int manifests;        /* manifest files read */
    char first_skip[512]; /* "manifest.jsonl line 7: not a JSON object", or "" */
} cv_gallery_report;

/* Write DIR/index.html from DIR's manifest(s). report may be NULL.
 * CV_ERR_IO when no manifest is found or a file cannot be read or written;
 * CV_ERR_LIMIT when the manifests exceed CV_GALLERY_MAX_BYTES. */
CV_API cv_status cv_gallery_write(const char *dir, cv_gallery_report *report, cv_error *err);

#ifdef __cplusplus
}
#endif
#endif
