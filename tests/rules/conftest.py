"""Fixtures of the rules tests: the repository's rules folder and a way to run promtool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO

RULES = REPO / "rules"
GENERATED = RULES / "generated"
GLOBAL = GENERATED / "global"
"""The cross-region level, loaded by a global Prometheus (prometheus/global.yml); the top folder is regional."""
PROMETHEUS_CONFIGS = REPO / "prometheus"


def generated_files(root: Path = GENERATED) -> dict[str, Path]:
    """Every generated rule file below ``root`` by its name relative to it (``global/...`` for the global level)."""
    paths = [*root.glob("*.yml"), *root.glob("global/*.yml")]
    return {path.relative_to(root).as_posix(): path for path in sorted(paths)}


PROMTOOL_SUITES = Path(__file__).resolve().parent / "promtool"


@pytest.fixture
def promtool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run promtool (Debian's 2.42 in CI, installed by `make tools`) and return the finished process."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (make tools installs it)")

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False)

    return run
