"""Group commit for ``POST /alerts``: concurrent notifications share one transaction and one fsync.

Each notification must be on disk before its 2xx. Committing them one by one costs one fsync each and makes
concurrent requests queue behind the database lock; during a burst (an Alertmanager HA pair flushing many groups
at once) a single writer thread instead takes everything that is waiting, stores it in one transaction, and then
answers every sender. Nothing is acknowledged before its batch is committed, and a failed batch fails every
request in it with 503, so Alertmanager retries all of them.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from dataclasses import dataclass

from kafka_obs.webhook.store import EnqueueResult, Incoming, Store

log = logging.getLogger(__name__)

MAX_BATCH = 64


@dataclass
class _Waiting:
    incoming: Incoming
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[EnqueueResult]


def _resolve(future: asyncio.Future[EnqueueResult], result: EnqueueResult | None, error: BaseException | None) -> None:
    if future.done():  # the client went away; the notification is stored all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


class GroupCommitter:
    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH):
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.Queue[_Waiting | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    async def submit(self, incoming: Incoming) -> EnqueueResult:
        """Returns once ``incoming`` is committed; raises what the store raised if it could not be."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[EnqueueResult] = loop.create_future()
        self._queue.put(_Waiting(incoming, loop, future))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            results = self.store.enqueue_many([w.incoming for w in batch])
        except Exception as exc:
            log.exception("could not store %d notifications", len(batch))
            for waiting in batch:
                waiting.loop.call_soon_threadsafe(_resolve, waiting.future, None, exc)
            return
        for waiting, result in zip(batch, results, strict=True):
            waiting.loop.call_soon_threadsafe(_resolve, waiting.future, result, None)
