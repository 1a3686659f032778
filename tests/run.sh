#!/bin/sh
# Run every test program in BUILD/tests and add up their closing lines.
# Prints each program's output and a final "N passed, N failed, N skipped".
BUILD=${1:-build}
pass=0 fail=0 skip=0 crashed=""
# compiled tests, then the shell tests beside this script (tests/test_*.sh)
for t in "$BUILD"/tests/test_* "$(dirname "$0")"/test_*.sh; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    case "$t" in *.o|*.d) continue ;; esac
    # CNNVIZ_TEST_WRAPPER: a command to run each test under (make check-valgrind)
    out=$($CNNVIZ_TEST_WRAPPER "$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[a-z_0-9-]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "CRASH $t (exit $rc, no summary line)"
        fail=$((fail + 1)); crashed="$crashed $t"; continue
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "CRASH $t (exit $rc)"; fail=$((fail + 1))
    fi
done
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
