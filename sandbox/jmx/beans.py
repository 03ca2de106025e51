"""What a simulated broker shows over JMX: Kafka's real ObjectNames, filled from the simulation's numbers.

The exporter's collector is written against real Kafka, so the sandbox must register the very MBeans a Kafka
broker registers (Yammer metrics through JmxReporter, plus the JVM's platform beans), with the same attribute
sets: a meter has ``Count`` and its 1/5/15-minute rates, a request histogram its percentiles, a gauge ``Value``.
This module is deliberately independent of the exporter's catalogue: the end-to-end tests compare the two, which
only proves something if they were written separately.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["meter", "gauge", "histogram", "memory", "gc", "appinfo"]
Value = int | float | str

PERCENTILES: tuple[tuple[str, str], ...] = (
    ("p50", "50thPercentile"),
    ("p75", "75thPercentile"),
    ("p95", "95thPercentile"),
    ("p98", "98thPercentile"),
    ("p99", "99thPercentile"),
    ("p999", "999thPercentile"),
)
REQUESTS = ("Produce", "FetchConsumer", "FetchFollower")
"""The request types whose TotalTimeMs the catalogue reads."""

_UNQUOTED_VALUE = re.compile(r'^[^,=:"*?\n\t]+$')
_ATTRIBUTE = re.compile(r"^[A-Za-z0-9_]+(\.[a-z]+)?$")


def object_name(domain: str, **keys: str | int) -> str:
    """``domain:k1=v1,k2=v2`` in the given key order (Kafka's order); refuses values that would need quoting."""
    parts = []
    for key, raw in keys.items():
        text = str(raw)
        if not _UNQUOTED_VALUE.match(text):
            raise ValueError(f"{key}={text!r} is not a plain ObjectName value")
        parts.append(f"{key}={text}")
    return f"{domain}:{','.join(parts)}"


@dataclass(frozen=True)
class Bean:
    """One MBean of one broker and the attribute values to set on it."""

    kind: Kind
    object_name: str
    values: Mapping[str, Value] = field(default_factory=dict)

    def fields(self) -> list[str]:
        """The responder's ``set`` arguments after the broker: KIND, OBJECTNAME, ATTR=VALUE..."""
        out = [self.kind, self.object_name]
        for attribute, value in self.values.items():
            if not _ATTRIBUTE.match(attribute):
                raise ValueError(f"bad attribute name {attribute!r}")
            text = repr(float(value)) if isinstance(value, float) else str(value)
            if "\t" in text or "\n" in text:
                raise ValueError(f"{attribute} of {self.object_name}: tabs and newlines cannot be sent")
            out.append(f"{attribute}={text}")
        return out


@dataclass(frozen=True)
class TopicTraffic:
    """A broker's cumulative traffic for one topic (what its BrokerTopicMetrics meters count)."""

    bytes_in: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    produce_requests: int = 0
    failed_produce_requests: int = 0
    bytes_in_per_second: float = 0.0
    messages_in_per_second: float = 0.0


@dataclass(frozen=True)
class RequestLatency:
    """A request type's TotalTimeMs histogram: percentiles in milliseconds, keyed like :data:`PERCENTILES`."""

    count: int = 0
    percentiles_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokerJmxState:
    """Everything one simulated broker reports over JMX, computed by the simulation at one instant."""

    broker_id: int
    topics: Mapping[str, TopicTraffic] = field(default_factory=dict)
    all_topics: TopicTraffic | None = None
    """The broker-wide meters; ``None``: the sum over ``topics`` (give it when broker-wide counts are not a sum,
    e.g. produce requests counted per request rather than per topic)."""
    under_replicated_partitions: int = 0
    partition_count: int = 0
    leader_count: int = 0
    under_min_isr_partitions: int = 0
    isr_shrinks: int = 0
    isr_expands: int = 0
    active_controller: bool = False
    offline_partitions: int = 0
    """Kafka reports offline partitions on the active controller only; other brokers say 0."""
    request_latency: Mapping[str, RequestLatency] = field(default_factory=dict)
    request_handler_idle_ratio: float = 1.0
    network_processor_idle_ratio: float = 1.0
    log_sizes: Mapping[tuple[str, int], int] = field(default_factory=dict)
    heap_used_bytes: int = 0
    heap_max_bytes: int = 1 << 30
    gc: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Collector name → (collection count, accumulated collection time in milliseconds)."""
    version: str = "3.7.0"
    start_time_ms: int = 0
    requests: Mapping[tuple[str, int], int] = field(default_factory=dict)
    """(request name, API version) → requests received: one ``RequestsPerSec`` meter each, registered (as Kafka
    does) once a request of that version has arrived."""


def _meter(name: str, count: int, rate: float = 0.0, *, event: str, unit: str = "SECONDS") -> Bean:
    rates = dict.fromkeys(("MeanRate", "OneMinuteRate", "FiveMinuteRate", "FifteenMinuteRate"), rate)
    return Bean("meter", name, {"Count": count, **rates, "EventType": event, "RateUnit": unit})


def _topic_meters(traffic: TopicTraffic, topic: str | None) -> list[Bean]:
    def btm(metric: str) -> str:
        keys = {"type": "BrokerTopicMetrics", "name": metric} | ({"topic": topic} if topic is not None else {})
        return object_name("kafka.server", **keys)

    return [
        _meter(btm("BytesInPerSec"), traffic.bytes_in, traffic.bytes_in_per_second, event="bytes"),
        _meter(btm("BytesOutPerSec"), traffic.bytes_out, event="bytes"),
        _meter(btm("MessagesInPerSec"), traffic.messages_in, traffic.messages_in_per_second, event="messages"),
        _meter(btm("TotalProduceRequestsPerSec"), traffic.produce_requests, event="requests"),
        _meter(btm("FailedProduceRequestsPerSec"), traffic.failed_produce_requests, event="requests"),
    ]


def _gauge(domain: str, value: Value, **keys: str | int) -> Bean:
    return Bean("gauge", object_name(domain, **keys), {"Value": value})


def kafka_beans(state: BrokerJmxState) -> list[Bean]:
    """The MBeans a Kafka 3.x broker registers for ``state``, under their real ObjectNames.

    Names follow Kafka's source: per-topic BrokerTopicMetrics add ``topic=`` to the all-topics name, and the
    all-topics meters are the sums over topics (as Kafka's all-topics meter is marked with every topic's).
    """
    total = state.all_topics or TopicTraffic(
        **{
            name: sum(getattr(t, name) for t in state.topics.values())
            for name in TopicTraffic.__dataclass_fields__  # every field is additive
        }
    )
    beans = _topic_meters(total, None)
    for topic, traffic in sorted(state.topics.items()):
        beans += _topic_meters(traffic, topic)

    replica = "kafka.server"
    beans += [
        _gauge(replica, state.under_replicated_partitions, type="ReplicaManager", name="UnderReplicatedPartitions"),
        _gauge(replica, state.partition_count, type="ReplicaManager", name="PartitionCount"),
        _gauge(replica, state.leader_count, type="ReplicaManager", name="LeaderCount"),
        _gauge(replica, state.under_min_isr_partitions, type="ReplicaManager", name="UnderMinIsrPartitionCount"),
        _meter(
            object_name(replica, type="ReplicaManager", name="IsrShrinksPerSec"), state.isr_shrinks, event="shrinks"
        ),
        _meter(
            object_name(replica, type="ReplicaManager", name="IsrExpandsPerSec"), state.isr_expands, event="expands"
        ),
        _gauge("kafka.controller", int(state.active_controller), type="KafkaController", name="ActiveControllerCount"),
        _gauge("kafka.controller", state.offline_partitions, type="KafkaController", name="OfflinePartitionsCount"),
        _gauge(
            "kafka.network",
            state.network_processor_idle_ratio,
            type="SocketServer",
            name="NetworkProcessorAvgIdlePercent",
        ),
        # A meter in Kafka, marked with idle nanoseconds per handler thread: its rates are 0..1 ratios.
        _meter(
            object_name("kafka.server", type="KafkaRequestHandlerPool", name="RequestHandlerAvgIdlePercent"),
            0,
            state.request_handler_idle_ratio,
            event="percent",
            unit="NANOSECONDS",
        ),
    ]
    for request in REQUESTS:
        latency = state.request_latency.get(request, RequestLatency())
        values: dict[str, Value] = {"Count": latency.count}
        for key, attribute in PERCENTILES:
            values[attribute] = float(latency.percentiles_ms.get(key, 0.0))
        beans.append(
            Bean(
                "histogram",
                object_name("kafka.network", type="RequestMetrics", name="TotalTimeMs", request=request),
                values,
            )
        )
    for (request, version), count in sorted(state.requests.items()):
        keys: dict[str, str | int] = {"type": "RequestMetrics", "name": "RequestsPerSec"}
        keys |= {"request": request, "version": version}  # Kafka's tag order: request, then version
        beans.append(_meter(object_name("kafka.network", **keys), count, event="requests"))
    for (topic, partition), size in sorted(state.log_sizes.items()):
        beans.append(_gauge("kafka.log", size, type="Log", name="Size", topic=topic, partition=partition))
    beans.append(
        Bean(
            "memory",
            "java.lang:type=Memory",
            {"HeapMemoryUsage.used": state.heap_used_bytes, "HeapMemoryUsage.max": state.heap_max_bytes}
            | {"HeapMemoryUsage.committed": state.heap_max_bytes, "HeapMemoryUsage.init": state.heap_max_bytes},
        )
    )
    for collector, (count, millis) in sorted(state.gc.items()):
        beans.append(
            Bean(
                "gc",
                object_name("java.lang", type="GarbageCollector", name=collector),
                {"CollectionCount": count, "CollectionTime": millis},
            )
        )
    beans.append(
        Bean(
            "appinfo",
            object_name("kafka.server", type="app-info", id=state.broker_id),
            {"Version": state.version, "CommitId": "sandbox", "StartTimeMs": state.start_time_ms},
        )
    )
    return beans
