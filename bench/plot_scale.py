"""Draw the cost curve of bench/results/scale-curve.json as docs/scale-curve.svg (plain SVG, no plotting library).

Two panels against fleet size (partitions + committed offsets, as multiples of ``scale``): CPU seconds per
collection cycle (the exporter's, and the sandbox's serving it) with the straight line through the exporter's 1x
point for reference (a curve above it grows faster than linearly), and exporter RSS. Wall-clock cycle time is in
the table only: on a shared machine it measures the wait for a CPU as much as the work. A real-Kafka point
(bench/results/scale-real-kafka.json), when present, is drawn as a separate marker, and so are the peers' points at
1x where they ran on the ``scale`` fleet (bench/results/peers-sandbox-scale.json): the CPU of their first complete
/metrics (start-up and one full collection; they collect again on every scrape) and their peak RSS under 10
scrapers. A peer recorded as failed has no point.

``table()`` is the Markdown table docs/performance.md shows next to the plot (tests/exporter/test_docs.py checks
that the page carries it as generated from the committed results).

Usage: .venv/bin/python bench/plot_scale.py [results.json] [out.svg]   (prints the table)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scale-curve.json"
REAL = ROOT / "bench" / "results" / "scale-real-kafka.json"
PEERS = ROOT / "bench" / "results" / "peers-sandbox-scale.json"
PEER_COLORS = ("#9467bd", "#8c564b", "#e377c2")
OUT = ROOT / "docs" / "scale-curve.svg"

WIDTH, HEIGHT = 920, 380
PANEL_W, PANEL_H = 360, 260
MARGIN_L, MARGIN_T = 70, 50
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#7f7f7f")

Series = tuple[str, str, list[tuple[float, float]], bool]
"""(label, colour, points, dashed)."""


def _nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    while power > value:
        power /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _panel(x0: float, title: str, unit: str, series: Sequence[Series], *, x_max: float, ticks: Sequence[float]) -> str:
    y_max = _nice_max(max(y for _, _, points, _ in series for _, y in points) * 1.05)
    y0 = MARGIN_T + PANEL_H

    def sx(x: float) -> float:
        return x0 + x / x_max * PANEL_W

    def sy(y: float) -> float:
        return y0 - y / y_max * PANEL_H

    out = [
        f'<text x="{x0 + PANEL_W / 2}" y="{MARGIN_T - 22}" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text>",
        f'<line x1="{x0}" y1="{y0}" x2="{x0 + PANEL_W}" y2="{y0}" stroke="black"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{MARGIN_T}" stroke="black"/>',
        f'<text x="{x0 - 50}" y="{MARGIN_T + PANEL_H / 2}" transform="rotate(-90 {x0 - 50} {MARGIN_T + PANEL_H / 2})" '
        f'text-anchor="middle">{escape(unit)}</text>',
        f'<text x="{x0 + PANEL_W / 2}" y="{y0 + 36}" text-anchor="middle">fleet size (x scale: 2,500 partitions, '
        "20,000 committed offsets)</text>",
    ]
    for i in range(6):
        value = y_max * i / 5
        out.append(f'<line x1="{x0}" y1="{sy(value)}" x2="{x0 + PANEL_W}" y2="{sy(value)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{x0 - 6}" y="{sy(value) + 4}" text-anchor="end">{value:g}</text>')
    for tick in ticks:
        out.append(f'<text x="{sx(tick)}" y="{y0 + 16}" text-anchor="middle">{tick:g}x</text>')
    legend_y = MARGIN_T + 8
    for label, color, points, dashed in series:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        if len(points) > 1:
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        if not dashed:
            out.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{color}"/>' for x, y in points)
        out.append(
            f'<line x1="{x0 + 10}" y1="{legend_y}" x2="{x0 + 30}" y2="{legend_y}" stroke="{color}" '
            f'stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{x0 + 36}" y="{legend_y + 4}">{escape(label)}</text>')
        legend_y += 16
    return "\n".join(out)


def render(curve: dict[str, Any], real: dict[str, Any] | None = None, peers: dict[str, Any] | None = None) -> str:
    points = sorted(curve["points"], key=lambda p: p["factor"])
    shape = curve["shape_at_1x"]
    unit = shape["partitions"] + shape["committed_offsets"]

    def size(point: dict[str, Any]) -> float:
        return float((point["partitions"] + point["committed_offsets"]) / unit)

    factors = [p["factor"] for p in points]
    x_max = max(factors) * 1.05
    base = next(p for p in points if p["factor"] == min(factors))
    seconds: list[Series] = [
        ("exporter CPU per cycle", COLORS[0], [(size(p), p["cpu_seconds_per_cycle_median"]) for p in points], False),
        (
            "linear from 1x (exporter)",
            COLORS[3],
            [(0.0, 0.0), (x_max, base["cpu_seconds_per_cycle_median"] / size(base) * x_max)],
            True,
        ),
    ]
    sandbox = [
        (size(p), p["sandbox_cpu_seconds_per_cycle_median"])
        for p in points
        if p.get("sandbox_cpu_seconds_per_cycle_median")
    ]
    if sandbox:
        seconds.insert(2, ("sandbox CPU serving it", COLORS[2], sandbox, False))
    memory: list[Series] = [("exporter RSS", COLORS[0], [(size(p), p["exporter_rss_mb"]) for p in points], False)]
    if real is not None:
        real_size = (real["partitions"] + real["committed_offsets"]) / unit
        seconds.append(
            ("real Kafka: exporter CPU", "#ff7f0e", [(real_size, real["cpu_seconds_per_cycle_median"])], False)
        )
        memory.append(("real Kafka: exporter RSS", "#ff7f0e", [(real_size, real["exporter_rss_mb"])], False))
    ran = [
        (name, r) for name, r in (peers or {}).get("results", {}).items() if name != "kafka-obs" and "failed" not in r
    ]
    for (name, r), color in zip(ran, PEER_COLORS, strict=False):
        # the peers ran on the scale fleet itself: 1x by definition
        seconds.append(
            (f"{name}: CPU to its first /metrics", color, [(1.0, r["cpu_seconds_to_complete_metrics"])], False)
        )
        memory.append((f"{name}: peak RSS, 10 scrapers", color, [(1.0, r["peak_rss_mb"])], False))
    note = escape(curve["environment"]["note"])
    body = "\n".join(
        [
            _panel(MARGIN_L, "CPU seconds per collection cycle", "CPU seconds", seconds, x_max=x_max, ticks=factors),
            _panel(MARGIN_L + PANEL_W + 110, "Exporter memory", "RSS (MB)", memory, x_max=x_max, ticks=factors),
            f'<text x="{MARGIN_L}" y="{HEIGHT - 8}" font-size="11" fill="#555">{note}</text>',
        ]
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="12">\n'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>\n{body}\n</svg>\n'
    )


def table(curve: dict[str, Any]) -> str:
    """The results as the Markdown table of docs/performance.md, one row per size."""
    rows = [
        "| size | partitions | groups | committed offsets | series | cycle (wall) | exporter CPU per cycle "
        "| sandbox CPU per cycle | requests per cycle | exporter RSS | `/metrics` p99, 10 gzip scrapers "
        "| sandbox start |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in sorted(curve["points"], key=lambda p: p["factor"]):
        rows.append(
            f"| {p['factor']}x | {p['partitions']:,} | {p['groups']:,} | {p['committed_offsets']:,} "
            f"| {p['series']:,} | {p['cycle_seconds_median']:.2f} s | {p['cpu_seconds_per_cycle_median']:.2f} s "
            f"| {p['sandbox_cpu_seconds_per_cycle_median']:.2f} s | {p['requests_per_cycle_total']:.0f} "
            f"| {p['exporter_rss_mb']:.0f} MB | {p['scrape_latency_ms']['p99']:.1f} ms "
            f"| {p['sandbox_start_seconds']:.1f} s |"
        )
    return "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    results = Path(argv[0]) if argv else RESULTS
    out = Path(argv[1]) if len(argv) > 1 else OUT
    real = json.loads(REAL.read_text()) if REAL.exists() else None
    peers = json.loads(PEERS.read_text()) if PEERS.exists() else None
    curve = json.loads(results.read_text())
    out.write_text(render(curve, real, peers), encoding="utf-8")
    print(f"wrote {out}\n")
    print(table(curve))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
