/* The image parameterisation of `--method lucid` and its exact backward:
 * 1/f-scaled Fourier spectrum -> real inverse DFT -> colour decorrelation ->
 * sigmoid; the random view (jitter, scale, rotation); Adam. See lucid.h.
 *
 * The inverse DFT is written out as dense matrix products: for the sizes a
 * filter picture has (64..512) two GEMMs per plane are fast enough and need
 * no FFT library.
 */
#include "lucid.h"
#include "../core/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ImageNet RGB pixel covariance (pixels scaled to [0, 1]) as the principal
 * components published with AlexNet's colour augmentation (Krizhevsky et al.
 * 2012; the numbers as in fb.resnet.torch):
 *   eigenvalues   0.2175, 0.0188, 0.0045
 *   eigenvectors (columns) [-0.5675  0.7192  0.4009]
 *                          [-0.5808 -0.0045 -0.8140]
 *                          [-0.5836 -0.6948  0.4203]
 * A square root of the covariance is V diag(sqrt(eigenvalues)); divided by
 * its largest column norm (sqrt(0.2175) times |v0| = 0.99999) and with the
 * first column made positive it is the matrix below: column 0 is luminance,
 * 1 and 2 the two colour-opponent axes at their natural relative strength
 * (column norms 1, 0.2940, 0.1438). Independent latents of equal variance
 * mapped through it have ImageNet's colour correlations. The fixture script
 * tests/fixtures/make_filters_ref.py recomputes it from the numbers above. */
const float cv_lucid_colour[3][3] = {
    {0.56750742f, 0.21144852f, 0.05766581f},
    {0.58080759f, -0.00132302f, -0.11708647f},
    {0.58360763f, -0.20427479f, 0.06045632f},
};

struct cv_lucid {
    int h, w, k, c;
    float *cs;      /* [2H][H]: rows 0..H-1 cos(2 pi u h / H) / H, rows H..2H-1 sin(...) / H */
    float *g;       /* [2K][W]: row v c_v cos(2 pi v w / W) / W, row K+v -c_v sin(...) / W */
    float *scale;   /* [H][K] */
};

void cv_lucid_free(cv_lucid *l)
{
    if (!l)
        return;
    free(l->cs);
    free(l->g);
    free(l->scale);
    free(l);
}

cv_status cv_lucid_create(cv_lucid **out, int h, int w, int channels, cv_error *err)
{
    *out = NULL;
    if (h < 2 || w < 2 || h > 4096 || w > 4096 || (channels != 1 && channels != 3))
        return cv_fail(err, CV_ERR_INVALID, "lucid: image %dx%d with %d channels not supported (2..4096 pixels, 1 or 3 channels)",
                       h, w, channels);
    cv_lucid *l = calloc(1, sizeof *l);
    if (!l)
        return cv_fail(err, CV_ERR_NOMEM, "out of memory");
    l->h = h;
    l->w = w;
    l->k = w / 2 + 1;
    l->c = channels;
    int k = l->k;
    l->cs = malloc(sizeof(float) * 2 * (size_t)h * (size_t)h);
    l->g = malloc(sizeof(float) * 2 * (size_t)k * (size_t)w);
    l->scale = malloc(sizeof(float) * (size_t)h * (size_t)k);
    if (!l->cs || !l->g || !l->scale) {
        cv_lucid_free(l);
        return cv_fail(err, CV_ERR_NOMEM, "lucid: out of memory for %dx%d DFT matrices", h, w);
    }
    const double two_pi = 6.283185307179586;
    /* Reduce u*h mod H before the angle, so large sizes keep full precision. */
    for (int r = 0; r < h; r++)
        for (int u = 0; u < h; u++) {
            double a = two_pi * (double)(((long)r * u) % h) / h;
            l->cs[(size_t)r * h + u] = (float)(cos(a) / h);
            l->cs[(size_t)(h + r) * h + u] = (float)(sin(a) / h);
        }
    for (int v = 0; v < k; v++) {
        /* irfft counts each bin twice (it and its mirror) except DC and,
         * for even W, the Nyquist bin. */
        double cv = (v == 0 || (w % 2 == 0 && v == w / 2)) ? 1.0 : 2.0;
        for (int x = 0; x < w; x++) {
            double a = two_pi * (double)(((long)v * x) % w) / w;
            l->g[(size_t)v * w + x] = (float)(cv * cos(a) / w);
            l->g[(size_t)(k + v) * w + x] = (float)(-cv * sin(a) / w);
        }
    }
    double fmin = 1.0 / (h > w ? h : w);
    for (int u = 0; u < h; u++) {
        double fy = (u < (h + 1) / 2 ? u : u - h) / (double)h; /* numpy.fft.fftfreq */
        for (int v = 0; v < k; v++) {
            double fx = v / (double)w;
            double f = sqrt(fx * fx + fy * fy);
            l->scale[(size_t)u * k + v] = (float)(sqrt((double)h * w) / (f > fmin ? f : fmin) / 4.0);
        }
    }
    *out = l;
    return CV_OK;
}

