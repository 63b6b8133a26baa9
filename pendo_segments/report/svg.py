"""Charts as inline SVG, drawn in Python: the report loads no script and no network.

Every chart is ``role="img"`` with a ``<title>`` and ``<desc>`` (its text
alternative, referenced by ``aria-labelledby``); the page shows the same
numbers in a table under it. Text is escaped here because the markup is
inserted into the page as-is.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

_ids = itertools.count(1)


def restart_ids() -> None:
    """Number the next charts from 1: ids need only be unique within one page, and a
    page must read the same whichever process drew it and what it drew before."""
    global _ids
    _ids = itertools.count(1)


PALETTE = ["#2f6db5", "#e07b39", "#3a9a5b", "#b0413e", "#7b5ea7", "#8c6d31", "#4a9fb5", "#c25b9c"]
FONT = "font-family:inherit;font-size:12px"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str = PALETTE[0]


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    n = next(_ids)
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-t{n} chart-d{n}" xmlns="http://www.w3.org/2000/svg" '
        f'style="max-width:{width}px">'
        f'<title id="chart-t{n}">{escape(title)}</title><desc id="chart-d{n}">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _nice_max(value: float) -> float:
    if value <= 0 or math.isnan(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10):  # quarters stay round numbers
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _text(x: float, y: float, label: str, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" style="{FONT}" {extra}>'
        f"{escape(label)}</text>"
    )


def _axis(
    left: int,
    top: int,
    w: int,
    h: int,
    vmax: float,
    fmt: Callable[[float], str],
    vmin: float = 0.0,
) -> list[str]:
    out = []
    for k in range(5):
        v = vmin + (vmax - vmin) * k / 4
        y = top + h - h * k / 4
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd" />')
        out.append(_text(left - 6, y + 4, fmt(v), "end"))
    return out


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    colors: Sequence[str] | None = None,
    stacked: bool = False,
    vmax: float | None = None,
    width: int = 640,
    height: int = 260,
) -> str:
    """Vertical bars per label; several series side by side (or stacked)."""
    rows = _legend_rows(series, width - 56) if len(series) > 1 else 0
    left, top, bottom = 56, 12, 30 + 18 * rows
    w, h = width - left - 12, height - top - bottom
    totals = (
        [sum(s.values[i] for s in series) for i in range(len(labels))]
        if stacked
        else [max((s.values[i] for s in series), default=0) for i in range(len(labels))]
    )
    vmax = vmax if vmax is not None else _nice_max(max(totals, default=0))
    body = _axis(left, top, w, h, vmax, fmt)
    slot = w / max(len(labels), 1)
    per = 1 if stacked else len(series)
    bw = max(slot * 0.8 / per, 1)
    for i, label in enumerate(labels):
        base = float(top + h)
        for j, s in enumerate(series):
            v = float(s.values[i] or 0)
            bh = h * v / vmax
            x = left + slot * i + slot * 0.1 + (0 if stacked else j * bw)
            y = base - bh
            color = colors[i] if colors is not None and len(series) == 1 else s.color
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{max(bh, 0):.1f}" '
                f'fill="{color}"><title>{escape(f"{label} · {s.name}: {fmt(v)}")}</title></rect>'
            )
            if stacked:
                base = y
        if len(labels) <= 16 or i % math.ceil(len(labels) / 16) == 0:
            body.append(_text(left + slot * (i + 0.5), top + h + 16, label))
    body += _legend(series, left, top + h + 40, width - left) if len(series) > 1 else []
    return _svg(width, height, title, desc, body)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    vmax: float | None = None,
    vmin: float = 0.0,
    width: int = 640,
    height: int = 260,
) -> str:
    """One polyline (with dots) per series over the labels (values from ``vmin``)."""
    rows = _legend_rows(series, width - 56) if len(series) > 1 else 0
    values = [float(v) for s in series for v in s.values if v is not None and not math.isnan(v)]
    top_value = vmax if vmax is not None else _nice_max(max(values, default=0))
    frame = LineFrame(
        labels, fmt=fmt, vmax=top_value, vmin=vmin, width=width, height=height, legend_rows=rows
    )
    return frame.draw(series, title=title, desc=desc)


class LineFrame:
    """What line charts over the same labels and scale share: gridlines, axis and x labels,
    drawn once, and each dot, drawn once per place and value. Every P1 page draws its
    score trend in one frame (18,486 pages at 1M visitors; scores repeat)."""

    def __init__(
        self,
        labels: Sequence[str],
        *,
        fmt: Callable[[float], str],
        vmax: float,
        vmin: float = 0.0,
        width: int = 640,
        height: int = 260,
        legend_rows: int = 0,
    ) -> None:
        self.labels, self.fmt, self.vmin, self.width, self.height = labels, fmt, vmin, width, height
        self.left, self.top = 56, 12
        self.w, self.h = width - self.left - 36, height - self.top - 30 - 18 * legend_rows
        self.step = self.w / max(len(labels) - 1, 1)
        self.span = vmax - vmin
        self.grid = "".join(_axis(self.left, self.top, self.w, self.h, vmax, fmt, vmin))
        every = math.ceil(len(labels) / 8) if labels else 1
        self.x_labels = "".join(
            _text(self.left + self.step * i, self.top + self.h + 16, label)
            for i, label in enumerate(labels)
            if i % every == 0 or i == len(labels) - 1
        )
        self.at = functools.cache(self._at)
        self.xy = functools.cache(lambda i, v: ",".join(self.at(i, v)))
        self.dot = functools.cache(self._dot)

    def draw(self, series: Sequence[Series], *, title: str, desc: str) -> str:
        body = [self.grid]
        for s in series:
            kept = [(i, v) for i, v in enumerate(s.values) if v is not None and not math.isnan(v)]
            if len(kept) > 1:
                path = " ".join([self.xy(i, v) for i, v in kept])
                body.append(
                    f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2" />'
                )
            body += [self.dot(i, v, s.name, s.color) for i, v in kept if i < len(self.labels)]
        body.append(self.x_labels)
        body += (
            _legend(series, self.left, self.top + self.h + 40, self.width - self.left)
            if len(series) > 1
            else []
        )
        return _svg(self.width, self.height, title, desc, body)

    def _at(self, i: int, v: float) -> tuple[str, str]:
        """Where value ``v`` at label ``i`` is drawn, as written."""
        y = self.top + self.h - self.h * (float(v) - self.vmin) / self.span
        return f"{self.left + self.step * i:.1f}", f"{y:.1f}"

    def _dot(self, i: int, v: float, name: str, color: str) -> str:
        """The dot of value ``v`` at label ``i``, titled with that label and value."""
        x, y = self.at(i, v)
        return (
            f'<circle cx="{x}" cy="{y}" r="3" fill="{color}">'
            f"<title>{escape(f'{self.labels[i]} · {name}: {self.fmt(float(v))}')}</title></circle>"
        )


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    desc: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    color: str = PALETTE[0],
    vmax: float | None = None,
    width: int = 640,
) -> str:
    """Horizontal bars, one per label (long labels such as feature names)."""
    vmax = vmax if vmax is not None else _nice_max(max((float(v) for v in values), default=0))
    frame = HBarFrame(labels, fmt=fmt, color=color, vmax=vmax, width=width)
    return frame.draw(values, title=title, desc=desc)


class HBarFrame:
    """Horizontal bars over fixed labels and scale, each bar drawn once per row and value:
    every P1 page has the same score components, 0–100."""

    ROW, LEFT, RIGHT = 24, 170, 70

    def __init__(
        self,
        labels: Sequence[str],
        *,
        fmt: Callable[[float], str],
        color: str = PALETTE[0],
        vmax: float,
        width: int = 640,
    ) -> None:
        self.labels, self.fmt, self.color, self.vmax, self.width = labels, fmt, color, vmax, width
        self.height = self.ROW * max(len(labels), 1) + 10
        self.bar = functools.cache(self._bar)

    def draw(self, values: Sequence[float], *, title: str, desc: str) -> str:
        body = [self.bar(i, v) for i, (_, v) in enumerate(zip(self.labels, values, strict=True))]
        return _svg(self.width, self.height, title, desc, body)

    def _bar(self, i: int, v: float) -> str:
        row, left, label = self.ROW, self.LEFT, self.labels[i]
        y = 5 + i * row
        bw = (self.width - left - self.RIGHT) * float(v) / self.vmax
        shown = self.fmt(float(v))
        return (
            _text(left - 8, y + 15, label, "end")
            + f'<rect x="{left}" y="{y + 3}" width="{max(bw, 0):.1f}" height="{row - 8}" '
            f'fill="{self.color}"><title>{escape(f"{label}: {shown}")}</title></rect>'
            + _text(left + bw + 6, y + 15, shown, "start")
        )


def _item_width(name: str) -> float:
    return 24 + 7.2 * len(name)


def _legend_rows(series: Sequence[Series], room: float) -> int:
    rows, x = 1, 0.0
    for s in series:
        if x and x + _item_width(s.name) > room:
            rows, x = rows + 1, 0.0
        x += _item_width(s.name)
    return rows


def _legend(series: Sequence[Series], left: float, y: float, room: float) -> list[str]:
    """Colour keys in rows that wrap at ``room`` pixels."""
    out, x = [], 0.0
    for s in series:
        if x and x + _item_width(s.name) > room:
            x, y = 0.0, y + 18
        out.append(
            f'<rect x="{left + x:.1f}" y="{y - 10:.1f}" width="10" height="10" fill="{s.color}" />'
        )
        out.append(_text(left + x + 14, y, s.name, "start"))
        x += _item_width(s.name)
    return out
