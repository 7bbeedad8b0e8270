#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and UndefinedBehaviorSanitizer, each in its own
# build folder (.build/asan, .build/ubsan) so the normal build is left alone.
#
#   scripts/sanitize.sh [address|undefined|all] [swift test args, e.g. --filter PipelineTests]
#
# Debug builds (sanitizers need the checks the release -Ounchecked kernels drop); exits
# non-zero when a build fails, a test fails, or a sanitizer reports (halt_on_error=1).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}; shift || true
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
# detect_leaks=0: Foundation keeps one 4 KiB buffer per Data(contentsOf:) that LeakSanitizer
# reports at exit (outside project code; see docs/incoming/rel.md).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
run() {
    local san=$1; shift
    echo "== swift test --sanitize=$san $*"
    local t0=$SECONDS
    if swift test --sanitize="$san" --scratch-path ".build/$san" "$@"; then
        echo "== $san: passed in $((SECONDS - t0)) s"
    else
        echo "== $san: FAILED after $((SECONDS - t0)) s"; status=1
    fi
}
case $which in
    address) run address "$@" ;;
    undefined) run undefined "$@" ;;
    all) run address "$@"; run undefined "$@" ;;
    *) echo "usage: $0 [address|undefined|all] [swift test args]" >&2; exit 2 ;;
esac
exit $status
