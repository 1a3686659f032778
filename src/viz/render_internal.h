/* Helpers the rendering files share (src/viz/render*.c); not public. */
#ifndef CV_RENDER_INTERNAL_H
#define CV_RENDER_INTERNAL_H

#include "cnnviz_render.h"

/* The map (rows x cols) resized bilinearly to img's size (h x w floats,
 * malloc'ed), or NULL with err set. */
float *cv_render_map_to_image(const cv_image *img, const float *map, int rows, int cols, cv_error *err);

/* vmax <= vmin or NaN: the range of the finite values (a constant map
 * gets a unit-wide range around its value, so it shows mid-colour). */
void cv_render_auto_range(const float *map, size_t n, float *vmin, float *vmax);

/* out (img's size, RGB, allocated) = img with the colour of each value of
 * m (img's size) on [lo, hi] mixed in: at opacity alpha, or, when reach >
 * 0, alpha * min(|v| / reach, 1) so that 0 stays clear. NaN: img as is. */
void cv_render_blend(cv_image *out, const cv_image *img, const float *m, float lo, float hi, cv_cmap cmap,
                     float alpha, float reach);

/* Nearest-neighbour enlargement by an integer factor, to RGB. */
cv_status cv_render_upscale_nearest(const cv_image *in, int factor, cv_image *out, cv_error *err);

#endif
