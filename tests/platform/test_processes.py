"""The one way the demo and the tests start real processes: ready probes, logs, and no orphans."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kafka_obs.platform.processes import ManagedProcess, ProcessError, free_port, http_ok, running, wait_until

SERVE = "import http.server, sys; http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind='127.0.0.1')"  # noqa: E501


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ready_probe_and_stop(tmp_path: Path) -> None:
    port = free_port()
    server = ManagedProcess(
        "http",
        [sys.executable, "-c", SERVE, str(port)],
        tmp_path / "http.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/"),
    )
    with server:
        assert server.alive()
        assert http_ok(f"http://127.0.0.1:{port}/")
    assert not server.alive()
    assert not http_ok(f"http://127.0.0.1:{port}/")


def test_stop_reaches_grandchildren(tmp_path: Path) -> None:
    """A child that starts its own child (the exporter's JVMs) leaves no orphan behind."""
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time, pathlib;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"pathlib.Path({str(pid_file)!r}).write_text(str(p.pid));"
        "time.sleep(60)"
    )
    parent = ManagedProcess("parent", [sys.executable, "-c", script], tmp_path / "parent.log", ready=pid_file.exists)
    parent.start()
    grandchild = int(pid_file.read_text())
    assert pid_alive(grandchild)
    parent.stop()
    wait_until(lambda: not pid_alive(grandchild), 5, "the grandchild to exit")


def test_a_child_that_never_gets_ready_is_stopped_and_its_log_quoted(tmp_path: Path) -> None:
    script = "import time; print('listening on nothing', flush=True); time.sleep(60)"
    child = ManagedProcess("stuck", [sys.executable, "-c", script], tmp_path / "stuck.log", ready=lambda: False)
    with pytest.raises(ProcessError, match="stuck did not become ready") as info:
        child.start(timeout=1.0)
    assert "listening on nothing" in str(info.value)
    assert not child.alive()


def test_a_child_that_exits_early_is_reported_at_once(tmp_path: Path) -> None:
    child = ManagedProcess(
        "crash", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "c.log", ready=lambda: False
    )
    started = time.monotonic()
    with pytest.raises(ProcessError, match="exited with status 3"):
        child.start(timeout=20)
    assert time.monotonic() - started < 10


def test_running_stops_in_reverse_order_even_on_error(tmp_path: Path) -> None:
    first = ManagedProcess("first", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "1.log")
    second = ManagedProcess("second", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "2.log")
    seen = []

    def fail_inside() -> None:
        with running(first, second):
            seen.extend([first.alive(), second.alive()])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert seen == [True, True]
    assert not first.alive()
    assert not second.alive()


def test_sigkill_simulates_a_crash(tmp_path: Path) -> None:
    child = ManagedProcess("victim", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "v.log").start()
    child.signal(signal.SIGKILL)
    wait_until(lambda: not child.alive(), 5, "the victim to die")
    assert child.stop() == -signal.SIGKILL
