"""The scale curve in docs/performance.md is the committed results, drawn and tabulated by bench/plot_scale.py.

The plot and the table are generated, never edited: the page must carry the table exactly as generated from
bench/results/scale-curve.json, and docs/scale-curve.svg must be exactly what the script draws from it. The
multiplied fleet the benchmark runs is checked to be ``scale`` with every count multiplied, nothing else.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kafka_obs.sandbox import fleet as fleet_files


def _bench_module(repo: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", repo / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_page_shows_the_committed_curve(repo: Path) -> None:
    plot = _bench_module(repo, "plot_scale")
    curve = json.loads((repo / "bench" / "results" / "scale-curve.json").read_text())
    page = (repo / "docs" / "performance.md").read_text()
    assert plot.table(curve) in page, "docs/performance.md: regenerate the table with bench/plot_scale.py"
    assert "](scale-curve.svg)" in page
    svg = (repo / "docs" / "scale-curve.svg").read_text()
    real, peers = (repo / "bench" / "results" / name for name in ("scale-real-kafka.json", "peers-sandbox-scale.json"))
    assert svg == plot.render(
        curve,
        json.loads(real.read_text()) if real.exists() else None,
        json.loads(peers.read_text()) if peers.exists() else None,
    ), "docs/scale-curve.svg is not drawn from bench/results/scale-curve.json (and the peers'): run bench/plot_scale.py"


def test_the_peers_that_ran_on_the_scale_fleet_have_points_and_a_failed_one_has_none(repo: Path) -> None:
    plot = _bench_module(repo, "plot_scale")
    curve = json.loads((repo / "bench" / "results" / "scale-curve.json").read_text())
    peers = {
        "results": {
            "kafka-obs": {"cpu_seconds_to_complete_metrics": 2.0, "peak_rss_mb": 100.0},
            "kminion": {"cpu_seconds_to_complete_metrics": 0.9, "peak_rss_mb": 510.0},
            "kafka_exporter": {"failed": "timed out after 600s", "log_tail": ["..."]},
        }
    }
    svg = plot.render(curve, None, peers)
    assert "kminion: CPU to its first /metrics" in svg
    assert "kminion: peak RSS, 10 scrapers" in svg
    assert "kafka_exporter" not in svg
    assert svg != plot.render(curve, None, None)


def test_a_changed_result_changes_the_table(repo: Path) -> None:
    plot = _bench_module(repo, "plot_scale")
    curve = json.loads((repo / "bench" / "results" / "scale-curve.json").read_text())
    before = plot.table(curve)
    curve["points"][0]["cpu_seconds_per_cycle_median"] += 1
    assert plot.table(curve) != before


@pytest.mark.parametrize("factor", [1, 4])
def test_the_multiplied_fleet_is_scale_times_factor(repo: Path, tmp_path: Path, factor: int) -> None:
    scaled = _bench_module(repo, "scaled_fleet")
    plan = fleet_files.load(scaled.write_scaled(factor, tmp_path))
    base = fleet_files.load("scale")
    (cluster,), (one,) = plan.clusters, base.clusters
    assert len(cluster.brokers) == len(one.brokers) == 6
    assert sum(t.partitions for t in cluster.topics) == factor * 2_500
    assert len(cluster.deployments) == factor * 2_000
    assert {d.replicas for d in cluster.deployments} == {d.replicas for d in one.deployments}


def test_a_factor_below_one_is_refused(repo: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        _bench_module(repo, "scaled_fleet").scaled(0)
