"""The durable state: notifications, incidents, remediations (a state machine) and the audit chain, in SQLite.

One connection, one lock: SQLite allows one writer anyway, and a single connection guarded by a
:class:`threading.Lock` is safe to use from the HTTP thread pool and the worker threads alike (the connection is
opened with ``check_same_thread=False`` and no two threads ever use it at once). WAL mode lets readers such as
``sqlite3`` on the command line look while we write. Every state change and its audit record are written in the
same transaction, so the audit can never miss or invent a transition, and a ``kill -9`` leaves either both or
neither.

The schema is versioned (``PRAGMA user_version``) and changed only by the numbered migrations in
:data:`MIGRATIONS`, each applied once, in order, in its own transaction with the version bump. A database made
before versions existed reads as version 0 and already has migration 1's tables (it is idempotent). A database
newer than this code is refused rather than misread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from kafka_obs.clock import Clock, SystemClock
from kafka_obs.webhook.audit import GENESIS, SEAL_EVENT, ChainReport, key_id, record_mac, verify_chain
from kafka_obs.webhook.models import AlertStatus, Notification
from kafka_obs.webhook.routing import RoutedAlert


class State(StrEnum):
    queued = "queued"
    grace = "grace"
    acting = "acting"
    verifying = "verifying"
    rolling_back = "rolling_back"
    succeeded = "succeeded"
    rolled_back = "rolled_back"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"
    refused = "refused"
    dry_run = "dry_run"


PENDING = frozenset({State.queued, State.grace})
IN_FLIGHT = frozenset({State.acting, State.verifying, State.rolling_back})
ACTIVE = PENDING | IN_FLIGHT
CANCELLABLE = frozenset({State.queued, State.grace, State.verifying})
"""A resolved alert cancels these; an action already running finishes and is then cancelled by the worker."""

TERMINAL = frozenset(
    {State.succeeded, State.rolled_back, State.failed, State.cancelled, State.interrupted, State.refused, State.dry_run}
)
"""End states: once the audit log records one for a remediation, nothing may start it again."""

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY, received_at REAL NOT NULL, group_key TEXT NOT NULL, receiver TEXT NOT NULL,
    status TEXT NOT NULL, alerts INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL, alertname TEXT NOT NULL,
    labels TEXT NOT NULL, annotations TEXT NOT NULL, status TEXT NOT NULL, received_at REAL NOT NULL,
    resolved_at REAL, notification_id INTEGER NOT NULL, UNIQUE (fingerprint, starts_at));
CREATE TABLE IF NOT EXISTS remediations (
    id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents(id), playbook TEXT NOT NULL,
    target TEXT, spec TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, dry_run INTEGER NOT NULL DEFAULT 0,
    not_before REAL, deadline REAL, created_at REAL NOT NULL, updated_at REAL NOT NULL, started_at REAL,
    finished_at REAL, before TEXT, after TEXT, UNIQUE (incident_id, playbook));
CREATE INDEX IF NOT EXISTS remediations_state ON remediations (state);
CREATE INDEX IF NOT EXISTS remediations_target ON remediations (target, started_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, ts REAL NOT NULL, event TEXT NOT NULL, incident_id INTEGER, remediation_id INTEGER,
    playbook TEXT, target TEXT, action TEXT, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_remediation ON audit (remediation_id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS control (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(Exception):
    """The database cannot be used by this version of the webhook (the message says why and what to do)."""


class StoreBusy(sqlite3.OperationalError):
    """The database could not be had within the busy timeout (the caller answers 503 or retries later)."""


def _migrate_v1(store: Store, conn: sqlite3.Connection) -> None:
    """The schema as it was before versions existed (idempotent, so a version-0 database passes through)."""
    for statement in _statements(SCHEMA_V1):
        conn.execute(statement)


def _migrate_v2(store: Store, conn: sqlite3.Connection) -> None:
    """Raw notification bodies can be pruned after ``store.notification_body_retention`` (metadata stays)."""
    conn.execute("ALTER TABLE notifications ADD COLUMN body_pruned_at REAL")
    conn.execute("CREATE INDEX IF NOT EXISTS notifications_received ON notifications (received_at)")


def _migrate_v3(store: Store, conn: sqlite3.Connection) -> None:
    """Key the audit chain: append the seal, MAC'd over the head of whatever the unkeyed chain holds."""
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    store._audit(
        conn,
        SEAL_EVENT,
        data={
            "legacy_records": int(last["seq"]) if last else 0,
            "legacy_head": last["hash"] if last else GENESIS,
            "key_id": key_id(store.audit_key),
        },
    )


