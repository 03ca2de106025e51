"""Fleet-wide views of the SLO series, for a global Prometheus that federates ``slo:`` series from every region.

Each regional Prometheus records its own clusters' SLOs; only a Prometheus that sees every region can tell the
worst budget of an SLO across the fleet. These rules read nothing but ``slo:`` series (federated by
``prometheus/global.yml``), aggregate away the group_by labels (whatever they are) and keep ``slo`` and
``environment``: the metric part of each name is the source series' name with its unit, ``level:metric:operation``.
"""

from __future__ import annotations

from kafka_obs.rules.ruleset import Rule, RuleGroup
from kafka_obs.rules.slo_rules import BUDGET_REMAINING, STATUS, TIME_TO_EXHAUSTION

BY = "slo, environment"


def _name(source: str, operation: str) -> str:
    """``slo:error_budget_remaining:ratio`` → ``global:slo_error_budget_remaining_ratio:<operation>``."""
    return f"global:{source.replace(':', '_')}:{operation}"


def rollup_group() -> RuleGroup:
    return RuleGroup(
        name="kafka-obs-slo-cross-region",
        rules=(
            # the least budget left of any group (cluster) of that SLO and environment, below 0 once overspent
            Rule(record=_name(BUDGET_REMAINING, "min"), expr=f"min by ({BY}) ({BUDGET_REMAINING})"),
            # the worst status: 2 as soon as one group is critical
            Rule(record=_name(STATUS, "max"), expr=f"max by ({BY}) ({STATUS})"),
            # the soonest exhaustion; absent while nothing burns (the source is absent at burn 0)
            Rule(record=_name(TIME_TO_EXHAUSTION, "min"), expr=f"min by ({BY}) ({TIME_TO_EXHAUSTION})"),
        ),
    )
