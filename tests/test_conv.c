/* Conv: forward and backward-to-input against the naive loops in
 * tests/lib/ref_conv.c over many random configurations, finite-difference
 * gradient checks, VGG-sized shapes (fast kernels vs naive), and the errors
 * a bad model gets. */
#include "lib/oplab.h"
#include "lib/ref.h"
#include "lib/test.h"
#include "../src/ops/winograd.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };
static const char *const pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

typedef struct {
    ref_geom g;              /* explicit pads (for auto_pad: what ONNX resolves them to) */
    int auto_pad;
    int bias;
    int kernel_attr;         /* write kernel_shape (else inferred from W) */
    int one_d;               /* (N, C, L) tensors */
    cv_conv_algo algo;       /* cv_run_options.conv_algo (0: automatic) */
} conv_case;

static int irand(int lo, int hi) { return lo + (int)test_uniform(0.0f, (float)(hi - lo + 1) - 1e-3f); }

/* What ONNX's SAME_* rule gives along one axis: begin and end pads. */
static void same_pads(int in, int k, int s, int d, int upper, int *pb, int *pe)
{
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + (k - 1) * d + 1 - in;
    if (total < 0)
        total = 0;
    *pb = upper ? total / 2 : total - total / 2;
    *pe = total - *pb;
}

static void case_text(const conv_case *cc, char *buf, size_t len)
{
    const ref_geom *g = &cc->g;
    snprintf(buf, len,
             "%s n%d c%d %dx%d m%d group%d k%dx%d s%dx%d d%dx%d pads(t%d l%d b%d r%d) auto_pad %s bias %d",
             cc->one_d ? "1-D" : "2-D", g->n, g->c, g->h, g->w, g->m, g->group, g->kh, g->kw, g->sh, g->sw,
             g->dh, g->dw, g->pt, g->pl, g->pb, g->pr, pad_names[cc->auto_pad], cc->bias);
}

/* Build the one-Conv model for cc with weights w and bias b. */
static cv_status conv_lab(oplab *lab, const conv_case *cc, const float *w, const float *b)
{
    const ref_geom *g = &cc->g;
    cv_shape xs = {4, {g->n, g->c, g->h, g->w}};
    cv_shape ws = {4, {g->m, g->c / g->group, g->kh, g->kw}};
    if (cc->one_d) {
        xs = (cv_shape){3, {g->n, g->c, g->w}};
        ws = (cv_shape){3, {g->m, g->c / g->group, g->kw}};
    }
    cv_shape bs = {1, {g->m}};
    oplab_begin(lab, "Conv", &xs);
    lab->conv_algo = cc->algo;
    oplab_const(lab, &ws, w);
    if (cc->bias)
        oplab_const(lab, &bs, b);
    int nsp = cc->one_d ? 1 : 2;
    int64_t k[2] = {g->kh, g->kw}, s[2] = {g->sh, g->sw}, d[2] = {g->dh, g->dw};
    int64_t p[4] = {g->pt, g->pl, g->pb, g->pr};
    if (cc->one_d) {
        k[0] = g->kw, s[0] = g->sw, d[0] = g->dw;
        p[0] = g->pl, p[1] = g->pr;
    }
    cv_node_set_ints(lab->m, lab->node, "strides", s, nsp, NULL);
    cv_node_set_ints(lab->m, lab->node, "dilations", d, nsp, NULL);
    cv_node_set_int(lab->m, lab->node, "group", g->group, NULL);
    if (cc->kernel_attr)
        cv_node_set_ints(lab->m, lab->node, "kernel_shape", k, nsp, NULL);
    if (cc->auto_pad == PAD_NOTSET)
        cv_node_set_ints(lab->m, lab->node, "pads", p, 2 * nsp, NULL);
    else
        cv_node_set_string(lab->m, lab->node, "auto_pad", pad_names[cc->auto_pad], NULL);
    return oplab_end(lab);
}

