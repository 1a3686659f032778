/* torchvision's ImageNet architectures with random weights, exported at
 * opsets 11, 13 and 17 by tests/fixtures/make_torchvision.py into
 * build/fixtures/torchvision/ (`make fixtures-large`; large files, not
 * committed): outputs and one conv layer's input gradient against PyTorch.
 * Each model whose fixtures are absent is skipped with a message. */
#include "lib/netref.h"
#include "lib/test.h"
#include <stdlib.h>
#include <sys/stat.h>

#define OUT_TOL 1e-4
#define GRAD_TOL 1e-3
/* See netref_set_kink_tolerance: one ReLU flipped by rounding gave 4.5e-3. */
#define KINK_L2_TOL 2e-2

static const char *const models[] = {
    "vgg16", "resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "alexnet", "densenet121",
    "googlenet", "inception_v3", "efficientnet_b0", "mnasnet0_5", "shufflenet_v2_x0_5",
};

static const char *dir(void)
{
    const char *d = getenv("CNNVIZ_TORCHVISION_DIR");
    return d && *d ? d : "build/fixtures/torchvision";
}

static const char *missing; /* the model being skipped */
static void skip_missing(void)
{
    SKIP("%s/%s/manifest.txt absent (make fixtures-large MODELS=%s)", dir(), missing, missing);
}

int main(void)
{
    netref_set_kink_tolerance(KINK_L2_TOL);
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        char manifest[1024];
        struct stat st;
        snprintf(manifest, sizeof manifest, "%s/%s/manifest.txt", dir(), models[k]);
        if (stat(manifest, &st) != 0) {
            missing = models[k];
            test_run(models[k], skip_missing);
            continue;
        }
        netref_run_manifest(manifest, models[k], OUT_TOL, GRAD_TOL);
    }
    return test_summary("torchvision");
}
