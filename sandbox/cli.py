"""Run a simulated Kafka fleet (a simulator, not Kafka): one loopback listener per broker speaking the Kafka
protocol, a control HTTP API (docs/sandbox.md), and optionally an exporter clusters.yaml pointing at it.

Stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import threading
import time

DEFAULT_CONTROL = "127.0.0.1:9180"


def configure(parser: argparse.ArgumentParser) -> None:
    from kafka_obs import logs

    parser.add_argument(
        "--fleet", required=True, help="fleet file, or the name of one in sandbox/fleets (small, acme, scale)"
    )
    parser.add_argument(
        "--control",
        default=DEFAULT_CONTROL,
        metavar="HOST:PORT",
        help=f"control HTTP API address (default {DEFAULT_CONTROL}; port 0 picks a free one)",
    )
    parser.add_argument("--write-config", metavar="PATH", help="write an exporter clusters.yaml for this fleet here")
    parser.add_argument(
        "--jmx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve broker JMX (one port per broker, in clusters.yaml) when java is on PATH (default: on)",
    )
    logs.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    from kafka_obs import logs
    from kafka_obs.sandbox.runtime import Sandbox

    logs.setup(args)
    log = logging.getLogger("kafka_obs.sandbox")
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    java = shutil.which("java") is not None
    if args.jmx and not java:
        log.warning("java is not on PATH: running without broker JMX (the JMX metrics and panels stay empty)")
    sandbox = Sandbox.start(args.fleet, control=args.control, jmx=args.jmx and java)
    if sandbox.jmx is not None:
        log.info("broker JMX started (jmx_ports in the written clusters.yaml)")
    try:
        if args.write_config:
            sandbox.write_clusters_yaml(args.write_config)
            log.info("wrote exporter config", extra={"path": args.write_config})
        for name in sandbox.cluster_names():
            log.info("cluster ready", extra={"cluster": name, "bootstrap": sandbox.bootstrap_servers(name)})
        log.info(
            "sandbox ready (a simulator, not Kafka)",
            extra={"control": sandbox.control_url, "startup_seconds": round(time.monotonic() - started, 3)},
        )
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    log.info("stopped")
    return 0
