/* Incremental occlusion inference must equal full inference exactly (to
 * float rounding), on VGG-, ResNet-, MobileNet- and Inception-shaped nets,
 * at every position including the borders, for any batch size. */
#include "lib/netbuild.h"
#include "lib/test.h"
#include <math.h>
#include <string.h>

static bool have_ops(const char *const *ops)
{
    for (int k = 0; ops[k]; k++)
        if (!cv_op_find(ops[k]))
            return false;
    return true;
}

static const char *const common_ops[] = {"Conv", "Relu", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm",
                                         "Add", "Concat", "Clip", "AveragePool", "BatchNormalization", NULL};

/* conv-relu x2, maxpool, conv-relu x2, maxpool, dense (VGG-shaped) */
static cv_model *vgg_like(int size)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, size, size}};
    int x = nb_begin(&nb, &xs, 13);
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 3, 8, 3, 1, 1, 1));
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 8, 8, 3, 1, 1, 1));
    x = nb_pool(&nb, "MaxPool", x, 2, 2, 0, 0, 0);
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 8, 16, 3, 1, 1, 1));
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 16, 16, 3, 1, 1, 1));
    x = nb_pool(&nb, "MaxPool", x, 2, 2, 0, 0, 0);
    x = nb_gemm(&nb, x, 16 * (size / 4) * (size / 4), 10);
    return nb_end(&nb, x);
}

/* stem conv s2 + maxpool, two residual blocks (one downsampling), GAP, dense */
static cv_model *resnet_like(int size)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, size, size}};
    int x = nb_begin(&nb, &xs, 13);
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 3, 8, 7, 2, 3, 1));
    x = nb_pool(&nb, "MaxPool", x, 3, 2, 1, 0, 0);
    int y = nb_unary(&nb, "Relu", nb_conv(&nb, x, 8, 8, 3, 1, 1, 1));
    y = nb_conv(&nb, y, 8, 8, 3, 1, 1, 1);
    x = nb_unary(&nb, "Relu", nb_binary(&nb, "Add", x, y));
    y = nb_unary(&nb, "Relu", nb_conv(&nb, x, 8, 16, 3, 2, 1, 1));
    y = nb_conv(&nb, y, 16, 16, 3, 1, 1, 1);
    int skip = nb_conv(&nb, x, 8, 16, 1, 2, 0, 1);
    x = nb_unary(&nb, "Relu", nb_binary(&nb, "Add", skip, y));
    x = nb_unary(&nb, "GlobalAveragePool", x);
    x = nb_gemm(&nb, x, 16, 10);
    return nb_end(&nb, x);
}

/* MobileNetV2-shaped: expand 1x1, depthwise 3x3 (stride 2), ReLU6, project, residual */
static cv_model *mobilenet_like(int size)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, size, size}};
    int x = nb_begin(&nb, &xs, 13);
    x = nb_clip(&nb, nb_conv(&nb, x, 3, 8, 3, 2, 1, 1), 0, 6);
    int y = nb_clip(&nb, nb_conv(&nb, x, 8, 24, 1, 1, 0, 1), 0, 6);
    y = nb_clip(&nb, nb_conv(&nb, y, 24, 24, 3, 1, 1, 24), 0, 6);
    y = nb_conv(&nb, y, 24, 8, 1, 1, 0, 1);
    x = nb_binary(&nb, "Add", x, y);
    y = nb_clip(&nb, nb_conv(&nb, x, 8, 24, 1, 1, 0, 1), 0, 6);
    y = nb_clip(&nb, nb_conv(&nb, y, 24, 24, 3, 2, 1, 24), 0, 6);
    x = nb_conv(&nb, y, 24, 16, 1, 1, 0, 1);
    x = nb_unary(&nb, "GlobalAveragePool", x);
    x = nb_gemm(&nb, x, 16, 10);
    return nb_end(&nb, x);
}

/* Inception-shaped: branches joined by Concat, ceil-mode max pool, padded
 * average pools (count_include_pad on and off: off falls back to full). */
static cv_model *inception_like(int size)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, size, size}};
    int x = nb_begin(&nb, &xs, 13);
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 3, 8, 3, 1, 1, 1));
    x = nb_pool(&nb, "MaxPool", x, 3, 2, 0, 1, 0);
    int a = nb_unary(&nb, "Relu", nb_conv(&nb, x, 8, 4, 1, 1, 0, 1));
    int b = nb_unary(&nb, "Relu", nb_conv(&nb, x, 8, 4, 5, 1, 2, 1));
    int c = nb_pool(&nb, "AveragePool", x, 3, 1, 1, 0, 1);
    x = nb_concat(&nb, nb_concat(&nb, a, b), c);
    x = nb_unary(&nb, "Relu", nb_conv(&nb, x, 16, 8, 3, 1, 1, 1));
    x = nb_pool(&nb, "AveragePool", x, 3, 1, 1, 0, 0);
    x = nb_unary(&nb, "GlobalAveragePool", x);
    x = nb_gemm(&nb, x, 8, 10);
    return nb_end(&nb, x);
}

