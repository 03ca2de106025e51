"""The canary in a running exporter against the sandbox over TCP: real librdkafka producer (acks=all) and assigned
consumer, the sandbox's CreateTopics, Produce and Fetch, and its per-broker produce faults (control API).

Real time (the canary measures wire latency), so every wait polls the exporter's /metrics body with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kafka_obs.clock import SystemClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.canary_client import ConfluentCanaryClient
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from tests.exporter.scrape import Series, parse, value

sandbox_runtime = pytest.importorskip("kafka_obs.sandbox.runtime")

INTERVAL = 0.2
SLA = 1.5
PRODUCE = "kafka_canary_produce_latency_seconds"


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[Any, Exporter]]:
    clock = SystemClock()
    with sandbox_runtime.Sandbox.start("small", clock=clock) as sb:
        fleet = sb.fleet_config().select(names=["alpha"])
        canary = {"enabled": True, "interval": INTERVAL, "sla": SLA}
        fleet = fleet.model_validate(
            {**fleet.model_dump(mode="python"), "clusters": [{**fleet.clusters[0].model_dump(), "canary": canary}]}
        )
        exporter = Exporter(
            fleet,
            clock=clock,
            client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=2.0),
            canary_client_factory=lambda c: ConfluentCanaryClient(c, timeout=2.0),
        )
        exporter.start_workers()
        try:
            yield sb, exporter
        finally:
            assert exporter.stop() == []


def scrape(exporter: Exporter) -> Series:
    return parse(exporter.store.body(openmetrics=False))


def wait_for(exporter: Exporter, condition: Callable[[Series], bool], timeout: float = 30.0) -> Series:
    deadline = time.monotonic() + timeout
    while True:
        series = scrape(exporter)
        if condition(series):
            return series
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def get(series: Series, name: str, partition: int, broker: int, **labels: str) -> float:
    found = value(series, name, cluster="alpha", partition=str(partition), broker=str(broker), **labels)
    return found if found is not None else 0.0


def test_canary_fills_histograms_then_shows_a_slow_broker_and_a_lossy_one(env: tuple[Any, Exporter]) -> None:
    sb, exporter = env
    partitions = {0: 1, 1: 2, 2: 3}  # created by the canary: partition i led by the i-th broker
    # a message can be read back before its delivery report is served: wait for five of each
    healthy = wait_for(
        exporter,
        lambda s: all(
            get(s, name, p, b) >= 5
            for p, b in partitions.items()
            for name in ("kafka_canary_messages_received_total", PRODUCE + "_count")
        ),
    )
    for p, b in partitions.items():
        assert get(healthy, PRODUCE + "_count", p, b) >= 5
        assert get(healthy, "kafka_canary_roundtrip_latency_seconds_count", p, b) >= 5
        assert get(healthy, "kafka_canary_messages_lost_total", p, b) == 0
        assert get(healthy, "kafka_canary_produce_errors_total", p, b) == 0

    # 300 ms on broker 2: its partition's acks move past the 200 ms bucket, the others' do not
    sb.set_produce_fault("alpha", 2, delay_ms=300)
    before = scrape(exporter)
    slow = wait_for(exporter, lambda s: get(s, PRODUCE + "_count", 1, 2) >= get(before, PRODUCE + "_count", 1, 2) + 4)
    sb.set_produce_fault("alpha", 2, delay_ms=0)
    added = get(slow, PRODUCE + "_count", 1, 2) - get(before, PRODUCE + "_count", 1, 2)
    under_200ms = get(slow, PRODUCE + "_bucket", 1, 2, le="0.2") - get(before, PRODUCE + "_bucket", 1, 2, le="0.2")
    assert added >= 4
    # at most the messages already acknowledged but not yet published when the fault began
    assert under_200ms <= 2
    for p, b in ((0, 1), (2, 3)):
        others = get(slow, PRODUCE + "_count", p, b) - get(before, PRODUCE + "_count", p, b)
        fast = get(slow, PRODUCE + "_bucket", p, b, le="0.2") - get(before, PRODUCE + "_bucket", p, b, le="0.2")
        assert others >= 3
        assert fast >= others - 2

    # broker 3 acknowledges and keeps nothing: its partition's messages are lost after the SLA, no produce error
    sb.set_produce_fault("alpha", 3, drop=True)
    lossy = wait_for(exporter, lambda s: get(s, "kafka_canary_messages_lost_total", 2, 3) >= 3)
    sb.set_produce_fault("alpha", 3, drop=False)
    assert get(lossy, "kafka_canary_produce_errors_total", 2, 3) == 0
    assert get(lossy, "kafka_canary_messages_lost_total", 0, 1) == 0
    assert get(lossy, "kafka_canary_messages_lost_total", 1, 2) == 0
