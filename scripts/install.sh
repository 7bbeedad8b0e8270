#!/usr/bin/env bash
# Installs atomtrack for machines without a Swift toolchain:
#   PREFIX/bin/atomtrack                  release binary, Swift runtime and Foundation linked statically
#   PREFIX/share/atomtrack/Models/        the shipped models
#   PREFIX/share/atomtrack/TrainingData/  the recipes (the demo's movie recipe among them)
# The binary finds both from its own location. At run time it needs only the system's OpenBLAS,
# libpng and libtiff (Debian: libopenblas0 libpng16-16 libtiff6). Usage: scripts/install.sh PREFIX
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/install.sh PREFIX" >&2; exit 64; }
cd "$(dirname "$0")/.."
prefix=$1
swift build -c release --product atomtrack --static-swift-stdlib
bin=$(swift build -c release --product atomtrack --static-swift-stdlib --show-bin-path)/atomtrack
share="$prefix/share/atomtrack"
mkdir -p "$prefix/bin" "$share"
install -m 755 "$bin" "$prefix/bin/atomtrack.tmp" && mv "$prefix/bin/atomtrack.tmp" "$prefix/bin/atomtrack"
for dir in Models TrainingData; do
  rm -rf "$share/$dir.tmp" && cp -R "$dir" "$share/$dir.tmp"
  rm -rf "$share/$dir" && mv "$share/$dir.tmp" "$share/$dir"
done
# Only the model files are needed, not the training logs.
find "$share/Models" -name 'train.log' -delete
echo "install: $prefix/bin/atomtrack, models and recipes in $share"
