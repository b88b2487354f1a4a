#!/usr/bin/env bash
# Runs the test suite: unit tests, then end-to-end scenarios.
#
#   tests/run.sh [area|script ...]
#
# An area is a folder under tests/ (unit, e2e, helm, faults).  Without
# arguments it runs the default set.  Each scenario is an executable
# tests/<area>/test_*.sh: exit 0 passes, 77 skips, anything else fails.
# Output ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
export BIN=${BIN:-bin} BUILD=${BUILD:-build}
export BINRELAY_TEST_ROOT=${BINRELAY_TEST_ROOT:-$PWD/tests/out}

passed=0 failed=0 skipped=0 failures=()

run_one() {
    local name=$1; shift
    local log="$BINRELAY_TEST_ROOT/logs/${name//\//_}.log"
    local start rc

    mkdir -p "$(dirname "$log")"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    echo "RESULT: exit $rc" >>"$log"
    case $rc in
    0) passed=$((passed + 1)); echo "PASS $name ($(($(date +%s) - start))s)" ;;
    77) skipped=$((skipped + 1))
        echo "SKIP $name: $(tail -n 2 "$log" | head -n 1)" ;;
    *) failed=$((failed + 1)); failures+=("$name")
       echo "FAIL $name (exit $rc), last lines of $log:"
       tail -n 25 "$log" | sed 's/^/    /' ;;
    esac
}

run_area() {
    local area=$1 t

    if [ "$area" = unit ]; then
        for t in "$BUILD"/tests/unit/test_*; do
            [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
        done
        return
    fi
    for t in tests/"$area"/test_*.sh; do
        [ -x "$t" ] && run_one "$area/$(basename "$t" .sh)" "$t"
    done
}

[ $# -gt 0 ] || set -- unit e2e helm
for arg in "$@"; do
    if [ -f "$arg" ]; then
        t=${arg#tests/}
        run_one "${t%.sh}" "$arg"
    else
        run_area "$arg"
    fi
done

[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
