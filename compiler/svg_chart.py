"""Horizontal bar charts written as inline SVG text, for report.html.

One row per named item (a layer, a tensor), one or more panels side by side sharing the rows,
each with its own axis (linear from zero, or logarithmic): bars, ranges drawn as a line with end
ticks, and single tick marks. Every bar carries a ``<title>`` with its numbers (a browser shows
it on hover). Plain text in, plain text out: no plotting library, no fonts to measure (label
widths are estimated from their length), and the same chart gives the same bytes. The colours
are matplotlib's default cycle, so the report looks as it did when matplotlib drew it.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
GREY, GREY_EDGE = "#d9d9d9", "#999999"

WIDTH = 1000
ROW = 18  # pixels per row
FONT = 11
CHAR = 6.2  # average width of a character at FONT pixels (sans-serif)
GAP = 18  # between panels


@dataclass(frozen=True)
class Bar:
    """A bar on ``row`` from ``start`` to ``end``: ``thickness`` of the row's height, its centre
    ``offset`` rows from the row's centre."""

    row: int
    start: float
    end: float
    colour: str
    thickness: float = 0.7
    offset: float = 0.0
    edge: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Span:
    """A range drawn as a black line with a tick at each end."""

    row: int
    start: float
    end: float
    note: str = ""


@dataclass(frozen=True)
class Mark:
    """One value drawn as a tall tick."""

    row: int
    value: float
    note: str = ""


@dataclass
class Panel:
    """One axis: its items, a title above, a label below; ``log`` is the base of a logarithmic
    axis (None: linear from zero); ``limits`` fixes the axis (default: what the items need)."""

    items: list[Bar | Span | Mark] = field(default_factory=list)
    title: str = ""
    label: str = ""
    log: int | None = None
    limits: tuple[float, float] | None = None


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _values(panel: Panel) -> list[float]:
    values: list[float] = []
    for item in panel.items:
        values += [item.value] if isinstance(item, Mark) else [item.start, item.end]
    return values


def _nice_step(span: float, ticks: int = 5) -> float:
    """A step of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks over ``span``."""
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


class _Axis:
    """Maps values of one panel to pixels and names its ticks."""

    def __init__(self, panel: Panel, left: float, width: float):
        self.left, self.width, self.log = left, width, panel.log
        values = _values(panel)
        if panel.log is not None:
            positive = [v for v in values if v > 0] or [1.0]
            low, high = panel.limits or (min(positive), max(positive))
            self.low = math.floor(math.log(low, panel.log) + 1e-9)
            self.high = max(math.ceil(math.log(high, panel.log) - 1e-9), self.low + 1)
            step = max(1, math.ceil((self.high - self.low) / 12))
            self.ticks = [(panel.log**e, self._power(e)) for e in range(self.low, self.high + 1, step)]
        else:
            low, high = panel.limits or (min([0.0, *values]), max([0.0, *values]))
            high = high if high > low else low + 1
            step = _nice_step(high - low)
            self.low, self.high = step * math.floor(low / step), step * math.ceil(high / step)
            count = round((self.high - self.low) / step)
            self.ticks = [(self.low + i * step, _number(self.low + i * step)) for i in range(count + 1)]

    def _power(self, exponent: int) -> str:
        return f'{self.log}<tspan dy="-5" font-size="{FONT - 3}">{exponent}</tspan>'

    def x(self, value: float) -> float:
        if self.log is not None:
            value = math.log(value, self.log) if value > 0 else self.low
        share = (value - self.low) / (self.high - self.low)
        return self.left + self.width * min(max(share, 0.0), 1.0)


def _title(note: str) -> str:
    return f"<title>{_e(note)}</title>" if note else ""


