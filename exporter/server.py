"""The HTTP side: ``/metrics``, ``/healthz``, ``/ready`` and a small landing page at ``/``.

It only reads the :class:`~kafka_obs.exporter.store.SnapshotStore` and never touches Kafka, so a scrape costs the
same whether clusters are fast, slow or down.

The port is reachable by anyone who can reach a scrape target, so the server is built to survive clients that
do not behave: one asyncio event loop (one thread) owns every socket, so an idle or trickling connection costs a
file descriptor and a few KiB, never a thread. A request's headers must arrive within ``header_timeout`` of its
first byte (a slowloris client trickling a byte a second is cut off), an idle keep-alive connection is closed
after ``idle_timeout``, a response must be taken by the client within ``write_timeout``, and headers are limited
in size. At most ``max_connections`` are open; when a new one arrives at the cap, the connection that has waited
longest for its next request is closed to make room, so a flood of idle clients cannot lock scrapers out. The
responses themselves (a cached body, or its assembly when a snapshot changed) are produced by a small fixed pool
of worker threads, so the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import http.client
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus

from kafka_obs import __version__
from kafka_obs.clock import Clock
from kafka_obs.exporter.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, negotiate
from kafka_obs.exporter.store import SnapshotStore

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
"""Request line plus headers; Prometheus sends well under 1 KiB."""
WRITE_CHUNK = 256 * 1024
"""A body is written in chunks of this size, each waited for: a client that reads slowly holds one chunk of
buffer, not a copy of the whole body."""
_PLAIN = "text/plain; charset=utf-8"
_READY = {True: b"ready\n", False: b"waiting for the first cycle\n"}


def parse_listen_address(address: str) -> tuple[str, int]:
    """node_exporter style: ``:9308`` (all interfaces), ``127.0.0.1:9308``, ``[::1]:9308``."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--web.listen-address: expected [host]:port, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - binding every interface is what ':9308' means


def landing_page(store: SnapshotStore, clock: Clock, redact: Callable[[str], str]) -> bytes:
    """The state of every cluster; a cycle's error is a client library's text, so it is redacted before shown."""
    now = clock.now()
    rows = []
    snapshots = store.snapshots()
    for name in store.clusters:
        snap = snapshots.get(name)
        if snap is None:
            state, detail = "pending", "first cycle not finished"
        else:
            state = "up" if snap.up else ("down" if snap.is_fresh(now) else "down, series dropped")
            age = now - snap.last_success if snap.last_success is not None else None
            detail = f"last success {age:.0f}s ago" if age is not None else "never succeeded"
            if snap.error:
                detail += f"; {redact(snap.error)}"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{state}</td><td>{html.escape(detail)}</td></tr>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>kafka-obs exporter</title></head>
