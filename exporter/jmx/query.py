"""Running jmxquery's bundled Java client: one JVM launch per broker per cycle, every MBean pattern at once.

We use jmxquery's jar and its query syntax (``JMXQuery.to_query_string``) but not its ``JMXConnection.query``,
because of what that method does (jmxquery 0.6, read from its source):

* it logs the whole command line at DEBUG, password included, and puts the password in the JVM's argv, where
  every local user can read it in ``ps``;
* on a timeout it logs and returns an empty list, so a hung broker looks like a healthy broker without MBeans;
* it offers no way to pass JVM options (a smaller, faster-starting JVM).

So this module builds the same command, hands the arguments (credentials included) to the ``java`` launcher as an
argument file on stdin (``java @/dev/stdin``: expanded by the launcher, never visible in argv), enforces the timeout
by killing the JVM, and turns the jar's three ways of failing into :class:`JmxError` with a reason: exit code 2
and a JSON error on stdout (connection or query errors), exit code 1 and an uncaught exception on stderr (failed
authentication), or no answer in time.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jmxquery import JAR_PATH, JMXQuery

Reason = Literal["unreachable", "authentication", "timeout", "java", "protocol"]

DEFAULT_JVM_OPTIONS: tuple[str, ...] = (
    # The client lives for about a second: skip the optimising JIT and the parallel GC threads. Measured in
    # bench/bench_jmx.py: half the CPU of the JVM's defaults on a 600-partition broker (0.58 s instead of 1.15 s).
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-Xmx64m",
)

Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


class JmxError(Exception):
    """One broker's batch failed. ``str()`` is safe to log: it never contains credentials."""

    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class Row:
    """One attribute value as the jar reports it; ``key`` is set for a CompositeData item (``used`` of a
    ``HeapMemoryUsage``)."""

    object_name: str
    attribute: str
    key: str | None
    value: Any


def service_url(host: str, port: int) -> str:
    """The JMX/RMI URL Kafka's ``JMX_PORT`` setting serves (registry and connector on the same port)."""
    bracketed = f"[{host}]" if ":" in host else host
    return f"service:jmx:rmi:///jndi/rmi://{bracketed}:{port}/jmxrmi"


def _argfile_quote(arg: str) -> str:
    """Quote one argument for a java launcher ``@argfile`` (quotes keep spaces; backslash escapes inside)."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class JmxQueryClient:
    """Runs one query batch against one JMX endpoint with jmxquery's jar.

    ``run`` is injectable so the error handling can be tested without a JVM; it receives ``subprocess.run``'s
    arguments.
    """

    def __init__(
        self,
        *,
        java: str = "java",
        jar: str = JAR_PATH,
        jvm_options: Sequence[str] = DEFAULT_JVM_OPTIONS,
        run: Runner = subprocess.run,
    ):
        self._java = java
        self._jar = jar
        self._jvm_options = tuple(jvm_options)
        self._run = run

    def query(
        self,
        url: str,
        queries: Sequence[JMXQuery],
        *,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
    ) -> list[Row]:
        args = ["-jar", self._jar, "-url", url, "-json"]
        if username is not None and password is not None:
            args += ["-u", username, "-p", password]
        args += ["-q", "".join(q.to_query_string() + ";" for q in queries)]
        argfile = "\n".join(_argfile_quote(a) for a in args) + "\n"
        try:
            done = self._run(
                [self._java, *self._jvm_options, "@/dev/stdin"],
                input=argfile.encode(),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise JmxError("timeout", f"no answer within {timeout:g}s") from None
        except OSError as exc:
            raise JmxError("java", f"cannot run {self._java!r}: {exc.strerror or exc}") from None
        return self._parse(done, password)

    @staticmethod
    def _parse(done: subprocess.CompletedProcess[bytes], password: str | None) -> list[Row]:
        stdout = done.stdout.decode("utf-8", "replace")
        stderr = done.stderr.decode("utf-8", "replace")

        def scrub(text: str) -> str:
            text = " ".join(text.split())[:500]
            return text.replace(password, "***") if password else text

        if done.returncode != 0:
            try:
                error = json.loads(stdout, strict=False)
            except ValueError:
                error = None
            if isinstance(error, dict) and "error" in error:
                kind, message = str(error["error"]), scrub(str(error.get("message", "")))
                reason: Reason = "unreachable" if "connection" in kind else "protocol"
                if "Authentication failed" in message or "SecurityException" in message:
                    reason = "authentication"
                raise JmxError(reason, f"{kind}: {message}")
            # An uncaught exception: its first line names it ("Exception in thread "main" java.lang.X: message").
            first = next((line for line in stderr.splitlines() if line.strip()), stdout.strip() or "no output")
            first = first.split('"main" ', 1)[-1]
            if "SecurityException" in first or "Authentication failed" in first:
                raise JmxError("authentication", f"authentication failed: {scrub(first)}")
            raise JmxError("protocol", f"JMX client exited with code {done.returncode}: {scrub(first)}")
        try:
            items = json.loads(stdout, strict=False)
        except ValueError:
            raise JmxError("protocol", f"unreadable JMX client output: {scrub(stdout[:200])}") from None
        if not isinstance(items, list):
            raise JmxError("protocol", "unexpected JMX client output")
        return [
            Row(
                object_name=str(item["mBeanName"]),
                attribute=str(item["attribute"]),
                key=item.get("attributeKey"),
                value=item.get("value"),
            )
            for item in items
            if isinstance(item, dict) and "mBeanName" in item and "attribute" in item
        ]
