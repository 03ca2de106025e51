"""The end-to-end canary against an in-memory cluster on a ManualClock: topic layout, accounting and exposition."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from kafka_obs.clock import ManualClock
from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.canary import (
    Canary,
    CanaryPartition,
    CanaryRunner,
    DeliveryReport,
    TopicLayout,
    preferred_assignment,
)
from kafka_obs.exporter.families import find
from kafka_obs.exporter.store import SnapshotStore


@dataclass
class _InFlight:
    partition: int
    value: bytes
    ack_at: float
    arrive_at: float | None
    on_delivery: DeliveryReport
    latency: float


@dataclass
class FakeCanaryCluster:
    """Brokers that ack after a per-broker delay and may drop (ack, never store) or fail messages."""

    clock: ManualClock
    brokers: tuple[int, ...] = (1, 2, 3)
    partitions: list[CanaryPartition] | None = None
    ack_delay: dict[int, float] = field(default_factory=dict)
    drop: set[int] = field(default_factory=set)
    fail: set[int] = field(default_factory=set)
    refuse: bool = False
    calls: list[str] = field(default_factory=list)
    in_flight: list[_InFlight] = field(default_factory=list)
    assigned: tuple[int, ...] = ()

    def layout(self, topic: str) -> TopicLayout:
        return TopicLayout(self.brokers, tuple(self.partitions) if self.partitions is not None else None)

    def create_topic(self, topic: str, assignment: Sequence[Sequence[int]]) -> None:
        self.calls.append(f"create {topic} {[list(r) for r in assignment]}")
        self.partitions = [CanaryPartition(i, r[0], tuple(r)) for i, r in enumerate(assignment)]

    def add_partitions(self, topic: str, total: int, assignment: Sequence[Sequence[int]]) -> None:
        self.calls.append(f"add {total} {[list(r) for r in assignment]}")
        assert self.partitions is not None
        start = len(self.partitions)
        self.partitions += [CanaryPartition(start + i, r[0], tuple(r)) for i, r in enumerate(assignment)]

    def elect_preferred(self, topic: str, partitions: Sequence[int]) -> None:
        self.calls.append(f"elect {list(partitions)}")

    def _leader(self, partition: int) -> int:
        assert self.partitions is not None
        return self.partitions[partition].leader

    def produce(self, topic: str, partition: int, value: bytes, on_delivery: DeliveryReport) -> None:
        if self.refuse:
            raise BufferError("Local: Queue full")
        broker = self._leader(partition)
        delay = self.ack_delay.get(broker, 0.0)
        ack_at = self.clock.monotonic() + delay
        arrive_at = None if broker in self.drop else ack_at + 0.01
        self.in_flight.append(_InFlight(partition, value, ack_at, arrive_at, on_delivery, delay))

    def poll(self, timeout: float) -> None:
        now = self.clock.monotonic()
        for message in self.in_flight:
            if message.ack_at <= now and message.on_delivery is not _done:
                failed = self._leader(message.partition) in self.fail
                # like librdkafka, the latency is measured when the ack arrives, not when the report is served
                message.on_delivery("Broker: Not enough in-sync replicas" if failed else None, message.latency)
                message.on_delivery = _done
                if failed:
                    message.arrive_at = None

    def assign(self, topic: str, partitions: Sequence[int]) -> None:
        self.assigned = tuple(partitions)

    def consume(self, timeout: float) -> list[tuple[int, bytes]]:
        now = self.clock.monotonic()
        ready = [
            m for m in self.in_flight if m.arrive_at is not None and m.arrive_at <= now and m.partition in self.assigned
        ]
        for m in ready:
            m.arrive_at = None
        return [(m.partition, m.value) for m in ready]

    def close(self) -> None:
        self.calls.append("close")


def _done(error: str | None, latency: float | None) -> None:
    raise AssertionError("delivery reported twice")


def _cluster(**canary: object) -> Cluster:
    return Cluster.model_validate(
        {
            "name": "prod-1",
            "region": "eu",
            "environment": "production",
            "brokers": ["b1:9092"],
            "canary": {"enabled": True, "interval": "1s", "sla": "5s", **canary},
        }
    )


def _setup(**fake: object) -> tuple[ManualClock, FakeCanaryCluster, Canary]:
    clock = ManualClock()
    kafka = FakeCanaryCluster(clock, **fake)  # type: ignore[arg-type]
    canary = Canary(_cluster(), kafka, clock, instance="me")
    canary.ensure_topic()
    return clock, kafka, canary


def _sample(canary: Canary, metric: str, partition: int, broker: int, suffix: str = "") -> float:
    labels = (str(partition), str(broker), suffix) if suffix else (str(partition), str(broker))
    values = [v for lv, v in find(canary.families(), metric) if lv == labels]
    assert len(values) == 1, (metric, labels)
    return values[0]


def _bucket(canary: Canary, metric: str, partition: int, broker: int, le: str) -> float:
    return _sample(canary, metric, partition, broker, le)


def test_preferred_assignment_gives_every_broker_one_partition_to_lead() -> None:
    assert preferred_assignment([3, 1, 2], 3) == [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
    assert preferred_assignment([1, 2], 3) == [[1, 2], [2, 1]]  # replication never above the broker count


def test_topic_is_created_when_missing_and_consumed_by_assignment() -> None:
    _, kafka, canary = _setup()
    assert kafka.calls == ["create kafka-obs-canary [[1, 2, 3], [2, 3, 1], [3, 1, 2]]"]
    assert canary.leaders == {0: 1, 1: 2, 2: 3}
    assert kafka.assigned == (0, 1, 2)


def test_leadership_is_rechecked_a_new_broker_gets_a_partition_and_misled_ones_an_election() -> None:
    _, kafka, canary = _setup()
    assert kafka.partitions is not None
    kafka.partitions[1] = CanaryPartition(1, 3, (2, 3, 1))  # broker 2 lost leadership of its partition
    kafka.brokers = (1, 2, 3, 4)
    canary.ensure_topic()
    assert kafka.calls[1:] == ["add 4 [[4, 1, 2]]", "elect [1]"]
    canary.ensure_topic()
    assert kafka.assigned == (0, 1, 2, 3)


def test_round_trip_fills_both_histograms_and_buckets_split_at_100ms_and_200ms() -> None:
    clock, _kafka, canary = _setup(ack_delay={1: 0.099, 2: 0.101, 3: 0.199})
    canary.produce_round()
    clock.advance(0.2)
    canary.serve(0)
    metric = "kafka_canary_produce_latency_seconds"
    assert [_bucket(canary, metric, 0, 1, le) for le in ("0.075", "0.1", "0.15", "0.2")] == [0, 1, 1, 1]
    assert [_bucket(canary, metric, 1, 2, le) for le in ("0.075", "0.1", "0.15", "0.2")] == [0, 0, 1, 1]
    assert [_bucket(canary, metric, 2, 3, le) for le in ("0.15", "0.2", "0.3")] == [0, 1, 1]
    for partition, broker in canary.leaders.items():
        assert _sample(canary, metric, partition, broker, "_count") == 1
        assert _sample(canary, "kafka_canary_messages_produced_total", partition, broker) == 1
    assert _sample(canary, "kafka_canary_messages_received_total", 2, 3) == 0  # acked, not consumed yet
    clock.advance(0.01)
    canary.serve(0)
    roundtrip = "kafka_canary_roundtrip_latency_seconds"
    # consumed when the canary looked: partition 0's message (there at 0.109 s) at 0.2 s, partition 2's at 0.21 s
    assert [_bucket(canary, roundtrip, 0, 1, le) for le in ("0.15", "0.3")] == [0, 1]
    assert [_bucket(canary, roundtrip, 2, 3, le) for le in ("0.2", "0.3")] == [0, 1]
    for partition, broker in canary.leaders.items():
        assert _bucket(canary, roundtrip, partition, broker, "+Inf") == 1
        assert _sample(canary, "kafka_canary_messages_received_total", partition, broker) == 1
        assert _sample(canary, "kafka_canary_messages_lost_total", partition, broker) == 0
    assert canary.in_flight == 0


def test_latency_on_one_broker_shows_on_its_partition_only() -> None:
    clock, _kafka, canary = _setup(ack_delay={2: 0.5})
    canary.produce_round()
    clock.advance(0.02)
    canary.serve(0)
    metric = "kafka_canary_produce_latency_seconds"
    assert _bucket(canary, metric, 0, 1, "0.005") == 1
    assert _bucket(canary, metric, 2, 3, "0.005") == 1
    assert _bucket(canary, metric, 1, 2, "+Inf") == 0  # still waiting for the slow broker's ack
    clock.advance(0.5)
    canary.serve(0)
    assert _bucket(canary, metric, 1, 2, "0.3") == 0
    assert _bucket(canary, metric, 1, 2, "0.5") == 1
    assert _sample(canary, metric, 1, 2, "_sum") == pytest.approx(0.5)


def test_dropped_messages_count_as_lost_after_the_sla_and_late_arrivals_change_nothing() -> None:
    clock, kafka, canary = _setup(drop={3})
    canary.produce_round()
    clock.advance(4.9)
    canary.serve(0)
    assert _sample(canary, "kafka_canary_messages_lost_total", 2, 3) == 0  # within the SLA: in flight
    clock.advance(0.1)
    canary.serve(0)
    assert _sample(canary, "kafka_canary_messages_lost_total", 2, 3) == 1
    assert _sample(canary, "kafka_canary_messages_received_total", 2, 3) == 0
    assert _sample(canary, "kafka_canary_messages_lost_total", 0, 1) == 0
    assert _sample(canary, "kafka_canary_messages_received_total", 0, 1) == 1
    late = kafka.in_flight[2]
    canary.received(late.value)  # arrives after being counted lost
    assert _sample(canary, "kafka_canary_messages_received_total", 2, 3) == 0


def test_failed_and_refused_produces_are_errors_not_losses() -> None:
    clock, kafka, canary = _setup(fail={1})
    canary.produce_round()
    canary.serve(0)
    kafka.refuse = True
    canary.produce_round()
    clock.advance(10)
    canary.serve(0)
    assert _sample(canary, "kafka_canary_produce_errors_total", 0, 1) == 2
    assert _sample(canary, "kafka_canary_messages_lost_total", 0, 1) == 0
    assert _sample(canary, "kafka_canary_produce_errors_total", 1, 2) == 1  # the refused round
    assert _sample(canary, "kafka_canary_messages_produced_total", 1, 2) == 2


def test_messages_of_another_instance_or_not_json_are_ignored() -> None:
    _clock, kafka, canary = _setup()
    canary.produce_round()
    mine = json.loads(kafka.in_flight[0].value)
    canary.received(json.dumps({**mine, "instance": "other"}).encode())
    canary.received(b"not json")
    assert _sample(canary, "kafka_canary_messages_received_total", 0, 1) == 0
    canary.received(kafka.in_flight[0].value)
    assert _sample(canary, "kafka_canary_messages_received_total", 0, 1) == 1


def test_runner_publishes_into_the_store_beside_the_cluster_snapshot_in_both_formats() -> None:
    clock, _kafka, canary = _setup(ack_delay={1: 0.2, 2: 0.2, 3: 0.2})
    store = SnapshotStore(["prod-1"], clock)
    runner = CanaryRunner(canary, store, clock)
    canary.produce_round()
    clock.advance(0.2)
    canary.serve(0)
    runner.publish()
    text = store.body(openmetrics=False).decode()
    assert (
        'kafka_canary_produce_latency_seconds_bucket{cluster="prod-1",region="eu",environment="production",'
        'partition="1",broker="2",le="0.2"} 1\n' in text
    )
    families = {f.name: f for f in parse_text(text)}
    histogram = families["kafka_canary_produce_latency_seconds"]
    assert histogram.type == "histogram"
    assert {s.name for s in histogram.samples} == {
        "kafka_canary_produce_latency_seconds_bucket",
        "kafka_canary_produce_latency_seconds_sum",
        "kafka_canary_produce_latency_seconds_count",
    }
    om = {f.name: f for f in parse_openmetrics(store.body(openmetrics=True).decode())}
    assert om["kafka_canary_roundtrip_latency_seconds"].type == "histogram"
    assert om["kafka_canary_messages_produced"].type == "counter"
    before = store.body(openmetrics=False)
    runner.publish()  # nothing changed: the cached body stays
    assert store.body(openmetrics=False) is before
    clock.advance(0.01)
    canary.serve(0)
    runner.publish()
    assert store.body(openmetrics=False) != before
