"""The pure SLO generator: one validated SLO target in, Prometheus rule groups out (no I/O).

Every SLI kind is reduced to the same two recorded series per evaluation step (a *slice*):

* ``slo:sli_bad:slice`` — bad events in the slice (threshold SLIs: 1 when the slice breaches, else 0);
* ``slo:sli_total:slice`` — events in the slice (threshold SLIs: 1 for every slice that has a value).

Every window's error ratio is then ``sum(bad) / sum(total)`` over the window's slices: traffic-weighted for event
SLIs (never a mean of 5-minute ratios, Sloth issues 241 and 618) and the share of bad slices for threshold SLIs.
A window without events or without data has a zero denominator, which the ``> 0`` filter turns into *no sample*
instead of NaN, so idle time never poisons a 30-day budget (Sloth issues 133, 231, 749). The period ratio is
composed from pre-summed buckets (1/720 of the period) so a 30-day SLI reads 720 points, not 43,200.
"""

from __future__ import annotations

from kafka_obs.rules import windows
from kafka_obs.rules.model import SLO, LatencySLI, Op, RatioSLI, ThresholdSLI
from kafka_obs.rules.promql import by, closed_range, duration, le_matcher, matchers, number, select
from kafka_obs.rules.ruleset import Rule, RuleGroup

BAD_SLICE = "slo:sli_bad:slice"
TOTAL_SLICE = "slo:sli_total:slice"
BAD_BUCKET = "slo:sli_bad:bucket"
TOTAL_BUCKET = "slo:sli_total:bucket"
ERROR_RATIO = "slo:sli_error:ratio"
ERROR_RATIO_PERIOD = "slo:sli_error:ratio_period"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
PERIOD_SECONDS = "slo:period:seconds"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
CURRENT_BURN = "slo:current_burn_rate:ratio"
PERIOD_BURN = "slo:period_burn_rate:ratio"
TIME_TO_EXHAUSTION = "slo:time_to_exhaustion:seconds"
STATUS = "slo:status:code"

STATUS_WARNING_BELOW = 0.5
STATUS_CRITICAL_BELOW = 0.2
"""The seed's thresholds on the remaining error budget."""

_BAD_WHEN = {Op.lte: ">", Op.lt: ">=", Op.gte: "<", Op.gt: "<="}
"""A slice is bad when the good condition fails: good ``lte`` threshold means bad ``>`` threshold."""


def _slices(slo: SLO, environment: str) -> tuple[str, str]:
    """PromQL of the bad and total events of one slice, grouped by the SLO's ``group_by`` labels."""
    env = {"environment": environment}
    group = by(slo.group_by)
    sli = slo.sli
    threshold = slo.threshold_for(environment)
    if isinstance(sli, ThresholdSLI):
        assert threshold is not None
        value = f"{sli.aggregation} by ({group}) ({select(sli.metric, env)})"
        # NaN compares false both ways: such a slice is neither bad nor counted, like a missing one.
        return f"{value} {_BAD_WHEN[sli.op]} bool {number(threshold)}", f"{value} >= bool -Inf"
    rng = duration(sli.range)
    if isinstance(sli, RatioSLI):
        total = f"sum by ({group}) (increase({select(sli.total, env)}[{rng}]))"
        if sli.errors is not None:
            errors = f"sum by ({group}) (increase({select(sli.errors, env)}[{rng}]))"
            # An error counter is often created on the first error: until then, count zero errors, not no data.
            return f"{errors} or 0 * {total}", total
        assert sli.good is not None
        good = f"sum by ({group}) (increase({select(sli.good, env)}[{rng}]))"
    else:
        assert isinstance(sli, LatencySLI)
        assert threshold is not None
        total = f"sum by ({group}) (increase({select(sli.metric, env, suffix='_count')}[{rng}]))"
        bucket_sel = select(sli.metric, env, suffix="_bucket", extra=le_matcher(threshold))
        good = f"sum by ({group}) (increase({bucket_sel}[{rng}]))"
    # Scrapes of the two counters are not atomic: never let good exceed total into a negative error count.
    return f"clamp_min({total} - ({good} or 0 * {total}), 0)", total


def sli_input(slo: SLO, environment: str) -> str:
    """The raw series whose disappearance means the SLO can no longer be computed (for the absent alert)."""
    env = {"environment": environment}
    sli = slo.sli
    if isinstance(sli, RatioSLI):
        return select(sli.total, env)
    if isinstance(sli, LatencySLI):
        return select(sli.metric, env, suffix="_count")
    return select(sli.metric, env)


