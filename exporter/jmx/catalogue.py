"""Which broker MBeans we read and the Prometheus series they become.

Names follow prometheus/jmx_exporter's Kafka KRaft example (what Strimzi's and Grafana's Kafka dashboards query):
``kafka_<domain>_<type>_<name>`` lower-cased, ``PerSec`` dropped, quantiles as it writes them (``0.50``), JVM heap as
its agent's ``jvm_memory_used_bytes{area="heap"}``. tests/realkafka/test_jmx_exporter_parity.py proves it against
the agent on a real broker; the few deliberate differences are in docs/metrics.md. Meters become ``_total``
counters from their ``Count``; their 1/5/15-minute rates are never exported because Prometheus computes rates
itself, over the window the query asks for. Histograms become gauges with a ``quantile`` label. The meters read
for their rate are the request handler pools' ``*RequestHandlerAvgIdlePercent``: Kafka marks them with idle time per
thread, so their rate *is* the idle ratio (one-minute, where jmx_exporter's rule reads the since-start mean:
docs/metrics.md).

Every rule was checked against a real Apache Kafka 4.4 KRaft cluster of combined broker+controller nodes
(tests/realkafka/test_jmx_catalogue.py): each exists on every node there; docs/metrics.md says which exist only on
controller nodes of a cluster with separate controllers.

Every rule is one pattern in the broker's single batch (one request to the JMX helper); a pattern that matches
nothing (an MBean an older Kafka does not have) simply yields no rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from kafka_obs.exporter.jmx.query import Query

MetricType = Literal["counter", "gauge"]

QUANTILES: dict[str, str] = {
    "50thPercentile": "0.50",
    "75thPercentile": "0.75",
    "95thPercentile": "0.95",
    "98thPercentile": "0.98",
    "99thPercentile": "0.99",
    "999thPercentile": "0.999",
}
REQUESTS = ("Produce", "FetchConsumer", "FetchFollower")
APP_INFO_PATTERN = "kafka.server:type=app-info,*"
"""Kafka registers ``kafka.server:type=app-info,id=<broker id>``: the batch tells us which broker answered."""


def _ratio(value: float) -> float:
    """Idle "percents" are 0..1 ratios in Kafka; a few versions overshoot 1 with several listeners (KAFKA-12369)."""
    return min(max(value, 0.0), 1.0)


def _millis_to_seconds(value: float) -> float:
    return value / 1000.0


@dataclass(frozen=True)
class Rule:
    """One MBean pattern and how its rows become samples of one metric family.

    ``attributes`` maps an attribute (``Attr`` or ``Attr/key`` for CompositeData items) to the extra labels its
    sample gets; ``labels`` maps ObjectName keys to label names. A row whose value is negative where the JVM
    means "undefined" (``max`` of a heap, ``CollectionTime``) is dropped when ``skip_negative`` is set.
    """

    metric: str
    type: MetricType
    help: str
    pattern: str
    attributes: Mapping[str, Mapping[str, str]]
    labels: Mapping[str, str] = field(default_factory=dict)
    convert: Callable[[float], float] | None = None
    skip_negative: bool = False

    def query(self) -> Query:
        """The pattern and the attributes it reads (``HeapMemoryUsage`` for ``HeapMemoryUsage/used``)."""
        return Query(self.pattern, tuple(sorted({a.split("/", 1)[0] for a in self.attributes})))


def _btm(name: str, metric: str, what: str) -> Rule:
    return Rule(
        metric=f"kafka_server_brokertopicmetrics_{metric}_total",
        type="counter",
        help=f"{what} (BrokerTopicMetrics {name} Count); per topic with `topic`, broker-wide without it.",
        pattern=f"kafka.server:type=BrokerTopicMetrics,name={name},*",
        attributes={"Count": {}},
        labels={"topic": "topic"},
    )


def _gauge(
    domain: str,
    type_: str,
    name: str,
    help_: str,
    *,
    attribute: str = "Value",
    convert: Callable[[float], float] | None = None,
) -> Rule:
    return Rule(
        metric=f"kafka_{domain.removeprefix('kafka.')}_{type_.lower()}_{name.lower()}",
        type="gauge",
        help=help_,
        pattern=f"{domain}:type={type_},name={name}",
        attributes={attribute: {}},
        convert=convert,
    )


def _idle(name: str, help_: str) -> Rule:
    """A request handler pool's idle meter, read for its one-minute rate (see the module docstring)."""
    return _gauge("kafka.server", "KafkaRequestHandlerPool", name, help_, attribute="OneMinuteRate", convert=_ratio)


