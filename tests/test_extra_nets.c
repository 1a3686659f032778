/* Small networks made of the operators PyTorch exports for decoders,
 * upsampling and elementwise math (ConvTranspose, Resize/Upsample, Split,
 * Max/Min, Where/Greater, Expand/Tile, Erf, Sqrt, Log, Softplus, Exp, Pow,
 * Reciprocal, ...), exported at several opsets: the outputs and two
 * layers' input gradients against PyTorch's
 * (tests/fixtures/make_extra_nets.py). */
#include "lib/netref.h"
#include "lib/test.h"

#define MANIFEST "tests/fixtures/extra_nets/manifest.txt"

/* Relative max errors allowed against PyTorch (float32 on both sides; the
 * order of summation differs). */
#define OUT_TOL 1e-4
#define GRAD_TOL 1e-3

int main(void)
{
    netref_run_manifest(MANIFEST, "extra", OUT_TOL, GRAD_TOL);
    return test_summary("extra_nets");
}
