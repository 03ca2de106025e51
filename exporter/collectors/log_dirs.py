"""Disk usage per broker log directory and per topic, from DescribeLogDirs (one request per live broker).

A broker that does not answer is left out and counted as an error of stage ``log_dirs``; the other brokers' series
stay, and a topic with a leader on that broker has no size series this cycle. Topic size counts the leader replica
of each partition only, i.e. one copy of the data: the number a storage cost per topic is built on (multiply by
the replication factor for raw disk).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.families import FamilyBuilder
from kafka_obs.exporter.model import ClusterMetadata, LogDir

log = logging.getLogger(__name__)


def fetch_log_dirs(
    client: KafkaAdmin, metadata: ClusterMetadata, on_error: Callable[[str, int], None]
) -> dict[int, list[LogDir]]:
    broker_ids = sorted(b.id for b in metadata.brokers)
    try:
        partitions = {topic: [p.partition for p in parts] for topic, parts in metadata.partitions.items()}
        answers = client.log_dirs(broker_ids, partitions)
    except Exception as exc:
        log.warning("describe log dirs failed", extra={"err": str(exc)})
        on_error("log_dirs", 1)
        return {}
    result: dict[int, list[LogDir]] = {}
    failed = 0
    for broker, answer in answers.items():
        if isinstance(answer, Exception):
            failed += 1
            log.warning("describe log dirs failed", extra={"broker": broker, "err": str(answer)})
        else:
            result[broker] = answer
    if failed:
        on_error("log_dirs", failed)
    return result


def log_dir_series(
    out: FamilyBuilder,
    log_dirs: Mapping[int, list[LogDir]],
    metadata: ClusterMetadata,
    allow_topic: Callable[[str], bool],
) -> None:
    leaders = {(p.topic, p.partition): p.leader for p in metadata.all_partitions()}
    topic_sizes: dict[str, int] = {}
    for broker in sorted(log_dirs):
        for log_dir in sorted(log_dirs[broker], key=lambda d: d.path):
            labels = (str(broker), log_dir.path)
            out.add("kafka_log_dir_size_bytes", log_dir.size_bytes, *labels)
            if log_dir.total_bytes is not None and log_dir.total_bytes >= 0:
                out.add("kafka_log_dir_total_bytes", log_dir.total_bytes, *labels)
            if log_dir.usable_bytes is not None and log_dir.usable_bytes >= 0:
                out.add("kafka_log_dir_usable_bytes", log_dir.usable_bytes, *labels)
            for tp, size in log_dir.partition_sizes.items():
                if leaders.get(tp) == broker:
                    topic_sizes[tp[0]] = topic_sizes.get(tp[0], 0) + size
    for topic in sorted(metadata.partitions):
        if not allow_topic(topic) or topic not in topic_sizes:
            continue
        if any(not p.offline and p.leader not in log_dirs for p in metadata.partitions[topic]):
            continue  # a leader's broker did not answer: a partial sum would read as data loss
        out.add("kafka_topic_log_size_bytes", topic_sizes[topic], topic)
