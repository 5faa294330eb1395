"""Charts drawn on the server as inline SVG: nothing is fetched, nothing runs to draw them.

Every chart has a title (the caller's figure caption, repeated as the SVG's accessible name),
labelled axes with ticks, a legend when it has more than one series, and every mark carries its
numbers in a `<title>` (the browser's hover text) and a `data-tip` (console.js shows it at once).
The pages also put each chart's numbers in a table beside it.

All text comes through `markupsafe.escape`: rule ids, reasons and labels can come from the
record, and the SVG sits inside the page's HTML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
Format = Callable[[float], str]


def count(value: float) -> str:
    return f"{value:,.0f}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def millis(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str
    """Colour class: s0-s5, or info / warning / critical."""


def ticks(maximum: float, integer: bool = False, target: int = 5) -> list[float]:
    """Round tick values from 0 to at least `maximum`."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / target
    magnitude = 10 ** math.floor(math.log10(raw))
    # Counts get whole-number steps (1, 2, 5, 10...): a 2.5 step would label 7.5 as "8".
    multipliers = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in multipliers if m * magnitude >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    top = math.ceil(maximum / step - 1e-9) * step
    return [i * step for i in range(round(top / step) + 1)]


def _e(value: object) -> str:
    return str(escape(str(value)))


def _tip(text: str) -> str:
    return f' data-tip="{_e(text)}"><title>{_e(text)}</title>'


def _every(n: int, most: int) -> int:
    return max(1, math.ceil(n / most))


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    if len(series) < 2:
        return []
    out = []
    for s in series:
        swatch = s.css.split()[0]
        out.append(f'<rect class="{swatch}" x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10"/>')
        out.append(f'<text class="legend" x="{x + 14:.1f}" y="{y:.1f}">{_e(s.name)}</text>')
        x += 26 + 7.4 * len(s.name)  # about 7 px per character at the legend's 12.5 px
    return out


def _open(title: str, height: float) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
    ]


def _y_axis(
    left: float,
    top: float,
    bottom: float,
    right: float,
    values: list[float],
    fmt: Format,
    label: str,
) -> list[str]:
    out = []
    top_value = values[-1] or 1.0
    for v in values:
        y = bottom - (bottom - top) * v / top_value
        out.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">')
        out.append(f"{_e(fmt(v))}</text>")
    middle = (top + bottom) / 2
    out.append(
        f'<text class="axis-label" x="14" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.1f})">{_e(label)}</text>'
    )
    out.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float], bottom: float, label: str) -> list[str]:
    out = []
    step = _every(len(labels), 8)
    for i, (text, x) in enumerate(zip(labels, xs, strict=True)):
        if i % step == 0:
            out.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">')
            out.append(f"{_e(text)}</text>")
    out.append(
        f'<text class="axis-label" x="{WIDTH / 2:.0f}" y="{bottom + 36}" '
        f'text-anchor="middle">{_e(label)}</text>'
    )
    return out


def _close(out: list[str]) -> Markup:
    out.append("</svg>")
    # Safe: every piece of text above went through _e (markupsafe.escape); the rest is numbers.
    return Markup("".join(out))  # noqa: S704


def vbars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    fmt: Format = count,
    height: float = 280,
) -> Markup:
    """Stacked vertical bars, one per label (e.g. one per day)."""
    left, right, top, bottom = 64.0, WIDTH - 12.0, 30.0, height - 46
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    axis = ticks(max(totals, default=0), integer=True)
    out = _open(title, height)
    out += _y_axis(left, top, bottom, right, axis, fmt, y_label)
    slot = (right - left) / max(1, len(labels))
    width = max(1.0, slot * 0.72)
    xs = []
    for i, text in enumerate(labels):
        x = left + slot * i + (slot - width) / 2
        xs.append(x + width / 2)
        base = bottom
        for s in series:
            value = s.values[i] or 0
            h = (bottom - top) * value / axis[-1]
            if value:
                out.append(_segment(text, s, value, totals[i], fmt, (x, base - h, width, h)))
            base -= h
    out += _x_labels(labels, xs, bottom, x_label)
    out += _legend(series, left + 4, 14)
    return _close(out)


def _segment(
    label: str,
    series: Series,
    value: float,
    total: float,
    fmt: Format,
    box: tuple[float, float, float, float],
) -> str:
    """One series' part of a stacked bar (x, y, width, height), its value in the tooltip."""
    x, y, w, h = box
    detail = f"{label}: {series.name} {fmt(value)} (total {fmt(total)})"
    return (
        f'<rect class="mark {series.css}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
        f'height="{h:.1f}"{_tip(detail)}</rect>'
    )


