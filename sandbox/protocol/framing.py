"""Kafka's framing: a 4-byte big-endian size, then the message. Oversized or negative sizes are refused."""

from __future__ import annotations

import asyncio

from kafka.protocol.schemas.fields.codecs import Int32

MAX_FRAME_BYTES = 100 * 1024 * 1024
"""Kafka's ``socket.request.max.bytes`` default."""


class FrameError(Exception):
    """The peer sent something that is not a Kafka frame; its connection is closed."""


async def read_frame(reader: asyncio.StreamReader, max_bytes: int = MAX_FRAME_BYTES) -> bytes | None:
    """The next frame's payload, or None at a clean end of stream."""
    try:
        prefix = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("connection closed inside a frame size") from None
        return None
    size = Int32.decode_from(memoryview(prefix), 0)[0]
    if size < 0 or size > max_bytes:
        raise FrameError(f"frame size {size} outside 0..{max_bytes}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise FrameError(f"connection closed inside a {size}-byte frame") from None
