"""The fleet description, ``clusters.yaml``: the one cluster model shared by the exporter, the sandbox and the webhook.

The seed's format (name, region, environment, brokers, jmx_ports, priority) is accepted unchanged; the rest is
what operators of real clusters need: static labels, librdkafka properties with secrets kept out of the file, JMX
credentials, topic and group filters, and the per-priority collection intervals.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kafka_obs.config.loader import ConfigIssue, Document, load_model, relative_to_config
from kafka_obs.config.secrets import ResolvedSecret, Secret
from kafka_obs.durations import format_duration, parse_duration


class Priority(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


DEFAULT_INTERVALS: dict[Priority, float] = {
    Priority.critical: 30.0,
    Priority.high: 60.0,
    Priority.medium: 120.0,
    Priority.low: 300.0,
}
"""The seed's collection intervals, in seconds."""

MIN_INTERVAL = 1.0
MAX_INTERVAL = 86400.0
"""Bounds of a collection interval: below a second a cycle is a request storm (``interval: 0`` sent thousands of
requests a second); above a day the series would be stale nearly all the time, and much larger values overflow
the worker's timer."""


def _interval_seconds(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read true as 1.0
        raise ValueError("expected a duration such as 30s or 5m")
    return parse_duration(value) if isinstance(value, str) else value


def _interval_bounds(seconds: float) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"must be a finite duration such as 30s, got {seconds}")
    if seconds < MIN_INTERVAL:
        raise ValueError(f"must be at least {format_duration(MIN_INTERVAL)}, got {seconds:g}s")
    if seconds > MAX_INTERVAL:
        raise ValueError(f"must be at most {format_duration(MAX_INTERVAL)}, got {seconds:g}s")
    return seconds


Interval = Annotated[float, BeforeValidator(_interval_seconds), AfterValidator(_interval_bounds)]
"""A collection interval: a duration (``30s``) or seconds, finite, from :data:`MIN_INTERVAL` to
:data:`MAX_INTERVAL`. The one check for ``check-config`` and the exporter, which both load through
:func:`load_fleet`."""

RESERVED_LABELS = frozenset(
    {"cluster", "region", "environment", "priority", "topic", "partition", "consumergroup", "broker", "job", "instance"}
)
"""Labels the exporter sets itself; a static label may not shadow them."""

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", max_length=63)]
"""Cluster names double as Kubernetes namespaces in the sandbox and as label values: DNS-label style."""

LabelValue = Annotated[str, StringConstraints(min_length=1, max_length=128)]


_PATH_PROPERTY = re.compile(r"\.(location|file|keytab)$")
"""librdkafka properties naming a file: ``ssl.ca.location``, ``ssl.key.location``, ``ssl.certificate.location``,
``ssl.crl.location``, ``ssl.keystore.location``, ``ssl.engine.location``, ``sasl.kerberos.keytab``,
``sasl.oauthbearer.assertion.*.file``."""
_NOT_A_PATH = {"probe"}
"""``ssl.ca.location: probe`` asks librdkafka to look in the system's usual places."""


def _client_paths(props: dict[str, SecretStr], info: ValidationInfo) -> dict[str, SecretStr]:
    """File properties relative to the config file's directory, as every path of every config is.

    librdkafka would open them relative to the process's working directory: the same file would work from one
    directory and fail, or pick another CA, from another (an exporter started by systemd runs in ``/``).
    """
    out = dict(props)
    for key, value in props.items():
        text = value.get_secret_value()
        if _PATH_PROPERTY.search(key) and text and text not in _NOT_A_PATH:
            path = str(relative_to_config(Path(text), info))
            out[key] = ResolvedSecret(path, value.sensitive) if isinstance(value, ResolvedSecret) else SecretStr(path)
    return out


