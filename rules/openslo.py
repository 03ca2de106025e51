"""Import OpenSLO v1 (``kind: SLO`` and ``kind: SLI``) into the same SLO model, so teams keep their OpenSLO files.

Mapping (docs/rules.md, "OpenSLO import"):

* ``ratioMetric`` (counters, ``good`` or ``bad`` over ``total``) with ``budgetingMethod: Occurrences`` → ratio SLI;
* ``thresholdMetric`` with ``op``/``value`` on the objective, Occurrences or Timeslices → threshold SLI (the
  objective's ``timeSliceWindow`` becomes the slice);
* ``timeWindow[0].duration`` → the period, ``target`` (0-1) or ``targetPercent`` → the objective,
  ``metadata.labels.environment`` (a string or a list) → the environments (default: production).

Queries must be plain selectors (``name{...}``, or ``max(name{...})`` for thresholds): kafka-obs applies
``increase()`` and the grouping itself. Anything this project cannot honour faithfully (Timeslices over a ratio,
RatioTimeslices, several objectives) is refused with the field path rather than approximated silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kafka_obs.config.loader import ConfigError, ConfigIssue, Document, parse_yaml, validate
from kafka_obs.rules.loading import slo_problems
from kafka_obs.rules.model import SLO

DEFAULT_ENVIRONMENT = "production"
_AGGREGATED = re.compile(r"^\s*(max|min|sum|avg)\s*\((.*)\)\s*$", re.DOTALL)
_OPS = {"lte", "lt", "gte", "gt"}


class _Open(BaseModel):
    """OpenSLO has many fields kafka-obs has no use for (alerting policies, display names): they are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class SourceSpec(_Open):
    query: str


class MetricSource(_Open):
    type: str | None = None
    spec: SourceSpec


class MetricRef(_Open):
    metricSource: MetricSource


class RatioMetric(_Open):
    counter: bool = True
    good: MetricRef | None = None
    bad: MetricRef | None = None
    total: MetricRef


class SLISpec(_Open):
    ratioMetric: RatioMetric | None = None
    thresholdMetric: MetricRef | None = None


class Metadata(_Open):
    name: str
    labels: dict[str, str | list[str]] = Field(default_factory=dict)


class InlineSLI(_Open):
    metadata: Metadata | None = None
    spec: SLISpec


class Objective(_Open):
    target: float | None = None
    targetPercent: float | None = None
    op: str | None = None
    value: float | None = None
    timeSliceWindow: str | None = None


class TimeWindow(_Open):
    duration: str
    isRolling: bool = True


class SLOSpec(_Open):
    description: str = ""
    indicator: InlineSLI | None = None
    indicatorRef: str | None = None
    timeWindow: list[TimeWindow] = Field(min_length=1)
    budgetingMethod: Literal["Occurrences", "Timeslices", "RatioTimeslices"]
    objectives: list[Objective] = Field(min_length=1)


class Envelope(_Open):
    apiVersion: str
    kind: str


class SLODoc(_Open):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SLOSpec


class SLIDoc(_Open):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLI"]
    metadata: Metadata
    spec: SLISpec


def split_documents(text: str, source: str) -> list[Document]:
    """Every ``---``-separated document, each parsed with its real line numbers (other lines blanked)."""
    lines = text.splitlines()
    starts = [0] + [i + 1 for i, line in enumerate(lines) if line.rstrip() == "---"]
    ends = [i for i, line in enumerate(lines) if line.rstrip() == "---"] + [len(lines)]
    documents = []
    for start, end in zip(starts, ends, strict=True):
        padded = "\n" * start + "\n".join(lines[start:end])
        document = parse_yaml(padded, source)
        if document.data is not None:
            documents.append(document)
    return documents


def _environments(doc: Document, meta: Metadata) -> list[str]:
    value = meta.labels.get("environment", DEFAULT_ENVIRONMENT)
    return [value] if isinstance(value, str) else list(value)


def _sli(doc: Document, spec: SLISpec, method: str, objective: Objective, loc: tuple[str | int, ...]) -> dict[str, Any]:
    if spec.ratioMetric is not None:
        ratio = spec.ratioMetric
        if method != "Occurrences":
            raise doc.error(
                ("spec", "budgetingMethod"), f"{method} over a ratioMetric is not supported; use Occurrences"
            )
        if not ratio.counter:
            raise doc.error((*loc, "ratioMetric", "counter"), "only counters (counter: true) are supported")
        if (ratio.good is None) == (ratio.bad is None):
            raise doc.error((*loc, "ratioMetric"), "give exactly one of good and bad")
        out: dict[str, Any] = {"kind": "ratio", "total": ratio.total.metricSource.spec.query}
        if ratio.good is not None:
            out["good"] = ratio.good.metricSource.spec.query
        if ratio.bad is not None:
            out["errors"] = ratio.bad.metricSource.spec.query
        return out
    if spec.thresholdMetric is not None:
        if method == "RatioTimeslices":
            raise doc.error(("spec", "budgetingMethod"), "RatioTimeslices is not supported; use Timeslices")
        if objective.op not in _OPS or objective.value is None:
            raise doc.error(("spec", "objectives", 0, "op"), "a thresholdMetric needs op (lte|lt|gte|gt) and value")
        query = spec.thresholdMetric.metricSource.spec.query
        aggregation = "max"
        match = _AGGREGATED.match(query)
        if match:
            aggregation, query = match.group(1), match.group(2)
        return {
            "kind": "threshold",
            "metric": query,
            "aggregation": aggregation,
            "op": objective.op,
            "threshold": objective.value,
        }
    raise doc.error((*loc,), "expected ratioMetric or thresholdMetric")


