"""The webhook's HTTP server: uvicorn with the defences a server on an open port needs against slow clients.

uvicorn on its own waits forever for a request's headers and accepts connections until the process runs out of
file descriptors; 200 connections trickling one header byte a second were enough to make ``/healthz`` and
``/alerts`` time out and to fill the log with "Too many open files". Here:

* **header timeout** — a connection must deliver a request's complete headers within ``limits.header_timeout`` of
  its first byte (or of connecting); otherwise it gets 408 and is closed. A keep-alive connection's next request
  gets the same budget.
* **connection cap** — at most ``limits.max_connections`` open connections, never more than the file-descriptor
  limit minus a reserve for the database, logs and outgoing clients. When a new connection would exceed it, the
  connection that has waited longest *for its headers* is closed: a real client sends its headers in
  milliseconds, so the one still sending them after the others is the slowloris, and a new client always gets in.
* **body timeout** — enforced in the ``/alerts`` handler (``limits.body_timeout``, 408).
* repeated log lines are rate-limited (:class:`kafka_obs.logs.RateLimitFilter`, installed by the CLI).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

FD_RESERVE = 64
"""File descriptors kept for everything that is not an inbound connection (SQLite, logs, clients, the listener)."""

CLOSING_RESPONSES = {
    "header timeout": b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    "connection cap": b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Length: 0\r\n\r\n",
}


def connection_limits(configured: int) -> tuple[int, int]:
    """(connection cap, listen backlog) that keep accept() from ever failing with EMFILE.

    asyncio accepts up to ``backlog`` connections in one go before any of them reaches :class:`ConnectionGuard`,
    so the cap *plus* one such batch must fit under the file-descriptor limit (minus a reserve). When accept() does
    fail with EMFILE, asyncio's retry path logs an error per attempt and can stall the listener: the one failure
    this must prevent.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    available = configured * 2 if soft == resource.RLIM_INFINITY else max(16, soft - FD_RESERVE)
    cap = max(8, min(configured, available * 3 // 4))
    backlog = max(8, min(2048, available - cap))
    return cap, backlog


class ConnectionGuard:
    """Shared by every connection of one server: which are still waiting for headers, and since when."""

    def __init__(
        self, *, max_connections: int, header_timeout: float, on_close: Callable[[str], None] = lambda _reason: None
    ):
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.on_close = on_close
        self.waiting: dict[GuardedH11Protocol, float] = {}
        """Connections without complete headers, oldest first (dicts keep insertion order)."""

    def admit(self, new: GuardedH11Protocol, open_connections: int) -> None:
        """Called with ``new`` already counted: over the cap, close the connection waiting longest for headers."""
        if open_connections <= self.max_connections:
            return
        victim = next(iter(self.waiting), None)
        if victim is None:  # every other connection is busy with a real request: refuse the newcomer instead
            victim = new
        victim.close_for("connection cap")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and the connection cap of its :class:`ConnectionGuard`."""

    guard: ConnectionGuard  # set on the per-server subclass made by :func:`protocol_class`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()
        self.guard.admit(self, len(self.connections))

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._await_headers()  # the next request on a keep-alive connection: the same budget again
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._headers_done()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self.guard.waiting[self] = self.loop.time()
        self._header_timer = self.loop.call_later(self.guard.header_timeout, self._header_timeout)

    def _headers_done(self) -> None:
        self.guard.waiting.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE:
            self.close_for("header timeout")

    def close_for(self, reason: str) -> None:
        self._headers_done()
        if self.transport.is_closing():
            return
        self.guard.on_close(reason)
        try:
            self.transport.write(CLOSING_RESPONSES[reason])
        finally:
            self.transport.close()


def protocol_class(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """A protocol class bound to one server's guard (uvicorn instantiates the class it is given per connection)."""
    return type("GuardedH11ProtocolForServer", (GuardedH11Protocol,), {"guard": guard})
