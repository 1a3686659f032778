/* The command-line tool: the only part of cnnviz that prints or exits.
 *
 * Each subcommand lives in cli/cmd_<name>.c and is described by a cli_cmd:
 * its name, a one-line summary and tables of options. The parser and the
 * --help text are generated from those tables, so they cannot drift apart.
 * Option names match with '_' and '-' treated alike (--num_filters and
 * --num-filters are the same), as the original tool used underscores.
 */
#ifndef CV_CLI_H
#define CV_CLI_H

#include "cnnviz.h"
#include "cnnviz_eval.h"
#include "cnnviz_io.h"
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *name;   /* long name without "--" */
    const char *alias;  /* another accepted name, or NULL */
    const char *arg;    /* metavariable ("PATH", "N"), or NULL for a flag */
    const char *dflt;   /* default shown in help and returned by cli_str, or NULL */
    const char *help;
} cli_opt;

/* Repeated --img may name many images (a --list file holds more). */
#define CLI_MAX_OPTS 4096

typedef struct {
    const struct cli_cmd *cmd;
    int n;
    const cli_opt *opt[CLI_MAX_OPTS];
    const char *val[CLI_MAX_OPTS];   /* "1" for flags */
} cli_args;

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *description;       /* a paragraph for --help, or NULL */
    const cli_opt *const *groups;  /* NULL-terminated list of option tables */
    int (*run)(const cli_args *a); /* returns the exit status */
} cli_cmd;

/* The index of value in names (NULL-terminated), or -1: for options that
 * take one of a few words (--score, --format, --method). */
int cli_pick(const char *value, const char *const *names);

/* Options that only some methods use: {option, "m1,m2"}, ended by {NULL}.
 * An option given on the command line that none of the n chosen methods
 * uses is a usage error naming the methods it is for (a --steps with
 * gradcam would otherwise be silently ignored). */
typedef struct {
    const char *option;
    const char *methods; /* comma-separated method names */
} cli_method_option;
bool cli_check_method_options(const cli_args *a, const cli_method_option *table, const char *const *chosen, int n);

/* A bash completion script for these commands (cli/completion.c). */
void cli_print_bash_completion(FILE *f, const cli_cmd *const *commands);
/* The manual page cnnviz(1) in roff for these commands (cli/manpage.c;
 * `cnnviz man`, which `make` writes to build/cnnviz.1). */
void cli_print_man(FILE *f, const cli_cmd *const *commands);

/* What the tool is, and the help of --quiet (every command has it): for
 * --help and the manual page alike. */
#define CLI_TAGLINE "cnnviz shows what a trained image classifier sees (ONNX or Keras HDF5 models)."
#define CLI_QUIET_HELP "no progress lines on stderr (warnings and errors stay)"

/* Option tables shared by commands; each ends with {NULL}. */
extern const cli_opt cli_model_opts[];      /* --model, --config, --flip-kernels, --max-memory */
extern const cli_opt cli_preprocess_opts[]; /* --preprocess, --bgr, --mean, --std, --labels */

/* Lookup: value given on the command line, else the table's default, else NULL. */
const char *cli_str(const cli_args *a, const char *name);
bool cli_given(const cli_args *a, const char *name);
bool cli_flag(const cli_args *a, const char *name);
/* Every value of a repeatable option, in the order given: how many times
 * it was given, and the k-th of them (NULL past the end). */
int cli_count(const cli_args *a, const char *name);
const char *cli_nth(const cli_args *a, const char *name, int k);
/* Parse an integer/float option within [lo, hi]; on error prints (a usage
 * error) and returns false. */
bool cli_int(const cli_args *a, const char *name, long lo, long hi, long *out);
bool cli_float(const cli_args *a, const char *name, double lo, double hi, double *out);
/* A required option: prints "missing --name" (a usage error) and returns
 * NULL when absent. */
const char *cli_require(const cli_args *a, const char *name);

/* --resize (squash|crop|pad; antialias|bilinear, its old meaning, still
 * accepted) and --interp; false after a message. */
