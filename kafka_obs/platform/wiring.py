"""Render the committed platform configs for one run: pure functions from the shipped documents to the ones a run uses.

The shipped files (``prometheus/regional.yml``, ``prometheus/global.yml``, ``alertmanager/alertmanager.yml``) are
what users deploy, so the demo and the end-to-end tests run *those* documents with only the run-specific values
replaced: scrape targets, rule-file paths, the ``prometheus`` external label, the Alertmanager and webhook
addresses and the webhook's token file. Anything else a caller wants different (the tests' one-second intervals) is
an explicit, named override, so what ships is what is tested. Every function takes and returns plain dicts: no I/O
here except :func:`load_yaml` / :func:`dump_yaml`, which the callers use at the edges.
"""

from __future__ import annotations

import copy
import importlib.resources
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kafka_obs.durations import parse_duration

Doc = dict[str, Any]


class WiringError(ValueError):
    """A committed config no longer has the shape the wiring relies on (a job renamed, a receiver removed)."""


def _package_root() -> Path:
    """The installed ``kafka_obs`` package on disk: in a checkout its links lead to the top-level folders (so edits
    show up), in a wheel the same paths are real files shipped as package data."""
    root = importlib.resources.files("kafka_obs")
    if not isinstance(root, Path):  # a zip import: the demo hands these files to other processes by path
        raise WiringError("kafka-obs must be installed as files on disk, not imported from a zip archive")
    return root


PACKAGE = _package_root()


def load_yaml(path: Path) -> Doc:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise WiringError(f"{path}: expected a YAML mapping")
    return document


