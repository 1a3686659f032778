/* cnnviz gallery: DIR/index.html over a batch run's output folder (its
 * manifest.jsonl, or the shards' manifest-K-of-N.jsonl), for browsing the
 * results of many images at once. The page is cv_gallery_write's. */
#include "cli.h"
#include "cnnviz_gallery.h"
#include <stdio.h>

static const cli_opt opts[] = {
    {"out", NULL, "DIR", NULL, "the batch run's output folder (holds manifest.jsonl); index.html is written there"},
    {NULL},
};
static const cli_opt *const groups[] = {opts, NULL};

static int run(const cli_args *a)
{
    const char *dir = cli_require(a, "out");
    if (!dir)
        return CLI_EXIT_USAGE;
    cv_gallery_report rep;
    cv_error err;
    if (cv_gallery_write(dir, &rep, &err) != CV_OK)
        return cli_fail(&err);
    if (rep.skipped)
        cli_warning("%d of %d manifest lines could not be used (the first: %s)", rep.skipped, rep.lines,
                    rep.first_skip);
    printf("wrote %s/index.html: %d image%s, %d failed, from %d manifest%s\n", dir, rep.cards,
           rep.cards == 1 ? "" : "s", rep.failed, rep.manifests, rep.manifests == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

const cli_cmd cli_cmd_gallery = {
    .name = "gallery",
    .summary = "an HTML page of a batch run's results (index.html in --out)",
    .description = "Reads --out's manifest.jsonl (or, when there is none, the shards' manifest-K-of-N.jsonl) "
                   "and writes --out/index.html: one card per image with its thumbnail, top class, the "
                   "command's picture, key numbers and status; failed images show their error. Sort by "
                   "score or failures in the page; it needs no network and links relatively, so the folder "
                   "can be moved or opened from the file system. Manifest lines that cannot be used are "
                   "skipped with a warning.",
    .groups = groups,
    .run = run,
};
