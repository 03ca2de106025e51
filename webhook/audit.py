"""The tamper-evident audit chain: every record carries a keyed MAC of itself and of the record before it.

Peers keep their remediation history in memory or in logs that anyone with access can edit silently. Here each
audit record's ``hash`` is ``HMAC-SHA256(key, prev_hash + canonical JSON of the record)``, so changing, deleting or
reordering any past record breaks every link after it, and — because the key lives outside the database (a
``file:`` or ``${ENV}`` secret, or a key file created next to it with mode 0600) — someone who can write the
database but not read the key cannot recompute the chain after an edit. A plain hash chain (what this was before
schema 3) only proves accidents: anyone can recompute SHA-256.

Records written before the upgrade keep their SHA-256 links; the upgrade appends an ``audit_keyed`` record, keyed,
whose ``prev_hash`` is the old chain's head — sealing the old records under the key too. A valid chain is: public
links up to the seal, keyed links from the seal on. A chain with no seal, or a public link after it, is refused.

Removing records from the *end* leaves a shorter but consistent chain — no chain can see that on its own — so the
head hash is reported with every check and the record count is exported as a metric: Prometheus's history of
``kafka_obs_webhook_audit_records`` is the outside anchor (it never decreases unless someone cut the log).
(SQLite triggers also refuse UPDATE and DELETE on the table, so an accident cannot rewrite history either.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
"""The "previous hash" of the first record."""

HASHED_FIELDS = ("seq", "ts", "event", "incident_id", "remediation_id", "playbook", "target", "action", "data")

SEAL_EVENT = "audit_keyed"
"""The first keyed record: every record from it on is HMAC'd; every record before it is a pre-upgrade SHA-256 link."""

MIN_KEY_BYTES = 16


def canonical(record: Mapping[str, Any]) -> str:
    """The exact text that is MAC'd: the hashed fields, sorted keys, no whitespace."""
    return json.dumps({k: record.get(k) for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"))


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """The public, unkeyed link: what records written before schema 3 carry (anyone can recompute it)."""
    return hashlib.sha256(f"{prev_hash}\n{canonical(record)}".encode()).hexdigest()


def record_mac(key: bytes, prev_hash: str, record: Mapping[str, Any]) -> str:
    """The keyed link: only a holder of the key can produce it."""
    return hmac.new(key, f"{prev_hash}\n{canonical(record)}".encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A name for the key that reveals nothing about it: tells "wrong key configured" from "records changed"."""
    return hmac.new(key, b"kafka-obs audit key id", hashlib.sha256).hexdigest()[:16]


def record_is_authentic(key: bytes, record: Mapping[str, Any]) -> bool:
    """One keyed record checked on its own (its MAC over its stored ``prev_hash``), without walking the chain."""
    return hmac.compare_digest(str(record["hash"]), record_mac(key, str(record["prev_hash"]), record))


def load_or_create_key(path: Path) -> bytes:
    """Read the audit key file, or create it (32 random bytes, hex, mode 0600) when it does not exist yet.

    The default when ``audit.key`` is not configured. Anyone who can read this file can rewrite the audit log
    undetected: in production configure ``audit.key`` from a secret store instead (docs/security.md).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="utf-8").strip()
        if len(text) < MIN_KEY_BYTES:
            raise ValueError(f"audit key file {path} holds fewer than {MIN_KEY_BYTES} characters") from None
        return text.encode()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        text = secrets.token_hex(32)
        out.write(text + "\n")
    return text.encode()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    reason: str = ""
    head: str = GENESIS
    """The last record's hash: keep a copy elsewhere (or watch the record count) to detect a cut-off tail."""
    legacy_records: int = 0
    """Records before the seal: written before the chain was keyed, protected by the seal's MAC of their head."""


def verify_chain(records: Iterable[Mapping[str, Any]], key: bytes) -> ChainReport:
    """Check that ``records`` (in ``seq`` order) form an unbroken chain: public links, the seal, keyed links."""
    prev = GENESIS
    last_seq = 0
    count = 0
    legacy = 0
    keyed = False
    for record in records:
        count += 1
        seq = int(record["seq"])
        if seq != last_seq + 1:
            return ChainReport(False, count, seq, f"sequence jumps from {last_seq} to {seq} (a record was removed)")
        if record["prev_hash"] != prev:
            return ChainReport(False, count, seq, "prev_hash does not match the previous record's hash")
        if not keyed and record["event"] == SEAL_EVENT:
            keyed = True
        expected = record_mac(key, prev, record) if keyed else record_hash(prev, record)
        if not hmac.compare_digest(str(record["hash"]), expected):
            if keyed and record["event"] == SEAL_EVENT:
                sealed_with = json.loads(str(record["data"])).get("key_id")
                if sealed_with and sealed_with != key_id(key):
                    return ChainReport(
                        False, count, seq, f"the chain is keyed with key {sealed_with}, not the configured key"
                    )
            what = "MAC" if keyed else "hash"
            return ChainReport(False, count, seq, f"{what} does not match the record's content (it was changed)")
        legacy += 0 if keyed else 1
        prev = expected
        last_seq = seq
    if count and not keyed:
        return ChainReport(
            False,
            count,
            1,
            "the chain is not keyed (no audit_keyed record): it was rewritten with the public algorithm",
        )
    return ChainReport(True, count, head=prev, legacy_records=legacy)
