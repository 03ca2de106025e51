"""Every generated file loads in Prometheus 2.42, and the promtool suites' hand-computed values hold.

The suites under promtool/ carry the arithmetic in their comments; ``bundle_*`` suites test the committed
rules/generated/ files, ``slo_*`` suites the SLO rules generated from promtool/slos.yaml (1-day period, 10 s slices),
``jmx_<source>`` suites the bundle generated from rules/slos.yaml with ``jmx_source: <source>``, fed brokers' JMX
series in that source's shape.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from kafka_obs.rules import bundle
from kafka_obs.rules.loading import load_slos
from kafka_obs.rules.model import JmxSource
from tests.rules.conftest import PROMTOOL_SUITES, RULES, generated_files

Promtool = Callable[..., subprocess.CompletedProcess[str]]


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", generated_files().values(), ids=list(generated_files()))
def test_promtool_check_rules(promtool: Promtool, path: Path) -> None:
    result = promtool("check", "rules", str(path))
    _ok(result)
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("suite", sorted(PROMTOOL_SUITES.glob("bundle_*.yaml")), ids=lambda p: p.name)
def test_bundle_suite(promtool: Promtool, suite: Path) -> None:
    _ok(promtool("test", "rules", suite.name, cwd=suite.parent))


@pytest.fixture(scope="module")
def slo_rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("slo-rules")
    spec = load_slos(PROMTOOL_SUITES / "slos.yaml")
    bundle.write(out, bundle.build(spec, origin="tests/rules/promtool/slos.yaml"))
    for suite in PROMTOOL_SUITES.glob("slo_*.yaml"):
        shutil.copy(suite, out / suite.name)
    return out


@pytest.mark.parametrize("suite", sorted(p.name for p in PROMTOOL_SUITES.glob("slo_*.yaml")))
def test_slo_suite(promtool: Promtool, slo_rules_dir: Path, suite: str) -> None:
    _ok(promtool("test", "rules", suite, cwd=slo_rules_dir))


def test_a_wrong_expectation_fails(promtool: Promtool, slo_rules_dir: Path) -> None:
    """The suites can fail: the same threshold suite with one expected ratio changed is rejected."""
    text = (slo_rules_dir / "slo_threshold.yaml").read_text()
    broken = text.replace("value: 0.5833333333333334", "value: 0.5", 1)
    assert broken != text
    (slo_rules_dir / "broken.yaml").write_text(broken)
    result = promtool("test", "rules", "broken.yaml", cwd=slo_rules_dir)
    assert result.returncode != 0
    assert 'window="2m"} 5.833333333333334E-01' in result.stdout + result.stderr


JMX_SOURCES: tuple[JmxSource, ...] = get_args(JmxSource)
BROKER_IDENTITY = {"broker", "instance", "job"}
"""The labels that name a broker's JMX series in one shape or the other: the only labels the twin suites' alerts may
differ in (recorded series aggregate them away)."""


def _bundle_with_suite(out: Path, source: JmxSource, suite: str) -> Path:
    """rules/slos.yaml's bundle generated with ``jmx_source: source``, with the suite ``suite`` next to it."""
    spec = load_slos(RULES / "slos.yaml").model_copy(update={"jmx_source": source})
    bundle.write(out, bundle.build(spec))
    shutil.copy(PROMTOOL_SUITES / suite, out / suite)
    return out


@pytest.mark.parametrize("source", JMX_SOURCES)
def test_jmx_shape_suite(promtool: Promtool, tmp_path: Path, source: JmxSource) -> None:
    suite = f"jmx_{source}.yaml"
    _ok(promtool("test", "rules", suite, cwd=_bundle_with_suite(tmp_path, source, suite)))


def _expectations(suite: str) -> list[Any]:
    """What a jmx_* suite expects, the broker identity and the sentence naming it left out."""
    test = yaml.safe_load((PROMTOOL_SUITES / suite).read_text())["tests"]
    assert len(test) == 1
    alerts = []
    for case in test[0]["alert_rule_test"]:
        fired = [
            (
                {k: v for k, v in a["exp_labels"].items() if k not in BROKER_IDENTITY},
                {k: v for k, v in a["exp_annotations"].items() if k != "description"},
            )
            for a in case["exp_alerts"]
        ]
        alerts.append((case["eval_time"], case["alertname"], fired))
    return [test[0]["promql_expr_test"], alerts]


def test_both_jmx_shapes_expect_the_same_series_and_alerts() -> None:
    exporter, agent = (_expectations(f"jmx_{source}.yaml") for source in JMX_SOURCES)
    assert exporter == agent
    assert len(exporter[0]) >= 8, "the suites compare recorded series"
    assert len(exporter[1]) >= 5, "the suites compare alerts"


def test_agent_series_break_the_exporter_shaped_bundle(promtool: Promtool, tmp_path: Path) -> None:
    """The setting matters: the exporter's bundle misreads agent-shaped series (it waits for kafka_jmx_up, which no
    agent serves), so the controller broker's unscraped agent reads as a cluster without controller."""
    result = promtool("test", "rules", "jmx_agent.yaml", cwd=_bundle_with_suite(tmp_path, "exporter", "jmx_agent.yaml"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "KafkaNoActiveController" in output
    assert 'cluster="u"' in output
    assert "KafkaBrokerJmxDown" in output
