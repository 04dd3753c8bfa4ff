"""The report's pictures, drawn as inline SVG by hand: nothing to fetch or run at view time.

Only presentation attributes are used (no ``style`` attributes, no scripts), so the same SVG
shows inside the dashboard under its Content-Security-Policy, in an HTML report opened from
disk, and as an image file beside a Markdown report. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

CAMPAIGN = "#b3261e"
LEGIT = "#9aa3b5"
INK = "#1d2433"
MUTED = "#5b6477"
FONT = 'font-family="system-ui, sans-serif"'
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>' + "".join(body) + "</svg>"
    )


def _text(
    x: float, y: float, s: str, size: int = 11, anchor: str = "start", fill: str = INK
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" {FONT}>{escape(s)}</text>'
    )


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for label, colour in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>')
        out.append(_text(x + 14, y, label))
        x += 24 + 7 * len(label)
    return out


def daily_chart(rows: Sequence[dict[str, Any]], title: str = "Exchanges per day") -> str:
    """Stacked bars per day: the campaign's exchanges (red) under everyone else's (grey)."""
    width, height, left, right, top, bottom = 760, 260, 60, 12, 30, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [_text(left, 16, title, 13)]
    if not rows:
        body.append(_text(width / 2, height / 2, "no exchanges", anchor="middle", fill=MUTED))
        return _svg(width, height, title, body)
    peak = _nice_max(max(r["campaign"] + r["legitimate"] for r in rows))
    step = plot_w / len(rows)
    bar = max(step * 0.8, 1.0)
    for i in range(5):
        v = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            'stroke="#e3e6ee" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y + 4, f"{v:,.0f}", 10, "end", MUTED))
    label_every = max(1, math.ceil(len(rows) / 10))
    for i, r in enumerate(rows):
        x = left + i * step + (step - bar) / 2
        hc = plot_h * r["campaign"] / peak
        hl = plot_h * r["legitimate"] / peak
        base = top + plot_h
        if hc > 0:
            body.append(
                f'<rect x="{x:.1f}" y="{base - hc:.1f}" width="{bar:.1f}" height="{hc:.1f}" '
                f'fill="{CAMPAIGN}"><title>{escape(str(r["day"]))}: {r["campaign"]:,} campaign'
                "</title></rect>"
            )
        if hl > 0:
            body.append(
                f'<rect x="{x:.1f}" y="{base - hc - hl:.1f}" width="{bar:.1f}" '
                f'height="{hl:.1f}" fill="{LEGIT}"><title>{escape(str(r["day"]))}: '
                f"{r['legitimate']:,} other</title></rect>"
            )
        if i % label_every == 0:
            body.append(_text(x + bar / 2, base + 14, str(r["day"])[5:], 10, "middle", MUTED))
    body += _legend(
        left, height - 10, [("campaign exchanges", CAMPAIGN), ("all other exchanges", LEGIT)]
    )
    return _svg(width, height, title, body)


def share_bars(
    rows: Sequence[dict[str, Any]], key: str, title: str, population: str = "population"
) -> str:
    """Horizontal bars, two per row: the campaign's share and the population's."""
    width, row_h, left, right, top = 760, 30, 170, 60, 30
    height = top + max(len(rows), 1) * row_h + 28
    plot_w = width - left - right
    body = [_text(10, 16, title, 13)]
    if not rows:
        body.append(_text(width / 2, top + 14, "nothing to compare", anchor="middle", fill=MUTED))
    for i, r in enumerate(rows):
        y = top + i * row_h
        body.append(_text(left - 8, y + 15, str(r[key]), 11, "end"))
        for j, (field, colour) in enumerate((("campaign", CAMPAIGN), ("population", LEGIT))):
            w = plot_w * max(0.0, min(1.0, float(r[field])))
            yy = y + 3 + j * 12
            body.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="10" fill="{colour}"/>')
            body.append(_text(left + w + 4, yy + 9, f"{100 * float(r[field]):.0f}%", 9))
    body += _legend(left, height - 8, [("campaign", CAMPAIGN), (population, LEGIT)])
    return _svg(width, height, title, body)


def heatmap(grid: Sequence[Sequence[int]], title: str, colour: str = CAMPAIGN) -> str:
    """Hour of the week (UTC): one cell per weekday and hour, darker with more exchanges."""
    cell, left, top = 26, 40, 30
    width, height = left + 24 * cell + 10, top + 7 * cell + 24
    peak = max((v for row in grid for v in row), default=0) or 1
    r0, g0, b0 = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    body = [_text(10, 16, title, 13)]
    for d, row in enumerate(grid):
        body.append(_text(left - 6, top + d * cell + 17, DAYS[d], 10, "end", MUTED))
        for h, v in enumerate(row):
            t = v / peak
            r = round(255 - (255 - r0) * t)
            g = round(255 - (255 - g0) * t)
            b = round(255 - (255 - b0) * t)
            body.append(
                f'<rect x="{left + h * cell}" y="{top + d * cell}" width="{cell - 1}" '
                f'height="{cell - 1}" fill="#{r:02x}{g:02x}{b:02x}" stroke="#eef0f5">'
                f"<title>{DAYS[d]} {h:02d}h: {v:,}</title></rect>"
            )
    for h in range(0, 24, 3):
        body.append(
            _text(left + h * cell + cell / 2, top + 7 * cell + 14, f"{h:02d}", 10, "middle", MUTED)
        )
    return _svg(width, height, title, body)


def graph_picture(graph: dict[str, Any], title: str = "Account graph") -> str:
    """The member graph (``facts.member_graph``): members as dots (core red, peripheral
    orange, aggregated grey), links as lines, laid out by Fruchterman–Reingold from a circle
    (deterministic)."""
    import igraph

    width, height, pad = 760, 520, 30
    nodes, edges = graph["nodes"], graph["edges"]
    body = [_text(10, 16, title, 13)]
    if not nodes:
        body.append(_text(width / 2, height / 2, "no members", anchor="middle", fill=MUTED))
        return _svg(width, height, title, body)
    index = {n["id"]: i for i, n in enumerate(nodes)}
    pairs = [(index[e["source"]], index[e["target"]]) for e in edges]
    g = igraph.Graph(n=len(nodes), edges=pairs)
    start = g.layout_circle().coords
    layout = g.layout_fruchterman_reingold(
        seed=start, niter=300, weights=[float(e.get("weight", 1.0)) for e in edges] or None
    ).coords
    xs, ys = [p[0] for p in layout], [p[1] for p in layout]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 2 * pad) / ((x1 - x0) or 1)
    sy = (height - 2 * pad - 20) / ((y1 - y0) or 1)

    def at(i: int) -> tuple[float, float]:
        return pad + (xs[i] - x0) * sx, pad + 20 + (ys[i] - y0) * sy

    colours = {"core": CAMPAIGN, "peripheral": "#d97706", "more": LEGIT}
    for e in edges:
        (ax, ay), (bx, by) = at(index[e["source"]]), at(index[e["target"]])
        w = 0.4 + 1.6 * min(float(e.get("weight", 0.5)), 1.0)
        body.append(
            f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" '
            f'stroke="#c3c8d4" stroke-width="{w:.2f}"/>'
        )
    for i, n in enumerate(nodes):
        x, y = at(i)
        r = 9 if n["kind"] == "more" else 5
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colours.get(n["kind"], INK)}">'
            f"<title>{escape(n['label'])}</title></circle>"
        )
        if n["kind"] == "more":
            body.append(_text(x + 12, y + 4, n["label"], 10))
    note = f"{graph['drawn']:,} of {graph['members']:,} members drawn"
    if graph["aggregated"]:
        note += f"; {graph['aggregated']:,} aggregated"
    body.append(_text(width - 10, 16, note, 10, "end", MUTED))
    return _svg(width, height, title, body)
