"""The real-Kafka test world: topics and consumer groups built with real clients, the exporter under test, and
independent readers (a fresh librdkafka AdminClient, Kafka's own Java tools) that say what it should report.

Groups: a classic group of two members that joined with ``subscribe()`` (a real rebalance), a KIP-848 group
(``group.protocol=consumer``), a group that only has committed offsets, and a deleted group.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, OffsetSpec, ResourceType

from kafka_obs.clock import SystemClock
from kafka_obs.config.clusters import FleetConfig
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.platform.processes import wait_until
from kafka_obs.platform.realkafka import KafkaCluster
from tests.exporter.scrape import Series, parse

CLUSTER = "real"
TOPICS = {"orders": (6, 3), "events": (3, 2), "audit": (1, 3), "strict": (2, 3)}  # (partitions, replication factor)
MIN_ISR = {"orders": "2", "events": "1", "audit": "2", "strict": "3"}  # strict: one broker down is under min ISR
CLASSIC, KIP848, OFFSETS_ONLY, DELETED = "classic-readers", "kip848-readers", "offsets-only", "deleted-group"


@dataclass
class World:
    kafka: KafkaCluster
    admin: AdminClient
    members: list[Consumer]


def exporter_for(kafka: KafkaCluster, timeout: float = 5.0) -> Exporter:
    fleet = FleetConfig.model_validate(
        {
            "clusters": [
                {
                    "name": CLUSTER,
                    "region": "local",
                    "environment": "test",
                    "brokers": kafka.bootstrap_servers.split(","),
                    "priority": "critical",
                }
            ]
        }
    )
    return Exporter(fleet, clock=SystemClock(), client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=timeout))


def produce(kafka: KafkaCluster, topic: str, n: int, *, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all", "linger.ms": 5})
    for i in range(n):
        producer.produce(topic, value=b"x" * 100, partition=i % partitions)
    assert producer.flush(30) == 0


def consume_and_commit(members: list[Consumer], until: int, timeout: float = 60.0) -> int:
    """Poll every member until ``until`` records were read in all, then commit synchronously."""
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < until and time.monotonic() < deadline:
        for member in members:
            message = member.poll(0.1)
            if message is not None and message.error() is None:
                seen += 1
    for member in members:
        if member.assignment():
            member.commit(asynchronous=False)
    return seen


def build_world(kafka: KafkaCluster) -> Iterator[World]:
    """Topics, records and groups (once per session: topics cannot be created twice)."""
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    new = [
        NewTopic(name, parts, rf, config={"min.insync.replicas": MIN_ISR[name]}) for name, (parts, rf) in TOPICS.items()
    ]
    for future in admin.create_topics(new).values():
        future.result(timeout=30)
    kafka.wait_ready()
    for name, (parts, _) in TOPICS.items():
        produce(kafka, name, 600 * parts, partitions=parts)

    common = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    classic = [
        Consumer({**common, "group.id": CLASSIC, "group.protocol": "classic", "client.id": f"classic-{i}"})
        for i in range(2)
    ]
    for member in classic:
        member.subscribe(["orders"])
    consume_and_commit(classic, until=1800)
    kip848 = [Consumer({**common, "group.id": KIP848, "group.protocol": "consumer"})]
    kip848[0].subscribe(["events"])
    consume_and_commit(kip848, until=900)

    for group, offset in ((OFFSETS_ONLY, 100), (DELETED, 50)):
        request = ConsumerGroupTopicPartitions(group, [TopicPartition("audit", 0, offset)])
        admin.alter_consumer_group_offsets([request])[group].result(timeout=30)
    admin.delete_consumer_groups([DELETED])[DELETED].result(timeout=30)

    # both groups stable, with every member holding partitions
    def settled() -> bool:
        described = admin.describe_consumer_groups([CLASSIC, KIP848])
        groups = {g: f.result(timeout=10) for g, f in described.items()}
        return all(
            len(d.members) == n and str(d.state.name) == "STABLE" for d, n in zip(groups.values(), (2, 1), strict=True)
        )

    for member in classic + kip848:
        member.poll(0.1)
    wait_until(lambda: (any(m.poll(0.05) for m in classic + kip848) or True) and settled(), 60, "groups stable")
    try:
        yield World(kafka, admin, classic + kip848)
    finally:
        for member in classic + kip848:
            member.close()


def cycle(exporter: Exporter) -> Series:
    exporter.collect_once()
    return parse(exporter.store.body(openmetrics=False))


def of(series: Series, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {
        labels - {("cluster", CLUSTER), ("region", "local"), ("environment", "test")}: v
        for (n, labels), v in series.items()
        if n == name and ("cluster", CLUSTER) in labels
    }


def labels(**kv: str | int) -> frozenset[tuple[str, str]]:
    return frozenset((k, str(v)) for k, v in kv.items())


ELECTING = {KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION}


def independent(world: World, timeout: float = 30.0) -> dict[str, Any]:
    """What librdkafka's AdminClient and Kafka's Java tools read, turned into expected series; read again while a
    partition's leader is being elected (right after a broker dies the oracle's own ListOffsets may find none)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _independent_once(world)
        except KafkaException as exc:
            error = exc.args[0]
            if time.monotonic() > deadline or not (error.retriable() or error.code() in ELECTING):
                raise
            time.sleep(0.5)


