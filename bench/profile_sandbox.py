"""The sandbox's own CPU for one admin sweep of a ``scale`` x N fleet, in process, without sockets or a client.

``bench_sandbox.py`` and ``bench_scale.py`` measure the sandbox from outside (wall time of a client's sweep, the
sandbox process's CPU per exporter cycle); on a shared 2-core machine both mix in the client's and other work's
CPU. This replays the same requests straight into the sandbox's dispatcher — frames encoded once beforehand, at the
versions the clients were seen to send — and times only ``Dispatcher.handle``, so a change to a handler or an
encoder can be measured before and after in seconds, and profiled with ``--profile``:

- ``batched``: what the exporter sends per cycle — Metadata (all topics), ListOffsets earliest and latest to each
  leader, and per broker ListGroups, DescribeGroups and OffsetFetch v8 for all the groups it coordinates,
  DescribeLogDirs for all its replicas.
- ``per-group``: what confluent-kafka's AdminClient sends for ``bench_sandbox.py``'s sweep — the batched requests
  above that it also sends, then per group a FindCoordinator v2, a DescribeGroups v5 and an OffsetFetch v8 for
  that group alone.

Usage: .venv/bin/python bench/profile_sandbox.py [--factor 10] [--shape batched|per-group] [--repeats 3]
[--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scaled_fleet
from kafka.protocol.admin.cluster import DescribeLogDirsRequest
from kafka.protocol.admin.groups import DescribeGroupsRequest, ListGroupsRequest
from kafka.protocol.consumer.group import OffsetFetchRequest
from kafka.protocol.consumer.offsets import ListOffsetsRequest
from kafka.protocol.metadata.find_coordinator import FindCoordinatorRequest
from kafka.protocol.metadata.metadata import MetadataRequest

from kafka_obs.clock import SystemClock
from kafka_obs.sandbox import fleet as fleet_files
from kafka_obs.sandbox.model.cluster import ClusterModel
from kafka_obs.sandbox.protocol.dispatch import SERVED, Dispatcher

Frame = tuple[int, bytes]
"""(broker id, request frame without its size prefix)."""


def _frame(request: Any, version: int, correlation_id: int) -> bytes:
    request.API_VERSION = version
    request.with_header(correlation_id=correlation_id, client_id="profile_sandbox")
    return bytes(request.encode(header=True))


def batched(cluster: ClusterModel) -> list[Frame]:
    """The exporter's requests for one cycle."""
    frames: list[Frame] = [(min(cluster.brokers), _frame(MetadataRequest(topics=None), 12, 1))]
    led: dict[int, dict[str, list[int]]] = {b: {} for b in cluster.brokers}
    hosted: dict[int, dict[str, list[int]]] = {b: {} for b in cluster.brokers}
    for topic in cluster.topics.values():
        for p in topic.partitions:
            led[p.leader].setdefault(topic.name, []).append(p.index)
            for replica in p.replicas:
                hosted[replica].setdefault(topic.name, []).append(p.index)
    coordinated: dict[int, list[str]] = {b: [] for b in cluster.brokers}
    for name in cluster.groups:
        coordinated[cluster.coordinator(name)].append(name)
    Topic = ListOffsetsRequest.ListOffsetsTopic
    Partition = ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition
    for broker_id in sorted(cluster.brokers):
        for timestamp in (-2, -1):
            topics = [
                Topic(name=t, partitions=[Partition(partition_index=i, timestamp=timestamp) for i in indexes])
                for t, indexes in led[broker_id].items()
            ]
            request = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=topics)
            frames.append((broker_id, _frame(request, 7, 2)))
        frames.append((broker_id, _frame(ListGroupsRequest(states_filter=[], types_filter=[]), 5, 3)))
        groups = coordinated[broker_id]
        describe = DescribeGroupsRequest(groups=groups, include_authorized_operations=False)
        frames.append((broker_id, _frame(describe, 5, 4)))
        Group = OffsetFetchRequest.OffsetFetchRequestGroup
        fetch = OffsetFetchRequest(groups=[Group(group_id=g, topics=None) for g in groups], require_stable=False)
        frames.append((broker_id, _frame(fetch, 8, 5)))
        LogDirTopic = DescribeLogDirsRequest.DescribableLogDirTopic
        log_dirs = DescribeLogDirsRequest(
            topics=[LogDirTopic(topic=t, partitions=indexes) for t, indexes in hosted[broker_id].items()]
        )
        frames.append((broker_id, _frame(log_dirs, 4, 6)))
    return frames