<body><h1>kafka-obs exporter</h1><p>version {__version__}</p>
<ul><li><a href="/metrics">metrics</a></li><li><a href="/healthz">healthz</a></li>
<li><a href="/ready">ready</a></li></ul>
<table border="1" cellpadding="4"><tr><th>cluster</th><th>state</th><th>detail</th></tr>
{"".join(rows)}
</table></body></html>
"""
    return page.encode()


@dataclass(frozen=True)
class Response:
    status: HTTPStatus
    body: bytes
    content_type: str = _PLAIN
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ServerLimits:
    """How much a client may cost; the defaults suit Prometheus scraping every few seconds to minutes."""

    max_connections: int = 512
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    write_timeout: float = 30.0
    workers: int = 4


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    waiting_since: float | None = None
    """Loop time since when the connection waits for a request (None while one is being answered)."""
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


class ExporterHTTPServer:
    """Serves the store on ``address``; :meth:`start` runs the event loop in a background thread."""

    def __init__(
        self,
        address: tuple[str, int],
        store: SnapshotStore,
        clock: Clock,
        redact: Callable[[str], str] = str,
        limits: ServerLimits | None = None,
    ):
        self.store = store
        self.clock = clock
        self.redact = redact
        self.limits = limits or ServerLimits()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        # bound here, so a port in use fails the command at once, and port 0 is known before start()
        self._socket = socket.create_server(address, family=family, backlog=128, reuse_port=False)
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="http-worker")
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._started = threading.Event()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            with contextlib.suppress(Exception):
                future.result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        else:
            self._socket.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, sock=self._socket, limit=MAX_HEADER_BYTES)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.writer.close()
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    # -- connections ---------------------------------------------------------------------------------------------

    def _make_room(self) -> bool:
        """At the cap, close the connection that has waited longest for a request; False if all are busy."""
        if len(self._connections) < self.limits.max_connections:
            return True
        waiting = [c for c in self._connections if c.waiting_since is not None]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.waiting_since or 0.0)
        self._close(oldest)
        return True

    def _close(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        connection.writer.close()
        if connection.task is not None and connection.task is not asyncio.current_task():
            connection.task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._make_room():  # every connection is being answered: a rare, short state, so say so and go
            busy = _error(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections, try again", (("Retry-After", "1"),))
            writer.write(_head(busy, keep_alive=False) + busy.body)
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and socket.create_server's (and
            # so every accepted one's) is 0: without this, a body written after its headers waits ~40 ms for the
            # client's delayed ACK (measured: /healthz 44 ms instead of 1 ms)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(writer, task=asyncio.current_task())
        self._connections.add(connection)
        try:
            while await self._one_request(reader, connection):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.CancelledError):
            pass  # the client went away, was too slow, or was evicted: nothing to answer, nothing worth a log line
        finally:
            self._connections.discard(connection)
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, connection: _Connection) -> bool:
        """Read and answer one request; False when the connection is to be closed."""
        loop = asyncio.get_running_loop()
        connection.waiting_since = loop.time()
        async with asyncio.timeout(self.limits.idle_timeout):
            first = await reader.read(1)
        if not first:
            return False
        try:
            async with asyncio.timeout(self.limits.header_timeout):
                head = first + await reader.readuntil(b"\r\n\r\n")
        except (asyncio.LimitOverrunError, ValueError):
            too_large = _error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers too large")
            await self._write(connection, "GET", too_large)
            return False
        connection.waiting_since = None
        try:
            method, target, keep_alive, headers = _parse(head)
        except _BadRequest as exc:
            await self._write(connection, "GET", _error(exc.status, str(exc)))
            return False
        try:
            response = await loop.run_in_executor(self._pool, self.respond, method, target, headers)
        except Exception:  # a bug: the client gets a 500 and the log a traceback, the server goes on
            log.exception("request failed", extra={"method": method, "path": target[:200]})
            response = _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        await self._write(connection, method, response, keep_alive=keep_alive)
        return keep_alive

    async def _write(
        self, connection: _Connection, method: str, response: Response, *, keep_alive: bool = False
    ) -> None:
        writer = connection.writer
        head = _head(response, keep_alive=keep_alive)
        view = memoryview(b"" if method == "HEAD" else response.body)
        async with asyncio.timeout(self.limits.write_timeout):  # the whole response, not each chunk
            writer.write(head + view[:WRITE_CHUNK])  # one segment for every small response
            for start in range(WRITE_CHUNK, len(view), WRITE_CHUNK):
                await writer.drain()
                writer.write(view[start : start + WRITE_CHUNK])
            await writer.drain()

    # -- routing (runs on a worker thread) -----------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: http.client.HTTPMessage) -> Response:
        path = target.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return _error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD", (("Allow", "GET, HEAD"),))
        if path == "/metrics":
            return self._metrics(headers)
        if path == "/healthz":
            return Response(HTTPStatus.OK, b"ok\n")
        if path == "/ready":
            ready = self.store.ready()
            return Response(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, _READY[ready])
        if path == "/":
            page = landing_page(self.store, self.clock, self.redact)
            return Response(HTTPStatus.OK, page, "text/html; charset=utf-8")
        return _error(HTTPStatus.NOT_FOUND, "not found")

    def _metrics(self, headers: http.client.HTTPMessage) -> Response:
        choice = negotiate(headers.get("Accept"), headers.get("Accept-Encoding"))
        if choice is None:
            return _error(HTTPStatus.NOT_ACCEPTABLE, "no acceptable format or encoding")
        body = self.store.body(openmetrics=choice.openmetrics, gzipped=choice.gzip)
        content_type = OPENMETRICS_CONTENT_TYPE if choice.openmetrics else TEXT_CONTENT_TYPE
        extra = (("Content-Encoding", "gzip"),) if choice.gzip else ()
        return Response(HTTPStatus.OK, body, content_type, (*extra, ("Vary", "Accept, Accept-Encoding")))


def _head(response: Response, *, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status.value} {response.status.phrase}"]
    lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _error(status: HTTPStatus, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, f"{reason}\n".encode(), _PLAIN, headers)


def _parse(head: bytes) -> tuple[str, str, bool, http.client.HTTPMessage]:
    """Request line and headers of one request; a request with a body is refused (no endpoint takes one)."""
    line, _, rest = head.partition(b"\r\n")
    parts = line.decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target, version = parts
    try:
        headers = http.client.parse_headers(_Lines(rest))
    except http.client.HTTPException as exc:
        raise _BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"bad headers: {exc}") from None
    if headers.get("Transfer-Encoding") or (headers.get("Content-Length") or "0").strip() != "0":
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "a request body is not accepted")
    connection = (headers.get("Connection") or "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    return method, target, keep_alive, headers


class _Lines:
    """The ``readline`` that :func:`http.client.parse_headers` wants, over bytes already read."""

    def __init__(self, data: bytes):
        self._lines = data.splitlines(keepends=True)

    def readline(self, limit: int = -1) -> bytes:
        return self._lines.pop(0) if self._lines else b""
