"""The audit chain detects tampering; the table refuses casual edits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kafka_obs.webhook.audit import GENESIS, SEAL_EVENT, record_hash, record_mac, verify_chain
from kafka_obs.webhook.store import State, Store

from .conftest import AUTH, Harness, alert


def _fill(harness: Harness) -> Path:
    harness.post(alert())
    harness.prometheus.holds = lambda _expr: False
    harness.post(alert(consumergroup="clicks-aggregator"))
    harness.run()
    assert harness.store.verify_audit().ok
    return Path(harness.store.path)


def test_chain_of_a_real_run_verifies(harness: Harness) -> None:
    _fill(harness)
    report = harness.store.verify_audit()
    assert report.ok
    assert report.records == len(harness.store.audit_records(limit=None)) > 10


def test_the_table_refuses_update_and_delete(harness: Harness) -> None:
    path = _fill(harness)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET event = 'nothing' WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 3")
    conn.close()


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("statements", "bad_seq", "reason"),
    [
        (['UPDATE audit SET data = \'{"state":"succeeded"}\' WHERE seq = 5'], 5, "content"),
        (["DELETE FROM audit WHERE seq = 4"], 5, "removed"),
        (
            [
                "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",
                "UPDATE audit SET ts = ts + 1 WHERE seq = 2",
            ],
            2,
            "content",
        ),
        (
            [
                "UPDATE audit SET hash = substr(hash, 1, 63)"
                " || (CASE substr(hash, 64) WHEN '0' THEN '1' ELSE '0' END) WHERE seq = 3"
            ],
            3,
            "content",
        ),
    ],
    ids=["edited", "deleted", "edited-and-truncated", "hash-forged"],
)
def test_tampering_is_detected(harness: Harness, statements: list[str], bad_seq: int, reason: str) -> None:
    path = _fill(harness)
    _tamper(path, *statements)
    report = harness.store.verify_audit()
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert reason in report.reason


def _rewrite_with_the_public_algorithm(path: Path, *, edit_seq: int, from_seq: int) -> None:
    """What an attacker with write access to the database does: change a record, recompute every later link."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER audit_no_update")
    records = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    prev = records[from_seq - 2]["hash"] if from_seq > 1 else GENESIS
    for record in records[from_seq - 1 :]:
        if record["seq"] == edit_seq:
            record["event"] = "succeeded"
        record["prev_hash"], record["hash"] = prev, record_hash(prev, record)
        prev = record["hash"]
        conn.execute(
            "UPDATE audit SET event = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (record["event"], record["prev_hash"], record["hash"], record["seq"]),
        )
    conn.commit()
    conn.close()


@pytest.mark.parametrize("from_seq", [6, 1], ids=["from-the-edit", "whole-chain"])
def test_recomputing_the_chain_with_the_public_algorithm_is_detected(harness: Harness, from_seq: int) -> None:
    path = _fill(harness)
    assert harness.metric("kafka_obs_webhook_audit_chain_ok") == 1
    _rewrite_with_the_public_algorithm(path, edit_seq=6, from_seq=from_seq)
    report = harness.client.get("/actions/verify", headers=AUTH).json()
    assert report["ok"] is False
    assert report["first_bad_seq"] == from_seq
    harness.clock.advance(61)  # the metric re-verifies every audit.verify_interval (60s)
    assert harness.metric("kafka_obs_webhook_audit_chain_ok") == 0


def test_a_chain_keyed_with_another_key_says_so(tmp_path: Path, harness: Harness) -> None:
    _fill(harness)
    other = Store(harness.store.path, audit_key=b"another key, not the one it was written with")
    report = other.verify_audit()
    other.close()
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "keyed with key" in report.reason


def test_verify_chain_on_plain_records() -> None:
    key = b"k" * 32
    records = []
    prev = GENESIS
    for seq, event in ((1, SEAL_EVENT), (2, "e"), (3, "e")):
        record: dict[str, Any] = {"seq": seq, "ts": 1.0, "event": event, "incident_id": None, "remediation_id": None,
                  "playbook": None, "target": None, "action": None, "data": "{}"}  # fmt: skip
        record["prev_hash"], record["hash"] = prev, record_mac(key, prev, record)
        prev = record["hash"]
        records.append(record)
    assert verify_chain(records, key).ok
    assert not verify_chain(records, b"x" * 32).ok
    assert not verify_chain(records[1:], key).ok
    assert not verify_chain([records[0], records[2]], key).ok


def test_the_default_key_is_a_private_file_outside_the_database(harness: Harness) -> None:
    key_file = Path(harness.store.path + ".audit-key")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) == 64
    with sqlite3.connect(harness.store.path) as conn:
        dumped = "\n".join(conn.iterdump())
    assert key_file.read_text().strip() not in dumped


def test_a_configured_key_is_used_instead_of_a_key_file(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(audit={"key": "a secret of at least sixteen characters"})
    h.post(alert())
    h.run()
    assert h.store.audit_key == b"a secret of at least sixteen characters"
    assert not Path(h.store.path + ".audit-key").exists()
    assert h.store.verify_audit().ok


@pytest.mark.parametrize("edited_to", ["grace", "queued", "verifying"])
def test_a_finished_remediation_is_not_rearmed_by_editing_its_state(harness: Harness, edited_to: str) -> None:
    harness.post(alert())
    harness.run()
    assert harness.states() == ["succeeded"]
    assert harness.scaler.applied == [("orders-processor", 6)]
    harness.scaler.replicas["orders-processor"] = 3
    with sqlite3.connect(harness.store.path) as conn:  # a state edit alone, as someone with the file could do
        conn.execute(
            "UPDATE remediations SET state = ?, started_at = NULL, finished_at = NULL, not_before = 0 WHERE id = 1",
            (edited_to,),
        )
    harness.prometheus.holds = lambda _expr: False  # a re-run verification would fail and roll back
    harness.run(3600)
    assert harness.scaler.applied == [("orders-processor", 6)]  # neither acted again nor rolled back
    [rem] = harness.store.remediations()
    assert rem.state is State.succeeded
    assert "the state was edited" in (rem.reason or "")
    assert "state_contradicts_audit" in [r["event"] for r in harness.store.audit_records(remediation_id=1)]


def test_no_action_starts_while_the_chain_fails_verification(harness: Harness) -> None:
    harness.post(alert())
    path = Path(harness.store.path)
    _tamper(path, "UPDATE audit SET ts = ts + 1 WHERE seq = 2")
    harness.run()
    assert harness.scaler.applied == []
    [rem] = harness.store.remediations()
    assert rem.state is State.grace
    assert "audit log fails verification at seq 2" in (rem.reason or "")


def test_tail_truncation_needs_an_anchor(harness: Harness) -> None:
    """A chain alone cannot see its last records cut off; the head hash and the record count are the anchor."""
    path = _fill(harness)
    head = harness.store.verify_audit()
    _tamper(path, "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
    after = harness.store.verify_audit()
    assert after.ok  # consistent, but shorter:
    assert (after.records, after.head) != (head.records, head.head)
    assert harness.metric("kafka_obs_webhook_audit_records") == after.records
