"""Build the Grafana dashboards from their jsonnet sources into deterministic JSON files.

`kafka-obs dashboards build` rewrites dashboards/generated/ (the committed copy Grafana provisioning mounts);
`--out DIR` writes elsewhere; `--check` writes nothing and exits 1 when the committed files are stale, which is what
CI runs after changing a jsonnet source. With the brokers' JMX scraped from prometheus/jmx_exporter's agent instead of
read by the exporter: `kafka-obs dashboards build --jmx-source agent --out DIR`.
"""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="render every dashboard to JSON", description=__doc__)
    build.add_argument("--out", metavar="DIR", help="output directory (default: the package's generated/ folder)")
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output would change")
    build.add_argument(
        "--jmx-source",
        choices=["exporter", "agent"],
        default="exporter",
        help="where the brokers' JMX series come from: kafka-obs's exporter (default), or prometheus/jmx_exporter's "
        "agent scraped directly (needs --out)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kafka_obs.dashboards.build import GENERATED_DIR, differences, render, write

    if args.jmx_source != "exporter" and not args.out:
        print(
            f"kafka-obs dashboards: error: {GENERATED_DIR} holds the dashboards of the exporter's JMX series; "
            f"write the {args.jmx_source} shape's dashboards elsewhere with --out DIR",
            file=sys.stderr,
        )
        return EXIT_USAGE
    out = Path(args.out) if args.out else GENERATED_DIR
    rendered = render(jmx_source=args.jmx_source)
    if args.check:
        stale = differences(rendered, out)
        for name in stale:
            print(f"{out / name}: stale, run `kafka-obs dashboards build`")
        return 1 if stale else 0
    written, removed = write(rendered, out)
    for name in written:
        print(f"wrote {out / name}")
    for name in removed:
        print(f"removed {out / name}")
    print(f"{out}: {len(rendered)} dashboards, {len(written)} changed, {len(removed)} removed")
    return 0
