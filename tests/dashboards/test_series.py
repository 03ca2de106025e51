"""Every series a dashboard reads is produced by someone: recorded by the rules bundle or documented as exported.

A renamed recording rule or metric otherwise shows up only as an empty panel in production.
"""

from __future__ import annotations

import re

import pytest
import yaml

from kafka_obs.dashboards.build import SOURCE_DIR
from tests.dashboards.grafana import JMX_PREFIXES, every_shape, load_all, panels, queries, series_names

REPO = SOURCE_DIR.parent
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def test_series_names_parser() -> None:
    assert series_names(
        'sum by (cluster) (rate(a_total{x="b c", y=~"$d"}[$__rate_interval])) / ignoring (w) group_left () slo:x:y'
        " or vector(0) > bool 1"
    ) == {"a_total", "slo:x:y"}


DASHBOARD_SERIES = {name for query in queries(every_shape()) for name in series_names(query.expr)}
"""What the dashboards of either JMX source read: the agent's names are documented too (docs/metrics.md)."""


def _recorded() -> set[str]:
    generated = REPO / "rules" / "generated"
    files = sorted([*generated.glob("*.yml"), *generated.glob("global/*.yml")])  # regional and cross-region level
    if not files:
        pytest.skip("rules/generated/*.yml not built yet")
    return {
        rule["record"]
        for path in files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def test_every_recorded_series_read_is_recorded_by_the_rules_bundle() -> None:
    recorded = _recorded()
    wanted = {name for name in DASHBOARD_SERIES if ":" in name}
    assert wanted, "the dashboards read recording rules"
    assert wanted <= recorded, f"not recorded by rules/generated: {sorted(wanted - recorded)}"


def _origin(name: str) -> str:
    if name.startswith("kafka_obs_webhook_"):
        return "Webhook metrics"
    if name.startswith(JMX_PREFIXES):
        return "Broker JMX metrics"
    return "exporter"


def test_every_raw_series_read_is_documented_in_the_metrics_reference() -> None:
    """Each component documents its metrics in its own section of docs/metrics.md; check the sections written."""
    doc = REPO / "docs" / "metrics.md"
    if not doc.exists():
        pytest.skip("docs/metrics.md not written yet")
    text = doc.read_text()
    headings = set(re.findall(r"^#+\s*(.+?)\s*$", text, flags=re.MULTILINE))
    documented = set(re.findall(r"[a-z_][a-z0-9_]*", text))
    written = {"Broker JMX metrics", "Webhook metrics"} & headings
    if headings - {"Broker JMX metrics", "Webhook metrics"}:
        written.add("exporter")
    checked, missing = 0, set()
    for name in sorted(n for n in DASHBOARD_SERIES if ":" not in n and _origin(n) in written):
        checked += 1
        base = next((name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)), name)
        if name not in documented and base not in documented:
            missing.add(name)
    assert not missing, f"read by a dashboard, not in docs/metrics.md: {sorted(missing)}"
    if not checked:
        pytest.skip(f"no section of docs/metrics.md covers the dashboards' series yet ({sorted(headings)})")


def test_every_dashboard_and_panel_is_documented() -> None:
    doc = (REPO / "docs" / "dashboards.md").read_text()
    for dashboard in load_all().values():
        assert f"`{dashboard['uid']}`" in doc
        for panel in panels(dashboard):
            assert f"| {panel['title']} |" in doc, f"{dashboard['title']} / {panel['title']} missing from docs"
