"""The JMX collector against the sandbox's JMX responder over real JMX/RMI, through the real helper JVM."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.collectors import ClusterFacts
from kafka_obs.exporter.jmx import JmxCollector, JmxHelper
from kafka_obs.sandbox.jmx import (
    BrokerJmxState,
    JmxResponder,
    RequestLatency,
    TopicTraffic,
    kafka_beans,
)

PASSWORD = "jmx-s3cret"


def state(broker_id: int, **overrides: Any) -> BrokerJmxState:
    base: dict[str, Any] = {
        "broker_id": broker_id,
        "topics": {
            "orders": TopicTraffic(bytes_in=10_000 * broker_id, bytes_out=30_000, messages_in=100 * broker_id),
            "audit": TopicTraffic(bytes_in=5, messages_in=1, produce_requests=1, bytes_in_per_second=3.0),
        },
        "under_replicated_partitions": broker_id - 1,
        "partition_count": 12,
        "leader_count": 4,
        "active_controller": broker_id == 1,
        "offline_partitions": 1 if broker_id == 1 else 0,
        "isr_shrinks": 6,
        "request_latency": {"Produce": RequestLatency(10, {"p50": 2.0, "p99": 20.0 + broker_id})},
        "request_handler_idle_ratio": 0.8,
        "log_sizes": {("orders", 0): 1000 + broker_id},
        "heap_used_bytes": 123_000_000,
        "heap_max_bytes": 1_073_741_824,
        "gc": {"G1 Young Generation": (5, 250)},
    }
    return BrokerJmxState(**(base | overrides))


def cluster(name: str, ports: list[int], *, password: str = PASSWORD) -> Cluster:
    return Cluster(
        name=name,
        region="eu-west",
        environment="production",
        brokers=[f"127.0.0.1:{19092 + i}" for i in range(len(ports))],
        jmx_ports=ports,
        jmx={"username": "monitor", "password": password, "timeout": 20, "partition_sizes": True, "topic_meters": True},
    )


def collect(target: Cluster, client: JmxHelper) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    collector = JmxCollector(target, client=client)
    try:
        families = tuple(collector.collect(ClusterFacts(target, None, 0.0)))
    finally:
        collector.close()
    return {
        (f.name, tuple(zip(f.metric.labels, labels, strict=True))): value
        for f in families
        for labels, value in f.samples
    }


@pytest.fixture(scope="module")
def fleet(responder: JmxResponder) -> list[int]:
    """Three brokers with credentials; broker 3 is an "older Kafka" without UnderMinIsrPartitionCount."""
    ports = []
    for broker_id in (1, 2, 3):
        ports.append(responder.open_broker(f"e2e/{broker_id}", username="monitor", password=PASSWORD))
        responder.publish(f"e2e/{broker_id}", kafka_beans(state(broker_id)))
    responder.remove_bean("e2e/3", "kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount")
    return ports


def one(series: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return series[(name, tuple(labels.items()))]


def test_series_equal_what_the_brokers_were_fed(jmx_helper: JmxHelper, fleet: list[int]) -> None:
    got = collect(cluster("fed", fleet), jmx_helper)
    for broker_id in (1, 2, 3):
        b = str(broker_id)
        fed = state(broker_id)
        assert one(got, "kafka_jmx_up", broker=b) == 1
        assert one(got, "kafka_server_brokertopicmetrics_bytesin_total", broker=b, topic="") == 10_000 * broker_id + 5
        assert one(got, "kafka_server_brokertopicmetrics_bytesin_total", broker=b, topic="orders") == 10_000 * broker_id
        assert one(got, "kafka_server_brokertopicmetrics_messagesin_total", broker=b, topic="audit") == 1
        assert one(got, "kafka_server_brokertopicmetrics_totalproducerequests_total", broker=b, topic="audit") == 1
        assert (
            one(got, "kafka_server_replicamanager_underreplicatedpartitions", broker=b)
            == fed.under_replicated_partitions
        )
        assert one(got, "kafka_server_replicamanager_isrshrinks_total", broker=b) == 6
        assert one(got, "kafka_controller_kafkacontroller_activecontrollercount", broker=b) == int(broker_id == 1)
        assert one(got, "kafka_controller_kafkacontroller_offlinepartitionscount", broker=b) == fed.offline_partitions
        assert (
            one(got, "kafka_network_requestmetrics_totaltimems", broker=b, request="Produce", quantile="0.99")
            == 20.0 + broker_id
        )
        assert one(got, "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent", broker=b) == 0.8
        assert one(got, "kafka_log_log_size", broker=b, topic="orders", partition="0") == 1000 + broker_id
        assert one(got, "jvm_memory_used_bytes", broker=b, area="heap") == 123_000_000
        assert one(got, "jvm_gc_collection_seconds_total", broker=b, gc="G1 Young Generation") == 0.25
        assert one(got, "jvm_gc_collections_total", broker=b, gc="G1 Young Generation") == 5
    assert (
        sum(v for (name, _), v in got.items() if name == "kafka_controller_kafkacontroller_activecontrollercount") == 1
    )
    # The meters' own rates (audit has a 3.0/s OneMinuteRate) never become series.
    assert not [name for name, _ in got if "rate" in name.lower()]


def test_an_mbean_missing_on_one_broker_is_skipped(jmx_helper: JmxHelper, fleet: list[int]) -> None:
    got = collect(cluster("older", fleet), jmx_helper)
    name = "kafka_server_replicamanager_underminisrpartitioncount"
    assert {labels for n, labels in got if n == name} == {(("broker", "1"),), (("broker", "2"),)}
    assert one(got, "kafka_jmx_up", broker="3") == 1


def test_a_broker_with_jmx_down_reports_up_0_and_the_others_carry_on(
    jmx_helper: JmxHelper, responder: JmxResponder, fleet: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    responder.close_broker("e2e/2")
    try:
        with caplog.at_level(logging.WARNING, logger="kafka_obs.exporter.jmx"):
            got = collect(cluster("down", fleet), jmx_helper)
    finally:
        responder.open_broker("e2e/2", username="monitor", password=PASSWORD)
    assert one(got, "kafka_jmx_up", broker="1") == 1
    assert one(got, "kafka_jmx_up", broker="127.0.0.1:19093") == 0  # no Metadata in this test: named by address
    assert one(got, "kafka_jmx_up", broker="3") == 1
    assert not [labels for name, labels in got if name.startswith("kafka_server") and ("broker", "2") in labels]
    (record,) = [r for r in caplog.records if r.getMessage() == "broker JMX unreadable"]
    assert record.reason == "unreachable"  # type: ignore[attr-defined]
    assert "Connection refused" in record.err  # type: ignore[attr-defined]


def test_wrong_credentials_give_up_0_and_a_clear_log_line_without_the_password(
    jmx_helper: JmxHelper, fleet: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password"
    with caplog.at_level(logging.DEBUG):
        got = collect(cluster("wrong", fleet, password=wrong), jmx_helper)
    assert {labels[0][1]: v for (name, labels), v in got.items() if name == "kafka_jmx_up"} == {
        f"127.0.0.1:{19092 + i}": 0 for i in range(3)
    }
    failures = [r for r in caplog.records if r.getMessage() == "broker JMX unreadable"]
    assert len(failures) == 3
    assert {r.reason for r in failures} == {"authentication"}  # type: ignore[attr-defined]
    assert all("Invalid username or password" in r.err for r in failures)  # type: ignore[attr-defined]
    text = " ".join(str(vars(r)) for r in caplog.records)
    assert wrong not in text
    assert PASSWORD not in text
