"""Every PromQL expression of every panel and variable parses, according to a real promtool (Prometheus 2.42).

promtool has no "parse this expression" command, so each expression (Grafana variables replaced by concrete values)
becomes a recording rule of one temporary rules file and `promtool check rules` parses them all in one run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from tests.dashboards.grafana import every_shape, queries, substitute, variables

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not on PATH (make tools)")

DASHBOARDS = every_shape()
"""Both JMX sources' dashboards (exporter and jmx_exporter agent shape)."""
VALUES = {
    "datasource": "prometheus",
    "region": "eu-west|us-east",
    "environment": ".*",
    "cluster": "prod-eu-1",
    "consumergroup": ".*",
    "topic": "orders",
    "topn": "10",
    "slo": "consumer-lag",
    "playbook": "high_consumer_lag",
}


def _variable_selectors() -> list[tuple[str, str]]:
    """label_values(<selector>, label) → the selector, which must parse like any other expression."""
    found = []
    for name, dashboard in DASHBOARDS.items():
        for variable in variables(dashboard).values():
            if variable["type"] == "query":
                match = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["query"]["query"])
                assert match, (name, variable["name"])
                found.append((f"{name} / variable {variable['name']}", match.group(1)))
    return found


def _every_expression() -> list[tuple[str, str]]:
    return [(q.where, q.expr) for q in queries(DASHBOARDS)] + _variable_selectors()


def check(expressions: Sequence[tuple[str, str]], tmp_path: Path) -> tuple[int, str]:
    rules = [
        {"record": f"kafka_obs_dashboard_check_{index}", "expr": substitute(expr, VALUES)}
        for index, (_, expr) in enumerate(expressions)
    ]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    # name the panel behind each failing rule, not just its index
    output = re.sub(r"rule (\d+)", lambda m: f"rule {m.group(1)} ({expressions[int(m.group(1)) - 1][0]})", output)
    return result.returncode, output


def test_every_panel_and_variable_expression_parses(tmp_path: Path) -> None:
    expressions = _every_expression()
    assert len(expressions) > 60
    code, output = check(expressions, tmp_path)
    assert code == 0, output
    assert f"SUCCESS: {len(expressions)} rules found" in output


def test_a_syntax_error_fails_the_check(tmp_path: Path) -> None:
    code, output = check([("good", "sum(rate(x[$__rate_interval]))"), ("broken / panel", "sum(rate(x[5m])")], tmp_path)
    assert code != 0
    assert "broken / panel" in output
