#!/bin/sh
# The system packages the test suite needs beyond Python's: Debian's Chromium, which the browser
# tests drive through Playwright (never `playwright install`: it downloads a browser build of
# its own), and a Java runtime (17 or newer), which PySpark starts for the Spark parity tests.
# PostgreSQL is optional: its tests run when PULLSTATS_TEST_POSTGRES_URL is set (see
# CONTRIBUTING.md).
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
if [ -z "$missing" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: no apt-get here; install$missing with your package manager" \
    "(or set PULLSTATS_SKIP_BROWSER=1 to skip the browser tests)" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "system-deps: installing$missing needs root: run 'apt-get install$missing' as root" >&2
  exit 1
fi
echo "system-deps: installing$missing (apt-get)"
$as_root apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
command -v chromium >/dev/null
command -v java >/dev/null
