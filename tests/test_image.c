/* Images: PNG of every colour type and depth (written here with libpng),
 * JPEG (written here with libjpeg: RGB, grey, CMYK, progressive), our
 * writers, hostile files (truncated at many lengths, random bytes, absurd
 * dimensions), and bilinear resize against a naive double-precision
 * reference and against PyTorch (tests/fixtures/resize_torch.py). */
#include "cnnviz_io.h"
#include "lib/test.h"
#include "lib/jpegwrite.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>
#include <jpeglib.h>

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* A failed load must say which file, on one line. */
static int clean_error(const cv_error *err, const char *path)
{
    return strstr(err->msg, path) != NULL && strchr(err->msg, '\n') == NULL && err->msg[0];
}

/* ---- PNG writer for the tests (libpng directly) --------------------------- */

static int png_channels(int ctype)
{
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* palette */
    }
}

/* samples: h * w * channels values of `depth` bits each */
static int write_png_samples(const char *path, int w, int h, int depth, int ctype, int interlace,
                             const uint16_t *samples, const png_color *pal, int npal, const png_byte *trns,
                             int ntrns)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    int ch = png_channels(ctype);
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    png_bytep *rows = malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; y++) {
        rows[y] = calloc(rowbytes, 1);
        for (int i = 0; i < w * ch; i++) {
            unsigned v = samples[((size_t)y * w) * ch + i];
            if (depth == 16) {
                rows[y][2 * i] = (png_byte)(v >> 8);
                rows[y][2 * i + 1] = (png_byte)v;
            } else if (depth == 8) {
                rows[y][i] = (png_byte)v;
            } else { /* packed, leftmost pixel in the high bits */
                size_t bit = (size_t)i * depth;
                rows[y][bit / 8] |= (png_byte)(v << (8 - depth - bit % 8));
            }
        }
    }
    png_write_image(png, rows);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    for (int y = 0; y < h; y++)
        free(rows[y]);
    free(rows);
    fclose(f);
    return 1;
}

static int to8(unsigned v, int depth)
{
    if (depth == 16)
        return (int)floor(v * 255.0 / 65535.0 + 0.5);
    return (int)(v * 255 / ((1u << depth) - 1));
}

static void check_png_case(const char *name, int depth, int ctype, int interlace)
{
    enum { W = 13, H = 7 };
    int ch = png_channels(ctype);
    uint16_t s[W * H * 4];
    unsigned maxv = ctype == PNG_COLOR_TYPE_PALETTE ? (1u << depth) - 1 : (1u << depth) - 1;
    png_color pal[256];
    png_byte trns[256];
    int npal = 1 << (depth < 8 ? depth : 8);
    for (int k = 0; k < npal; k++) {
        pal[k].red = (png_byte)(k * 37 + 11);
        pal[k].green = (png_byte)(k * 91 + 3);
        pal[k].blue = (png_byte)(255 - k);
        trns[k] = (png_byte)(k * 5); /* transparency must be ignored */
    }
    for (int i = 0; i < W * H * ch; i++)
        s[i] = (uint16_t)((unsigned)test_uniform(0, (float)maxv + 0.999f) % (maxv + 1));
    const char *path = tmp_path(name);
    int pal_type = ctype == PNG_COLOR_TYPE_PALETTE;
    int gray_trns = ctype == PNG_COLOR_TYPE_GRAY; /* a tRNS chunk on grey too */
    if (!write_png_samples(path, W, H, depth, ctype, interlace, s, pal_type ? pal : NULL, npal,
                           pal_type ? trns : NULL, pal_type ? npal : 0)) {
        CHECK(0, "%s: test writer failed", name);
        return;
    }
    (void)gray_trns;
    cv_image img;
    cv_error err;
    cv_status st = cv_image_load(&img, path, &err);
    CHECK(st == CV_OK, "%s: %s", name, err.msg);
    if (st != CV_OK)
        return;
    CHECK(img.w == W && img.h == H && img.c == 3, "%s: got %dx%dx%d", name, img.w, img.h, img.c);
    int maxd = 0;
    for (int i = 0; i < W * H; i++) {
        int e[3];
        const uint16_t *p = s + (size_t)i * ch;
        if (pal_type) {
            e[0] = pal[p[0]].red, e[1] = pal[p[0]].green, e[2] = pal[p[0]].blue;
        } else if (ch <= 2) {
            e[0] = e[1] = e[2] = to8(p[0], depth);
        } else {
            for (int k = 0; k < 3; k++)
                e[k] = to8(p[k], depth);
        }
        for (int k = 0; k < 3; k++) {
            int d = abs(e[k] - img.px[i * 3 + k]);
            maxd = d > maxd ? d : maxd;
        }
    }
    printf("    png %-18s max diff %d\n", name, maxd);
    CHECK(maxd == 0, "%s: pixels differ by up to %d", name, maxd);
    cv_image_free(&img);
}

