"""The SLO alerts: multi-window multi-burn-rate page and ticket, absent input, and the seed's two status alerts.

Pure functions from the model to rule groups. Burn-rate alerts compare the recorded window ratios with
``factor x budget``; both windows of a pair must burn (the short one proves it is still happening, so the alert
resolves quickly once the problem stops). ``max without (window)`` gives the two halves of each pair, and the two
pairs, the same label set, so one incident is one alert whatever window fired.
"""

from __future__ import annotations

from collections.abc import Mapping

from kafka_obs.rules import windows
from kafka_obs.rules.alerting import AlertSeverity, alert, labels_text
from kafka_obs.rules.model import SLO, AlertLevel, ThresholdSLI
from kafka_obs.rules.promql import closed_range, duration, matchers, number, quote, select
from kafka_obs.rules.ruleset import Rule, RuleGroup
from kafka_obs.rules.slo_rules import (
    BAD_SLICE,
    BUDGET_REMAINING,
    CURRENT_BURN,
    ERROR_RATIO,
    SLICES_PERIOD,
    STATUS,
    sli_input,
)

SEVERITY: dict[AlertLevel, dict[windows.Severity, AlertSeverity]] = {
    "page": {"page": "critical", "ticket": "warning"},
    "ticket": {"page": "warning", "ticket": "info"},
}
"""Alert severity of a fast (page) and a slow (ticket) condition, per environment level (``severity:`` setting)."""

BURN_WARNING_ABOVE = 2.0
"""The seed's burn-rate warning: status warning and burning more than twice the sustainable rate."""

ABSENT_FOR = 600.0

BUDGET_CRITICAL_ACTION = (
    "Freeze risky changes (deployments, broker and topic config changes, rebalances) on the affected clusters "
    "and put engineering effort on reliability until the error budget recovers; review the incidents that "
    "consumed it."
)
BURN_WARNING_ACTION = (
    "Investigate now: find what changed (deployments, traffic, broker or consumer health) and stop the burn "
    "before the error budget becomes critical."
)


def _pair_expr(m: str, window: windows.BurnWindow, budget: str, min_bad: int) -> str:
    def side(seconds: float) -> str:
        return (
            f'max without (window) ({ERROR_RATIO}{{{m}, window="{duration(seconds)}"}} > ({number(window.factor)} '
            f"* {budget}))"
        )

    evidence = ""
    if min_bad > 1:
        evidence = f"\nand\n  sum_over_time({BAD_SLICE}{{{m}}}[{closed_range(window.long)}]) >= {min_bad}"
    return f"(\n  {side(window.long)}\nand\n  {side(window.short)}{evidence}\n)"


def burn_rate_alerts(slo: SLO, environment: str, runbook_base: str, level: AlertLevel = "page") -> list[Rule]:
    target = slo.targets[environment]
    period, step = target.window, slo.slice
    budget = number(target.error_budget)
    labels = {"slo": slo.name, "environment": environment}
    m = matchers(labels)
    where = labels_text(["slo", "environment", *slo.group_by])
    rules = []
    kinds: tuple[tuple[windows.Severity, str], ...] = (
        ("page", "KafkaSLOBurnRatePage"),
        ("ticket", "KafkaSLOBurnRateTicket"),
    )
    for severity, name in kinds:
        pairs = [w for w in windows.burn_windows(period, step) if w.severity == severity]
        # A page on a threshold SLI needs page_min_bad of bad time in its long window, not one bad slice.
        min_bad = (
            windows.min_bad_slices(slo.page_min_bad, step)
            if severity == "page" and isinstance(slo.sli, ThresholdSLI)
            else 1
        )
        expr = "\nor\n".join(_pair_expr(m, pair, budget, min_bad) for pair in pairs) + "\n"
        explained = " or ".join(f"{number(p.factor)}x over {duration(p.long)} and {duration(p.short)}" for p in pairs)
        if min_bad > 1:
            explained += f", with at least {duration(min_bad * step)} bad"
        rules.append(
            alert(
                name,
                expr,
                severity=SEVERITY[level][severity],
                for_=windows.alert_for(severity, period, step),
                labels=labels,
                summary="An SLO is burning its error budget too fast."
                if severity == "page"
                else "An SLO is steadily burning its error budget.",
                description=(
                    f"{where}: error ratio {{{{ $value | humanizePercentage }}}} is above the budget's burn "
                    f"limits ({explained}; budget {number(100 * target.error_budget)}% over "
                    f"{duration(period)})."
                ),
                runbook_base=runbook_base,
            )
        )
    rules.append(absent_alert(slo, environment, runbook_base))
    return rules


