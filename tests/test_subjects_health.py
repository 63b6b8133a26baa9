"""Who exists at D (docs/semantics.md §2b) in health, tiers and alerts, worked out by hand.

The data of tests/test_subjects.py (as-of D = 2026-09-14) with NPS and tickets:
A1 (subject), A2 created D−1 (subject), A3 created D (not), A4 churned D−1 (not),
A5 churned D (subject). Only A1, A2 and A5 get a health row, a tier or an alert.

NPS (90 days): a1 scores 8 on 09-13; a2 (first_visit D: not a subject) scores 0 on
09-12, so A1's NPS mean is 8 (component 80), not (8 + 0) / 2 = 4. Tickets (30 days):
A1 one on 09-01 (component (1 − 1/5) × 100 = 80); A4 one on 09-10.

Default weights login 20, adoption 30 (no key features: missing), breadth 20, NPS 15,
tickets 15; a missing component's weight is shared by the others.

* A1: login 2 active days (a6 09-12, a1 09-13; not a2's 09-10) → 2/16 = 12.5;
  breadth: f1 clicked (a6) → 100; NPS 80; tickets 80.
  (20·12.5 + 20·100 + 15·80 + 15·80) / 70 = 4650 / 70 = 66.43 → 66.4.
  Sessions (visitor-days): a1 1 + a6 1 = 2 (not 3 with a2).
* A2: no usage: login 0, breadth 0, no NPS, no tickets → 100.
  1500 / 55 = 27.27 → 27.3.
* A5: e1 active 09-13 → 1/16 = 6.25; breadth 0; no NPS; tickets 100.
  (125 + 1500) / 55 = 29.55 → 29.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import test_subjects as T
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data.dataset import Dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.health import compute_health
from pendo_segments.health.config import HealthConfig
from pendo_segments.shipped import shipped_path

pytest.importorskip("duckdb")

HEALTH = {"A1": 66.4, "A2": 27.3, "A5": 29.5}
TIERS_YAML = """\
tiers:
  - {name: P1, accounts_per_csm: 15}
  - {name: P3, accounts_per_csm: 150, pooled: true}
rules:
  - {tier: P1, reason: few minutes, when: {segment: few_minutes}}
  - {tier: P3, reason: rest}
"""
# few_minutes at D (tests/test_subjects.py): A1, A2. A5 (4 minutes) falls through to P3.
TIERS = {"A1": "P1", "A2": "P1", "A5": "P3"}
ALERTS_YAML = """\
alerts:
  - name: tickets
    title: A ticket
    when: {signal: tickets, op: ">=", value: 1}
    explain: none
