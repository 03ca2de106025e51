"""Serve the broker, topic, partition and consumer-group metrics of every cluster in clusters.yaml on one /metrics.

Each cluster is collected in the background on its priority's interval (critical 30s, high 60s, medium 120s,
low 300s, or `intervals:` / per-cluster `interval:` in clusters.yaml); scrapes only read the last snapshot.
Shard a large fleet across exporters with --region / --cluster.
"""

from __future__ import annotations

import argparse

DEFAULT_LISTEN = ":9308"


def _timeout(text: str) -> float:
    """A finite number of seconds in (0, 300]: NaN or inf would reach librdkafka as a nonsense millisecond count."""
    import math

    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(seconds) or not 0 < seconds <= 300:
        raise argparse.ArgumentTypeError(f"expected seconds greater than 0 and at most 300, got {text!r}")
    return seconds


def configure(parser: argparse.ArgumentParser) -> None:
    from kafka_obs import logs

    parser.add_argument("--config.file", dest="config_file", default="clusters.yaml", help="the fleet's clusters.yaml")
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=DEFAULT_LISTEN,
        help="[host]:port to serve /metrics on (default :9308, kafka_exporter's port)",
    )
    parser.add_argument(
        "--region", action="append", dest="regions", metavar="REGION", help="only clusters of this region (repeatable)"
    )
    parser.add_argument(
        "--cluster", action="append", dest="clusters", metavar="NAME", help="only this cluster (repeatable)"
    )
    parser.add_argument(
        "--kafka.timeout",
        dest="kafka_timeout",
        type=_timeout,
        default=10.0,
        help="seconds one Kafka admin request may take before its stage fails (default 10, at most 300)",
    )
    logs.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from kafka_obs import logs
    from kafka_obs.clock import SystemClock
    from kafka_obs.config.clusters import load_fleet
    from kafka_obs.config.secrets import Redactor
    from kafka_obs.exporter.app import Exporter
    from kafka_obs.exporter.canary_client import ConfluentCanaryClient
    from kafka_obs.exporter.confluent_client import ConfluentKafkaAdmin
    from kafka_obs.exporter.jmx import JmxHelper, jmx_collectors
    from kafka_obs.exporter.kafka_python import KafkaPythonIncompatible, check_version
    from kafka_obs.exporter.server import parse_listen_address

    host, port = parse_listen_address(args.listen_address)
    loaded = load_fleet(args.config_file)
    redact = Redactor.for_configs(loaded)  # every secret of the file, also of clusters this shard does not serve
    logs.setup(args, redact=redact)
    log = logging.getLogger("kafka_obs.exporter")
    try:
        check_version()
    except KafkaPythonIncompatible as exc:
        log.error(str(exc))
        return 2
    fleet = loaded.select(regions=args.regions, names=args.clusters)
    if not fleet.clusters:
        log.error("no cluster matches --region/--cluster", extra={"regions": args.regions, "clusters": args.clusters})
        return 2
    timeout = args.kafka_timeout
    jmx = JmxHelper()  # one JVM for every cluster's brokers, started on the first JMX read
    exporter = Exporter(
        fleet,
        clock=SystemClock(),
        client_factory=lambda cluster: ConfluentKafkaAdmin(cluster, timeout=timeout),
        plugin_factories=[jmx_collectors(jmx)],
        redact=redact,
        canary_client_factory=lambda cluster: ConfluentCanaryClient(cluster, timeout=timeout),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    exporter.serve(host, port)
    exporter.start_workers()
    log.info("exporter started", extra={"clusters": ",".join(c.name for c in fleet.clusters)})
    try:
        stop.wait()
    finally:
        exporter.stop()
        jmx.close()
    return 0
