/* Caps that more than one part of the library checks, each defined once.
 *
 * Names. What a user may call is declared in include/ (the public API:
 * cnnviz*.h). Everything declared in a header under src/ is internal to
 * libcnnviz, whatever its prefix: many internals share the public cv_
 * prefix (cv_fail, cv_run_value, ...) for history's sake, and a module's
 * own prefix (occ_, kr_, onnx_) marks the rest. A new internal that crosses
 * files goes into a src/ header, never into include/; one used by a single
 * file is static.
 */
#ifndef CV_LIMITS_H
#define CV_LIMITS_H

#include "cnnviz.h"

/* Inputs and outputs of one node that the executor and the incremental
 * engine hold in fixed arrays; a node with more is CV_ERR_UNSUPPORTED. */
#define CV_NODE_MAX_INPUTS 64
#define CV_NODE_MAX_OUTPUTS 8

/* Most class scores per image that occlusion keeps per position (16 M
 * floats, far past any classifier): a larger output is refused. */
#define CV_MAX_CLASSES ((size_t)1 << 24)

/* Most positions in an automatic occlusion batch: past 64 a batch only
 * costs memory, the convolutions being large matrix products already at
 * 16. */
#define CV_MAX_AUTO_BATCH 64

/* Bytes an automatic batch may plan for: the memory limit max_memory (0 =
 * the memory available now, as everywhere), at most CV_AUTO_BATCH_BYTES. */
static inline size_t cv_auto_batch_bytes(size_t max_memory)
{
    size_t limit = cv_memory_limit(max_memory);
    return limit < CV_AUTO_BATCH_BYTES ? limit : CV_AUTO_BATCH_BYTES;
}

#endif
