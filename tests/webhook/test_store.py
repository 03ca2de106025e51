"""The store's schema migrations (from a database written before versions existed) and body retention."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from kafka_obs.webhook.audit import record_hash
from kafka_obs.webhook.store import SCHEMA_VERSION, Store, StoreError

from .conftest import Harness, alert

LEGACY_DB = Path(__file__).parent / "data" / "legacy-unversioned.db"
"""Written by the webhook at a11312a (no schema version, unkeyed chain): see data/make_legacy_db.py."""


@pytest.fixture
def upgraded(tmp_path: Path, harness_factory: Callable[..., Harness]) -> Harness:
    shutil.copy(LEGACY_DB, tmp_path / "webhook.db")
    return harness_factory()


def test_a_database_from_before_versions_is_migrated_and_its_audit_chain_survives(upgraded: Harness) -> None:
    h = upgraded
    assert h.store.schema_version() == SCHEMA_VERSION
    report = h.store.verify_audit()
    assert report.ok, report.reason
    assert (report.legacy_records, report.records) == (23, 24)  # the old records, sealed by one keyed record
    seal = h.store.audit_records(after_seq=23, limit=1)[0]
    assert seal["event"] == "audit_keyed"
    assert [str(r.state) for r in h.store.remediations()] == ["succeeded", "rolled_back"]
    h.prometheus.status["c3"] = "WARN"  # alive and too slow: the playbook's pre-condition for scaling holds
    h.post(alert(consumergroup="c3", topic="t3"))
    h.run()
    assert h.states() == ["succeeded", "rolled_back", "succeeded"]
    assert h.store.verify_audit().ok
    h.restart()  # opening it again migrates nothing and appends no second seal
    assert h.store.schema_version() == SCHEMA_VERSION
    assert [r["event"] for r in h.store.audit_records(limit=None)].count("audit_keyed") == 1


def test_rewriting_the_pre_upgrade_records_with_the_public_algorithm_breaks_the_seal(upgraded: Harness) -> None:
    path = upgraded.store.path
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER audit_no_update")
    records = [dict(r) for r in conn.execute("SELECT * FROM audit WHERE seq <= 23 ORDER BY seq")]
    prev = records[3]["hash"]
    for record in records[4:]:
        if record["seq"] == 5:
            record["event"] = "nothing happened"
        record["prev_hash"], record["hash"] = prev, record_hash(prev, record)
        prev = record["hash"]
        conn.execute(
            "UPDATE audit SET event = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (record["event"], record["prev_hash"], record["hash"], record["seq"]),
        )
    conn.commit()
    conn.close()
    report = upgraded.store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 24)


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "webhook.db"
    Store(path, audit_key=b"k" * 32).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this webhook"):
        Store(path, audit_key=b"k" * 32)


def test_raw_notification_bodies_are_blanked_after_the_retention(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(store={"notification_body_retention": "7d"})
    h.post(alert())
    h.run()
    h.clock.advance(6 * 86400)
    h.post(alert(consumergroup="c3", topic="t3"))
    h.clock.advance(86400 + 60)
    h.worker.dispatch()
    with sqlite3.connect(h.store.path) as conn:
        bodies = [
            (len(b), pruned is not None)
            for b, pruned in conn.execute("SELECT body, body_pruned_at FROM notifications ORDER BY id")
        ]
    assert bodies[0] == (0, True)
    assert bodies[1][0] > 100
    assert not bodies[1][1]
    [record] = h.store.audit_records(event="notification_bodies_pruned")
    assert '"count":1' in record["data"]
    assert h.store.notification_count() == 2  # the notification's metadata stays
    assert h.store.verify_audit().ok
