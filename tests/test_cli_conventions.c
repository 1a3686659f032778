/* The conventions every cnnviz command shares: --version, one exit status
 * policy (0 ok, 1 runtime or input error, 2 usage error) stated under every
 * --help, and runtime messages that say why a file could not be opened. */
#include "lib/test.h"
#include "cnnviz.h"
#include "cnnviz_io.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static char cli_exe[512];
static char dir[256];
static char img_path[320];
static bool ready; /* the tool is built and the test image written */

static const char *const model = "tests/fixtures/occlusion/tiny_cnn.onnx";
static const char *const common = "--preprocess unit --size 24";


/* Run `cnnviz <args>` with stdout and stderr into out (at most len - 1
 * bytes); returns the exit status. "@M", "@I" and "@C" in args stand for
 * the model, the image and the common preprocessing flags. */
static int run_cnnviz(const char *args, char *out, size_t len)
{
    char expanded[2048] = "";
    for (const char *s = args; *s; s++) {
        const char *sub = NULL;
        if (s[0] == '@' && s[1] == 'M')
            sub = model;
        else if (s[0] == '@' && s[1] == 'I')
            sub = img_path;
        else if (s[0] == '@' && s[1] == 'C')
            sub = common;
        size_t n = strlen(expanded);
        if (sub) {
            snprintf(expanded + n, sizeof expanded - n, "%s", sub);
            s++;
        } else if (n + 1 < sizeof expanded) {
            expanded[n] = *s;
            expanded[n + 1] = 0;
        }
    }
    int rc = sh("%s %s > %s/log 2>&1", cli_exe, expanded, dir);
    char path[400];
    snprintf(path, sizeof path, "%s/log", dir);
    test_slurp(path, out, len);
    return rc;
}

static bool make_image(void)
{
    cv_image img;
    cv_error err;
    if (cv_image_alloc(&img, 24, 24, 3, &err) != CV_OK)
        return false;
    for (int k = 0; k < 24 * 24 * 3; k++)
        img.px[k] = (uint8_t)(k * 7);
    bool ok = cv_image_save_png(&img, img_path, &err) == CV_OK;
    cv_image_free(&img);
    return ok;
}

static void test_version(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    char out[4096], want[64];
    snprintf(want, sizeof want, "cnnviz %s\n", CV_VERSION);
    const char *spellings[] = {"--version", "-V"};
    for (int k = 0; k < 2; k++) {
        int rc = run_cnnviz(spellings[k], out, sizeof out);
        CHECK(rc == 0 && strcmp(out, want) == 0, "%s: exit %d, '%s'", spellings[k], rc, out);
    }
}

/* One row per class of error, over several commands: the exit status and a
 * word of the message. */
