/* Whole networks against PyTorch: run exported models on reference inputs
 * and compare the outputs and one layer's input gradient.
 *
 * A manifest (written by tests/fixtures/make_small_nets.py and
 * make_torchvision.py) has one case per line, paths relative to it:
 *
 *     MODEL INPUT BATCH OUTPUT GRAD_TENSOR CHANNEL GRAD
 *     vgg/op13.onnx vgg/input.npy 2 vgg/output_b2.npy /features/features.2/Conv_output_0 3 vgg/grad_b2.npy
 *
 * BATCH: how many leading items of INPUT to feed. GRAD: d mean(L[:, CHANNEL])
 * / d input, L the output tensor GRAD_TENSOR (GRAD_TENSOR "-" = no gradient
 * check). Lines starting with '#' are comments.
 *
 *     netref_run_manifest("tests/fixtures/nets/manifest.txt", NULL, 1e-4, 1e-3);
 *     return test_summary("nets");
 */
#ifndef CV_NETREF_H
#define CV_NETREF_H

#include <stddef.h>

typedef struct {
    char model[512], input[512], output[512], tensor[512], grad[512];
    int batch, channel;
} netref_case;

/* Parse a manifest into *cases (malloc'd, paths joined with the manifest's
 * folder). Returns the number of cases, or -1 (message in msg) if the file
 * cannot be read or a line is malformed. */
int netref_read_manifest(const char *path, netref_case **cases, char *msg, size_t msg_len);

/* Check one case inside a running test (uses CHECK/REQUIRE): the forward
 * output's relative max error (max|a-b| / max|b|) must be <= out_tol and the
 * argmax of each batch item must agree (up to near-ties), then the
 * gradient's relative max error must be <= grad_tol. Prints both errors. */
void netref_check(const netref_case *c, double out_tol, double grad_tol);

/* Deep ReLU networks: a fast convolution (Winograd) rounds differently from
 * PyTorch, and when that moves one of a million ReLU inputs across 0 the
 * gradient legitimately changes in that unit's receptive field (seen:
 * resnet18, rel max err 2e-2 from one unit at 2e-6). With l2_tol > 0, a
 * gradient over grad_tol whose relative L2 error is <= l2_tol gets a second
 * chance: it passes if it is exact (<= grad_tol) with every conv forced to
 * im2col (cv_run_options.conv_algo = CV_CONV_IM2COL), and the note is printed. 0 (default) =
 * strict. */
void netref_set_kink_tolerance(double l2_tol);

/* RUN one test per manifest line, named "[label/]MODEL batch N, d TENSOR". A missing
 * or malformed manifest fails one test. Returns the number of cases run. */
int netref_run_manifest(const char *path, const char *label, double out_tol, double grad_tol);

#endif