ClientProperties = Annotated[dict[str, Secret], AfterValidator(_client_paths)]
"""librdkafka properties: values may reference secrets; file properties resolve against the config's directory."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compile(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


Regex = Annotated[str, Field(min_length=1)]


class NameFilter(_Strict):
    """Allow and deny regular expressions, matched against the whole name (``fullmatch``)."""

    allow: list[Regex] = Field(default_factory=lambda: [".*"])
    deny: list[Regex] = Field(default_factory=list)

    @field_validator("allow", "deny")
    @classmethod
    def _valid_regexes(cls, patterns: list[str]) -> list[str]:
        return [_compile(p) for p in patterns]

    def matcher(self) -> NameMatcher:
        return NameMatcher(self.allow, self.deny)


class NameMatcher:
    """Compiled once per cluster, then asked for every topic or group of every cycle."""

    __slots__ = ("_allow", "_deny")

    def __init__(self, allow: list[str], deny: list[str]):
        self._allow = re.compile("|".join(f"(?:{p})" for p in allow)) if allow else None
        self._deny = re.compile("|".join(f"(?:{p})" for p in deny)) if deny else None

    def __call__(self, name: str) -> bool:
        if self._allow is None or not self._allow.fullmatch(name):
            return False
        return not (self._deny is not None and self._deny.fullmatch(name))


class GroupFilter(NameFilter):
    skip_empty: bool = False
    """Leave out groups in state Empty or Dead: fleets with tens of thousands of stale groups (kminion#108)."""


class LagEvaluation(_Strict):
    """How consumer groups are rated OK / WARN / REWIND / STALL / STOP, and when one counts as abandoned.

    See :mod:`kafka_obs.exporter.lag_status` and docs/exporter.md ("Lag evaluation") for the rules.
    """

    window: int = Field(default=10, ge=3, le=100, description="observations (cycles) per partition in the window")
    ok_lag: int = Field(default=0, ge=0, description="lag at or below this many messages counts as caught up")
    abandoned_after: float = Field(
        default=86400.0, ge=60.0, description="an Empty group not committing for this long is abandoned"
    )

    @field_validator("abandoned_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value


CANARY_MIN_INTERVAL = 0.1
CANARY_MAX_DURATION = 3600.0
_TOPIC_NAME = r"^[a-zA-Z0-9._-]{1,249}$"


def _canary_duration(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read true as 1.0
        raise ValueError("expected a duration such as 1s or 500ms")
    return parse_duration(value) if isinstance(value, str) else value


class CanarySettings(_Strict):
    """The end-to-end canary (:mod:`kafka_obs.exporter.canary`): off unless asked for, because it writes to the cluster.

    One message per partition per ``interval``, on a topic with a partition led by every broker; a message not
    consumed back within ``sla`` counts as lost.
    """

    enabled: bool = False
    topic: Annotated[str, StringConstraints(pattern=_TOPIC_NAME)] = "kafka-obs-canary"
    interval: float = Field(
        default=5.0, ge=CANARY_MIN_INTERVAL, le=CANARY_MAX_DURATION, description="seconds between two rounds"
    )
    sla: float = Field(
        default=20.0, gt=0.0, le=CANARY_MAX_DURATION, description="seconds after which a message counts as lost"
    )
    replication_factor: int | None = Field(
        default=None, ge=1, le=32, description="of the canary topic when it is created; default min(3, brokers)"
    )

    @field_validator("interval", "sla", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _canary_duration(value)

    @field_validator("topic")
    @classmethod
    def _not_dots(cls, topic: str) -> str:
        if topic in {".", ".."}:
            raise ValueError(f"{topic!r} is not a valid topic name")
        return topic

    @model_validator(mode="after")
    def _sla_after_interval(self) -> CanarySettings:
        if self.sla <= self.interval:
            raise ValueError(
                f"sla ({format_duration(self.sla)}) must be longer than interval ({format_duration(self.interval)}): "
                "otherwise every message still in flight at the next round would count as lost"
            )
        return self


class JmxSettings(_Strict):
    username: Secret | None = None
    password: Secret | None = None
    ssl: bool = False
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds for one broker's query batch")
    partition_sizes: bool = Field(
        default=False,
        description="also read kafka.log:type=Log,name=Size per partition replica (kafka_log_log_size)",
    )
    """Off by default: one MBean per partition replica is half of a broker's MBeans and most of the JMX cost (JMX
    has no bulk read: each MBean is a round trip), while DescribeLogDirs already gives sizes per topic and log
    directory every cycle."""
    topic_meters: bool = Field(
        default=False,
        description="also read the BrokerTopicMetrics meters per topic (bytes and messages in/out, `topic` label)",
    )
    """Off by default: five meters per topic are most of the MBeans left once partition sizes are off (215 of ~250
    on an acme broker), the rules and dashboards read only the broker-wide meters, and per-topic message rates
    already come from the log-end offsets every cycle."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> JmxSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password must be given together")
        return self


class Cluster(_Strict):
    name: Name
    region: LabelValue
    environment: LabelValue
    brokers: list[str] = Field(min_length=1)
    jmx_ports: list[Annotated[int, Field(ge=1, le=65535)]] | None = None
    priority: Priority = Priority.medium
    interval: Interval | None = Field(default=None, description="overrides the priority's interval for this cluster")
    labels: dict[str, LabelValue] = Field(default_factory=dict)
    kafka: ClientProperties = Field(default_factory=dict)
    jmx: JmxSettings = Field(default_factory=JmxSettings)
    topics: NameFilter = Field(default_factory=NameFilter)
    groups: GroupFilter = Field(default_factory=GroupFilter)
    granularity: Literal["partition", "topic"] = "partition"
    lag_evaluation: LagEvaluation = Field(default_factory=LagEvaluation)
    canary: CanarySettings = Field(default_factory=CanarySettings)

    @field_validator("brokers")
    @classmethod
    def _host_port(cls, brokers: list[str]) -> list[str]:
        for broker in brokers:
            match = _HOST_PORT.match(broker)
            if not match or not 0 < int(match.group("port")) < 65536:
                raise ValueError(f"expected host:port, got {broker!r}")
        if len(set(brokers)) != len(brokers):
            raise ValueError("a broker is listed twice")
        return brokers

    @field_validator("jmx_ports")
    @classmethod
    def _one_port_per_broker(cls, ports: list[int] | None, info: Any) -> list[int] | None:
        brokers = info.data.get("brokers")
        if ports is not None and brokers is not None and len(ports) != len(brokers):
            raise ValueError(
                f"expected one JMX port per broker, in the same order: {len(brokers)} brokers but {len(ports)} ports"
            )
        return ports

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        for name in labels:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a valid Prometheus label name")
            if name in RESERVED_LABELS:
                raise ValueError(f"label {name!r} is set by kafka-obs itself and cannot be overridden")
        return labels

    @field_validator("kafka")
    @classmethod
    def _no_bootstrap(cls, props: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key in ("bootstrap.servers", "metadata.broker.list"):
            if key in props:
                raise ValueError(f"{key} comes from 'brokers'; remove it from 'kafka'")
        return props

    def bootstrap_servers(self) -> str:
        return ",".join(self.brokers)

    def client_properties(self) -> dict[str, str]:
        """librdkafka properties with secrets revealed: hand them to the client, never to a logger."""
        props = {key: value.get_secret_value() for key, value in self.kafka.items()}
        props["bootstrap.servers"] = self.bootstrap_servers()
        return props

    def static_labels(self) -> dict[str, str]:
        """The labels every series of this cluster carries, in a stable order."""
        return {"cluster": self.name, "region": self.region, "environment": self.environment, **self.labels}

    def jmx_endpoints(self) -> list[tuple[str, int]]:
        """``(host, port)`` per broker, in broker order; empty when the cluster has no JMX."""
        if not self.jmx_ports:
            return []
        hosts = [broker.rsplit(":", 1)[0].strip("[]") for broker in self.brokers]
        return list(zip(hosts, self.jmx_ports, strict=True))


class FleetConfig(_Strict):
    clusters: list[Cluster] = Field(min_length=1)
    intervals: dict[Priority, Interval] = Field(default_factory=dict)

    def interval_for(self, cluster: Cluster) -> float:
        """Seconds between two collection cycles of ``cluster``."""
        if cluster.interval is not None:
            return cluster.interval
        return self.intervals.get(cluster.priority, DEFAULT_INTERVALS[cluster.priority])

    def select(self, *, regions: list[str] | None = None, names: list[str] | None = None) -> FleetConfig:
        """A fleet of the matching clusters only, so regions can shard across exporters."""
        chosen = [c for c in self.clusters if (not regions or c.region in regions) and (not names or c.name in names)]
        return self.model_copy(update={"clusters": chosen})


def _broker_key(broker: str) -> str:
    """Host names are case-insensitive; ``[::1]:9092`` and ``[0:0::1]:9092`` are left distinct (rare, harmless)."""
    return broker.lower()


def _cross_checks(document: Document, fleet: FleetConfig) -> list[ConfigIssue]:
    issues = []
    seen: dict[str, int] = {}
    brokers: dict[str, tuple[int, int]] = {}
    for index, cluster in enumerate(fleet.clusters):
        if cluster.name in seen:
            issues.append(
                document.issue(
                    ("clusters", index, "name"),
                    f"duplicate cluster name {cluster.name!r} (also clusters[{seen[cluster.name]}])",
                )
            )
        seen.setdefault(cluster.name, index)
        for position, broker in enumerate(cluster.brokers):
            first = brokers.setdefault(_broker_key(broker), (index, position))
            if first[0] != index:
                # one cluster described twice: every fleet aggregate (brokers, partitions, lag) would count it twice
                issues.append(
                    document.issue(
                        ("clusters", index, "brokers", position),
                        f"broker {broker!r} is also clusters[{first[0]}].brokers[{first[1]}]: two entries for one "
                        "cluster would be counted twice in every fleet aggregate",
                    )
                )
    return issues


def load_fleet(path: str | Path, *, environ: dict[str, str] | None = None) -> FleetConfig:
    """Load and validate ``clusters.yaml``; raises :class:`~kafka_obs.config.loader.ConfigError`."""
    context = {"environ": environ} if environ is not None else None
    return load_model(path, FleetConfig, context=context, check=_cross_checks)


def summary(fleet: FleetConfig) -> list[str]:
    """One line per cluster, for ``check-config``; shows no secret, only which settings are present."""
    lines = []
    for cluster in fleet.clusters:
        jmx = f"jmx on {len(cluster.jmx_ports)} ports" if cluster.jmx_ports else "no jmx"
        extras = []
        if cluster.kafka:
            extras.append(f"{len(cluster.kafka)} client properties")
        if cluster.canary.enabled:
            extras.append(f"canary on {cluster.canary.topic} every {format_duration(cluster.canary.interval)}")
        if cluster.labels:
            extras.append("labels " + ",".join(f"{k}={v}" for k, v in cluster.labels.items()))
        lines.append(
            f"{cluster.name}: region={cluster.region} environment={cluster.environment} "
            f"priority={cluster.priority.value} brokers={len(cluster.brokers)} {jmx} "
            f"every {format_duration(fleet.interval_for(cluster))} granularity={cluster.granularity}"
            + (f" ({'; '.join(extras)})" if extras else "")
        )
    return lines
