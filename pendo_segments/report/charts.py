"""The dashboard's charts: numbers in, inline SVG (with text alternatives) out."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from markupsafe import Markup

from pendo_segments.report import svg
from pendo_segments.report.i18n import Words

TIER_COLORS = ["#1f5fa8", "#5b9bd5", "#9cc3e6", "#c9a227", "#8c8c8c"]
HIST_BANDS = 10
#: the small charts (tier mix, PES): one drawing that fits a phone at full size
MIX_WIDTH = svg.NARROW


def dashboard_charts(
    w: Words,
    *,
    score: np.ndarray,
    tier: np.ndarray,
    tier_names: list[str],
    arr: np.ndarray,
    bt: Any,
    weekly: list[tuple[dt.date, float]],
    features: list[Any],
    first_use: list[Any],
    nps: Any,
    pes: Any,
    segment_name: Callable[[str], str] = str,
) -> dict[str, Any]:
    """Charts of the index page and the numbers behind the ones computed here.

    ``segment_name`` shows a segment's name (its ``title_ja`` on a Japanese page).
    """
    charts: dict[str, Markup] = {}
    whole = functools.partial(w.num, digits=0)
    hist = _histogram(score, tier, tier_names)
    charts["health"] = Markup(
        svg.responsive(
            lambda width, variant: svg.bar_chart(
                [r["band"] for r in hist["rows"]],
                [
                    svg.Series(t, [r["by_tier"][t] for r in hist["rows"]], TIER_COLORS[i % 5])
                    for i, t in enumerate(tier_names)
                ],
                title=w("health_dist"),
                desc=w("health_dist_desc") + " " + _describe_hist(hist, w),
                axes=svg.Axes(x=w("axis_score"), y=w("axis_accounts")),
                stacked=True,
                fmt=whole,
                width=width,
                variant=variant,
            )
        )
    )
    mix: list[dict[str, Any]] = [
        {
            "tier": t,
            "accounts": int((tier == t).sum()),
            "arr": float(arr[tier == t].sum()),
        }
        for t in tier_names
    ]
    colors = [TIER_COLORS[i % 5] for i in range(len(tier_names))]
    charts["mix_accounts"] = Markup(
        svg.bar_chart(
            tier_names,
            [svg.Series(w("accounts"), [m["accounts"] for m in mix])],
            colors=colors,
            title=w("tier_mix_accounts"),
            desc="; ".join(f"{m['tier']}: {w.num(m['accounts'])}" for m in mix),
            axes=svg.Axes(x=w("axis_tier"), y=w("axis_accounts")),
            fmt=whole,
            width=MIX_WIDTH,
        )
    )
    charts["mix_arr"] = Markup(
        svg.bar_chart(
            tier_names,
            [svg.Series(w("arr"), [m["arr"] for m in mix])],
            colors=colors,
            title=w("tier_mix_arr"),
            desc="; ".join(f"{m['tier']}: {w.money(m['arr'])}" for m in mix),
            axes=svg.Axes(x=w("axis_tier"), y=w("axis_arr")),
            fmt=w.money_short,
            width=MIX_WIDTH,
        )
    )

    account_segments = [n for n in bt.counts if bt.subjects[n] == "account"]
    day_labels = [w.short_date(d) for d in bt.days]
    charts["segments"] = Markup(
        svg.responsive(
            lambda width, variant: svg.line_chart(
                day_labels,
                [
                    svg.Series(segment_name(n), bt.counts[n], svg.PALETTE[i % len(svg.PALETTE)])
                    for i, n in enumerate(account_segments)
                ],
                title=w("segment_sizes"),
                desc=w("segment_sizes_desc")
                + " "
                + "; ".join(
                    f"{segment_name(n)}: {bt.counts[n][0]} → {bt.counts[n][-1]}"
                    for n in account_segments
                ),
                axes=svg.Axes(x=w("axis_as_of"), y=w("axis_members")),
                fmt=whole,
                plot=220,
                width=width,
                variant=variant,
            )
        )
    )
    segment_rows = [
        {"segment": segment_name(n), "subject": bt.subjects[n], "counts": bt.counts[n]}
        for n in sorted(bt.counts)
    ]
    charts["time"] = Markup(
        svg.responsive(
            lambda width, variant: svg.bar_chart(
                [w.short_date(d) for d, _ in weekly],
                [svg.Series(w("minutes"), [m for _, m in weekly], svg.PALETTE[2])],
                title=w("time_in_app"),
                desc=w("time_in_app_desc")
                + " "
                + "; ".join(f"{w.short_date(d)}: {w.num(m, 0)}" for d, m in weekly),
                axes=svg.Axes(x=w("axis_week"), y=w("axis_minutes")),
                fmt=whole,
                width=width,
                variant=variant,
            )
        )
    )
    charts["features"] = Markup(
        svg.responsive(
            lambda width, variant: svg.hbar_chart(
                [f.name for f in features],
                [f.share for f in features],
                title=w("feature_usage"),
                desc=w("feature_usage_desc")
                + " "
                + "; ".join(f"{f.name}: {w.pct(f.share)}" for f in features),
                axes=svg.Axes(x=w("axis_share"), y=w("axis_feature")),
                fmt=lambda v: w.pct(v),
                color=svg.PALETTE[4],
                vmax=100,
                width=width,
                variant=variant,
            )
        )
    )
    charts["first_use"] = Markup(
        svg.responsive(
            lambda width, variant: svg.hbar_chart(
                [f.name for f in first_use],
                [0.0 if math.isnan(f.median_days) else f.median_days for f in first_use],
                title=w("first_use"),
                desc=w("first_use_desc")
                + " "
                + "; ".join(f"{f.name}: {w.num(f.median_days, 1)}" for f in first_use),
                axes=svg.Axes(x=w("axis_median_days"), y=w("axis_feature")),
                fmt=lambda v: w.num(v, 1),
                color=svg.PALETTE[1],
                width=width,
                variant=variant,
            )
        )
    )
    if nps is not None:
        nps_colors = ["#b0413e"] * 7 + ["#c9a227"] * 2 + ["#3a9a5b"] * 2
        months = [w.month(m) for m, _, _ in nps.trend]
        charts["nps_dist"] = Markup(
            svg.responsive(
                lambda width, variant: svg.bar_chart(
                    [str(s) for s in range(11)],
                    [svg.Series(w("responses"), nps.counts)],
                    colors=nps_colors,
                    title=w("nps_dist"),
                    desc=w("nps_dist_desc")
                    + f" NPS {w.num(nps.score, 0)}; "
                    + "; ".join(f"{s}: {c}" for s, c in enumerate(nps.counts)),
                    axes=svg.Axes(x=w("axis_nps_score"), y=w("axis_responses")),
                    fmt=whole,
                    width=width,
                    variant=variant,
                )
            )
        )
        charts["nps_trend"] = Markup(
            svg.responsive(
                lambda width, variant: svg.line_chart(
                    months,
                    [svg.Series("NPS", [v for _, v, _ in nps.trend], svg.PALETTE[0])],
                    title=w("nps_trend"),
                    desc=w("nps_trend_desc")
                    + " "
                    + "; ".join(
                        f"{m}: {w.num(v, 0)}"
                        for m, (_, v, _) in zip(months, nps.trend, strict=True)
                    ),
                    axes=svg.Axes(x=w("axis_month"), y=w("axis_nps")),
                    fmt=whole,
                    vmin=-100,
                    vmax=100,
                    width=width,
                    variant=variant,
                )
            )
        )
    pes_parts = [
        (w("adoption"), pes.adoption),
        (w("stickiness"), pes.stickiness),
        (w("growth"), pes.growth),
        ("PES", pes.score),
    ]
    charts["pes"] = Markup(
        svg.bar_chart(
            [p for p, _ in pes_parts],
            [svg.Series("PES", [0.0 if math.isnan(v) else v for _, v in pes_parts])],
            colors=[svg.PALETTE[0], svg.PALETTE[2], svg.PALETTE[1], "#333333"],
            title=w("pes_title"),
            desc=w("pes_desc") + " " + "; ".join(f"{p}: {w.num(v, 1)}" for p, v in pes_parts),
            axes=svg.Axes(x=w("axis_component"), y=w("axis_value")),
            fmt=whole,
            vmax=100,
            width=MIX_WIDTH,
        )
    )

    return {
        "charts": charts,
        "hist": hist,
        "mix": mix,
        "segment_rows": segment_rows,
        "account_segments": account_segments,
        "day_labels": day_labels,
    }


class AccountCharts:
    """The two charts of a P1 account's page: score components and score over time.

    Every page draws them over the same labels on the same 0–100 scale, so their frames
    are made once for all the pages (see :class:`~pendo_segments.report.svg.LineFrame`).
    They are drawn once, at the phone's width (:data:`~pendo_segments.report.svg.NARROW`),
    and sit beside their tables on a wide screen: 18,486 pages at 1M visitors would
    double in size with a second, wide drawing.
    """

    def __init__(self, w: Words, day_labels: list[str]) -> None:
        self.w, self.day_labels = w, day_labels
        axes = svg.Axes(x=w("axis_as_of"), y=w("axis_score"))
        self.trend = svg.LineFrame(
            day_labels, fmt=self._whole, vmax=100, width=svg.NARROW, axes=axes
        )
        self.components = functools.cache(self._components)

    def __call__(self, a: dict[str, Any]) -> dict[str, Markup]:
        w, comps = self.w, a["components"]
        frame = self.components(tuple(c["name"] for c in comps))
        said = "; ".join(f"{c['name']}: {w.num(c['value'], 1)}" for c in comps)
        trend = "; ".join(
            f"{d}: {w.num(s, 1)}" for d, s in zip(self.day_labels, a["trend"], strict=True)
        )
        return {
            "chart_components": Markup(
                frame.draw(
                    [0.0 if math.isnan(c["value"]) else c["value"] for c in comps],
                    title=f"{w('components')}: {a['name']}",
                    desc=f"{w('components_desc')} {said}",
                )
            ),
            "chart_trend": Markup(
                self.trend.draw(
                    [svg.Series(w("score"), a["trend"], svg.PALETTE[0])],
                    title=f"{w('score_trend')}: {a['name']}",
                    desc=f"{w('score_trend_desc')} {trend}",
                )
            ),
        }

    def _whole(self, v: float) -> str:
        return self.w.num(v, 0)

    def _components(self, names: tuple[str, ...]) -> svg.HBarFrame:
        axes = svg.Axes(x=self.w("axis_value"), y=self.w("axis_component"))
        return svg.HBarFrame(names, fmt=self._whole, vmax=100, width=svg.NARROW, axes=axes)


def _histogram(score: np.ndarray, tier: np.ndarray, tiers: list[str]) -> dict[str, Any]:
    """Accounts per 10-point band (90–100 includes 100), per tier."""
    known = ~np.isnan(score)
    band = np.minimum((np.where(known, score, 0) // 10).astype(int), HIST_BANDS - 1)
    rows: list[dict[str, Any]] = []
    for b in range(HIST_BANDS):
        inside = known & (band == b)
        label = f"{b * 10}–{b * 10 + 10}"
        by_tier = {t: int((inside & (tier == t)).sum()) for t in tiers}
        total = int(inside.sum())
        rows.append(
            {
                "band": label,
                "by_tier": by_tier,
                "total": total,
                "cells": [label, *by_tier.values(), total],
            }
        )
    return {"rows": rows, "unscored": int((~known).sum())}


def _describe_hist(hist: dict[str, Any], w: Words) -> str:
    return "; ".join(f"{r['band']}: {w.num(r['total'])}" for r in hist["rows"])


def qbr_charts(
    w: Words, a: dict[str, Any], *, key_features: list[str], days: list[dt.date]
) -> dict[str, Markup]:
    """The charts of account ``a``'s QBR pack (:mod:`pendo_segments.report.qbr`): key
    feature adoption, active users, top features, NPS per month and health per week."""
    whole = functools.partial(w.num, digits=0)
    weeks = [w.short_date(r["start"]) for r in a["weekly"]]
    name = a["name"]
    charts: dict[str, Markup] = {}
    adoption = [
        svg.Series(f, [r["key_users"][j] for r in a["weekly"]], svg.PALETTE[j % len(svg.PALETTE)])
        for j, f in enumerate(key_features)
    ]
    charts["adoption"] = Markup(
        svg.responsive(
            lambda width, variant: svg.line_chart(
                weeks,
                adoption,
                title=f"{w('adoption_trend')}: {name}",
                desc=w("adoption_trend_desc")
                + " "
                + "; ".join(
                    f"{s.name}: {' → '.join(whole(v) for v in s.values)}" for s in adoption
                ),
                axes=svg.Axes(x=w("axis_week"), y=w("axis_users")),
                fmt=whole,
                width=width,
                variant=variant,
            )
        )
    )
    active = [r["active"] for r in a["weekly"]]
    charts["active"] = Markup(
        svg.responsive(
            lambda width, variant: svg.bar_chart(
                weeks,
                [svg.Series(w("users"), active, svg.PALETTE[2])],
                title=f"{w('active_users')}: {name}",
                desc=w("active_users_desc")
                + " "
                + "; ".join(f"{d}: {whole(v)}" for d, v in zip(weeks, active, strict=True)),
                axes=svg.Axes(x=w("axis_week"), y=w("axis_users")),
                fmt=whole,
                width=width,
                variant=variant,
            )
        )
    )
    if a["top"]:
        top = a["top"]
        charts["top"] = Markup(
            svg.responsive(
                lambda width, variant: svg.hbar_chart(
                    [f["name"] for f in top],
                    [f["clicks"] for f in top],
                    title=f"{w('top_features')}: {name}",
                    desc=w("top_features_desc")
                    + " "
                    + "; ".join(f"{f['name']}: {whole(f['clicks'])}" for f in top),
                    axes=svg.Axes(x=w("axis_clicks"), y=w("feature")),
                    fmt=whole,
                    color=svg.PALETTE[4],
                    width=width,
                    variant=variant,
                )
            )
        )
    if a["nps"]:
        months = [w.month(m) for m, _, _, _ in a["nps"]]
        means = [mean for _, mean, _, _ in a["nps"]]
        charts["nps"] = _one_line(
            w,
            months,
            means,
            series=w("mean_score"),
            title=f"{w('nps_month')}: {name}",
            desc=w("nps_month_desc"),
            axes=svg.Axes(x=w("axis_month"), y=w("axis_mean_score")),
            fmt=functools.partial(w.num, digits=1),  # ticks at 2.5, 7.5
            vmax=10,
        )
    labels = [w.short_date(d) for d in days]
    scores = [s for _, s in a["health"]]
    charts["health"] = _one_line(
        w,
        labels,
        scores,
        series=w("score"),
        title=f"{w('health_history')}: {name}",
        desc=w("health_history_desc"),
        axes=svg.Axes(x=w("axis_as_of"), y=w("axis_score")),
        fmt=whole,
        vmax=100,
    )
    return charts


def _one_line(
    w: Words,
    labels: list[str],
    values: list[float],
    *,
    series: str,
    title: str,
    desc: str,
    axes: svg.Axes,
    fmt: Callable[[float], str],
    vmax: float,
) -> Markup:
    """A one-series line chart whose description lists every value to one decimal."""
    listed = "; ".join(f"{x}: {w.num(v, 1)}" for x, v in zip(labels, values, strict=True))
    return Markup(
        svg.responsive(
            lambda width, variant: svg.line_chart(
                labels,
                [svg.Series(series, values, svg.PALETTE[0])],
                title=title,
                desc=f"{desc} {listed}",
                axes=axes,
                fmt=fmt,
                vmax=vmax,
                width=width,
                variant=variant,
            )
        )
    )
