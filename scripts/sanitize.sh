#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer (and optionally ThreadSanitizer), each in its own
# build folder (.build/address, .build/thread) so the normal build is left alone.
#
#   scripts/sanitize.sh [address|thread|all] [swift test args, e.g. --filter PipelineTests]
#
# UndefinedBehaviorSanitizer is not offered: Swift 6.3 on Linux rejects `-sanitize=undefined`
# ("unsupported option … for target x86_64-unknown-linux-gnu"); Swift's own overflow and bounds
# checks (debug build) cover most of what it would find in Swift code.
#
# Debug builds (all of Swift's checks, including the buffer-pointer bounds checks release drops); exits
# non-zero when a build fails, a test fails, or a sanitizer reports (halt_on_error=1).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-address}; shift || true
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
# detect_leaks=0: Foundation keeps one 4 KiB buffer per Data(contentsOf:) that LeakSanitizer
# reports at exit (outside project code; see docs/incoming/rel.md).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1}
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
    thread) run thread "$@" ;;
    all) run address "$@"; run thread "$@" ;;
    undefined) echo "swiftc on Linux does not support -sanitize=undefined (see the comment above)" >&2; exit 2 ;;
    *) echo "usage: $0 [address|thread|all] [swift test args]" >&2; exit 2 ;;
esac
exit $status
