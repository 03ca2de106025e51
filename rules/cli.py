"""Generate the Prometheus rules bundle (SLOs, burn-rate and Kafka alerts, aggregations) from rules/slos.yaml.

`kafka-obs rules generate` writes rules/generated/*.yml (what a regional Prometheus evaluates) and
rules/generated/global/*.yml (the cross-region level, for a global Prometheus) deterministically; commit the result.
With the brokers' JMX scraped from prometheus/jmx_exporter's agent instead of read by the exporter, generate the
agent shape elsewhere: `kafka-obs rules generate --jmx-source agent --out DIR`.
Problems in the input files are printed with file, line and field path, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kafka_obs.rules.model import SLO

HERE = Path(__file__).resolve().parent
EXIT_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    gen = sub.add_parser("generate", help="write the rule files", description=__doc__)
    gen.add_argument("--slos", default=str(HERE / "slos.yaml"), help="SLO definitions (default: %(default)s)")
    gen.add_argument("--clusters", help="clusters.yaml: restricts environments to those the fleet has")
    gen.add_argument("--openslo", help="a directory of OpenSLO v1 files (kind: SLO, SLI) to import as well")
    gen.add_argument("--out", help=f"output directory (default: {HERE / 'generated'}, the exporter shape's bundle)")
    gen.add_argument(
        "--runbook-url",
        help="base of every alert's runbook_url, the alert's anchor appended (default: runbook_url of the SLO file)",
    )
    gen.add_argument(
        "--jmx-source",
        choices=["exporter", "agent"],
        help="where the brokers' JMX series come from: kafka-obs's exporter, or prometheus/jmx_exporter's agent "
        "scraped directly (default: jmx_source of the SLO file, else exporter)",
    )


def run(args: argparse.Namespace) -> int:
    from kafka_obs.rules import bundle
    from kafka_obs.rules.loading import fleet_environments, known_environments, load_slos
    from kafka_obs.rules.openslo import load_openslo_dir

    environments = fleet_environments(args.clusters) if args.clusters else None
    spec = load_slos(args.slos, fleet_environments=environments)
    if args.runbook_url:
        spec = spec.model_copy(update={"runbook_url": args.runbook_url})
    if args.jmx_source:
        spec = spec.model_copy(update={"jmx_source": args.jmx_source})
    if args.out is None and spec.jmx_source != "exporter":
        print(
            f"kafka-obs rules: error: {HERE / 'generated'} holds the bundle of the exporter's JMX series; "
            f"write the {spec.jmx_source} shape's bundle elsewhere with --out DIR",
            file=sys.stderr,
        )
        return EXIT_USAGE
    imported: tuple[SLO, ...] = ()
    if args.openslo:
        taken = {slo.name for slo in spec.slos}
        imported = load_openslo_dir(Path(args.openslo), known_environments(spec, environments), taken)
    origin = bundle.ORIGIN if Path(args.slos).resolve() == HERE / "slos.yaml" else Path(args.slos).name
    if args.openslo:
        origin += f" and OpenSLO files in {Path(args.openslo).name}/"
    if spec.jmx_source != "exporter":
        origin += f" (jmx_source: {spec.jmx_source})"
    files = bundle.build(spec, imported, origin)
    written = bundle.write(Path(args.out) if args.out else HERE / "generated", files)
    for path in written:
        print(path)
    return 0
