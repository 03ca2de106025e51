"""docs/metrics.md documents every series the exporter can serve (the catalogue is the single source)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kafka_obs.exporter.catalogue import CATALOGUE


def test_every_metric_is_documented_with_its_type(repo: Path) -> None:
    doc = (repo / "docs" / "metrics.md").read_text()
    for metric in CATALOGUE:
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{metric.name}` |")), None)
        assert row is not None, f"{metric.name} is not in docs/metrics.md"
        assert f"| {metric.type} |" in row
        for label in metric.labels:
            assert f"`{label}`" in row, f"{metric.name}: label {label} undocumented"


def test_benchmark_numbers_have_one_source_of_truth(repo: Path) -> None:
    """docs/performance.md quotes the committed bench results; docs/exporter.md links to it and quotes nothing."""
    perf = (repo / "docs" / "performance.md").read_text()
    section = perf[perf.index("## Exporter") : perf.index("## Broker JMX")]
    scale = json.loads((repo / "bench" / "results" / "exporter-scale.json").read_text())
    acme = json.loads((repo / "bench" / "results" / "exporter-acme.json").read_text())
    cluster = scale["clusters"]["scale"]
    renderer = scale["renderer_vs_prometheus_client"]
    cycles_ms = [c["cycle_seconds_median"] * 1000 for c in acme["clusters"].values()]
    expected = [
        f"**{cluster['cycle_seconds_median']:.2f} s** (first cycle, which seeds the lag history, "
        f"{cluster['first_cycle_seconds']:.2f} s)",
        f"| {cluster['cpu_seconds_per_cycle']:.2f} s |",
        f"**{int(cluster['list_offsets_per_cycle'])}** (= 2 \u00d7 {cluster['brokers']} brokers)",
        f"**p50 {scale['scrape_latency_ms']['p50']:.2f} ms, p99 {scale['scrape_latency_ms']['p99']:.2f} ms**",
        f"**{scale['exporter_rss_mb']:.0f} MB**",
        f"**{renderer['ours_seconds']:.2f} s vs {renderer['prometheus_client_seconds']:.2f} s**",
        f"**{min(cycles_ms):.0f}\u2013{max(cycles_ms):.0f} ms**",
        f"**p50 {acme['scrape_latency_ms']['p50']:.2f} ms, p99 {acme['scrape_latency_ms']['p99']:.2f} ms**",
        f"**{acme['exporter_rss_mb']} MB**",
        f"{cluster['series']:,} series",
    ]
    for text in expected:
        assert text in section, f"docs/performance.md does not say {text!r} (bench/results/exporter-*.json does)"

    exporter = (repo / "docs" / "exporter.md").read_text()
    assert "(performance.md#exporter)" in exporter
    assert not re.search(r"\bp(50|99)\b[^|\n]{0,30}\d+(\.\d+)? ?ms", exporter), "exporter.md quotes a latency"
    assert not re.search(r"\d+(\.\d+)? s against prometheus_client", exporter), "exporter.md quotes the renderer"
