"""Read an exporter's output back through prometheus_client's own parser: the test oracle for the format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(body: bytes) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = sample.value
    return out


def value(series: Series, name: str, **labels: str) -> float | None:
    """The value of the one series of ``name`` whose labels include ``labels`` (None if absent)."""
    found = [v for (n, ls), v in series.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
    return found[0] if found else None


def required(series: Series, name: str, **labels: str) -> float:
    """Like ``value``, for a series the test compares or computes with: a missing series fails here, naming it,
    rather than as a TypeError on None further down."""
    found = value(series, name, **labels)
    assert found is not None, f"no series {name}{labels}"
    return found


def names(series: Series, **labels: str) -> set[str]:
    return {n for (n, ls) in series if set(labels.items()) <= ls}


def count(series: Series, name: str, **labels: str) -> int:
    return sum(1 for (n, ls) in series if n == name and set(labels.items()) <= ls)