static void test_exit_statuses(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    const struct {
        const char *args;
        int status;
        const char *expect;
    } cases[] = {
        {"predict --model @M --img @I @C", 0, ""},
        {"", 2, "usage"},
        {"nosuch", 2, "unknown command"},
        {"predict --model @M --img @I @C --bogus", 2, "unknown option --bogus"},
        {"predict --img @I @C", 2, "--model"},
        {"predict --model @M @C", 2, "--img"},
        {"predict --model @M --img @I @C --top 0", 2, "--top"},
        {"predict --model @M --img @I @C --top x", 2, "--top"},
        {"predict --model @M --img @I @C stray", 2, "unexpected argument"},
        {"occlusion --model @M --img @I @C --occ_size 0", 2, "--occ_size"},
        {"occlusion --model @M --img @I @C --occ_size 7 --stride 0", 2, "--stride"},
        {"occlusion --model @M --img @I @C --occ_size 25", 2, "larger than --size"},
        {"occlusion --model @M --img @I @C --occ_size 7 --engine warp", 2, "--engine"},
        {"occlusion --img @I @C --occ_size 7", 2, "--model"},
        {"explain --model @M --img @I @C --method nosuch", 2, "--method"},
        {"filters --model @M --layer 0 --method nosuch", 2, "--method"},
        {"eval --model @M --img @I @C --metric nosuch", 2, "--metric"},
        {"layers", 2, "--model"},
        {"filters --model @M --layer nosuch", 2, "nosuch"},
        {"explain --model @M @C", 2, "give one of --img and --input"},
        /* options of other methods are refused, not ignored */
        {"explain --model @M --img @I @C --method gradcam --steps 5", 2, "--steps is for --method ig"},
        {"explain --model @M --img @I @C --method saliency,ig --grid 4", 2, "--grid is for --method rise"},
        {"filters --model @M --layer 0 --method seed --lr 0.1", 2, "--lr is for --method lucid"},
        {"filters --model @M --layer 0 --method lucid --img @I", 2, "--img is for --method seed"},
        {"predict --model /nonexistent/m.onnx --img @I @C", 1, "No such file or directory"},
        {"predict --model @M --img /nonexistent/i.png @C", 1, "No such file or directory"},
        {"predict --model README.md --img @I @C", 1, "README.md"},
        {"occlusion --model /nonexistent/m.onnx --img @I @C --occ_size 7", 1, "No such file or directory"},
        {"layers --model /nonexistent/m.onnx", 1, "No such file or directory"},
    };
    char out[8192];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int rc = run_cnnviz(cases[k].args, out, sizeof out);
        char first[200];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(out, "\n"), out);
        printf("    %-70.70s -> %d: %s\n", cases[k].args, rc, first);
        CHECK(rc == cases[k].status && strstr(out, cases[k].expect), "'%s': exit %d (want %d), no '%s' in: %s",
              cases[k].args, rc, cases[k].status, cases[k].expect, out);
    }
}

/* The policy is printed under the usage and every command's --help. */
static void test_help_states_policy(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    const char *helps[] = {"--help",         "predict --help", "layers --help",  "run --help",  "grad --help",
                           "filters --help", "occlusion --help", "explain --help", "eval --help"};
    char out[65536];
    for (size_t k = 0; k < sizeof helps / sizeof helps[0]; k++) {
        int rc = run_cnnviz(helps[k], out, sizeof out);
        CHECK(rc == 0 && strstr(out, "exit status: 0 ok, 1 runtime or input error, 2 usage error"),
              "%s: exit %d, no exit status line", helps[k], rc);
    }
}

/* A layer name typed in part ("fire9" for "fire9/concat_1") is suggested
 * before short names that are merely few edits away. */
static void test_layer_suggestions(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    const struct {
        const char *typed, *first;
    } cases[] = {
        {"features.4", "close matches: '/features/features.4/Relu'"},
        {"/features/features.2", "close matches: '/features/features.2/MaxPool'"},
        {"Relu", "close matches: '/features/features.1/Relu', '/features/features.4/Relu'"},
        {"/fc/Gem", "close matches: '/fc/Gemm'"},
    };
    char args[256], out[4096];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        snprintf(args, sizeof args, "filters --model @M --layer %s", cases[k].typed);
        int rc = run_cnnviz(args, out, sizeof out);
        printf("    %-22s -> %.*s\n", cases[k].typed, (int)strcspn(out, "\n"), out);
        CHECK(rc == 2 && strstr(out, cases[k].first), "--layer %s: exit %d, want \"%s\" in: %s", cases[k].typed, rc,
              cases[k].first, out);
    }
}

/* predict --format csv|json and the table: with class names holding a
 * comma, a quote and 60 characters, CSV quotes and doubles, JSON parses
 * with the top classes in order, and the table cuts the long name so that
 * every index column lines up; a bad --format is a usage error. */
