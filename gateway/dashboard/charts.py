"""Small column charts for the analytics page, as inline SVG written on the server.

No chart library and no script: a column per time bucket on an axis spanning the whole
window (an empty bucket is a gap, not a squeezed axis), up to two overlaid series (e.g.
p95 behind p50: the second is never above the first), a ``<title>`` per column saying its
numbers in words, and the scale's top written on the axis. The times under a chart are
HTML ``<time>`` elements in the template, so the page shows them in the browser's zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

#: the SVG's user units
WIDTH = 640.0
HEIGHT = 150.0
LEFT = 56.0
TOP = 8.0
BOTTOM = 4.0


@dataclass(frozen=True)
class Column:
    """One time bucket: its start, its values (one per series) and what its title says."""

    at: datetime
    values: tuple[float, ...]
    title: str


def nice(top: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``top`` (1 for nothing)."""
    if top <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(top))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= top * (1 - 1e-9))


def columns(
    data: Sequence[Column],
    since: datetime,
    until: datetime,
    bucket: timedelta,
    label: str,
    unit: Callable[[float], str],
) -> Markup:
    """The chart of ``data`` between ``since`` and ``until`` (``label``: what it shows)."""
    span = max((until - since).total_seconds(), 1.0)
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - TOP - BOTTOM
    top = nice(max((v for c in data for v in c.values), default=0.0))
    width = max(bucket.total_seconds() / span * plot_w - 1, 2.0)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        f'aria-label="{escape(label)}: {len(data)} buckets, top of scale {escape(unit(top))}">',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" '
        'class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h / 2}" x2="{WIDTH - 4}" y2="{TOP + plot_h / 2}" '
        'class="grid"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" class="y">{escape(unit(top))}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h / 2 + 4}" class="y">{escape(unit(top / 2))}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" class="y">0</text>',
    ]
    for column in data:
        offset = (column.at - since).total_seconds() / span * plot_w
        x = LEFT + min(max(offset, 0.0), plot_w - width)
        parts = []
        for i, value in enumerate(column.values):
            h = max(value / top * plot_h, 1.0)
            parts.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{width:.1f}" '
                f'height="{h:.1f}" class="s{i}"/>'
            )
        out.append(f'<g class="column"><title>{escape(column.title)}</title>{"".join(parts)}</g>')
    out.append("</svg>")
    return Markup("".join(out))
