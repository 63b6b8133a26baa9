"""The conformance suite's data: hand-made boundary sets and hypothesis boundary strategies.

Hand-made sets (expected answers worked out by hand in their modules):
tests/handmade.py (segments), tests/health_handmade.py (health, tiers),
tests/test_subjects.py and tests/test_subjects_health.py (who exists at D).

``datasets()`` draws data around the boundaries docs/semantics.md §2 cares about:
exactly 2/3 and 16 active days, 10 vs 10.5 minutes, 1/2 and 9/10 clicks, ARR
exactly 15000, usage on as-of−30, as-of−31 and the as-of day itself, accounts
without usage, visitors without an account row, inactive rows (0 events and 0
minutes), unknown first visits, ``last_visit`` on the as-of day, 30/31 days back,
newer and older than the usage, and feature ids that differ only in punctuation
or case (``a-b``, ``a_b``, ``A_B``), which must not share one generated SQL name.
``boundary_dataset()`` merges twelve fixed draws into one set (ids prefixed per
draw), so a slow engine checks them all in one run.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
from pathlib import Path

import pandas as pd
from hypothesis import strategies as st

from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import dataset_from_frames, write_dataset
from pendo_segments.definitions import DefinitionSet, load_definitions

AS_OF = dt.date(2026, 11, 1)
#: the shipped definitions, as a user names the folder (tests run from the project root)
SHIPPED_DEFS = Path("segment_defs")
#: Ids that fold to one name when punctuation becomes "_" and case is ignored.
TRICKY = ["a-b", "a_b", "A_B", "a.b"]
FEATURES = ["core_events", "data_explorer", "path_reports", "guide_publishing", *TRICKY]
#: the catalogue names the shipped definitions write (``feature: Core events``)
NAMES = ["Core events", "Data Explorer", "Path reports", "Guide publishing", *TRICKY]

TRICKY_DEFS = """
segments:
  - name: tricky_features
    title: Clicks on look-alike feature ids
    subject: visitor
    rule:
      all:
        - {metric: feature_clicks, feature: a-b, op: ">=", value: 2}
        - {metric: feature_clicks, feature: A_B, op: "<=", value: 1}
        - {metric: feature_clicks, feature: a.b, op: "<", value: 10}
  - name: tricky_accounts
    title: Accounts on look-alike feature ids
    subject: account
    rule:
      any:
        - {metric: feature_clicks, feature: a_b, op: ">=", value: 10}
        - {metric: feature_clicks, feature: A_B, op: ">=", value: 9}
        - {metric: feature_clicks, feature: a-b, op: "=", value: 1}
"""


def defs_folder(folder: Path) -> Path:
    """The shipped definitions, the held-out shapes of tests/defs_extra and TRICKY_DEFS."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*SHIPPED_DEFS.glob("*.yaml"), *Path("tests/defs_extra").glob("*.yaml")]:
        shutil.copy(path, folder / path.name)
    (folder / "tricky.yaml").write_text(TRICKY_DEFS, encoding="utf-8")
    return folder


def load_tricky_defs(folder: Path) -> DefinitionSet:
    """``defs_folder(folder)`` loaded."""
    return load_definitions(defs_folder(folder))


def write_folder(ds: Dataset, folder: Path) -> Path:
    """``ds`` as a CSV data folder, the way every engine reads one."""
    write_dataset(ds, folder)
    return folder


def day(offset: int) -> pd.Timestamp:
    return pd.Timestamp(AS_OF + dt.timedelta(days=offset))


