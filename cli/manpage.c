/* `cnnviz man`: the manual page cnnviz(1), in roff, made from the same
 * command and option tables as --help (and the same exit statuses), so
 * that the two cannot disagree. `make` writes it to build/cnnviz.1. */
#include "cli.h"
#include <string.h>

/* text as roff reads it literally: backslashes and hyphens escaped (a
 * "-" left alone may print as a typographic hyphen, and --max-memory
 * copied from the page would then not work), and a "." or "'" that would
 * begin a line made text, not a request. */
static void put_text(FILE *f, const char *text)
{
    bool line_start = true;
    for (const char *s = text; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        line_start = *s == '\n';
    }
}

/* One option: its name (bold), its value (italic), then the help line
 * with the default and the other name, as --help writes them. */
static void put_option(FILE *f, const cli_opt *o)
{
    fputs(".TP\n\\fB", f);
    put_text(f, "--");
    put_text(f, o->name);
    fputs("\\fR", f);
    if (o->arg) {
        fputs(" \\fI", f);
        put_text(f, o->arg);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    put_text(f, o->help);
    if (o->dflt) {
        fputs(" (default: ", f);
        put_text(f, o->dflt);
        fputc(')', f);
    }
    if (o->alias) {
        fputs(" [also ", f);
        put_text(f, "--");
        put_text(f, o->alias);
        fputc(']', f);
    }
    fputc('\n', f);
}

static void put_command(FILE *f, const cli_cmd *cmd)
{
    fputs(".SS \"cnnviz ", f);
    put_text(f, cmd->name);
    fputs("\"\n", f);
    put_text(f, cmd->summary);
    fputs(".\n", f);
    if (cmd->description) {
        fputs(".PP\n", f);
        put_text(f, cmd->description);
        fputc('\n', f);
    }
    for (const cli_opt *const *g = cmd->groups; g && *g; g++)
        for (const cli_opt *o = *g; o->name; o++)
            put_option(f, o);
}

void cli_print_man(FILE *f, const cli_cmd *const *commands)
{
    fputs(".\\\" cnnviz(1), made by `cnnviz man` from the tables --help prints.\n", f);
    fprintf(f, ".TH CNNVIZ 1 \"\" \"cnnviz %s\" \"User Commands\"\n", cv_version());
    fputs(".nh\n", f); /* no hyphens inside option names */
    fputs(".SH NAME\ncnnviz \\- ", f);
    put_text(f, "see what a trained image classifier sees: filters, occlusion, attribution maps, faithfulness");
    fputs("\n.SH SYNOPSIS\n.B cnnviz\n.I command\n.RI [ options ]\n.br\n"
          ".B cnnviz\n.I command\n.B \\-\\-help\n.br\n.B cnnviz \\-\\-version\n.br\n"
          ".B cnnviz completion bash\n.SH DESCRIPTION\n",
          f);
    put_text(f, CLI_TAGLINE " Every command takes its model with --model and writes its results as files "
                "(PNG, .npy, CSV, JSON) or tables on stdout; notes, warnings and errors go to stderr. Option "
                "names match with '_' and '-' alike (--num_filters is --num-filters), and --name=value is "
                "--name value.");
    fputs("\n.PP\nThe commands:\n", f);
    for (const cli_cmd *const *c = commands; *c; c++) {
        fputs(".TP\n.B ", f);
        put_text(f, (*c)->name);
        fputc('\n', f);
        put_text(f, (*c)->summary);
        fputc('\n', f);
    }
    fputs(".SH COMMANDS\n", f);
    for (const cli_cmd *const *c = commands; *c; c++)
        put_command(f, *c);
    fputs(".SH \"OPTIONS OF EVERY COMMAND\"\n.TP\n\\fB\\-\\-quiet\\fR, \\fB\\-q\\fR\n", f);
    put_text(f, CLI_QUIET_HELP);
    fputs("\n.TP\n\\fB\\-\\-help\\fR, \\fB\\-h\\fR\n", f);
    put_text(f, "print the command's options, as listed here, and exit");
    fputs("\n.SH \"EXIT STATUS\"\nThe same for every command:\n", f);
    for (const cli_exit_doc *e = cli_exit_docs; e->brief; e++) {
        fprintf(f, ".TP\n.B %d\n", e->code);
        put_text(f, e->detail);
        fputc('\n', f);
    }
    fputs(".SH ENVIRONMENT\n.TP\n.B CNNVIZ_ISA\n", f);
    put_text(f, "generic, avx2 or avx512: the widest vector kernels to use (default: the best the CPU has).");
    fputs("\n.TP\n.B OMP_NUM_THREADS\n", f);
    put_text(f, "threads of the parallel loops (OpenMP; default: every core, fewer under an address-space limit).");
    fputs("\n.TP\n.B OPENBLAS_NUM_THREADS\n", f);
    put_text(f, "set to 1 by cnnviz unless given: the matrix products run on OpenMP's threads.");
    fputs("\n.SH FILES\n.TP\n.I MODEL.cnnviz.json\n", f);
    put_text(f, "the sidecar beside a model (cnnviz config): its preprocessing, input size and labels.");
    fputs("\n.SH \"SEE ALSO\"\n", f);
    put_text(f, "The README of cnnviz; the library's headers (cnnviz.h and the others, pkg-config cnnviz).");
    fputc('\n', f);
}
