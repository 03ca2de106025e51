"""The HTTP server over a real loopback socket: it serves cached snapshots and never calls Kafka."""

from __future__ import annotations

import gzip

import httpx
import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.server import parse_listen_address
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeKafka
from tests.exporter.scrape import parse, value


@pytest.fixture
def served(clock: ManualClock, kafka: FakeKafka):  # type: ignore[no-untyped-def]
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    server = exporter.serve("127.0.0.1", 0)
    yield exporter, f"http://127.0.0.1:{server.port}"
    exporter.stop()


def test_endpoints(served, kafka: FakeKafka) -> None:  # type: ignore[no-untyped-def]
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


def test_gzip_body_is_the_text_body(served) -> None:  # type: ignore[no-untyped-def]
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
