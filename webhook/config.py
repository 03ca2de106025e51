"""The webhook's own configuration file (``--config.file``): where to listen from, whom to trust, what it may touch.

Every knob that makes the webhook act has a safe default: playbooks are dry-run until enabled, the allowlists are
empty until filled in, and every guardrail is on. The file goes through :func:`kafka_obs.config.loader.load_model`,
so a mistake is reported as ``file:line: field.path: message`` and the command exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from kafka_obs.config.clusters import ClientProperties, Name, NameMatcher, load_fleet
from kafka_obs.config.loader import ConfigIssue, ConfigPath, Document, load_model
from kafka_obs.config.secrets import Secret
from kafka_obs.durations import parse_duration
from kafka_obs.webhook.audit import load_or_create_key


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
"""``30s``, ``15m``, ``24h`` or a number of seconds."""

DelayDuration = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
"""A duration that may also be 0 (no delay)."""

Regex = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuth(_Strict):
    username: Secret
    password: Secret


class AuthConfig(_Strict):
    """What Alertmanager's ``http_config`` sends: ``authorization`` (Bearer) or ``basic_auth``. Either is accepted."""

    bearer_token: Secret | None = None
    basic: BasicAuth | None = None
    allow_anonymous: bool = Field(
        default=False, description="must be set explicitly to run without credentials (never in production)"
    )

    @model_validator(mode="after")
    def _something(self) -> AuthConfig:
        if self.bearer_token is None and self.basic is None and not self.allow_anonymous:
            raise ValueError("configure bearer_token or basic (or set allow_anonymous: true for a local test)")
        return self


class TlsConfig(_Strict):
    cert_file: ConfigPath
    key_file: ConfigPath
    client_ca_file: ConfigPath | None = Field(default=None, description="require client certificates signed by this CA")


