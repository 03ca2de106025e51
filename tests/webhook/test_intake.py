"""Group commit: every submitted notification is stored before its answer; a failed batch fails all of its requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from kafka_obs.webhook.intake import GroupCommitter
from kafka_obs.webhook.models import Notification
from kafka_obs.webhook.store import Incoming, Store

from .conftest import alert, notification


def incoming(index: int) -> Incoming:
    body = json.dumps(notification(alert(fingerprint=f"{index:016x}"), group_key=f"g{index}"))
    payload = Notification.model_validate_json(body)
    return Incoming(payload, "{}", [], 30.0)


def test_concurrent_submissions_are_batched_and_all_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "db", audit_key=b"k" * 32)
    batches: list[int] = []
    original = store.enqueue_many

    def counting(items: list[Incoming]) -> Any:
        batches.append(len(items))
        return original(items)

    monkeypatch.setattr(store, "enqueue_many", counting)
    committer = GroupCommitter(store)

    async def burst() -> list[int]:
        results = await asyncio.gather(*(committer.submit(incoming(i)) for i in range(200)))
        return [r.notification_id for r in results]

    ids = asyncio.run(burst())
    committer.close()
    assert sorted(ids) == list(range(1, 201))
    assert sorted(store.group_keys()) == sorted(f"g{i}" for i in range(200))
    assert sum(batches) == 200
    assert len(batches) < 200  # at least some notifications shared a transaction
    store.close()


def test_a_failed_batch_fails_every_request_in_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "db", audit_key=b"k" * 32)

    def broken(_items: list[Incoming]) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(store, "enqueue_many", broken)
    committer = GroupCommitter(store)

    async def burst() -> list[Any]:
        return await asyncio.gather(*(committer.submit(incoming(i)) for i in range(20)), return_exceptions=True)

    outcomes = asyncio.run(burst())
    committer.close()
    assert all(isinstance(o, OSError) for o in outcomes)
    assert store.notification_count() == 0
    store.close()