def dump_yaml(document: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ShippedConfigs:
    """Where the committed documents are; tests point this at a copy to prove a broken file is caught."""

    regional_prometheus: Path = PACKAGE / "shipped" / "prometheus" / "regional.yml"
    global_prometheus: Path = PACKAGE / "shipped" / "prometheus" / "global.yml"
    alertmanager: Path = PACKAGE / "shipped" / "alertmanager" / "alertmanager.yml"
    rules: Path = PACKAGE / "rules" / "generated"
    playbooks: Path = PACKAGE / "webhook" / "playbooks.yaml"

    def missing(self) -> list[Path]:
        files = (self.regional_prometheus, self.global_prometheus, self.alertmanager, self.playbooks, self.rules)
        return [path for path in files if not path.exists()]


@dataclass(frozen=True)
class Intervals:
    """Scrape and evaluation intervals that replace every interval of a Prometheus config (tests only: the shipped
    15 s / 30 s would make a closed loop take minutes)."""

    scrape: str
    evaluation: str
    scrape_timeout: str | None = None


def _job(document: Doc, name: str, source: str) -> Doc:
    for job in document.get("scrape_configs") or []:
        if job.get("job_name") == name:
            return dict(job)
    raise WiringError(f"{source}: no scrape job {name!r}")


def _with_targets(job: Doc, targets: Sequence[str]) -> Doc:
    return {**job, "static_configs": [{"targets": list(targets)}]}


def _apply_intervals(document: Doc, intervals: Intervals | None) -> None:
    if intervals is None:
        return
    timeout = intervals.scrape_timeout or intervals.scrape
    document["global"] = {
        **document.get("global", {}),
        "scrape_interval": intervals.scrape,
        "scrape_timeout": timeout,
        "evaluation_interval": intervals.evaluation,
    }
    for job in document.get("scrape_configs") or []:
        for key in ("scrape_interval", "scrape_timeout"):
            job.pop(key, None)


def _alerting(alertmanagers: Sequence[str]) -> Doc:
    return {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}


def _set_external_label(document: Doc, value: str) -> None:
    labels = dict(document.get("global", {}).get("external_labels") or {})
    if "prometheus" not in labels:
        raise WiringError("the shipped Prometheus config has no `prometheus` external label")
    labels["prometheus"] = value
    document["global"] = {**document.get("global", {}), "external_labels": labels}


def regional_label(region: str) -> str:
    """The ``prometheus`` external label of a region's Prometheus; the webhook routes verification by it."""
    return f"regional-{region}"


def regional_prometheus(
    base: Mapping[str, Any],
    *,
    region: str,
    exporters: Sequence[str],
    self_address: str,
    rule_files: Sequence[str],
    alertmanagers: Sequence[str] = (),
    webhooks: Sequence[str] = (),
    intervals: Intervals | None = None,
) -> Doc:
    """``prometheus/regional.yml`` for one region: its exporter(s), its own address, the regional rule files.

    Without Alertmanager the ``alerting`` block is dropped (rules still evaluate and ALERTS still records); without a
    webhook its scrape job is dropped rather than left pointing at nothing.
    """
    source = "prometheus/regional.yml"
    document = copy.deepcopy(dict(base))
    exporter_job = _with_targets(_job(document, "kafka-obs-exporter", source), exporters)
    webhook_job = _with_targets(_job(document, "kafka-obs-webhook", source), webhooks)
    self_job = _with_targets(_job(document, "prometheus", source), [self_address])
    jobs = [exporter_job, *([webhook_job] if webhooks else []), self_job]
    known = {"kafka-obs-exporter", "kafka-obs-webhook", "prometheus"}
    jobs += [j for j in document.get("scrape_configs") or [] if j.get("job_name") not in known]
    document["scrape_configs"] = jobs
    document["rule_files"] = list(rule_files)
    _set_external_label(document, regional_label(region))
    if alertmanagers:
        document["alerting"] = _alerting(alertmanagers)
    else:
        document.pop("alerting", None)
    _apply_intervals(document, intervals)
    return document


def global_prometheus(
    base: Mapping[str, Any],
    *,
    regionals: Sequence[str],
    self_address: str,
    rule_files: Sequence[str],
    alertmanagers: Sequence[str] = (),
    intervals: Intervals | None = None,
) -> Doc:
    """``prometheus/global.yml`` federating ``regionals`` (HOST:PORT each); its ``match[]`` list is kept as shipped."""
    source = "prometheus/global.yml"
    document = copy.deepcopy(dict(base))
    federate = _with_targets(_job(document, "federate", source), regionals)
    if not federate.get("params", {}).get("match[]"):
        raise WiringError(f"{source}: the federate job has no match[]")
    self_job = _with_targets(_job(document, "prometheus", source), [self_address])
    others = [j for j in document.get("scrape_configs") or [] if j.get("job_name") not in {"federate", "prometheus"}]
    document["scrape_configs"] = [federate, self_job, *others]
    document["rule_files"] = list(rule_files)
    _set_external_label(document, "global")
    if alertmanagers:
        document["alerting"] = _alerting(alertmanagers)
    else:
        document.pop("alerting", None)
    _apply_intervals(document, intervals)
    return document


@dataclass(frozen=True)
class RouteTimings:
    """Replaces group_wait / group_interval / repeat_interval on the root route and every child (tests only)."""

    group_wait: str
    group_interval: str
    repeat_interval: str


def _retime(route: Doc, timings: RouteTimings) -> Doc:
    route = dict(route)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route or "routes" in route:  # the root sets all three; children override only what they set
            route[key] = getattr(timings, key)
    if "routes" in route:
        route["routes"] = [_retime(child, timings) for child in route["routes"]]
    return route


WEBHOOK_RECEIVER = "kafka-obs-webhook"


def alertmanager(
    base: Mapping[str, Any],
    *,
    webhook_url: str,
    credentials_file: str,
    timings: RouteTimings | None = None,
) -> Doc:
    """``alertmanager/alertmanager.yml`` with the webhook's URL and token file replaced; routing and inhibition kept."""
    document = copy.deepcopy(dict(base))
    receivers = document.get("receivers") or []
    hooks = [r for r in receivers if r.get("name") == WEBHOOK_RECEIVER]
    if not hooks or not hooks[0].get("webhook_configs"):
        raise WiringError(f"alertmanager/alertmanager.yml: no receiver {WEBHOOK_RECEIVER!r} with webhook_configs")
    for config in hooks[0]["webhook_configs"]:
        config["url"] = webhook_url
        authorization = config.setdefault("http_config", {}).setdefault("authorization", {})
        authorization["credentials_file"] = credentials_file
    if timings is not None:
        document["route"] = _retime(document["route"], timings)
    return document


def demo_clusters(sandbox_clusters: Mapping[str, Any], interval: str) -> Doc:
    """The sandbox's clusters.yaml with every priority collected every ``interval`` (the shipped 30 s to 5 min
    would leave a fresh demo's dashboards empty for minutes)."""
    document = copy.deepcopy(dict(sandbox_clusters))
    document["intervals"] = {p: interval for p in ("critical", "high", "medium", "low")}
    return document


@dataclass(frozen=True)
class JoiningCluster:
    """A cluster outside the sandbox (real Kafka) that joins a sandbox fleet: its ``clusters.yaml`` entry (its region
    must be one of the fleet's, so it shares that region's exporter and Prometheus) and its topics' criticality
    (``critical`` ones are never in the webhook's retention allowlist, see :func:`non_critical_topics`)."""

    entry: Doc
    topics: Mapping[str, str]


def join(truth: dict[str, Any], clusters: dict[str, Any], joining: Iterable[JoiningCluster]) -> None:
    """Add ``joining`` to a fleet's clusters.yaml document and, as far as the wiring reads it, to its ground truth
    (``GET /fleet``): its topics, and no Deployments (only the sandbox simulates Kubernetes)."""
    for cluster in joining:
        clusters["clusters"].append(dict(cluster.entry))
        topics = {topic: {"criticality": criticality} for topic, criticality in cluster.topics.items()}
        truth["clusters"][cluster.entry["name"]] = {"topics": topics, "deployments": {}}


def regions(sandbox_clusters: Mapping[str, Any]) -> list[str]:
    """Regions in first-seen order: one exporter and one regional Prometheus each."""
    seen: dict[str, None] = {}
    for cluster in sandbox_clusters.get("clusters") or []:
        seen.setdefault(str(cluster["region"]), None)
    return list(seen)


def playbook_names(playbooks: Mapping[str, Any]) -> list[str]:
    return [str(p["name"]) for p in playbooks.get("playbooks") or []]


def sandbox_deployments(truth: Mapping[str, Any], only: Iterable[tuple[str, str]] | None = None) -> list[Doc]:
    """The Kubernetes allowlist for a sandbox fleet (``GET /fleet``): namespace = cluster, one entry per deployment.

    ``only`` limits it to (cluster, deployment) pairs, so a test allowlists just the deployments it exercises.
    """
    wanted = set(only) if only is not None else None
    entries = []
    for cluster, state in truth["clusters"].items():
        for name, deployment in state.get("deployments", {}).items():
            if wanted is not None and (cluster, name) not in wanted:
                continue
            entries.append(
                {
                    "cluster": cluster,
                    "consumergroup": deployment["group"],
                    "namespace": cluster,
                    "name": name,
                    "topics": list(deployment["topics"]),
                }
            )
    return entries


def non_critical_topics(truth: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per cluster, the topics the demo lets the webhook lower retention on: every topic not marked critical.

    Lowering retention deletes data that rollback cannot bring back, so critical topics (orders, payments) are never
    in the automatic allowlist; each name is matched exactly.
    """
    return {
        cluster: [
            re.escape(t) for t, topic in sorted(state["topics"].items()) if topic.get("criticality") != "critical"
        ]
        for cluster, state in truth["clusters"].items()
    }


@dataclass(frozen=True)
class WebhookWiring:
    """Run-specific inputs of the webhook config for a sandbox fleet."""

    token_file: Path
    store: Path
    playbooks: Path
    clusters_file: Path
    kubernetes_host: str
    prometheus_default: str
    prometheus_by_label: Mapping[str, str]
    alertmanager: str | None
    external_url: str


def sandbox_webhook(
    truth: Mapping[str, Any],
    playbooks: Mapping[str, Any],
    wiring: WebhookWiring,
    *,
    deployments: Iterable[tuple[str, str]] | None = None,
    guardrails: Mapping[str, Any] | None = None,
    worker: Mapping[str, Any] | None = None,
) -> Doc:
    """A webhook config acting on the sandbox: every playbook enabled, the sandbox control API as the Kubernetes
    API server, Kafka connections from the run's clusters.yaml, allowlists from the fleet's ground truth, and each
    verification sent to the regional Prometheus that raised the alert (``prometheus.route_by``)."""
    topics = non_critical_topics(truth)
    prometheus: Doc = {"url": wiring.prometheus_default}
    if wiring.prometheus_by_label:
        prometheus["route_by"] = {"label": "prometheus", "urls": dict(wiring.prometheus_by_label)}
    document: Doc = {
        "auth": {"bearer_token": f"file:{wiring.token_file}"},
        "store": {"path": str(wiring.store)},
        "playbooks": {"file": str(wiring.playbooks), "enable": playbook_names(playbooks)},
        "prometheus": prometheus,
        "alertmanager": {"url": wiring.alertmanager} if wiring.alertmanager else {},
        "kubernetes": {
            "mode": "host",
            "host": wiring.kubernetes_host,
            "deployments": sandbox_deployments(truth, deployments),
        },
        "kafka": {
            "clusters_file": str(wiring.clusters_file),
            "clusters": {c: {"topics": {"allow": allow}} for c, allow in topics.items() if allow},
        },
        "external_url": wiring.external_url,
    }
    if guardrails:
        document["guardrails"] = dict(guardrails)
    if worker:
        document["worker"] = dict(worker)
    return document


def playbooks_with_verification(playbooks: Mapping[str, Any], **verify: Any) -> Doc:
    """The shipped playbooks with test-sized verification windows (``deadline``, ``interval``, ``initial_delay``)."""
    document = copy.deepcopy(dict(playbooks))
    for playbook in document.get("playbooks") or []:
        playbook["verify"] = {**playbook["verify"], **verify}
    return document


def cap_alert_for(rules: Mapping[str, Any], seconds: int) -> Doc:
    """A generated rule file with every alert's ``for`` and ``keep_firing_for`` capped at ``seconds`` (tests only:
    the shipped 5-minute ``for`` of KafkaBrokerDiskPressure would dominate a closed-loop test, and its 6-minute
    ``keep_firing_for`` the wait for its resolution; the expressions are untouched)."""
    document = copy.deepcopy(dict(rules))
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            for key in ("for", "keep_firing_for"):
                if "alert" in rule and key in rule:
                    rule[key] = f"{min(seconds, int(parse_duration(str(rule[key]))))}s"
    return document
