"""The HTTP API: receive Alertmanager notifications, pause and resume, read the audit, expose metrics.

``POST /alerts`` answers 2xx only once the notification is committed to SQLite (through the group commit in
:mod:`kafka_obs.webhook.intake`), and 5xx only when it could not be (Alertmanager retries 5xx and nothing
else). It checks credentials first, then the size (Content-Length *and* the bytes actually streamed, so a chunked
or lying client cannot make us buffer more than the limit), then the payload, and never waits for a remediation:
the worker is only woken up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from kafka_obs import __version__
from kafka_obs.webhook.auth import Authenticator
from kafka_obs.webhook.metrics import WebhookMetrics
from kafka_obs.webhook.models import InvalidPayload, Notification, parse_notification
from kafka_obs.webhook.routing import route
from kafka_obs.webhook.store import IN_FLIGHT, PENDING, Incoming, State
from kafka_obs.webhook.worker import pause_file_reason, record_enqueue

if TYPE_CHECKING:
    from kafka_obs.webhook.service import Service

log = logging.getLogger(__name__)


class Accepted(BaseModel):
    notification_id: int
    alerts: int
    incidents_new: int
    duplicates: int
    resolved: int
    remediations: list[dict[str, Any]]
    cancelled: list[int]
    rejected: list[dict[str, Any]] = Field(
        default_factory=list,
        description="alerts refused one by one ({index, fingerprint, errors}); the rest of the group was accepted",
    )


class ErrorDetail(BaseModel):
    loc: list[str | int]
    path: str
    msg: str
    type: str


class InvalidPayloadView(BaseModel):
    detail: list[ErrorDetail]


class Message(BaseModel):
    detail: str


class ControlStatus(BaseModel):
    paused: bool
    paused_by_api: bool
    persisted: bool = Field(
        default=True, description="false: the switch holds in memory only (the store could not be written)"
    )
    pause_file: str | None
    pause_file_present: bool
    queue_depth: int | None = Field(description="null when the store cannot be read")
    in_flight: int | None


class AuditRecord(BaseModel):
    seq: int
    ts: float
    event: str
    incident_id: int | None
    remediation_id: int | None
    playbook: str | None
    target: str | None
    action: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    records: list[AuditRecord]
    next_after_seq: int | None = Field(description="pass as after_seq for the next page; null on the last page")


class ChainStatus(BaseModel):
    ok: bool
    records: int
    first_bad_seq: int | None
    reason: str
    head: str = Field(description="hash of the last record; keep a copy to detect a cut-off tail later")


class RemediationView(BaseModel):
    id: int
    incident_id: int
    playbook: str
    target: str | None
    state: str
    reason: str | None
    dry_run: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    deadline: float | None
    fingerprint: str
    starts_at: str
    alertname: str
    labels: dict[str, str]
    incident_status: str
    before: Any = None
    after: Any = None


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": Message, "description": "missing or wrong credentials"}}


PUBLIC_PATHS = frozenset({"/metrics", "/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
"""Everything else needs credentials, checked before routing and parameter validation."""


class Gate:
    """Runs before routing: ambiguous framing is refused (400), then credentials are checked (401).

    Authenticating here, not in each endpoint, means an unauthenticated caller learns nothing from our answers —
    not even the schema of the query parameters (FastAPI validates those before an endpoint's body runs, so a bad
    ``?limit=x`` used to get a 422 with schema detail before the credentials were looked at).
    """

    def __init__(self, app: ASGIApp, *, auth: Authenticator, metrics: WebhookMetrics):
        self.app = app
        self.auth = auth
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "content-length" in headers and "transfer-encoding" in headers:
            # Request smuggling: a proxy and this server may disagree on where the body ends. Refuse and close.
            response = JSONResponse(
                {"detail": "both Content-Length and Transfer-Encoding: send one"},
                status_code=400,
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        if scope["path"] not in PUBLIC_PATHS and not self.auth.check(headers.get("authorization")):
            if scope["path"] == "/alerts":
                self.metrics.notifications.labels("unauthorized").inc()
            response = JSONResponse(
                {"detail": "missing or wrong credentials"},
                status_code=401,
                headers={"WWW-Authenticate": self.auth.challenge},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _audit_view(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "data": json.loads(record["data"])}


def create_app(service: Service) -> FastAPI:  # noqa: PLR0915 (one closure per endpoint reads best here)
    config, store, metrics, worker, auth = service.config, service.store, service.metrics, service.worker, service.auth
    limit = config.limits.max_body_bytes
    app = FastAPI(
        title="kafka-obs webhook",
        version=__version__,
        description="Alertmanager receiver that remediates Kafka incidents safely: durable queue, idempotent "
        "incidents, guardrails, verification, rollback, escalation and a tamper-evident audit log.",
    )

    app.add_middleware(Gate, auth=auth, metrics=metrics)

    async def read_body(request: Request) -> bytes | JSONResponse:
        """The body, or the response refusing it: over the size limit (declared or streamed), or too slow."""
        too_large = JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            metrics.notifications.labels("too_large").inc()
            return too_large
        body = bytearray()
        try:
            async with asyncio.timeout(config.limits.body_timeout):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        metrics.notifications.labels("too_large").inc()
                        return too_large
        except TimeoutError:
            metrics.connections_closed.labels("body timeout").inc()
            return JSONResponse(
                {"detail": f"the body did not arrive within {config.limits.body_timeout:g}s"},
                status_code=408,
                headers={"Connection": "close"},
            )
        return bytes(body)

    @app.post(
        "/alerts",
        status_code=202,
        response_model=Accepted,
        summary="Receive an Alertmanager notification (webhook version 4)",
        responses={
            **UNAUTHORIZED,
            400: {"model": Message, "description": "both Content-Length and Transfer-Encoding (ambiguous framing)"},
            408: {"model": Message, "description": "the body did not arrive within limits.body_timeout"},
            413: {"model": Message, "description": "body larger than limits.max_body_bytes"},
            415: {"model": Message, "description": "Content-Type is not application/json"},
            422: {
                "model": InvalidPayloadView,
                "description": "nothing usable: not JSON, a repeated key, a bad envelope, or every alert invalid;"
                " detail has field paths (one bad alert among good ones is only listed in `rejected`)",
            },
            503: {"model": Message, "description": "could not be stored; Alertmanager will retry"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Notification"}}},
            }
        },
    )
    async def receive(request: Request) -> JSONResponse:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            metrics.notifications.labels("invalid").inc()
            return JSONResponse({"detail": "Content-Type must be application/json"}, status_code=415)
        body = await read_body(request)
        if isinstance(body, JSONResponse):
            return body
        try:
            parsed = parse_notification(body)
        except InvalidPayload as exc:
            metrics.notifications.labels("invalid").inc()
            return JSONResponse({"detail": [p.as_dict() for p in exc.problems]}, status_code=422)
        notification = parsed.notification
        rejected = [r.as_dict() for r in parsed.rejected]
        routed = route(notification, service.playbooks, config)
        try:
            incoming = Incoming(
                notification, body.decode("utf-8"), routed, config.guardrails.grace_period, rejected=rejected
            )
            result = await service.intake.submit(incoming)
        except Exception:
            log.exception("could not store a notification; answering 503 so that Alertmanager retries")
            metrics.notifications.labels("store_failed").inc()
            return JSONResponse({"detail": "could not store the notification; retry"}, status_code=503)
        metrics.notifications.labels("accepted").inc()
        metrics.alerts_rejected.inc(len(rejected))
        record_enqueue(metrics, result)
        worker.wake()
        accepted = Accepted(
            notification_id=result.notification_id,
            alerts=len(notification.alerts),
            incidents_new=result.incidents_new,
            duplicates=result.duplicates,
            resolved=result.resolved,
            remediations=[
                {"id": rid, "playbook": playbook, "alertname": alertname, "state": str(state)}
                for rid, playbook, alertname, state in result.created
            ],
            cancelled=[rid for rid, _, _ in result.cancelled],
            rejected=rejected,
        )
        return JSONResponse(accepted.model_dump(), status_code=202)

    def status(persisted: bool = True) -> ControlStatus:
        try:
            counts: dict[str, int] | None = store.counts()
        except Exception:
            counts = None  # the store is broken: the switch still answers, the counts cannot
        flag = config.guardrails.pause_file
        return ControlStatus(
            persisted=persisted,
            paused=worker.paused(),
            paused_by_api=worker.pause_reason() == "paused (kill switch)",
            pause_file=str(flag) if flag else None,
            pause_file_present=bool(flag and pause_file_reason(flag)),
            queue_depth=None if counts is None else sum(counts.get(s, 0) for s in PENDING),
            in_flight=None if counts is None else sum(counts.get(s, 0) for s in IN_FLIGHT),
        )

    @app.post(
        "/admin/pause", response_model=ControlStatus, responses=UNAUTHORIZED, summary="Kill switch: stop new actions"
    )
    def pause(request: Request) -> Any:
        return status(worker.set_paused(True, who=request.client.host if request.client else "unknown"))

    @app.post("/admin/resume", response_model=ControlStatus, responses=UNAUTHORIZED, summary="Undo /admin/pause")
    def resume(request: Request) -> Any:
        persisted = worker.set_paused(False, who=request.client.host if request.client else "unknown")
        worker.wake()
        return status(persisted)

    @app.get("/admin/status", response_model=ControlStatus, responses=UNAUTHORIZED)
    def admin_status(request: Request) -> Any:
        return status()

    @app.get("/actions", response_model=AuditPage, responses=UNAUTHORIZED, summary="The audit log, filterable")
    def actions(
        request: Request,
        *,
        remediation_id: int | None = Query(default=None, ge=0, le=2**62),
        incident_id: int | None = Query(default=None, ge=0, le=2**62),
        playbook: str | None = None,
        target: str | None = None,
        event: str | None = None,
        since: float | None = Query(default=None, ge=0, le=1e11, description="unix seconds"),
        after_seq: int = Query(default=0, ge=0, le=2**62),
        limit: int = Query(default=500, ge=1, le=10000),
    ) -> Any:
        rows = store.audit_records(
            remediation_id=remediation_id,
            incident_id=incident_id,
            playbook=playbook,
            target=target,
            event=event,
            since=since,
            after_seq=after_seq,
            limit=limit,
        )
        return {
            "records": [_audit_view(r) for r in rows],
            "next_after_seq": rows[-1]["seq"] if len(rows) == limit else None,
        }

    @app.get(
        "/actions/export",
        responses={**UNAUTHORIZED, 200: {"content": {"application/x-ndjson": {}}, "description": "JSON lines"}},
        summary="The whole audit log (or a filtered part) as JSON lines",
        response_class=StreamingResponse,
    )
    def export(request: Request, playbook: str | None = None, target: str | None = None) -> Any:

        def lines() -> Iterator[bytes]:
            for record in store.iter_audit(playbook=playbook, target=target):
                yield (json.dumps(_audit_view(record), separators=(",", ":")) + "\n").encode()

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/actions/verify", response_model=ChainStatus, responses=UNAUTHORIZED, summary="Check the hash chain")
    def verify(request: Request) -> Any:
        report = store.verify_audit()
        return ChainStatus(
            ok=report.ok,
            records=report.records,
            first_bad_seq=report.first_bad_seq,
            reason=report.reason,
            head=report.head,
        )

    @app.get("/remediations", response_model=list[RemediationView], responses=UNAUTHORIZED)
    def remediations(
        request: Request,
        state: State | None = None,
        playbook: str | None = None,
        target: str | None = None,
        limit: int = Query(default=500, ge=1, le=10000),
    ) -> Any:
        found = store.remediations(states={state} if state else None, playbook=playbook, target=target, limit=limit)
        return [r.as_dict() for r in found]

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics of the webhook itself")
    def metrics_endpoint() -> Any:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/healthz",
        response_model=Message,
        responses={503: {"model": Message, "description": "the store cannot take writes (Alertmanager gets 503s)"}},
    )
    def healthz() -> Any:
        problem = store.probe()
        if problem is not None:
            return JSONResponse({"detail": f"the store cannot take writes: {problem}"}, status_code=503)
        return {"detail": "ok"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            payload = Notification.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(payload.pop("$defs", {}))
            components["Notification"] = payload
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