static void test_predict_formats(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    char labels[320], args[700], out[8192];
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    FILE *f = fopen(labels, "w");
    REQUIRE(f, "cannot write %s", labels);
    for (int k = 0; k < 10; k++)
        fprintf(f, "%s\n", k % 3 == 0 ? "a \"quoted\", comma" : k % 3 == 1 ? "short"
                                      : "a class name of sixty characters, far too long for the column");
    fclose(f);
    snprintf(args, sizeof args, "predict --model @M --img @I @C --labels %s --top 10 --format csv", labels);
    int rc = run_cnnviz(args, out, sizeof out);
    printf("    csv: %.*s ...\n", (int)strcspn(out, "\n"), out);
    CHECK(rc == 0 && strncmp(out, "rank,index,label,probability\n1,", 31) == 0, "csv: exit %d: %.200s", rc, out);
    CHECK(strstr(out, ",\"a \"\"quoted\"\", comma\","), "csv does not quote the name: %.300s", out);
    int lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    CHECK(lines == 11, "csv: %d lines, want a header and 10 rows", lines);

    snprintf(args, sizeof args, "predict --model @M --img @I @C --labels %s --top 3 --json", labels);
    rc = run_cnnviz(args, out, sizeof out);
    cJSON *j = cJSON_Parse(out), *top = cJSON_GetObjectItem(j, "top");
    CHECK(rc == 0 && j && cJSON_GetArraySize(top) == 3, "json: exit %d: %.300s", rc, out);
    double last = 2;
    for (int k = 0; k < cJSON_GetArraySize(top); k++) {
        cJSON *e = cJSON_GetArrayItem(top, k);
        double p = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "probability"));
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "rank")) == k + 1 && p <= last &&
                  cJSON_IsString(cJSON_GetObjectItem(e, "label")),
              "json entry %d", k);
        last = p;
    }
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "classes")) == 10, "json classes");
    printf("    json: %d entries, top probability %.4f\n", cJSON_GetArraySize(top),
           cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(top, 0), "probability")));
    cJSON_Delete(j);

    snprintf(args, sizeof args, "predict --model @M --img @I @C --labels %s --top 10", labels);
    rc = run_cnnviz(args, out, sizeof out);
    const char *row = strchr(out, '\n');
    int column = -1;
    bool aligned = rc == 0 && row, cut = false;
    for (; row && row[1]; row = strchr(row + 1, '\n')) {
        const char *dot = strstr(row + 1, "  0."); /* the probability column */
        int at = dot ? (int)(dot - row) : -2;
        aligned &= column < 0 || at == column;
        column = at;
        cut |= strncmp(row + 1, "  ", 2) == 0 && strstr(row, "...") != NULL;
    }
    printf("    table: probabilities at column %d, long name cut: %s\n", column, cut ? "yes" : "no");
    CHECK(aligned && cut, "table not aligned or long name not cut:\n%s", out);
    rc = run_cnnviz("predict --model @M --img @I @C --format xml", out, sizeof out);
    CHECK(rc == 2 && strstr(out, "--format xml"), "--format xml: exit %d: %s", rc, out);
}

/* Progress in a log (stderr not a terminal): a plain last line with the
 * count, and none with --quiet / -q, which every command takes. */
static void test_progress_in_logs(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    char args[600], out[8192];
    for (int quiet = 0; quiet < 3; quiet++) {
        snprintf(args, sizeof args, "occlusion --model @M --img @I @C --occ_size 7 --stride 3 --out %s/occ%d %s", dir,
                 quiet, quiet == 1 ? "--quiet" : quiet == 2 ? "-q" : "");
        int rc = run_cnnviz(args, out, sizeof out);
        const char *line = strstr(out, "occlusion: 49/49 (100%)");
        printf("    %-8s exit %d, progress line: %.*s\n", quiet == 1 ? "--quiet" : quiet == 2 ? "-q" : "(none)", rc,
               line ? (int)strcspn(line, "\n") : 4, line ? line : "none");
        CHECK(rc == 0 && (quiet ? !strstr(out, "occlusion: ") : line != NULL), "progress with quiet=%d:\n%s", quiet,
              out);
    }
    int rc = run_cnnviz("occlusion --help", out, sizeof out);
    CHECK(rc == 0 && strstr(out, "--quiet, -q"), "--help does not name --quiet");
}

/* `cnnviz completion bash`: a script bash accepts that completes commands,
 * options from the tables (--stride for occlusion, --json for predict) and
 * file values; another shell is a usage error. */