static void test_png_colour_types(void)
{
    test_seed(11);
    check_png_case("grey1.png", 1, PNG_COLOR_TYPE_GRAY, 0);
    check_png_case("grey2.png", 2, PNG_COLOR_TYPE_GRAY, 0);
    check_png_case("grey4.png", 4, PNG_COLOR_TYPE_GRAY, 0);
    check_png_case("grey8.png", 8, PNG_COLOR_TYPE_GRAY, 0);
    check_png_case("grey16.png", 16, PNG_COLOR_TYPE_GRAY, 0);
    check_png_case("grey_alpha8.png", 8, PNG_COLOR_TYPE_GRAY_ALPHA, 0);
    check_png_case("grey_alpha16.png", 16, PNG_COLOR_TYPE_GRAY_ALPHA, 0);
    check_png_case("rgb8.png", 8, PNG_COLOR_TYPE_RGB, 0);
    check_png_case("rgb16.png", 16, PNG_COLOR_TYPE_RGB, 0);
    check_png_case("rgba8.png", 8, PNG_COLOR_TYPE_RGB_ALPHA, 0);
    check_png_case("rgba16.png", 16, PNG_COLOR_TYPE_RGB_ALPHA, 0);
    check_png_case("palette1.png", 1, PNG_COLOR_TYPE_PALETTE, 0);
    check_png_case("palette2.png", 2, PNG_COLOR_TYPE_PALETTE, 0);
    check_png_case("palette4.png", 4, PNG_COLOR_TYPE_PALETTE, 0);
    check_png_case("palette8.png", 8, PNG_COLOR_TYPE_PALETTE, 0);
    check_png_case("rgb8_adam7.png", 8, PNG_COLOR_TYPE_RGB, 1);
    check_png_case("palette4_adam7.png", 4, PNG_COLOR_TYPE_PALETTE, 1);
}

/* Our writer for 1 to 4 channels, read back as RGB. */
static void test_png_writer_round_trip(void)
{
    test_seed(12);
    for (int c = 1; c <= 4; c++) {
        cv_image img, back;
        cv_error err;
        REQUIRE(cv_image_alloc(&img, 31, 17, c, &err) == CV_OK, "%s", err.msg);
        for (size_t i = 0; i < (size_t)31 * 17 * c; i++)
            img.px[i] = (uint8_t)test_uniform(0, 256);
        char name[32];
        snprintf(name, sizeof name, "ours_c%d.png", c);
        const char *path = tmp_path(name);
        REQUIRE(cv_image_save_png(&img, path, &err) == CV_OK, "%s", err.msg);
        REQUIRE(cv_image_load(&back, path, &err) == CV_OK, "%s", err.msg);
        int bad = 0;
        for (int i = 0; i < 31 * 17; i++)
            for (int k = 0; k < 3; k++)
                bad += back.px[i * 3 + k] != img.px[i * c + (c >= 3 ? k : 0)];
        printf("    our png, %d channel(s): %d mismatched values\n", c, bad);
        CHECK(bad == 0 && back.w == 31 && back.h == 17, "c=%d: %d mismatches", c, bad);
        cv_image_free(&img);
        cv_image_free(&back);
    }
}

/* Our PNG writer (one fixed filter, Up) read back by libpng itself with
 * every channel, alpha included, exactly: random (incompressible) and
 * smooth pixels, a single pixel, the widest rows allowed. */
static void test_png_writer_all_channels(void)
{
    static const png_uint_32 formats[5] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
    int sizes[][2] = {{1, 1}, {31, 17}, {1000, 700}, {16384, 3}, {3, 5000}};
    test_seed(13);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int c = 1; c <= 4; c++) {
            int w = sizes[s][0], h = sizes[s][1];
            size_t n = (size_t)w * h * c;
            cv_image img;
            cv_error err;
            REQUIRE(cv_image_alloc(&img, w, h, c, &err) == CV_OK, "%s", err.msg);
            for (size_t i = 0; i < n; i++) /* random, or smooth for the tall one */
                img.px[i] = (uint8_t)(h == 5000 ? i / 7 : (size_t)test_uniform(0, 256));
            const char *path = tmp_path("all_channels.png");
            REQUIRE(cv_image_save_png(&img, path, &err) == CV_OK, "%s", err.msg);
            png_image pi;
            memset(&pi, 0, sizeof pi);
            pi.version = PNG_IMAGE_VERSION;
            uint8_t *back = malloc(n);
            bool read = back && png_image_begin_read_from_file(&pi, path);
            if (read) {
                pi.format = formats[c];
                read = pi.width == (png_uint_32)w && pi.height == (png_uint_32)h &&
                       png_image_finish_read(&pi, NULL, back, 0, NULL);
            }
            CHECK(read, "%dx%dx%d: libpng could not read it back (%s)", w, h, c, pi.message);
            CHECK(!read || memcmp(back, img.px, n) == 0, "%dx%dx%d: pixels differ", w, h, c);
            png_image_free(&pi);
            free(back);
            cv_image_free(&img);
        }
}

/* ---- JPEG ------------------------------------------------------------------- */


/* libjpeg's own decode of a file, RGB: the loader must match it exactly */
static uint8_t *libjpeg_decode(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    uint8_t *px = malloc((size_t)*w * *h * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = px + (size_t)cinfo.output_scanline * *w * 3;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return px;
}

static void check_same_as_libjpeg(const char *path, const cv_image *img)
{
    int w, h;
    uint8_t *ref = libjpeg_decode(path, &w, &h);
    if (!ref) {
        CHECK(0, "libjpeg could not read %s", path);
        return;
    }
    CHECK(w == img->w && h == img->h && memcmp(ref, img->px, (size_t)w * h * 3) == 0,
          "%s: differs from libjpeg's own RGB decode", path);
    free(ref);
}

/* smooth test picture: JPEG's error on it is small and predictable */
static void gradient(uint8_t *px, int w, int h, int c)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] =
                    (uint8_t)(127.5 + 120 * sin(0.11 * x * (k + 1) + 0.07 * y + k));
}

static void compare_jpeg(const char *what, const cv_image *img, const uint8_t *ref, int rc, double *mean,
                         int *maxd)
{
    double sum = 0;
    *maxd = 0;
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            int d = abs(img->px[i * 3 + k] - ref[i * rc + (rc == 3 ? k : 0)]);
            sum += d;
            *maxd = d > *maxd ? d : *maxd;
        }
    *mean = sum / (n * 3);
    printf("    jpeg %-22s mean abs diff %.3f, max %d\n", what, *mean, *maxd);
}