RULES: tuple[Rule, ...] = (
    _btm("BytesInPerSec", "bytesin", "Bytes received from producers"),
    # follower fetches count in ReplicationBytesOutPerSec, not here (checked on Kafka 4.4: 0 until a consumer reads)
    _btm("BytesOutPerSec", "bytesout", "Bytes sent to consumers"),
    _btm("MessagesInPerSec", "messagesin", "Messages received from producers"),
    _btm("TotalProduceRequestsPerSec", "totalproducerequests", "Produce requests received"),
    _btm("FailedProduceRequestsPerSec", "failedproducerequests", "Produce requests that failed"),
    _gauge("kafka.server", "ReplicaManager", "UnderReplicatedPartitions", "Partitions led here missing an ISR member."),
    _gauge("kafka.server", "ReplicaManager", "PartitionCount", "Partition replicas hosted by the broker."),
    _gauge("kafka.server", "ReplicaManager", "LeaderCount", "Partitions the broker leads."),
    _gauge(
        "kafka.server",
        "ReplicaManager",
        "UnderMinIsrPartitionCount",
        "Partitions led here whose ISR is below min.insync.replicas (acks=all produce fails).",
    ),
    Rule(
        metric="kafka_server_replicamanager_isrshrinks_total",
        type="counter",
        help="ISR shrinks on partitions led by the broker (ReplicaManager IsrShrinksPerSec Count).",
        pattern="kafka.server:type=ReplicaManager,name=IsrShrinksPerSec",
        attributes={"Count": {}},
    ),
    Rule(
        metric="kafka_server_replicamanager_isrexpands_total",
        type="counter",
        help="ISR expands on partitions led by the broker (ReplicaManager IsrExpandsPerSec Count).",
        pattern="kafka.server:type=ReplicaManager,name=IsrExpandsPerSec",
        attributes={"Count": {}},
    ),
    _gauge(
        "kafka.controller",
        "KafkaController",
        "ActiveControllerCount",
        "1 on the active controller, else 0; the cluster-wide sum must be exactly 1.",
    ),
    _gauge(
        "kafka.controller",
        "KafkaController",
        "OfflinePartitionsCount",
        "Partitions without a live leader, as the active controller sees them (0 on other brokers).",
    ),
    *(
        Rule(
            metric="kafka_network_requestmetrics_totaltimems",
            type="gauge",
            help="Request total time in milliseconds, by request type and quantile (RequestMetrics TotalTimeMs).",
            pattern=f"kafka.network:type=RequestMetrics,name=TotalTimeMs,request={request}",
            attributes={attribute: {"quantile": q} for attribute, q in QUANTILES.items()},
            labels={"request": "request"},
        )
        for request in REQUESTS
    ),
    _idle(
        "RequestHandlerAvgIdlePercent",
        "Share of time the request handler threads are idle, 0..1 (one-minute rate of Kafka's idle meter); on a "
        "combined KRaft node, both pools together.",
    ),
    # Kafka 4.x splits the pools of a combined broker+controller node; older brokers have neither (no rows)
    _idle("BrokerRequestHandlerAvgIdlePercent", "Share of time the broker's request handler threads are idle, 0..1."),
    _idle(
        "ControllerRequestHandlerAvgIdlePercent",
        "Share of time the controller's request handler threads are idle, 0..1 (controller nodes only).",
    ),
    _gauge(
        "kafka.network",
        "SocketServer",
        "NetworkProcessorAvgIdlePercent",
        "Share of time the network processor threads are idle, 0..1.",
        convert=_ratio,
    ),
    Rule(
        metric="kafka_log_log_size",
        type="gauge",
        help="Bytes on disk of a partition's log on this broker (Log Size).",
        pattern="kafka.log:type=Log,name=Size,*",
        attributes={"Value": {}},
        labels={"topic": "topic", "partition": "partition"},
    ),
    Rule(
        metric="jvm_memory_used_bytes",
        type="gauge",
        help="JVM memory in use; area=heap (java.lang Memory HeapMemoryUsage used).",
        pattern="java.lang:type=Memory",
        attributes={"HeapMemoryUsage/used": {"area": "heap"}},
    ),
    Rule(
        metric="jvm_memory_max_bytes",
        type="gauge",
        help="JVM memory limit; area=heap (java.lang Memory HeapMemoryUsage max); absent when the JVM has none.",
        pattern="java.lang:type=Memory",
        attributes={"HeapMemoryUsage/max": {"area": "heap"}},
        skip_negative=True,
    ),
    Rule(
        metric="jvm_gc_collection_seconds_total",
        type="counter",
        help="Time spent in garbage collection, by collector (GarbageCollector CollectionTime).",
        pattern="java.lang:type=GarbageCollector,*",
        attributes={"CollectionTime": {}},
        labels={"name": "gc"},
        convert=_millis_to_seconds,
        skip_negative=True,
    ),
    Rule(
        metric="jvm_gc_collections_total",
        type="counter",
        help="Garbage collections, by collector (GarbageCollector CollectionCount).",
        pattern="java.lang:type=GarbageCollector,*",
        attributes={"CollectionCount": {}},
        labels={"name": "gc"},
        skip_negative=True,
    ),
)


