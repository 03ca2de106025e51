"""Table tests of the pure generator: window scaling, slice expressions per SLI kind, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kafka_obs.rules import promql, windows
from kafka_obs.rules.bundle import rule_files
from kafka_obs.rules.model import SLO, SLOFile
from kafka_obs.rules.ruleset import Rule, RuleGroup
from kafka_obs.rules.slo_alerts import alert_group, status_group
from kafka_obs.rules.slo_rules import budget_group, slice_group


def recording_group(spec: SLO, environment: str) -> RuleGroup:
    """Both recording groups of a target as one, in evaluation order (slices and windows, then the budget)."""
    first, second = slice_group(spec, environment, "kafka-obs-exporter"), budget_group(spec, environment)
    return RuleGroup(name=first.name, rules=first.rules + second.rules, interval=first.interval)


def record(group: RuleGroup, name: str) -> Rule:
    return next(rule for rule in group.rules if rule.record == name)


DAY = 86400.0


def slo(sli: dict[str, Any], **targets: dict[str, Any]) -> SLO:
    return SLO.model_validate(
        {"name": "s", "sli": sli, "targets": targets or {"production": {"objective": 99.9, "window": "30d"}}}
    )


THRESHOLD = {"kind": "threshold", "metric": "m", "threshold": 5}


@pytest.mark.parametrize(
    ("period", "step", "expected"),
    [
        # the SRE Workbook table itself
        (30 * DAY, 60, [(3600, 300), (21600, 1800), (86400, 7200), (259200, 21600)]),
        # 7 days: x 7/30, rounded to whole minutes (70 s -> 1m, 1h24m, 5h36m, 16h48m)
        (7 * DAY, 60, [(840, 60), (5040, 420), (20160, 1680), (60480, 5040)]),
        # 1 day in 10 s slices (the promtool suites)
        (DAY, 10, [(120, 10), (720, 60), (2880, 240), (8640, 720)]),
        # 90 days: x 3
        (90 * DAY, 60, [(10800, 900), (64800, 5400), (259200, 21600), (777600, 64800)]),
    ],
)
def test_windows_scale_with_the_period(period: float, step: float, expected: list[tuple[int, int]]) -> None:
    got = windows.burn_windows(period, step)
    assert [(w.long, w.short) for w in got] == expected
    assert [w.factor for w in got] == [14.4, 6, 3, 1]
    assert windows.current_window(period, step) == expected[0][0]


def test_budget_consumed_per_alert_is_the_same_at_any_period() -> None:
    """factor x long window / period: 2 % (page 1h), 5 % (6h), 10 % (1d, 3d) of the budget whatever the period."""
    for period in (30 * DAY, 28 * DAY, 90 * DAY):
        consumed = [w.factor * w.long / period for w in windows.burn_windows(period, 60)]
        assert consumed == pytest.approx([0.02, 0.05, 0.1, 0.1], rel=0.01)


def test_tiny_periods_never_get_windows_shorter_than_a_slice() -> None:
    # a 1h period is 1/720 of 30d: 5m..6h all round to one 60 s slice, 1d -> 120 s, 3d -> 360 s
    assert windows.all_windows(3600, 60) == [60, 120, 360]


@pytest.mark.parametrize(
    ("text", "labels", "suffix", "extra", "expected"),
    [
        ("m", {"environment": "p"}, "", "", 'm{environment="p"}'),
        ('m{a="1"}', {"environment": "p"}, "", "", 'm{environment="p", a="1"}'),
        ("h", {"environment": "p"}, "_bucket", 'le="0.5"', 'h_bucket{environment="p", le="0.5"}'),
        ('h{job="x"}', {}, "_count", "", 'h_count{job="x"}'),
    ],
)
def test_select(text: str, labels: dict[str, str], suffix: str, extra: str, expected: str) -> None:
    assert promql.select(text, labels, suffix=suffix, extra=extra) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "4m59s999ms"), (2592000, "29d23h59m59s999ms"), (10, "9s999ms"), (5040, "1h23m59s999ms")],
)
def test_ranges_are_one_millisecond_short(seconds: float, text: str) -> None:
    assert promql.closed_range(seconds) == text


def test_le_matches_both_client_spellings() -> None:
    assert promql.le_matcher(1) == 'le=~"1|1\\\\.0"'
    assert promql.le_matcher(0.25) == 'le="0.25"'


NOT_DOWN = '\nunless on (cluster)\nslo:sli_outage:slice{slo="s", environment="production"} == 1\n'


@pytest.mark.parametrize(
    ("sli", "bad", "total"),
    [
        (
            # max of values bad when high: the worst sample of each series inside the slice
            {"kind": "threshold", "metric": "lag", "aggregation": "max", "threshold": 10000},
            'max by (cluster, region) (max_over_time(lag{environment="production"}[59s999ms])) > bool 10000' + NOT_DOWN,
            'max by (cluster, region) (max_over_time(lag{environment="production"}[59s999ms])) >= bool -Inf' + NOT_DOWN,
        ),
        (
            {"kind": "threshold", "metric": "up_brokers", "aggregation": "min", "op": "gte", "threshold": 3},
            'min by (cluster, region) (min_over_time(up_brokers{environment="production"}[59s999ms])) < bool 3'
            + NOT_DOWN,
            'min by (cluster, region) (min_over_time(up_brokers{environment="production"}[59s999ms])) >= bool -Inf'
            + NOT_DOWN,
        ),
        (
            # a sum does not commute with the worst over time: re-read every 15 s inside the slice
            {"kind": "threshold", "metric": "urp", "aggregation": "sum", "threshold": 0},
            'max_over_time((sum by (cluster, region) (urp{environment="production"}))[59s999ms:15s]) > bool 0'
            + NOT_DOWN,
            'max_over_time((sum by (cluster, region) (urp{environment="production"}))[59s999ms:15s]) >= bool -Inf'
            + NOT_DOWN,
        ),
        (
            {"kind": "ratio", "errors": "e_total", "total": "t_total", "range": "2m"},
            'sum by (cluster, region) (increase(e_total{environment="production"}[2m])) or 0 * '
            'sum by (cluster, region) (increase(t_total{environment="production"}[2m]))',
            'sum by (cluster, region) (increase(t_total{environment="production"}[2m]))',
        ),
        (
            {"kind": "latency", "metric": 'h_seconds{job="c"}', "threshold": 0.1},
            'clamp_min(sum by (cluster, region) (increase(h_seconds_count{environment="production", job="c"}[2m])) - '
            '(sum by (cluster, region) (increase(h_seconds_bucket{environment="production", job="c", le="0.1"}[2m]))'
            ' or 0 * sum by (cluster, region) (increase(h_seconds_count{environment="production", job="c"}[2m]))), 0)',
            'sum by (cluster, region) (increase(h_seconds_count{environment="production", job="c"}[2m]))',
        ),
    ],
    ids=["threshold-lte", "threshold-gte", "threshold-sum", "ratio", "latency"],
)
def test_slice_expressions(sli: dict[str, Any], bad: str, total: str) -> None:
    group = slice_group(slo(sli), "production", "kafka-obs-exporter")
    assert record(group, "slo:sli_bad:slice").expr == bad
    assert record(group, "slo:sli_total:slice").expr == total
    assert group.interval == 60


def test_an_outage_is_a_bad_counted_slice_when_the_slo_says_so() -> None:
    spec = slo({"kind": "threshold", "metric": "urp", "aggregation": "max", "threshold": 0}).model_copy(
        update={"outage": "bad"}
    )
    group = slice_group(spec, "production", "my-exporter")
    outage = record(group, "slo:sli_outage:slice").expr
    assert 'min_over_time(kafka_cluster_up{environment="production"}[59s999ms]) == bool 0' in outage
    assert 'min_over_time(up{job="my-exporter"}[59s999ms]) == bool 0' in outage
    down = 'max by (cluster, region) (slo:sli_outage:slice{slo="s", environment="production"}) == 1'
    assert record(group, "slo:sli_bad:slice").expr.startswith(f"({down})\nor\n")
    assert record(group, "slo:sli_total:slice").expr.startswith(f"({down})\nor\n")


def test_abandoned_groups_are_left_out_of_the_sli() -> None:
    sli = {"kind": "threshold", "metric": "lag", "threshold": 5, "exclude_empty_groups_after": "1d"}
    group = slice_group(slo(sli), "production", "kafka-obs-exporter")
    assert group.rules[0].record == "slo:consumergroup_empty_since:timestamp"
    assert 'state="Empty"' in group.rules[0].expr
    assert "unless on (cluster, consumergroup) (time() - (slo:consumergroup_empty_since:timestamp" in (
        record(group, "slo:sli_bad:slice").expr
    )
    assert "> 86400)" in record(group, "slo:sli_bad:slice").expr


def test_every_window_is_a_traffic_weighted_sum_never_a_mean_of_ratios() -> None:
    group = recording_group(slo({"kind": "ratio", "errors": "e", "total": "t"}), "production")
    ratios = [r for r in group.rules if r.record == "slo:sli_error:ratio"]
    assert len(ratios) == 7
    for rule in ratios:
        assert "avg_over_time" not in rule.expr
        numerator, denominator = rule.expr.split(" / ", 1)
        assert numerator.startswith("sum_over_time(slo:sli_bad:slice")
        assert denominator.startswith("(sum_over_time(slo:sli_total:slice")
        assert denominator.endswith("> 0)"), "a zero denominator must drop the sample, never divide"
    # the period: events of the period over events of the period, read from cumulative sums (now - a period ago)
    m = 'slo="s", environment="production"'
    assert record(group, "slo:sli_error:ratio_period").expr == (
        f"slo:sli_bad:period{{{m}}} / (slo:sli_total:period{{{m}}} > 0)"
    )
    period = record(group, "slo:sli_bad:period").expr
    assert period.startswith(f"slo:sli_bad:cumulative{{{m}}}\n- (")
    assert f"last_over_time(slo:sli_bad:cumulative{{{m}}}[1h] offset 30d)" in period
    assert "[29d" not in period, "no range or subquery over the whole period"
    # events: the ratio weighted by the share of the period measured so far
    assert record(group, "slo:error_budget_remaining:ratio").expr == (
        f"1 - slo:sli_error:ratio_period{{{m}}} * slo:period_coverage:ratio{{{m}}} / 0.001"
    )


def test_time_slice_budgets_are_consumed_against_the_whole_period() -> None:
    """99.9 % of 30 days in 1-minute slices allows 43.2 bad slices, whatever has been measured so far."""
    group = recording_group(slo(THRESHOLD), "production")
    m = 'slo="s", environment="production"'
    assert record(group, "slo:error_budget_remaining:ratio").expr == (
        f"1 - (slo:sli_bad:period{{{m}}} and slo:sli_total:period{{{m}}} > 0) / 43.2"
    )
    assert record(group, "slo:period_coverage:ratio").expr == f"clamp_max(slo:sli_slices:period{{{m}}} / 43200, 1)"


def test_series_carry_slo_environment_and_group_by() -> None:
    spec = slo(THRESHOLD, production={"objective": 99, "window": "30d"}).model_copy(
        update={"group_by": ["cluster", "topic"]}
    )
    group = recording_group(spec, "production")
    assert "max by (cluster, topic)" in record(group, "slo:sli_bad:slice").expr
    for rule in group.rules:
        assert rule.labels["slo"] == "s"
        assert rule.labels["environment"] == "production"
    windows_seen = [r.labels["window"] for r in group.rules if r.record == "slo:sli_error:ratio"]
    assert windows_seen == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


def test_each_target_has_its_own_period_in_one_bundle() -> None:
    spec = slo(
        THRESHOLD,
        production={"objective": 99.9, "window": "30d"},
        staging={"objective": 99, "window": "7d"},
    )
    prod, staging = recording_group(spec, "production"), recording_group(spec, "staging")
    assert [r.labels.get("window") for r in staging.rules if r.record == "slo:sli_error:ratio"] == [
        "1m",
        "7m",
        "14m",
        "28m",
        "1h24m",
        "5h36m",
        "16h48m",
    ]
    period = {g.name: next(r.expr for r in g.rules if r.record == "slo:period:seconds") for g in (prod, staging)}
    assert period[prod.name].startswith("2592000 * group by (slo, environment, cluster, region) (slo:sli_slices:")
    assert period[staging.name].startswith("604800 * group by (slo, environment, cluster, region) (slo:sli_slices:")
    page = next(r for r in alert_group(spec, "https://x/runbook.md").rules if r.labels.get("environment") == "staging")
    assert 'window="14m"' in page.expr
    assert "(14.4 * 0.01)" in page.expr


def test_groups_stay_within_twenty_rules() -> None:
    spec = SLOFile.model_validate(
        {"slos": [{"name": "s", "sli": THRESHOLD, "targets": {"production": {"objective": 99.9, "window": "30d"}}}]}
    )
    for rule_file in rule_files(spec):
        for group in rule_file.groups:
            assert len(group.rules) <= 20, group.name


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (100, "less than 100"),
        (100.5, "less than 100"),
        (0, "greater than 0"),
        (90, "could never fire"),
        (93.0, "could never fire"),
    ],
)
def test_refuses_objectives_without_a_usable_budget(objective: float, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        slo(THRESHOLD, production={"objective": objective, "window": "30d"})


def test_lowest_accepted_objective_lets_the_page_alert_fire() -> None:
    target = slo(THRESHOLD, production={"objective": 93.1, "window": "30d"}).targets["production"]
    assert 14.4 * target.error_budget <= 1


def test_time_to_exhaustion_is_absent_at_zero_burn_and_zero_when_overspent() -> None:
    rules = {r.record: r.expr for r in recording_group(slo(THRESHOLD), "production").rules}
    tte = rules["slo:time_to_exhaustion:seconds"]
    assert tte.startswith("clamp_min(slo:error_budget_remaining:ratio")
    assert tte.endswith('(slo:current_burn_rate:ratio{slo="s", environment="production"} > 0)')
    assert "* 2592000 /" in tte
    status = rules["slo:status:code"]
    assert "< bool 0.5" in status
    assert "< bool 0.2" in status


def test_absent_alert_names_each_reachable_cluster_of_its_own_environment() -> None:
    spec = slo(
        THRESHOLD,
        production={"objective": 99.9, "window": "30d"},
        staging={"objective": 99, "window": "7d"},
    )
    absent = {r.labels["environment"]: r.expr for r in alert_group(spec, "https://x/r.md").rules if "absent(" in r.expr}
    for env in ("production", "staging"):
        up = f'group by (cluster, region) (kafka_cluster_up{{environment="{env}"}} == 1)'
        assert absent[env].startswith(f"(\n  {up}\n  unless on (cluster)\n  group by (cluster) (m{{environment=")
        assert f'group by (cluster) (slo:sli_slices:period{{slo="s", environment="{env}"}} > 0)' in absent[env]
        assert absent[env].endswith(f'and on ()\nabsent(m{{environment="{env}"}})\n')


def test_absent_alert_of_an_slo_not_grouped_by_cluster_covers_the_environment() -> None:
    spec = slo(THRESHOLD).model_copy(update={"group_by": ["topic"]})
    (absent,) = [r.expr for r in alert_group(spec, "https://x/r.md").rules if "absent(" in r.expr]
    source, joined = absent.strip().split("\nand on ()\n")
    assert source == 'absent(m{environment="production"})'
    assert joined == 'group(kafka_cluster_up{environment="production"} == 1)'


def test_a_page_on_a_threshold_slo_needs_more_than_one_bad_slice() -> None:
    (page,) = [r for r in alert_group(slo(THRESHOLD), "u").rules if r.alert == "KafkaSLOBurnRatePage"]
    assert 'sum_over_time(slo:sli_bad:slice{slo="s", environment="production"}[59m59s999ms]) >= 2' in page.expr
    assert 'sum_over_time(slo:sli_bad:slice{slo="s", environment="production"}[5h59m59s999ms]) >= 2' in page.expr
    ratio = slo({"kind": "ratio", "errors": "e", "total": "t"})
    (page,) = [r for r in alert_group(ratio, "u").rules if r.alert == "KafkaSLOBurnRatePage"]
    assert "sum_over_time(slo:sli_bad:slice" not in page.expr


def test_severity_is_a_setting_per_environment() -> None:
    spec = slo(
        THRESHOLD,
        production={"objective": 99.9, "window": "30d"},
        staging={"objective": 99, "window": "7d"},
    )
    rules = alert_group(spec, "u", {"production": "page", "staging": "ticket"}).rules
    severity = {(r.alert, r.labels["environment"]): r.labels["severity"] for r in rules}
    assert severity[("KafkaSLOBurnRatePage", "production")] == "critical"
    assert severity[("KafkaSLOBurnRateTicket", "production")] == "warning"
    assert severity[("KafkaSLOBurnRatePage", "staging")] == "warning"
    assert severity[("KafkaSLOBurnRateTicket", "staging")] == "info"
    status = status_group("u", {"production": "page", "staging": "ticket"}).rules
    assert [(r.alert, r.labels["severity"], r.expr.split(" ")[0]) for r in status] == [
        ("KafkaSLOErrorBudgetCritical", "critical", 'slo:error_budget_remaining:ratio{environment!~"staging"}'),
        ("KafkaSLOBurnRateWarning", "warning", 'slo:current_burn_rate:ratio{environment!~"staging"}'),
        ("KafkaSLOErrorBudgetCritical", "warning", 'slo:error_budget_remaining:ratio{environment=~"staging"}'),
        ("KafkaSLOBurnRateWarning", "info", 'slo:current_burn_rate:ratio{environment=~"staging"}'),
    ]


def test_default_severity_pages_production_and_tickets_staging() -> None:
    spec = SLOFile.model_validate({"environments": ["production", "staging", "qa"]})
    assert [spec.level(env) for env in ("production", "staging", "qa")] == ["page", "ticket", "page"]


def test_runbook_url_defaults_to_the_shipped_runbook() -> None:
    spec = SLOFile.model_validate(
        {"slos": [{"name": "s", "sli": THRESHOLD, "targets": {"production": {"objective": 99.9, "window": "30d"}}}]}
    )
    urls = {r.annotations["runbook_url"] for f in rule_files(spec) for g in f.groups for r in g.rules if r.alert}
    assert urls
    assert all(url.startswith("docs/runbook.md#") for url in urls)
