"""Sensor readings as an inline SVG line chart, drawn on the server: no script, no CDN, no inline styles (only SVG
presentation attributes, which a strict Content-Security-Policy allows).

Time runs along x, the value with its unit along y; the allowed range is shaded and every reading outside it is
marked. Each reading is one vertex of the line, so the chart carries exactly the anchored numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH, HEIGHT = 420, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 12, 30
LINE, RANGE, EXCURSION, GRID, TEXT = "#1f5f8b", "#dcefdc", "#b3261e", "#d0d0d0", "#333333"


@dataclass(frozen=True)
class Reading:
    time: datetime
    value: float


@dataclass(frozen=True)
class ChartSummary:
    count: int
    minimum: float
    maximum: float
    excursions: int


def summarise(readings: Sequence[Reading], low: float | None = None, high: float | None = None) -> ChartSummary:
    values = [r.value for r in readings]
    return ChartSummary(len(values), min(values), max(values), sum(1 for v in values if _outside(v, low, high)))


def _outside(value: float, low: float | None, high: float | None) -> bool:
    return (low is not None and value < low) or (high is not None and value > high)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart)."""
    span = hi - lo or abs(hi) or 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    return [round(first + i * step, 10) for i in range(int(math.ceil((hi - first) / step)) + 1)]


def _number(value: float) -> str:
    return f"{value:g}"


def sensor_chart(
    readings: Sequence[Reading],
    *,
    quantity: str,
    unit: str,
    low: float | None = None,
    high: float | None = None,
    labels: dict[str, str] | None = None,
    time_format: str = "%d %b %H:%M",
) -> str:
    """The SVG element for ``readings`` (sorted by time here). ``labels`` translates the few words it writes:
    ``allowed`` (the range's legend) and ``summary`` (a format string with count, min, max, excursions, unit)."""
    if not readings:
        raise ValueError("a chart needs at least one reading")
    words = {
        "allowed": "allowed range",
        "summary": "{count} readings, {min} to {max} {unit}, {excursions} outside the allowed range",
    } | (labels or {})
    points = sorted(readings, key=lambda r: r.time)
    summary = summarise(points, low, high)
    lo = min([summary.minimum] + [v for v in (low, high) if v is not None])
    hi = max([summary.maximum] + [v for v in (low, high) if v is not None])
    ticks = _ticks(lo, hi)
    y_lo, y_hi = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1
    t0, t1 = points[0].time.timestamp(), points[-1].time.timestamp()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: datetime) -> float:
        return LEFT + (plot_w * (t.timestamp() - t0) / (t1 - t0) if t1 > t0 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - y_lo) / (y_hi - y_lo))

    described = words["summary"].format(
        count=summary.count,
        min=_number(summary.minimum),
        max=_number(summary.maximum),
        excursions=summary.excursions,
        unit=unit,
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'class="sensor-chart" data-points="{summary.count}" data-excursions="{summary.excursions}" '
        f'aria-label="{escape(quantity)} ({escape(unit)}): {escape(described)}">',
        f"<title>{escape(quantity)} ({escape(unit)})</title>",
        f"<desc>{escape(described)}</desc>",
    ]
    if low is not None or high is not None:
        top, bottom = y(high if high is not None else y_hi), y(low if low is not None else y_lo)
        parts.append(
            f'<rect class="allowed" x="{LEFT}" y="{top:.1f}" width="{plot_w}" height="{bottom - top:.1f}" '
            f'fill="{RANGE}"><title>{escape(words["allowed"])}: {_number(low) if low is not None else ""}'
            f"–{_number(high) if high is not None else ''} {escape(unit)}</title></rect>"
        )
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}" '
            f'stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="13" fill="{TEXT}">'
            f"{_number(tick)}</text>"
        )
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="13" fill="{TEXT}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(unit)}</text>'
    )
    for when, anchor in ((points[0].time, "start"), (points[-1].time, "end")):
        parts.append(
            f'<text x="{x(when):.1f}" y="{HEIGHT - 12}" font-size="13" fill="{TEXT}" '
            f'text-anchor="{anchor}">{escape(when.strftime(time_format))}</text>'
        )
    vertices = " ".join(f"{x(r.time):.1f},{y(r.value):.1f}" for r in points)
    parts.append(f'<polyline class="readings" points="{vertices}" fill="none" stroke="{LINE}" stroke-width="1.5"/>')
    for r in points:
        if _outside(r.value, low, high):
            parts.append(
                f'<circle class="excursion" cx="{x(r.time):.1f}" cy="{y(r.value):.1f}" r="3.5" '
                f'fill="{EXCURSION}"><title>{escape(r.time.isoformat())}: {_number(r.value)} '
                f"{escape(unit)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