def absent_alert(slo: SLO, environment: str, runbook_base: str) -> Rule:
    """A reachable cluster whose SLI input has vanished: named per cluster, so one cluster going blind is seen.

    A cluster counts when it is up (``kafka_cluster_up == 1``, emitted for every configured cluster) and either
    the SLO measured it in its period (its input existed, and is gone now) or the input is missing for the whole
    environment (nothing was ever measured: a wrong metric name, a missing JMX agent). A cluster that never had the
    input while others do (no consumer group yet) is not reported. Down clusters are ``KafkaClusterUnreachable``'s,
    and one bundle serves every region: a region without that environment has no cluster to report. SLOs not
    grouped by cluster report the environment, as before.
    """
    source = sli_input(slo, environment)
    env = {"environment": environment}
    labels = {"slo": slo.name, "environment": environment}
    description = (
        f"slo={slo.name}, environment={{{{ $labels.environment }}}}: no series matches {source} although "
        "clusters of this environment are reachable; the SLO is not being measured."
    )
    if "cluster" in slo.group_by:
        up = f"group by (cluster, region) ({select('kafka_cluster_up', env)} == 1)"
        blind = f"(\n  {up}\n  unless on (cluster)\n  group by (cluster) ({source})\n)"
        measured = f"group by (cluster) ({SLICES_PERIOD}{{{matchers(labels)}}} > 0)"
        expr = f"{blind}\nand on (cluster)\n{measured}\nor\n{blind}\nand on ()\nabsent({source})\n"
        description = (
            f"slo={slo.name}, environment={environment}, cluster={{{{ $labels.cluster }}}}: "
            f"the cluster is reachable but no series matches {source} for it; the SLO is not being measured there."
        )
    else:
        present = f"kafka_cluster_up{{{matchers(env)}}} == 1"
        expr = f"absent({source})\nand on ()\ngroup({present})\n"
    return alert(
        "KafkaSLODataAbsent",
        expr,
        severity="warning",
        for_=ABSENT_FOR,
        labels=labels,
        summary="The input series of an SLO has vanished.",
        description=description,
        runbook_base=runbook_base,
    )


def alert_group(slo: SLO, runbook_base: str, levels: Mapping[str, AlertLevel] | None = None) -> RuleGroup:
    levels = levels or {}
    rules = [rule for env in slo.targets for rule in burn_rate_alerts(slo, env, runbook_base, levels.get(env, "page"))]
    return RuleGroup(name=f"kafka-obs-slo-{slo.name}-alerts", rules=tuple(rules))


def status_group(runbook_base: str, levels: Mapping[str, AlertLevel] | None = None) -> RuleGroup:
    """The seed's two status alerts over every SLO and group; one rule each per severity level in use.

    Environments at ``ticket`` level get their own rules one severity lower; every other environment (including
    one an OpenSLO import adds) is matched by the ``page`` rules' negative matcher.
    """
    tickets = sorted(env for env, level in (levels or {}).items() if level == "ticket")
    where = labels_text(["slo", "environment"])
    rules: list[Rule] = []
    selections: list[tuple[AlertLevel, str]] = [("page", "")]
    if tickets:
        alternatives = quote("|".join(tickets))
        selections = [("page", f"{{environment!~{alternatives}}}"), ("ticket", f"{{environment=~{alternatives}}}")]
    for level, sel in selections:
        rules += [
            alert(
                "KafkaSLOErrorBudgetCritical",
                f"{BUDGET_REMAINING}{sel} and {STATUS}{sel} == 2",
                severity=SEVERITY[level]["page"],
                for_=300.0,
                summary="An SLO has less than 20% of its error budget left.",
                description=f"{where} ({{{{ $labels.cluster }}}}): {{{{ $value | humanizePercentage }}}} "
                "of the error budget remains.",
                runbook_base=runbook_base,
                extra={"action": BUDGET_CRITICAL_ACTION},
            ),
            alert(
                "KafkaSLOBurnRateWarning",
                f"{CURRENT_BURN}{sel} > {number(BURN_WARNING_ABOVE)} and {STATUS}{sel} == 1",
                severity=SEVERITY[level]["ticket"],
                for_=900.0,
                summary="An SLO with less than half its budget left is burning it more than twice too fast.",
                description=f"{where} ({{{{ $labels.cluster }}}}): burn rate {{{{ $value | humanize }}}}x "
                "with less than 50% of the error budget left.",
                runbook_base=runbook_base,
                extra={"action": BURN_WARNING_ACTION},
            ),
        ]
    return RuleGroup(name="kafka-obs-slo-status", rules=tuple(rules))
