"""`pip install .` must install only the kafka_obs namespace: no top-level `exporter` or `webhook` module."""

from __future__ import annotations

import zipfile
from pathlib import Path


def test_wheel_installs_only_the_kafka_obs_namespace(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert archive.read(top_level).decode().split() == ["kafka_obs"]
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"kafka_obs"}


def test_wheel_maps_every_component_folder(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for component in ["exporter", "sandbox", "rules", "dashboards", "webhook", "config"]:
        assert f"kafka_obs/{component}/__init__.py" in names
    assert "kafka_obs/cli.py" in names


def test_wheel_carries_what_the_demo_and_the_commands_read(wheel: Path) -> None:
    """Package data, read through importlib.resources: nothing is looked up in a source checkout."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for data in [
        "kafka_obs/shipped/prometheus/regional.yml",
        "kafka_obs/shipped/prometheus/global.yml",
        "kafka_obs/shipped/alertmanager/alertmanager.yml",
        "kafka_obs/webhook/playbooks.yaml",
        "kafka_obs/rules/slos.yaml",
        "kafka_obs/rules/generated/slo-status.yml",
        "kafka_obs/rules/generated/global/kafka-aggregations.yml",
        "kafka_obs/dashboards/generated/kafka-obs-executive.json",
        "kafka_obs/sandbox/fleets/acme.yaml",
        "kafka_obs/sandbox/jmx/JmxResponder.java",
    ]:
        assert data in names, data
