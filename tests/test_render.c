/* Rendering: colour maps against points of the published tables, heatmap
 * layout and colours at known places, text, grid, overlays, label maps,
 * captions; GIF files parsed back block by block and LZW-decoded by an
 * independent decoder written here. */
#include "cnnviz_render.h"
#include "lib/test.h"
#include "../src/viz/render_internal.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static const uint8_t *pix(const cv_image *img, int x, int y)
{
    return img->px + ((size_t)y * img->w + x) * img->c;
}

static int same_rgb(const uint8_t *a, const uint8_t *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

static int is_white(const uint8_t *p)
{
    return p[0] == 255 && p[1] == 255 && p[2] == 255;
}

/* ---- colour maps ---------------------------------------------------------------- */

/* Entries of the published 256-entry tables (seaborn rocket, matplotlib
 * viridis and magma) that are NOT among the fit's knots: held-out points. */
typedef struct {
    int index;
    float rgb[3];
} ref_point;

static const ref_point rocket_ref[] = {
    {48, {0.28144375f, 0.11104133f, 0.2835489f}},  {80, {0.48426077f, 0.12036349f, 0.35010104f}},
    {112, {0.69803757f, 0.08897226f, 0.3462986f}}, {144, {0.87507281f, 0.18587368f, 0.26529697f}},
    {176, {0.94914549f, 0.42038251f, 0.28780969f}}, {208, {0.96372785f, 0.63843852f, 0.47905028f}},
    {240, {0.97169389f, 0.83320847f, 0.73716071f}},
};
static const ref_point viridis_ref[] = {
    {48, {0.258965f, 0.251537f, 0.524736f}},  {80, {0.199430f, 0.387607f, 0.554642f}},
    {96, {0.172719f, 0.448791f, 0.557885f}},  {112, {0.149039f, 0.508051f, 0.557250f}},
    {144, {0.120638f, 0.625828f, 0.533488f}}, {176, {0.246070f, 0.738910f, 0.452024f}},
    {224, {0.678489f, 0.863742f, 0.189503f}},
};
static const ref_point magma_ref[] = {
    {80, {0.414709f, 0.110431f, 0.504662f}},  {96, {0.512831f, 0.148179f, 0.507648f}},
    {128, {0.716387f, 0.214982f, 0.475290f}}, {160, {0.904281f, 0.319610f, 0.388137f}},
    {192, {0.986700f, 0.535582f, 0.382210f}}, {224, {0.996898f, 0.769591f, 0.534892f}},
    {240, {0.992440f, 0.884330f, 0.640099f}},
};

static int check_cmap_points(cv_cmap cm, const ref_point *ref, int n)
{
    int maxd = 0;
    for (int i = 0; i < n; i++) {
        uint8_t rgb[3];
        cv_cmap_rgb(cm, ref[i].index / 255.0f, rgb);
        for (int k = 0; k < 3; k++) {
            int d = abs(rgb[k] - (int)lroundf(ref[i].rgb[k] * 255));
            maxd = d > maxd ? d : maxd;
        }
    }
    printf("    %-7s: max diff at held-out table entries %d/255\n", cv_cmap_name(cm), maxd);
    return maxd;
}

static void test_colour_maps(void)
{
    CHECK(check_cmap_points(CV_CMAP_ROCKET, rocket_ref, 7) <= 3, "rocket fit");
    CHECK(check_cmap_points(CV_CMAP_VIRIDIS, viridis_ref, 7) <= 3, "viridis fit");
    CHECK(check_cmap_points(CV_CMAP_MAGMA, magma_ref, 7) <= 3, "magma fit");

    /* these maps are designed to get lighter monotonically */
    cv_cmap mono[3] = {CV_CMAP_ROCKET, CV_CMAP_VIRIDIS, CV_CMAP_MAGMA};
    for (int m = 0; m < 3; m++) {
        uint8_t lut[256][3];
        cv_cmap_lut(mono[m], lut);
        int bad = 0;
        for (int i = 0; i + 4 < 256; i += 4) {
            double a = 0.299 * lut[i][0] + 0.587 * lut[i][1] + 0.114 * lut[i][2];
            double b = 0.299 * lut[i + 4][0] + 0.587 * lut[i + 4][1] + 0.114 * lut[i + 4][2];
            bad += b <= a;
        }
        CHECK(bad == 0, "%s: lightness falls %d times", cv_cmap_name(mono[m]), bad);
    }

    /* jet and grey from their definitions */
    uint8_t c[3];
    cv_cmap_rgb(CV_CMAP_JET, 0, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 128, "jet(0) = %d %d %d", c[0], c[1], c[2]);
    cv_cmap_rgb(CV_CMAP_JET, 0.5f, c);
    CHECK(c[0] == 123 && c[1] == 255 && c[2] == 123, "jet(.5) = %d %d %d", c[0], c[1], c[2]);
    cv_cmap_rgb(CV_CMAP_JET, 1, c);
    CHECK(c[0] == 128 && c[1] == 0 && c[2] == 0, "jet(1) = %d %d %d", c[0], c[1], c[2]);
    cv_cmap_rgb(CV_CMAP_GREY, 0.5f, c);
    CHECK(c[0] == 128 && c[1] == 128 && c[2] == 128, "grey(.5)");
    cv_cmap_rgb(CV_CMAP_GREY, 7.0f, c);
    CHECK(c[0] == 255, "values above 1 clamp");
    cv_cmap_rgb(CV_CMAP_VIRIDIS, NAN, c);
    CHECK(c[0] == 200 && c[1] == 200 && c[2] == 200, "NaN is light grey");

    cv_cmap cm;
    cv_error err;
    CHECK(cv_cmap_from_name(&cm, "magma", &err) == CV_OK && cm == CV_CMAP_MAGMA, "magma by name");
    CHECK(cv_cmap_from_name(&cm, "gray", &err) == CV_OK && cm == CV_CMAP_GREY, "gray by name");
    CHECK(cv_cmap_from_name(&cm, "parula", &err) == CV_ERR_INVALID && strstr(err.msg, "parula"), "%s", err.msg);
}

/* ---- text ------------------------------------------------------------------------ */

static void test_text(void)
{
    int w1 = cv_render_text_width("0.25", 1), w2 = cv_render_text_width("0.25", 2);
    CHECK(w1 >= 12 && w1 <= 40, "width %d", w1);
    CHECK(w2 >= 2 * w1 - 2 && w2 <= 2 * w1 + 2, "scale 2 is twice as wide: %d vs %d", w2, w1);
    CHECK(cv_render_text_width("ab\nlonger", 1) == cv_render_text_width("longer", 1), "widest line");
    CHECK(cv_render_text_width("", 1) == 0, "empty");
    cv_image img;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 60, 40, 3, &err) == CV_OK, "%s", err.msg);
    memset(img.px, 255, 60 * 40 * 3);
    const uint8_t black[3] = {0, 0, 0};
    int end = cv_render_text(&img, 3, 4, "Hg", 2, black);
    int dark = 0, outside = 0, tw = cv_render_text_width("Hg", 2);
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 60; x++)
            if (!is_white(pix(&img, x, y))) {
                dark++;
                /* ink stays in the line's box (a pixel of antialiasing either side) */
                outside += x < 2 || x > 3 + tw + 1 || y < 4 || y >= 4 + CV_FONT_HEIGHT * 2 + 1;
            }
    CHECK(dark >= 30 && outside == 0, "%d inked pixels, %d outside the text box", dark, outside);
    CHECK(end == 3 + tw, "returned x %d", end);
    /* the same text twice gives the same pixels (tests and docs rely on it) */
    cv_image again;
    REQUIRE(cv_image_alloc(&again, 60, 40, 3, &err) == CV_OK, "%s", err.msg);
    memset(again.px, 255, 60 * 40 * 3);
    cv_render_text(&again, 3, 4, "Hg", 2, black);
    CHECK(memcmp(img.px, again.px, 60 * 40 * 3) == 0, "text rendering is deterministic");
    cv_image_free(&again);
    /* a second line starts back at x: the end is past its last glyph */
    CHECK(cv_render_text(&img, 3, 4, "a\nb", 1, black) == 3 + cv_render_text_width("b", 1), "returned x after a new line");
    /* clipping: text partly or wholly off the image must not write outside */
    cv_render_text(&img, -7, -3, "Hello%", 3, black);
    cv_render_text(&img, 15, 15, "clipped", 1, black);
    cv_render_text(&img, 1000, -1000, "far", 1, black);
    cv_render_fill_rect(&img, -5, -5, 100, 3, black);
    cv_image_free(&img);
    /* grey images get the luma of the colour */
    REQUIRE(cv_image_alloc(&img, 8, 8, 1, &err) == CV_OK, "%s", err.msg);
    const uint8_t red[3] = {255, 0, 0};
    cv_render_fill_rect(&img, 0, 0, 8, 8, red);
    CHECK(img.px[0] == 76, "grey fill of red = %d", img.px[0]);
    cv_image_free(&img);
}

