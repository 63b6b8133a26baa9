"""A deterministic, realistic usage data set (bundled sample and benchmarks).

Same arguments give byte-identical files: one seeded numpy ``Generator``
draws everything in a fixed order, vectorised over accounts / visitors and
looping only over days, so 1,000,000 visitors x 60 days (~30M usage rows)
takes minutes, not hours.

What is planted, for the demo and for tests to find:

* account engagement levels (healthy, average, declining, dormant, none);
  ~5 % of accounts have no usage at all (level "none" or no visitors);
* dormant visitors: active earlier, nothing in the last 30+ days;
* ``last_visit`` (Pendo's ``metadata.auto.lastvisit``): the last active day,
  and for visitors of accounts with no usage in the data a day before the
  usage starts, so ``no_login_30d`` finds people who left long ago;
* weekday-heavy activity, minutes with decimals, a few rows with minutes
  but no events and vice versa (and rare idle rows with neither);
* ARR tiers (45 % SMB ≤ 15000, some exactly 15000), plans following ARR,
  contract and first-visit anniversaries within 7 days after ``end``,
  renewals within 90 days, new users (first visit in the last 30 days);
* feature adoption curves (core_events common, guide_publishing rare);
* churn outcomes whose probability rises as usage, adoption and NPS fall
  and tickets rise, so a health score can be calibrated against them.

Regenerate the bundled copy after changing anything here::

    python -m pendo_segments.data.sample --regenerate-bundled
"""

from __future__ import annotations

import argparse
import datetime as dt
import unicodedata
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pendo_segments.data import names as N
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import (
    build_dataset,
    bundled_sample_path,
    frame_reader,
    write_dataset,
)
from pendo_segments.errors import DataError

Progress = Callable[[str], None]

DEFAULT_END = dt.date(2026, 10, 31)
LEVELS = ["healthy", "average", "declining", "dormant", "none"]
HEALTHY, AVERAGE, DECLINING, DORMANT, NONE = range(5)
LEVEL_SHARE = [0.36, 0.34, 0.16, 0.10, 0.04]
LEVEL_ACTIVITY = np.array([1.0, 0.95, 1.0, 0.7, 0.0])  # weekday P(active), before visitor factor
LEVEL_RISK = np.array([0.1, 0.3, 0.65, 0.85, 0.95])
WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.18])  # Mon..Sun
PLANS = np.array(["Starter", "Growth", "Enterprise"])
NO_VISITOR_SHARE = 0.01
DORMANT_VISITOR_SHARE = 0.08
NEW_USER_SHARE = 0.06
ANNIVERSARY_SHARE = 0.04
DAY = np.timedelta64(1, "D")


def generate_sample(
    *,
    accounts: int = 250,
    visitors: int = 2000,
    days: int = 90,
    seed: int = 7,
    end: dt.date = DEFAULT_END,
    progress: Progress | None = None,
) -> Dataset:
    """Generate the sample data set; usage covers the ``days`` days ending on ``end``."""
    for name, value in (("accounts", accounts), ("visitors", visitors), ("days", days)):
        if value < 1:
            raise DataError(f"sample: {name} must be at least 1 (got {value})")
    frames = _Generator(accounts, visitors, days, seed, end, progress or (lambda _m: None)).run()
    if progress:
        progress("checking types and references")
    # each frame is handed over (popped) so its raw copy is freed once typed
    readers = {name: frame_reader(name, partial(frames.pop, name)) for name in list(frames)}
    return build_dataset(readers, source="sample")


def write_sample(
    out: str | Path, *, fmt: Literal["csv", "parquet"] = "csv", **kwargs: Any
) -> Dataset:
    """Generate with ``kwargs`` (see :func:`generate_sample`) and write to ``out``."""
    ds = generate_sample(**kwargs)
    progress = kwargs.get("progress")
    if progress:
        progress(f"writing {out}")
    write_dataset(ds, out, fmt=fmt)
    return ds


