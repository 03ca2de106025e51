"""Fleet aggregations (the seed's cross-region view and dashboard widgets) as recording rules.

Names follow ``level:metric:operations``. Rates use a fixed ``5m`` window: ``$__rate_interval`` exists only in
Grafana. Costs are recorded in dollars per day, with the unit conversion written out in the expression: a byte
rate is bytes per *second*, so a daily ingress cost is ``bytes/s x 86,400 s/day ÷ bytes/GB x $/GB`` (the seed's
widget multiplied bytes/s by $/GB and called it daily, 86,400 times too small).
"""

from __future__ import annotations

from kafka_obs.rules.model import Costs
from kafka_obs.rules.promql import number
from kafka_obs.rules.ruleset import Rule, RuleGroup

CLUSTER = "cluster, region, environment"
SECONDS_PER_DAY = 86400
DAYS_PER_MONTH = 365.25 / 12
"""30.4375: the average month, which is what a "per GB-month" price means."""

RATE = "5m"


def _levels(metric: str, operation: str, cluster_expr: str, *, region: str = "sum", glob: str = "sum") -> list[Rule]:
    """The cluster-level rule and its region and global roll-ups."""
    name = f"cluster:{metric}:{operation}"
    return [
        Rule(record=name, expr=cluster_expr),
        Rule(record=f"region:{metric}:{operation}", expr=f"{region} by (region) ({name})"),
        Rule(record=f"global:{metric}:{operation}", expr=f"{glob}({name})"),
    ]


def throughput_group() -> RuleGroup:
    jmx = 'sum by ({by}) (rate({name}{{topic=""}}[{rate}]))'
    rules = _levels(
        "kafka_messages_in",
        f"rate{RATE}",
        # Log-end offsets always exist (admin API); JMX only where brokers expose it. Internal topics excluded.
        f'sum by ({CLUSTER}) (rate(kafka_topic_partition_current_offset{{topic!~"__.*"}}[{RATE}]))\nor\n'
        + jmx.format(by=CLUSTER, name="kafka_server_brokertopicmetrics_messagesin_total", rate=RATE)
        + "\n",
    )
    rules += _levels(
        "kafka_bytes_in",
        f"rate{RATE}",
        jmx.format(by=CLUSTER, name="kafka_server_brokertopicmetrics_bytesin_total", rate=RATE),
    )
    rules += _levels(
        "kafka_bytes_out",
        f"rate{RATE}",
        jmx.format(by=CLUSTER, name="kafka_server_brokertopicmetrics_bytesout_total", rate=RATE),
    )
    return RuleGroup(name="kafka-obs-throughput", rules=tuple(rules))


def health_group(weights: dict[str, float]) -> RuleGroup:
    weight_expr = "\nor\n".join(
        f'{number(weight)} * kafka_cluster_info{{priority="{priority}"}}' for priority, weight in weights.items()
    )
    score = "cluster:kafka_health_score:ratio"
    weight = "cluster:kafka_priority:weight"
    rules = [
        Rule(record=weight, expr=f"max by ({CLUSTER}) (\n{weight_expr}\n)\n"),
        Rule(
            record=score,
            # 1 when reachable with no under-replicated partition, 0 otherwise (an unreachable cluster scores 0).
            expr=f"max by ({CLUSTER}) (kafka_cluster_under_replicated_partitions == bool 0)\n"
            "  and on (cluster) (kafka_cluster_up == 1)\n"
            f"or\n0 * max by ({CLUSTER}) (kafka_cluster_up == 0)\n",
        ),
        Rule(record="region:kafka_health_score:ratio", expr=f"avg by (region) ({score})"),
        Rule(record="global:kafka_health_score:ratio", expr=f"avg({score})"),
    ]
    for level, by in (("region", "by (region) "), ("global", "")):
        rules.append(
            Rule(
                record=f"{level}:kafka_health_score:priority_weighted_avg",
                expr=f"sum {by}({score} * on ({CLUSTER}) {weight})\n/\nsum {by}({weight} and on ({CLUSTER}) {score})\n",
            )
        )
    return RuleGroup(name="kafka-obs-health", rules=tuple(rules))


def lag_storage_group() -> RuleGroup:
    rules = _levels("kafka_consumergroup_lag", "sum", f"sum by ({CLUSTER}) (kafka_consumergroup_lag_sum)")
    rules += _levels(
        "kafka_consumergroup_lag_seconds",
        "max",
        f"max by ({CLUSTER}) (kafka_consumergroup_max_lag_seconds)",
        region="max",
        glob="max",
    )
    rules += _levels("kafka_log_dir_size_bytes", "sum", f"sum by ({CLUSTER}) (kafka_log_dir_size_bytes)")
    return RuleGroup(name="kafka-obs-lag-storage", rules=tuple(rules))


def cost_group(costs: Costs) -> RuleGroup:
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
        Rule(record="region:kafka_cost_dollars:per_day", expr=f"sum by (region) ({total})"),
        Rule(record="global:kafka_cost_dollars:per_day", expr=f"sum({total})"),
    ]
    return RuleGroup(name="kafka-obs-cost", rules=tuple(rules))
