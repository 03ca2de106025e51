"""The Alertmanager webhook payload (version 4), as typed models.

Alertmanager documents the shape in its configuration reference; we validate it strictly enough that a malformed
notification is refused with the field path (HTTP 422, which Alertmanager does not retry) and loosely enough that
fields a future Alertmanager adds do not break the receiver (unknown keys are ignored, not rejected).

Strict where it matters: no string-to-number coercion, no repeated JSON keys (the last one would win while the
stored body shows both). Lenient where Alertmanager is: label values and annotations have no length limit of their
own (Alertmanager has none; the body limit bounds them). And an alert that is wrong is rejected *alone*: since
Alertmanager never retries a 4xx, refusing a whole group for one bad alert would lose every other alert in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from kafka_obs.config.loader import format_path

LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=256)]
LabelValue = str


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("expected a JSON integer, not a string or a boolean")
    return value


Count = Annotated[int, BeforeValidator(_json_integer)]
"""An integer as JSON Schema defines one (3 or 3.0), never "3" nor true: no string-to-number coercion."""
Timestamp = Annotated[AwareDatetime, Strict()]
"""RFC 3339 with a zone, as Alertmanager writes it (strict: a bare number is not a time here)."""
_LABEL_SET_SCHEMA = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$", "maxLength": 256},
    "additionalProperties": {"type": "string"},
}
LabelSet = Annotated[dict[LabelName, LabelValue], WithJsonSchema(_LABEL_SET_SCHEMA)]
"""Labels or annotations: Prometheus label names to strings (the schema says exactly that, for clients and fuzzers)."""
AlertLabels = Annotated[
    dict[LabelName, LabelValue],
    WithJsonSchema(
        {
            **_LABEL_SET_SCHEMA,
            "required": ["alertname"],
            "properties": {"alertname": {"type": "string", "minLength": 1}},
        }
    ),
]


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


class _Payload(BaseModel):
    # Alertmanager's camelCase keys only: a snake_case twin (``external_url``) is an unknown key like any other and is
    # ignored, never read in place of the real field (schemathesis found ``{"external_url": 0}`` refused with 422).
    model_config = ConfigDict(extra="ignore", frozen=True, validate_by_name=False, validate_by_alias=True)


class Alert(_Payload):
    status: AlertStatus
    labels: AlertLabels
    annotations: LabelSet = Field(default_factory=dict)
    starts_at: Timestamp = Field(alias="startsAt")
    ends_at: Timestamp | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=8192)
    fingerprint: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("labels")
    @classmethod
    def _has_alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname"):
            raise ValueError("labels must contain a non-empty alertname")
        return labels

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    def incident_start(self) -> str:
        """``startsAt`` in one canonical form, so the HA peers' copies of an incident compare equal."""
        return self.starts_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Envelope(_Payload):
    """Everything of a notification but its alerts, which are validated one by one (:func:`parse_notification`)."""

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", max_length=65536)
    truncated_alerts: Count = Field(default=0, ge=0, le=2**31, alias="truncatedAlerts")
    status: AlertStatus
    receiver: str = Field(max_length=1024)
    group_labels: LabelSet = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelSet = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelSet = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL", max_length=8192)
    alerts: list[Any] = Field(min_length=1)  # bounded by limits.max_body_bytes (413), not a count


class Notification(_Envelope):
    """One POST from Alertmanager: a group of alerts; ``status`` is "firing" if any of them fires."""

    alerts: list[Alert] = Field(min_length=1)


@dataclass(frozen=True)
class PayloadProblem:
    loc: tuple[str | int, ...]
    msg: str
    type: str

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "path": format_path(self.loc), "msg": self.msg, "type": self.type}


class InvalidPayload(Exception):
    """The notification cannot be used at all (HTTP 422): not JSON, a repeated key, a bad envelope, no good alert."""

    def __init__(self, problems: list[PayloadProblem]):
        super().__init__("; ".join(f"{format_path(p.loc)}: {p.msg}" for p in problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class RejectedAlert:
    index: int
    fingerprint: str | None
    problems: list[PayloadProblem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "fingerprint": self.fingerprint,
            "errors": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class Parsed:
    notification: Notification
    rejected: list[RejectedAlert]


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _problems(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[PayloadProblem]:
    return [
        PayloadProblem((*prefix, *e["loc"]), e["msg"], e["type"])
        for e in exc.errors(include_input=False, include_url=False)
    ]


def parse_notification(body: bytes) -> Parsed:
    """Validate a webhook body: the envelope strictly, then each alert on its own.

    Raises :class:`InvalidPayload` when nothing in it can be used (HTTP 422); otherwise the alerts that passed,
    and the ones that did not with their field paths (``alerts[3].startsAt``), to be recorded next to the rest.
    """
    try:
        data = json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        problem = PayloadProblem((), f"key {exc.args[0]!r} appears more than once", "duplicate_key")
        raise InvalidPayload([problem]) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidPayload([PayloadProblem((), f"not JSON: {exc}", "json_invalid")]) from None
    try:
        envelope = _Envelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(_problems(exc)) from None
    alerts: list[Alert] = []
    rejected: list[RejectedAlert] = []
    for index, item in enumerate(envelope.alerts):
        try:
            # JSON mode (re-encoded), so that timestamps are parsed as Alertmanager writes them, strictly.
            alerts.append(Alert.model_validate_json(json.dumps(item)))
        except ValidationError as exc:
            fingerprint = item.get("fingerprint") if isinstance(item, dict) else None
            rejected.append(
                RejectedAlert(
                    index,
                    fingerprint if isinstance(fingerprint, str) else None,
                    _problems(exc, ("alerts", index)),
                )
            )
    if not alerts:
        raise InvalidPayload([p for r in rejected for p in r.problems])
    fields = {name: getattr(envelope, name) for name in _Envelope.model_fields if name != "alerts"}
    return Parsed(Notification.model_construct(**fields, alerts=alerts), rejected)


def utc_iso(timestamp: float) -> str:
    """RFC 3339 in UTC, the form Alertmanager's API and our audit records use."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
