"""Serves the control app with uvicorn inside the sandbox's event loop, on a socket bound by the caller."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import uvicorn

from kafka_obs.sandbox.control.app import build_app

if TYPE_CHECKING:
    from kafka_obs.sandbox.runtime import FleetRuntime


class ControlServer:
    def __init__(self, runtime: FleetRuntime, sock: socket.socket):
        self._sock = sock
        config = uvicorn.Config(build_app(runtime), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._sock.close()
