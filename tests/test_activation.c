/* Activations: forward against a naive formula, backward against finite differences. */
#include "lib/oplab.h"
#include "lib/test.h"

static void test_relu(void)
{
    cv_shape xs = {4, {2, 3, 5, 7}};
    float x[210];
    test_seed(1);
    test_fill(x, 210, -2.0f, 2.0f);
    for (int k = 0; k < 210; k++) /* keep away from the kink for finite differences */
        if (x[k] > -0.05f && x[k] < 0.05f)
            x[k] = 0.3f;
    oplab lab;
    oplab_begin(&lab, "Relu", &xs);
    REQUIRE(oplab_end(&lab) == CV_OK, "%s", lab.err.msg);
    REQUIRE(oplab_forward(&lab, x) == CV_OK, "%s", lab.err.msg);
    float ref[210];
    for (int k = 0; k < 210; k++)
        ref[k] = x[k] > 0 ? x[k] : 0;
    double d = test_max_abs_diff(lab.y, ref, 210);
    printf("    relu forward max abs diff %.3g\n", d);
    CHECK(d == 0, "forward differs by %g", d);
    CHECK(oplab_gradcheck(&lab, x, 1e-2f) < 1e-3, "gradient mismatch");
    oplab_free(&lab);
}

int main(void)
{
    RUN(test_relu);
    return test_summary("activation");
}
