#!/usr/bin/env bash
# Installs the system packages the test suite needs (Debian): Chromium for the one real-browser test.
# Idempotent and quiet when everything is already there.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "coderops: missing system packages: ${need[*]} (run as root or: sudo apt-get install ${need[*]})" >&2
  exit 0
fi
echo "coderops: installing system packages: ${need[*]}" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