/* A random case whose output is not empty. */
static void random_case(conv_case *cc)
{
    for (;;) {
        memset(cc, 0, sizeof *cc);
        ref_geom *g = &cc->g;
        g->n = irand(1, 2);
        int kind = irand(0, 9);
        if (kind < 5) {                          /* ordinary */
            g->group = 1;
        } else if (kind < 8) {                   /* grouped */
            g->group = irand(2, 3);
        } else {                                 /* depthwise, multiplier 1 or 2 */
            g->group = irand(2, 6);
        }
        int cg = kind >= 8 ? 1 : irand(1, 3), mg = kind >= 8 ? irand(1, 2) : irand(1, 3);
        g->c = g->group * cg;
        g->m = g->group * mg;
        cc->one_d = irand(0, 6) == 0;
        g->h = cc->one_d ? 1 : irand(1, 12);
        g->w = irand(1, 12);
        g->kh = cc->one_d ? 1 : irand(1, 4);
        g->kw = irand(1, 4);
        g->sh = cc->one_d ? 1 : irand(1, 3);
        g->sw = irand(1, 3);
        g->dh = cc->one_d || irand(0, 1) ? 1 : irand(2, 3);
        g->dw = irand(0, 1) ? 1 : irand(2, 3);
        int r = irand(0, 19);
        cc->auto_pad = r < 12 ? PAD_NOTSET : r < 15 ? PAD_SAME_UPPER : r < 18 ? PAD_SAME_LOWER : PAD_VALID;
        if (cc->auto_pad == PAD_NOTSET) {
            g->pt = cc->one_d ? 0 : irand(0, 2);
            g->pb = cc->one_d ? 0 : irand(0, 2);
            g->pl = irand(0, 2);
            g->pr = irand(0, 2);
        } else if (cc->auto_pad != PAD_VALID) {
            int up = cc->auto_pad == PAD_SAME_UPPER;
            same_pads(g->h, g->kh, g->sh, g->dh, up, &g->pt, &g->pb);
            same_pads(g->w, g->kw, g->sw, g->dw, up, &g->pl, &g->pr);
        }
        cc->bias = irand(0, 2) > 0;
        cc->kernel_attr = irand(0, 1);
        int oh, ow;
        ref_out_size(g, &oh, &ow);
        if (oh >= 1 && ow >= 1)
            return;
    }
}

static size_t conv_out_numel(const ref_geom *g)
{
    int oh, ow;
    ref_out_size(g, &oh, &ow);
    return (size_t)g->n * g->m * oh * ow;
}

/* Forward and backward of one case against the naive loops; returns the
 * larger relative difference, and prints the case when it is above tol. */
static double check_case(const conv_case *cc, double tol, double *fwd_out, double *bwd_out)
{
    const ref_geom *g = &cc->g;
    size_t nx = (size_t)g->n * g->c * g->h * g->w, nw = (size_t)g->m * (g->c / g->group) * g->kh * g->kw;
    size_t ny = conv_out_numel(g);
    float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float)), *b = malloc((size_t)g->m * sizeof(float));
    float *ref = malloc(ny * sizeof(float)), *seed = malloc(ny * sizeof(float)), *dref = malloc(nx * sizeof(float));
    test_fill(x, nx, -1.0f, 1.0f);
    test_fill(w, nw, -1.0f, 1.0f);
    test_fill(b, (size_t)g->m, -1.0f, 1.0f);
    test_fill(seed, ny, -1.0f, 1.0f);
    ref_conv2d(ref, x, w, cc->bias ? b : NULL, g);
    ref_conv2d_backward_input(dref, seed, w, g);
    oplab lab;
    char text[256];
    case_text(cc, text, sizeof text);
    double worst = INFINITY;
    if (conv_lab(&lab, cc, w, b) != CV_OK || oplab_forward(&lab, x) != CV_OK) {
        CHECK(0, "%s: %s", text, lab.err.msg);
    } else if (lab.y_numel != ny) {
        CHECK(0, "%s: output has %zu values, expected %zu", text, lab.y_numel, ny);
    } else {
        double f = test_max_rel_diff(lab.y, ref, ny);
        const float *dx = NULL;
        cv_status st = cv_run_backward(lab.run, 0, seed, &dx, &lab.err);
        CHECK(st == CV_OK, "%s: backward: %s", text, lab.err.msg);
        double bd = st == CV_OK ? test_max_rel_diff(dx, dref, nx) : INFINITY;
        CHECK(f <= tol, "%s: forward rel diff %.3g", text, f);
        CHECK(bd <= tol, "%s: backward rel diff %.3g", text, bd);
        if (fwd_out && f > *fwd_out)
            *fwd_out = f;
        if (bwd_out && bd > *bwd_out)
            *bwd_out = bd;
        worst = f > bd ? f : bd;
    }
    oplab_free(&lab);
    free(x); free(w); free(b); free(ref); free(seed); free(dref);
    return worst;
}

static void test_conv_random(void)
{
    test_seed(20240601);
    double fwd = 0, bwd = 0;
    int cases = 400, counts[4] = {0};
    for (int k = 0; k < cases; k++) {
        conv_case cc;
        random_case(&cc);
        counts[cc.auto_pad]++;
        check_case(&cc, 1e-5, &fwd, &bwd);
        if (test_failed_now)
            return;
    }
    printf("    %d random configs (auto_pad NOTSET %d, SAME_UPPER %d, SAME_LOWER %d, VALID %d): "
           "forward max rel diff %.3g, backward %.3g (tol 1e-5)\n",
           cases, counts[0], counts[1], counts[2], counts[3], fwd, bwd);
}

