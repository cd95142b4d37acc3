# syntax=docker/dockerfile:1
# coder-sim and slack-sim, the Coder and Slack Web API stand-ins, for the local compose stack and demos.
# Not for production.
# Build from the repository root:  docker build -f deploy/docker/sim.Dockerfile -t coderops/coder-sim .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/coderops
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY packages/ packages/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package coder-sim --package slack-sim \
    && /opt/coderops/bin/coder-sim --help > /dev/null \
    && /opt/coderops/bin/slack-sim --help > /dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="coder-sim" \
      org.opencontainers.image.description="A stand-in for Coder's API v2, for demos and tests"
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && useradd --system --uid 10002 --create-home --shell /usr/sbin/nologin coder-sim
COPY --from=build /opt/coderops /opt/coderops
ENV PATH=/opt/coderops/bin:$PATH \
    PYTHONUNBUFFERED=1
USER 10002:10002
EXPOSE 3001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3001/api/v2/buildinfo', timeout=2).status != 200)"]
ENTRYPOINT ["coder-sim"]
CMD ["--host", "0.0.0.0", "--port", "3001"]
