"""The webhook's own metrics, on a private registry (never the global one: tests build many webhooks per process).

Counters are incremented where things happen; the gauges that describe the durable state (queue depth, in
flight, paused) are read from the store at scrape time, so they are right after a restart too.

Labelled counters are initialised at 0 before their first increment (Prometheus' instrumentation guidelines):
``increase()`` cannot see a series that is born at 1, so a playbook's first remediation would never show on a
dashboard. Action and escalation series are known from the configured playbooks at start-up; a remediation's
result series are created when the remediation is stored, since its alert name is known only then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "kafka_obs_webhook"
REMEDIATION_RESULTS = ("succeeded", "failed", "rolled_back", "cancelled", "refused", "dry_run", "interrupted")
ACTION_RESULTS = ("applied", "failed", "rolled_back", "rollback_failed", "dry_run")


@dataclass(frozen=True)
class StateSnapshot:
    queue_depth: int
    in_flight: int
    paused: bool
    audit_records: int = 0
    audit_chain_ok: bool = True
    store_readable: bool = True
    """False when the database could not be read for this scrape: the gauges that come from it are left out."""


class _StateCollector(Collector):
    def __init__(self, snapshot: Callable[[], StateSnapshot]):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        state = self.snapshot()
        yield GaugeMetricFamily(f"{PREFIX}_paused", "1 while the kill switch stops new actions.", int(state.paused))
        yield GaugeMetricFamily(
            f"{PREFIX}_store_readable",
            "1 when the database answered this scrape; 0 means the store is broken (see /healthz for writes).",
            int(state.store_readable),
        )
        if not state.store_readable:
            return  # absent, not wrong: a 0 queue depth would look like an idle webhook
        yield GaugeMetricFamily(
            f"{PREFIX}_queue_depth",
            "Remediations stored and waiting (queued or in their grace period).",
            state.queue_depth,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_actions_in_flight", "Remediations acting or verifying right now.", state.in_flight
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_audit_records",
            "Records in the audit log; it only grows, so a drop means the log was cut (the chain's outside anchor).",
            state.audit_records,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_audit_chain_ok",
            "1 while every link of the audit chain verifies with the key (re-checked every audit.verify_interval).",
            int(state.audit_chain_ok),
        )


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry, snapshot: Callable[[], StateSnapshot]):
        self.registry = registry
        self.notifications = Counter(
            f"{PREFIX}_notifications",
            "Alertmanager notifications received, by outcome "
            "(accepted, unauthorized, too_large, invalid, store_failed).",
            ["status"],
            registry=registry,
        )
        self.connections_closed = Counter(
            f"{PREFIX}_connections_closed",
            "Connections closed by the server's defences, by reason (header timeout, connection cap, body timeout).",
            ["reason"],
            registry=registry,
        )
        for reason in ("header timeout", "connection cap", "body timeout"):
            self.connections_closed.labels(reason)
        self.alerts_rejected = Counter(
            f"{PREFIX}_alerts_rejected",
            "Alerts refused one by one inside an accepted notification (invalid; the rest of the group was kept).",
            registry=registry,
        )
        self.remediations = Counter(
            f"{PREFIX}_remediations",
            "Remediations that reached an end state, by playbook, alert name and result.",
            ["playbook", "alertname", "result"],
            registry=registry,
        )
        self.actions = Counter(
            f"{PREFIX}_actions",
            "Individual actions, by playbook, action and result (applied, failed, rolled_back, rollback_failed).",
            ["playbook", "action", "result"],
            registry=registry,
        )
        self.verification_duration = Histogram(
            f"{PREFIX}_verification_duration_seconds",
            "Time from the start of verification to its outcome.",
            buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
            registry=registry,
        )
        self.escalations = Counter(
            f"{PREFIX}_escalations", "RemediationFailed escalations sent, by playbook.", ["playbook"], registry=registry
        )
        registry.register(_StateCollector(snapshot))

    def initialise(self, playbooks: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Create every (playbook, action, result) and escalation series at 0: ``(name, action types)`` pairs."""
        for name, action_types in playbooks:
            self.escalations.labels(name)
            for action in action_types:
                for result in ACTION_RESULTS:
                    self.actions.labels(name, action, result)

    def remediation_stored(self, playbook: str, alertname: str) -> None:
        """Create the remediation's result series at 0, so its end state is an increase a dashboard can see."""
        for result in REMEDIATION_RESULTS:
            self.remediations.labels(playbook, alertname, result)