/* Shapes of real networks, where the fast paths and the im2col tiling are used. */
static void test_conv_real_shapes(void)
{
    static const struct {
        const char *what;
        conv_case cc;
    } cases[] = {
        {"VGG 64->64 56x56 3x3", {.g = {1, 64, 56, 56, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"1x1 256->64 28x28 batch 2", {.g = {2, 256, 28, 28, 64, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, .bias = 1}},
        {"im2col tiled 64->16 112x112", {.g = {1, 64, 112, 112, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"tiled, strided, dilated", {.g = {2, 48, 150, 170, 8, 1, 3, 3, 2, 2, 2, 2, 2, 1, 1, 2}}},
        {"depthwise 32 56x56 stride 2", {.g = {1, 32, 56, 56, 32, 32, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, .bias = 1}},
        /* small images in one sgemm for several images (conv_forward_batched), with a partial last group */
        {"batched 3x3/2 x5 64->96 14x14", {.g = {5, 64, 14, 14, 96, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"batched 1x1 x45 48->80 7x7", {.g = {45, 48, 7, 7, 80, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, .bias = 1}},
        {"batched 3x3 x41 8->8 5x5", {.g = {41, 8, 5, 5, 8, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0}}},
        /* the 3x3 / stride 1 depthwise fast path: pad 1, no pad, uneven pads, multiplier 2, tiny */
        {"depthwise 3x3 32 14x14 pad 1", {.g = {2, 32, 14, 14, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"depthwise 3x3 16 9x17 no pad", {.g = {2, 16, 9, 17, 16, 16, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0}, .bias = 1}},
        {"depthwise 3x3 x2 5x4 pads 2,0,1,2", {.g = {1, 8, 5, 4, 16, 8, 3, 3, 1, 1, 1, 1, 2, 0, 1, 2}}},
        {"depthwise 3x3 6 3x2 pad 1", {.g = {1, 6, 3, 2, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}}},
        /* 16 columns per register (maps with 16 inner columns or more): an
         * overlapping last vector (width 37), stride 2's even lanes, 5x5,
         * dilation with stride 3, and the border columns around them */
        {"depthwise 5x5 24 40x37 pad 2", {.g = {2, 24, 40, 37, 24, 24, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, .bias = 1}},
        {"depthwise 5x5 x2 45x70 /2 pad 2", {.g = {1, 8, 45, 70, 16, 8, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, .bias = 1}},
        {"depthwise 3x3 d2 /3 30x61", {.g = {1, 4, 30, 61, 4, 4, 3, 3, 3, 3, 2, 2, 1, 3, 0, 2}}},
        /* narrow maps through the zero-padded flat plane: 5x5, dilation 2, uneven pads */
        {"depthwise 5x5 d2 x2 11x13 pads", {.g = {2, 6, 11, 13, 12, 6, 5, 5, 1, 1, 2, 2, 4, 3, 4, 5}, .bias = 1}},
        /* ... and strided, through its phase planes: EfficientNet's 5x5/2 14->7 and 3x3/2 28->14,
         * odd sizes with uneven pads, stride 3 with dilation 2, unequal strides */
        {"depthwise 5x5 /2 20 14x14 pad 2", {.g = {1, 20, 14, 14, 20, 20, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, .bias = 1}},
        {"depthwise 3x3 /2 17 28x28 pad 1", {.g = {2, 17, 28, 28, 17, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"depthwise 5x5 /2 x2 13x15 pads", {.g = {1, 5, 13, 15, 10, 5, 5, 5, 2, 2, 1, 1, 1, 2, 2, 0}, .bias = 1}},
        {"depthwise 3x3 /3 d2 19x23", {.g = {1, 3, 19, 23, 3, 3, 3, 3, 3, 3, 2, 2, 2, 1, 0, 2}}},
        {"depthwise 3x5 /(2,3) 12x20", {.g = {1, 4, 12, 20, 4, 4, 3, 5, 2, 3, 1, 1, 1, 2, 1, 2}}},
        {"grouped 4x(16->16) 28x28 5x5", {.g = {1, 64, 28, 28, 64, 4, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, .bias = 1}},
        /* stride 1, backward as a forward convolution of dy (conv_choose_flip):
         * its column tiles (64 x 25 rows x 25500 pixels), dilation with
         * uneven pads, a 1-D conv, pads at the limit (kernel extent - 1) */
        {"flipped backward tiled 8->64 5x5", {.g = {1, 8, 150, 170, 64, 1, 5, 5, 1, 1, 1, 1, 2, 1, 0, 4}, .bias = 1}},
        {"flipped backward d2 x2 16->24", {.g = {2, 16, 19, 23, 24, 1, 3, 3, 1, 1, 2, 2, 4, 0, 1, 3}}},
        {"flipped backward grouped 3x(4->6)", {.g = {1, 12, 9, 31, 18, 3, 1, 7, 1, 1, 1, 1, 0, 6, 0, 5}}},
        {"AlexNet conv1 11x11/4", {.g = {1, 3, 227, 227, 16, 1, 11, 11, 4, 4, 1, 1, 0, 0, 0, 0}, .bias = 1}},
        /* few input channels, one group: the direct kernel (conv_direct.c) under
         * "auto": rows of more than one 128-pixel segment with a partial last
         * vector, output channels that are not a whole register block, both
         * strides' phase planes, TF-style uneven pads, dilation, batches */
        {"direct ResNet stem 7x7/2 3->20", {.g = {1, 3, 300, 270, 20, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3}, .bias = 1}},
        {"direct VGG first 3->64 3x3 40x150", {.g = {1, 3, 40, 150, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"direct MobileNet stem x2 3->32 /2", {.g = {2, 3, 33, 47, 32, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, .bias = 1}},
        {"direct grey 1->13 5x5 /3 d2", {.g = {1, 1, 50, 61, 13, 1, 5, 5, 3, 3, 2, 2, 2, 4, 1, 0}}},
        {"direct 4->100 2x3 /(1,2) pads", {.g = {3, 4, 19, 140, 100, 1, 2, 3, 1, 2, 1, 1, 0, 1, 2, 3}, .bias = 1}},
        /* ... and past its limits (stride 9, a row extent of 80): im2col */
        {"3 channels /9 d40: im2col", {.g = {1, 3, 30, 200, 8, 1, 3, 3, 1, 9, 1, 40, 1, 1, 1, 1}, .bias = 1}},
    };
    test_seed(7);
    /* each case with the automatic choice (Winograd for the 3x3 ones) and
     * with im2col forced */
    for (int forced = 0; forced < 2; forced++) {
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            double f = 0, b = 0;
            conv_case cc = cases[k].cc;
            cc.algo = forced ? CV_CONV_IM2COL : CV_CONV_AUTO;
            check_case(&cc, 1e-4, &f, &b);
            printf("    %-30s %-6s forward max rel diff %.3g, backward %.3g (tol 1e-4)\n", cases[k].what,
                   forced ? "im2col" : "auto", f, b);
        }
    }
}

/* Winograd with per-image output sizes (vr x vc corners, as incremental
 * occlusion asks): inside each corner the same as the whole convolution,
 * outside it y is left alone (a sentinel survives) except for the rest of
 * the corner's last 4x4 tiles. */
static void test_winograd_corners(void)
{
    enum { N = 7, C = 24, M = 20, IH = 15, IW = 13 };
    cv_wino_geom g = {.n = N, .c = C, .m = M, .ih = IH, .iw = IW, .oh = IH, .ow = IW, .pt = 1, .pl = 1};
    const int vr[N] = {15, 1, 9, 0, 4, 13, 8}, vc[N] = {13, 5, 1, 7, 4, 12, 13};
    size_t xn = (size_t)N * C * IH * IW, yn = (size_t)N * M * IH * IW;
    float *x = malloc(xn * sizeof(float)), *w = malloc((size_t)M * C * 9 * sizeof(float));
    float *b = malloc(M * sizeof(float)), *all = malloc(yn * sizeof(float)), *part = malloc(yn * sizeof(float));
    float *u = malloc(cv_wino_weights_floats(M, C) * sizeof(float));
    cv_wino_geom gp = g;
    gp.vr = vr;
    gp.vc = vc;
    size_t sn = cv_wino_scratch_floats(&g);
    float *scratch = malloc(sn * sizeof(float));
    REQUIRE(x && w && b && all && part && u && scratch, "out of memory");
    test_seed(7);
    test_fill(x, xn, -1, 1);
    test_fill(w, (size_t)M * C * 9, -1, 1);
    test_fill(b, M, -1, 1);
    cv_wino_transform_weights(u, w, M, C, false);
    cv_wino_conv(all, x, u, b, &g, false, scratch);
    for (size_t k = 0; k < yn; k++)
        part[k] = 1e30f;
    cv_wino_conv(part, x, u, b, &gp, false, scratch);
    double d = 0;
    int inside_bad = 0, outside_bad = 0;
    for (int i = 0; i < N; i++)
        for (int m = 0; m < M; m++)
            for (int r = 0; r < IH; r++)
                for (int q = 0; q < IW; q++) {
                    size_t k = (((size_t)i * M + m) * IH + r) * IW + q;
                    bool in = r < vr[i] && q < vc[i];
                    bool tile = r < (vr[i] + 3) / 4 * 4 && q < (vc[i] + 3) / 4 * 4;
                    if (in) {
                        d = fmax(d, fabs(part[k] - all[k]));
                        inside_bad += part[k] == 1e30f;
                    } else if (!tile) {
                        outside_bad += part[k] != 1e30f;
                    }
                }
    printf("    7 images, corners from 0x7 to 15x13: max abs diff %.3g inside; %d unwritten inside, %d written "
           "outside the corners' tiles\n",
           d, inside_bad, outside_bad);
    CHECK(d <= 1e-4 && inside_bad == 0 && outside_bad == 0, "corners wrong");
    free(x);
    free(w);
    free(b);
    free(all);
    free(part);
    free(u);
    free(scratch);
}

/* Winograd F(4x4, 3x3), forced on (CV_CONV_WINOGRAD) for every
 * 3x3 / stride 1 / group 1 case: odd sizes, asymmetric pads (backward uses
 * it for pads <= 2), channel counts off the kernel's blocks of 32, batch 2,
 * and an image large enough to be processed in several chunks. */
static void test_conv_winograd(void)
{
    test_seed(99);
    double fwd = 0, bwd = 0;
    int cases = 120;
    for (int k = 0; k < cases && !test_failed_now; k++) {
        conv_case cc = {.bias = irand(0, 1), .kernel_attr = irand(0, 1), .algo = CV_CONV_WINOGRAD};
        ref_geom *g = &cc.g;
        *g = (ref_geom){.n = irand(1, 2), .c = irand(1, 40), .h = irand(2, 19), .w = irand(1, 19), .m = irand(1, 70),
                        .group = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                        .pt = irand(0, 3), .pl = irand(0, 3), .pb = irand(0, 3), .pr = irand(0, 3)};
        int oh, ow;
        ref_out_size(g, &oh, &ow);
        if (oh < 1 || ow < 1) {
            k--;
            continue;
        }
        check_case(&cc, 1e-4, &fwd, &bwd);
    }
    printf("    %d random 3x3 configs: forward max rel diff %.3g, backward %.3g (tol 1e-4)\n", cases, fwd, bwd);
    conv_case big = {.g = {1, 16, 200, 204, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1, .algo = CV_CONV_WINOGRAD};
    fwd = bwd = 0;
    check_case(&big, 1e-4, &fwd, &bwd);
    printf("    16->8 200x204 (several chunks): forward max rel diff %.3g, backward %.3g (tol 1e-4)\n", fwd, bwd);
    /* batch 7 of 40x200: the images' tile rows share chunks, one boundary inside an image */
    conv_case batch = {.g = {7, 16, 40, 200, 16, 1, 3, 3, 1, 1, 1, 1, 1, 0, 1, 2}, .bias = 1, .algo = CV_CONV_WINOGRAD};
    fwd = bwd = 0;
    check_case(&batch, 1e-4, &fwd, &bwd);
    printf("    batch 7 16->16 40x200 (chunks across images): forward max rel diff %.3g, backward %.3g (tol 1e-4)\n",
           fwd, bwd);
    /* narrow images (3 tiles across: vectors of tiles span rows and
     * images), 20 of them in two chunks that split an image */
    conv_case narrow = {.g = {20, 128, 11, 10, 128, 1, 3, 3, 1, 1, 1, 1, 0, 1, 0, 0}, .bias = 1, .algo = CV_CONV_WINOGRAD};
    fwd = bwd = 0;
    check_case(&narrow, 1e-4, &fwd, &bwd);
    printf("    batch 20 128->128 11x10 (narrow, two chunks): forward max rel diff %.3g, backward %.3g (tol 1e-4)\n",
           fwd, bwd);
}

/* Finite differences on small cases of each kernel. */
static void test_conv_gradcheck(void)
{
    static const struct {
        const char *what;
        conv_case cc;
    } cases[] = {
        {"3x3 pad 1", {.g = {1, 2, 5, 6, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1}},
        {"stride 2, dilation 2, asymmetric pads", {.g = {2, 2, 7, 6, 2, 1, 3, 2, 2, 1, 2, 2, 0, 1, 2, 0}}},
        {"group 2", {.g = {1, 4, 5, 5, 4, 2, 3, 3, 1, 2, 1, 1, 1, 0, 1, 1}, .bias = 1}},
        {"depthwise x2, stride 2", {.g = {1, 3, 6, 6, 6, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1}}},
        {"1x1", {.g = {2, 3, 4, 5, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, .bias = 1}},
        {"1-D k3 s2", {.g = {1, 2, 1, 9, 3, 1, 1, 3, 1, 2, 1, 1, 0, 1, 0, 2}, .one_d = 1}},
        {"SAME_LOWER k2", {.g = {1, 2, 5, 4, 2, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0}, .auto_pad = PAD_SAME_LOWER}},
    };
    test_seed(11);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const conv_case *cc = &cases[k].cc;
        const ref_geom *g = &cc->g;
        size_t nx = (size_t)g->n * g->c * g->h * g->w, nw = (size_t)g->m * (g->c / g->group) * g->kh * g->kw;
        float x[512], w[512], b[16];
        test_fill(x, nx, -1.0f, 1.0f);
        test_fill(w, nw, -1.0f, 1.0f);
        test_fill(b, 16, -1.0f, 1.0f);
        oplab lab;
        cv_status st = conv_lab(&lab, cc, w, b);
        CHECK(st == CV_OK, "%s: %s", cases[k].what, lab.err.msg);
        if (st == CV_OK) {
            printf("    %s:\n", cases[k].what);
            /* conv is linear in x: central differences are exact up to rounding */
            double e = oplab_gradcheck(&lab, x, 1e-2f);
            CHECK(e < 1e-3, "%s: gradient rel err %.3g", cases[k].what, e);
        }
        oplab_free(&lab);
    }
}

/* auto_pad by hand: input [1 2 3 4], kernel [1 10], stride 1. SAME pads one
 * pixel: at the end for SAME_UPPER, at the start for SAME_LOWER. */
static void test_conv_auto_pad_values(void)
{
    float x[4] = {1, 2, 3, 4}, w[2] = {1, 10};
    static const float upper[4] = {21, 32, 43, 4}, lower[4] = {10, 21, 32, 43}, valid[3] = {21, 32, 43};
    const float *want[4] = {NULL, upper, lower, valid};
    for (int ap = PAD_SAME_UPPER; ap <= PAD_VALID; ap++) {
        conv_case cc = {.g = {1, 1, 1, 4, 1, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0}, .auto_pad = ap};
        oplab lab;
        REQUIRE(conv_lab(&lab, &cc, w, NULL) == CV_OK, "%s", lab.err.msg);
        REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        size_t n = ap == PAD_VALID ? 3 : 4;
        CHECK(lab.y_numel == n, "%s: %zu outputs", pad_names[ap], lab.y_numel);
        if (lab.y_numel == n) {
            double d = test_max_abs_diff(lab.y, want[ap], n);
            printf("    auto_pad %-10s -> [", pad_names[ap]);
            for (size_t i = 0; i < n; i++)
                printf(i ? " %g" : "%g", lab.y[i]);
            printf("], max abs diff %.3g\n", d);
            CHECK(d == 0, "%s: differs by %g", pad_names[ap], d);
        }
        oplab_free(&lab);
    }
}

static void test_conv_macs(void)
{
    conv_case cc = {.g = {2, 6, 10, 9, 4, 2, 3, 2, 2, 1, 1, 1, 1, 0, 1, 0}, .bias = 1};
    float w[4 * 3 * 3 * 2], b[4] = {0};
    test_fill(w, sizeof w / sizeof w[0], -1, 1);
    oplab lab;
    REQUIRE(conv_lab(&lab, &cc, w, b) == CV_OK, "%s", lab.err.msg);
    float x[2 * 6 * 10 * 9];
    test_fill(x, sizeof x / sizeof x[0], -1, 1);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    int oh, ow;
    ref_out_size(&cc.g, &oh, &ow);
    double want = 2.0 * 4 * oh * ow * 3 * 3 * 2;
    double got = cv_run_layer_macs(lab.run, 0);
    printf("    macs %.0f (expected %.0f)\n", got, want);
    CHECK(got == want, "macs %g, expected %g", got, want);
    /* the profile: the forward's time is the layer's, none went to a
     * backward, and a layer outside the model has none */
    double sec = cv_run_layer_seconds(lab.run, 0, 0);
    printf("    layer seconds after a forward: %.3g\n", sec);
    CHECK(sec > 0 && sec < 10, "forward seconds %g", sec);
    CHECK(cv_run_layer_seconds(lab.run, 0, 1) == 0, "backward seconds without a backward");
    CHECK(cv_run_layer_seconds(lab.run, 1, 0) == 0 && cv_run_layer_seconds(lab.run, -1, 0) == 0,
          "seconds of a layer not in the model");
    oplab_free(&lab);
}

/* cv_run_options.conv_algo reaches the kernels: on a 3x3 / 16 -> 16 conv
 * where Winograd pays, auto and winograd give the same bits both ways,
 * im2col rounds differently (a sum in another order) yet agrees to 1e-4,
 * and exact-backward is Winograd's forward with im2col's backward, bit for
 * bit; an unknown value is refused at planning. */
static void test_conv_algo_option(void)
{
    conv_case cc = {.g = {1, 16, 24, 24, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, .bias = 1};
    enum { NX = 16 * 24 * 24, NW = 16 * 16 * 9, NY = 16 * 24 * 24 };
    enum { A, I, W, E }; /* auto, im2col, winograd, exact-backward: algos[] */
    static float x[NX], w[NW], b[16], seed[NY], y[4][NY], dx[4][NX];
    test_seed(31);
    test_fill(x, NX, -1, 1);
    test_fill(w, NW, -1, 1);
    test_fill(b, 16, -1, 1);
    test_fill(seed, NY, -1, 1);
    static const cv_conv_algo algos[4] = {CV_CONV_AUTO, CV_CONV_IM2COL, CV_CONV_WINOGRAD, CV_CONV_EXACT_BACKWARD};
    for (int a = 0; a < 4; a++) {
        oplab lab;
        const float *g = NULL;
        cc.algo = algos[a];
        REQUIRE(conv_lab(&lab, &cc, w, b) == CV_OK && oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
        REQUIRE(lab.y_numel == NY, "output has %zu values, expected %d", lab.y_numel, NY);
        REQUIRE(cv_run_backward(lab.run, 0, seed, &g, &lab.err) == CV_OK, "%s", lab.err.msg);
        memcpy(y[a], lab.y, sizeof y[a]);
        memcpy(dx[a], g, sizeof dx[a]);
        oplab_free(&lab);
    }
    double fwd_aw = test_max_abs_diff(y[A], y[W], NY), bwd_aw = test_max_abs_diff(dx[A], dx[W], NX);
    double fwd_ew = test_max_abs_diff(y[E], y[W], NY), bwd_ei = test_max_abs_diff(dx[E], dx[I], NX);
    double fwd_iw = test_max_rel_diff(y[I], y[W], NY), bwd_iw = test_max_rel_diff(dx[I], dx[W], NX);
    printf("    auto vs winograd: max abs diff %.3g forward, %.3g backward (expected 0)\n", fwd_aw, bwd_aw);
    printf("    exact-backward vs winograd forward %.3g, vs im2col backward %.3g (expected 0)\n", fwd_ew, bwd_ei);
    printf("    im2col vs winograd: max rel diff %.3g forward, %.3g backward (expected > 0, <= 1e-4)\n", fwd_iw,
           bwd_iw);
    CHECK(fwd_aw == 0 && bwd_aw == 0, "auto did not choose Winograd");
    CHECK(fwd_ew == 0 && bwd_ei == 0, "exact-backward is not Winograd forward and im2col backward");
    CHECK(fwd_iw > 0 && bwd_iw > 0, "im2col gave Winograd's bits: the option did not reach the kernel");
    CHECK(fwd_iw <= 1e-4 && bwd_iw <= 1e-4, "im2col and Winograd disagree");
    oplab lab;
    cc.algo = (cv_conv_algo)4;
    REQUIRE(conv_lab(&lab, &cc, w, b) == CV_OK, "%s", lab.err.msg);
    cv_status st = oplab_forward(&lab, x);
    printf("    conv_algo 4: %s\n", st == CV_OK ? "(accepted)" : lab.err.msg);
    CHECK(st == CV_ERR_INVALID && strstr(lab.err.msg, "convolution algorithm"), "conv_algo 4: status %s",
          cv_status_string(st));
    oplab_free(&lab);
}

/* Build a Conv from shapes and attributes and expect a failure at
 * finalize (init) or at planning (infer) with status st and a message
 * containing `needle`. */
static void expect_error(const char *what, const cv_shape *xs, const cv_shape *ws, const cv_shape *bs,
                         void (*attrs)(cv_model *, int), cv_status st, const char *needle)
{
    float buf[4096] = {0};
    oplab lab;
    oplab_begin(&lab, "Conv", xs);
    oplab_const(&lab, ws, buf);
    if (bs)
        oplab_const(&lab, bs, buf);
    if (attrs)
        attrs(lab.m, lab.node);
    cv_status got = oplab_end(&lab);
    if (got == CV_OK)
        got = oplab_forward(&lab, buf);
    printf("    %s: %s\n", what, got == CV_OK ? "(accepted)" : lab.err.msg);
    CHECK(got == st, "%s: status %s, expected %s", what, cv_status_string(got), cv_status_string(st));
    CHECK(got == CV_OK || strstr(lab.err.msg, needle), "%s: message lacks '%s'", what, needle);
    oplab_free(&lab);
}

static void attr_group2(cv_model *m, int k) { cv_node_set_int(m, k, "group", 2, NULL); }
static void attr_kernel5(cv_model *m, int k)
{
    int64_t ks[2] = {5, 5};
    cv_node_set_ints(m, k, "kernel_shape", ks, 2, NULL);
}
static void attr_bad_auto_pad(cv_model *m, int k) { cv_node_set_string(m, k, "auto_pad", "SAME", NULL); }
static void attr_pads_and_auto(cv_model *m, int k)
{
    int64_t p[4] = {1, 1, 1, 1};
    cv_node_set_ints(m, k, "pads", p, 4, NULL);
    cv_node_set_string(m, k, "auto_pad", "SAME_UPPER", NULL);
}
static void attr_strides3(cv_model *m, int k)
{
    int64_t s[3] = {1, 1, 1};
    cv_node_set_ints(m, k, "strides", s, 3, NULL);
}
static void attr_pads_len(cv_model *m, int k)
{
    int64_t p[2] = {1, 1};
    cv_node_set_ints(m, k, "pads", p, 2, NULL);
}
static void attr_neg_pad(cv_model *m, int k)
{
    int64_t p[4] = {0, -1, 0, 0};
    cv_node_set_ints(m, k, "pads", p, 4, NULL);
}

static void test_conv_errors(void)
{
    cv_shape x4 = {4, {1, 4, 8, 8}}, w3 = {4, {2, 3, 3, 3}}, w4 = {4, {2, 4, 3, 3}}, w2 = {4, {3, 2, 3, 3}};
    cv_shape b5 = {1, {5}}, x5 = {5, {1, 4, 8, 8, 8}}, w5 = {5, {2, 4, 3, 3, 3}}, small = {4, {1, 4, 2, 2}};
    expect_error("channel mismatch", &x4, &w3, NULL, NULL, CV_ERR_SHAPE, "input [1, 4, 8, 8] has 4 channels, weights [2, 3, 3, 3] expect 3");
    expect_error("bias length", &x4, &w4, &b5, NULL, CV_ERR_SHAPE, "bias [5]");
    expect_error("3-D conv", &x5, &w5, NULL, NULL, CV_ERR_UNSUPPORTED, "3-D convolution");
    expect_error("group vs output channels", &x4, &w2, NULL, attr_group2, CV_ERR_SHAPE, "group 2");
    expect_error("kernel_shape vs weights", &x4, &w4, NULL, attr_kernel5, CV_ERR_SHAPE, "kernel_shape");
    expect_error("unknown auto_pad", &x4, &w4, NULL, attr_bad_auto_pad, CV_ERR_INVALID, "auto_pad");
    expect_error("pads with auto_pad", &x4, &w4, NULL, attr_pads_and_auto, CV_ERR_INVALID, "auto_pad");
    expect_error("3 strides", &x4, &w4, NULL, attr_strides3, CV_ERR_UNSUPPORTED, "strides");
    expect_error("pads length", &x4, &w4, NULL, attr_pads_len, CV_ERR_SHAPE, "spatial axes");
    expect_error("negative pad", &x4, &w4, NULL, attr_neg_pad, CV_ERR_INVALID, "pads");
    expect_error("kernel larger than input", &small, &w4, NULL, NULL, CV_ERR_SHAPE, "smaller than the kernel");
}

#define GOLDEN "tests/fixtures/conv_ops_torch.bin"

/* Against PyTorch (F.conv2d on an explicitly padded input, autograd). */
static void test_conv_torch_golden(void)
{
    ref_record *r;
    char why[256];
    int n = ref_golden_load(GOLDEN, "conv", &r, why, sizeof why);
    REQUIRE(n > 0, "%s", n < 0 ? why : "no conv records");
    double fwd = 0, bwd = 0;
    for (int k = 0; k < n; k++) {
        const float *p = r[k].params;
        conv_case cc = {.g = {(int)p[0], (int)p[1], (int)p[2], (int)p[3], (int)p[4], (int)p[5], (int)p[6], (int)p[7],
                              (int)p[8], (int)p[9], (int)p[10], (int)p[11], (int)p[12], (int)p[13], (int)p[14],
                              (int)p[15]},
                        .bias = (int)p[16], .kernel_attr = k % 2};
        const ref_tensor *x = &r[k].t[0], *w = &r[k].t[1], *b = &r[k].t[2], *y = &r[k].t[3], *dy = &r[k].t[4],
                         *dx = &r[k].t[5];
        char text[256];
        case_text(&cc, text, sizeof text);
        oplab lab;
        cv_status st = conv_lab(&lab, &cc, w->data, b->data);
        if (st == CV_OK)
            st = oplab_forward(&lab, x->data);
        CHECK(st == CV_OK, "%s: %s", text, lab.err.msg);
        if (st == CV_OK && lab.y_numel == y->numel) {
            double f = test_max_rel_diff(lab.y, y->data, y->numel);
            const float *g = NULL;
            st = cv_run_backward(lab.run, 0, dy->data, &g, &lab.err);
            double bd = st == CV_OK ? test_max_rel_diff(g, dx->data, dx->numel) : INFINITY;
            CHECK(f <= 1e-5 && bd <= 1e-5, "%s: forward rel diff %.3g, backward %.3g", text, f, bd);
            fwd = f > fwd ? f : fwd;
            bwd = bd > bwd ? bd : bwd;
        } else if (st == CV_OK) {
            CHECK(0, "%s: %zu outputs, torch has %zu", text, lab.y_numel, y->numel);
        }
        oplab_free(&lab);
    }
    printf("    %d PyTorch cases: forward max rel diff %.3g, backward %.3g (tol 1e-5)\n", n, fwd, bwd);
    ref_golden_free(r, n);
}

int main(void)
{
    RUN(test_conv_random);
    RUN(test_conv_real_shapes);
    RUN(test_conv_torch_golden);
    RUN(test_conv_winograd);
    RUN(test_conv_algo_option);
    RUN(test_winograd_corners);
    RUN(test_conv_gradcheck);
    RUN(test_conv_auto_pad_values);
    RUN(test_conv_macs);
    RUN(test_conv_errors);
    return test_summary("conv");
}
