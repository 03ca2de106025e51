"""The log rate limiter: a storm of identical errors becomes a few lines and a count."""

from __future__ import annotations

import logging

from kafka_obs import logs


def test_repeated_lines_are_rate_limited_and_the_suppressed_count_is_reported() -> None:
    now = [0.0]
    limiter = logs.RateLimitFilter(burst=3, window=60.0, clock=lambda: now[0])

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, args, None)

    passed = [limiter.filter(record("socket.accept() out of system resource fd=%d", n)) for n in range(100)]
    assert passed == [True] * 3 + [False] * 97
    assert limiter.filter(record("something else entirely"))  # another line is not held back
    now[0] = 61.0
    again = record("socket.accept() out of system resource fd=%d", 7)
    assert limiter.filter(again)
    assert again.suppressed == 97  # type: ignore[attr-defined]
