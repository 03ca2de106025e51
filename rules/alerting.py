"""What every generated alert shares: mixtool's conventions, applied in one place.

CamelCase names with the ``Kafka`` prefix, ``severity`` in critical|warning|info, a static ``summary`` ending in a
period, a templated ``description`` and a ``runbook_url`` pointing at the alert's section of ``docs/runbook.md``
(GitHub anchors are the lower-cased heading, and each section's heading is the alert name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from kafka_obs.rules.ruleset import Rule

AlertSeverity = Literal["critical", "warning", "info"]


def runbook_anchor(alert: str) -> str:
    return alert.lower()


def labels_text(names: Iterable[str]) -> str:
    """``cluster={{ $labels.cluster }}, ...`` for a description, in the order given."""
    return ", ".join(f"{name}={{{{ $labels.{name} }}}}" for name in names)


def alert(
    name: str,
    expr: str,
    *,
    severity: AlertSeverity,
    summary: str,
    description: str,
    runbook_base: str,
    for_: float | None = None,
    keep_firing_for: float | None = None,
    labels: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> Rule:
    annotations = {
        "summary": summary,
        "description": description,
        "runbook_url": f"{runbook_base}#{runbook_anchor(name)}",
        **(extra or {}),
    }
    return Rule(
        alert=name,
        expr=expr,
        for_=for_,
        keep_firing_for=keep_firing_for,
        labels={**(labels or {}), "severity": severity},
        annotations=annotations,
    )