"""


def dataset() -> Dataset:
    ds = T.dataset()
    nps = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-09-13", "2026-09-12"]),
            "visitor_id": pd.array(["a1", "a2"], dtype="string"),
            "score": [8, 0],
        }
    )
    tickets = pd.DataFrame(
        {
            "opened_on": pd.to_datetime(["2026-09-01", "2026-09-10"]),
            "account_id": pd.array(["A1", "A4"], dtype="string"),
        }
    )
    return Dataset(
        accounts=ds.accounts,
        visitors=ds.visitors,
        usage_daily=ds.usage_daily,
        feature_usage=ds.feature_usage,
        features=ds.features,
        outcomes=ds.outcomes,
        nps=nps,
        tickets=tickets,
        source="subjects",
    )


@pytest.fixture(scope="module")
def defs_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("defs")
    (folder / "subjects.yaml").write_text(T.DEFS)
    (folder / "tiers.yaml").write_text(TIERS_YAML)
    (folder / "alerts.yaml").write_text(ALERTS_YAML)
    return folder


def write_world(root: Path) -> tuple[Path, Path]:
    """``root/defs`` (the subjects' segments, tiers.yaml, alerts.yaml) and ``root/data``."""
    defs = root / "defs"
    defs.mkdir()
    (defs / "subjects.yaml").write_text(T.DEFS)
    (defs / "tiers.yaml").write_text(TIERS_YAML)
    (defs / "alerts.yaml").write_text(ALERTS_YAML)
    data = root / "data"
    data.mkdir()
    return defs, write_folder(data)


def write_folder(folder: Path) -> Path:
    ds = dataset()
    for name, frame in ds.tables().items():
        out = frame.copy()
        for column in out.columns:
            if str(out[column].dtype).startswith("datetime"):
                out[column] = out[column].dt.strftime("%Y-%m-%d")
        out.to_csv(folder / f"{name}.csv", index=False)
    return folder


def scores(frame: pd.DataFrame) -> dict[str, float]:
    return dict(zip(frame["account_id"].astype(str), frame["health_score"], strict=True))


def test_health_pandas_scores_subject_accounts_from_subject_visitors() -> None:
    result = compute_health(dataset(), as_of=T.D)
    assert scores(result.frame()) == HEALTH
    a1 = result.account_ids.get_loc("A1")
    assert result.signals["sessions"][a1] == 2
    assert result.signals["nps"][a1] == 8


def test_health_duckdb_scores_subject_accounts_from_subject_visitors() -> None:
    from pendo_segments.engines import open_engine
    from pendo_segments.health.engine import engine_health

    with open_engine("duckdb", "subjects", dataset=dataset()) as duck:
        result = engine_health(duck, HealthConfig(), T.D)
    assert scores(result.frame()) == HEALTH
    a1 = result.account_ids.get_loc("A1")
    assert result.signals["sessions"][a1] == 2
    assert result.signals["nps"][a1] == 8


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_cli_health_and_tiers_rows_on_a_folder(
    engine: str, defs_path: Path, tmp_path: Path
) -> None:
    data = str(write_folder(tmp_path))
    common = ["--data", data, "--as-of", T.D.isoformat(), "--engine", engine, "-f", "csv"]
    shipped = str(shipped_path("segment_defs") / "health.yaml")  # the default weights
    health = CliRunner().invoke(main, ["health", *common, "--config", shipped])
    assert health.exit_code == 0, health.output
    lines = health.stdout.splitlines()
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["A1", "66.4"],
        ["A2", "27.3"],
        ["A5", "29.5"],
    ]
    tiers = CliRunner().invoke(main, ["tiers", str(defs_path), *common])
    assert tiers.exit_code == 0, tiers.output
    rows = [line.split(",")[:2] for line in tiers.stdout.splitlines()[1:]]
    assert dict(rows) == TIERS


def test_tiers_pandas_and_duckdb_only_subject_accounts(defs_path: Path) -> None:
    from pendo_segments.engines import open_engine
    from pendo_segments.tiers.run import engine_tiers, run_tiers, tier_inputs

    inputs = tier_inputs(defs_path)
    pandas_frame = run_tiers(dataset(), inputs, as_of=T.D).frame
    with open_engine("duckdb", "subjects", dataset=dataset()) as engine:
        duck = engine_tiers(engine, inputs, T.D).frame()
    for frame in (pandas_frame, duck):
        assert dict(zip(frame["account_id"], frame["tier"], strict=True)) == TIERS
    capacity = run_tiers(dataset(), inputs, as_of=T.D).capacity
    assert list(capacity["accounts"]) == [2, 1, 3]  # P1, P3, Total


def test_no_alert_for_a_churned_account(defs_path: Path) -> None:
    """A4 (churned D−1) had a ticket on 09-10: no alert; A1's ticket raises one."""
    from pendo_segments.tiers.alerts import alert_inputs, check_alerts

    result = check_alerts(dataset(), alert_inputs(defs_path), as_of=T.D)
    assert list(result.rows["account_id"]) == ["A1"]


def test_account_view_and_tier_of_leave_non_subjects_out(defs_path: Path) -> None:
    from pendo_segments.tiers.view import account_view

    view = account_view(dataset(), defs_path, defs=load_definitions(defs_path), as_of=T.D)
    assert view.tier_of() == TIERS
    assert sorted(view.health.frame()["account_id"]) == ["A1", "A2", "A5"]


