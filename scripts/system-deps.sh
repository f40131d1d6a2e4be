#!/bin/sh
# The system packages the test suite needs beyond Python's: Debian's Chromium, which the browser
# tests drive through Playwright (never `playwright install`: it downloads a browser build of
# its own), a Java runtime (17 or newer), which PySpark starts for the Spark parity tests, and
# Debian's build of the Distribution registry (docker-registry, 2.8.2), which a test runs as a
# real registry notifying a real pullstats (tests/ingest/test_real_registry.py). Its package
# would also start a registry service on :5000 where systemd runs: that service is disabled.
# PostgreSQL is optional: its tests run when PULLSTATS_TEST_POSTGRES_URL is set (see
# CONTRIBUTING.md).
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
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
command -v docker-registry >/dev/null
case "$missing" in
  *docker-registry*)
    if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled docker-registry >/dev/null 2>&1; then
      $as_root systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
    ;;
esac
