"""Turn families into Prometheus exposition bytes: text format 0.0.4 and OpenMetrics 1.0.

Written directly rather than through prometheus_client's ``generate_latest``: the sample lines of one cluster are
rendered once per cycle into one chunk per family, compressed right away (:mod:`.deflate`), and a scrape body is
only a join of those chunks under each family's HELP/TYPE header (both formats share the sample lines; only
headers and ``# EOF`` differ): gzipped, a join of the compressed chunks; plain, of their decompressed bytes.
``bench/bench_exporter.py`` measures this against prometheus_client; the unit tests parse the output with
prometheus_client's own parsers, so the format is checked by the reference implementation.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kafka_obs.exporter.catalogue import CATALOGUE, MetricDef
from kafka_obs.exporter.deflate import Segment, deflate, gzip_member, stored
from kafka_obs.exporter.families import HISTOGRAM_COUNT, HISTOGRAM_SUM, Family, LabelValues

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_ORDER = {m.name: i for i, m in enumerate(CATALOGUE)}


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


_EXACT_INT = 2**53
"""Integers below this magnitude print as themselves; beyond it a float64 (what Prometheus stores) is not exact."""


def format_value(value: float) -> str:
    if type(value) is int and -_EXACT_INT < value < _EXACT_INT:
        return str(value)  # the common case (offsets, counts), decided without float conversions
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True, slots=True)
class LabelTexts:
    """The rendered label sets (``{prefix,a="x",b="y"} ``) of one label column, made once and shared by every
    family with the same label names and rows: the three series of each committed offset at once, and, across
    cycles, every family whose rows did not change (at 4x ``scale`` the 80,000 committed offsets keep their rows
    while their values move every cycle)."""

    names: tuple[str, ...]
    labels: tuple[LabelValues, ...]
    texts: list[str]


@dataclass(frozen=True, slots=True)
class RenderedFamilies:
    """One cluster's sample lines, one chunk per family: rendered and compressed once per cycle, joined at every
    body change. Only the compressed form is kept (2.8 MB instead of 72 MB at 4x ``scale``)."""

    metrics: Mapping[str, MetricDef]
    chunks: Mapping[str, Segment]
    prefix: str = ""
    """The static labels every line starts with, rendered."""
    sources: Mapping[str, tuple[Family, ...]] = field(default_factory=dict)
    """The families each chunk was rendered from (the snapshot's own objects, not copies): a family equal to its
    source next cycle reuses the chunk (:func:`render_samples`)."""
    label_texts: tuple[LabelTexts, ...] = ()
    """The label sets rendered this cycle, for the next one to reuse where its rows are the same."""


class _Escaped(dict[str, str]):
    """Label value → its escaped form, computed once per value: topic and group names recur in many families."""

    def __missing__(self, value: str) -> str:
        escaped = self[value] = escape_label(value)
        return escaped


class _LabelTextCache:
    """The label sets of one rendering: found among this cycle's (a column shared by several families) or the
    previous cycle's (rows unchanged) by comparing the label columns, a C-level pass; made otherwise."""

    def __init__(self, prefix: str, previous: Sequence[LabelTexts]):
        self.prefix = prefix
        self.escaped = _Escaped()
        self.previous = list(previous)
        self.current: list[LabelTexts] = []

    def texts(self, names: tuple[str, ...], labels: tuple[LabelValues, ...]) -> list[str]:
        for entry in self.current:
            if entry.names == names and (entry.labels is labels or entry.labels == labels):
                return entry.texts
        for i, entry in enumerate(self.previous):
            if entry.names == names and entry.labels == labels:
                del self.previous[i]
                self.current.append(LabelTexts(names, labels, entry.texts))  # this cycle's column, the same rows
                return entry.texts
        texts = _render_labels(names, labels, self.prefix, self.escaped)
        self.current.append(LabelTexts(names, labels, texts))
        return texts


def render_samples(
    static_labels: Mapping[str, str], families: Iterable[Family], previous: RenderedFamilies | None = None
) -> RenderedFamilies:
    """Render and compress every family; one that equals its source in ``previous`` (same labels, same values)
    keeps ``previous``'s chunk, and one whose rows are ``previous``'s (same labels) keeps their rendered label sets.
    Much of a cycle does not change from one to the next (replica counts and leaders of 10,000 partitions, the
    statuses of 8,000 groups and 80,000 committed offsets at 4x ``scale``): comparing two columns is a C-level
    pass, rendering and compressing them ~1.5 µs per line."""
    prefix = ",".join(f'{k}="{escape_label(v)}"' for k, v in static_labels.items())
    metrics: dict[str, MetricDef] = {}
    sources: dict[str, list[Family]] = {}
    for family in families:
        metrics[family.name] = family.metric
        sources.setdefault(family.name, []).append(family)
    reuse = previous if previous is not None and previous.prefix == prefix else None
    cache = _LabelTextCache(prefix, reuse.label_texts if reuse is not None else ())
    chunks: dict[str, Segment] = {}
    for name, group in sources.items():
        if reuse is not None and _unchanged(reuse.sources.get(name, ()), group):
            chunks[name] = reuse.chunks[name]
            continue
        chunk = b"".join(_render_family(family, cache) for family in group)
        if chunk:
            chunks[name] = deflate(chunk)
    return RenderedFamilies(
        metrics,
        chunks,
        prefix,
        {name: tuple(group) for name, group in sources.items() if name in chunks},
        tuple(cache.current),
    )


def _unchanged(before: Sequence[Family], now: Sequence[Family]) -> bool:
    """Same samples: values compared first (where a family that changes differs, found in its first samples),
    labels only for families whose values all match."""
    return len(before) == len(now) and all(
        b.values == n.values and b.labels == n.labels and b.metric == n.metric for b, n in zip(before, now, strict=True)
    )


def _line_template(name: str, prefix: str, label_names: Sequence[str]) -> str:
    """``name{prefix,a="%s",b="%s"} %s\n``: one %-format per sample instead of joining its labels one by one."""
    pairs = [f'{k}="%s"' for k in label_names]
    body = ",".join([prefix.replace("%", "%%"), *pairs] if prefix else pairs)
    return f"{name}{{{body}}} %s\n"


def _render_labels(names: Sequence[str], labels: Sequence[LabelValues], prefix: str, escaped: _Escaped) -> list[str]:
    """Each row's label set, ``{prefix,a="x",b="y"} ``. The cost is per row (80,000 committed offsets at 4x
    ``scale``), so the loops for the usual label counts unpack the label tuple directly instead of iterating."""
    template = _line_template("", prefix, names)[:-3]  # without the value's "%s\n"
    arity = len(names)
    if arity == 0:
        return [template % ()] * len(labels)
    if arity == 1:
        return [template % escaped[a] for (a,) in labels]
    if arity == 2:
        return [template % (escaped[a], escaped[b]) for a, b in labels]
    if arity == 3:
        return [template % (escaped[a], escaped[b], escaped[c]) for a, b, c in labels]
    return [template % tuple([escaped[x] for x in row]) for row in labels]


def _value_texts(values: Sequence[float]) -> Iterable[str]:
    """Each value as :func:`format_value` writes it. The usual columns (all exact integers: offsets, counts; all
    finite floats: lag seconds) are formatted by C-level maps, with no Python call per value: a float's ``repr``
    is :func:`format_value`'s unless it is integral, which below 2**53 is exactly a ``repr`` ending in ``.0``."""
    if not values:
        return ()
    types = set(map(type, values))
    if len(types) == 1 and min(values) > -_EXACT_INT and max(values) < _EXACT_INT:
        if int in types:
            return map(int.__repr__, values)
        if float in types and all(map(math.isfinite, values)):
            texts = list(map(_strip_point_zero, map(float.__repr__, values)))
            if "-0" not in texts:  # -0.0 is written "0"
                return texts
    return map(format_value, values)


_strip_point_zero = operator.methodcaller("removesuffix", ".0")


def _render_family(family: Family, cache: _LabelTextCache) -> bytes:
    """One family's sample lines: per row its label set (shared, see :class:`LabelTexts`) and its value, joined by
    C-level maps under the metric's name."""
    if family.metric.type == "histogram":
        return _render_histogram(family, cache.prefix, cache.escaped)
    if not family.values:
        return b""
    name = family.name
    lines = f"\n{name}".join(
        map(operator.add, cache.texts(family.metric.labels, family.labels), _value_texts(family.values))
    )
    return f"{name}{lines}\n".encode()


def _render_histogram(family: Family, prefix: str, escaped: _Escaped) -> bytes:
    """A histogram's lines: the last label value of each sample is the bucket's ``le``, or the ``_sum`` / ``_count``
    marker (few series: a canary's partitions), so the general path is fast enough."""
    name, names = family.name, family.metric.labels
    bucket = _line_template(f"{name}_bucket", prefix, (*names, "le"))
    totals = {marker: _line_template(name + marker, prefix, names) for marker in (HISTOGRAM_SUM, HISTOGRAM_COUNT)}
    lines = []
    for labels, value in zip(family.labels, family.values, strict=True):
        template = totals.get(labels[-1])
        values = labels[:-1] if template else labels
        lines.append((template or bucket) % (*[escaped[x] for x in values], format_value(value)))
    return "".join(lines).encode()


def _header(metric: MetricDef, openmetrics: bool) -> bytes:
    name = metric.family if openmetrics else metric.name
    return f"# HELP {name} {escape_help(metric.help)}\n# TYPE {name} {metric.type}\n".encode()


_EOF = b"# EOF\n"


def assemble(parts: Sequence[RenderedFamilies], *, openmetrics: bool, gzipped: bool = False) -> bytes:
    """One body from every cluster's chunks, each family once, catalogue order first, then plug-ins' families;
    gzipped, one gzip member of the compressed chunks as they are (:func:`.deflate.gzip_member`)."""
    metrics: dict[str, MetricDef] = {}
    for part in parts:
        for name, metric in part.metrics.items():
            metrics.setdefault(name, metric)
    names = sorted(metrics, key=lambda n: (_ORDER.get(n, len(_ORDER)), n))
    out: list[bytes | Segment] = []
    for name in names:
        chunks = [chunk for part in parts if (chunk := part.chunks.get(name))]
        if not chunks:
            continue
        out.append(_header(metrics[name], openmetrics))
        out.extend(chunks)
    if openmetrics:
        out.append(_EOF)
    if gzipped:
        return gzip_member(stored(piece) if isinstance(piece, bytes) else piece for piece in out)
    return b"".join(piece if isinstance(piece, bytes) else piece.plain() for piece in out)


@dataclass(frozen=True, slots=True)
class Negotiated:
    openmetrics: bool
    gzip: bool


_ELEMENT = re.compile(r'(?:[^,"]|"[^"]*")+')
_OFFERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("text/plain", frozenset({"0.0.4"})),
    ("application/openmetrics-text", frozenset({"1.0.0", "0.0.1"})),
)
"""What /metrics can produce: the media type and the ``version`` parameters each answers to (OpenMetrics 0.0.1 is
the same format's pre-1.0 name, which Prometheus still asks for). The first is the default."""


