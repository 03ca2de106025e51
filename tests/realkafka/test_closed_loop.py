"""The disk-pressure loop closes on real Kafka: a real broker's log dir fills up → the exporter's DescribeLogDirs
series → the regional Prometheus raises KafkaBrokerDiskPressure → Alertmanager → the webhook lowers ``retention.ms``
with IncrementalAlterConfigs → Kafka deletes real segments → the disk frees → verification passes → the alert resolves.

The machinery is the sandbox closed loop's (tests/platform/loop.py: the same Stack of real Prometheus, Alertmanager,
exporter and webhook processes, the same test timings); the real cluster joins the sandbox's small fleet in
eu-west-1. It is its own one-node cluster, not the session's: its log dir is a 32 MiB tmpfs (``log_dir_bytes``), the
only way a test can fill a disk, and the alert reads the volume's total and usable bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

from kafka_obs.platform.realkafka import KafkaCluster, KafkaUnavailableError
from kafka_obs.platform.wiring import JoiningCluster
from tests.platform.loop import elapsed, fast_playbooks, started_loop, wait_for
from tests.realkafka.support import admin, create_topic, produce

pytestmark = [pytest.mark.realkafka, pytest.mark.e2e]

EU = "eu-west-1"
DISK = 32 * 2**20
TOPIC = "logs"
THREE_DAYS_AGO_MS = int((time.time() - 3 * 86400) * 1000)


@pytest.fixture(scope="module")
def small_disk_kafka() -> Iterator[KafkaCluster]:
    """One node whose log dir is a 32 MiB tmpfs, filled past 80 % with three-day-old records of one topic (kept for
    the broker's default seven days until the webhook lowers retention)."""
    try:
        kafka = KafkaCluster.create(1, log_dir_bytes=DISK)
    except KafkaUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        kafka.format()
        kafka.start_all()
        create_topic(kafka, TOPIC, partitions=1, replication=1)
        produce(kafka, TOPIC, 27 * 1024, 1024, timestamp_ms=THREE_DAYS_AGO_MS)  # 27 MiB of 32
        yield kafka
    finally:
        kafka.close()


def retention(kafka: KafkaCluster) -> tuple[str | None, bool]:
    client = admin(kafka)
    [future] = client.describe_configs([ConfigResource(ResourceType.TOPIC, TOPIC)]).values()
    entry = future.result(timeout=10)["retention.ms"]
    return entry.value, int(getattr(entry.source, "value", entry.source)) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def test_disk_pressure_on_a_real_broker_is_remediated_end_to_end(small_disk_kafka: KafkaCluster) -> None:
    kafka = small_disk_kafka
    entry = {
        "name": "real",
        "region": EU,
        "environment": "staging",
        "brokers": [node.address for node in kafka.nodes],
    }
    assert retention(kafka) == ("604800000", False)  # inherited from the broker default
    playbooks = fast_playbooks(deadline="30s", interval="1s", initial_delay=0)
    with started_loop(deployments=[], playbooks=playbooks, joining=[JoiningCluster(entry, {TOPIC: "normal"})]) as loop:
        started = time.monotonic()
        used = 'max(1 - kafka_log_dir_usable_bytes{cluster="real"} / kafka_log_dir_total_bytes{cluster="real"})'
        wait_for(
            lambda: (loop.value(loop.regional(EU), used) or 0) > 0.8, 30, "the real log dir above 80 % in eu-west-1"
        )
        wait_for(
            lambda: loop.alerts(loop.regional(EU), "KafkaBrokerDiskPressure", cluster="real", broker="1"),
            60,
            "KafkaBrokerDiskPressure for the real broker",
        )

        def remediations() -> list[dict[str, Any]]:
            return loop.remediations(alertname="KafkaBrokerDiskPressure", cluster="real")

        wait_for(
            lambda: [r["state"] for r in remediations()] == ["succeeded"],
            90,
            "retention lowered on real Kafka and verified",
            show=lambda: [(r["alertname"], r["state"], r["reason"]) for r in loop.remediations()],
        )
        assert retention(kafka) == ("86400000", True)  # DescribeConfigs on the real broker: 24 h, set on the topic
        assert (loop.value(loop.regional(EU), used) or 1) < 0.8
        [remediation] = remediations()
        story = loop.audit(incident_id=remediation["incident_id"])
        [applied] = [r for r in story if r["event"] == "action_applied"]
        assert applied["data"]["after"] == {TOPIC: {"retention.ms": "86400000"}}
        wait_for(
            lambda: not loop.alerts(loop.regional(EU), "KafkaBrokerDiskPressure", cluster="real"),
            60,
            "the alert to resolve",
        )
        print(f"real-Kafka disk-pressure loop: {elapsed(started)} s after the stack was up")
