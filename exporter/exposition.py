"""Turn families into Prometheus exposition bytes: text format 0.0.4 and OpenMetrics 1.0.

Written directly rather than through prometheus_client's ``generate_latest``: the sample lines of one cluster are
rendered once per cycle into one ``bytes`` chunk per family, and a scrape body is only a join of those chunks
under each family's HELP/TYPE header (both formats share the sample lines; only headers and ``# EOF`` differ).
``bench/bench_exporter.py`` measures this against prometheus_client; the unit tests parse the output with
prometheus_client's own parsers, so the format is checked by the reference implementation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kafka_obs.exporter.catalogue import CATALOGUE, MetricDef
from kafka_obs.exporter.families import Family

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_ORDER = {m.name: i for i, m in enumerate(CATALOGUE)}


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True, slots=True)
class RenderedFamilies:
    """One cluster's sample lines, one chunk per family: rendered once per cycle, joined at every body change."""

    metrics: Mapping[str, MetricDef]
    chunks: Mapping[str, bytes]


def render_samples(static_labels: Mapping[str, str], families: Iterable[Family]) -> RenderedFamilies:
    prefix = ",".join(f'{k}="{escape_label(v)}"' for k, v in static_labels.items())
    metrics: dict[str, MetricDef] = {}
    chunks: dict[str, bytes] = {}
    for family in families:
        names = family.metric.labels
        name = family.name
        lines = []
        for labels, value in family.samples:
            extra = "".join(f',{k}="{escape_label(v)}"' for k, v in zip(names, labels, strict=True))
            body = (prefix + extra) if prefix else extra.lstrip(",")
            lines.append(f"{name}{{{body}}} {format_value(value)}\n")
        metrics[name] = family.metric
        chunks[name] = chunks.get(name, b"") + "".join(lines).encode()
    return RenderedFamilies(metrics, chunks)


def _header(metric: MetricDef, openmetrics: bool) -> bytes:
    name = metric.family if openmetrics else metric.name
    return f"# HELP {name} {escape_help(metric.help)}\n# TYPE {name} {metric.type}\n".encode()


def assemble(parts: Sequence[RenderedFamilies], *, openmetrics: bool) -> bytes:
    """One body from every cluster's chunks, each family once, catalogue order first, then plug-ins' families."""
    metrics: dict[str, MetricDef] = {}
    for part in parts:
        for name, metric in part.metrics.items():
            metrics.setdefault(name, metric)
    names = sorted(metrics, key=lambda n: (_ORDER.get(n, len(_ORDER)), n))
    out: list[bytes] = []
    for name in names:
        chunks = [part.chunks[name] for part in parts if part.chunks.get(name)]
        if not chunks:
            continue
        out.append(_header(metrics[name], openmetrics))
        out.extend(chunks)
    if openmetrics:
        out.append(b"# EOF\n")
    return b"".join(out)


def wants_openmetrics(accept: str | None) -> bool:
    """Prometheus asks for OpenMetrics first when it can take it; anything else gets the classic text format."""
    return bool(accept) and "application/openmetrics-text" in (accept or "")
