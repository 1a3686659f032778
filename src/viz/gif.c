/* Animated GIF writer (GIF89a): one global 256-colour palette, one image
 * per frame with a Graphic Control Extension for its delay, a NETSCAPE2.0
 * block so viewers loop. giflib encodes (LZW, blocks, extensions); this
 * file chooses the palette and maps colours, which giflib leaves to us.
 *
 * Palette: median cut over a 5-5-5-bit colour histogram of the frames (or
 * a fixed 6x7x6 cube when no sample is given), colours mapped through a
 * 32768-entry nearest-colour table. No dithering: it would cost
 * compression and make static parts of an animation shimmer.
 */
#include "cnnviz_render.h"
#include "../core/graph.h"
#include "../io/atomic.h"

#include <errno.h>
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#define CV_HIST_BINS 32768  /* 5 bits per channel */

struct cv_gif {
    cv_atomic file;
    GifFileType *gif;       /* writes into file.f through cv_gif_output */
    int w, h;
    int n_frames;
    uint8_t palette[256][3];
    uint8_t *lut;           /* 15-bit colour -> palette index */
    uint8_t *indices;       /* w * h, one frame */
    int failed;             /* a write failed; cv_gif_end reports it */
};

static inline int cv_bin(const uint8_t *p, int c)
{
    int r = p[0], g = c >= 3 ? p[1] : p[0], b = c >= 3 ? p[2] : p[0];
    return (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3);
}

/* ---- palette: median cut ---------------------------------------------------- */

typedef struct {
    uint32_t count;
    uint64_t sum[3];   /* of the 8-bit colours that fell in the bin */
} cv_bin_stat;

typedef struct {
    int start, end;    /* range in the array of occupied bins */
    uint64_t count;
    int axis, range;   /* longest axis (0 r, 1 g, 2 b) and its extent in bins */
} cv_box;

static int cv_bin_axis(int bin, int axis)
{
    return axis == 0 ? bin >> 10 : axis == 1 ? (bin >> 5) & 31 : bin & 31;
}

