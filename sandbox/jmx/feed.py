"""Feeding the JMX responder from a running sandbox: one JMX port per simulated broker, values from the model.

Each refresh reads every broker's ``broker_stats()`` from the cluster model (the simulation's own numbers, at the
clock's now) and publishes them as Kafka's MBeans; a broker the simulation has stopped has its JMX port closed,
and a restarted one gets the same port back. Tests on a manual clock call :meth:`SandboxJmx.refresh` after moving
the clock or injecting a fault, so what the exporter reads is deterministic; the demo and ``kafka-obs sandbox``
refresh in a background thread.

What the model does not simulate (request latencies, thread idle ratios, heap and GC) is filled with steady,
plausible values derived from the traffic, so dashboards have something to draw; they are marked as synthetic in
docs/sandbox.md and never used as ground truth.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from kafka_obs.sandbox.jmx.beans import BrokerJmxState, RequestLatency, TopicTraffic, kafka_beans
from kafka_obs.sandbox.jmx.responder import JmxResponder

log = logging.getLogger(__name__)

HEAP_MAX_BYTES = 1 << 30
MESSAGES_PER_YOUNG_GC = 20_000
"""Synthetic GC: one young collection of 8 ms per 20,000 messages received."""
LATENCY_MS = {
    "Produce": {"p50": 1.0, "p75": 1.6, "p95": 4.0, "p98": 6.0, "p99": 9.0, "p999": 25.0},
    "FetchConsumer": {"p50": 500.0, "p75": 500.0, "p95": 501.0, "p98": 502.0, "p99": 503.0, "p999": 510.0},
    "FetchFollower": {"p50": 500.0, "p75": 500.0, "p95": 500.0, "p98": 501.0, "p99": 501.0, "p999": 505.0},
}
"""Synthetic TotalTimeMs percentiles (fetches wait up to fetch.max.wait.ms, 500 ms, when there is nothing new)."""


class _Model(Protocol):
    @property
    def brokers(self) -> Mapping[int, Any]: ...

    def broker_stats(self, broker_id: int) -> Any: ...


class _Sandbox(Protocol):
    def cluster_names(self) -> list[str]: ...

    def cluster(self, name: str) -> _Model: ...

    def set_jmx_ports(self, cluster: str, ports: list[int]) -> None: ...


def broker_state(stats: Any) -> BrokerJmxState:
    """The MBean view of one broker from the model's ``BrokerStats`` (counters floored to whole units)."""
    topics = {
        topic: TopicTraffic(
            bytes_in=int(t["bytes_in_total"]),
            bytes_out=int(t["bytes_out_total"]),
            messages_in=int(t["messages_in_total"]),
        )
        for topic, t in stats.topics.items()
    }
    all_topics = TopicTraffic(
        bytes_in=int(stats.bytes_in_total),
        bytes_out=int(stats.bytes_out_total),
        messages_in=int(stats.messages_in_total),
        produce_requests=int(stats.produce_requests_total),
        failed_produce_requests=int(stats.failed_produce_requests_total),
    )
    messages = int(stats.messages_in_total)
    young = messages // MESSAGES_PER_YOUNG_GC
    return BrokerJmxState(
        broker_id=stats.broker_id,
        topics=topics,
        all_topics=all_topics,
        under_replicated_partitions=stats.under_replicated_partitions,
        partition_count=stats.partition_count,
        leader_count=stats.leader_count,
        under_min_isr_partitions=stats.under_min_isr_partitions,
        isr_shrinks=stats.isr_shrinks_total,
        isr_expands=stats.isr_expands_total,
        active_controller=bool(stats.active_controller),
        offline_partitions=stats.offline_partitions,
        request_latency={
            request: RequestLatency(count=int(stats.produce_requests_total), percentiles_ms=p)
            for request, p in LATENCY_MS.items()
        },
        request_handler_idle_ratio=0.92,
        network_processor_idle_ratio=0.95,
        log_sizes=dict(stats.log_sizes),
        heap_used_bytes=HEAP_MAX_BYTES // 4 + (messages * 997) % (HEAP_MAX_BYTES // 2),
        heap_max_bytes=HEAP_MAX_BYTES,
        gc={"G1 Young Generation": (young, young * 8), "G1 Old Generation": (0, 0)},
        requests=dict(stats.requests),
    )


class SandboxJmx:
    """The responder plus the mapping from simulated brokers to its endpoints. Use :meth:`start`."""

    def __init__(self, sandbox: _Sandbox, responder: JmxResponder, credentials: tuple[str, str] | None):
        self._sandbox = sandbox
        self._responder = responder
        self._credentials = credentials
        self._refresh_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        sandbox: _Sandbox,
        *,
        username: str | None = None,
        password: str | None = None,
        refresh_interval: float | None = None,
        responder: JmxResponder | None = None,
    ) -> SandboxJmx:
        """Start the responder (raises ``JavaUnavailable`` without a JDK), open a port per broker, record the
        ports for ``clusters.yaml``, publish the first values; refresh every ``refresh_interval`` seconds if set."""
        if (username is None) != (password is None):
            raise ValueError("give a username and a password, or neither")
        credentials = (username, password) if username is not None and password is not None else None
        jmx = cls(sandbox, responder or JmxResponder.start(), credentials)
        try:
            for cluster in sandbox.cluster_names():
                ports = [jmx._open(cluster, broker_id) for broker_id in sorted(sandbox.cluster(cluster).brokers)]
                sandbox.set_jmx_ports(cluster, ports)
            jmx.refresh()
        except BaseException:
            jmx.stop()
            raise
        if refresh_interval is not None:
            jmx._thread = threading.Thread(
                target=jmx._refresh_every, args=(refresh_interval,), name="sandbox-jmx-refresh", daemon=True
            )
            jmx._thread.start()
        return jmx

    @property
    def responder(self) -> JmxResponder:
        return self._responder

    def port(self, cluster: str, broker_id: int) -> int | None:
        return self._responder.port(_key(cluster, broker_id))

    def refresh(self) -> None:
        """Publish every broker's current numbers; close the ports of stopped brokers, reopen restarted ones."""
        with self._refresh_lock:
            for cluster in self._sandbox.cluster_names():
                model = self._sandbox.cluster(cluster)
                for broker_id in sorted(model.brokers):
                    key = _key(cluster, broker_id)
                    stats = model.broker_stats(broker_id)
                    self._responder.publish(key, kafka_beans(broker_state(stats)))
                    if stats.up and not self._responder.is_open(key):
                        self._open(cluster, broker_id)
                    elif not stats.up and self._responder.is_open(key):
                        self._responder.close_broker(key)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        self._responder.stop()

    def _open(self, cluster: str, broker_id: int) -> int:
        username, password = self._credentials or (None, None)
        return self._responder.open_broker(_key(cluster, broker_id), username=username, password=password)

    def _refresh_every(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self.refresh()
            except Exception as exc:  # keep refreshing; the sandbox must not die of a JMX hiccup
                if self._stopping.is_set():
                    return
                log.warning("sandbox JMX refresh failed", extra={"err": str(exc)})


def _key(cluster: str, broker_id: int) -> str:
    return f"{cluster}/{broker_id}"
