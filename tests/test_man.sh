#!/bin/sh
# The manual page build/cnnviz.1 (`cnnviz man`, made by make) renders with
# man and groff without a warning, and holds what --help holds: every
# command, under it every option its --help lists, and the exit statuses
# of --help's footer. Run by tests/run.sh within `make check`; skips
# visibly without man or groff (scripts/install-deps.sh installs them).
cd "$(dirname "$0")/.." || exit 1
name=man
BUILD=${BUILD:-build}
page="$BUILD/cnnviz.1"
cnnviz="$BUILD/cnnviz"
skip() {
    echo "SKIP $1"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
}
[ -f "$page" ] && [ -x "$cnnviz" ] || skip "man_page_renders ($page or $cnnviz missing: run make)"
command -v man > /dev/null && command -v groff > /dev/null || skip "man_page_renders (no man or groff: apt-get install man-db groff-base)"
tmp=$(mktemp -d /tmp/cnnviz-test-man-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }

# The page as made now, and as make wrote it: the same.
"$cnnviz" man > "$tmp/cnnviz.1"
if cmp -s "$tmp/cnnviz.1" "$page"; then ok page_is_current; else ko page_is_current; echo "    $page is not what '$cnnviz man' prints: run make"; fi

MANWIDTH=80 man -l "$page" > "$tmp/text" 2> "$tmp/err"
rc=$?
groff -man -Tutf8 -ww -z "$page" 2>> "$tmp/err"
if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && grep -q '^CNNVIZ(1)' "$tmp/text" && grep -q '^EXIT STATUS' "$tmp/text"; then
    ok man_page_renders
else
    ko man_page_renders; echo "    man -l exit $rc; warnings:"; sed 's/^/      /' "$tmp/err"
fi

# Each command's section of the rendered page (from its "cnnviz NAME"
# heading to the next heading), and in it each --option of its --help as
# an entry of its own (a line that begins with it).
commands=$("$cnnviz" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z]*\) .*/\1/p')
n_cmd=0 n_opt=0 missing=""
for c in $commands; do
    n_cmd=$((n_cmd + 1))
    awk -v h="   cnnviz $c" '$0 == h {on = 1; next} on && /^   cnnviz [a-z]+$|^[A-Z]/ {on = 0} on' "$tmp/text" > "$tmp/section"
    [ -s "$tmp/section" ] || { missing="$missing $c(no section)"; continue; }
    for o in $("$cnnviz" "$c" --help | sed -n 's/^  \(--[a-z0-9_-]*\).*/\1/p'); do
        case "$o" in --quiet | --help) continue ;; esac # every command's: a section of their own
        n_opt=$((n_opt + 1))
        grep -qE "^ +$o( |\$)" "$tmp/section" || missing="$missing $c:$o"
    done
done
echo "    $n_cmd commands, $n_opt options from --help"
if [ "$n_cmd" -ge 5 ] && [ "$n_opt" -ge 50 ] && [ -z "$missing" ]; then
    ok every_help_option_in_the_page
else
    ko every_help_option_in_the_page; echo "    not in the page:$missing"
fi

# --help's footer "exit status: 0 ok, 1 ..., 2 ...": each code an entry
# under EXIT STATUS
codes=$("$cnnviz" predict --help | sed -n 's/^exit status: //p' | tr ',' '\n' | awk '{print $1}')
sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$tmp/text" > "$tmp/exit"
bad=""
for k in $codes; do grep -qE "^ +$k( |\$)" "$tmp/exit" || bad="$bad $k"; done
if [ -n "$codes" ] && [ -z "$bad" ] && grep -q 'OPTIONS OF EVERY COMMAND' "$tmp/text"; then
    ok exit_statuses_in_the_page
else
    ko exit_statuses_in_the_page; echo "    codes from --help: $(echo $codes); missing under EXIT STATUS:$bad"
fi
echo "$name: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
