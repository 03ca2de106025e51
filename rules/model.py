"""The SLO model: what ``rules/slos.yaml`` (or an imported OpenSLO file) says, validated before any rule is written.

Everything a generator could trip over is rejected here, with the field path of the culprit, so that a bad file
fails with ``file:line: slos[1].targets.staging.objective: ...`` and exit status 2 instead of producing rules that
load but can never fire (Sloth issue 341) or divide by a zero budget.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from kafka_obs.durations import parse_duration

MAX_BURN_FACTOR = 14.4
"""The largest burn factor of the multi-window table (page, 1h/5m at 30d): ``factor x budget`` must stay ≤ 1."""

MIN_BUDGET_SLICES = 10
"""The fewest slices a time-slice error budget may span (``budget x period / slice``). With fewer, one bad slice costs
more than 10 % of the budget (the SRE Workbook's slowest alert, 3 days at 1x, is 10 %): a single sample could move the
status from healthy towards critical and the budget could not tell a blip from an incident (99.99 % of 30 days in
5-minute slices is 0.86 slice: one bad sample overspends it)."""

_SELECTOR = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$", re.DOTALL)
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
LOOKBACK_SECONDS = 300.0
"""Prometheus' default lookback delta (``--query.lookback-delta``, 5m)."""

_SLUG = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
RESERVED_GROUP_LABELS = frozenset({"slo", "environment", "window", "__name__"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _seconds(value: Any) -> Any:
    """Durations are written as Prometheus durations (``30d``); numbers are taken as seconds."""
    return parse_duration(value) if isinstance(value, str) else value


def _selector(text: str) -> str:
    """A plain series selector (``name`` or ``name{matchers}``): the generator wraps it in its own functions."""
    text = text.strip()
    if not _SELECTOR.match(text) or text.count("{") != text.count("}") or text.count("{") > 1:
        raise ValueError(f'expected a series selector such as name{{label="value"}}, got {text!r}')
    return text


Selector = Annotated[str, Field(min_length=1), AfterValidator(_selector)]
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]


class Op(StrEnum):
    """How the SLI value compares with the threshold for a slice to be good."""

    lte = "lte"
    lt = "lt"
    gte = "gte"
    gt = "gt"


class ThresholdSLI(_Strict):
    """A gauge aggregated per group and compared with a threshold at every slice (time-slice budgeting)."""

    kind: Literal["threshold"]
    metric: Selector
    aggregation: Literal["max", "min", "sum", "avg"] = "max"
    op: Op = Op.lte
    threshold: float | None = None
    """Default threshold; a target may override it."""
    resolution: Seconds | None = None
    """Step at which the aggregated value is re-read inside a slice when the aggregation and the bad direction do not
    commute (e.g. ``sum`` with ``lte``): at most the input's scrape interval, so that every scrape is looked at.
    Default: the slice or 15 s (the regional scrape interval), whichever is shorter."""
    exclude_empty_groups_after: Seconds | None = None
    """Leave out the series of consumer groups (``cluster``, ``consumergroup``) whose state
    (``kafka_consumergroup_state``) has been ``Empty`` for longer than this: an abandoned group keeps its committed
    offsets, and so its lag, forever, and would otherwise hold the SLO bad until someone deletes it."""


class RatioSLI(_Strict):
    """Event counters: errors (or good) over total, weighted by traffic over every window."""

    kind: Literal["ratio"]
    errors: Selector | None = None
    good: Selector | None = None
    total: Selector
    range: Seconds = 120.0
    """Range of each slice's ``increase()``: at least two scrape intervals, so no counter delta goes unseen."""

    @model_validator(mode="after")
    def _one_of(self) -> RatioSLI:
        if (self.errors is None) == (self.good is None):
            raise ValueError("give exactly one of 'errors' and 'good'")
        return self


class LatencySLI(_Strict):
    """A Prometheus histogram: good events are those in the threshold's bucket (``le``)."""

    kind: Literal["latency"]
    metric: Selector
    """The histogram's base name with optional matchers; ``_bucket`` and ``_count`` are appended."""
    threshold: float | None = None
    """Default bucket bound in the histogram's unit; it must be one of its ``le`` values."""
    range: Seconds = 120.0


SLI = Annotated[ThresholdSLI | RatioSLI | LatencySLI, Field(discriminator="kind")]


class Target(_Strict):
    """One environment's promise: objective (percent), its own period (``window``) and optional threshold."""

    objective: float = Field(gt=0, lt=100)
    window: Seconds
    threshold: float | None = None

    @field_validator("objective")
    @classmethod
    def _can_alert(cls, objective: float) -> float:
        budget = 1 - objective / 100
        if MAX_BURN_FACTOR * budget > 1:
            raise ValueError(
                f"objective {objective}% leaves an error budget of {budget:.2%}; a {MAX_BURN_FACTOR}x burn of it "
                f"would exceed 100% errors, so the page alert could never fire (use at least "
                f"{100 * (1 - 1 / MAX_BURN_FACTOR):.2f})"
            )
        return objective

    @property
    def error_budget(self) -> float:
        return round(1 - self.objective / 100, 12)


class SLO(_Strict):
    name: Annotated[str, Field(pattern=_SLUG, max_length=63)]
    description: str = ""
    sli: SLI
    targets: dict[str, Target] = Field(min_length=1)
    group_by: list[str] = Field(default_factory=lambda: ["cluster", "region"])
    """Labels the SLO is computed per. ``region`` is constant per cluster, so the default keeps it on every SLO
    series (dashboards and the fleet roll-ups can then filter by region) without changing the grouping."""
    slice: Seconds = 60.0
    """Evaluation step of the SLO's rules: one time slice of a threshold SLI. At most Prometheus's 5-minute
    lookback: the alerts, in their own group, read the recorded window ratios with it."""
    outage: Literal["bad", "unmeasured"] = "unmeasured"
    """What a slice is while the group's cluster is down (``kafka_cluster_up == 0``, or the exporter target that
    reports it is down): ``bad`` for SLOs an outage violates (availability), ``unmeasured`` (neither good nor bad)
    for SLOs whose input an outage merely hides. ``bad`` needs a threshold SLI grouped by ``cluster``."""
    page_min_bad: Seconds = 120.0
    """A page also needs at least this much bad time (in whole slices, rounded up) inside its long window: one bad
    slice is a blip to look at in working hours, not a reason to wake someone (threshold SLIs only)."""

    @field_validator("slice")
    @classmethod
    def _within_lookback(cls, seconds: float) -> float:
        if seconds > LOOKBACK_SECONDS:
            raise ValueError(
                "must be at most 5m, Prometheus' lookback: the alerts read the recorded window ratios with it, "
                "and a longer step would leave gaps between their samples"
            )
        return seconds

    @field_validator("group_by")
    @classmethod
    def _labels(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if not _LABEL.match(label):
                raise ValueError(f"{label!r} is not a valid Prometheus label name")
            if label in RESERVED_GROUP_LABELS:
                raise ValueError(f"{label!r} is set by the generated rules and cannot be a group_by label")
        if len(set(labels)) != len(labels):
            raise ValueError("a label is listed twice")
        return labels

    def threshold_for(self, environment: str) -> float | None:
        target = self.targets[environment]
        if target.threshold is not None:
            return target.threshold
        return getattr(self.sli, "threshold", None)


class Costs(_Strict):
    """Prices for the cost model; recorded rules turn them into dollars per day."""

    ingress_dollars_per_gb: float = Field(default=0.01, ge=0)
    storage_dollars_per_gb_month: float = Field(default=0.10, ge=0)
    bytes_per_gb: float = Field(default=1e9, gt=0)
    """1e9 (decimal GB, most price lists) or 1073741824 (GiB, e.g. AWS data transfer)."""


class KafkaAlerts(_Strict):
    """Thresholds of the hand-written Kafka health alerts."""

    consumer_lag_threshold: float = Field(default=10000, gt=0)
    disk_used_ratio: float = Field(default=0.8, gt=0, lt=1)
    exporter_job: str = Field(default="kafka-obs-exporter", min_length=1)
    jmx_agent_job: str = Field(default="kafka-jmx", min_length=1)
    """Prometheus job of the brokers' jmx_exporter agents (``jmx_source: agent`` only): whose ``up`` says a broker's
    JMX series are missing."""


JmxSource = Literal["exporter", "agent"]
"""Who turns the brokers' JMX into series. ``exporter``: kafka-obs reads every broker (series carry ``broker``, the
broker id, and the exporter's ``job``/``instance``; ``kafka_jmx_up`` tells a broker it cannot read). ``agent``:
prometheus/jmx_exporter's Java agent runs in each broker and Prometheus scrapes it (series carry the agent's
``instance``, its ``job``, and ``cluster``/``region``/``environment`` from the scrape config; ``up`` of that job tells
a broker that cannot be read). Names are the same (docs/metrics.md, "Differences from prometheus/jmx_exporter")."""


PriorityName = Literal["critical", "high", "medium", "low"]
AlertLevel = Literal["page", "ticket"]
DEFAULT_RUNBOOK_URL = "docs/runbook.md"


def _default_severity() -> dict[str, AlertLevel]:
    """Staging burns are worth a ticket, not a 3 a.m. page."""
    return {"production": "page", "staging": "ticket"}


def _seed_weights() -> dict[PriorityName, float]:
    """The seed's weights of the cross-region weighted average."""
    return {"critical": 3.0, "high": 2.0, "medium": 1.0, "low": 0.5}


class SLOFile(_Strict):
    """The whole ``slos.yaml``."""

    environments: list[str] = Field(default_factory=lambda: ["production", "staging"], min_length=1)
    slos: list[SLO] = Field(default_factory=list)
    priority_weights: dict[PriorityName, float] = Field(default_factory=_seed_weights)
    costs: Costs = Field(default_factory=Costs)
    alerts: KafkaAlerts = Field(default_factory=KafkaAlerts)
    severity: dict[str, AlertLevel] = Field(default_factory=_default_severity)
    """What the SLO alerts of each environment are: ``page`` (fast burn and critical budget at severity critical)
    or ``ticket`` (one level lower: warning, and info for the slow burns). Environments not listed page."""
    jmx_source: JmxSource = "exporter"
    """Where the brokers' JMX series come from; the rules' per-broker label and JMX health follow it (docs/rules.md,
    "Using the jmx_exporter agent instead of the exporter's JMX")."""
    runbook_url: str = Field(default=DEFAULT_RUNBOOK_URL, min_length=1)
    """Base of every alert's ``runbook_url`` (the alert's anchor is appended), like the mixins' runbookURLPattern.
    The default is the runbook shipped with kafka-obs, relative to its documentation root; set your own docs' URL."""

    def level(self, environment: str) -> AlertLevel:
        return self.severity.get(environment, "page")

    @field_validator("priority_weights")
    @classmethod
    def _positive(cls, weights: dict[str, float]) -> dict[str, float]:
        for name, weight in weights.items():
            if weight <= 0:
                raise ValueError(f"weight of {name} must be positive")
        return weights
