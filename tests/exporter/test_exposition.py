"""Exposition bytes, checked by prometheus_client's own text and OpenMetrics parsers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from prometheus_client.registry import Collector

from kafka_obs.clock import ManualClock
from kafka_obs.exporter.app import Exporter
from kafka_obs.exporter.exposition import RenderedFamilies, assemble, format_value, negotiate, render_samples
from kafka_obs.exporter.families import Family, FamilyBuilder
from tests.exporter.conftest import cluster_config, fleet
from tests.exporter.fakes import FakeGroup, FakeKafka


def two_clusters() -> list[RenderedFamilies]:
    parts = []
    for name in ("a", "b"):
        out = FamilyBuilder()
        out.add("kafka_cluster_up", 1)
        out.add("kafka_consumergroup_lag", 5, 'we"ird\\group\nname', "t", "0")
        out.add("kafka_exporter_kafka_requests_total", 7, "Metadata")
        out.add("kafka_consumergroup_max_lag_seconds", 1.25, "g")
        parts.append(render_samples({"cluster": name, "region": "r", "environment": "e"}, out.build()))
    return parts


def test_text_format_groups_each_family_once_across_clusters() -> None:
    body = assemble(two_clusters(), openmetrics=False).decode()
    families = {f.name: f for f in parse_text(body)}
    assert body.count("# TYPE kafka_consumergroup_lag gauge") == 1
    lag = families["kafka_consumergroup_lag"]
    assert {s.labels["cluster"] for s in lag.samples} == {"a", "b"}
    assert lag.samples[0].labels["consumergroup"] == 'we"ird\\group\nname'
    assert families["kafka_exporter_kafka_requests"].type == "counter"
    assert families["kafka_consumergroup_max_lag_seconds"].samples[0].value == 1.25


def test_openmetrics_parses_strictly() -> None:
    body = assemble(two_clusters(), openmetrics=True).decode()
    assert body.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(body)}
    counter = families["kafka_exporter_kafka_requests"]
    assert counter.type == "counter"
    assert [s.value for s in counter.samples if s.name.endswith("_total")] == [7, 7]


def test_values() -> None:
    assert format_value(3.0) == "3"
    assert format_value(-1) == "-1"
    assert format_value(0.5) == "0.5"
    assert format_value(math.nan) == "NaN"
    assert format_value(math.inf) == "+Inf"


PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("accept", "encoding", "expected"),
    [
        (None, None, (False, False)),
        ("", "", (False, False)),
        (PROMETHEUS_2, "gzip", (True, True)),
        ("text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5", "gzip", (False, True)),
        ("application/openmetrics-text; version=1.0.0", None, (True, False)),
        ("application/openmetrics-text;version=1.0.0;q=0,text/plain;q=0.5", None, (False, False)),
        ("application/openmetrics-text;q=0", None, (False, False)),  # refused: the default text format instead
        ("application/openmetrics-text;version=2.0.0", None, (False, False)),  # a version we do not make
        ("application/openmetrics-text;version=0.0.1", None, (True, False)),
        ("application/*;q=0.9,text/plain;q=0.8", None, (True, False)),
        ("*/*", None, (False, False)),
        ("application/json", None, (False, False)),  # nothing we make: the default, as client libraries do
        ("application/openmetrics-text,text/plain", None, (True, False)),  # a tie: the client's order
        ("text/plain,application/openmetrics-text", None, (False, False)),
        ("application/openmetrics-text;q=bogus,text/plain;q=0.1", None, (False, False)),  # bad q: element ignored
        (None, "gzip;q=0", (False, False)),
        (None, "gzip;q=0, identity", (False, False)),
        (None, "GZIP", (False, True)),
        (None, "x-gzip", (False, True)),
        (None, "*", (False, True)),
        (None, "*;q=0.5, identity;q=1", (False, False)),
        (None, "gzip;q=0.2, identity;q=0.8", (False, False)),
        (None, "deflate, br", (False, False)),
        (None, "identity", (False, False)),
        (None, "gzip;q=0.5", (False, True)),
        (None, "br, gzip;q=0.001", (False, True)),
    ],
)
def test_negotiation_honours_q_values(accept: str | None, encoding: str | None, expected: tuple[bool, bool]) -> None:
    choice = negotiate(accept, encoding)
    assert choice is not None
    assert (choice.openmetrics, choice.gzip) == expected


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("text/plain;q=0,application/openmetrics-text;q=0", None),
        ("*/*;q=0", None),
        (None, "identity;q=0"),
        (None, "*;q=0"),
        (None, "gzip;q=0, *;q=0"),
    ],
)
def test_nothing_acceptable_is_none(accept: str | None, encoding: str | None) -> None:
    assert negotiate(accept, encoding) is None


def _reference_registry(families: list[Family], static: dict[str, str]) -> CollectorRegistry:
    """The same families through prometheus_client's own metric classes (its collector API)."""

    class Same(Collector):
        def collect(self) -> Iterator[Metric]:
            for family in families:
                metric = family.metric
                names = [*static, *metric.labels]
                cls = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
                out = cls(metric.family, metric.help, labels=names)
                for labels, sample in family.samples:
                    out.add_metric([*static.values(), *labels], sample)
                yield out

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Same())
    return registry


