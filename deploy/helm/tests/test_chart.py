"""The Helm chart's rendered manifests (deploy/helm/connectflo), with each of its CI values files:
every service has its probes and resources, no secret is a plain value, the topics Job creates
exactly contracts.topics.ALL_TOPICS, and the executor's replicas stay within the commands
topic's partitions.

helm is the one deploy/helm/ensure-helm.sh builds into .cache/bin (not whatever is on PATH); a
missing helm fails these tests rather than skipping them."""

from __future__ import annotations

import csv
import functools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from contracts.topics import ALL_TOPICS, EXECUTION_COMMANDS, partitions_of

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "deploy" / "helm" / "connectflo"
HELM = REPO / ".cache" / "bin" / "helm"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RENDERABLE = [p for p in CI_VALUES if not p.name.startswith("fail-")]
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|KEK", re.IGNORECASE)
URI_WITH_PASSWORD = re.compile(r"^[a-z+]+://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)
# helm built by `go install` assumes Kubernetes 1.20: check with the oldest the chart supports.
KUBE_VERSION = ("--kube-version", "1.25.0")
SERVICES = ("trigger-gateway", "executor", "scheduler", "integrations", "notifier")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.is_file():
        pytest.fail(f"helm not found at {HELM}: run deploy/helm/ensure-helm.sh")
    return subprocess.run(
        [str(HELM), *args], capture_output=True, text=True, timeout=60, check=False
    )


def template(*args: str) -> subprocess.CompletedProcess[str]:
    return helm("template", "cf", str(CHART), "--namespace", "flows", *KUBE_VERSION, *args)


@functools.cache
def rendered(*args: str) -> tuple[dict[str, Any], ...]:
    result = template(*args)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def executor_of(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    (executor,) = [
        d for d in of_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-executor")
    ]
    return executor


def values_args(path: Path) -> tuple[str, ...]:
    return ("-f", str(path))


def services_tsv() -> dict[str, dict[str, str]]:
    with (REPO / "deploy" / "services.tsv").open() as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        return {row["name"]: row for row in rows if row["name"] in SERVICES}


def test_helm_lint_passes() -> None:
    result = helm("lint", "--strict", *KUBE_VERSION, str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", RENDERABLE, ids=lambda p: p.stem)
def test_a_deployment_per_service_with_probes_on_its_endpoints_and_resources(
    values: Path,
) -> None:
    docs = rendered(*values_args(values))
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in of_kind(docs, "Deployment")
    }
    assert sorted(deployments) == sorted(SERVICES)
    tsv = services_tsv()
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", tsv[name]["module"]]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": int(tsv[name]["port"])}, name
        env = {e["name"]: e.get("value") for e in container["env"]}
        prefix = tsv[name]["env_prefix"]
        assert env[f"{prefix}_PORT"] == tsv[name]["port"]
        assert env[f"{prefix}_HOST"] == "0.0.0.0"
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            assert container[probe]["httpGet"] == {"path": path, "port": "http"}, (name, probe)
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) >= {"cpu", "memory"}, (name, kind)


@pytest.mark.parametrize("values", RENDERABLE, ids=lambda p: p.stem)
def test_every_container_has_resources(values: Path) -> None:
    for doc in rendered(*values_args(values)):
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        for container in (pod or {}).get("containers", []):
            assert container["resources"]["requests"], (doc["metadata"]["name"], container)
            assert container["resources"]["limits"], (doc["metadata"]["name"], container)


@pytest.mark.parametrize("values", RENDERABLE, ids=lambda p: p.stem)
def test_no_secret_is_a_plain_value(values: Path) -> None:
    seen_from_secrets = set()
    for doc in rendered(*values_args(values)):
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        for container in (pod or {}).get("containers", []):
            for entry in container.get("env", []):
                where = (doc["metadata"]["name"], entry["name"])
                if SECRET_NAME.search(entry["name"]):
                    assert "value" not in entry, where
                    assert "secretKeyRef" in entry["valueFrom"], where
                    seen_from_secrets.add(entry["name"])
                if "value" in entry:
                    assert not URI_WITH_PASSWORD.match(entry["value"]), where
            for source in container.get("envFrom", []):
                assert set(source) == {"secretRef"}, (doc["metadata"]["name"], source)
    assert seen_from_secrets >= {"CONNECTFLO_KEKS", "GATEWAY_ADMIN_TOKEN"}


