"""The pure SLO generator: one validated SLO target in, Prometheus rule groups out (no I/O).

Every SLI kind is reduced to the same two recorded series per evaluation step (a *slice*):

* ``slo:sli_bad:slice`` — bad events in the slice (threshold SLIs: 1 when the SLI breached at any scrape inside the
  slice, or the cluster was down and the SLO counts an outage as bad; else 0);
* ``slo:sli_total:slice`` — events in the slice (threshold SLIs: 1 for every slice that has a value).

Every alerting window's error ratio is then ``sum(bad) / sum(total)`` over the window's slices: traffic-weighted for
event SLIs (never a mean of 5-minute ratios, Sloth issues 241 and 618) and the share of bad slices for threshold SLIs.
A window without events or without data has a zero denominator, which the ``> 0`` filter turns into *no sample*
instead of NaN, so idle time never poisons a budget (Sloth issues 133, 231, 749).

The period is read from cumulative sums (``slo:sli_*:cumulative``) that each evaluation extends by the current slice
and that remember their last value for an hour (``last_over_time``): a Prometheus restart or a gap of up to an hour
loses no recorded slice, and the period's sums are two reads (now and one period ago), not 720 or 43,200 samples.
The budget is consumed against the whole period: bad slices over the bad slices the period allows (time slices), or
the period's error ratio scaled by the share of the period measured so far (events), so a short history can never
overspend it.
"""

from __future__ import annotations

from kafka_obs.rules import windows
from kafka_obs.rules.model import SLO, LatencySLI, Op, RatioSLI, ThresholdSLI
from kafka_obs.rules.promql import by, closed_range, duration, le_matcher, matchers, number, select
from kafka_obs.rules.ruleset import Rule, RuleGroup

BAD_SLICE = "slo:sli_bad:slice"
TOTAL_SLICE = "slo:sli_total:slice"
OUTAGE_SLICE = "slo:sli_outage:slice"
EMPTY_SINCE = "slo:consumergroup_empty_since:timestamp"
BAD_CUMULATIVE = "slo:sli_bad:cumulative"
TOTAL_CUMULATIVE = "slo:sli_total:cumulative"
SLICES_CUMULATIVE = "slo:sli_slices:cumulative"
CUMULATIVE_START = "slo:cumulative_start:timestamp"
BAD_PERIOD = "slo:sli_bad:period"
TOTAL_PERIOD = "slo:sli_total:period"
SLICES_PERIOD = "slo:sli_slices:period"
COVERAGE = "slo:period_coverage:ratio"
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

MEMORY = 3600.0
"""How long a cumulative sum survives without being written (a Prometheus restart, a stopped rule evaluation)."""

OUTAGE_MEMORY = 3600.0
"""How long the clusters of an exporter that cannot be scraped stay known, so that its downtime counts as theirs."""

DEFAULT_RESOLUTION = 15.0
"""The regional Prometheus' scrape interval (prometheus/regional.yml): the default step of a slice's subquery."""

_BAD_WHEN = {Op.lte: ">", Op.lt: ">=", Op.gte: "<", Op.gt: "<="}
"""A slice is bad when the good condition fails: good ``lte`` threshold means bad ``>`` threshold."""


def _bad_high(op: Op) -> bool:
    return op in (Op.lte, Op.lt)


CLUSTER_LABELS = ("cluster", "region")
"""The group_by labels ``kafka_cluster_up`` carries whatever the fleet: what an outage can be recorded by."""


def outage_labels(slo: SLO) -> list[str]:
    """The labels of ``slo:sli_outage:slice``: the SLO's group_by labels that identify a cluster."""
    return [label for label in slo.group_by if label in CLUSTER_LABELS]


def has_outage(slo: SLO) -> bool:
    """Whether the SLO records ``slo:sli_outage:slice``: threshold SLIs per cluster (an outage is per cluster)."""
    return isinstance(slo.sli, ThresholdSLI) and "cluster" in slo.group_by


def outage_expr(slo: SLO, environment: str, exporter_job: str) -> str:
    """1 when the group's cluster was down at any scrape inside the slice, 0 when it was up at every one.

    Down is ``kafka_cluster_up == 0`` (the exporter cannot reach it) or the exporter target that reported it in the
    last hour failing its scrape (``up == 0``): then the cluster's own series are gone, and only the target's
    ``up`` says that nothing is known. A cluster removed from clusters.yaml has no series at all: not an outage.
    """
    env = {"environment": environment}
    group = by(outage_labels(slo))
    rng = closed_range(slo.slice)
    cluster_up = select("kafka_cluster_up", env)
    target_up = select("up", {"job": exporter_job})
    return (
        f"max by ({group}) (\n"
        f"  (min_over_time({cluster_up}[{rng}]) == bool 0)\n"
        "or\n"
        f"  group by ({group}, job, instance) (last_over_time({cluster_up}[{duration(OUTAGE_MEMORY)}]))\n"
        f"  * on (job, instance) group_left ()\n"
        f"  (min_over_time({target_up}[{rng}]) == bool 0)\n"
        ")\n"
    )


