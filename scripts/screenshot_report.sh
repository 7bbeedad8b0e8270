#!/usr/bin/env bash
# Renders an analysis report in headless Chromium (Debian package `chromium`) and saves a PNG,
# to check that report.html displays in a real browser: scripts/screenshot_report.sh DIR/report.html OUT.png
set -euo pipefail
report=$(realpath "$1"); out=${2:-report.png}
command -v chromium > /dev/null || { echo "install chromium: apt-get install -y chromium"; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,3900 \
  --screenshot="$out" "file://$report" 2> /dev/null
echo "wrote $out"
