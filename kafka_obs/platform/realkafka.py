"""Real Apache Kafka clusters on loopback: KRaft nodes as separate JVMs, for the tests, the benchmarks and the demo.

The broker comes from Maven Central (``kafka_obs/platform/maven/pom.xml``; ``make kafka`` writes its runtime
classpath next to the POM), so no tarball, Docker or system package is needed: Java 17+ and Maven are. Each node is
a combined broker+controller (``process.roles=broker,controller``) in a static quorum of all nodes, with its own
data directory, loopback ports and JMX port, started through :mod:`kafka_obs.platform.processes` in its own
process group.

Why the settings in :data:`TEST_SPEED` and :func:`jvm_options`: three nodes must fit on two cores next to the
tests, and faults must show within seconds, not Kafka's production minutes. Each value says why it is there; the
list is documented in docs/testing.md.

Nothing outlives the cluster: :meth:`KafkaCluster.close` stops every JVM and removes the directory, and a watchdog
process (``python -m kafka_obs.platform.realkafka watchdog``) does the same if the process that started the cluster
dies without closing it (a test run killed with SIGKILL, a CI timeout).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from kafka_obs.platform.processes import ManagedProcess, ProcessError, free_port, wait_until

MAVEN_DIR = Path(__file__).with_name("maven")
POM = MAVEN_DIR / "pom.xml"
CLASSPATH_FILE = MAVEN_DIR / "target" / "classpath.txt"
"""Written by ``make kafka`` (``mvn dependency:build-classpath``); one line, the jars joined by ':'."""

AGENT_PATH_FILE = MAVEN_DIR / "target" / "jmx-exporter-agent.txt"
"""Written by ``make kafka`` from ``maven/jmx-exporter/pom.xml``: the path of prometheus/jmx_exporter's agent jar."""

MAKE_HINT = "run `make kafka` (needs Java 17+ and Maven; the first run downloads the jars from Maven Central)"

TEST_SPEED: dict[str, str] = {
    # classic groups wait 3 s for more members before the first rebalance; tests start consumers one by one
    "group.initial.rebalance.delay.ms": "0",
    # retention and segment deletion are checked every 5 min and delayed 60 s by default: seconds in tests
    "log.retention.check.interval.ms": "1000",
    "log.segment.delete.delay.ms": "1000",
    "log.initial.task.delay.ms": "0",  # the log manager's first retention pass waits 30 s after start-up
    # small segments, so lowering retention.ms deletes real segments within a test (1 MiB is Kafka 4's minimum)
    "log.segment.bytes": str(1024 * 1024),
    # a killed broker is fenced (and leaves the ISR) after 3 s instead of 9 s; heartbeats follow suit
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "5000",  # a stopped (SIGSTOP) follower leaves the ISR after 5 s, not 30 s
    # fewer __consumer_offsets partitions (default 50): faster first group, still spread over every broker
    "offsets.topic.num.partitions": "6",
    "auto.create.topics.enable": "false",  # tests create what they use; a typo must fail, not create a topic
}
"""Kafka's own knobs for test speed (every node, every cluster)."""

SMALL_FOOTPRINT: dict[str, str] = {
    # the log cleaner allocates its dedupe buffer (128 MiB by default) on the heap: it must fit in -Xmx
    "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
    "log.cleaner.threads": "1",
    # thread pools sized for two cores shared by three nodes and the tests (defaults: 3 network, 8 io)
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.replica.fetchers": "1",
    "background.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "log.flush.scheduler.interval.ms": "30000",
}
"""Heap and CPU: three nodes must fit comfortably on two cores and a few GB."""

HEAP = "256m"


def jvm_options(heap: str = HEAP) -> list[str]:
    """Small fixed heaps, a single-threaded collector and C1 only: start-up in seconds, little CPU taken from the
    other node JVMs and the tests. G1's background threads and C2 compilation cost more than they save here."""
    return [
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
    ]


