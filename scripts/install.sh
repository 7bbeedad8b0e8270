#!/usr/bin/env bash
# Installs atomtrack for machines without a Swift toolchain:
#   PREFIX/bin/atomtrack                  release binary, Swift runtime and Foundation linked statically
#   PREFIX/share/atomtrack/Models/        the shipped models
#   PREFIX/share/atomtrack/TrainingData/  the recipes (the demo's movie recipe among them)
# The binary finds both from its own location. At run time it needs only the system's OpenBLAS,
# libpng, libtiff and libhdf5 (Debian: libopenblas0 libpng16-16 libtiff6 libhdf5-103-1). Usage: scripts/install.sh PREFIX
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/install.sh PREFIX" >&2; exit 64; }
cd "$(dirname "$0")/.."
prefix=$1
# A scratch folder of its own: static linking changes the compile flags, so sharing .build would
# rebuild everything each time this and `swift build -c release` alternate.
build=(swift build -c release --product atomtrack --static-swift-stdlib --scratch-path .build/static)
"${build[@]}"
bin=$("${build[@]}" --show-bin-path)/atomtrack
share="$prefix/share/atomtrack"
mkdir -p "$prefix/bin" "$share"
install -m 755 "$bin" "$prefix/bin/atomtrack.tmp" && mv "$prefix/bin/atomtrack.tmp" "$prefix/bin/atomtrack"
for dir in Models TrainingData; do
  rm -rf "$share/$dir.tmp" && cp -R "$dir" "$share/$dir.tmp"
  rm -rf "$share/$dir" && mv "$share/$dir.tmp" "$share/$dir"
done
# Only the model files are needed, not the training logs.
find "$share/Models" -name 'train.log' -delete
# `atomtrack --version` names the commit it was built from.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit+dirty"
echo "$commit" > "$share/commit"
# Shell completions and man pages, generated from the argument parser (its generate-manual tool,
# built from the checked-out dependency).
mkdir -p "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
  "$prefix/share/fish/vendor_completions.d" "$prefix/share/man/man1"
"$prefix/bin/atomtrack" --generate-completion-script bash > "$prefix/share/bash-completion/completions/atomtrack"
"$prefix/bin/atomtrack" --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_atomtrack"
"$prefix/bin/atomtrack" --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/atomtrack.fish"
manual=(swift build -c release --package-path .build/static/checkouts/swift-argument-parser --product generate-manual
        --scratch-path .build/generate-manual)
"${manual[@]}" > /dev/null
"$("${manual[@]}" --show-bin-path)/generate-manual" "$prefix/bin/atomtrack" --multi-page --output-directory "$prefix/share/man/man1"
echo "install: $prefix/bin/atomtrack; models, recipes in $share; completions, man pages in $prefix/share"
