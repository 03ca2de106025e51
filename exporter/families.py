"""Metric families: what collectors produce and snapshots hold, before any text is written.

A family is a catalogue entry plus its samples (label values in the entry's label order, and a value). Collectors
build families with :class:`FamilyBuilder`; the renderer turns them into bytes once per cycle. Plug-in collectors
(JMX) bring their own :class:`~kafka_obs.exporter.catalogue.MetricDef` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kafka_obs.exporter.catalogue import BY_NAME, MetricDef

LabelValues = tuple[str, ...]
Sample = tuple[LabelValues, float]


@dataclass(frozen=True, slots=True)
class Family:
    metric: MetricDef
    samples: tuple[Sample, ...]

    @property
    def name(self) -> str:
        return self.metric.name


class FamilyBuilder:
    """Collects samples per metric during one cycle, then freezes them into families.

    Adding a sample with the wrong number of labels raises at once: a silent label mismatch would render a series
    Prometheus rejects, far from the code that caused it.
    """

    def __init__(self) -> None:
        self._samples: dict[str, list[Sample]] = {}
        self._defs: dict[str, MetricDef] = {}
        self._open: dict[str | MetricDef, tuple[list[Sample], int]] = {}
        """What :meth:`add` is called with → (that metric's sample list, its label count): one lookup per sample,
        which matters at hundreds of thousands of samples per cycle."""

    def add(self, metric: str | MetricDef, value: float, *labels: str) -> None:
        entry = self._open.get(metric)
        if entry is None:
            entry = self._open[metric] = self._register(metric)
        samples, arity = entry
        if len(labels) != arity:
            definition = BY_NAME[metric] if isinstance(metric, str) else metric
            raise ValueError(f"{definition.name} takes labels {definition.labels}, got {labels}")
        samples.append((labels, value))

    def _register(self, metric: str | MetricDef) -> tuple[list[Sample], int]:
        definition = BY_NAME[metric] if isinstance(metric, str) else metric
        self._defs.setdefault(definition.name, definition)
        return self._samples.setdefault(definition.name, []), len(definition.labels)

    def extend(self, families: Iterable[Family]) -> None:
        for family in families:
            self._defs.setdefault(family.name, family.metric)
            self._samples.setdefault(family.name, []).extend(family.samples)

    def build(self) -> tuple[Family, ...]:
        return tuple(Family(self._defs[name], tuple(samples)) for name, samples in self._samples.items())


def find(families: Iterable[Family], name: str) -> Iterator[Sample]:
    """Samples of one metric, for tests and for the landing page."""
    for family in families:
        if family.name == name:
            yield from family.samples
