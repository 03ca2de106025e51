"""Playbooks: which alerts a remediation answers, what it does, how success is checked.

A playbook matches an alert by name and labels (regular expressions, whole-value match), names the kind of target
its actions work on, lists the actions with their parameters, and a PromQL verification. The file is loaded
through the project's config loader, so an unknown action or a bad parameter is reported with its field path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kafka_obs.config.loader import ConfigError, ConfigIssue, Document, load_model
from kafka_obs.webhook.config import DelayDuration, Duration

TargetKind = Literal["deployment", "kafka_cluster"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScaleDeploymentParams(_Strict):
    """Scale a consumer Deployment by ``factor``, never above ``max_replicas`` nor the topics' partition count."""

    factor: float = Field(default=2.0, gt=1.0, le=10.0)
    max_replicas: int = Field(default=20, ge=1)
    cap_at_partitions: bool = Field(default=True, description="extra consumers beyond the partitions sit idle")


class CompactionParams(_Strict):
    """There is no "compact now" in Kafka; these make the dirty part of compacted topics eligible for cleaning."""

    min_cleanable_dirty_ratio: float = Field(default=0.01, gt=0.0, lt=1.0)
    segment: Duration = Field(default=3600.0, ge=600.0, description="segment.ms: roll so the head can be cleaned")


class LowerRetentionParams(_Strict):
    """Lower ``retention.ms`` of allowlisted delete-policy topics; make compacted topics eligible for cleaning."""

    retention: Duration = 86400.0
    compacted: CompactionParams | None = Field(default_factory=CompactionParams)


ACTION_TYPES: dict[str, tuple[type[_Strict], TargetKind]] = {
    "scale_deployment": (ScaleDeploymentParams, "deployment"),
    "lower_retention": (LowerRetentionParams, "kafka_cluster"),
}
"""Action type → (its parameter model, the kind of target it works on)."""


class ActionSpec(_Strict):
    type: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ACTION_TYPES:
            raise ValueError(f"unknown action type {value!r} (known: {', '.join(sorted(ACTION_TYPES))})")
        return value

    def parsed(self) -> _Strict:
        return ACTION_TYPES[self.type][0].model_validate(self.params)


class Verification(_Strict):
    query: str = Field(min_length=1, description="PromQL; holds when it returns a non-empty, non-zero result")
    deadline: Duration = 30.0
    interval: Duration = 5.0
    initial_delay: DelayDuration = Field(default=0.0, description="wait before the first query (e.g. 30s, or 0)")


class Requirement(_Strict):
    """A pre-condition checked right before acting: the actions run only when ``query`` holds.

    For conditions no alert expresses, such as "more consumers would help" (the group's lag evaluation is WARN,
    not STOP or STALL). When it does not hold, the remediation is refused and — with ``otherwise: escalate`` —
    escalated with the evidence, so a human gets the case the automation must not touch.
    """

    query: str = Field(min_length=1, description="PromQL; holds when it returns a non-empty, non-zero result")
    evidence: str | None = Field(
        default=None, description="PromQL whose result is recorded with the decision (default: the query's own)"
    )
    otherwise: Literal["escalate", "skip"] = Field(
        default="escalate", description="escalate: a RemediationFailed alert with the evidence; skip: record only"
    )


class Match(_Strict):
    alertname: str = Field(min_length=1, description="regular expression on the alert name")
    labels: dict[str, str] = Field(default_factory=dict, description="label → regular expression")

    @field_validator("alertname")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @field_validator("labels")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value

    def __call__(self, labels: dict[str, str]) -> bool:
        if not re.fullmatch(self.alertname, labels.get("alertname", "")):
            return False
        return all(re.fullmatch(pattern, labels.get(name, "")) for name, pattern in self.labels.items())


PlaybookName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Playbook(_Strict):
    name: PlaybookName
    description: str = ""
    enabled: bool = Field(default=False, description="dry-run (plan and record, change nothing) until enabled")
    match: Match
    target: TargetKind
    actions: list[ActionSpec] = Field(min_length=1)
    verify: Verification
    require: Requirement | None = Field(default=None, description="pre-condition checked right before acting")
    rollback: bool = True
    escalate: bool = True
    cooldown: Duration | None = Field(default=None, description="overrides guardrails.cooldown")
    max_actions_per_hour: int | None = Field(default=None, ge=0, description="overrides the per-playbook cap")

    def queries(self) -> list[str]:
        """Every PromQL template of the playbook (their ``{{label}}`` placeholders must be on the alert)."""
        out = [self.verify.query]
        if self.require is not None:
            out.append(self.require.query)
            if self.require.evidence:
                out.append(self.require.evidence)
        return out


class PlaybookFile(_Strict):
    playbooks: list[Playbook] = Field(default_factory=list)


_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def render_query(template: str, labels: dict[str, str]) -> str:
    """Substitute ``{{label}}`` with the alert's label value, escaped for a PromQL double-quoted string."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in labels:
            raise KeyError(name)
        return labels[name].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return _PLACEHOLDER.sub(substitute, template)


def _checks(document: Document, loaded: PlaybookFile) -> list[ConfigIssue]:
    issues = []
    seen: set[str] = set()
    for index, playbook in enumerate(loaded.playbooks):
        if playbook.name in seen:
            issues.append(document.issue(("playbooks", index, "name"), "playbook name appears more than once"))
        seen.add(playbook.name)
        for position, action in enumerate(playbook.actions):
            params_model, kind = ACTION_TYPES[action.type]
            where = ("playbooks", index, "actions", position)
            if kind != playbook.target:
                issues.append(
                    document.issue((*where, "type"), f"works on a {kind}, the playbook targets a {playbook.target}")
                )
            try:
                params_model.model_validate(action.params)
            except ValidationError as exc:
                for err in exc.errors(include_input=False):
                    issues.append(document.issue((*where, "params", *err["loc"]), str(err["msg"])))
    return issues


def load_playbooks(path: str | Path, enable: list[str] | tuple[str, ...] = ()) -> list[Playbook]:
    """Load ``playbooks.yaml``; names in ``enable`` (from the webhook config) are enabled on top of the file."""
    loaded = load_model(path, PlaybookFile, check=_checks)
    known = {p.name for p in loaded.playbooks}
    unknown = [name for name in enable if name not in known]
    if unknown:
        raise ConfigError(str(path), [ConfigIssue("playbooks", f"enabled in the config but not defined: {unknown}")])
    return [p.model_copy(update={"enabled": True}) if p.name in enable else p for p in loaded.playbooks]
