"""The webhook's Kafka action on real Kafka: lowering ``retention.ms`` deletes real segments (the exporter's
``kafka_log_dir_size_bytes`` falls), and a rollback restores each key's exact prior state — an explicit topic
override and a value inherited from the broker default are different states, and DescribeConfigs must show the
same source and value afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

from kafka_obs.clock import SystemClock
from kafka_obs.config.clusters import FleetConfig, NameMatcher
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.platform.realkafka import KafkaCluster
from kafka_obs.webhook.actions.kafka_config import TopicConfigChanger
from kafka_obs.webhook.config import Guardrails
from kafka_obs.webhook.playbooks import LowerRetentionParams
from tests.exporter.scrape import parse
from tests.realkafka.support import admin, cluster_entry, create_topic, produce

pytestmark = pytest.mark.realkafka

INHERITED, OVERRIDDEN = "heal-inherited", "heal-overridden"
WEEK, TWO_DAYS, DAY = "604800000", "172800000", "86400000"
RECORDS, SIZE = 3_000, 1_000  # ~3 MiB: three closed 1 MiB segments and an active one
THREE_DAYS_AGO_MS = int((time.time() - 3 * 86400) * 1000)


@pytest.fixture(scope="module")
def exporter(kafka: KafkaCluster) -> Iterator[Exporter]:
    """The exporter in this process, admin series only (no JMX: the JVM per cycle is not what is tested here)."""
    entry = {k: v for k, v in cluster_entry(kafka).items() if k not in {"jmx_ports", "jmx"}}
    fleet = FleetConfig.model_validate({"clusters": [entry]})
    exporter = Exporter(fleet, clock=SystemClock(), client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=10.0))
    try:
        yield exporter
    finally:
        exporter.stop()


def log_dir_bytes(exporter: Exporter) -> float:
    """``kafka_log_dir_size_bytes`` summed over the brokers, from one exporter cycle."""
    exporter.collect_once()
    series = parse(exporter.store.body(openmetrics=False))
    sizes = [v for (name, _labels), v in series.items() if name == "kafka_log_dir_size_bytes"]
    assert len(sizes) == 3, sizes  # one log dir per broker
    return sum(sizes)


def described(kafka: KafkaCluster, topic: str) -> tuple[str | None, int]:
    """``retention.ms`` of ``topic`` as DescribeConfigs reports it: (value, source)."""
    client = admin(kafka)
    [future] = client.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    entry = future.result(timeout=10)["retention.ms"]
    return entry.value, int(getattr(entry.source, "value", entry.source))


TOPIC_OVERRIDE, BROKER_DEFAULT = ConfigSource.DYNAMIC_TOPIC_CONFIG.value, ConfigSource.DEFAULT_CONFIG.value


def test_lower_retention_deletes_real_segments_and_rollback_restores_each_source(
    kafka: KafkaCluster, exporter: Exporter
) -> None:
    create_topic(kafka, INHERITED, partitions=1)
    create_topic(kafka, OVERRIDDEN, partitions=1, config={"retention.ms": TWO_DAYS})
    produced = produce(kafka, INHERITED, RECORDS, SIZE, timestamp_ms=THREE_DAYS_AGO_MS)
    assert described(kafka, INHERITED) == (WEEK, BROKER_DEFAULT)  # three-day-old data is kept for a week
    assert described(kafka, OVERRIDDEN) == (TWO_DAYS, TOPIC_OVERRIDE)
    before_bytes = log_dir_bytes(exporter)

    client = admin(kafka)
    changer = TopicConfigChanger(lambda _cluster: client, lambda _cluster: NameMatcher([INHERITED, OVERRIDDEN], []))
    plan = changer.plan({"cluster": "real"}, LowerRetentionParams(retention=86400.0), Guardrails())
    assert plan["desired"] == {INHERITED: {"retention.ms": DAY}, OVERRIDDEN: {"retention.ms": DAY}}
    assert plan["before"] == {
        INHERITED: {"retention.ms": {"value": WEEK, "overridden": False}},
        OVERRIDDEN: {"retention.ms": {"value": TWO_DAYS, "overridden": True}},
    }
    assert changer.apply({"cluster": "real"}, plan) == {
        INHERITED: {"retention.ms": DAY},
        OVERRIDDEN: {"retention.ms": DAY},
    }
    assert described(kafka, INHERITED) == (DAY, TOPIC_OVERRIDE)
    assert described(kafka, OVERRIDDEN) == (DAY, TOPIC_OVERRIDE)

    # Kafka's retention pass (every second here) deletes the expired segments, the active one included (it rolls
    # first); the files leave the disk after file.delete.delay.ms. Three replicas of ~3 MiB go.
    deadline = time.monotonic() + 30
    after_bytes = log_dir_bytes(exporter)
    while before_bytes - after_bytes < 0.9 * 3 * produced and time.monotonic() < deadline:
        time.sleep(0.5)
        after_bytes = log_dir_bytes(exporter)
    assert before_bytes - after_bytes >= 0.9 * 3 * produced, (before_bytes, after_bytes, produced)

    restored = changer.rollback({"cluster": "real"}, plan)
    assert restored["configs"] == {INHERITED: {"retention.ms": WEEK}, OVERRIDDEN: {"retention.ms": TWO_DAYS}}
    # the same source as before, not a pinned copy of today's default
    assert described(kafka, INHERITED) == (WEEK, BROKER_DEFAULT)
    assert described(kafka, OVERRIDDEN) == (TWO_DAYS, TOPIC_OVERRIDE)
