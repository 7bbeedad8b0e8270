#!/usr/bin/env bash
# Checks that another package can depend on AtomTrack by version. SwiftPM refuses a
# version-based dependency on a package whose targets use `unsafeFlags` (such as -Ounchecked),
# so this breaks as soon as one comes back into Package.swift.
#
#   scripts/check_dependent_package.sh [debug|release]     (default: debug)
#
# Clones the committed HEAD (uncommitted changes are not included) into a temporary folder,
# tags it 0.9.0, writes a throwaway executable package that depends on the product "AtomTrack"
# with `.package(url: "file://…", from: "0.9.0")`, imports Pipeline and prints
# `atomTrackVersion`, then builds and runs it. Everything lives in the temporary folder,
# removed at exit (KEEP=1 keeps it). Resolving AtomTrack's own dependencies
# (swift-argument-parser) needs GitHub or SwiftPM's local repository cache. Not run in CI.
set -euo pipefail
configuration=${1:-debug}
repo=$(cd "$(dirname "$0")/.." && pwd)
head=$(git -C "$repo" rev-parse HEAD)
work=$(mktemp -d "${TMPDIR:-/tmp}/atomtrack-dependent.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then echo "keeping $work"; else trap 'rm -rf "$work"' EXIT; fi

echo "== clone $head into $work/AtomTrack, tag 0.9.0"
git clone --quiet --no-checkout "$repo" "$work/AtomTrack"
git -C "$work/AtomTrack" checkout --quiet --detach "$head"
git -C "$work/AtomTrack" tag 0.9.0

mkdir -p "$work/user/Sources/AtomTrackUser"
cat > "$work/user/Package.swift" <<EOF
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "AtomTrackUser",
    platforms: [.macOS(.v13)],
    dependencies: [.package(url: "file://$work/AtomTrack", from: "0.9.0")],
    targets: [
        .executableTarget(name: "AtomTrackUser", dependencies: [.product(name: "AtomTrack", package: "AtomTrack")]),
    ]
)
EOF
cat > "$work/user/Sources/AtomTrackUser/main.swift" <<'EOF'
import Pipeline

print("AtomTrack \(atomTrackVersion) linked through a version-based dependency")
EOF

echo "== swift build -c $configuration (dependent package)"
t0=$SECONDS
(cd "$work/user" && swift build -c "$configuration")
echo "== built in $((SECONDS - t0)) s; running it:"
"$work/user/.build/$configuration/AtomTrackUser"
echo "== OK: a package depending on AtomTrack from: \"0.9.0\" builds"
