"""Real Prometheus and Alertmanager processes for the webhook's end-to-end tests, plus a tiny scrape target.

Each binds 127.0.0.1 on a free port, keeps its data in a temporary directory, and is started and stopped through
kafka_obs.platform.processes (ready probe, own process group, log file), the project's one way to run a process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kafka_obs.platform.processes import ManagedProcess, find_binary, free_port, http_ok, wait_until
from tests.http_stub import StubHandler, serving

__all__ = ["alertmanager", "free_port", "prometheus", "require", "scrape_target", "wait_until"]


def require(binary: str) -> str:
    path = find_binary(binary)
    if path is None:
        pytest.skip(f"{binary} is not on PATH (make tools installs it)")
    return path


@contextmanager
def scrape_target(render: Callable[[], str]) -> Iterator[int]:
    """Serve ``render()`` as /metrics (text exposition) on a free port."""

    class Handler(StubHandler):
        def do_GET(self) -> None:
            self.reply(200, render().encode(), "text/plain; version=0.0.4")

    with serving(Handler) as port:
        yield port


@contextmanager
def prometheus(tmp: Path, target_port: int) -> Iterator[str]:
    binary = require("prometheus")
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: sandbox\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
    )
    url = f"http://127.0.0.1:{port}"
    args = [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with ManagedProcess("prometheus", args, tmp / "prometheus.log", ready=lambda: http_ok(f"{url}/-/ready")):

        def scraped() -> bool:
            body = httpx.get(f"{url}/api/v1/query", params={"query": "up == 1"}).json()
            return bool(body["data"]["result"])

        wait_until(scraped, 30, "Prometheus to scrape the target")
        yield url


@contextmanager
def alertmanager(tmp: Path) -> Iterator[str]:
    binary = require("prometheus-alertmanager")
    port = free_port()
    config = tmp / "alertmanager.yml"
    config.write_text("route: {receiver: humans}\nreceivers: [{name: humans}]\n")
    url = f"http://127.0.0.1:{port}"
    args = [binary, f"--config.file={config}", f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]  # fmt: skip
    with ManagedProcess("alertmanager", args, tmp / "alertmanager.log", ready=lambda: http_ok(f"{url}/-/ready")):
        yield url
