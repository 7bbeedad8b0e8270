#!/usr/bin/env bash
# Installs the system libraries AtomTrack links (idempotent; apt-get needs root or sudo)
# and builds the release binary at .build/release/atomtrack.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenblas-dev libpng-dev libtiff-dev libhdf5-dev unzip pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

echo "setup: building atomtrack (release)"
swift build -c release --product atomtrack
echo "setup: done — .build/release/atomtrack"
