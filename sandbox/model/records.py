"""Real records produced by clients, kept in memory with a bound, and synthetic records for simulated traffic.

A client that produces a message must be able to read it back, so produced batches are re-encoded with the
offsets the sandbox assigns (kafka-python's record builders, never hand-written layouts) and kept per partition.
Simulated traffic has no payload; a consumer fetching it gets generated records of the topic's message size, so a
real consumer can read any offset between log-start and log-end.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field

from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder

MAX_BATCHES_PER_PARTITION = 1000
"""Older produced batches are dropped first; their offsets stay counted."""

SYNTHETIC_VALUE_CAP = 16_384
"""Generated record values are capped so a fetch of a topic with huge messages stays cheap."""


class InvalidRecords(ValueError):
    """A produce request whose records cannot be decoded (CORRUPT_MESSAGE)."""


@dataclass
class StoredBatch:
    base_offset: int
    last_offset: int
    append_time: float
    data: bytes


@dataclass
class PartitionRecords:
    """Produced batches of one partition, and when each record was appended (for offset arithmetic)."""

    batches: deque[StoredBatch] = field(default_factory=deque)
    append_times: list[float] = field(default_factory=list)
    """One entry per produced record, in append order (never pruned: offsets depend on the count)."""

    def count_before(self, t: float) -> int:
        """Produced records appended at or before ``t``."""
        return bisect.bisect_right(self.append_times, t)

    @property
    def total(self) -> int:
        return len(self.append_times)

    def append(self, base_offset: int, now: float, raw: bytes) -> tuple[int, int]:
        """Re-encode ``raw`` (one or more batches) at ``base_offset``; returns (record count, bytes)."""
        builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=2**31 - 1, offset=base_offset)
        count = 0
        try:
            records = MemoryRecords(raw)
            while (batch := records.next_batch()) is not None:
                for record in batch:
                    timestamp = record.timestamp if record.timestamp is not None and record.timestamp >= 0 else None
                    builder.append(timestamp or int(now * 1000), record.key, record.value, list(record.headers))
                    count += 1
        except InvalidRecords:
            raise
        except Exception as exc:  # kafka-python raises several types for corrupt input
            raise InvalidRecords(str(exc)) from exc
        if count == 0:
            raise InvalidRecords("no records in the batch")
        builder.close()
        data = bytes(builder.buffer())
        last_t = self.append_times[-1] if self.append_times else now
        at = max(now, last_t)
        self.append_times.extend([at] * count)
        self.batches.append(StoredBatch(base_offset, base_offset + count - 1, at, data))
        while len(self.batches) > MAX_BATCHES_PER_PARTITION:
            self.batches.popleft()
        return count, len(data)

    def batches_from(self, offset: int, max_bytes: int) -> tuple[list[bytes], int | None]:
        """Stored batches holding ``offset`` or later, up to ``max_bytes``; and the base of the first one."""
        index = bisect.bisect_left([b.last_offset for b in self.batches], offset)
        out: list[bytes] = []
        size = 0
        first = None
        for batch in list(self.batches)[index:]:
            if out and size + len(batch.data) > max_bytes:
                break
            if first is None:
                first = batch.base_offset
            out.append(batch.data)
            size += len(batch.data)
        return out, first

    def next_stored_base(self, offset: int) -> int | None:
        """Base offset of the first stored batch at or after ``offset`` (bounds a synthetic batch)."""
        for batch in self.batches:
            if batch.last_offset >= offset:
                return batch.base_offset
        return None

    def covers(self, offset: int) -> bool:
        return any(b.base_offset <= offset <= b.last_offset for b in self.batches)


def synthetic_batch(base_offset: int, count: int, message_bytes: int, timestamps_ms: list[int]) -> bytes:
    """A record batch of ``count`` generated records standing in for simulated traffic."""
    value = b"s" * min(message_bytes, SYNTHETIC_VALUE_CAP)
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=2**31 - 1, offset=base_offset)
    for i in range(count):
        builder.append(timestamps_ms[i], None, value, [])
    builder.close()
    return bytes(builder.buffer())
