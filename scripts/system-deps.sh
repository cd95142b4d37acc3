#!/usr/bin/env bash
# Installs the system packages coderops needs (Debian), idempotent and quiet when everything is there:
#   node      Node.js, to build the JupyterLab sidebar from source at install (jlpm itself comes with
#             the jupyterlab Python package); `make install` asks for this one.
#   (default) Node.js and Chromium (the real-browser tests); `make test` asks for these.
set -euo pipefail
want="${1:-all}"
need=()
# JupyterLab 4's builder, eslint 9 and jest 29 need Node >= 18 (Debian bookworm's nodejs is 18.19).
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  [ "$major" -ge 18 ]
}
node_ok || need+=(nodejs)
if [ "$want" = "all" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "coderops: missing system packages: ${need[*]} (run as root or: sudo apt-get install ${need[*]})" >&2
  # Without Node the sidebar cannot be built: say so and stop, rather than fail later in uv's build.
  if ! node_ok; then exit 1; fi
  exit 0
fi
echo "coderops: installing system packages: ${need[*]}" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
if ! node_ok; then
  echo "coderops: Node.js >= 18 is needed to build the JupyterLab sidebar; found: $(node --version 2>/dev/null || echo none)" >&2
  exit 1
fi