def _migrate_v4(store: Store, conn: sqlite3.Connection) -> None:
    """Fair dispatch reads the oldest pending remediation of each target: index it."""
    conn.execute("CREATE INDEX IF NOT EXISTS remediations_pending ON remediations (state, target, id)")


MIGRATIONS: tuple[Callable[[Store, sqlite3.Connection], None], ...] = (
    _migrate_v1,
    _migrate_v2,
    _migrate_v3,
    _migrate_v4,
)
"""Migration n (1-based) takes the database from version n-1 to n. Append only; never edit a released one."""
SCHEMA_VERSION = len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a schema script into statements (``sqlite3.complete_statement`` keeps triggers whole)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return [statement for statement in out if statement]


@dataclass(frozen=True)
class Remediation:
    id: int
    incident_id: int
    playbook: str
    target: str | None
    spec: dict[str, Any]
    state: State
    reason: str | None
    dry_run: bool
    not_before: float | None
    deadline: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    before: Any
    after: Any
    fingerprint: str
    starts_at: str
    alertname: str
    labels: dict[str, str]
    incident_status: AlertStatus

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["state"] = str(self.state)
        out["incident_status"] = str(self.incident_status)
        return out


@dataclass(frozen=True)
class Incoming:
    """A validated notification and what routing decided, waiting to be stored."""

    notification: Notification
    body: str
    routed: list[RoutedAlert]
    grace: float
    rejected: list[dict[str, Any]] = field(default_factory=list)
    """Alerts of the notification refused one by one (recorded in the audit log with their field paths)."""


@dataclass
class EnqueueResult:
    notification_id: int
    incidents_new: int = 0
    duplicates: int = 0
    resolved: int = 0
    created: list[tuple[int, str, str, State]] = field(default_factory=list)
    """(remediation id, playbook, alertname, state) of every remediation this notification created."""
    cancelled: list[tuple[int, str, str]] = field(default_factory=list)


