"""Every generated dashboard follows grafana/dashboard-linter's rules and the monitoring-mixins practice, in the shape
of each JMX source (the committed exporter shape and the jmx_exporter agent's)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboards.grafana import (
    BUILTINS,
    JMX_SOURCES,
    Dashboard,
    calls,
    every_shape,
    panels,
    queries,
    range_of,
    variable_names,
    variables,
)

DASHBOARDS = every_shape()
EXPECTED_UIDS = {
    "kafka-obs-executive.json": "kafka-obs-executive",
    "kafka-obs-cluster.json": "kafka-obs-cluster",
    "kafka-obs-consumer-groups.json": "kafka-obs-consumer-groups",
    "kafka-obs-slo.json": "kafka-obs-slo",
    "kafka-obs-self-healing.json": "kafka-obs-self-healing",
}
"""Written out by hand: a uid is a bookmark and an API handle, renaming one must be a deliberate test change."""

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
FLEET = ["region", "environment", "cluster"]
by_name = pytest.mark.parametrize("name", sorted(DASHBOARDS))


@pytest.mark.parametrize("source", JMX_SOURCES)
def test_the_five_dashboards_exist_with_stable_unique_uids(source: str) -> None:
    """Each JMX source's dashboards have the same uids: one fleet deploys one shape, and links and bookmarks hold."""
    shape = {name.removeprefix(f"{source}/"): d for name, d in DASHBOARDS.items() if name.startswith(f"{source}/")}
    assert {name: d["uid"] for name, d in shape.items()} == EXPECTED_UIDS
    assert len({d["uid"] for d in shape.values()}) == len(shape)
    assert len({d["title"] for d in shape.values()}) == len(shape)


@by_name
def test_one_datasource_variable_named_datasource(name: str) -> None:
    sources = [v for v in DASHBOARDS[name]["templating"]["list"] if v["type"] == "datasource"]
    assert [(v["name"], v["query"]) for v in sources] == [("datasource", "prometheus")]


