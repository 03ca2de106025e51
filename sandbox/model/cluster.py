"""One simulated cluster: brokers, topics, partitions, consumer groups, deployments, configs and disks.

Nothing here ticks. Offsets, log sizes and committed offsets are functions of the clock (see
:mod:`kafka_obs.sandbox.model.rates`), evaluated when somebody asks. State changes only at events — a fault, a
config change, a deployment scaled, a produce — and every event first *rebases* the flows (folds what happened since
the last event into stored values) so that a formula valid between two events stays exact. That keeps a fleet of
2,500 partitions and 2,000 groups cheap: a request costs what it reads, not what the fleet does.

Thread safety: the protocol servers run in the sandbox's event-loop thread while tests and the control API call in
from other threads, so every public method takes the cluster's lock.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from kafka_obs.clock import Clock
from kafka_obs.sandbox.fleet import ClusterPlan, Deployment, FleetPlan
from kafka_obs.sandbox.model.rates import RateSeries
from kafka_obs.sandbox.model.records import PartitionRecords
from kafka_obs.sandbox.model.topic_config import TOPIC_CONFIGS, normalise, validate_topic_config
from kafka_obs.sandbox.protocol import consumer_protocol

T = TypeVar("T")

LOG_DIR = "/var/lib/kafka/data"
"""The one log directory every simulated broker has."""

MESSAGES_PER_PRODUCE_REQUEST = 10
"""Simulated producers batch this many messages per request (feeds the TotalProduceRequests counter)."""


class SandboxError(ValueError):
    """A control operation that cannot be applied (unknown name, invalid value); the HTTP API answers 4xx."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class TopicExists(SandboxError):
    def __init__(self, message: str):
        super().__init__(message, 409)


class NotFound(SandboxError):
    def __init__(self, message: str):
        super().__init__(message, 404)


@dataclass
class BrokerState:
    id: int
    rack: str | None
    disk_bytes: int
    host: str = "127.0.0.1"
    port: int = 0
    up: bool = True
    extra_disk_bytes: int = 0
    produce_requests: int = 0
    failed_produce_requests: int = 0
    isr_shrinks: int = 0
    isr_expands: int = 0
    produce_delay: float = 0.0
    """Fault: seconds the broker waits before answering a Produce request (a slow disk or network)."""
    drop_produce: bool = False
    """Fault: the broker acknowledges produced records and keeps none (data loss a client cannot see)."""
    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    """(Kafka API name, version) → requests this broker has been sent, as its ``RequestsPerSec`` meters count them
    (see :meth:`ClusterModel.count_request`)."""


@dataclass
class PartitionState:
    topic: str
    index: int
    replicas: list[int]
    isr: list[int]
    leader: int
    series: RateSeries
    weight: float
    leader_epoch: int = 0
    start_floor: int = 0
    """Log-start offset already reached (deleted data never comes back when retention is raised)."""
    pinned_isr: bool = False
    """ISR shrunk by a fault injection: a rejoining broker does not expand it."""
    records: PartitionRecords = field(default_factory=PartitionRecords)
    rebase_produced: float = 0.0
    """Messages produced (simulated + real) at the last rebase, for per-broker counters."""


@dataclass
class TopicState:
    name: str
    topic_id: uuid.UUID
    rate: float
    message_bytes: int
    criticality: str
    config: dict[str, str]
    partitions: list[PartitionState]

    retention_cache: tuple[bool, int, int] | None = None
    """(deletes, retention.ms, retention.bytes) parsed once per config change: read for every offset request."""

    def config_value(self, name: str) -> str:
        return self.config.get(name, TOPIC_CONFIGS[name].default)

    def retention(self) -> tuple[bool, int, int]:
        if self.retention_cache is None:
            self.retention_cache = (
                "delete" in self.config_value("cleanup.policy").split(","),
                int(self.config_value("retention.ms")),
                int(self.config_value("retention.bytes")),
            )
        return self.retention_cache


@dataclass
class Anchor:
    """A committed offset at a time; while the group consumes, it advances from here."""

    t0: float
    c0: float
    metadata: str = ""


@dataclass
class DeploymentState:
    name: str
    group: str
    topics: tuple[str, ...]
    replicas: int
    rate: float
    paused_replicas: int | None = None
    """Replicas to restore on resume; None when not paused."""

    @property
    def paused(self) -> bool:
        return self.paused_replicas is not None


@dataclass
class GroupState:
    name: str
    group_type: str
    """``classic`` or ``consumer`` (KIP-848)."""
    protocol_type: str
    deployment: str | None
    offsets: dict[tuple[str, int], Anchor] = field(default_factory=dict)
    generation: int = 0


@dataclass(frozen=True)
class Member:
    """A consumer in a stable group. Immutable: a rebalance (replicas, generation, any event) builds new members
    (:meth:`ClusterModel.members`), so the protocol bytes below always match ``subscription`` and ``assignment``."""

    member_id: str
    client_id: str
    client_host: str
    subscription: tuple[str, ...]
    assignment: tuple[tuple[str, int], ...]
    member_metadata: bytes = field(init=False, repr=False, compare=False)
    """The subscription as the member sent it in JoinGroup (consumer protocol v0), as DescribeGroups returns it."""
    member_assignment: bytes = field(init=False, repr=False, compare=False)
    """The assignment as the leader sent it in SyncGroup (consumer protocol v0), as DescribeGroups returns it."""

    def __post_init__(self) -> None:
        # encoded once per member: DescribeGroups asks for every member of every group on every sweep
        object.__setattr__(self, "member_metadata", consumer_protocol.subscription(self.subscription))
        object.__setattr__(self, "member_assignment", consumer_protocol.assignment(self.assignment))


