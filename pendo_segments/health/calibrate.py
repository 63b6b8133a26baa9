"""How well the health score separates churned from renewed accounts.

Separation is the ROC AUC by the Mann–Whitney rank formula (ties count
half): the probability that a renewed account scores higher than a churned
one. 0.5 is a coin flip, 1.0 perfect. The suggested weights come from an
exhaustive search over weights in steps of 5 % of the total, scored with the
same renormalising formula users get; among the near-best candidates the one
closest to the current weights wins, so the suggestion moves no further
than the data asks.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.base.rendered import Rendered
from pendo_segments.errors import DataError
from pendo_segments.evaluate.metrics import positions
from pendo_segments.health.config import COMPONENTS, HealthConfig
from pendo_segments.health.score import compute_health, round1, weighted_score

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

GRID_UNITS = 20  # weights move in steps of total / 20 (5 points of 100)
TIE_TOLERANCE = 0.002  # AUCs this close to the best count as equally good
MIN_GAIN = 0.005  # suggest a change only when separation improves at least this much
SEARCH_SAMPLE = 5000  # accounts used for the search on very large data (all for the result)
_CELLS = 2_000_000  # accounts × candidates scored per chunk


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks along axis 0, ties given their average rank (vectorised per column)."""
    x = np.asarray(values, dtype=np.float64)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    n = x.shape[0]
    order = np.argsort(x, axis=0, kind="stable")
    s = np.take_along_axis(x, order, axis=0)
    pos = np.broadcast_to(np.arange(n)[:, None], s.shape)
    starts = np.ones(s.shape, dtype=bool)
    starts[1:] = s[1:] != s[:-1]
    ends = np.ones(s.shape, dtype=bool)
    ends[:-1] = s[1:] != s[:-1]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, pos, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty_like(s)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=0)
    return ranks[:, 0] if flat else ranks


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray | float:
    """P(score of a positive > score of a negative) + ½ P(tie), per column of ``scores``.

    Rows with a NaN score are left out (per column). NaN when a class is empty.
    """
    x = np.asarray(scores, dtype=np.float64)
    flat = x.ndim == 1
    if flat:
        x = x[:, None]
    pos = np.asarray(positive, dtype=bool)
    if np.isnan(x).any():
        out = np.array(
            [
                _auc_dense(x[~np.isnan(x[:, j]), j][:, None], pos[~np.isnan(x[:, j])])[0]
                for j in range(x.shape[1])
            ]
        )
    else:
        out = _auc_dense(x, pos)
    return float(out[0]) if flat else out


def _auc_dense(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(x.shape[1], np.nan)
    rank_sum = average_ranks(x)[pos].sum(axis=0)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def weight_grid(k: int, units: int = GRID_UNITS) -> np.ndarray:
    """Every way to split ``units`` into ``k`` non-negative parts (stars and bars)."""
    rows = []
    for bars in itertools.combinations(range(units + k - 1), k - 1):
        edges = (-1, *bars, units + k - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(k)])
    return np.array(rows, dtype=np.float64)


@dataclass
class Separation:
    """One line of the report: the score or one component."""

    name: str
    weight: float | None
    accounts: int
    mean_churned: float
    mean_renewed: float
    auc: float


