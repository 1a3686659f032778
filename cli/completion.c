/* `cnnviz completion bash`: a bash completion script made from the
 * commands' option tables, so that it cannot fall behind them. Commands
 * complete at the first word, each command's options after it, and the
 * value of an option whose metavariable names a file (PATH, FILE, JSON,
 * X.npy) or a folder (DIR) completes as one. */
#include "cli.h"
#include <string.h>

/* PATH, FILE, JSON, X.npy, x0,y0,x1,y1|FILE: a value that may be a file */
static bool is_file_arg(const char *arg)
{
    size_t n = strlen(arg);
    return strcmp(arg, "PATH") == 0 || strcmp(arg, "JSON") == 0 || (n >= 4 && strcmp(arg + n - 4, "FILE") == 0) ||
           (n >= 4 && strcmp(arg + n - 4, ".npy") == 0);
}

/* Every option of cmd, as bash words: "--name --alias ...". */
static void print_words(FILE *f, const cli_cmd *cmd)
{
    fputs("--help --quiet", f);
    for (const cli_opt *const *g = cmd->groups; g && *g; g++)
        for (const cli_opt *o = *g; o->name; o++)
            fprintf(f, " --%s", o->name);
}

/* The "--a|--b" pattern of cmd's options whose value is a file (dirs
 * false) or a folder (dirs true), or "" when none. */
static void print_value_pattern(FILE *f, const cli_cmd *cmd, bool dirs)
{
    bool first = true;
    for (const cli_opt *const *g = cmd->groups; g && *g; g++)
        for (const cli_opt *o = *g; o->name; o++)
            if (o->arg && (dirs ? strcmp(o->arg, "DIR") == 0 : is_file_arg(o->arg))) {
                fprintf(f, "%s--%s", first ? "" : "|", o->name);
                first = false;
            }
    if (first)
        fputs("--none-of-these", f);
}

void cli_print_bash_completion(FILE *f, const cli_cmd *const *commands)
{
    fputs("# bash completion for cnnviz, made by `cnnviz completion bash`.\n"
          "# Use: source <(cnnviz completion bash), or save it under\n"
          "# /etc/bash_completion.d/ or ~/.local/share/bash-completion/completions/cnnviz.\n"
          "_cnnviz() {\n"
          "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W \"",
          f);
    for (const cli_cmd *const *c = commands; *c; c++)
        fprintf(f, "%s ", (*c)->name);
    fputs("completion --help --version\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case \"${COMP_WORDS[1]}\" in\n",
          f);
    for (const cli_cmd *const *c = commands; *c; c++) {
        fprintf(f, "    %s)\n        case \"$prev\" in\n            ", (*c)->name);
        print_value_pattern(f, *c, false);
        fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n            ", f);
        print_value_pattern(f, *c, true);
        fputs(") COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n        esac\n"
              "        COMPREPLY=($(compgen -W \"",
              f);
        print_words(f, *c);
        fputs("\" -- \"$cur\")) ;;\n", f);
    }
    fputs("    completion) COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")) ;;\n"
          "    esac\n"
          "}\n"
          "complete -o filenames -F _cnnviz cnnviz\n",
          f);
}
