"""OpenSLO v1 documents import into the same model and generate rules Prometheus accepts."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kafka_obs.cli import main
from kafka_obs.config.loader import ConfigError
from kafka_obs.rules.model import RatioSLI, ThresholdSLI
from kafka_obs.rules.openslo import load_openslo_dir

RATIO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: produce-success
  displayName: Produce requests succeed
  labels: {environment: [production, staging]}
spec:
  description: Share of produce requests that do not fail.
  service: kafka
  indicator:
    metadata: {name: produce-errors}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec: {query: 'kafka_server_brokertopicmetrics_failedproducerequests_total{topic=""}'}
        total:
          metricSource:
            type: Prometheus
            spec: {query: 'kafka_server_brokertopicmetrics_totalproducerequests_total{topic=""}'}
  timeWindow:
    - {duration: 28d, isRolling: true}
  budgetingMethod: Occurrences
  objectives:
    - {displayName: good, target: 0.999}
"""

THRESHOLD = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: max-lag}
spec:
  thresholdMetric:
    metricSource: {type: Prometheus, spec: {query: 'max(kafka_consumergroup_lag_sum)'}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: lag-slices}
spec:
  service: kafka
  indicatorRef: max-lag
  timeWindow: [{duration: 1w, isRolling: true}]
  budgetingMethod: Timeslices
  objectives:
    - {op: lte, value: 5000, targetPercent: 99, timeSliceWindow: 30s}
"""

ENVIRONMENTS = ["production", "staging"]


def write(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "openslo"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_ratio_occurrences(tmp_path: Path) -> None:
    (slo,) = load_openslo_dir(write(tmp_path, **{"ratio.yaml": RATIO}), ENVIRONMENTS, set())
    assert slo.name == "produce-success"
    assert isinstance(slo.sli, RatioSLI)
    assert slo.sli.errors == 'kafka_server_brokertopicmetrics_failedproducerequests_total{topic=""}'
    assert sorted(slo.targets) == ["production", "staging"]
    target = slo.targets["production"]
    assert target.objective == 99.9
    assert target.window == 28 * 86400


def test_threshold_timeslices_with_indicator_ref(tmp_path: Path) -> None:
    (slo,) = load_openslo_dir(write(tmp_path, **{"lag.yml": THRESHOLD}), ENVIRONMENTS, set())
    assert isinstance(slo.sli, ThresholdSLI)
    assert (slo.sli.metric, slo.sli.aggregation, slo.sli.op.value, slo.sli.threshold) == (
        "kafka_consumergroup_lag_sum",
        "max",
        "lte",
        5000,
    )
    assert slo.slice == 30
    assert list(slo.targets) == ["production"], "no environment label: production"
    assert slo.targets["production"].objective == 99
    assert slo.targets["production"].window == 7 * 86400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RATIO.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
            "ratio.yaml:25: spec.budgetingMethod: Timeslices over a ratioMetric is not supported",
        ),
        (
            RATIO.replace("target: 0.999", "target: 1.0"),
            "ratio.yaml:27: spec.objectives[0].target: Input should be less than 100",
        ),
        (RATIO.replace("duration: 28d", "duration: 4 weeks"), "spec.timeWindow[0].duration: not a duration"),
        (
            RATIO.replace("environment: [production, staging]", "environment: qa"),
            "ratio.yaml:6: metadata.labels.environment: unknown environment 'qa'",
        ),
        (
            RATIO.replace("apiVersion: openslo/v1", "apiVersion: openslo/v2alpha"),
            "apiVersion: Input should be 'openslo/v1'",
        ),
        (
            RATIO.replace("counter: true", "counter: false"),
            "spec.indicator.spec.ratioMetric.counter: only counters",
        ),
    ],
)
def test_refused_with_field_paths(tmp_path: Path, text: str, expected: str) -> None:
    folder = write(tmp_path, **{"ratio.yaml": text})
    with pytest.raises(ConfigError) as caught:
        load_openslo_dir(folder, ENVIRONMENTS, set())
    assert expected in caught.value.render()


def test_missing_indicator_ref(tmp_path: Path) -> None:
    folder = write(tmp_path, **{"lag.yml": THRESHOLD.replace("indicatorRef: max-lag", "indicatorRef: nope")})
    with pytest.raises(ConfigError, match="no kind: SLI named 'nope'"):
        load_openslo_dir(folder, ENVIRONMENTS, set())


def test_name_clash_with_slos_yaml(tmp_path: Path) -> None:
    folder = write(tmp_path, **{"ratio.yaml": RATIO})
    with pytest.raises(ConfigError, match="an SLO named 'produce-success' already exists"):
        load_openslo_dir(folder, ENVIRONMENTS, {"produce-success"})


def test_cli_generates_rules_prometheus_accepts(
    tmp_path: Path, promtool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    folder = write(tmp_path, **{"ratio.yaml": RATIO, "lag.yml": THRESHOLD})
    out = tmp_path / "out"
    assert main(["rules", "generate", "--openslo", str(folder), "--out", str(out)]) == 0
    files = sorted(p.name for p in out.glob("slo-*.yml"))
    assert "slo-produce-success.yml" in files
    assert "slo-lag-slices.yml" in files
    assert "slo-consumer-lag.yml" in files, "slos.yaml's SLOs are still generated"
    result = promtool("check", "rules", *(str(p) for p in sorted(out.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr
    text = (out / "slo-produce-success.yml").read_text()
    assert "window: 1h\n" not in text.split("kafka-obs-slo-produce-success-staging")[0]
    # 28 days: windows x 28/30 (page long 1h -> 56m), objective 0.999 -> budget 0.001
    assert "window: 56m" in text
    assert "expr: 0.001 * group by (slo, environment, cluster, region) (" in text