/* ---- heatmap ------------------------------------------------------------------------- */

static void test_heatmap(void)
{
    enum { R = 38, C = 38, CELL = 9 };
    static float map[R * C];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            map[r * C + c] = (float)(r * C + c) / (R * C - 1);
    cv_image img;
    cv_error err;
    REQUIRE(cv_render_heatmap(map, R, C, 0, 1, CV_CMAP_ROCKET, CELL, &img, &err) == CV_OK, "%s", err.msg);
    printf("    38 x 38 map, 9-px cells: picture %d x %d\n", img.w, img.h);
    CHECK(img.c == 3, "channels");
    /* the map is the first non-white thing from the top-left */
    int x0 = -1, y0 = -1;
    for (int y = 0; y < img.h && y0 < 0; y++)
        for (int x = 0; x < img.w / 2; x++)
            if (!is_white(pix(&img, x, y))) {
                x0 = x, y0 = y;
                break;
            }
    REQUIRE(x0 >= 0, "no map found");
    CHECK(x0 > 0 && y0 > 0 && x0 <= 40 && y0 <= 40, "map at %d,%d: expected a small white margin", x0, y0);
    CHECK(img.h >= R * CELL + y0 && img.h <= R * CELL + 2 * y0 + 2, "height %d", img.h);
    CHECK(img.w >= C * CELL + 60 && img.w <= C * CELL + 260, "width %d leaves room for a bar and labels", img.w);
    CHECK(is_white(pix(&img, 0, 0)) && is_white(pix(&img, img.w - 1, img.h - 1)), "white background");

    /* cell colours: centre of cell (r, c) has the colour of its value */
    uint8_t lut[256][3];
    cv_cmap_lut(CV_CMAP_ROCKET, lut);
    int bad = 0;
    for (int r = 0; r < R; r += 5)
        for (int c = 0; c < C; c += 3) {
            int i = (int)(map[r * C + c] * 255 + 0.5f);
            bad += !same_rgb(pix(&img, x0 + c * CELL + CELL / 2, y0 + r * CELL + CELL / 2), lut[i]);
        }
    CHECK(bad == 0, "%d cells have the wrong colour", bad);
    /* cells are solid */
    const uint8_t *a = pix(&img, x0 + 5 * CELL, y0 + 7 * CELL), *b = pix(&img, x0 + 5 * CELL + CELL - 1,
                                                                           y0 + 7 * CELL + CELL - 1);
    CHECK(same_rgb(a, b), "cell not uniform");

    /* the colour bar: right of the map, vmax on top, vmin at the bottom */
    int y_mid = y0 + R * CELL / 2, bx = -1;
    for (int x = x0 + C * CELL; x < img.w; x++) {
        const uint8_t *p = pix(&img, x, y_mid);
        if (!is_white(p) && !(p[0] == 128 && p[1] == 128 && p[2] == 128)) {
            bx = x;
            break;
        }
    }
    REQUIRE(bx > 0, "no colour bar");
    int top = -1, bottom = -1;
    for (int y = 0; y < img.h; y++) {
        const uint8_t *p = pix(&img, bx + 2, y);
        if (!is_white(p) && !(p[0] == 128 && p[1] == 128 && p[2] == 128)) {
            if (top < 0)
                top = y;
            bottom = y;
        }
    }
    int dt = 0, db = 0;
    for (int k = 0; k < 3; k++) {
        dt = fmax(dt, abs(pix(&img, bx + 2, top)[k] - lut[255][k]));
        db = fmax(db, abs(pix(&img, bx + 2, bottom)[k] - lut[0][k]));
    }
    printf("    colour bar at x=%d, rows %d..%d; ends differ from cmap(1), cmap(0) by %d, %d\n", bx, top, bottom, dt,
           db);
    CHECK(dt <= 3 && db <= 3, "bar ends");
    CHECK(bottom - top + 1 >= R * CELL - 2, "bar is as tall as the map (%d)", bottom - top + 1);
    /* tick labels: dark pixels right of the bar */
    int ink = 0;
    for (int y = 0; y < img.h; y++)
        for (int x = bx + 20; x < img.w; x++)
            ink += pix(&img, x, y)[0] < 64;
    CHECK(ink > 100, "no tick labels (%d dark pixels)", ink);
    CHECK(cv_image_save_png(&img, tmp_path("heat.png"), &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);

    /* automatic range and cell size; constant and NaN maps still render */
    float flat[6] = {3, 3, 3, 3, 3, 3}, withnan[4] = {NAN, 1, 2, INFINITY};
    CHECK(cv_render_heatmap(flat, 2, 3, NAN, NAN, CV_CMAP_VIRIDIS, 0, &img, &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);
    CHECK(cv_render_heatmap(withnan, 2, 2, 1, 0, CV_CMAP_JET, 0, &img, &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);
    CHECK(cv_render_heatmap(map, 0, 3, 0, 1, CV_CMAP_JET, 4, &img, &err) == CV_ERR_INVALID, "empty map accepted");
    CHECK(cv_render_heatmap(map, 5000, 3, 0, 1, CV_CMAP_JET, 10, &img, &err) == CV_ERR_LIMIT, "%s", err.msg);
}

static void test_caption(void)
{
    cv_image in, out;
    cv_error err;
    REQUIRE(cv_image_alloc(&in, 50, 20, 3, &err) == CV_OK, "%s", err.msg);
    for (int i = 0; i < 50 * 20 * 3; i++)
        in.px[i] = (uint8_t)(i * 7);
    REQUIRE(cv_render_caption(&in, "school bus p=0.8650", &out, &err) == CV_OK, "%s", err.msg);
    int band = out.h - in.h, ox = (out.w - in.w) / 2;
    CHECK(band >= 10 && out.w >= cv_render_text_width("school bus p=0.8650", 1), "caption %dx%d", out.w, out.h);
    int bad = 0;
    for (int y = 0; y < in.h; y++)
        for (int x = 0; x < in.w; x++)
            bad += !same_rgb(pix(&out, x + ox, y + band), pix(&in, x, y));
    CHECK(bad == 0, "%d image pixels changed", bad);
    cv_image_free(&out);
    /* below: the picture at the top, the same band under it, text in it */
    REQUIRE(cv_render_caption_below(&in, "del 0.12 ins 0.71", &out, &err) == CV_OK, "%s", err.msg);
    ox = (out.w - in.w) / 2;
    bad = 0;
    for (int y = 0; y < in.h; y++)
        for (int x = 0; x < in.w; x++)
            bad += !same_rgb(pix(&out, x + ox, y), pix(&in, x, y));
    int ink = 0;
    for (int y = in.h; y < out.h; y++)
        for (int x = 0; x < out.w; x++)
            ink += pix(&out, x, y)[0] < 128;
    CHECK(bad == 0 && out.h - in.h >= 10 && ink > 0, "below: %d image pixels changed, band %d, %d dark pixels",
          bad, out.h - in.h, ink);
    cv_image_free(&out);
    cv_image_free(&in);
}

/* ---- grid ------------------------------------------------------------------------------ */

static void check_grid(int count, int n_per_side, int want_cols, int want_rows)
{
    enum { TW = 10, TH = 8 };
    cv_image tiles[20];
    cv_error err;
    for (int k = 0; k < count; k++) {
        REQUIRE(cv_image_alloc(&tiles[k], TW, TH, k % 2 ? 1 : 3, &err) == CV_OK, "%s", err.msg);
        memset(tiles[k].px, 10 + 10 * k, (size_t)TW * TH * tiles[k].c);
    }
    cv_image out;
    REQUIRE(cv_render_grid(tiles, count, TW, TH, n_per_side, 5, &out, &err) == CV_OK, "%s", err.msg);
    int W = want_cols * TW + (want_cols - 1) * 5, H = want_rows * TH + (want_rows - 1) * 5;
    CHECK(out.w == W && out.h == H && out.c == 3, "%d tiles: %dx%d, want %dx%d", count, out.w, out.h, W, H);
    int bad = 0;
    for (int k = 0; k < count; k++) {
        int x = (k % want_cols) * (TW + 5) + TW / 2, y = (k / want_cols) * (TH + 5) + TH / 2;
        if (x < out.w && y < out.h)
            bad += pix(&out, x, y)[0] != 10 + 10 * k || pix(&out, x, y)[2] != 10 + 10 * k;
    }
    CHECK(bad == 0, "%d tiles misplaced", bad);
    if (want_cols > 1)
        CHECK(pix(&out, TW + 2, 1)[0] == 0, "margin is not black");
    printf("    %2d tiles, n=%d: %d x %d tiles, %d x %d pixels\n", count, n_per_side, want_cols, want_rows, out.w,
           out.h);
    cv_image_free(&out);
    for (int k = 0; k < count; k++)
        cv_image_free(&tiles[k]);
}

/* The filter grid: 16 x 16 tiles enlarged (nearest) to >= 96 px, each
 * numbered under it, a title over the grid (issue 17). */
static void test_filter_grid(void)
{
    enum { N = 5, T = 16 };
    uint8_t px[N][T * T * 3];
    cv_image tiles[N];
    int numbers[N] = {3, 17, 42, 63, 100};
    for (int k = 0; k < N; k++) {
        for (int i = 0; i < T * T; i++) {
            /* a red pixel in the top-left corner, the rest tile-specific grey-blue */
            int corner = i == 0;
            px[k][3 * i] = corner ? 255 : (uint8_t)(40 * k);
            px[k][3 * i + 1] = corner ? 0 : (uint8_t)(40 * k);
            px[k][3 * i + 2] = corner ? 0 : 200;
        }
        tiles[k] = (cv_image){T, T, 3, px[k]};
    }
    cv_image out;
    cv_error err;
    REQUIRE(cv_render_filter_grid(tiles, N, numbers, "model.onnx: layer conv1, seed", 96, &out, &err) == CV_OK,
            "%s", err.msg);
    printf("    %d tiles of %d px: grid %d x %d\n", N, T, out.w, out.h);
    /* 2 columns (floor(sqrt(5))), 3 rows of 96-px tiles plus number bands, a title band */
    CHECK(out.w >= 2 * 96 && out.h >= 3 * 96 + 3 * CV_FONT_HEIGHT + CV_FONT_HEIGHT, "grid %d x %d", out.w, out.h);
    /* the top-left red pixel became a 6 x 6 block (96 / 16) somewhere */
    int red = 0;
    for (int y = 0; y < out.h; y++)
        for (int x = 0; x < out.w; x++) {
            const uint8_t *p = pix(&out, x, y);
            red += p[0] == 255 && p[1] == 0 && p[2] == 0;
        }
    CHECK(red == N * 36, "%d red pixels, expected %d (nearest upscaling by 6)", red, N * 36);
    /* ink in the title band above the first tile and in the number band under it */
    int title_ink = 0, number_ink = 0, first_blue_y = -1;
    for (int y = 0; y < out.h && first_blue_y < 0; y++)
        for (int x = 0; x < out.w; x++)
            if (pix(&out, x, y)[2] == 200) {
                first_blue_y = y;
                break;
            }
    REQUIRE(first_blue_y > CV_FONT_HEIGHT, "the first tile starts at row %d: no title band", first_blue_y);
    for (int y = 0; y < first_blue_y; y++)
        for (int x = 0; x < out.w; x++)
            title_ink += pix(&out, x, y)[0] < 128;
    for (int y = first_blue_y + 96; y < first_blue_y + 96 + 2 * CV_FONT_LINE && y < out.h; y++)
        for (int x = 0; x < out.w; x++)
            number_ink += pix(&out, x, y)[0] < 128 && pix(&out, x, y)[2] < 128;
    CHECK(title_ink > 20 && number_ink > 20, "title ink %d, number ink %d", title_ink, number_ink);
    cv_image_free(&out);
    CHECK(cv_render_filter_grid(tiles, 0, numbers, "t", 96, &out, &err) == CV_ERR_INVALID, "no tiles accepted");
}

static void test_grid(void)
{
    check_grid(16, 0, 4, 4);  /* the seed's case: n = floor(sqrt(16)) */
    check_grid(10, 0, 3, 4);  /* not a square: extra row, nothing dropped */
    check_grid(1, 0, 1, 1);
    check_grid(6, 6, 6, 1);
    check_grid(5, 2, 2, 3);
    cv_image t[2], out;
    cv_error err;
    cv_image_alloc(&t[0], 4, 4, 3, &err);
    cv_image_alloc(&t[1], 5, 4, 3, &err);
    CHECK(cv_render_grid(t, 2, 4, 4, 0, 5, &out, &err) == CV_ERR_INVALID && strstr(err.msg, "tile 1"), "%s",
          err.msg);
    cv_image_free(&t[0]);
    cv_image_free(&t[1]);
}

/* ---- overlays ---------------------------------------------------------------------------- */

/* cv_render_panel_columns: near 3:2, few empty cells. */
static void test_panel_columns(void)
{
    /* count, square panels -> columns */
    static const int want[][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 2}, {5, 3}, {6, 3}, {7, 4},
                                  {8, 4}, {9, 3}, {10, 5}, {11, 4}, {12, 4}, {13, 5}};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        int cols = cv_render_panel_columns(want[k][0], 100, 100, 8);
        CHECK(cols == want[k][1], "%d square panels: %d columns, expected %d", want[k][0], cols, want[k][1]);
    }
    /* tall panels (a map with a caption under it) take more columns; 27
     * sanity maps of 180 x 240 fill 9 x 3 */
    int c27 = cv_render_panel_columns(27, 180, 240, 12);
    CHECK(c27 == 9, "27 panels of 180 x 240: %d columns, expected 9", c27);
}

/* cv_render_panels: a short last row centred, smaller panels centred in
 * their cells at the top, the background around them. */
static void test_panels(void)
{
    enum { N = 5, M = 6 };
    cv_image p[N];
    cv_error err;
    for (int k = 0; k < N; k++) { /* panel 4 is smaller: 10 x 6 instead of 20 x 10 */
        int w = k == 4 ? 10 : 20, h = k == 4 ? 6 : 10;
        REQUIRE(cv_image_alloc(&p[k], w, h, k == 1 ? 1 : 3, &err) == CV_OK, "%s", err.msg);
        memset(p[k].px, 10 + 10 * k, (size_t)w * h * p[k].c);
    }
    static const uint8_t bg[3] = {255, 255, 255};
    cv_image out;
    REQUIRE(cv_render_panels(p, N, 3, M, bg, &out, &err) == CV_OK, "%s", err.msg);
    CHECK(out.w == 3 * 20 + 2 * M && out.h == 2 * 10 + M && out.c == 3, "%d x %d", out.w, out.h);
    /* row 2 holds panels 3 and 4, shifted by half a cell: x0 = (20 + M) / 2 */
    int x3 = (20 + M) / 2, x4 = x3 + 20 + M + 5, y2 = 10 + M;
    CHECK(pix(&out, 0, 0)[0] == 10 && pix(&out, 20 + M, 0)[1] == 20 && pix(&out, 2 * (20 + M), 9)[2] == 30,
          "first row misplaced");
    CHECK(pix(&out, x3, y2)[0] == 40 && pix(&out, x3 + 19, y2 + 9)[0] == 40, "panel 3 not centred in the row");
    CHECK(pix(&out, x3 - 1, y2)[0] == 255, "left of the short row is not the background");
    CHECK(pix(&out, x4, y2)[0] == 50 && pix(&out, x4 + 9, y2 + 5)[0] == 50 && pix(&out, x4, y2 + 6)[0] == 255 &&
              pix(&out, x4 - 1, y2)[0] == 255,
          "the smaller panel is not centred across its cell at the top");
    cv_image_free(&out);
    CHECK(cv_render_panels(p, 0, 0, M, bg, &out, &err) == CV_ERR_INVALID, "no panels accepted");
    cv_image_free(&p[2]);
    CHECK(cv_render_panels(p, N, 0, M, bg, &out, &err) == CV_ERR_INVALID && strstr(err.msg, "panel 2"), "%s",
          err.msg);
    for (int k = 0; k < N; k++)
        cv_image_free(&p[k]);
}

static void test_overlays(void)
{
    cv_image img, out;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 20, 10, 3, &err) == CV_OK, "%s", err.msg);
    for (int i = 0; i < 200; i++)
        img.px[3 * i] = 100, img.px[3 * i + 1] = 150, img.px[3 * i + 2] = 201;
    float map[9];
    for (int i = 0; i < 9; i++)
        map[i] = 0.25f;
    REQUIRE(cv_render_overlay_alpha(&img, map, 3, 3, 0, 1, CV_CMAP_JET, 0.4f, &out, &err) == CV_OK, "%s", err.msg);
    uint8_t c[3];
    cv_cmap_rgb(CV_CMAP_JET, 64 / 255.0f, c); /* 0.25 lands on LUT entry 64 */
    int bad = 0;
    for (int i = 0; i < 200; i++)
        for (int k = 0; k < 3; k++) {
            int e = (int)(0.6f * img.px[3 * i + k] + 0.4f * c[k] + 0.5f);
            bad += abs(out.px[3 * i + k] - e) > 1;
        }
    CHECK(out.w == 20 && out.h == 10 && bad == 0, "%d values off", bad);
    cv_image_free(&out);
    REQUIRE(cv_render_overlay_alpha(&img, map, 3, 3, 0, 1, CV_CMAP_JET, 0, &out, &err) == CV_OK, "%s", err.msg);
    CHECK(memcmp(out.px, img.px, 600) == 0, "alpha 0 changed the image");
    cv_image_free(&out);
    CHECK(cv_render_overlay_alpha(&img, map, 3, 3, 0, 1, CV_CMAP_JET, 1.5f, &out, &err) == CV_ERR_INVALID,
          "alpha 1.5 accepted");

    /* the seed's projection: multiply */
    float half[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    REQUIRE(cv_render_overlay_multiply(&img, half, 2, 2, &out, &err) == CV_OK, "%s", err.msg);
    CHECK(out.px[0] == 50 && out.px[1] == 75 && out.px[2] == 101, "multiply: %d %d %d", out.px[0], out.px[1],
          out.px[2]);
    cv_image_free(&out);
    /* a left-to-right ramp map resized to the image: left dark, right bright */
    float ramp[2] = {0, 1};
    REQUIRE(cv_render_overlay_multiply(&img, ramp, 1, 2, &out, &err) == CV_OK, "%s", err.msg);
    CHECK(out.px[0] == 0 && pix(&out, 19, 5)[0] == 100 && pix(&out, 10, 5)[0] > 30 && pix(&out, 10, 5)[0] < 70,
          "ramp: %d %d %d", out.px[0], pix(&out, 10, 5)[0], pix(&out, 19, 5)[0]);
    cv_image_free(&out);
    cv_image_free(&img);
}