_REMEDIATION_SELECT = """
SELECT r.*, i.fingerprint, i.starts_at, i.alertname, i.labels, i.status AS incident_status
FROM remediations r JOIN incidents i ON i.id = r.incident_id
"""


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Store:
    def __init__(
        self,
        path: str | Path,
        *,
        audit_key: bytes,
        synchronous: str = "full",
        clock: Clock | None = None,
        busy_timeout: float = 5.0,
    ):
        """``audit_key`` MACs the audit chain; it must come from outside this database (see audit.py).

        ``busy_timeout`` bounds every wait for the database — SQLite's lock held by another process, or this
        connection busy in another thread — so that ``POST /alerts`` answers 503 (Alertmanager retries) well before
        Alertmanager gives up on the request, instead of hanging on a lock.
        """
        self.path = str(path)
        self.audit_key = audit_key
        self.clock: Clock = clock or SystemClock()
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._chain_cache: tuple[float, ChainReport] | None = None
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=busy_timeout)
        self._conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def schema_version(self) -> int:
        with self._read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            self._conn.close()
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this webhook knows ({SCHEMA_VERSION}):"
                " run the newer webhook, or restore a backup made before the upgrade"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as conn:
                MIGRATIONS[number - 1](self, conn)
                conn.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        if not self._lock.acquire(timeout=self.busy_timeout):
            raise StoreBusy(f"the database connection stayed busy for {self.busy_timeout:g}s")
        try:
            yield self._conn
        finally:
            self._lock.release()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._locked() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._locked() as conn:
            yield conn

    def probe(self) -> str | None:
        """None when a write transaction can be taken and committed now; else what went wrong (for readiness)."""
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO control (key, value) VALUES ('probe', ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(self.clock.now()),),
                )
        except (sqlite3.Error, StoreBusy, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    # --- audit -------------------------------------------------------------------------------------------------

    def _audit(
        self,
        conn: sqlite3.Connection,
        event: str,
        *,
        incident_id: int | None = None,
        remediation_id: int | None = None,
        playbook: str | None = None,
        target: str | None = None,
        action: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        prev_hash = last["hash"] if last else GENESIS
        record = {
            "seq": (last["seq"] if last else 0) + 1,
            "ts": round(self.clock.now(), 6),
            "event": event,
            "incident_id": incident_id,
            "remediation_id": remediation_id,
            "playbook": playbook,
            "target": target,
            "action": action,
            "data": _dumps(dict(data or {})),
        }
        digest = record_mac(self.audit_key, prev_hash, record)
        conn.execute(
            "INSERT INTO audit (seq, ts, event, incident_id, remediation_id, playbook, target, action, data,"
            " prev_hash, hash) VALUES (:seq, :ts, :event, :incident_id, :remediation_id, :playbook, :target,"
            " :action, :data, :prev_hash, :hash)",
            {**record, "prev_hash": prev_hash, "hash": digest},
        )

    def audit(self, event: str, remediation: Remediation | None = None, **fields: Any) -> None:
        """Append one audit record (for events that are not a state change, e.g. one action applied)."""
        if remediation is not None:
            fields.setdefault("incident_id", remediation.incident_id)
            fields.setdefault("remediation_id", remediation.id)
            fields.setdefault("playbook", remediation.playbook)
            fields.setdefault("target", remediation.target)
        with self._tx() as conn:
            self._audit(conn, event, **fields)

    # --- receiving ---------------------------------------------------------------------------------------------

    def enqueue(self, notification: Notification, body: str, routed: list[RoutedAlert], grace: float) -> EnqueueResult:
        """Store one notification and everything it implies, in one transaction: it is all there or none of it."""
        return self.enqueue_many([Incoming(notification, body, routed, grace)])[0]

    def enqueue_many(self, items: list[Incoming]) -> list[EnqueueResult]:
        """Store several notifications in ONE transaction (one fsync): the group commit behind bursts.

        All or nothing for the batch; the caller answers each sender only after this returns.
        """
        now = self.clock.now()
        with self._tx() as conn:
            return [self._enqueue_one(conn, item, now) for item in items]

    def _enqueue_one(self, conn: sqlite3.Connection, incoming: Incoming, now: float) -> EnqueueResult:
        notification, body, routed, grace = incoming.notification, incoming.body, incoming.routed, incoming.grace
        cursor = conn.execute(
            "INSERT INTO notifications (received_at, group_key, receiver, status, alerts, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (now, notification.group_key, notification.receiver, notification.status, len(routed), body),
        )
        result = EnqueueResult(notification_id=int(cursor.lastrowid or 0))
        if incoming.rejected:
            self._audit(
                conn,
                "alerts_rejected",
                data={
                    "notification_id": result.notification_id,
                    "count": len(incoming.rejected),
                    "alerts": incoming.rejected[:100],
                },
            )
        for item in routed:
            alert = item.alert
            key = (alert.fingerprint, alert.incident_start())
            cursor = conn.execute(
                "INSERT OR IGNORE INTO incidents (fingerprint, starts_at, alertname, labels, annotations, status,"
                " received_at, resolved_at, notification_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    alert.alertname,
                    _dumps(alert.labels),
                    _dumps(alert.annotations),
                    alert.status,
                    now,
                    now if alert.status is AlertStatus.resolved else None,
                    result.notification_id,
                ),
            )
            row = conn.execute(
                "SELECT id, status FROM incidents WHERE fingerprint = ? AND starts_at = ?", key
            ).fetchone()
            incident_id = int(row["id"])
            if cursor.rowcount:
                result.incidents_new += 1
                self._audit(
                    conn,
                    "incident_received",
                    incident_id=incident_id,
                    data={
                        "fingerprint": key[0],
                        "starts_at": key[1],
                        "labels": alert.labels,
                        "status": alert.status,
                    },
                )
            elif alert.status is AlertStatus.firing or row["status"] == AlertStatus.resolved:
                result.duplicates += 1
            if alert.status is AlertStatus.resolved:
                if row["status"] != AlertStatus.resolved:
                    conn.execute(
                        "UPDATE incidents SET status = 'resolved', resolved_at = ? WHERE id = ?", (now, incident_id)
                    )
                    self._audit(conn, "incident_resolved", incident_id=incident_id, data={"fingerprint": key[0]})
                    result.resolved += 1
                result.cancelled.extend(self._cancel_for(conn, incident_id, alert.alertname, now))
                continue
            if row["status"] == AlertStatus.resolved:
                continue  # a late firing retry for an incident already over: start nothing
            for planned in item.planned:
                state = State.refused if planned.refused else State.queued
                target = planned.target
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO remediations (incident_id, playbook, target, spec, state, reason,"
                    " not_before, created_at, updated_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        incident_id,
                        planned.playbook,
                        target.key if target else None,
                        _dumps(target.spec if target else {}),
                        state,
                        planned.refused,
                        now + grace,
                        now,
                        now,
                        now if planned.refused else None,
                    ),
                )
                if not cursor.rowcount:
                    continue
                remediation_id = int(cursor.lastrowid or 0)
                result.created.append((remediation_id, planned.playbook, alert.alertname, state))
                self._audit(
                    conn,
                    "refused" if planned.refused else "queued",
                    incident_id=incident_id,
                    remediation_id=remediation_id,
                    playbook=planned.playbook,
                    target=target.key if target else None,
                    data={"reason": planned.refused} if planned.refused else {"not_before": now + grace},
                )

        return result

    def _cancel_for(
        self, conn: sqlite3.Connection, incident_id: int, alertname: str, now: float
    ) -> list[tuple[int, str, str]]:
        rows = conn.execute(
            "SELECT id, playbook, target, state FROM remediations WHERE incident_id = ?"
            " AND state IN ('queued', 'grace')",
            (incident_id,),
        ).fetchall()
        cancelled = []
        for row in rows:
            conn.execute(
                "UPDATE remediations SET state = 'cancelled', reason = ?, updated_at = ?, finished_at = ? WHERE id = ?",
                ("alert resolved", now, now, row["id"]),
            )
            self._audit(
                conn,
                "cancelled",
                incident_id=incident_id,
                remediation_id=row["id"],
                playbook=row["playbook"],
                target=row["target"],
                data={"reason": "alert resolved", "from_state": row["state"]},
            )
            cancelled.append((int(row["id"]), str(row["playbook"]), alertname))
        return cancelled

    # --- the state machine -------------------------------------------------------------------------------------

    def transition(
        self,
        remediation_id: int,
        expected: frozenset[State] | set[State],
        new: State,
        *,
        event: str | None = None,
        data: Mapping[str, Any] | None = None,
        **columns: Any,
    ) -> bool:
        """Compare-and-set the state (only from ``expected``), with its audit record; False if it had moved on."""
        allowed = {"reason", "not_before", "deadline", "started_at", "finished_at", "before", "after", "dry_run"}
        unknown = set(columns) - allowed
        if unknown:
            raise ValueError(f"not a remediation column: {sorted(unknown)}")
        now = self.clock.now()
        values = {k: (_dumps(v) if k in {"before", "after"} else v) for k, v in columns.items()}
        sets = ", ".join(f"{k} = :{k}" for k in values)
        states = ",".join(f"'{s}'" for s in expected)
        with self._tx() as conn:
            cursor = conn.execute(
                f"UPDATE remediations SET state = :state, updated_at = :now{', ' + sets if sets else ''}"  # noqa: S608
                f" WHERE id = :id AND state IN ({states})",
                {**values, "state": new, "now": now, "id": remediation_id},
            )
            if not cursor.rowcount:
                return False
            row = conn.execute(
                "SELECT incident_id, playbook, target FROM remediations WHERE id = ?", (remediation_id,)
            ).fetchone()
            self._audit(
                conn,
                event or str(new),
                incident_id=row["incident_id"],
                remediation_id=remediation_id,
                playbook=row["playbook"],
                target=row["target"],
                data={
                    "state": str(new),
                    **({"reason": columns["reason"]} if "reason" in columns else {}),
                    **(data or {}),
                },
            )
            return True

    def remediation(self, remediation_id: int) -> Remediation | None:
        with self._read() as conn:
            row = conn.execute(_REMEDIATION_SELECT + " WHERE r.id = ?", (remediation_id,)).fetchone()
        return _remediation(row) if row else None

    def remediations(
        self,
        *,
        states: set[State] | frozenset[State] | None = None,
        playbook: str | None = None,
        target: str | None = None,
        due_at: float | None = None,
        limit: int = 1000,
    ) -> list[Remediation]:
        """Remediations by filter; ``due_at`` leaves out those in a grace period that ends later than that."""
        where: list[str] = []
        params: list[Any] = []
        if due_at is not None:
            where.append("(r.state != 'grace' OR r.not_before IS NULL OR r.not_before <= ?)")
            params.append(due_at)
        if states:
            where.append(f"r.state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if playbook:
            where.append("r.playbook = ?")
            params.append(playbook)
        if target:
            where.append("r.target = ?")
            params.append(target)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            rows = conn.execute(_REMEDIATION_SELECT + clause + " ORDER BY r.id LIMIT ?", (*params, limit)).fetchall()
        return [_remediation(row) for row in rows]

    def dispatchable(self, per_target: int) -> list[Remediation]:
        """What one dispatch pass looks at: everything in flight, and the oldest ``per_target`` pending remediations
        of *each* target, oldest first.

        Fair by construction: a burst of 10,000 alerts for one target is 10,000 rows in its own queue, and another
        target's remediation is still among the heads of the very next pass (a global "first N rows" would make it
        wait for the whole burst to drain).
        """
        sql = (
            _REMEDIATION_SELECT  # noqa: S608 (constant text, one bound parameter)
            + " WHERE r.id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY target ORDER BY id) AS n"
            " FROM remediations WHERE state IN ('queued', 'grace')) WHERE n <= ?)"
            " OR r.state IN ('acting', 'verifying', 'rolling_back') ORDER BY r.id"
        )
        with self._read() as conn:
            rows = conn.execute(sql, (per_target,)).fetchall()
        return [_remediation(row) for row in rows]

    def incident_status(self, incident_id: int) -> AlertStatus:
        with self._read() as conn:
            row = conn.execute("SELECT status FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return AlertStatus(row["status"])

    # --- what the guardrails ask -------------------------------------------------------------------------------

    def in_flight_on(self, target: str) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT COUNT(*) AS n FROM remediations WHERE target = ?"
                " AND state IN ('acting', 'verifying', 'rolling_back')",
                (target,),
            ).fetchone()
        return int(row["n"])

    def last_action_on(self, target: str) -> float | None:
        """When the last real (not dry-run) action on ``target`` ended, or started if it has not ended."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT MAX(COALESCE(finished_at, started_at)) AS t FROM remediations"
                " WHERE target = ? AND started_at IS NOT NULL",
                (target,),
            ).fetchone()
        return None if row["t"] is None else float(row["t"])

    def actions_started_since(self, since: float, playbook: str | None = None) -> int:
        sql = "SELECT COUNT(*) AS n FROM remediations WHERE started_at >= ?"
        params: list[Any] = [since]
        if playbook is not None:
            sql += " AND playbook = ?"
            params.append(playbook)
        with self._read() as conn:
            return int(conn.execute(sql, params).fetchone()["n"])

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute("SELECT state, COUNT(*) AS n FROM remediations GROUP BY state").fetchall()
        return {row["state"]: int(row["n"]) for row in rows}

    def audit_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(seq), 0) AS n FROM audit").fetchone()["n"])

    def notification_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) AS n FROM notifications").fetchone()["n"])

    def group_keys(self) -> list[str]:
        with self._read() as conn:
            return [row[0] for row in conn.execute("SELECT group_key FROM notifications ORDER BY id")]

    # --- the kill switch ---------------------------------------------------------------------------------------

    def set_paused(self, paused: bool, who: str) -> bool:
        """Persisted, so a restart does not silently resume remediations an operator stopped."""
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM control WHERE key = 'paused'").fetchone()
            before = bool(row and row["value"] == "1")
            conn.execute(
                "INSERT INTO control (key, value) VALUES ('paused', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                ("1" if paused else "0",),
            )
            if before != paused:
                self._audit(conn, "paused" if paused else "resumed", data={"by": who})
        return before != paused

    def paused(self) -> bool:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM control WHERE key = 'paused'").fetchone()
        return bool(row and row["value"] == "1")

    # --- reading the audit -------------------------------------------------------------------------------------

    def audit_records(
        self,
        *,
        remediation_id: int | None = None,
        incident_id: int | None = None,
        playbook: str | None = None,
        target: str | None = None,
        event: str | None = None,
        since: float | None = None,
        after_seq: int = 0,
        limit: int | None = 1000,
    ) -> list[dict[str, Any]]:
        where: list[str] = ["seq > ?"]
        params: list[Any] = [after_seq]
        for column, value in (
            ("remediation_id", remediation_id),
            ("incident_id", incident_id),
            ("playbook", playbook),
            ("target", target),
            ("event", event),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        sql = f"SELECT * FROM audit WHERE {' AND '.join(where)} ORDER BY seq"  # noqa: S608
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [dict(row) for row in rows]

    def iter_audit(self, batch: int = 1000, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching record, read in batches so an export never holds the lock for long."""
        after = 0
        while True:
            rows = self.audit_records(after_seq=after, limit=batch, **filters)
            yield from rows
            if len(rows) < batch:
                return
            after = int(rows[-1]["seq"])

    def verify_audit(self) -> ChainReport:
        """Walk the whole chain (in batches, so writers are not held up) and check every link with the key."""
        report = verify_chain(self.iter_audit(), self.audit_key)
        self._chain_cache = (self.clock.monotonic(), report)
        return report

    def chain_status(self, max_age: float) -> ChainReport:
        """The last verification if it is at most ``max_age`` seconds old, else a fresh one (for the metric)."""
        cached = self._chain_cache
        if cached is not None and self.clock.monotonic() - cached[0] <= max_age:
            return cached[1]
        return self.verify_audit()

    def first_audit_event(self, remediation_id: int, events: Iterable[str]) -> dict[str, Any] | None:
        """The earliest audit record of ``remediation_id`` with one of ``events`` (the log, not the state column)."""
        wanted = sorted(set(events))
        with self._read() as conn:
            row = conn.execute(
                f"SELECT * FROM audit WHERE remediation_id = ? AND event IN ({','.join('?' * len(wanted))})"  # noqa: S608
                " ORDER BY seq LIMIT 1",
                (remediation_id, *wanted),
            ).fetchone()
        return dict(row) if row else None

    # --- retention ---------------------------------------------------------------------------------------------

    def prune_notification_bodies(self, received_before: float) -> int:
        """Blank the raw bodies of notifications received before the cutoff; their metadata and incidents stay."""
        now = self.clock.now()
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE notifications SET body = '', body_pruned_at = ?"
                " WHERE received_at < ? AND body_pruned_at IS NULL",
                (now, received_before),
            )
            if cursor.rowcount:
                self._audit(
                    conn,
                    "notification_bodies_pruned",
                    data={"count": cursor.rowcount, "received_before": received_before},
                )
            return int(cursor.rowcount)


def _remediation(row: sqlite3.Row) -> Remediation:
    return Remediation(
        id=int(row["id"]),
        incident_id=int(row["incident_id"]),
        playbook=row["playbook"],
        target=row["target"],
        spec=_loads(row["spec"]) or {},
        state=State(row["state"]),
        reason=row["reason"],
        dry_run=bool(row["dry_run"]),
        not_before=row["not_before"],
        deadline=row["deadline"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        before=_loads(row["before"]),
        after=_loads(row["after"]),
        fingerprint=row["fingerprint"],
        starts_at=row["starts_at"],
        alertname=row["alertname"],
        labels=_loads(row["labels"]),
        incident_status=AlertStatus(row["incident_status"]),
    )
