#!/bin/sh
# The project carries its licence (MIT, LICENSE) and the README names it.
# Run by tests/run.sh within `make check`.
cd "$(dirname "$0")/.." || exit 1
pass=0 fail=0
check() { # name, then a command that must succeed
    name=$1; shift
    if "$@" >/dev/null 2>&1; then echo "PASS $name"; pass=$((pass + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}
check license_is_mit grep -q '^MIT License$' LICENSE
check license_names_the_authors grep -q 'Copyright (c) 2026 the cnnviz authors' LICENSE
check readme_names_the_licence sh -c "sed -n '/^## Licence/,\$p' README.md | grep -q 'MIT'"
echo "license: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
