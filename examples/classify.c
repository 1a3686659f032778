/* Classify an image with libcnnviz, using only the public headers: what
 * `cnnviz predict` does, as a C program would write it.
 *
 *   cc classify.c $(pkg-config --cflags --libs cnnviz) -o classify   (after make install)
 *   ./classify models/fashion_cnn.onnx models/samples/bag.png [k]
 *
 * (in the tree, without installing: cc -Iinclude examples/classify.c
 * build/libcnnviz.a and the libraries cnnviz.pc lists, as tests/test_example.sh)
 *
 * prints the k (default 5) most likely classes: rank, name, index and
 * probability, one per line.
 */
#include "cnnviz.h"
#include "cnnviz_io.h"
#include <stdio.h>
#include <stdlib.h>

/* One failure, reported the way every cnnviz call reports one. */
static int fail(const cv_error *err)
{
    fprintf(stderr, "classify: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL IMAGE [K]\n", argv[0]);
        return 2;
    }
    int k = argc > 3 ? atoi(argv[3]) : 5;
    cv_error err;
    cv_model *model = NULL;
    cv_run *run = NULL;
    cv_image img = {0};
    cv_labels labels = {0};
    float *x = NULL, *probs = NULL;
    int *top = NULL, status = 1;

    if (cv_model_load(&model, argv[1], NULL, &err) != CV_OK || cv_image_load(&img, argv[2], &err) != CV_OK) {
        status = fail(&err);
        goto out;
    }
    /* The input the model wants, and how its pixels were preprocessed in
     * training, as far as the model says (else an assumption). */
    cv_input_geometry g;
    cv_preprocess prep;
    int assumed;
    if (cv_model_input_geometry(model, 0, 0, &g, &err) != CV_OK ||
        cv_preprocess_auto(&prep, model, &assumed, &err) != CV_OK) {
        status = fail(&err);
        goto out;
    }
    if (assumed)
        fprintf(stderr, "classify: %s declares no preprocessing; assuming '%s'\n", argv[1], prep.name);
    x = malloc(sizeof(float) * (size_t)g.channels * (size_t)g.height * (size_t)g.width);
    if (!x) {
        fprintf(stderr, "classify: out of memory\n");
        goto out;
    }
    if (cv_input_from_image(x, &img, &g, &prep, CV_RESIZE_ANTIALIAS, &err) != CV_OK) {
        status = fail(&err);
        goto out;
    }

    /* One forward pass over a batch of one. */
    cv_shape shape = cv_input_shape(&g, 1);
    cv_run_options opt = cv_run_defaults();
    if (cv_run_create(&run, model, &shape, &opt, &err) != CV_OK || cv_run_forward(run, x, &err) != CV_OK) {
        status = fail(&err);
        goto out;
    }
    const cv_tensor *scores = cv_run_output(run, 0);
    size_t n = cv_shape_numel(&scores->shape);

    /* Scores to probabilities (softmax unless they already are), the top k,
     * and the names the model comes with (none is fine). */
    probs = malloc(sizeof(float) * (n ? n : 1));
    top = malloc(sizeof(int) * (size_t)(k > 0 ? k : 1));
    if (!probs || !top) {
        fprintf(stderr, "classify: out of memory\n");
        goto out;
    }
    cv_scores_to_probabilities(probs, scores->f, n);
    int shown = cv_topk(top, k, probs, n);
    if (cv_labels_for_model(&labels, model, 0, &err) != CV_OK)
        fprintf(stderr, "classify: no class names: %s\n", err.msg);
    for (int r = 0; r < shown; r++) {
        char name[256];
        cv_escape(name, sizeof name, top[r] < labels.n ? labels.names[top[r]] : "-");
        printf("%d %s %d %.4f\n", r + 1, name, top[r], probs[top[r]]);
    }
    status = 0;
out:
    cv_labels_free(&labels);
    free(top);
    free(probs);
    free(x);
    cv_image_free(&img);
    cv_run_free(run);
    cv_model_free(model);
    return status;
}