# -- helpers ----------------------------------------------------------------


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in plain.lower()).split())


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    width = max(width, len(str(n)))
    if n == 0:
        return np.array([], dtype=f"<U{len(prefix) + width}")
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Dates from components; 29 February becomes the 28th outside leap years."""
    y, m, d = (np.asarray(a, dtype=np.int64) for a in (y, m, d))
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    d = np.where((m == 2) & (d == 29) & ~leap, 28, d)
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    return months.astype("datetime64[D]") + (d - 1)


def _parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    months = dates.astype("datetime64[M]")
    y = months.astype(np.int64) // 12 + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def _years_before(dates: np.ndarray, years: np.ndarray) -> np.ndarray:
    y, m, d = _parts(dates)
    return _ymd(y - years, m, d)


def _next_anniversary(since: np.ndarray, after: np.datetime64) -> np.ndarray:
    """First anniversary of ``since`` strictly after ``after``."""
    _, m, d = _parts(since)
    year = int(str(after)[:4])
    this_year = _ymd(np.full(len(since), year), m, d)
    return np.where(this_year > after, this_year, _ymd(np.full(len(since), year + 1), m, d))


def _dedupe(base: pd.Series) -> pd.Series:
    """Append -2, -3, … to repeated values (first occurrence unchanged)."""
    n = base.groupby(base, sort=False).cumcount()
    return base.where(n == 0, base + (n + 1).astype(str))


def _date_column(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = values.astype("datetime64[s]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


class _Generator:
    """Draws the tables in a fixed order; attributes carry state between steps."""

    def __init__(
        self,
        n_accounts: int,
        n_visitors: int,
        days: int,
        seed: int,
        end: dt.date,
        progress: Progress,
    ) -> None:
        self.A, self.V, self.D = n_accounts, n_visitors, days
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.end = np.datetime64(end, "D")
        self.start = self.end - (days - 1) * DAY
        self.progress = progress

    def run(self) -> dict[str, pd.DataFrame]:
        self.progress("accounts")
        accounts = self.accounts()
        self.progress("visitors")
        visitors = self.visitors()
        features = self.features()
        usage, feature_usage = self.usage()
        where = visitors.columns.get_loc("first_visit") + 1
        visitors.insert(where, "last_visit", self._last_visits(usage))
        self.progress("nps, tickets, outcomes")
        return {
            "accounts": accounts,
            "visitors": visitors,
            "features": features,
            "usage_daily": usage,
            "feature_usage": feature_usage,
            "nps": self.nps(),
            "tickets": self.tickets(),
            "outcomes": self.outcomes(),
        }

    # -- accounts -----------------------------------------------------------

    def accounts(self) -> pd.DataFrame:
        rng, A = self.rng, self.A
        self.account_ids = _ids("acc-", A, 5)
        u = rng.random(A)
        segment = np.where(u < 0.45, 0, np.where(u < 0.85, 1, 2))  # SMB, mid-market, enterprise
        smb = np.where(
            rng.random(A) < 0.12, 15000.0, np.round(rng.uniform(2400, 15000, A) / 100) * 100
        )
        mid = np.clip(
            np.round(np.exp(rng.uniform(np.log(15500), np.log(100000), A)) / 500) * 500,
            15500,
            99500,
        )
        ent = np.round(np.exp(rng.uniform(np.log(100000), np.log(1_500_000), A)) / 1000) * 1000
        self.arr = np.select([segment == 0, segment == 1], [smb, mid], ent)
        pu = rng.random(A)
        plan = np.select(
            [segment == 0, segment == 1],
            [np.where(pu < 0.85, 0, 1), np.where(pu < 0.10, 0, np.where(pu < 0.85, 1, 2))],
            np.where(pu < 0.10, 1, 2),
        )
        self.region = rng.choice(len(N.REGIONS), A, p=N.REGION_SHARE)
        self.self_service = (segment == 0) & (rng.random(A) < 0.34)
        seats = np.maximum(3, np.round(self.arr / rng.uniform(400, 900, A))).astype(np.int64)
        self.level = rng.choice(len(LEVELS), A, p=LEVEL_SHARE)
        self.risk = np.clip(LEVEL_RISK[self.level] + rng.normal(0, 0.08, A), 0, 1)
        name, self.domain = self._company_names()
        self.contract_start = self._contract_start()
        csm = np.where(
            segment == 2,
            rng.choice(N.CSM_SENIOR, A),
            np.where(
                (segment == 1) | (rng.random(A) < 0.5), rng.choice(N.CSM_GROWTH, A), N.CSM_POOL
            ),
        )
        csm = np.where(self.self_service, N.CSM_POOL, csm)
        return pd.DataFrame(
            {
                "account_id": self.account_ids,
                "name": name,
                "arr": self.arr,
                "plan": PLANS[plan],
                "contract_start": _date_column(self.contract_start),
                "renewal_date": _date_column(_next_anniversary(self.contract_start, self.end)),
                "csm_owner": csm,
                "seats": pd.Series(seats, dtype="Int64").where(rng.random(A) >= 0.02, pd.NA),
                "self_service": self.self_service,
                "crm_id": self._crm_ids(),
                "domain": self.domain,
                "region": np.array(N.REGIONS)[self.region],
            }
        )

    def _company_names(self) -> tuple[np.ndarray, np.ndarray]:
        rng, A = self.rng, self.A
        first = rng.integers(0, len(N.COMPANY_FIRST), A)
        second = rng.integers(0, len(N.COMPANY_SECOND), A)
        suffix_pick = rng.integers(0, 4, A)
        suffixes = np.array([N.SUFFIX[r][k] for r in N.REGIONS for k in range(4)])
        name = (
            np.array(N.COMPANY_FIRST)[first]
            + " "
            + np.array(N.COMPANY_SECOND)[second]
            + suffixes[self.region * 4 + suffix_pick]
        )
        slug1 = np.array([_ascii_slug(w) for w in N.COMPANY_FIRST])[first]
        slug2 = np.array([_ascii_slug(w) for w in N.COMPANY_SECOND])[second]
        base = pd.Series(np.char.add(np.char.add(slug1, "-"), slug2))
        domain = (_dedupe(base) + ".example").to_numpy(dtype=object).astype(str)
        return name, domain

    def _contract_start(self) -> np.ndarray:
        rng, A = self.rng, self.A
        start = self.end - rng.integers(365, 6 * 365 + 1, A) * DAY
        soon = self.end + rng.integers(1, 8, A) * DAY  # anniversary within 7 days after end
        anniversary = _years_before(soon, rng.integers(1, 6, A))
        return np.where(rng.random(A) < ANNIVERSARY_SHARE, anniversary, start)

    def _crm_ids(self) -> pd.Series:
        rng, A = self.rng, self.A
        alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
        numbers = rng.choice(62**5, A, replace=False)
        digits = np.stack([(numbers // 62**k) % 62 for k in range(4, -1, -1)], axis=1)
        suffix = alphabet[digits].view("<U5").ravel()
        ids = pd.Series(np.char.add("0015e00000", suffix), dtype="str")
        return ids.where(rng.random(A) >= 0.05)

    # -- visitors -----------------------------------------------------------

    def visitors(self) -> pd.DataFrame:
        rng, A, V = self.rng, self.A, self.V
        n_trial = V // 200
        n_real = V - n_trial
        has_visitors = rng.random(A) >= NO_VISITOR_SHARE
        if not has_visitors.any():
            has_visitors[:] = True
        # one visitor per account first when there are enough, the rest by ARR
        first = has_visitors.astype(np.int64) * int(n_real >= has_visitors.sum())
        weights = self.arr**0.6 * has_visitors
        per_account = first + rng.multinomial(n_real - first.sum(), weights / weights.sum())
        n_groups = max(1, n_trial // 2) if n_trial else 0
        trial = A + np.arange(n_trial) % max(n_groups, 1)
        self.acc_of = rng.permutation(np.concatenate([np.repeat(np.arange(A), per_account), trial]))
        self.acc_of = self.acc_of.astype(np.int32)
        self.all_account_ids = np.concatenate([self.account_ids, _ids("acc-trial-", n_groups, 3)])
        acc = self.acc_of
        real = acc < A
        accx = np.minimum(acc, A - 1)  # safe index; trial rows are overridden
        region = np.where(real, self.region[accx], 0)
        self.visitor_level = np.where(real, self.level[accx], AVERAGE)
        self.visitor_risk = np.where(real, self.risk[accx], LEVEL_RISK[AVERAGE])
        self.language = self._languages(region)
        display, local = self._people()
        domain = np.where(real, self.domain[accx], "mail.example")
        email = _dedupe(pd.Series(np.char.add(local, "@")))
        email = (email + pd.Series(domain)).to_numpy(dtype=object).astype(str)
        self.first_visit = self._first_visits(real, accx)
        self.visitor_ids = _ids("v-", V, 6)
        return pd.DataFrame(
            {
                "visitor_id": self.visitor_ids,
                "account_id": self.all_account_ids[acc],
                "email": email,
                "name": display,
                "language": self.language,
                "first_visit": _date_column(self.first_visit, np.isnat(self.first_visit)),
                "role": np.array(N.ROLES)[rng.choice(len(N.ROLES), V, p=N.ROLE_SHARE)],
            }
        )

    def _languages(self, region: np.ndarray) -> np.ndarray:
        u = self.rng.random(self.V)
        apac, emea = region == N.REGIONS.index("APAC"), region == N.REGIONS.index("EMEA")
        return np.select(
            [apac & (u < 0.95), emea & (u < 0.2), emea & (u < 0.4)], ["ja", "de", "fr"], "en"
        )

    def _people(self) -> tuple[np.ndarray, np.ndarray]:
        """Display names and email local parts (ASCII), per language."""
        rng, V = self.rng, self.V
        display = np.empty(V, dtype=object)
        local = np.empty(V, dtype=object)

        def spelled(words: list[str]) -> list[tuple[str, str]]:
            return [(w, _ascii_slug(w)) for w in words]

        lists = {
            "en": (spelled(N.EN_FIRST), spelled(N.EN_LAST)),
            "ja": (N.JA_FIRST, N.JA_LAST),
            "de": (spelled(N.DE_FIRST), spelled(N.DE_LAST)),
            "fr": (spelled(N.FR_FIRST), spelled(N.FR_LAST)),
        }
        pick_first, pick_last = rng.random(V), rng.random(V)
        for lang, (firsts, lasts) in lists.items():
            rows = self.language == lang
            f = (pick_first[rows] * len(firsts)).astype(int)
            s = (pick_last[rows] * len(lasts)).astype(int)
            fd, fa = (np.array([p[i] for p in firsts]) for i in (0, 1))
            sd, sa = (np.array([p[i] for p in lasts]) for i in (0, 1))
            # Japanese names are written family name first
            display[rows] = (sd[s] + " " + fd[f]) if lang == "ja" else (fd[f] + " " + sd[s])
            local[rows] = fa[f] + "." + sa[s]
        return display.astype(str), local.astype(str)

    def _first_visits(self, real: np.ndarray, accx: np.ndarray) -> np.ndarray:
        rng, V, end = self.rng, self.V, self.end
        since = np.where(real, self.contract_start[accx], end - 400 * DAY)
        latest = end - 31 * DAY
        span = np.maximum((latest - since).astype(np.int64), 0)
        first = since + (rng.random(V) * span).astype(np.int64) * DAY
        engaged = self.visitor_level <= DECLINING  # dormant / none accounts get no new users
        new = engaged & (rng.random(V) < NEW_USER_SHARE)
        anniversary = ~new & (rng.random(V) < ANNIVERSARY_SHARE)
        recent = end - rng.integers(0, 30, V) * DAY
        soon = _years_before(end + rng.integers(1, 8, V) * DAY, rng.integers(1, 4, V))
        first = np.where(new, recent, np.where(anniversary, soon, first))
        blank = ~new & (rng.random(V) < 0.01)
        return np.where(blank, np.datetime64("NaT"), first).astype("datetime64[D]")

    def _last_visits(self, usage: pd.DataFrame) -> np.ndarray:
        """Last visit over all history, as Pendo's ``metadata.auto.lastvisit`` has it.

        The last active day in the usage data, else (a visitor who first came
        before the data starts and has no usage in it) a day between the first
        visit and the start: older than the usage data. Drawn from a second
        random stream so the other tables stay as they were.
        """
        rng = np.random.default_rng([self.seed, 1])
        active = (usage["minutes"].to_numpy() > 0) | (usage["events"].to_numpy() > 0)
        codes = usage["visitor_id"].cat.codes.to_numpy()[active]
        days = usage["date"].to_numpy().astype("datetime64[D]").astype(np.int64)[active]
        none = np.iinfo(np.int64).min
        last = np.full(self.V, none, dtype=np.int64)
        np.maximum.at(last, codes, days)
        start = self.start.astype(np.int64)
        first = self.first_visit.astype(np.int64)
        before = (last == none) & ~np.isnat(self.first_visit) & (first < start)
        span = np.maximum(start - first, 1)
        earlier = first + (rng.random(self.V) * span).astype(np.int64)
        last = np.where(before, earlier, last)
        out = last.astype("datetime64[D]")
        return _date_column(out, last == none)

    # -- features and usage -------------------------------------------------

    def features(self) -> pd.DataFrame:
        table = pd.DataFrame(
            N.FEATURES, columns=["feature_id", "name", "key", "app_id", "adopt", "use", "clicks"]
        )
        self.feature_ids = table["feature_id"].to_numpy()
        self.adopt_p = table["adopt"].to_numpy()
        self.use_p = table["use"].to_numpy()
        self.click_mean = table["clicks"].to_numpy()
        return table[["feature_id", "name", "key", "app_id"]]

    def _daily_plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per visitor: P(active), first and stop day index, forced active days."""
        rng, V, D = self.rng, self.V, self.D
        factor = rng.beta(12, 1.2, V)
        self.intensity = factor
        p = np.clip(LEVEL_ACTIVITY[self.visitor_level] * factor, 0, 0.97)
        first = np.where(
            np.isnat(self.first_visit),
            -(10**6),
            (self.first_visit - self.start).astype("timedelta64[D]").astype(np.int64)
            if len(self.first_visit)
            else 0,
        )
        stop = np.full(V, D, dtype=np.int64)
        forced = np.full(V, -1, dtype=np.int64)
        u1, u2, u3 = rng.random(V), rng.random(V), rng.random(V)
        if D > 31:
            # dormant: active before day `stop` only, which is 31+ days before end
            lo = np.maximum(first, 0)
            can = (self.visitor_level != NONE) & (first <= D - 32)
            dormant = can & ((self.visitor_level == DORMANT) | (u1 < DORMANT_VISITOR_SHARE))
            s = lo + 1 + (u2 * np.maximum(D - 31 - lo, 0)).astype(np.int64)
            stop = np.where(dormant, s, stop)
            forced = np.where(dormant, lo + (u3 * (s - lo)).astype(np.int64), -1)
        else:
            p = np.where(self.visitor_level == DORMANT, 0.0, p)
        on_first = np.where((first >= 0) & (first < stop) & (self.visitor_level != NONE), first, -1)
        return p, first, stop, forced, on_first

    def usage(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng, V, D = self.rng, self.V, self.D
        p, first, stop, forced, on_first = self._daily_plan()
        adopt = np.clip(1.15 - 0.9 * self.visitor_risk, 0.05, 1.0)
        adopted = rng.random((V, len(self.feature_ids))) < self.adopt_p * adopt[:, None]
        # someone is always active on the last day, so the default as-of is end + 1
        eligible = (stop == D) & (self.visitor_level != NONE) & (first <= D - 1)
        last = int(np.argmax(np.where(eligible, p, -1.0))) if eligible.any() else -1
        weekday = (np.arange(D) + self.start.astype(np.int64) + 3) % 7  # 1970-01-01: Thursday
        u_parts: list[list[np.ndarray | None]] = []
        f_parts: list[list[np.ndarray | None]] = []
        for d in range(D):
            if d % 10 == 0 or d == D - 1:
                self.progress(f"usage day {d + 1}/{D}")
            today = p * WEEKDAY_FACTOR[weekday[d]]
            declining = 1 - 0.9 * d / max(D - 1, 1)
            today = np.where(self.visitor_level == DECLINING, today * declining, today)
            today = np.where((d < stop) & (d >= first), today, 0.0)
            must = (forced == d) | (on_first == d)
            if d == D - 1 and last >= 0:
                must[last] = True
            vis = np.flatnonzero((rng.random(V) < today) | must).astype(np.int32)
            u_parts.append(self._usage_rows(vis, must[vis]))
            active = (u_parts[-1][1] > 0) | (u_parts[-1][2] > 0)  # type: ignore[operator]
            f_parts.append(self._feature_rows(vis[active], adopted))
        usage = self._frame(u_parts, ["minutes", "events"])
        feature_usage = self._frame(f_parts, ["feature_id", "clicks"])
        return usage, feature_usage

    def _usage_rows(self, vis: np.ndarray, must: np.ndarray) -> list[np.ndarray | None]:
        rng, n = self.rng, len(vis)
        minutes = np.exp(rng.normal(np.log(12) + 1.0 * self.intensity[vis], 0.85))
        minutes = np.clip(np.round(minutes, 1), 0.1, 720.0)
        events = 1 + rng.poisson(minutes * 1.6)
        q = rng.random(n)
        idle = (q < 0.005) & ~must
        no_events = (q >= 0.005) & (q < 0.035) & ~must
        no_minutes = (q >= 0.035) & (q < 0.065) & ~must
        minutes = np.where(idle | no_minutes, 0.0, minutes)
        events = np.where(idle | no_events, 0, events).astype(np.int32)
        return [vis, minutes, events]

    def _feature_rows(self, vis: np.ndarray, adopted: np.ndarray) -> list[np.ndarray | None]:
        rng = self.rng
        used = (rng.random((len(vis), len(self.feature_ids))) < self.use_p) & adopted[vis]
        row, feature = np.nonzero(used)
        who = vis[row]
        clicks = 1 + rng.poisson(self.click_mean[feature] * (0.4 + self.intensity[who]))
        return [who, feature.astype(np.int8), clicks.astype(np.int32)]

    def _frame(self, parts: list[list[np.ndarray | None]], names: list[str]) -> pd.DataFrame:
        """One frame from per-day parts, freeing each part once it is copied."""

        def column(k: int, dtype: Any = None) -> np.ndarray:
            out = np.concatenate([p[k] for p in parts], dtype=dtype)
            for p in parts:
                p[k] = None
            return out

        days = (self.start + np.arange(self.D) * DAY).astype("datetime64[s]")
        dates = np.repeat(days, [len(p[0]) for p in parts])  # type: ignore[arg-type]
        vis = column(0)
        columns: dict[str, Any] = {
            "date": dates,
            "visitor_id": pd.Categorical.from_codes(vis, dtype=self._dtype(self.visitor_ids)),
            "account_id": pd.Categorical.from_codes(
                self.acc_of[vis], dtype=self._dtype(self.all_account_ids)
            ),
        }
        del vis
        for k, name in enumerate(names, start=1):
            if name == "feature_id":
                features = self._dtype(self.feature_ids)
                columns[name] = pd.Categorical.from_codes(column(k), dtype=features)
            else:
                columns[name] = column(k, np.float64 if name == "minutes" else np.int64)
        parts.clear()
        return pd.DataFrame(columns, copy=False)

    @staticmethod
    def _dtype(ids: np.ndarray) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(pd.Index(ids, dtype="str"))

    # -- nps, tickets, outcomes ---------------------------------------------

    def nps(self) -> pd.DataFrame:
        rng, A, V, D = self.rng, self.A, self.V, self.D
        program = rng.random(A) < 0.8
        real = self.acc_of < A
        accx = np.minimum(self.acc_of, A - 1)
        answers = real & program[accx] & (rng.random(V) < min(1.0, 0.05 + 0.15 * D / 90))
        vis = np.flatnonzero(answers)
        day = rng.integers(0, D, len(vis))
        score = np.round(rng.normal(9.3 - 7 * self.risk[accx[vis]], 1.3))
        score = np.clip(score, 0, 10).astype(np.int64)
        comment = np.full(len(vis), "", dtype=object)
        band = np.where(score >= 9, "high", np.where(score >= 7, "mid", "low"))
        pick = rng.random(len(vis))
        commented = rng.random(len(vis)) < 0.35
        for lang, bands in N.NPS_COMMENTS.items():
            for name, texts in bands.items():
                rows = commented & (self.language[vis] == lang) & (band == name)
                comment[rows] = np.array(texts)[(pick[rows] * len(texts)).astype(int)]
        order = np.lexsort((vis, day))
        vis, day, score, comment = vis[order], day[order], score[order], comment[order]
        return pd.DataFrame(
            {
                "date": _date_column(self.start + day * DAY),
                "visitor_id": self.visitor_ids[vis],
                "account_id": self.account_ids[accx[vis]],
                "score": score,
                "comment": pd.Series(comment, dtype="str").replace("", np.nan),
            }
        )

    def tickets(self) -> pd.DataFrame:
        rng, A, D = self.rng, self.A, self.D
        counts = rng.poisson((0.25 + 3.0 * self.risk) * D / 30)
        acc = np.repeat(np.arange(A), counts)
        day = rng.integers(0, D, len(acc))
        u = rng.random(len(acc))
        risk = self.risk[acc]
        urgent, high = 0.02 + 0.10 * risk, 0.12 + 0.25 * risk
        priority = np.select(
            [u < urgent, u < urgent + high, u < 0.7], ["urgent", "high", "normal"], "low"
        )
        order = np.lexsort((acc, day))
        return pd.DataFrame(
            {
                "ticket_id": _ids("T-", len(acc), 6),
                "opened_on": _date_column(self.start + day[order] * DAY),
                "account_id": self.account_ids[acc[order]],
                "priority": priority[order],
            }
        )

    def outcomes(self) -> pd.DataFrame:
        rng, A = self.rng, self.A
        churn_p = 1 / (1 + np.exp(-(-3.6 + 5.5 * self.risk)))
        churned = rng.random(A) < churn_p
        as_of = self.end + DAY
        after = as_of + rng.integers(1, 181, A) * DAY
        return pd.DataFrame(
            {
                "account_id": self.account_ids,
                "churned": churned,
                "as_of": _date_column(np.full(A, as_of)),
                "churn_date": _date_column(after, ~churned),
            }
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--regenerate-bundled",
        action="store_true",
        help=f"rewrite {bundled_sample_path()} with the default arguments",
    )
    args = parser.parse_args(argv)
    if not args.regenerate_bundled:
        parser.error("nothing to do (use --regenerate-bundled)")
    ds = write_sample(bundled_sample_path(), fmt="csv")
    print(
        f"wrote {bundled_sample_path()}: "
        + ", ".join(f"{name} {len(frame)}" for name, frame in ds.tables().items())
    )


if __name__ == "__main__":
    main()