@dataclass
class Calibration:
    """Separation of the score and each component, and a suggested re-weighting."""

    as_of: list[dt.date]
    accounts: int
    churned: int
    renewed: int
    rows: list[Separation]
    current_weights: dict[str, float]
    suggested_weights: dict[str, float]
    current_auc: float
    suggested_auc: float
    changed: bool
    uncalibrated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = ""
    config_path: str = ""

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([_record(r) for r in self.rows])

    def yaml_snippet(self) -> str:
        """A ``weights:`` block to paste over the one in ``health.yaml``."""
        dates = ", ".join(d.isoformat() for d in self.as_of)
        target = self.config_path or "segment_defs/health.yaml"
        lines = [
            f"# Suggested by `pendo-segments health calibrate` on {self.source or 'data'}"
            f" (as of {dates}, {self.accounts} accounts with outcomes).",
            f"# Separation (ROC AUC): {self.current_auc:.3f} with the current weights, "
            f"{self.suggested_auc:.3f} with these, on the same accounts.",
            f"# Paste over the `weights:` block of {target}.",
        ]
        if not self.changed:
            lines.insert(
                2,
                "# The current weights already separate as well as any "
                f"(gain < {MIN_GAIN}); no change suggested.",
            )
        lines.append("weights:")
        for c in COMPONENTS:
            note = "  # not calibrated: no data" if c in self.uncalibrated else ""
            lines.append(f"  {c}: {_num(self.suggested_weights[c])}{note}")
        return "\n".join(lines) + "\n"

    def render(self, fmt: str) -> Rendered:
        """json: :meth:`to_dict`; csv: the separation table; table: the report to read."""
        if fmt == "json":
            return Rendered(payload=self.to_dict())
        if fmt == "table":
            return Rendered(text=self.report())
        return Rendered(frame=self.table())

    def report(self) -> str:
        """Counts, the separation table, how to read AUC, then the YAML to paste."""
        import io

        from rich.console import Console
        from rich.table import Table

        buf = io.StringIO()
        console = Console(file=buf, width=110, color_system=None)
        dates = ", ".join(d.isoformat() for d in self.as_of)
        console.print(
            f"Calibration on {self.accounts} accounts with outcomes "
            f"({self.churned} churned, {self.renewed} renewed), as of {dates}."
        )
        table = Table(title="Separation of churned and renewed accounts")
        for c in ("measure", "weight", "accounts", "mean churned", "mean renewed", "ROC AUC"):
            table.add_column(c, justify="left" if c == "measure" else "right")
        for r in self.table().itertuples(index=False):
            cells = (_cell(r.weight, "g"), str(r.accounts), _cell(r.mean_churned))
            table.add_row(r.measure, *cells, _cell(r.mean_renewed), _cell(r.auc, ".3f"))
        console.print(table)
        console.print(
            "ROC AUC = chance that a renewed account scores higher than a churned one\n"
            "(ties count half): 0.5 = coin flip, 1 = perfect."
        )
        for line in self.notes:
            console.print(f"Note: {line}", markup=False)
        console.print("")
        return buf.getvalue() + self.yaml_snippet()

    def as_json(self) -> dict[str, Any]:
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON document of ``health calibrate --format json``."""
        return {
            "as_of": [d.isoformat() for d in self.as_of],
            "accounts": self.accounts,
            "churned": self.churned,
            "renewed": self.renewed,
            # the table's records, but a missing weight is null (a frame makes it NaN)
            "separation": [_record(r) for r in self.rows],
            "current_weights": self.current_weights,
            "current_auc": _r(self.current_auc, 4),
            "suggested_weights": self.suggested_weights,
            "suggested_auc": _r(self.suggested_auc, 4),
            "changed": self.changed,
            "uncalibrated": self.uncalibrated,
            "notes": self.notes,
            "yaml": self.yaml_snippet(),
        }


def _record(r: Separation) -> dict[str, Any]:
    """One measure's row of the separation table (rounded as printed)."""
    return {
        "measure": r.name,
        "weight": r.weight,
        "accounts": r.accounts,
        "mean_churned": _r1(r.mean_churned),
        "mean_renewed": _r1(r.mean_renewed),
        "auc": _r(r.auc, 3),
    }


def _cell(value: Any, spec: str = ".1f") -> str:
    return "" if value is None or value != value else format(value, spec)


def _r(value: float, digits: int) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), digits)


def _r1(value: float) -> float | None:
    return None if np.isnan(value) else float(round1(value))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def calibrate(
    ds: Dataset, *, config: HealthConfig | None = None, as_of: dt.date | None = None
) -> Calibration:
    """Score the accounts of ``outcomes`` and measure how well the score separates them."""
    config = config or HealthConfig()
    ids, matrix, churned, days, notes = scored_outcomes(ds, config, as_of)
    renewed = ~churned
    weights = np.array([config.weights.as_dict()[c] for c in COMPONENTS])
    score = weighted_score(matrix, weights)
    rows = [_separation("health_score", None, score, churned)]
    rows += [
        _separation(c, float(weights[j]), matrix[:, j], churned) for j, c in enumerate(COMPONENTS)
    ]
    usable = [j for j, c in enumerate(COMPONENTS) if not np.isnan(matrix[:, j]).all()]
    uncalibrated = [c for j, c in enumerate(COMPONENTS) if j not in usable]
    current_auc = float(roc_auc(score, renewed))
    best, best_auc = search_weights(matrix, renewed, weights, usable)
    changed = best_auc - current_auc >= MIN_GAIN
    suggested = best if changed else weights
    return Calibration(
        as_of=days,
        accounts=len(ids),
        churned=int(churned.sum()),
        renewed=int(renewed.sum()),
        rows=rows,
        current_weights=_weights_dict(weights),
        suggested_weights=_weights_dict(suggested),
        current_auc=current_auc,
        suggested_auc=best_auc if changed else current_auc,
        changed=changed,
        uncalibrated=uncalibrated,
        notes=notes,
        source=getattr(ds, "source", ""),
        config_path=config.source,
    )


def _weights_dict(weights: np.ndarray) -> dict[str, float]:
    return {c: float(round(weights[j], 2)) for j, c in enumerate(COMPONENTS)}


def _separation(
    name: str, weight: float | None, values: np.ndarray, churned: np.ndarray
) -> Separation:
    known = ~np.isnan(values)
    v, ch = values[known], churned[known]

    def mean(a: np.ndarray) -> float:
        return float(a.mean()) if len(a) else float("nan")

    return Separation(
        name=name,
        weight=weight,
        accounts=int(known.sum()),
        mean_churned=mean(v[ch]),
        mean_renewed=mean(v[~ch]),
        auc=float(roc_auc(v, ~ch)) if len(v) else float("nan"),
    )


