"""Metric families: what collectors produce and snapshots hold, before any text is written.

A family is a catalogue entry plus its samples (label values in the entry's label order, and a value). Collectors
build families with :class:`FamilyBuilder`; the renderer turns them into bytes once per cycle. Plug-in collectors
(JMX) bring their own :class:`~kafka_obs.exporter.catalogue.MetricDef` objects.

A family holds its samples as two columns (label tuples, values), not as a ``(labels, value)`` tuple per sample: at 4x
``scale`` a cycle makes ~475,000 samples, and a tuple each was ~40 MB per snapshot and most of the objects the
cyclic garbage collector walked. The series of one partition (or committed offset) share one label tuple.
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
    labels: tuple[LabelValues, ...]
    """Label values of each sample, in the metric's label order."""
    values: tuple[float, ...]
    """The value of each sample (same index as its labels)."""

    @property
    def name(self) -> str:
        return self.metric.name

    @property
    def samples(self) -> tuple[Sample, ...]:
        """``(labels, value)`` pairs, made on demand (tests, the landing page): rendering reads the columns."""
        return tuple(zip(self.labels, self.values, strict=True))


class FamilyBuilder:
    """Collects samples per metric during one cycle, then freezes them into families.

    Adding a sample with the wrong number of labels raises at once (:meth:`add`), or at :meth:`build` for the
    columns a hot loop appends to directly (:meth:`columns`): either way before anything is rendered, naming the
    metric, because a silent label mismatch would render a series Prometheus rejects.
    """

    def __init__(self) -> None:
        self._columns: dict[str, tuple[list[LabelValues], list[float]]] = {}
        self._defs: dict[str, MetricDef] = {}
        self._open: dict[str | MetricDef, tuple[list[LabelValues], list[float], int]] = {}
        """What :meth:`add` is called with → (that metric's label and value columns, its label count): one lookup
        per sample, which matters at hundreds of thousands of samples per cycle."""

    def add(self, metric: str | MetricDef, value: float, *labels: str) -> None:
        entry = self._open.get(metric)
        if entry is None:
            entry = self._open[metric] = self._register(metric)
        label_column, values, arity = entry
        if len(labels) != arity:
            raise ValueError(_arity_error(self._definition(metric), labels))
        label_column.append(labels)
        values.append(value)

    def columns(self, metric: str | MetricDef) -> tuple[list[LabelValues], list[float]]:
        """The label and value columns of ``metric``, for the loops that add a series per partition or committed
        offset: two list appends instead of a call per sample, and one label tuple can serve the several families
        of a row. Append a label tuple and a value together; :meth:`build` checks the label counts."""
        entry = self._open.get(metric)
        if entry is None:
            entry = self._open[metric] = self._register(metric)
        return entry[0], entry[1]

    def _definition(self, metric: str | MetricDef) -> MetricDef:
        return BY_NAME[metric] if isinstance(metric, str) else metric

    def _register(self, metric: str | MetricDef) -> tuple[list[LabelValues], list[float], int]:
        definition = self._definition(metric)
        self._defs.setdefault(definition.name, definition)
        label_column, values = self._columns.setdefault(definition.name, ([], []))
        return label_column, values, _arity(definition)

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
            label_column, values = self._columns.setdefault(family.name, ([], []))
            label_column.extend(family.labels)
            values.extend(family.values)

    def build(self) -> tuple[Family, ...]:
        families = []
        for name, (label_column, values) in self._columns.items():
            if not values and not label_column:
                continue  # asked for by columns() but never added to: no family, as if never named
            definition = self._defs[name]
            if len(label_column) != len(values):
                raise ValueError(f"{name}: {len(label_column)} label tuples for {len(values)} values")
            arity = _arity(definition)
            if any(n != arity for n in set(map(len, label_column))):  # one C-level pass over every sample
                raise ValueError(_arity_error(definition, next(ls for ls in label_column if len(ls) != arity)))
            families.append(Family(definition, tuple(label_column), tuple(values)))
        return tuple(families)


def _arity(definition: MetricDef) -> int:
    """Label values per sample: a histogram's carry one more, the bucket's ``le`` or the _sum / _count marker."""
    return len(definition.labels) + (definition.type == "histogram")


def _arity_error(definition: MetricDef, labels: LabelValues) -> str:
    return f"{definition.name} takes labels {definition.labels}, got {labels}"


class PartitionLabels(dict[int, str]):
    """Partition id → its label value, made once per id: one string per partition number for a whole cycle instead
    of one per series (a topic's partition ids recur in every group that reads it)."""

    def __missing__(self, partition: int) -> str:
        label = self[partition] = str(partition)
        return label


def find(families: Iterable[Family], name: str) -> Iterator[Sample]:
    """Samples of one metric, for tests and for the landing page."""
    for family in families:
        if family.name == name:
            yield from zip(family.labels, family.values, strict=True)


def format_bound(bound: float) -> str:
    """A bucket bound as OpenMetrics wants it: a float (``1.0``, ``0.1``), never an int (``1``)."""
    return repr(float(bound))