class StoreConfig(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    path: ConfigPath = Path("kafka-obs-webhook.db")
    synchronous: Literal["full", "normal"] = Field(
        default="full", description="full: an acknowledged notification survives power loss; normal: only a crash"
    )
    busy_timeout: Duration = Field(
        default=5.0,
        description="longest wait for the database (a lock held elsewhere); then /alerts answers 503 and is retried",
    )
    notification_body_retention: Duration = Field(
        default=7 * 86400.0,
        description="raw notification bodies are blanked after this (metadata, incidents and the audit log stay)",
    )


class AuditConfig(_Strict):
    """The key that MACs the audit chain. It must live outside the database: whoever holds it can rewrite history."""

    key: Secret | None = Field(
        default=None, description="${ENV} or file:/path (at least 16 characters); the production choice"
    )
    key_file: ConfigPath | None = Field(
        default=None,
        description="created (32 random bytes, mode 0600) when missing; default: the store path + .audit-key",
    )
    verify_interval: Duration = Field(default=60.0, description="how often the chain metric re-verifies the chain")

    @model_validator(mode="after")
    def _one_key(self) -> AuditConfig:
        if self.key is not None and self.key_file is not None:
            raise ValueError("set key or key_file, not both")
        if self.key is not None and len(self.key.get_secret_value()) < 16:
            raise ValueError("key: at least 16 characters")
        return self


class PrometheusRoutes(_Strict):
    """Which Prometheus holds an alert's raw series, by one of the alert's labels.

    With one Prometheus per region, a verification query (``kafka_consumergroup_lag_sum{cluster=...}``) only has an
    answer in the regional Prometheus that raised the alert; the global one federates recording rules only. Every
    Prometheus attaches its external labels to the alerts it sends, so ``label: prometheus`` with one URL per
    regional server sends each verification where the data is. Alerts without the label, or with a value not
    listed, are verified against ``prometheus.url``.
    """

    label: str = Field(default="prometheus", min_length=1, description="the alert label that names the Prometheus")
    urls: dict[str, str] = Field(min_length=1, description="label value -> that Prometheus's base URL")


class PrometheusConfig(_Strict):
    url: str = Field(default="http://127.0.0.1:9090", description="the default Prometheus for verification")
    timeout: Duration = 5.0
    bearer_token: Secret | None = None
    route_by: PrometheusRoutes | None = Field(
        default=None, description="per-alert Prometheus, chosen by an alert label (federated, multi-region setups)"
    )


class AlertmanagerConfig(_Strict):
    url: str | None = Field(default=None, description="escalations go to {url}/api/v2/alerts")
    webhook_url: str | None = Field(default=None, description="an optional plain webhook that also gets escalations")
    timeout: Duration = 5.0
    retries: int = Field(default=3, ge=1, le=10)
    bearer_token: Secret | None = None


class DeploymentTarget(_Strict):
    """One entry of the Kubernetes allowlist: the alert labels it answers to and the Deployment it may scale."""

    cluster: str = Field(description="value of the alert's `cluster` label")
    consumergroup: str = Field(description="value of the alert's `consumergroup` label")
    namespace: str
    name: str
    topics: list[str] = Field(default_factory=list, description="topics whose partition count caps the replicas")
    max_replicas: int | None = Field(default=None, ge=1, description="a ceiling tighter than the playbook's")


class KubernetesConfig(_Strict):
    mode: Literal["host", "in_cluster", "kubeconfig"] = "host"
    host: str | None = Field(default=None, description="API server base URL (mode: host), e.g. the sandbox's")
    kubeconfig: ConfigPath | None = None
    context: str | None = None
    token: Secret | None = None
    verify_ssl: bool = True
    timeout: Duration = 10.0
    deployments: list[DeploymentTarget] = Field(default_factory=list, description="the only Deployments touched")

    @model_validator(mode="after")
    def _host_given(self) -> KubernetesConfig:
        if self.mode == "host" and self.deployments and not self.host:
            raise ValueError("mode host needs host (the API server URL)")
        return self


class TopicAllowlist(_Strict):
    """Topics whose configs the webhook may change. Empty by default: nothing is touched until listed."""

    allow: list[Regex] = Field(default_factory=list)
    deny: list[Regex] = Field(default_factory=lambda: [r"__.*", r"_.*"])

    def matcher(self) -> NameMatcher:
        return NameMatcher(self.allow, self.deny)


class KafkaClusterTarget(_Strict):
    bootstrap_servers: str | None = Field(default=None, description="else taken from kafka.clusters_file")
    properties: ClientProperties = Field(default_factory=dict, description="librdkafka properties (SASL, TLS)")
    topics: TopicAllowlist = Field(default_factory=TopicAllowlist)


class KafkaConfig(_Strict):
    clusters_file: ConfigPath | None = Field(default=None, description="a clusters.yaml to take connections from")
    timeout: Duration = 10.0
    clusters: dict[Name, KafkaClusterTarget] = Field(default_factory=dict)


class Guardrails(_Strict):
    """All on by default; the defaults are the ones documented in docs/webhook.md."""

    grace_period: Duration = 30.0
    cooldown: Duration = 900.0
    max_actions_per_hour_per_playbook: int = Field(default=3, ge=0)
    max_actions_per_hour: int = Field(default=10, ge=0, description="the global brake, all playbooks together")
    max_targets_per_notification: int = Field(default=3, ge=1, description="blast radius")
    retention_floor: Duration = 3600.0
    max_replicas: int = Field(default=20, ge=1, description="ceiling for any scale action")
    pause_file: ConfigPath | None = Field(default=None, description="while this file exists, no new action starts")
    autoscaled_annotation: str = "kafka-obs.io/autoscaled"


class PlaybooksRef(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    file: ConfigPath = Path("playbooks.yaml")
    enable: list[str] = Field(default_factory=list, description="playbooks to enable in addition to the file's")


class WorkerConfig(_Strict):
    concurrency: int = Field(default=4, ge=1, le=64, description="remediations running at once (different targets)")
    poll_interval: Duration = 1.0


class Limits(_Strict):
    max_body_bytes: int = Field(
        default=8 << 20,
        ge=1024,
        description="a 10,000-alert group is ~3.8 MB; keep Alertmanager's max_alerts so that groups stay far below",
    )
    header_timeout: Duration = Field(default=10.0, description="a request's headers must arrive within this (408)")
    body_timeout: Duration = Field(default=30.0, description="a request's body must arrive within this (408)")
    max_connections: int = Field(
        default=256, ge=8, le=65536, description="open connections at most (also kept below the open-file limit)"
    )


class WebhookConfig(_Strict):
    auth: AuthConfig
    tls: TlsConfig | None = None
    limits: Limits = Field(default_factory=Limits)
    store: StoreConfig = Field(default_factory=StoreConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    playbooks: PlaybooksRef = Field(default_factory=PlaybooksRef)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    external_url: str = Field(default="", description="this webhook's URL, used as generatorURL of escalations")

    def audit_key(self) -> bytes:
        """The audit chain's key: ``audit.key``, else the key file (created on first use)."""
        if self.audit.key is not None:
            return self.audit.key.get_secret_value().encode()
        path = self.audit.key_file or self.store.path.with_name(self.store.path.name + ".audit-key")
        return load_or_create_key(path)

    def kafka_properties(self, cluster: str) -> dict[str, str] | None:
        """librdkafka properties for ``cluster`` (secrets revealed: for the client only), or None if unknown."""
        entry = self.kafka.clusters.get(cluster)
        if entry is None:
            return None
        props = {k: v.get_secret_value() for k, v in entry.properties.items()}
        if entry.bootstrap_servers:
            props["bootstrap.servers"] = entry.bootstrap_servers
            return props
        if self.kafka.clusters_file is not None:
            fleet = load_fleet(self.kafka.clusters_file)
            for known in fleet.clusters:
                if known.name == cluster:
                    return {**known.client_properties(), **props}
        return None


def _checks(document: Document, config: WebhookConfig) -> list[ConfigIssue]:
    issues = []
    for name, entry in config.kafka.clusters.items():
        if entry.bootstrap_servers is None and config.kafka.clusters_file is None:
            issues.append(document.issue(("kafka", "clusters", name), "needs bootstrap_servers or kafka.clusters_file"))
    for index, target in enumerate(config.kubernetes.deployments):
        if target.max_replicas is not None and target.max_replicas > config.guardrails.max_replicas:
            issues.append(
                document.issue(("kubernetes", "deployments", index, "max_replicas"), "above guardrails.max_replicas")
            )
    return issues


def load_config(path: str | Path, *, environ: dict[str, str] | None = None) -> WebhookConfig:
    """Load the webhook config; every relative path inside it (store, playbooks, pause file, TLS files, kubeconfig,
    clusters file, ``file:`` secrets, librdkafka file properties) is relative to the file, so the service behaves
    the same whatever directory it is started from."""
    context: dict[str, Any] = {} if environ is None else {"environ": environ}
    return load_model(path, WebhookConfig, context=context, check=_checks)