def empty_since_expr(environment: str, m: str) -> str:
    """When each consumer group became Empty (no members), for as long as it stays Empty; -1 while it is in any other
    state, so that leaving Empty restarts the clock even when the group is Empty again within the hour that carries
    the value over gaps in the data."""
    env = {"environment": environment}
    empty = select("kafka_consumergroup_state", env, extra='state="Empty"')
    other = select("kafka_consumergroup_state", env, extra='state!="Empty"')
    keys = "cluster, consumergroup"
    return (
        f"max by ({keys}) (last_over_time({EMPTY_SINCE}{{{m}}}[{duration(MEMORY)}]) >= 0 and on ({keys}) {empty})\n"
        f"or on ({keys})\n"
        f"-1 + 0 * max by ({keys}) ({other})\n"
        f"or on ({keys})\n"
        f"time() + 0 * max by ({keys}) ({empty})\n"
    )


def _threshold_value(slo: SLO, sli: ThresholdSLI, environment: str, m: str) -> str:
    """The SLI's worst value over the slice: a breach at any scrape inside it counts, not the value at its end.

    When the aggregation and the bad direction commute (``max`` of values that are bad when high, ``min`` of values
    bad when low) the worst of each series over the slice is exact and cheap; otherwise the aggregate is re-read
    every ``resolution`` through a subquery.
    """
    env = {"environment": environment}
    group = by(slo.group_by)
    worst = "max" if _bad_high(sli.op) else "min"
    rng = closed_range(slo.slice)
    excluded = ""
    if sli.exclude_empty_groups_after is not None:
        excluded = (
            f" unless on (cluster, consumergroup) (time() - ({EMPTY_SINCE}{{{m}}} >= 0) > "
            f"{number(sli.exclude_empty_groups_after)})"
        )
    sel = select(sli.metric, env)
    if sli.aggregation == worst:
        return f"{worst} by ({group}) ({worst}_over_time({sel}[{rng}]){excluded})"
    inner = f"{sli.aggregation} by ({group}) ({sel}{excluded})"
    resolution = sli.resolution if sli.resolution is not None else min(slo.slice, DEFAULT_RESOLUTION)
    return f"{worst}_over_time(({inner})[{rng}:{duration(resolution)}])"


def _slices(slo: SLO, environment: str, m: str) -> tuple[str, str]:
    """PromQL of the bad and total events of one slice, grouped by the SLO's ``group_by`` labels."""
    env = {"environment": environment}
    group = by(slo.group_by)
    sli = slo.sli
    threshold = slo.threshold_for(environment)
    if isinstance(sli, ThresholdSLI):
        assert threshold is not None
        value = _threshold_value(slo, sli, environment, m)
        # NaN compares false both ways: such a slice is neither bad nor counted, like a missing one.
        bad, total = f"{value} {_BAD_WHEN[sli.op]} bool {number(threshold)}", f"{value} >= bool -Inf"
        if not has_outage(slo):
            return bad, total
        down = f"{OUTAGE_SLICE}{{{m}}} == 1"
        if slo.outage == "bad":  # group_by holds only cluster labels then (checked when loading)
            stripped = f"max by ({group}) ({OUTAGE_SLICE}{{{m}}}) == 1"
            return f"({stripped})\nor\n{bad}\n", f"({stripped})\nor\n{total}\n"
        # Values the exporter still serves for an unreachable cluster are its last known ones, not measurements.
        return f"{bad}\nunless on (cluster)\n{down}\n", f"{total}\nunless on (cluster)\n{down}\n"
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


def cumulative(name: str, increment: str, m: str) -> str:
    """``name`` extended by this slice's ``increment``; without a slice it keeps its value while the group has
    slices in the period; it starts at the group's first slice. ``last_over_time`` over an hour carries it over a
    restart or any gap in evaluation of up to an hour."""
    last = f"last_over_time({name}{{{m}}}[{duration(MEMORY)}])"
    keep = f"last_over_time({SLICES_PERIOD}{{{m}}}[{duration(MEMORY)}]) > 0"
    return f"  {increment} + {last}\nor\n  ({last} and {keep})\nor\n  {increment}\n"


def period_sum(name: str, m: str, period: float) -> str:
    """What ``name`` (a cumulative sum) gained over the period: now minus its value one period ago.

    The old value counts only when it belongs to the same run of the sum (same start timestamp): after a gap
    longer than :data:`MEMORY` the sums start again from zero, and the period then holds what was recorded since.
    With less than a period of history there is no old value and the whole sum is the period's.
    """
    ago = f"offset {duration(period)}"
    then = f"last_over_time({name}{{{m}}}[{duration(MEMORY)}] {ago})"
    same_run = f"last_over_time({CUMULATIVE_START}{{{m}}}[{duration(MEMORY)}] {ago}) == {CUMULATIVE_START}{{{m}}}"
    return f"{name}{{{m}}}\n- (\n  ({then} and {same_run})\n  or\n  0 * {name}{{{m}}}\n)\n"


