#!/usr/bin/env bash
# Installs the Debian packages that some tests need and npm cannot provide (docker-compose to
# validate docker-compose.yml; later chromium for the dashboard's browser tests).
# Usage: scripts/ensure-debian-packages.sh COMMAND[=PACKAGE] ...
#   e.g. scripts/ensure-debian-packages.sh docker-compose chromium   (command and package share a name)
#        scripts/ensure-debian-packages.sh redis-server=redis-server
# A pair whose COMMAND is already on the PATH is skipped, so a second run does nothing and never
# touches the network. Everything missing is installed with one apt-get call; apt-get update runs
# only when something is missing. Exits non-zero with one line on stderr when it cannot install
# (not root, no apt-get, or apt failed); stdout stays quiet on success.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND[=PACKAGE] ..." >&2
  exit 64
fi

missing=()
for pair in "$@"; do
  cmd="${pair%%=*}"
  pkg="${pair#*=}"
  if [ -z "$cmd" ] || [ -z "$pkg" ]; then
    echo "ensure-debian-packages: bad argument '$pair' (want COMMAND[=PACKAGE])" >&2
    exit 64
  fi
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

hint="install it by hand: apt-get install ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: no apt-get on this machine; $hint (or your system's equivalent)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-debian-packages: need root to install ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "ensure-debian-packages: apt-get could not install ${missing[*]} (output above); $hint" >&2
  exit 1
fi
