"""One asyncio listener per simulated broker. Stopping a broker closes its listener and its connections.

A malformed or oversized frame closes only the connection that sent it (and is logged); a handler bug is logged
with its traceback and also closes only that connection, so one bad client never takes the sandbox down.
"""

from __future__ import annotations

import asyncio
import logging

from kafka_obs.sandbox.protocol.dispatch import Dispatcher, MalformedRequest
from kafka_obs.sandbox.protocol.framing import FrameError, read_frame

log = logging.getLogger(__name__)


class BrokerServer:
    def __init__(self, dispatcher: Dispatcher, broker_id: int, host: str = "127.0.0.1"):
        self.dispatcher = dispatcher
        self.broker_id = broker_id
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> int:
        """Listen (on the same port as before after a restart); returns the port."""
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._connections.add(writer)
        peer = writer.get_extra_info("peername")
        try:
            while True:
                frame = await read_frame(reader)
                if frame is None:
                    return
                response = await self.dispatcher.handle(frame, self.broker_id)
                if response is not None:
                    writer.write(response)
                    await writer.drain()
        except (FrameError, MalformedRequest) as exc:
            log.warning(
                "closing connection after a bad request",
                extra={"broker": self.broker_id, "peer": str(peer), "reason": str(exc)},
            )
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("request handler failed; closing the connection", extra={"broker": self.broker_id})
        finally:
            self._connections.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()
