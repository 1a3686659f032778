/* A model's sidecar (<model>.cnnviz.json): written and read back, applied
 * at load over the model's own metadata (preprocessing, labels, input
 * size), and refused when hostile: symbolic links, files outside the
 * model's folder, unknown keys, bad values, oversized files. */
#include "cnnviz_io.h"
#include "../src/core/graph.h"
#include "lib/netbuild.h"
#include "lib/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], model[320], side[360];

/* A copy of metadata.onnx (declares caffe, labels a,b,c, torch's mean/std)
 * in a scratch folder, so a sidecar can be put beside it. */
static bool setup(void)
{
    if (!test_make_tmpdir(dir, sizeof dir, "sidecar"))
        return false;
    snprintf(model, sizeof model, "%s/m.onnx", dir);
    snprintf(side, sizeof side, "%s.cnnviz.json", model);
    return sh("cp tests/fixtures/onnx/metadata.onnx '%s'", model) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static cv_status load(cv_model **m, cv_error *err)
{
    cv_load_options o = {0};
    return cv_model_load(m, model, &o, err);
}

static void test_round_trip(void)
{
    cv_model_config c = {0}, back;
    snprintf(c.preprocess, sizeof c.preprocess, "tf");
    snprintf(c.channel_order, sizeof c.channel_order, "BGR");
    c.n_std = 1, c.std[0] = 2.5f;
    c.height = 300, c.width = 200;
    snprintf(c.labels, sizeof c.labels, "names.txt");
    cv_error err;
    CHECK(cv_model_config_write(&c, model, &err) == CV_OK, "%s", err.msg);
    int found = 0;
    CHECK(cv_model_config_read(&back, model, &found, &err) == CV_OK && found, "%s", err.msg);
    CHECK(strcmp(back.preprocess, "tf") == 0 && strcmp(back.channel_order, "BGR") == 0, "%s", err.msg);
    CHECK(back.n_std == 1 && back.std[0] == 2.5f && back.n_mean == 0, "%s", err.msg);
    CHECK(back.height == 300 && back.width == 200 && strcmp(back.labels, "names.txt") == 0, "%s", err.msg);
    unlink(side);
    CHECK(cv_model_config_read(&back, model, &found, &err) == CV_OK && !found, "%s", err.msg);
}

/* The sidecar's preset owns the recipe: the model's caffe, mean and std
 * go; its labels file replaces the metadata's "a,b,c". */
static void test_overrides_metadata(void)
{
    char names[400];
    snprintf(names, sizeof names, "%s/names.txt", dir);
    write_text(names, "zero\none\ntwo\nthree\n");
    write_text(side, "{\"cnnviz_model_config\": 1, \"preprocess\": \"raw\", \"channel_order\": \"BGR\", "
                     "\"labels\": \"names.txt\"}");
    cv_model *m = NULL;
    cv_error err;
    CHECK(load(&m, &err) == CV_OK, "%s", err.msg);
    if (!m)
        return;
    cv_preprocess p;
    int assumed = 1;
    CHECK(cv_preprocess_auto(&p, m, &assumed, &err) == CV_OK && !assumed, "%s", err.msg);
    CHECK(strcmp(p.name, "raw") == 0 && p.bgr == 1 && p.scale == 1.0f, "%s", err.msg);
    CHECK(p.mean[0] == 0 && p.std[0] == 1, "%s", err.msg); /* the model's torch mean/std are gone */
    CHECK(cv_model_config_source(m) && strcmp(cv_model_config_source(m), side) == 0, "%s", err.msg);
    cv_labels l;
    CHECK(cv_labels_for_model(&l, m, 0, &err) == CV_OK && l.n == 4 && strcmp(l.names[3], "three") == 0, "%s", err.msg);
    cv_labels_free(&l);
    cv_model_free(m);
    /* ignore_sidecar: the model's own word */
    cv_load_options o = {0};
    o.ignore_sidecar = 1;
    CHECK(cv_model_load(&m, model, &o, &err) == CV_OK && cv_preprocess_auto(&p, m, NULL, &err) == CV_OK, "%s", err.msg);
    CHECK(strcmp(p.name, "caffe") == 0 && !cv_model_config_source(m), "%s", err.msg);
    cv_model_free(m);
    /* caffe's BGR can be turned back to RGB */
    write_text(side, "{\"preprocess\": \"caffe\", \"channel_order\": \"RGB\"}");
    CHECK(load(&m, &err) == CV_OK && cv_preprocess_auto(&p, m, NULL, &err) == CV_OK, "%s", err.msg);
    CHECK(m && strcmp(p.name, "caffe") == 0 && p.bgr == 0, "%s", err.msg);
    cv_model_free(m);
    unlink(side);
    unlink(names);
}

/* What a stranger's sidecar may try; each is a load error naming the file. */
static void test_hostile(void)
{
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"[1, 2]", "not a JSON object"},
        {"{\"preprocess\": \"torch\"", "not a JSON object"},
        {"{\"preprocesss\": \"torch\"}", "unknown key"},
        {"{\"preprocess\": \"magic\"}", "unknown"},
        {"{\"preprocess\": 7}", "must be a string"},
        {"{\"mean\": [1, 2, 3]}", "need \"preprocess\""},
        {"{\"preprocess\": \"raw\", \"std\": [1, 0, 1]}", "positive"},
        {"{\"preprocess\": \"raw\", \"mean\": [1, 2]}", "array of 3"},
        {"{\"input_size\": [1e9, 5]}", "whole pixels"},
        {"{\"input_size\": [22.5, 5]}", "whole pixels"},
        {"{\"labels\": \"../../etc/passwd\"}", "model's folder"},
        {"{\"labels\": \"..\"}", "model's folder"},
        {"{\"cnnviz_model_config\": 99}", "format"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_text(side, bad[k].text);
        cv_model *m = NULL;
        cv_error err = {0};
        cv_status st = load(&m, &err);
        CHECK(st != CV_OK && m == NULL, "%s", err.msg);
        if (!strstr(err.msg, bad[k].says) || !strstr(err.msg, "cnnviz.json"))
            printf("  sidecar %s: '%s' (wanted '%s')\n", bad[k].text, err.msg, bad[k].says);
        CHECK(strstr(err.msg, bad[k].says) != NULL, "%s", err.msg);
    }
    /* too large to be a sidecar */
    FILE *f = fopen(side, "w");
    for (int k = 0; f && k < 70000; k++)
        fputc(' ', f);
    if (f)
        fclose(f);
    cv_model *m = NULL;
    cv_error err;
    CHECK(load(&m, &err) == CV_ERR_LIMIT && m == NULL, "%s", err.msg);
    unlink(side);
    /* links are refused: the sidecar and the labels file it names */
    CHECK(symlink("/etc/hostname", side) == 0, "%s", err.msg);
    CHECK(load(&m, &err) == CV_ERR_INVALID && strstr(err.msg, "symbolic link"), "%s", err.msg);
    unlink(side);
    char link[400];
    snprintf(link, sizeof link, "%s/names.txt", dir);
    CHECK(symlink("/etc/passwd", link) == 0, "%s", err.msg);
    write_text(side, "{\"labels\": \"names.txt\"}");
    cv_labels l;
    CHECK(load(&m, &err) == CV_OK, "%s", err.msg);
    CHECK(m && cv_labels_for_model(&l, m, 0, &err) != CV_OK && strstr(err.msg, "symbolic link"), "%s", err.msg);
    cv_model_free(m);
    unlink(link);
    unlink(side);
}

