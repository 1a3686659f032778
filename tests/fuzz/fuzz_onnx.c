/* Fuzz target: the ONNX loader (cv_model_load on ONNX bytes), then, when a
 * model loads, every accessor and a small planned run (forward, and
 * backward for half the inputs) within the budgets of fuzz.h.
 *
 * Inputs that start with the HDF5 signature are skipped: cv_model_load
 * would hand them to libhdf5, whose parser has known memory-safety bugs on
 * byte-mutated files (see docs/robustness.md); fuzz_keras.c covers our side
 * of the Keras path with well-formed HDF5 files instead.
 *
 * Seeds: tests/fixtures/onnx, tests/fuzz/corpus/onnx (with nested If /
 * Loop graphs, a FunctionProto and nested sequence / map / optional types,
 * so that mutations reach the nesting scan of src/io/onnx_wire.c), the
 * bundled models, the ONNX backend test models (libonnx-testdata) and
 * ../shared/models (read at run time, never copied). */
#include "fuzz.h"
#include <string.h>

int cv_fuzz_onnx(const uint8_t *data, size_t size)
{
    static const uint8_t hdf5_magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && memcmp(data, hdf5_magic, 8) == 0)
        return 0;
    const char *path = cv_fuzz_file(0, data, size);
    cv_load_options opt = {0};
    opt.max_memory = CV_FUZZ_MAX_MEMORY;
    cv_model *m = NULL;
    cv_error err;
    cv_status st = cv_model_load(&m, path, &opt, &err);
    if (st != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_model_load (onnx)");
        if (m)
            cv_fuzz_invariant("cv_model_load (onnx)", "a model returned with a failure");
        return 0;
    }
    if (!m)
        cv_fuzz_invariant("cv_model_load (onnx)", "success without a model");
    /* The parity of the size picks forward only or forward + backward, so
     * that both stay covered without doubling every execution. */
    uint32_t seed = 0;
    for (size_t k = 0; k < size && k < 64; k++)
        seed = seed * 31 + data[k];
    cv_fuzz_exercise_model(m, (int)(size & 1), seed);
    cv_model_free(m);
    return 0;
}

#ifdef CV_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return cv_fuzz_onnx(data, size); }
#endif
