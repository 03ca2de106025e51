"""An in-memory Kafka cluster behind the exporter's KafkaAdmin protocol: deterministic, inspectable, breakable.

It records the order of calls (so tests can prove committed offsets are read before log-end offsets) and counts
requests the way a real client would shard them (ListOffsets per leader).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka_obs.exporter.client import KafkaUnavailable
from kafka_obs.exporter.model import (
    Broker,
    ClusterMetadata,
    GroupDescription,
    GroupListing,
    LogDir,
    Partition,
    PartitionOffsets,
    TopicPartition,
)


@dataclass
class FakePartition:
    leader: int
    replicas: list[int]
    isr: list[int]
    earliest: int = 0
    latest: int = 0
    size: int = 0
    history: list[tuple[float, int]] = field(default_factory=list)
    """(time, log-end offset after a produce), when the fake has a clock."""


@dataclass
class FakeGroup:
    state: str = "Stable"
    members: int = 1
    type: str = "classic"
    committed: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class FakeKafka:
    brokers: dict[int, str] = field(default_factory=lambda: {1: "b1:9092", 2: "b2:9092", 3: "b3:9092"})
    racks: dict[int, str] = field(default_factory=dict)
    controller: int = 1
    cluster_id: str = "fake-cluster-id"
    topics: dict[str, dict[int, FakePartition]] = field(default_factory=dict)
    configs: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, FakeGroup] = field(default_factory=dict)
    down: bool = False
    failing_groups: set[str] = field(default_factory=set)
    failing_log_dir_brokers: set[int] = field(default_factory=set)
    failing_calls: set[str] = field(default_factory=set)
    """Calls (``list_groups``, ``topic_configs``…) that fail as a whole, as if their broker did not answer."""
    calls: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    disk_total: int = 1_000_000
    closed: bool = False
    clock: Any = None

    # -- building ------------------------------------------------------------------------------------------------

    def add_topic(self, name: str, partitions: int, *, rf: int = 3, **config: str) -> None:
        ids = sorted(self.brokers)
        self.topics[name] = {
            p: FakePartition(
                leader=ids[p % len(ids)],
                replicas=[ids[(p + r) % len(ids)] for r in range(rf)],
                isr=[ids[(p + r) % len(ids)] for r in range(rf)],
            )
            for p in range(partitions)
        }
        self.configs[name] = {
            "retention.ms": "604800000",
            "retention.bytes": "-1",
            "cleanup.policy": "delete",
            "min.insync.replicas": "2",
            **{k.replace("_", "."): v for k, v in config.items()},
        }

    def produce(self, topic: str, partition: int, n: int, *, bytes_per_record: int = 100) -> None:
        p = self.topics[topic][partition]
        p.latest += n
        p.size += n * bytes_per_record
        if self.clock is not None:
            p.history.append((self.clock.now(), p.latest))

    # -- KafkaAdmin ----------------------------------------------------------------------------------------------

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise KafkaUnavailable(f"{call}: cluster is down")
        if call in self.failing_calls:
            raise KafkaUnavailable(f"{call}: no answer")

    def metadata(self) -> ClusterMetadata:
        self._check("metadata")
        self.requests["Metadata"] += 1
        brokers = tuple(
            Broker(i, a.split(":")[0], int(a.split(":")[1]), self.racks.get(i)) for i, a in sorted(self.brokers.items())
        )
        partitions = {
            t: tuple(Partition(t, i, p.leader, tuple(p.replicas), tuple(p.isr)) for i, p in sorted(ps.items()))
            for t, ps in self.topics.items()
        }
        return ClusterMetadata(self.cluster_id, self.controller, brokers, partitions)

    def log_offsets(self, partitions: Sequence[TopicPartition]) -> PartitionOffsets:
        self._check("log_offsets")
        leaders = {self.topics[t][p].leader for t, p in partitions if t in self.topics and p in self.topics[t]}
        self.requests["ListOffsets"] += 2 * len(leaders)
        earliest, latest = {}, {}
        for t, p in partitions:
            part = self.topics.get(t, {}).get(p)
            if part is not None and part.leader in self.brokers:
                earliest[(t, p)] = part.earliest
                latest[(t, p)] = part.latest
        return PartitionOffsets(earliest=earliest, latest=latest)

    def list_offsets_for_time(
        self, partitions: Sequence[TopicPartition], timestamp: float
    ) -> dict[TopicPartition, int]:
        self._check("list_offsets:time")
        leaders = {self.topics[t][p].leader for t, p in partitions if t in self.topics and p in self.topics[t]}
        self.requests["ListOffsets"] += len(leaders)
        out = {}
        for t, p in partitions:
            part = self.topics[t][p]
            # the first offset produced at or after `timestamp` is the log-end offset just before it
            before = [end for at, end in part.history if at < timestamp]
            after = [end for at, end in part.history if at >= timestamp]
            out[(t, p)] = (before[-1] if before else part.earliest) if after else -1
        return out

    def list_groups(self) -> list[GroupListing]:
        self._check("list_groups")
        self.requests["ListGroups"] += len(self.brokers)
        return [GroupListing(g, v.state, v.type) for g, v in self.groups.items()]

    def describe_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription | Exception]:
        self._check("describe_groups")
        self.requests["DescribeGroups"] += 1
        return {
            g: GroupDescription(g, self.groups[g].state, self.groups[g].members, self.groups[g].type)
            for g in group_ids
            if g in self.groups
        }

    def committed_offsets(self, group_ids: Sequence[str]) -> dict[str, dict[TopicPartition, int] | Exception]:
        self._check("committed_offsets")
        self.requests["OffsetFetch"] += len(group_ids)
        out: dict[str, dict[TopicPartition, int] | Exception] = {}
        for g in group_ids:
            if g in self.failing_groups:
                out[g] = KafkaUnavailable(f"coordinator of {g} unavailable")
            elif g in self.groups:
                out[g] = dict(self.groups[g].committed)
        return out

    def topic_configs(self, topics: Sequence[str]) -> dict[str, Mapping[str, str] | Exception]:
        self._check("topic_configs")
        self.requests["DescribeConfigs"] += 1
        return {t: dict(self.configs[t]) for t in topics if t in self.configs}

    def log_dirs(
        self, broker_ids: Sequence[int], partitions: Mapping[str, Sequence[int]]
    ) -> dict[int, list[LogDir] | Exception]:
        self._check("log_dirs")
        self.requests["DescribeLogDirs"] += len(broker_ids)
        out: dict[int, list[LogDir] | Exception] = {}
        for b in broker_ids:
            if b in self.failing_log_dir_brokers:
                out[b] = KafkaUnavailable(f"broker {b} did not answer")
                continue
            sizes = {(t, i): p.size for t, ps in self.topics.items() for i, p in ps.items() if b in p.replicas}
            used = sum(sizes.values())
            out[b] = [LogDir(b, "/var/lib/kafka/data", sizes, self.disk_total, self.disk_total - used)]
        return out

    def requests_total(self) -> dict[str, int]:
        return dict(self.requests)

    def close(self) -> None:
        self.closed = True