static void test_jpeg_decode(void)
{
    enum { W = 40, H = 30 };
    uint8_t rgb[W * H * 3], grey[W * H];
    gradient(rgb, W, H, 3);
    gradient(grey, W, H, 1);
    cv_image img;
    cv_error err;
    double mean;
    int maxd;

    const char *p = tmp_path("rgb.jpg");
    REQUIRE(test_write_jpeg(p, W, H, 3, JCS_RGB, rgb, 95, 0), "writer");
    REQUIRE(cv_image_load(&img, p, &err) == CV_OK, "%s", err.msg);
    CHECK(img.w == W && img.h == H && img.c == 3, "size %dx%dx%d", img.w, img.h, img.c);
    compare_jpeg("rgb q95", &img, rgb, 3, &mean, &maxd);
    CHECK(mean < 4.0 && maxd < 40, "rgb: mean %.2f max %d", mean, maxd);
    check_same_as_libjpeg(p, &img);
    cv_image_free(&img);

    p = tmp_path("progressive.jpg");
    REQUIRE(test_write_jpeg(p, W, H, 3, JCS_RGB, rgb, 95, 1), "writer");
    REQUIRE(cv_image_load(&img, p, &err) == CV_OK, "%s", err.msg);
    compare_jpeg("rgb q95 progressive", &img, rgb, 3, &mean, &maxd);
    CHECK(mean < 4.0 && maxd < 40, "progressive: mean %.2f max %d", mean, maxd);
    check_same_as_libjpeg(p, &img);
    cv_image_free(&img);

    p = tmp_path("grey.jpg");
    REQUIRE(test_write_jpeg(p, W, H, 1, JCS_GRAYSCALE, grey, 95, 0), "writer");
    REQUIRE(cv_image_load(&img, p, &err) == CV_OK, "%s", err.msg);
    int not_grey = 0;
    for (int i = 0; i < W * H; i++)
        not_grey += img.px[3 * i] != img.px[3 * i + 1] || img.px[3 * i] != img.px[3 * i + 2];
    compare_jpeg("grey q95", &img, grey, 1, &mean, &maxd);
    CHECK(not_grey == 0, "grey JPEG gave %d non-grey pixels", not_grey);
    CHECK(mean < 2.0 && maxd < 20, "grey: mean %.2f max %d", mean, maxd);
    check_same_as_libjpeg(p, &img);
    cv_image_free(&img);

    /* CMYK as Adobe writes it (inverted: stored = 255 - ink); libjpeg marks
     * CMYK files with an Adobe segment. Flat colour: RGB = C' K' / 255. */
    uint8_t cmyk[16 * 16 * 4];
    for (int i = 0; i < 16 * 16; i++)
        cmyk[4 * i] = 255, cmyk[4 * i + 1] = 128, cmyk[4 * i + 2] = 64, cmyk[4 * i + 3] = 200;
    p = tmp_path("cmyk.jpg");
    REQUIRE(test_write_jpeg(p, 16, 16, 4, JCS_CMYK, cmyk, 98, 0), "writer");
    REQUIRE(cv_image_load(&img, p, &err) == CV_OK, "%s", err.msg);
    int e[3] = {200, 100, 50};
    maxd = 0;
    for (int i = 0; i < 16 * 16; i++)
        for (int k = 0; k < 3; k++) {
            int d = abs(img.px[3 * i + k] - e[k]);
            maxd = d > maxd ? d : maxd;
        }
    printf("    jpeg cmyk (Adobe, inverted)      max diff from (200,100,50): %d\n", maxd);
    CHECK(maxd <= 3, "CMYK: max diff %d", maxd);
    cv_image_free(&img);
}

static void test_jpeg_writer_round_trip(void)
{
    enum { W = 40, H = 30 };
    cv_image img, back;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, W, H, 3, &err) == CV_OK, "%s", err.msg);
    gradient(img.px, W, H, 3);
    const char *p = tmp_path("ours.jpg");
    REQUIRE(cv_image_save_jpeg(&img, p, 92, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_image_load(&back, p, &err) == CV_OK, "%s", err.msg);
    double mean;
    int maxd;
    compare_jpeg("our writer q92", &back, img.px, 3, &mean, &maxd);
    CHECK(mean < 4.0 && maxd < 40, "mean %.2f max %d", mean, maxd);
    cv_image_free(&back);
    cv_image_free(&img);
}

/* ---- hostile files ----------------------------------------------------------- */

static void check_cuts(const char *what, const char *good_path)
{
    size_t n;
    unsigned char *b = read_all(good_path, &n);
    REQUIRE(b, "cannot read %s", good_path);
    size_t cuts[] = {0, 1, 2, 3, 4, 7, 8, 12, 20, 24, 33, 40, 60, 100, n / 3, n / 2, n - 20, n - 13, n - 12,
                     n - 4, n - 2, n - 1};
    int refused = 0, total = 0;
    const char *p = tmp_path("cut.img");
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        if (cuts[k] >= n)
            continue;
        write_all(p, b, cuts[k]);
        cv_image img;
        cv_error err;
        cv_status st = cv_image_load(&img, p, &err);
        total++;
        if (st != CV_OK && clean_error(&err, p))
            refused++;
        else
            CHECK(0, "%s cut to %zu of %zu bytes: status %d, message '%s'", what, cuts[k], n, st,
                  st == CV_OK ? "" : err.msg);
        if (st == CV_OK)
            cv_image_free(&img);
        if (k == 14)
            printf("    e.g. %s\n", err.msg);
    }
    printf("    %s: %d of %d truncations refused with a one-line message\n", what, refused, total);
    free(b);
}

