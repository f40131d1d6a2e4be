#!/bin/sh
# The system packages the test suite needs beyond Python's: Debian's Chromium, which the browser
# tests drive through Playwright (never `playwright install`: it downloads a browser build of
# its own). PostgreSQL is optional: its tests run when PULLSTATS_TEST_POSTGRES_URL is set
# (see CONTRIBUTING.md).
set -eu
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: no apt-get here; install Chromium with your package manager" \
    "(or set PULLSTATS_SKIP_BROWSER=1 to skip the browser tests)" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "system-deps: installing chromium needs root: run 'apt-get install chromium' as root" >&2
  exit 1
fi
echo "system-deps: installing chromium (apt-get)"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
