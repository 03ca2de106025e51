"""The store builds the bodies being scraped right after a cycle is published, in the publishing thread, so the
first scrape after a cycle only reads a cache; what nobody scrapes is never built."""

from __future__ import annotations

import gzip

import httpx
import pytest

from kafka_obs.clock import ManualClock
from kafka_obs.exporter import store as store_module
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.exposition import RenderedFamilies, assemble
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeGroup, FakeKafka
from tests.exporter.scrape import parse, value

PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def _no_assembly(parts: list[RenderedFamilies], *, openmetrics: bool, gzipped: bool = False) -> bytes:
    raise AssertionError("a scrape assembled a body")


def test_a_scrape_after_a_cycle_does_no_rendering_work(
    clock: ManualClock, kafka: FakeKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka.groups["billing"] = FakeGroup(committed={("orders", 0): 0})
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    server = exporter.serve("127.0.0.1", 0)
    headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5, headers=headers) as http:
            exporter.collect_once()
            http.get("/metrics")  # the first scrape of this format and encoding builds it: now it is asked for
            kafka.produce("orders", 0, 42)
            clock.advance(30)
            exporter.collect_once()  # publishing builds the asked-for body ahead

            monkeypatch.setattr(store_module, "assemble", _no_assembly)
            assemblies = exporter.store.assemblies
            response = http.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-encoding"] == "gzip"
            assert exporter.store.assemblies == assemblies
            assert value(parse(response.content.removesuffix(b"# EOF\n")), "kafka_consumergroup_lag") == 42
    finally:
        exporter.stop()


def test_only_the_bodies_scraped_since_the_last_cycle_are_built_ahead(clock: ManualClock, kafka: FakeKafka) -> None:
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    store = exporter.store
    exporter.collect_once()
    assert store.assemblies == 0  # nothing scraped yet: nothing built
    store.body(openmetrics=False, gzipped=True)
    assert store.assemblies == 1
    clock.advance(30)
    exporter.collect_once()
    assert store.assemblies == 2  # the gzipped text body, ahead
    clock.advance(30)
    exporter.collect_once()
    assert store.assemblies == 2  # not scraped during the last cycle: not built again until asked


def test_a_body_built_ahead_is_the_body_a_scrape_would_build(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.groups["billing"] = FakeGroup(committed={("orders", 1): 3})
    exporter = Exporter(
        fleet(cluster_config("alpha"), cluster_config("beta")), clock=clock, client_factory=lambda c: kafka
    )
    store = exporter.store
    exporter.collect_once()
    for openmetrics in (False, True):
        for gzipped in (False, True):
            store.body(openmetrics=openmetrics, gzipped=gzipped)
    kafka.produce("orders", 1, 10)
    clock.advance(30)
    exporter.collect_once()
    rendered = [store.latest(name) for name in ("alpha", "beta")]
    parts = [p for r in rendered if r is not None for p in (r.always, r.kafka, r.plugins)]
    for openmetrics in (False, True):
        plain = store.body(openmetrics=openmetrics)
        assert plain == assemble(parts, openmetrics=openmetrics)
        assert gzip.decompress(store.body(openmetrics=openmetrics, gzipped=True)) == plain
    assert value(parse(store.body(openmetrics=False)), "kafka_consumergroup_lag", cluster="beta") == 7