PARTITION_SIZES = "kafka_log_log_size"
"""The one per-partition rule: read only when a cluster sets ``jmx.partition_sizes``."""


TOPIC_METERS = "kafka.server:type=BrokerTopicMetrics,"
"""The BrokerTopicMetrics meters: read per topic only when a cluster sets ``jmx.topic_meters``."""


def rules_for(*, partition_sizes: bool, topic_meters: bool) -> tuple[Rule, ...]:
    """The catalogue a cluster reads (see ``JmxSettings``): without per-partition log sizes unless asked, and the
    BrokerTopicMetrics meters broker-wide only (the exact ObjectName without a ``topic`` key) unless per-topic
    meters are asked for. JMX has no bulk read, so each per-topic meter is a round trip per topic; the rules and
    dashboards read only the broker-wide ones."""
    rules = RULES if partition_sizes else tuple(rule for rule in RULES if rule.metric != PARTITION_SIZES)
    if topic_meters:
        return rules
    return tuple(
        replace(rule, pattern=rule.pattern.removesuffix(",*")) if rule.pattern.startswith(TOPIC_METERS) else rule
        for rule in rules
    )


def batch_queries(rules: tuple[Rule, ...] = RULES) -> list[Query]:
    """Every pattern of the catalogue once, with every attribute any rule reads from it (so each MBean is read
    with one ``getAttributes``), plus app-info for the broker's id. Per-topic and per-partition patterns are resolved
    on every read: their MBeans come and go with topics, and resolving is one call against hundreds of reads."""
    attributes: dict[str, set[str]] = {}
    per_topic: set[str] = set()
    for rule in (*rules, Rule("app_info", "gauge", "", APP_INFO_PATTERN, {"Version": {}})):
        query = rule.query()
        attributes.setdefault(query.pattern, set()).update(query.attributes)
        if "topic" in rule.labels:
            per_topic.add(query.pattern)
    return [
        Query(pattern, tuple(sorted(names)), keep_names=pattern not in per_topic)
        for pattern, names in attributes.items()
    ]