/* Compare incremental and full inference over a grid of positions. */
static void check_model(cv_model *m, int size, int patch, int stride, int batch)
{
    cv_error err;
    cv_shape xs = {4, {1, 3, size, size}};
    size_t plane = (size_t)size * size, nx = 3 * plane;
    float *x = malloc(nx * sizeof(float));
    test_fill(x, nx, -1, 1);
    int n_side = (size - patch + stride - 1) / stride + 1, n_pos = n_side * n_side;
    int *py = malloc(sizeof(int) * (size_t)n_pos), *px = malloc(sizeof(int) * (size_t)n_pos);
    for (int i = 0; i < n_side; i++)
        for (int j = 0; j < n_side; j++) {
            /* windows clipped at the border are shifted inward, as occlusion does */
            int y = i * stride, xx = j * stride;
            py[i * n_side + j] = y + patch > size ? size - patch : y;
            px[i * n_side + j] = xx + patch > size ? size - patch : xx;
        }
    cv_incr *ic = NULL;
    cv_incr_options io = cv_incr_defaults();
    io.max_batch = batch;
    cv_status st = cv_incr_create(&ic, m, &xs, x, &(cv_incr_patches){n_pos, py, px, patch, patch}, &io, &err);
    CHECK(st == CV_OK, "%s", err.msg);
    cv_shape bs = {4, {batch, 3, size, size}};
    cv_run *full = NULL;
    cv_run_options opt = cv_run_defaults();
    st = cv_run_create(&full, m, &bs, &opt, &err);
    CHECK(st == CV_OK, "%s", err.msg);
    float *xb = malloc(nx * (size_t)batch * sizeof(float));
    float *patches = malloc((size_t)batch * 3 * patch * patch * sizeof(float));
    double worst = 0;
    for (int first = 0; ic && full && first < n_pos; first += batch) {
        int count = n_pos - first < batch ? n_pos - first : batch;
        for (int i = 0; i < batch; i++) {
            memcpy(xb + i * nx, x, nx * sizeof(float));
            if (i >= count)
                continue;
            int p = first + i;
            for (int c = 0; c < 3; c++)
                for (int r = 0; r < patch; r++)
                    for (int q = 0; q < patch; q++) {
                        float fill = 0.25f * (float)(c - 1); /* a different fill per channel */
                        xb[i * nx + c * plane + (size_t)(py[p] + r) * size + px[p] + q] = fill;
                        patches[(((size_t)i * 3 + c) * patch + r) * patch + q] = fill;
                    }
        }
        const cv_tensor *yi;
        if (cv_incr_run(ic, first, count, patches, &yi, &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
            break;
        }
        if (cv_run_forward(full, xb, &err) != CV_OK) {
            CHECK(0, "%s", err.msg);
            break;
        }
        const cv_tensor *yf = cv_run_output(full, 0);
        size_t per = cv_shape_numel(&yf->shape) / (size_t)batch;
        double d = test_max_abs_diff(yi->f, yf->f, per * (size_t)count);
        worst = d > worst ? d : worst;
    }
    printf("    %d positions, patch %d, stride %d, batch %d: max abs diff %.3g, MAC speedup bound %.2fx\n", n_pos,
           patch, stride, batch, worst, ic ? cv_incr_speedup_bound(ic) : 0.0);
    CHECK(worst <= 1e-5, "incremental differs from full inference by %g", worst);
    free(patches);
    free(xb);
    cv_run_free(full);
    cv_incr_free(ic);
    free(py);
    free(px);
    free(x);
}

static void run_net(cv_model *(*make)(int), int size)
{
    if (!have_ops(common_ops))
        SKIP("operators not all available yet");
    test_seed(7);
    cv_model *m = make(size);
    REQUIRE(m != NULL, "model build failed");
    check_model(m, size, 8, 3, 5);
    check_model(m, size, 5, 4, 16);
    check_model(m, size, 8, 3, 1);
    cv_model_free(m);
}

static cv_model *vgg32(int s) { return vgg_like(s); }
static void test_vgg_like(void) { run_net(vgg32, 32); }
static void test_resnet_like(void) { run_net(resnet_like, 32); }
static void test_mobilenet_like(void) { run_net(mobilenet_like, 32); }
static void test_inception_like(void) { run_net(inception_like, 29); }

static void test_rejects_bad_positions(void)
{
    if (!have_ops(common_ops))
        SKIP("operators not all available yet");
    test_seed(3);
    cv_model *m = vgg_like(16);
    REQUIRE(m != NULL, "model build failed");
    cv_shape xs = {4, {1, 3, 16, 16}};
    float x[3 * 256] = {0};
    int py[1] = {10}, px[1] = {0};
    cv_incr *ic = NULL;
    cv_error err;
    CHECK(cv_incr_create(&ic, m, &xs, x, &(cv_incr_patches){1, py, px, 8, 8}, NULL, &err) == CV_ERR_INVALID, "accepted a patch outside");
    printf("    error: %s\n", err.msg);
    cv_incr_free(ic);
    cv_model_free(m);
}

int main(void)
{
    RUN(test_vgg_like);
    RUN(test_resnet_like);
    RUN(test_mobilenet_like);
    RUN(test_inception_like);
    RUN(test_rejects_bad_positions);
    return test_summary("incremental");
}
