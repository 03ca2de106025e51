"""Fleet aggregations (the seed's cross-region view and dashboard widgets) as recording rules, in two levels.

Names follow ``level:metric:operations``. The *cluster* level (``cluster:`` series, labels cluster, region,
environment) reads the exporter's raw series and is evaluated by every regional Prometheus. The *cross-region*
level (``region:`` and ``global:`` series) reads only ``cluster:`` series, which a global Prometheus federates,
so it can run there on federated data alone, or next to the cluster level in a single Prometheus.

Rates use a fixed ``5m`` window: ``$__rate_interval`` exists only in Grafana. Costs are recorded in dollars per
day, with the unit conversion written out in the expression: a byte rate is bytes per *second*, so a daily ingress
cost is ``bytes/s x 86,400 s/day ÷ bytes/GB x $/GB`` (the seed's widget multiplied bytes/s by $/GB and called it
daily, 86,400 times too small).

The broker JMX inputs are summed (or maxed) per cluster, so they read the same whichever ``jmx_source`` produced
them: the per-broker label (the exporter's ``broker``, the agent's ``instance``) and ``job`` are aggregated away, and
the broker-wide ``topic=""`` selector matches the agent's series without a ``topic`` label as it matches ours
(tests/rules/promtool/jmx_*.yaml feed both shapes to the same expectations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kafka_obs.rules.model import Costs, PriorityName
from kafka_obs.rules.promql import number
from kafka_obs.rules.ruleset import Rule, RuleGroup

CLUSTER = "cluster, region, environment"
HEALTH_MEMORY = "1h"
"""How long a cluster that stops reporting keeps counting (as unhealthy) in the health score."""
SECONDS_PER_DAY = 86400
DAYS_PER_MONTH = 365.25 / 12
"""30.4375: the average month, which is what a "per GB-month" price means."""

RATE = "5m"


@dataclass(frozen=True)
class Aggregation:
    """One topic of aggregations: its cluster-level rules and their cross-region roll-ups, grouped apart."""

    name: str
    cluster: tuple[Rule, ...]
    rollups: tuple[Rule, ...]

    def cluster_group(self) -> RuleGroup:
        return RuleGroup(name=f"kafka-obs-{self.name}", rules=self.cluster)

    def rollup_group(self) -> RuleGroup:
        return RuleGroup(name=f"kafka-obs-{self.name}-cross-region", rules=self.rollups)


def _rollups(name: str, *, region: str = "sum", glob: str = "sum") -> list[Rule]:
    """The region and global roll-ups of the ``cluster:`` series ``name``."""
    _, metric, operation = name.split(":")
    return [
        Rule(record=f"region:{metric}:{operation}", expr=f"{region} by (region) ({name})"),
        Rule(record=f"global:{metric}:{operation}", expr=f"{glob}({name})"),
    ]


def throughput() -> Aggregation:
    jmx = 'sum by ({by}) (rate({name}{{topic=""}}[{rate}]))'
    cluster = [
        Rule(
            record=f"cluster:kafka_messages_in:rate{RATE}",
            # Log-end offsets always exist (admin API); JMX only where brokers expose it. Internal topics excluded.
            expr=f'sum by ({CLUSTER}) (rate(kafka_topic_partition_current_offset{{topic!~"__.*"}}[{RATE}]))\nor\n'
            + jmx.format(by=CLUSTER, name="kafka_server_brokertopicmetrics_messagesin_total", rate=RATE)
            + "\n",
        ),
        Rule(
            record=f"cluster:kafka_bytes_in:rate{RATE}",
            expr=jmx.format(by=CLUSTER, name="kafka_server_brokertopicmetrics_bytesin_total", rate=RATE),
        ),
        Rule(
            record=f"cluster:kafka_bytes_out:rate{RATE}",
            expr=jmx.format(by=CLUSTER, name="kafka_server_brokertopicmetrics_bytesout_total", rate=RATE),
        ),
    ]
    rollups = [rule for c in cluster for rule in _rollups(c.name)]
    return Aggregation("throughput", tuple(cluster), tuple(rollups))


def health(weights: Mapping[PriorityName, float]) -> Aggregation:
    weight_expr = "\nor\n".join(
        f'{number(weight)} * kafka_cluster_info{{priority="{priority}"}}' for priority, weight in weights.items()
    )
    score = "cluster:kafka_health_score:ratio"
    weight = "cluster:kafka_priority:weight"
    cluster = [
        Rule(record=weight, expr=f"max by ({CLUSTER}) (\n{weight_expr}\n)\n"),
        Rule(
            record=score,
            # 1 when reachable with no under-replicated partition, 0 otherwise: an unreachable cluster scores 0, and so
            # does a cluster seen in the last hour that reports nothing now (its exporter missed a scrape or is down),
            # so the score never goes blank exactly when an outage makes people look at it.
            expr=f"max by ({CLUSTER}) (kafka_cluster_under_replicated_partitions == bool 0)\n"
            "  and on (cluster) (kafka_cluster_up == 1)\n"
            f"or\n0 * max by ({CLUSTER}) (kafka_cluster_up == 0)\n"
            f"or\n0 * max by ({CLUSTER}) (last_over_time(kafka_cluster_info[{HEALTH_MEMORY}]))\n",
        ),
    ]
    rollups = [
        Rule(record="region:kafka_health_score:ratio", expr=f"avg by (region) ({score})"),
        Rule(record="global:kafka_health_score:ratio", expr=f"avg({score})"),
    ]
    for level, by in (("region", "by (region) "), ("global", "")):
        rollups.append(
            Rule(
                record=f"{level}:kafka_health_score:priority_weighted_avg",
                expr=f"sum {by}({score} * on ({CLUSTER}) {weight})\n/\nsum {by}({weight} and on ({CLUSTER}) {score})\n",
            )
        )
    return Aggregation("health", tuple(cluster), tuple(rollups))


PRODUCE_LATENCY = "cluster:kafka_produce_latency_milliseconds:p99"
CANARY_WINDOW = "1m"
"""The canary's messages of the last minute make the p99: at the default 5 s interval, 12 per broker."""


