"""Charts drawn as SVG on the server: no charting library, no script, nothing fetched.

Each function takes plain figures and returns markup to put straight into a page. Every mark
has a <title> (a tooltip on a computer, read out by a screen reader) saying the figure, its n
and how it was worked out; the tables under the charts hold the same figures for reading.
Sizes are in viewBox units, so a chart scales to the width of a phone or a desk screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Drawn for a phone's width (about 360 px, where the text comes out at 12 px) and shown up to 30rem
# wide on a desk, where the text is about as large as the page's.
WIDTH = 360
FONT = 12.5
LABEL = 104          # room for a community's name (8 characters) on the left
RIGHT = 46           # room for the figure on the right
ROW = 21
TOP = 22             # room for the axis labels

#: Best to worst answers (green to red), then answers off the scale (grey).
LEVEL_COLOURS = ("#1a7f37", "#6cc07a", "#c9c9c9", "#f0a35e", "#c9372c", "#8a1c14")
OFF_SCALE_COLOUR = "#9aa4ad"
CHOICE_COLOURS = ("#2f6db5", "#e08a1e", "#3a9d5d", "#b84a9f", "#8c6d31", "#4aa3c2", "#d05c5c", "#6b6ecf")


@dataclass(frozen=True)
class Whisker:
    name: str
    value: float | None
    low: float | None
    high: float | None
    #: The tooltip: the figure, n, filter and formula in words.
    title: str
    href: str | None = None
    #: Marked out (the weakest, say).
    emphasis: bool = False


def _svg(height: float, body: list[str], label: str) -> Markup:
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{escape(label)}" '
                  f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}">{"".join(body)}</svg>')


def _cut(text: str, length: int = 8) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def whisker_chart(rows: Sequence[Whisker], *, label: str, low: float = 0.0, high: float = 1.0,
                  reference: float | None = None, reference_label: str = "", percent: bool = True,
                  reverse: bool = False) -> Markup:
    """One row per group: a point at its figure and a line across its interval, on a common axis.
    ``reverse`` draws the axis from high to low (ranks: 1 on the left)."""
    plot = WIDTH - LABEL - RIGHT

    def x(v: float) -> float:
        share = (v - low) / (high - low) if high > low else 0.5
        return LABEL + (1 - share if reverse else share) * plot

    def fmt(v: float) -> str:
        return f"{100 * v:.0f}%" if percent else f"{v:.0f}"

    height = TOP + ROW * max(len(rows), 1) + 8
    body = []
    for tick in (low + (high - low) * k / 4 for k in range(5)):
        tick_x = x(tick)
        body.append(f'<line x1="{tick_x:.1f}" y1="{TOP - 6}" x2="{tick_x:.1f}" y2="{height - 6:.0f}" stroke="#e3e6e8"/>'
                    f'<text x="{tick_x:.1f}" y="{TOP - 10}" text-anchor="middle" fill="#5b6670">{fmt(tick)}</text>')
    if reference is not None:
        ref_x = x(reference)
        body.append(f'<line x1="{ref_x:.1f}" y1="{TOP - 6}" x2="{ref_x:.1f}" y2="{height - 6:.0f}" stroke="#2f6db5" '
                    f'stroke-dasharray="4 3"><title>{escape(reference_label)}</title></line>')
    for i, row in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        colour = "#c9372c" if row.emphasis else "#1f2d3a"
        name = f'<text x="{LABEL - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{colour}">{escape(_cut(row.name))}</text>'
        if row.href:
            name = f'<a href="{escape(row.href)}">{name}</a>'
        parts = [f'<g><title>{escape(row.title)}</title>', name]
        if row.value is None:
            parts.append(f'<text x="{LABEL + 4}" y="{y + 4:.1f}" fill="#8a949c">没有回答</text>')
        else:
            if row.low is not None and row.high is not None:
                parts.append(f'<line x1="{x(row.low):.1f}" y1="{y:.1f}" x2="{x(row.high):.1f}" y2="{y:.1f}" '
                             f'stroke="{colour}" stroke-width="2"/>'
                             f'<line x1="{x(row.low):.1f}" y1="{y - 5:.1f}" x2="{x(row.low):.1f}" y2="{y + 5:.1f}" '
                             f'stroke="{colour}"/><line x1="{x(row.high):.1f}" y1="{y - 5:.1f}" x2="{x(row.high):.1f}" '
                             f'y2="{y + 5:.1f}" stroke="{colour}"/>')
            parts.append(f'<circle cx="{x(row.value):.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
                         f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" fill="{colour}">{fmt(row.value)}</text>')
        parts.append("</g>")
        body.append("".join(parts))
    return _svg(height, body, label)


@dataclass(frozen=True)
class Segment:
    label: str
    share: float
    title: str
    colour: str


def level_colours(levels: int, off_scale: int) -> list[str]:
    """Colours for a scale's levels (best first) and its off-scale answers."""
    if levels <= 1:
        picked = [LEVEL_COLOURS[0]]
    else:
        picked = [LEVEL_COLOURS[round(k * 4 / (levels - 1))] for k in range(levels)]
    return picked + [OFF_SCALE_COLOUR] * off_scale