@dataclass(frozen=True)
class BrokerStats:
    """What the broker's JMX MBeans would report; published by the JMX responder (sandbox/jmx/)."""

    broker_id: int
    up: bool
    bytes_in_total: float
    bytes_out_total: float
    messages_in_total: float
    produce_requests_total: float
    failed_produce_requests_total: float
    isr_shrinks_total: int
    isr_expands_total: int
    under_replicated_partitions: int
    under_min_isr_partitions: int
    partition_count: int
    leader_count: int
    offline_partitions: int
    """Reported by the active controller only (0 elsewhere), like KafkaController.OfflinePartitionsCount."""
    active_controller: int
    topics: dict[str, dict[str, float]]
    """Per topic led here: ``bytes_in_total``, ``bytes_out_total``, ``messages_in_total``."""
    log_sizes: dict[tuple[str, int], int]
    """Bytes per (topic, partition) replica hosted on this broker."""
    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    """(Kafka API name, version) → requests received, like ``RequestMetrics`` ``RequestsPerSec`` (Count)."""

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("log_sizes", "requests")}
        out["log_sizes"] = [{"topic": t, "partition": p, "bytes": b} for (t, p), b in sorted(self.log_sizes.items())]
        out["requests"] = [{"request": r, "version": v, "count": n} for (r, v), n in sorted(self.requests.items())]
        return out


