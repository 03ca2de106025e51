"""The ``kafka-obs`` command: one entry point, a subcommand per component.

Each subcommand lives in its component as a module with ``configure(parser)`` and ``run(args) -> int``. Those
modules import only the standard library at module level, so ``kafka-obs --help`` stays fast and a broken optional
dependency of one component cannot stop the others from starting.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from kafka_obs import __version__
from kafka_obs.config.loader import ConfigError

COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("kafka_obs.sandbox.cli", "run a simulated Kafka fleet speaking the real wire protocol (not Kafka)"),
    "check-config": ("kafka_obs.config.cli", "validate a clusters.yaml and print one line per cluster"),
    "rules": ("kafka_obs.rules.cli", "generate the Prometheus rules (SLOs, alerts, aggregations) from slos.yaml"),
    "webhook": ("kafka_obs.webhook.cli", "run the self-healing Alertmanager webhook receiver"),
    "exporter": ("kafka_obs.exporter.cli", "serve Kafka metrics of every cluster in clusters.yaml on /metrics"),
    "dashboards": ("kafka_obs.dashboards.cli", "build the Grafana dashboards from jsonnet into generated/"),
    "demo": ("kafka_obs.platform.cli", "run the whole platform on the sandbox: Prometheus, Alertmanager, webhook"),
}
"""Subcommand → (module, one-line help)."""

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafka-obs",
        description="Observability for fleets of Apache Kafka clusters: exporter, SLO rules, dashboards, "
        "self-healing webhook and a protocol-level Kafka sandbox.",
    )
    parser.add_argument("--version", action="version", version=f"kafka-obs {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: a user sees one line, a developer can ask for more
        if os.environ.get("KAFKA_OBS_DEBUG"):
            raise
        print(f"kafka-obs {args.command}: error: {exc} (set KAFKA_OBS_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


def entrypoint() -> None:
    sys.exit(main())
