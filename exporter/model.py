"""Plain, immutable facts read from one Kafka cluster in one collection cycle.

The client wrapper translates whatever its library returns into these types, so collectors and series builders
never see confluent-kafka or kafka-python objects: they can be tested with hand-made facts, and a second client
(or the JMX collector) can reuse them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TopicPartition = tuple[str, int]
"""``(topic, partition)``: hashable and cheap, used as a key everywhere."""

NO_LEADER = -1


@dataclass(frozen=True, slots=True)
class Broker:
    id: int
    host: str
    port: int
    rack: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Partition:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def offline(self) -> bool:
        return self.leader == NO_LEADER

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    @property
    def leader_is_preferred(self) -> bool:
        return bool(self.replicas) and self.leader == self.replicas[0]


@dataclass(frozen=True, slots=True)
class ClusterMetadata:
    cluster_id: str | None
    controller_id: int
    brokers: tuple[Broker, ...]
    partitions: Mapping[str, tuple[Partition, ...]]
    """Topic name → its partitions, sorted by partition id."""

    def all_partitions(self) -> list[Partition]:
        return [p for parts in self.partitions.values() for p in parts]


@dataclass(frozen=True, slots=True)
class GroupListing:
    group_id: str
    state: str
    """Kafka's state name: Stable, Empty, Dead, PreparingRebalance, CompletingRebalance, Assigning, Reconciling…"""
    type: str = "classic"
    """``classic`` or ``consumer`` (KIP-848); listed, described and lagged alike."""


@dataclass(frozen=True, slots=True)
class GroupDescription:
    group_id: str
    state: str
    members: int
    type: str = "classic"


@dataclass(frozen=True, slots=True)
class LogDir:
    broker: int
    path: str
    partition_sizes: Mapping[TopicPartition, int]
    total_bytes: int | None = None
    """DescribeLogDirs v4+; ``None`` when the broker does not report it."""
    usable_bytes: int | None = None

    @property
    def size_bytes(self) -> int:
        return sum(self.partition_sizes.values())


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """Earliest and latest offsets of the partitions whose ListOffsets succeeded (the others are left out)."""

    earliest: Mapping[TopicPartition, int] = field(default_factory=dict)
    latest: Mapping[TopicPartition, int] = field(default_factory=dict)
