"""Metric families: what collectors produce and snapshots hold, before any text is written.

A family is a catalogue entry plus its samples (label values in the entry's label order, and a value). Collectors
build families with :class:`FamilyBuilder`; the renderer turns them into bytes once per cycle. Plug-in collectors
(JMX) bring their own :class:`~kafka_obs.exporter.catalogue.MetricDef` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from kafka_obs.exporter.catalogue import BY_NAME, MetricDef

LabelValues = tuple[str, ...]
Sample = tuple[LabelValues, float]

HISTOGRAM_SUM = "_sum"
HISTOGRAM_COUNT = "_count"
"""A histogram family's samples carry one label value more than its definition: the bucket's ``le`` (rendered as a
``_bucket`` sample), or one of these markers (rendered as the ``_sum`` / ``_count`` sample, without ``le``). Bucket
bounds never start with ``_``, so the two cannot be confused."""


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
        # a histogram's samples carry one more label value: the bucket's le, or the _sum / _count marker
        arity = len(definition.labels) + (definition.type == "histogram")
        return self._samples.setdefault(definition.name, []), arity

    def add_histogram(self, metric: MetricDef, cumulative: Sequence[int], total: float, *labels: str) -> None:
        """A histogram's samples: ``cumulative`` counts per bucket of ``metric.buckets``, then ``+Inf``."""
        if len(cumulative) != len(metric.buckets) + 1:
            raise ValueError(f"{metric.name} has {len(metric.buckets) + 1} buckets, got {len(cumulative)} counts")
        bounds = [format_bound(b) for b in metric.buckets] + ["+Inf"]
        for bound, count in zip(bounds, cumulative, strict=True):
            self.add(metric, float(count), *labels, bound)
        self.add(metric, total, *labels, HISTOGRAM_SUM)
        self.add(metric, float(cumulative[-1]), *labels, HISTOGRAM_COUNT)

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


def format_bound(bound: float) -> str:
    """A bucket bound as OpenMetrics wants it: a float (``1.0``, ``0.1``), never an int (``1``)."""
    return repr(float(bound))
