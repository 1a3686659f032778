/* Fuzz target: the image loaders (cv_image_load: PNG through libpng, JPEG
 * through libjpeg-turbo, and the refusal of everything else). A decoded
 * image must be RGB within the size caps; every pixel is read back, and it
 * is resized (both filters) and preprocessed as a model input would be.
 * Loads go through cv_image_load_limited with a 64 MiB limit, as the CLI
 * does with --max-memory: a mutated header claiming 16384 x 16384 must be
 * refused from the header, not decoded into 768 MiB (which would also hit
 * libFuzzer's RSS limit and hide real findings).
 * Seeds: tests/fuzz/corpus/image (small images of every colour type the
 * loader handles) and ../shared/images at run time; tests/fuzz/regress/image
 * holds small hostile files (many-scan and cut JPEGs, header bombs). */
#include "fuzz.h"
#include "cnnviz_io.h"
#include <stdlib.h>

#define CV_FUZZ_IMAGE_MAX_BYTES ((size_t)64 << 20)

int cv_fuzz_image(const uint8_t *data, size_t size)
{
    const char *path = cv_fuzz_file(0, data, size);
    cv_image img;
    cv_error err;
    cv_status st = cv_image_load_limited(&img, path, CV_FUZZ_IMAGE_MAX_BYTES, &err);
    if (st != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_image_load_limited");
        if (img.px)
            cv_fuzz_invariant("cv_image_load_limited", "pixels returned with a failure");
        return 0;
    }
    if (!img.px || img.c != 3 || img.w < 1 || img.h < 1 || img.w > CV_IMAGE_MAX_SIDE ||
        img.h > CV_IMAGE_MAX_SIDE || (int64_t)img.w * img.h > CV_IMAGE_MAX_PIXELS ||
        (size_t)img.w * img.h * 3 > CV_FUZZ_IMAGE_MAX_BYTES)
        cv_fuzz_invariant("cv_image_load_limited", "success with an image outside the limits");
    volatile unsigned sink = 0;
    for (size_t k = 0, n = (size_t)img.w * img.h * 3; k < n; k++)
        sink += img.px[k];
    /* Resize to a small size derived from the input, so both enlarging and
     * shrinking happen across the corpus. */
    int w = 1 + (int)(size % 37), h = 1 + (int)(size / 37 % 29);
    cv_image small;
    if ((st = cv_image_resize(&small, &img, w, h, &err)) != CV_OK) {
        cv_fuzz_check_error(st, &err, "cv_image_resize");
    } else {
        cv_preprocess p;
        if (cv_preprocess_preset(&p, "torch", &err) != CV_OK)
            cv_fuzz_invariant("cv_preprocess_preset", err.msg);
        float *x = malloc(sizeof(float) * 3 * (size_t)w * (size_t)h);
        if (!x)
            cv_fuzz_invariant("harness", "out of memory");
        cv_preprocess_image(&p, &small, 3, (int)(size & 1), x);
        free(x);
        cv_image_free(&small);
    }
    if ((st = cv_image_resize_antialias(&small, &img, w, h, &err)) != CV_OK)
        cv_fuzz_check_error(st, &err, "cv_image_resize_antialias");
    else
        cv_image_free(&small);
    cv_image_free(&img);
    (void)sink;
    return 0;
}

#ifdef CV_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return cv_fuzz_image(data, size); }
#endif
