"""The wheel as a new user installs it: a fresh virtualenv, `kafka-obs demo` from an empty directory, Ctrl-C.

Nothing of the checkout may be reachable: the demo must find its Prometheus and Alertmanager configs, playbooks,
generated rules and fleets as package data of the installed distribution.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kafka_obs.platform.processes import ManagedProcess, find_binary, wait_until
from tests.conftest import REPO
from tests.platform.test_demo import printed_urls

pytestmark = pytest.mark.e2e


def clean_env(venv: Path) -> dict[str, str]:
    """The user's environment: the fresh virtualenv first on PATH, nothing pointing back at the checkout."""
    ours = str(Path(sys.executable).parent)
    path = [str(venv / "bin"), *(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != ours)]
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    return {**env, "PATH": os.pathsep.join(path), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-c", str(REPO / "constraints.txt"),
         str(wheel)],
        capture_output=True, text=True, timeout=600, check=False, env=clean_env(venv),
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import kafka_obs.platform.wiring as w; print(w.PACKAGE)"],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env(installed), timeout=60, check=True,
    )  # fmt: skip
    package = Path(where.stdout.strip())
    assert package.is_relative_to(installed), package
    assert not package.joinpath("rules").is_symlink()  # real files, not links back into a checkout


@pytest.mark.skipif(not (find_binary("prometheus") and find_binary("prometheus-alertmanager")), reason="make tools")
def test_installed_demo_runs_from_an_empty_directory_and_stops_on_ctrl_c(installed: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    workdir = tmp_path / "demo"
    log = tmp_path / "demo.out"
    demo = ManagedProcess(
        "installed-demo",
        [str(installed / "bin" / "kafka-obs"), "demo", "--fleet", "small", "--workdir", str(workdir)],
        log,
        ready=lambda: "kafka-obs demo ready" in log.read_text(),
        env=clean_env(installed),
        cwd=cwd,
    )
    demo.start(timeout=180)
    try:
        urls = printed_urls(log)
        prometheus = next(url for name, url in urls.items() if name.startswith("Prometheus (") and "global" not in name)
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        names = {rule["name"] for group in groups for rule in group["rules"]}
        # the generated rules came from the installed package and were loaded by a real Prometheus
        assert "slo:error_budget_remaining:ratio" in names
        assert "KafkaOfflinePartitions" in names
        assert httpx.get(f"{urls['Webhook']}/healthz", timeout=5).status_code == 200
    finally:
        demo.signal(signal.SIGINT)
        wait_until(lambda: not demo.alive(), 60, "the installed demo to stop after Ctrl-C")
    assert demo.stop() == 0, demo.tail(40)
    assert "kafka-obs demo: stopped" in log.read_text()
    assert list(cwd.iterdir()) == []  # nothing written where the user stood
    assert not workdir.exists()
