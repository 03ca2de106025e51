"""The end-to-end canary: delivery measured the way a client feels it, per partition and the broker leading it.

Opt-in per cluster (``canary: {enabled: true}`` in clusters.yaml), because it writes to the cluster. Like kminion's
end-to-end probe, it keeps a topic with a partition led by every broker, produces one message per partition per
interval (``acks=all``) carrying this exporter's instance id and a creation timestamp, and consumes its own messages
back with ``assign()`` (no consumer group, nothing committed). Unlike the brokers' JMX Produce percentiles, this
sees the network and a broker that does not answer at all.

Accounting, per (partition, leader broker at produce time):

* ``produced`` counts every message handed to the producer; a produce refused at once or failing in its delivery
  report counts as a produce error and leaves the books (it was never stored, so it cannot come back).
* ``received`` counts messages consumed back within the SLA; ``lost`` counts those not back within the SLA (an ack
  does not save a message: a broker that acknowledges and loses data is what this is for). A message consumed
  after being counted lost is ignored, so ``produced = received + lost + errors + in flight``.
* Latencies are measured on the injected clock's monotonic time, not from the payload's wall-clock timestamp
  (which is carried for humans reading the topic), so a clock step cannot produce negative or huge latencies.

The canary runs on its own thread per cluster (:class:`CanaryRunner`), independent of the collection cycle's
interval, and publishes its series into the snapshot store as a part of its cluster
(:meth:`~kafka_obs.exporter.store.SnapshotStore.publish_part`). Leadership is re-checked every
:data:`LEADERSHIP_CHECK` seconds: missing partitions are added for brokers that lead none, and a preferred-leader
election is asked for partitions led by another broker than their first replica.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kafka_obs.clock import Clock
from kafka_obs.config.clusters import CanarySettings, Cluster
from kafka_obs.exporter.catalogue import BY_NAME
from kafka_obs.exporter.exposition import render_samples
from kafka_obs.exporter.families import Family, FamilyBuilder
from kafka_obs.exporter.store import SnapshotStore

log = logging.getLogger(__name__)

LEADERSHIP_CHECK = 60.0
"""Seconds between two checks of the canary topic's partitions and leaders."""
CONSUME_SLICE = 0.05
"""Longest wait for canary messages at once: bounds how late the next round and a stop request are served."""
DEFAULT_REPLICATION = 3

PRODUCE_LATENCY = BY_NAME["kafka_canary_produce_latency_seconds"]
ROUNDTRIP_LATENCY = BY_NAME["kafka_canary_roundtrip_latency_seconds"]
PRODUCED = "kafka_canary_messages_produced_total"
RECEIVED = "kafka_canary_messages_received_total"
LOST = "kafka_canary_messages_lost_total"
PRODUCE_ERRORS = "kafka_canary_produce_errors_total"
COUNTERS = (PRODUCED, RECEIVED, LOST, PRODUCE_ERRORS)


DeliveryReport = Callable[[str | None, float | None], None]
"""Called with (error text or None, produce latency in seconds measured by the client or None)."""


class CanaryError(Exception):
    """The canary's topic cannot be described, created or repaired (the message says why, without secrets)."""


@dataclass(frozen=True, slots=True)
class CanaryPartition:
    partition: int
    leader: int
    """-1 when the partition has no leader."""
    replicas: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TopicLayout:
    brokers: tuple[int, ...]
    partitions: tuple[CanaryPartition, ...] | None
    """None when the topic does not exist."""


class CanaryClient(Protocol):
    """What the canary needs from Kafka: an admin view of its topic, a producer (acks=all) and an assigned consumer.

    ``produce`` may raise (queue full, unknown partition): a produce error. ``on_delivery`` is called from inside
    :meth:`poll` in the caller's thread with an error text (or None) and the produce latency the client measured
    itself (librdkafka's ``Message.latency()``, None when unknown): delivery reports are only served when the canary
    polls, so timing them on arrival would add up to the polling period to every latency.
    """

    def layout(self, topic: str) -> TopicLayout: ...

    def create_topic(self, topic: str, assignment: Sequence[Sequence[int]]) -> None: ...

    def add_partitions(self, topic: str, total: int, assignment: Sequence[Sequence[int]]) -> None: ...

    def elect_preferred(self, topic: str, partitions: Sequence[int]) -> None: ...

    def produce(self, topic: str, partition: int, value: bytes, on_delivery: DeliveryReport) -> None: ...

    def poll(self, timeout: float) -> None: ...

    def assign(self, topic: str, partitions: Sequence[int]) -> None:
        """Consume these partitions from their end (messages produced from now on)."""
        ...

    def consume(self, timeout: float) -> list[tuple[int, bytes]]:
        """(partition, value) of the messages that arrived, waiting at most ``timeout`` seconds for the first."""
        ...

    def close(self) -> None: ...


