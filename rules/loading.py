"""Read ``slos.yaml`` (and optionally ``clusters.yaml``) into the model, with cross-field checks and field paths.

Kept apart from the model so the checks that need context (which environments exist, other SLOs' names) are
reported with the same ``file:line: field.path: message`` as schema errors, through the project's one loader.
"""

from __future__ import annotations

from pathlib import Path

from kafka_obs.config.clusters import load_fleet
from kafka_obs.config.loader import ConfigIssue, Document, load_model
from kafka_obs.durations import format_duration
from kafka_obs.rules import windows
from kafka_obs.rules.model import MIN_BUDGET_SLICES, SLO, LatencySLI, RatioSLI, SLOFile, ThresholdSLI
from kafka_obs.rules.slo_rules import CLUSTER_LABELS

Problem = tuple[tuple[str | int, ...], str]


def slo_problems(slo: SLO, known: list[str]) -> list[Problem]:
    """Problems a single field cannot see (environments, thresholds, windows versus slices), located relative to
    the SLO so that both slos.yaml and the OpenSLO import can report them at their own paths."""
    problems: list[Problem] = []
    for env, target in slo.targets.items():
        where = ("targets", env)
        if env not in known:
            problems.append((where, f"unknown environment {env!r} (known: {', '.join(known)})"))
        if isinstance(slo.sli, ThresholdSLI | LatencySLI) and slo.threshold_for(env) is None:
            problems.append(((*where, "threshold"), "required for this SLI kind (or set sli.threshold)"))
        slices = target.window / slo.slice
        if abs(slices - round(slices)) > 1e-9 or round(slices) < 12:
            problems.append(
                ((*where, "window"), f"must be a whole number of at least 12 slices of {format_duration(slo.slice)}")
            )
        elif isinstance(slo.sli, ThresholdSLI) and target.error_budget * slices < MIN_BUDGET_SLICES - 1e-9:
            largest = target.error_budget * target.window / MIN_BUDGET_SLICES
            problems.append(
                (
                    (*where, "objective"),
                    f"{target.objective}% of {format_duration(target.window)} leaves an error budget of "
                    f"{target.error_budget * slices:.3g} slices of {format_duration(slo.slice)}; a budget must span "
                    f"at least {MIN_BUDGET_SLICES} slices so that one bad slice costs at most "
                    f"{100 // MIN_BUDGET_SLICES}% of it: set the SLO's slice to at most {largest:g}s",
                )
            )
        shortest = windows.burn_windows(target.window, slo.slice)[0].long
        if (
            isinstance(slo.sli, ThresholdSLI)
            and windows.min_bad_slices(slo.page_min_bad, slo.slice) * slo.slice > shortest
        ):
            problems.append(
                (
                    ("page_min_bad",),
                    f"longer than the {env} page's long window ({format_duration(shortest)}): "
                    "the page could never fire",
                )
            )
    if isinstance(slo.sli, RatioSLI | LatencySLI) and slo.sli.range < slo.slice:
        problems.append((("sli", "range"), "must be at least the slice, or counter increases go unseen"))
    if isinstance(slo.sli, ThresholdSLI) and slo.sli.resolution is not None and slo.sli.resolution > slo.slice:
        problems.append((("sli", "resolution"), "must be at most the slice, or a slice may be read at no scrape"))
    by_cluster = "cluster" in slo.group_by and set(slo.group_by) <= set(CLUSTER_LABELS)
    if slo.outage == "bad" and not (isinstance(slo.sli, ThresholdSLI) and by_cluster):
        problems.append(
            (
                ("outage",),
                "'bad' needs a threshold SLI grouped by cluster (and region) only: an outage is a bad slice of a "
                "cluster's time, and an event SLI has no events to count while the cluster is down",
            )
        )
    return problems


def _duplicates(document: Document, names: list[str], prefix: tuple[str | int, ...]) -> list[ConfigIssue]:
    seen: dict[str, int] = {}
    issues = []
    for index, name in enumerate(names):
        if name in seen:
            issues.append(document.issue((*prefix, index, "name"), f"duplicate SLO name {name!r}"))
        seen.setdefault(name, index)
    return issues


def known_environments(spec: SLOFile, fleet_environments: set[str] | None) -> list[str]:
    """The file's environments, narrowed to those a fleet actually has when ``clusters.yaml`` is given."""
    if fleet_environments is None:
        return list(spec.environments)
    return [env for env in spec.environments if env in fleet_environments]


def load_slos(path: str | Path, *, fleet_environments: set[str] | None = None) -> SLOFile:
    """Load and check ``slos.yaml``; raises :class:`~kafka_obs.config.loader.ConfigError` listing every problem."""

    def check(document: Document, spec: SLOFile) -> list[ConfigIssue]:
        issues = _duplicates(document, [slo.name for slo in spec.slos], ("slos",))
        if fleet_environments is not None:
            for index, env in enumerate(spec.environments):
                if env not in fleet_environments:
                    have = ", ".join(sorted(fleet_environments))
                    issues.append(
                        document.issue(
                            ("environments", index), f"unknown environment {env!r}: clusters.yaml has {have}"
                        )
                    )
        known = known_environments(spec, fleet_environments)
        for env in spec.severity if "severity" in spec.model_fields_set else ():
            if env not in spec.environments:
                issues.append(
                    document.issue(
                        ("severity", env), f"unknown environment {env!r} (known: {', '.join(spec.environments)})"
                    )
                )
        for index, slo in enumerate(spec.slos):
            issues += [document.issue(("slos", index, *loc), message) for loc, message in slo_problems(slo, known)]
        return issues

    return load_model(path, SLOFile, check=check)


def fleet_environments(path: str | Path) -> set[str]:
    return {cluster.environment for cluster in load_fleet(path).clusters}
