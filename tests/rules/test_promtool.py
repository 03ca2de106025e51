"""Every generated file loads in Prometheus 2.42, and the promtool suites' hand-computed values hold.

The suites under promtool/ carry the arithmetic in their comments; ``bundle_*`` suites test the committed
rules/generated/ files, ``slo_*`` suites the SLO rules generated from promtool/slos.yaml (1-day period, 10 s slices).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kafka_obs.rules import bundle
from kafka_obs.rules.loading import load_slos
from tests.rules.conftest import PROMTOOL_SUITES, generated_files

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