/* cv_render_overlay: 0 leaves the photo clear, opacity grows with |v|, a
 * signed map is drawn diverging on a scale symmetric about 0, small photos
 * are enlarged (nearest by a whole factor), bar on the right, caption on top. */
static void test_weighted_overlay(void)
{
    cv_image img, out;
    cv_error err;
    REQUIRE(cv_image_alloc(&img, 28, 28, 3, &err) == CV_OK, "%s", err.msg);
    for (size_t i = 0; i < 28 * 28 * 3; i++)
        img.px[i] = (uint8_t)(40 + i % 3 * 60); /* 40, 100, 160 */
    /* 2 x 2 map: 0 | +1 / -1 | +0.5; no interpolation in the middle of a quadrant */
    float map[4] = {0, 1, -1, 0.5f};
    cv_overlay_style st = cv_overlay_style_defaults();
    st.colorbar = 0;
    REQUIRE(cv_render_overlay(&img, map, 2, 2, &st, &out, &err) == CV_OK, "%s", err.msg);
    /* 28 -> 448: 16x, nearest */
    REQUIRE(out.w == 448 && out.h == 448, "enlarged to %d x %d, expected 448 x 448", out.w, out.h);
    const uint8_t *clear = pix(&out, 20, 20), *pos = pix(&out, 440, 20), *neg = pix(&out, 20, 440),
                  *half = pix(&out, 440, 440);
    CHECK(clear[0] == 40 && clear[1] == 100 && clear[2] == 160, "0 is not clear: %d %d %d", clear[0], clear[1],
          clear[2]);
    uint8_t red[3], blue[3], mid[3];
    cv_cmap_rgb(CV_CMAP_DIVERGING, 1, red);
    cv_cmap_rgb(CV_CMAP_DIVERGING, 0, blue);
    cv_cmap_rgb(CV_CMAP_DIVERGING, 192 / 255.0f, mid); /* 0.5 on [-1, 1] is LUT entry 192 */
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        float base = (float)(40 + k * 60);
        bad += abs(pos[k] - (int)(0.3f * base + 0.7f * red[k] + 0.5f)) > 1;
        bad += abs(neg[k] - (int)(0.3f * base + 0.7f * blue[k] + 0.5f)) > 1;
        bad += abs(half[k] - (int)(0.65f * base + 0.35f * mid[k] + 0.5f)) > 1;
    }
    CHECK(bad == 0 && pos[0] > pos[2] && neg[2] > neg[0], "weighted diverging blend: %d values off; +1 %d %d %d, "
          "-1 %d %d %d", bad, pos[0], pos[1], pos[2], neg[0], neg[1], neg[2]);
    cv_image_free(&out);

    /* one sign: cmap on [0, max]; a NaN cell stays clear */
    float pos_map[4] = {0, 2, NAN, 1};
    st.cmap = CV_CMAP_JET;
    REQUIRE(cv_render_overlay(&img, pos_map, 2, 2, &st, &out, &err) == CV_OK, "%s", err.msg);
    uint8_t top[3];
    cv_cmap_rgb(CV_CMAP_JET, 1, top);
    const uint8_t *p2 = pix(&out, 440, 20), *pn = pix(&out, 20, 440);
    CHECK(abs(p2[0] - (int)(0.3f * 40 + 0.7f * top[0] + 0.5f)) <= 1 && pn[0] == 40 && pn[2] == 160,
          "one-signed: top %d (want %d), NaN %d %d", p2[0], (int)(0.3f * 40 + 0.7f * top[0] + 0.5f), pn[0], pn[2]);
    cv_image_free(&out);

    /* bar and caption: wider than the photo with a dark tick label on the
     * right, taller with text above; a photo big enough is not resized */
    cv_image big;
    REQUIRE(cv_image_alloc(&big, 600, 450, 3, &err) == CV_OK, "%s", err.msg);
    memset(big.px, 128, (size_t)600 * 450 * 3);
    st = cv_overlay_style_defaults();
    st.caption = "model.onnx: cat (1), p = 0.900\nocclusion";
    REQUIRE(cv_render_overlay(&big, map, 2, 2, &st, &out, &err) == CV_OK, "%s", err.msg);
    int band = out.h - 450, ink_bar = 0, ink_caption = 0;
    for (int y = band; y < out.h; y++)
        for (int x = 600; x < out.w; x++)
            ink_bar += pix(&out, x, y)[0] < 64;
    for (int y = 0; y < band; y++)
        for (int x = 0; x < out.w; x++)
            ink_caption += pix(&out, x, y)[0] < 64;
    CHECK(out.w > 600 + 40 && band >= 2 * CV_FONT_LINE && ink_bar > 100 && ink_caption > 200,
          "%d x %d: bar ink %d, caption band %d px with ink %d", out.w, out.h, ink_bar, band, ink_caption);
    cv_image_free(&out);
    cv_image_free(&big);

    /* 220 x 165 (under 4x): bilinear to a shorter side of 448 */
    cv_image photo, shown;
    REQUIRE(cv_image_alloc(&photo, 220, 165, 3, &err) == CV_OK, "%s", err.msg);
    memset(photo.px, 90, (size_t)220 * 165 * 3);
    REQUIRE(cv_render_enlarge(&photo, 448, &shown, &err) == CV_OK, "%s", err.msg);
    CHECK(shown.w == 597 && shown.h == 448 && pix(&shown, 300, 200)[1] == 90, "enlarged to %d x %d", shown.w,
          shown.h);
    cv_image_free(&shown);
    cv_image_free(&photo);
    st.alpha = 2;
    CHECK(cv_render_overlay(&img, map, 2, 2, &st, &out, &err) == CV_ERR_INVALID, "alpha 2 accepted");
    cv_image_free(&img);
}