def jmx_options(port: int) -> list[str]:
    """JMX as Kafka's scripts enable it (no authentication, no SSL), bound to loopback; the RMI port equals the
    registry port so one port per node is enough, and the stub's host name is loopback, not the machine's name."""
    return [
        "-Dcom.sun.management.jmxremote",
        f"-Dcom.sun.management.jmxremote.port={port}",
        f"-Dcom.sun.management.jmxremote.rmi.port={port}",
        "-Dcom.sun.management.jmxremote.host=127.0.0.1",
        "-Dcom.sun.management.jmxremote.authenticate=false",
        "-Dcom.sun.management.jmxremote.ssl=false",
        "-Djava.rmi.server.hostname=127.0.0.1",
    ]


LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = info
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
"""
"""log4j2 for every node: INFO to stdout, which :class:`ManagedProcess` sends to the node's log file."""


_QUIET = logging.getLogger("kafka_obs.platform.realkafka.librdkafka")
_QUIET.setLevel(logging.CRITICAL)


class KafkaUnavailableError(RuntimeError):
    """Java, Maven or the resolved jars are missing; the message says what to run."""


def classpath(path: Path = CLASSPATH_FILE) -> str:
    """The broker's runtime classpath from ``make kafka``; a clear error when it was not resolved (or the jars it
    names were removed from Maven's local repository since)."""
    if shutil.which("java") is None:
        raise KafkaUnavailableError(f"java is not on PATH: real Kafka needs Java 17+; {MAKE_HINT}")
    try:
        text = path.read_text().strip()
    except OSError:
        raise KafkaUnavailableError(f"Kafka's jars are not resolved ({path} is missing): {MAKE_HINT}") from None
    jars = [j for j in text.split(os.pathsep) if j]
    missing = [j for j in jars if not Path(j).exists()]
    if not jars or missing:
        raise KafkaUnavailableError(f"{path} names jars that are gone (e.g. {missing[:1]}): {MAKE_HINT}")
    if path.stat().st_mtime < POM.stat().st_mtime:
        raise KafkaUnavailableError(f"{POM} changed after {path} was written: {MAKE_HINT}")
    return text


