"""Kafka health alerts on the exporter's and the brokers' JMX series (the hand-written part of the bundle).

Thresholds come from ``slos.yaml`` (``alerts:``); everything else is fixed here so that names, labels and runbook
anchors stay stable for Alertmanager routing and the webhook's playbooks, which key on them:
``KafkaConsumerLagHigh`` (labels cluster, consumergroup, topic) and ``KafkaBrokerDiskPressure`` (cluster, broker).
``KafkaConsumerGroupStopped`` and ``KafkaConsumerGroupStalled`` (cluster, consumergroup) come from the exporter's
lag evaluation (docs/exporter.md, "Lag evaluation"): they say *why* a group is behind, and no playbook scales on
them — more consumers do not help a group nobody consumes or whose consumers are stuck.

Brokers' JMX series reach Prometheus in one of two shapes (``jmx_source``, docs/rules.md): from the exporter, which
labels each with ``broker`` and reports a broker it cannot read as ``kafka_jmx_up 0``, or from the jmx_exporter agent
in each broker, scraped directly, whose series carry the agent's ``instance`` and whose failure is ``up == 0`` of the
agents' job. Only the alerts that must know *which* brokers are being read differ (:class:`JmxShape`); sums per
cluster read both shapes alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_obs.rules.alerting import alert
from kafka_obs.rules.model import JmxSource, KafkaAlerts
from kafka_obs.rules.promql import number, quote
from kafka_obs.rules.ruleset import Rule, RuleGroup

CLUSTER = "cluster, region, environment"
"""The labels every per-cluster alert keeps, whichever series it comes from."""

LAG_GROWTH_WINDOW = "10m"
GROUP = "cluster, region, environment, consumergroup"
BROKER_DROP_WINDOW = "1h"
DISK_KEEP_FIRING_FOR = 360.0
"""How long KafkaBrokerDiskPressure stays firing once its expression stops returning a series. A disk fills over
hours, but its series come from one DescribeLogDirs per broker per cycle: one failed answer or one missed scrape
made them stale, which resolved the alert, restarted its 5-minute ``for`` and cancelled a remediation still in its
grace period. 6 minutes covers a gap of one low-priority cycle (5m) plus a scrape; a real recovery resolves that
much later, and the webhook's verification asks Prometheus directly, not the alert."""


@dataclass(frozen=True)
class JmxShape:
    """How the rules see the brokers' JMX series of one ``jmx_source``."""

    unread: str
    """One series per broker whose JMX series are missing now, labelled ``cluster``, ``region``, ``environment`` and
    the broker's own label (``broker`` from the exporter, the agent's ``instance``)."""
    unread_text: str
    """The same, in words, for the alert's description (``{{ $labels.… }}`` templates allowed)."""


def jmx_shape(source: JmxSource, agent_job: str) -> JmxShape:
    if source == "agent":
        return JmxShape(
            unread=f"up{{job={quote(agent_job)}}} == 0",
            unread_text="Prometheus cannot scrape the jmx_exporter agent {{ $labels.instance }} "
            "(job {{ $labels.job }})",
        )
    return JmxShape(
        unread="kafka_jmx_up == 0",
        unread_text="the exporter cannot read the JMX of broker {{ $labels.broker }} (kafka_jmx_up 0)",
    )