/* input_size fills a free input size and nothing else. */
static void test_input_size(void)
{
    netbuild nb;
    cv_shape xs = {4, {1, 3, -1, -1}};
    int x = nb_begin(&nb, &xs, 13);
    cv_model *m = nb_end(&nb, nb_conv(&nb, x, 3, 2, 3, 1, 1, 1));
    CHECK(m != NULL, "netbuild failed");
    if (!m)
        return;
    cv_input_geometry g;
    cv_error err;
    CHECK(cv_model_input_geometry(m, 0, 0, &g, &err) == CV_ERR_INVALID, "%s", err.msg);
    CHECK(cv_model_put_meta(m, "input_size", "64,48", &err) == CV_OK, "%s", err.msg);
    CHECK(cv_model_input_geometry(m, 0, 0, &g, &err) == CV_OK && g.height == 64 && g.width == 48, "%s", err.msg);
    CHECK(cv_model_input_geometry(m, 32, 32, &g, &err) == CV_OK && g.height == 32, "%s", err.msg); /* asked beats declared */
    CHECK(cv_model_put_meta(m, "input_size", "64,x", &err) == CV_OK, "%s", err.msg);
    CHECK(cv_model_input_geometry(m, 0, 0, &g, &err) == CV_ERR_FORMAT, "%s", err.msg);
    cv_model_free(m);
}

/* A long model file name (250 bytes) still loads: its sidecar's name
 * may pass the labels field's size, and it need not exist. */
static void test_long_model_name(void)
{
    char name[251], path[600];
    memset(name, 'm', 245);
    memcpy(name + 245, ".onnx", 6);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(sh("cp '%s' '%s'", model, path) == 0, "copy");
    cv_model *m = NULL;
    cv_error err;
    cv_load_options o = {0};
    CHECK(cv_model_load(&m, path, &o, &err) == CV_OK, "%s", err.msg);
    cv_model_free(m);
    unlink(path);
}

int main(void)
{
    if (!setup()) {
        printf("model_config: cannot make a scratch folder\n");
        return 1;
    }
    RUN(test_round_trip);
    RUN(test_overrides_metadata);
    RUN(test_hostile);
    RUN(test_input_size);
    RUN(test_long_model_name);
    test_remove_dir(dir);
    return test_summary("model_config");
}
