"""The monitoring-mixins conventions (mixtool lint) on the generated files, and the docs that must match them.

Alertmanager routing, the webhook's playbooks and the dashboards key on these names, labels and anchors, so a
rule that drifts from them breaks something far away; this test fails first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafka_obs.rules.loading import load_slos
from tests.conftest import REPO
from tests.rules.conftest import generated_files

ALERT_NAME = re.compile(r"^Kafka[A-Z][A-Za-z0-9]*$")
RECORD_NAME = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK = REPO / "docs" / "runbook.md"
RULES_DOC = REPO / "docs" / "rules.md"
RUNBOOK_BASE = load_slos(REPO / "rules" / "slos.yaml").runbook_url


def _groups() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, path in generated_files().items():
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.append((name, group))
    return out


def _alerts() -> list[dict[str, Any]]:
    return [rule for _, group in _groups() for rule in group["rules"] if "alert" in rule]


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of ``##`` headings: lower-case, spaces to dashes, punctuation dropped."""
    heads = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_groups_are_small_and_uniquely_named() -> None:
    names = [group["name"] for _, group in _groups()]
    assert len(names) == len(set(names))
    for file, group in _groups():
        assert len(group["rules"]) <= 20, f"{file}: group {group['name']} has {len(group['rules'])} rules"


@pytest.mark.parametrize("rule", _alerts(), ids=lambda r: r["alert"])
def test_alert_conventions(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert ALERT_NAME.match(name), name
    assert len(name) <= 40, name
    assert rule["labels"]["severity"] in SEVERITIES
    summary = rule["annotations"]["summary"]
    assert "{{" not in summary, summary
    assert summary[0].isupper(), summary
    assert summary.endswith("."), summary
    assert "{{" in rule["annotations"]["description"], "description must be templated"
    # the runbook_url setting (default: the runbook shipped with kafka-obs) plus the alert's anchor
    assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_BASE}#{name.lower()}"
    assert rule.get("for"), f"{name} needs a `for` so one bad scrape does not page"


def test_every_alert_has_a_runbook_section() -> None:
    anchors = _anchors(RUNBOOK.read_text())
    missing = sorted(name for name in {rule["alert"] for rule in _alerts()} if name.lower() not in anchors)
    assert not missing, f"docs/runbook.md lacks sections for {missing}"


def test_every_recorded_series_is_documented_and_well_named() -> None:
    doc = RULES_DOC.read_text()
    records = {rule["record"] for _, group in _groups() for rule in group["rules"] if "record" in rule}
    assert len(records) > 40
    for record in sorted(records):
        assert RECORD_NAME.match(record), record
        level, metric, ops = record.split(":")
        levels = ("cluster", "region", "global") if level in ("region", "global") else (level,)
        documented = any(f"`{lvl}:{metric}:{ops}" in doc for lvl in levels)
        assert documented, f"{record} is not listed in docs/rules.md"


def test_seed_status_alerts_carry_the_actions() -> None:
    by_name = {rule["alert"]: rule for rule in _alerts()}
    for name in ("KafkaSLOErrorBudgetCritical", "KafkaSLOBurnRateWarning"):
        assert len(by_name[name]["annotations"]["action"]) > 40


def test_webhook_playbook_alerts_keep_their_labels() -> None:
    """The webhook's playbooks key on these alerts and need these labels to find their target."""
    by_name = {rule["alert"]: rule for rule in _alerts()}
    lag = by_name["KafkaConsumerLagHigh"]["expr"]
    assert lag.startswith("kafka_consumergroup_lag_sum > ")
    assert " by " not in lag
    disk = by_name["KafkaBrokerDiskPressure"]["expr"]
    assert "kafka_log_dir_usable_bytes" in disk
    assert " by " not in disk


def test_contract_names_exist(repo: Path) -> None:
    text = "\n".join(p.read_text() for p in generated_files().values())
    for name in [
        "slo:sli_error:ratio",
        "slo:sli_error:ratio_period",
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:period:seconds",
        "slo:error_budget_remaining:ratio",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:time_to_exhaustion:seconds",
        "slo:status:code",
        "cluster:kafka_messages_in:rate5m",
        "region:kafka_messages_in:rate5m",
        "global:kafka_messages_in:rate5m",
        "cluster:kafka_bytes_in:rate5m",
        "global:kafka_health_score:ratio",
        "cluster:kafka_cost_dollars:per_day",
    ]:
        assert f"record: {name}\n" in text, name