/* ---- label maps ----------------------------------------------------------------------------- */

/* ---- blend -------------------------------------------------------------------- */

/* cv_render_blend as it was written pixel by pixel before its weights were
 * computed a chunk at a time: the bytes must not change. */
static void old_blend(cv_image *out, const cv_image *img, const float *m, float lo, float hi, cv_cmap cmap,
                      float alpha, float reach)
{
    uint8_t lut[256][3];
    cv_cmap_lut(cmap, lut);
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        const uint8_t *p = img->px + i * img->c;
        float t = (m[i] - lo) / (hi - lo) * 255.0f + 0.5f;
        int li = m[i] != m[i] ? -1 : t <= 0 ? 0 : t >= 255 ? 255 : (int)t;
        float a = li < 0 ? 0.0f : reach > 0 ? alpha * fminf(fabsf(m[i]) / reach, 1.0f) : alpha;
        for (int k = 0; k < 3; k++) {
            float base = p[img->c >= 3 ? k : 0];
            float v = li < 0 ? base : (1 - a) * base + a * lut[li][k];
            out->px[i * 3 + k] = (uint8_t)(v + 0.5f > 255 ? 255 : v + 0.5f);
        }
    }
}

static void test_blend_matches_per_pixel_formula(void)
{
    cv_error err;
    test_seed(42);
    int sizes[][2] = {{448, 448}, {1, 1}, {17, 300}, {255, 3}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int c = 1; c <= 4; c++) {
            int w = sizes[s][0], h = sizes[s][1];
            size_t n = (size_t)w * h;
            cv_image img, a, b;
            REQUIRE(cv_image_alloc(&img, w, h, c, &err) == CV_OK && cv_image_alloc(&a, w, h, 3, &err) == CV_OK &&
                        cv_image_alloc(&b, w, h, 3, &err) == CV_OK,
                    "%s", err.msg);
            float *m = malloc(n * sizeof(float));
            for (size_t i = 0; i < n * c; i++)
                img.px[i] = (uint8_t)test_uniform(0, 256);
            for (size_t i = 0; i < n; i++) {
                float u = test_uniform(0, 1);
                m[i] = u < 0.05f ? NAN : u < 0.08f ? INFINITY : u < 0.1f ? -INFINITY : test_uniform(-2, 3);
            }
            float reach[] = {0, 1.5f, 3};
            for (int r = 0; r < 3; r++) {
                cv_render_blend(&a, &img, m, -1, 2, CV_CMAP_DIVERGING, 0.7f, reach[r]);
                old_blend(&b, &img, m, -1, 2, CV_CMAP_DIVERGING, 0.7f, reach[r]);
                CHECK(memcmp(a.px, b.px, n * 3) == 0, "%dx%dx%d reach %g differs from the per-pixel formula", w, h,
                      c, reach[r]);
            }
            free(m);
            cv_image_free(&img);
            cv_image_free(&a);
            cv_image_free(&b);
        }
}

