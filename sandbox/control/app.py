"""Routes of the control API (documented in docs/sandbox.md); every mutation calls the same runtime operation as
the Python API. Bad requests get a 4xx with the reason: 404 for unknown names, 400 for invalid values, 409 for
operations the current state forbids, 422 for malformed bodies (with the field path)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kafka_obs.sandbox.control.kubernetes import add_kubernetes_routes, status_response
from kafka_obs.sandbox.model.cluster import SandboxError

if TYPE_CHECKING:
    from kafka_obs.sandbox.runtime import FleetRuntime


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateBody(_Body):
    messages_per_second: float = Field(ge=0, allow_inf_nan=False)


class ReplicasBody(_Body):
    replicas: int = Field(ge=0, le=1000)


class IsrBody(_Body):
    isr: list[int] = Field(min_length=1)


class DiskBody(_Body):
    used_ratio: float = Field(ge=0, le=1)


class ProduceFaultBody(_Body):
    delay_ms: float = Field(default=0, ge=0, le=60000, allow_inf_nan=False)
    """The broker answers every Produce request this late."""
    drop: bool = False
    """The broker acknowledges produced records and keeps none."""


def build_app(runtime: FleetRuntime) -> FastAPI:
    app = FastAPI(title="kafka-obs sandbox control API", docs_url=None, redoc_url=None, openapi_url="/openapi.json")

    @app.exception_handler(SandboxError)
    async def _sandbox_error(request: Request, exc: SandboxError) -> JSONResponse:
        if request.url.path.startswith("/apis/"):
            return status_response(exc.status, str(exc))
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    def ok(**extra: Any) -> dict[str, Any]:
        return {"ok": True, **extra}

    @app.get("/fleet")
    def fleet() -> dict[str, Any]:
        """Ground truth: every cluster, broker, topic, partition, group and deployment at the clock's now."""
        return runtime.truth()

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return ok()

    @app.get("/clusters/{cluster}/brokers/{broker_id}/stats")
    def broker_stats(cluster: str, broker_id: int) -> dict[str, Any]:
        """Counters and gauges of one broker, as its JMX MBeans would report them."""
        return runtime.cluster(cluster).broker_stats(broker_id).to_dict()

    @app.post("/clusters/{cluster}/brokers/{broker_id}/stop")
    async def stop_broker(cluster: str, broker_id: int) -> dict[str, Any]:
        await runtime.stop_broker(cluster, broker_id)
        return ok()

    @app.post("/clusters/{cluster}/brokers/{broker_id}/start")
    async def start_broker(cluster: str, broker_id: int) -> dict[str, Any]:
        await runtime.start_broker(cluster, broker_id)
        return ok()

    @app.put("/clusters/{cluster}/brokers/{broker_id}/disk")
    def set_disk(cluster: str, broker_id: int, body: DiskBody) -> dict[str, Any]:
        runtime.cluster(cluster).set_disk_usage(broker_id, body.used_ratio)
        return ok()

    @app.put("/clusters/{cluster}/brokers/{broker_id}/produce-fault")
    def set_produce_fault(cluster: str, broker_id: int, body: ProduceFaultBody) -> dict[str, Any]:
        """Slow or lossy produce on one broker (``{"delay_ms": 0, "drop": false}`` clears it)."""
        runtime.cluster(cluster).set_produce_fault(broker_id, delay=body.delay_ms / 1000, drop=body.drop)
        return ok()

    @app.put("/clusters/{cluster}/topics/{topic}/rate")
    def set_rate(cluster: str, topic: str, body: RateBody) -> dict[str, Any]:
        runtime.cluster(cluster).set_produce_rate(topic, body.messages_per_second)
        return ok()

    @app.put("/clusters/{cluster}/topics/{topic}/partitions/{partition}/isr")
    def set_isr(cluster: str, topic: str, partition: int, body: IsrBody) -> dict[str, Any]:
        runtime.cluster(cluster).shrink_isr(topic, partition, body.isr)
        return ok()

    @app.post("/clusters/{cluster}/deployments/{name}/pause")
    def pause(cluster: str, name: str) -> dict[str, Any]:
        runtime.cluster(cluster).pause_deployment(name)
        return ok()

    @app.post("/clusters/{cluster}/deployments/{name}/resume")
    def resume(cluster: str, name: str) -> dict[str, Any]:
        runtime.cluster(cluster).resume_deployment(name)
        return ok()

    @app.put("/clusters/{cluster}/deployments/{name}/replicas")
    def resize(cluster: str, name: str, body: ReplicasBody) -> dict[str, Any]:
        runtime.cluster(cluster).scale_deployment(name, body.replicas)
        return ok()

    @app.put("/clusters/{cluster}/deployments/{name}/rate")
    def set_consume_rate(cluster: str, name: str, body: RateBody) -> dict[str, Any]:
        runtime.cluster(cluster).set_consume_rate(name, body.messages_per_second)
        return ok()

    @app.delete("/clusters/{cluster}/groups/{group}")
    def delete_group(cluster: str, group: str) -> dict[str, Any]:
        runtime.delete_group(cluster, group)
        return ok()

    add_kubernetes_routes(app, runtime)
    return app
