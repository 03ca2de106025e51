"""Run the whole platform on the embedded sandbox: the sandbox fleet, one exporter and one Prometheus per region
with the generated rules, the global Prometheus federating them, Alertmanager and the self-healing webhook
(playbooks enabled against the sandbox). Prints the URLs; Ctrl-C (or SIGTERM) stops everything and removes the
work directory unless --keep. Without the prometheus / prometheus-alertmanager binaries it runs what it can and
says what is missing. See docs/platform.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    from kafka_obs import logs

    parser.add_argument(
        "--fleet", default="acme", help="sandbox fleet name or file (default acme: 5 clusters, 3 regions)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="a new or empty directory for configs, data and logs (default: temp)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data) after stopping")
    parser.add_argument(
        "--kafka",
        choices=("sandbox", "real"),
        default="sandbox",
        help="sandbox (default): the simulated fleet only; real: also a 3-node Apache Kafka cluster (needs Java and "
        "`make kafka`), monitored and remediated like the others",
    )
    logs.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    from kafka_obs.platform import demo as demos

    stopping = threading.Event()

    def interrupt(signum: int, _frame: object) -> None:
        if stopping.is_set():
            return  # a second signal must not cut the cleanup short and leave orphans
        stopping.set()
        raise KeyboardInterrupt  # also ends a start-up in progress; cleanup happens in `finally`

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        demos.preflight(args.kafka)
        workdir = demos.Workdir.prepare(args.workdir)
    except demos.DemoError as exc:
        print(f"kafka-obs demo: {exc}", file=sys.stderr)
        return 2
    started: demos.Demo | None = None
    dead: list[str] = []
    try:
        print(f"kafka-obs demo: starting the {args.fleet} fleet and the platform in {workdir.path} ...", flush=True)
        started = demos.start(args.fleet, workdir.path, log_level=args.log_level, kafka=args.kafka)
        print(demos.banner(started, args.fleet, workdir.path, args.keep), flush=True)
        dead = demos.wait(started, stopping.is_set)
    except KeyboardInterrupt:
        pass
    except (demos.DemoError, OSError, RuntimeError, TimeoutError) as exc:
        print(f"kafka-obs demo: {exc}", file=sys.stderr)
        dead = ["start-up"]
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        print("kafka-obs demo: stopping ...", flush=True)
        if started is not None:
            started.stop()
        if args.keep:
            print(f"kafka-obs demo: kept {workdir.path}", flush=True)
        else:
            workdir.remove()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if dead:
        print(f"kafka-obs demo: stopped because {', '.join(dead)} failed; see the logs (--keep keeps them)", flush=True)
        return 1
    print("kafka-obs demo: stopped", flush=True)
    return 0
