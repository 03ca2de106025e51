"""The sandbox runtime: a whole simulated fleet in one process, for tests, the demo and ``kafka-obs sandbox``.

:class:`Sandbox` starts one asyncio listener per simulated broker and the control HTTP API in a background
thread, so synchronous tests and confluent-kafka clients (which block) can use it from the main thread. The
Python methods and the HTTP control API call the same :class:`FleetRuntime` operations, so a fault injected
either way has the same effect.

    with Sandbox.start("small", clock=ManualClock()) as sb:
        admin = AdminClient({"bootstrap.servers": sb.bootstrap_servers("sandbox-small")})
        sb.stop_broker("sandbox-small", 1)
        sb.clock.advance(60)
        assert ... == sb.truth()["clusters"]["sandbox-small"]...
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml

from kafka_obs.clock import Clock, SystemClock
from kafka_obs.config.clusters import FleetConfig
from kafka_obs.sandbox import fleet as fleet_files
from kafka_obs.sandbox.control.server import ControlServer
from kafka_obs.sandbox.jmx import JavaUnavailable, SandboxJmx
from kafka_obs.sandbox.model.cluster import ClusterModel, NotFound, SandboxError
from kafka_obs.sandbox.protocol.dispatch import Dispatcher
from kafka_obs.sandbox.protocol.errors import GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP
from kafka_obs.sandbox.protocol.server import BrokerServer

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["FleetRuntime", "NotFound", "Sandbox", "SandboxError"]


class FleetRuntime:
    """The clusters, their broker listeners, and every control operation; lives in the event-loop thread."""

    def __init__(self, plan: fleet_files.FleetPlan, clock: Clock, host: str = "127.0.0.1"):
        self.plan = plan
        self.clock = clock
        self.host = host
        self.clusters: dict[str, ClusterModel] = {c.name: ClusterModel(c, plan, clock) for c in plan.clusters}
        self.servers: dict[tuple[str, int], BrokerServer] = {}
        self.jmx_ports: dict[str, list[int]] = {}
        for name, cluster in self.clusters.items():
            dispatcher = Dispatcher(cluster)
            for broker_id in cluster.brokers:
                self.servers[(name, broker_id)] = BrokerServer(dispatcher, broker_id, host)

    async def start(self) -> None:
        for (name, broker_id), server in self.servers.items():
            port = await server.start()
            broker = self.clusters[name].brokers[broker_id]
            broker.host, broker.port = self.host, port

    async def close(self) -> None:
        await asyncio.gather(*(server.stop() for server in self.servers.values()))

    def cluster(self, name: str) -> ClusterModel:
        cluster = self.clusters.get(name)
        if cluster is None:
            raise NotFound(f"unknown cluster {name!r}")
        return cluster

    # ---- operations shared by the Python API and the HTTP control API ------------------------------------

    async def stop_broker(self, cluster: str, broker_id: int) -> None:
        model = self.cluster(cluster)
        model.broker(broker_id)
        await self.servers[(cluster, broker_id)].stop()
        model.stop_broker(broker_id)
        log.info("broker stopped", extra={"cluster": cluster, "broker": broker_id})

    async def start_broker(self, cluster: str, broker_id: int) -> None:
        model = self.cluster(cluster)
        model.broker(broker_id)
        await self.servers[(cluster, broker_id)].start()
        model.start_broker(broker_id)
        log.info("broker started", extra={"cluster": cluster, "broker": broker_id})

    def delete_group(self, cluster: str, group: str) -> None:
        error = self.cluster(cluster).delete_group(group)
        if error == GROUP_ID_NOT_FOUND:
            raise NotFound(f"cluster {cluster}: unknown group {group!r}")
        if error == NON_EMPTY_GROUP:
            raise SandboxError(
                f"cluster {cluster}: group {group!r} is not empty (scale its deployment to 0 first)", 409
            )

    def truth(self) -> dict[str, Any]:
        return {
            "time": self.clock.now(),
            "clusters": {name: cluster.truth() for name, cluster in self.clusters.items()},
        }

    def bootstrap_servers(self, cluster: str) -> str:
        model = self.cluster(cluster)
        return ",".join(f"{b.host}:{b.port}" for b in sorted(model.brokers.values(), key=lambda b: b.id))

    def clusters_config(self) -> dict[str, Any]:
        """The exporter's ``clusters.yaml`` (seed format) pointing at this sandbox's real ports."""
        clusters = []
        for name, model in self.clusters.items():
            entry: dict[str, Any] = {
                "name": name,
                "region": model.plan.region,
                "environment": model.plan.environment,
                "brokers": self.bootstrap_servers(name).split(","),
                "priority": model.plan.priority,
            }
            if name in self.jmx_ports:
                entry["jmx_ports"] = list(self.jmx_ports[name])
            clusters.append(entry)
        return {"clusters": clusters}


class Sandbox:
    """A running sandbox fleet (see the module docstring); use :meth:`start`, stop with ``with`` or :meth:`stop`."""

    def __init__(self, runtime: FleetRuntime, loop: asyncio.AbstractEventLoop, thread: threading.Thread):
        self._runtime = runtime
        self._loop = loop
        self._thread = thread
        self._control: ControlServer | None = None
        self.control_url = ""
        self.jmx: SandboxJmx | None = None
        """Broker JMX (sandbox/jmx/), when started with ``jmx=True`` and a JDK is available."""

    @classmethod
    def start(
        cls,
        fleet: str | Path = "small",
        *,
        clock: Clock | None = None,
        control: str | None = "127.0.0.1:0",
        host: str = "127.0.0.1",
        jmx: bool = False,
        jmx_refresh: float | None = 1.0,
    ) -> Sandbox:
        """Load ``fleet`` (a name under ``sandbox/fleets/`` or a path), start every broker and the control API.

        ``control`` is ``HOST:PORT`` for the control HTTP API (port 0: any free port), or None for none.
        Raises :class:`~kafka_obs.config.loader.ConfigError` for a bad fleet file.
        """
        plan = fleet_files.load(fleet)
        runtime = FleetRuntime(plan, clock or SystemClock(), host)
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=_run_loop, args=(loop, ready), name="kafka-obs-sandbox", daemon=True)
        thread.start()
        ready.wait()
        sandbox = cls(runtime, loop, thread)
        try:
            sandbox._call(runtime.start())
            if control is not None:
                sandbox._start_control(control)
            if jmx:
                sandbox._start_jmx(jmx_refresh)
        except BaseException:
            sandbox.stop()
            raise
        return sandbox

    def _start_control(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or "127.0.0.1", int(port)))
        self._control = ControlServer(self._runtime, sock)
        self._call(self._control.start())
        bound_host, bound_port = sock.getsockname()[:2]
        self.control_url = f"http://{bound_host}:{bound_port}"

    def _start_jmx(self, refresh: float | None) -> None:
        """One JMX port per broker (recorded for clusters.yaml), fed from the model; without a JDK, say so."""
        try:
            self.jmx = SandboxJmx.start(self, refresh_interval=refresh)
        except JavaUnavailable as exc:
            log.warning("running without broker JMX", extra={"reason": str(exc)})

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        """Close every listener and the control API, then the event loop (idempotent)."""
        if self.jmx is not None:
            self.jmx.stop()
            self.jmx = None
        if not self._loop.is_running():
            return
        if self._control is not None:
            self._call(self._control.stop())
            self._control = None
        self._call(self._runtime.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- reading --------------------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._runtime.clock

    @property
    def runtime(self) -> FleetRuntime:
        return self._runtime

    def cluster_names(self) -> list[str]:
        return list(self._runtime.clusters)

    def cluster(self, name: str) -> ClusterModel:
        """The model of one cluster (``broker_stats()`` for the JMX responder lives there)."""
        return self._runtime.cluster(name)

    def bootstrap_servers(self, cluster: str) -> str:
        return self._runtime.bootstrap_servers(cluster)

    def truth(self) -> dict[str, Any]:
        """Ground truth at ``clock.now()``; identical to the JSON of ``GET /fleet``."""
        return self._runtime.truth()

    def broker_stats(self, cluster: str, broker_id: int) -> dict[str, Any]:
        return self._runtime.cluster(cluster).broker_stats(broker_id).to_dict()

    def fleet_config(self) -> FleetConfig:
        return FleetConfig.model_validate(self._runtime.clusters_config())

    def write_clusters_yaml(self, path: str | Path) -> Path:
        path = Path(path)
        header = "# Written by kafka-obs sandbox: the simulated fleet's real loopback ports. A simulator, not Kafka.\n"
        path.write_text(header + yaml.safe_dump(self._runtime.clusters_config(), sort_keys=False), encoding="utf-8")
        return path

    def set_jmx_ports(self, cluster: str, ports: list[int]) -> None:
        """Record the JMX responder's ports (one per broker, broker order) for :meth:`write_clusters_yaml`."""
        model = self._runtime.cluster(cluster)
        if len(ports) != len(model.brokers):
            raise SandboxError(f"cluster {cluster} has {len(model.brokers)} brokers, got {len(ports)} JMX ports")
        self._runtime.jmx_ports[cluster] = list(ports)

    # ---- faults and controls ----------------------------------------------------------------------------------

    def stop_broker(self, cluster: str, broker_id: int) -> None:
        self._call(self._runtime.stop_broker(cluster, broker_id))
        if self.jmx is not None:
            self.jmx.refresh()  # its JMX port goes away with it

    def start_broker(self, cluster: str, broker_id: int) -> None:
        self._call(self._runtime.start_broker(cluster, broker_id))
        if self.jmx is not None:
            self.jmx.refresh()

    def set_produce_rate(self, cluster: str, topic: str, messages_per_second: float) -> None:
        self._runtime.cluster(cluster).set_produce_rate(topic, messages_per_second)

    def set_produce_fault(self, cluster: str, broker_id: int, *, delay_ms: float = 0, drop: bool = False) -> None:
        """As the control API's ``produce-fault``: Produce answered late and/or acknowledged but not kept."""
        self._runtime.cluster(cluster).set_produce_fault(broker_id, delay=delay_ms / 1000, drop=drop)

    def pause_deployment(self, cluster: str, deployment: str) -> None:
        self._runtime.cluster(cluster).pause_deployment(deployment)

    def resume_deployment(self, cluster: str, deployment: str) -> None:
        self._runtime.cluster(cluster).resume_deployment(deployment)

    def set_consume_rate(self, cluster: str, deployment: str, messages_per_second: float) -> None:
        self._runtime.cluster(cluster).set_consume_rate(deployment, messages_per_second)

    def scale_deployment(self, cluster: str, deployment: str, replicas: int) -> None:
        self._runtime.cluster(cluster).scale_deployment(deployment, replicas)

    def shrink_isr(self, cluster: str, topic: str, partition: int, isr: list[int]) -> None:
        self._runtime.cluster(cluster).shrink_isr(topic, partition, isr)

    def set_disk_usage(self, cluster: str, broker_id: int, used_ratio: float) -> None:
        self._runtime.cluster(cluster).set_disk_usage(broker_id, used_ratio)

    def delete_group(self, cluster: str, group: str) -> None:
        self._runtime.delete_group(cluster, group)


def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()