def _weighted(header: str) -> list[tuple[str, dict[str, str], float]]:
    """The elements of an ``Accept``-style header: (value, parameters, q), in the client's order.

    RFC 9110 §12.4.2: ``q`` is 0 to 1 with up to three decimals, default 1; an element whose ``q`` is not valid is
    ignored (not treated as 1, which would turn a malformed refusal into a preference).
    """
    out = []
    for element in _ELEMENT.findall(header):
        value, *params = (part.strip() for part in element.split(";"))
        if not value:
            continue
        parameters: dict[str, str] = {}
        for param in params:
            name, _, raw = param.partition("=")
            parameters[name.strip().lower()] = raw.strip().strip('"')
        q = parameters.pop("q", "1")
        if not re.fullmatch(r"0(\.\d{0,3})?|1(\.0{0,3})?", q):
            continue
        out.append((value.lower(), parameters, float(q)))
    return out


def _media_quality(
    accept: list[tuple[str, dict[str, str], float]], media: str, versions: frozenset[str]
) -> tuple[float, int, int] | None:
    """(q, specificity, -position) of the most specific range of ``accept`` that matches the offer; None if none."""
    major = media.partition("/")[0]
    best: tuple[float, int, int] | None = None
    for position, (value, params, q) in enumerate(accept):
        if value == media:
            version = params.get("version")
            if version is not None and version not in versions:
                continue
            specificity = 3 if version is not None else 2
        elif value == f"{major}/*":
            specificity = 1
        elif value == "*/*":
            specificity = 0
        else:
            continue
        if best is None or specificity > best[1]:
            best = (q, specificity, -position)
    return best


