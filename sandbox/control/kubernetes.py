"""A Kubernetes-compatible slice of ``apps/v1``: Deployments and their ``scale`` subresource.

Namespace = cluster name, deployment name = the fleet file's deployment name. Enough for the official Kubernetes
Python client (``read_namespaced_deployment``, ``read/patch/replace_namespaced_deployment_scale``,
``list_namespaced_deployment``), which is what the webhook's scale action uses against a real cluster.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kafka_obs.sandbox.model.cluster import DeploymentState, NotFound, SandboxError

if TYPE_CHECKING:
    from kafka_obs.sandbox.runtime import FleetRuntime

_REASONS = {400: "BadRequest", 404: "NotFound", 409: "Conflict", 415: "UnsupportedMediaType", 422: "Invalid"}

PREFIX = "/apis/apps/v1/namespaces/{namespace}/deployments"


def status_response(code: int, message: str) -> JSONResponse:
    """A ``v1.Status`` failure, the error body every Kubernetes client understands."""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": _REASONS.get(code, "BadRequest"),
        "code": code,
    }
    return JSONResponse(body, status_code=code)


def _metadata(namespace: str, dep: DeploymentState, generation: int) -> dict[str, Any]:
    return {
        "name": dep.name,
        "namespace": namespace,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{dep.name}")),
        "resourceVersion": str(generation),
        "generation": generation,
        "labels": {"app": dep.name, "kafka-obs/consumer-group": dep.group[:63]},
        "annotations": {"kafka-obs/consumer-group": dep.group, "kafka-obs/paused": str(dep.paused).lower()},
    }


def deployment_object(namespace: str, dep: DeploymentState, generation: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(namespace, dep, generation),
        "spec": {
            "replicas": dep.replicas,
            "selector": {"matchLabels": {"app": dep.name}},
            "template": {
                "metadata": {"labels": {"app": dep.name}},
                "spec": {"containers": [{"name": "consumer", "image": "kafka-obs/sandbox-consumer:simulated"}]},
            },
        },
        "status": {
            "observedGeneration": generation,
            "replicas": dep.replicas,
            "updatedReplicas": dep.replicas,
            "readyReplicas": dep.replicas,
            "availableReplicas": dep.replicas,
        },
    }


def scale_object(namespace: str, dep: DeploymentState, generation: int) -> dict[str, Any]:
    meta = _metadata(namespace, dep, generation)
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion")},
        "spec": {"replicas": dep.replicas},
        "status": {"replicas": dep.replicas, "selector": f"app={dep.name}"},
    }


def add_kubernetes_routes(app: FastAPI, runtime: FleetRuntime) -> None:
    generations: dict[tuple[str, str], int] = {}

    def lookup(namespace: str, name: str) -> tuple[DeploymentState, int]:
        try:
            dep = runtime.cluster(namespace).deployment(name)
        except NotFound:
            raise NotFound(f'deployments.apps "{name}" not found') from None
        return dep, generations.get((namespace, name), 1)

    async def replicas_from(request: Request) -> int:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise SandboxError("request body is not JSON") from None
        replicas = body.get("spec", {}).get("replicas") if isinstance(body, dict) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise SandboxError("spec.replicas: must be an integer >= 0", 422)
        return replicas

    @app.get("/apis/apps/v1/namespaces/{namespace}/deployments")
    def list_deployments(namespace: str) -> dict[str, Any]:
        cluster = runtime.cluster(namespace)
        items = [
            deployment_object(namespace, dep, generations.get((namespace, dep.name), 1))
            for dep in cluster.deployments.values()
        ]
        return {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": items}

    @app.get(PREFIX + "/{name}")
    def read_deployment(namespace: str, name: str) -> dict[str, Any]:
        dep, generation = lookup(namespace, name)
        return deployment_object(namespace, dep, generation)

    @app.get(PREFIX + "/{name}/scale")
    def read_scale(namespace: str, name: str) -> dict[str, Any]:
        dep, generation = lookup(namespace, name)
        return scale_object(namespace, dep, generation)

    async def write_scale(namespace: str, name: str, request: Request) -> dict[str, Any]:
        lookup(namespace, name)
        replicas = await replicas_from(request)
        runtime.cluster(namespace).scale_deployment(name, replicas)
        generations[(namespace, name)] = generations.get((namespace, name), 1) + 1
        dep, generation = lookup(namespace, name)
        return scale_object(namespace, dep, generation)

    app.add_api_route(PREFIX + "/{name}/scale", write_scale, methods=["PATCH", "PUT"])