static void test_truncated_files(void)
{
    enum { W = 50, H = 40 };
    cv_image img;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, W, H, 3, &err) == CV_OK, "%s", err.msg);
    gradient(img.px, W, H, 3);
    REQUIRE(cv_image_save_png(&img, tmp_path("whole.png"), &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_image_save_jpeg(&img, tmp_path("whole.jpg"), 90, &err) == CV_OK, "%s", err.msg);
    REQUIRE(test_write_jpeg(tmp_path("whole_prog.jpg"), W, H, 3, JCS_RGB, img.px, 90, 1), "writer");
    cv_image_free(&img);
    check_cuts("png", tmp_path("whole.png"));
    check_cuts("jpeg", tmp_path("whole.jpg"));
    check_cuts("progressive jpeg", tmp_path("whole_prog.jpg"));
}

static void test_random_and_mutated_files(void)
{
    test_seed(13);
    const char *p = tmp_path("random.img");
    int refused = 0, n = 0;
    unsigned char buf[4096];
    for (int t = 0; t < 300; t++) {
        size_t len = (size_t)test_uniform(0, 4096);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)test_uniform(0, 256);
        if (t % 3 == 1 && len >= 8)
            memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
        if (t % 3 == 2 && len >= 3)
            memcpy(buf, "\xff\xd8\xff", 3);
        write_all(p, buf, len);
        cv_image img;
        cv_error err;
        cv_status st = cv_image_load(&img, p, &err);
        n++;
        if (st != CV_OK && clean_error(&err, p))
            refused++;
        if (st == CV_OK)
            cv_image_free(&img);
    }
    printf("    random bytes: %d of %d files refused cleanly\n", refused, n);
    CHECK(refused == n, "%d random files were accepted or gave a bad message", n - refused);

    /* mutate bytes of valid files: PNG has CRCs, JPEG may still decode;
     * either way the loader must return, not crash */
    cv_image img;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 32, 24, 3, &err) == CV_OK, "%s", err.msg);
    gradient(img.px, 32, 24, 3);
    const char *srcs[2] = {tmp_path("mut.png"), tmp_path("mut.jpg")};
    cv_image_save_png(&img, srcs[0], &err);
    cv_image_save_jpeg(&img, srcs[1], 90, &err);
    cv_image_free(&img);
    for (int s = 0; s < 2; s++) {
        size_t len = 0;
        unsigned char *b = read_all(srcs[s], &len);
        REQUIRE(b && len > 8, "cannot read %s", srcs[s]);
        int ok = 0, bad = 0;
        for (int t = 0; t < 150; t++) {
            unsigned char *m = malloc(len);
            memcpy(m, b, len);
            for (int j = 0; j < 4; j++)
                m[8 + (size_t)test_uniform(0, (float)(len - 8))] = (unsigned char)test_uniform(0, 256);
            write_all(p, m, len);
            cv_status st = cv_image_load(&img, p, &err);
            if (st == CV_OK) {
                ok++;
                cv_image_free(&img);
            } else {
                bad++;
                CHECK(clean_error(&err, p), "bad message: %s", err.msg);
            }
            free(m);
        }
        printf("    mutated %s: %d decoded, %d refused, none crashed\n", s ? "jpeg" : "png", ok, bad);
        free(b);
    }
}

