#!/usr/bin/env bash
# Rendered by Terraform's templatefile(): dollar-brace names are filled in by main.tf; the shell's own
# variables are written without braces so that Terraform leaves them alone.
set -euo pipefail

VENV_DIR="${VENV_DIR}"
LOG_PATH="${LOG_PATH}"
PORT="${PORT}"
BASE_URL="${BASE_URL}"

PYTHON=$(command -v python3 || true)
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "coderops: JupyterLab with coder_jupyter needs Python 3.11 or newer on PATH as python3; add it to the workspace image." >&2
  exit 1
fi

echo "coderops: installing JupyterLab and coder_jupyter into $VENV_DIR"
mkdir -p "$(dirname "$VENV_DIR")"
if command -v uv > /dev/null 2>&1; then
  [ -x "$VENV_DIR/bin/python" ] || uv venv --quiet --python "$PYTHON" "$VENV_DIR"
  uv pip install --quiet --python "$VENV_DIR/bin/python" ${PIP_EXTRA_ARGS} ${REQUIREMENTS}
else
  [ -x "$VENV_DIR/bin/python" ] || "$PYTHON" -m venv "$VENV_DIR"
  "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check ${PIP_EXTRA_ARGS} ${REQUIREMENTS}
fi

# Installing the wheel drops coder_jupyter.json into the venv's jupyter_server_config.d; check it took.
if ! "$VENV_DIR/bin/jupyter" server extension list 2>&1 | grep -E "coder_jupyter .*enabled" > /dev/null; then
  echo "coderops: coder_jupyter is installed but not enabled; see: $VENV_DIR/bin/jupyter server extension list" >&2
  exit 1
fi

# Let Coder's dashboard embed JupyterLab. Written as the venv's own (sys-prefix) server config, so the
# user's ~/.jupyter stays theirs; the .d folder next to it would not do, it only enables extensions.
cat > "$VENV_DIR/etc/jupyter/jupyter_server_config.json" << JSON
{"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self' ${CODER_URL}"}}}}
JSON

# The extension and the notebooks' kernels find Coder the way the coder CLI does: CODER_URL and
# CODER_SESSION_TOKEN. The owner's token is renewed by Coder at every workspace start.
export CODER_URL="${CODER_URL}"
SESSION_TOKEN="${SESSION_TOKEN}"
if [ -n "$SESSION_TOKEN" ]; then
  export CODER_SESSION_TOKEN="$SESSION_TOKEN"
fi
unset SESSION_TOKEN

# Jupyter refuses to start as root unless told; some workspace images do run as root.
ROOT_FLAG=()
if [ "$(id -u)" -eq 0 ]; then
  ROOT_FLAG=(--allow-root)
fi

echo "coderops: starting JupyterLab on 127.0.0.1:$PORT$BASE_URL (log: $LOG_PATH)"
# No token or password of JupyterLab's own: it listens on loopback only, and Coder's app proxy, which is
# the only way in, has already authenticated the user (and checks the app's share level).
nohup "$VENV_DIR/bin/jupyter-lab" --no-browser \
  --ServerApp.ip=127.0.0.1 \
  --ServerApp.port="$PORT" \
  --ServerApp.port_retries=0 \
  --ServerApp.base_url="$BASE_URL/" \
  --ServerApp.allow_remote_access=True \
  --IdentityProvider.token='' \
  --ServerApp.password='' \
  "$${ROOT_FLAG[@]}" \
  > "$LOG_PATH" 2>&1 &
echo $! > "$VENV_DIR/jupyterlab.pid"
