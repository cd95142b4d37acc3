# syntax=docker/dockerfile:1
# The coderops Slack bot: `coder-slack serve` in HTTP mode on port 3000 (/slack/events, /healthz, /readyz, /metrics).
# Build from the repository root:  docker build -f deploy/docker/bot.Dockerfile -t coderops/slack-bot .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: resolve exactly what uv.lock pins into /opt/coderops; uv and pip stay behind in this stage.
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
# --no-editable installs real copies, so the final image needs nothing from /src.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package coder-slack \
    && /opt/coderops/bin/coder-slack --help > /dev/null

# --- runtime: the interpreter, the virtualenv, an unprivileged user. No compilers, no pip, no uv.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="coderops Slack bot" \
      org.opencontainers.image.description="Coder workspaces from Slack: /workspace command, status cards, lifecycle alerts" \
      org.opencontainers.image.licenses="MIT"
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --system --gid 10001 coderops \
    && useradd --system --uid 10001 --gid coderops --home-dir /home/coderops --create-home \
       --shell /usr/sbin/nologin coderops \
    && install -d -o coderops -g coderops -m 0750 /data
COPY --from=build /opt/coderops /opt/coderops
ENV PATH=/opt/coderops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CODER_SLACK_DATABASE_URL=sqlite:////data/coder-slack.db
USER 10001:10001
WORKDIR /home/coderops
VOLUME ["/data"]
EXPOSE 3000
# The slim image has no curl; the interpreter it does have can ask /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["coder-slack"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
