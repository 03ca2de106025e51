"""Plain data for Prometheus rule files: what the generators return and the renderer writes.

Kept free of YAML and I/O so the generators stay pure and their tests compare values, not text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka_obs.rules.promql import duration


@dataclass(frozen=True)
class Rule:
    expr: str
    record: str | None = None
    alert: str | None = None
    for_: float | None = None
    keep_firing_for: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.record is None) == (self.alert is None):
            raise ValueError("a rule is either a recording rule or an alert")

    @property
    def name(self) -> str:
        return self.record or self.alert or ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record} if self.record else {"alert": self.alert}
        out["expr"] = self.expr
        if self.for_:
            out["for"] = duration(self.for_)
        if self.keep_firing_for:
            out["keep_firing_for"] = duration(self.keep_firing_for)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]
    interval: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = duration(self.interval)
        out["rules"] = [rule.to_dict() for rule in self.rules]
        return out


@dataclass(frozen=True)
class RuleFile:
    """One file of ``rules/generated/``: its name, a one-line origin for the header, and its groups."""

    filename: str
    origin: str
    groups: tuple[RuleGroup, ...]
