"""From a notification to the remediations it asks for: playbook matching, target mapping, blast radius.

This is pure (no I/O), so the HTTP handler can compute it before the one database transaction that stores the
notification, and tests can table-drive it. A target is only ever something an allowlist names: an alert whose
labels map to nothing allowlisted is stored, refused with a reason, and never acted on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka_obs.webhook.config import WebhookConfig
from kafka_obs.webhook.models import Alert, AlertStatus, Notification
from kafka_obs.webhook.playbooks import Playbook, placeholders


@dataclass(frozen=True)
class Target:
    """What a remediation touches. ``key`` is the unit of cooldowns and of one-action-at-a-time."""

    key: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Planned:
    playbook: str
    target: Target | None
    refused: str | None = None


@dataclass(frozen=True)
class RoutedAlert:
    alert: Alert
    planned: list[Planned] = field(default_factory=list)


def _deployment(labels: dict[str, str], cluster: str, config: WebhookConfig) -> Target | str:
    group = labels.get("consumergroup")
    if not group:
        return "alert has no consumergroup label"
    for entry in config.kubernetes.deployments:
        if entry.cluster == cluster and entry.consumergroup == group:
            topics = list(entry.topics) or ([labels["topic"]] if labels.get("topic") else [])
            spec = {
                "kind": "deployment",
                "cluster": cluster,
                "namespace": entry.namespace,
                "name": entry.name,
                "consumergroup": group,
                "topics": topics,
                "max_replicas": entry.max_replicas,
            }
            return Target(f"deployment/{entry.namespace}/{entry.name}", spec)
    return f"consumer group {group!r} of cluster {cluster!r} is not in kubernetes.deployments"


def _kafka_cluster(cluster: str, config: WebhookConfig) -> Target | str:
    entry = config.kafka.clusters.get(cluster)
    if entry is None:
        return f"cluster {cluster!r} is not in kafka.clusters"
    if not entry.topics.allow:
        return f"cluster {cluster!r} allowlists no topics"
    return Target(f"kafka/{cluster}", {"kind": "kafka_cluster", "cluster": cluster})


def resolve_target(kind: str, labels: dict[str, str], config: WebhookConfig) -> Target | str:
    """The allowlisted target for these labels, or the reason there is none."""
    cluster = labels.get("cluster")
    if not cluster:
        return "alert has no cluster label"
    if kind == "deployment":
        return _deployment(labels, cluster, config)
    if kind == "kafka_cluster":
        return _kafka_cluster(cluster, config)
    return f"unknown target kind {kind!r}"


def route(notification: Notification, playbooks: list[Playbook], config: WebhookConfig) -> list[RoutedAlert]:
    """Match every firing alert; refuse them all when the notification would touch too many targets."""
    routed: list[RoutedAlert] = []
    targets: set[str] = set()
    for alert in notification.alerts:
        if alert.status is not AlertStatus.firing:
            routed.append(RoutedAlert(alert))
            continue
        planned = []
        for playbook in playbooks:
            if not playbook.match(alert.labels):
                continue
            missing = sorted(set().union(*map(placeholders, playbook.queries())) - alert.labels.keys())
            resolved = resolve_target(playbook.target, alert.labels, config)
            if missing:
                planned.append(Planned(playbook.name, None, f"alert lacks labels its queries need: {missing}"))
            elif isinstance(resolved, str):
                planned.append(Planned(playbook.name, None, f"no allowlisted target: {resolved}"))
            else:
                planned.append(Planned(playbook.name, resolved))
                targets.add(resolved.key)
        routed.append(RoutedAlert(alert, planned))
    limit = config.guardrails.max_targets_per_notification
    if len(targets) > limit:
        reason = f"blast radius: the notification would touch {len(targets)} targets (limit {limit})"
        routed = [
            RoutedAlert(r.alert, [Planned(p.playbook, p.target, p.refused or reason) for p in r.planned])
            for r in routed
        ]
    return routed
