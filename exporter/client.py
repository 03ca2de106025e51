"""The one interface collectors use to talk to a Kafka cluster.

Collectors depend on this protocol, never on a Kafka library: the production implementation
(:mod:`kafka_obs.exporter.confluent_client`) batches requests and counts them; tests inject an in-memory fake.
Every method either returns a complete answer or raises :class:`KafkaUnavailable`; per-item failures (one group,
one broker, one partition) are returned as values so that one bad item never hides the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from kafka_obs.exporter.model import (
    ClusterMetadata,
    GroupDescription,
    GroupListing,
    LogDir,
    PartitionOffsets,
    TopicPartition,
)


class KafkaUnavailable(Exception):
    """The cluster (or the part of it a request needed) did not answer in time."""


class KafkaAdmin(Protocol):
    def metadata(self) -> ClusterMetadata:
        """Brokers, controller, cluster id and every topic's partitions: one Metadata round trip."""
        ...

    def log_offsets(self, partitions: Sequence[TopicPartition]) -> PartitionOffsets:
        """Earliest and latest offsets of all ``partitions`` in one call (sharded by leader, both asked at once, so
        a silent leader costs one timeout); failed partitions are left out."""
        ...

    def list_offsets_for_time(
        self, partitions: Sequence[TopicPartition], timestamp: float
    ) -> dict[TopicPartition, int]:
        """Per partition, the first offset whose record timestamp is ≥ ``timestamp`` (seconds), i.e. the log-end
        offset at that time; -1 when no record is that recent. Failed partitions are left out."""
        ...

    def list_groups(self) -> list[GroupListing]: ...

    def describe_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription | Exception]: ...

    def committed_offsets(self, group_ids: Sequence[str]) -> dict[str, dict[TopicPartition, int] | Exception]:
        """Committed offsets of each group (only partitions with a commit), fetched concurrently."""
        ...

    def topic_configs(self, topics: Sequence[str]) -> dict[str, Mapping[str, str] | Exception]:
        """Effective configuration of every topic, in one DescribeConfigs request."""
        ...

    def log_dirs(
        self, broker_ids: Sequence[int], partitions: Mapping[str, Sequence[int]]
    ) -> dict[int, list[LogDir] | Exception]:
        """DescribeLogDirs, one request per broker, for ``partitions`` (topic → partition ids)."""
        ...

    def requests_total(self) -> dict[str, int]:
        """Kafka requests sent so far, per API name (Kafka's protocol names: Metadata, ListOffsets, …)."""
        ...

    def close(self) -> None: ...