def delivery() -> Aggregation:
    """How long a produce takes, per cluster, in milliseconds: the message-delivery SLI's input.

    Where the end-to-end canary runs (``source="canary"``) it is the 99th percentile of the canary's produce-to-ack
    latency over the last minute, as a client sees it, network and all; a canary message lost or failed in that
    minute makes it +Inf (a broker that never acknowledges must not look fast). Elsewhere (``source="jmx"``) it is
    the slowest broker's own Produce p99 from JMX: the broker's view, blind to the network and to a broker that
    does not answer. A canary with no message in the window (an exporter restart) falls back to JMX for that time.
    """
    by = CLUSTER
    canary = "kafka_canary_produce_latency_seconds"
    failed = (
        f"sum by ({by}) (increase(kafka_canary_messages_lost_total[{CANARY_WINDOW}])) > 0\n"
        f"or\nsum by ({by}) (increase(kafka_canary_produce_errors_total[{CANARY_WINDOW}])) > 0"
    )
    p99 = (
        f"1000 * histogram_quantile(0.99, sum by ({by}, le) (increase({canary}_bucket[{CANARY_WINDOW}])))\n"
        f"and on (cluster)\nsum by (cluster) (increase({canary}_count[{CANARY_WINDOW}])) > 0"
    )
    jmx = f'max by ({by}) (kafka_network_requestmetrics_totaltimems{{request="Produce", quantile="0.99"}})'
    expr = (
        f'label_replace(\n+Inf * group by ({by}) (\n{failed}\n),\n"source", "canary", "", "")\n'
        f'or\nlabel_replace(\n{p99},\n"source", "canary", "", "")\n'
        f'or on (cluster)\nlabel_replace({jmx}, "source", "jmx", "", "")\n'
    )
    return Aggregation(
        "delivery",
        (Rule(record=PRODUCE_LATENCY, expr=expr),),
        tuple(_rollups(PRODUCE_LATENCY, region="max", glob="max")),
    )


def lag_storage() -> Aggregation:
    lag = "cluster:kafka_consumergroup_lag:sum"
    lag_seconds = "cluster:kafka_consumergroup_lag_seconds:max"
    size = "cluster:kafka_log_dir_size_bytes:sum"
    cluster = (
        Rule(record=lag, expr=f"sum by ({CLUSTER}) (kafka_consumergroup_lag_sum)"),
        Rule(record=lag_seconds, expr=f"max by ({CLUSTER}) (kafka_consumergroup_max_lag_seconds)"),
        Rule(record=size, expr=f"sum by ({CLUSTER}) (kafka_log_dir_size_bytes)"),
    )
    rollups = [*_rollups(lag), *_rollups(lag_seconds, region="max", glob="max"), *_rollups(size)]
    return Aggregation("lag-storage", cluster, tuple(rollups))


def cost(costs: Costs) -> Aggregation:
    gb = number(costs.bytes_per_gb)
    ingress = "cluster:kafka_ingress_cost_dollars:per_day"
    storage = "cluster:kafka_storage_cost_dollars:per_day"
    total = "cluster:kafka_cost_dollars:per_day"
    rules = [
        Rule(
            record=ingress,
            # bytes/s x s/day ÷ bytes/GB x $/GB = $/day
            expr=f"cluster:kafka_bytes_in:rate{RATE} * {SECONDS_PER_DAY} / {gb}"
            f" * {number(costs.ingress_dollars_per_gb)}",
        ),
        Rule(
            record=storage,
            # bytes ÷ bytes/GB x $/(GB·month) ÷ days/month = $/day
            expr=f"cluster:kafka_log_dir_size_bytes:sum / {gb} * {number(costs.storage_dollars_per_gb_month)}"
            f" / {number(DAYS_PER_MONTH)}",
        ),
        Rule(record=total, expr=f"{ingress} + {storage}\nor\n{ingress}\nor\n{storage}\n"),
    ]
    return Aggregation("cost", tuple(rules), tuple(_rollups(total)))


def aggregations(weights: Mapping[PriorityName, float], costs: Costs) -> list[Aggregation]:
    """Every aggregation topic, in the order the rule files list them."""
    return [throughput(), health(weights), delivery(), lag_storage(), cost(costs)]