def search_weights(
    matrix: np.ndarray, renewed: np.ndarray, current: np.ndarray, usable: list[int]
) -> tuple[np.ndarray, float]:
    """The best-separating weights on a grid (components outside ``usable`` keep theirs)."""
    total = float(current[usable].sum()) or 100.0
    grid = weight_grid(len(usable)) * total / GRID_UNITS
    full = np.tile(current, (len(grid), 1))
    full[:, usable] = grid
    present = ~np.isnan(matrix)
    rows = _search_rows(len(matrix), renewed)
    m, p, y = matrix[rows], present[rows], renewed[rows]
    # a candidate must give every account a score (some weight on a component it has)
    full = full[((p.astype(np.float64) @ full.T) > 0).all(axis=0)]
    filled = np.where(p, m, 0.0)
    aucs = np.empty(len(full))
    step = max(1, _CELLS // max(len(m), 1))
    for start in range(0, len(full), step):
        w = full[start : start + step]
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = (filled @ w.T) / (p.astype(np.float64) @ w.T)
        aucs[start : start + step] = roc_auc(scores, y)
    near = np.flatnonzero(aucs >= np.nanmax(aucs) - TIE_TOLERANCE)
    distance = np.abs(full[near] - current).sum(axis=1)
    best = full[near[np.argmin(distance)]]
    return best, float(roc_auc(weighted_score(matrix, best), renewed))


def _search_rows(n: int, renewed: np.ndarray) -> np.ndarray:
    """All rows, or a fixed-seed sample of SEARCH_SAMPLE keeping the churn share."""
    if n <= SEARCH_SAMPLE:
        return np.arange(n)
    rng = np.random.default_rng(0)
    picks = []
    for cls in (True, False):
        idx = np.flatnonzero(renewed == cls)
        take = max(1, round(SEARCH_SAMPLE * len(idx) / n))
        picks.append(rng.choice(idx, size=min(take, len(idx)), replace=False))
    return np.sort(np.concatenate(picks))


def scored_outcomes(
    ds: Dataset, config: HealthConfig, as_of: dt.date | None
) -> tuple[pd.Index, np.ndarray, np.ndarray, list[dt.date], list[str]]:
    """Component matrix and churn flags of the accounts that have an outcome.

    Each account is scored as of its outcome's ``as_of`` day when the file
    has one (the day the prediction would have been made), else as of
    ``as_of`` / the data's default.
    """
    outcomes = getattr(ds, "outcomes", None)
    where = getattr(ds, "source", "") or "data"
    if outcomes is None:
        raise DataError(
            f"{where}: no outcomes.csv; calibration needs account_id,churned "
            "per account (docs/semantics.md §1)"
        )
    notes: list[str] = []
    accounts = pd.Index(ds.accounts["account_id"].astype(str))
    pos = positions(outcomes["account_id"], accounts)
    unknown = int((pos < 0).sum())
    if unknown:
        notes.append(f"{unknown} outcome rows name accounts not in accounts.csv; ignored")
    outcomes = outcomes.loc[pos >= 0].reset_index(drop=True)
    pos = pos[pos >= 0]
    if len(np.unique(pos)) != len(pos):
        raise DataError(f"{where}: outcomes.csv lists an account twice; one outcome per account")
    churned = outcomes["churned"].astype("boolean")
    if churned.isna().any():
        row = int(np.flatnonzero(churned.isna().to_numpy())[0]) + 1
        raise DataError(f"outcomes.csv: row {row}, column churned: blank; expected true/false")
    default = as_of or ds.default_as_of()
    if as_of is None and "as_of" in outcomes.columns:
        day_col = pd.to_datetime(outcomes["as_of"])
        days = [d.date() if not pd.isna(d) else default for d in day_col]
    else:
        days = [default] * len(outcomes)
    matrix = np.full((len(outcomes), len(COMPONENTS)), np.nan)
    exists = np.ones(len(outcomes), dtype=bool)
    groups = pd.Series(range(len(days))).groupby(pd.Series(days), sort=True)
    for day, rows in groups:
        result = compute_health(ds, as_of=day, config=config)
        matrix[rows.to_numpy()] = result.matrix()[pos[rows.to_numpy()]]
        exists[rows.to_numpy()] = result.subject_mask()[pos[rows.to_numpy()]]
    missing = len(accounts) - len(pos)
    if missing:
        notes.append(f"{missing} accounts have no outcome; left out")
    flags = churned.to_numpy(dtype=bool)
    if not exists.all():
        # created on or after its scoring day, or churned before it (docs/semantics.md
        # §2b): no score to judge, and not a zero either
        notes.append(
            f"{int((~exists).sum())} accounts did not exist on their as-of day "
            "(created on or after it, or churned before it); left out"
        )
        matrix, flags, pos = matrix[exists], flags[exists], pos[exists]
        days = [d for d, keep in zip(days, exists, strict=True) if keep]
    if flags.all() or not flags.any():
        raise DataError(
            f"{where}: outcomes.csv needs both churned and renewed accounts "
            f"to measure separation (found {int(flags.sum())} churned of {len(flags)})"
        )
    ids = accounts[pos]
    return ids, matrix, flags, sorted(set(days)), notes
