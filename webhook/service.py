"""Wiring: one place that builds the store, worker, backends and HTTP app from a config, with every dependency
injectable so tests can swap the clock, the action backends, Prometheus or Alertmanager.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from kafka_obs.clock import Clock, SystemClock
from kafka_obs.webhook.actions import ActionBackend
from kafka_obs.webhook.actions.kafka_config import TopicConfigChanger, admin_factory, partition_counter
from kafka_obs.webhook.actions.kubernetes import DeploymentScaler, apps_api
from kafka_obs.webhook.api import create_app
from kafka_obs.webhook.auth import Authenticator
from kafka_obs.webhook.config import WebhookConfig
from kafka_obs.webhook.escalation import Escalator
from kafka_obs.webhook.intake import GroupCommitter
from kafka_obs.webhook.metrics import StateSnapshot, WebhookMetrics
from kafka_obs.webhook.playbooks import Playbook
from kafka_obs.webhook.store import IN_FLIGHT, PENDING, Store
from kafka_obs.webhook.verification import PrometheusQuerier, QueryRouter, Verifier
from kafka_obs.webhook.worker import Worker


def default_backends(config: WebhookConfig, closers: list[Callable[[], None]]) -> dict[str, ActionBackend]:
    """The real backends: the official Kubernetes client and confluent-kafka's admin client."""
    admins = admin_factory(config)
    closers.append(admins.close)

    def allowlist(cluster: str) -> Any:
        entry = config.kafka.clusters.get(cluster)
        return entry.topics.matcher() if entry else (lambda _name: False)

    return {
        "scale_deployment": DeploymentScaler(
            apps_api(config.kubernetes),
            partition_counter(admins, config.kafka.timeout),
            annotation=config.guardrails.autoscaled_annotation,
            timeout=config.kubernetes.timeout,
        ),
        "lower_retention": TopicConfigChanger(admins, allowlist, timeout=config.kafka.timeout),
    }


@dataclass
class Service:
    config: WebhookConfig
    playbooks: list[Playbook]
    store: Store
    worker: Worker
    metrics: WebhookMetrics
    auth: Authenticator
    clock: Clock
    stop: threading.Event = field(default_factory=threading.Event)
    app: FastAPI | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    intake: GroupCommitter = field(init=False)

    def __post_init__(self) -> None:
        self.intake = GroupCommitter(self.store)

    def close(self) -> None:
        self.intake.close()
        self.worker.stop()
        for close in self.closers:
            close()
        self.store.close()


def prometheus_router(config: WebhookConfig) -> QueryRouter:
    """The default Prometheus plus one per ``prometheus.route_by`` entry, all with the same timeout and token."""
    prometheus = config.prometheus
    token = prometheus.bearer_token.get_secret_value() if prometheus.bearer_token else None

    def querier(url: str) -> PrometheusQuerier:
        return PrometheusQuerier(url, timeout=prometheus.timeout, token=token)

    routes = prometheus.route_by
    if routes is None:
        return QueryRouter(querier(prometheus.url))
    return QueryRouter(
        querier(prometheus.url), routes.label, {value: querier(url) for value, url in routes.urls.items()}
    )


def build_service(
    config: WebhookConfig,
    playbooks: list[Playbook],
    *,
    clock: Clock | None = None,
    backends: dict[str, ActionBackend] | None = None,
    querier: PrometheusQuerier | None = None,
    escalator: Escalator | None = None,
    sleep: Any = None,
    registry: CollectorRegistry | None = None,
) -> Service:
    clock = clock or SystemClock()
    stop = threading.Event()
    store = Store(
        config.store.path,
        audit_key=config.audit_key(),
        synchronous=config.store.synchronous,
        clock=clock,
        busy_timeout=config.store.busy_timeout,
    )
    worker_ref: list[Worker] = []
    closers: list[Callable[[], None]] = []

    def snapshot() -> StateSnapshot:
        paused = worker_ref[0].paused() if worker_ref else True
        try:
            counts = store.counts()
            return StateSnapshot(
                queue_depth=sum(counts.get(s, 0) for s in PENDING),
                in_flight=sum(counts.get(s, 0) for s in IN_FLIGHT),
                paused=paused,
                audit_records=store.audit_count(),
                audit_chain_ok=store.chain_status(config.audit.verify_interval).ok,
            )
        except (sqlite3.Error, OSError):  # /metrics must still answer, and say the store is the problem
            return StateSnapshot(queue_depth=0, in_flight=0, paused=paused, store_readable=False)

    metrics = WebhookMetrics(registry or CollectorRegistry(), snapshot)
    metrics.initialise((p.name, [a.type for a in p.actions]) for p in playbooks)
    if querier is not None:
        router = QueryRouter(querier)  # injected (tests): its owner closes it
    else:
        router = prometheus_router(config)
        closers.append(router.close)
    am = config.alertmanager
    escalator = escalator or Escalator(
        am.url,
        am.webhook_url,
        timeout=am.timeout,
        retries=am.retries,
        token=am.bearer_token.get_secret_value() if am.bearer_token else None,
    )
    worker = Worker(
        store=store,
        playbooks=playbooks,
        backends=backends if backends is not None else default_backends(config, closers),
        verifier=Verifier(router, clock, sleep or stop.wait),
        escalator=escalator,
        guardrails=config.guardrails,
        metrics=metrics,
        clock=clock,
        stop=stop,
        concurrency=config.worker.concurrency,
        poll_interval=config.worker.poll_interval,
        source_url=config.external_url.rstrip("/"),
        body_retention=config.store.notification_body_retention,
        chain_max_age=config.audit.verify_interval,
    )
    worker_ref.append(worker)
    service = Service(
        config, playbooks, store, worker, metrics, Authenticator(config.auth), clock, stop, closers=closers
    )
    service.app = create_app(service)
    return service