@by_name
def test_every_panel_and_target_reads_the_datasource_variable(name: str) -> None:
    for panel in panels(DASHBOARDS[name]):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])
    for variable in DASHBOARDS[name]["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


@by_name
def test_fleet_variables_are_chained_multi_select_with_all(name: str) -> None:
    found = variables(DASHBOARDS[name])
    for position, variable_name in enumerate(FLEET):
        variable = found[variable_name]
        assert variable["type"] == "query"
        assert variable["multi"] is True
        assert variable["includeAll"] is True
        query = variable["query"]["query"]
        assert variable["definition"] == query
        # chained: filtered by every fleet variable before it, and by none after it
        assert variable_names(query) == set(FLEET[:position]), query
    names = [v["name"] for v in DASHBOARDS[name]["templating"]["list"]]
    assert names[:4] == ["datasource", *FLEET], "datasource first, then the fleet variables in chain order"


@by_name
def test_every_variable_used_is_defined(name: str) -> None:
    defined = set(variables(DASHBOARDS[name])) | set(BUILTINS)
    for query in queries({name: DASHBOARDS[name]}):
        assert variable_names(query.expr) <= defined, query.where
    for panel in panels(DASHBOARDS[name]):
        assert variable_names(panel["title"]) <= defined, panel["title"]


@by_name
def test_tags_title_and_link_row(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert "kafka-obs" in dashboard["tags"]
    assert dashboard["title"].startswith("Kafka / ")
    assert dashboard["description"]
    (row,) = [link for link in dashboard["links"] if link["type"] == "dashboards"]
    assert row["tags"] == ["kafka-obs"]
    assert row["keepTime"] is True
    assert row["includeVars"] is True
    assert row["asDropdown"] is False


@by_name
def test_every_panel_has_title_description_unit_and_a_query(name: str) -> None:
    for panel in panels(DASHBOARDS[name]):
        title = panel.get("title", "")
        assert title.strip(), panel
        assert panel.get("description", "").strip(), title
        assert panel["fieldConfig"]["defaults"].get("unit"), title
        assert panel["targets"], f"{title}: a panel without a query"
        for target in panel["targets"]:
            assert target["expr"].strip(), (title, target["refId"])
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), title


def test_every_rate_irate_increase_uses_rate_interval() -> None:
    """`$__rate_interval` everywhere; the only exception is `$__range` in an instant query ("over the range shown",
    e.g. the executive's 24h self-healing totals under a 24h time override), never a hard-coded window."""
    seen = 0
    for query in queries(DASHBOARDS):
        for function, argument in calls(query.expr, ("rate", "irate", "increase")):
            seen += 1
            window = range_of(argument)
            allowed = {"$__rate_interval", "$__range"} if query.instant else {"$__rate_interval"}
            assert window in allowed, f"{query.where}: {function}(...[{window}])"
    assert seen >= 15, "the check found the calls it is meant to check"


def test_no_hard_coded_job_or_instance() -> None:
    for query in queries(DASHBOARDS):
        assert not re.search(r"\b(job|instance)\s*(=|!=|=~|!~)", query.expr), query.where


def test_fixed_windows_are_shown_as_such() -> None:
    """A panel with a time override says so in its title, so nobody reads a 24h total as a range total."""
    for name, dashboard in DASHBOARDS.items():
        for panel in panels(dashboard):
            if "timeFrom" in panel:
                assert f"({panel['timeFrom']})" in panel["title"], (name, panel["title"])
                assert panel["hideTimeOverride"] is False


@by_name
def test_layout_fits_the_grid_without_overlap(name: str) -> None:
    cells: set[tuple[int, int]] = set()
    ids = []
    for panel in panels(DASHBOARDS[name]):
        ids.append(panel["id"])
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
    assert len(ids) == len(set(ids))


def _data_links(panel: dict[str, Any]) -> list[dict[str, Any]]:
    config = panel["fieldConfig"]
    found = list(config["defaults"].get("links", []))
    for override in config["overrides"]:
        for prop in override["properties"]:
            if prop["id"] == "links":
                found += prop["value"]
    return found


def test_drill_down_links_keep_time_range_and_variables() -> None:
    uids = {d["uid"] for d in DASHBOARDS.values()}
    linked: set[str] = set()
    for name, dashboard in DASHBOARDS.items():
        for panel in panels(dashboard):
            for link in _data_links(panel):
                url = link["url"]
                uid = re.match(r"/d/([\w-]+)\?", url)
                assert uid, (name, panel["title"], url)
                assert uid.group(1) in uids, url
                linked.add(uid.group(1))
                assert "${__url_time_range}" in url, url
                assert "${datasource:queryparam}" in url, url
                for variable in FLEET:
                    assert f"${{{variable}:queryparam}}" in url or f"var-{variable}=" in url, (url, variable)
    executive = EXPECTED_UIDS["kafka-obs-executive.json"]
    assert linked >= uids - {executive}, "the executive overview drills down into every other dashboard"


def _cell_colours(dashboard: Dashboard, panel_title: str) -> dict[str, dict[str, Any]]:
    (panel,) = [p for p in panels(dashboard) if p["title"] == panel_title]
    return {
        override["matcher"]["options"]: {prop["id"]: prop["value"] for prop in override["properties"]}
        for override in panel["fieldConfig"]["overrides"]
    }


def test_slo_status_table_is_colour_coded() -> None:
    columns = _cell_colours(DASHBOARDS["exporter/kafka-obs-executive.json"], "SLO status")
    status = columns["Status"]
    assert status["custom.cellOptions"]["type"] == "color-background"
    options = status["mappings"][0]["options"]
    assert {code: (o["text"], o["color"]) for code, o in options.items()} == {
        "0": ("healthy", "green"),
        "1": ("warning", "orange"),
        "2": ("critical", "red"),
    }
    remaining = columns["Budget remaining"]
    assert remaining["unit"] == "percentunit"
    assert [step["value"] for step in remaining["thresholds"]["steps"]] == [None, 0.2, 0.5]
    assert columns["Time to exhaustion"]["unit"] == "s"
