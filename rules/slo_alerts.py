"""The SLO alerts: multi-window multi-burn-rate page and ticket, absent input, and the seed's two status alerts.

Pure functions from the model to rule groups. Burn-rate alerts compare the recorded window ratios with
``factor x budget``; both windows of a pair must burn (the short one proves it is still happening, so the alert
resolves quickly once the problem stops). ``max without (window)`` gives the two halves of each pair, and the two
pairs, the same label set, so one incident is one alert whatever window fired.
"""

from __future__ import annotations

from kafka_obs.rules import windows
from kafka_obs.rules.alerting import alert, labels_text
from kafka_obs.rules.model import SLO
from kafka_obs.rules.promql import duration, matchers, number
from kafka_obs.rules.ruleset import Rule, RuleGroup
from kafka_obs.rules.slo_rules import (
    BUDGET_REMAINING,
    CURRENT_BURN,
    ERROR_RATIO,
    STATUS,
    sli_input,
)

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


def _pair_expr(m: str, window: windows.BurnWindow, budget: str) -> str:
    def side(seconds: float) -> str:
        return (
            f'max without (window) ({ERROR_RATIO}{{{m}, window="{duration(seconds)}"}} > ({number(window.factor)} '
            f"* {budget}))"
        )

    return f"(\n  {side(window.long)}\nand\n  {side(window.short)}\n)"


def burn_rate_alerts(slo: SLO, environment: str, runbook_base: str) -> list[Rule]:
    target = slo.targets[environment]
    period, step = target.window, slo.slice
    budget = number(target.error_budget)
    labels = {"slo": slo.name, "environment": environment}
    m = matchers(labels)
    where = labels_text(["slo", "environment", *slo.group_by])
    rules = []
    for severity, alert_severity, name in (
        ("page", "critical", "KafkaSLOBurnRatePage"),
        ("ticket", "warning", "KafkaSLOBurnRateTicket"),
    ):
        pairs = [w for w in windows.burn_windows(period, step) if w.severity == severity]
        expr = "\nor\n".join(_pair_expr(m, pair, budget) for pair in pairs) + "\n"
        explained = " or ".join(f"{number(p.factor)}x over {duration(p.long)} and {duration(p.short)}" for p in pairs)
        rules.append(
            alert(
                name,
                expr,
                severity=alert_severity,
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
    """The SLO's input has vanished while this Prometheus sees reachable clusters of that environment.

    One bundle is loaded by every regional Prometheus, and most regions do not have every environment: a bare
    ``absent()`` would fire forever for each environment a region does not scrape. ``and on ()`` with the
    environment's reachable clusters (``kafka_cluster_up == 1``, which the exporter emits for every configured
    cluster) keeps the alert to the case that needs a human: the clusters are there, the SLI is not. When every
    cluster of the environment is unreachable, ``KafkaClusterUnreachable`` is the alert (and
    ``KafkaExporterDown`` when the exporter is), not this one.
    """
    source = sli_input(slo, environment)
    present = f"kafka_cluster_up{{{matchers({'environment': environment})}}} == 1"
    return alert(
        "KafkaSLODataAbsent",
        f"absent({source})\nand on ()\ngroup({present})\n",
        severity="warning",
        for_=ABSENT_FOR,
        labels={"slo": slo.name, "environment": environment},
        summary="The input series of an SLO has vanished.",
        description=(
            f"slo={slo.name}, environment={{{{ $labels.environment }}}}: no series matches {source} although "
            "clusters of this environment are reachable; the SLO is not being measured."
        ),
        runbook_base=runbook_base,
    )


def alert_group(slo: SLO, runbook_base: str) -> RuleGroup:
    rules = [rule for env in slo.targets for rule in burn_rate_alerts(slo, env, runbook_base)]
    return RuleGroup(name=f"kafka-obs-slo-{slo.name}-alerts", rules=tuple(rules))


def status_group(runbook_base: str) -> RuleGroup:
    """The seed's two status alerts; one rule each covers every SLO, environment and group."""
    where = labels_text(["slo", "environment"])
    return RuleGroup(
        name="kafka-obs-slo-status",
        rules=(
            alert(
                "KafkaSLOErrorBudgetCritical",
                f"{BUDGET_REMAINING} and {STATUS} == 2",
                severity="critical",
                for_=300.0,
                summary="An SLO has less than 20% of its error budget left.",
                description=f"{where} ({{{{ $labels.cluster }}}}): {{{{ $value | humanizePercentage }}}} "
                "of the error budget remains.",
                runbook_base=runbook_base,
                extra={"action": BUDGET_CRITICAL_ACTION},
            ),
            alert(
                "KafkaSLOBurnRateWarning",
                f"{CURRENT_BURN} > {number(BURN_WARNING_ABOVE)} and {STATUS} == 1",
                severity="warning",
                for_=900.0,
                summary="An SLO with less than half its budget left is burning it more than twice too fast.",
                description=f"{where} ({{{{ $labels.cluster }}}}): burn rate {{{{ $value | humanize }}}}x "
                "with less than 50% of the error budget left.",
                runbook_base=runbook_base,
                extra={"action": BURN_WARNING_ACTION},
            ),
        ),
    )
