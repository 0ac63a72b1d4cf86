"""Charts drawn on the server as inline SVG: no script, no chart library, nothing fetched,
so they print and work offline like the rest of the pages. Two shapes cover what the
pages plot: grouped vertical bars over categories (days), and horizontal bars (rules,
grids). Every label is escaped; the numbers are the only thing computed here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#1d4ed8", "#b91c1c", "#15803d", "#b45309", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f")
FONT = 'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"'
WIDTH = 1100


def _nice(top: float) -> tuple[float, float]:
    """An axis maximum of 1, 2 or 5 times a power of ten, at or above ``top``, and its step;
    at least 5 in steps of 1, as the pages chart counts and hours (no 0.2 of a row)."""
    if top <= 5:
        return 5.0, 1.0
    power = 10 ** math.floor(math.log10(top))
    for factor in (1, 2, 5, 10):
        if top <= factor * power:
            return float(factor * power), factor * power / 5
    return 10.0 * power, 2.0 * power


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    unit: str,
    chart_id: str,
) -> Markup:
    """A bar per series within each category, a legend above, the y axis in ``unit``."""
    left, right, top, bottom, height = 60, 20, 56, 48, 300
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    peak, step = _nice(max((v for _, values in series for v in values), default=0))
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" {FONT} font-size="12">',
        f'<text x="{left}" y="20" font-size="15" font-weight="600">{escape(title)}</text>',
    ]
    x = left
    for n, (name, _) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="40">{escape(name)}</text>')
        x += 24 + 13 * len(name) + 8
    middle = top + plot_h / 2
    tick = 0.0
    while tick <= peak + 1e-9:
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d9e2ec"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}</text>'
        )
        tick += step
    parts.append(
        f'<text x="12" y="{middle:.0f}" transform="rotate(-90 12 {middle:.0f})" '
        f'text-anchor="middle" fill="#616e7c">{escape(unit)}</text>'
    )
    slot = plot_w / max(len(categories), 1)
    bar = max(2.0, min(28.0, (slot - 8) / max(len(series), 1)))
    every = max(1, math.ceil(len(categories) / 16))
    for i, category in enumerate(categories):
        start = left + i * slot + (slot - bar * len(series)) / 2
        for n, (name, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / peak
            color = PALETTE[n % len(PALETTE)]
            parts.append(
                f'<rect x="{start + n * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar - 1:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(name)} {escape(category)}：'
                f"{_number(value)} {escape(unit)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 18}" '
                f'text-anchor="middle">{escape(category)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#616e7c"/>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def horizontal_bars(
    title: str,
    items: Sequence[tuple[str, Sequence[float | None]]],
    names: Sequence[str],
    unit: str,
    chart_id: str,
) -> Markup:
    """A row per item (its label on the left), a bar per value of ``names`` in it; a
    value of None (nothing to measure yet) is drawn as a dash, not as a zero."""
    left, right, top, row = 260, 80, 56, 14 + 12 * len(names)
    height = top + row * max(len(items), 1) + 16
    plot_w = WIDTH - left - right
    peak, _ = _nice(max((v for _, values in items for v in values if v is not None), default=0))
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" {FONT} font-size="12">',
        f'<text x="10" y="20" font-size="15" font-weight="600">{escape(title)}</text>',
    ]
    x = left
    for n, name in enumerate(names):
        color = PALETTE[n % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="40">{escape(name)}（{escape(unit)}）</text>')
        x += 40 + 13 * (len(name) + len(unit))
    if not items:
        parts.append(f'<text x="{left}" y="{top + 16}" fill="#616e7c">暂无数据</text>')
    for i, (label, values) in enumerate(items):
        y = top + i * row
        parts.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for n, value in enumerate(values):
            by = y + 4 + n * 12
            if value is None:
                parts.append(f'<text x="{left + 4}" y="{by + 9}" fill="#616e7c">—</text>')
                continue
            w = plot_w * value / peak
            color = PALETTE[n % len(PALETTE)]
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w:.1f}" height="10" fill="{color}">'
                f"<title>{escape(label)} {escape(names[n])}：{_number(value)} {escape(unit)}"
                "</title></rect>"
            )
            parts.append(f'<text x="{left + w + 4:.1f}" y="{by + 9}">{_number(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)
