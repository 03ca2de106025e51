"""Relieve broker disk pressure through topic configs, with confluent-kafka's ``incremental_alter_configs``.

What changes, exactly (docs/webhook.md repeats it for operators):

* ``retention.ms`` of allowlisted topics whose ``cleanup.policy`` includes ``delete`` is lowered to the playbook's
  value (24h by default) — only where it is higher or infinite, never below ``guardrails.retention_floor``. Kafka
  deletes the now-expired segments asynchronously (after ``file.delete.delay.ms``); **that data is gone for
  good**: a rollback restores the configuration, never the data.
* Allowlisted topics whose ``cleanup.policy`` includes ``compact``: Kafka has no "compact now" API. We make their
  dirty segments eligible for the log cleaner by lowering ``min.cleanable.dirty.ratio`` (default 0.01) and
  ``segment.ms`` (default 1h, so the active segment rolls and can be cleaned) where they are higher.

Incremental alters (not the legacy full-replace AlterConfigs) touch only these keys. Every changed key's previous
state is recorded: a topic-level override is restored with SET to its old value; a key that was inherited from the
broker default is restored with DELETE, so the topic inherits again instead of pinning today's default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)
from pydantic import BaseModel

from kafka_obs.config.clusters import NameMatcher
from kafka_obs.logs import LibrdkafkaLogger
from kafka_obs.webhook.actions import ActionFailed, Plan, Refused
from kafka_obs.webhook.config import Guardrails, WebhookConfig
from kafka_obs.webhook.playbooks import LowerRetentionParams

RETENTION = "retention.ms"
DIRTY_RATIO = "min.cleanable.dirty.ratio"
SEGMENT = "segment.ms"
POLICY = "cleanup.policy"

AdminFactory = Callable[[str], Any]
"""cluster name → a confluent-kafka ``AdminClient``."""


class AdminClients:
    """One confluent-kafka ``AdminClient`` per cluster, reused: connections and metadata outlive one action."""

    def __init__(self, config: WebhookConfig):
        self.config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, cluster: str) -> Any:
        with self._lock:
            if cluster not in self._clients:
                props = self.config.kafka_properties(cluster)
                if props is None:
                    raise Refused(f"no Kafka connection configured for cluster {cluster!r}")
                timeout_ms = int(self.config.kafka.timeout * 1000)
                client_config: dict[str, Any] = {**props, "socket.timeout.ms": timeout_ms}
                client_config["logger"] = LibrdkafkaLogger("kafka_obs.webhook.librdkafka", cluster=cluster)
                self._clients[cluster] = AdminClient(client_config)
            client = self._clients[cluster]
            client.poll(0)  # an admin client hands librdkafka's log lines to its logger only when polled
            return client

    def close(self) -> None:
        """Drop the clients (librdkafka destroys a client when the last reference goes)."""
        with self._lock:
            for client in self._clients.values():
                client.poll(0)
            self._clients.clear()


def admin_factory(config: WebhookConfig) -> AdminClients:
    return AdminClients(config)


def partition_counter(admins: AdminFactory, timeout: float) -> Callable[[str, list[str]], int]:
    """The largest partition count among ``topics`` — the most consumers that can do useful work."""

    def count(cluster: str, topics: list[str]) -> int:
        admin = admins(cluster)
        counts = []
        for topic in topics:
            metadata = admin.list_topics(topic=topic, timeout=timeout)
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise ActionFailed(f"topic {topic!r} not found in cluster {cluster!r}")
            counts.append(len(found.partitions))
        return max(counts)

    return count


def _is_topic_override(source: Any) -> bool:
    """confluent-kafka reports ``source`` as a plain int in described configs, not as the ConfigSource enum."""
    return int(getattr(source, "value", source)) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def _wait(futures: dict[Any, Any], timeout: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    errors = []
    for resource, future in futures.items():
        try:
            results[resource.name] = future.result(timeout=timeout)
        except Exception as exc:
            errors.append(f"{resource.name}: {exc}")
    if errors:
        raise ActionFailed("; ".join(errors))
    return results


class TopicConfigChanger:
    """Plans, applies and rolls back the config changes; ``monotonic`` and ``sleep`` pace the read-back polls."""

    def __init__(
        self,
        admins: AdminFactory,
        allowlists: Callable[[str], NameMatcher],
        *,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = 0.2,
    ):
        self.admins = admins
        self.allowlists = allowlists
        self.timeout = timeout
        self._monotonic = monotonic
        self._sleep = sleep
        self._poll_interval = poll_interval

    def _describe(self, admin: Any, topics: list[str]) -> dict[str, dict[str, Any]]:
        futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t) for t in topics])
        described = _wait(futures, self.timeout)
        out: dict[str, dict[str, Any]] = {}
        for topic, entries in described.items():
            out[topic] = {
                name: {
                    "value": entry.value,
                    "overridden": _is_topic_override(entry.source),
                }
                for name, entry in entries.items()
                if name in {RETENTION, DIRTY_RATIO, SEGMENT, POLICY}
            }
        return out

    def plan(self, spec: dict[str, Any], params: BaseModel, guardrails: Guardrails) -> Plan:
        assert isinstance(params, LowerRetentionParams)
        cluster = spec["cluster"]
        allowed = self.allowlists(cluster)
        try:
            admin = self.admins(cluster)
            metadata = admin.list_topics(timeout=self.timeout)
        except Refused:
            raise
        except Exception as exc:
            raise ActionFailed(f"cannot list the topics of {cluster!r}: {exc}") from None
        topics = sorted(t for t in metadata.topics if allowed(t))
        if not topics:
            raise Refused(f"no topic of cluster {cluster!r} is in the allowlist")
        current = self._describe(admin, topics)
        retention_ms = int(max(params.retention, guardrails.retention_floor) * 1000)
        before: dict[str, dict[str, Any]] = {}
        desired: dict[str, dict[str, str]] = {}
        for topic in topics:
            configs = current.get(topic, {})
            policy = str((configs.get(POLICY) or {}).get("value") or "delete")
            wanted: dict[str, str] = {}
            if "delete" in policy:
                value = int((configs.get(RETENTION) or {}).get("value") or -1)
                if value < 0 or value > retention_ms:
                    wanted[RETENTION] = str(retention_ms)
            if "compact" in policy and params.compacted is not None:
                ratio = float((configs.get(DIRTY_RATIO) or {}).get("value") or 0.5)
                if ratio > params.compacted.min_cleanable_dirty_ratio:
                    wanted[DIRTY_RATIO] = str(params.compacted.min_cleanable_dirty_ratio)
                segment = int((configs.get(SEGMENT) or {}).get("value") or 604_800_000)
                segment_ms = int(params.compacted.segment * 1000)
                if segment > segment_ms:
                    wanted[SEGMENT] = str(segment_ms)
            if wanted:
                desired[topic] = wanted
                before[topic] = {key: configs.get(key, {"value": None, "overridden": False}) for key in wanted}
        if not desired:
            raise Refused(f"every allowlisted topic of {cluster!r} is already at or below the targets")
        changes = sum(len(v) for v in desired.values())
        return {
            "before": before,
            "desired": desired,
            "retention_ms": retention_ms,
            "summary": f"change {changes} configs on {len(desired)} topics of {cluster}: {sorted(desired)}",
            "note": "lowering retention.ms deletes data for good; a rollback restores configs, not data",
        }

    def _alter(self, cluster: str, changes: dict[str, list[tuple[str, str | None]]]) -> None:
        resources = []
        for topic, entries in changes.items():
            incremental = [
                ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
                if value is not None
                else ConfigEntry(name, None, incremental_operation=AlterConfigOpType.DELETE)
                for name, value in entries
            ]
            resources.append(ConfigResource(ResourceType.TOPIC, topic, incremental_configs=incremental))
        admin = self.admins(cluster)  # keep a reference until the futures resolve: a collected client aborts them
        try:
            futures = admin.incremental_alter_configs(resources)
        except Exception as exc:
            raise ActionFailed(f"IncrementalAlterConfigs failed: {exc}") from None
        _wait(futures, self.timeout)

    def _observe(
        self, cluster: str, topics: list[str], wrong: Callable[[dict[str, dict[str, Any]]], list[str]]
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Describe ``topics`` until ``wrong`` finds nothing to complain about, or ``timeout`` passes.

        Why poll: the controller commits an IncrementalAlterConfigs before it answers, but each broker applies the
        metadata record on its own, and DescribeConfigs is answered by whichever broker the client asks. On a real
        Kafka 4.4 KRaft cluster a DescribeConfigs right after the alter returned the previous values
        (tests/realkafka/test_self_healing.py); a single read would report a failed change, or a failed rollback,
        that was in fact committed."""
        deadline = self._monotonic() + self.timeout
        while True:
            observed = self._describe(self.admins(cluster), topics)
            problems = wrong(observed)
            if not problems or self._monotonic() >= deadline:
                return observed, problems
            self._sleep(self._poll_interval)

    def apply(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]:
        cluster = spec["cluster"]
        desired: dict[str, dict[str, str]] = plan["desired"]
        self._alter(cluster, {topic: list(entries.items()) for topic, entries in desired.items()})
        observed, wrong = self._observe(
            cluster,
            sorted(desired),
            lambda observed: [
                f"{topic}.{key}"
                for topic, entries in desired.items()
                for key, value in entries.items()
                if str(observed.get(topic, {}).get(key, {}).get("value")) != value
            ],
        )
        if wrong:
            raise ActionFailed(f"configs not in effect after the change: {wrong}")
        return {topic: {k: observed[topic][k]["value"] for k in entries} for topic, entries in desired.items()}

    def rollback(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]:
        cluster = spec["cluster"]
        before: dict[str, dict[str, dict[str, Any]]] = plan["before"]
        changes = {
            topic: [(key, state["value"] if state.get("overridden") else None) for key, state in entries.items()]
            for topic, entries in before.items()
        }
        self._alter(cluster, changes)
        observed, wrong = self._observe(
            cluster,
            sorted(before),
            lambda observed: [
                f"{topic}.{key}: {_state(observed.get(topic, {}).get(key))} instead of {_state(state)}"
                for topic, entries in before.items()
                for key, state in entries.items()
                if not _restored(state, observed.get(topic, {}).get(key))
            ],
        )
        if wrong:
            raise ActionFailed(f"configs not restored after the rollback: {wrong}")
        return {
            "configs": {
                topic: {k: observed[topic].get(k, {}).get("value") for k in entries}
                for topic, entries in before.items()
            },
            "note": "configs restored; data deleted while retention was lower is not restored",
        }


def _restored(before: dict[str, Any], now: dict[str, Any] | None) -> bool:
    """An override is back when the topic overrides the key again with the old value; an inherited key is back when
    the topic no longer overrides it (its value is whatever the broker's default is now, which may have changed)."""
    if now is None:
        return not before.get("overridden")
    if before.get("overridden"):
        return bool(now["overridden"]) and str(now["value"]) == str(before["value"])
    return not now["overridden"]


def _state(state: dict[str, Any] | None) -> str:
    if state is None:
        return "absent"
    return f"set on the topic to {state['value']}" if state.get("overridden") else "inherited"
