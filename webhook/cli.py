"""Run the self-healing webhook: an Alertmanager receiver that remediates Kafka incidents, verifies the result
against Prometheus, rolls back, escalates through Alertmanager and keeps a tamper-evident audit log.

Dry-run until a playbook is enabled. See docs/webhook.md and webhook/example.yaml.
"""

from __future__ import annotations

import argparse
import logging
import signal
from typing import TYPE_CHECKING

from kafka_obs import logs

if TYPE_CHECKING:
    from kafka_obs.config.secrets import Redactor
    from kafka_obs.webhook.config import WebhookConfig

DEFAULT_LISTEN = ":9097"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config.file", dest="config_file", required=True, help="webhook config (YAML)")
    parser.add_argument(
        "--web.listen-address", dest="listen", default=DEFAULT_LISTEN, help=f"HOST:PORT to listen on ({DEFAULT_LISTEN})"
    )
    logs.add_flags(parser)


def split_listen(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--web.listen-address must be HOST:PORT, got {address!r}")
    return (host.strip("[]") or "0.0.0.0"), int(port)  # noqa: S104 (":PORT" means every interface, as in Prometheus)


def redactor(config: WebhookConfig) -> Redactor:
    """Every secret the webhook may hand a client: its own config's and those of the clusters file it names (loaded
    here, so a broken clusters file stops the start with its file:line instead of failing the first action)."""
    from kafka_obs.config.clusters import load_fleet
    from kafka_obs.config.secrets import Redactor

    configs: list[object] = [config]
    if config.kafka.clusters_file is not None:
        configs.append(load_fleet(config.kafka.clusters_file))
    return Redactor.for_configs(*configs)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from kafka_obs.webhook.config import load_config
    from kafka_obs.webhook.playbooks import load_playbooks
    from kafka_obs.webhook.server import ConnectionGuard, connection_limits, protocol_class
    from kafka_obs.webhook.service import build_service

    config = load_config(args.config_file)
    playbooks = load_playbooks(config.playbooks.file, config.playbooks.enable)
    host, port = split_listen(args.listen)
    logs.setup(args, redact=redactor(config))  # client errors quoting a secret never reach the log
    logs.rate_limit()  # a flood of identical errors (a client storm, a dead disk) must not become a flood of logs
    log = logging.getLogger("kafka_obs.webhook")
    service = build_service(config, playbooks)
    if service.auth.anonymous:
        log.warning("auth.allow_anonymous is set: anyone who can reach this port can post alerts")
    enabled = [p.name for p in playbooks if p.enabled]
    log.info(
        "webhook starting",
        extra={
            "listen": f"{host}:{port}",
            "store": str(config.store.path),
            "playbooks": len(playbooks),
            "enabled": ",".join(enabled) or "none (dry-run)",
        },
    )
    tls: dict[str, str] = {}
    if config.tls is not None:
        tls = {"ssl_certfile": str(config.tls.cert_file), "ssl_keyfile": str(config.tls.key_file)}
        if config.tls.client_ca_file is not None:
            import ssl

            tls["ssl_ca_certs"] = str(config.tls.client_ca_file)
            tls["ssl_cert_reqs"] = ssl.CERT_REQUIRED  # type: ignore[assignment]
    limits = config.limits
    cap, backlog = connection_limits(limits.max_connections)
    guard = ConnectionGuard(
        max_connections=cap,
        header_timeout=limits.header_timeout,
        on_close=lambda reason: service.metrics.connections_closed.labels(reason).inc(),
    )
    assert service.app is not None, "build_service creates the app"
    server = uvicorn.Server(
        uvicorn.Config(
            service.app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            http=protocol_class(guard),
            backlog=backlog,
            **tls,  # type: ignore[arg-type]
        )
    )
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler that was installed before it;
    # with this one, that ends the process normally (exit 0) after the worker and the database are closed.
    signal.signal(signal.SIGTERM, lambda *_: None)
    service.worker.start()
    try:
        server.run()
    finally:
        service.close()
        log.info("webhook stopped")
    return 0
