"""The loop closes: sandbox → exporter → regional Prometheus with the generated rules → Alertmanager → webhook →
remediation (Kubernetes scale API, Kafka IncrementalAlterConfigs) → the sandbox recovers → the alert resolves.

One stack for the module (sandbox small fleet: alpha in us-east-1, beta in eu-west-1; two regional Prometheus, the
global one, Alertmanager, the webhook, all real processes). Each scenario acts on its own target, so they do not
interfere: alpha/orders-processor (1, then 5 once its cooldown is over), alpha/clicks-aggregator (3), beta's disks (2)
and a beta broker (4, last, because it degrades beta).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kafka_obs.sandbox.runtime import Sandbox

from .loop import Loop, elapsed, fast_playbooks, started_loop, wait_for

pytestmark = pytest.mark.e2e

US, EU = "us-east-1", "eu-west-1"
PAGE = "KafkaSLOBurnRatePage"
PENDING = {"queued", "grace", "acting", "verifying"}
ALLOWLIST = [("alpha", "orders-processor"), ("alpha", "clicks-aggregator")]
# A 30 s cooldown (15 min shipped) so scenario 5 can run scenario 1's incident again on the same Deployment; the
# per-playbook cap is raised for the same reason (the module runs four remediations within minutes).
GUARDRAILS = {"grace_period": "1s", "cooldown": "30s", "max_actions_per_hour_per_playbook": 10}


def quiet(sb: Sandbox) -> None:
    """The small fleet has two groups that are behind on purpose; scenarios start from a fleet that keeps up."""
    # clicks-aggregator: 2 replicas x 50/s over 4 partitions (25/s each); at 60/s even the busiest partition
    # (+25 % skew) is consumed faster than it fills
    sb.set_produce_rate("alpha", "clicks", 60)
    sb.delete_group("alpha", "payments-audit")  # scaled to zero with 10 minutes of lag


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    # The lag playbook's verification waits 3 s before its first poll, so scenario 5 can kill the webhook while it
    # verifies. The disk playbook polls at once and every 0.5 s: lowered retention frees the disk at once, the alert
    # resolves a second later, and the resolved notification (at the group's next flush, <= 5 s) would cancel a
    # verification that has not passed yet (keeping the change; in production the 5-minute group_interval leaves
    # verification far ahead).
    playbooks = fast_playbooks(deadline="20s", interval="1s", initial_delay=3)
    for playbook in playbooks["playbooks"]:
        if playbook["name"] == "broker_disk_pressure":
            playbook["verify"].update(interval=0.5, initial_delay=0)
    with started_loop(deployments=ALLOWLIST, playbooks=playbooks, guardrails=GUARDRAILS, prepare=quiet) as started:
        yield started


def only(rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
    assert len(rows) == 1, (what, [(r.get("alertname"), r.get("state"), r.get("reason")) for r in rows] or rows)
    return rows[0]


def events(records: list[dict[str, Any]]) -> list[str]:
    return [r["event"] for r in records]


def in_order(seen: list[str], expected: list[str]) -> bool:
    """``expected`` is a subsequence of ``seen``."""
    remaining = iter(seen)
    return all(event in remaining for event in expected)


STORY = [
    "incident_received",
    "grace",
    "acting",
    "planned",
    "action_started",
    "action_applied",
    "verifying",
    "verification_started",
    "succeeded",
]


def applied(loop: Loop, target: str) -> list[dict[str, Any]]:
    return [r for r in loop.audit() if r["event"] == "action_applied" and r["target"] == target]


def lag(loop: Loop, region: str, cluster: str, group: str) -> float | None:
    expr = f'sum(kafka_consumergroup_lag_sum{{cluster="{cluster}", consumergroup="{group}"}})'
    return loop.value(loop.regional(region), expr)


def test_1_consumer_lag_burns_the_slo_and_the_webhook_scales_the_deployment(loop: Loop) -> None:
    started = time.monotonic()
    target = {"slo": "consumer-lag", "cluster": "alpha", "consumergroup": "orders-processor"}
    assert loop.deployment("alpha", "orders-processor")["replicas"] == 3
    loop.sandbox.set_produce_rate("alpha", "orders", 135)  # 3 replicas x 30/s fall behind by 45/s; 6 catch up
    try:
        wait_for(lambda: loop.alerts(loop.regional(US), "KafkaSLOBurnRatePage", **target), 90, "the page in us-east-1")
        page = only(loop.alerts(loop.regional(US), "KafkaSLOBurnRatePage", **target), "page")
        assert page["labels"]["topic"] == "orders"
        wait_for(
            lambda: loop.am_alerts('alertname="KafkaSLOBurnRatePage"', 'consumergroup="orders-processor"'),
            30,
            "the page in Alertmanager",
        )
        wait_for(lambda: loop.deployment("alpha", "orders-processor")["replicas"] == 6, 60, "the scale to 6")
        burning = lag(loop, US, "alpha", "orders-processor")
        assert burning is not None, "no lag series for orders-processor in the regional Prometheus"
        assert burning > 1000  # the SLO's threshold: still burning when scaled
        wait_for(lambda: (lag(loop, US, "alpha", "orders-processor") or 1e9) < 1000, 60, "the lag to fall")
        wait_for(
            lambda: (
                [r["state"] for r in loop.remediations(alertname=PAGE, consumergroup="orders-processor")]
                == ["succeeded"]
            ),
            60,
            "verification to pass",
        )
        wait_for(
            lambda: not loop.alerts(loop.regional(US), "KafkaSLOBurnRatePage", **target), 90, "the page to resolve"
        )
        remediation = only(loop.remediations(alertname=PAGE, consumergroup="orders-processor"), "remediation")
        wait_for(
            lambda: "incident_resolved" in events(loop.audit(incident_id=remediation["incident_id"])),
            60,
            "Alertmanager's resolved notification to reach the webhook",
        )
        story = loop.audit(incident_id=remediation["incident_id"])
        assert in_order(events(story), [*STORY, "incident_resolved"]), events(story)
        applied = [r for r in story if r["event"] == "action_applied"]
        assert [(r["data"]["before"], r["data"]["after"]) for r in applied] == [({"replicas": 3}, {"replicas": 6})]
        verification = only([r for r in story if r["event"] == "verification_started"], "verification")
        assert verification["data"]["prometheus"] == f"prometheus=regional-{US}"  # where alpha's raw series live
        assert remediation["labels"]["prometheus"] == f"regional-{US}"

        def others() -> list[dict[str, Any]]:
            return [r for r in loop.remediations(consumergroup="orders-processor") if r["id"] != remediation["id"]]

        wait_for(lambda: all(r["state"] not in PENDING for r in others()), 30, "other incidents of the target to end")
        # e.g. the ticket once the page no longer inhibits it: refused (cooldown), never a second scale
        assert all(r["state"] == "refused" for r in others()), [(r["alertname"], r["state"]) for r in others()]
        assert loop.deployment("alpha", "orders-processor")["replicas"] == 6
    finally:
        loop.sandbox.set_produce_rate("alpha", "orders", 50)
    print(f"scenario 1: {elapsed(started)} s")


def test_5_a_webhook_killed_while_verifying_completes_the_incident_exactly_once(loop: Loop) -> None:
    """Scenario 1 again on the same Deployment (after its cooldown), with the webhook SIGKILLed mid-verification."""
    started = time.monotonic()
    earlier = {r["id"] for r in loop.remediations(consumergroup="orders-processor")}
    applied_before = len(applied(loop, "deployment/alpha/orders-processor"))

    def this_incident() -> list[dict[str, Any]]:
        return [
            r for r in loop.remediations(alertname=PAGE, consumergroup="orders-processor") if r["id"] not in earlier
        ]

    loop.sandbox.scale_deployment("alpha", "orders-processor", 3)  # someone scales it back down
    loop.sandbox.set_produce_rate("alpha", "orders", 135)
    try:
        wait_for(
            lambda: [r["state"] for r in this_incident()] == ["verifying"],
            120,
            "the remediation to be verifying",
            show=lambda: [(r["alertname"], r["state"], r["reason"]) for r in loop.remediations()],
        )
        assert loop.deployment("alpha", "orders-processor")["replicas"] == 6
        loop.stack.restart_webhook_after_crash()  # SIGKILL, then a new process on the same database
        wait_for(lambda: [r["state"] for r in this_incident()] == ["succeeded"], 60, "the resumed verification")
        remediation = only(this_incident(), "remediation")
        story = events(loop.audit(incident_id=remediation["incident_id"]))
        assert in_order(story, [*STORY[:-2], "verification_resumed", "verification_started", "succeeded"]), story
        assert story.count("action_applied") == 1, story
        # Alertmanager re-sends the firing page while the webhook is down and after: the same incident, no new action
        wait_for(lambda: not loop.alerts(loop.regional(US), PAGE, consumergroup="orders-processor"), 90, "resolve")
        wait_for(
            lambda: all(r["state"] not in PENDING for r in loop.remediations(consumergroup="orders-processor")),
            30,
            "every incident of the target to end",
        )
        assert len(applied(loop, "deployment/alpha/orders-processor")) == applied_before + 1
        assert loop.deployment("alpha", "orders-processor")["replicas"] == 6  # doubled once, not twice
    finally:
        loop.sandbox.set_produce_rate("alpha", "orders", 50)
    print(f"scenario 5: {elapsed(started)} s")


def test_3_a_failed_verification_rolls_back_and_escalates_to_alertmanager(loop: Loop) -> None:
    started = time.monotonic()
    assert loop.deployment("alpha", "clicks-aggregator")["replicas"] == 2
    # 250/s: even at the partition cap (4 partitions -> 4 replicas x 50/s = 200/s) the lag keeps growing
    loop.sandbox.set_produce_rate("alpha", "clicks", 250)
    try:

        def rolled_back() -> list[dict[str, Any]]:
            # whichever burn alert reached the webhook first (the page, or the ticket when the lag grew slowly
            # enough): the others of the same target are then refused by the cooldown
            return [r for r in loop.remediations(consumergroup="clicks-aggregator") if r["state"] == "rolled_back"]

        wait_for(
            rolled_back,
            120,
            "the rollback",
            show=lambda: [(r["alertname"], r["state"], r["reason"]) for r in loop.remediations()],
        )
        remediation = only(rolled_back(), "rolled back")
        story = loop.audit(incident_id=remediation["incident_id"])
        applied = only([r for r in story if r["event"] == "action_applied"], "applied")
        assert (applied["data"]["before"], applied["data"]["after"]) == ({"replicas": 2}, {"replicas": 4})
        assert in_order(events(story), ["action_applied", "verification_failed", "rollback_applied"]), events(story)
        assert loop.deployment("alpha", "clicks-aggregator")["replicas"] == 2  # the original state, restored

        def escalated() -> list[dict[str, Any]]:
            return loop.am_alerts('alertname="RemediationFailed"', 'consumergroup="clicks-aggregator"')

        wait_for(escalated, 30, "RemediationFailed in Alertmanager's API")
        alert = escalated()[0]
        assert alert["labels"]["outcome"] == "rolled_back"
        assert alert["labels"]["original_alertname"] == remediation["alertname"]
        assert alert["receivers"] == [{"name": "humans"}]  # escalations go to people, never back to the webhook
    finally:
        loop.sandbox.set_produce_rate("alpha", "clicks", 60)
    print(f"scenario 3: {elapsed(started)} s")


def test_2_disk_pressure_lowers_retention_over_the_kafka_protocol(loop: Loop) -> None:
    started = time.monotonic()
    assert loop.topic_config("beta", "events")["retention.ms"] == ("604800000", False)  # 7 days, inherited
    loop.sandbox.set_disk_usage("beta", 1, 0.81)  # events' 7 days of data are ~3 % of the disk; 24 h frees 6/7 of it
    wait_for(
        lambda: loop.alerts(loop.regional(EU), "KafkaBrokerDiskPressure", cluster="beta", broker="1"),
        60,
        "KafkaBrokerDiskPressure in eu-west-1",
    )
    wait_for(
        lambda: (
            [r["state"] for r in loop.remediations(alertname="KafkaBrokerDiskPressure", cluster="beta")]
            == ["succeeded"]
        ),
        90,
        "retention lowered and verified",
        show=lambda: [(r["alertname"], r["state"], r["reason"]) for r in loop.remediations()],
    )
    assert loop.topic_config("beta", "events")["retention.ms"] == ("86400000", True)  # DescribeConfigs: 24 h, set
    assert loop.disk_used("beta", 1) < 0.8
    used = loop.value(loop.regional(EU), 'max(1 - kafka_log_dir_usable_bytes{cluster="beta", broker="1"}'
                                        ' / kafka_log_dir_total_bytes{cluster="beta", broker="1"})')  # fmt: skip
    assert used is not None
    assert used < 0.8
    remediation = only(loop.remediations(alertname="KafkaBrokerDiskPressure", cluster="beta"), "remediation")
    applied = only([r for r in loop.audit(incident_id=remediation["incident_id"]) if r["event"] == "action_applied"],
                   "applied")  # fmt: skip
    assert "events" in str(applied["data"]["after"])
    wait_for(
        lambda: not loop.alerts(loop.regional(EU), "KafkaBrokerDiskPressure", cluster="beta"),
        60,
        "the alert to resolve",
    )
    print(f"scenario 2: {elapsed(started)} s")


def test_4_a_stopped_broker_shows_in_the_regional_and_the_global_prometheus(loop: Loop) -> None:
    started = time.monotonic()
    regional, global_ = loop.regional(EU), loop.global_url
    assert loop.value(regional, 'cluster:kafka_health_score:ratio{cluster="beta"}') == 1
    loop.sandbox.stop_broker("beta", 2)
    try:
        urp = 'kafka_cluster_under_replicated_partitions{cluster="beta"}'
        truth = loop.sandbox.truth()["clusters"]["beta"]["topics"]["events"]["partitions"]
        expected_urp = sum(len(p["isr"]) < len(p["replicas"]) for p in truth)
        assert expected_urp == 3
        wait_for(lambda: loop.value(regional, urp) == expected_urp, 30, "under-replicated partitions in eu-west-1")
        wait_for(lambda: loop.value(regional, 'cluster:kafka_health_score:ratio{cluster="beta"}') == 0, 30, "health")
        burn = 'slo:sli_error:ratio{slo="broker-availability", cluster="beta", window="30s"}'
        wait_for(lambda: (loop.value(regional, burn) or 0) > 0, 30, "the broker-availability SLI in eu-west-1")
        # federated: the same series in the global Prometheus, and the cross-region views computed from them
        wait_for(lambda: loop.value(global_, 'cluster:kafka_health_score:ratio{cluster="beta"}') == 0, 30, "global")
        wait_for(lambda: (loop.value(global_, burn) or 0) > 0, 30, "the federated SLI")
        wait_for(lambda: loop.value(global_, f'region:kafka_health_score:ratio{{region="{EU}"}}') == 0, 30, "region")
        assert loop.value(global_, f'region:kafka_health_score:ratio{{region="{US}"}}') == 1
        wait_for(lambda: loop.value(global_, "global:kafka_health_score:ratio") == 0.5, 30, "the global score")
        remaining = 'global:slo_error_budget_remaining_ratio:min{slo="broker-availability", environment="staging"}'
        wait_for(lambda: (loop.value(global_, remaining) or 1) < 1, 30, "the fleet-wide budget")
        wait_for(
            lambda: loop.alerts(regional, PAGE, slo="broker-availability", cluster="beta"),
            30,
            "the broker-availability page in eu-west-1",
        )
    finally:
        loop.sandbox.start_broker("beta", 2)
    print(f"scenario 4: {elapsed(started)} s")


def test_6_every_self_healing_panel_has_data_once_the_webhook_has_worked(loop: Loop) -> None:
    """The dashboards' live test cannot cover the panels that read only the webhook's metrics (they need a webhook
    that has remediated); after scenarios 1-5 this one has succeeded, rolled back, escalated and refused, and the
    regional Prometheus scrapes it, so every such panel must return data here."""
    from tests.dashboards.grafana import load_all, queries, substitute

    values = {"datasource": "prometheus", "region": ".*", "environment": ".*", "cluster": ".*", "playbook": ".*"}
    values |= {"__rate_interval": "1m", "__range": "1h"}
    webhook_panels = [q for q in queries(load_all()) if "kafka_obs_webhook_" in q.expr]
    assert len(webhook_panels) >= 8

    def empty() -> list[str]:
        return [q.where for q in webhook_panels if not loop.query(loop.regional(US), substitute(q.expr, values))]

    wait_for(lambda: not empty(), 60, "every self-healing panel to have data", show=empty)
