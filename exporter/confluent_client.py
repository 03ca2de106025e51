"""The production :class:`~kafka_obs.exporter.client.KafkaAdmin`: confluent-kafka's AdminClient, plus kafka-python's
admin client for DescribeLogDirs (confluent-kafka's Python AdminClient has no such call).

One instance per cluster, kept across cycles (librdkafka keeps its connections and reconnects by itself). The
cluster's ``kafka:`` properties (SASL, SSL, …) are passed through to librdkafka unchanged; the subset kafka-python
understands is translated for the log-dirs client. Requests are counted as they are sent
(:mod:`kafka_obs.exporter.request_log`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kafka.errors as Errors
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType
from kafka.admin import KafkaAdminClient
from kafka.protocol.admin.cluster import DescribeQuorumRequest
from kafka.protocol.admin.groups import ListGroupsRequest
from kafka.protocol.metadata.metadata import MetadataRequest

from kafka_obs.config.clusters import Cluster
from kafka_obs.exporter.client import KafkaUnavailable
from kafka_obs.exporter.coordinators import BrokerView, CoordinatorRouter, is_coordinator_problem
from kafka_obs.exporter.kafka_python import ConnectionManager
from kafka_obs.exporter.model import (
    Broker,
    ClusterMetadata,
    GroupDescription,
    GroupListing,
    LogDir,
    Partition,
    PartitionOffsets,
    TopicPartition,
)
from kafka_obs.exporter.protocol import ConsumerGroupDescribeRequest
from kafka_obs.exporter.request_log import RequestLog
from kafka_obs.exporter.wire import (
    DescribeLogDirsAnswer,
    DescribeLogDirsRequest,
    ListOffsetsAnswer,
    ListOffsetsRequest,
    LogDirResult,
)

log = logging.getLogger(__name__)

_STATE_NAMES = {
    "UNKNOWN": "Unknown",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "STABLE": "Stable",
    "DEAD": "Dead",
    "EMPTY": "Empty",
    "ASSIGNING": "Assigning",
    "RECONCILING": "Reconciling",
}

# librdkafka property → kafka-python KafkaAdminClient argument (for the DescribeLogDirs client only).
_KAFKA_PYTHON_PROPS = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
    "client.id": "client_id",
}


def state_name(state: Any) -> str:
    name = getattr(state, "name", str(state))
    return _STATE_NAMES.get(name, name.title().replace("_", ""))


def type_name(group_type: Any) -> str:
    return str(getattr(group_type, "name", group_type)).lower()


def kafka_python_config(props: Mapping[str, str], timeout: float) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": props["bootstrap.servers"].split(","),
        "client_id": "kafka-obs-exporter",
        "request_timeout_ms": int(timeout * 1000),
        "bootstrap_timeout_ms": int(timeout * 1000),
    }
    for key, value in props.items():
        if key in _KAFKA_PYTHON_PROPS:
            config[_KAFKA_PYTHON_PROPS[key]] = value.upper() if key == "security.protocol" else value
        elif key == "ssl.endpoint.identification.algorithm":
            config["ssl_check_hostname"] = value.lower() == "https"
    return config


EARLIEST_TIMESTAMP = -2
LATEST_TIMESTAMP = -1
"""ListOffsets' special timestamps (KIP-79): the log start and the log end (high watermark, READ_UNCOMMITTED)."""


def _list_offsets_request(tps: Sequence[TopicPartition], timestamp: int, timeout: float) -> Callable[[], Any]:
    """One leader's ListOffsets (v1+: one offset per partition, not v0's list), every topic of ``tps`` in it,
    encoded from the partition ids (:class:`~kafka_obs.exporter.wire.ListOffsetsRequest`)."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in tps:
        by_topic.setdefault(topic, []).append(partition)
    topics = dict(sorted(by_topic.items()))
    return lambda: ListOffsetsRequest(topics, timestamp, int(timeout * 1000))


def _describe_quorum_request() -> Any:
    """The metadata log's quorum (``__cluster_metadata``, partition 0): its leader is the active controller."""
    Topic = DescribeQuorumRequest.TopicData
    return DescribeQuorumRequest(
        topics=[Topic(topic_name="__cluster_metadata", partitions=[Topic.PartitionData(partition_index=0)])]
    )