static uint32_t crc32_bytes(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

/* signature + IHDR (w x h RGB8) + empty IDAT + IEND: no pixel data at all */
static size_t fake_png(unsigned char *b, uint32_t w, uint32_t h)
{
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    put32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    put32(b + 16, w);
    put32(b + 20, h);
    b[24] = 8, b[25] = 2, b[26] = 0, b[27] = 0, b[28] = 0;
    put32(b + 29, crc32_bytes(b + 12, 17));
    put32(b + 33, 0);
    memcpy(b + 37, "IDAT", 4);
    put32(b + 41, crc32_bytes(b + 37, 4));
    put32(b + 45, 0);
    memcpy(b + 49, "IEND", 4);
    put32(b + 53, crc32_bytes(b + 49, 4));
    return 57;
}

static void test_absurd_dimensions(void)
{
    uint32_t dims[][2] = {{100000, 100000}, {16385, 1}, {1, 16385}, {0x7fffffff, 0x7fffffff}, {1000000, 3}};
    const char *p = tmp_path("huge.png");
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        unsigned char b[64];
        write_all(p, b, fake_png(b, dims[k][0], dims[k][1]));
        cv_image img;
        cv_error err;
        cv_status st = cv_image_load(&img, p, &err);
        printf("    png %u x %u: %s\n", dims[k][0], dims[k][1], st == CV_OK ? "accepted" : err.msg);
        CHECK(st == CV_ERR_LIMIT && clean_error(&err, p), "status %d: %s", st, err.msg);
        if (st == CV_OK)
            cv_image_free(&img);
    }
    /* a tiny valid header of a sane size is accepted up to the missing data */
    unsigned char b[64];
    write_all(p, b, fake_png(b, 4, 4));
    cv_image img;
    cv_error err;
    cv_status st = cv_image_load(&img, p, &err);
    CHECK(st == CV_ERR_FORMAT, "4x4 PNG without data: status %d (%s)", st, err.msg);

    /* JPEG: patch the frame header of a real file to 60000 x 60000 */
    cv_image small;
    REQUIRE(cv_image_alloc(&small, 16, 16, 3, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_image_save_jpeg(&small, tmp_path("small.jpg"), 90, &err) == CV_OK, "%s", err.msg);
    cv_image_free(&small);
    size_t n;
    unsigned char *j = read_all(tmp_path("small.jpg"), &n);
    REQUIRE(j, "read");
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    REQUIRE(sof, "no SOF0 marker");
    j[sof + 5] = 0xEA, j[sof + 6] = 0x60; /* height 60000 */
    j[sof + 7] = 0xEA, j[sof + 8] = 0x60; /* width 60000 */
    const char *pj = tmp_path("huge.jpg");
    write_all(pj, j, n);
    free(j);
    st = cv_image_load(&img, pj, &err);
    printf("    jpeg 60000 x 60000: %s\n", st == CV_OK ? "accepted" : err.msg);
    CHECK(st == CV_ERR_LIMIT && clean_error(&err, pj), "status %d: %s", st, err.msg);
}

static void test_load_errors(void)
{
    cv_image img;
    cv_error err;
    const char *p = tmp_path("does-not-exist.png");
    CHECK(cv_image_load(&img, p, &err) == CV_ERR_IO && clean_error(&err, p), "%s", err.msg);
    struct {
        const char *name, *bytes;
        size_t n;
        cv_status want;
    } cases[] = {
        {"a.gif", "GIF89a\x01\x00\x01\x00\x00\x00\x00", 13, CV_ERR_UNSUPPORTED},
        {"a.bmp", "BM\x36\x00\x00\x00\x00\x00\x00\x00", 10, CV_ERR_UNSUPPORTED},
        {"a.webp", "RIFF\x10\x00\x00\x00WEBPVP8 ", 16, CV_ERR_UNSUPPORTED},
        {"a.txt", "hello, world\n", 13, CV_ERR_FORMAT},
        {"empty.png", "", 0, CV_ERR_FORMAT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        p = tmp_path(cases[k].name);
        write_all(p, cases[k].bytes, cases[k].n);
        cv_status st = cv_image_load(&img, p, &err);
        printf("    %s\n", err.msg);
        CHECK(st == cases[k].want && clean_error(&err, p), "%s: status %d", cases[k].name, st);
    }
}

static void test_atomic_writes(void)
{
    cv_image img;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 8, 8, 3, &err) == CV_OK, "%s", err.msg);
    /* a directory that does not exist: clean error, nothing written */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.png", tmpdir);
    CHECK(cv_image_save_png(&img, bad, &err) == CV_ERR_IO && clean_error(&err, bad), "%s", err.msg);
    CHECK(cv_image_save_jpeg(&img, bad, 90, &err) == CV_ERR_IO, "%s", err.msg);
    /* overwrite an existing file, then no temporary files are left behind */
    const char *p = tmp_path("over.png");
    write_all(p, "old", 3);
    CHECK(cv_image_save_png(&img, p, &err) == CV_OK, "%s", err.msg);
    cv_image back;
    CHECK(cv_image_load(&back, p, &err) == CV_OK, "overwritten file unreadable: %s", err.msg);
    cv_image_free(&back);
    cv_image_free(&img);
    DIR *d = opendir(tmpdir);
    REQUIRE(d, "opendir");
    int leftovers = 0;
    for (struct dirent *e; (e = readdir(d));)
        leftovers += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    CHECK(leftovers == 0, "%d temporary files left", leftovers);
}

/* ---- resize -------------------------------------------------------------------- */

/* the formula, in double, written out independently of the library */
static double ref_coord(int d, int out, int in, int *i0, int *i1)
{
    double s = (d + 0.5) * in / out - 0.5;
    if (s < 0)
        s = 0;
    if (s > in - 1)
        s = in - 1;
    *i0 = (int)floor(s);
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    return s - *i0;
}

static double ref_bilinear(const float *in, int h, int w, int c, int y, int x, int k, int oh, int ow)
{
    int y0, y1, x0, x1;
    double fy = ref_coord(y, oh, h, &y0, &y1), fx = ref_coord(x, ow, w, &x0, &x1);
#define AT(yy, xx) ((double)in[((size_t)(yy) * w + (xx)) * c + k])
    return (1 - fy) * ((1 - fx) * AT(y0, x0) + fx * AT(y0, x1)) + fy * ((1 - fx) * AT(y1, x0) + fx * AT(y1, x1));
#undef AT
}

static void test_resize_f32_reference(void)
{
    enum { H = 17, W = 23, C = 3 };
    static float in[H * W * C];
    test_seed(14);
    test_fill(in, H * W * C, -1, 1);
    int sizes[][2] = {{5, 7}, {40, 50}, {17, 23}, {1, 1}, {100, 3}, {2, 46}, {34, 46}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int oh = sizes[s][0], ow = sizes[s][1];
        float *out = malloc(sizeof(float) * oh * ow * C), *ref = malloc(sizeof(float) * oh * ow * C);
        for (int i = 0; i < oh * ow * C; i++)
            out[i] = NAN; /* unwritten values show */
        cv_resize_bilinear_f32(out, oh, ow, in, H, W, C);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int k = 0; k < C; k++)
                    ref[(y * ow + x) * C + k] = (float)ref_bilinear(in, H, W, C, y, x, k, oh, ow);
        double d = test_max_abs_diff(out, ref, (size_t)oh * ow * C);
        printf("    f32 %dx%d -> %dx%d: max abs diff vs double reference %.3g\n", H, W, oh, ow, d);
        CHECK(d < 1e-5, "%dx%d: %g", oh, ow, d);
        if (oh == H && ow == W)
            CHECK(test_max_abs_diff(out, in, (size_t)H * W * C) == 0, "identity resize changed values");
        free(out);
        free(ref);
    }
}