/* ---- display range ---------------------------------------------------------- */

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* What the CLI computed before cv_render_display_range: a full sort (of
 * the non-NaN values, which the old sort left unordered), the value at
 * the percentile's rank, and the flat-map rule. */
static void sorted_range(const float *map, size_t n, double percentile, float *lo, float *hi)
{
    float *v = malloc(n * sizeof(float) + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(map[i]))
            v[m++] = map[i];
    if (m == 0) {
        *lo = 0, *hi = 1;
        free(v);
        return;
    }
    qsort(v, m, sizeof(float), compare_floats);
    *lo = v[0];
    *hi = percentile < 100 ? v[(size_t)(percentile / 100.0 * (double)(m - 1))] : v[m - 1];
    if (!(*hi > *lo))
        *hi = v[m - 1] > *lo ? v[m - 1] : *lo + 1;
    free(v);
}

static void test_display_range(void)
{
    test_seed(41);
    size_t sizes[] = {1, 2, 3, 7, 100, 1000, 50176};
    double percentiles[] = {0, 1, 50, 99, 99.9, 100};
    cv_error err;
    int cases = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int kind = 0; kind < 6; kind++) {
            size_t n = sizes[s];
            float *map = malloc(n * sizeof(float));
            for (size_t i = 0; i < n; i++) {
                float u = test_uniform(0, 1);
                /* 0: distinct, 1: few distinct values (ties), 2: flat, 3: a NaN in ten,
                 * 4: sorted, 5: sorted descending with ties and infinities */
                map[i] = kind == 0   ? test_uniform(-5, 5)
                         : kind == 1 ? (float)(int)test_uniform(0, 4)
                         : kind == 2 ? 2.5f
                         : kind == 3 ? (u < 0.1f ? NAN : test_uniform(-1, 1))
                         : kind == 4 ? (float)i
                                     : (i == 0 ? INFINITY : i == n - 1 ? -INFINITY : (float)((n - i) / 3));
            }
            for (size_t p = 0; p < sizeof percentiles / sizeof *percentiles; p++) {
                float lo, hi, rlo, rhi;
                REQUIRE(cv_render_display_range(map, n, percentiles[p], &lo, &hi, &err) == CV_OK, "%s", err.msg);
                sorted_range(map, n, percentiles[p], &rlo, &rhi);
                CHECK(lo == rlo && hi == rhi, "n %zu kind %d p %g: [%g, %g], sorted [%g, %g]", n, kind,
                      percentiles[p], lo, hi, rlo, rhi);
                cases++;
            }
            free(map);
        }
    float nan3[3] = {NAN, NAN, NAN}, lo, hi;
    CHECK(cv_render_display_range(nan3, 3, 99, &lo, &hi, &err) == CV_OK && lo == 0 && hi == 1, "all NaN: [0, 1]");
    CHECK(cv_render_display_range(nan3, 0, 99, &lo, &hi, &err) == CV_OK && lo == 0 && hi == 1, "empty: [0, 1]");
    printf("    %d cases equal to the sorted reference\n", cases);
}

