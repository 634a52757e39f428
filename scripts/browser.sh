#!/usr/bin/env bash
# Makes sure Debian's headless-capable `chromium` is installed, for the dashboard's browser
# test (tests/dashboard.rs). Installs it with apt when missing (through sudo unless root),
# refreshing the package lists only when the first attempt fails.
#
#   scripts/browser.sh        prints the browser's path
set -euo pipefail

browser=/usr/bin/chromium
if [[ -x "$browser" ]]; then
  echo "$browser"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "scripts/browser.sh: $browser is missing and there is no apt-get; install chromium" >&2
  exit 1
fi
sudo=()
if [[ "$(id -u)" != 0 ]]; then
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "scripts/browser.sh: installing chromium for the dashboard's browser test" >&2
if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium >&2; then
  "${sudo[@]}" apt-get update >&2
  "${sudo[@]}" apt-get install -y --no-install-recommends chromium >&2
fi
[[ -x "$browser" ]] || { echo "scripts/browser.sh: chromium installed but $browser is missing" >&2; exit 1; }
echo "$browser"