static void test_bash_completion(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    char out[8192];
    int rc = sh("%s completion bash > %s/comp.sh 2>&1 && bash -n %s/comp.sh && bash -c '"
                "source %s/comp.sh; try() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _cnnviz; echo \"${COMPREPLY[*]}\"; }; "
                "try cnnviz occ; try cnnviz occlusion --str; try cnnviz predict --js; try cnnviz predict --model %s/comp.s"
                "' > %s/log 2>&1",
                cli_exe, dir, dir, dir, dir, dir);
    char path[400];
    snprintf(path, sizeof path, "%s/log", dir);
    test_slurp(path, out, sizeof out);
    printf("    completions: %s", out);
    char want[600];
    snprintf(want, sizeof want, "occlusion\n--stride\n--json\n%s/comp.sh\n", dir);
    CHECK(rc == 0 && strcmp(out, want) == 0, "completion: exit %d, got:\n%s\nwant:\n%s", rc, out, want);
    rc = run_cnnviz("completion zsh", out, sizeof out);
    CHECK(rc == 2 && strstr(out, "completion bash"), "completion zsh: exit %d: %s", rc, out);
}

/* occlusion --score: logit maps the raw score (logits.npy, not probs.npy,
 * and not the probabilities), drop keeps probs.npy, a bad name is a usage
 * error. */
static void test_occlusion_scores(void)
{
    if (!ready)
        SKIP("%.200s is not built or no test image", cli_exe);
    char args[600], out[8192], path[400];
    double first[2] = {0, 0};
    const char *scores[] = {"prob", "logit", "drop"};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args, "occlusion --model @M --img @I @C --occ_size 7 --stride 3 --score %s --out %s/sc%d -q",
                 scores[k], dir, k);
        int rc = run_cnnviz(args, out, sizeof out);
        bool logit = k == 1;
        snprintf(path, sizeof path, "%s/sc%d/%s", dir, k, logit ? "logits.npy" : "probs.npy");
        cv_shape s;
        float *map = NULL;
        cv_error err;
        bool read = cv_npy_read(path, &s, &map, &err) == CV_OK;
        snprintf(path, sizeof path, "%s/sc%d/%s", dir, k, logit ? "probs.npy" : "logits.npy");
        printf("    --score %-5s exit %d, %s, first value %.4f\n", scores[k], rc, logit ? "logits.npy" : "probs.npy",
               read ? map[0] : -1.0);
        CHECK(rc == 0 && read && access(path, F_OK) != 0, "--score %s: exit %d, files wrong", scores[k], rc);
        CHECK(strstr(out, logit ? "logit(" : "p("), "--score %s: no %s( in:\n%s", scores[k], logit ? "logit" : "p", out);
        if (read && k < 2)
            first[k] = map[0];
        free(map);
    }
    CHECK(fabs(first[0] - first[1]) > 1e-3, "the logit map equals the probability map (%g, %g)", first[0], first[1]);
    int rc = run_cnnviz("occlusion --model @M --img @I @C --occ_size 7 --score odds", out, sizeof out);
    CHECK(rc == 2 && strstr(out, "--score"), "--score odds: exit %d", rc);
}

int main(int argc, char **argv)
{
    /* BUILD/tests/test_cli_conventions -> BUILD/cnnviz */
    const char *self = argc > 0 ? argv[0] : "build/tests/test_cli_conventions";
    size_t tail = strlen("tests/test_cli_conventions");
    size_t keep = strlen(self) >= tail ? strlen(self) - tail : 0;
    snprintf(cli_exe, sizeof cli_exe, "%.*scnnviz", (int)keep, self);
    bool have_dir = test_make_tmpdir(dir, sizeof dir, "conventions");
    snprintf(img_path, sizeof img_path, "%s/in.png", dir);
    ready = have_dir && access(cli_exe, X_OK) == 0 && make_image();
    RUN(test_version);
    RUN(test_exit_statuses);
    RUN(test_help_states_policy);
    RUN(test_layer_suggestions);
    RUN(test_predict_formats);
    RUN(test_progress_in_logs);
    RUN(test_bash_completion);
    RUN(test_occlusion_scores);
    if (have_dir)
        test_remove_dir(dir);
    return test_summary("cli_conventions");
}
