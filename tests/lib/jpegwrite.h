#ifndef CNNVIZ_TEST_JPEGWRITE_H
#define CNNVIZ_TEST_JPEGWRITE_H
#include <stdint.h>
#include <stdio.h>
#include <jpeglib.h>

/* Write px (h rows of w * comps bytes, colour space cs) to path as a JPEG of
 * the given quality, progressive (libjpeg's simple progression) or
 * baseline. 1 on success, 0 when the file cannot be written. */
int test_write_jpeg(const char *path, int w, int h, int comps, J_COLOR_SPACE cs, const uint8_t *px, int quality,
                    int progressive);

#endif
