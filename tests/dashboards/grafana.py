"""Reading generated Grafana dashboards the way Grafana would: panels, targets, variables and their substitution.

Shared by the convention tests, the PromQL syntax test and the live test, so they agree on what "every panel's
PromQL" means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from kafka_obs.dashboards.build import GENERATED_DIR, render
from kafka_obs.rules.model import JmxSource

BUILTINS = {"__rate_interval": "5m", "__range": "1h", "__interval": "1m"}
"""Grafana's own interval variables, as promtool and a test Prometheus should see them."""

_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")

Dashboard = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """One PromQL expression of one panel target, with where it came from for error messages."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool
    time_from: str | None

    @property
    def where(self) -> str:
        return f"{self.dashboard} / {self.panel!r} / {self.ref_id}"


KEYWORDS = {
    "by",
    "on",
    "ignoring",
    "without",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "NaN",
    "Inf",
}


def series_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, grouping lists, ranges and strings removed)."""
    text = re.sub(r'"[^"]*"|\$\{?\w+\}?', " ", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|on|ignoring|without|group_left|group_right)\s*\([^)]*\)", " ", text)
    tokens = re.findall(r"([A-Za-z_:][\w:]*)\s*(\()?", text)
    return {name for name, call in tokens if not call and name not in KEYWORDS and not name.startswith("$")}


JMX_PREFIXES = ("kafka_server_", "kafka_controller_kafkacontroller_", "kafka_network_", "kafka_log_log_", "jvm_")
"""Name prefixes of the brokers' JMX series (docs/metrics.md, "Broker JMX metrics"), whichever source serves them."""


def load_all(directory: Path = GENERATED_DIR) -> dict[str, Dashboard]:
    """File name → dashboard, for every generated dashboard."""
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))}


JMX_SOURCES: tuple[JmxSource, ...] = get_args(JmxSource)


def load_shape(jmx_source: JmxSource) -> dict[str, Dashboard]:
    """File name → dashboard of one JMX source: the committed files for the exporter's, a fresh render otherwise."""
    if jmx_source == "exporter":
        return load_all()
    return {name: json.loads(text) for name, text in render(jmx_source=jmx_source).items()}


def every_shape() -> dict[str, Dashboard]:
    """``<jmx source>/<file name>`` → dashboard, for every JMX source: what the lint tests hold to the same rules."""
    return {f"{source}/{name}": d for source in JMX_SOURCES for name, d in load_shape(source).items()}


def panels(dashboard: Dashboard) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboards: Mapping[str, Dashboard]) -> Iterator[Query]:
    for name, dashboard in dashboards.items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                yield Query(
                    dashboard=name,
                    panel=panel["title"],
                    ref_id=target["refId"],
                    expr=target["expr"],
                    instant=bool(target.get("instant")),
                    time_from=panel.get("timeFrom"),
                )


def variables(dashboard: Dashboard) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def variable_names(expr: str) -> set[str]:
    return {braced or plain for braced, plain in _VARIABLE.findall(expr)}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables by concrete values; an unknown variable is a KeyError (a typo in a dashboard)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return values[name]
        return BUILTINS[name]

    return _VARIABLE.sub(replace, expr)


def calls(expr: str, functions: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(function, argument text) for every call of one of `functions` in a PromQL expression."""
    pattern = r"\b(" + "|".join(functions) + r")\s*\("
    for match in re.finditer(pattern, expr):
        depth, start = 0, match.end() - 1
        for index in range(start, len(expr)):
            if expr[index] == "(":
                depth += 1
            elif expr[index] == ")":
                depth -= 1
                if depth == 0:
                    yield match.group(1), expr[start + 1 : index]
                    break


def range_of(argument: str) -> str | None:
    """The range selector of a range-vector argument, e.g. "$__rate_interval" for `x{...}[$__rate_interval]`."""
    ranges = re.findall(r"\[([^\]]*)\]\s*$", argument.strip())
    return ranges[0] if ranges else None