static void test_labels(void)
{
    int min_d = 1 << 30;
    for (int a = 0; a < 20; a++)
        for (int b = a + 1; b < 20; b++) {
            uint8_t p[3], q[3];
            cv_label_rgb(a, p);
            cv_label_rgb(b, q);
            int d = abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]);
            min_d = d < min_d ? d : min_d;
        }
    printf("    labels 0..19: smallest colour distance (L1) %d\n", min_d);
    CHECK(min_d >= 55, "labels too similar: %d", min_d);
    uint8_t none[3];
    cv_label_rgb(-1, none);
    CHECK(none[0] == 0 && none[1] == 0 && none[2] == 0, "none is black");

    /* classes far apart in index get colours by frequency rank (ties: the
     * lower index first): 92, 700, 749 (3 cells each), then 11 (issue 17:
     * bee eater 92, quill 749 and goldfinch 11 looked alike) */
    int lab[3 * 4] = {92, 92, 749, 749, 92, 11, 11, 749, -1, 700, 700, 700};
    const char *names[3] = {"cat", "school bus", "dog"};
    cv_image img;
    cv_error err;
    REQUIRE(cv_render_labels(lab, 3, 4, names, 3, 10, &img, &err) == CV_OK, "%s", err.msg);
    int x0 = -1, y0 = -1;
    for (int y = 0; y < img.h && y0 < 0; y++)
        for (int x = 0; x < 40; x++)
            if (!is_white(pix(&img, x, y))) {
                x0 = x, y0 = y;
                break;
            }
    REQUIRE(x0 >= 0, "no map");
    int bad = 0;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            uint8_t e[3];
            int l = lab[r * 4 + c];
            cv_label_rgb(l == 92 ? 0 : l == 700 ? 1 : l == 749 ? 2 : l == 11 ? 3 : -1, e);
            bad += !same_rgb(pix(&img, x0 + c * 10 + 5, y0 + r * 10 + 5), e);
        }
    CHECK(bad == 0, "%d cells wrong", bad);
    CHECK(img.w > 40 + cv_render_text_width("749 (25%)", 1), "legend too narrow: %d", img.w);
    CHECK(cv_image_save_png(&img, tmp_path("labels.png"), &err) == CV_OK, "%s", err.msg);
    cv_image_free(&img);
}

