"""Secrets quoted by client libraries (librdkafka's errors, kafka-python's logs) never reach our logs or pages.

Each test first shows that the library really produced the secret (in the raw error or an unformatted log line),
then that what we log and serve has it redacted: with real clients, not fakes, because the point is text we do
not control.
"""

from __future__ import annotations

import html
import logging
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kafka_obs.clock import ManualClock, SystemClock
from kafka_obs.config.clusters import load_fleet
from kafka_obs.config.secrets import REDACTED, Redactor
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
from kafka_obs.logs import LogfmtFormatter
from kafka_obs.platform.processes import ManagedProcess, free_port, http_ok, kafka_obs_command

PASTED = "hunter2-Passw0rd-pasted"
"""A password pasted into ``sasl.mechanism`` by mistake."""
TOKEN = "t0k3n-4b5c6d"
"""A secret used to build ``client.id``."""


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def logs() -> Iterator[tuple[Lines, Lines]]:
    """(raw, ours): the same records through a plain formatter and through ours with the config's redactor."""
    raw = Lines(LogfmtFormatter())  # every field, nothing redacted
    ours = Lines(logging.Formatter())  # replaced by the test once it has the config's redactor
    root = logging.getLogger()
    level = root.level
    root.addHandler(raw)
    root.addHandler(ours)
    root.setLevel(logging.DEBUG)
    yield raw, ours
    root.removeHandler(raw)
    root.removeHandler(ours)
    root.setLevel(level)


def write_config(tmp_path: Path, brokers: list[str], kafka: str) -> Path:
    file = tmp_path / "clusters.yaml"
    file.write_text(
        textwrap.dedent(
            f"""
            clusters:
              - name: alpha
                region: eu-west-1
                environment: production
                brokers: {brokers}
                interval: 1
                kafka: {kafka}
            """
        )
    )
    return file


def test_password_in_sasl_mechanism_is_redacted_from_the_log_and_the_landing_page(
    tmp_path: Path, logs: tuple[Lines, Lines]
) -> None:
    raw, ours = logs
    file = write_config(
        tmp_path, [f"127.0.0.1:{free_port()}"], "{security.protocol: SASL_PLAINTEXT, sasl.mechanism: '${PASTED}'}"
    )
    fleet = load_fleet(file, environ={"PASTED": PASTED})
    redact = Redactor.for_configs(fleet)
    ours.setFormatter(LogfmtFormatter(redact))
    exporter = Exporter(fleet, clock=SystemClock(), client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=1.0))
    server = exporter.serve("127.0.0.1", 0)
    try:
        exporter.collect_once()
        latest = exporter.store.latest("alpha")
        assert latest is not None
        assert latest.snapshot.error is not None
        assert PASTED in latest.snapshot.error  # librdkafka quoted it: "Unsupported SASL mechanism: ..."
        assert PASTED in raw.text

        page = httpx.get(f"http://127.0.0.1:{server.port}/", timeout=5).text
        assert PASTED not in page
        assert html.escape(REDACTED) in page
        assert PASTED not in ours.text
        assert REDACTED in ours.text
    finally:
        exporter.stop()


def test_client_id_built_from_a_secret_is_redacted_from_kafka_python_logs(
    tmp_path: Path, logs: tuple[Lines, Lines]
) -> None:
    sandbox_runtime = pytest.importorskip("kafka_obs.sandbox.runtime")
    raw, ours = logs
    clock = ManualClock()
    with sandbox_runtime.Sandbox.start("small", clock=clock) as sb:
        brokers = sb.bootstrap_servers("alpha").split(",")
        file = write_config(tmp_path, brokers, "{client.id: 'exporter-${TOKEN}'}")
        fleet = load_fleet(file, environ={"TOKEN": TOKEN})
        ours.setFormatter(LogfmtFormatter(Redactor.for_configs(fleet)))
        exporter = Exporter(fleet, clock=clock, client_factory=lambda c: ConfluentKafkaAdmin(c, timeout=5.0))
        try:
            exporter.collect_once()  # groups, offsets and log dirs go over kafka-python, which logs its client_id
        finally:
            exporter.stop()
    assert TOKEN in raw.text, "kafka-python did not log its client_id: the test proves nothing"
    assert TOKEN not in ours.text
    assert REDACTED in ours.text


def test_the_exporter_command_redacts_its_own_log_and_page(tmp_path: Path) -> None:
    """The whole command, started from ``/``: the config's redactor is installed before anything logs."""
    file = write_config(
        tmp_path, [f"127.0.0.1:{free_port()}"], "{security.protocol: SASL_PLAINTEXT, sasl.mechanism: '${PASTED}'}"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [*kafka_obs_command(), "exporter", "--config.file", str(file), "--web.listen-address", f"127.0.0.1:{port}"]
    process = ManagedProcess(
        "exporter",
        [*argv, "--kafka.timeout", "1", "--log.level", "debug"],
        tmp_path / "exporter.log",
        ready=lambda: http_ok(url + "/ready"),
        env={"PASTED": PASTED},
        cwd=Path("/"),
    )
    with process:
        page = httpx.get(url + "/", timeout=5).text
    log = (tmp_path / "exporter.log").read_text()
    assert "Unsupported SASL mechanism" in page
    assert PASTED not in page
    assert "Unsupported SASL mechanism" in log
    assert PASTED not in log