def hbars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    fmt: Format = count,
    links: Sequence[str | None] | None = None,
) -> Markup:
    """Stacked horizontal bars, one row per label (e.g. per rule); labels may link."""
    row = 24.0
    left, right, top = 236.0, WIDTH - 56.0, 30.0
    bottom = top + row * max(1, len(labels))
    height = bottom + 44
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    axis = ticks(max(totals, default=0), integer=True)
    out = _open(title, height)
    for v in axis:
        x = left + (right - left) * v / axis[-1]
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">')
        out.append(f"{_e(fmt(v))}</text>")
    out.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>')
    out.append(
        f'<text class="axis-label" x="{(left + right) / 2:.0f}" y="{bottom + 36}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    for i, text in enumerate(labels):
        y = top + row * i
        shown = text if len(text) <= 36 else text[:35] + "…"
        label = (
            f'<text class="tick" x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{_e(shown)}<title>{_e(text)}</title></text>"
        )
        link = links[i] if links else None
        out.append(f'<a href="{_e(link)}">{label}</a>' if link else label)
        x = left
        for s in series:
            value = s.values[i] or 0
            w = (right - left) * value / axis[-1]
            if value:
                out.append(_segment(text, s, value, totals[i], fmt, (x, y + 4, w, row - 8)))
            x += w
        out.append(
            f'<text class="value" x="{x + 4:.1f}" y="{y + row / 2 + 4:.1f}">'
            f"{_e(fmt(totals[i]))}</text>"
        )
    out += _legend(series, left + 4, 14)
    return _close(out)


def lines(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    fmt: Format = count,
    y_max: float | None = None,
    height: float = 280,
    integer: bool = False,
) -> Markup:
    """One line per series over the labels; a None value breaks the line (no data there)."""
    left, right, top, bottom = 64.0, WIDTH - 12.0, 30.0, height - 46
    peak = max((v for s in series for v in s.values if v is not None), default=0.0)
    axis = ticks(y_max if y_max is not None else peak, integer=integer)
    out = _open(title, height)
    out += _y_axis(left, top, bottom, right, axis, fmt, y_label)
    n = len(labels)
    slot = (right - left) / max(1, n)
    xs = [left + slot * (i + 0.5) for i in range(n)]
    for s in series:
        path: list[str] = []
        pen_up = True
        for x, value in zip(xs, s.values, strict=True):
            if value is None:
                pen_up = True
                continue
            y = bottom - (bottom - top) * value / axis[-1]
            path.append(f"{'M' if pen_up else 'L'}{x:.1f},{y:.1f}")
            pen_up = False
        if path:
            out.append(f'<path class="line {s.css}" d="{" ".join(path)}"/>')
        for text, x, value in zip(labels, xs, s.values, strict=True):
            if value is None:
                continue
            y = bottom - (bottom - top) * value / axis[-1]
            out.append(
                f'<circle class="mark dot {s.css}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"'
                f"{_tip(f'{text}: {s.name} {fmt(value)}')}</circle>"
            )
    out += _x_labels(labels, xs, bottom, x_label)
    out += _legend(series, left + 4, 14)
    return _close(out)


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    tips: Sequence[Sequence[str]],
    *,
    x_label: str,
    css: str = "heat",
    links: Sequence[str | None] | None = None,
) -> Markup:
    """Rows x columns of rates from 0 to 1, the rate written in each cell; blank = no cards."""
    row = 24.0
    left, right, top = 236.0, WIDTH - 12.0, 14.0
    bottom = top + row * max(1, len(rows))
    height = bottom + 44
    cell = (right - left) / max(1, len(columns))
    out = _open(title, height)
    for i, name in enumerate(rows):
        y = top + row * i
        shown = name if len(name) <= 36 else name[:35] + "…"
        label = (
            f'<text class="tick" x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{_e(shown)}<title>{_e(name)}</title></text>"
        )
        link = links[i] if links else None
        out.append(f'<a href="{_e(link)}">{label}</a>' if link else label)
        for j, _ in enumerate(columns):
            value = values[i][j]
            x = left + cell * j
            if value is None:
                out.append(
                    f'<rect class="cell empty" x="{x + 1:.1f}" y="{y + 1:.1f}" '
                    f'width="{cell - 2:.1f}" height="{row - 2:.1f}"{_tip(tips[i][j])}</rect>'
                )
                continue
            level = min(4, int(value * 5))
            out.append(
                f'<rect class="mark cell {css}{level}" x="{x + 1:.1f}" y="{y + 1:.1f}" '
                f'width="{cell - 2:.1f}" height="{row - 2:.1f}"{_tip(tips[i][j])}</rect>'
            )
            if cell >= 30:
                out.append(
                    f'<text class="cell-text{" dark" if level >= 3 else ""}" '
                    f'x="{x + cell / 2:.1f}" y="{y + row / 2 + 4:.1f}" text-anchor="middle">'
                    f"{_e(percent(value))}</text>"
                )
    step = _every(len(columns), 8)
    for j, name in enumerate(columns):
        if j % step == 0:
            x = left + cell * (j + 0.5)
            out.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">')
            out.append(f"{_e(name)}</text>")
    out.append(
        f'<text class="axis-label" x="{(left + right) / 2:.0f}" y="{bottom + 36}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    return _close(out)
