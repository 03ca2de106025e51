"""The HTTP control API and the Kubernetes-compatible scale subresource (driven by the real kubernetes client)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client as k8s

from kafka_obs.clock import ManualClock
from kafka_obs.sandbox.runtime import Sandbox
from tests.sandbox.conftest import CLUSTER, cluster_truth


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.control_url, timeout=10) as c:
        yield c


@pytest.fixture
def apps(sandbox: Sandbox) -> k8s.AppsV1Api:
    configuration = k8s.Configuration()
    configuration.host = sandbox.control_url
    return k8s.AppsV1Api(k8s.ApiClient(configuration))


def test_get_fleet_is_the_ground_truth(sandbox: Sandbox, http: httpx.Client) -> None:
    response = http.get("/fleet")
    assert response.status_code == 200
    assert response.json() == sandbox.truth()
    assert set(response.json()["clusters"]) == {"alpha", "beta"}


def test_fault_endpoints_change_the_truth(sandbox: Sandbox, http: httpx.Client, clock: ManualClock) -> None:
    base = f"/clusters/{CLUSTER}"
    assert http.post(f"{base}/brokers/3/stop").json() == {"ok": True}
    assert not cluster_truth(sandbox)["brokers"][2]["up"]
    assert http.post(f"{base}/brokers/3/start").status_code == 200
    assert cluster_truth(sandbox)["brokers"][2]["up"]

    assert http.put(f"{base}/topics/orders/rate", json={"messages_per_second": 500}).status_code == 200
    assert cluster_truth(sandbox)["topics"]["orders"]["rate"] == 500

    replicas = cluster_truth(sandbox)["topics"]["orders"]["partitions"][0]["replicas"]
    assert http.put(f"{base}/topics/orders/partitions/0/isr", json={"isr": replicas[:1]}).status_code == 200
    assert cluster_truth(sandbox)["topics"]["orders"]["partitions"][0]["isr"] == replicas[:1]

    assert http.post(f"{base}/deployments/orders-processor/pause").status_code == 200
    assert cluster_truth(sandbox)["deployments"]["orders-processor"]["paused"]
    assert cluster_truth(sandbox)["groups"]["orders-processor"]["state"] == "Empty"
    assert http.post(f"{base}/deployments/orders-processor/resume").status_code == 200
    assert cluster_truth(sandbox)["deployments"]["orders-processor"]["replicas"] == 3
    assert http.put(f"{base}/deployments/orders-processor/replicas", json={"replicas": 1}).status_code == 200
    assert len(cluster_truth(sandbox)["groups"]["orders-processor"]["members"]) == 1

    stalled = cluster_truth(sandbox)["groups"]["orders-processor"]["offsets"]["orders"]
    assert http.put(f"{base}/deployments/orders-processor/rate", json={"messages_per_second": 0}).status_code == 200
    clock.advance(60)
    truth = cluster_truth(sandbox)
    assert truth["deployments"]["orders-processor"]["rate_per_replica"] == 0
    assert truth["groups"]["orders-processor"]["offsets"]["orders"] == stalled  # members stay, offsets do not move
    assert len(truth["groups"]["orders-processor"]["members"]) == 1

    assert http.put(f"{base}/brokers/1/disk", json={"used_ratio": 0.95}).status_code == 200
    broker = cluster_truth(sandbox)["brokers"][0]
    assert broker["disk_used_bytes"] == int(0.95 * broker["disk_total_bytes"])

    assert http.delete(f"{base}/groups/payments-audit").status_code == 200
    assert "payments-audit" not in cluster_truth(sandbox)["groups"]

    stats = http.get(f"{base}/brokers/1/stats").json()
    assert stats == sandbox.cluster(CLUSTER).broker_stats(1).to_dict()


@pytest.mark.parametrize(
    ("call", "body", "status", "reason"),
    [
        ("POST /clusters/nope/brokers/1/stop", None, 404, "unknown cluster"),
        (f"POST /clusters/{CLUSTER}/brokers/9/stop", None, 404, "unknown broker 9"),
        (f"PUT /clusters/{CLUSTER}/topics/nope/rate", {"messages_per_second": 1}, 404, "unknown topic"),
        (f"PUT /clusters/{CLUSTER}/topics/orders/rate", {"messages_per_second": -1}, 422, "greater than or equal"),
        (f"PUT /clusters/{CLUSTER}/topics/orders/rate", {"rate": 1}, 422, "messages_per_second"),
        (f"PUT /clusters/{CLUSTER}/topics/orders/partitions/0/isr", {"isr": [7]}, 400, "not a replica"),
        (f"PUT /clusters/{CLUSTER}/brokers/1/disk", {"used_ratio": 0.0001}, 400, "already use"),
        (f"DELETE /clusters/{CLUSTER}/groups/orders-processor", None, 409, "not empty"),
        (f"DELETE /clusters/{CLUSTER}/groups/nope", None, 404, "unknown group"),
        (f"PUT /clusters/{CLUSTER}/deployments/nope/rate", {"messages_per_second": 1}, 404, "unknown deployment"),
        (f"PUT /clusters/{CLUSTER}/deployments/orders-processor/rate", {"messages_per_second": -1}, 422, "greater"),
    ],
)
def test_bad_requests_get_4xx_with_the_reason(
    http: httpx.Client, call: str, body: object, status: int, reason: str
) -> None:
    method, path = call.split(" ", 1)
    response = http.request(method, path, json=body)
    assert response.status_code == status
    assert reason in response.text


def test_kubernetes_client_reads_and_scales_deployments(sandbox: Sandbox, apps: k8s.AppsV1Api) -> None:
    deployment = apps.read_namespaced_deployment("clicks-aggregator", CLUSTER)
    assert deployment.spec.replicas == cluster_truth(sandbox)["deployments"]["clicks-aggregator"]["replicas"] == 2
    scale = apps.read_namespaced_deployment_scale("clicks-aggregator", CLUSTER)
    assert scale.spec is not None
    assert scale.spec.replicas == 2
    patched = apps.patch_namespaced_deployment_scale("clicks-aggregator", CLUSTER, {"spec": {"replicas": 4}})
    assert patched.spec is not None
    assert patched.spec.replicas == 4
    truth = cluster_truth(sandbox)
    assert truth["deployments"]["clicks-aggregator"]["replicas"] == 4
    assert len(truth["groups"]["clicks-aggregator"]["members"]) == 4
    replaced = apps.replace_namespaced_deployment_scale(
        "clicks-aggregator",
        CLUSTER,
        k8s.V1Scale(metadata=k8s.V1ObjectMeta(name="clicks-aggregator"), spec=k8s.V1ScaleSpec(replicas=0)),
    )
    assert replaced.status is not None
    assert replaced.status.replicas == 0
    assert cluster_truth(sandbox)["groups"]["clicks-aggregator"]["state"] == "Empty"
    deployments = apps.list_namespaced_deployment(CLUSTER).items
    assert all(d.metadata is not None for d in deployments)
    names = {d.metadata.name for d in deployments if d.metadata is not None}
    assert names == set(cluster_truth(sandbox)["deployments"])


def test_kubernetes_errors_are_status_objects(apps: k8s.AppsV1Api) -> None:
    with pytest.raises(k8s.ApiException) as missing:
        apps.read_namespaced_deployment_scale("nope", CLUSTER)
    assert missing.value.status == 404
    assert missing.value.body is not None
    assert '"reason":"NotFound"' in missing.value.body.replace(" ", "")
    with pytest.raises(k8s.ApiException) as invalid:
        apps.patch_namespaced_deployment_scale("clicks-aggregator", CLUSTER, {"spec": {"replicas": -1}})
    assert invalid.value.status == 422
