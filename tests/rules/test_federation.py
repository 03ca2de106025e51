"""The bundle's two levels: a regional Prometheus evaluates rules/generated/*.yml on its exporter's series, a global
Prometheus evaluates rules/generated/global/*.yml on federated series only (issue 9, prometheus/global.yml).

promtool/bundle_global.yaml checks the global level's values on federated series alone; these tests check the
split itself, and that no cross-region rule reads a series the global Prometheus does not federate (it would
record nothing there, silently).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.rules.conftest import PROMETHEUS_CONFIGS, PROMTOOL_SUITES, generated_files

KEYWORDS = {"by", "on", "ignoring", "without", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def series_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (strings, matchers, ranges and label lists removed; calls skipped)."""
    text = re.sub(r'"[^"]*"', " ", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|on|ignoring|without|group_left|group_right)\s*\([^)]*\)", " ", text)
    tokens = re.findall(r"([A-Za-z_:][\w:]*)\s*(\()?", text)
    return {name for name, call in tokens if not call and name not in KEYWORDS and not re.match(r"^[\d.eE+-]+$", name)}


def test_series_names() -> None:
    assert series_names(
        'sum by (region) (a:b:c * on (cluster, region) d{x="e f"}) / ignoring (w) group_left () rate(g_total[5m])'
        " or vector(0) > bool 1"
    ) == {"a:b:c", "d", "g_total"}


def _rules(level: str) -> list[dict[str, Any]]:
    files = generated_files()
    names = [name for name in files if name.startswith("global/") == (level == "global")]
    assert names, f"no {level} rule files"
    return [
        rule for name in names for group in yaml.safe_load(files[name].read_text())["groups"] for rule in group["rules"]
    ]


def _federated() -> list[re.Pattern[str]]:
    """The metric names the global Prometheus federates, from the `match[]` selectors of prometheus/global.yml."""
    path = PROMETHEUS_CONFIGS / "global.yml"
    if not path.exists():
        pytest.skip("prometheus/global.yml not present")
    config = yaml.safe_load(path.read_text())
    (federate,) = [job for job in config["scrape_configs"] if job.get("metrics_path") == "/federate"]
    patterns = []
    for selector in federate["params"]["match[]"]:
        op, value = re.fullmatch(r'\{__name__(=~|=)"([^"]+)"\}', selector).groups()  # type: ignore[union-attr]
        patterns.append(re.compile(value if op == "=~" else re.escape(value)))
    return patterns


def test_regional_files_hold_no_cross_region_rule() -> None:
    records = [rule["record"] for rule in _rules("regional") if "record" in rule]
    assert "cluster:kafka_health_score:ratio" in records
    assert "slo:status:code" in records
    assert not [name for name in records if name.startswith(("region:", "global:"))]


def test_global_files_hold_only_cross_region_recording_rules() -> None:
    rules = _rules("global")
    assert all("record" in rule for rule in rules), "alerts are evaluated where the raw series are: regionally"
    levels = {rule["record"].split(":")[0] for rule in rules}
    assert levels == {"region", "global"}


def test_every_cross_region_rule_reads_only_federated_series() -> None:
    federated = _federated()
    for rule in _rules("global"):
        read = series_names(rule["expr"])
        assert read, rule
        unfederated = sorted(name for name in read if not any(p.fullmatch(name) for p in federated))
        assert not unfederated, f"{rule['record']} reads {unfederated}, which prometheus/global.yml does not federate"


def test_the_global_suite_checks_every_cross_region_rule() -> None:
    """promtool/bundle_global.yaml feeds the global files with federated series only: each rule has an expected
    value there, so a rule reading anything else would come out empty and fail the suite."""
    suite = yaml.safe_load((PROMTOOL_SUITES / "bundle_global.yaml").read_text())
    checked = {
        name for test in suite["tests"] for case in test["promql_expr_test"] for name in series_names(case["expr"])
    }
    fed = {name for test in suite["tests"] for s in test["input_series"] for name in series_names(s["series"])}
    assert {rule["record"] for rule in _rules("global")} <= checked
    assert not [name for name in fed if not any(p.fullmatch(name) for p in _federated())]


def test_one_prometheus_loading_both_folders_has_every_series_of_both_levels() -> None:
    regional = {rule.get("record") or rule["alert"] for rule in _rules("regional")}
    cross = {rule["record"] for rule in _rules("global")}
    assert not regional & cross, "a series recorded twice would clash in a Prometheus that loads both folders"
    for metric in ("kafka_messages_in:rate5m", "kafka_health_score:ratio", "kafka_cost_dollars:per_day"):
        assert f"cluster:{metric}" in regional
        assert {f"region:{metric}", f"global:{metric}"} <= cross