size_t cv_lucid_num_params(const cv_lucid *l) { return (size_t)l->c * l->h * 2 * l->k; }
const float *cv_lucid_scale(const cv_lucid *l) { return l->scale; }

size_t cv_lucid_work_floats(const cv_lucid *l)
{
    size_t plane = (size_t)l->h * l->w, spec = (size_t)l->h * 2 * l->k;
    /* z or du (C planes), spectrum, T/U (2 spectra), Y/dY */
    return (size_t)l->c * plane + 4 * spec;
}

/* z [H][W] = irfft2 of spec [H][2K]; work: 3 spectra. */
static void irfft2(const cv_lucid *l, float *z, const float *spec, float *work)
{
    int h = l->h, w = l->w, k = l->k, k2 = 2 * k;
    float *t = work;                       /* [2H][2K] */
    float *y = work + (size_t)2 * h * k2;  /* [H][2K] */
    /* Complex inverse DFT down the columns: T = [C; S] spec. */
    cv_sgemm(false, false, 2 * h, k2, h, 1.0f, l->cs, h, spec, k2, 0.0f, t, k2);
    const float *tc = t, *ts = t + (size_t)h * k2;
    for (int r = 0; r < h; r++)
        for (int v = 0; v < k; v++) {
            size_t i = (size_t)r * k2 + v;
            y[i] = tc[i] - ts[i + k];       /* Re: C A - S B */
            y[i + k] = tc[i + k] + ts[i];   /* Im: C B + S A */
        }
    /* Real inverse DFT along the rows: z = Y G. */
    cv_sgemm(false, false, h, w, k2, 1.0f, y, k2, l->g, w, 0.0f, z, w);
}

/* dspec [H][2K] = irfft2^T dz; work: 3 spectra. */
static void irfft2_backward(const cv_lucid *l, float *dspec, const float *dz, float *work)
{
    int h = l->h, w = l->w, k = l->k, k2 = 2 * k;
    float *u = work;                       /* [2H][2K] */
    float *dy = work + (size_t)2 * h * k2; /* [H][2K] */
    cv_sgemm(false, true, h, k2, w, 1.0f, dz, w, l->g, w, 0.0f, dy, k2);
    /* C and S are symmetric, so their transposes are themselves. */
    cv_sgemm(false, false, 2 * h, k2, h, 1.0f, l->cs, h, dy, k2, 0.0f, u, k2);
    const float *uc = u, *us = u + (size_t)h * k2;
    for (int r = 0; r < h; r++)
        for (int v = 0; v < k; v++) {
            size_t i = (size_t)r * k2 + v;
            dspec[i] = uc[i] + us[i + k];       /* dA = C dYr + S dYi */
            dspec[i + k] = uc[i + k] - us[i];   /* dB = C dYi - S dYr */
        }
}

void cv_lucid_irfft2(const cv_lucid *l, float *z, const float *spec, float *work)
{
    irfft2(l, z, spec, work);
}

void cv_lucid_render(const cv_lucid *l, float *rgb, const float *params, float *work)
{
    int h = l->h, k2 = 2 * l->k;
    size_t plane = (size_t)h * l->w, spec_n = (size_t)h * k2;
    float *z = work;                          /* [C][H][W] */
    float *spec = work + (size_t)l->c * plane; /* [H][2K] */
    float *rest = spec + spec_n;
    for (int c = 0; c < l->c; c++) {
        const float *p = params + (size_t)c * spec_n;
        for (int r = 0; r < h; r++)
            for (int v = 0; v < k2; v++) {
                size_t i = (size_t)r * k2 + v;
                spec[i] = p[i] * l->scale[(size_t)r * l->k + (v % l->k)];
            }
        irfft2(l, z + (size_t)c * plane, spec, rest);
    }
    for (size_t i = 0; i < plane; i++) {
        float u[3] = {0, 0, 0};
        if (l->c == 3) {
            for (int c = 0; c < 3; c++)
                u[c] = cv_lucid_colour[c][0] * z[i] + cv_lucid_colour[c][1] * z[plane + i] +
                       cv_lucid_colour[c][2] * z[2 * plane + i];
        } else {
            u[0] = z[i];
        }
        for (int c = 0; c < l->c; c++)
            rgb[(size_t)c * plane + i] = 1.0f / (1.0f + expf(-u[c]));
    }
}

