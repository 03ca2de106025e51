"""The bundle is consumable as a monitoring mixin, and Grafana provisioning loads the generated dashboards."""

from __future__ import annotations

import json
from typing import Any

import _jsonnet
import pytest
import yaml

from kafka_obs.dashboards.build import GENERATED_DIR, SOURCE_DIR, render

RULES_DIR = SOURCE_DIR.parent / "rules" / "generated"


def evaluate(expression: str) -> Any:
    return json.loads(_jsonnet.evaluate_snippet("test", expression, jpathdir=[str(SOURCE_DIR)]))


def test_mixin_dashboards_are_the_generated_ones() -> None:
    dashboards = evaluate("(import 'mixin.libsonnet').grafanaDashboards")
    assert {
        name: json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for name, d in dashboards.items()
    } == render()


def test_mixin_config_overrides_reach_the_dashboards() -> None:
    dashboards = evaluate(
        "((import 'mixin.libsonnet') + { _config+:: { dashboardTags: ['team-x'], uids+: { slo: 'x-slo' } } })"
        ".grafanaDashboards"
    )
    assert {d["uid"] for d in dashboards.values()} >= {"x-slo", "kafka-obs-executive"}
    for dashboard in dashboards.values():
        assert dashboard["tags"] == ["team-x"]
        assert dashboard["links"][0]["tags"] == ["team-x"]


def _generated_rules() -> dict[str, dict[str, Any]]:
    """Both levels of the bundle: rules/generated/*.yml (regional) and rules/generated/global/*.yml (cross-region)."""
    files = sorted([*RULES_DIR.glob("*.yml"), *RULES_DIR.glob("global/*.yml")]) if RULES_DIR.is_dir() else []
    if not files:
        pytest.skip("rules/generated/*.yml not built yet (kafka-obs rules generate)")
    return {path.relative_to(RULES_DIR).as_posix(): yaml.safe_load(path.read_text(encoding="utf-8")) for path in files}


def test_mixin_lists_every_generated_rule_file() -> None:
    generated = sorted(_generated_rules())
    assert evaluate("(import 'mixin.libsonnet').ruleFiles") == generated
    assert evaluate("(import 'mixin.libsonnet').globalRuleFiles") == [n for n in generated if n.startswith("global/")]
    assert evaluate("(import 'mixin.libsonnet').regionalRuleFiles") == [n for n in generated if "/" not in n]


def test_mixin_rules_and_alerts_are_the_generated_ones_split_by_kind() -> None:
    generated = _generated_rules()
    groups = [group for name in sorted(generated) for group in generated[name]["groups"]]

    def only(kind: str) -> list[dict[str, Any]]:
        split = [{**g, "rules": [r for r in g["rules"] if kind in r]} for g in groups]
        return [g for g in split if g["rules"]]

    rules = evaluate("(import 'mixin.libsonnet').prometheusRules")
    alerts = evaluate("(import 'mixin.libsonnet').prometheusAlerts")
    assert rules == {"groups": only("record")}
    assert alerts == {"groups": only("alert")}
    assert rules["groups"]
    assert alerts["groups"]


def test_provisioning_points_grafana_at_the_generated_dashboards() -> None:
    provider_file = SOURCE_DIR / "provisioning" / "dashboards" / "kafka-obs.yaml"
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    assert provider["type"] == "file"
    mount = f"./dashboards/generated:{provider['options']['path']}:ro"
    assert mount in provider_file.read_text(), "the compose example mounts generated/ where the provider reads"
    docs = (SOURCE_DIR.parent / "docs" / "dashboards.md").read_text()
    assert mount in docs
    assert any(GENERATED_DIR.glob("kafka-obs-*.json"))

    (datasource,) = yaml.safe_load((SOURCE_DIR / "provisioning" / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus"
    assert datasource["jsonData"]["timeInterval"], "$__rate_interval is derived from the scrape interval"


def test_packaged_sources_ship_with_the_wheel() -> None:
    """setup.py ships *.jsonnet/*.libsonnet/*.json/*.yaml of the component: the build must need nothing else."""
    needed = {p.suffix for p in SOURCE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert needed <= {".py", ".libsonnet", ".json", ".yaml"}, needed