static void test_resize_u8_reference(void)
{
    enum { H = 29, W = 37 };
    cv_image in, out;
    cv_error err;
    REQUIRE(cv_image_alloc(&in, W, H, 3, &err) == CV_OK, "%s", err.msg);
    test_seed(15);
    static float inf[H * W * 3];
    for (int i = 0; i < H * W * 3; i++)
        inf[i] = in.px[i] = (uint8_t)test_uniform(0, 256);
    int sizes[][2] = {{16, 11}, {80, 64}, {37, 29}, {224, 224}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int ow = sizes[s][0], oh = sizes[s][1];
        REQUIRE(cv_image_resize(&out, &in, ow, oh, &err) == CV_OK, "%s", err.msg);
        REQUIRE(out.w == ow && out.h == oh && out.c == 3, "size");
        int maxd = 0, off = 0;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int k = 0; k < 3; k++) {
                    double r = ref_bilinear(inf, H, W, 3, y, x, k, oh, ow);
                    int e = (int)floor(r + 0.5);
                    int d = abs(e - out.px[(y * ow + x) * 3 + k]);
                    maxd = d > maxd ? d : maxd;
                    off += d != 0;
                }
        printf("    u8 %dx%d -> %dx%d: max diff %d, %d values off by rounding\n", W, H, ow, oh, maxd, off);
        /* float vs double can only disagree where the value is within
         * float rounding of a .5 boundary */
        CHECK(maxd <= 1 && off <= ow * oh * 3 / 1000 + 1, "max %d, %d off", maxd, off);
        if (ow == W && oh == H)
            CHECK(memcmp(out.px, in.px, (size_t)W * H * 3) == 0, "identity resize changed pixels");
        cv_image_free(&out);
    }
    cv_image_free(&in);
}

/* The library's float formula as it was computed pixel by pixel before
 * the taps and the interpolated rows were kept per call (src/io/image.c):
 * the faster code must give these bytes exactly, not just close ones. */
static void old_tap(int d, double scale, int in, int *i0, int *i1, float *f)
{
    double s = (d + 0.5) * scale - 0.5;
    if (s < 0)
        s = 0;
    *i0 = (int)s;
    if (*i0 >= in - 1) {
        *i0 = *i1 = in - 1;
        *f = 0;
    } else {
        *i1 = *i0 + 1;
        *f = (float)(s - *i0);
    }
}

