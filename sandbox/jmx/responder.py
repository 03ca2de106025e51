"""The Python side of the sandbox's JMX responder: starts the JVM, opens broker ports, feeds it values.

One JVM serves every simulated broker (a JVM per broker would cost ~40 MB and a second of CPU each). The bridge
talks to it over the process's stdin/stdout with the line protocol documented in ``JmxResponder.java``; stdin is
the JVM's lifeline, so the JVM exits when this process does, even when it is killed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from kafka_obs.sandbox.jmx.beans import Bean
from kafka_obs.sandbox.jmx.build import MAIN_CLASS, JavaTools, compiled_classes

log = logging.getLogger(__name__)

_JVM_OPTIONS = (
    # Stubs handed to clients must point at loopback, where the sandbox's ports are.
    "-Djava.rmi.server.hostname=127.0.0.1",
    # A sandbox helper, not a server: small heap, cheap GC, fast start.
    "-Xmx96m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
)


class ResponderError(RuntimeError):
    """The responder refused a command or is not running."""


class JmxResponder:
    """A running responder JVM. Thread-safe: the sandbox's simulation thread and tests may both call it.

    Use :meth:`start` (or ``with JmxResponder.start() as jmx:``); :meth:`stop` ends the JVM.
    """

    def __init__(self, process: subprocess.Popen[str], reply_timeout: float):
        self._process = process
        self._reply_timeout = reply_timeout
        self._lock = threading.Lock()
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._ports: dict[str, int] = {}
        self._open: set[str] = set()
        self._published: dict[str, set[str]] = {}
        threading.Thread(target=self._read_replies, name="jmx-responder-out", daemon=True).start()
        threading.Thread(target=self._log_errors, name="jmx-responder-err", daemon=True).start()

    @classmethod
    def start(
        cls,
        *,
        java: str | None = None,
        javac: str | None = None,
        build_root: Path | None = None,
        startup_timeout: float = 30.0,
        reply_timeout: float = 15.0,
    ) -> JmxResponder:
        """Compile (first time only) and start the JVM; raises ``JavaUnavailable`` when there is no JDK."""
        tools = JavaTools.find(java, javac)
        classes = compiled_classes(tools, build_root)
        process = subprocess.Popen(
            [tools.java, *_JVM_OPTIONS, "-cp", str(classes), MAIN_CLASS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        responder = cls(process, reply_timeout)
        try:
            first = responder._next_reply(startup_timeout)
            if first != "ready":
                raise ResponderError(f"the JMX responder did not start: {first!r}")
        except BaseException:
            responder.stop()
            raise
        log.info("sandbox JMX responder started", extra={"pid": process.pid})
        return responder

    # -- brokers ------------------------------------------------------------------------------------------------

    def open_broker(
        self, broker: str, port: int = 0, *, username: str | None = None, password: str | None = None
    ) -> int:
        """Serve ``broker`` on ``port`` (0: a free port the first time, the same port when reopened); the port."""
        if (username is None) != (password is None):
            raise ValueError("give a username and a password, or neither")
        fields = ["open", broker, str(port or self._ports.get(broker, 0))]
        if username is not None and password is not None:
            fields += [username, password]
        reply = self._call([fields], describe=f"open {broker}")[0]
        opened = int(reply.split("\t")[1])
        with self._lock:
            self._ports[broker] = opened
            self._open.add(broker)
        return opened

    def close_broker(self, broker: str) -> None:
        """Stop serving ``broker``: its port stops listening (a stopped broker); its MBeans are kept."""
        self._call([["close", broker]], describe=f"close {broker}")
        with self._lock:
            self._open.discard(broker)

    def port(self, broker: str) -> int | None:
        with self._lock:
            return self._ports.get(broker)

    def is_open(self, broker: str) -> bool:
        with self._lock:
            return broker in self._open

    # -- values -------------------------------------------------------------------------------------------------

    def set_beans(self, broker: str, beans: Iterable[Bean]) -> None:
        """Register (when new) and update ``beans`` on ``broker`` in one round trip."""
        commands = [["set", broker, *bean.fields()] for bean in beans]
        if commands:
            self._call(commands, describe=f"set beans of {broker}")

    def remove_bean(self, broker: str, name: str) -> None:
        self._call([["remove", broker, name]], describe=f"remove {name} from {broker}")

    def publish(self, broker: str, beans: Iterable[Bean]) -> None:
        """Make ``beans`` the broker's complete set: update them and unregister what was published before but
        is absent now (a deleted topic, a moved partition), as Kafka does."""
        beans = list(beans)
        names = {bean.object_name for bean in beans}
        with self._lock:
            stale = self._published.get(broker, set()) - names
        commands = [["set", broker, *bean.fields()] for bean in beans] + [["remove", broker, n] for n in sorted(stale)]
        if commands:
            self._call(commands, describe=f"publish beans of {broker}")
        with self._lock:
            self._published[broker] = names

    # -- lifecycle ----------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def pid(self) -> int:
        """The JVM's process id: tests stop it (SIGSTOP) to play a hung broker."""
        return self._process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the JVM to quit, then make sure it is gone. Idempotent."""
        if self._process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self._process.stdin is not None
                self._process.stdin.write("quit\n")
                self._process.stdin.flush()
                self._process.stdin.close()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        with self._lock:
            self._open.clear()

    def __enter__(self) -> JmxResponder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _call(self, commands: list[list[str]], *, describe: str) -> list[str]:
        for fields in commands:
            if any("\t" in f or "\n" in f for f in fields):
                raise ValueError(f"{describe}: arguments may not contain tabs or newlines")
        payload = "".join("\t".join(fields) + "\n" for fields in commands)
        with self._lock:
            if self._process.poll() is not None or self._process.stdin is None:
                raise ResponderError(f"{describe}: the JMX responder is not running")
            try:
                self._process.stdin.write(payload)
                self._process.stdin.flush()
            except (OSError, ValueError) as exc:
                raise ResponderError(f"{describe}: the JMX responder is not running ({exc})") from None
            replies = [self._next_reply(self._reply_timeout) for _ in commands]
        errors = [reply for reply in replies if not reply.startswith("ok")]
        if errors:
            # The JVM's messages name ObjectNames and ports only; "open" arguments are never echoed.
            raise ResponderError(f"{describe}: {errors[0].partition(chr(9))[2] or errors[0]}")
        return replies

    def _next_reply(self, timeout: float) -> str:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise ResponderError(f"the JMX responder did not answer within {timeout:g}s") from None
        if reply is None:
            raise ResponderError(f"the JMX responder exited (code {self._process.wait()})")
        return reply

    def _read_replies(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._replies.put(line.rstrip("\n"))
        self._replies.put(None)

    def _log_errors(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            log.warning("sandbox JMX responder: %s", line.rstrip())
