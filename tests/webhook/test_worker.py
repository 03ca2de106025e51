"""The state machine and the guardrails, on a ManualClock with fake backends: fast and deterministic."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kafka_obs.webhook.config import load_config
from kafka_obs.webhook.store import State

from .conftest import AUTH, TOKEN, Harness, alert, enabled_playbooks, make_config


def events(h: Harness, remediation_id: int) -> list[str]:
    return [r["event"] for r in h.store.audit_records(remediation_id=remediation_id)]


def test_happy_path_acts_after_grace_and_verifies(harness: Harness) -> None:
    response = harness.post(alert())
    assert response.status_code == 202
    harness.worker.run_until_idle()
    assert harness.states() == ["grace"]  # nothing before the grace period ends
    assert harness.scaler.applied == []
    harness.run()
    assert harness.scaler.applied == [("orders-processor", 6)]  # 3 x 2, under the 6 partitions
    assert harness.states() == ["succeeded"]
    assert events(harness, 1) == [
        "queued", "grace", "acting", "precondition", "planned", "action_started", "action_applied", "verifying",
        "verification_started", "succeeded",
    ]  # fmt: skip
    assert 'consumergroup="orders-processor"' in harness.prometheus.queries[0]
    assert harness.metric("kafka_obs_webhook_remediations_total", playbook="high_consumer_lag",
                          alertname="KafkaConsumerLagHigh", result="succeeded") == 1  # fmt: skip
    assert harness.escalator.alerts == []
    assert harness.store.verify_audit().ok


def test_failed_verification_rolls_back_and_escalates(harness: Harness) -> None:
    harness.prometheus.holds = lambda _expr: False
    harness.post(alert(fingerprint="00000000000000aa"))
    harness.run()
    assert harness.scaler.applied == [("orders-processor", 6), ("orders-processor", 3)]
    assert harness.scaler.replicas["orders-processor"] == 3
    assert harness.states() == ["rolled_back"]
    # polled every 5s until the 30s deadline
    assert 6 <= len(harness.prometheus.queries) <= 8
    [escalation] = harness.escalator.alerts
    assert escalation["labels"]["alertname"] == "RemediationFailed"
    assert escalation["labels"]["original_alertname"] == "KafkaConsumerLagHigh"
    assert escalation["labels"]["consumergroup"] == "orders-processor"
    assert escalation["labels"]["outcome"] == "rolled_back"
    assert "escalated" in events(harness, 1)
    assert harness.metric("kafka_obs_webhook_escalations_total", playbook="high_consumer_lag") == 1
    assert harness.metric("kafka_obs_webhook_verification_duration_seconds_count") == 1


def test_action_failure_rolls_back_and_escalates(harness: Harness) -> None:
    harness.scaler.fail_apply = True
    harness.post(alert())
    harness.run()
    assert harness.states() == ["rolled_back"]
    assert harness.prometheus.queries == []  # no verification of an action that did not happen
    assert len(harness.escalator.alerts) == 1


def test_rollback_failure_ends_failed(harness: Harness) -> None:
    harness.prometheus.holds = lambda _expr: False
    harness.scaler.fail_rollback = True
    harness.post(alert())
    harness.run()
    assert harness.states() == ["failed"]
    assert harness.escalator.alerts[0]["labels"]["outcome"] == "failed"
    assert "rollback_failed" in events(harness, 1)


def test_dry_run_changes_nothing(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(enabled=())
    h.post(alert())
    h.run()
    assert h.scaler.applied == []
    assert h.scaler.replicas["orders-processor"] == 3
    [rem] = h.store.remediations()
    assert rem.state is State.dry_run
    assert rem.dry_run
    assert "would: 3->6" in (rem.reason or "")
    assert h.prometheus.queries == []


def test_duplicates_from_ha_peers_and_retries_run_once(harness: Harness) -> None:
    same = alert(fingerprint="00000000000000dd")
    for group_key in ("peer-a", "peer-b", "peer-a"):
        assert harness.post(same, group_key=group_key).status_code == 202
    # an Alertmanager retry with startsAt written differently is still the same incident
    retry = {**same, "startsAt": "2026-01-01T01:00:00+01:00"}
    assert harness.post(retry).json()["duplicates"] == 1
    harness.run()
    assert harness.scaler.applied == [("orders-processor", 6)]
    assert len(harness.store.remediations()) == 1
    assert harness.store.notification_count() == 4  # every notification kept, one incident acted on


def test_same_fingerprint_firing_again_later_is_a_new_incident(harness: Harness) -> None:
    harness.post(alert(fingerprint="00000000000000ee"))
    harness.run()
    harness.clock.advance(3600)
    harness.scaler.replicas["orders-processor"] = 3  # someone scaled it back down
    harness.post(alert(fingerprint="00000000000000ee", starts_at="2026-01-01T05:00:00Z"))
    harness.run()
    assert harness.states() == ["succeeded", "succeeded"]


def test_resolved_cancels_during_grace(harness: Harness) -> None:
    firing = alert(fingerprint="00000000000000cc")
    harness.post(firing)
    harness.worker.run_until_idle()
    response = harness.post({**firing, "status": "resolved"})
    assert response.json()["cancelled"] == [1]
    harness.run()
    assert harness.states() == ["cancelled"]
    assert harness.scaler.applied == []


def test_resolved_before_firing_arrives_starts_nothing(harness: Harness) -> None:
    firing = alert(fingerprint="00000000000000c1")
    harness.post({**firing, "status": "resolved"})
    harness.post(firing)  # a late retry of the firing notification
    harness.run()
    assert harness.store.remediations() == []
    assert harness.scaler.applied == []


def test_resolved_during_verification_does_not_stop_it_and_a_pass_is_a_success(harness: Harness) -> None:
    """The action's effect resolves the alert, and the resolution can reach the webhook before the query's next
    poll sees it (a real-Kafka CI run: retention lowered, segments deleted, "cancelled: alert resolved")."""
    firing = alert(fingerprint="00000000000000c3")
    harness.post(firing)
    polls = 0
    cancelled: list[int] = []

    def resolve_on_second_poll_then_hold(_expr: str) -> bool:
        nonlocal polls
        polls += 1
        if polls == 2:
            response = harness.post({**firing, "status": "resolved"})
            assert response.status_code == 202
            cancelled.extend(response.json()["cancelled"])
        return polls >= 3

    harness.prometheus.holds = resolve_on_second_poll_then_hold
    harness.run()
    assert cancelled == []  # the verifying remediation is not cancelled by the resolution
    assert harness.states() == ["succeeded"]
    assert polls == 3
    assert harness.scaler.replicas["orders-processor"] == 6
    assert harness.escalator.alerts == []
    assert events(harness, 1)[-3:] == ["verifying", "verification_started", "succeeded"]


def test_resolved_during_verification_that_never_holds_keeps_the_change_unpaged(harness: Harness) -> None:
    firing = alert(fingerprint="00000000000000c2")
    harness.post(firing)
    polls = 0

    def resolve_on_second_poll(_expr: str) -> bool:
        nonlocal polls
        polls += 1
        if polls == 2:
            assert harness.post({**firing, "status": "resolved"}).status_code == 202
        return False

    harness.prometheus.holds = resolve_on_second_poll
    harness.run()
    [rem] = harness.store.remediations()
    assert rem.state is State.cancelled
    assert (rem.reason or "").startswith("alert resolved during verification;")
    assert "did not hold by the deadline" in (rem.reason or "")
    assert 6 <= polls <= 8  # polled every 5 s to the 30 s deadline, not stopped by the resolution
    assert harness.scaler.replicas["orders-processor"] == 6  # the change is kept: the alert is over
    assert harness.scaler.applied == [("orders-processor", 6)]  # no rollback
    assert harness.escalator.alerts == []


def test_kill_switch_holds_then_resume_acts(harness: Harness) -> None:
    assert harness.client.post("/admin/pause", headers={"Authorization": "Bearer test-token"}).json()["paused"]
    harness.post(alert())
    harness.run()
    assert harness.scaler.applied == []
    assert harness.states() == ["grace"]
    assert harness.metric("kafka_obs_webhook_paused") == 1
    harness.client.post("/admin/resume", headers={"Authorization": "Bearer test-token"})
    harness.run(1)
    assert harness.scaler.applied == [("orders-processor", 6)]


def test_pause_file_flag(harness_factory: Callable[..., Harness], tmp_path) -> None:
    flag = tmp_path / "pause"
    h = harness_factory(guardrails={"pause_file": str(flag)})
    flag.touch()
    h.post(alert())
    h.run()
    assert h.scaler.applied == []
    flag.unlink()
    h.run(1)
    assert h.states() == ["succeeded"]


def test_alert_must_still_fire_when_grace_ends(harness: Harness) -> None:
    firing = alert()
    harness.post(firing)
    harness.clock.advance(10)
    harness.post({**firing, "status": "resolved"})
    harness.run()
    assert harness.scaler.applied == []


def test_cooldown_per_target(harness: Harness) -> None:
    harness.post(alert(fingerprint="0000000000000101"))
    harness.run()
    harness.post(alert(fingerprint="0000000000000102", topic="orders"))  # another incident, same deployment
    harness.run()
    assert harness.states() == ["succeeded", "refused"]
    assert "cooldown" in (harness.store.remediations()[1].reason or "")
    harness.clock.advance(900)
    harness.scaler.replicas["orders-processor"] = 3
    harness.post(alert(fingerprint="0000000000000103"))
    harness.run()
    assert harness.states()[-1] == "succeeded"


def test_cap_per_playbook_per_hour(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(guardrails={"max_actions_per_hour_per_playbook": 2})
    for group in ("orders-processor", "clicks-aggregator", "c3"):
        h.post(alert(consumergroup=group))
        h.run()
    assert h.states() == ["succeeded", "succeeded", "refused"]
    assert "cap" in (h.store.remediations()[2].reason or "")


def test_global_brake(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(guardrails={"max_actions_per_hour": 1})
    for group in ("orders-processor", "clicks-aggregator"):
        h.post(alert(consumergroup=group))
        h.run()
    assert h.states() == ["succeeded", "refused"]
    assert "global brake" in (h.store.remediations()[1].reason or "")


def test_blast_radius_refuses_the_whole_notification(harness: Harness) -> None:
    groups = ("orders-processor", "clicks-aggregator", "c3", "c4")
    response = harness.post(*(alert(consumergroup=g) for g in groups))
    assert response.status_code == 202
    assert {r["state"] for r in response.json()["remediations"]} == {"refused"}
    harness.run()
    assert harness.scaler.applied == []
    assert all("blast radius" in (r.reason or "") for r in harness.store.remediations())


def test_one_action_in_flight_per_target(harness: Harness) -> None:
    # two different alerts (two incidents) that map to the same deployment, in one notification
    harness.post(alert(topic="orders"), alert(alertname="KafkaSLOBurnRatePage"))
    harness.clock.advance(31)
    jobs = harness.worker.dispatch()
    assert len(jobs) == 1  # the second waits for the first
    for job in jobs:
        job()
    harness.worker.run_until_idle()
    assert harness.states() == ["succeeded", "refused"]  # then the cooldown holds
    assert harness.scaler.applied == [("orders-processor", 6)]


def test_target_outside_allowlist_is_refused(harness: Harness) -> None:
    response = harness.post(alert(consumergroup="not-listed"))
    assert response.json()["remediations"][0]["state"] == "refused"
    harness.run()
    assert harness.scaler.applied == []
    assert "not in kubernetes.deployments" in (harness.store.remediations()[0].reason or "")


def test_backend_refusal_is_recorded_and_counts_no_action(harness: Harness) -> None:
    harness.scaler.refuse = "autoscaled"
    harness.post(alert())
    harness.run()
    [rem] = harness.store.remediations()
    assert rem.state is State.refused
    assert rem.started_at is None  # a refusal is not an action: no cooldown, no cap
    assert harness.store.last_action_on("deployment/alpha/orders-processor") is None


def test_ceiling_at_partition_count(harness: Harness) -> None:
    harness.scaler.replicas["orders-processor"] = 4
    harness.post(alert())
    harness.run()
    assert harness.scaler.applied == [("orders-processor", 6)]  # 4 x 2 = 8, capped by the 6 partitions


def test_restart_after_kill_during_action_marks_interrupted_and_escalates(harness: Harness) -> None:
    harness.post(alert())
    harness.clock.advance(31)
    [job] = harness.worker.dispatch()  # state is now `acting`; simulate a crash after the plan was stored
    rem = harness.store.remediations()[0]
    harness.store.transition(
        rem.id, {State.acting}, State.acting, event="planned", before=[{"before": {"replicas": 3}}]
    )
    del job  # never runs: the process died
    harness.restart()
    assert harness.states() == ["interrupted"]
    assert harness.escalator.alerts[0]["labels"]["outcome"] == "interrupted"
    harness.run()
    assert harness.scaler.applied == []  # not repeated


def test_restart_before_plan_was_stored_retries_safely(harness: Harness) -> None:
    harness.post(alert())
    harness.clock.advance(31)
    assert len(harness.worker.dispatch()) == 1  # acting, but no plan stored: nothing was changed yet
    harness.restart()
    assert harness.states() == ["grace"]
    harness.worker.run_until_idle()
    assert harness.scaler.applied == [("orders-processor", 6)]
    assert harness.states() == ["succeeded"]


def test_verification_resumes_after_restart(harness: Harness) -> None:
    harness.post(alert())

    def stop_during_verification(_expr: str) -> bool:
        harness.worker.stop_event.set()  # the process is told to stop while verifying
        return False

    harness.prometheus.holds = stop_during_verification
    harness.run()
    assert harness.states() == ["verifying"]
    harness.prometheus.holds = lambda _expr: True
    harness.restart()
    harness.worker.run_until_idle()
    assert harness.states() == ["succeeded"]
    assert harness.scaler.applied == [("orders-processor", 6)]  # acted once


def _from_root_with_pause_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pause: str) -> Harness:
    """A webhook whose config names a relative pause file, loaded the way the service is started: from ``/``."""
    config_file = tmp_path / "webhook.yaml"
    raw = make_config(tmp_path).model_dump(mode="json", exclude_none=True)
    raw["auth"] = {"bearer_token": TOKEN}
    raw["store"] = {"path": "webhook.db"}
    raw["guardrails"]["pause_file"] = pause
    config_file.write_text(json.dumps(raw))
    monkeypatch.chdir("/")
    config = load_config(config_file)
    return Harness(tmp_path, enabled_playbooks("high_consumer_lag"), config)


def test_a_relative_pause_file_next_to_the_config_stops_actions_when_started_from_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pause").touch()
    h = _from_root_with_pause_file(tmp_path, monkeypatch, "pause")
    h.post(alert())
    h.run()
    assert h.scaler.applied == []
    [rem] = h.store.remediations()
    assert rem.state is State.grace
    assert f"pause file {tmp_path / 'pause'} exists" in (rem.reason or "")
    assert h.client.get("/admin/status", headers=AUTH).json()["paused"] is True
    (tmp_path / "pause").unlink()
    h.run()
    assert h.scaler.applied == [("orders-processor", 6)]
    h.close()


def test_a_pause_file_that_cannot_be_checked_refuses_to_act(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a symlink loop: stat() fails with ELOOP, as it would with EACCES on an unreadable parent (we may be root here)
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    h = _from_root_with_pause_file(tmp_path, monkeypatch, "loop/pause")
    h.post(alert())
    h.run()
    assert h.scaler.applied == []
    [rem] = h.store.remediations()
    assert rem.state is State.grace
    assert "cannot be checked" in (rem.reason or "")
    h.close()


class Crash(BaseException):
    """Stands for the process dying (not an Exception: the worker's error handling must not see it)."""


def test_a_verification_whose_deadline_passed_while_down_fails_and_rolls_back(harness: Harness) -> None:
    def die(_expr: str) -> bool:
        raise Crash

    harness.prometheus.holds = die
    harness.post(alert())
    with pytest.raises(Crash):
        harness.run()
    assert harness.states() == ["verifying"]
    harness.clock.advance(3600)  # down for an hour: far past the 30s deadline
    harness.prometheus.holds = lambda _expr: True  # a late "pass" must not count
    harness.prometheus.queries.clear()
    harness.restart()
    harness.run(0)
    [rem] = harness.store.remediations()
    assert rem.state is State.rolled_back
    assert "deadline passed before it could run" in (rem.reason or "")
    assert harness.prometheus.queries == []  # never queried after the restart
    assert harness.scaler.replicas["orders-processor"] == 3
    assert [a["labels"]["outcome"] for a in harness.escalator.alerts] == ["rolled_back"]


def test_a_late_verification_whose_alert_resolved_while_down_keeps_the_change_unpaged(harness: Harness) -> None:
    """The same rule as a verification that ran: the alert is over, so no rollback and no page, and no success."""

    def die(_expr: str) -> bool:
        raise Crash

    firing = alert(fingerprint="00000000000000c4")
    harness.prometheus.holds = die
    harness.post(firing)
    with pytest.raises(Crash):
        harness.run()
    assert harness.states() == ["verifying"]
    harness.clock.advance(3600)
    harness.restart()
    assert harness.post({**firing, "status": "resolved"}).json()["cancelled"] == []  # verifying is not cancelled
    harness.prometheus.holds = lambda _expr: True
    harness.run(0)
    [rem] = harness.store.remediations()
    assert rem.state is State.cancelled
    assert (rem.reason or "").startswith("alert resolved during verification; the verification deadline passed")
    assert harness.scaler.replicas["orders-processor"] == 6
    assert harness.escalator.alerts == []


def test_a_crash_during_rollback_is_finished_after_restart_never_recorded_as_success(harness: Harness) -> None:
    harness.prometheus.holds = lambda _expr: False
    real_rollback = harness.scaler.rollback

    def rollback_then_die(spec: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
        real_rollback(spec, plan)  # the target is changed, the answer is never stored
        raise Crash

    harness.scaler.rollback = rollback_then_die  # type: ignore[method-assign]
    harness.post(alert())
    with pytest.raises(Crash):
        harness.run()
    assert harness.states() == ["rolling_back"]  # the intent was stored before the rollback started
    assert harness.scaler.replicas["orders-processor"] == 3
    harness.scaler.rollback = real_rollback  # type: ignore[method-assign]
    harness.prometheus.holds = lambda _expr: True
    harness.restart()
    harness.run(0)
    [rem] = harness.store.remediations()
    assert rem.state is State.rolled_back
    assert "finished after a restart" in (rem.reason or "")
    assert harness.scaler.replicas["orders-processor"] == 3
    log = events(harness, rem.id)
    assert log.count("rolling_back") == 1
    assert "rollback_resumed" in log
    assert log[-3:] == ["rollback_applied", "escalated", "rolled_back"]
    assert [a["labels"]["outcome"] for a in harness.escalator.alerts] == ["rolled_back"]
    assert harness.store.verify_audit().ok


def test_a_burst_of_10000_alerts_for_one_target_does_not_delay_another_target(harness: Harness) -> None:
    burst = [alert(fingerprint=f"b{n:015x}") for n in range(10_000)]  # one target: orders-processor
    for start in range(0, len(burst), 1000):
        assert harness.post(*burst[start : start + 1000], group_key=f"burst-{start}").status_code == 202
    other = harness.post(alert(consumergroup="clicks-aggregator", topic="clicks")).json()
    [(other_id, _, _, _)] = [tuple(r.values()) for r in other["remediations"]]
    harness.clock.advance(31)  # the other target's grace period is over
    started = time.perf_counter()
    jobs = harness.worker.dispatch()  # ONE pass must already start it
    took = time.perf_counter() - started
    other_rem = harness.store.remediation(other_id)
    assert other_rem is not None
    assert other_rem.state is State.acting, other_rem.reason
    assert len(jobs) == 2  # the burst's first remediation and the other target's
    assert took < 10, f"one dispatch pass took {took:.1f}s"
    for job in jobs:
        job()
    assert ("clicks-aggregator", 4) in harness.scaler.applied


@pytest.mark.parametrize("status", ["STALL", "STOP", "REWIND"])
def test_a_group_that_more_consumers_cannot_help_is_escalated_not_scaled(harness: Harness, status: str) -> None:
    """high_consumer_lag scales only a WARN group; otherwise it escalates with the status that decided."""
    harness.prometheus.status["orders-processor"] = status
    harness.post(alert())
    harness.run()
    assert harness.scaler.applied == []
    assert harness.states() == ["refused"]
    assert harness.prometheus.queries == []  # nothing was done, so nothing is verified
    [rem] = harness.store.remediations()
    assert rem.reason is not None
    assert f'status="{status}"' in rem.reason
    [record] = harness.store.audit_records(remediation_id=rem.id, event="precondition")
    check = json.loads(record["data"])
    assert check["holds"] is False
    assert [s["status"] for s in check["evidence"]] == [status]
    [escalation] = harness.escalator.alerts
    assert escalation["labels"]["outcome"] == "refused"
    assert escalation["labels"]["consumergroup"] == "orders-processor"
    assert f'status="{status}"' in escalation["annotations"]["description"]
    assert harness.metric("kafka_obs_webhook_remediations_total", playbook="high_consumer_lag",
                          alertname="KafkaConsumerLagHigh", result="refused") == 1  # fmt: skip
    assert harness.store.verify_audit().ok


def test_the_status_that_decided_to_scale_is_in_the_audit_log(harness: Harness) -> None:
    harness.post(alert())
    harness.run()
    assert harness.scaler.applied == [("orders-processor", 6)]
    [record] = harness.store.audit_records(remediation_id=1, event="precondition")
    check = json.loads(record["data"])
    assert check["holds"] is True
    assert [s["status"] for s in check["evidence"]] == ["WARN"]
    assert 'consumergroup="orders-processor", status="WARN"' in check["query"]


def test_no_status_at_all_fails_closed(harness: Harness) -> None:
    """The exporter's status is missing (not scraped, group not evaluated yet): do not act on a guess."""
    harness.prometheus.status = {}
    harness.post(alert())
    harness.run()
    assert harness.scaler.applied == []
    assert harness.states() == ["refused"]
    assert len(harness.escalator.alerts) == 1


def test_dry_run_records_what_the_precondition_decided(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(enabled=())
    h.prometheus.status["orders-processor"] = "STALL"
    h.post(alert())
    h.run()
    [rem] = h.store.remediations()
    assert rem.state is State.dry_run
    assert (rem.reason or "").startswith("dry run, would escalate: precondition not met")
    assert h.escalator.alerts == []  # a dry run pages nobody
    assert h.scaler.applied == []
