"""Every series the exporter serves: name, type, labels, meaning and the Kafka API it comes from.

One table, so the renderer's family order, the HELP text and docs/metrics.md cannot drift apart (a test checks
that every name here is documented). Label names listed are those beyond the cluster's static labels
(``cluster``, ``region``, ``environment`` and any ``labels:`` from clusters.yaml), which every series carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricType = Literal["gauge", "counter", "histogram"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    source: str
    always: bool = False
    """Served even when the cluster's snapshot is stale (``up``, info and the exporter's own series)."""
    buckets: tuple[float, ...] = ()
    """Upper bounds of a histogram's buckets, ascending, without ``+Inf`` (which every histogram has)."""

    @property
    def family(self) -> str:
        """OpenMetrics names a counter family without its ``_total`` suffix."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name


TP = ("topic", "partition")
GTP = ("consumergroup", "topic", "partition")
DIR = ("broker", "log_dir")
CANARY = ("partition", "broker")
CANARY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
"""Canary latency buckets: 0.1 and 0.2 are bounds, so the seed's p99 thresholds (100 ms production, 200 ms staging)
are read exactly from ``le="0.1"`` / ``le="0.2"`` instead of interpolated."""

CATALOGUE: tuple[MetricDef, ...] = (
    # cluster
    MetricDef(
        "kafka_cluster_info",
        "gauge",
        ("priority", "cluster_id"),
        "Always 1; carries the cluster's priority and Kafka cluster id.",
        "clusters.yaml, Metadata",
        always=True,
    ),
    MetricDef(
        "kafka_cluster_up", "gauge", (), "1 when the last collection cycle succeeded, else 0.", "exporter", always=True
    ),
    MetricDef("kafka_brokers", "gauge", (), "Number of brokers in the cluster's metadata.", "Metadata"),
    MetricDef("kafka_broker_info", "gauge", ("id", "address", "rack"), "Always 1, one per live broker.", "Metadata"),
    MetricDef("kafka_controller_id", "gauge", (), "Node id of the active controller.", "Metadata"),
    MetricDef("kafka_cluster_offline_partitions", "gauge", (), "Partitions without a leader.", "Metadata"),
    MetricDef(
        "kafka_cluster_under_replicated_partitions",
        "gauge",
        (),
        "Partitions whose ISR is smaller than the replica set.",
        "Metadata",
    ),
    MetricDef(
        "kafka_cluster_under_min_isr_partitions",
        "gauge",
        (),
        "Partitions whose ISR is smaller than the topic's min.insync.replicas.",
        "Metadata, DescribeConfigs",
    ),
    # topics and partitions
    MetricDef("kafka_topic_partitions", "gauge", ("topic",), "Number of partitions of the topic.", "Metadata"),
    MetricDef(
        "kafka_topic_partition_current_offset", "gauge", TP, "Log-end offset (high watermark).", "ListOffsets (latest)"
    ),
    MetricDef(
        "kafka_topic_partition_oldest_offset",
        "gauge",
        TP,
        "Earliest offset still in the log.",
        "ListOffsets (earliest)",
    ),
    MetricDef("kafka_topic_partition_in_sync_replica", "gauge", TP, "Number of in-sync replicas.", "Metadata"),
    MetricDef("kafka_topic_partition_replicas", "gauge", TP, "Number of replicas.", "Metadata"),
    MetricDef("kafka_topic_partition_leader", "gauge", TP, "Node id of the leader, -1 when offline.", "Metadata"),
    MetricDef(
        "kafka_topic_partition_leader_is_preferred",
        "gauge",
        TP,
        "1 when the leader is the first replica of the assignment.",
        "Metadata",
    ),
    MetricDef(
        "kafka_topic_partition_under_replicated_partition",
        "gauge",
        TP,
        "1 when the ISR is smaller than the replica set.",
        "Metadata",
    ),
    MetricDef(
        "kafka_topic_config_retention_ms", "gauge", ("topic",), "retention.ms (-1: unlimited).", "DescribeConfigs"
    ),
    MetricDef(
        "kafka_topic_config_retention_bytes", "gauge", ("topic",), "retention.bytes (-1: unlimited).", "DescribeConfigs"
    ),
    MetricDef(
        "kafka_topic_config_info",
        "gauge",
        ("topic", "cleanup_policy", "min_insync_replicas"),
        "Always 1; carries cleanup.policy and min.insync.replicas.",
        "DescribeConfigs",
    ),
    MetricDef(
        "kafka_topic_log_size_bytes",
        "gauge",
        ("topic",),
        "Bytes on disk of the topic's leader replicas (one copy of the data).",
        "DescribeLogDirs",
    ),
    # log dirs
    MetricDef(
        "kafka_log_dir_size_bytes", "gauge", DIR, "Bytes of all replicas in the log directory.", "DescribeLogDirs"
    ),
    MetricDef(
        "kafka_log_dir_total_bytes", "gauge", DIR, "Capacity of the log directory's volume.", "DescribeLogDirs v4+"
    ),
    MetricDef(
        "kafka_log_dir_usable_bytes",
        "gauge",
        DIR,
        "Free bytes usable on the log directory's volume.",
        "DescribeLogDirs v4+",
    ),
    # consumer groups
    MetricDef(
        "kafka_consumergroup_state",
        "gauge",
        ("consumergroup", "state", "type"),
        "Always 1, labelled with the group's current state and protocol type (classic or consumer).",
        "ListGroups, DescribeGroups / ConsumerGroupDescribe",
    ),
    MetricDef(
        "kafka_consumergroup_members",
        "gauge",
        ("consumergroup",),
        "Members of the group.",
        "DescribeGroups / ConsumerGroupDescribe",
    ),
    MetricDef(
        "kafka_consumergroup_current_offset",
        "gauge",
        GTP,
        "Committed offset (partitions with a commit only).",
        "OffsetFetch",
    ),
    MetricDef(
        "kafka_consumergroup_lag",
        "gauge",
        GTP,
        "Log-end offset minus committed offset, never negative (partitions with a commit only).",
        "OffsetFetch, then ListOffsets",
    ),
    MetricDef(
        "kafka_consumergroup_lag_sum",
        "gauge",
        ("consumergroup", "topic"),
        "Sum of the group's lag over the topic's committed partitions.",
        "OffsetFetch, ListOffsets",
    ),
    MetricDef(
        "kafka_consumergroup_lag_seconds",
        "gauge",
        GTP,
        "Age of the next record to consume, estimated from recent (log-end offset, time) points; 0 when caught up.",
        "OffsetFetch, ListOffsets history",
    ),
    MetricDef(
        "kafka_consumergroup_max_lag_seconds",
        "gauge",
        ("consumergroup",),
        "Largest lag_seconds over the group's partitions.",
        "OffsetFetch, ListOffsets history",
    ),
    MetricDef(
        "kafka_consumergroup_status",
        "gauge",
        ("consumergroup", "status"),
        "Lag evaluation of the group (its worst partition): one series per status (OK, WARN, REWIND, STALL, STOP), "
        "1 for the current one, 0 for the others.",
        "OffsetFetch, ListOffsets over the evaluation window",
    ),
    MetricDef(
        "kafka_consumergroup_partition_status",
        "gauge",
        GTP,
        "Lag evaluation of the partition: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP (ordered by severity).",
        "OffsetFetch, ListOffsets over the evaluation window",
    ),
    MetricDef(
        "kafka_consumergroup_abandoned",
        "gauge",
        ("consumergroup",),
        "1 when the group has had no members and committed nothing new for longer than abandoned_after, else 0.",
        "DescribeGroups, OffsetFetch over time",
    ),
    # end-to-end canary (opt-in per cluster; see kafka_obs.exporter.canary)
    MetricDef(
        "kafka_canary_produce_latency_seconds",
        "histogram",
        CANARY,
        "Time from producing a canary message to its acknowledgement (acks=all), per partition and its leader.",
        "Produce (canary)",
        buckets=CANARY_BUCKETS,
    ),
    MetricDef(
        "kafka_canary_roundtrip_latency_seconds",
        "histogram",
        CANARY,
        "Time from producing a canary message to consuming it back (this exporter's own messages only).",
        "Produce, Fetch (canary)",
        buckets=CANARY_BUCKETS,
    ),
    MetricDef(
        "kafka_canary_messages_produced_total",
        "counter",
        CANARY,
        "Canary messages handed to the producer.",
        "Produce (canary)",
    ),
    MetricDef(
        "kafka_canary_messages_received_total",
        "counter",
        CANARY,
        "Canary messages consumed back within the SLA.",
        "Fetch (canary)",
    ),
    MetricDef(
        "kafka_canary_messages_lost_total",
        "counter",
        CANARY,
        "Acknowledged or pending canary messages not consumed back within the SLA.",
        "Fetch (canary)",
    ),
    MetricDef(
        "kafka_canary_produce_errors_total",
        "counter",
        CANARY,
        "Canary messages whose produce failed (error in the delivery report, or refused by the producer).",
        "Produce (canary)",
    ),
    # the exporter itself
    MetricDef(
        "kafka_exporter_collection_duration_seconds",
        "gauge",
        (),
        "Wall time of the last collection cycle.",
        "exporter",
        always=True,
    ),
    MetricDef(
        "kafka_exporter_last_success_timestamp_seconds",
        "gauge",
        (),
        "Unix time at which the last successful cycle completed.",
        "exporter",
        always=True,
    ),
    MetricDef(
        "kafka_exporter_kafka_requests_total",
        "counter",
        ("api",),
        "Kafka requests sent to the cluster, per API (as sent on the wire, retries included).",
        "exporter",
        always=True,
    ),
    MetricDef(
        "kafka_exporter_errors_total",
        "counter",
        ("stage",),
        "Failed collection stages (whole stage or one item of it: a group, a broker).",
        "exporter",
        always=True,
    ),
)

BY_NAME: dict[str, MetricDef] = {m.name: m for m in CATALOGUE}
