/* cnnviz: entry point, option parsing and help, all generated from the
 * command tables in cli/cmd_*.c. */
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

extern const cli_cmd cli_cmd_predict, cli_cmd_layers, cli_cmd_run, cli_cmd_grad,
    cli_cmd_filters, cli_cmd_occlusion, cli_cmd_explain, cli_cmd_eval, cli_cmd_config, cli_cmd_merge_manifests,
    cli_cmd_gallery;

static const cli_cmd *const commands[] = {
    &cli_cmd_predict, &cli_cmd_layers, &cli_cmd_run, &cli_cmd_grad,
    &cli_cmd_filters, &cli_cmd_occlusion, &cli_cmd_explain, &cli_cmd_eval, &cli_cmd_config,
    &cli_cmd_merge_manifests, &cli_cmd_gallery, NULL,
};

/* The last error message, for batch mode's manifest (cli_last_error). */
static char last_error[1024];

/* "cnnviz: <prefix><message>" on stderr as one line, with control
 * characters escaped: messages quote names and paths from files. */
static void print_line(const char *prefix, const char *fmt, va_list ap)
{
    char text[8192], named[8192], printable[16384];
    vsnprintf(text, sizeof text, fmt, ap);
    cv_escape(printable, sizeof printable, cli_outset_unstage(text, named, sizeof named));
    fprintf(stderr, "cnnviz: %s%s\n", prefix, printable);
    if (!*prefix) { /* cut to fit: it is one line of a manifest */
        size_t n = strnlen(printable, sizeof last_error - 1);
        memcpy(last_error, printable, n);
        last_error[n] = 0;
    }
}

const char *cli_last_error(void) { return last_error; }

void cli_clear_last_error(void) { last_error[0] = 0; }

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line("", fmt, ap);
    va_end(ap);
    return CLI_EXIT_RUNTIME;
}

/* Set by cli_usage_error: main turns the command's failure into
 * CLI_EXIT_USAGE, whichever status the command itself returned. */
static bool usage_error_seen;

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line("", fmt, ap);
    va_end(ap);
    usage_error_seen = true;
    return CLI_EXIT_USAGE;
}

int cli_fail(const cv_error *err)
{
    cli_error("%s", err->msg);
    cli_hint(err);
    return 1;
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line("note: ", fmt, ap);
    va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line("WARNING: ", fmt, ap);
    va_end(ap);
}

/* Names compare with '_' and '-' treated alike. */
static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static const cli_opt *find_opt(const cli_cmd *cmd, const char *name)
{
    for (const cli_opt *const *g = cmd->groups; *g; g++)
        for (const cli_opt *o = *g; o->name; o++)
            if (same_name(o->name, name) || (o->alias && same_name(o->alias, name)))
                return o;
    return NULL;
}

static const char *lookup(const cli_args *a, const char *name, bool *given)
{
    for (int k = a->n - 1; k >= 0; k--)
        if (same_name(a->opt[k]->name, name)) {
            *given = true;
            return a->val[k];
        }
    *given = false;
    const cli_opt *o = find_opt(a->cmd, name);
    return o ? o->dflt : NULL;
}

const char *cli_str(const cli_args *a, const char *name)
{
    bool given;
    return lookup(a, name, &given);
}

bool cli_given(const cli_args *a, const char *name)
{
    bool given;
    lookup(a, name, &given);
    return given;
}

bool cli_flag(const cli_args *a, const char *name) { return cli_given(a, name); }

int cli_count(const cli_args *a, const char *name)
{
    int n = 0;
    for (int k = 0; k < a->n; k++)
        n += same_name(a->opt[k]->name, name);
    return n;
}

const char *cli_nth(const cli_args *a, const char *name, int nth)
{
    for (int k = 0; k < a->n; k++)
        if (same_name(a->opt[k]->name, name) && nth-- == 0)
            return a->val[k];
    return NULL;
}

const char *cli_require(const cli_args *a, const char *name)
{
    const char *v = cli_str(a, name);
    if (!v || !*v)
        cli_usage_error("%s needs --%s (see cnnviz %s --help)", a->cmd->name, name, a->cmd->name);
    return v && *v ? v : NULL;
}

bool cli_int(const cli_args *a, const char *name, long lo, long hi, long *out)
{
    const char *v = cli_str(a, name);
    if (!v) {
        cli_usage_error("missing --%s", name);
        return false;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) {
        cli_usage_error("--%s expects an integer, got '%s'", name, v);
        return false;
    }
    if (x < lo || x > hi) {
        cli_usage_error("--%s must be between %ld and %ld, got %ld", name, lo, hi, x);
        return false;
    }
    *out = x;
    return true;
}

