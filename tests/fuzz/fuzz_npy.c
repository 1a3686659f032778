/* Fuzz target: the NumPy .npy reader (cv_npy_read). A file it accepts must
 * give exactly numel(shape) values; they are all read back. Seeds: the
 * .npy fixtures and tests/fuzz/corpus/npy. */
#include "fuzz.h"
#include "cnnviz_io.h"
#include <stdlib.h>

int cv_fuzz_npy(const uint8_t *data, size_t size)
{
    const char *path = cv_fuzz_file(0, data, size);
    cv_shape shape;
    float *x = NULL;
    cv_error err;
    cv_status st = cv_npy_read(path, &shape, &x, &err);
    if (st != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_npy_read");
        if (x)
            cv_fuzz_invariant("cv_npy_read", "data returned with a failure");
        return 0;
    }
    if (!x || shape.ndim < 0 || shape.ndim > CV_MAX_DIMS)
        cv_fuzz_invariant("cv_npy_read", "success without data or with a bad rank");
    size_t n = 1;
    for (int k = 0; k < shape.ndim; k++)
        n *= (size_t)shape.d[k]; /* checked by the reader: the file holds n values */
    if (n != cv_shape_numel(&shape) && !(n == 0 || cv_shape_numel(&shape) == 0))
        cv_fuzz_invariant("cv_npy_read", "shape product disagrees with cv_shape_numel");
    volatile float sink = 0;
    for (size_t k = 0; k < n; k++)
        sink += x[k];
    (void)sink;
    free(x);
    return 0;
}

#ifdef CV_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return cv_fuzz_npy(data, size); }
#endif
