"""The dashboards read the brokers' JMX series in the shape of their source (``jmxSource`` / ``--jmx-source``).

From the exporter a broker's JMX series carry ``broker`` (its id); from prometheus/jmx_exporter's agent, scraped
directly, they carry the agent's ``instance`` and no ``broker``, and a few names differ (docs/metrics.md, "Differences
from prometheus/jmx_exporter"). The admin-API series (log dirs, canary) come from the exporter in both shapes and
keep ``broker``. The lint tests (test_conventions.py, test_promql.py, test_series.py) run on both shapes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import _jsonnet
import pytest

from kafka_obs.cli import main
from kafka_obs.dashboards.build import GENERATED_DIR, SOURCE_DIR, render
from kafka_obs.rules.model import JmxSource
from tests.dashboards.grafana import JMX_PREFIXES, JMX_SOURCES, Query, load_shape, queries, series_names
from tests.realkafka.test_jmx_exporter_parity import DOCUMENTED, OURS_ONLY

BROKER_LABEL: dict[JmxSource, str] = {"exporter": "broker", "agent": "instance"}
"""The label that tells one broker's JMX series from another's, per source."""
SHAPES = {source: load_shape(source) for source in JMX_SOURCES}


def _grouping(expr: str) -> set[str]:
    return {label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", expr) for label in group.split(",")}


def _jmx_names(query: Query) -> set[str]:
    return {name for name in series_names(query.expr) if name.startswith(JMX_PREFIXES)}


def _legends(source: JmxSource) -> dict[tuple[str, str, str], str]:
    return {
        (name, panel["title"], target["refId"]): target.get("legendFormat", "")
        for name, dashboard in SHAPES[source].items()
        for panel in dashboard.get("panels", [])
        for target in panel.get("targets", [])
    }


@pytest.mark.parametrize("source", JMX_SOURCES)
def test_per_broker_jmx_queries_group_and_label_by_the_sources_broker_label(source: JmxSource) -> None:
    own, other = BROKER_LABEL[source], BROKER_LABEL["agent" if source == "exporter" else "exporter"]
    legends = _legends(source)
    per_broker = []
    for query in queries(SHAPES[source]):
        if not _jmx_names(query):
            continue
        labels = _grouping(query.expr)
        legend = legends[(query.dashboard, query.panel, query.ref_id)]
        assert other not in labels, f"{query.where}: JMX series grouped by {other}: {query.expr}"
        assert f"{{{{{other}}}}}" not in legend, f"{query.where}: legend {legend!r}"
        if own in labels:
            per_broker.append(query.panel)
            assert f"{{{{{own}}}}}" in legend, f"{query.where}: a per-broker line must be named by {own}: {legend!r}"
    assert sorted(per_broker) == ["JVM heap used", "Messages in per broker", "Request handler idle"]


def test_agent_dashboards_read_only_series_the_agent_serves() -> None:
    """Our names the agent does not have (DOCUMENTED's keys, our JMX health) are replaced by the agent's."""
    cases: tuple[tuple[JmxSource, set[str]], ...] = (
        ("agent", set(DOCUMENTED) | OURS_ONLY),
        ("exporter", set(DOCUMENTED.values())),
    )
    for source, absent in cases:
        read = {name for query in queries(SHAPES[source]) for name in _jmx_names(query)}
        assert not read & absent, f"{source} dashboards read {sorted(read & absent)}"
    agent = {name for query in queries(SHAPES["agent"]) for name in _jmx_names(query)}
    assert "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent" in agent


def test_admin_api_series_keep_the_exporters_broker_label_in_the_agent_shape() -> None:
    """Log dirs and the canary come from the exporter whatever the JMX source: their panels still name `broker`."""
    admin = [q for q in queries(SHAPES["agent"]) if "broker" in _grouping(q.expr)]
    assert {q.panel for q in admin} >= {"Disk used per broker", "Canary produce latency p99"}
    for query in admin:
        assert not _jmx_names(query), query.where


def test_the_shapes_differ_only_in_the_jmx_panels() -> None:
    exporter, agent = (render(jmx_source=source) for source in JMX_SOURCES)
    assert [name for name in exporter if exporter[name] != agent[name]] == ["kafka-obs-cluster.json"]


def test_the_mixin_setting_is_the_build_setting() -> None:
    evaluated = json.loads(
        _jsonnet.evaluate_snippet(
            "test",
            "((import 'mixin.libsonnet') + { _config+:: { jmxSource: 'agent' } }).grafanaDashboards",
            jpathdir=[str(SOURCE_DIR)],
        )
    )
    assert {
        name: json.dumps(d, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for name, d in evaluated.items()
    } == (render(jmx_source="agent"))


def test_an_unknown_source_is_refused_by_the_mixin() -> None:
    with pytest.raises(RuntimeError, match="jmxSource must be 'exporter' or 'agent', got jmx_exporter"):
        _jsonnet.evaluate_snippet(
            "test",
            "((import 'mixin.libsonnet') + { _config+:: { jmxSource: 'jmx_exporter' } }).grafanaDashboards",
            jpathdir=[str(SOURCE_DIR)],
        )


def test_build_writes_the_agent_shape_only_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {path.name: path.read_bytes() for path in GENERATED_DIR.glob("*.json")}
    assert main(["dashboards", "build", "--jmx-source", "agent"]) == 2
    assert "write the agent shape's dashboards elsewhere with --out DIR" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in GENERATED_DIR.glob("*.json")} == before
    assert main(["dashboards", "build", "--jmx-source", "agent", "--out", str(tmp_path)]) == 0
    assert {path.name: path.read_text() for path in tmp_path.glob("*.json")} == render(jmx_source="agent")


def test_the_mixin_serves_recording_rules_to_both_shapes_and_alerts_to_the_exporters_only() -> None:
    def mixin(source: str, field: str) -> str:
        return _jsonnet.evaluate_snippet(
            "test",
            f"((import 'mixin.libsonnet') + {{ _config+:: {{ jmxSource: '{source}' }} }}).{field}",
            jpathdir=[str(SOURCE_DIR)],
        )

    assert mixin("agent", "prometheusRules") == mixin("exporter", "prometheusRules")
    assert "KafkaBrokerJmxDown" in mixin("exporter", "prometheusAlerts")
    with pytest.raises(RuntimeError, match="kafka-obs rules generate --jmx-source agent --out DIR"):
        mixin("agent", "prometheusAlerts")
