/* Fuzz harnesses for the loaders: each takes one input (bytes) and drives
 * one loader as a hostile file would, then exercises what it returned.
 *
 * Built two ways:
 * - with clang -fsanitize=fuzzer (`make fuzz`, mk/hardening.mk): each
 *   tests/fuzz/fuzz_<name>.c, compiled with -DCV_LIBFUZZER, defines
 *   LLVMFuzzerTestOneInput and is linked alone into build-fuzz/fuzz_<name>;
 * - with the ordinary compiler into tests/test_fuzz_replay (`make check`),
 *   which calls the cv_fuzz_* entry points on the committed regression
 *   inputs (tests/fuzz/regress/<name>/) and seed corpus
 *   (tests/fuzz/corpus/<name>/).
 *
 * A harness returns 0 whatever the loader says: the property under test is
 * that no input crashes, hangs, leaks or trips a sanitizer, and that every
 * refusal comes with a message. A broken invariant (a failure without a
 * message, a success without a model) calls cv_fuzz_invariant, which
 * aborts so that both the fuzzer and the replay test see it.
 *
 * Loaders read files by path, so an input is first written to a scratch
 * file in a private temporary directory (in /dev/shm where there is one),
 * removed when the process exits.
 */
#ifndef CV_FUZZ_H
#define CV_FUZZ_H

#include "cnnviz.h"
#include <stddef.h>
#include <stdint.h>

/* Budgets that keep one execution fast and small: a loaded model may hold
 * this much (cv_load_options.max_memory, which also caps a run's
 * activations), and a run is only executed when its multiply-adds stay
 * under CV_FUZZ_MAX_MACS and its input under CV_FUZZ_MAX_INPUT values. */
#define CV_FUZZ_MAX_MEMORY ((size_t)64 << 20)
#define CV_FUZZ_MAX_MACS 2e7
#define CV_FUZZ_MAX_INPUT 65536

int cv_fuzz_onnx(const uint8_t *data, size_t size);
int cv_fuzz_keras(const uint8_t *data, size_t size);
int cv_fuzz_image(const uint8_t *data, size_t size);
int cv_fuzz_npy(const uint8_t *data, size_t size);

/* ---- shared by the harnesses (fuzz_common.c) ------------------------------- */

/* Write data to the scratch file `slot` (0..3; one per file a harness needs
 * at once) and return a path that opens it. Aborts if that is impossible:
 * the harness cannot run at all then. */
const char *cv_fuzz_file(int slot, const uint8_t *data, size_t size);
/* Abort with a message: an invariant of the API broke. */
void cv_fuzz_invariant(const char *what, const char *detail) __attribute__((noreturn));
/* Check a failed call's error: a known status and a non-empty message. */
void cv_fuzz_check_error(cv_status st, const cv_error *err, const char *what);
/* Read every accessor of a loaded model, then plan, run forward and, when
 * with_grad, backward on a small input within the budgets above. seed
 * makes the input values. */
void cv_fuzz_exercise_model(cv_model *m, int with_grad, uint32_t seed);
/* The directory the harnesses find their templates in (the repository
 * root; CNNVIZ_FUZZ_ROOT overrides). */
const char *cv_fuzz_root(void);

#endif