/* qsort comparators by one axis, ties by the whole bin for a fixed order */
static int cv_cmp_r(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int cv_cmp_g(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    int d = cv_bin_axis(x, 1) - cv_bin_axis(y, 1);
    return d ? d : x - y;
}
static int cv_cmp_b(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    int d = cv_bin_axis(x, 2) - cv_bin_axis(y, 2);
    return d ? d : x - y;
}

static void cv_box_measure(cv_box *bx, const int *bins, const cv_bin_stat *st)
{
    int lo[3] = {31, 31, 31}, hi[3] = {0, 0, 0};
    bx->count = 0;
    for (int i = bx->start; i < bx->end; i++) {
        bx->count += st[bins[i]].count;
        for (int a = 0; a < 3; a++) {
            int v = cv_bin_axis(bins[i], a);
            lo[a] = v < lo[a] ? v : lo[a];
            hi[a] = v > hi[a] ? v : hi[a];
        }
    }
    bx->axis = 0;
    for (int a = 1; a < 3; a++)
        if (hi[a] - lo[a] > hi[bx->axis] - lo[bx->axis])
            bx->axis = a;
    bx->range = hi[bx->axis] - lo[bx->axis];
}

/* Fills pal with up to 256 colours from the histogram; returns how many. */
static int cv_median_cut(const cv_bin_stat *st, uint8_t pal[256][3], int *bins)
{
    int n_bins = 0;
    for (int i = 0; i < CV_HIST_BINS; i++)
        if (st[i].count)
            bins[n_bins++] = i;
    if (n_bins == 0) {
        memset(pal, 0, 3);
        return 1;
    }
    cv_box boxes[256];
    int n_boxes = 1;
    boxes[0].start = 0;
    boxes[0].end = n_bins;
    cv_box_measure(&boxes[0], bins, st);
    while (n_boxes < 256) {
        /* split the box with the most pixels times extent: big, spread-out
         * boxes first, so both large areas and rare colours get entries */
        int best = -1;
        double best_score = 0;
        for (int k = 0; k < n_boxes; k++) {
            double score = (double)boxes[k].count * boxes[k].range;
            if (boxes[k].end - boxes[k].start >= 2 && boxes[k].range > 0 && score > best_score) {
                best = k;
                best_score = score;
            }
        }
        if (best < 0)
            break;
        cv_box *bx = &boxes[best];
        int (*cmp)(const void *, const void *) = bx->axis == 0 ? cv_cmp_r : bx->axis == 1 ? cv_cmp_g : cv_cmp_b;
        qsort(bins + bx->start, (size_t)(bx->end - bx->start), sizeof *bins, cmp);
        /* split where the running count passes half, keeping both sides non-empty */
        uint64_t half = bx->count / 2, run = 0;
        int cut = bx->start + 1;
        for (int i = bx->start; i < bx->end - 1; i++) {
            run += st[bins[i]].count;
            cut = i + 1;
            if (run >= half)
                break;
        }
        cv_box *nb = &boxes[n_boxes++];
        nb->start = cut;
        nb->end = bx->end;
        bx->end = cut;
        cv_box_measure(bx, bins, st);
        cv_box_measure(nb, bins, st);
    }
    for (int k = 0; k < n_boxes; k++) {
        uint64_t sum[3] = {0, 0, 0}, cnt = 0;
        for (int i = boxes[k].start; i < boxes[k].end; i++) {
            const cv_bin_stat *s = &st[bins[i]];
            cnt += s->count;
            for (int a = 0; a < 3; a++)
                sum[a] += s->sum[a];
        }
        for (int a = 0; a < 3; a++)
            pal[k][a] = (uint8_t)((sum[a] + cnt / 2) / (cnt ? cnt : 1));
    }
    return n_boxes;
}

/* Nearest palette entry for every 15-bit colour (at the bin's centre). */
static void cv_build_lut(uint8_t *lut, const uint8_t pal[256][3], int n_pal)
{
    for (int bin = 0; bin < CV_HIST_BINS; bin++) {
        int r = (bin >> 10) << 3 | 4, g = ((bin >> 5) & 31) << 3 | 4, b = (bin & 31) << 3 | 4;
        int best = 0, best_d = 1 << 30;
        for (int k = 0; k < n_pal; k++) {
            int dr = r - pal[k][0], dg = g - pal[k][1], db = b - pal[k][2];
            /* weights roughly follow the eye's sensitivity */
            int d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
            if (d < best_d) {
                best_d = d;
                best = k;
            }
        }
        lut[bin] = (uint8_t)best;
    }
}

static void cv_cube_palette(uint8_t pal[256][3])
{
    memset(pal, 0, 256 * 3);
    for (int r = 0; r < 6; r++)
        for (int g = 0; g < 7; g++)
            for (int b = 0; b < 6; b++) {
                uint8_t *p = pal[r * 42 + g * 6 + b];
                p[0] = (uint8_t)(r * 51);
                p[1] = (uint8_t)((g * 255 + 3) / 6);
                p[2] = (uint8_t)(b * 51);
            }
    /* the 4 spare entries: greys between the cube's */
    for (int k = 0; k < 4; k++)
        pal[252 + k][0] = pal[252 + k][1] = pal[252 + k][2] = (uint8_t)(25 + 51 * k);
}

/* ---- giflib ------------------------------------------------------------------- */

/* giflib's writer callback: the bytes go to the atomic file, so nothing
 * appears at the path before cv_gif_end commits. */
static int cv_gif_output(GifFileType *gif, const GifByteType *bytes, int n)
{
    cv_atomic *file = gif->UserData;
    return file ? (int)fwrite(bytes, 1, (size_t)n, file->f) : n; /* NULL: a discarded file */
}

/* Screen descriptor with the global palette, then NETSCAPE2.0 (loop forever). */
static int cv_gif_put_header(cv_gif *g)
{
    int e = 0;
    if (!(g->gif = EGifOpen(&g->file, cv_gif_output, &e)))
        return 0;
    EGifSetGifVersion(g->gif, true);
    GifColorType colours[256];
    for (int k = 0; k < 256; k++)
        colours[k] = (GifColorType){g->palette[k][0], g->palette[k][1], g->palette[k][2]};
    ColorMapObject *map = GifMakeMapObject(256, colours);
    int ok = map && EGifPutScreenDesc(g->gif, g->w, g->h, 8, 0, map) == GIF_OK;
    GifFreeMapObject(map);
    static const GifByteType app[11] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
    static const GifByteType loop[3] = {1, 0, 0};
    return ok && EGifPutExtensionLeader(g->gif, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
           EGifPutExtensionBlock(g->gif, 11, app) == GIF_OK && EGifPutExtensionBlock(g->gif, 3, loop) == GIF_OK &&
           EGifPutExtensionTrailer(g->gif) == GIF_OK;
}

/* One frame of g->indices with its delay; disposal: leave in place. */
static int cv_gif_put_frame(cv_gif *g, int delay_cs)
{
    GifByteType gce[4] = {0x04, (GifByteType)(delay_cs & 0xff), (GifByteType)(delay_cs >> 8 & 0xff), 0};
    return EGifPutExtension(g->gif, GRAPHICS_EXT_FUNC_CODE, 4, gce) == GIF_OK &&
           EGifPutImageDesc(g->gif, 0, 0, g->w, g->h, false, NULL) == GIF_OK &&
           EGifPutLine(g->gif, g->indices, g->w * g->h) == GIF_OK;
}

/* Frees giflib's state, which writes the trailer; keep = 0 drops it (the
 * file is being discarded). */
static int cv_gif_close(cv_gif *g, int keep)
{
    if (!g->gif)
        return 0;
    if (!keep)
        g->gif->UserData = NULL;
    int e = 0, ok = EGifCloseFile(g->gif, &e) == GIF_OK;
    g->gif = NULL;
    return ok;
}

/* ---- file structure ------------------------------------------------------------- */

static void cv_hist_add(cv_bin_stat *st, const cv_image *img, size_t stride)
{
    size_t n = (size_t)img->w * img->h;
    for (size_t i = 0; i < n; i += stride) {
        const uint8_t *p = img->px + i * img->c;
        cv_bin_stat *s = &st[cv_bin(p, img->c)];
        s->count++;
        s->sum[0] += p[0];
        s->sum[1] += img->c >= 3 ? p[1] : p[0];
        s->sum[2] += img->c >= 3 ? p[2] : p[0];
    }
}

/* Begin with a palette from frames[0..n) (median cut), or the cube if n == 0. */
static cv_status cv_gif_start(cv_gif **out, const char *path, int w, int h, const cv_image *frames, int n,
                              cv_error *err)
{
    *out = NULL;
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535)
        return cv_fail(err, CV_ERR_INVALID, "%s: GIF frames of %d x %d pixels (expected 1 to 65535 a side)",
                       path, w, h);
    for (int k = 0; k < n; k++)
        if (frames[k].w != w || frames[k].h != h || !frames[k].px || frames[k].c < 1 || frames[k].c > 4)
            return cv_fail(err, CV_ERR_INVALID, "%s: frame %d is %d x %d x %d (expected %d x %d, 1 to 4 channels)",
                           path, k, frames[k].w, frames[k].h, frames[k].c, w, h);
    cv_gif *g = calloc(1, sizeof *g);
    if (!g)
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
    g->w = w;
    g->h = h;
    g->lut = malloc(CV_HIST_BINS);
    g->indices = malloc((size_t)w * h);
    if (!g->lut || !g->indices) {
        cv_gif_abort(g);
        return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
    }
    int n_pal = 256;
    if (n > 0) {
        cv_bin_stat *st = calloc(CV_HIST_BINS, sizeof *st);
        int *bins = malloc(sizeof(int) * CV_HIST_BINS);
        if (!st || !bins) {
            free(st);
            free(bins);
            cv_gif_abort(g);
            return cv_fail(err, CV_ERR_NOMEM, "%s: out of memory", path);
        }
        /* a few million samples are plenty for a palette */
        size_t total = (size_t)w * h * n;
        size_t stride = total > 4000000 ? total / 4000000 : 1;
        for (int k = 0; k < n; k++)
            cv_hist_add(st, &frames[k], stride);
        n_pal = cv_median_cut(st, g->palette, bins);
        free(st);
        free(bins);
    } else {
        cv_cube_palette(g->palette);
        n_pal = 252;
    }
    cv_build_lut(g->lut, (const uint8_t(*)[3])g->palette, n_pal);

    cv_status s = cv_atomic_open(&g->file, path, err);
    if (s != CV_OK) {
        free(g->lut);
        free(g->indices);
        free(g);
        return s;
    }
    if (!cv_gif_put_header(g))
        g->failed = 1;
    *out = g;
    return CV_OK;
}

cv_status cv_gif_begin(cv_gif **out, const char *path, int w, int h, const cv_image *sample, cv_error *err)
{
    if (sample && (sample->w != w || sample->h != h))
        return cv_fail(err, CV_ERR_INVALID, "%s: palette sample is %d x %d, frames are %d x %d", path,
                       sample->w, sample->h, w, h);
    return cv_gif_start(out, path, w, h, sample, sample ? 1 : 0, err);
}

cv_status cv_gif_add(cv_gif *g, const cv_image *frame, int delay_cs, cv_error *err)
{
    if (frame->w != g->w || frame->h != g->h || !frame->px || frame->c < 1 || frame->c > 4)
        return cv_fail(err, CV_ERR_INVALID, "%s: frame %d is %d x %d x %d (expected %d x %d)", g->file.path,
                       g->n_frames, frame->w, frame->h, frame->c, g->w, g->h);
    if (g->failed)
        return cv_fail(err, CV_ERR_IO, "%s: an earlier write failed", g->file.path);
    delay_cs = delay_cs < 0 ? 0 : delay_cs > 65535 ? 65535 : delay_cs;
    size_t n = (size_t)g->w * g->h;
    for (size_t i = 0; i < n; i++)
        g->indices[i] = g->lut[cv_bin(frame->px + i * frame->c, frame->c)];
    if (!cv_gif_put_frame(g, delay_cs)) {
        g->failed = 1;
        return cv_fail(err, CV_ERR_IO, "%s: write failed: %s", g->file.path, strerror(errno));
    }
    g->n_frames++;
    return CV_OK;
}

void cv_gif_abort(cv_gif *g)
{
    if (!g)
        return;
    cv_gif_close(g, 0);
    cv_atomic_abort(&g->file);
    free(g->lut);
    free(g->indices);
    free(g);
}

cv_status cv_gif_end(cv_gif *g, cv_error *err)
{
    if (!g)
        return cv_fail(err, CV_ERR_INVALID, "GIF: no writer");
    cv_status st;
    if (g->failed || !cv_gif_close(g, 1)) {
        st = cv_fail(err, CV_ERR_IO, "%s: write failed", g->file.path);
        cv_gif_abort(g);
        return st;
    }
    if (g->n_frames == 0) {
        st = cv_fail(err, CV_ERR_INVALID, "%s: a GIF needs at least one frame", g->file.path);
        cv_gif_abort(g);
        return st;
    }
    st = cv_atomic_commit(&g->file, err);
    free(g->lut);
    free(g->indices);
    free(g);
    return st;
}

cv_status cv_gif_write(const char *path, const cv_image *frames, int n, int delay_cs, cv_error *err)
{
    if (n <= 0 || !frames)
        return cv_fail(err, CV_ERR_INVALID, "%s: a GIF needs at least one frame", path);
    cv_gif *g;
    cv_status st = cv_gif_start(&g, path, frames[0].w, frames[0].h, frames, n, err);
    if (st != CV_OK)
        return st;
    for (int k = 0; k < n; k++)
        if ((st = cv_gif_add(g, &frames[k], delay_cs, err)) != CV_OK) {
            cv_gif_abort(g);
            return st;
        }
    return cv_gif_end(g, err);
}
