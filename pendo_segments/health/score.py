"""The account health score of docs/semantics.md §5.

Each component is 0–100; the score is the weighted mean of the components
an account has data for (missing ones are dropped and the remaining weights
renormalised), rounded half up to 1 decimal. The curves, the weighted mean
and the rounding are those of :mod:`pendo_segments.semantics.score` (the
health SQL computes the same ones); this module gathers the signals and
applies them, vectorised over accounts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.base.rendered import Rendered
from pendo_segments.data.history import fields_for
from pendo_segments.evaluate.metrics import Metrics
from pendo_segments.health import signals as S
from pendo_segments.health.config import COMPONENTS, LABELS, HealthConfig
from pendo_segments.semantics.score import falling, round1, saturate, weighted_mean

#: the score of the components present (health/calibrate.py refits weights with it)
weighted_score = weighted_mean

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

SCORE_COLUMN = "health_score"
#: docs/semantics.md §4 ``health`` csv columns.
HEALTH_COLUMNS: list[str] = ["account_id", SCORE_COLUMN, *COMPONENTS]


@dataclass
class HealthResult:
    """Scores, components and the raw measures behind them, per account.

    Arrays are aligned to ``account_ids`` (accounts in file order) and are
    unrounded; :meth:`frame` gives the rounded docs/semantics.md §4 table.
    """

    as_of: dt.date
    config: HealthConfig
    account_ids: pd.Index
    score: np.ndarray
    components: dict[str, np.ndarray]
    #: raw measures: active_days, feature_adoption (%), breadth (%), nps (0–10),
    #: nps_responses, tickets, sessions, usage_growth (%), days_since_last_login,
    #: renewal_in_days
    signals: dict[str, np.ndarray]
    #: component → why it is missing for every account (e.g. "no tickets.csv")
    missing_everywhere: dict[str, str] = field(default_factory=dict)
    metrics: Metrics | None = None
    #: which accounts exist at the as-of day (docs/semantics.md §2b); None: all of them.
    #: The others keep their place in the arrays (aligned with the data's accounts) with
    #: unknown (NaN) values, so no rule matches them, and are left out of every table.
    subjects: np.ndarray | None = None

    def subject_mask(self) -> np.ndarray:
        """Per account: a subject at the as-of day (all true when every account is)."""
        if self.subjects is None:
            return np.ones(len(self.account_ids), dtype=bool)
        return self.subjects

    def matrix(self) -> np.ndarray:
        """Accounts × components (COMPONENTS order), NaN where missing."""
        return np.column_stack([self.components[c] for c in COMPONENTS])

    def missing(self) -> list[list[str]]:
        """Per account, the components it has no data for."""
        absent = np.isnan(self.matrix())
        return [[COMPONENTS[j] for j in np.flatnonzero(row)] for row in absent]

    def frame(self, *, with_missing: bool = False) -> pd.DataFrame:
        """``account_id,health_score,<components>`` rounded to 1 decimal, sorted by account."""
        out = pd.DataFrame(
            {
                "account_id": np.asarray(self.account_ids, dtype=object),
                SCORE_COLUMN: round1(self.score),
            }
        )
        for c in COMPONENTS:
            out[c] = round1(self.components[c])
        if with_missing:
            out["missing"] = [", ".join(m) for m in self.missing()]
        if self.subjects is not None:
            out = out[self.subjects]
        return out.sort_values("account_id", kind="stable").reset_index(drop=True)

    def render(self, fmt: str) -> Rendered:
        """The scores table (with ``missing`` on a terminal), or JSON records with it as lists."""
        title = f"Account health as of {self.as_of.isoformat()}"
        if fmt != "json":
            return Rendered(frame=self.frame(with_missing=fmt == "table"), title=title)
        frame = self.frame(with_missing=True)
        frame["missing"] = [m.split(", ") if m else [] for m in frame["missing"]]
        records = [
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in frame.to_dict(orient="records")
        ]
        return Rendered(payload=records, title=title)

    def notes(self) -> list[str]:
        """One line per component that is missing somewhere, saying why."""
        lines = []
        absent = np.isnan(self.matrix())[self.subject_mask()]
        n = len(absent)
        for j, c in enumerate(COMPONENTS):
            count = int(absent[:, j].sum())
            if not count:
                continue
            why = self.missing_everywhere.get(c) or (
                f"no NPS responses in the last {self.config.nps.window_days} days"
                if c == "nps"
                else "no data"
            )
            lines.append(
                f"{LABELS[c]} missing for {count} of {n} accounts ({why}); "
                "their weights are renormalised over the other components"
            )
        return lines

    def value(self, account_id: str) -> dict[str, Any]:
        """One account's rounded score and components (for explanations and tests)."""
        i = self.account_ids.get_loc(account_id)
        out: dict[str, Any] = {SCORE_COLUMN: float(round1(self.score[i]))}
        for c in COMPONENTS:
            out[c] = float(round1(self.components[c][i]))
        return out


