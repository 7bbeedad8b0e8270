#!/usr/bin/env bash
# Checks scripts/install.sh: installs into a temporary PREFIX, then, from another directory with
# an empty environment (no toolchain on PATH or the library path), runs the installed binary:
# --version, simulate (the recipe found under PREFIX/share), info, and locate with the shipped
# model found there. `--demo` also runs the full demo (about 2 minutes on 2 cores).
# The static build takes minutes of its own (.build/static), so .ci/run does not call this.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d) work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT
scripts/install.sh "$prefix" > /dev/null
bin="$prefix/bin/atomtrack"
if ldd "$bin" | grep -Ei 'swift|Foundation|dispatch|BlocksRuntime|icu'; then
  echo "check_install: the binary links toolchain libraries (above)"; exit 1
fi
clean() { (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work" "$bin" "$@"); }
clean --version | grep -q "commit" || { echo "check_install: --version names no commit"; exit 1; }
clean simulate --recipe TrainingData/movie-ws2.json --frames 2 --out sim --quiet > /dev/null
clean info sim/movie.tif > /dev/null
clean locate sim/movie.tif --material ws2 --out atoms --quiet > /dev/null
[ -s "$work/atoms/atoms.csv" ] || { echo "check_install: locate wrote no atoms.csv"; exit 1; }
if [ "${1:-}" = "--demo" ]; then
  start=$(date +%s)
  clean demo --quiet | tail -n 8
  echo "check_install: demo ran from $work in $(( $(date +%s) - start )) s"
fi
echo "check_install: installed binary runs without the toolchain ($(du -h "$bin" | cut -f1), $(ldd "$bin" | wc -l) shared libraries, all system)"
