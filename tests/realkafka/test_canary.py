"""The end-to-end canary on real Kafka: the exporter creates its topic with a partition led by every broker, the round
trip fills the histograms, and a hung broker (SIGSTOP: sockets open, no answer) shows up as lost or slow messages
on the partition it leads, while the other brokers' partitions keep delivering.

Real time (the canary measures wire latency), so every wait polls the exporter's snapshot with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from kafka_obs.clock import SystemClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.canary_client import ConfluentCanaryClient
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.platform.realkafka import KafkaCluster
from tests.exporter.scrape import Series, parse
from tests.realkafka.support import cluster_config

pytestmark = pytest.mark.realkafka

INTERVAL = 0.5
SLA = 4.0
TIMEOUT = 3.0
PRODUCE = "kafka_canary_produce_latency_seconds"
ROUNDTRIP = "kafka_canary_roundtrip_latency_seconds"


@pytest.fixture(scope="module")
def exporter(kafka: KafkaCluster) -> Iterator[Exporter]:
    base = cluster_config(kafka, "canary")
    cluster = base.model_validate(
        {**base.model_dump(), "jmx_ports": None, "canary": {"enabled": True, "interval": INTERVAL, "sla": SLA}}
    )
    from kafka_obs.config.clusters import FleetConfig

    fleet = FleetConfig.model_validate({"clusters": [cluster.model_dump()]})
    app = Exporter(
        fleet,
        clock=SystemClock(),
        client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=TIMEOUT),
        canary_client_factory=lambda c: ConfluentCanaryClient(c, timeout=TIMEOUT),
    )
    app.start_workers()
    try:
        yield app
    finally:
        assert app.stop() == []
        # the canary's topic leaves the shared session cluster with the module: later tests read every topic
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers, "log_level": 3})
        admin.delete_topics(["kafka-obs-canary"], operation_timeout=30)["kafka-obs-canary"].result(timeout=60)


def scrape(app: Exporter) -> Series:
    return parse(app.store.body(openmetrics=False))


def per_partition(series: Series, name: str, **labels: str) -> dict[tuple[str, str], float]:
    """(partition, leading broker) → value, for the canary cluster's series ``name``."""
    out: dict[tuple[str, str], float] = {}
    for (metric, pairs), value in series.items():
        have = dict(pairs)
        if metric == name and have.get("cluster") == "canary" and all(have.get(k) == v for k, v in labels.items()):
            out[(have["partition"], have["broker"])] = value
    return out


def wait_for(app: Exporter, what: str, condition: Callable[[Series], bool], timeout: float = 90.0) -> Series:
    deadline = time.monotonic() + timeout
    while True:
        series = scrape(app)
        if condition(series):
            return series
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def test_the_canary_round_trips_through_every_broker_of_a_real_cluster(
    healthy: KafkaCluster, exporter: Exporter
) -> None:
    brokers = {str(node.node_id) for node in healthy.nodes}

    def every_broker_delivered(series: Series) -> bool:
        # the consumer may read a message back before the producer's delivery report for it is served (both
        # arrive on their own connections): wait for three of each, then check they agree
        received = per_partition(series, "kafka_canary_messages_received_total")
        acked = per_partition(series, PRODUCE + "_count")
        return all({b for (_, b), n in values.items() if n >= 3} == brokers for values in (received, acked))

    series = wait_for(exporter, "three acks and round trips through every broker", every_broker_delivered)
    # one partition led by each broker, and every message acknowledged (acks=all) and read back
    assert {b for _, b in per_partition(series, "kafka_canary_messages_produced_total")} == brokers
    for key, count in per_partition(series, PRODUCE + "_count").items():
        assert count >= 3, key
        assert per_partition(series, ROUNDTRIP + "_count")[key] >= 3
    assert sum(per_partition(series, "kafka_canary_produce_errors_total").values()) == 0


def test_a_hung_broker_shows_as_lost_or_slow_messages_on_its_partition(
    healthy: KafkaCluster, exporter: Exporter
) -> None:
    wait_for(exporter, "the canary's first round trips", lambda s: len(per_partition(s, ROUNDTRIP + "_count")) >= 3)
    before = scrape(exporter)
    leaders = {b: p for p, b in per_partition(before, "kafka_canary_messages_produced_total")}
    hung = sorted(leaders)[-1]

    def bad(series: Series, broker: str) -> float:
        """Messages of ``broker``'s partition lost, failed, or acknowledged slower than 200 ms since ``before``."""
        key = (leaders[broker], broker)

        def grew(name: str, **labels: str) -> float:
            return per_partition(series, name, **labels).get(key, 0.0) - per_partition(before, name, **labels).get(
                key, 0.0
            )

        slow = grew(PRODUCE + "_count") - grew(PRODUCE + "_bucket", le="0.2")
        return grew("kafka_canary_messages_lost_total") + grew("kafka_canary_produce_errors_total") + slow

    healthy.pause_node(int(hung))
    try:
        # (with acks=all the other leaders' acks may wait on the hung follower too: only its own partition is checked)
        wait_for(exporter, f"lost or slow messages on broker {hung}'s partition", lambda s: bad(s, hung) >= 2)
    finally:
        healthy.resume_node(int(hung))