def period_ratio(m: str, period: float, bucket: float) -> str:
    """The period's error ratio: completed buckets through a subquery, or else the latest bucket sum alone.

    The subquery's steps are aligned on multiples of ``bucket`` (Prometheus aligns subquery steps on the epoch), so
    on its own it returns nothing until the first bucket boundary after a group's first slice: no budget, status
    or time to exhaustion for up to one bucket (1h at 30d) after a deploy or when a cluster or SLO appears.
    The subquery is empty for a group only while no bucket boundary has passed since its first slice (less than
    one bucket of history) or while its completed buckets counted nothing (zero traffic). In both cases every
    counted slice of the period lies in the last bucket length, which is exactly what the group's latest
    ``slo:sli_bad:bucket`` / ``slo:sli_total:bucket`` sum: the fallback is the same traffic-weighted ratio over
    all the data, and it reads one sample per series. ``or`` matches per label set (both sides carry ``slo``,
    ``environment`` and the group_by labels, the metric name is ignored), so a cluster that appears later gets
    the fallback while the others keep the subquery. Both ``> 0`` filters keep zero traffic from becoming NaN.
    """
    sub = f"[{closed_range(period)}:{duration(bucket)}]"
    buckets = f"sum_over_time({BAD_BUCKET}{{{m}}}{sub}) / (sum_over_time({TOTAL_BUCKET}{{{m}}}{sub}) > 0)"
    latest = f"{BAD_BUCKET}{{{m}}} / ({TOTAL_BUCKET}{{{m}}} > 0)"
    return f"{buckets}\nor\n{latest}\n"


def recording_group(slo: SLO, environment: str) -> RuleGroup:
    """All recorded series of one SLO target, in dependency order (a group evaluates its rules in sequence)."""
    target = slo.targets[environment]
    period, step = target.window, slo.slice
    budget = number(target.error_budget)
    labels = {"slo": slo.name, "environment": environment}
    m = matchers(labels)
    bad, total = _slices(slo, environment)
    bucket = windows.bucket(period, step)
    rules: list[Rule] = [
        Rule(record=BAD_SLICE, expr=bad, labels=labels),
        Rule(record=TOTAL_SLICE, expr=total, labels=labels),
    ]
    for window in windows.all_windows(period, step):
        rng = closed_range(window)
        rules.append(
            Rule(
                record=ERROR_RATIO,
                expr=f"sum_over_time({BAD_SLICE}{{{m}}}[{rng}]) / (sum_over_time({TOTAL_SLICE}{{{m}}}[{rng}]) > 0)",
                labels={**labels, "window": duration(window)},
            )
        )
    brng = closed_range(bucket)
    current = duration(windows.current_window(period, step))
    # Every group the SLO measures now (a slice) or still has a period ratio for (data in the last period).
    keys = by(["slo", "environment", *slo.group_by])
    measured = f"group by ({keys}) ({TOTAL_SLICE}{{{m}}} or {ERROR_RATIO_PERIOD}{{{m}}})"
    rules += [
        Rule(record=BAD_BUCKET, expr=f"sum_over_time({BAD_SLICE}{{{m}}}[{brng}])", labels=labels),
        Rule(record=TOTAL_BUCKET, expr=f"sum_over_time({TOTAL_SLICE}{{{m}}}[{brng}])", labels=labels),
        Rule(record=ERROR_RATIO_PERIOD, expr=period_ratio(m, period, bucket), labels=labels),
        Rule(record=OBJECTIVE, expr=f"{number(1 - target.error_budget)} * {measured}", labels=labels),
        Rule(record=ERROR_BUDGET, expr=f"{budget} * {measured}", labels=labels),
        Rule(record=PERIOD_SECONDS, expr=f"{number(period)} * {measured}", labels=labels),
        Rule(record=BUDGET_REMAINING, expr=f"1 - {ERROR_RATIO_PERIOD}{{{m}}} / {budget}", labels=labels),
        Rule(
            record=CURRENT_BURN,
            expr=f'sum without (window) ({ERROR_RATIO}{{{m}, window="{current}"}}) / {budget}',
            labels=labels,
        ),
        Rule(record=PERIOD_BURN, expr=f"{ERROR_RATIO_PERIOD}{{{m}}} / {budget}", labels=labels),
        Rule(
            record=TIME_TO_EXHAUSTION,
            expr=f"clamp_min({BUDGET_REMAINING}{{{m}}}, 0) * {number(period)} / ({CURRENT_BURN}{{{m}}} > 0)",
            labels=labels,
        ),
        Rule(
            record=STATUS,
            expr=f"({BUDGET_REMAINING}{{{m}}} < bool {number(STATUS_WARNING_BELOW)})"
            f" + ({BUDGET_REMAINING}{{{m}}} < bool {number(STATUS_CRITICAL_BELOW)})",
            labels=labels,
        ),
    ]
    return RuleGroup(name=f"kafka-obs-slo-{slo.name}-{environment}", rules=tuple(rules), interval=step)
