"""Validate a clusters.yaml: every problem is printed with the file, line and field path, and the exit status is 2.

On success, prints one line per cluster (no secret is ever printed) and exits 0.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="the clusters.yaml to check (or use --config.file)")
    parser.add_argument("--config.file", dest="config_file", help="the clusters.yaml to check")


def run(args: argparse.Namespace) -> int:
    from kafka_obs.config.clusters import load_fleet, summary

    path = args.file or args.config_file
    if not path:
        raise SystemExit("kafka-obs check-config: error: give the file to check, e.g. examples/clusters.yaml")
    fleet = load_fleet(path)
    for line in summary(fleet):
        print(line)
    print(f"{path}: ok, {len(fleet.clusters)} cluster{'s' if len(fleet.clusters) != 1 else ''}")
    return 0
