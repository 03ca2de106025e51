"""Action backends: the only code that changes anything outside the webhook.

Each backend works in three steps so that a remediation can always be undone and audited: ``plan`` only reads
(current state, the change it would make, or a :class:`Refused` explaining why not — this is also all a dry run
does), ``apply`` makes the planned change, ``rollback`` puts the planned ``before`` back. Plans are plain JSON and
are stored before ``apply`` runs, so a rollback works even after a restart.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from kafka_obs.webhook.config import Guardrails

Plan = dict[str, Any]
"""``{"before": ..., "desired": ..., "summary": "..."}`` plus whatever the backend needs to roll back."""


class Refused(Exception):
    """The backend will not act (autoscaled, at the ceiling, nothing to change, outside the allowlist)."""


class ActionFailed(Exception):
    """The change was attempted and did not happen (or not completely)."""


class ActionBackend(Protocol):
    def plan(self, spec: dict[str, Any], params: BaseModel, guardrails: Guardrails) -> Plan: ...

    def apply(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]: ...

    def rollback(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]: ...
