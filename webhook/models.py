"""The Alertmanager webhook payload (version 4), as typed models.

Alertmanager documents the shape in its configuration reference; we validate it strictly enough that a malformed
notification is refused with the field path (HTTP 422, which Alertmanager does not retry) and loosely enough that
fields a future Alertmanager adds do not break the receiver (unknown keys are ignored, not rejected).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=256)]
LabelValue = Annotated[str, StringConstraints(max_length=4096)]


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Alert(_Payload):
    status: AlertStatus
    labels: dict[LabelName, LabelValue]
    annotations: dict[LabelName, LabelValue] = Field(default_factory=dict)
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(default=None, alias="endsAt")
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
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: AlertStatus
    receiver: str = Field(max_length=1024)
    group_labels: dict[LabelName, LabelValue] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[LabelName, LabelValue] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[LabelName, LabelValue] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL", max_length=8192)
    alerts: list[Alert] = Field(min_length=1, max_length=10000)


def utc_iso(timestamp: float) -> str:
    """RFC 3339 in UTC, the form Alertmanager's API and our audit records use."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
