"""The tamper-evident audit chain: every record carries the hash of the one before it.

Peers keep their remediation history in memory or in logs that anyone with access can edit silently. Here each
audit record's hash covers its own fields *and* the previous record's hash, so changing, deleting or reordering
any past record breaks every hash after it; :func:`verify_chain` finds the first record where that happens.
Removing records from the *end* leaves a shorter but consistent chain — no chain can see that on its own — so the
head hash is reported with every check and the record count is exported as a metric: Prometheus's history of
``kafka_obs_webhook_audit_records`` is the outside anchor (it never decreases unless someone cut the log).
(SQLite triggers also refuse UPDATE and DELETE on the table, so an accident cannot rewrite history either.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
"""The "previous hash" of the first record."""

HASHED_FIELDS = ("seq", "ts", "event", "incident_id", "remediation_id", "playbook", "target", "action", "data")


def canonical(record: Mapping[str, Any]) -> str:
    """The exact text that is hashed: the hashed fields, sorted keys, no whitespace."""
    return json.dumps({k: record.get(k) for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"))


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(record)}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""
    head: str = GENESIS
    """The last record's hash: keep a copy elsewhere (or watch the record count) to detect a cut-off tail."""


def verify_chain(records: Iterable[Mapping[str, Any]]) -> ChainReport:
    """Check that ``records`` (in ``seq`` order) form an unbroken chain from the genesis hash."""
    prev = GENESIS
    last_seq = 0
    count = 0
    for record in records:
        count += 1
        seq = int(record["seq"])
        if seq != last_seq + 1:
            return ChainReport(False, count, seq, f"sequence jumps from {last_seq} to {seq} (a record was removed)")
        if record["prev_hash"] != prev:
            return ChainReport(False, count, seq, "prev_hash does not match the previous record's hash")
        expected = record_hash(prev, record)
        if record["hash"] != expected:
            return ChainReport(False, count, seq, "hash does not match the record's content (it was changed)")
        prev = expected
        last_seq = seq
    return ChainReport(True, count, head=prev)
