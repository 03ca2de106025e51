"""Cluster, broker, topic and partition series, from one Metadata response and one pair of ListOffsets batches.

Cluster-wide health counts (offline, under-replicated, under-min-ISR) cover every topic, including those the
topic filter hides: the filter controls cardinality, not what "the cluster is healthy" means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.families import FamilyBuilder, PartitionLabels
from kafka_obs.exporter.model import ClusterMetadata, Partition, PartitionOffsets, TopicPartition


def offset_targets(metadata: ClusterMetadata, allow_topic: Callable[[str], bool]) -> list[TopicPartition]:
    """Partitions whose offsets we ask for: allowed topics, with a leader (an offline partition cannot answer, and
    asking would make the client wait for a leader until its timeout)."""
    return [
        (p.topic, p.partition)
        for topic, parts in metadata.partitions.items()
        if allow_topic(topic)
        for p in parts
        if not p.offline
    ]


def fetch_offsets(client: KafkaAdmin, targets: list[TopicPartition]) -> PartitionOffsets:
    """Earliest and latest offsets of all ``targets``: one batched call, sharded by leader by the client."""
    if not targets:
        return PartitionOffsets()
    return client.log_offsets(targets)


def min_isr_of(configs: Mapping[str, Mapping[str, str]] | None, topic: str) -> int | None:
    if configs is None or topic not in configs:
        return None
    value = configs[topic].get("min.insync.replicas")
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def cluster_series(
    out: FamilyBuilder,
    metadata: ClusterMetadata,
    configs: Mapping[str, Mapping[str, str]] | None,
) -> None:
    out.add("kafka_brokers", len(metadata.brokers))
    for broker in sorted(metadata.brokers, key=lambda b: b.id):
        out.add("kafka_broker_info", 1, str(broker.id), broker.address, broker.rack or "")
    out.add("kafka_controller_id", metadata.controller_id)
    partitions = metadata.all_partitions()
    out.add("kafka_cluster_offline_partitions", sum(p.offline for p in partitions))
    out.add("kafka_cluster_under_replicated_partitions", sum(p.under_replicated for p in partitions))
    if configs is not None:
        out.add("kafka_cluster_under_min_isr_partitions", sum(_under_min_isr(p, configs) for p in partitions))


def _under_min_isr(partition: Partition, configs: Mapping[str, Mapping[str, str]]) -> bool:
    min_isr = min_isr_of(configs, partition.topic)
    return min_isr is not None and len(partition.isr) < min_isr


def topic_series(
    out: FamilyBuilder,
    metadata: ClusterMetadata,
    offsets: PartitionOffsets,
    allow_topic: Callable[[str], bool],
    *,
    per_partition: bool,
) -> None:
    """Per topic, and (at partition granularity) seven series per partition sharing one label tuple, appended to
    the families' columns directly (see :func:`.groups.group_series`)."""
    current, current_v = out.columns("kafka_topic_partition_current_offset")
    oldest, oldest_v = out.columns("kafka_topic_partition_oldest_offset")
    isr, isr_v = out.columns("kafka_topic_partition_in_sync_replica")
    replicas, replicas_v = out.columns("kafka_topic_partition_replicas")
    leader, leader_v = out.columns("kafka_topic_partition_leader")
    preferred, preferred_v = out.columns("kafka_topic_partition_leader_is_preferred")
    under, under_v = out.columns("kafka_topic_partition_under_replicated_partition")
    latest, earliest = offsets.latest, offsets.earliest
    partition_label = PartitionLabels()
    for topic in sorted(metadata.partitions):
        if not allow_topic(topic):
            continue
        parts = metadata.partitions[topic]
        out.add("kafka_topic_partitions", len(parts), topic)
        if not per_partition:
            continue
        for p in parts:
            labels = (topic, partition_label[p.partition])
            tp = (topic, p.partition)
            if tp in latest:
                current.append(labels)
                current_v.append(latest[tp])
            if tp in earliest:
                oldest.append(labels)
                oldest_v.append(earliest[tp])
            isr.append(labels)
            isr_v.append(len(p.isr))
            replicas.append(labels)
            replicas_v.append(len(p.replicas))
            leader.append(labels)
            leader_v.append(p.leader)
            preferred.append(labels)
            preferred_v.append(int(p.leader_is_preferred))
            under.append(labels)
            under_v.append(int(p.under_replicated))