def jmx_exporter_agent(path: Path = AGENT_PATH_FILE) -> Path:
    """The jmx_exporter agent jar resolved by ``make kafka`` (test-only: the parity test runs it in a broker)."""
    try:
        jar = Path(path.read_text().strip())
    except OSError:
        raise KafkaUnavailableError(f"the jmx_exporter agent is not resolved ({path} is missing): {MAKE_HINT}") from (
            None
        )
    if not jar.is_file():
        raise KafkaUnavailableError(f"{path} names a jar that is gone ({jar}): {MAKE_HINT}")
    return jar


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, as ``kafka-storage random-uuid``
    prints it (saves a JVM start). Like Kafka's ``Uuid.randomUuid`` it never starts with '-', which a command
    line would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def properties(values: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


NodeOptions = Callable[["KafkaNode"], Sequence[str]]


@dataclass
class KafkaNode:
    """One combined broker+controller JVM; its ports are fixed for the node's life, so a restart rejoins as the
    same broker at the same address."""

    node_id: int
    port: int
    controller_port: int
    jmx_port: int
    directory: Path
    process: ManagedProcess | None = None
    restarts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def config_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()


@dataclass
class KafkaCluster:
    """N KRaft nodes (combined broker+controller) on loopback. Use :meth:`start` as a context manager."""

    nodes: list[KafkaNode]
    directory: Path
    cluster_id: str
    classpath: str
    overrides: dict[str, str] = field(default_factory=dict)
    heap: str = HEAP
    log_dir_bytes: int | None = None
    """When set, each node's log dir is a tmpfs of this size (see :func:`small_disk`): real disk pressure in tests."""
    node_options: NodeOptions | None = None
    """Extra JVM options per node (a Java agent with its own port, say), after ours so they can override them."""
    _watchdog: ManagedProcess | None = None
    _tool_runs: int = 0

    # -- construction --------------------------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        size: int = 3,
        *,
        overrides: Mapping[str, str] | None = None,
        directory: Path | None = None,
        heap: str = HEAP,
        timeout: float = 120.0,
        log_dir_bytes: int | None = None,
        node_options: NodeOptions | None = None,
    ) -> Iterator[KafkaCluster]:
        """Format storage, start ``size`` nodes, wait until every broker is registered, and clean up on exit."""
        cluster = cls.create(
            size,
            overrides=overrides,
            directory=directory,
            heap=heap,
            log_dir_bytes=log_dir_bytes,
            node_options=node_options,
        )
        try:
            cluster.format()
            cluster.start_all(timeout=timeout)
            yield cluster
        finally:
            cluster.close()

    @classmethod
    def create(
        cls,
        size: int = 3,
        *,
        overrides: Mapping[str, str] | None = None,
        directory: Path | None = None,
        heap: str = HEAP,
        log_dir_bytes: int | None = None,
        node_options: NodeOptions | None = None,
    ) -> KafkaCluster:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        cp = classpath()
        base = Path(tempfile.mkdtemp(prefix="kafka-obs-kafka-", dir=directory))
        nodes = [
            KafkaNode(node_id, free_port(), free_port(), free_port(), base / f"node-{node_id}")
            for node_id in range(1, size + 1)
        ]
        cluster = cls(nodes, base, new_cluster_id(), cp, dict(overrides or {}), heap, log_dir_bytes, node_options)
        cluster._start_watchdog()
        return cluster

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def config(self, node: KafkaNode) -> dict[str, str]:
        """The node's server.properties: a static quorum of every node, PLAINTEXT on loopback, then the test-speed
        and footprint settings, then the cluster's overrides."""
        size = len(self.nodes)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        replication = str(min(3, size))
        min_isr = str(min(2, size))
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.data_dir),
            # internal topics replicated like production ones, as far as the cluster's size allows
            "offsets.topic.replication.factor": replication,
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replication,
            "share.coordinator.state.topic.min.isr": min_isr,
            **TEST_SPEED,
            **SMALL_FOOTPRINT,
            **self.overrides,
        }

    # -- storage and processes -----------------------------------------------------------------------------------

    def format(self, timeout: float = 120.0) -> None:
        """``kafka-storage format`` for every node, the JVMs run concurrently. A static quorum
        (``controller.quorum.voters``) is formatted without ``--standalone``/``--initial-controllers``."""
        formatters = []
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            node.config_path.write_text(properties(self.config(node)))
            (node.directory / "log4j2.properties").write_text(LOG4J2)
            argv = [
                *self._java(node, jmx=False),
                "kafka.tools.StorageTool",
                "format",
                "--cluster-id",
                self.cluster_id,
                "--config",
                str(node.config_path),
                "--ignore-formatted",
            ]
            formatters.append(
                ManagedProcess(f"kafka-storage-{node.node_id}", argv, node.directory / "format.log").start()
            )
        for formatter in formatters:
            code = formatter.wait(timeout)
            if code != 0:
                raise ProcessError(f"{formatter.name} exited with status {code}\n{formatter.tail()}")

    def _java(self, node: KafkaNode, *, jmx: bool) -> list[str]:
        heap = self.heap if jmx else "64m"  # the storage tool needs little
        return [
            "java",
            *jvm_options(heap),
            *(jmx_options(node.jmx_port) if jmx else []),
            *(self.node_options(node) if jmx and self.node_options else []),
            f"-Dlog4j2.configurationFile={node.directory / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={node.directory}",
            "-cp",
            self.classpath,
        ]

    def launch(self, node: KafkaNode) -> None:
        """Start one node's JVM (no wait: a node of a static quorum only finishes starting once a majority is up)."""
        if node.alive():
            raise ProcessError(f"kafka node {node.node_id} is already running")
        argv = [*self._java(node, jmx=True), "kafka.Kafka", str(node.config_path)]
        if self.log_dir_bytes is not None:
            argv = small_disk(node.data_dir, self.log_dir_bytes, argv)
        node.process = ManagedProcess(f"kafka-{node.node_id}", argv, node.log_path).start()
        self._record_process_groups()

    def start_all(self, timeout: float = 120.0) -> None:
        for node in self.nodes:
            self.launch(node)
        self.wait_ready(timeout=timeout)

    def wait_ready(self, timeout: float = 60.0, *, brokers: Sequence[int] | None = None, full_isr: bool = True) -> None:
        """Until each node of ``brokers`` (default: all) answers Metadata on its own listener, listing every one of
        them, and, with ``full_isr``, every partition's ISR equals its replicas. Asking each node itself is what
        tells a restarted node from the killed one it replaces, which the controller may still list for a few
        seconds. A node that exited ends the wait at once, quoting its log."""
        want = sorted(brokers if brokers is not None else (n.node_id for n in self.nodes))

        def ready() -> bool:
            for node_id in want:
                node = self.node(node_id)
                if not node.alive():
                    code = node.process.returncode if node.process else None
                    raise ProcessError(f"kafka node {node_id} exited with status {code}\n{self._tail(node)}")
            for node_id in want:
                md = self.metadata(timeout=2.0, bootstrap=self.node(node_id).address)
                if not set(want) <= set(md.brokers):
                    return False
                if full_isr and any(
                    set(p.isrs) != set(p.replicas) for topic in md.topics.values() for p in topic.partitions.values()
                ):
                    return False
            return True

        try:
            wait_until(ready, timeout, f"kafka brokers {want} ready", interval=0.25)
        except TimeoutError as exc:
            tails = "\n".join(self._tail(self.node(n)) for n in want)
            raise ProcessError(f"{exc}\n{tails}") from None

    def metadata(self, timeout: float = 5.0, *, bootstrap: str | None = None) -> Any:
        """A fresh librdkafka Metadata answer (its own short-lived client: a cached one would answer from its
        cache while a broker is being fenced); from ``bootstrap`` only when given."""
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap or self.bootstrap_servers,
            "socket.timeout.ms": int(timeout * 1000),
            "logger": _QUIET,  # refused connections while nodes start are expected, not worth a line each
        }
        admin = AdminClient(config)
        return admin.list_topics(timeout=timeout)

    def tool(self, main_class: str, *args: str, bootstrap: bool = True) -> ManagedProcess:
        """Start one of Kafka's own command-line tools (e.g. ``org.apache.kafka.tools.ProducerPerformance``) against
        this cluster, in the background; ``--bootstrap-server`` is added unless ``bootstrap`` is false. Its output
        is in the returned process's log."""
        self._tool_runs += 1
        log = self.directory / f"tool-{self._tool_runs}.log"
        argv = ["java", *jvm_options("128m"), "-cp", self.classpath, main_class]
        argv += [*(["--bootstrap-server", self.bootstrap_servers] if bootstrap else []), *args]
        return ManagedProcess(main_class.rsplit(".", 1)[-1], argv, log).start()

    def run_tool(self, main_class: str, *args: str, timeout: float = 120.0) -> str:
        """Run one of Kafka's tools to its end and return its output: an independent reader for tests, next to
        our own clients (e.g. ``org.apache.kafka.tools.LogDirsCommand --describe``). A failure raises
        :class:`ProcessError` quoting the output."""
        tool = self.tool(main_class, *args)
        code = tool.wait(timeout)
        if code != 0:
            raise ProcessError(f"{main_class} exited with status {code}\n{tool.tail()}")
        return tool.log_path.read_text(errors="replace")

    def _tail(self, node: KafkaNode) -> str:
        return node.process.tail(30) if node.process else f"  kafka-{node.node_id}| (never started)"

    # -- faults --------------------------------------------------------------------------------------------------

    def stop_node(self, node_id: int, timeout: float = 30.0) -> int | None:
        """A clean shutdown (SIGTERM: controlled shutdown moves leadership away first)."""
        node = self.node(node_id)
        code = node.process.stop(timeout) if node.process else None
        self._record_process_groups()
        return code

    def kill_node(self, node_id: int) -> None:
        """A crash: SIGKILL, no controlled shutdown; the controller fences it after broker.session.timeout.ms."""
        node = self.node(node_id)
        if node.process is not None:
            node.process.signal(signal.SIGKILL)
            node.process.stop(5.0)  # reaps it
        self._record_process_groups()

    def pause_node(self, node_id: int) -> None:
        """A hung broker, not a dead one: SIGSTOP keeps its sockets open and every request to it unanswered."""
        process = self.node(node_id).process
        if process is not None:
            process.signal(signal.SIGSTOP)

    def resume_node(self, node_id: int) -> None:
        process = self.node(node_id).process
        if process is not None:
            process.signal(signal.SIGCONT)

    def restart_node(self, node_id: int, timeout: float = 60.0) -> None:
        """Start a stopped or killed node again with its data, ports and id, and wait until the ISR is full."""
        node = self.node(node_id)
        if node.alive():
            self.stop_node(node_id)
        node.restarts += 1
        self.launch(node)
        self.wait_ready(timeout=timeout)

    # -- cleanup -------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """SIGKILL every node, then remove the directory. The data is thrown away, so a clean shutdown would only
        cost time: the last nodes of a quorum that is going away wait out their controlled-shutdown timeouts."""
        for node in self.nodes:
            if node.process is not None:
                node.process.signal(signal.SIGKILL)
        for node in self.nodes:
            if node.process is not None:
                node.process.stop(timeout=10.0)
        if self._watchdog is not None:
            self._watchdog.stop(timeout=5.0)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _start_watchdog(self) -> None:
        argv = [sys.executable, "-m", "kafka_obs.platform.realkafka", "watchdog", str(os.getpid()), str(self.directory)]
        log = self.directory / "watchdog.log"  # removed with the directory
        self._watchdog = ManagedProcess("kafka-watchdog", argv, log).start()

    def _record_process_groups(self) -> None:
        """What the watchdog kills if this process dies: the process groups of the running nodes."""
        groups = [str(n.pid) for n in self.nodes if n.pid is not None and n.alive()]
        tmp = self.directory / "pgids.tmp"
        tmp.write_text("\n".join(groups) + "\n")
        tmp.replace(self.directory / "pgids")


SMALL_DISK_SCRIPT = """\
set -e
data="$1" size="$2"; shift 2
formatted="$(mktemp -d)"
cp -a "$data/." "$formatted/"
mount -t tmpfs -o "size=$size,mode=0755" kafka-obs-log-dir "$data"
cp -a "$formatted/." "$data/"
rm -rf "$formatted"
exec "$@"
"""


def small_disk(data_dir: Path, size: int, argv: Sequence[str]) -> list[str]:
    """``argv`` run with ``data_dir`` on a tmpfs of ``size`` bytes, in a mount namespace of its own.

    Why: disk-pressure alerts read DescribeLogDirs' total and usable bytes, which Kafka takes from the log dir's
    file system; on a build machine's large disk a test cannot fill it, on a tmpfs of a few MiB real segments do.
    ``unshare --mount --map-root-user`` needs no privileges where unprivileged user namespaces are allowed (root
    works everywhere); the mount vanishes with the JVM (``exec`` keeps its pid, so stopping the node is unchanged).
    The formatted ``meta.properties`` is copied onto the tmpfs at each start, so a restarted node starts empty."""
    if shutil.which("unshare") is None:
        raise KafkaUnavailableError("a log dir of limited size needs `unshare` (util-linux)")
    return [
        "unshare",
        "--mount",
        "--map-root-user",
        "sh",
        "-c",
        SMALL_DISK_SCRIPT,
        "sh",
        str(data_dir),
        str(size),
        *argv,
    ]


# -- the watchdog ---------------------------------------------------------------------------------------------------


def watchdog(parent: int, directory: Path, interval: float = 0.5) -> None:
    """Until ``parent`` dies: then SIGKILL the node process groups listed in ``directory/pgids`` and remove
    ``directory``. A SIGTERM (a clean close) ends it without touching anything."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while _pid_alive(parent) and os.getppid() == parent:
        time.sleep(interval)
    with contextlib.suppress(OSError):
        for line in (directory / "pgids").read_text().split():
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                os.killpg(int(line), signal.SIGKILL)
    time.sleep(0.5)  # let the kernel release the killed JVMs' open files before removing their directories
    shutil.rmtree(directory, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: Sequence[str]) -> int:
    """``watchdog PARENT_PID DIRECTORY`` (started by :class:`KafkaCluster`); ``classpath`` checks the resolve."""
    if len(argv) == 3 and argv[0] == "watchdog":
        watchdog(int(argv[1]), Path(argv[2]))
        return 0
    if argv[:1] == ["classpath"]:
        try:
            jars = classpath().split(os.pathsep)
        except KafkaUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - a command-line answer
            return 2
        print(f"{len(jars)} jars resolved for Apache Kafka")  # noqa: T201
        return 0
    print("usage: python -m kafka_obs.platform.realkafka classpath | watchdog PARENT_PID DIRECTORY", file=sys.stderr)  # noqa: T201
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
