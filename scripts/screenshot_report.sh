#!/usr/bin/env bash
# Renders an analysis report in headless Chromium (Debian package `chromium`), saves a PNG and
# checks that its script ran without errors: the page must end with data-viewer="ready" on
# <body> and no data-js-error on <html> (HTMLReport records any script error there), and must
# load nothing from the network (Chromium's network is pointed at a closed proxy).
#   scripts/screenshot_report.sh DIR/report.html OUT.png [WIDTH,HEIGHT] [FRAME]
# FRAME: the movie frame the viewer shows (report.html#frame=N), so tracks so far are visible.
set -euo pipefail
report=$(realpath "$1"); out=${2:-report.png}; size=${3:-1100,7000}; frame=${4:-0}
command -v chromium > /dev/null || { echo "install chromium: apt-get install -y chromium"; exit 1; }
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --proxy-server=127.0.0.1:9 --virtual-time-budget=5000)
chromium "${flags[@]}" --window-size="$size" --screenshot="$out" "file://$report#frame=$frame" 2> /dev/null
dom=$(chromium "${flags[@]}" --dump-dom "file://$report#frame=$frame" 2> /dev/null)
if grep -q 'data-js-error="' <<< "$dom"; then
  echo "script error in $report: $(grep -o 'data-js-error="[^"]*"' <<< "$dom")"; exit 1
fi
grep -q 'data-viewer="ready"' <<< "$dom" || { echo "the frame viewer's script did not finish in $report"; exit 1; }
grep -q '<g id="fv-atoms"[^>]*><path' <<< "$dom" || { echo "the frame viewer drew no atoms in $report"; exit 1; }
echo "wrote $out; the page's script ran without errors"
