/* Error messages: one line, whatever the file names hold, and a message
 * longer than cv_error's buffer keeps its end, where the reason is. */
#include "cnnviz_io.h"
#include "lib/test.h"
#include <string.h>

static void test_long_path_keeps_reason(void)
{
    char path[4000];
    memset(path, 'd', sizeof path);
    for (size_t k = 0; k + 1 < sizeof path; k += 100)
        path[k] = '/';
    path[sizeof path - 1] = 0;
    cv_labels l;
    cv_error err;
    cv_status st = cv_labels_read(&l, path, 0, &err);
    CHECK(st == CV_ERR_IO, "status %d", st);
    size_t n = strlen(err.msg);
    const char *reason = "No such file or directory";
    CHECK(n > strlen(reason) && strcmp(err.msg + n - strlen(reason), reason) == 0,
          "the reason is lost: message ends '%s'", err.msg + (n > 60 ? n - 60 : 0));
    CHECK(strncmp(err.msg, "/ddd", 4) == 0, "the start is lost: '%.40s'", err.msg);
    CHECK(strstr(err.msg, " ... ") != NULL, "no mark where the middle was cut: %zu characters", n);
    CHECK(n < sizeof err.msg, "length %zu", n);
}

static void test_control_characters_escaped(void)
{
    cv_labels l;
    cv_error err;
    cv_labels_read(&l, "/nonexistent/evil\n\x1b[31mname\r", 0, &err);
    CHECK(!strchr(err.msg, '\n') && !strchr(err.msg, '\r') && !strchr(err.msg, 0x1b), "raw control bytes in '%s'",
          err.msg);
    CHECK(strstr(err.msg, "evil\\x0a\\x1b[31mname\\x0d") != NULL, "not escaped as \\xNN: %s", err.msg);
}

int main(void)
{
    RUN(test_long_path_keeps_reason);
    RUN(test_control_characters_escaped);
    return test_summary("errors");
}