def test_the_chart_lists_exactly_the_contracts_topics() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart_topics = [(t["name"], t["partitions"]) for t in values["kafka"]["topics"]]
    assert chart_topics == [(t.name, t.partitions) for t in ALL_TOPICS], (
        "deploy/helm/connectflo/values.yaml kafka.topics differs from contracts.topics.ALL_TOPICS"
    )


@pytest.mark.parametrize("values", RENDERABLE, ids=lambda p: p.stem)
def test_the_topics_job_creates_every_topic_before_install_and_upgrade(values: Path) -> None:
    (job,) = of_kind(rendered(*values_args(values)), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "servicekit.topics"]
    args = container["args"]
    assert args[:2] == ["--replication-factor", "3"]
    assert args[2:] == [f"{t.name}:{t.partitions}" for t in ALL_TOPICS]


def test_executor_replicas_beyond_the_commands_partitions_refuse_to_render() -> None:
    partitions = partitions_of(EXECUTION_COMMANDS)
    (failing,) = [p for p in CI_VALUES if p.name.startswith("fail-")]
    result = template(*values_args(failing))
    assert result.returncode != 0
    assert f"more than the {partitions} partitions of {EXECUTION_COMMANDS}" in result.stderr
    at_bound = rendered("--set", f"services.executor.replicas={partitions}")
    assert executor_of(at_bound)["spec"]["replicas"] == partitions


def test_more_commands_partitions_allow_more_executor_replicas(tmp_path: Path) -> None:
    more = partitions_of(EXECUTION_COMMANDS) + 2
    topics = [
        {"name": t.name, "partitions": more if t.name == EXECUTION_COMMANDS else t.partitions}
        for t in ALL_TOPICS
    ]
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump({"kafka": {"topics": topics}, "services": {"executor": {"replicas": more}}})
    )
    docs = rendered(*values_args(values))
    assert executor_of(docs)["spec"]["replicas"] == more
    (job,) = of_kind(docs, "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert f"{EXECUTION_COMMANDS}:{more}" in container["args"]


def test_a_secret_looking_setting_given_as_a_value_is_refused() -> None:
    result = template("--set", "services.notifier.env.NOTIFIER_SENDGRID_API_KEY=SG.x")
    assert result.returncode != 0
    assert "services.notifier.env.NOTIFIER_SENDGRID_API_KEY looks secret" in result.stderr
    result = template("--set", "mongo.uri=mongodb://app:hunter2@db:27017/")
    assert result.returncode != 0
    assert "mongo.uri holds a password" in result.stderr


def test_external_infrastructure_reaches_every_service() -> None:
    (values,) = [p for p in RENDERABLE if p.name.startswith("external-infra")]
    for deployment in of_kind(rendered(*values_args(values)), "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"].startswith("b-1.kafka.example.internal")
        assert env["MONGO_URI"]["valueFrom"]["secretKeyRef"] == {
            "name": "connectflo-mongo",
            "key": "MONGO_URI",
        }
        assert env["MONGO_DATABASE"]["value"] == "connectflo_prod"


def test_pod_disruption_budgets_and_the_optional_service_monitor() -> None:
    defaults = rendered()
    budgets = of_kind(defaults, "PodDisruptionBudget")
    assert len(budgets) == len(SERVICES)
    assert all(b["spec"]["maxUnavailable"] == 1 for b in budgets)
    assert of_kind(defaults, "ServiceMonitor") == []
    (values,) = [p for p in RENDERABLE if p.name.startswith("servicemonitor")]
    (monitor,) = of_kind(rendered(*values_args(values)), "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    services = of_kind(defaults, "Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    matched = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
    assert len(matched) == len(SERVICES)