def _items(panel: Panel, axis: _Axis, top: float) -> list[str]:
    parts = []
    for item in panel.items:
        centre = top + (item.row + 0.5) * ROW
        if isinstance(item, Bar):
            x0, x1 = sorted((axis.x(item.start), axis.x(item.end)))
            height = item.thickness * ROW
            y = centre + item.offset * ROW - height / 2
            edge = f' stroke="{item.edge}"' if item.edge else ""
            parts.append(
                f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
                f'height="{height:.1f}" fill="{item.colour}"{edge}>{_title(item.note)}</rect>'
            )
        elif isinstance(item, Span):
            x0, x1 = axis.x(item.start), axis.x(item.end)
            ticks = "".join(
                f'<line x1="{x:.1f}" y1="{centre - 4:.1f}" x2="{x:.1f}" y2="{centre + 4:.1f}"/>'
                for x in (x0, x1)
            )
            parts.append(
                f'<g stroke="#000" stroke-width="1.5">{_title(item.note)}<line x1="{x0:.1f}" '
                f'y1="{centre:.1f}" x2="{x1:.1f}" y2="{centre:.1f}"/>{ticks}</g>'
            )
        else:
            x = axis.x(item.value)
            parts.append(
                f'<line x1="{x:.1f}" y1="{centre - 7:.1f}" x2="{x:.1f}" y2="{centre + 7:.1f}" '
                f'stroke="#000" stroke-width="2">{_title(item.note)}</line>'
            )
    return parts


def _legend(legend: list[tuple[str, str]], left: float) -> tuple[list[str], float]:
    """The legend as rows of coloured squares and names across the width: (parts, height)."""
    parts, x, y = [], left, 4.0
    for colour, name in legend:
        width = 14 + CHAR * len(name) + 18
        if x + width > WIDTH and x > left:
            x, y = left, y + 16
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 2:.1f}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.1f}" y="{y + 11:.1f}">{_e(name)}</text>'
        )
        x += width
    return parts, (y + 20 if legend else 0.0)


def chart(rows: list[str], panels: list[Panel], legend: list[tuple[str, str]] = ()) -> str:
    """The chart as one ``<svg>`` element: ``rows`` names the rows top to bottom; ``legend`` is
    (colour, name) pairs drawn above the panels."""
    label_width = min(360.0, 10 + CHAR * max((len(r) for r in rows), default=1))
    parts, top = _legend(list(legend), label_width)
    top += 16 if any(p.title for p in panels) else 4
    plot_height = ROW * max(len(rows), 1)
    height = top + plot_height + (34 if any(p.label for p in panels) else 20)
    width = (WIDTH - label_width - 10 - GAP * (len(panels) - 1)) / len(panels)
    for index, name in enumerate(rows):
        y = top + (index + 0.5) * ROW + FONT / 3
        parts.append(f'<text x="{label_width - 6:.1f}" y="{y:.1f}" text-anchor="end">{_e(name)}</text>')
    for index, panel in enumerate(panels):
        left = label_width + index * (width + GAP)
        axis = _Axis(panel, left, width)
        bottom = top + plot_height
        parts.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{plot_height:.1f}" '
            f'fill="none" stroke="#888"/>'
        )
        for value, text in axis.ticks:
            x = axis.x(value)
            parts.append(
                f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#e4e4e4"/>'
                f'<text x="{x:.1f}" y="{bottom + 13:.1f}" text-anchor="middle" '
                f'font-size="{FONT - 2}">{text}</text>'
            )
        parts += _items(panel, axis, top)
        centre = left + width / 2
        if panel.title:
            parts.append(f'<text x="{centre:.1f}" y="{top - 5:.1f}" text-anchor="middle">'
                         f"{_e(panel.title)}</text>")  # fmt: skip
        if panel.label:
            parts.append(f'<text x="{centre:.1f}" y="{bottom + 28:.1f}" text-anchor="middle">'
                         f"{_e(panel.label)}</text>")  # fmt: skip
    body = "\n".join(parts)
    return (
        f'<svg width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="sans-serif" font-size="{FONT}" '
        f'fill="#222">\n{body}\n</svg>'
    )