def _offsets_from(answers: Mapping[int, Any]) -> tuple[dict[TopicPartition, int], list[str]]:
    """The offsets the leaders gave, and what failed: a silent leader, or a partition's error code."""
    result: dict[TopicPartition, int] = {}
    failures: list[str] = []
    for leader, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            failures.append(f"broker {leader}: {answer or type(answer).__name__}")
            continue
        # kafka-python's objects when exporter.wire could not read the layout
        decoded = answer if isinstance(answer, ListOffsetsAnswer) else _list_offsets_answer(answer)
        result.update(decoded.offsets)
        failures.extend(
            f"{topic}/{partition}: {Errors.for_code(code).__name__}" for topic, partition, code in decoded.errors
        )
    return result, failures


def _list_offsets_answer(response: Any) -> ListOffsetsAnswer:
    offsets: dict[TopicPartition, int] = {}
    errors: list[tuple[str, int, int]] = []
    for topic in response.topics:
        for p in topic.partitions:
            if p.error_code:
                errors.append((topic.name, p.partition_index, p.error_code))
            elif p.offset >= 0:
                offsets[(topic.name, p.partition_index)] = int(p.offset)
    return ListOffsetsAnswer(getattr(response, "throttle_time_ms", 0), offsets, errors)


class ConfluentKafkaAdmin:
    def __init__(self, cluster: Cluster, *, timeout: float = 10.0):
        self.cluster = cluster
        self.timeout = timeout
        self.requests = RequestLog(cluster.name)
        props: dict[str, Any] = dict(cluster.client_properties())
        self._props = dict(props)
        props.setdefault("client.id", "kafka-obs-exporter")
        props["debug"] = ",".join(filter(None, [props.get("debug", ""), "protocol"]))
        props["logger"] = self.requests
        self._client_props = props
        self._admin = AdminClient(props)
        self._log_dirs_client: Any = None
        self._router: CoordinatorRouter | None = None
        self._manager: ConnectionManager | None = None
        self._preferred: int | None = None
        self._quorum_unsupported = False
        self._live_brokers: set[int] = set()
        self._leaders: dict[TopicPartition, int] = {}
        self._quorum_leader: int | None = None

    def _poll(self) -> None:
        """Serve librdkafka's log queue: that is when sent requests are counted."""
        self._admin.poll(0)

    # -- metadata ------------------------------------------------------------------------------------------------

    def metadata(self) -> ClusterMetadata:
        """Metadata over kafka-python, hedged: asked of the broker that answered last time, and of every other
        known broker too if it has not answered within a tenth of the timeout (at least 1 s, at most half of it).

        Not librdkafka's ``list_topics``: librdkafka keeps sending Metadata to a broker whose connection looks
        healthy, and retries on that broker only. A hung broker (SIGSTOP on real Kafka: its socket stays open,
        nothing answers) is such a broker, and against Apache Kafka 4.4 it cost every cycle a full timeout for as
        long as it stayed hung, fenced or not. Hedged, it costs one hedge delay on the first cycle and nothing
        after (the next cycle asks the broker that answered). A cluster that is down fails within the timeout.
        Racks come with the answer (Metadata v1+), so no DescribeCluster is needed.
        """
        try:
            self._kafka_python()
            assert self._manager is not None
            manager = self._manager
            node, answer = manager.hedged_answer(
                lambda: MetadataRequest(topics=None), self._ask_order(), self.timeout, self._hedge_after
            )
        except Exception as exc:
            raise KafkaUnavailable(f"metadata: no broker answered: {exc}") from exc
        self._preferred = node
        brokers = tuple(
            Broker(b.node_id, b.host, b.port, b.rack) for b in sorted(answer.brokers, key=lambda b: b.node_id)
        )
        partitions = {
            t.name: tuple(
                Partition(t.name, p.partition_index, p.leader_id, tuple(p.replica_nodes), tuple(p.isr_nodes))
                for p in sorted(t.partitions, key=lambda p: p.partition_index)
            )
            for t in answer.topics
            if t.error_code == 0
        }
        self._live_brokers = {b.id for b in brokers}
        controller = self._active_controller(answer.controller_id)
        return self._remember_leaders(ClusterMetadata(answer.cluster_id, controller, brokers, partitions))

    @property
    def _hedge_after(self) -> float:
        """A tenth of the timeout, at least 1 s (a busy machine answers slower than that only rarely, and a hedge
        sends the request to every other broker), at most half the timeout (so the others still have time)."""
        return min(self.timeout / 2, max(1.0, self.timeout / 10))

    def _ask_order(self) -> list[int]:
        """The broker that answered last first, then the brokers of the last answer, then any other broker
        kafka-python knows (at start-up: the bootstrap's answer)."""
        assert self._manager is not None
        known = sorted(self._live_brokers) + [n for n in self._manager.broker_ids() if n not in self._live_brokers]
        if self._preferred in known:
            known.remove(self._preferred)
            known.insert(0, self._preferred)
        return known

    def _remember_leaders(self, md: ClusterMetadata) -> ClusterMetadata:
        """ListOffsets goes to each partition's leader: the cycle asks Metadata first, so its answer is current."""
        self._leaders = {(p.topic, p.partition): p.leader for p in md.all_partitions()}
        return md

    def _active_controller(self, metadata_controller: int) -> int:
        """The active controller: the KRaft metadata quorum's leader (DescribeQuorum), else Metadata's answer.

        In KRaft, Metadata's ``controller_id`` is a *random live broker* (brokers forward controller requests,
        KIP-590), so it changes from one request to the next and says nothing about the controller (seen against
        Apache Kafka 4.4; the sandbox answered with its real controller, hiding it). Clusters without
        DescribeQuorum (ZooKeeper mode, the sandbox) are asked once; their Metadata answer is the controller. A
        failed DescribeQuorum keeps the last leader seen rather than reporting a random broker.
        """
        if self._quorum_unsupported:
            return metadata_controller
        try:
            leader = self._quorum_leader_now()
        except (Errors.IncompatibleBrokerVersion, Errors.UnsupportedVersionError) as exc:
            log.info(
                "no DescribeQuorum: Metadata names the controller",
                extra={"cluster": self.cluster.name, "err": str(exc)},
            )
            self._quorum_unsupported = True
            return metadata_controller
        except Exception as exc:
            log.info("describe quorum failed", extra={"cluster": self.cluster.name, "err": str(exc)})
            return self._quorum_leader if self._quorum_leader is not None else metadata_controller
        self._quorum_leader = leader
        return leader

    def _quorum_leader_now(self) -> int:
        """DescribeQuorum, hedged as Metadata is (any broker forwards it to the controllers), within a shorter
        budget.

        kafka-python's ``describe_metadata_quorum`` sends it to its "least loaded" broker, which is often a hung
        one: its socket is open and nothing is in flight on it. That cost every cycle a full timeout for as long as
        the broker stayed hung, fenced or not (measured on Apache Kafka 4.4 with SIGSTOP).
        """
        self._kafka_python()
        assert self._manager is not None
        # the controller id is worth less than the cycle: a hung active controller leaves DescribeQuorum
        # unanswered on every broker until the quorum elects another (seen for ~20 s on Kafka 4.4), so it gets
        # two hedge delays, not the timeout, and a miss keeps the last leader seen
        budget = min(self.timeout, 2 * self._hedge_after)
        _node, answer = self._manager.hedged_answer(
            _describe_quorum_request, self._ask_order(), budget, self._hedge_after
        )
        if answer.error_code:
            raise Errors.for_code(answer.error_code)(getattr(answer, "error_message", None) or "")
        [partition] = answer.topics[0].partitions
        if partition.error_code:
            raise Errors.for_code(partition.error_code)(getattr(partition, "error_message", None) or "")
        return int(partition.leader_id)

    # -- offsets -------------------------------------------------------------------------------------------------

    def log_offsets(self, partitions: Sequence[TopicPartition]) -> PartitionOffsets:
        earliest, latest = self._list_offsets(partitions, (EARLIEST_TIMESTAMP, LATEST_TIMESTAMP))
        return PartitionOffsets(earliest=earliest, latest=latest)

    def list_offsets_for_time(
        self, partitions: Sequence[TopicPartition], timestamp: float
    ) -> dict[TopicPartition, int]:
        [offsets] = self._list_offsets(partitions, (int(timestamp * 1000),))
        return offsets

    def _list_offsets(
        self, partitions: Sequence[TopicPartition], timestamps: Sequence[int]
    ) -> list[dict[TopicPartition, int]]:
        """ListOffsets at each of ``timestamps``: one request per partition leader and timestamp, all sent at once
        over kafka-python (Kafka refuses a partition twice in one request), so a silent leader costs one timeout
        for earliest and latest together.

        Not librdkafka's ``list_offsets``: against Apache Kafka 4.4 it aborted the whole exporter process (SIGABRT
        inside librdkafka) while a hung broker's requests timed out, found by the realkafka fault test, as
        ``list_consumer_groups`` did (librdkafka#4605). It also built a Python future per partition (20,000 per cycle
        at 4x ``scale``). A leader that does not answer only loses its own partitions; a partition without a known
        leader is left out (its series are absent this cycle, as for any failed partition).
        """
        by_leader: dict[int, list[TopicPartition]] = {}
        for tp in partitions:
            leader = self._leaders.get(tp, -1)
            if leader >= 0:
                by_leader.setdefault(leader, []).append(tp)
        if not by_leader:
            if partitions:
                raise KafkaUnavailable("list offsets: no partition has a known leader")
            return [{} for _ in timestamps]
        try:
            self._kafka_python()
            assert self._manager is not None
            answers = self._manager.routed_answers(
                {
                    (leader, ts): (leader, _list_offsets_request(tps, ts, self.timeout))
                    for leader, tps in by_leader.items()
                    for ts in timestamps
                },
                self.timeout,
            )
        except Exception as exc:
            raise KafkaUnavailable(f"list offsets: {exc}") from exc
        results = []
        for ts in timestamps:
            result, failures = _offsets_from({leader: answers[leader, ts] for leader in by_leader})
            if failures and not result:
                raise KafkaUnavailable(f"list offsets failed for every partition, e.g. {failures[0]}")
            if failures:
                log.warning(
                    "list offsets failed for some partitions",
                    extra={"cluster": self.cluster.name, "failed": len(failures), "example": failures[0]},
                )
            results.append(result)
        return results

    # -- groups --------------------------------------------------------------------------------------------------

    def list_groups(self) -> list[GroupListing]:
        """ListGroups (v5: state and type) sent to every broker at once over kafka-python.

        Not librdkafka's ``list_consumer_groups``: against Apache Kafka 4.4 it aborted the whole process (SIGABRT
        inside librdkafka, cf. librdkafka#4605 ``eonce->refcnt > 0``) while a killed broker's ListGroups timed
        out, found by the realkafka fault test. A broker that does not answer only loses its own groups.
        """
        try:
            self._kafka_python()
            assert self._manager is not None
            # the brokers of the last Metadata answer: kafka-python's own metadata refreshes every 5 minutes and
            # would keep a fenced (hung) broker, costing a timeout per cycle
            nodes = sorted(self._live_brokers) or self._manager.broker_ids()
            answers = self._manager.every_answer(
                lambda: ListGroupsRequest(states_filter=[], types_filter=[]), nodes, self.timeout
            )
        except Exception as exc:
            raise KafkaUnavailable(f"list groups: {exc}") from exc
        listings: dict[str, GroupListing] = {}
        failed = []
        for node, answer in sorted(answers.items()):
            if isinstance(answer, BaseException) or answer.error_code:
                failed.append(f"broker {node}: {answer if isinstance(answer, BaseException) else answer.error_code}")
                continue
            for g in answer.groups:
                state = getattr(g, "group_state", None) or "Unknown"
                group_type = (getattr(g, "group_type", None) or "unknown").lower()
                listings[g.group_id] = GroupListing(g.group_id, state, group_type)
        if failed and not listings and len(failed) == len(answers):
            raise KafkaUnavailable(f"list groups: no broker answered, e.g. {failed[0]}")
        if failed:
            log.warning(
                "list groups: some brokers did not answer", extra={"cluster": self.cluster.name, "err": failed[0]}
            )
        return list(listings.values())

    def describe_groups(self, group_ids: Sequence[str]) -> dict[str, GroupDescription | Exception]:
        """DescribeGroups batched per coordinator (:class:`~kafka_obs.exporter.coordinators.CoordinatorRouter`).

        librdkafka 2.16 sends one DescribeGroups per group, each after a FindCoordinator of its own: ~5,000
        requests per cycle for 2,000 groups, against one request per coordinator here. Groups the batch could not
        describe for a reason other than their coordinator (a group error such as GROUP_ID_NOT_FOUND, which is
        how Kafka 4 answers a classic DescribeGroups for a KIP-848 group) are asked again with
        ConsumerGroupDescribe, routed the same way, where the brokers have it. librdkafka's
        ``describe_consumer_groups`` (used for them before) sent its requests to a hung broker for as long as it
        stayed hung, fenced or not, costing every cycle a timeout (Apache Kafka 4.4, SIGSTOP). It remains for the
        case the kafka-python client cannot be built at all (e.g. OAUTHBEARER).
        """
        if not group_ids:
            return {}
        try:
            router = self._group_router()
        except Exception as exc:
            log.info("batched describe groups failed", extra={"cluster": self.cluster.name, "err": str(exc)})
            return self._describe_groups_librdkafka(group_ids)
        try:
            result: dict[str, GroupDescription | Exception] = dict(router.describe(group_ids))
        except Exception as exc:
            log.info("batched describe groups failed", extra={"cluster": self.cluster.name, "err": str(exc)})
            result = dict.fromkeys(group_ids, exc)
        fallback = [g for g, answer in result.items() if _needs_fallback(answer)]
        if fallback and self._speaks(ConsumerGroupDescribeRequest):
            try:
                result.update(router.describe_consumer_groups(fallback))
            except Exception as exc:
                log.info("consumer group describe failed", extra={"cluster": self.cluster.name, "err": str(exc)})
        return result

    def _speaks(self, request_class: Any) -> bool:
        """Whether the brokers (as kafka-python negotiated their ApiVersions) have this API."""
        assert self._manager is not None
        try:
            return self._manager.api_version(request_class) >= 0
        except Exception:
            return False

    def _describe_groups_librdkafka(self, group_ids: Sequence[str]) -> dict[str, GroupDescription | Exception]:
        futures = self._admin.describe_consumer_groups(list(group_ids), request_timeout=self.timeout)
        result: dict[str, GroupDescription | Exception] = {}
        for group_id, future in futures.items():
            try:
                d = future.result()
                result[group_id] = GroupDescription(group_id, state_name(d.state), len(d.members), type_name(d.type))
            except Exception as exc:
                result[group_id] = exc
        self._poll()
        return result

    def committed_offsets(self, group_ids: Sequence[str]) -> dict[str, dict[TopicPartition, int] | Exception]:
        """Committed offsets: ONE OffsetFetch per coordinator for all its groups (KIP-709, OffsetFetch v8+),
        routed by :class:`~kafka_obs.exporter.coordinators.CoordinatorRouter`, which re-resolves and retries
        groups whose coordinator moved within this call.

        Not through confluent-kafka: librdkafka 2.16's ListConsumerGroupOffsets crashes the process (NULL
        consumer-group handle in rd_kafka_handle_OffsetFetch) when a coordinator answers NOT_COORDINATOR, which
        happens on every coordinator move (found by the broker-restart test against the sandbox).
        """
        if not group_ids:
            return {}
        try:
            router = self._group_router()
        except Exception as exc:
            return dict.fromkeys(group_ids, exc)
        return router.committed(group_ids)

    # -- configs -------------------------------------------------------------------------------------------------

    def topic_configs(self, topics: Sequence[str]) -> dict[str, Mapping[str, str] | Exception]:
        resources = [ConfigResource(ResourceType.TOPIC, t) for t in topics]
        try:
            futures = self._admin.describe_configs(resources, request_timeout=self.timeout)
        except Exception as exc:
            raise KafkaUnavailable(f"describe configs: {exc}") from exc
        result: dict[str, Mapping[str, str] | Exception] = {}
        for resource, future in futures.items():
            try:
                entries = future.result()
                result[resource.name] = {name: entry.value or "" for name, entry in entries.items()}
            except Exception as exc:
                result[resource.name] = exc
        self._poll()
        return result

    # -- log dirs (kafka-python) ---------------------------------------------------------------------------------

    def _kafka_python(self) -> Any:
        if self._log_dirs_client is None:
            client = KafkaAdminClient(**kafka_python_config(self._props, self.timeout))
            self._manager = ConnectionManager(client, timeout=self.timeout)
            _count_requests(self._manager, self.requests)
            self._log_dirs_client = client
        return self._log_dirs_client

    def _group_router(self) -> CoordinatorRouter:
        self._kafka_python()
        if self._router is None:
            assert self._manager is not None
            self._router = CoordinatorRouter(
                self._manager,
                brokers=lambda: BrokerView(self._ask_order(), frozenset(self._live_brokers)),
                timeout=self.timeout,
                hedge_after=self._hedge_after,
            )
        return self._router

    def log_dirs(
        self, broker_ids: Sequence[int], partitions: Mapping[str, Sequence[int]]
    ) -> dict[int, list[LogDir] | Exception]:
        """One DescribeLogDirs per broker, all sent at once, asked for all partitions of the cluster (a topic map from
        our own Metadata), the answers decoded by :mod:`.wire` straight into log dirs.

        Not kafka-python's ``describe_log_dirs``: it asks the brokers one after the other (a silent broker delays
        the others) and turns every answer into dictionaries first (~0.15 s of CPU per cycle at 4x ``scale``)."""
        try:
            self._kafka_python()
        except Exception as exc:
            raise KafkaUnavailable(f"log dirs client: {exc}") from exc
        assert self._manager is not None
        Topic = DescribeLogDirsRequest.DescribableLogDirTopic
        topics = [Topic(topic=topic, partitions=list(ids)) for topic, ids in partitions.items()]
        try:
            answers = self._manager.every_answer(
                lambda: DescribeLogDirsRequest(topics=topics), list(broker_ids), self.timeout
            )
        except Exception as exc:
            raise KafkaUnavailable(f"describe log dirs: {exc}") from exc
        result: dict[int, list[LogDir] | Exception] = {}
        for broker in broker_ids:
            answer = answers[broker]
            if isinstance(answer, Exception):
                result[broker] = answer
                continue
            # kafka-python's objects when exporter.wire could not read the layout
            decoded = answer if isinstance(answer, DescribeLogDirsAnswer) else _log_dirs_answer(answer)
            result[broker] = [
                LogDir(
                    broker=broker,
                    path=d.path,
                    partition_sizes=d.partition_sizes,
                    total_bytes=d.total_bytes if d.total_bytes >= 0 else None,
                    usable_bytes=d.usable_bytes if d.usable_bytes >= 0 else None,
                )
                for d in decoded.results
                if not d.error_code
            ]
        return result

    def requests_total(self) -> dict[str, int]:
        self._poll()
        return self.requests.totals()

    def close(self) -> None:
        self._close_kafka_python()

    def _close_kafka_python(self) -> None:
        if self._log_dirs_client is not None:
            try:
                self._log_dirs_client.close()
            except Exception as exc:
                log.debug("closing kafka-python admin failed", extra={"err": str(exc)})
            self._log_dirs_client = None
            self._router = None
            self._manager = None


