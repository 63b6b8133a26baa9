"""Charts as inline SVG, drawn in Python: the report loads no script and no network.

Every chart is ``role="img"`` with a ``<title>`` and ``<desc>`` (its text
alternative, referenced by ``aria-labelledby``); the page shows the same
numbers in a table under it. Text is escaped here because the markup is
inserted into the page as-is.

A chart scales with its box (``width="100%"``), and its text with it: drawn
640 units wide, 12-unit text reads at 10 px from a 540 px box down. Narrower
boxes (a phone) get a second drawing, 360 units wide, laid out for that width
(fewer axis labels, the legend in more rows); :func:`responsive` makes both and
the page's CSS shows the one that fits its box (a container query). Axis
titles name what each axis counts and its unit.
"""

from __future__ import annotations

import functools
import itertools
import math
import unicodedata
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
SIZE = 12  # font size in chart units
FONT = f"font-family:inherit;font-size:{SIZE}px"
AXIS_FONT = f"font-family:inherit;font-size:{SIZE}px;fill:#4a5562"
#: the two drawings of :func:`responsive` (chart units; the wide one is the default)
WIDE, NARROW = 640, 360
TOP = 26  # room for the y axis title above the plot
STAGGER = 14  # how much lower every other x label goes when they take turns
X_LABEL, X_TITLE, LEGEND = 19, 39, 41  # baselines under the plot: x labels, x title, legend
GAP = 8  # space kept between two axis labels


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Axes:
    """The axis titles: what the x and y axes show, with their unit."""

    x: str = ""
    y: str = ""


def responsive(draw: Callable[[int, str], str]) -> str:
    """``draw(width, variant)`` at :data:`WIDE` and :data:`NARROW`; the page's CSS shows
    the ``wide`` drawing in a box of 540 px or more and the ``narrow`` one below."""
    return draw(WIDE, "wide") + draw(NARROW, "narrow")


@functools.lru_cache(maxsize=8192)
def text_width(text: str, size: float = SIZE) -> float:
    """About how wide ``text`` draws (measured on DejaVu Sans, the widest common
    ``system-ui``): CJK characters are square, digits 0.64 em, Latin letters ~0.6 em."""
    em = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.0
        elif ch.isdigit() or ch in "$#+-=<>~–":
            em += 0.64
        elif ch in " .,:;'|!ilfjrt()[]/_":
            em += 0.36
        elif ch.isupper() or ch in "%&@mw—":
            em += 0.78
        else:
            em += 0.6
    return em * size