bool cli_float(const cli_args *a, const char *name, double lo, double hi, double *out)
{
    const char *v = cli_str(a, name);
    if (!v) {
        cli_usage_error("missing --%s", name);
        return false;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x)) {
        cli_usage_error("--%s expects a number, got '%s'", name, v);
        return false;
    }
    if (x < lo || x > hi) {
        cli_usage_error("--%s must be between %g and %g, got %g", name, lo, hi, x);
        return false;
    }
    *out = x;
    return true;
}

const cli_exit_doc cli_exit_docs[] = {
    {CLI_EXIT_OK, "ok", "success."},
    {CLI_EXIT_RUNTIME, "runtime or input error",
     "a runtime or input error: a file that cannot be read or written, a model or image the library refuses "
     "(corrupt, unsupported, past --max-memory); the message on stderr says which. A command that fails "
     "leaves its --out folder as it was. In batch mode (many images), also when any image failed: the others "
     "are done, and manifest.jsonl says which failed and why."},
    {CLI_EXIT_USAGE, "usage error",
     "a usage error: an unknown or missing option, a malformed or out-of-range value, options that do not go "
     "together (2 also when that shows only once the model is loaded)."},
    {0, NULL, NULL},
};

/* The footer of every --help: the policy of cli_error / cli_usage_error. */
static void print_exit_statuses(FILE *f)
{
    fputs("\nexit status:", f);
    for (const cli_exit_doc *e = cli_exit_docs; e->brief; e++)
        fprintf(f, "%s %d %s", e == cli_exit_docs ? "" : ",", e->code, e->brief);
    fprintf(f, "\nin batch mode (many images), %d also when any image failed: the others are done, and\n"
               "manifest.jsonl says which failed and why\n", CLI_EXIT_RUNTIME);
}

static void print_help(const cli_cmd *cmd, FILE *f)
{
    fprintf(f, "usage: cnnviz %s [options]\n\n%s\n", cmd->name, cmd->summary);
    if (cmd->description)
        fprintf(f, "\n%s\n", cmd->description);
    fprintf(f, "\noptions:\n");
    for (const cli_opt *const *g = cmd->groups; *g; g++)
        for (const cli_opt *o = *g; o->name; o++) {
            char head[96];
            snprintf(head, sizeof head, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
            fprintf(f, "  %-26s %s", head, o->help);
            if (o->dflt)
                fprintf(f, " (default: %s)", o->dflt);
            if (o->alias)
                fprintf(f, " [also --%s]", o->alias);
            fputc('\n', f);
        }
    fprintf(f, "  %-26s %s\n", "--quiet, -q", CLI_QUIET_HELP);
    fprintf(f, "  %-26s %s\n", "--help", "show this help");
    print_exit_statuses(f);
}

static void print_usage(FILE *f)
{
    fprintf(f, "usage: cnnviz COMMAND [options]\n\n" CLI_TAGLINE "\n\ncommands:\n");
    for (const cli_cmd *const *c = commands; *c; c++)
        fprintf(f, "  %-10s %s\n", (*c)->name, (*c)->summary);
    fprintf(f, "\n`cnnviz COMMAND --help` describes a command's options; `cnnviz --version` (-V) the release;\n"
               "`source <(cnnviz completion bash)` completes commands, options and file names in bash.\n");
    print_exit_statuses(f);
}

static int parse(const cli_cmd *cmd, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int k = 0; k < argc; k++) {
        const char *s = argv[k];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            print_help(cmd, stdout);
            return -1;
        }
        if (strcmp(s, "--quiet") == 0 || strcmp(s, "-q") == 0) { /* every command's */
            cli_quiet = true;
            continue;
        }
        if (strncmp(s, "--", 2) != 0 || !s[2])
            return cli_usage_error("unexpected argument '%s' for `cnnviz %s` (options start with --; see --help)", s, cmd->name);
        char name[128];
        const char *eq = strchr(s + 2, '=');
        size_t len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
        if (len >= sizeof name)
            return cli_usage_error("option '%.40s...' is too long", s);
        memcpy(name, s + 2, len);
        name[len] = 0;
        const cli_opt *o = find_opt(cmd, name);
        if (!o)
            return cli_usage_error("unknown option --%s for `cnnviz %s` (see cnnviz %s --help)", name, cmd->name, cmd->name);
        const char *val = "1";
        if (o->arg) {
            if (eq)
                val = eq + 1;
            else if (k + 1 < argc)
                val = argv[++k];
            else
                return cli_usage_error("--%s needs a value (%s)", name, o->arg);
        } else if (eq) {
            return cli_usage_error("--%s takes no value", name);
        }
        if (a->n >= CLI_MAX_OPTS)
            return cli_usage_error("too many options (%d at most; name many images in a --list file)", CLI_MAX_OPTS);
        a->opt[a->n] = o;
        a->val[a->n++] = val;
    }
    return 0;
}

