"""The Alertmanager webhook payload (version 4), as typed models.

Alertmanager documents the shape in its configuration reference; we validate it strictly enough that a malformed
notification is refused with the field path (HTTP 422, which Alertmanager does not retry) and loosely enough that
fields a future Alertmanager adds do not break the receiver (unknown keys are ignored, not rejected).
"""

from __future__ import annotations

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
    WithJsonSchema,
    field_validator,
)

LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=256)]
LabelValue = Annotated[str, StringConstraints(max_length=4096)]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer, not a boolean")
    return value


Count = Annotated[int, BeforeValidator(_not_bool)]
"""An integer; JSON's 3.0 is one too, JSON's true is not."""
Timestamp = Annotated[AwareDatetime, Strict()]
"""RFC 3339 with a zone, as Alertmanager writes it (strict: a bare number is not a time here)."""
_LABEL_SET_SCHEMA = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$", "maxLength": 256},
    "additionalProperties": {"type": "string", "maxLength": 4096},
}
LabelSet = Annotated[dict[LabelName, LabelValue], WithJsonSchema(_LABEL_SET_SCHEMA)]
"""Labels or annotations: Prometheus label names to strings (the schema says exactly that, for clients and fuzzers)."""
AlertLabels = Annotated[
    dict[LabelName, LabelValue],
    WithJsonSchema(
        {
            **_LABEL_SET_SCHEMA,
            "required": ["alertname"],
            "properties": {"alertname": {"type": "string", "minLength": 1, "maxLength": 4096}},
        }
    ),
]


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


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


class Notification(_Payload):
    """One POST from Alertmanager: a group of alerts; ``status`` is "firing" if any of them fires."""

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", max_length=65536)
    truncated_alerts: Count = Field(default=0, ge=0, le=2**31, alias="truncatedAlerts")
    status: AlertStatus
    receiver: str = Field(max_length=1024)
    group_labels: LabelSet = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelSet = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelSet = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL", max_length=8192)
    alerts: list[Alert] = Field(min_length=1)  # bounded by limits.max_body_bytes (413), not a count


def utc_iso(timestamp: float) -> str:
    """RFC 3339 in UTC, the form Alertmanager's API and our audit records use."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
