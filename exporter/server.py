"""The HTTP side: ``/metrics``, ``/healthz``, ``/ready`` and a small landing page at ``/``.

It only reads the :class:`~kafka_obs.exporter.store.SnapshotStore` and never touches Kafka, so a scrape costs the
same whether clusters are fast, slow or down. The standard library's threading server is enough: a scrape is a
cached-bytes write (gzip when the scraper accepts it, which Prometheus does).
"""

from __future__ import annotations

import html
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kafka_obs import __version__
from kafka_obs.clock import Clock
from kafka_obs.exporter.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, wants_openmetrics
from kafka_obs.exporter.store import SnapshotStore

log = logging.getLogger(__name__)


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


class _Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: without this, delayed ACKs add ~40 ms

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        store = self.server.store
        if path == "/metrics":
            openmetrics = wants_openmetrics(self.headers.get("Accept"))
            gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
            body = store.body(openmetrics=openmetrics, gzipped=gzipped)
            content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
            self._send(HTTPStatus.OK, body, content_type, gzipped=gzipped)
        elif path == "/healthz":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/ready":
            if store.ready():
                self._send(HTTPStatus.OK, b"ready\n", "text/plain; charset=utf-8")
            else:
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE, b"waiting for the first cycle\n", "text/plain; charset=utf-8"
                )
        elif path == "/":
            page = landing_page(store, self.server.clock, self.server.redact)
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, *, gzipped: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http " + format, *args)


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 drops SYNs of concurrent scrapers: 1 s retransmit stalls

    def __init__(
        self, address: tuple[str, int], store: SnapshotStore, clock: Clock, redact: Callable[[str], str] = str
    ):
        self.store = store
        self.clock = clock
        self.redact = redact
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)
