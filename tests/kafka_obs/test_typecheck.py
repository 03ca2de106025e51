"""`make typecheck` must see through component boundaries: a wrong call from one component into another fails it.

Until the component folders became paths under ``kafka_obs/`` every cross-component import was ``Any`` to mypy, and
the deliberate error below passed silently. The test edits a copy of the tree, never the checkout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SKIP = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "build")
CALL = "interval=fleet.interval_for(cluster),"
BROKEN = 'interval="not a number", bogus_kw=1,'


def run_make_typecheck(tree: Path) -> subprocess.CompletedProcess[str]:
    """The Makefile's own target, with the checkout's virtualenv (``-o`` keeps make from reinstalling it)."""
    venv = REPO / ".venv"
    if not (venv / "bin" / "mypy").exists():
        pytest.skip("no .venv with mypy: run make venv")
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(tree), f"VENV={venv}", "-o", f"{venv}/.installed", "typecheck"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_make_typecheck_fails_on_a_wrong_cross_component_call(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    # the mypy cache comes along (it is keyed by relative path and content), so only the edited module is re-checked
    shutil.copytree(REPO, tree, symlinks=True, ignore=SKIP)
    app = tree / "exporter" / "app.py"
    source = app.read_text()
    assert source.count(CALL) == 1, "the call this test breaks has moved: update CALL"
    app.write_text(source.replace(CALL, BROKEN))

    result = run_make_typecheck(tree)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # the exporter's app calls the collector in kafka_obs.exporter.cycle: both mistakes are reported
    at_the_call = r"kafka_obs/exporter/app\.py:\d+: error: "
    assert re.search(at_the_call + r'Argument "interval" to "ClusterCollector" has incompatible type', output), output
    assert re.search(at_the_call + r'Unexpected keyword argument "bogus_kw"', output), output