def slice_group(slo: SLO, environment: str, exporter_job: str) -> RuleGroup:
    """The slices, the window ratios and the cumulative sums: one group, because the sums must read this very slice."""
    target = slo.targets[environment]
    period, step = target.window, slo.slice
    labels = {"slo": slo.name, "environment": environment}
    m = matchers(labels)
    rules: list[Rule] = []
    if isinstance(slo.sli, ThresholdSLI) and slo.sli.exclude_empty_groups_after is not None:
        rules.append(Rule(record=EMPTY_SINCE, expr=empty_since_expr(environment, m), labels=labels))
    if has_outage(slo):
        rules.append(Rule(record=OUTAGE_SLICE, expr=outage_expr(slo, environment, exporter_job), labels=labels))
    bad, total = _slices(slo, environment, m)
    rules += [
        Rule(record=BAD_SLICE, expr=bad, labels=labels),
        Rule(record=TOTAL_SLICE, expr=total, labels=labels),
    ]
    # A threshold slice's total is already 1 when counted (0 for a NaN value); an event slice counts when it has a
    # value at all, zero traffic included: that time was measured.
    counted = f"{TOTAL_SLICE}{{{m}}}" if isinstance(slo.sli, ThresholdSLI) else f"({TOTAL_SLICE}{{{m}}} >= bool 0)"
    rules += [
        Rule(record=BAD_CUMULATIVE, expr=cumulative(BAD_CUMULATIVE, f"{BAD_SLICE}{{{m}}}", m), labels=labels),
        Rule(record=TOTAL_CUMULATIVE, expr=cumulative(TOTAL_CUMULATIVE, f"{TOTAL_SLICE}{{{m}}}", m), labels=labels),
        Rule(record=SLICES_CUMULATIVE, expr=cumulative(SLICES_CUMULATIVE, counted, m), labels=labels),
        Rule(
            record=CUMULATIVE_START,
            expr=f"last_over_time({CUMULATIVE_START}{{{m}}}[{duration(MEMORY)}]) and {SLICES_CUMULATIVE}{{{m}}}\n"
            f"or\ntime() + 0 * {SLICES_CUMULATIVE}{{{m}}}\n",
            labels=labels,
        ),
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
    return RuleGroup(name=f"kafka-obs-slo-{slo.name}-{environment}", rules=tuple(rules), interval=step)


def budget_group(slo: SLO, environment: str) -> RuleGroup:
    """The period, the budget and what derives from them (read from the slice group's series, one slice behind at
    most when Prometheus evaluates this group first)."""
    target = slo.targets[environment]
    period, step = target.window, slo.slice
    budget = number(target.error_budget)
    slices = round(period / step)
    labels = {"slo": slo.name, "environment": environment}
    m = matchers(labels)
    current = duration(windows.current_window(period, step))
    # Every group the SLO has measured in its period, from its first slice on (zero traffic included).
    keys = by(["slo", "environment", *slo.group_by])
    measured = f"group by ({keys}) ({SLICES_PERIOD}{{{m}}} > 0)"
    if isinstance(slo.sli, ThresholdSLI):
        # time slices: bad slices over the bad slices the whole period allows (budget x slices of the period)
        remaining = f"1 - ({BAD_PERIOD}{{{m}}} and {TOTAL_PERIOD}{{{m}}} > 0) / {number(target.error_budget * slices)}"
    else:
        # events: the period's error ratio, weighted by the share of the period measured so far
        remaining = f"1 - {ERROR_RATIO_PERIOD}{{{m}}} * {COVERAGE}{{{m}}} / {budget}"
    rules = (
        Rule(record=BAD_PERIOD, expr=period_sum(BAD_CUMULATIVE, m, period), labels=labels),
        Rule(record=TOTAL_PERIOD, expr=period_sum(TOTAL_CUMULATIVE, m, period), labels=labels),
        Rule(record=SLICES_PERIOD, expr=period_sum(SLICES_CUMULATIVE, m, period), labels=labels),
        Rule(record=ERROR_RATIO_PERIOD, expr=f"{BAD_PERIOD}{{{m}}} / ({TOTAL_PERIOD}{{{m}}} > 0)", labels=labels),
        Rule(record=COVERAGE, expr=f"clamp_max({SLICES_PERIOD}{{{m}}} / {slices}, 1)", labels=labels),
        Rule(record=OBJECTIVE, expr=f"{number(1 - target.error_budget)} * {measured}", labels=labels),
        Rule(record=ERROR_BUDGET, expr=f"{budget} * {measured}", labels=labels),
        Rule(record=PERIOD_SECONDS, expr=f"{number(period)} * {measured}", labels=labels),
        Rule(record=BUDGET_REMAINING, expr=remaining, labels=labels),
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
    )
    return RuleGroup(name=f"kafka-obs-slo-{slo.name}-{environment}-budget", rules=rules, interval=step)