def _independent_once(world: World) -> dict[str, Any]:
    admin = AdminClient({"bootstrap.servers": world.kafka.bootstrap_servers})
    md = admin.list_topics(timeout=10)
    out: dict[str, dict[frozenset[tuple[str, str]], float]] = {}

    def put(name: str, v: float, **kv: str | int) -> None:
        out.setdefault(name, {})[labels(**kv)] = v

    user_topics = {t: md.topics[t] for t in md.topics if not t.startswith("__")}
    every = {t: md.topics[t] for t in md.topics}
    configs = {
        r.name: {k: e.value for k, e in f.result(timeout=10).items()}
        for r, f in admin.describe_configs([ConfigResource(ResourceType.TOPIC, t) for t in every]).items()
    }
    # offline partitions (no leader: every replica on a dead broker) have no offsets to ask for; the exporter
    # leaves their offset series out too
    tps = [TopicPartition(t, p) for t, topic in every.items() for p, pm in topic.partitions.items() if pm.leader >= 0]
    latest = {
        (tp.topic, tp.partition): f.result().offset
        for tp, f in admin.list_offsets({tp: OffsetSpec.latest() for tp in tps}, request_timeout=10).items()
    }
    earliest = {
        (tp.topic, tp.partition): f.result().offset
        for tp, f in admin.list_offsets({tp: OffsetSpec.earliest() for tp in tps}, request_timeout=10).items()
    }
    put("kafka_brokers", len(md.brokers))
    # not Metadata's controller_id: in KRaft that is a random live broker
    put("kafka_controller_id", quorum_leader(world.kafka))
    urp = under_min = 0
    for name, topic in every.items():
        put("kafka_topic_partitions", len(topic.partitions), topic=name)
        for p in topic.partitions.values():
            where: dict[str, str | int] = {"topic": name, "partition": p.id}
            if (name, p.id) in latest:
                put("kafka_topic_partition_current_offset", latest[(name, p.id)], **where)
                put("kafka_topic_partition_oldest_offset", earliest[(name, p.id)], **where)
            put("kafka_topic_partition_leader", p.leader, **where)
            put("kafka_topic_partition_replicas", len(p.replicas), **where)
            put("kafka_topic_partition_in_sync_replica", len(p.isrs), **where)
            put("kafka_topic_partition_leader_is_preferred", int(p.leader == p.replicas[0]), **where)
            put("kafka_topic_partition_under_replicated_partition", int(len(p.isrs) < len(p.replicas)), **where)
            urp += len(p.isrs) < len(p.replicas)
            under_min += len(p.isrs) < int(configs[name]["min.insync.replicas"])
    put("kafka_cluster_under_replicated_partitions", urp)
    put("kafka_cluster_under_min_isr_partitions", under_min)
    for name in every:
        put("kafka_topic_config_retention_ms", int(configs[name]["retention.ms"]), topic=name)
        put("kafka_topic_config_retention_bytes", int(configs[name]["retention.bytes"]), topic=name)

    listed = admin.list_consumer_groups(request_timeout=10).result()
    group_ids = [g.group_id for g in listed.valid]
    described = {g: f.result(timeout=10) for g, f in admin.describe_consumer_groups(group_ids).items()}
    for g, d in described.items():
        put("kafka_consumergroup_members", len(d.members), consumergroup=g)
        put("kafka_consumergroup_state", 1, consumergroup=g, state=d.state.name, type=d.type.name.lower())
        answer = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)])[g].result(timeout=10)
        for tp in answer.topic_partitions:
            if tp.offset < 0:
                continue
            key: dict[str, str | int] = {"consumergroup": g, "topic": tp.topic, "partition": tp.partition}
            put("kafka_consumergroup_current_offset", tp.offset, **key)
            if (tp.topic, tp.partition) in latest:  # an offline partition has no log end, so no lag either
                put("kafka_consumergroup_lag", max(0, latest[(tp.topic, tp.partition)] - tp.offset), **key)
    out["_user_topics"] = {labels(topic=t): 1 for t in user_topics}
    return out


def log_dir_sizes(kafka: KafkaCluster) -> dict[tuple[str, str], int]:
    """Kafka's own ``kafka-log-dirs --describe`` (org.apache.kafka.tools.LogDirsCommand): (broker, dir) → bytes."""
    output = kafka.run_tool("org.apache.kafka.tools.LogDirsCommand", "--describe")
    answer = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    return {
        (str(b["broker"]), d["logDir"]): sum(p["size"] for p in d["partitions"] if not p["isFuture"])
        for b in answer["brokers"]
        for d in b["logDirs"]
        if d["error"] is None
    }


def quorum_leader(kafka: KafkaCluster) -> int:
    """The active controller as Kafka's ``kafka-metadata-quorum describe --status`` reports it."""
    output = kafka.run_tool("org.apache.kafka.tools.MetadataQuorumCommand", "describe", "--status")
    return int(next(line for line in output.splitlines() if line.startswith("LeaderId:")).split(":")[1])
