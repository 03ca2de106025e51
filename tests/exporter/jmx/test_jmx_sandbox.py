"""End to end: the sandbox's simulation feeds its JMX responder; the exporter's own cycle reads it with the JMX
plug-in; the series equal the simulation's numbers, before and after a broker stops."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import JmxSettings
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.exporter.jmx import JmxHelper, jmx_collectors
from kafka_obs.sandbox.jmx import JavaUnavailable, SandboxJmx
from kafka_obs.sandbox.runtime import Sandbox

CLUSTER = "alpha"
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Rig:
    sandbox: Sandbox
    jmx: SandboxJmx
    exporter: Exporter
    clock: ManualClock

    def cycle(self) -> Series:
        """Publish the simulation's current numbers, run one exporter cycle, return the cluster's JMX series."""
        self.jmx.refresh()
        self.exporter.collect_once()
        snapshot = self.exporter.store.snapshots()[CLUSTER]
        return {
            (f.name, tuple(zip(f.metric.labels, labels, strict=True))): value
            for f in snapshot.plugins
            for labels, value in f.samples
        }


@pytest.fixture(scope="module")
def rig(jmx_helper: JmxHelper) -> Iterator[Rig]:
    clock = ManualClock()
    with Sandbox.start("small", clock=clock, control=None) as sandbox:
        try:
            jmx = SandboxJmx.start(sandbox, username="monitor", password="sandbox-jmx")
        except JavaUnavailable as exc:
            pytest.skip(str(exc))
        try:
            fleet = sandbox.fleet_config().select(names=[CLUSTER])
            cluster = fleet.clusters[0]
            assert cluster.jmx_ports == [jmx.port(CLUSTER, b) for b in (1, 2, 3)]
            credentials = JmxSettings(
                username="monitor", password="sandbox-jmx", partition_sizes=True, topic_meters=True
            )
            fleet = fleet.model_copy(update={"clusters": [cluster.model_copy(update={"jmx": credentials})]})
            exporter = Exporter(
                fleet,
                clock=clock,
                client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=10),
                plugin_factories=[jmx_collectors(jmx_helper)],
            )
            yield Rig(sandbox, jmx, exporter, clock)
            exporter.stop()
        finally:
            jmx.stop()


def value(series: Series, name: str, **labels: str) -> float:
    return series[(name, tuple(labels.items()))]


def assert_matches_simulation(rig: Rig, series: Series) -> None:
    for broker_id in (1, 2, 3):
        stats = rig.sandbox.cluster(CLUSTER).broker_stats(broker_id)
        if not stats.up:
            continue
        b = str(broker_id)
        assert value(series, "kafka_jmx_up", broker=b) == 1
        assert value(series, "kafka_server_brokertopicmetrics_bytesin_total", broker=b, topic="") == int(
            stats.bytes_in_total
        )
        assert value(series, "kafka_server_brokertopicmetrics_messagesin_total", broker=b, topic="") == int(
            stats.messages_in_total
        )
        for topic, traffic in stats.topics.items():
            assert value(series, "kafka_server_brokertopicmetrics_bytesin_total", broker=b, topic=topic) == int(
                traffic["bytes_in_total"]
            )
        assert value(series, "kafka_server_replicamanager_underreplicatedpartitions", broker=b) == (
            stats.under_replicated_partitions
        )
        assert value(series, "kafka_server_replicamanager_leadercount", broker=b) == stats.leader_count
        assert (
            value(series, "kafka_controller_kafkacontroller_activecontrollercount", broker=b) == stats.active_controller
        )
        assert value(series, "kafka_controller_kafkacontroller_offlinepartitionscount", broker=b) == (
            stats.offline_partitions
        )
        for (topic, partition), size in stats.log_sizes.items():
            assert value(series, "kafka_log_log_size", broker=b, topic=topic, partition=str(partition)) == size
    controllers = [
        v for (name, _), v in series.items() if name == "kafka_controller_kafkacontroller_activecontrollercount"
    ]
    assert sum(controllers) == 1


def test_counters_grow_with_the_simulated_produce_rate(rig: Rig) -> None:
    rig.clock.advance(30)
    first = rig.cycle()
    assert_matches_simulation(rig, first)
    rig.clock.advance(60)
    second = rig.cycle()
    assert_matches_simulation(rig, second)
    grew = [
        b
        for b in ("1", "2", "3")
        if value(second, "kafka_server_brokertopicmetrics_bytesin_total", broker=b, topic="")
        > value(first, "kafka_server_brokertopicmetrics_bytesin_total", broker=b, topic="")
    ]
    assert grew, "no broker's bytes-in counter grew in 60 simulated seconds"


def test_a_stopped_broker_loses_its_jmx_and_the_others_report_the_consequences(rig: Rig) -> None:
    rig.sandbox.stop_broker(CLUSTER, 2)
    try:
        rig.clock.advance(5)
        series = rig.cycle()
        assert value(series, "kafka_jmx_up", broker="2") == 0  # named by the cycle's Metadata / its last report
        assert not [
            labels for (name, labels) in series if name.startswith("kafka_server") and ("broker", "2") in labels
        ]
        assert_matches_simulation(rig, series)
        urp = sum(
            v for (name, _), v in series.items() if name == "kafka_server_replicamanager_underreplicatedpartitions"
        )
        assert urp > 0  # broker 2's replicas left the ISRs of partitions led elsewhere
    finally:
        rig.sandbox.start_broker(CLUSTER, 2)
    rig.clock.advance(120)
    series = rig.cycle()
    assert value(series, "kafka_jmx_up", broker="2") == 1
    assert_matches_simulation(rig, series)