bool cli_resize_modes(const cli_args *a, cv_fit *fit, cv_resize_mode *interp);

/* Exit statuses, the same for every command (printed under every --help). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };
/* Each status with a word for --help's footer and a sentence for the
 * manual page; ended by brief NULL. */
typedef struct {
    int code;
    const char *brief;
    const char *detail;
} cli_exit_doc;
extern const cli_exit_doc cli_exit_docs[];

/* Print "cnnviz: <msg>" on stderr: a runtime or input error (a file that
 * cannot be read, a library failure). Returns CLI_EXIT_RUNTIME. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a usage error: an unknown or missing option, a malformed or
 * out-of-range value, options that do not go together. It is remembered,
 * so that main exits with CLI_EXIT_USAGE whatever the command returns: one
 * policy, kept in one place. Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* err's message, then (cli_hint) the flag that sets what it names. */
int cli_fail(const cv_error *err);
/* After a library message that names a parameter the CLI sets from a flag
 * ("the memory limit (max_memory)"), a note naming the flag. The library
 * names its parameters, never the CLI's flags. */
void cli_hint(const cv_error *err);
/* The last message cli_error / cli_usage_error printed (escaped, one
 * line), "" after cli_clear_last_error: batch mode records it as the
 * failed image's "error". */
const char *cli_last_error(void);
void cli_clear_last_error(void);
/* A note on stderr (what was assumed), prefixed "cnnviz: note: ". */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "cnnviz: WARNING: <msg>": for what may make the answer wrong. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After cli_preprocess assumed the preprocessing (the model declares none):
 * " [preprocessing ASSUMED: torch]" for summary lines, else "". */
const char *cli_assumed_preprocessing(void);

/* ---- shared steps of the commands --------------------------------------- */

/* Load the model named by --model (or --weights_path), with the limit of
 * --max-memory. */
bool cli_load_model(const cli_args *a, cv_model **m);
/* --max-memory in bytes, 0 when not given (the library's "the memory
 * available now"); false after printing an error. */
bool cli_max_memory(const cli_args *a, size_t *bytes);
/* The layer named `name` (cv_model_find_layer), or -1 after printing the
 * library's message and where to see the names. */
int cli_find_layer(const cv_model *m, const char *name);

/* The model's expected input: channels, height, width and layout
 * (cv_model_input_geometry). --size S overrides a free or fixed spatial
 * size when size_opt names an option; the option's default, if any, only
 * fills a free size. */
typedef cv_input_geometry cli_input_geom;
bool cli_input_geometry(const cli_args *a, const cv_model *m, const char *size_opt, cli_input_geom *g);
cv_shape cli_input_shape(const cli_input_geom *g, int batch); /* cv_input_shape */

/* Preprocessing from --preprocess (auto: cv_preprocess_auto, with a note
 * when it assumed one), then --bgr, --mean, --std. */
bool cli_preprocess(const cli_args *a, const cv_model *m, cv_preprocess *p);

/* Load an image within --max-memory and make it a new batch-1 input buffer
 * (malloc'd) by cv_input_from_image with --resize and --interp. original
 * (optional) receives the photo as the model saw it, at its own resolution
 * (cropped or padded to the input's aspect by --resize crop|pad), so every
 * overlay drawn on it is aligned. NULL after printing an error. */
float *cli_image_input(const cli_args *a, const cv_model *m, const char *img_path, const cli_input_geom *g,
                       const cv_preprocess *p, cv_image *original);
/* Read an .npy tensor that must fit the model's input. */
bool cli_read_input(const cli_args *a, const char *path, const cv_model *m, cv_shape *shape, float **data);
/* --input X.npy as one image: cli_read_input, then batch 1 and 4-D in the
 * model's layout ([1, C, H, W], or [1, H, W, C] for a channels-last
 * model), its geometry into g. For commands that take an image or the
 * tensor made from it (eval, explain). */
bool cli_read_input_image(const cli_args *a, const char *path, const cv_model *m, cli_input_geom *g, float **x);

