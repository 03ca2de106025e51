"""The exporter's one long-lived JMX client: a JVM helper (``java/kafka-obs-jmx.jar``) driven over stdin/stdout.

Launching a JVM per broker per cycle cost ~0.5 s of CPU each time (JVM start, class loading, the RMI handshake),
40 times the rest of the exporter on the acme fleet. The helper is started once, on the first read (a fleet without
``jmx_ports`` never starts it), keeps one JMX connection per broker, and reads a broker's whole batch per request.
If it dies it is started again on the next read; a read in flight when it died fails with reason ``java``.

Protocol (documented in ``JmxHelper.java``): one JSON object per line each way, matched by ``id``, so reads of many
brokers from many clusters' threads share the pipe and are answered as each finishes. Credentials travel only
inside requests on the pipe: never in the JVM's command line (``ps``), environment, or any log line. The helper
enforces each read's timeout itself (a hung broker is answered "timeout" while its thread stays stuck); this side
waits a little longer, in case the helper itself hangs.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import logging
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast, get_args

from kafka_obs.exporter.jmx.query import JmxError, Query, Reason, Row

log = logging.getLogger(__name__)

JAR = Path(__file__).with_name("java") / "kafka-obs-jmx.jar"
JVM_OPTIONS: tuple[str, ...] = (
    # A small client that lives as long as the exporter: one GC thread instead of one per core, a heap that holds
    # the biggest batch many times over, no hsperfdata file in /tmp, and the C1 compiler only. Measured on acme
    # (docs/performance.md): with C2 the first 15 reads cost 3x the CPU (2.7 s instead of 0.9 s) and it kept
    # compiling while idle; it reads ~30% cheaper once warm, which repays that only after ~10 minutes.
    "-XX:+UseSerialGC",
    "-Xmx128m",
    "-Xss512k",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Xshare:auto",
    # HotSpot's housekeeping wakes a JVM that reads a few times a minute: the monitor deflation thread checks every
    # 250 ms (RMI inflates monitors) and the VM thread brings everything to a safepoint every second for cleanups
    # nothing here needs. Measured at the exporter's cadence on a real 3-broker cluster (3 reads every 30 s, the 5
    # minutes after a 5-minute settle, docs/performance.md): 52-54 ms of helper CPU a minute without these two, 38
    # with them; in a long-warm helper 38 without, 30 with the deflation check every 10 s, 22-24 with both (the
    # safepoint interval alone changed nothing). GC safepoints still
    # run the cleanups and monitors are still deflated at least once a minute (GuaranteedAsyncDeflationInterval).
    # Both flags are diagnostic and may leave a later JDK: a runtime without them ignores them rather than refusing
    # to start (tests/exporter/jmx/test_helper_jvm.py checks that each takes effect on the runtime tested).
    "-XX:+IgnoreUnrecognizedVMOptions",
    "-XX:+UnlockDiagnosticVMOptions",
    "-XX:AsyncDeflationInterval=10000",
    "-XX:GuaranteedSafepointInterval=0",
)
RESOLVE_EVERY_READS = 10
RESOLVE_MAX_AGE_SECONDS = 300.0
"""How long the helper keeps the ObjectNames a broker's batch resolved to (a pattern's ``queryNames``, an exact name
the broker does not register) before resolving them again: every 10th read of the broker or after 5 minutes, and
always on a new connection or when a pattern's MBean is gone (its series go in that read). Patterns whose MBeans
come and go with topics (``Query.keep_names`` false) are resolved on every read. Resolving costs one
RMI call per pattern and one per absent name, ~80 µs of the helper's CPU each when warm and more while its JIT is
cold: on acme that was 4 of a broker read's 26 calls (docs/performance.md)."""
REPLY_GRACE_SECONDS = 2.0
"""How much longer than a read's own timeout this side waits: the helper answers "timeout" itself, on time."""
_REASONS = frozenset(get_args(Reason))


def _reason(value: object) -> Reason:
    """The helper's reason if it is one we know; anything else is the helper breaking the protocol."""
    for reason in get_args(Reason):
        if value == reason:
            return cast("Reason", reason)
    return "protocol"


_STDERR_LINES = 20


def find_java() -> str | None:
    """``$JAVA_HOME/bin/java``, else ``java`` on ``PATH``: a runtime is enough, the helper comes compiled."""
    home = os.environ.get("JAVA_HOME")
    if home and (candidate := Path(home) / "bin" / "java").is_file():
        return str(candidate)
    return shutil.which("java")


