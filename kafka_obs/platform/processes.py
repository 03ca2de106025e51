"""Child processes that are started, probed until ready, and always stopped — by the demo and by the tests alike.

Each child runs in its own process group, so stopping it also stops what it started (the exporter's JMX helper JVM,
uvicorn workers) and no orphan outlives the demo or a test. Output goes to a log file, never to the terminal of
the demo, and the last lines of that log are quoted when a child fails to become ready.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


class ProcessError(RuntimeError):
    """A child that could not be started or did not become ready; the message quotes its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; the child binds it right away, so the window for a race is small."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_binary(name: str) -> str | None:
    return shutil.which(name)


def kafka_obs_command() -> list[str]:
    """How to run our own CLI from this interpreter, installed or not."""
    script = Path(sys.executable).with_name("kafka-obs")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kafka_obs"]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URLs we built)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until true. An exception from the check counts as 'not yet' (a port not open yet), except a
    :class:`ProcessError`, which is final (the child is gone) and ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except ProcessError:
            raise
        except Exception:  # noqa: S110 - a check that cannot tell yet is simply not true yet
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class ManagedProcess:
    """One child process with a name, a log file and an optional readiness probe."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        ready: Callable[[], bool] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._ready = ready
        self._env = dict(os.environ, **env) if env else None
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the child has exited (None while it runs or before it starts)."""
        return self._proc.poll() if self._proc else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,  # its own process group: stop() reaches its children too
            )
        if self._ready is not None:
            try:
                wait_until(
                    lambda: self._check_alive() and self._ready is not None and self._ready(), timeout, self.name
                )
            except (TimeoutError, ProcessError) as exc:
                self.stop()
                raise ProcessError(f"{self.name} did not become ready: {exc}\n{self.tail()}") from None
        return self

    def wait(self, timeout: float) -> int:
        """Wait for a one-shot child (a formatter, a generator) to exit; its status. Still running after
        ``timeout`` seconds: it is stopped and a :class:`ProcessError` quotes its log."""
        if self._proc is None:
            raise ProcessError(f"{self.name} was never started")
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ProcessError(f"{self.name} still running after {timeout:g}s\n{self.tail()}") from None

    def _check_alive(self) -> bool:
        if not self.alive():
            code = self._proc.returncode if self._proc else None
            raise ProcessError(f"{self.name} exited with status {code}")
        return True

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the whole process group (SIGKILL here simulates a crash)."""
        if self.alive() and self._proc is not None:
            os.killpg(self._proc.pid, signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the group, then SIGKILL what is left after ``timeout``; returns the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
            except ProcessLookupError:
                proc.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # children that ignored SIGTERM while their parent exited cleanly
        return proc.returncode

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(f"  {self.name}| {line}" for line in text.splitlines()[-lines:])

    def __enter__(self) -> ManagedProcess:
        return self if self.alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running(*processes: ManagedProcess) -> Iterator[tuple[ManagedProcess, ...]]:
    """Start in order, stop in reverse order, whatever happens in between."""
    started: list[ManagedProcess] = []
    try:
        for process in processes:
            started.append(process.start())
        yield processes
    finally:
        for process in reversed(started):
            process.stop()