class LatencyHistogram:
    """Counts per bucket of a catalogue histogram's bounds (plus +Inf) and the sum of observations."""

    __slots__ = ("_bounds", "_counts", "total")

    def __init__(self, bounds: Sequence[float]):
        self._bounds = list(bounds)
        self._counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: an observation equal to a bound belongs to that bucket (le is "less than or equal")
        self._counts[bisect.bisect_left(self._bounds, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[int]:
        out, running = [], 0
        for count in self._counts:
            running += count
            out.append(running)
        return out


@dataclass(slots=True)
class _Pending:
    partition: int
    broker: int
    sent: float
    """Monotonic time of the produce call."""


@dataclass(slots=True)
class _Series:
    """One (partition, broker) pair's histograms and counters."""

    produce: LatencyHistogram = field(default_factory=lambda: LatencyHistogram(PRODUCE_LATENCY.buckets))
    roundtrip: LatencyHistogram = field(default_factory=lambda: LatencyHistogram(ROUNDTRIP_LATENCY.buckets))
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))


def preferred_assignment(brokers: Sequence[int], replication: int) -> list[list[int]]:
    """One partition per broker, led (first replica) by it; followers are the next brokers in ring order."""
    ordered = sorted(brokers)
    factor = max(1, min(replication, len(ordered)))
    return [[ordered[(i + k) % len(ordered)] for k in range(factor)] for i in range(len(ordered))]


class Canary:
    """The canary's state and steps, driven by :class:`CanaryRunner` (or directly by tests, with a ManualClock).

    All methods run in one thread: delivery reports arrive inside :meth:`serve`, which is called from that thread.
    """

    def __init__(
        self,
        cluster: Cluster,
        client: CanaryClient,
        clock: Clock,
        *,
        instance: str | None = None,
    ):
        self.cluster = cluster
        self.settings: CanarySettings = cluster.canary
        self._client = client
        self._clock = clock
        self.instance = instance if instance is not None else uuid.uuid4().hex
        self._leaders: dict[int, int] = {}
        self._assigned: tuple[int, ...] = ()
        self._pending: dict[int, _Pending] = {}
        self._sequence = 0
        self._series: dict[tuple[int, int], _Series] = {}
        self.version = 0
        """Increases whenever a series changes, so the runner publishes only what is new."""

    @property
    def leaders(self) -> Mapping[int, int]:
        return dict(self._leaders)

    # -- topic ---------------------------------------------------------------------------------------------------

    def ensure_topic(self) -> None:
        """Create the topic when missing, add partitions for brokers leading none, and restore preferred leaders."""
        topic = self.settings.topic
        layout = self._client.layout(topic)
        if not layout.brokers:
            raise CanaryError("the cluster's metadata lists no broker")
        replication = self.settings.replication_factor or DEFAULT_REPLICATION
        if layout.partitions is None:
            log.info("creating the canary topic", extra={"cluster": self.cluster.name, "topic": topic})
            self._client.create_topic(topic, preferred_assignment(layout.brokers, replication))
            layout = self._client.layout(topic)
            if layout.partitions is None:
                raise CanaryError(f"topic {topic!r} was created but is not in the metadata yet")
        partitions = layout.partitions
        preferred = {p.replicas[0] for p in partitions if p.replicas}
        missing = [b for b in sorted(layout.brokers) if b not in preferred]
        if missing:
            others = sorted(layout.brokers)
            factor = max(1, min(replication, len(others)))
            assignment = [[b, *[o for o in others if o != b][: factor - 1]] for b in missing]
            log.info(
                "adding canary partitions for brokers that lead none",
                extra={"cluster": self.cluster.name, "brokers": ",".join(map(str, missing))},
            )
            self._client.add_partitions(topic, len(partitions) + len(missing), assignment)
        misled = [p.partition for p in partitions if p.replicas and p.leader != p.replicas[0]]
        if misled:
            log.info(
                "canary partitions not on their preferred leader, asking for an election",
                extra={"cluster": self.cluster.name, "partitions": ",".join(map(str, misled))},
            )
            self._client.elect_preferred(topic, misled)
        self._leaders = {p.partition: p.leader for p in partitions}
        for p in partitions:
            self._series_for(p.partition, p.leader)
        wanted = tuple(sorted(self._leaders))
        if wanted != self._assigned:
            self._client.assign(topic, wanted)
            self._assigned = wanted

    # -- rounds ----------------------------------------------------------------------------------------------------

    def produce_round(self) -> None:
        """One message per partition that has a leader (a leaderless partition is skipped: nothing to measure)."""
        topic = self.settings.topic
        for partition, leader in sorted(self._leaders.items()):
            if leader < 0:
                continue
            self._sequence += 1
            sequence = self._sequence
            sent = self._clock.monotonic()
            value = json.dumps(
                {"instance": self.instance, "sequence": sequence, "created_ms": round(self._clock.now() * 1000)}
            ).encode()
            self._count(partition, leader, PRODUCED)
            self._pending[sequence] = _Pending(partition, leader, sent)
            try:
                self._client.produce(topic, partition, value, self._on_delivery(sequence, partition, leader, sent))
            except Exception as exc:  # refused before it left: a produce error, never a lost message
                log.warning(
                    "canary produce refused", extra={"cluster": self.cluster.name, "partition": partition, "err": exc}
                )
                self._pending.pop(sequence, None)
                self._count(partition, leader, PRODUCE_ERRORS)

    def _on_delivery(self, sequence: int, partition: int, broker: int, sent: float) -> DeliveryReport:
        def delivered(error: str | None, latency: float | None) -> None:
            if error is not None:
                log.info(
                    "canary produce failed",
                    extra={"cluster": self.cluster.name, "partition": partition, "err": error},
                )
                if self._pending.pop(sequence, None) is not None:
                    self._count(partition, broker, PRODUCE_ERRORS)
                return
            measured = latency if latency is not None else self._clock.monotonic() - sent
            self._series_for(partition, broker).produce.observe(measured)
            self.version += 1

        return delivered

    def serve(self, timeout: float) -> None:
        """Serve delivery reports, then take what arrived (waiting up to ``timeout``), then count what is late."""
        self._client.poll(0)
        for _partition, value in self._client.consume(timeout):
            self.received(value)
        self._client.poll(0)
        self.expire()

    def received(self, value: bytes) -> None:
        try:
            message = json.loads(value)
            instance, sequence = message["instance"], int(message["sequence"])
        except (ValueError, TypeError, KeyError):
            return  # not a canary message (someone else wrote to the topic): not ours to count
        if instance != self.instance:
            return  # another exporter's canary: it counts its own
        pending = self._pending.pop(sequence, None)
        if pending is None:
            return  # already counted lost (or failed): late arrivals change nothing
        series = self._series_for(pending.partition, pending.broker)
        series.roundtrip.observe(self._clock.monotonic() - pending.sent)
        self._count(pending.partition, pending.broker, RECEIVED)

    def expire(self) -> None:
        deadline = self._clock.monotonic() - self.settings.sla
        late = [sequence for sequence, p in self._pending.items() if p.sent <= deadline]
        for sequence in late:
            pending = self._pending.pop(sequence)
            self._count(pending.partition, pending.broker, LOST)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # -- series ----------------------------------------------------------------------------------------------------

    def _series_for(self, partition: int, broker: int) -> _Series:
        key = (partition, broker)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
            self.version += 1
        return series

    def _count(self, partition: int, broker: int, counter: str) -> None:
        self._series_for(partition, broker).counters[counter] += 1
        self.version += 1

    def families(self) -> tuple[Family, ...]:
        builder = FamilyBuilder()
        ordered = sorted(self._series.items())
        for histogram, metric in (("produce", PRODUCE_LATENCY), ("roundtrip", ROUNDTRIP_LATENCY)):
            for (partition, broker), series in ordered:
                values: LatencyHistogram = getattr(series, histogram)
                builder.add_histogram(metric, values.cumulative(), values.total, str(partition), str(broker))
        for counter in COUNTERS:
            for (partition, broker), series in ordered:
                builder.add(counter, float(series.counters[counter]), str(partition), str(broker))
        return builder.build()

    def close(self) -> None:
        self._client.close()


