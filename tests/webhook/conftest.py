"""Fixtures for the webhook: a config builder, fake action backends, a scripted Prometheus, a recording escalator."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from kafka_obs.clock import ManualClock
from kafka_obs.webhook.actions import ActionFailed, Plan, Refused
from kafka_obs.webhook.config import Guardrails, WebhookConfig
from kafka_obs.webhook.escalation import EscalationResult
from kafka_obs.webhook.playbooks import Playbook, ScaleDeploymentParams, load_playbooks
from kafka_obs.webhook.service import Service, build_service
from kafka_obs.webhook.verification import QueryOutcome

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]
SEED_PLAYBOOKS = REPO / "webhook" / "playbooks.yaml"

_fingerprints = itertools.count(1)


def alert(
    alertname: str = "KafkaConsumerLagHigh",
    *,
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: str = "2026-01-01T00:00:00Z",
    **labels: str,
) -> dict[str, Any]:
    base = {"cluster": "alpha", "consumergroup": "orders-processor", "topic": "orders", "severity": "warning"}
    return {
        "status": status,
        "labels": {"alertname": alertname, **base, **labels},
        "annotations": {"summary": "Something is wrong."},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-01T00:10:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint or f"{next(_fingerprints):016x}",
    }


def notification(*alerts: dict[str, Any], group_key: str = '{}:{alertname="X"}') -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "kafka-obs-webhook",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def make_config(tmp_path: Path, **sections: Any) -> WebhookConfig:
    raw: dict[str, Any] = {
        "auth": {"bearer_token": TOKEN},
        "store": {"path": str(tmp_path / "webhook.db")},
        "kubernetes": {
            "host": "http://127.0.0.1:1",
            "deployments": [
                {"cluster": "alpha", "consumergroup": g, "namespace": "alpha", "name": g, "topics": [t]}
                for g, t in [
                    ("orders-processor", "orders"),
                    ("clicks-aggregator", "clicks"),
                    ("c3", "t3"),
                    ("c4", "t4"),
                ]
            ],
        },
        "kafka": {
            "clusters": {"alpha": {"bootstrap_servers": "127.0.0.1:1", "topics": {"allow": ["orders", "clicks"]}}}
        },
        "guardrails": {"grace_period": "30s", "cooldown": "15m"},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return WebhookConfig.model_validate(raw)


class FakeScaler:
    """The scale action against an in-memory 'cluster': same plan/apply/rollback contract as the real one."""

    def __init__(self) -> None:
        self.replicas: dict[str, int] = {"orders-processor": 3, "clicks-aggregator": 2, "c3": 1, "c4": 1}
        self.partitions: dict[str, int] = {"orders": 6, "clicks": 4, "t3": 8, "t4": 8}
        self.applied: list[tuple[str, int]] = []
        self.fail_apply = False
        self.fail_rollback = False
        self.refuse: str | None = None

    def plan(self, spec: dict[str, Any], params: BaseModel, guardrails: Guardrails) -> Plan:
        assert isinstance(params, ScaleDeploymentParams)
        if self.refuse:
            raise Refused(self.refuse)
        current = self.replicas[spec["name"]]
        ceiling = min(params.max_replicas, guardrails.max_replicas, *(self.partitions[t] for t in spec["topics"]))
        desired = min(int(current * params.factor), ceiling)
        if desired <= current:
            raise Refused(f"at ceiling {ceiling}")
        return {"before": {"replicas": current}, "desired": {"replicas": desired}, "summary": f"{current}->{desired}"}

    def apply(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]:
        if self.fail_apply:
            raise ActionFailed("API server said no")
        self.replicas[spec["name"]] = plan["desired"]["replicas"]
        self.applied.append((spec["name"], plan["desired"]["replicas"]))
        return {"replicas": self.replicas[spec["name"]]}

    def rollback(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]:
        if self.fail_rollback:
            raise ActionFailed("rollback refused")
        self.replicas[spec["name"]] = plan["before"]["replicas"]
        self.applied.append((spec["name"], plan["before"]["replicas"]))
        return {"replicas": self.replicas[spec["name"]]}


class ScriptedPrometheus:
    """Answers verification queries from a callable (recorded in ``queries``), and selectors of
    ``kafka_consumergroup_status`` (the seed playbook's pre-condition, recorded in ``checks``) from ``status``: the
    exporter's lag evaluation of every group, one series with value 1 per group as the exporter serves it."""

    def __init__(self) -> None:
        self.holds: Callable[[str], bool] = lambda _expr: True
        self.queries: list[str] = []
        self.checks: list[str] = []
        self.status: dict[str, str] = {"orders-processor": "WARN", "clicks-aggregator": "WARN"}

    def query(self, expr: str) -> QueryOutcome:
        if expr.startswith("kafka_consumergroup_status{"):
            self.checks.append(expr)
            matchers = dict(re.findall(r'(\w+)="([^"]*)"', expr))
            series = tuple(
                {"__name__": "kafka_consumergroup_status", "cluster": "alpha", "consumergroup": g, "status": st}
                for g, st in self.status.items()
            )
            found = tuple({**x, "value": "1"} for x in series if all(x.get(k) == v for k, v in matchers.items()))
            return QueryOutcome(bool(found), f"{len(found)} series", found)
        self.queries.append(expr)
        ok = self.holds(expr)
        return QueryOutcome(ok, "1 series" if ok else "0 series")


class RecordingEscalator:
    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []

    def escalate(self, alert: dict[str, Any]) -> EscalationResult:
        self.alerts.append(alert)
        return EscalationResult(["alertmanager"], [])


class Harness:
    """A webhook service on a ManualClock with fake backends; ``client`` talks to its ASGI app in-process."""

    def __init__(self, tmp_path: Path, playbooks: list[Playbook], config: WebhookConfig):
        self.clock = ManualClock()
        self.scaler = FakeScaler()
        self.prometheus = ScriptedPrometheus()
        self.escalator = RecordingEscalator()
        self.config = config
        self.playbooks = playbooks
        self._start()

    def restart(self) -> None:
        """A new process on the same database (the old one's memory is gone); recovery runs as at startup."""
        self.client.close()
        self.service.intake.close()
        self.store.close()
        self._start()
        self.worker.recover()

    def close(self) -> None:
        self.client.close()
        self.service.intake.close()
        self.service.store.close()

    def _start(self) -> None:
        self.service: Service = build_service(
            self.config,
            self.playbooks,
            clock=self.clock,
            backends={"scale_deployment": self.scaler},
            querier=self.prometheus,  # type: ignore[arg-type]
            escalator=self.escalator,  # type: ignore[arg-type]
            sleep=self._sleep,
        )
        assert self.service.app is not None
        self.client = TestClient(self.service.app)
        self.store = self.service.store
        self.worker = self.service.worker

    def _sleep(self, seconds: float) -> bool:
        self.clock.advance(seconds)
        return self.service.stop.is_set()

    def post(self, *alerts: dict[str, Any], **kwargs: Any) -> Any:
        return self.client.post("/alerts", json=notification(*alerts, **kwargs), headers=AUTH)

    def run(self, advance: float = 31.0) -> None:
        self.clock.advance(advance)
        self.worker.run_until_idle()

    def states(self) -> list[str]:
        return [str(r.state) for r in self.store.remediations()]

    def metric(self, name: str, **labels: str) -> float:
        value = self.service.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def enabled_playbooks(*names: str) -> list[Playbook]:
    return load_playbooks(SEED_PLAYBOOKS, list(names))


@pytest.fixture
def harness_factory(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*, enabled: tuple[str, ...] = ("high_consumer_lag",), **sections: Any) -> Harness:
        h = Harness(tmp_path, enabled_playbooks(*enabled), make_config(tmp_path, **sections))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def harness(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory()
