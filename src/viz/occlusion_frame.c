/* Frames: one picture per position, the occluder drawn where it was with
 * the probability it left written in it (the original tool's video). The
 * CLI writes them as PNGs, a GIF and, with ffmpeg, a video.
 */
#include "cnnviz_occlusion.h"
#include "cnnviz_render.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Frames this small (CIFAR's 32 x 32) are enlarged so numbers fit. */
#define FRAME_MIN_SIDE 224

cv_status cv_occlusion_frame_base(cv_image *out, int *factor, const cv_image *in, cv_error *err)
{
    int side = in->w > in->h ? in->w : in->h;
    int f = side >= FRAME_MIN_SIDE ? 1 : (FRAME_MIN_SIDE + side - 1) / side;
    cv_status st = cv_image_alloc(out, in->w * f, in->h * f, 3, err);
    if (st != CV_OK)
        return st;
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++)
            for (int c = 0; c < 3; c++)
                out->px[((size_t)y * out->w + x) * 3 + c] =
                    in->px[((size_t)(y / f) * in->w + x / f) * in->c + (in->c >= 3 ? c : 0)];
    *factor = f;
    return CV_OK;
}

void cv_occlusion_draw_frame(cv_image *frame, const cv_image *base, cv_occlusion_rect r, double prob)
{
    memcpy(frame->px, base->px, (size_t)base->w * base->h * 3);
    int v = (int)lround(prob * 255.0);
    uint8_t grey[3] = {(uint8_t)v, (uint8_t)v, (uint8_t)v};
    int h = r.y1 - r.y0, w = r.x1 - r.x0;
    cv_render_fill_rect(frame, r.x0, r.y0, w, h, grey);
    char text[32];
    snprintf(text, sizeof text, "%.4f", prob);
    int scale = w >= 2 * cv_render_text_width(text, 1) + 4 ? 2 : 1;
    int tw = cv_render_text_width(text, scale), th = CV_FONT_HEIGHT * scale;
    uint8_t ink[3] = {0, 0, 0};
    if (v < 128)
        ink[0] = ink[1] = ink[2] = 255;
    cv_render_text(frame, r.x0 + (w - tw) / 2, r.y0 + (h - th) / 2, text, scale, ink);
}