def negotiate(accept: str | None, accept_encoding: str | None) -> Negotiated | None:
    """The format and encoding to answer a scrape with, honouring q-values; None when nothing we have is acceptable.

    Format: the offer whose most specific matching media range has the highest q > 0 (ties: the more specific
    range, then the client's order, then the classic text format). No ``Accept``, or one that matches neither
    format (``application/json``), gets the text format, as Prometheus' own client libraries do; only an
    explicit refusal of it (``text/plain;q=0``, ``*/*;q=0``) with OpenMetrics not acceptable either is a 406.

    Encoding (RFC 9110 §12.5.3): gzip when its q (or ``*``'s) is above 0 and not below an explicitly listed
    ``identity``; ``identity`` is acceptable unless refused by ``identity;q=0`` or ``*;q=0``.
    """
    ranges = _weighted(accept or "*/*") or [("*/*", {}, 1.0)]
    rated = [(_media_quality(ranges, media, versions), index) for index, (media, versions) in enumerate(_OFFERS)]
    acceptable = [(quality, index) for quality, index in rated if quality is not None and quality[0] > 0]
    if acceptable:
        _, index = max(acceptable, key=lambda item: (*item[0], -item[1]))
    elif rated[0][0] is None:
        index = 0  # nothing we make was asked for: the default, not a 406
    else:
        return None
    codings = {value: q for value, _, q in _weighted(accept_encoding or "")}
    star = codings.get("*")
    gzip_q = codings.get("gzip", codings.get("x-gzip", star if star is not None else 0.0))
    identity_q = codings.get("identity", star if star is not None else 1.0)
    if gzip_q > 0 and ("identity" not in codings or gzip_q >= identity_q):
        return Negotiated(openmetrics=index == 1, gzip=True)
    if identity_q > 0:
        return Negotiated(openmetrics=index == 1, gzip=False)
    return None
