"""One Kafka request over a plain socket with kafka-python's protocol classes: what the sandbox's wire tests and the
sandbox-vs-Kafka differential test send, with no client library in between to retry, route or hide an error."""

from __future__ import annotations

import socket
import struct
from typing import Any


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def roundtrip(sock: socket.socket, request: Any, response_class: Any, correlation_id: int = 7) -> Any:
    """Send ``request`` framed with its header, read one frame back and decode it as ``response_class``."""
    request.with_header(correlation_id=correlation_id, client_id="test")
    sock.sendall(bytes(request.encode(header=True, framed=True)))
    size = struct.unpack(">i", recv_exactly(sock, 4))[0]
    frame = recv_exactly(sock, size)
    response = response_class.decode(frame, header=True)
    assert response.header.correlation_id == correlation_id
    return response
