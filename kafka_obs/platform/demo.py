"""``kafka-obs demo``: the whole platform on the embedded sandbox, started in one command and stopped with Ctrl-C.

The sandbox runs as its own process (as a Kafka fleet would), the rest is a :class:`~kafka_obs.platform.stack.Stack`.
Everything lives in one work directory (configs, data, logs) that is removed at the end unless ``keep`` is set.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka_obs.platform import demo_kafka, wiring
from kafka_obs.platform.processes import ManagedProcess, http_ok, kafka_obs_command
from kafka_obs.platform.stack import PreferredPorts, Stack, StackOptions, pick_port

SANDBOX_CONTROL_PORT = 9180
COLLECTION_INTERVAL = "10s"
"""Every cluster collected every 10 s in the demo, so panels fill within a minute of starting."""


class DemoError(RuntimeError):
    """The demo cannot run here (a non-empty work directory, shipped configs not found)."""


@dataclass
class Workdir:
    """The run's directory: created when missing, refused when it holds someone's files, removed at the end."""

    path: Path
    created: bool

    @classmethod
    def prepare(cls, path: Path | None) -> Workdir:
        if path is None:
            return cls(Path(tempfile.mkdtemp(prefix="kafka-obs-demo-")), created=True)
        if path.exists() and any(path.iterdir()):
            raise DemoError(f"--workdir {path} is not empty; give a new or empty directory")
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        return cls(path, created)

    def remove(self) -> None:
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for child in self.path.iterdir():  # an empty directory the user made: leave it, empty again
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def fetch_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (the sandbox's loopback control API)
        return json.load(response)


def sandbox_process(fleet: str, workdir: Path, log_level: str) -> tuple[ManagedProcess, str, Path]:
    control = f"127.0.0.1:{pick_port(SANDBOX_CONTROL_PORT)}"
    clusters = workdir / "sandbox-clusters.yaml"
    process = ManagedProcess(
        "sandbox",
        [
            *kafka_obs_command(),
            "sandbox",
            "--fleet",
            fleet,
            "--control",
            control,
            "--write-config",
            str(clusters),
            "--log.level",
            log_level,
        ],
        workdir / "logs" / "sandbox.log",
        ready=lambda: clusters.exists() and http_ok(f"http://{control}/healthz"),
    )
    return process, f"http://{control}", clusters


@dataclass
class Demo:
    """A started demo: the sandbox process, the real Kafka cluster if asked for, and the stack around them."""

    sandbox: ManagedProcess
    control_url: str
    stack: Stack
    real: demo_kafka.RealKafka | None = None

    def urls(self) -> dict[str, str]:
        return {**self.stack.urls(), "Sandbox control API": self.control_url}

    def dead(self) -> list[str]:
        """Children that exited on their own (the demo stops when one does, rather than limp on)."""
        dead = [p.name for p in [self.sandbox, *self.stack.processes()] if not p.alive()]
        return dead + (self.real.dead() if self.real is not None else [])

    def stop(self) -> None:
        self.stack.stop()
        self.sandbox.stop()
        if self.real is not None:
            self.real.stop()


KAFKA_CHOICES = ("sandbox", "real")


def preflight(kafka: str) -> None:
    """Refuse at once, before anything starts, what cannot run here (a clear message, nothing to clean up)."""
    if kafka not in KAFKA_CHOICES:
        raise DemoError(f"--kafka {kafka!r}: choose one of {', '.join(KAFKA_CHOICES)}")
    if kafka == "real":
        try:
            demo_kafka.check_available()
        except demo_kafka.RealKafkaUnavailable as exc:
            raise DemoError(str(exc)) from None


def start(
    fleet: str,
    workdir: Path,
    *,
    log_level: str = "info",
    options: StackOptions | None = None,
    kafka: str = "sandbox",
) -> Demo:
    """Start the sandbox (and with ``kafka="real"`` a real Kafka cluster next to it), then the stack; on any failure
    stop what was started and re-raise."""
    shipped = (options or StackOptions()).shipped
    if missing := shipped.missing():
        raise DemoError(
            "the shipped configs are missing from the installed package (reinstall kafka-obs): "
            + ", ".join(str(p) for p in missing)
        )
    preflight(kafka)
    sandbox, control_url, written = sandbox_process(fleet, workdir, log_level)
    real: demo_kafka.RealKafka | None = None
    try:
        sandbox.start(timeout=60)
        clusters_doc = wiring.demo_clusters(wiring.load_yaml(written), COLLECTION_INTERVAL)
        truth = fetch_json(f"{control_url}/fleet")
        if kafka == "real":
            region = wiring.regions(clusters_doc)[0]
            real = demo_kafka.start(workdir / "kafka", region)
            wiring.join(truth, clusters_doc, [real.joining()])
        clusters = wiring.dump_yaml(clusters_doc, workdir / "clusters.yaml")
        stack_options = options or StackOptions(ports=PreferredPorts.conventional(), log_level=log_level)
        stack = Stack(workdir, clusters, truth, control_url, stack_options)
        stack.start()
    except BaseException:
        sandbox.stop()
        if real is not None:
            real.stop()
        raise
    return Demo(sandbox, control_url, stack, real)


def banner(demo: Demo, fleet: str, workdir: Path, keep: bool) -> str:
    width = max(len(name) for name in demo.urls())
    lines = [f"kafka-obs demo: sandbox fleet {fleet!r} (a simulator, not Kafka), work directory {workdir}"]
    if demo.real is not None:
        lines.append(
            f"  and real Apache Kafka: cluster {demo_kafka.CLUSTER!r} in region {demo.real.region!r}, "
            f"{len(demo.real.kafka.nodes)} KRaft nodes at {demo.real.kafka.bootstrap_servers}"
        )
    lines += [f"  {name.ljust(width)}  {url}" for name, url in demo.urls().items()]
    lines.append(f"  {'webhook token'.ljust(width)}  {demo.stack.token_file}")
    for missing in demo.stack.missing:
        lines.append(f"  not running: {missing} is not installed (`make tools` installs it when root)")
    lines.append(f"  logs: {workdir / 'logs'}; " + ("kept after exit (--keep)" if keep else "removed on exit"))
    lines.append("kafka-obs demo ready; press Ctrl-C to stop")
    return "\n".join(lines)


def wait(demo: Demo, interrupted: Callable[[], bool], poll: float = 0.5) -> list[str]:
    """Until ``interrupted()`` or a child dies; returns the names of children that died."""
    while not interrupted():
        if dead := demo.dead():
            return dead
        time.sleep(poll)
    return []
