/* cv_gallery_write on synthetic output folders: one card per index (the
 * last line winning), in index order, from manifest.jsonl or the shards'
 * files; hostile manifests (broken, huge or deeply nested lines, missing
 * keys, markup and scripts in names, paths leaving the folder, a FIFO)
 * are skipped or refused, never run, never hang. The page in a browser:
 * tests/test_gallery.sh. */
#include "lib/test.h"
#include "cnnviz_gallery.h"
#include "cnnviz_io.h"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char page[1 << 20];
static char cli_exe[512];   /* the cnnviz beside this test's build folder (build/, build-asan/) */

static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A 4x4 PNG at dir/rel (folders made). */
static void put_png(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    sh("mkdir -p \"$(dirname '%s')\"", path);
    cv_image img;
    cv_error err;
    if (cv_image_alloc(&img, 4, 4, 3, &err) != CV_OK)
        return;
    memset(img.px, 200, 48);
    cv_image_save_png(&img, path, &err);
    cv_image_free(&img);
}

static bool fresh_dir(const char *tag)
{
    if (dir[0])
        sh("rm -rf '%s'", dir);
    return test_make_tmpdir(dir, sizeof dir, tag);
}

static void read_page(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/index.html", dir);
    test_slurp(path, page, sizeof page);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The data-index values of the cards, in page order, as "0,2,5". */
static void card_order(char *out, size_t len)
{
    out[0] = 0;
    for (const char *p = page; (p = strstr(p, "<article class=\"card")) != NULL; p++) {
        const char *d = strstr(p, "data-index=\"");
        if (!d)
            break;
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%d", n ? "," : "", atoi(d + 12));
    }
}

/* Write the gallery of dir, read its page into `page` and, when order is
 * not NULL, the cards' indices in page order into it. */
static bool gallery_now(cv_gallery_report *rep, char *order, size_t len)
{
    cv_error err;
    if (cv_gallery_write(dir, rep, &err) != CV_OK) {
        CHECK(0, "cv_gallery_write: %s", err.msg);
        return false;
    }
    read_page();
    if (order)
        card_order(order, len);
    return true;
}

static void test_cards_in_index_order(void)
{
    REQUIRE(fresh_dir("gallery"), "tmpdir");
    put_png("cats/001/thumb.png");
    put_png("cats/001/overlay_alpha.png");
    put_png("dogs/002/thumb.png");
    put("manifest.jsonl",
        "{\"index\":2,\"input\":\"photos/dogs/002.jpg\",\"out\":\"dogs/002\",\"status\":\"failed\",\"error\":\"first try\","
        "\"top_class\":null,\"top_name\":null,\"top_prob\":null,\"picture\":null,\"thumbnail\":null,\"numbers\":{},\"seconds\":0.1}\n"
        "{\"index\":0,\"input\":\"photos/cats/001.jpg\",\"out\":\"cats/001\",\"status\":\"ok\",\"error\":null,"
        "\"top_class\":281,\"top_name\":\"tabby\",\"top_prob\":0.8123,\"picture\":\"overlay_alpha.png\","
        "\"thumbnail\":\"thumb.png\",\"numbers\":{\"target\":281,\"min_prob\":0.125,\"label\":\"no\"},\"seconds\":1.5}\n"
        "\n"
        "{\"index\":2,\"input\":\"photos/dogs/002.jpg\",\"out\":\"dogs/002\",\"status\":\"failed\","
        "\"error\":\"photos/dogs/002.jpg: not a PNG or JPEG image\",\"top_class\":null,\"top_name\":null,"
        "\"top_prob\":null,\"picture\":null,\"thumbnail\":\"thumb.png\",\"numbers\":{},\"seconds\":0.2}\n"
        "{\"index\":1,\"input\":\"photos/cats/003.jpg\",\"out\":\"cats/003\",\"status\":\"ok\",\"error\":null,"
        "\"top_class\":5,\"top_name\":\"lynx\",\"top_prob\":0.25,\"picture\":\"overlay_alpha.png\","
        "\"thumbnail\":\"thumb.png\",\"numbers\":{},\"seconds\":1}\n");
    cv_gallery_report rep;
    char order[256];
    REQUIRE(gallery_now(&rep, order, sizeof order), "the gallery");
    CHECK(rep.cards == 3 && rep.failed == 1 && rep.skipped == 0 && rep.lines == 4 && rep.manifests == 1,
          "cards %d failed %d skipped %d lines %d", rep.cards, rep.failed, rep.skipped, rep.lines);
    CHECK(!strcmp(order, "0,1,2"), "order %s", order);
    CHECK(count(page, "<article class=\"card failed\"") == 1, "one failed card");
    CHECK(strstr(page, "not a PNG or JPEG image") && !strstr(page, "first try"), "the last line of index 2 wins");
    CHECK(strstr(page, "src=\"cats/001/thumb.png\"") && strstr(page, "src=\"cats/001/overlay_alpha.png\""),
          "relative pictures");
    CHECK(strstr(page, "tabby") && strstr(page, "81.2%") && strstr(page, "<dt>min_prob</dt><dd>0.125</dd>"),
          "class, probability, numbers");
    CHECK(!strstr(page, "<dt>label</dt>"), "a number that is a string is not shown");
    CHECK(count(page, ">missing<") == 2 && !strstr(page, ">none<") && count(page, "<figure>") == 5,
          "cats/003 has no files: placeholders, not broken images");
    CHECK(!strstr(page, "http:") && !strstr(page, "https:") && !strstr(page, "src=\"/"), "no network, no absolute");
    char tmp[512];
    snprintf(tmp, sizeof tmp, "ls '%s' | grep -q tmp", dir);
    CHECK(sh("%s", tmp) != 0, "no temporary file left");
}

static void test_injection_escaped(void)
{
    REQUIRE(fresh_dir("gallery-inj"), "tmpdir");
    put_png("a/thumb.png");
    put_png("javascript:alert(5)/thumb.png");
    put("manifest.jsonl",
        "{\"index\":0,\"input\":\"\\\"><script>alert(2)</script>.png\",\"out\":\"a\",\"status\":\"ok\","
        "\"top_class\":1,\"top_name\":\"</script><img src=x onerror=alert(1)>\",\"top_prob\":0.5,"
        "\"picture\":\"javascript:alert(3)\",\"thumbnail\":\"thumb.png\","
        "\"numbers\":{\"<b onmouseover=alert(4)>\":1}}\n"
        "{\"index\":1,\"input\":\"x\",\"out\":\"javascript:alert(5)\",\"status\":\"failed\","
        "\"error\":\"<iframe src='http://evil'>\",\"thumbnail\":\"thumb.png\"}\n"
        "{\"index\":2,\"input\":\"y\",\"out\":\"../../etc\",\"status\":\"ok\",\"thumbnail\":\"passwd\"}\n"
        "{\"index\":3,\"input\":\"z\",\"out\":\"a\",\"status\":\"ok\",\"thumbnail\":\"/etc/passwd\","
        "\"top_name\":\"bad \\u0001 \xff\xfe utf8 \xc0\xaf\"}\n");
    cv_gallery_report rep;
    REQUIRE(gallery_now(&rep, NULL, 0), "the gallery");
    CHECK(rep.cards == 4, "%d cards", rep.cards);
    CHECK(count(page, "<script") == 1 && count(page, "</script") == 1, "only the page's own script");
    CHECK(strstr(page, "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;") != NULL, "class name escaped");
    CHECK(!strstr(page, "<img src=x") && !strstr(page, "<iframe") && !strstr(page, "<b onm"), "no injected markup");
    CHECK(strstr(page, "&quot;&gt;&lt;script&gt;") != NULL, "input path escaped");
    CHECK(!strstr(page, "=\"javascript:") && strstr(page, "src=\"javascript%3Aalert%285%29/thumb.png\""),
          "no javascript: URL, a relative path");
    CHECK(!strstr(page, "etc/passwd") || !strstr(page, "src=\"../"), "nothing outside the folder");
    CHECK(!strstr(page, "href=\"../") && !strstr(page, "src=\"/"), "no link leaves the folder");
    CHECK(count(page, "unsafe path") >= 2, "unsafe paths are said so");
    CHECK(strstr(page, "bad \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD\xEF\xBF\xBD") != NULL,
          "control and non-UTF-8 bytes become U+FFFD");
    CHECK(strstr(page, "script-src 'sha256-") != NULL, "the CSP allows only the page's script");
}

/* Lines that cannot be used are skipped and counted; the good ones stay. */
static void test_hostile_lines(void)
{
    REQUIRE(fresh_dir("gallery-bad"), "tmpdir");
    size_t big = CV_GALLERY_MAX_LINE + 100, deep = 20000;
    char *text = malloc(big + 2 * deep + 4096);
    REQUIRE(text, "malloc");
    char *p = text;
    p += sprintf(p, "not json\n[1,2]\n{\"status\":\"ok\"}\n{\"index\":-1,\"status\":\"ok\"}\n"
                    "{\"index\":1.5,\"status\":\"ok\"}\n{\"index\":3,\"status\":\"maybe\"}\n"
                    "{\"index\":\"4\",\"status\":\"ok\"}\n{\"index\":1e300,\"status\":\"ok\"}\n"
                    "{\"index\":7,\"status\":\"ok\",\"input\":\"good\"}\n{\"index\":8,");
    p += sprintf(p, "\n{\"index\":9,\"status\":\"ok\",\"input\":\"");
    memset(p, 'a', big);
    p += big;
    p += sprintf(p, "\"}\n");
    memset(p, '[', deep);
    p += deep;
    memset(p, ']', deep);
    p += deep;
    p += sprintf(p, "\n{\"index\":10,\"status\":\"failed\"}");   /* no newline at the end */
    *p = 0;
    put("manifest.jsonl", text);
    free(text);
    cv_gallery_report rep;
    char order[256];
    REQUIRE(gallery_now(&rep, order, sizeof order), "the gallery");
    CHECK(!strcmp(order, "7,10"), "cards %s", order);
    CHECK(rep.skipped == 11 && rep.lines == 13, "skipped %d of %d", rep.skipped, rep.lines);
    CHECK(strstr(rep.first_skip, "line 1: not valid JSON") != NULL, "%s", rep.first_skip);
    CHECK(strstr(page, "11 manifest lines could not be used") != NULL, "the page says so");
    CHECK(strstr(page, "(no message)") != NULL, "a failure without message still shows as failed");
}

static void test_shards(void)
{
    REQUIRE(fresh_dir("gallery-shards"), "tmpdir");
    put("manifest-0-of-2.jsonl", "{\"index\":0,\"status\":\"ok\"}\n{\"index\":2,\"status\":\"failed\"}\n"
                                 "{\"index\":2,\"status\":\"ok\"}\n");
    put("manifest-1-of-2.jsonl", "{\"index\":3,\"status\":\"ok\"}\n{\"index\":1,\"status\":\"ok\"}\n");
    put("manifest-2-of-2.jsonl", "{\"index\":99,\"status\":\"ok\"}\n");
    put("manifest-x-of-2.jsonl", "{\"index\":98,\"status\":\"ok\"}\n");
    put("manifest-+1-of-2.jsonl", "{\"index\":97,\"status\":\"ok\"}\n");
    cv_gallery_report rep;
    char order[256];
    REQUIRE(gallery_now(&rep, order, sizeof order), "the gallery");
    CHECK(!strcmp(order, "0,1,2,3") && rep.manifests == 2 && rep.failed == 0, "cards %s from %d files", order,
          rep.manifests);
    /* a merged manifest.jsonl, once there, is the one read */
    put("manifest.jsonl", "{\"index\":5,\"status\":\"ok\"}\n");
    REQUIRE(gallery_now(&rep, order, sizeof order), "the gallery");
    CHECK(!strcmp(order, "5") && rep.manifests == 1, "cards %s", order);
}

static void test_refusals(void)
{
    cv_error err;
    cv_gallery_report rep;
    REQUIRE(fresh_dir("gallery-none"), "tmpdir");
    CHECK(cv_gallery_write(dir, &rep, &err) == CV_ERR_IO && strstr(err.msg, "no manifest.jsonl"), "%s", err.msg);
    char path[512];
    snprintf(path, sizeof path, "%s/manifest.jsonl", dir);
    REQUIRE(mkfifo(path, 0600) == 0, "mkfifo");
    CHECK(cv_gallery_write(dir, &rep, &err) == CV_ERR_IO, "a FIFO is refused, not waited on: %s", err.msg);
    unlink(path);
    /* larger than the gallery reads: refused from its size (a sparse file) */
    put("manifest.jsonl", "");
    REQUIRE(truncate(path, (off_t)CV_GALLERY_MAX_BYTES + 1) == 0, "truncate");
    CHECK(cv_gallery_write(dir, &rep, &err) == CV_ERR_LIMIT, "a huge manifest: %s", err.msg);
    unlink(path);
    mkdir(path, 0700);
    CHECK(cv_gallery_write(dir, &rep, &err) == CV_ERR_IO, "a folder is refused: %s", err.msg);
    CHECK(cv_gallery_write("/nonexistent/cnnviz", NULL, &err) == CV_ERR_IO, "%s", err.msg);
    CHECK(cv_gallery_write("", NULL, &err) == CV_ERR_INVALID, "%s", err.msg);
    snprintf(path, sizeof path, "%s/index.html", dir);
    CHECK(access(path, F_OK) != 0, "nothing written on failure");
}

/* The command: exit 0 with a summary and a warning for skipped lines, 1
 * without a manifest, 2 without --out. */
static void test_command(void)
{
    if (access(cli_exe, X_OK) != 0)
        SKIP("%.200s missing (make)", cli_exe);
    REQUIRE(fresh_dir("gallery-cli"), "tmpdir");
    char log[4096], path[512];
    snprintf(path, sizeof path, "%s/log", dir);
    CHECK(sh("%s gallery --out '%s' > '%s' 2>&1", cli_exe, dir, path) == 1, "no manifest: exit 1");
    put("manifest.jsonl", "{\"index\":0,\"status\":\"ok\"}\n{\"index\":1,\"status\":\"failed\"}\nbroken\n");
    int rc = sh("%s gallery --out '%s' > '%s' 2>&1", cli_exe, dir, path);
    test_slurp(path, log, sizeof log);
    CHECK(rc == 0 && strstr(log, "2 images, 1 failed") && strstr(log, "WARNING: 1 of 3 manifest lines"),
          "rc %d: %s", rc, log);
    CHECK(sh("%s gallery > /dev/null 2>&1", cli_exe) == 2, "no --out: usage error");
}

/* Chromium (Debian's chromium, installed by scripts/install-deps.sh
 * --with-browser when missing and we are root) renders the page: the
 * screenshot is not blank, the DOM has one card per manifest index, the
 * script ran (it is allowed only by its hash in the CSP) and sorted by
 * score as #sort=score asks, and no injected handler ran. */
#define CHROMIUM "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run " \
                 "--disable-background-networking --disable-component-update --disable-sync " \
                 "--window-size=1280,900 --user-data-dir="

static void browser_fixture(int *cards)
{
    static const char *const names[] = {"ankle_boot", "bag", "coat", "dress", "pullover",
                                        "sandal", "shirt", "sneaker", "trouser", "tshirt"};
    char line[1024], path[512];
    snprintf(path, sizeof path, "%s/manifest.jsonl", dir);
    FILE *m = fopen(path, "w");
    int n = 0;
    for (int i = 0; i < 10 && m; i++) {
        snprintf(path, sizeof path, "%s/img/%s", dir, names[i]);
        sh("mkdir -p '%s' && cp models/samples/%s.png '%s/thumb.png' 2>/dev/null && "
           "cp models/samples/%s.png '%s/overlay_alpha.png' 2>/dev/null", path, names[i], path, names[i], path);
        snprintf(line, sizeof line, "{\"index\":%d,\"input\":\"samples/%s.png\",\"out\":\"img/%s\",\"status\":\"ok\","
                 "\"error\":null,\"top_class\":%d,\"top_name\":\"%s\",\"top_prob\":%g,\"picture\":\"overlay_alpha.png\","
                 "\"thumbnail\":\"thumb.png\",\"numbers\":{\"target\":%d},\"seconds\":0.5}\n",
                 n, names[i], names[i], i, names[i], 0.05 + 0.09 * ((i * 7) % 10), i);
        fputs(line, m);
        n++;
    }
    if (m) {
        fprintf(m, "{\"index\":%d,\"input\":\"bad.png\",\"out\":\"img/bad\",\"status\":\"failed\","
                   "\"error\":\"bad.png: not a PNG or JPEG image\"}\n", n++);
        fprintf(m, "{\"index\":%d,\"input\":\"x\",\"out\":\"img/bag\",\"status\":\"ok\",\"top_prob\":0.5,"
                   "\"top_name\":\"</script><img src=x onerror=alert(1)>\",\"thumbnail\":\"thumb.png\"}\n", n++);
        fprintf(m, "{\"index\":%d,\"input\":\"<img src=x onerror=\\\"document.body.setAttribute('data-pwned','1')\\\">\","
                   "\"out\":\"img/bag\",\"status\":\"ok\",\"top_prob\":0.45,\"thumbnail\":\"thumb.png\"}\n", n++);
        fputs("this line is broken\n", m);
        fclose(m);
    }
    *cards = n;
}

/* Luminance variance of the screenshot and the share of dark pixels (the
 * header). */
static bool screenshot_stats(const char *path, double *var, double *dark)
{
    cv_image img;
    cv_error err;
    if (cv_image_load(&img, path, &err) != CV_OK)
        return false;
    double s = 0, s2 = 0;
    size_t n = (size_t)img.w * img.h, nd = 0;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *p = img.px + 3 * k;
        double y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        s += y;
        s2 += y * y;
        nd += y < 80;
    }
    cv_image_free(&img);
    *var = s2 / (double)n - (s / (double)n) * (s / (double)n);
    *dark = (double)nd / (double)n;
    return true;
}

