"""Turning JMX rows into series, the catalogue's batch, and the collector with a fake client: pure, no JVM."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.collectors import ClusterFacts
from kafka_obs.exporter.families import Family
from kafka_obs.exporter.jmx import JmxCollector, JmxError, SeriesBuilder
from kafka_obs.exporter.jmx.catalogue import RULES, batch_queries
from kafka_obs.exporter.jmx.query import Query, Row, service_url
from kafka_obs.exporter.jmx.series import parse_object_name
from kafka_obs.exporter.model import Broker, ClusterMetadata


def samples(families: tuple[Family, ...] | list[Family]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (f.name, tuple(zip(f.metric.labels, labels, strict=True))): value
        for f in families
        for labels, value in f.samples
    }


def test_object_names_are_parsed_with_quoted_values() -> None:
    assert parse_object_name("kafka.log:type=Log,name=Size,topic=orders,partition=3") == (
        "kafka.log",
        {"type": "Log", "name": "Size", "topic": "orders", "partition": "3"},
    )
    assert parse_object_name('a:k="x,y=\\"z\\"",n=1') == ("a", {"k": 'x,y="z"', "n": "1"})


BTM = "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            Row(BTM, "Count", None, 1234),
            {("kafka_server_brokertopicmetrics_bytesin_total", (("broker", "1"), ("topic", ""))): 1234},
        ),
        (
            Row(f"{BTM},topic=orders", "Count", None, 99),
            {("kafka_server_brokertopicmetrics_bytesin_total", (("broker", "1"), ("topic", "orders"))): 99},
        ),
        (Row(BTM, "OneMinuteRate", None, 5.0), {}),  # rates are Prometheus's job
        (Row(f"{BTM},topic=orders", "FifteenMinuteRate", None, 5.0), {}),
        (
            Row(
                "kafka.network:type=RequestMetrics,name=TotalTimeMs,request=FetchFollower",
                "999thPercentile",
                None,
                501.5,
            ),
            {
                (
                    "kafka_network_requestmetrics_totaltimems",
                    (("broker", "1"), ("request", "FetchFollower"), ("quantile", "0.999")),
                ): 501.5
            },
        ),
        (Row("kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce", "Mean", None, 3.0), {}),
        (
            Row(
                "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent",
                "OneMinuteRate",
                None,
                1.02,
            ),
            {("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent", (("broker", "1"),)): 1.0},
        ),
        (
            Row("kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent", "Value", None, 0.25),
            {("kafka_network_socketserver_networkprocessoravgidlepercent", (("broker", "1"),)): 0.25},
        ),
        (
            Row("java.lang:type=GarbageCollector,name=G1 Old Generation", "CollectionTime", None, 1500),
            {("jvm_gc_collection_seconds_total", (("broker", "1"), ("gc", "G1 Old Generation"))): 1.5},
        ),
        (Row("java.lang:type=Memory", "HeapMemoryUsage", "max", -1), {}),  # undefined max
        (
            Row("java.lang:type=Memory", "HeapMemoryUsage", "used", 10),
            {("jvm_memory_used_bytes", (("broker", "1"), ("area", "heap"))): 10},
        ),
        (
            Row("kafka.log:type=Log,name=Size,topic=t,partition=2", "Value", None, 77),
            {("kafka_log_log_size", (("broker", "1"), ("topic", "t"), ("partition", "2"))): 77},
        ),
        (
            Row("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions", "Value", None, 4),
            {("kafka_server_replicamanager_underreplicatedpartitions", (("broker", "1"),)): 4},
        ),
        (Row("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions,extra=1", "Value", None, 4), {}),
        (Row("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions", "Value", None, float("nan")), {}),
        (Row("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions", "Value", None, "n/a"), {}),
        (Row("kafka.server:type=SomethingNew,name=X", "Value", None, 1), {}),
    ],
)
def test_rows_become_series_by_the_catalogue(row: Row, expected: dict[Any, float]) -> None:
    assert samples(SeriesBuilder().families("1", [row])) == expected


def test_the_broker_id_comes_from_app_info() -> None:
    builder = SeriesBuilder()
    assert builder.broker_id([Row("kafka.server:type=app-info,id=42", "Version", None, "3.7.0")]) == "42"
    assert builder.broker_id([Row(BTM, "Count", None, 1)]) is None


def test_one_batch_holds_every_pattern_once_with_all_its_attributes() -> None:
    queries = {q.pattern: q.attributes for q in batch_queries()}
    assert len(queries) == len(batch_queries())
    for rule in RULES:
        wanted = {attribute.split("/", 1)[0] for attribute in rule.attributes}
        assert wanted <= set(queries[rule.pattern]), rule.metric
    assert queries["java.lang:type=GarbageCollector,*"] == ("CollectionCount", "CollectionTime")
    assert queries["java.lang:type=Memory"] == ("HeapMemoryUsage",)
    assert queries["kafka.server:type=app-info,*"] == ("Version",)


SECRET = 'pa ss"w\\rd'

# -- the collector, with a fake client --------------------------------------------------------------------------------


class FakeClient:
    def __init__(self, answers: dict[str, list[Row] | JmxError]):
        self.answers = answers
        self.calls: list[str] = []

    def query(
        self,
        url: str,
        queries: Sequence[Query],
        *,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
    ) -> list[Row]:
        self.calls.append(url)
        answer = self.answers[url]
        if isinstance(answer, JmxError):
            raise answer
        return answer


CLUSTER = Cluster(
    name="c1",
    region="eu",
    environment="production",
    brokers=["10.0.0.1:9092", "10.0.0.2:9092", "10.0.0.3:9092"],
    jmx_ports=[9999, 9999, 9999],
    jmx={"username": "monitor", "password": SECRET},
)
UP = "kafka_jmx_up"


def rows_of(broker_id: int, urp: int) -> list[Row]:
    return [
        Row(f"kafka.server:type=app-info,id={broker_id}", "Version", None, "3.7.0"),
        Row("kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions", "Value", None, urp),
    ]


def test_one_batch_per_broker_and_a_failing_broker_only_loses_its_own_series(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeClient(
        {
            service_url("10.0.0.1", 9999): rows_of(1, 0),
            service_url("10.0.0.2", 9999): JmxError("authentication", "authentication failed: SecurityException"),
            service_url("10.0.0.3", 9999): rows_of(3, 2),
        }
    )
    collector = JmxCollector(CLUSTER, client=client)
    metadata = ClusterMetadata("id", 1, (Broker(1, "10.0.0.1", 9092), Broker(2, "10.0.0.2", 9092)), {})
    with caplog.at_level(logging.DEBUG):
        got = samples(tuple(collector.collect(ClusterFacts(CLUSTER, metadata, 0.0))))
    collector.close()
    assert sorted(client.calls) == sorted({service_url(f"10.0.0.{i}", 9999) for i in (1, 2, 3)})
    assert got[(UP, (("broker", "1"),))] == 1
    assert got[(UP, (("broker", "2"),))] == 0  # named by the cycle's Metadata
    assert got[(UP, (("broker", "3"),))] == 1
    urp = "kafka_server_replicamanager_underreplicatedpartitions"
    assert {k: v for k, v in got.items() if k[0] == urp} == {(urp, (("broker", "1"),)): 0, (urp, (("broker", "3"),)): 2}
    failures = [r for r in caplog.records if r.getMessage() == "broker JMX unreadable"]
    assert len(failures) == 1
    assert failures[0].reason == "authentication"  # type: ignore[attr-defined]
    assert failures[0].broker == "2"  # type: ignore[attr-defined]
    assert all(SECRET not in str(vars(r)) for r in caplog.records)


def test_a_broker_down_since_startup_is_named_by_its_address_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeClient({service_url(f"10.0.0.{i}", 9999): JmxError("unreachable", "refused") for i in (1, 2, 3)})
    collector = JmxCollector(CLUSTER, client=client)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            got = samples(tuple(collector.collect(ClusterFacts(CLUSTER, None, 0.0))))
    collector.close()
    assert {k: v for k, v in got.items() if k[0] == UP} == {
        (UP, (("broker", f"10.0.0.{i}:9092"),)): 0 for i in (1, 2, 3)
    }
    assert len([r for r in caplog.records if r.levelno >= logging.INFO]) == 3  # one per broker, not per cycle


def test_a_cluster_without_jmx_ports_has_no_jmx_series() -> None:
    cluster = CLUSTER.model_copy(update={"jmx_ports": None})
    assert list(JmxCollector(cluster, client=FakeClient({})).collect(ClusterFacts(cluster, None, 0.0))) == []


def test_per_partition_log_sizes_are_read_only_when_a_cluster_asks() -> None:
    """They are one MBean per partition replica (half a broker's MBeans) and repeat DescribeLogDirs' sizes."""
    from kafka_obs.exporter.jmx.catalogue import PARTITION_SIZES, RULES, batch_queries, rules_for

    size_pattern = next(rule.query().pattern for rule in RULES if rule.metric == PARTITION_SIZES)
    assert size_pattern not in {q.pattern for q in batch_queries(rules_for(partition_sizes=False, topic_meters=True))}
    assert size_pattern in {q.pattern for q in batch_queries(rules_for(partition_sizes=True, topic_meters=True))}
    assert len(rules_for(partition_sizes=False, topic_meters=True)) == len(RULES) - 1


def test_per_topic_meters_are_read_only_when_a_cluster_asks() -> None:
    """Five BrokerTopicMetrics meters per topic are most of a broker's MBeans once partition sizes are off."""
    from kafka_obs.exporter.jmx.catalogue import TOPIC_METERS, batch_queries, rules_for

    def meters(topic_meters: bool) -> set[str]:
        queries = batch_queries(rules_for(partition_sizes=False, topic_meters=topic_meters))
        return {q.pattern for q in queries if q.pattern.startswith(TOPIC_METERS)}

    assert len(meters(False)) == 5
    assert all(not p.endswith(",*") for p in meters(False))  # the exact broker-wide ObjectNames
    assert {p + ",*" for p in meters(False)} == meters(True)  # the same meters, every topic too
