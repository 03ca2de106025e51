"""The action backends' planning rules (ceilings, floors, refusals), with fake API clients."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka.admin import ConfigSource

from kafka_obs.config.clusters import NameMatcher
from kafka_obs.webhook.actions import ActionFailed, Refused
from kafka_obs.webhook.actions.kafka_config import TopicConfigChanger
from kafka_obs.webhook.actions.kubernetes import DeploymentScaler
from kafka_obs.webhook.config import Guardrails
from kafka_obs.webhook.playbooks import LowerRetentionParams, ScaleDeploymentParams

SPEC = {"cluster": "alpha", "namespace": "alpha", "name": "consumer", "topics": ["orders"], "max_replicas": None}


class FakeApps:
    def __init__(self, replicas: int, annotations: dict[str, str] | None = None):
        self.replicas = replicas
        self.annotations = annotations or {}
        self.patches: list[int] = []

    def read_namespaced_deployment(self, name: str, namespace: str, **_: Any) -> Any:
        return SimpleNamespace(metadata=SimpleNamespace(annotations=self.annotations))

    def read_namespaced_deployment_scale(self, name: str, namespace: str, **_: Any) -> Any:
        return SimpleNamespace(spec=SimpleNamespace(replicas=self.replicas))

    def patch_namespaced_deployment_scale(self, name: str, namespace: str, body: dict[str, Any], **_: Any) -> None:
        self.patches.append(body["spec"]["replicas"])
        self.replicas = body["spec"]["replicas"]


def scaler(api: FakeApps, partitions: int = 12) -> DeploymentScaler:
    return DeploymentScaler(api, lambda _cluster, _topics: partitions, annotation="kafka-obs.io/autoscaled")


@pytest.mark.parametrize(
    ("current", "partitions", "max_replicas", "guard_max", "expected"),
    [
        (3, 12, 20, 20, 6),  # x2
        (4, 6, 20, 20, 6),  # never above the partition count
        (8, 40, 20, 20, 16),
        (15, 40, 20, 20, 20),  # the playbook's ceiling
        (15, 40, 20, 18, 18),  # the guardrail's ceiling
        (3, 5, 20, 20, 5),
    ],
)
def test_scale_ceilings(current: int, partitions: int, max_replicas: int, guard_max: int, expected: int) -> None:
    api = FakeApps(current)
    plan = scaler(api, partitions).plan(
        SPEC, ScaleDeploymentParams(max_replicas=max_replicas), Guardrails(max_replicas=guard_max)
    )
    assert plan["desired"] == {"replicas": expected}
    assert api.patches == []  # planning never writes


@pytest.mark.parametrize(
    ("replicas", "annotations", "partitions", "reason"),
    [
        (3, {"kafka-obs.io/autoscaled": "keda"}, 12, "autoscaled"),
        (3, {"kafka-obs.io/autoscaled": "true"}, 12, "autoscaled"),
        (6, {}, 6, "ceiling"),
        (0, {}, 12, "zero"),
    ],
)
def test_scale_refusals(replicas: int, annotations: dict[str, str], partitions: int, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        scaler(FakeApps(replicas, annotations), partitions).plan(SPEC, ScaleDeploymentParams(), Guardrails())


def test_annotation_false_is_not_autoscaled() -> None:
    api = FakeApps(3, {"kafka-obs.io/autoscaled": "false"})
    s = scaler(api)
    plan = s.plan(SPEC, ScaleDeploymentParams(), Guardrails())
    assert s.apply(SPEC, plan) == {"replicas": 6}
    assert s.rollback(SPEC, plan) == {"replicas": 3}
    assert api.patches == [6, 3]


def test_unknown_topic_partitions_refuses_rather_than_guessing() -> None:
    with pytest.raises(Refused, match="partition count"):
        scaler(FakeApps(3)).plan({**SPEC, "topics": []}, ScaleDeploymentParams(), Guardrails())


class FakeAdmin:
    def __init__(self, topics: dict[str, dict[str, tuple[str, bool]]]):
        self.topics = topics

    def list_topics(self, timeout: float = 0) -> Any:
        return SimpleNamespace(topics={name: None for name in self.topics})

    def describe_configs(self, resources: list[Any]) -> dict[Any, Future[Any]]:
        out = {}
        for resource in resources:
            future: Future[Any] = Future()
            future.set_result(
                {
                    key: SimpleNamespace(value=v, source=int(ConfigSource.DYNAMIC_TOPIC_CONFIG.value if o else 5))
                    for key, (v, o) in self.topics[resource.name].items()
                }
            )
            out[resource] = future
        return out


def changer(topics: dict[str, dict[str, tuple[str, bool]]], allow: list[str]) -> TopicConfigChanger:
    admin = FakeAdmin(topics)
    return TopicConfigChanger(lambda _cluster: admin, lambda _cluster: NameMatcher(allow, []))


def test_retention_plan_respects_floor_allowlist_and_current_values() -> None:
    topics = {
        "big": {"cleanup.policy": ("delete", False), "retention.ms": ("604800000", False)},
        "forever": {"cleanup.policy": ("delete", True), "retention.ms": ("-1", True)},
        "short": {"cleanup.policy": ("delete", False), "retention.ms": ("3600000", True)},
        "state": {
            "cleanup.policy": ("compact", True),
            "min.cleanable.dirty.ratio": ("0.5", False),
            "segment.ms": ("604800000", False),
        },
        "secret": {"cleanup.policy": ("delete", False), "retention.ms": ("604800000", False)},
    }
    plan = changer(topics, ["big", "forever", "short", "state"]).plan(
        {"cluster": "alpha"}, LowerRetentionParams(retention=1800.0), Guardrails(retention_floor=7200.0)
    )
    assert plan["retention_ms"] == 7_200_000  # the floor wins over the playbook's 30 minutes
    assert plan["desired"] == {
        "big": {"retention.ms": "7200000"},
        "forever": {"retention.ms": "7200000"},
        "state": {"min.cleanable.dirty.ratio": "0.01", "segment.ms": "3600000"},
    }  # "short" is already below, "secret" is not allowlisted
    assert plan["before"]["forever"]["retention.ms"] == {"value": "-1", "overridden": True}
    assert plan["before"]["big"]["retention.ms"] == {"value": "604800000", "overridden": False}
    assert "not data" in plan["note"]


def test_nothing_allowlisted_is_refused() -> None:
    with pytest.raises(Refused, match="allowlist"):
        changer({"a": {}}, ["b"]).plan({"cluster": "alpha"}, LowerRetentionParams(), Guardrails())


class LaggingAdmin(FakeAdmin):
    """A KRaft cluster as the client sees it: an alter is committed when it answers, but the broker that answers
    DescribeConfigs applies it ``lag`` reads later (``lag=None``: never, a change that did not stick)."""

    def __init__(self, topics: dict[str, dict[str, tuple[str, bool]]], lag: int | None):
        super().__init__(topics)
        self.lag = lag
        self.pending: list[tuple[int, str, str, str | None]] = []
        self.reads = 0

    def incremental_alter_configs(self, resources: list[Any]) -> dict[Any, Future[Any]]:
        out = {}
        for resource in resources:
            for entry in resource.incremental_configs:
                self.pending.append((self.reads, resource.name, entry.name, entry.value))
            future: Future[Any] = Future()
            future.set_result(None)
            out[resource] = future
        return out

    def describe_configs(self, resources: list[Any]) -> dict[Any, Future[Any]]:
        self.reads += 1
        for item in list(self.pending):
            at, topic, name, value = item
            if self.lag is not None and self.reads > at + self.lag:
                default = {"retention.ms": "604800000"}[name]
                self.topics[topic][name] = (value, True) if value is not None else (default, False)
                self.pending.remove(item)
        return super().describe_configs(resources)


def lagging(lag: int | None) -> tuple[TopicConfigChanger, LaggingAdmin, list[float]]:
    admin = LaggingAdmin(
        {"inherited": {"cleanup.policy": ("delete", False), "retention.ms": ("604800000", False)}}, lag
    )
    now = [0.0]
    changer = TopicConfigChanger(
        lambda _cluster: admin,
        lambda _cluster: NameMatcher([".*"], []),
        timeout=5.0,
        monotonic=lambda: now[0],
        sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
    )
    return changer, admin, now


def test_a_change_read_back_from_a_broker_that_has_not_applied_it_yet_is_polled_not_failed() -> None:
    changer, admin, now = lagging(lag=3)
    plan = changer.plan({"cluster": "alpha"}, LowerRetentionParams(), Guardrails())
    assert changer.apply({"cluster": "alpha"}, plan) == {"inherited": {"retention.ms": "86400000"}}
    assert changer.rollback({"cluster": "alpha"}, plan)["configs"] == {"inherited": {"retention.ms": "604800000"}}
    assert admin.topics["inherited"]["retention.ms"] == ("604800000", False)  # inherited again, not pinned
    assert 0 < now[0] < 5.0


def test_a_rollback_that_does_not_restore_the_prior_state_fails_and_says_what_is_left() -> None:
    changer, admin, now = lagging(lag=0)
    plan = changer.plan({"cluster": "alpha"}, LowerRetentionParams(), Guardrails())
    changer.apply({"cluster": "alpha"}, plan)
    admin.lag = None  # the DELETE never shows
    with pytest.raises(
        ActionFailed, match=r"inherited\.retention\.ms: set on the topic to 86400000 instead of inherited"
    ):
        changer.rollback({"cluster": "alpha"}, plan)
    assert now[0] >= 5.0  # it waited for the timeout before giving up
