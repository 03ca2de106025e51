"""Exposition bytes, checked by prometheus_client's own text and OpenMetrics parsers."""

from __future__ import annotations

import math

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from kafka_obs.exporter.exposition import assemble, format_value, render_samples, wants_openmetrics
from kafka_obs.exporter.families import FamilyBuilder


def two_clusters() -> list:  # type: ignore[type-arg]
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


def test_values_and_negotiation() -> None:
    assert format_value(3.0) == "3"
    assert format_value(-1) == "-1"
    assert format_value(0.5) == "0.5"
    assert format_value(math.nan) == "NaN"
    assert format_value(math.inf) == "+Inf"
    assert wants_openmetrics("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert not wants_openmetrics("text/plain")
    assert not wants_openmetrics(None)
