"""The ``scale`` fleet multiplied (the same cluster with ``factor`` times its topics and consumer groups), and the
sandbox process the benchmarks run it in.

``sandbox/fleets/scale.yaml`` is 250 ten-partition topics read by 8 families of 250 groups (2,500 partitions,
2,000 groups, 20,000 committed offsets). Multiplying every ``count`` by ``factor`` keeps its shape (partitions per
topic, groups per topic, replicas, rates and lags) and multiplies partitions, groups and committed offsets alike,
so a curve over factors measures how cost grows with size and nothing else. The file is written next to the
caller's temporary files, never into ``sandbox/fleets/``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCALE = ROOT / "sandbox" / "fleets" / "scale.yaml"


def scaled(factor: int) -> dict[str, Any]:
    """The ``scale`` fleet document with every ``count`` multiplied by ``factor`` (1 returns it unchanged)."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    document: dict[str, Any] = yaml.safe_load(SCALE.read_text(encoding="utf-8"))
    for cluster in document["clusters"]:
        for entry in (*cluster.get("topics", []), *cluster.get("deployments", [])):
            entry["count"] = entry.get("count", 1) * factor
    return document


def write_scaled(factor: int, directory: Path) -> Path:
    """Write the ``factor`` x fleet file into ``directory``; returns its path (a path, so the sandbox loads it)."""
    path = directory / f"scale-x{factor}.yaml"
    header = f"# sandbox/fleets/scale.yaml with every count multiplied by {factor} (written by bench/scaled_fleet.py)\n"
    path.write_text(header + yaml.safe_dump(scaled(factor), sort_keys=False), encoding="utf-8")
    return path


def start_sandbox(
    fleet: str | Path, config: Path, timeout: float = 600, *, jmx: bool = False
) -> tuple[subprocess.Popen[bytes], float]:
    """``kafka-obs sandbox`` for ``fleet`` as its own process, writing the exporter's clusters.yaml to ``config``;
    returns the process and the seconds until its brokers listened. Without ``jmx`` it is the protocol server alone
    (JMX feeding is the JMX benchmark's subject); with it, the brokers' MBeans too (``jmx_ports`` in ``config``)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "kafka_obs", "sandbox", "--fleet", str(fleet), "--control", "127.0.0.1:0"]
    command += ["--write-config", str(config), "--jmx" if jmx else "--no-jmx", "--log.level", "warn"]
    process = subprocess.Popen(command, cwd=ROOT)
    deadline = time.monotonic() + timeout
    while not config.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"sandbox for {fleet} did not start")
        time.sleep(0.05)
    return process, time.perf_counter() - started


def stop_sandbox(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
