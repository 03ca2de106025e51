"""Faults on real Kafka: a crashed broker, a hung broker, and the way back.

Each test breaks the session cluster through the ``healthy`` fixture, which restarts or resumes the node and waits
until every ISR is full again before the next test.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from kafka_obs.exporter.app import Exporter
from kafka_obs.platform.realkafka import KafkaCluster
from tests.exporter.scrape import Series
from tests.realkafka.world import World, cycle, exporter_for, independent, of

pytestmark = pytest.mark.realkafka

TIMEOUT = 3.0
"""The exporter's request timeout in these tests: what bounds a cycle when a broker hangs."""


def total(series: Series, name: str) -> float:
    found = of(series, name)
    assert len(found) == 1, f"{name}: {found}"
    return next(iter(found.values()))


def cycle_until(exporter: Exporter, condition: Callable[[Series], bool], timeout: float) -> tuple[Series, list[float]]:
    """Cycles until ``condition(series)``; returns the last series and every cycle's duration."""
    durations = []
    deadline = time.monotonic() + timeout
    while True:
        started = time.monotonic()
        series = cycle(exporter)
        durations.append(time.monotonic() - started)
        if condition(series) or time.monotonic() > deadline:
            return series, durations
        time.sleep(0.5)


def test_a_killed_broker_shows_and_its_return_clears(world: World, healthy: KafkaCluster) -> None:
    kafka = healthy
    exporter = exporter_for(kafka, timeout=TIMEOUT)
    victim = 3
    try:
        series = cycle(exporter)
        assert total(series, "kafka_brokers") == 3
        assert total(series, "kafka_cluster_under_replicated_partitions") == 0
        assert total(series, "kafka_cluster_under_min_isr_partitions") == 0

        kafka.kill_node(victim)
        series, durations = cycle_until(
            exporter,
            lambda s: total(s, "kafka_brokers") == 2 and total(s, "kafka_cluster_under_replicated_partitions") > 0,
            timeout=30,
        )
        assert total(series, "kafka_brokers") == 2
        assert (("id", str(victim))) not in {kv for k in of(series, "kafka_broker_info") for kv in k}
        # every partition that had a replica on the victim is under-replicated; "strict" (min ISR 3) is under min
        truth = independent(world)
        assert (
            of(series, "kafka_cluster_under_replicated_partitions")
            == truth["kafka_cluster_under_replicated_partitions"]
        )
        assert of(series, "kafka_cluster_under_min_isr_partitions") == truth["kafka_cluster_under_min_isr_partitions"]
        assert total(series, "kafka_cluster_under_min_isr_partitions") >= 2
        for name in ("kafka_topic_partition_leader", "kafka_topic_partition_in_sync_replica"):
            assert of(series, name) == truth[name], name
        assert victim not in set(of(series, "kafka_topic_partition_leader").values())
        # the cycle stays on time: until the controller fences the broker, the requests that went to it wait out the
        # request timeout (ListGroups, group requests it coordinates, ListOffsets, DescribeLogDirs)
        assert max(durations) < 5 * TIMEOUT + 1, durations
        assert total(series, "kafka_cluster_up") == 1

        kafka.restart_node(victim)
        series, _ = cycle_until(
            exporter, lambda s: total(s, "kafka_cluster_under_replicated_partitions") == 0, timeout=30
        )
        assert total(series, "kafka_brokers") == 3
        assert total(series, "kafka_cluster_under_min_isr_partitions") == 0
        assert total(series, "kafka_cluster_up") == 1
    finally:
        exporter.stop()


def test_a_hung_broker_bounds_the_cycle_by_the_timeouts(world: World, healthy: KafkaCluster) -> None:
    """SIGSTOP: the broker's sockets stay open and nothing answers, the worst case for a client.

    The hung broker is one that is not the active controller: when the quorum leader hangs, the live brokers
    themselves answered ListGroups only after ~2.5 s (and with errors) for two cycles while the quorum elected
    another leader (Kafka 4.4), which is the cluster's own failover and not a request waiting on the hung broker.
    """
    kafka = healthy
    exporter = exporter_for(kafka, timeout=TIMEOUT)
    try:
        controller = int(total(cycle(exporter), "kafka_controller_id"))
        hung = next(node for node in (2, 3, 1) if node != controller)
        kafka.pause_node(hung)
        durations = []
        for _ in range(4):
            started = time.monotonic()
            series = cycle(exporter)
            durations.append(time.monotonic() - started)
            # one hung broker never takes the cluster down (librdkafka alone kept asking it for Metadata)
            assert total(series, "kafka_cluster_up") == 1
        # the bound, before the controller fences it: requests that can each wait out one timeout on it (ListGroups,
        # DescribeGroups and OffsetFetch if it coordinates groups, ListOffsets earliest and latest together,
        # DescribeLogDirs), plus Metadata's hedge delay and DescribeQuorum's budget (1 s and 2 s here); measured 6.05 s
        assert max(durations) < 5 * TIMEOUT + 3, durations
        # once the controller has fenced it (broker.session.timeout.ms 3 s), it is reported as gone
        series, _ = cycle_until(exporter, lambda s: total(s, "kafka_brokers") == 2, timeout=20)
        assert total(series, "kafka_brokers") == 2
        assert total(series, "kafka_cluster_up") == 1
        # once fenced, no request waits on it: Metadata and DescribeQuorum ask the broker that answered last (a
        # hedged request), the others go to the brokers of that answer (measured 0.05 s per cycle; librdkafka's
        # Metadata and kafka-python's "least loaded" DescribeQuorum each cost a timeout here before)
        settled = []
        for _ in range(3):
            started = time.monotonic()
            series = cycle(exporter)
            settled.append(time.monotonic() - started)
            assert total(series, "kafka_cluster_up") == 1
        assert max(settled) < TIMEOUT, settled
        kafka.resume_node(hung)
        kafka.wait_ready(timeout=60)
        series, _ = cycle_until(
            exporter,
            lambda s: total(s, "kafka_brokers") == 3 and total(s, "kafka_cluster_under_replicated_partitions") == 0,
            timeout=30,
        )
        assert total(series, "kafka_brokers") == 3
    finally:
        exporter.stop()
