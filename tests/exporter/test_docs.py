"""docs/metrics.md documents every series the exporter can serve (the catalogue is the single source)."""

from __future__ import annotations

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
