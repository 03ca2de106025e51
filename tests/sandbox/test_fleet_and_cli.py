"""Fleet files (validation with field paths, the shipped fleets' sizes) and the ``kafka-obs sandbox`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kafka_obs.config.clusters import load_fleet
from kafka_obs.config.loader import ConfigError
from kafka_obs.sandbox import fleet

REPO = Path(__file__).resolve().parents[2]
KAFKA_OBS = [sys.executable, "-m", "kafka_obs"]


def test_acme_fleet_has_the_capstone_shape() -> None:
    plan = fleet.load("acme")
    assert len(plan.clusters) == 5
    assert len({c.region for c in plan.clusters}) == 3
    assert {c.environment for c in plan.clusters} == {"production", "staging"}
    assert {c.priority for c in plan.clusters} == {"critical", "high", "medium"}
    assert all(len(c.brokers) == 3 for c in plan.clusters)
    assert sum(len(c.topics) for c in plan.clusters) >= 200
    assert len({t.criticality for c in plan.clusters for t in c.topics}) == 3
    assert sum(len(c.deployments) for c in plan.clusters) >= 50
    assert any(d.protocol == "consumer" for c in plan.clusters for d in c.deployments)


def test_scale_fleet_size() -> None:
    (cluster,) = fleet.load("scale").clusters
    assert len(cluster.brokers) == 6
    assert sum(t.partitions for t in cluster.topics) == 2500
    assert len({d.group for d in cluster.deployments}) == 2000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clusters: []", "clusters: List should have at least 1 item"),
        (
            "clusters:\n  - {name: a, region: r, environment: e, brokers: 2,"
            " topics: [{name: t, replication_factor: 3}]}",
            "clusters[0].topics[0].replication_factor: replication factor 3 exceeds the 2 brokers",
        ),
        (
            "clusters:\n  - name: a\n    region: r\n    environment: e\n"
            "    topics: [{name: t, config: {retention.ms: -7}}]",
            "clusters[0].topics[0].config: Invalid value -7 for configuration retention.ms",
        ),
        (
            "clusters:\n  - name: a\n    region: r\n    environment: e\n"
            "    deployments: [{name: d, group: g, topics: [missing]}]",
            "clusters[0].deployments[0].topics: unknown topic 'missing'",
        ),
        (
            "clusters:\n  - {name: a, region: r, environment: e, topics: [{name: t, count: 3}]}",
            "clusters[0].topics[0].name: count > 1 needs {i} in the name",
        ),
        ("clusters:\n  - {name: a, region: r, environment: e, colour: blue}", "clusters[0].colour: unknown field"),
    ],
)
def test_bad_fleet_files_name_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        fleet.load(path)
    assert expected in error.value.render()


def test_cli_bad_fleet_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("clusters:\n  - {name: a, region: r, environment: e, brokers: 0}\n")
    result = subprocess.run(
        [*KAFKA_OBS, "sandbox", "--fleet", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "clusters[0].brokers" in result.stderr


def test_cli_starts_acme_fast_writes_a_valid_config_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "acme-clusters.yaml"
    process = subprocess.Popen(
        [*KAFKA_OBS, "sandbox", "--fleet", "acme", "--control", "127.0.0.1:0", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        started = time.monotonic()
        control = None
        assert process.stderr is not None
        for line in process.stderr:
            if "sandbox ready" in line:
                control = line.split("control=")[1].split()[0]
                break
        assert control is not None
        assert time.monotonic() - started < 5  # includes the interpreter start
        fleet_config = load_fleet(config)
        truth = httpx.get(f"{control}/fleet", timeout=10).json()
        assert [c.name for c in fleet_config.clusters] == list(truth["clusters"])
        for cluster in fleet_config.clusters:
            ports = [f"{b['host']}:{b['port']}" for b in truth["clusters"][cluster.name]["brokers"]]
            assert cluster.brokers == ports
            assert cluster.priority.value == truth["clusters"][cluster.name]["priority"]
        check = subprocess.run(
            [*KAFKA_OBS, "check-config", str(config)], capture_output=True, text=True, timeout=60, check=False
        )
        assert check.returncode == 0, check.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
