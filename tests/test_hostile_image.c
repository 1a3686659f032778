/* Hostile images, each made here at test time (libpng / libjpeg writers,
 * raw bytes, mkfifo), each load run in a forked child under alarm() so a
 * regression that blocks or spins fails instead of hanging, and measured
 * there (CPU time, peak RSS):
 *
 *   - a progressive JPEG of 1000 tiny scans (each one a pass over the
 *     whole image): refused at CV_IMAGE_MAX_JPEG_SCANS, in a fraction of
 *     the time libjpeg takes to decode all of it;
 *   - a PNG bomb: 16384 x 16384 grey zeros, about 260 KB, refused with a
 *     64 MiB limit before the 768 MiB of pixels are allocated;
 *   - a PNG whose zTXt chunks inflate to 7 MB each: skipped unread;
 *   - a JPEG cut in half with an end marker appended (refused) and one
 *     with extraneous bytes before a marker (accepted, as viewers do);
 *   - a FIFO and a directory named as the image. */
#include "cnnviz_io.h"
#include "lib/test.h"
#include "lib/jpegwrite.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TEST_UNDER_VALGRIND() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef TEST_UNDER_VALGRIND
#define TEST_UNDER_VALGRIND() 0
#endif

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

static int write_all(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(b, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Peak-RSS checks, unless valgrind runs us: its shadow memory grows the
 * child's resident set as it writes, whatever the loader allocates. */
static bool rss_measurable(void)
{
    static int said;
    if (!TEST_UNDER_VALGRIND())
        return true;
    if (!said++)
        printf("    (under valgrind: peak RSS printed, not checked)\n");
    return false;
}

/* resident set now, in KiB (ru_maxrss is the peak, in the same unit) */
static long rss_kib_now(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- one load in a forked child ------------------------------------------ */

typedef struct {
    const char *path;
    size_t max_bytes;   /* for cv_image_load_limited; 0 = cv_image_load */
} load_args;

typedef struct {
    cv_status st;
    int w, h;
    uint32_t checksum;  /* of the pixels, when loaded */
    double cpu_s;       /* CPU time of the load */
    long rss_growth_kib;/* peak RSS during the load over the RSS before it */
    char msg[512];
    int hung;           /* killed by the alarm, or died some other way */
} load_result;

static uint32_t pixel_checksum(const cv_image *img)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t k = 0, n = (size_t)img->w * img->h * img->c; k < n; k++)
        h = (h ^ img->px[k]) * 16777619u;
    return h;
}

static void child_load(const load_args *a, int fd)
{
    load_result r;
    memset(&r, 0, sizeof r);
    long rss0 = rss_kib_now();
    double t0 = cpu_seconds();
    cv_image img;
    cv_error err;
    err.msg[0] = 0;
    r.st = a->max_bytes ? cv_image_load_limited(&img, a->path, a->max_bytes, &err)
                        : cv_image_load(&img, a->path, &err);
    r.cpu_s = cpu_seconds() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.rss_growth_kib = ru.ru_maxrss - rss0;
    if (r.st == CV_OK) {
        r.w = img.w;
        r.h = img.h;
        r.checksum = pixel_checksum(&img);
        cv_image_free(&img);
    } else {
        snprintf(r.msg, sizeof r.msg, "%s", err.msg);
    }
    _exit(write(fd, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
}

/* Load in a child that the alarm kills after alarm_s seconds. */
static load_result load_in_child(const char *path, size_t max_bytes, unsigned alarm_s)
{
    load_result r;
    memset(&r, 0, sizeof r);
    r.hung = 1;
    int fds[2];
    if (pipe(fds) != 0)
        return r;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(alarm_s);
        load_args a = {path, max_bytes};
        child_load(&a, fds[1]);
    }
    close(fds[1]);
    load_result got;
    ssize_t n = pid > 0 ? read(fds[0], &got, sizeof got) : -1;
    close(fds[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (n == (ssize_t)sizeof got && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return got;
    if (WIFSIGNALED(status))
        snprintf(r.msg, sizeof r.msg, "child killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (the alarm: the load blocked or ran too long)" : "");
    return r;
}

/* ---- JPEG helpers ------------------------------------------------------------ */

static int write_jpeg(const char *path, int w, int h, int comps, const uint8_t *px, int quality, int progressive)
{
    return test_write_jpeg(path, w, h, comps, comps == 1 ? JCS_GRAYSCALE : JCS_RGB, px, quality, progressive);
}

/* a busy test picture (JPEG data of some size in every scan) */
static void gradient(uint8_t *px, int w, int h, int c)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                px[((size_t)y * w + x) * c + k] = (uint8_t)(x * 7 + y * 3 + k * 50 + (x * y) % 13);
}

/* One scan of a JPEG file: [start, end) holds the tables defined since
 * the previous scan (DHT), the SOS segment and the entropy-coded data. */
typedef struct {
    size_t start, sos, end;
    int ss, ah;  /* spectral start (0 = DC) and successive approximation high bit */
} jpeg_scan;

/* The scans of a well-formed file and where its EOI marker is; the count. */
static int jpeg_find_scans(const uint8_t *b, size_t n, jpeg_scan *scans, int cap, size_t *eoi)
{
    int count = 0;
    size_t pos = 2, since = 2;
    *eoi = n;
    while (pos + 2 <= n && b[pos] == 0xFF) {
        int code = b[pos + 1];
        if (code == 0xD9) {
            *eoi = pos;
            break;
        }
        if (pos + 4 > n)
            break;
        size_t len = (size_t)b[pos + 2] << 8 | b[pos + 3];
        if (code != 0xDA) {
            pos += 2 + len;
            continue;
        }
        size_t q = pos + 2 + len; /* entropy data: up to a marker that is not 0xFF00 or RSTn */
        while (q + 1 < n && !(b[q] == 0xFF && b[q + 1] != 0 && (b[q + 1] < 0xD0 || b[q + 1] > 0xD7)))
            q++;
        if (count < cap) {
            int ns = b[pos + 4];
            scans[count] = (jpeg_scan){since, pos, q, b[pos + 5 + 2 * ns], b[pos + 7 + 2 * ns] >> 4};
        }
        count++;
        since = pos = q;
    }
    return count;
}

/* A flat grey progressive JPEG of side x side with `scans` scans in all:
 * its first AC scan (a DHT, an SOS and a few bytes of end-of-band runs that
 * cover every block) repeated before the EOI. Each repeat makes libjpeg
 * walk all the image's blocks again; libjpeg only warns that the
 * progression is bogus. Returns the file size, 0 on failure. */
static size_t write_many_scan_jpeg(const char *path, int side, int scans)
{
    uint8_t *flat = malloc((size_t)side * side);
    if (!flat)
        return 0;
    memset(flat, 128, (size_t)side * side);
    const char *base = tmp_path("flat_progressive.jpg");
    int ok = write_jpeg(base, side, side, 1, flat, 90, 1);
    free(flat);
    size_t n = 0;
    uint8_t *b = ok ? read_all(base, &n) : NULL;
    if (!b)
        return 0;
    jpeg_scan sc[64];
    size_t eoi;
    int have = jpeg_find_scans(b, n, sc, 64, &eoi), pick = -1;
    for (int k = 1; k < have && k < 64 && pick < 0; k++)
        if (sc[k].ss > 0 && sc[k].ah == 0)
            pick = k;
    size_t size = 0;
    FILE *f = pick >= 0 && scans >= have ? fopen(path, "wb") : NULL;
    if (f) {
        fwrite(b, 1, eoi, f);
        for (int k = have; k < scans; k++)
            fwrite(b + sc[pick].start, 1, sc[pick].end - sc[pick].start, f);
        fwrite(b + eoi, 1, n - eoi, f);
        size = (size_t)ftell(f);
        if (fclose(f) != 0)
            size = 0;
    }
    free(b);
    return size;
}

/* libjpeg's own decode with every warning ignored (what the old loader
 * did): the number of scans it went through, and any "data ends early"
 * warning. Returns false if it failed outright. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int ended_early;
} plain_trap;

static void plain_error_exit(j_common_ptr cinfo) { longjmp(((plain_trap *)cinfo->err)->jb, 1); }
static void plain_emit(j_common_ptr cinfo, int level)
{
    if (level < 0 && (cinfo->err->msg_code == JWRN_HIT_MARKER || cinfo->err->msg_code == JWRN_JPEG_EOF))
        ((plain_trap *)cinfo->err)->ended_early = 1;
}

static bool plain_libjpeg_decode(const char *path, int *scans, int *ended_early)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    struct jpeg_decompress_struct cinfo;
    plain_trap t;
    cinfo.err = jpeg_std_error(&t.pub);
    t.pub.error_exit = plain_error_exit;
    t.pub.emit_message = plain_emit;
    t.ended_early = 0;
    uint8_t *volatile row = NULL;
    if (setjmp(t.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        fclose(f);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    jpeg_start_decompress(&cinfo);
    row = malloc((size_t)cinfo.output_width * cinfo.output_components);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = row;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    *scans = cinfo.input_scan_number;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    fclose(f);
    *ended_early = t.ended_early;
    return true;
}

/* ---- 1. progressive JPEG with 1000 scans ----------------------------------- */

static void test_jpeg_many_scans(void)
{
    enum { SIDE = 2048, SCANS = 1000 };
    const char *p = tmp_path("scans1000.jpg");
    size_t size = write_many_scan_jpeg(p, SIDE, SCANS);
    REQUIRE(size > 0, "could not write %s", p);
    /* the file is what it claims: libjpeg walks all 1000 scans without
     * running out of data */
    double t0 = cpu_seconds();
    int scans = 0, ended_early = 1;
    bool decoded = plain_libjpeg_decode(p, &scans, &ended_early);
    double plain_s = cpu_seconds() - t0;
    printf("    %d x %d grey, %d scans, %zu bytes: libjpeg alone decodes it in %.2f s CPU (%d scans)\n", SIDE, SIDE,
           SCANS, size, plain_s, scans);
    REQUIRE(decoded && scans == SCANS && !ended_early, "test file: decoded %d, %d scans, ended early %d", decoded,
            scans, ended_early);

    load_result r = load_in_child(p, 0, 60);
    printf("    cv_image_load: %.3f s CPU, %s\n", r.cpu_s, r.st == CV_OK ? "accepted" : r.msg);
    char want[64];
    snprintf(want, sizeof want, "more than %d scans", CV_IMAGE_MAX_JPEG_SCANS);
    CHECK(!r.hung && r.st == CV_ERR_LIMIT && strstr(r.msg, p) && strstr(r.msg, want), "status %d: %s", r.st,
          r.msg);
    /* That it refuses early is shown by the message (the scan-count hook
     * fires at scan CV_IMAGE_MAX_JPEG_SCANS + 1, checked at the limit
     * below); the CPU times are printed, not compared: no timing
     * assertions, they fail under sanitizers and on loaded machines. */
    printf("    refusing took %.3f s CPU, decoding all of it %.3f s\n", r.cpu_s, plain_s);

    /* the limit itself: exactly CV_IMAGE_MAX_JPEG_SCANS is a (grey) image,
     * one more is not */
    const char *at = tmp_path("scans_at_limit.jpg"), *over = tmp_path("scans_over_limit.jpg");
    REQUIRE(write_many_scan_jpeg(at, 64, CV_IMAGE_MAX_JPEG_SCANS) && write_many_scan_jpeg(over, 64, CV_IMAGE_MAX_JPEG_SCANS + 1),
            "could not write the limit files");
    load_result ra = load_in_child(at, 0, 10), ro = load_in_child(over, 0, 10);
    printf("    %d scans: %s; %d scans: %s\n", CV_IMAGE_MAX_JPEG_SCANS, ra.st == CV_OK ? "loaded" : ra.msg,
           CV_IMAGE_MAX_JPEG_SCANS + 1, ro.st == CV_OK ? "loaded" : ro.msg);
    CHECK(ra.st == CV_OK && ra.w == 64 && ra.h == 64, "at the limit: status %d (%s)", ra.st, ra.msg);
    CHECK(ro.st == CV_ERR_LIMIT && strstr(ro.msg, want), "over the limit: status %d (%s)", ro.st, ro.msg);
}

/* ---- 2. PNG bomb, zTXt bomb ------------------------------------------------- */

/* A grey PNG of zeros, rows written one at a time (the writer never holds
 * the image), at zlib's best ratio: 16384 x 16384 comes to about 260 KB. */
static int write_zero_grey_png(const char *path, png_uint_32 w, png_uint_32 h)
{
    FILE *f = fopen(path, "wb");
    png_bytep row = calloc(w, 1);
    png_structp png = f && row ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        if (f)
            fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_compression_level(png, 9);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (png_uint_32 y = 0; y < h; y++)
        png_write_row(png, row);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    return fclose(f) == 0;
}

static void test_png_bomb(void)
{
    enum { SIDE = 16384 };
    const size_t limit = (size_t)64 << 20;
    const char *p = tmp_path("bomb.png");
    double t0 = cpu_seconds();
    REQUIRE(write_zero_grey_png(p, SIDE, SIDE), "could not write %s", p);
    struct stat sb;
    REQUIRE(stat(p, &sb) == 0, "stat %s", p);
    printf("    %d x %d grey zeros: %lld bytes (written in %.2f s)\n", SIDE, SIDE, (long long)sb.st_size,
           cpu_seconds() - t0);
    load_result r = load_in_child(p, limit, 30);
    printf("    with a 64 MiB limit: %.3f s CPU, peak RSS +%ld KiB: %s\n", r.cpu_s, r.rss_growth_kib,
           r.st == CV_OK ? "accepted" : r.msg);
    CHECK(!r.hung && r.st == CV_ERR_LIMIT && strstr(r.msg, p) && strstr(r.msg, "16384 x 16384") &&
              strstr(r.msg, "64 MiB"),
          "status %d: %s", r.st, r.msg);
    CHECK(!rss_measurable() || r.rss_growth_kib < 100 * 1024, "peak RSS grew by %ld KiB", r.rss_growth_kib);

    /* the limit decides, not the size: 2048 x 2048 (12 MiB of RGB) loads
     * with 64 MiB and is refused with 8 MiB */
    const char *q = tmp_path("zeros2048.png");
    REQUIRE(write_zero_grey_png(q, 2048, 2048), "could not write %s", q);
    load_result ok = load_in_child(q, limit, 30), small = load_in_child(q, (size_t)8 << 20, 30);
    printf("    2048 x 2048: 64 MiB %s, peak RSS +%ld KiB; 8 MiB: %s\n", ok.st == CV_OK ? "loaded" : ok.msg,
           ok.rss_growth_kib, small.st == CV_OK ? "loaded" : small.msg);
    CHECK(ok.st == CV_OK && ok.w == 2048 && ok.h == 2048, "status %d: %s", ok.st, ok.msg);
    CHECK(small.st == CV_ERR_LIMIT && strstr(small.msg, "8 MiB"), "status %d: %s", small.st, small.msg);
}

/* A progressive JPEG's header claiming 16384 x 16384 over 64 x 64 of data:
 * libjpeg would allocate the whole image's coefficients (512 MiB) on top
 * of our 768 MiB of pixels; the estimate refuses it from the header. */
static void test_jpeg_header_bomb(void)
{
    uint8_t px[64 * 64];
    memset(px, 90, sizeof px);
    const char *small = tmp_path("small_prog.jpg"), *p = tmp_path("bomb_prog.jpg");
    REQUIRE(write_jpeg(small, 64, 64, 1, px, 90, 1), "could not write %s", small);
    size_t n = 0;
    uint8_t *b = read_all(small, &n);
    REQUIRE(b, "read %s", small);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < n && !sof; i++)
        if (b[i] == 0xFF && b[i + 1] == 0xC2)
            sof = i;
    if (sof) {
        b[sof + 5] = 0x40, b[sof + 6] = 0x00; /* height 16384 */
        b[sof + 7] = 0x40, b[sof + 8] = 0x00; /* width 16384 */
    }
    int ok = sof && write_all(p, b, n);
    free(b);
    REQUIRE(ok, "no SOF2 marker in %s", small);
    load_result r = load_in_child(p, (size_t)64 << 20, 30), dflt = load_in_child(p, 0, 30);
    printf("    progressive 16384 x 16384 header, %zu bytes: 64 MiB limit: %.3f s CPU, peak RSS +%ld KiB: %s\n", n,
           r.cpu_s, r.rss_growth_kib, r.msg);
    printf("    default limits: %.3f s CPU, peak RSS +%ld KiB: %s\n", dflt.cpu_s, dflt.rss_growth_kib, dflt.msg);
    CHECK(!r.hung && r.st == CV_ERR_LIMIT && strstr(r.msg, "16384 x 16384") && strstr(r.msg, "64 MiB"),
          "status %d: %s", r.st, r.msg);
    CHECK(!rss_measurable() || r.rss_growth_kib < 100 * 1024, "peak RSS grew by %ld KiB", r.rss_growth_kib);
    CHECK(!dflt.hung && dflt.st != CV_OK, "default limits: accepted a file without its data");
}

/* The estimate from the header covers what libjpeg then allocates: at the
 * smallest limit that loads a progressive image, one byte less is refused
 * by our check ("decoding the ... needs"), never by libjpeg's own cap
 * (mem->max_memory_to_use: "the JPEG decoder needs more than"), which
 * would mean the estimate fell short. */
static void test_jpeg_memory_estimate(void)
{
    enum { W = 1000, H = 700 };
    uint8_t *px = malloc((size_t)W * H * 3);
    REQUIRE(px, "malloc");
    gradient(px, W, H, 3);
    const char *p = tmp_path("estimate.jpg");
    int ok = write_jpeg(p, W, H, 3, px, 90, 1);
    free(px);
    REQUIRE(ok, "could not write %s", p);
    size_t lo = 1, hi = (size_t)256 << 20; /* refused at lo, loads at hi */
    cv_image img;
    cv_error err;
    REQUIRE(cv_image_load_limited(&img, p, hi, &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        cv_status st = cv_image_load_limited(&img, p, mid, &err);
        if (st == CV_OK) {
            cv_image_free(&img);
            hi = mid;
        } else {
            lo = mid;
        }
    }
    cv_status st = cv_image_load_limited(&img, p, lo, &err);
    printf("    progressive %d x %d RGB: loads with %zu bytes (pixels alone %zu); with one less: %s\n", W, H, hi,
           (size_t)W * H * 3, err.msg);
    CHECK(st == CV_ERR_LIMIT && strstr(err.msg, "decoding the 1000 x 700 pixel image needs"), "status %d: %s", st,
          err.msg);
    if (st == CV_OK)
        cv_image_free(&img);
}

/* An 8 x 8 grey PNG carrying `count` zTXt chunks of `text_bytes` each:
 * each compresses about 1000 : 1 and libpng 1.6 by default inflates each
 * one (up to 8 MB) and keeps all of them (up to 1000). */
static int write_ztxt_bomb_png(const char *path, int count, size_t text_bytes)
{
    char *text = malloc(text_bytes + 1);
    png_textp texts = calloc((size_t)count, sizeof *texts);
    FILE *f = text && texts ? fopen(path, "wb") : NULL;
    png_structp png = f ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(text);
        free(texts);
        if (f)
            fclose(f);
        return 0;
    }
    memset(text, 'a', text_bytes);
    text[text_bytes] = 0;
    for (int k = 0; k < count; k++)
        texts[k] = (png_text){.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Comment", .text = text,
                              .text_length = text_bytes};
    png_init_io(png, f);
    png_set_IHDR(png, info, 8, 8, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_text(png, info, texts, count);
    png_write_info(png, info);
    png_byte row[8] = {0, 32, 64, 96, 128, 160, 192, 255};
    for (int y = 0; y < 8; y++)
        png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(text);
    free(texts);
    return fclose(f) == 0;
}

static void test_png_text_bomb(void)
{
    enum { CHUNKS = 20 };
    const size_t text_bytes = 7000000; /* under libpng's default 8 MB per chunk */
    const char *p = tmp_path("ztxt_bomb.png");
    REQUIRE(write_ztxt_bomb_png(p, CHUNKS, text_bytes), "could not write %s", p);
    struct stat sb;
    REQUIRE(stat(p, &sb) == 0, "stat %s", p);
    load_result r = load_in_child(p, 0, 30);
    printf("    8 x 8 grey with %d zTXt chunks of %zu bytes (%lld-byte file): %.3f s CPU, peak RSS +%ld KiB, %s\n",
           CHUNKS, text_bytes, (long long)sb.st_size, r.cpu_s, r.rss_growth_kib,
           r.st == CV_OK ? "loaded" : r.msg);
    CHECK(!r.hung && r.st == CV_OK && r.w == 8 && r.h == 8, "status %d: %s", r.st, r.msg);
    CHECK(!rss_measurable() || r.rss_growth_kib < 16 * 1024, "peak RSS grew by %ld KiB (the text was kept)", r.rss_growth_kib);
}

/* ---- 3. truncated JPEG with an end marker; extraneous bytes ----------------- */

/* The file cut at `cut` with FF D9 (EOI) appended. */
static int write_cut_with_eoi(const char *path, const uint8_t *b, size_t cut)
{
    uint8_t *m = malloc(cut + 2);
    if (!m)
        return 0;
    memcpy(m, b, cut);
    m[cut] = 0xFF;
    m[cut + 1] = 0xD9;
    int ok = write_all(path, m, cut + 2);
    free(m);
    return ok;
}

static void check_cut_with_eoi(const char *what, const char *whole, int progressive)
{
    size_t n = 0;
    uint8_t *b = read_all(whole, &n);
    if (!b) {
        CHECK(0, "read %s", whole);
        return;
    }
    jpeg_scan sc[32];
    size_t eoi;
    int count = jpeg_find_scans(b, n, sc, 32, &eoi), big = 0;
    for (int k = 1; k < count && k < 32; k++)
        if (sc[k].end - sc[k].sos > sc[big].end - sc[big].sos)
            big = k;
    /* in the middle of the largest scan's data: a baseline file's only one */
    size_t cut = progressive ? sc[big].sos + (sc[big].end - sc[big].sos) / 2 : n / 2;
    const char *p = tmp_path("cut_eoi.jpg");
    int ok = count > 0 && cut > sc[big].sos && write_cut_with_eoi(p, b, cut);
    free(b);
    if (!ok) {
        CHECK(0, "could not cut %s", whole);
        return;
    }
    load_result r = load_in_child(p, 0, 10);
    printf("    %s cut at %zu of %zu bytes (scan %d of %d) + EOI: %s\n", what, cut, n, big + 1, count,
           r.st == CV_OK ? "accepted" : r.msg);
    CHECK(!r.hung && r.st == CV_ERR_FORMAT && strstr(r.msg, p) && strstr(r.msg, "JPEG data ends early"),
          "status %d: %s", r.st, r.msg);
}

/* Bytes that are not a marker between the entropy data and the EOI:
 * libjpeg warns (JWRN_EXTRANEOUS_DATA) and decodes the same image. */
static void check_extraneous_bytes(const char *whole)
{
    size_t n = 0;
    uint8_t *b = read_all(whole, &n);
    const uint8_t junk[6] = {0x12, 0x34, 0x56, 0x00, 0x78, 0x9a};
    uint8_t *m = b ? malloc(n + sizeof junk) : NULL;
    if (!m || n < 2 || b[n - 2] != 0xFF || b[n - 1] != 0xD9) {
        CHECK(0, "read %s (%zu bytes, ending in EOI?)", whole, n);
        free(b);
        free(m);
        return;
    }
    memcpy(m, b, n - 2);
    memcpy(m + n - 2, junk, sizeof junk);
    memcpy(m + n - 2 + sizeof junk, b + n - 2, 2);
    const char *p = tmp_path("extraneous.jpg");
    int ok = write_all(p, m, n + sizeof junk);
    free(m);
    free(b);
    if (!ok) {
        CHECK(0, "write %s", p);
        return;
    }
    load_result clean = load_in_child(whole, 0, 10), junky = load_in_child(p, 0, 10);
    printf("    6 extraneous bytes before EOI: %s, pixels %s the clean file's\n",
           junky.st == CV_OK ? "loaded" : junky.msg, junky.checksum == clean.checksum ? "equal to" : "differ from");
    CHECK(clean.st == CV_OK && junky.st == CV_OK && junky.checksum == clean.checksum, "status %d / %d: %s", clean.st,
          junky.st, junky.msg);
}

static void test_jpeg_truncated_with_end_marker(void)
{
    enum { W = 256, H = 192 };
    uint8_t *px = malloc((size_t)W * H * 3);
    REQUIRE(px, "malloc");
    gradient(px, W, H, 3);
    const char *base = tmp_path("whole_base.jpg"), *prog = tmp_path("whole_prog.jpg");
    int ok = write_jpeg(base, W, H, 3, px, 90, 0) && write_jpeg(prog, W, H, 3, px, 90, 1);
    free(px);
    REQUIRE(ok, "could not write the JPEGs");
    check_cut_with_eoi("baseline", base, 0);
    check_cut_with_eoi("progressive", prog, 1);
    check_extraneous_bytes(base);
}

/* ---- 4. FIFO and directory ------------------------------------------------- */

static void test_fifo_and_directory(void)
{
    const char *fifo = tmp_path("image.png"), *dir = tmp_path("photos");
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    REQUIRE(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
    load_result rf = load_in_child(fifo, 0, 5), rd = load_in_child(dir, 0, 5);
    printf("    FIFO: %s\n    directory: %s\n", rf.msg, rd.msg);
    CHECK(!rf.hung && rf.st == CV_ERR_IO && strstr(rf.msg, fifo) && strstr(rf.msg, "FIFO"), "status %d: %s",
          rf.st, rf.msg);
    CHECK(!rd.hung && rd.st == CV_ERR_IO && strstr(rd.msg, dir) && strstr(rd.msg, "is a directory"),
          "status %d: %s", rd.st, rd.msg);
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    if (!test_make_tmpdir(tmpdir, sizeof tmpdir, "hostile-image"))
        return 1;
    RUN(test_jpeg_many_scans);
    RUN(test_png_bomb);
    RUN(test_jpeg_header_bomb);
    RUN(test_jpeg_memory_estimate);
    RUN(test_png_text_bomb);
    RUN(test_jpeg_truncated_with_end_marker);
    RUN(test_fifo_and_directory);
    test_remove_dir(tmpdir);
    return test_summary("hostile_image");
}