/* Class names from --labels, else cv_labels_for_model (labels->n == 0 when
 * none, with a note when some could not be used), within --max-memory.
 * False after printing an error, only when --labels names a file that
 * cannot be used. Free with cv_labels_free. */
bool cli_labels(const cli_args *a, const cv_model *m, cv_labels *labels);
/* Name of class k, or "-" when there is none. */
const char *cli_label(const cv_labels *labels, int k);
/* s with control characters escaped (cv_escape) in buf: for printing any
 * string that came from a file (labels, layer and node names). */
const char *cli_printable(const char *s, char *buf, size_t len);

/* s as a JSON file should hold it: s itself when printable (cJSON escapes
 * quotes and backslashes), else its cv_escape form in buf, so that bytes
 * that are not UTF-8 cannot make the file invalid. */
const char *cli_json_text(const char *s, char *buf, size_t len);

/* --class: an index, or a class name looked up in labels (cv_labels_find).
 * *target = -1 when spec is NULL. False after printing an error. */
bool cli_resolve_class(const char *spec, const cv_labels *labels, int *target);

/* --pointing SPEC: one box "x0,y0,x1,y1" (or space separated), or a file
 * of them, one per line ('#' comments); at most CLI_MAX_BOXES, *n of them. */
#define CLI_MAX_BOXES 256
bool cli_parse_boxes(const char *spec, cv_eval_box *boxes, int *n);
/* The k most likely classes as predict prints them: a table (rank, name,
 * index, score; the name column as wide as the longest name shown, up to
 * CLI_NAME_COLUMN, longer names cut with "..."), CSV (header "rank,index,
 * label,probability", names quoted as RFC 4180 says) or JSON (an object:
 * image, classes, softmax, preprocessing_assumed, top: [{rank, index,
 * label, probability}]). Names are escaped when not printable. */
#define CLI_NAME_COLUMN 48
typedef enum { CLI_TOP_TEXT, CLI_TOP_CSV, CLI_TOP_JSON } cli_top_format;
typedef struct {
    const char *image;     /* JSON's "image" */
    bool softmax;          /* the scores are the softmax of the model's logits */
    bool assumed;          /* the preprocessing was assumed, not declared */
} cli_top_context;
void cli_print_top_classes(const float *scores, int n, const cv_labels *labels, int k);
bool cli_write_top_classes(FILE *f, cli_top_format format, const float *scores, int n, const cv_labels *labels,
                           int k, const cli_top_context *ctx);

/* Flattened class scores of output 0 as probabilities (softmax applied only
 * when the output is not already a distribution). Returns malloc'd array. */
float *cli_probabilities(const cv_tensor *out, int item, int *n_classes, bool *applied_softmax);

/* Make directory dir (and parents) if missing; false with a message otherwise. */
bool cli_make_dir(const char *dir);
/* A command's output folder, written as one set: files go into a staging
 * folder beside --out ("<out>.tmp-XXXXXX"); commit writes manifest.json
 * (the set's files) and moves the set into place, replacing a previous set
 * in one step (its files, as its manifest names them, are removed; anything
 * else found there is kept in "<out>.previous-XXXXXX"). A run that fails
 * calls abort and leaves --out as it was: the previous complete set, or
 * nothing. Concurrent runs into one --out each publish a complete set; the
 * last one stays. */
typedef struct {
    char final[4096];   /* --out */
    char stage[4120];   /* where to write now */
    char command[32];
    char summary[1024];  /* after commit: "heatmap.png, probs.npy, frames/ (100 files)" */
    bool active;
} cli_outset;
bool cli_outset_begin(cli_outset *s, const char *dir, const char *command);
bool cli_outset_commit(cli_outset *s);
void cli_outset_abort(cli_outset *s); /* no-op after commit */
/* text with the staging folder of the set being written named as --out
 * (cli_error and cli_note pass every message through it); text itself when
 * no set is being written. */
const char *cli_outset_unstage(const char *text, char *buf, size_t len);

/* The first line of every overlay's caption, "fashion_cnn.onnx: Bag (8),
 * p = 0.982": the model's file name, the class (its name up to the first
 * comma, or "class 8" without names) and its score under the name symbol
 * ("p", "logit"), so a picture seen alone says what it shows. */
