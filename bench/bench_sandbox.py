"""Benchmark: a full admin sweep of the ``scale`` fleet (6 brokers, 2,500 partitions, 2,000 groups) against
``kafka-obs sandbox`` running as its own process (as the exporter would see it), by two clients:

- ``confluent``: confluent-kafka's AdminClient (librdkafka), as an operator's tool would sweep. It sends one
  FindCoordinator, one DescribeGroups and one OffsetFetch per group, and its Python binding keeps a future per
  partition and per group, so at 10x (``--factors 1,10``: bench/scaled_fleet.py, 25,000 partitions, 20,000 groups)
  the sweep measures the client more than the sandbox (~35 s of the client's own CPU per sweep, measured).
- ``batched``: what the exporter sends — one request per broker per API (Metadata; ListOffsets earliest and latest
  to each leader; ListGroups, DescribeGroups and OffsetFetch v8 for the groups each broker coordinates), written
  with kafka-python's request classes over plain sockets, all brokers in parallel. The warm-up sweep decodes every
  answer and checks it covers every partition, group and committed offset; the timed sweeps only read the bytes,
  so their wall time is the sandbox's (plus the loopback), not a decoder's.

One sweep = Metadata, ListOffsets earliest + latest for every partition, ListGroups, DescribeGroups for every group,
OffsetFetch for every group. Repeated; the median goes to bench/results/sandbox-sweep[-batched][-xN].json with the
sandbox's and the client's CPU seconds per sweep (the fair measure on a shared machine) and the load averages.
Target: under 5 s, so the sandbox is never the reason an exporter benchmark is slow.

Usage: .venv/bin/python bench/bench_sandbox.py [--factors 1,10] [--clients confluent,batched]
(by default 1x and 10x: the confluent client at 1x only, the batched client at both).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import struct
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: load averages and a note measured, not asserted
import psutil
import scaled_fleet
import yaml
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from kafka.protocol.admin.groups import (
    DescribeGroupsRequest,
    DescribeGroupsResponse,
    ListGroupsRequest,
    ListGroupsResponse,
)
from kafka.protocol.consumer.group import OffsetFetchRequest, OffsetFetchResponse
from kafka.protocol.consumer.offsets import ListOffsetsRequest, ListOffsetsResponse
from kafka.protocol.metadata.metadata import MetadataRequest, MetadataResponse

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "sandbox-sweep.json"
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
TIMEOUT = 300
TARGET_SECONDS = 5.0
STAGES = ("metadata", "list_offsets", "list_groups", "describe_groups", "offset_fetch")


def sweep(admin: AdminClient, sandbox: psutil.Process) -> dict[str, float]:
    """One full sweep; returns seconds per stage, and the CPU seconds the sandbox and this client spent on it."""
    stages: dict[str, float] = {}
    sandbox_cpu, client_cpu = _cpu(sandbox), time.process_time()
    t = time.perf_counter()
    metadata = admin.list_topics(timeout=TIMEOUT)
    partitions = [TopicPartition(name, p) for name, topic in metadata.topics.items() for p in topic.partitions]
    stages["metadata"] = time.perf_counter() - t

    t = time.perf_counter()
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest()):
        futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=TIMEOUT)
        for future in futures.values():
            future.result()
    stages["list_offsets"] = time.perf_counter() - t

    t = time.perf_counter()
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT).result()
    groups = [g.group_id for g in listed.valid]
    stages["list_groups"] = time.perf_counter() - t

    t = time.perf_counter()
    for future in admin.describe_consumer_groups(groups, request_timeout=TIMEOUT).values():
        future.result()
    stages["describe_groups"] = time.perf_counter() - t

    t = time.perf_counter()
    # The Python binding takes one group per call; all calls are in flight at once.
    per_group = [
        admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(g)], request_timeout=TIMEOUT)[g] for g in groups
    ]
    for pending in per_group:
        pending.result()
    stages["offset_fetch"] = time.perf_counter() - t
    stages["total"] = sum(stages.values())
    stages["sandbox_cpu"] = _cpu(sandbox) - sandbox_cpu
    stages["client_cpu"] = time.process_time() - client_cpu
    stages["partitions"] = len(partitions)
    stages["groups"] = len(groups)
    return stages


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class Broker:
    """One connection to one broker: a request out, its response frame back (the sandbox answers in order)."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        self.correlation_id = 0

    def call(self, frame: bytes) -> bytes:
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        (size,) = struct.unpack(">i", self._read(4))
        return self._read(size)

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise ConnectionError("the sandbox closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


def _frame(request: Any, version: int) -> bytes:
    request.API_VERSION = version
    request.with_header(correlation_id=1, client_id="bench_sandbox")
    return bytes(request.encode(header=True))


def _decode(response_class: Any, version: int, frame: bytes) -> Any:
    return response_class[version].decode(frame, header=True)


class BatchedSweep:
    """The exporter's request shape; :meth:`discover` decodes and checks a whole sweep, :meth:`sweep` times one."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.brokers: dict[int, Broker] = {}
        self.frames: dict[str, list[tuple[int, bytes]]] = {}
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.counts: dict[str, int] = {}

    def _stage(self, frames: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """Send each broker its frames (brokers in parallel, a broker's in order); the responses in frame order."""
        by_broker: dict[int, list[int]] = {}
        for n, (broker_id, _) in enumerate(frames):
            by_broker.setdefault(broker_id, []).append(n)

        def run(broker_id: int) -> list[tuple[int, bytes]]:
            return [(n, self.brokers[broker_id].call(frames[n][1])) for n in by_broker[broker_id]]

        answered = [r for rs in self.pool.map(run, by_broker) for r in rs]
        return [(frames[n][0], body) for n, body in sorted(answered)]

    def discover(self) -> None:
        """Metadata and ListGroups decoded to build the sweep's frames; then one whole sweep decoded and checked."""
        seed = Broker(self.bootstrap)
        try:
            metadata = _decode(MetadataResponse, 12, seed.call(_frame(MetadataRequest(topics=None), 12)))
        finally:
            seed.close()
        self.brokers = {b.node_id: Broker(f"{b.host}:{b.port}") for b in metadata.brokers}
        led: dict[int, dict[str, list[int]]] = {b: {} for b in self.brokers}
        for topic in metadata.topics:
            for p in topic.partitions:
                led[p.leader_id].setdefault(topic.name, []).append(p.partition_index)
        Topic = ListOffsetsRequest.ListOffsetsTopic
        Partition = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
        self.frames["metadata"] = [(min(self.brokers), _frame(MetadataRequest(topics=None), 12))]
        self.frames["list_offsets"] = [
            (
                broker_id,
                _frame(
                    ListOffsetsRequest(
                        replica_id=-1,
                        isolation_level=0,
                        topics=[
                            Topic(name=t, partitions=[Partition(partition_index=i, timestamp=ts) for i in indexes])
                            for t, indexes in led[broker_id].items()
                        ],
                    ),
                    7,
                ),
            )
            for broker_id in self.brokers
            for ts in (-2, -1)
        ]
        self.frames["list_groups"] = [
            (b, _frame(ListGroupsRequest(states_filter=[], types_filter=[]), 5)) for b in self.brokers
        ]
        listed = {b: _decode(ListGroupsResponse, 5, body) for b, body in self._stage(self.frames["list_groups"])}
        coordinated = {b: [g.group_id for g in response.groups] for b, response in listed.items()}
        Group = OffsetFetchRequest.OffsetFetchRequestGroup
        self.frames["describe_groups"] = [
            (b, _frame(DescribeGroupsRequest(groups=groups, include_authorized_operations=False), 5))
            for b, groups in coordinated.items()
        ]
        self.frames["offset_fetch"] = [
            (b, _frame(OffsetFetchRequest(groups=[Group(group_id=g, topics=None) for g in groups]), 8))
            for b, groups in coordinated.items()
        ]
        self._check(sum(len(g) for g in coordinated.values()))

    def _check(self, groups: int) -> None:
        """Decode one sweep's answers: every partition, group and committed offset answered without an error."""
        offsets = [_decode(ListOffsetsResponse, 7, body) for _, body in self._stage(self.frames["list_offsets"])]
        answered = [p for r in offsets for t in r.topics for p in t.partitions]
        described = [
            g
            for _, body in self._stage(self.frames["describe_groups"])
            for g in _decode(DescribeGroupsResponse, 5, body).groups
        ]
        fetched = [
            g
            for _, body in self._stage(self.frames["offset_fetch"])
            for g in _decode(OffsetFetchResponse, 8, body).groups
        ]
        problems = [p for p in answered if p.error_code] + [g for g in described + fetched if g.error_code]
        if problems or len(described) != groups or len(fetched) != groups:
            raise SystemExit(f"the sandbox's answers are incomplete: {problems[:3]}, {len(described)} of {groups}")
        self.counts = {
            "partitions": len(answered) // 2,
            "groups": groups,
            "members": sum(len(g.members) for g in described),
            "committed_offsets": sum(len(t.partitions) for g in fetched for t in g.topics),
        }

    def sweep(self, sandbox: psutil.Process) -> dict[str, float]:
        stages: dict[str, float] = {}
        sandbox_cpu, client_cpu = _cpu(sandbox), time.process_time()
        size = 0
        for stage in STAGES:
            t = time.perf_counter()
            size += sum(len(body) for _, body in self._stage(self.frames[stage]))
            stages[stage] = time.perf_counter() - t
        stages["total"] = sum(stages.values())
        stages["sandbox_cpu"] = _cpu(sandbox) - sandbox_cpu
        stages["client_cpu"] = time.process_time() - client_cpu
        stages["response_bytes"] = size
        return stages

    def close(self) -> None:
        for broker in self.brokers.values():
            broker.close()
        self.pool.shutdown()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", default="1,10", help="sizes to sweep, as multiples of the scale fleet")
    parser.add_argument("--clients", help="confluent and/or batched (default: confluent at 1x, batched at all)")
    args = parser.parse_args(argv)
    failed = []
    for factor in map(int, args.factors.split(",")):
        clients = args.clients.split(",") if args.clients else (["confluent"] if factor == 1 else []) + ["batched"]
        failed += [(factor, c) for c in clients if not sweep_size(factor, c)]
    return 1 if failed else 0


def sweep_size(factor: int, client: str) -> bool:
    """Start the sandbox for one size, sweep it with ``client``, write its result; True when the median meets the
    target."""
    name = "sandbox-sweep" + ("-batched" if client == "batched" else "") + (f"-x{factor}" if factor > 1 else "")
    results = RESULTS.with_name(f"{name}.json")
    load_before = machine.snapshot()
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "clusters.yaml"
        fleet = "scale" if factor == 1 else str(scaled_fleet.write_scaled(factor, Path(tmp)))
        process, start_seconds = scaled_fleet.start_sandbox(fleet, config)
        try:
            time.sleep(0.2)
            brokers = yaml.safe_load(config.read_text())["clusters"][0]["brokers"]
            sandbox = psutil.Process(process.pid)
            if client == "batched":
                batched = BatchedSweep(brokers[0])
                try:
                    batched.discover()  # warm-up: connections, and every answer decoded and checked
                    counts = batched.counts
                    runs = [batched.sweep(sandbox) for _ in range(REPEATS)]
                finally:
                    batched.close()
            else:
                admin = AdminClient({"bootstrap.servers": ",".join(brokers), "log_level": 3})
                sweep(admin, sandbox)  # warm-up: connections and metadata
                runs = [sweep(admin, sandbox) for _ in range(REPEATS)]
                counts = {"partitions": int(runs[0]["partitions"]), "groups": int(runs[0]["groups"])}
        finally:
            scaled_fleet.stop_sandbox(process)
    totals = [r["total"] for r in runs]
    median = statistics.median(totals)
    result = {
        "benchmark": f"sandbox full admin sweep, scale fleet{f' x {factor}' if factor > 1 else ''}, {client} client",
        "fleet": {"brokers": 6, **counts},
        "client": CLIENTS[client],
        "repeats": REPEATS,
        "median_seconds": median,
        "min_seconds": min(totals),
        "max_seconds": max(totals),
        "sandbox_cpu_seconds_median": statistics.median(r["sandbox_cpu"] for r in runs),
        "client_cpu_seconds_median": statistics.median(r["client_cpu"] for r in runs),
        "median_stage_seconds": {stage: statistics.median(r[stage] for r in runs) for stage in STAGES},
        "target_seconds": TARGET_SECONDS,
        "sandbox_start_seconds": round(start_seconds, 2),
        "machine": machine.describe(load_before, machine.snapshot()),
    }
    if client == "batched":
        result["response_bytes"] = int(runs[0]["response_bytes"])
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return median < TARGET_SECONDS


CLIENTS = {
    "confluent": "confluent-kafka AdminClient (librdkafka), separate process from the sandbox",
    "batched": "one request per broker per API as the exporter sends them (kafka-python request classes over "
    "sockets, brokers in parallel), separate process from the sandbox; answers decoded and checked in the warm-up",
}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