void cv_lucid_render_backward(const cv_lucid *l, float *dparams, const float *drgb, const float *rgb, float *work)
{
    int h = l->h, k2 = 2 * l->k;
    size_t plane = (size_t)h * l->w, spec_n = (size_t)h * k2;
    float *dz = work;                          /* [C][H][W] */
    float *dspec = work + (size_t)l->c * plane; /* [H][2K] */
    float *rest = dspec + spec_n;
    for (size_t i = 0; i < plane; i++) {
        float du[3] = {0, 0, 0};
        for (int c = 0; c < l->c; c++) {
            float s = rgb[(size_t)c * plane + i];
            du[c] = drgb[(size_t)c * plane + i] * s * (1.0f - s);
        }
        if (l->c == 3) {
            for (int j = 0; j < 3; j++)
                dz[(size_t)j * plane + i] = cv_lucid_colour[0][j] * du[0] + cv_lucid_colour[1][j] * du[1] +
                                            cv_lucid_colour[2][j] * du[2];
        } else {
            dz[i] = du[0];
        }
    }
    for (int c = 0; c < l->c; c++) {
        irfft2_backward(l, dspec, dz + (size_t)c * plane, rest);
        float *dp = dparams + (size_t)c * spec_n;
        for (int r = 0; r < h; r++)
            for (int v = 0; v < k2; v++) {
                size_t i = (size_t)r * k2 + v;
                dp[i] += dspec[i] * l->scale[(size_t)r * l->k + (v % l->k)];
            }
    }
}

/* ---- random view ----------------------------------------------------------- */

/* Where output pixel (x, y) samples the image, in index coordinates. */
static void warp_source(const cv_warp *t, int h, int w, float ca, float sa, int x, int y, float *fx, float *fy)
{
    float px = x + 0.5f - 0.5f * w, py = y + 0.5f - 0.5f * h;
    *fx = 0.5f * w + t->dx + (ca * px - sa * py) / t->scale - 0.5f;
    *fy = 0.5f * h + t->dy + (sa * px + ca * py) / t->scale - 0.5f;
}

void cv_warp_forward(float *out, const float *img, int c, int h, int w, const cv_warp *t, float pad)
{
    float ca = cosf(t->angle), sa = sinf(t->angle);
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float fx, fy;
            warp_source(t, h, w, ca, sa, x, y, &fx, &fy);
            float x0f = floorf(fx), y0f = floorf(fy);
            int x0 = (int)x0f, y0 = (int)y0f;
            float ax = fx - x0f, ay = fy - y0f;
            float wt[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
            int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
            for (int ch = 0; ch < c; ch++) {
                const float *src = img + (size_t)ch * plane;
                float v = 0;
                for (int q = 0; q < 4; q++) {
                    bool in = xs[q] >= 0 && xs[q] < w && ys[q] >= 0 && ys[q] < h;
                    v += wt[q] * (in ? src[(size_t)ys[q] * w + xs[q]] : pad);
                }
                out[(size_t)ch * plane + (size_t)y * w + x] = v;
            }
        }
}

void cv_warp_backward(float *dimg, const float *dout, int c, int h, int w, const cv_warp *t)
{
    float ca = cosf(t->angle), sa = sinf(t->angle);
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float fx, fy;
            warp_source(t, h, w, ca, sa, x, y, &fx, &fy);
            float x0f = floorf(fx), y0f = floorf(fy);
            int x0 = (int)x0f, y0 = (int)y0f;
            float ax = fx - x0f, ay = fy - y0f;
            float wt[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
            int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
            for (int ch = 0; ch < c; ch++) {
                float d = dout[(size_t)ch * plane + (size_t)y * w + x];
                float *dst = dimg + (size_t)ch * plane;
                for (int q = 0; q < 4; q++)
                    if (xs[q] >= 0 && xs[q] < w && ys[q] >= 0 && ys[q] < h)
                        dst[(size_t)ys[q] * w + xs[q]] += wt[q] * d;
            }
        }
}

/* ---- pixels -> model input ---------------------------------------------------- */

/* Which RGB plane feeds model channel c. */
static int rgb_plane(const cv_preprocess *p, int channels, int c)
{
    return channels == 3 && p->bgr ? 2 - c : c;
}

void cv_lucid_to_input(float *x, const float *rgb, int c, size_t plane, const cv_preprocess *pre)
{
    for (int ch = 0; ch < c; ch++) {
        const float *src = rgb + (size_t)rgb_plane(pre, c, ch) * plane;
        float *d = x + (size_t)ch * plane, f = 255.0f * pre->scale / pre->std[ch], b = pre->mean[ch] / pre->std[ch];
        for (size_t q = 0; q < plane; q++)
            d[q] = src[q] * f - b;
    }
}

void cv_lucid_to_input_backward(float *drgb, const float *dx, int c, size_t plane, const cv_preprocess *pre)
{
    for (int ch = 0; ch < c; ch++) {
        float *d = drgb + (size_t)rgb_plane(pre, c, ch) * plane, f = 255.0f * pre->scale / pre->std[ch];
        const float *src = dx + (size_t)ch * plane;
        for (size_t q = 0; q < plane; q++)
            d[q] = src[q] * f;
    }
}

/* ---- Adam ------------------------------------------------------------------ */

void cv_adam_ascent(float *p, float *m, float *v, const float *g, size_t n, int t, float lr)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
    for (size_t i = 0; i < n; i++) {
        m[i] = (float)(b1 * m[i] + (1 - b1) * g[i]);
        v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g[i] * g[i]);
        double mh = m[i] / c1, vh = v[i] / c2;
        p[i] += (float)(lr * mh / (sqrt(vh) + eps));
    }
}