def _svg(width: int, height: int, title: str, desc: str, body: list[str], variant: str) -> str:
    n = next(_ids)
    css = f"chart {variant}" if variant else "chart"
    return (
        f'<svg class="{css}" viewBox="0 0 {width} {height}" width="100%" role="img" '
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


def _text(
    x: float, y: float, label: str, anchor: str = "middle", extra: str = "", style: str = FONT
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" style="{style}" {extra}>'
        f"{escape(label)}</text>"
    )


def _ticks(vmax: float, vmin: float, fmt: Callable[[float], str]) -> list[tuple[float, str]]:
    return [(vmin + (vmax - vmin) * k / 4, fmt(vmin + (vmax - vmin) * k / 4)) for k in range(5)]


def _left(ticks: list[tuple[float, str]]) -> int:
    """Room left of the plot for the widest value label."""
    return max(30, math.ceil(max(text_width(t) for _, t in ticks)) + 12)


def _grid(left: float, top: float, w: float, h: float, ticks: list[tuple[float, str]]) -> list[str]:
    out = []
    for k, (_, label) in enumerate(ticks):
        y = top + h - h * k / (len(ticks) - 1)
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd" />')
        out.append(_text(left - 6, y + 4, label, "end", style=AXIS_FONT))
    return out


def _titles(axes: Axes, left: float, w: float, x_at: float, width: int) -> list[str]:
    """The y title above the value labels, the x title centred under the x labels."""
    out = []
    if axes.y:
        out.append(_text(2, 14, axes.y, "start", 'font-weight="600"', AXIS_FONT))
    if axes.x:
        mid = min(max(left + w / 2, text_width(axes.x) / 2 + 2), width - text_width(axes.x) / 2 - 2)
        out.append(_text(mid, x_at, axes.x, "middle", 'font-weight="600"', AXIS_FONT))
    return out


def _every(labels: Sequence[str], room: float) -> int:
    """Show every n-th x label so that neighbours do not touch (``room``: between two)."""
    widest = max((text_width(x) for x in labels), default=0.0) + GAP
    return max(1, math.ceil(widest / room)) if room > 0 else max(len(labels), 1)


def _below(axes: Axes, legend_rows: int) -> int:
    """Room under the plot: x labels, the x title, the legend."""
    return X_LABEL + 6 + (18 if axes.x else 0) + 18 * legend_rows + (6 if legend_rows else 0)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    axes: Axes = Axes(),
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    colors: Sequence[str] | None = None,
    stacked: bool = False,
    vmax: float | None = None,
    width: int = WIDE,
    plot: int = 180,
    variant: str = "",
) -> str:
    """Vertical bars per label; several series side by side (or stacked)."""
    totals = (
        [sum(s.values[i] for s in series) for i in range(len(labels))]
        if stacked
        else [max((s.values[i] for s in series), default=0) for i in range(len(labels))]
    )
    vmax = vmax if vmax is not None else _nice_max(max(totals, default=0))
    ticks = _ticks(vmax, 0.0, fmt)
    left = _left(ticks)
    rows = _legend_rows(series, width - left) if len(series) > 1 else 0
    top, h = TOP, plot
    w = width - left - 12
    slot = w / max(len(labels), 1)
    every = _every(labels, slot)
    # labels too wide for their bar but not for two: every label, on two lines in turn
    stagger = STAGGER if every > 1 and _every(labels, 2 * slot) == 1 else 0
    every = 1 if stagger else every
    height = top + h + _below(axes, rows) + stagger
    body = _grid(left, top, w, h, ticks)
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
        if i % every == 0:
            y = top + h + X_LABEL + (stagger if i % 2 else 0)
            body.append(_text(left + slot * (i + 0.5), y, label, style=AXIS_FONT))
    body += _titles(axes, left, w, top + h + X_TITLE + stagger, width)
    if len(series) > 1:
        below = top + h + LEGEND + (18 if axes.x else 0) + stagger
        body += _legend(series, left, below, width - left)
    return _svg(width, height, title, desc, body, variant)


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    axes: Axes = Axes(),
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    vmax: float | None = None,
    vmin: float = 0.0,
    width: int = WIDE,
    plot: int = 180,
    variant: str = "",
) -> str:
    """One polyline (with dots) per series over the labels (values from ``vmin``)."""
    values = [float(v) for s in series for v in s.values if v is not None and not math.isnan(v)]
    top_value = vmax if vmax is not None else _nice_max(max(values, default=0))
    frame = LineFrame(
        labels,
        fmt=fmt,
        vmax=top_value,
        vmin=vmin,
        width=width,
        plot=plot,
        axes=axes,
        legend=series if len(series) > 1 else (),
        variant=variant,
    )
    return frame.draw(series, title=title, desc=desc)


