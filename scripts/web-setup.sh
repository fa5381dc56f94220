#!/usr/bin/env bash
# Sets up what the web pages and their browser tests need, idempotently:
#   - Debian's chromium (the browser the tests drive; no browser download happens anywhere),
#   - the npm packages of web/package.json (uPlot, swagger-ui-dist, playwright-core), installed
#     with `npm ci` from the committed lockfile into web/node_modules. npm's own cache (~/.npm)
#     is reused when present; an existing node_modules that matches the lockfile is kept.
# Install scripts of npm packages are never run (web/.npmrc: ignore-scripts).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "web-setup: $*"; }
die() { echo "web-setup: ERROR: $*" >&2; exit 1; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update failed; check the network and /etc/apt/sources.list"
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" || die "apt-get install ${need[*]} failed"
fi

# node_modules is kept when it was installed from exactly this lockfile (checksum stamp).
stamp=web/node_modules/.rm-lock-sha256
want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "npm packages up to date"
else
  say "npm ci in web/"
  (cd web && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) ||
    die "npm ci failed in web/ (is the npm registry reachable?)"
  echo "$want" >"$stamp"
fi
say "chromium $(chromium --version 2>/dev/null | awk '{print $2}'), node $(node --version)"