OFFSETS = st.sampled_from([-400, -366, -35, -31, -30, -29, -16, -15, -7, -2, -1, 0, 3])


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    """One small data set around the §2 boundaries (see the module docstring)."""
    n_acc = draw(st.integers(1, 5))
    acc_ids = [f"A{i}" for i in range(n_acc)]
    accounts = pd.DataFrame(
        {
            "account_id": pd.array(acc_ids, dtype="string"),
            "arr": [draw(st.sampled_from([14999.0, 15000.0, 15000.01, 100000.0])) for _ in acc_ids],
            "plan": pd.array(
                [draw(st.sampled_from(["Starter", "Growth", "Enterprise"])) for _ in acc_ids],
                dtype="string",
            ),
            "contract_start": [
                draw(
                    st.sampled_from(
                        [None, "2023-11-01", "2024-02-29", "2025-11-07", "2025-11-08", "2026-11-03"]
                    )
                )
                for _ in acc_ids
            ],
            "self_service": pd.array(
                [draw(st.sampled_from([True, False, None])) for _ in acc_ids], dtype="boolean"
            ),
        }
    )
    accounts["contract_start"] = pd.to_datetime(accounts["contract_start"])
    n_vis = draw(st.integers(1, 8))
    vis_ids = [f"v{i}" for i in range(n_vis)]
    visitors = pd.DataFrame(
        {
            "visitor_id": pd.array(vis_ids, dtype="string"),
            "account_id": pd.array(
                [draw(st.sampled_from([*acc_ids, "ghost"])) for _ in vis_ids], dtype="string"
            ),
            "language": pd.array(
                [draw(st.sampled_from(["en", "ja", "ja-JP", None])) for _ in vis_ids],
                dtype="string",
            ),
            "first_visit": [draw(st.one_of(st.none(), OFFSETS.map(day))) for _ in vis_ids],
        }
    )
    visitors["first_visit"] = pd.to_datetime(visitors["first_visit"])
    if draw(st.booleans()):  # Pendo's lastvisit: any day, also on/after as-of or long ago
        visitors["last_visit"] = pd.to_datetime(
            [draw(st.one_of(st.none(), OFFSETS.map(day))) for _ in vis_ids]
        )
    owner = dict(zip(vis_ids, visitors["account_id"], strict=True))
    usage = {}
    for _ in range(draw(st.integers(0, 40))):
        v = draw(st.sampled_from(vis_ids))
        off = draw(st.one_of(OFFSETS, st.integers(-31, 0)))
        usage[(off, v)] = (
            draw(st.sampled_from([0.0, 0.5, 1.0, 5.0, 10.0, 10.5])),
            draw(st.sampled_from([0, 1, 3])),
        )
    # 16 consecutive active days for one visitor, sometimes, to hit the healthy boundary.
    if draw(st.booleans()):
        v = draw(st.sampled_from(vis_ids))
        start = draw(st.sampled_from([-30, -31, -16, -15]))
        for off in range(start, start + 16):
            usage[(off, v)] = (1.0, 1)
    udf = pd.DataFrame(
        [(day(off), v, m, e) for (off, v), (m, e) in sorted(usage.items())],
        columns=["date", "visitor_id", "minutes", "events"],
    )
    if udf.empty:  # keep one row so the default as-of is defined
        udf = pd.DataFrame(
            {"date": [day(-1)], "visitor_id": [vis_ids[0]], "minutes": [0.0], "events": [0]}
        )
    udf["date"] = pd.to_datetime(udf["date"])
    udf["events"] = udf["events"].astype("int64")
    fu = pd.DataFrame(
        [
            (
                day(draw(st.one_of(OFFSETS, st.integers(-31, 0)))),
                draw(st.sampled_from(vis_ids)),
                draw(st.sampled_from(FEATURES)),
                draw(st.sampled_from([1, 2, 9, 10])),
            )
            for _ in range(draw(st.integers(0, 12)))
        ],
        columns=["date", "visitor_id", "feature_id", "clicks"],
    )
    fu["date"] = pd.to_datetime(fu["date"])
    fu["clicks"] = fu["clicks"].astype("int64")
    for frame in (udf, fu):
        frame["account_id"] = frame["visitor_id"].map(owner)
        frame["visitor_id"] = pd.Categorical(frame["visitor_id"], categories=vis_ids)
        frame["account_id"] = frame["account_id"].astype("category")
    fu["feature_id"] = pd.Categorical(fu["feature_id"], categories=FEATURES)
    features = pd.DataFrame(
        {
            "feature_id": pd.array(FEATURES, dtype="string"),
            "name": NAMES,
            "key": pd.array([True] * len(FEATURES), dtype="boolean"),
        }
    )
    return Dataset(
        accounts=accounts,
        visitors=visitors,
        usage_daily=udf,
        feature_usage=fu,
        features=features,
        source="hypothesis",
    )


@functools.cache
def _drawn(n: int) -> tuple[Dataset, ...]:
    """``n`` fixed draws of ``datasets()`` (derandomized: the same on every run)."""
    from hypothesis import HealthCheck, given, settings

    drawn: list[Dataset] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(datasets())
    def collect(ds: Dataset) -> None:
        drawn.append(ds)

    collect()
    return tuple(drawn[-n:])


#: account → churn_date: before the as-of day (not a subject), on it (a subject), after it
CHURN = {"d0_A0": "2026-10-20", "d1_A0": "2026-11-01", "d3_A0": "2026-11-05"}


def churned_boundary_dataset(churn: dict[str, str] = CHURN) -> Dataset:
    """:func:`boundary_dataset` with accounts churned around :data:`AS_OF` (``churn``:
    account → churn_date) and one created after it (``d4_A0``, 2026-11-03)."""
    ds = boundary_dataset()
    ds.accounts["created"] = pd.NaT
    ds.accounts.loc[ds.accounts["account_id"] == "d4_A0", "created"] = pd.Timestamp("2026-11-03")
    ds.outcomes = pd.DataFrame(
        {
            "account_id": pd.array(list(churn), dtype="string"),
            "churned": [True] * len(churn),
            "churn_date": pd.to_datetime(list(churn.values())),
        }
    )
    return ds


def boundary_dataset(n: int = 12) -> Dataset:
    """``n`` fixed boundary draws merged into one set.

    Ids are prefixed per draw, so subjects never meet and the members of the
    merged set are the union of the members of each draw (as-of fixed).
    """
    merged: dict[str, list[pd.DataFrame]] = {}
    for i, ds in enumerate(_drawn(n)):
        for name, frame in ds.tables().items():
            frame = frame.copy()
            for c in ("account_id", "visitor_id"):
                if c in frame:
                    frame[c] = [None if pd.isna(v) else f"d{i}_{v}" for v in frame[c]]
            if name == "features" and i:
                continue
            merged.setdefault(name, []).append(frame)
    return dataset_from_frames(
        {n: pd.concat(fs, ignore_index=True) for n, fs in merged.items()}, source="boundaries"
    )
