"""The audit chain detects tampering; the table refuses casual edits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kafka_obs.webhook.audit import GENESIS, record_hash, verify_chain

from .conftest import Harness, alert


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


def test_rewriting_a_record_and_its_own_hash_breaks_the_next_link(harness: Harness) -> None:
    path = _fill(harness)
    record = harness.store.audit_records(after_seq=5, limit=1)[0]
    forged = {**record, "event": "succeeded"}
    new_hash = record_hash(record["prev_hash"], forged)
    _tamper(path, f"UPDATE audit SET event = 'succeeded', hash = '{new_hash}' WHERE seq = 6")
    report = harness.store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 7)


def test_verify_chain_on_plain_records() -> None:
    records = []
    prev = GENESIS
    for seq in (1, 2, 3):
        record = {"seq": seq, "ts": 1.0, "event": "e", "incident_id": None, "remediation_id": None,
                  "playbook": None, "target": None, "action": None, "data": "{}"}  # fmt: skip
        record["prev_hash"], record["hash"] = prev, record_hash(prev, record)
        prev = record["hash"]
        records.append(record)
    assert verify_chain(records).ok
    assert not verify_chain(records[1:]).ok
    assert not verify_chain([records[0], records[2]]).ok


def test_tail_truncation_needs_an_anchor(harness: Harness) -> None:
    """A chain alone cannot see its last records cut off; the head hash and the record count are the anchor."""
    path = _fill(harness)
    head = harness.store.verify_audit()
    _tamper(path, "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
    after = harness.store.verify_audit()
    assert after.ok  # consistent, but shorter:
    assert (after.records, after.head) != (head.records, head.head)
    assert harness.metric("kafka_obs_webhook_audit_records") == after.records