def _normalised(families: Iterable[Metric]) -> dict[str, tuple[str, str, set[tuple[str, frozenset, float]]]]:
    out = {}
    for family in families:
        samples = {
            (s.name, frozenset(s.labels.items()), s.value) for s in family.samples if not s.name.endswith("_created")
        }
        out[family.name] = (family.type, family.documentation, samples)
    return out


def test_conformance_with_prometheus_clients_own_output(clock: ManualClock, kafka: FakeKafka) -> None:
    """Every family of a real cycle, rendered by us and by prometheus_client: both formats parse to the same
    families, types, help texts, label sets and values, and every HELP/TYPE line is byte for byte the same."""
    kafka.produce("orders", 0, 120)
    kafka.groups["billing"] = FakeGroup(members=2, committed={("orders", 0): 100})
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    exporter.collect_once()
    snapshot = exporter.store.latest("alpha")
    assert snapshot is not None
    families = [f for f in snapshot.snapshot.families(clock.now()) if f.samples]
    static = exporter.workers["alpha"].collector.cluster.static_labels()
    registry = _reference_registry(families, static)
    assert len(families) > 20

    ours_text = exporter.store.body(openmetrics=False).decode()
    reference_text = generate_latest(registry).decode()
    assert _normalised(parse_text(ours_text)) == _normalised(parse_text(reference_text))
    ours_om = exporter.store.body(openmetrics=True).decode()
    reference_om = generate_openmetrics(registry).decode()
    assert _normalised(parse_openmetrics(ours_om)) == _normalised(parse_openmetrics(reference_om))

    def headers(body: str) -> set[str]:
        return {line for line in body.splitlines() if line.startswith(("# HELP", "# TYPE"))}

    assert headers(ours_text) == headers(reference_text)
    assert headers(ours_om) == headers(reference_om)


def test_a_family_unchanged_since_the_last_cycle_keeps_its_rendering(clock: ManualClock, kafka: FakeKafka) -> None:
    kafka.groups["billing"] = FakeGroup(committed={("orders", 0): 0})
    exporter = Exporter(fleet(cluster_config("alpha")), clock=clock, client_factory=lambda c: kafka)
    exporter.collect_once()
    first = exporter.store.latest("alpha")
    kafka.produce("orders", 0, 5)
    clock.advance(30)
    exporter.collect_once()
    second = exporter.store.latest("alpha")
    assert first is not None
    assert second is not None
    unchanged, changed = "kafka_topic_partition_replicas", "kafka_topic_partition_current_offset"
    assert second.kafka.chunks[unchanged] is first.kafka.chunks[unchanged]
    assert second.kafka.chunks[changed] is not first.kafka.chunks[changed]
    assert second.kafka.chunks[changed].plain() != first.kafka.chunks[changed].plain()
    # reused or not, the body is what rendering everything afresh gives
    fresh = render_samples(exporter.workers["alpha"].collector.cluster.static_labels(), second.snapshot.kafka)
    assert assemble([fresh], openmetrics=False) == assemble([second.kafka], openmetrics=False)


