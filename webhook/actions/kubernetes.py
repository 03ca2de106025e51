"""Scale a consumer Deployment through the Kubernetes API (the official ``kubernetes`` client).

The client is configured for any API server: in-cluster, a kubeconfig, or an explicit base URL (the sandbox's
Kubernetes-compatible scale endpoint). The backend reads and patches the ``scale`` subresource, like
``kubectl scale``, and refuses Deployments another controller owns: scaling what an HPA or KEDA also scales
starts a tug of war (keda#1482), so a Deployment annotated with ``guardrails.autoscaled_annotation`` (default
``kafka-obs.io/autoscaled``, any value but "false") is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes import config as kube_config
from pydantic import BaseModel

from kafka_obs.webhook.actions import ActionFailed, Plan, Refused
from kafka_obs.webhook.config import Guardrails, KubernetesConfig
from kafka_obs.webhook.playbooks import ScaleDeploymentParams

PartitionCounter = Callable[[str, list[str]], int]
"""(cluster, topics) → the largest partition count among the topics."""


def apps_api(config: KubernetesConfig) -> Any:
    """An ``AppsV1Api`` for the configured API server."""
    configuration = client.Configuration()
    if config.mode == "in_cluster":
        kube_config.load_incluster_config(client_configuration=configuration)
    elif config.mode == "kubeconfig":
        kube_config.load_kube_config(
            config_file=str(config.kubeconfig) if config.kubeconfig else None,
            context=config.context,
            client_configuration=configuration,
        )
    else:
        configuration.host = (config.host or "").rstrip("/")
    if config.token is not None:
        configuration.api_key = {"authorization": config.token.get_secret_value()}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    configuration.verify_ssl = config.verify_ssl
    return client.AppsV1Api(client.ApiClient(configuration))


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status", None)


class DeploymentScaler:
    def __init__(self, api: Any, partitions: PartitionCounter | None, *, annotation: str, timeout: float = 10.0):
        self.api = api
        self.partitions = partitions
        self.annotation = annotation
        self.timeout = timeout

    def _replicas(self, namespace: str, name: str) -> int:
        scale = self.api.read_namespaced_deployment_scale(name, namespace, _request_timeout=self.timeout)
        return int(scale.spec.replicas or 0)

    def plan(self, spec: dict[str, Any], params: BaseModel, guardrails: Guardrails) -> Plan:
        assert isinstance(params, ScaleDeploymentParams)
        namespace, name = spec["namespace"], spec["name"]
        try:
            deployment = self.api.read_namespaced_deployment(name, namespace, _request_timeout=self.timeout)
        except Exception as exc:
            if _status(exc) == 404:
                raise Refused(f"deployment {namespace}/{name} does not exist") from None
            raise ActionFailed(f"cannot read deployment {namespace}/{name}: {exc}") from None
        annotations = (deployment.metadata.annotations or {}) if deployment.metadata else {}
        owner = annotations.get(self.annotation)
        if owner is not None and owner.strip().lower() != "false":
            raise Refused(f"deployment {namespace}/{name} is autoscaled ({self.annotation}={owner}); not fighting it")
        try:
            current = self._replicas(namespace, name)
        except Exception as exc:
            raise ActionFailed(f"cannot read the scale of {namespace}/{name}: {exc}") from None
        if current <= 0:
            raise Refused(f"deployment {namespace}/{name} is scaled to zero on purpose; not starting it")
        ceilings = {"playbook": params.max_replicas, "guardrails": guardrails.max_replicas}
        if spec.get("max_replicas"):
            ceilings["target"] = int(spec["max_replicas"])
        if params.cap_at_partitions:
            topics = list(spec.get("topics") or [])
            if not topics or self.partitions is None:
                raise Refused("cannot cap at the partition count: no topic known for this consumer group")
            try:
                ceilings["partitions"] = self.partitions(spec["cluster"], topics)
            except Exception as exc:
                raise ActionFailed(f"cannot read the partition count of {topics}: {exc}") from None
        ceiling = min(ceilings.values())
        desired = min(math.ceil(current * params.factor), ceiling)
        if desired <= current:
            raise Refused(f"{namespace}/{name} has {current} replicas, at its ceiling {ceiling} ({ceilings})")
        return {
            "before": {"replicas": current},
            "desired": {"replicas": desired},
            "ceilings": ceilings,
            "summary": f"scale deployment {namespace}/{name} from {current} to {desired} replicas",
        }

    def _set(self, spec: dict[str, Any], replicas: int) -> dict[str, Any]:
        namespace, name = spec["namespace"], spec["name"]
        try:
            self.api.patch_namespaced_deployment_scale(
                name, namespace, {"spec": {"replicas": replicas}}, _request_timeout=self.timeout
            )
            observed = self._replicas(namespace, name)
        except Exception as exc:
            raise ActionFailed(f"cannot scale {namespace}/{name} to {replicas}: {exc}") from None
        if observed != replicas:
            raise ActionFailed(f"{namespace}/{name} reports {observed} replicas after scaling to {replicas}")
        return {"replicas": observed}

    def apply(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]:
        return self._set(spec, int(plan["desired"]["replicas"]))

    def rollback(self, spec: dict[str, Any], plan: Plan) -> dict[str, Any]:
        return self._set(spec, int(plan["before"]["replicas"]))