/* ---- GIF ----------------------------------------------------------------------------------- */

typedef struct {
    int w, h, n_frames, loops;
    int delay[64];
    uint8_t palette[256][3];
    uint8_t *frames[64]; /* palette indices */
} gif_parsed;

/* An LZW decoder written from the GIF89a specification. */
static int lzw_decode(const uint8_t *data, size_t n, int min_size, uint8_t *out, size_t npix)
{
    int clear = 1 << min_size, end = clear + 1;
    static int prefix[4096], suffix[4096], length[4096];
    for (int i = 0; i < clear; i++)
        prefix[i] = -1, suffix[i] = i, length[i] = 1;
    int width = min_size + 1, next = clear + 2, prev = -1;
    size_t pos = 0, bitpos = 0;
    uint8_t stack[4096];
    for (;;) {
        if ((bitpos + width + 7) / 8 > n)
            return 0; /* ran out before the end code */
        int code = 0;
        for (int b = 0; b < width; b++, bitpos++)
            code |= (data[bitpos / 8] >> (bitpos % 8) & 1) << b;
        if (code == clear) {
            width = min_size + 1, next = clear + 2, prev = -1;
            continue;
        }
        if (code == end)
            return pos == npix;
        int first;
        if (prev < 0) {
            if (code >= clear)
                return 0;
            first = code;
        } else if (code < next) {
            int c = code;
            while (prefix[c] >= 0)
                c = prefix[c];
            first = suffix[c];
        } else if (code == next) {
            int c = prev;
            while (prefix[c] >= 0)
                c = prefix[c];
            first = suffix[c];
        } else {
            return 0;
        }
        if (prev >= 0 && next < 4096) {
            prefix[next] = prev, suffix[next] = first, length[next] = length[prev] + 1;
            next++;
            if (next == (1 << width) && width < 12)
                width++;
        }
        int len = 0;
        for (int c = code; c >= 0; c = prefix[c])
            stack[len++] = (uint8_t)suffix[c];
        if (pos + len > npix)
            return 0;
        while (len)
            out[pos++] = stack[--len];
        prev = code;
    }
}

static int gif_parse(const char *path, gif_parsed *g)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n);
    if (fread(b, 1, n, f) != n) {
        fclose(f);
        free(b);
        return 0;
    }
    fclose(f);
    int ok = 0;
    size_t p = 13;
    if (n < 13 + 768 || memcmp(b, "GIF89a", 6) != 0 || !(b[10] & 0x80) || (b[10] & 7) != 7)
        goto done;
    g->w = b[6] | b[7] << 8;
    g->h = b[8] | b[9] << 8;
    memcpy(g->palette, b + 13, 768);
    p += 768;
    int pending_delay = -1;
    while (p < n) {
        if (b[p] == 0x3B) {
            ok = p == n - 1;
            break;
        }
        if (b[p] == 0x21) { /* extension: label, then sub-blocks */
            int label = b[p + 1];
            p += 2;
            if (label == 0xF9 && b[p] == 4)
                pending_delay = b[p + 2] | b[p + 3] << 8;
            if (label == 0xFF && b[p] == 11 && memcmp(b + p + 1, "NETSCAPE2.0", 11) == 0)
                g->loops = 1;
            while (p < n && b[p])
                p += b[p] + 1;
            p++;
        } else if (b[p] == 0x2C) {
            if (g->n_frames == 64 || p + 11 > n)
                goto done;
            int w = b[p + 5] | b[p + 6] << 8, h = b[p + 7] | b[p + 8] << 8, flags = b[p + 9];
            if (w != g->w || h != g->h || (flags & 0x80))
                goto done;
            int min_size = b[p + 10];
            p += 11;
            uint8_t *data = malloc(n);
            size_t dn = 0;
            while (p < n && b[p]) {
                memcpy(data + dn, b + p + 1, b[p]);
                dn += b[p];
                p += b[p] + 1;
            }
            p++;
            uint8_t *idx = malloc((size_t)w * h);
            int dec = lzw_decode(data, dn, min_size, idx, (size_t)w * h);
            free(data);
            if (!dec) {
                free(idx);
                goto done;
            }
            g->delay[g->n_frames] = pending_delay;
            g->frames[g->n_frames++] = idx;
        } else {
            goto done;
        }
    }
done:
    free(b);
    return ok;
}

static void gif_free(gif_parsed *g)
{
    for (int k = 0; k < g->n_frames; k++)
        free(g->frames[k]);
}

/* max and mean |decoded - original| over the frames */
static void gif_compare(const gif_parsed *g, const cv_image *frames, int n, int *maxd, double *mean)
{
    *maxd = 0;
    double sum = 0;
    size_t cnt = 0;
    for (int k = 0; k < n && k < g->n_frames; k++)
        for (int i = 0; i < g->w * g->h; i++)
            for (int c = 0; c < 3; c++) {
                int d = abs(g->palette[g->frames[k][i]][c] - frames[k].px[(size_t)i * frames[k].c + c]);
                *maxd = d > *maxd ? d : *maxd;
                sum += d;
                cnt++;
            }
    *mean = cnt ? sum / cnt : 0;
}

