"""Slow clients against a real ``kafka-obs webhook`` process: header timeout, connection cap, quiet logs.

The process runs with a low open-file limit (128), as the adversarial run did: 200 connections trickling header
bytes must neither starve ``/healthz`` and ``/alerts`` nor flood the log with "Too many open files".
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kafka_obs.platform.processes import ManagedProcess, free_port, http_ok

from .conftest import AUTH, SEED_PLAYBOOKS, TOKEN, alert, notification

FD_LIMIT = 128
LIMITED = (
    "import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({n}, {n}));"
    " os.execv(sys.executable, [sys.executable, '-m', 'kafka_obs', *sys.argv[1:]])"
)


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "webhook.yaml"
    config.write_text(
        json.dumps(
            {
                "auth": {"bearer_token": TOKEN},
                "store": {"path": "webhook.db"},
                "playbooks": {"file": str(SEED_PLAYBOOKS)},
                "limits": {"header_timeout": "2s", "body_timeout": "2s"},
            }
        )
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-c", LIMITED.format(n=FD_LIMIT), "webhook", f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with ManagedProcess("webhook", argv, tmp_path / "webhook.log", ready=lambda: http_ok(f"{url}/healthz")):
        yield url


def _trickle(port: int, stop: threading.Event, opened: list[int]) -> None:
    """One slowloris: headers one byte every 0.5 s, reconnecting whenever the server closes the connection."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                opened.append(1)
                sock.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                while not stop.wait(0.5):
                    sock.sendall(b"a")
        except OSError:
            stop.wait(0.1)


def test_trickling_connections_do_not_starve_real_clients(webhook: str, tmp_path: Path) -> None:
    port = int(webhook.rsplit(":", 1)[1])
    stop = threading.Event()
    opened: list[int] = []
    threads = [threading.Thread(target=_trickle, args=(port, stop, opened), daemon=True) for _ in range(200)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)  # every slot taken, header timeouts firing, tricklers reconnecting
        latencies = []
        for n in range(10):
            started = time.monotonic()
            assert httpx.get(f"{webhook}/healthz", timeout=5).status_code == 200
            body = notification(alert(fingerprint=f"{n:016x}"))
            assert httpx.post(f"{webhook}/alerts", json=body, headers=AUTH, timeout=5).status_code == 202
            latencies.append(time.monotonic() - started)
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    assert len(opened) > 200  # the tricklers were cut off and came back
    metrics = httpx.get(f"{webhook}/metrics").text
    assert 'kafka_obs_webhook_connections_closed_total{reason="connection cap"}' in metrics
    log = (tmp_path / "webhook.log").read_text()
    assert "Too many open files" not in log
    assert len(log) < 100_000, f"{len(log)} bytes of log"
    print(f"max request pair latency under 200 trickling connections: {max(latencies):.2f}s")


def test_headers_must_arrive_within_the_header_timeout(webhook: str) -> None:
    port = int(webhook.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        answer = sock.recv(1024)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408")
    assert 1.5 < waited < 6


def test_a_body_that_does_not_arrive_gets_408(webhook: str) -> None:
    port = int(webhook.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 408")