class LineFrame:
    """What line charts over the same labels and scale share: gridlines, axis and x labels,
    drawn once, and each dot, drawn once per place and value. Every P1 page draws its
    score trend in one frame (18,486 pages at 1M visitors; scores repeat).

    ``legend``: the series whose colour keys are drawn (their names), if several.
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        fmt: Callable[[float], str],
        vmax: float,
        vmin: float = 0.0,
        width: int = WIDE,
        plot: int = 180,
        axes: Axes = Axes(),
        legend: Sequence[Series] = (),
        variant: str = "",
    ) -> None:
        self.labels, self.fmt, self.vmin, self.width = labels, fmt, vmin, width
        self.variant = variant
        ticks = _ticks(vmax, vmin, fmt)
        first = math.ceil(text_width(labels[0]) / 2 + 4) if labels else 0
        self.left, self.top = max(_left(ticks), first), TOP
        last = text_width(labels[-1]) / 2 + 4 if labels else 0
        self.w = width - self.left - max(16, math.ceil(last))
        self.h = plot
        rows = _legend_rows(legend, width - self.left) if legend else 0
        self.height = self.top + self.h + _below(axes, rows)
        self.step = self.w / max(len(labels) - 1, 1)
        self.span = vmax - vmin
        grid = _grid(self.left, self.top, self.w, self.h, ticks)
        every = _every(labels, self.step) if len(labels) > 1 else 1
        shown = [i for i in range(len(labels)) if i % every == 0]
        if shown and shown[-1] != len(labels) - 1 and len(labels) - 1 - shown[-1] >= every:
            shown.append(len(labels) - 1)
        x_labels = [
            _text(
                self.left + self.step * i, self.top + self.h + X_LABEL, labels[i], style=AXIS_FONT
            )
            for i in shown
        ]
        below = self.top + self.h + LEGEND + (18 if axes.x else 0)
        self.grid = "".join(
            grid + _titles(axes, self.left, self.w, self.top + self.h + X_TITLE, width)
        )
        self.x_labels = "".join(x_labels)
        self.legend = "".join(_legend(legend, self.left, below, width - self.left))
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
        body.append(self.legend)
        return _svg(self.width, self.height, title, desc, body, self.variant)

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
    axes: Axes = Axes(),
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    color: str = PALETTE[0],
    vmax: float | None = None,
    width: int = WIDE,
    variant: str = "",
) -> str:
    """Horizontal bars, one per label (long labels such as feature names)."""
    vmax = vmax if vmax is not None else _nice_max(max((float(v) for v in values), default=0))
    frame = HBarFrame(
        labels, fmt=fmt, color=color, vmax=vmax, width=width, axes=axes, variant=variant
    )
    return frame.draw(values, title=title, desc=desc)


class HBarFrame:
    """Horizontal bars over fixed labels and scale, each bar drawn once per row and value:
    every P1 page has the same score components, 0–100.

    The label column is as wide as the longest label, at most 40 % of the chart (a
    longer label is cut with "…"; its bar's tooltip has it whole); the y title names
    the labels, the x title the values and their unit.
    """

    ROW = 24

    def __init__(
        self,
        labels: Sequence[str],
        *,
        fmt: Callable[[float], str],
        color: str = PALETTE[0],
        vmax: float,
        width: int = WIDE,
        axes: Axes = Axes(),
        variant: str = "",
    ) -> None:
        self.labels, self.fmt, self.color, self.vmax, self.width = labels, fmt, color, vmax, width
        self.variant = variant
        widest = max((text_width(x) for x in labels), default=0.0)
        self.left = math.ceil(min(widest + 10, width * 0.4))
        self.shown = [_cut(x, self.left - 10) for x in labels]
        self.right = math.ceil(text_width(fmt(vmax)) + 10)
        self.top = TOP if axes.y else 6
        rows_h = self.ROW * max(len(labels), 1)
        self.height = self.top + rows_h + (26 if axes.x else 6)
        head = []
        if axes.y:
            head.append(_text(2, 14, axes.y, "start", 'font-weight="600"', AXIS_FONT))
        if axes.x:
            x_mid = self.left + (width - self.left - self.right) / 2
            head.append(
                _text(
                    x_mid, self.top + rows_h + 18, axes.x, "middle", 'font-weight="600"', AXIS_FONT
                )
            )
        self.head = "".join(head)
        self.bar = functools.cache(self._bar)

    def draw(self, values: Sequence[float], *, title: str, desc: str) -> str:
        body = [self.head]
        body += [self.bar(i, v) for i, (_, v) in enumerate(zip(self.labels, values, strict=True))]
        return _svg(self.width, self.height, title, desc, body, self.variant)

    def _bar(self, i: int, v: float) -> str:
        row, left, label = self.ROW, self.left, self.labels[i]
        y = self.top + i * row
        bw = (self.width - left - self.right) * float(v) / self.vmax
        shown = self.fmt(float(v))
        return (
            _text(left - 8, y + 15, self.shown[i], "end")
            + f'<rect x="{left}" y="{y + 3}" width="{max(bw, 0):.1f}" height="{row - 8}" '
            f'fill="{self.color}"><title>{escape(f"{label}: {shown}")}</title></rect>'
            + _text(left + bw + 6, y + 15, shown, "start")
        )


def _cut(label: str, room: float) -> str:
    """``label``, or its start and "…" when it is wider than ``room``."""
    if text_width(label) <= room:
        return label
    while label and text_width(label + "…") > room:
        label = label[:-1]
    return label.rstrip() + "…"


def _item_width(name: str) -> float:
    return 24 + text_width(name)


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