def compute_health(
    ds: Dataset,
    *,
    as_of: dt.date | None = None,
    config: HealthConfig | None = None,
    metrics: Metrics | None = None,
) -> HealthResult:
    """Score every account of ``ds`` that exists at ``as_of`` (default: the data's as-of).

    The arrays keep every account's place; those that are not subjects at the
    as-of day (docs/semantics.md §2b: created on or after it, churned before
    it) hold NaN and are marked in :attr:`HealthResult.subjects`.
    """
    config = config or HealthConfig()
    day = as_of or ds.default_as_of()
    ds = fields_for(ds, day)  # account fields of D−1 (history files)
    m = metrics if metrics is not None and metrics.as_of == day else Metrics(ds, day)
    n = len(m.account_ids)
    nan = np.full(n, np.nan)
    comps: dict[str, np.ndarray] = {}
    sig: dict[str, np.ndarray] = {}
    everywhere: dict[str, str] = {}

    lf = config.login_frequency
    sig["active_days"] = m.metric("account", "active_days", lf.window_days)
    comps["login_frequency"] = saturate(sig["active_days"], lf.full_at_active_days)

    # Two components of one shape: the share of a feature list used ≥ min_clicks times.
    for component, signal, features, spec, why_missing in (
        (
            "core_feature_adoption",
            "feature_adoption",
            ds.key_features(),
            config.core_feature_adoption,
            "no key features in features.csv",
        ),
        (
            "breadth",
            "breadth",
            [str(f) for f in ds.features["feature_id"]],
            config.breadth,
            "features.csv lists no features",
        ),
    ):
        if features:
            share = S.features_used(m, features, spec.window_days, spec.min_clicks) / len(features)
            sig[signal] = share * 100
            comps[component] = saturate(share, spec.full_at_share)
        else:
            sig[signal] = nan.copy()
            comps[component] = nan.copy()
            everywhere[component] = why_missing

    nps = S.nps_responses(ds, m, config.nps.window_days)
    if nps is None:
        sig["nps"], sig["nps_responses"] = nan.copy(), nan.copy()
        comps["nps"] = nan.copy()
        everywhere["nps"] = "no nps.csv"
    else:
        sig["nps"], sig["nps_responses"] = nps
        comps["nps"] = sig["nps"] * 10

    st = config.support_tickets
    tickets = S.ticket_counts(ds, m, st.window_days)
    if tickets is None:
        sig["tickets"] = nan.copy()
        comps["support_tickets"] = nan.copy()
        everywhere["support_tickets"] = "no tickets.csv"
    else:
        sig["tickets"] = tickets
        comps["support_tickets"] = falling(tickets, st.zero_at_tickets)

    sig["sessions"] = S.sessions(m, lf.window_days)
    sig["usage_growth"] = S.usage_growth(m, lf.window_days)
    sig["days_since_last_login"] = m.metric("account", "days_since_last_visit")
    sig["renewal_in_days"] = S.renewal_in_days(ds, m)

    weights = np.array([config.weights.as_dict()[c] for c in COMPONENTS])
    matrix = np.column_stack([comps[c] for c in COMPONENTS])
    score = weighted_mean(matrix, weights)
    subjects = m.subjects("account")
    if not subjects.all():  # not watched at D: no value a rule could match
        score = np.where(subjects, score, np.nan)  # copies: signals share Metrics' cache
        comps = {k: np.where(subjects, v, np.nan) for k, v in comps.items()}
        sig = {k: np.where(subjects, v, np.nan) for k, v in sig.items()}
    return HealthResult(
        as_of=day,
        config=config,
        account_ids=m.account_ids,
        score=score,
        components=comps,
        signals=sig,
        missing_everywhere=everywhere,
        metrics=m,
        subjects=None if subjects.all() else subjects.copy(),
    )
