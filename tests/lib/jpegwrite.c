/* A JPEG writer for tests: libjpeg directly, so fixtures do not depend on
 * the writer under test (src/io/image.c). */
#include "jpegwrite.h"

int test_write_jpeg(const char *path, int w, int h, int comps, J_COLOR_SPACE cs, const uint8_t *px, int quality,
                    int progressive)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = comps;
    cinfo.in_color_space = cs;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive)
        jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)cinfo.next_scanline * w * comps);
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(f);
    return 1;
}
