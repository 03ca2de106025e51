"""What every benchmark result says about the machine it ran on, measured rather than asserted.

Numbers taken while other work loads a 2-core machine are not comparable with quiet ones, so each result carries
the load averages before and after the run and a note derived from them.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

BUSY_SHARE = 0.5
"""A 1-minute load average above this share of the CPUs before the run marks it as taken under load. The load after
the run is recorded but not judged: it includes the benchmark's own processes."""


def snapshot() -> tuple[float, float, float]:
    return os.getloadavg()


def describe(before: tuple[float, float, float], after: tuple[float, float, float]) -> dict[str, Any]:
    cpus = os.cpu_count() or 1
    if before[0] > BUSY_SHARE * cpus:
        note = (
            f"taken under load: 1-minute load average {before[0]:.2f} on {cpus} CPUs before the run (other work was "
            "running); treat the timings as pessimistic"
        )
    else:
        note = f"quiet machine: 1-minute load average {before[0]:.2f} on {cpus} CPUs before the run"
    return {
        "cpus": cpus,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_before": [round(x, 2) for x in before],
        "loadavg_after": [round(x, 2) for x in after],
        "note": note,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
