"""Build the Grafana dashboards from their jsonnet sources into deterministic JSON files.

`kafka-obs dashboards build` rewrites dashboards/generated/ (the committed copy Grafana provisioning mounts);
`--out DIR` writes elsewhere; `--check` writes nothing and exits 1 when the committed files are stale, which is what
CI runs after changing a jsonnet source.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="render every dashboard to JSON", description=__doc__)
    build.add_argument("--out", metavar="DIR", help="output directory (default: the package's generated/ folder)")
    build.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output would change")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kafka_obs.dashboards.build import GENERATED_DIR, differences, render, write

    out = Path(args.out) if args.out else GENERATED_DIR
    rendered = render()
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
