"""deploy/kubernetes: overlays rendered by `kubectl kustomize`, validated by kubernetes-validate --strict."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import require_tool

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
OVERLAYS = ("single", "ha", "socket-mode")
# The oldest Kubernetes release still commonly run, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.28.0", "1.37.0")
SECRET_SETTINGS = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "CODER_SLACK_ENCRYPTION_KEY",
    "CODER_SESSION_TOKEN",
}
HTTP_SECRETS = SECRET_SETTINGS - {"SLACK_APP_TOKEN"}
SOCKET_SECRETS = SECRET_SETTINGS - {"SLACK_SIGNING_SECRET"}
HTTP_ARGS = ["serve", "--host", "0.0.0.0", "--port", "3000"]
SOCKET_ARGS = ["serve", "--socket-mode", "--host", "0.0.0.0"]
# Per overlay: the container's args, its one port (probed, and the Service's target), the secrets it reads.
EXPECTED: dict[str, tuple[list[str], dict[str, Any], set[str]]] = {
    "single": (HTTP_ARGS, {"name": "http", "containerPort": 3000}, HTTP_SECRETS),
    "ha": (HTTP_ARGS, {"name": "http", "containerPort": 3000}, HTTP_SECRETS),
    "socket-mode": (SOCKET_ARGS, {"name": "ops", "containerPort": 8080}, SOCKET_SECRETS),
}


@functools.cache
def kustomize(overlay: str) -> str:
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, kustomize(request.param)


def documents(text: str) -> dict[str, dict[str, Any]]:
    """Rendered resources by kind (each overlay has one of each kind)."""
    by_kind: dict[str, dict[str, Any]] = {}
    for document in yaml.safe_load_all(text):
        assert document["kind"] not in by_kind
        by_kind[document["kind"]] = document
    return by_kind


def validate(paths: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    validator = require_tool("kubernetes-validate")
    return subprocess.run(
        [validator, "--strict", "--kubernetes-version", version, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_accepts_every_resource_of_every_overlay(version: str, tmp_path: Path) -> None:
    manifests, expected = [], 0
    for overlay in OVERLAYS:
        text = kustomize(overlay)
        expected += len(documents(text))
        manifests.append(tmp_path / f"{overlay}.yaml")
        manifests[-1].write_text(text)
    result = validate(manifests, version)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == expected


def test_kubernetes_validate_would_catch_mistakes(tmp_path: Path) -> None:
    manifest = tmp_path / "broken.yaml"
    text = (
        kustomize("single")
        .replace("containerPort:", "containerPrt:")
        .replace("  type: ClusterIP", "  typo: x")
    )
    manifest.write_text(text)
    result = validate([manifest], KUBERNETES_VERSIONS[-1])
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "did not validate for resource deployment/coderops-slack" in output
    assert "did not validate for resource service/coderops-slack" in output, "strict: unknown fields rejected"


def bot_container(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = resources["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def environment(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


def test_probes_use_the_bots_health_endpoints(rendered: tuple[str, str]) -> None:
    overlay, text = rendered
    args, port, _ = EXPECTED[overlay]
    container = bot_container(documents(text))
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["readinessProbe"]["timeoutSeconds"] > 3, "longer than /readyz's own 3 s check timeout"
    assert container["ports"] == [port]
    assert container["args"] == args


def test_container_args_are_ones_coder_slack_serve_accepts(rendered: tuple[str, str]) -> None:
    from coder_slack.cli import _parser

    overlay, text = rendered
    args = _parser().parse_args(bot_container(documents(text))["args"])
    assert args.command == "serve"
    assert args.socket_mode is (overlay == "socket-mode")


def test_secrets_are_referenced_never_inlined(rendered: tuple[str, str]) -> None:
    overlay, text = rendered
    resources = documents(text)
    assert "Secret" not in resources
    env = environment(bot_container(resources))
    for name in SECRET_SETTINGS | {"CODER_SLACK_DATABASE_URL"}:
        if name in env and "value" in env[name]:
            assert not env[name]["value"].startswith("postgres"), f"{name} holds credentials inline"
    secrets = EXPECTED[overlay][2]
    assert not (SECRET_SETTINGS - secrets) & set(env), "a secret this mode does not use would be required"
    for name in secrets:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "coderops-slack"
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == name
    config = resources["ConfigMap"]["data"]
    assert not SECRET_SETTINGS & set(config)


def test_the_generated_config_map_is_the_one_the_pods_read(rendered: tuple[str, str]) -> None:
    resources = documents(rendered[1])
    (source,) = bot_container(resources)["envFrom"]
    assert source["configMapRef"]["name"] == resources["ConfigMap"]["metadata"]["name"]
    assert resources["ConfigMap"]["metadata"]["name"].startswith("coderops-slack-")


def test_pods_run_unprivileged_on_a_read_only_root(rendered: tuple[str, str]) -> None:
    resources = documents(rendered[1])
    pod = resources["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    container = bot_container(resources)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["image"] == "coderops/slack-bot:0.1.0"


def test_service_selects_the_bot_pods(rendered: tuple[str, str]) -> None:
    resources = documents(rendered[1])
    pod_labels = resources["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selector = resources["Service"]["spec"]["selector"]
    assert selector.items() <= pod_labels.items()
    (port,) = resources["Service"]["spec"]["ports"]
    assert port["targetPort"] == EXPECTED[rendered[0]][1]["name"]
    annotations = resources["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(EXPECTED[rendered[0]][1]["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_single_is_one_replica_with_sqlite_on_a_volume() -> None:
    resources = documents(kustomize("single"))
    deployment = resources["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    container = bot_container(resources)
    assert environment(container)["CODER_SLACK_DATABASE_URL"]["value"] == "sqlite:////data/coder-slack.db"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    claim = next(volume for volume in pod["volumes"] if volume["name"] == "data")
    assert (
        claim["persistentVolumeClaim"]["claimName"] == resources["PersistentVolumeClaim"]["metadata"]["name"]
    )
    assert resources["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "PodDisruptionBudget" not in resources


def test_ha_is_three_spread_replicas_on_external_postgres_with_a_disruption_budget() -> None:
    resources = documents(kustomize("ha"))
    deployment = resources["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    budget = resources["PodDisruptionBudget"]["spec"]
    assert budget["minAvailable"] == 2
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()

    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= pod_labels.items()

    database = environment(bot_container(resources))["CODER_SLACK_DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"] == {
        "name": "coderops-slack-database",
        "key": "CODER_SLACK_DATABASE_URL",
    }
    assert "PersistentVolumeClaim" not in resources
    replica_id = environment(bot_container(resources))["CODER_SLACK_REPLICA_ID"]
    assert replica_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_every_variable_given_to_the_bot_is_a_setting_it_reads(rendered: tuple[str, str]) -> None:
    from coder_slack.settings import Settings

    known = {name.upper() for name in Settings.model_fields}
    resources = documents(rendered[1])
    given = set(environment(bot_container(resources))) | set(resources["ConfigMap"]["data"])
    assert given <= known, f"the bot ignores {sorted(given - known)}"


def test_socket_mode_is_ha_over_socket_mode_with_the_ops_port_probed() -> None:
    resources = documents(kustomize("socket-mode"))
    ha = documents(kustomize("ha"))
    deployment = resources["Deployment"]
    assert deployment["spec"]["replicas"] == ha["Deployment"]["spec"]["replicas"] == 3
    assert resources["PodDisruptionBudget"] == ha["PodDisruptionBudget"]
    container = bot_container(resources)
    env = environment(container)
    (port,) = container["ports"]
    assert env["CODER_SLACK_OPS_PORT"]["value"] == str(port["containerPort"])
    assert "--port" not in container["args"], "no Slack HTTP to listen for"
    assert env["CODER_SLACK_DATABASE_URL"] == environment(bot_container(ha))["CODER_SLACK_DATABASE_URL"]
    (service_port,) = resources["Service"]["spec"]["ports"]
    assert service_port == {"name": "metrics", "port": port["containerPort"], "targetPort": port["name"]}
    assert "Ingress" not in resources