/* The library runs every parallel loop, its matrix products included, on
 * OpenMP's threads, with OpenBLAS single-threaded inside (src/core/blas.h).
 * OPENBLAS_NUM_THREADS=1 before OpenBLAS loads keeps it from starting a
 * pool of its own that would only sleep (each worker also maps a 128 MiB
 * buffer as it starts). OpenMP's threads spin a short while before they
 * sleep (GOMP_SPINCOUNT, below): spinning beats sleeping at once when the
 * machine is quiet (ResNet18 saliency 66 ms against 72 ms with
 * OMP_WAIT_POLICY=PASSIVE), but not for long. Both libraries read these variables when they
 * load, before main, so the only way to choose them for the user is to run
 * ourselves again with them set. A value the user chose is left alone. */
#define CLI_GOMP_SPINCOUNT "10000"

static void prefer_one_thread_pool(char **argv)
{
    bool again = false; /* after the exec it is set: no loop */
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        again = true;
    }
    /* libgomp's idle threads spin 300000 times before they sleep. When
     * other work keeps the cores busy, a spinning thread eats the time
     * slice of the thread it waits for, at every one of a forward's
     * hundreds of parallel loops. ResNet18 batch 1 forward, 2 threads, on
     * a 2-core Zen 4 VM loaded by other builds: 320-430 ms with the
     * default, 64-66 ms with 10000 spins, 37-44 ms with 1000, 35 ms
     * passive; on the quiet machine: 16.8-20.7 ms default, 16.6-19.6 ms
     * with 10000 (the same within the noise; MobileNetV2 6.7 ms both),
     * but 1000 spins and passive cost 18-50% there (MobileNetV2 8.6 and
     * 10.0 ms). 10000 keeps the quiet speed and most of the loaded one. */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        setenv("GOMP_SPINCOUNT", CLI_GOMP_SPINCOUNT, 1);
        again = true;
    }
    /* Under an address-space limit (ulimit -v) each thread that calls
     * OpenBLAS gets a 128 MiB buffer, and OpenBLAS 0.3.21 retries a failed
     * mmap forever (the process hung): OpenMP, whose threads make the calls,
     * gets at most a quarter of the limit's worth of them (200 MB: one
     * thread; 4 GiB: 8); libgomp also exits when it cannot start a thread.
     * The run checks the room for its own buffer (src/core/addrspace.c). */
    struct rlimit rl;
    if (!getenv("OMP_NUM_THREADS") && getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        unsigned long long workers = rl.rlim_cur / 4 / ((128ull << 20) + 8192);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus >= 1 && workers > (unsigned long long)cpus - 1)
            workers = (unsigned long long)cpus - 1;
        char n[24];
        snprintf(n, sizeof n, "%llu", workers + 1);
        setenv("OMP_NUM_THREADS", n, 1);
        again = true;
    }
    if (again)
        execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with the defaults */
}

int main(int argc, char **argv)
{
    /* A full disk or a file-size limit must end in "write failed: File too
     * large" naming the file, with temporaries removed, not in a silent
     * death by SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    prefer_one_thread_pool(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("cnnviz %s\n", cv_version());
        return CLI_EXIT_OK;
    }
    /* Not listed: for `make`, which writes build/cnnviz.1 with it. */
    if (strcmp(argv[1], "man") == 0 && argc == 2) {
        cli_print_man(stdout, commands);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "completion") == 0) {
        if (argc == 3 && strcmp(argv[2], "bash") == 0) {
            cli_print_bash_completion(stdout, commands);
            return CLI_EXIT_OK;
        }
        cli_usage_error("usage: cnnviz completion bash (the only shell so far)");
        return CLI_EXIT_USAGE;
    }
    for (const cli_cmd *const *c = commands; *c; c++) {
        if (strcmp((*c)->name, argv[1]) != 0)
            continue;
        cli_args a;
        int st = parse(*c, argc - 2, argv + 2, &a);
        if (st < 0)
            return 0; /* --help */
        if (st > 0)
            return CLI_EXIT_USAGE;
        st = (*c)->run(&a);
        if (st == CLI_EXIT_OK)
            return CLI_EXIT_OK;
        return usage_error_seen ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
    }
    cli_usage_error("unknown command '%s'", argv[1]);
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