class CanaryRunner:
    """Runs one cluster's canary on its own thread and interval, publishing into the store after every change.

    A failure to set up or check the topic is logged and retried at the next leadership check; the canary keeps
    producing to the partitions it knows meanwhile (they may still work, and their loss is what to measure).
    """

    SOURCE = "canary"

    def __init__(
        self, canary: Canary, store: SnapshotStore, clock: Clock, *, leadership_check: float = LEADERSHIP_CHECK
    ):
        self.canary = canary
        self._store = store
        self._clock = clock
        self._leadership_check = leadership_check
        self._labels = canary.cluster.static_labels()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._published = -1

    @property
    def name(self) -> str:
        return self.canary.cluster.name

    def publish(self) -> None:
        if self.canary.version == self._published:
            return
        self._published = self.canary.version
        self._store.publish_part(self.name, self.SOURCE, render_samples(self._labels, self.canary.families()))

    def _check_topic(self) -> None:
        try:
            self.canary.ensure_topic()
        except Exception as exc:
            log.warning(
                "canary topic check failed", extra={"cluster": self.name, "err": f"{type(exc).__name__}: {exc}"}
            )

    def _loop(self) -> None:
        interval = self.canary.settings.interval
        next_round = next_check = self._clock.monotonic()
        try:
            while not self._stop.is_set():
                now = self._clock.monotonic()
                if now >= next_check:
                    self._check_topic()
                    next_check = now + self._leadership_check
                if now >= next_round:
                    self.canary.produce_round()
                    next_round = max(next_round + interval, now)  # a late round is not made up by a burst
                try:
                    self.canary.serve(max(0.0, min(CONSUME_SLICE, next_round - self._clock.monotonic())))
                except Exception:
                    log.exception("canary consume failed", extra={"cluster": self.name})
                    self._stop.wait(CONSUME_SLICE)
                self.publish()
        finally:
            self.canary.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"canary-{self.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, deadline: float) -> bool:
        """Wait until ``deadline`` (``time.monotonic()``, as :meth:`ClusterWorker.join`) for the loop to end."""
        if self._thread is None:
            self.canary.close()
            return True
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()
