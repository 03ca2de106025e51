"""The HTTP server over a real loopback socket: it serves cached snapshots and never calls Kafka."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.server import ExporterHTTPServer, Response, ServerLimits, parse_listen_address
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeKafka
from tests.exporter.scrape import parse, value


@pytest.fixture
def served(clock: ManualClock, kafka: FakeKafka):
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    server = exporter.serve("127.0.0.1", 0)
    yield exporter, f"http://127.0.0.1:{server.port}"
    exporter.stop()


def test_endpoints(served, kafka: FakeKafka) -> None:
    exporter, url = served
    with httpx.Client(base_url=url, timeout=5) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/ready").status_code == 503
        assert http.get("/nope").status_code == 404
        exporter.collect_once()
        assert http.get("/ready").status_code == 200
        calls = len(kafka.calls)

        text = http.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert value(parse(text.content), "kafka_topic_partitions", topic="orders") == 3

        om = http.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.endswith("# EOF\n")

        raw = httpx.get(url + "/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert raw.headers["content-encoding"] == "gzip"
        assert value(parse(raw.content), "kafka_brokers") == 3  # httpx decoded the gzip body

        page = http.get("/")
        assert "alpha" in page.text
        assert "up" in page.text
        assert len(kafka.calls) == calls  # scrapes never reach Kafka


def test_gzip_body_is_the_text_body(served) -> None:
    exporter, _ = served
    exporter.collect_once()
    plain = exporter.store.body(openmetrics=False)
    assert gzip.decompress(exporter.store.body(openmetrics=False, gzipped=True)) == plain
    assert exporter.store.body(openmetrics=False) is plain  # cached until a snapshot changes


def test_listen_address() -> None:
    assert parse_listen_address(":9308") == ("0.0.0.0", 9308)
    assert parse_listen_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen_address("[::1]:9308") == ("::1", 9308)
    with pytest.raises(ValueError, match="listen-address"):
        parse_listen_address("localhost")


class Tricklers:
    """``n`` connections sending a request's header one byte at a time, all driven by one thread (a slowloris)."""

    def __init__(self, port: int, n: int, every: float = 0.2):
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(n)]
        self.every = every
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        request = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nX-Padding: " + b"x" * 10_000
        position = 0
        while not self._stop.wait(self.every):
            for sock in list(self.sockets):
                try:
                    sock.send(request[position % len(request) : position % len(request) + 1])
                except OSError:
                    self.sockets.remove(sock)
                    self.closed_by_server += 1
            position += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


@contextmanager
def serving(kafka: FakeKafka, clock: ManualClock, limits: ServerLimits) -> Iterator[ExporterHTTPServer]:
    """A server with ``limits`` over a store holding one collected cycle; stopped (with the exporter) on exit."""
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    exporter.collect_once()
    server = ExporterHTTPServer(("127.0.0.1", 0), exporter.store, clock, limits=limits)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        exporter.stop()


@contextmanager
def trickling(port: int, n: int, every: float = 0.2) -> Iterator[Tricklers]:
    tricklers = Tricklers(port, n, every)
    try:
        yield tricklers
    finally:
        tricklers.close()


def test_200_trickling_connections_neither_stop_scrapes_nor_grow_threads(clock: ManualClock, kafka: FakeKafka) -> None:
    threads_before = threading.active_count()
    with serving(kafka, clock, ServerLimits()) as server, trickling(server.port, 200):
        time.sleep(1.0)  # every trickler connected and sending
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as http:
            for _ in range(5):
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                metrics = http.get("/metrics")
                assert metrics.status_code == 200
                assert value(parse(metrics.content), "kafka_cluster_up") == 1
                assert time.monotonic() - started < 5.0  # milliseconds on a quiet machine; generous for CI
        # the server: one event-loop thread and at most `workers` pool threads; the tricklers: one thread
        assert threading.active_count() <= threads_before + 1 + ServerLimits().workers + 1


def test_a_trickler_is_cut_off_at_the_header_timeout(clock: ManualClock, kafka: FakeKafka) -> None:
    with serving(kafka, clock, ServerLimits(header_timeout=1.0)) as server, trickling(server.port, 20, 0.1) as t:
        deadline = time.monotonic() + 10
        while t.closed_by_server < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert t.closed_by_server == 20


def test_at_the_connection_cap_the_longest_waiting_connection_makes_room(clock: ManualClock, kafka: FakeKafka) -> None:
    with serving(kafka, clock, ServerLimits(max_connections=50)) as server, trickling(server.port, 200) as t:
        time.sleep(0.5)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as http:
            for _ in range(5):
                assert http.get("/metrics").status_code == 200
                assert http.get("/healthz").status_code == 200
        deadline = time.monotonic() + 10  # a trickler notices its closed socket on a later byte
        while t.closed_by_server < 150 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert t.closed_by_server >= 150


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        (b"NONSENSE\r\n\r\n", 400),
        (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 400),
        (b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ],
    ids=["huge-header", "bad-request-line", "body", "method", "chunked"],
)
def test_bad_requests_get_a_4xx_with_the_reason(served, request_bytes: bytes, status: int) -> None:
    _, url = served
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request_bytes)
        answer = sock.recv(65536)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]


def test_head_answers_like_get_without_a_body(served) -> None:
    exporter, url = served
    exporter.collect_once()
    with httpx.Client(base_url=url, timeout=5) as http:
        for path in ("/metrics", "/healthz", "/"):
            get = http.get(path, headers={"Accept-Encoding": "identity"})
            head = http.head(path, headers={"Accept-Encoding": "identity"})
            assert head.status_code == get.status_code == 200
            assert head.headers["content-type"] == get.headers["content-type"]
            assert head.headers["content-length"] == str(len(get.content))
            assert head.content == b""


def test_metrics_honours_q_zero_over_http(served) -> None:
    exporter, url = served
    exporter.collect_once()
    with httpx.Client(base_url=url, timeout=5) as http:
        refused_gzip = http.get("/metrics", headers={"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in refused_gzip.headers
        assert value(parse(refused_gzip.content), "kafka_cluster_up") == 1
        refused_om = http.get("/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0;q=0"})
        assert refused_om.headers["content-type"].startswith("text/plain; version=0.0.4")
        nothing = http.get("/metrics", headers={"Accept": "text/plain;q=0, application/openmetrics-text;q=0"})
        assert nothing.status_code == 406


def test_when_every_connection_is_being_answered_a_new_one_gets_503(
    clock: ManualClock, kafka: FakeKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    entered = threading.Event()
    with serving(kafka, clock, ServerLimits(max_connections=1)) as server:
        respond = server.respond

        def slow_respond(*args: Any) -> Response:
            entered.set()
            release.wait(10)
            return respond(*args)

        monkeypatch.setattr(server, "respond", slow_respond)
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as busy:
                busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert entered.wait(5)
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as refused:
                    answer = refused.recv(65536)
                assert answer.startswith(b"HTTP/1.1 503 ")
                assert b"Retry-After: 1" in answer
                release.set()
                assert busy.recv(65536).startswith(b"HTTP/1.1 200 ")
        finally:
            release.set()