static void test_in_browser(void)
{
    if (sh("command -v chromium >/dev/null") != 0 && getuid() == 0)
        sh("scripts/install-deps.sh --with-browser >/dev/null 2>&1");
    if (sh("command -v chromium >/dev/null") != 0)
        SKIP("chromium is not installed (scripts/install-deps.sh --with-browser, as root)");
    REQUIRE(fresh_dir("gallery-web"), "tmpdir");
    int cards;
    browser_fixture(&cards);
    cv_gallery_report rep;
    cv_error err;
    REQUIRE(cv_gallery_write(dir, &rep, &err) == CV_OK, "%s", err.msg);
    REQUIRE(rep.cards == cards && rep.skipped == 1, "%d cards, %d skipped", rep.cards, rep.skipped);
    int rc1 = sh(CHROMIUM "'%s/prof1' --screenshot='%s/shot.png' 'file://%s/index.html' >/dev/null 2>&1", dir, dir,
                 dir);
    int rc2 = sh(CHROMIUM "'%s/prof2' --dump-dom 'file://%s/index.html#sort=score' > '%s/dom.html' 2>/dev/null", dir,
                 dir, dir);
    REQUIRE(rc1 == 0 && rc2 == 0, "chromium exit %d, %d", rc1, rc2);
    char path[512];
    double var = 0, dark = 0;
    snprintf(path, sizeof path, "%s/shot.png", dir);
    REQUIRE(screenshot_stats(path, &var, &dark), "no readable screenshot at %s", path);
    printf("    screenshot: luminance variance %.0f, dark share %.3f\n", var, dark);
    CHECK(var > 500 && dark > 0.05, "the page looks blank: variance %.0f, dark %.3f", var, dark);
    snprintf(path, sizeof path, "%s/dom.html", dir);
    test_slurp(path, page, sizeof page);
    CHECK(count(page, "<article ") == cards, "%d cards in the DOM, %d in the manifest", count(page, "<article "),
          cards);
    CHECK(strstr(page, "<body data-sort=\"score\"") != NULL, "the script did not run or did not sort");
    double last = 2;
    bool sorted = true, failed_seen = false;
    for (const char *p = page; (p = strstr(p, "<article ")) != NULL; p++) {
        const char *end = strchr(p, '>'), *sc = strstr(p, "data-score=\"");
        bool has = sc && end && sc < end;
        double v = has ? atof(sc + 12) : -1;
        sorted &= v <= last && !(failed_seen && has);
        failed_seen |= !has;
        last = v;
    }
    CHECK(sorted, "cards not in score order, the failed one last");
    CHECK(!strstr(page, "data-pwned=\"1\"") && count(page, "<img src=\"x\"") == 0, "an injected handler ran");
    CHECK(strstr(page, "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;") != NULL, "the hostile name as text");
}

int main(int argc, char **argv)
{
    const char *self = argc > 0 ? argv[0] : "build/tests/test_gallery";
    size_t tail = strlen("tests/test_gallery");
    size_t keep = strlen(self) >= tail ? strlen(self) - tail : 0;
    snprintf(cli_exe, sizeof cli_exe, "%.*scnnviz", (int)keep, self);
    RUN(test_cards_in_index_order);
    RUN(test_injection_escaped);
    RUN(test_hostile_lines);
    RUN(test_shards);
    RUN(test_refusals);
    RUN(test_command);
    RUN(test_in_browser);
    if (dir[0] && !getenv("CNNVIZ_TEST_KEEP"))   /* set it to look at the last folder's page */
        sh("rm -rf '%s'", dir);
    return test_summary("gallery");
}