static void test_gif_exact_colours(void)
{
    /* colours at 5-bit bin centres, fewer than 256: median cut keeps each
     * exactly, so decoding must give the frames back bit for bit */
    enum { W = 40, H = 30, N = 3 };
    cv_image fr[N];
    cv_error err;
    test_seed(31);
    for (int k = 0; k < N; k++) {
        REQUIRE(cv_image_alloc(&fr[k], W, H, 3, &err) == CV_OK, "%s", err.msg);
        for (int i = 0; i < W * H; i++) {
            int v = (i / 7 + k * 13) % 200; /* 200 colours over the frames */
            fr[k].px[3 * i] = (uint8_t)(8 * (v % 32) + 4);
            fr[k].px[3 * i + 1] = (uint8_t)(8 * (v / 32) + 4);
            fr[k].px[3 * i + 2] = (uint8_t)(8 * ((v * 7) % 32) + 4);
        }
    }
    const char *p = tmp_path("exact.gif");
    REQUIRE(cv_gif_write(p, fr, N, 20, &err) == CV_OK, "%s", err.msg);
    gif_parsed g;
    int ok = gif_parse(p, &g);
    CHECK(ok, "file does not parse as GIF89a");
    CHECK(g.w == W && g.h == H && g.n_frames == N && g.loops, "%dx%d, %d frames, loop %d", g.w, g.h, g.n_frames,
          g.loops);
    for (int k = 0; k < g.n_frames; k++)
        CHECK(g.delay[k] == 20, "frame %d delay %d", k, g.delay[k]);
    int maxd;
    double mean;
    gif_compare(&g, fr, N, &maxd, &mean);
    printf("    3 frames of 200 colours: %d frames decoded, max diff %d\n", g.n_frames, maxd);
    CHECK(maxd == 0, "max diff %d", maxd);
    gif_free(&g);
    for (int k = 0; k < N; k++)
        cv_image_free(&fr[k]);
}

static void test_gif_photo_and_stream(void)
{
    enum { W = 200, H = 150 };
    cv_image fr[2];
    cv_error err;
    for (int k = 0; k < 2; k++) {
        REQUIRE(cv_image_alloc(&fr[k], W, H, 3, &err) == CV_OK, "%s", err.msg);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                    fr[k].px[((size_t)y * W + x) * 3 + c] =
                        (uint8_t)(127.5 + 127 * sin(0.031 * x * (c + 1) + 0.047 * y * (2 - c) + k));
    }
    const char *p = tmp_path("photo.gif");
    REQUIRE(cv_gif_write(p, fr, 2, 50, &err) == CV_OK, "%s", err.msg);
    gif_parsed g;
    CHECK(gif_parse(p, &g), "does not parse");
    int maxd;
    double mean;
    gif_compare(&g, fr, 2, &maxd, &mean);
    printf("    smooth 200x150 frames, median cut: mean abs diff %.2f, max %d\n", mean, maxd);
    CHECK(g.n_frames == 2 && mean < 8, "mean %.2f", mean);
    gif_free(&g);

    /* streaming with the fixed cube; random cube colours defeat LZW, so the
     * code table fills and is cleared many times */
    test_seed(32);
    for (int i = 0; i < W * H; i++) {
        int r = (int)test_uniform(0, 6), gg = (int)test_uniform(0, 7), b = (int)test_uniform(0, 6);
        fr[0].px[3 * i] = (uint8_t)(r * 51), fr[0].px[3 * i + 1] = (uint8_t)((gg * 255 + 3) / 6),
                  fr[0].px[3 * i + 2] = (uint8_t)(b * 51);
    }
    memset(fr[1].px, 0, (size_t)W * H * 3); /* one long run: codes grow to 12 bits */
    cv_gif *gw;
    p = tmp_path("stream.gif");
    REQUIRE(cv_gif_begin(&gw, p, W, H, NULL, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_gif_add(gw, &fr[0], 7, &err) == CV_OK, "%s", err.msg);
    REQUIRE(cv_gif_add(gw, &fr[1], 9, &err) == CV_OK, "%s", err.msg);
    CHECK(access(p, F_OK) != 0, "file visible before cv_gif_end");
    REQUIRE(cv_gif_end(gw, &err) == CV_OK, "%s", err.msg);
    CHECK(gif_parse(p, &g), "does not parse");
    gif_compare(&g, fr, 2, &maxd, &mean);
    printf("    streamed, 6x7x6 cube, random + flat frames: max diff %d\n", maxd);
    CHECK(g.n_frames == 2 && g.delay[0] == 7 && g.delay[1] == 9 && maxd == 0, "frames %d, max diff %d",
          g.n_frames, maxd);
    gif_free(&g);
    for (int k = 0; k < 2; k++)
        cv_image_free(&fr[k]);
}

static void test_gif_errors(void)
{
    cv_image fr[2];
    cv_error err;
    cv_image_alloc(&fr[0], 10, 10, 3, &err);
    cv_image_alloc(&fr[1], 11, 10, 3, &err);
    const char *p = tmp_path("bad.gif");
    CHECK(cv_gif_write(p, fr, 2, 10, &err) == CV_ERR_INVALID && strstr(err.msg, "frame 1"), "%s", err.msg);
    CHECK(access(p, F_OK) != 0, "a failed write left a file");
    CHECK(cv_gif_write(p, fr, 0, 10, &err) == CV_ERR_INVALID, "zero frames accepted");
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/dir/x.gif", tmpdir);
    CHECK(cv_gif_write(bad, fr, 1, 10, &err) == CV_ERR_IO && strstr(err.msg, bad), "%s", err.msg);
    cv_gif *g;
    REQUIRE(cv_gif_begin(&g, p, 10, 10, NULL, &err) == CV_OK, "%s", err.msg);
    cv_gif_abort(g);
    cv_gif_abort(NULL);
    CHECK(access(p, F_OK) != 0, "an aborted write left a file");
    DIR *d = opendir(tmpdir);
    int leftovers = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        leftovers += strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    CHECK(leftovers == 0, "%d temporary files left", leftovers);
    cv_image_free(&fr[0]);
    cv_image_free(&fr[1]);
}

int main(void)
{
    if (!test_make_tmpdir(tmpdir, sizeof tmpdir, "render"))
        return 1;
    RUN(test_colour_maps);
    RUN(test_text);
    RUN(test_heatmap);
    RUN(test_caption);
    RUN(test_grid);
    RUN(test_filter_grid);
    RUN(test_panel_columns);
    RUN(test_panels);
    RUN(test_overlays);
    RUN(test_weighted_overlay);
    RUN(test_blend_matches_per_pixel_formula);
    RUN(test_display_range);
    RUN(test_labels);
    RUN(test_gif_exact_colours);
    RUN(test_gif_photo_and_stream);
    RUN(test_gif_errors);
    test_remove_dir(tmpdir);
    return test_summary("render");
}