class ClusterModel:
    """The simulated state of one cluster, evaluated lazily at ``clock.now()``."""

    def __init__(self, plan: ClusterPlan, fleet: FleetPlan, clock: Clock):
        self.plan = plan
        self.name = plan.name
        self.cluster_id = plan.cluster_id
        self.clock = clock
        self.catchup = fleet.catchup
        self.lock = threading.RLock()
        self.version = 0
        """Bumped on every change of metadata (leaders, ISR, brokers, configs), so encoded answers can be cached."""
        self.brokers: dict[int, BrokerState] = {b.id: BrokerState(b.id, b.rack, b.disk_bytes) for b in plan.brokers}
        self.topics: dict[str, TopicState] = {}
        self.groups: dict[str, GroupState] = {}
        self.deployments: dict[str, DeploymentState] = {}
        self._rejoins: list[tuple[float, int]] = []
        self._rebase_time = now = clock.now()
        self._flow_acc: dict[tuple[int, str], list[float]] = {}
        """(broker, topic) → [messages in, messages out] folded at rebases."""
        self._consumers_of: dict[tuple[str, int], list[str]] = {}
        self._broker_ids = tuple(sorted(self.brokers))
        self._derived: dict[tuple[str, str], tuple[tuple[object, ...], Any]] = {}
        """(kind, deployment) → (key, value) of per-deployment state derived on demand (assignments, capacities,
        members); the key holds the model version and what else it depends on, so a change recomputes it."""
        epoch = now - fleet.history
        rng = random.Random(f"{fleet.seed}:{plan.name}")  # noqa: S311 -- deterministic skew, not secrets
        ids = sorted(self.brokers)
        for topic in plan.topics:
            start = zlib.crc32(topic.name.encode()) % len(ids)
            raw = [1.0 + 0.25 * (2 * rng.random() - 1) for _ in range(topic.partitions)]
            total = sum(raw)
            partitions = []
            for p in range(topic.partitions):
                replicas = [ids[(start + p + j) % len(ids)] for j in range(topic.replication_factor)]
                weight = raw[p] / total
                partitions.append(
                    PartitionState(
                        topic.name,
                        p,
                        replicas,
                        list(replicas),
                        replicas[0],
                        RateSeries(epoch, topic.rate * weight),
                        weight,
                    )
                )
            self.topics[topic.name] = TopicState(
                topic.name,
                uuid.UUID(int=rng.getrandbits(128)),
                topic.rate,
                topic.message_bytes,
                topic.criticality,
                {k: normalise(k, str(v)) for k, v in topic.config.items()},
                partitions,
            )
        for partition in self._all_partitions():
            partition.start_floor = self._log_start_raw(partition, now)
            partition.rebase_produced = self._produced(partition, now)
        for dep in plan.deployments:
            self._add_deployment(dep, now)

    # ---- basic lookups ----------------------------------------------------------------------------------------

    def _all_partitions(self) -> list[PartitionState]:
        return [p for t in self.topics.values() for p in t.partitions]

    def topic(self, name: str) -> TopicState:
        topic = self.topics.get(name)
        if topic is None:
            raise NotFound(f"cluster {self.name}: unknown topic {name!r}")
        return topic

    def partition(self, topic: str, index: int) -> PartitionState:
        t = self.topic(topic)
        if not 0 <= index < len(t.partitions):
            raise NotFound(f"cluster {self.name}: topic {topic!r} has no partition {index}")
        return t.partitions[index]

    def broker(self, broker_id: int) -> BrokerState:
        broker = self.brokers.get(broker_id)
        if broker is None:
            raise NotFound(f"cluster {self.name}: unknown broker {broker_id}")
        return broker

    def deployment(self, name: str) -> DeploymentState:
        dep = self.deployments.get(name)
        if dep is None:
            raise NotFound(f"cluster {self.name}: unknown deployment {name!r}")
        return dep

    def live_brokers(self) -> list[int]:
        return sorted(b.id for b in self.brokers.values() if b.up)

    def controller(self) -> int:
        """The lowest live broker id (KRaft's controller is elsewhere; brokers report one of themselves)."""
        live = self.live_brokers()
        return live[0] if live else -1

    def coordinator(self, group: str) -> int:
        """The broker coordinating ``group``: a stable hash, moving to the next live broker when it is down."""
        ids = self._broker_ids
        start = zlib.crc32(group.encode()) % len(ids)
        for i in range(len(ids)):
            broker = self.brokers[ids[(start + i) % len(ids)]]
            if broker.up:
                return broker.id
        return -1

    # ---- time evaluation --------------------------------------------------------------------------------------

    def sync(self) -> float:
        """Apply events that fell due (brokers rejoining the ISR) and return ``now``; call under the lock."""
        now = self.clock.now()
        while self._rejoins and self._rejoins[0][0] <= now:
            at, broker_id = heapq.heappop(self._rejoins)
            self._rebase(at)
            self._rejoin(broker_id)
        return now

    def _produced(self, p: PartitionState, t: float) -> float:
        return p.series.count(t) + p.records.count_before(t)

    def offset_at(self, p: PartitionState, t: float) -> int:
        """Messages appended to ``p`` up to time ``t``: the log-end offset at ``t``."""
        return math.floor(p.series.count(t) + 1e-9) + p.records.count_before(t)

    def log_end(self, p: PartitionState, t: float) -> int:
        return self.offset_at(p, t)

    def _log_start_raw(self, p: PartitionState, t: float, end: int | None = None) -> int:
        topic = self.topics[p.topic]
        if end is None:
            end = self.offset_at(p, t)
        start = p.start_floor
        deletes, retention_ms, retention_bytes = topic.retention()
        if deletes:
            if retention_ms >= 0:
                start = max(start, self.offset_at(p, t - retention_ms / 1000.0))
            if retention_bytes >= 0:
                start = max(start, end - retention_bytes // topic.message_bytes)
        return min(start, end)

    def log_start(self, p: PartitionState, t: float) -> int:
        return self._log_start_raw(p, t)

    def log_bounds(self, p: PartitionState, t: float) -> tuple[int, int]:
        """(log start, log end) at ``t``, the end computed once for both."""
        end = self.offset_at(p, t)
        return self._log_start_raw(p, t, end), end

    def size_bytes(self, p: PartitionState, t: float) -> int:
        start, end = self.log_bounds(p, t)
        return (end - start) * self.topics[p.topic].message_bytes

    def time_of_offset(self, p: PartitionState, offset: int) -> float:
        """When the message at ``offset`` was appended (approximate for simulated traffic)."""
        if not p.records.append_times:
            return self._simulated_time_of_offset(p, offset)
        real = p.records
        lo, hi = p.series.epoch, self.clock.now()
        # Bisect on time: offset_at is monotonic in t.
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.offset_at(p, mid) > offset:
                hi = mid
            else:
                lo = mid
            if hi - lo < 0.0005:
                break
        del real
        return hi

    def _simulated_time_of_offset(self, p: PartitionState, offset: int) -> float:
        """:meth:`time_of_offset` for a partition without produced records, by inverting its rate series directly.

        The log-end offset passes ``offset`` when the simulated count reaches ``offset + 1`` (less the rounding
        allowance of :meth:`offset_at`); not reached by now means now, as the bisection answers. One inversion
        instead of up to 60 evaluations: ListOffsets by timestamp (the exporter's lag-history seeding) asks this for
        every partition of the cluster.
        """
        at = p.series.time_of(offset + 1 - 1e-9)
        return min(max(at, p.series.epoch), self.clock.now())

    def offset_for_timestamp(self, p: PartitionState, ts_ms: int, now: float) -> tuple[int, int]:
        """ListOffsets by timestamp: the first offset whose time is >= ``ts_ms``, or (-1, -1) when none."""
        start, end = self.log_start(p, now), self.log_end(p, now)
        offset = max(start, self.offset_at(p, ts_ms / 1000.0))
        if offset >= end:
            return -1, -1
        return offset, max(ts_ms, int(self.time_of_offset(p, offset) * 1000))

    # ---- consumption ------------------------------------------------------------------------------------------

    def _cached(self, kind: str, dep: DeploymentState, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per ``key``: derived state is asked for by every group request, and changes only with
        an event (which bumps :attr:`version`) or with what ``key`` names."""
        slot = (kind, dep.name)
        cached = self._derived.get(slot)
        if cached is not None and cached[0] == key:
            return cast(T, cached[1])
        value = compute()
        self._derived[slot] = (key, value)
        return value

    def _assignment(self, dep: DeploymentState) -> list[list[tuple[str, int]]]:
        """Round-robin assignment of the deployment's partitions to its replicas (idle replicas get nothing)."""
        return self._cached("assignment", dep, (self.version, dep.replicas), lambda: self._assign(dep))

    def _assign(self, dep: DeploymentState) -> list[list[tuple[str, int]]]:
        tps = [(t, p.index) for t in dep.topics for p in self.topics[t].partitions]
        members: list[list[tuple[str, int]]] = [[] for _ in range(dep.replicas)]
        if dep.replicas:
            for i, tp in enumerate(tps):
                members[i % dep.replicas].append(tp)
        return members

    def _capacity(self, group: GroupState) -> dict[tuple[str, int], float]:
        """Messages per second the group can consume from each partition it is assigned."""
        if group.deployment is None:
            return {}
        dep = self.deployments[group.deployment]
        key = (self.version, dep.replicas, dep.rate)
        return self._cached("capacity", dep, key, lambda: self._capacities(dep))

    def _capacities(self, dep: DeploymentState) -> dict[tuple[str, int], float]:
        caps: dict[tuple[str, int], float] = {}
        for assigned in self._assignment(dep):
            for tp in assigned:
                caps[tp] = dep.rate / len(assigned)
        return caps

    def committed(self, group: GroupState, tp: tuple[str, int], t: float, cap: float | None = None) -> int:
        """The group's committed offset of ``tp`` at ``t``."""
        if cap is None:
            cap = self._capacity(group).get(tp, 0.0)
        return self._committed(tp, group.offsets[tp], cap, t, None)

    def _committed(
        self,
        tp: tuple[str, int],
        anchor: Anchor,
        cap: float,
        t: float,
        bounds: dict[tuple[str, int], tuple[int, int]] | None,
    ) -> int:
        if cap <= 0:
            return math.floor(anchor.c0)
        partition = self.topics[tp[0]].partitions[tp[1]]
        if partition.leader < 0:
            return math.floor(anchor.c0)
        known = bounds.get(tp) if bounds is not None else None
        if known is None:
            known = self.log_bounds(partition, t)
            if bounds is not None:
                bounds[tp] = known
        start, end = known
        return max(start, math.floor(min(end, anchor.c0 + cap * max(0.0, t - anchor.t0))))

    def group_offsets(
        self, group: GroupState, t: float, bounds: dict[tuple[str, int], tuple[int, int]] | None = None
    ) -> dict[tuple[str, int], int]:
        """Every committed offset of ``group`` at ``t``. ``bounds`` memoises each partition's (log start, log end) at
        ``t`` across the groups of one request; the caller holds the lock for that request, so no event or produced
        record can move them meanwhile."""
        caps = self._capacity(group)
        committed = self._committed
        return {tp: committed(tp, anchor, caps.get(tp, 0.0), t, bounds) for tp, anchor in group.offsets.items()}

    def group_state(self, group: GroupState) -> str:
        if group.deployment is not None and self.deployments[group.deployment].replicas > 0:
            return "Stable"
        return "Empty"

    def members(self, group: GroupState) -> list[Member]:
        if group.deployment is None:
            return []
        dep = self.deployments[group.deployment]
        key = (self.version, dep.replicas, group.generation)
        return self._cached("members", dep, key, lambda: self._members(dep, group))

    def _members(self, dep: DeploymentState, group: GroupState) -> list[Member]:
        out = []
        for k, assigned in enumerate(self._assignment(dep)):
            client_id = f"{dep.name}-{k}"
            member_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/{dep.name}/{k}/{group.generation}")
            host = f"/10.{zlib.crc32(dep.name.encode()) % 250}.{k // 250}.{k % 250 + 1}"
            out.append(Member(f"{client_id}-{member_uuid}", client_id, host, dep.topics, tuple(assigned)))
        return out

    def _add_deployment(self, dep: Deployment, now: float) -> None:
        self.deployments[dep.name] = DeploymentState(dep.name, dep.group, dep.topics, dep.replicas, dep.rate)
        group = GroupState(dep.group, dep.protocol, "consumer", dep.name, generation=1 if dep.replicas else 0)
        for topic in dep.topics:
            for p in self.topics[topic].partitions:
                group.offsets[(topic, p.index)] = Anchor(now, float(self.offset_at(p, now - dep.lag)))
                self._consumers_of.setdefault((topic, p.index), []).append(group.name)
        self.groups[dep.group] = group

    # ---- rebasing -----------------------------------------------------------------------------------------

    def _flows_since_rebase(self, t: float) -> dict[tuple[int, str], tuple[float, float]]:
        """(leader, topic) → (messages produced, messages consumed) since the last rebase."""
        flows: dict[tuple[int, str], tuple[float, float]] = {}
        caps_cache: dict[str, dict[tuple[str, int], float]] = {}
        for p in self._all_partitions():
            if p.leader < 0:
                continue
            produced = self._produced(p, t) - p.rebase_produced
            consumed = 0.0
            for name in self._consumers_of.get((p.topic, p.index), ()):
                group = self.groups.get(name)
                if group is None or (p.topic, p.index) not in group.offsets:
                    continue
                caps = caps_cache.setdefault(name, self._capacity(group))
                now_c = self.committed(group, (p.topic, p.index), t, caps.get((p.topic, p.index), 0.0))
                consumed += max(0.0, now_c - group.offsets[(p.topic, p.index)].c0)
            key = (p.leader, p.topic)
            old = flows.get(key, (0.0, 0.0))
            flows[key] = (old[0] + produced, old[1] + consumed)
        return flows

    def _rebase(self, t: float) -> None:
        """Fold everything that flowed since the last rebase into stored values, as of ``t``."""
        t = max(t, self._rebase_time)
        for key, (produced, consumed) in self._flows_since_rebase(t).items():
            acc = self._flow_acc.setdefault(key, [0.0, 0.0])
            acc[0] += produced
            acc[1] += consumed
        for group in self.groups.values():
            caps = self._capacity(group)
            for tp, anchor in group.offsets.items():
                value = self.committed(group, tp, t, caps.get(tp, 0.0))
                anchor.t0, anchor.c0 = t, float(value)
        for p in self._all_partitions():
            p.start_floor = self._log_start_raw(p, t)
            p.rebase_produced = self._produced(p, t)
        self._rebase_time = t

    def _event(self) -> float:
        """Start a state change: apply due events, rebase to now, bump the metadata version."""
        now = self.sync()
        self._rebase(now)
        self.version += 1
        return now

    # ---- leadership and faults ----------------------------------------------------------------------------

    def _set_leader(self, p: PartitionState, leader: int, now: float) -> None:
        if leader == p.leader:
            return
        p.leader = leader
        p.leader_epoch += 1
        rate = self.topics[p.topic].rate * p.weight if leader >= 0 else 0.0
        p.series.set_rate(now, rate)

    def stop_broker(self, broker_id: int) -> None:
        with self.lock:
            broker = self.broker(broker_id)
            if not broker.up:
                return
            now = self._event()
            broker.up = False
            self._rejoins = [(t, b) for t, b in self._rejoins if b != broker_id]
            heapq.heapify(self._rejoins)
            for p in self._all_partitions():
                if broker_id not in p.replicas:
                    continue
                if broker_id in p.isr and len(p.isr) > 1:
                    p.isr.remove(broker_id)
                    leader_for_count = p.leader if p.leader != broker_id else None
                    if p.leader == broker_id:
                        new_leader = next(r for r in p.replicas if r in p.isr)
                        self._set_leader(p, new_leader, now)
                        leader_for_count = new_leader
                    if leader_for_count is not None:
                        self.brokers[leader_for_count].isr_shrinks += 1
                elif p.leader == broker_id:
                    # The last in-sync replica: Kafka keeps it in the ISR and the partition goes offline.
                    self._set_leader(p, -1, now)

    def start_broker(self, broker_id: int) -> None:
        with self.lock:
            broker = self.broker(broker_id)
            if broker.up:
                return
            now = self._event()
            broker.up = True
            for p in self._all_partitions():
                if p.leader < 0 and p.isr == [broker_id]:
                    self._set_leader(p, broker_id, now)
            heapq.heappush(self._rejoins, (now + self.catchup, broker_id))
            if self.catchup == 0:
                self.sync()

    def _rejoin(self, broker_id: int) -> None:
        """After catch-up: back into every ISR it belongs to, and preferred leadership restored."""
        broker = self.brokers[broker_id]
        if not broker.up:
            return
        now = self._rebase_time
        for p in self._all_partitions():
            if broker_id not in p.replicas:
                continue
            if broker_id not in p.isr and not p.pinned_isr:
                p.isr.append(broker_id)
                p.isr.sort(key=p.replicas.index)
                if p.leader >= 0:
                    self.brokers[p.leader].isr_expands += 1
            if p.leader < 0 and broker_id in p.isr:
                self._set_leader(p, broker_id, now)
            if p.replicas[0] == broker_id and broker_id in p.isr:
                self._set_leader(p, broker_id, now)
        self.version += 1

    def shrink_isr(self, topic: str, index: int, isr: list[int]) -> None:
        """Set a partition's ISR (a subset of its live replicas); giving every replica back un-pins it."""
        with self.lock:
            p = self.partition(topic, index)
            if not isr:
                raise SandboxError("isr must name at least one broker")
            if len(set(isr)) != len(isr):
                raise SandboxError("isr lists a broker twice")
            for b in isr:
                if b not in p.replicas:
                    raise SandboxError(f"broker {b} is not a replica of {topic}-{index} (replicas {p.replicas})")
                if not self.brokers[b].up:
                    raise SandboxError(f"broker {b} is down and cannot be in the ISR")
            now = self._event()
            ordered = sorted(isr, key=p.replicas.index)
            leader = p.leader if p.leader in ordered else ordered[0]
            shrunk = len([b for b in p.isr if b not in ordered])
            grown = len([b for b in ordered if b not in p.isr])
            p.isr = ordered
            p.pinned_isr = set(ordered) != set(p.replicas)
            self._set_leader(p, leader, now)
            self.brokers[leader].isr_shrinks += shrunk
            self.brokers[leader].isr_expands += grown

    def set_produce_rate(self, topic: str, rate: float) -> None:
        if not (rate >= 0 and math.isfinite(rate)):
            raise SandboxError("rate must be a finite number >= 0 (messages per second)")
        with self.lock:
            t = self.topic(topic)
            now = self._event()
            t.rate = rate
            for p in t.partitions:
                p.series.set_rate(now, rate * p.weight if p.leader >= 0 else 0.0)

    def set_produce_fault(self, broker_id: int, *, delay: float, drop: bool) -> None:
        """Make the broker answer Produce ``delay`` seconds late and/or acknowledge records without keeping them."""
        if not (0 <= delay <= 60 and math.isfinite(delay)):
            raise SandboxError("delay must be from 0 to 60 seconds")
        with self.lock:
            broker = self.broker(broker_id)
            broker.produce_delay = delay
            broker.drop_produce = drop

    def create_topic(self, name: str, assignment: list[list[int]]) -> TopicState:
        """A topic created by a client (CreateTopics): no simulated traffic, only the records clients produce."""
        with self.lock:
            if name in self.topics:
                raise TopicExists(f"Topic '{name}' already exists.")
            if not assignment or any(not replicas for replicas in assignment):
                raise SandboxError("every partition needs at least one replica")
            for replicas in assignment:
                unknown = [b for b in replicas if b not in self.brokers]
                if unknown or len(set(replicas)) != len(replicas):
                    raise SandboxError(f"invalid replica assignment {replicas}")
            now = self._event()
            live = set(self.live_brokers())
            partitions = []
            for index, replicas in enumerate(assignment):
                isr = [b for b in replicas if b in live]
                leader = isr[0] if isr else -1
                series = RateSeries(now, 0.0)
                partitions.append(PartitionState(name, index, list(replicas), isr, leader, series, 1 / len(assignment)))
            topic = TopicState(name, uuid.uuid4(), 0.0, 100, "low", {}, partitions)
            self.topics[name] = topic
            for partition in partitions:
                partition.start_floor = self._log_start_raw(partition, now)
                partition.rebase_produced = self._produced(partition, now)
            return topic

    def set_disk_usage(self, broker_id: int, used_ratio: float) -> None:
        """Make the broker's log dir ``used_ratio`` full now, by adding non-log usage on top of its logs."""
        if not 0 <= used_ratio <= 1:
            raise SandboxError("used_ratio must be between 0 and 1")
        with self.lock:
            broker = self.broker(broker_id)
            now = self.sync()
            logs = self._broker_log_bytes(broker_id, now)
            target = int(used_ratio * broker.disk_bytes)
            if target < logs:
                raise SandboxError(
                    f"broker {broker_id}'s logs already use {logs / broker.disk_bytes:.4f} of its disk; "
                    f"cannot set usage to {used_ratio}"
                )
            broker.extra_disk_bytes = target - logs

    # ---- deployments and groups ---------------------------------------------------------------------------

    def scale_deployment(self, name: str, replicas: int) -> None:
        if replicas < 0:
            raise SandboxError("replicas must be >= 0")
        with self.lock:
            dep = self.deployment(name)
            self._event()
            self._set_replicas(dep, replicas)
            dep.paused_replicas = None

    def _set_replicas(self, dep: DeploymentState, replicas: int) -> None:
        if replicas == dep.replicas:
            return
        dep.replicas = replicas
        group = self.groups.get(dep.group)
        now = self._rebase_time
        if group is None:
            # Recreated after a delete: a fresh group starts at the log end (auto.offset.reset=latest).
            group = GroupState(dep.group, "classic", "consumer", dep.name)
            for topic in dep.topics:
                for p in self.topics[topic].partitions:
                    group.offsets[(topic, p.index)] = Anchor(now, float(self.log_end(p, now)))
            self.groups[dep.group] = group
        group.deployment = dep.name
        group.generation += 1

    def set_consume_rate(self, name: str, rate: float) -> None:
        """Messages per second each replica consumes from now on; 0 stalls the group: its members stay, its committed
        offsets stop advancing (a poison record, a deadlocked consumer)."""
        if rate < 0:
            raise SandboxError("messages_per_second must be >= 0")
        with self.lock:
            dep = self.deployment(name)
            self._event()  # offsets so far at the old rate
            dep.rate = rate

    def pause_deployment(self, name: str) -> None:
        with self.lock:
            dep = self.deployment(name)
            if dep.paused:
                return
            self._event()
            before = dep.replicas
            self._set_replicas(dep, 0)
            dep.paused_replicas = before

    def resume_deployment(self, name: str) -> None:
        with self.lock:
            dep = self.deployment(name)
            if not dep.paused:
                return
            self._event()
            restore = dep.paused_replicas or 0
            dep.paused_replicas = None
            self._set_replicas(dep, restore)

    def delete_group(self, name: str) -> int:
        """Delete an empty group; returns a Kafka error code (0, GROUP_ID_NOT_FOUND=69, NON_EMPTY_GROUP=68)."""
        with self.lock:
            group = self.groups.get(name)
            if group is None:
                return 69
            if self.group_state(group) != "Empty":
                return 68
            self._event()
            del self.groups[name]
            for consumers in self._consumers_of.values():
                if name in consumers:
                    consumers.remove(name)
            return 0

    def commit_offsets(
        self, name: str, generation: int, member_id: str, offsets: dict[tuple[str, int], tuple[int, str]]
    ) -> int:
        """OffsetCommit from a real client; returns the error code for the whole request (0 when accepted)."""
        with self.lock:
            group = self.groups.get(name)
            if group is not None and self.group_state(group) != "Empty":
                if member_id not in {m.member_id for m in self.members(group)}:
                    return 25  # UNKNOWN_MEMBER_ID
                if generation != group.generation:
                    return 22  # ILLEGAL_GENERATION
            self._event()
            now = self._rebase_time
            if group is None:
                group = GroupState(name, "classic", "", None)
                self.groups[name] = group
            for (topic, index), (offset, metadata) in offsets.items():
                group.offsets[(topic, index)] = Anchor(now, float(offset), metadata)
                consumers = self._consumers_of.setdefault((topic, index), [])
                if name not in consumers:
                    consumers.append(name)
            return 0

    # ---- configs ------------------------------------------------------------------------------------------

    def alter_topic_config(
        self, topic: str, changes: list[tuple[str, int, str | None]], validate_only: bool
    ) -> str | None:
        """IncrementalAlterConfigs for one topic: (name, op, value) with op SET=0 DELETE=1 APPEND=2 SUBTRACT=3.

        Returns Kafka's error message (INVALID_CONFIG) or None; nothing changes unless every change is valid.
        """
        with self.lock:
            t = self.topic(topic)
            new = dict(t.config)
            for name, op, given in changes:
                value = given
                if name not in TOPIC_CONFIGS:
                    return f"Unknown topic config name: {name}"
                if op == 1:
                    new.pop(name, None)
                    continue
                if op in (2, 3):
                    if name != "cleanup.policy":
                        return f"Config value append/subtract is not allowed for config key {name}"
                    current = [x for x in new.get(name, TOPIC_CONFIGS[name].default).split(",") if x]
                    items = [x.strip() for x in (value or "").split(",") if x.strip()]
                    current = (
                        current + [x for x in items if x not in current]
                        if op == 2
                        else [x for x in current if x not in items]
                    )
                    value = ",".join(current)
                elif op != 0:
                    return f"Unknown config operation {op}"
                problem = validate_topic_config(name, value)
                if problem:
                    return problem
                assert value is not None
                new[name] = normalise(name, value)
            if validate_only:
                return None
            self._event()
            t.config = new
            t.retention_cache = None
            return None

    # ---- produce and fetch ----------------------------------------------------------------------------------

    def append(self, p: PartitionState, raw: bytes, leader: int) -> tuple[int, int]:
        """Append produced records; returns (base offset, log-start offset)."""
        with self.lock:
            now = self.sync()
            base = self.log_end(p, now)
            broker = self.brokers[leader]
            if not broker.drop_produce:
                p.records.append(base, now, raw)
            broker.produce_requests += 1
            return base, self.log_start(p, now)

    # ---- disks --------------------------------------------------------------------------------------------

    def replica_sizes(self, broker_id: int, t: float) -> list[tuple[PartitionState, int]]:
        """Bytes of each replica the broker hosts at ``t``, in topic order."""
        return [(p, self.size_bytes(p, t)) for p in self._all_partitions() if broker_id in p.replicas]

    def _broker_log_bytes(self, broker_id: int, t: float) -> int:
        return sum(size for _, size in self.replica_sizes(broker_id, t))

    def disk(self, broker_id: int, t: float, log_bytes: int | None = None) -> tuple[int, int, int]:
        """(total, used, usable) bytes of the broker's log dir at ``t``; ``log_bytes``, the sum of
        :meth:`replica_sizes` at ``t`` when the caller has it already."""
        broker = self.brokers[broker_id]
        logs = self._broker_log_bytes(broker_id, t) if log_bytes is None else log_bytes
        used = logs + broker.extra_disk_bytes
        return broker.disk_bytes, used, max(0, broker.disk_bytes - used)

    # ---- derived views ------------------------------------------------------------------------------------

    def min_isr(self, p: PartitionState) -> int:
        return int(self.topics[p.topic].config_value("min.insync.replicas"))

    def offline_replicas(self, p: PartitionState) -> list[int]:
        return [r for r in p.replicas if not self.brokers[r].up]

    def broker_stats(self, broker_id: int) -> BrokerStats:
        """Counters and gauges of one broker as its JMX MBeans would show them (see docs/sandbox.md)."""
        with self.lock:
            broker = self.broker(broker_id)
            now = self.sync()
            flows = self._flows_since_rebase(now)
            topics: dict[str, dict[str, float]] = {}
            keys = {k for k in self._flow_acc if k[0] == broker_id} | {k for k in flows if k[0] == broker_id}
            for key in keys:
                acc = self._flow_acc.get(key, [0.0, 0.0])
                extra = flows.get(key, (0.0, 0.0))
                size = self.topics[key[1]].message_bytes if key[1] in self.topics else 0
                messages_in = math.floor(acc[0] + extra[0])
                messages_out = math.floor(acc[1] + extra[1])
                topics[key[1]] = {
                    "messages_in_total": float(messages_in),
                    "bytes_in_total": float(messages_in * size),
                    "bytes_out_total": float(messages_out * size),
                }
            hosted = [p for p in self._all_partitions() if broker_id in p.replicas]
            led = [p for p in hosted if p.leader == broker_id]
            is_controller = broker.up and self.controller() == broker_id
            total_in: float = sum(t["messages_in_total"] for t in topics.values())
            return BrokerStats(
                broker_id=broker_id,
                up=broker.up,
                bytes_in_total=sum(t["bytes_in_total"] for t in topics.values()),
                bytes_out_total=sum(t["bytes_out_total"] for t in topics.values()),
                messages_in_total=total_in,
                produce_requests_total=float(
                    math.floor(total_in / MESSAGES_PER_PRODUCE_REQUEST) + broker.produce_requests
                ),
                failed_produce_requests_total=float(broker.failed_produce_requests),
                isr_shrinks_total=broker.isr_shrinks,
                isr_expands_total=broker.isr_expands,
                under_replicated_partitions=sum(1 for p in led if len(p.isr) < len(p.replicas)) if broker.up else 0,
                under_min_isr_partitions=sum(1 for p in led if len(p.isr) < self.min_isr(p)) if broker.up else 0,
                partition_count=len(hosted) if broker.up else 0,
                leader_count=len(led) if broker.up else 0,
                offline_partitions=sum(1 for p in self._all_partitions() if p.leader < 0) if is_controller else 0,
                active_controller=1 if is_controller else 0,
                topics=topics,
                log_sizes={(p.topic, p.index): self.size_bytes(p, now) for p in hosted},
                requests=dict(broker.requests),
            )

    def count_request(self, broker_id: int, names: tuple[str, ...], version: int) -> None:
        """One request received by ``broker_id``, counted under each of ``names`` at ``version``: Kafka marks a
        request's ``RequestsPerSec`` meter (one per API version, created by the first request of that version) under
        its API's name, and a Fetch also under FetchConsumer or FetchFollower. Counters survive a broker restart here
        (a real broker's restart starts them from 0); readers take differences over a window, as from any meter."""
        with self.lock:
            requests = self.brokers[broker_id].requests
            for name in names:
                requests[(name, version)] = requests.get((name, version), 0) + 1

    def truth(self) -> dict[str, Any]:
        """Ground truth at ``clock.now()``: the JSON ``GET /fleet`` serves for this cluster."""
        with self.lock:
            now = self.sync()
            brokers = []
            for b in sorted(self.brokers.values(), key=lambda x: x.id):
                total, used, usable = self.disk(b.id, now)
                brokers.append(
                    {
                        "id": b.id,
                        "host": b.host,
                        "port": b.port,
                        "rack": b.rack,
                        "up": b.up,
                        "log_dir": LOG_DIR,
                        "disk_total_bytes": total,
                        "disk_used_bytes": used,
                        "disk_usable_bytes": usable,
                    }
                )
            topics = {}
            for t in self.topics.values():
                partitions = []
                for p in t.partitions:
                    start, end = self.log_start(p, now), self.log_end(p, now)
                    partitions.append(
                        {
                            "partition": p.index,
                            "leader": p.leader,
                            "leader_epoch": p.leader_epoch,
                            "replicas": list(p.replicas),
                            "isr": list(p.isr),
                            "offline_replicas": self.offline_replicas(p),
                            "log_start_offset": start,
                            "log_end_offset": end,
                            "size_bytes": (end - start) * t.message_bytes,
                        }
                    )
                topics[t.name] = {
                    "topic_id": str(t.topic_id),
                    "criticality": t.criticality,
                    "rate": t.rate,
                    "message_bytes": t.message_bytes,
                    "config": {name: t.config_value(name) for name in TOPIC_CONFIGS},
                    "partitions": partitions,
                }
            groups = {}
            for g in self.groups.values():
                offsets: dict[str, dict[str, int]] = {}
                for (topic, index), value in sorted(self.group_offsets(g, now).items()):
                    offsets.setdefault(topic, {})[str(index)] = value
                groups[g.name] = {
                    "state": self.group_state(g),
                    "group_type": g.group_type,
                    "protocol_type": g.protocol_type,
                    "coordinator": self.coordinator(g.name),
                    "deployment": g.deployment,
                    "members": [
                        {
                            "member_id": m.member_id,
                            "client_id": m.client_id,
                            "client_host": m.client_host,
                            "assignment": _assignment_dict(m.assignment),
                        }
                        for m in (self.members(g) if self.group_state(g) == "Stable" else [])
                    ],
                    "offsets": offsets,
                }
            deployments = {
                d.name: {
                    "group": d.group,
                    "topics": list(d.topics),
                    "replicas": d.replicas,
                    "paused": d.paused,
                    "rate_per_replica": d.rate,
                }
                for d in self.deployments.values()
            }
            return {
                "name": self.name,
                "region": self.plan.region,
                "environment": self.plan.environment,
                "priority": self.plan.priority,
                "cluster_id": self.cluster_id,
                "controller": self.controller(),
                "brokers": brokers,
                "topics": topics,
                "groups": groups,
                "deployments": deployments,
            }


def _assignment_dict(assignment: tuple[tuple[str, int], ...]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, index in assignment:
        out.setdefault(topic, []).append(index)
    return out
