"""The JMX catalogue against real MBeans: every family the exporter's JMX collector can produce is produced by every
node of a real Kafka 4.4 KRaft cluster, and its counters move with real traffic.

Written against the collector's plug-in interface (``jmx_collectors`` → ``collect``) and the catalogue's family
definitions, not against the JMX transport, so it holds whichever client reads the MBeans.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, TopicPartition

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.collectors import ClusterFacts, Collector
from kafka_obs.exporter.jmx import JmxHelper, SeriesBuilder, jmx_collectors
from kafka_obs.platform.realkafka import HEAP, KafkaCluster
from tests.realkafka.support import cluster_config, create_topic, produce

pytestmark = pytest.mark.realkafka

TOPIC = "jmx-traffic"
RECORDS, SIZE = 400, 1000
Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass
class Reader:
    cluster: Cluster
    jmx: Collector


@pytest.fixture(scope="module")
def collector(kafka: KafkaCluster, jmx_helper: JmxHelper) -> Iterator[Reader]:
    # the whole catalogue, per-partition log sizes included (a cluster opts into those with jmx.partition_sizes)
    base = cluster_config(kafka)
    config = base.model_copy(
        update={"jmx": base.jmx.model_copy(update={"partition_sizes": True, "topic_meters": True})}
    )
    [jmx] = jmx_collectors(jmx_helper)(config)
    try:
        yield Reader(config, jmx)
    finally:
        jmx.close()


def collect(reader: Reader) -> Samples:
    """One cycle of the JMX collector: family name → (labels, value) of every sample."""
    out: Samples = {}
    for family in reader.jmx.collect(ClusterFacts(reader.cluster, None, time.time())):
        for labels, value in family.samples:
            out.setdefault(family.name, []).append((dict(zip(family.metric.labels, labels, strict=True)), value))
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for have, v in samples.get(name, []) if all(have.get(k) == want for k, want in labels.items()))


def per_broker(samples: Samples, name: str, **labels: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for have, value in samples.get(name, []):
        if all(have.get(k) == want for k, want in labels.items()):
            out[have["broker"]] = out.get(have["broker"], 0.0) + value
    return out


def test_every_catalogue_family_exists_on_every_kraft_node(kafka: KafkaCluster, collector: Reader) -> None:
    got = collect(collector)
    brokers = {str(node.node_id) for node in kafka.nodes}
    assert per_broker(got, "kafka_jmx_up") == dict.fromkeys(brokers, 1.0)  # broker ids from app-info, all readable
    missing = {
        definition.name: sorted(brokers - set(per_broker(got, definition.name)))
        for definition in SeriesBuilder().definitions
        if brokers - set(per_broker(got, definition.name))
    }
    assert missing == {}, f"catalogue entries a real Kafka 4.4 KRaft node does not expose: {missing}"

    # one active controller in the quorum; on combined nodes every node has the controller MBeans
    assert sorted(per_broker(got, "kafka_controller_kafkacontroller_activecontrollercount").values()) == [0, 0, 1]
    assert total(got, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
    for pool in ("requesthandleravgidlepercent", "brokerrequesthandleravgidlepercent",
                 "controllerrequesthandleravgidlepercent"):  # fmt: skip
        idle = per_broker(got, f"kafka_server_kafkarequesthandlerpool_{pool}")
        assert set(idle) == brokers, pool
        assert all(0 <= v <= 1 for v in idle.values()), (pool, idle)
    heap_max = per_broker(got, "jvm_memory_max_bytes", area="heap")
    assert all(0 < v <= int(HEAP.removesuffix("m")) * 2**20 for v in heap_max.values()), heap_max
    assert {labels["gc"] for labels, _ in got["jvm_gc_collections_total"]} == {"Copy", "MarkSweepCompact"}  # SerialGC


def test_counters_move_with_real_traffic(kafka: KafkaCluster, collector: Reader) -> None:
    create_topic(kafka, TOPIC, partitions=3)
    before = collect(collector)
    produced = produce(kafka, TOPIC, RECORDS, SIZE, partitions=3)

    def replicated() -> Samples:
        """Until every replica holds the records: the followers fetch asynchronously after acks=all answered."""
        deadline = time.monotonic() + 30
        while True:
            now = collect(collector)
            sizes = [v for labels, v in now["kafka_log_log_size"] if labels["topic"] == TOPIC]
            if (len(sizes) == 9 and sum(sizes) >= 3 * produced) or time.monotonic() > deadline:
                return now
            time.sleep(0.5)

    after = replicated()

    def delta(name: str) -> float:
        return total(after, name, topic=TOPIC) - total(before, name, topic=TOPIC)

    # the batch headers make bytes-in a little more than the values; exactly one count per record (idempotent)
    assert produced <= delta("kafka_server_brokertopicmetrics_bytesin_total") < produced * 1.2
    assert delta("kafka_server_brokertopicmetrics_messagesin_total") == RECORDS
    assert delta("kafka_server_brokertopicmetrics_totalproducerequests_total") >= 3  # counted per partition
    assert delta("kafka_server_brokertopicmetrics_failedproducerequests_total") == 0
    # the broker-wide series (topic="") includes this topic's traffic
    assert total(after, "kafka_server_brokertopicmetrics_bytesin_total", topic="") >= produced
    # followers' fetches are replication traffic, which BytesOutPerSec does not count
    assert delta("kafka_server_brokertopicmetrics_bytesout_total") == 0
    sizes = [(labels["broker"], v) for labels, v in after["kafka_log_log_size"] if labels["topic"] == TOPIC]
    assert len(sizes) == 9  # 3 partitions x 3 replicas, each on its own broker
    assert sum(v for _, v in sizes) >= 3 * produced
    topics = kafka.metadata().topics.values()
    assert total(after, "kafka_server_replicamanager_partitioncount") == sum(
        len(p.replicas) for t in topics for p in t.partitions.values()
    )
    assert total(after, "kafka_server_replicamanager_leadercount") == sum(len(t.partitions) for t in topics)
    assert total(after, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    produce_p99 = per_broker(after, "kafka_network_requestmetrics_totaltimems", request="Produce", quantile="0.99")
    assert len(produce_p99) == 3
    assert max(produce_p99.values()) > 0

    consumed = consume_all(kafka, TOPIC, partitions=3, records=RECORDS)
    assert consumed == produced
    read = collect(collector)
    bytes_out = total(read, "kafka_server_brokertopicmetrics_bytesout_total", topic=TOPIC)
    assert produced <= bytes_out - total(after, "kafka_server_brokertopicmetrics_bytesout_total", topic=TOPIC)


def consume_all(kafka: KafkaCluster, topic: str, *, partitions: int, records: int) -> int:
    """Read every record from the start (assigned partitions, no group): the value bytes read."""
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": "jmx-reader",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen = size = 0
    deadline = time.monotonic() + 30
    try:
        while seen < records and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=1.0):
                if message.error() is None:
                    seen += 1
                    size += len(message.value() or b"")
    finally:
        consumer.close()
    return size


def test_the_default_catalogue_reads_the_broker_wide_meters_only(
    kafka: KafkaCluster, jmx_helper: JmxHelper, collector: Reader
) -> None:
    """``jmx.topic_meters`` off (the default): the BrokerTopicMetrics meters the rules read (``topic=""``) equal the
    whole catalogue's, and no per-topic meter is read (five MBeans per topic, a round trip each)."""
    [default] = jmx_collectors(jmx_helper)(cluster_config(kafka))
    try:
        reader = Reader(cluster_config(kafka), default)
        produce(kafka, TOPIC, 10, SIZE)  # traffic on a topic, so per-topic meters exist to be left out
        slim, whole = collect(reader), collect(collector)
    finally:
        default.close()
    for name in ("kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_messagesin_total"):
        assert {labels.get("topic") for labels, _ in slim[name]} == {""}, name
        assert {labels.get("topic") for labels, _ in whole[name]} > {"", TOPIC}, name
        # read a moment apart with nothing produced in between: the same broker-wide counts
        assert per_broker(slim, name, topic="") == per_broker(whole, name, topic="")