def kafka_alerts(settings: KafkaAlerts, runbook_base: str, jmx_source: JmxSource) -> list[Rule]:
    where = "{{ $labels.cluster }} ({{ $labels.region }}, {{ $labels.environment }})"
    lag = number(settings.consumer_lag_threshold)
    used = number(settings.disk_used_ratio)
    job = quote(settings.exporter_job)
    jmx = jmx_shape(jmx_source, settings.jmx_agent_job)
    return [
        alert(
            "KafkaClusterUnreachable",
            "kafka_cluster_up == 0",
            severity="critical",
            for_=120.0,
            summary="The exporter cannot reach a Kafka cluster.",
            description=f"{where}: the last collection cycles failed; its other series are dropped once stale.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaOfflinePartitions",
            "kafka_cluster_offline_partitions > 0",
            severity="critical",
            for_=60.0,
            summary="Partitions have no leader and cannot be read or written.",
            description=f"{where}: {{{{ $value }}}} offline partitions.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaUnderMinIsrPartitions",
            "kafka_cluster_under_min_isr_partitions > 0",
            severity="critical",
            for_=120.0,
            summary="Partitions are below min.insync.replicas; acks=all producers fail.",
            description=f"{where}: {{{{ $value }}}} partitions have fewer in-sync replicas than min.insync.replicas.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaUnderReplicatedPartitions",
            "kafka_cluster_under_replicated_partitions > 0",
            severity="warning",
            for_=600.0,
            summary="Partitions have fewer in-sync replicas than replicas.",
            description=f"{where}: {{{{ $value }}}} under-replicated partitions for more than 10 minutes.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaNoActiveController",
            f"max by ({CLUSTER}) (kafka_controller_id < 0 and on (cluster) kafka_cluster_up == 1)\nor\n"
            # The JMX sum says "no controller" only while every broker is read: one unread broker may be it.
            f"(\n  sum by ({CLUSTER}) (kafka_controller_kafkacontroller_activecontrollercount) == 0\n"
            f"  unless on (cluster)\n  ({jmx.unread})\n)\n",
            severity="critical",
            for_=120.0,
            summary="A Kafka cluster has no active controller.",
            description=f"{where}: no broker reports itself as the active controller; "
            "metadata changes (leader elections, topic changes) are stuck.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaMultipleActiveControllers",
            f"sum by ({CLUSTER}) (kafka_controller_kafkacontroller_activecontrollercount) > 1",
            severity="critical",
            for_=120.0,
            summary="More than one broker claims to be the active controller.",
            description=f"{where}: {{{{ $value }}}} brokers report ActiveControllerCount 1 (split brain).",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaBrokerCountDropped",
            f"kafka_brokers < max_over_time(kafka_brokers[{BROKER_DROP_WINDOW}])",
            severity="warning",
            for_=300.0,
            summary="A Kafka cluster has fewer brokers than in the last hour.",
            description=f"{where}: {{{{ $value }}}} brokers registered, fewer than the maximum of the last hour.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaBrokerJmxDown",
            # a cluster that is down is KafkaClusterUnreachable's
            f"{jmx.unread}\nunless on (cluster)\nkafka_cluster_up == 0\n",
            severity="warning",
            for_=300.0,
            summary="A broker's JMX metrics are not being read.",
            description=f"{where}: {jmx.unread_text}. Its throughput, request latency and controller series are "
            "missing: the cluster's sums undercount and the controller alerts cannot tell.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaConsumerLagHigh",
            f"kafka_consumergroup_lag_sum > {lag}\nand\ndelta(kafka_consumergroup_lag_sum[{LAG_GROWTH_WINDOW}]) > 0\n",
            severity="warning",
            for_=300.0,
            summary="A consumer group is far behind and falling further behind.",
            description="{{ $labels.consumergroup }} on {{ $labels.topic }} in {{ $labels.cluster }}: lag "
            f"{{{{ $value }}}} messages, above {lag} and still growing over {LAG_GROWTH_WINDOW}.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaConsumerGroupStopped",
            _group_status_expr("STOP") + "unless on (cluster, consumergroup)\nkafka_consumergroup_abandoned == 1\n",
            severity="warning",
            for_=300.0,
            summary="A consumer group has stopped consuming while messages wait.",
            description="{{ $labels.consumergroup }} in {{ $labels.cluster }}: no members and no commit over the "
            "whole evaluation window; {{ $value }} messages waiting. Scaling does not help: start the consumers.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaConsumerGroupStalled",
            _group_status_expr("STALL"),
            severity="warning",
            for_=300.0,
            summary="A consumer group has members but its offsets do not advance.",
            description="{{ $labels.consumergroup }} in {{ $labels.cluster }}: consumers are in the group but "
            "committed nothing new over the whole evaluation window; {{ $value }} messages waiting. Scaling does "
            "not help: find what blocks them.",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaBrokerDiskPressure",
            f"1 - kafka_log_dir_usable_bytes / (kafka_log_dir_total_bytes > 0) > {used}",
            severity="warning",
            for_=300.0,
            keep_firing_for=DISK_KEEP_FIRING_FOR,
            summary="A broker log directory is almost full.",
            description="Broker {{ $labels.broker }} of {{ $labels.cluster }}, {{ $labels.log_dir }}: "
            f"{{{{ $value | humanizePercentage }}}} used (threshold {number(100 * settings.disk_used_ratio)}%).",
            runbook_base=runbook_base,
        ),
        alert(
            "KafkaExporterDown",
            f"up{{job={job}}} == 0 or absent(up{{job={job}}})",
            severity="critical",
            for_=300.0,
            summary="Prometheus cannot scrape the kafka-obs exporter.",
            description="{{ $labels.instance }} (job {{ $labels.job }}): every Kafka series, SLO and alert that "
            "depends on the exporter is blind.",
            runbook_base=runbook_base,
        ),
    ]


def _group_status_expr(status: str) -> str:
    """The group's lag (the alert's value, evidence in the notification) while its evaluated status is ``status``."""
    return (
        f"sum by ({GROUP}) (kafka_consumergroup_lag_sum)\n"
        f'and on (cluster, consumergroup)\nkafka_consumergroup_status{{status="{status}"}} == 1\n'
    )


def kafka_alert_group(settings: KafkaAlerts, runbook_base: str, jmx_source: JmxSource) -> RuleGroup:
    return RuleGroup(name="kafka-obs-kafka-alerts", rules=tuple(kafka_alerts(settings, runbook_base, jmx_source)))