def stacked_bar(segments: Sequence[Segment], *, label: str) -> Markup:
    """One bar of 100%, a segment per answer, with a legend under it."""
    plot = WIDTH - 2
    body, left = [], 1.0
    for segment in segments:
        width = max(segment.share, 0) * plot
        if width <= 0:
            continue
        body.append(f'<rect x="{left:.1f}" y="2" width="{width:.1f}" height="20" fill="{segment.colour}">'
                    f'<title>{escape(segment.title)}</title></rect>')
        if width > 30:
            body.append(f'<text x="{left + width / 2:.1f}" y="16" text-anchor="middle" fill="#fff" '
                        f'font-weight="bold">{100 * segment.share:.0f}%</text>')
        left += width
    x, y = 1.0, 40.0
    for segment in segments:
        text = f"{segment.label} {100 * segment.share:.0f}%"
        step = 18 + FONT * len(text)
        if x + step > WIDTH:
            x, y = 1.0, y + 17
        body.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="10" height="10" fill="{segment.colour}"/>'
                    f'<text x="{x + 14:.1f}" y="{y:.1f}" fill="#1f2d3a">{escape(text)}</text>')
        x += step
    return _svg(y + 8, body, label)


@dataclass(frozen=True)
class Bar:
    name: str
    value: int
    target: int | None
    title: str
    href: str | None = None


def target_bars(rows: Sequence[Bar], *, label: str) -> Markup:
    """Responses against targets: a bar per group, a tick at its target (red when short of it)."""
    plot = WIDTH - LABEL - RIGHT
    top = max([r.value for r in rows] + [r.target or 0 for r in rows] + [1])
    height = TOP + ROW * max(len(rows), 1) + 8
    body = [(f'<text x="{LABEL}" y="{TOP - 10}" fill="#5b6670">0</text>'
            f'<text x="{LABEL + plot}" y="{TOP - 10}" text-anchor="end" fill="#5b6670">{top} 份</text>')]
    for i, row in enumerate(rows):
        y = TOP + ROW * i
        short = row.target is not None and row.value < row.target
        colour = "#c9372c" if short else "#2f6db5"
        name = f'<text x="{LABEL - 8}" y="{y + 16}" text-anchor="end">{escape(_cut(row.name))}</text>'
        if row.href:
            name = f'<a href="{escape(row.href)}">{name}</a>'
        width = row.value / top * plot
        parts = [f'<g><title>{escape(row.title)}</title>', name,
                 f'<rect x="{LABEL}" y="{y + 5}" width="{width:.1f}" height="14" fill="{colour}" opacity="0.85"/>']
        if row.target:
            tx = LABEL + row.target / top * plot
            parts.append(f'<line x1="{tx:.1f}" y1="{y + 2}" x2="{tx:.1f}" y2="{y + 22}" stroke="#1f2d3a" '
                         f'stroke-width="2"/>')
        figure = f"{row.value}" + (f" / {row.target}" if row.target else "")
        parts.append(f'<text x="{WIDTH - RIGHT + 8}" y="{y + 16}" fill="{colour}">{figure}</text></g>')
        body.append("".join(parts))
    return _svg(height, body, label)


@dataclass(frozen=True)
class Point:
    name: str
    x: float
    y: float
    title: str
    emphasis: bool = False


def quadrant_chart(points: Sequence[Point], *, x_cut: float | None, y_cut: float | None, label: str,
                   x_label: str, y_label: str, quadrant_labels: Sequence[str]) -> Markup:
    """Importance (x) against performance (y), cut at the medians into four quadrants.
    ``quadrant_labels``: top left, top right, bottom left, bottom right."""
    left, top, size_x, size_y = 26, 12, WIDTH - 34, 240
    xs = [p.x for p in points] + ([x_cut] if x_cut is not None else [])
    ys = [p.y for p in points] + ([y_cut] if y_cut is not None else [])
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y_low, y_high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad_x, pad_y = (x_high - x_low) * 0.1 or 0.05, (y_high - y_low) * 0.1 or 0.05
    x_low, x_high, y_low, y_high = x_low - pad_x, x_high + pad_x, y_low - pad_y, y_high + pad_y

    def px(v: float) -> float:
        return left + (v - x_low) / (x_high - x_low) * size_x

    def py(v: float) -> float:
        return top + (1 - (v - y_low) / (y_high - y_low)) * size_y

    body = [f'<rect x="{left}" y="{top}" width="{size_x}" height="{size_y}" fill="#fbfcfd" stroke="#d6dade"/>']
    if x_cut is not None and y_cut is not None:
        body.append(f'<line x1="{px(x_cut):.1f}" y1="{top}" x2="{px(x_cut):.1f}" y2="{top + size_y}" '
                    f'stroke="#9aa4ad" stroke-dasharray="4 3"/><line x1="{left}" y1="{py(y_cut):.1f}" '
                    f'x2="{left + size_x}" y2="{py(y_cut):.1f}" stroke="#9aa4ad" stroke-dasharray="4 3"/>')
        corners = ((left + 6, top + 16, "start"), (left + size_x - 6, top + 16, "end"),
                   (left + 6, top + size_y - 8, "start"), (left + size_x - 6, top + size_y - 8, "end"))
        for (cx, cy, anchor), text in zip(corners, quadrant_labels):
            body.append(f'<text x="{cx}" y="{cy}" text-anchor="{anchor}" fill="#8a949c" font-size="{FONT - 1}">'
                        f'{escape(text)}</text>')
    for p in points:
        colour = "#c9372c" if p.emphasis else "#2f6db5"
        body.append(f'<g><title>{escape(p.title)}</title><circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="5" '
                    f'fill="{colour}"/><text x="{px(p.x) + 7:.1f}" y="{py(p.y) + 4:.1f}" fill="{colour}">'
                    f'{escape(_cut(p.name, 6))}</text></g>')
    body.append(f'<text x="{left + size_x / 2}" y="{top + size_y + 20}" text-anchor="middle" fill="#5b6670">'
                f'{escape(x_label)} →</text><text x="14" y="{top + size_y / 2}" fill="#5b6670" '
                f'transform="rotate(-90 14 {top + size_y / 2})" text-anchor="middle">{escape(y_label)} →</text>')
    return _svg(top + size_y + 28, body, label)