class _NotSent(Exception):
    """The request could not be written: the helper is gone (killed between two reads). Safe to send again."""


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.error: JmxError | None = None


class _Jvm:
    """One run of the helper JVM: its pipes, its requests in flight, the last lines it printed on stderr."""

    def __init__(self, process: subprocess.Popen[bytes]):
        self.process = process
        self.ready = threading.Event()
        self.exited = False
        self.pending: dict[int, _Pending] = {}
        self.lock = threading.Lock()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        # Requests go through a writer thread: a helper that stops reading (stopped, wedged) fills the pipe, and
        # then only that thread blocks, never a cluster's worker, whose read times out as usual.
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=self._write_requests, name=f"jmx-helper-{process.pid}-in", daemon=True).start()
        threading.Thread(target=self._read_replies, name=f"jmx-helper-{process.pid}-out", daemon=True).start()
        threading.Thread(target=self._read_stderr, name=f"jmx-helper-{process.pid}-err", daemon=True).start()

    @property
    def alive(self) -> bool:
        return not self.exited and self.process.poll() is None

    def send(self, request_id: int, line: bytes) -> _Pending:
        pending = _Pending()
        with self.lock:
            if self.exited:
                raise _NotSent
            self.pending[request_id] = pending
        self._outbox.put(line)
        return pending

    def forget(self, request_id: int) -> None:
        with self.lock:
            self.pending.pop(request_id, None)

    def exit_message(self) -> str:
        code = self.process.poll()
        last = self.stderr_tail[-1] if self.stderr_tail else ""
        status = f"exited with code {code}" if code is not None else "stopped answering"
        return f"the JMX helper {status}" + (f": {last}" if last else "")

    def stop(self, timeout: float = 5.0) -> None:
        self._outbox.put(None)  # the writer closes stdin after what is queued: end of input ends the helper
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def _write_requests(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: the reader sees the exit and reports it
            while (line := self._outbox.get()) is not None:
                stdin.write(line)
                stdin.flush()
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    def _read_replies(self) -> None:
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        for raw in stdout:
            try:
                reply = json.loads(raw)
            except ValueError:
                log.warning("JMX helper: unreadable reply line", extra={"bytes": len(raw)})
                continue
            if not isinstance(reply, dict):
                continue
            if reply.get("ready") is True:
                self.ready.set()
                continue
            with self.lock:
                pending = self.pending.pop(reply.get("id"), None)  # type: ignore[arg-type]
            if pending is not None:
                pending.reply = reply
                pending.done.set()
        self.process.wait()
        with self.lock:
            self.exited = True
            orphans = list(self.pending.values())
            self.pending.clear()
        error = JmxError("java", self.exit_message())
        for pending in orphans:
            pending.error = error
            pending.done.set()
        self.ready.set()  # wake a caller still waiting for the start

    def _read_stderr(self) -> None:
        stderr: IO[bytes] | None = self.process.stderr
        assert stderr is not None
        for raw in stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            # The JVM echoes JAVA_TOOL_OPTIONS ("Picked up ..."), where a trust store password may be: never log it.
            if not line or line.startswith("Picked up "):
                continue
            self.stderr_tail.append(line[:500])
            log.warning("JMX helper: %s", line[:500])


class JmxHelper:
    """The :class:`~kafka_obs.exporter.jmx.query.JmxClient` of the exporter: thread-safe, one per process.

    ``java``/``jar``/``jvm_options`` let tests run a stand-in helper; ``connections_opened``, ``resolutions`` and
    ``starts`` are what tests (and the bench) use to show that connections, resolved names and the JVM are kept.
    """

    def __init__(
        self,
        *,
        java: str | None = None,
        jar: Path = JAR,
        jvm_options: Sequence[str] = JVM_OPTIONS,
        startup_timeout: float = 30.0,
        reply_grace: float = REPLY_GRACE_SECONDS,
        resolve_every: int = RESOLVE_EVERY_READS,
        resolve_max_age: float = RESOLVE_MAX_AGE_SECONDS,
    ):
        if resolve_every < 1 or resolve_max_age <= 0:
            raise ValueError("resolve_every must be at least 1 and resolve_max_age positive")
        self._java = java
        self._jar = jar
        self._jvm_options = tuple(jvm_options)
        self._startup_timeout = startup_timeout
        self._reply_grace = reply_grace
        self._resolve_every = resolve_every
        self._resolve_max_age_ms = max(1, round(resolve_max_age * 1000))
        self._lock = threading.Lock()
        self._jvm: _Jvm | None = None
        self._ids = itertools.count(1)
        self._closed = False
        self.starts = 0
        self.connections_opened = 0
        self.resolutions = 0

    @property
    def pid(self) -> int | None:
        """The running helper JVM's process id; ``None`` before the first read and after :meth:`close`."""
        with self._lock:
            return self._jvm.process.pid if self._jvm is not None and self._jvm.alive else None

    def query(
        self,
        url: str,
        queries: Sequence[Query],
        *,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
    ) -> list[Row]:
        if (username is None) != (password is None):
            raise ValueError("give a username and a password, or neither")
        request_id = next(self._ids)
        request: dict[str, Any] = {
            "id": request_id,
            "op": "read",
            "url": url,
            "timeout_ms": max(1, round(timeout * 1000)),
            "queries": [
                {"pattern": q.pattern, "attributes": list(q.attributes), "keep": q.keep_names} for q in queries
            ],
            "resolve_every": self._resolve_every,
            "resolve_max_age_ms": self._resolve_max_age_ms,
        }
        if username is not None:
            request["username"], request["password"] = username, password
        line = (json.dumps(request, separators=(",", ":")) + "\n").encode()
        try:
            jvm = self._running()
            pending = jvm.send(request_id, line)
        except _NotSent:
            jvm = self._running()  # it died since the last read: this one starts a new helper
            try:
                pending = jvm.send(request_id, line)
            except _NotSent:
                raise JmxError("java", jvm.exit_message()) from None
        if not pending.done.wait(timeout + self._reply_grace):
            jvm.forget(request_id)
            self._abandon(jvm)
            raise JmxError("timeout", f"no answer within {timeout:g}s")
        if pending.error is not None:
            raise pending.error
        return self._rows(pending.reply or {}, password)

    def close(self) -> None:
        """Stop the JVM (it closes every broker connection). Later reads fail with reason ``java``. Idempotent."""
        with self._lock:
            jvm, self._jvm, self._closed = self._jvm, None, True
        if jvm is not None:
            jvm.stop()

    def _rows(self, reply: dict[str, Any], password: str | None) -> list[Row]:
        if reply.get("ok") is True and isinstance(reply.get("rows"), list):
            with self._lock:
                self.connections_opened += reply.get("connected") is True
                self.resolutions += reply.get("resolved") is True
            try:
                return [Row(str(name), str(attribute), key, value) for name, attribute, key, value in reply["rows"]]
            except (TypeError, ValueError):
                raise JmxError("protocol", "the JMX helper sent a malformed row") from None
        reason = reply.get("reason")
        message = " ".join(str(reply.get("message") or "no message").split())[:500]
        if password:
            message = message.replace(password, "***")
        raise JmxError(_reason(reason), message)

    def _abandon(self, jvm: _Jvm) -> None:
        """The helper answers every read by its deadline, even for a hung broker; one that did not is wedged (or
        stopped): kill it, which fails its other reads at once, and the next read starts a new one."""
        with self._lock:
            if self._jvm is not jvm or not jvm.alive:
                return
            log.warning("JMX helper missed a read's deadline, starting it again", extra={"pid": jvm.process.pid})
            with jvm.lock:
                jvm.exited = True  # from now on, reads go to a new helper; its reads in flight fail at its exit
            jvm.process.kill()

    def _running(self) -> _Jvm:
        """The helper JVM, started now if it is not running (first read, or it died since the last one)."""
        with self._lock:
            if self._closed:
                raise JmxError("java", "the JMX helper is closed (the exporter is stopping)")
            if self._jvm is not None and self._jvm.alive:
                return self._jvm
            if self._jvm is not None:
                log.warning("JMX helper is gone, starting it again", extra={"err": self._jvm.exit_message()})
            self._jvm = self._start()
            return self._jvm

    def _start(self) -> _Jvm:
        java = self._java or find_java()
        if java is None:
            raise JmxError("java", "java not found on PATH or in JAVA_HOME: broker JMX needs a Java 17+ runtime")
        try:
            process = subprocess.Popen(
                [java, *self._jvm_options, "-jar", str(self._jar)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise JmxError("java", f"cannot run {java!r}: {exc.strerror or exc}") from None
        self.starts += 1
        jvm = _Jvm(process)
        if not jvm.ready.wait(self._startup_timeout) or not jvm.alive:
            message = jvm.exit_message() if jvm.exited else f"did not start within {self._startup_timeout:g}s"
            jvm.stop(timeout=2.0)
            raise JmxError("java", message if jvm.exited else f"the JMX helper {message}")
        log.info("JMX helper started", extra={"pid": process.pid})
        return jvm
