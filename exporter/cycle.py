"""One cluster's collection cycle: admin stages in the order correctness needs, then series, then a snapshot.

Order of the stages (each a batched request or a few):

1. Metadata — required; if it fails the cycle fails (``kafka_cluster_up 0``).
2. Topic configs — on a slower cadence, cached in between (:mod:`.collectors.configs`).
3. Groups: ListGroups, then DescribeGroups and OffsetFetch, each one request per group coordinator.
4. ListOffsets earliest and latest for all partitions — *after* the committed offsets, so lag ≥ 0 (plus, for
   partitions seen for the first time only, ListOffsets by timestamp to seed their lag-seconds history).
5. DescribeLogDirs, one per broker.
6. Plug-in collectors (JMX), each isolated.

A failure of stage 2, 3 or 5 (or of one item in it) is counted in ``kafka_exporter_errors_total{stage}`` and only
that stage's series are missing; stages 1 and 4 failing fails the cycle. A crash of the worker running the cycles
is counted as stage ``worker`` and published as a failed cycle (:meth:`ClusterCollector.failed`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from kafka_obs.clock import Clock
from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.client import KafkaAdmin
from kafka_obs.exporter.collectors import ClusterFacts, Collector
from kafka_obs.exporter.collectors.configs import Configs, TopicConfigCache, config_series
from kafka_obs.exporter.collectors.groups import GroupFacts, fetch_groups, group_series
from kafka_obs.exporter.collectors.log_dirs import fetch_log_dirs, log_dir_series
from kafka_obs.exporter.collectors.topics import cluster_series, fetch_offsets, offset_targets, topic_series
from kafka_obs.exporter.families import Family, FamilyBuilder
from kafka_obs.exporter.lag_seconds import DEFAULT_MAX_POINTS, SEED_AGES, LagSecondsEstimator
from kafka_obs.exporter.lag_status import LagEvaluator
from kafka_obs.exporter.model import ClusterMetadata, LogDir, PartitionOffsets, TopicPartition
from kafka_obs.exporter.snapshot import ClusterSnapshot

log = logging.getLogger(__name__)

STAGES = (
    "metadata",
    "configs",
    "groups",
    "describe_groups",
    "committed_offsets",
    "offsets",
    "lag_history",
    "log_dirs",
    "worker",
)
"""Stage names of ``kafka_exporter_errors_total``; all start at 0 so ``rate()`` works from the first scrape."""

STALE_AFTER_INTERVALS = 2
CONFIG_REFRESH_INTERVALS = 5
"""Topic configs are refreshed every 5 cycles (at least every 5 minutes)."""


class ClusterCollector:
    """Owns everything that lives across one cluster's cycles: its client, lag history and group windows, config
    cache and counters."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        interval: float,
        client_factory: Callable[[Cluster], KafkaAdmin],
        clock: Clock,
        plugins: Sequence[Collector] = (),
        lag_points: int = DEFAULT_MAX_POINTS,
    ):
        self.cluster = cluster
        self.interval = interval
        self._client_factory = client_factory
        self._client: KafkaAdmin | None = None
        self._clock = clock
        self._plugins = list(plugins)
        self._allow_topic = cluster.topics.matcher()
        self._allow_group = cluster.groups.matcher()
        self._per_partition = cluster.granularity == "partition"
        self._estimator = LagSecondsEstimator(lag_points)
        evaluation = cluster.lag_evaluation
        self._evaluator = LagEvaluator(evaluation.window, evaluation.ok_lag, evaluation.abandoned_after)
        self._configs = TopicConfigCache(max(CONFIG_REFRESH_INTERVALS * interval, 300.0))
        self._errors: Counter[str] = Counter({stage: 0 for stage in STAGES})
        self._sequence = 0
        self._cluster_id: str | None = None
        self._last: ClusterSnapshot | None = None

    @property
    def client(self) -> KafkaAdmin:
        if self._client is None:
            self._client = self._client_factory(self.cluster)
        return self._client

    def _count_error(self, stage: str, n: int = 1) -> None:
        self._errors[stage] += n

    def run_cycle(self) -> ClusterSnapshot:
        started = self._clock.monotonic()
        now = self._clock.now()
        self._sequence += 1
        error: str | None = None
        metadata: ClusterMetadata | None = None
        kafka: tuple[Family, ...] | None = None
        try:
            metadata, kafka = self._collect_admin(now)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("collection cycle failed", extra={"cluster": self.cluster.name, "err": error})
        plugins = self._collect_plugins(ClusterFacts(self.cluster, metadata, now))
        return self._snapshot(kafka, plugins, error, self._clock.monotonic() - started)

    def failed(self, error: str) -> ClusterSnapshot:
        """A snapshot that says the cluster is not being collected (``kafka_cluster_up 0``), without asking Kafka.

        Published when the worker itself crashed, so a dead worker never leaves its last ``up 1`` behind: the
        Kafka series age out as after any failed cycle, and ``errors_total{stage="worker"}`` counts the crash.
        """
        self._count_error("worker")
        self._sequence += 1
        previous = self._last
        return self._snapshot(None, previous.plugins if previous else (), error, 0.0)

    def _snapshot(
        self, kafka: tuple[Family, ...] | None, plugins: tuple[Family, ...], error: str | None, duration: float
    ) -> ClusterSnapshot:
        previous = self._last
        last_success: float | None
        if kafka is not None:
            up, last_success = True, self._clock.now()
        else:
            up = False
            kafka = previous.kafka if previous else ()
            last_success = previous.last_success if previous else None
        stale_after = None if last_success is None else last_success + STALE_AFTER_INTERVALS * self.interval
        snapshot = ClusterSnapshot(
            cluster=self.cluster.name,
            sequence=self._sequence,
            up=up,
            completed_at=self._clock.now(),
            last_success=last_success,
            stale_after=stale_after,
            kafka=kafka,
            plugins=plugins,
            always=self._own_series(up, duration, last_success),
            error=error,
            duration=duration,
        )
        self._last = snapshot
        return snapshot

    def _collect_admin(self, now: float) -> tuple[ClusterMetadata, tuple[Family, ...]]:
        client = self.client
        try:
            metadata = client.metadata()
        except Exception:
            self._count_error("metadata")
            raise
        self._cluster_id = metadata.cluster_id or self._cluster_id
        topics = sorted(metadata.partitions)
        configs = self._configs.get(client, topics, now, self._count_error)

        try:
            groups = fetch_groups(
                client, self._allow_group, skip_empty=self.cluster.groups.skip_empty, on_error=self._count_error
            )
            # only after a successful ListGroups: a failed one must not wipe every group's window
            self._evaluator.retain(g.group_id for g in groups.listings)
        except Exception as exc:
            log.warning("list groups failed", extra={"cluster": self.cluster.name, "err": str(exc)})
            self._count_error("groups")
            groups = GroupFacts()

        try:
            offsets = fetch_offsets(client, offset_targets(metadata, self._allow_topic))
        except Exception:
            self._count_error("offsets")
            raise
        offsets_at = self._clock.now()

        log_dirs = fetch_log_dirs(client, metadata, self._count_error)

        new = self._estimator.missing(offsets.latest)
        if new:
            self._seed_history(client, new, offsets.latest, offsets_at)
        self._estimator.observe(dict(offsets.latest), offsets_at)
        self._estimator.retain((p.topic, p.partition) for p in metadata.all_partitions())
        series = self._series(metadata, configs, groups=groups, offsets=offsets, log_dirs=log_dirs, now=offsets_at)
        return metadata, series

    def _seed_history(
        self, client: KafkaAdmin, partitions: list[TopicPartition], latest: Mapping[TopicPartition, int], now: float
    ) -> None:
        """Seed new partitions' lag-seconds histories from ListOffsets by timestamp (see :mod:`.lag_seconds`)."""
        points: dict[TopicPartition, list[tuple[int, float]]] = {tp: [] for tp in partitions}
        for age in SEED_AGES:
            at = now - age
            try:
                answers = client.list_offsets_for_time(partitions, at)
            except Exception as exc:
                log.info("seeding lag history failed", extra={"cluster": self.cluster.name, "err": str(exc)})
                self._count_error("lag_history")
                return
            for tp, offset in answers.items():
                # -1: no record that recent, so the log-end offset then was already today's
                points[tp].append((latest[tp] if offset < 0 else min(offset, latest[tp]), at))
        self._estimator.seed(points)

    def _series(
        self,
        metadata: ClusterMetadata,
        configs: Configs | None,
        *,
        groups: GroupFacts,
        offsets: PartitionOffsets,
        log_dirs: dict[int, list[LogDir]],
        now: float,
    ) -> tuple[Family, ...]:
        out = FamilyBuilder()
        cluster_series(out, metadata, configs)
        topic_series(out, metadata, offsets, self._allow_topic, per_partition=self._per_partition)
        if configs is not None:
            config_series(out, configs, self._allow_topic)
        log_dir_series(out, log_dirs, metadata, self._allow_topic)
        group_series(
            out,
            groups,
            offsets.latest,
            estimator=self._estimator,
            evaluator=self._evaluator,
            now=now,
            allow_topic=self._allow_topic,
            per_partition=self._per_partition,
        )
        return out.build()

    def _collect_plugins(self, facts: ClusterFacts) -> tuple[Family, ...]:
        out = FamilyBuilder()
        for plugin in self._plugins:
            try:
                out.extend(plugin.collect(facts))
            except Exception as exc:
                log.warning(
                    "collector failed", extra={"cluster": self.cluster.name, "stage": plugin.name, "err": str(exc)}
                )
                self._count_error(plugin.name)
        return out.build()

    def _own_series(self, up: bool, duration: float, last_success: float | None) -> tuple[Family, ...]:
        out = FamilyBuilder()
        out.add("kafka_cluster_info", 1, self.cluster.priority.value, self._cluster_id or "")
        out.add("kafka_cluster_up", int(up))
        out.add("kafka_exporter_collection_duration_seconds", round(duration, 6))
        if last_success is not None:
            out.add("kafka_exporter_last_success_timestamp_seconds", round(last_success, 3))
        if self._client is not None:
            try:
                requests = self._client.requests_total()
            except Exception:
                requests = {}
            for api in sorted(requests):
                out.add("kafka_exporter_kafka_requests_total", requests[api], api)
        for stage in sorted(self._errors):
            out.add("kafka_exporter_errors_total", self._errors[stage], stage)
        return out.build()

    def close(self) -> None:
        for plugin in self._plugins:
            try:
                plugin.close()
            except Exception as exc:
                log.debug("closing collector failed", extra={"stage": plugin.name, "err": str(exc)})
        if self._client is not None:
            self._client.close()
            self._client = None