_MODEL_TO_OPENSLO: dict[str, tuple[str | int, ...]] = {
    "objective": ("spec", "objectives", 0, "target"),
    "window": ("spec", "timeWindow", 0, "duration"),
    "slice": ("spec", "objectives", 0, "timeSliceWindow"),
    "name": ("metadata", "name"),
}


def _percent(doc: Document, objective: Objective) -> float:
    if objective.target is not None:
        return round(objective.target * 100, 9)
    if objective.targetPercent is not None:
        return objective.targetPercent
    raise doc.error(("spec", "objectives", 0), "needs target or targetPercent")


def _convert(doc: Document, slo_doc: SLODoc, indicators: dict[str, SLISpec]) -> tuple[SLO, tuple[str | int, ...]]:
    spec = slo_doc.spec
    if len(spec.objectives) != 1:
        raise doc.error(("spec", "objectives"), "exactly one objective is supported")
    objective = spec.objectives[0]
    loc: tuple[str | int, ...]
    if spec.indicator is not None:
        sli_spec, loc = spec.indicator.spec, ("spec", "indicator", "spec")
    elif spec.indicatorRef is not None:
        if spec.indicatorRef not in indicators:
            raise doc.error(("spec", "indicatorRef"), f"no kind: SLI named {spec.indicatorRef!r} in the directory")
        sli_spec, loc = indicators[spec.indicatorRef], ("spec", "indicatorRef")
    else:
        raise doc.error(("spec",), "needs indicator or indicatorRef")
    target = {"objective": _percent(doc, objective), "window": spec.timeWindow[0].duration}
    data: dict[str, Any] = {
        "name": slo_doc.metadata.name,
        "description": spec.description,
        "sli": _sli(doc, sli_spec, spec.budgetingMethod, objective, loc),
        "targets": {env: dict(target) for env in _environments(doc, slo_doc.metadata)},
    }
    if objective.timeSliceWindow:
        data["slice"] = objective.timeSliceWindow
    try:
        return SLO.model_validate(data), loc
    except ValidationError as exc:
        issues = []
        for err in exc.errors(include_input=False):
            where: tuple[str | int, ...] = (*loc,)
            for part in err["loc"]:
                if isinstance(part, str) and part in _MODEL_TO_OPENSLO:
                    where = _MODEL_TO_OPENSLO[part]
            message = str(err["msg"]).removeprefix("Value error, ")
            issues.append(doc.issue(where, message))
        raise ConfigError(doc.source, issues) from None


def _openslo_path(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Where a model-level problem lives in the OpenSLO document."""
    last = loc[-1]
    if loc[0] == "targets" and len(loc) == 2:
        return ("metadata", "labels", "environment")
    if last == "window":
        return ("spec", "timeWindow", 0, "duration")
    if last == "threshold":
        return ("spec", "objectives", 0, "value")
    return ("spec",)


def load_openslo_dir(directory: Path, environments: list[str], taken: set[str]) -> tuple[SLO, ...]:
    """Every ``kind: SLO`` under ``directory`` (``*.yaml``, ``*.yml``), sorted by name for stable output."""
    if not directory.is_dir():
        raise ConfigError(str(directory), [ConfigIssue("(file)", "not a directory")])
    documents: list[Document] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), [ConfigIssue("(file)", f"cannot read file: {exc}")]) from None
        documents += split_documents(text, str(path))
    indicators: dict[str, SLISpec] = {}
    slo_docs: list[tuple[Document, SLODoc]] = []
    for doc in documents:
        kind = validate(doc, Envelope).kind
        if kind == "SLI":
            sli = validate(doc, SLIDoc)
            indicators[sli.metadata.name] = sli.spec
        elif kind == "SLO":
            slo_docs.append((doc, validate(doc, SLODoc)))
    slos: list[SLO] = []
    for doc, slo_doc in slo_docs:
        slo, _ = _convert(doc, slo_doc, indicators)
        if slo.name in taken:
            raise doc.error(("metadata", "name"), f"an SLO named {slo.name!r} already exists")
        taken.add(slo.name)
        issues = [doc.issue(_openslo_path(loc), message) for loc, message in slo_problems(slo, environments)]
        if issues:
            raise ConfigError(doc.source, issues)
        slos.append(slo)
    return tuple(sorted(slos, key=lambda s: s.name))
