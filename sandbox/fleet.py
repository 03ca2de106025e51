"""Fleet files: which simulated clusters, brokers, topics and consumer deployments the sandbox runs.

A fleet file is an operator-facing config like any other, so it goes through
:func:`kafka_obs.config.loader.load_model` and a mistake is reported as ``file:line: field.path: message`` (exit 2).
Large fleets (hundreds of topics, thousands of groups) are written compactly with ``count``: an entry with
``count: N`` stands for N entries whose string fields have ``{i}`` replaced by 0..N-1 (Python format syntax, so
``{i:03d}`` works). :func:`expand` turns the file into plain, fully expanded specs the model is built from.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kafka_obs.config.clusters import Name, Priority
from kafka_obs.config.loader import ConfigIssue, Document, load_model
from kafka_obs.durations import parse_duration
from kafka_obs.sandbox.model.topic_config import validate_topic_config

FLEETS_DIR = Path(__file__).resolve().parent / "fleets"
"""Where ``Sandbox.start("small")`` finds ``small.yaml``."""

TOPIC_CONFIG_KEYS = (
    "retention.ms",
    "retention.bytes",
    "cleanup.policy",
    "min.cleanable.dirty.ratio",
    "segment.ms",
    "min.insync.replicas",
)

_TOPIC_NAME = r"^[a-zA-Z0-9._{}:-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _seconds(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


class TopicSpec(_Strict):
    name: Annotated[str, Field(pattern=_TOPIC_NAME, max_length=249)]
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    partitions: Annotated[int, Field(ge=1, le=10_000)] = 3
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 3
    rate: Annotated[float, Field(ge=0, description="messages per second, whole topic")] = 10.0
    message_bytes: Annotated[int, Field(ge=1, le=10_000_000)] = 512
    criticality: Priority = Priority.medium
    config: dict[str, str | int | float] = Field(default_factory=dict)

    @field_validator("config")
    @classmethod
    def _known_keys(cls, config: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key, value in config.items():
            if key not in TOPIC_CONFIG_KEYS:
                raise ValueError(f"unsupported topic config {key!r} (supported: {', '.join(TOPIC_CONFIG_KEYS)})")
            text = str(value).lower() if isinstance(value, bool) else str(value)
            problem = validate_topic_config(key, text)
            if problem:
                raise ValueError(problem)
            out[key] = text
        return out


class DeploymentSpec(_Strict):
    """A simulated Kubernetes Deployment of consumers: namespace = cluster name, ``name`` = deployment name."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9{}:]([a-z0-9.{}:-]*[a-z0-9}])?$", max_length=253)]
    group: Annotated[str, Field(min_length=1, max_length=255)]
    topics: list[str] = Field(min_length=1)
    count: Annotated[int, Field(ge=1, le=100_000)] = 1
    replicas: Annotated[int, Field(ge=0, le=1000)] = 1
    rate: Annotated[float, Field(ge=0, description="messages per second each replica consumes")] = 100.0
    protocol: Literal["classic", "consumer"] = "classic"
    """``consumer`` makes a KIP-848 group (protocol type ``consumer``)."""
    lag: Annotated[float, Field(ge=0, description="initial lag, in seconds of production")] = 0.0

    @field_validator("lag", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _seconds(value)


class BrokerSpec(_Strict):
    rack: str | None = None
    disk_bytes: Annotated[int, Field(gt=0)] = 1_000_000_000_000


class ClusterSpec(_Strict):
    name: Name
    region: Annotated[str, Field(min_length=1)]
    environment: Annotated[str, Field(min_length=1)]
    priority: Priority = Priority.medium
    cluster_id: str | None = None
    brokers: Annotated[int, Field(ge=1, le=100)] | list[BrokerSpec] = 3
    disk_bytes: Annotated[int, Field(gt=0)] = 1_000_000_000_000
    """Log dir size of every broker given as a count (a broker entry may set its own)."""
    topics: list[TopicSpec] = Field(default_factory=list)
    deployments: list[DeploymentSpec] = Field(default_factory=list)


class FleetFile(_Strict):
    clusters: list[ClusterSpec] = Field(min_length=1)
    history: float = Field(default=7 * 86400.0, gt=0)
    """How long the simulated topics have been producing when the sandbox starts (offsets start non-zero)."""
    catchup: float = Field(default=10.0, ge=0)
    """Seconds a restarted broker needs before it rejoins the ISR."""
    seed: int = 0
    """Seeds the deterministic per-partition skew, so a fleet always starts the same."""

    @field_validator("history", "catchup", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        return _seconds(value)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        """Top-level ``x-*`` keys hold YAML anchors for reuse (as in Compose files); they are not settings."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data


# ---- expanded specs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    replication_factor: int
    rate: float
    message_bytes: int
    criticality: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Deployment:
    name: str
    group: str
    topics: tuple[str, ...]
    replicas: int
    rate: float
    protocol: str
    lag: float


@dataclass(frozen=True)
class Broker:
    id: int
    rack: str | None
    disk_bytes: int


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    region: str
    environment: str
    priority: str
    cluster_id: str
    brokers: tuple[Broker, ...]
    topics: tuple[Topic, ...]
    deployments: tuple[Deployment, ...]


@dataclass(frozen=True)
class FleetPlan:
    """A fleet file with every ``count`` expanded: what the model is built from."""

    source: str
    clusters: tuple[ClusterPlan, ...]
    history: float
    catchup: float
    seed: int
    extras: dict[str, Any] = field(default_factory=dict)


def _names(template: str, count: int) -> list[str]:
    return [template.format(i=i) for i in range(count)] if count > 1 else [template.format(i=0)]


def _expand_cluster(spec: ClusterSpec) -> ClusterPlan:
    if isinstance(spec.brokers, int):
        brokers = tuple(Broker(i + 1, None, spec.disk_bytes) for i in range(spec.brokers))
    else:
        brokers = tuple(Broker(i + 1, b.rack, b.disk_bytes) for i, b in enumerate(spec.brokers))
    topics = []
    for t in spec.topics:
        for name in _names(t.name, t.count):
            topics.append(
                Topic(name, t.partitions, t.replication_factor, t.rate, t.message_bytes, t.criticality.value, t.config)
            )
    deployments = []
    for d in spec.deployments:
        for i in range(d.count):
            deployments.append(
                Deployment(
                    d.name.format(i=i),
                    d.group.format(i=i),
                    tuple(t.format(i=i) for t in d.topics),
                    d.replicas,
                    d.rate,
                    d.protocol,
                    d.lag,
                )
            )
    cluster_id = spec.cluster_id or _cluster_id(spec.name)
    return ClusterPlan(
        spec.name,
        spec.region,
        spec.environment,
        spec.priority.value,
        cluster_id,
        brokers,
        tuple(topics),
        tuple(deployments),
    )


def _cluster_id(name: str) -> str:
    """A stable 22-character Kafka-style cluster id derived from the name."""
    return base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()[:16]).decode().rstrip("=")


Loc = tuple[str | int, ...]


def _check_topics(document: Document, cluster: ClusterSpec, here: Loc) -> tuple[list[ConfigIssue], set[str]]:
    issues: list[ConfigIssue] = []
    broker_count = cluster.brokers if isinstance(cluster.brokers, int) else len(cluster.brokers)
    topic_names: set[str] = set()
    for ti, topic in enumerate(cluster.topics):
        loc = (*here, "topics", ti)
        if topic.replication_factor > broker_count:
            message = f"replication factor {topic.replication_factor} exceeds the {broker_count} brokers"
            issues.append(document.issue((*loc, "replication_factor"), message))
        if topic.count > 1 and "{i" not in topic.name:
            issues.append(document.issue((*loc, "name"), "count > 1 needs {i} in the name"))
            continue
        try:
            names = _names(topic.name, topic.count)
        except (KeyError, ValueError, IndexError) as exc:
            issues.append(document.issue((*loc, "name"), f"bad {{i}} template: {exc}"))
            continue
        duplicates = [n for n in names if n in topic_names]
        if duplicates:
            issues.append(document.issue((*loc, "name"), f"duplicate topic {duplicates[0]!r}"))
        topic_names.update(names)
    return issues, topic_names


def _check_deployments(document: Document, cluster: ClusterSpec, here: Loc, topics: set[str]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    names: set[str] = set()
    groups: set[str] = set()
    for di, dep in enumerate(cluster.deployments):
        loc = (*here, "deployments", di)
        if dep.count > 1 and ("{i" not in dep.name or "{i" not in dep.group):
            issues.append(document.issue((*loc, "name"), "count > 1 needs {i} in name and group"))
            continue
        try:
            expanded = [
                (dep.name.format(i=i), dep.group.format(i=i), [t.format(i=i) for t in dep.topics])
                for i in range(dep.count)
            ]
        except (KeyError, ValueError, IndexError) as exc:
            issues.append(document.issue(loc, f"bad {{i}} template: {exc}"))
            continue
        for name, group, wanted in expanded:
            unknown = [t for t in wanted if t not in topics]
            problem = (
                ("name", f"duplicate deployment {name!r}")
                if name in names
                else ("group", f"group {group!r} is consumed by two deployments")
                if group in groups
                else ("topics", f"unknown topic {unknown[0]!r} in cluster")
                if unknown
                else None
            )
            if problem:
                issues.append(document.issue((*loc, problem[0]), problem[1]))
                break
            names.add(name)
            groups.add(group)
    return issues


def _checks(document: Document, fleet: FleetFile) -> list[ConfigIssue]:
    """Cross-field checks that need the whole file: duplicate names, unknown topics, too few brokers."""
    issues: list[ConfigIssue] = []
    seen_clusters: set[str] = set()
    for ci, cluster in enumerate(fleet.clusters):
        here: Loc = ("clusters", ci)
        if cluster.name in seen_clusters:
            issues.append(document.issue((*here, "name"), f"duplicate cluster name {cluster.name!r}"))
        seen_clusters.add(cluster.name)
        topic_issues, topics = _check_topics(document, cluster, here)
        issues += topic_issues
        issues += _check_deployments(document, cluster, here, topics)
    return issues


def resolve_path(name_or_path: str | Path) -> Path:
    """``"small"`` → ``sandbox/fleets/small.yaml``; anything with a slash or a suffix is a path."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        return FLEETS_DIR / f"{text}.yaml"
    return Path(text)


def load(name_or_path: str | Path) -> FleetPlan:
    """Load, validate and expand a fleet file; raises :class:`~kafka_obs.config.loader.ConfigError`."""
    path = resolve_path(name_or_path)
    fleet = load_model(path, FleetFile, check=_checks)
    return FleetPlan(
        str(path), tuple(_expand_cluster(c) for c in fleet.clusters), fleet.history, fleet.catchup, fleet.seed
    )