def _count_requests(manager: ConnectionManager, requests: RequestLog) -> None:
    """Count kafka-python's requests at its one choke point (its connection manager's ``send``), per API.

    A request whose future has already failed when ``send`` returns was never written (a node that is unknown,
    not connected or in reconnect backoff) and is not counted; one queued on a connection that then fails to
    open is (rare: a broker that stops while it is being connected to).
    """

    def wrapper(send: Callable[..., Any]) -> Callable[..., Any]:
        def counting_send(request: Any, *args: Any, **kwargs: Any) -> Any:
            future = send(request, *args, **kwargs)
            # a request refused before it was written (node unknown, not connected, backing off) is not counted
            if not (getattr(future, "is_done", False) and getattr(future, "exception", None) is not None):
                requests.add(type(request).__name__.removesuffix("Request"))
            return future

        return counting_send

    manager.wrap_send(wrapper)


def _needs_fallback(answer: object) -> bool:
    """A group-level error answer; not a coordinator, connection or timeout problem, which librdkafka would only
    repeat (more slowly)."""
    return isinstance(answer, Exception) and not is_coordinator_problem(answer)


def _log_dirs_answer(response: Any) -> DescribeLogDirsAnswer:
    """kafka-python's DescribeLogDirs answer in :mod:`.wire`'s shape."""
    return DescribeLogDirsAnswer(
        getattr(response, "throttle_time_ms", 0),
        getattr(response, "error_code", 0),
        [
            LogDirResult(
                r.error_code,
                r.log_dir,
                {
                    (t.name, p.partition_index): int(p.partition_size)
                    for t in r.topics
                    for p in t.partitions
                    if not p.is_future_key
                },
                int(getattr(r, "total_bytes", -1)),
                int(getattr(r, "usable_bytes", -1)),
            )
            for r in response.results
        ],
    )
