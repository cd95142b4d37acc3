# syntax=docker/dockerfile:1
# JupyterLab with the coder_jupyter server extension and widgets, enabled, on port 8888.
# Build from the repository root:  docker build -f deploy/docker/jupyter.Dockerfile -t coderops/jupyterlab .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# Node.js builds the JupyterLab sidebar from its TypeScript sources while uv builds coder-jupyter's wheel
# (build stage only; the runtime image gets the built extension, not Node). Debian's security updates
# bump nodejs's version, so it is not pinned; the base image's tag pins the release.
# hadolint ignore=DL3008
RUN command -v node > /dev/null \
    || (apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*)
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/coderops
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY packages/ packages/
# coder-jupyter from the lock; JupyterLab itself at the version the lock pins for development.
# A non-editable install puts etc/jupyter/jupyter_server_config.d/coder_jupyter.json into the virtualenv,
# which is what enables the extension; the build fails here if it is not enabled.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package coder-jupyter \
    && uv export --frozen --all-packages --no-hashes --no-emit-workspace --no-header --output-file /tmp/constraints.txt \
    && uv pip install --python /opt/coderops/bin/python --constraint /tmp/constraints.txt jupyterlab \
    && /opt/coderops/bin/jupyter server extension list 2>&1 | grep -E "coder_jupyter .*enabled" > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="coderops JupyterLab" \
      org.opencontainers.image.description="JupyterLab with coder_jupyter: launch and monitor Coder workspaces from notebooks" \
      org.opencontainers.image.licenses="MIT"
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && useradd --uid 1000 --create-home --shell /bin/bash jovyan
COPY --from=build /opt/coderops /opt/coderops
COPY --chown=1000:1000 notebooks/ /home/jovyan/notebooks/
ENV PATH=/opt/coderops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SHELL=/bin/bash
USER 1000:1000
WORKDIR /home/jovyan
EXPOSE 8888
# GET /api answers without a token, so it says whether the server is up without leaking anything.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=4).status != 200)"]
# JupyterLab's token comes from JUPYTER_TOKEN (compose sets it); Coder's URL and token from CODER_URL and
# CODER_SESSION_TOKEN, which the extension and the notebooks' kernels both read.
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/home/jovyan/notebooks"]