void cli_overlay_title(char *buf, size_t len, const cv_model *m, const char *class_name, int target,
                       const char *symbol, double score);

/* dir + "/" + name into buf. */
const char *cli_path(char *buf, size_t len, const char *dir, const char *name);

/* Progress on stderr: a bar redrawn in place when stderr is a terminal;
 * otherwise (a job's log) a plain line every CLI_PROGRESS_STEP of the work
 * or CLI_PROGRESS_SECONDS once a second has passed, and one at the end.
 * Nothing with --quiet. */
#define CLI_PROGRESS_STEP 0.1
#define CLI_PROGRESS_SECONDS 30.0
extern bool cli_quiet; /* --quiet / -q, any command */
extern bool cli_progress_muted; /* set by batch mode, which draws its own */
typedef struct {
    const char *what;
    long total, done;
    double start;
    double last_draw;
    double last_frac;       /* of the last plain line */
    bool tty;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, long total);
void cli_progress_update(cli_progress *p, long done);
void cli_progress_end(cli_progress *p);
double cli_now(void);

/* ---- batch mode: many images per run (cli/batch.c) ------------------------
 *
 * An image command is in batch mode when --img is repeated, an --img names
 * a directory, or --list is given (cli_batch_mode). The driver expands the
 * list (directories recursively, .jpg/.jpeg/.png, sorted bytewise), maps
 * each image to its folder under --out, takes this shard's share, owns the
 * --out root, skips what --resume finds done, makes each folder as a
 * cli_outset (so a folder is a complete set or absent), writes thumb.png,
 * calls the command for the rest, appends one manifest line per image and
 * draws the progress. The command only says how to set up (load the model
 * once) and how to do a few images. */
extern const cli_opt cli_batch_opts[]; /* --list, --shard, --shard-count, --resume, --force */
/* The sentences every image command's --help ends with. */
#define BATCH_HELP                                                                                                  \
    "Batch mode (several --img, an --img folder, --list): one folder per image under --out (its path under the "   \
    "folder, or as given, without the extension) with these files and thumb.png, and a line per image in "         \
    "--out/manifest.jsonl (manifest-K-of-N.jsonl with --shard); a failed image is recorded and the run goes on, " \
    "ending with status 1; the model is loaded once."
bool cli_batch_mode(const cli_args *a);
/* Outside batch mode, --shard, --resume and the like are a usage error
 * (false after it), not silently ignored. */
bool cli_batch_options_ok(const cli_args *a);

typedef struct {
    /* in */
    long index;            /* in the whole list, 0-based */
    const char *input;     /* the image's path */
    const char *rel;       /* its folder under --out */
    const char *dir;       /* where to write its outputs now (a staging folder) */
    /* out: what the command knows; the driver starts them empty */
    bool ok;
    int top_class;         /* -1: none */
    char top_name[256];
    double top_prob;
    char picture[128];     /* the file in dir that shows the result, "" for none */
    struct cJSON *numbers; /* an object for the command's key numbers (numbers only) */
    char error[1024];      /* why it failed; "" takes the last error message */
} cli_batch_item;

typedef struct {
    const char *command;   /* "occlusion" */
    int group;             /* images per call of run: several share forwards (predict), else 1 */
    /* once, before the first image; false after a message ends the run */
    bool (*setup)(const cli_args *a, void *ctx);
    /* items[0..n), each to be set ok or not; messages as the command prints them */
    void (*run)(const cli_args *a, void *ctx, cli_batch_item *items, int n);
    void (*cleanup)(void *ctx); /* always, setup or not */
    void *ctx;
} cli_batch_ops;

/* The whole batch run: the exit status (0 all ok, 1 any image failed or a
 * runtime error, 2 a usage error). */
int cli_batch_run(const cli_args *a, const cli_batch_ops *ops);
/* items[k]'s top class from scores (the highest; ties: the lowest index). */
void cli_batch_set_top(cli_batch_item *it, const float *scores, int n, const cv_labels *labels);

#endif