def test_report_leaves_churned_and_later_accounts_out(tmp_path: Path) -> None:
    """The bundled sample with two accounts churned before the as-of day (2026-11-01) and
    one created on it: 247 accounts in the KPIs and accounts.csv, none of the three in the
    P1 pages or the alerts; an account created mid-backtest has no score before it."""
    import shutil

    import pendo_segments
    from pendo_segments.data import load_dataset
    from pendo_segments.report.build import ReportOptions, collect

    data = tmp_path / "data"
    shutil.copytree(Path(pendo_segments.__file__).parent / "sample_data", data)
    outcomes = pd.read_csv(data / "outcomes.csv")
    gone = outcomes["account_id"].isin(["acc-00001", "acc-00002"])
    outcomes.loc[gone, ["churned", "churn_date"]] = [True, "2026-10-31"]
    outcomes.to_csv(data / "outcomes.csv", index=False)
    accounts = pd.read_csv(data / "accounts.csv")
    arr = dict(zip(accounts["account_id"], accounts["arr"], strict=True))
    accounts["created"] = ""
    accounts.loc[accounts["account_id"] == "acc-00006", "created"] = "2026-11-01"
    accounts.loc[accounts["account_id"] == "acc-00017", "created"] = "2026-10-20"
    accounts.to_csv(data / "accounts.csv", index=False)
    defs = shipped_path("segment_defs")
    page = collect(
        load_definitions(defs),
        load_dataset(data),
        defs_path=defs,
        options=ReportOptions(),
        progress=lambda _m: None,
    )
    out = {"acc-00001", "acc-00002", "acc-00006"}
    assert page["kpi_values"]["accounts"] == 247
    assert page["kpi_values"]["arr"] == pytest.approx(
        sum(v for a, v in arr.items() if a not in out)
    )
    snapshot = set(page["snapshot"]["account_id"])
    assert len(snapshot) == 247 and not snapshot & out
    assert not {a["id"] for a in page["p1"]} & out
    assert not set(page["alert_table"]["account_id"]) & out
    # acc-00017 exists from 2026-10-21: the weekly trend has no score before that
    trend = next(a["trend"] for a in page["p1"] if a["id"] == "acc-00017")
    days = [d.isoformat() for d in page["bt_days"]]
    assert [math.isnan(s) for s in trend] == [d < "2026-10-21" for d in days]


def test_sync_metadata_pushes_tier_and_score_of_subjects_only(defs_path: Path) -> None:
    from pendo_segments.sync.metadata import desired_metadata

    fields = ["tier", "health_score"]
    desired = desired_metadata(
        dataset(), load_definitions(defs_path), fields, as_of=T.D, defs_path=defs_path
    )
    assert {a: (v["tier"], v["health_score"]) for a, v in desired.items()} == {
        "A1": ("P1", 66.4),
        "A2": ("P1", 27.3),
        "A3": (None, None),  # created on D
        "A4": (None, None),  # churned D−1
        "A5": ("P3", 29.5),
    }


def test_calibrate_leaves_out_accounts_that_do_not_exist_at_their_day() -> None:
    """Outcomes of A1 (renewed), A3 (created on D, renewed), A4 (churned D−1) and A5
    (churned on D): at D only A1 and A5 exist, so calibration measures 1 churned against
    1 renewed; A3 and A4 have no score there and are not zeros either."""
    from pendo_segments.health.calibrate import calibrate

    ds = dataset()
    outcomes = pd.DataFrame(
        {
            "account_id": pd.array(["A1", "A3", "A4", "A5"], dtype="string"),
            "churned": [False, False, True, True],
            "churn_date": pd.to_datetime([None, None, "2026-09-13", "2026-09-14"]),
        }
    )
    ds.outcomes = outcomes
    result = calibrate(ds, as_of=T.D)
    assert (result.accounts, result.churned, result.renewed) == (2, 1, 1)
    assert result.rows[0].accounts == 2  # the health_score row: A1 and A5
    assert (
        "2 accounts did not exist on their as-of day (created on or after it, or churned "
        "before it); left out"
    ) in result.notes
