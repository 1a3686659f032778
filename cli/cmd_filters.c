/* cnnviz filters (being written). */
#include "cli.h"

static const cli_opt *const groups[] = {cli_model_opts, NULL};

static int run(const cli_args *a) { return cli_error("filters: not available yet"); }

const cli_cmd cli_cmd_filters = {"filters", "(not available yet)", NULL, groups, run};