def per_group(cluster: ClusterModel) -> list[Frame]:
    """confluent-kafka's AdminClient sweep: the shared requests, then three requests for every group."""
    shared = (MetadataRequest.API_KEY, ListOffsetsRequest.API_KEY, ListGroupsRequest.API_KEY)
    frames = [f for f in batched(cluster) if int.from_bytes(f[1][:2], "big") in shared]
    Group = OffsetFetchRequest.OffsetFetchRequestGroup
    for n, name in enumerate(cluster.groups):
        coordinator = cluster.coordinator(name)
        frames.append((n % len(cluster.brokers), _frame(FindCoordinatorRequest(key=name, key_type=0), 2, 7)))
        describe = DescribeGroupsRequest(groups=[name], include_authorized_operations=False)
        frames.append((coordinator, _frame(describe, 5, 8)))
        fetch = OffsetFetchRequest(groups=[Group(group_id=name, topics=None)], require_stable=True)
        frames.append((coordinator, _frame(fetch, 8, 9)))
    return frames


def replay(dispatcher: Dispatcher, frames: list[Frame]) -> tuple[dict[str, float], int]:
    """CPU seconds (this thread) to answer the frames, per API and in all, and the response bytes."""
    loop = asyncio.new_event_loop()
    try:
        size = 0
        cpu: dict[str, float] = {}
        for broker_id, frame in frames:
            api = SERVED[int.from_bytes(frame[:2], "big")].request.name.removesuffix("Request")
            start = time.thread_time()
            response = loop.run_until_complete(dispatcher.handle(frame, broker_id))
            cpu[api] = cpu.get(api, 0.0) + time.thread_time() - start
            size += len(response or b"")
        cpu["total"] = sum(cpu.values())
        return cpu, size
    finally:
        loop.close()


def _fleet(factor: int, directory: Path) -> Path:
    return fleet_files.resolve_path("scale") if factor == 1 else scaled_fleet.write_scaled(factor, directory)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--shape", choices=("batched", "per-group"), default="batched")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the timed sweeps here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        plan = fleet_files.load(_fleet(args.factor, Path(tmp)))
        cluster = ClusterModel(plan.clusters[0], plan, SystemClock())
        model_seconds = time.process_time() - start
    frames = (batched if args.shape == "batched" else per_group)(cluster)
    dispatcher = Dispatcher(cluster)
    replay(dispatcher, frames)  # warm-up: caches of the first sweep, as the benchmarks' warm-up sweep
    profiler = cProfile.Profile() if args.profile else None
    runs = []
    for _ in _repeat(args.repeats, profiler):
        runs.append(replay(dispatcher, frames))
    if profiler is not None:
        profiler.dump_stats(args.profile)
    cpu = [seconds["total"] for seconds, _ in runs]
    print(
        f"scale x{args.factor} {args.shape}: {len(frames)} requests, {runs[0][1] / 1e6:.1f} MB of responses; "
        f"sandbox CPU per sweep median {statistics.median(cpu):.3f} s (min {min(cpu):.3f}, max {max(cpu):.3f}); "
        f"model built in {model_seconds:.2f} s CPU"
    )
    for api in runs[0][0]:
        print(f"  {api}: {statistics.median(seconds[api] for seconds, _ in runs):.3f} s")
    return 0


def _repeat(repeats: int, profiler: cProfile.Profile | None) -> Iterator[int]:
    for n in range(repeats):
        if profiler is not None:
            profiler.enable()
        yield n
        if profiler is not None:
            profiler.disable()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