static void old_resize_u8(uint8_t *o, int oh, int ow, const uint8_t *in, int h, int w, int c)
{
    for (int y = 0; y < oh; y++) {
        int y0, y1, x0, x1;
        float fy, fx;
        old_tap(y, (double)h / oh, h, &y0, &y1, &fy);
        const uint8_t *r0 = in + (size_t)y0 * w * c, *r1 = in + (size_t)y1 * w * c;
        for (int x = 0; x < ow; x++) {
            old_tap(x, (double)w / ow, w, &x0, &x1, &fx);
            for (int k = 0; k < c; k++) {
                float top = r0[x0 * c + k] + (r0[x1 * c + k] - r0[x0 * c + k]) * fx;
                float bot = r1[x0 * c + k] + (r1[x1 * c + k] - r1[x0 * c + k]) * fx;
                float v = top + (bot - top) * fy + 0.5f;
                o[((size_t)y * ow + x) * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
}

static void old_resize_f32(float *o, int oh, int ow, const float *in, int h, int w, int c)
{
    for (int y = 0; y < oh; y++) {
        int y0, y1, x0, x1;
        float fy, fx;
        old_tap(y, (double)h / oh, h, &y0, &y1, &fy);
        const float *r0 = in + (size_t)y0 * w * c, *r1 = in + (size_t)y1 * w * c;
        for (int x = 0; x < ow; x++) {
            old_tap(x, (double)w / ow, w, &x0, &x1, &fx);
            for (int k = 0; k < c; k++) {
                float top = r0[x0 * c + k] + (r0[x1 * c + k] - r0[x0 * c + k]) * fx;
                float bot = r1[x0 * c + k] + (r1[x1 * c + k] - r1[x0 * c + k]) * fx;
                o[((size_t)y * ow + x) * c + k] = top + (bot - top) * fy;
            }
        }
    }
}

/* The antialiased resize as it was written output by output (src/io/image.c
 * before its vertical pass went row by row): weights per axis, then the
 * sums in the same order. */
static void old_aa_axis(int in, int out, int *first, int *count, float *w, int taps)
{
    double scale = (double)in / out, support = scale > 1 ? scale : 1.0, inv = scale > 1 ? 1.0 / scale : 1.0;
    for (int d = 0; d < out; d++) {
        double center = (d + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = hi > in ? in : hi;
        if (hi - lo > taps)
            hi = lo + taps;
        double total = 0, wk[65];
        int n = hi - lo;
        for (int k = 0; k < n && k < 64; k++) {
            double x = (lo + k - center + 0.5) * inv;
            wk[k] = x < 0 ? (x > -1 ? 1 + x : 0) : (x < 1 ? 1 - x : 0);
            total += wk[k];
        }
        first[d] = lo;
        count[d] = n < 64 ? n : 64;
        for (int k = 0; k < taps; k++)
            w[(size_t)d * taps + k] = k < count[d] ? (float)(total > 0 ? wk[k] / total : 0) : 0;
    }
}

static void old_resize_aa(uint8_t *o, int oh, int ow, const uint8_t *in, int h, int w, int c)
{
    int tx = (int)ceil((double)w / ow > 1 ? (double)w / ow : 1) * 2 + 1;
    int ty = (int)ceil((double)h / oh > 1 ? (double)h / oh : 1) * 2 + 1;
    int *fx = malloc(sizeof(int) * ow * 2), *fy = malloc(sizeof(int) * oh * 2);
    float *wx = malloc(sizeof(float) * ow * tx), *wy = malloc(sizeof(float) * oh * ty);
    float *tmp = malloc(sizeof(float) * (size_t)h * ow * c);
    old_aa_axis(w, ow, fx, fx + ow, wx, tx);
    old_aa_axis(h, oh, fy, fy + oh, wy, ty);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < ow; x++)
            for (int k = 0; k < c; k++) {
                float acc = 0;
                for (int t = 0; t < fx[ow + x]; t++)
                    acc += wx[(size_t)x * tx + t] * in[((size_t)y * w + fx[x] + t) * c + k];
                tmp[((size_t)y * ow + x) * c + k] = acc;
            }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int k = 0; k < c; k++) {
                float acc = 0.5f;
                for (int t = 0; t < fy[oh + y]; t++)
                    acc += wy[(size_t)y * ty + t] * tmp[(((size_t)fy[y] + t) * ow + x) * c + k];
                o[((size_t)y * ow + x) * c + k] = (uint8_t)(acc < 0 ? 0 : acc > 255 ? 255 : acc);
            }
    free(fx), free(fy), free(wx), free(wy), free(tmp);
}

static void test_resize_matches_per_pixel_formula(void)
{
    int sizes[][4] = {/* h, w -> oh, ow */ {224, 224, 448, 448}, {224, 224, 336, 300}, {29, 37, 16, 11},
                      {29, 37, 80, 64},    {29, 37, 29, 37},     {1, 1, 5, 3},        {7, 1, 13, 2},
                      {5, 9, 1, 1},        {3, 300, 200, 7},     {64, 48, 64, 97},  {224, 224, 160, 160}, {224, 300, 17, 99}};
    int channels[] = {1, 3, 4};
    cv_error err;
    test_seed(16);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (size_t ci = 0; ci < 3; ci++) {
            int h = sizes[s][0], w = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3], c = channels[ci];
            size_t n = (size_t)h * w * c, on = (size_t)oh * ow * c;
            cv_image in, out;
            REQUIRE(cv_image_alloc(&in, w, h, c, &err) == CV_OK, "%s", err.msg);
            float *inf = malloc(n * sizeof(float)), *of = malloc(on * sizeof(float)),
                  *rf = malloc(on * sizeof(float));
            uint8_t *ref = malloc(on);
            REQUIRE(inf && of && rf && ref, "out of memory");
            for (size_t i = 0; i < n; i++) {
                in.px[i] = (uint8_t)test_uniform(0, 256);
                inf[i] = (float)test_uniform(-3, 3);
            }
            REQUIRE(cv_image_resize(&out, &in, ow, oh, &err) == CV_OK, "%s", err.msg);
            old_resize_u8(ref, oh, ow, in.px, h, w, c);
            CHECK(memcmp(out.px, ref, on) == 0, "u8 %dx%dx%d -> %dx%d differs from the per-pixel formula", h, w,
                  c, oh, ow);
            cv_resize_bilinear_f32(of, oh, ow, inf, h, w, c);
            old_resize_f32(rf, oh, ow, inf, h, w, c);
            CHECK(memcmp(of, rf, on * sizeof(float)) == 0,
                  "f32 %dx%dx%d -> %dx%d differs from the per-pixel formula", h, w, c, oh, ow);
            cv_image_free(&out);
            if (w <= 32 * ow && h <= 32 * oh) {
                REQUIRE(cv_image_resize_antialias(&out, &in, ow, oh, &err) == CV_OK, "%s", err.msg);
                old_resize_aa(ref, oh, ow, in.px, h, w, c);
                CHECK(memcmp(out.px, ref, on) == 0, "antialias %dx%dx%d -> %dx%d differs from the old passes", h,
                      w, c, oh, ow);
                cv_image_free(&out);
            }
            if (oh == h && ow == w) { /* the antialiased resize at the same size gives the input back */
                REQUIRE(cv_image_resize_antialias(&out, &in, ow, oh, &err) == CV_OK, "%s", err.msg);
                CHECK(memcmp(out.px, in.px, n) == 0, "antialias identity changed pixels");
                cv_image_free(&out);
            }
            cv_image_free(&in);
            free(inf);
            free(of);
            free(rf);
            free(ref);
        }
}

static void test_resize_torch(void)
{
    enum { H = 13, W = 17, C = 3 };
    float in[H * W * C];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                in[(y * W + x) * C + c] = (float)(((7 * y + 13 * x + 29 * c) % 97) / 97.0);
    const char *names[2] = {"tests/fixtures/resize_torch_down.npy", "tests/fixtures/resize_torch_up.npy"};
    for (int k = 0; k < 2; k++) {
        cv_shape s;
        float *ref;
        cv_error err;
        REQUIRE(cv_npy_read(names[k], &s, &ref, &err) == CV_OK, "%s", err.msg);
        REQUIRE(s.ndim == 3 && s.d[2] == C, "shape");
        int oh = (int)s.d[0], ow = (int)s.d[1];
        float *out = malloc(sizeof(float) * oh * ow * C);
        cv_resize_bilinear_f32(out, oh, ow, in, H, W, C);
        double d = test_max_abs_diff(out, ref, (size_t)oh * ow * C);
        printf("    torch bilinear %dx%d -> %dx%d: max abs diff %.3g\n", H, W, oh, ow, d);
        CHECK(d < 1e-6, "differs from PyTorch by %g", d);
        free(out);
        free(ref);
    }
}

/* Antialiased shrink against torchvision's antialias=True (float result,
 * rounded by us to 8 bits: at most 1 off). */
static void test_resize_antialias_torch(void)
{
    enum { H = 60, W = 80, C = 3 };
    cv_image in, out;
    cv_error err;
    REQUIRE(cv_image_alloc(&in, W, H, C, &err) == CV_OK, "%s", err.msg);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++)
                in.px[(y * W + x) * C + c] = (uint8_t)(((11 * y + 5 * x + 41 * c) * 37) % 256);
    const char *names[2] = {"tests/fixtures/resize_torch_aa_down.npy", "tests/fixtures/resize_torch_aa_mild.npy"};
    for (int k = 0; k < 2; k++) {
        cv_shape s;
        float *ref;
        REQUIRE(cv_npy_read(names[k], &s, &ref, &err) == CV_OK, "%s", err.msg);
        int oh = (int)s.d[0], ow = (int)s.d[1];
        REQUIRE(cv_image_resize_antialias(&out, &in, ow, oh, &err) == CV_OK, "%s", err.msg);
        double worst = 0;
        for (int i = 0; i < oh * ow * C; i++) {
            double d = fabs(out.px[i] - ref[i]);
            worst = d > worst ? d : worst;
        }
        printf("    antialias %dx%d -> %dx%d vs torch: max abs diff %.3f (8-bit rounding)\n", W, H, ow, oh, worst);
        CHECK(worst <= 0.5 + 1e-3, "differs from torchvision by %g", worst);
        cv_image_free(&out);
        free(ref);
    }
    /* enlarging equals plain bilinear */
    cv_image a, b;
    REQUIRE(cv_image_resize_antialias(&a, &in, 101, 77, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_image_resize(&b, &in, 101, 77, &err) == CV_OK, "%s", err.msg);
    int maxd = 0;
    for (int i = 0; i < 101 * 77 * C; i++)
        maxd = abs(a.px[i] - b.px[i]) > maxd ? abs(a.px[i] - b.px[i]) : maxd;
    printf("    antialias vs bilinear when enlarging: max diff %d\n", maxd);
    CHECK(maxd <= 1, "enlarging differs from bilinear by %d", maxd);
    cv_image_free(&a);
    cv_image_free(&b);
    cv_image_free(&in);
}

static void test_shared_images(void)
{
    const char *dir = test_shared_dir();
    if (!dir)
        SKIP("../shared not present");
    const char *names[] = {"bus.jpg", "index.jpeg", "pic2.jpg", "fish.png", "kitten_224.png"};
    int loaded = 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/images/%s", dir, names[k]);
        if (access(p, R_OK) != 0)
            continue;
        cv_image img;
        cv_error err;
        cv_status st = cv_image_load(&img, p, &err);
        CHECK(st == CV_OK, "%s", err.msg);
        if (st == CV_OK) {
            printf("    %s: %d x %d\n", names[k], img.w, img.h);
            loaded++;
            cv_image_free(&img);
        }
    }
    if (!loaded)
        SKIP("no seed images found");
}

/* cv_image_fit on a 40 x 20 photo whose pixel (x, y) is (x, y, 7): crop
 * to 1:1 keeps columns 10..29, pad to 1:1 adds 10-row bands of the pad
 * colour, squash copies; a 1:2 target crops rows instead. */
static void test_fit(void)
{
    cv_image in;
    cv_error err;
    REQUIRE(cv_image_alloc(&in, 40, 20, 3, &err) == CV_OK, "%s", err.msg);
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 40; x++) {
            uint8_t *q = in.px + ((size_t)y * 40 + x) * 3;
            q[0] = (uint8_t)x, q[1] = (uint8_t)y, q[2] = 7;
        }
    const uint8_t pad[3] = {200, 201, 202};
    cv_image out;
    CHECK(cv_image_fit(&out, &in, 8, 8, CV_FIT_CROP, pad, &err) == CV_OK && out.w == 20 && out.h == 20, "crop %dx%d",
          out.w, out.h);
    CHECK(out.px[0] == 10 && out.px[1] == 0 && out.px[(19 * 20 + 19) * 3] == 29, "crop origin %d", out.px[0]);
    cv_image_free(&out);
    CHECK(cv_image_fit(&out, &in, 8, 8, CV_FIT_PAD, pad, &err) == CV_OK && out.w == 40 && out.h == 40, "pad %dx%d",
          out.w, out.h);
    CHECK(out.px[0] == 200 && out.px[2] == 202 && out.px[(9 * 40) * 3] == 200, "top band");
    CHECK(out.px[(10 * 40 + 5) * 3] == 5 && out.px[(10 * 40 + 5) * 3 + 1] == 0, "photo starts at row 10");
    CHECK(out.px[(30 * 40) * 3 + 1] == 201 && out.px[(29 * 40) * 3 + 1] == 19, "bottom band from row 30");
    cv_image_free(&out);
    CHECK(cv_image_fit(&out, &in, 10, 20, CV_FIT_CROP, pad, &err) == CV_OK && out.w == 10 && out.h == 20,
          "crop 1:2 %dx%d", out.w, out.h);
    CHECK(out.px[0] == 15, "crop 1:2 origin %d", out.px[0]);
    cv_image_free(&out);
    CHECK(cv_image_fit(&out, &in, 8, 8, CV_FIT_SQUASH, pad, &err) == CV_OK && out.w == 40 &&
              memcmp(out.px, in.px, 40 * 20 * 3) == 0, "squash copies");
    cv_image_free(&out);
    cv_fit f;
    CHECK(cv_fit_from_name("pad", &f) == 0 && f == CV_FIT_PAD && cv_fit_from_name("fill", &f) == -1, "names");
    cv_image_free(&in);
}

int main(void)
{
    if (!test_make_tmpdir(tmpdir, sizeof tmpdir, "image"))
        return 1;
    RUN(test_png_colour_types);
    RUN(test_png_writer_round_trip);
    RUN(test_png_writer_all_channels);
    RUN(test_jpeg_decode);
    RUN(test_jpeg_writer_round_trip);
    RUN(test_truncated_files);
    RUN(test_random_and_mutated_files);
    RUN(test_absurd_dimensions);
    RUN(test_load_errors);
    RUN(test_atomic_writes);
    RUN(test_resize_f32_reference);
    RUN(test_resize_u8_reference);
    RUN(test_resize_matches_per_pixel_formula);
    RUN(test_resize_torch);
    RUN(test_resize_antialias_torch);
    RUN(test_shared_images);
    RUN(test_fit);
    test_remove_dir(tmpdir);
    return test_summary("image");
}