def _sample_values(rendered: RenderedFamilies, name: str) -> list[str]:
    return [line.rpartition(" ")[2] for line in rendered.chunks[name].plain().decode().splitlines()]


@pytest.mark.parametrize(
    "values",
    [
        [0, -1, 7, 2**53 - 1, -(2**53) + 1],  # exact integers: the C-level path
        [2**53, 5, -(2**60)],  # beyond a float64's exact integers
        [0.0, 1.5, 2.0, -3.0, 0.001, 1e-7, 123456.789, 2.0**52],  # finite floats, integral ones without ".0"
        [-0.0, 1.25],  # -0.0 is written "0"
        [math.nan, math.inf, -math.inf, 0.5],
        [2.0**53, 1e16, 1e300, 4.0],  # floats too large to print as integers
        [1, 2.5, 3.0],  # mixed
        [True, False],
    ],
)
def test_every_value_column_renders_as_format_value_writes_each_value(values: list[float]) -> None:
    """The columns rendered without a Python call per value (all exact integers, all finite floats) must read
    exactly as :func:`format_value` writes each value, and the others fall back to it."""
    out = FamilyBuilder()
    for i, value in enumerate(values):
        out.add("kafka_consumergroup_lag_seconds", value, "g", "t", str(i))
    rendered = render_samples({"cluster": "a"}, out.build())
    assert _sample_values(rendered, "kafka_consumergroup_lag_seconds") == [format_value(v) for v in values]


def test_label_sets_are_rendered_once_per_rows_and_reused_while_the_rows_stay() -> None:
    """The three series of each committed offset share one rendering of their label sets, the next cycle reuses
    it while the rows are the same, and rows that changed (same count, other labels) are rendered afresh."""

    def cycle(partitions: list[str], lag: int) -> tuple[Family, ...]:
        out = FamilyBuilder()
        for name in ("kafka_consumergroup_current_offset", "kafka_consumergroup_lag"):
            labels, values = out.columns(name)
            labels.extend(("g", "t", p) for p in partitions)
            values.extend([lag] * len(partitions))
        out.add("kafka_topic_partitions", 2, "t")
        return out.build()

    static = {"cluster": "a", "region": 'r"1'}
    first = render_samples(static, cycle(["0", "1"], 5))
    shared = [t for t in first.label_texts if t.names == ("consumergroup", "topic", "partition")]
    assert len(shared) == 1  # one rendering for both families
    second = render_samples(static, cycle(["0", "1"], 6), first)  # the partition count kept its chunk
    assert [t.texts for t in second.label_texts] == [shared[0].texts]
    assert second.label_texts[0].texts is shared[0].texts  # reused, not rendered again
    third = render_samples(static, cycle(["0", "2"], 6), second)
    other_prefix = render_samples({"cluster": "b"}, cycle(["0", "2"], 6), third)
    for rendered, (labels, families) in (
        (second, (static, cycle(["0", "1"], 6))),
        (third, (static, cycle(["0", "2"], 6))),
        (other_prefix, ({"cluster": "b"}, cycle(["0", "2"], 6))),
    ):
        assert assemble([rendered], openmetrics=True) == assemble([render_samples(labels, families)], openmetrics=True)
    assert b'partition="2"' in third.chunks["kafka_consumergroup_lag"].plain()
    assert b'cluster="b"' in other_prefix.chunks["kafka_consumergroup_lag"].plain()
