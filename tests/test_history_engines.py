"""Attribute history on every engine (docs/semantics.md §2b), worked out by hand.

as-of D = 2026-09-10, so each evaluation reads the history row covering
D−1 = 2026-09-09: ``valid_from <= 2026-09-09 < valid_to``. Today every account
has $50k; the history gives $12k (SMB) over the spans below.

=======  ======================  ==============================  =========  ========
account  history row ($12k)      who exists                      arr at D   smb at D
=======  ======================  ==============================  =========  ========
A1       09-09 (D−1) → open      yes                             12k        yes
A2       09-10 (D) → open        yes                             50k        no
A3       08-01 → 09-10 (ends D)  yes                             12k        yes
A4       08-01 → 09-09 (D−1)     yes                             50k        no
A5       08-01 → open            created 09-09 (D−1): yes        12k        yes
A6       08-01 → open            created 09-10 (D): no           —          no
A7       08-01 → open            churned 09-09 (D−1): no         —          no
A8       08-01 → open            churned 09-10 (D): yes          12k        yes
=======  ======================  ==============================  =========  ========

Visitors: vK of account AK, first seen 2026-09-01 (so v6, v7 are not subjects:
their accounts are not). Of A1 also w1 first seen 09-09 (D−1, yes), w2 09-10
(D, no), w3 09-12 (after D, no), w4 no first_visit and usage only on 09-11
(no), w5 no first_visit and usage on 09-08 (yes). visitors_history sets
language ``ja``: w1 from 09-09 (covered), w2 from 08-01 (not a subject), w5
from 09-10 (not covered), v1 08-01 → 09-10 (covered), v2 08-01 → 09-09 (not).
So ``japanese`` at D = w1, v1.

Tiers (smb → P3, else P2): A1, A3, A5, A8 P3; A2, A4 P2; A6, A7 no row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pendo_segments.data.loaders import load_dataset
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DataError

D = dt.date(2026, 9, 10)
ACCOUNTS = "account_id,arr,plan,created\n" + "".join(
    f"A{k},50000,Growth,{ {5: '2026-09-09', 6: '2026-09-10'}.get(k, '') }\n" for k in range(1, 9)
)
ACCOUNTS_HISTORY = (
    "account_id,valid_from,valid_to,arr\n"
    "A1,2026-09-09,,12000\n"
    "A2,2026-09-10,,12000\n"
    "A3,2026-08-01,2026-09-10,12000\n"
    "A4,2026-08-01,2026-09-09,12000\n"
    "A5,2026-08-01,,12000\n"
    "A6,2026-08-01,,12000\n"
    "A7,2026-08-01,,12000\n"
    "A8,2026-08-01,,12000\n"
)
VISITORS = (
    "visitor_id,account_id,first_visit,language\n"
    + "".join(f"v{k},A{k},2026-09-01,en\n" for k in range(1, 9))
    + "w1,A1,2026-09-09,en\nw2,A1,2026-09-10,en\nw3,A1,2026-09-12,en\nw4,A1,,en\nw5,A1,,en\n"
)
VISITORS_HISTORY = (
    "visitor_id,valid_from,valid_to,language\n"
    "w1,2026-09-09,,ja\n"
    "w2,2026-08-01,,ja\n"
    "w5,2026-09-10,,ja\n"
    "v1,2026-08-01,2026-09-10,ja\n"
    "v2,2026-08-01,2026-09-09,ja\n"
)
USAGE = (
    "date,visitor_id,minutes,events\n"
    + "".join(f"2026-09-05,v{k},10,3\n" for k in range(1, 9))
    + "2026-09-11,w4,5,1\n2026-09-08,w5,5,1\n"
)
OUTCOMES = "account_id,churned,churn_date\nA7,true,2026-09-09\nA8,true,2026-09-10\n"
DEFS = """\
segments:
  - name: smb
    title: SMB
    subject: account
    rule: {all: [{field: arr, op: "<=", value: 15000}]}
  - name: japanese
    title: Japanese
    subject: visitor
    rule: {all: [{field: language, op: "=", value: ja}]}
"""
TIERS_YAML = """\
tiers:
  - {name: P2, accounts_per_csm: 40}
  - {name: P3, accounts_per_csm: 150, pooled: true}
rules:
  - {tier: P3, reason: SMB, when: {segment: smb}}
  - {tier: P2, reason: Mid-tier}
"""
EXPECTED = {"smb": ["A1", "A3", "A5", "A8"], "japanese": ["v1", "w1"]}
TIERS = {"A1": "P3", "A2": "P2", "A3": "P3", "A4": "P2", "A5": "P3", "A8": "P3"}


def write_folder(folder: Path, accounts_history: str = ACCOUNTS_HISTORY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "accounts": ACCOUNTS,
        "accounts_history": accounts_history,
        "visitors": VISITORS,
        "visitors_history": VISITORS_HISTORY,
        "features": "feature_id,name\nf1,Feature one\n",
        "usage_daily": USAGE,
        "feature_usage": "date,visitor_id,feature_id,clicks\n",
        "outcomes": OUTCOMES,
    }
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("history_engines")
    defs = root / "defs"
    defs.mkdir()
    (defs / "segments.yaml").write_text(DEFS)
    (defs / "tiers.yaml").write_text(TIERS_YAML)
    return write_folder(root / "data"), defs


def members_pandas(
    defs: Path, data: Path, as_of: dt.date = D, names: tuple[str, ...] = tuple(EXPECTED)
) -> dict[str, list[str]]:
    from pendo_segments.evaluate import evaluate

    # the evaluator's form, as the CLI loads it: usage rows hold an account_id only where
    # the file names one (the full form fills today's, which a visitor's move cannot change)
    ds = load_dataset(data, narrow=True)
    ev = evaluate(load_definitions(defs), ds, as_of=as_of)
    return {n: sorted(ev.members(n)) for n in names}


def members_duckdb(
    defs: Path, data: Path, as_of: dt.date = D, names: tuple[str, ...] = tuple(EXPECTED)
) -> dict[str, list[str]]:
    from pendo_segments.evaluate.duckdb_engine import evaluate_sql

    got = evaluate_sql(load_definitions(defs), load_dataset(data, narrow=True), as_of=as_of)
    return {n: got[n] for n in names}


def members_duckdb_shared(
    defs: Path, data: Path, as_of: dt.date = D, names: tuple[str, ...] = tuple(EXPECTED)
) -> dict[str, list[str]]:
    from pendo_segments.evaluate.duckdb_engine import evaluate_sql

    got = evaluate_sql(
        load_definitions(defs), load_dataset(data, narrow=True), as_of=as_of, shared=True
    )
    return {n: got[n] for n in names}


def members_duckdb_folder(
    defs: Path, data: Path, as_of: dt.date = D, names: tuple[str, ...] = tuple(EXPECTED)
) -> dict[str, list[str]]:
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    ev = evaluate_folder(load_definitions(defs), data, as_of=as_of)
    try:
        got = {
            n: sorted(str(i) for b in ev.membership_batches([n]) for i in b.column("subject_id"))
            for n in ev.segments
        }
    finally:
        ev.close()
    return {n: got[n] for n in names}


LOCAL = [members_pandas, members_duckdb, members_duckdb_shared, members_duckdb_folder]


@pytest.mark.parametrize("members", LOCAL, ids=lambda f: f.__name__[8:])
def test_memberships_at_d(world: tuple[Path, Path], members) -> None:
    data, defs = world
    assert members(defs, data) == EXPECTED


@pytest.mark.parametrize("members", LOCAL, ids=lambda f: f.__name__[8:])
def test_memberships_a_day_later(world: tuple[Path, Path], members) -> None:
    """At D+1 (reads 09-10): A2 starts ($12k), A3 ended; A6 (created 09-10) exists, A8
    (churned 09-10) no longer; w5's ``ja`` starts, v1's ended; w2 (first seen 09-10) exists."""
    data, defs = world
    assert members(defs, data, D + dt.timedelta(days=1)) == {
        "smb": ["A1", "A2", "A5", "A6"],
        "japanese": ["w1", "w2", "w5"],
    }


@pytest.mark.parametrize(
    ("stamp", "covered"),
    [
        ("2026-09-09 23:59:59", True),  # late on D−1: holds at its end
        ("2026-09-10 00:00:00", False),  # midnight starts D
        ("2026-09-09T23:30:00-05:00", False),  # 2026-09-10 04:30 UTC
        ("2026-09-10T01:00:00+02:00", True),  # 2026-09-09 23:00 UTC
    ],
)
@pytest.mark.parametrize("members", LOCAL, ids=lambda f: f.__name__[8:])
def test_dbt_timestamps_near_midnight(
    tmp_path: Path, world: tuple[Path, Path], members, stamp: str, covered: bool
) -> None:
    _data, defs = world
    data = write_folder(
        tmp_path / "data",
        f"account_id,arr,dbt_scd_id,dbt_valid_from,dbt_valid_to\nA1,12000,x,{stamp},\n",
    )
    assert members(defs, data)["smb"] == (["A1"] if covered else [])


def test_overlapping_rows_are_one_line_on_duckdb(tmp_path: Path, world: tuple[Path, Path]) -> None:
    from pendo_segments.evaluate.duckdb_folder import evaluate_folder

    _data, defs = world
    data = write_folder(
        tmp_path / "data",
        "account_id,valid_from,valid_to,arr\nA1,2026-01-01,2026-09-10,1\nA1,2026-09-09,,2\n",
    )
    with pytest.raises(DataError) as err:
        evaluate_folder(load_definitions(defs), data, as_of=D)
    assert str(err.value) == (
        "accounts_history.csv: row 1 (line 2) and row 2 (line 3) both cover 2026-09-09 for "
        "account_id 'A1'; a day needs one row"
    )


def _health(frame: pd.DataFrame) -> dict[str, float]:
    return dict(zip(frame["account_id"].astype(str), frame["health_score"], strict=True))


def test_health_and_tiers_pandas_and_duckdb(world: tuple[Path, Path]) -> None:
    from pendo_segments.engines import open_engine
    from pendo_segments.health import compute_health
    from pendo_segments.health.config import HealthConfig
    from pendo_segments.health.engine import engine_health
    from pendo_segments.tiers.run import engine_tiers, run_tiers, tier_inputs

    data, defs = world
    ds = load_dataset(data)
    pandas_health = _health(compute_health(ds, as_of=D, config=HealthConfig()).frame())
    assert sorted(pandas_health) == sorted(TIERS)  # subjects only
    inputs = tier_inputs(defs)
    with open_engine("duckdb", data, dataset=ds) as duck:  # SQL over the loaded frames
        assert _health(engine_health(duck, HealthConfig(), D).frame()) == pytest.approx(
            pandas_health
        )
        duck_tiers = engine_tiers(duck, inputs, D).frame()
    for frame in (run_tiers(ds, inputs, as_of=D).frame, duck_tiers):
        assert dict(zip(frame["account_id"], frame["tier"], strict=True)) == TIERS


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_cli_reads_history_on_every_local_engine(world: tuple[Path, Path], engine: str) -> None:
    from click.testing import CliRunner

    from pendo_segments.cli import main

    data, defs = world
    common = ["--data", str(data), "--as-of", D.isoformat(), "--engine", engine, "-f", "csv"]
    result = CliRunner().invoke(main, ["evaluate", str(defs), *common])
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    got: dict[str, list[str]] = {}
    for segment, _subject, subject_id in rows:
        got.setdefault(segment, []).append(subject_id)
    assert got == EXPECTED
    tiers = CliRunner().invoke(main, ["tiers", str(defs), *common])
    assert tiers.exit_code == 0, tiers.output
    assert dict(line.split(",")[:2] for line in tiers.stdout.splitlines()[1:]) == TIERS


# -- a visitor's account over time (visitors_history with account_id) -------------------
#: x1 belonged to B1 until 2026-09-09 inclusive and to B2 from 09-10 (today's row);
#: x3 belonged to B3 (created 09-10) until 09-09, and to B1 from 09-10 (today's row).
MOVES = {
    "accounts": "account_id,arr,plan,created\nB1,1000,Starter,\nB2,1000,Starter,\n"
    "B3,1000,Starter,2026-09-10\n",
    "visitors": "visitor_id,account_id,first_visit\nx1,B2,2026-08-01\nx2,B2,2026-08-01\n"
    "x3,B1,2026-08-01\n",
    "visitors_history": "visitor_id,valid_from,valid_to,account_id\n"
    "x1,2026-08-01,2026-09-10,B1\nx3,2026-08-01,2026-09-10,B3\n",
    "features": "feature_id,name\nf1,Feature one\n",
    "usage_daily": "date,visitor_id,minutes,events\n2026-09-05,x1,10,3\n2026-09-06,x2,1,1\n"
    "2026-09-07,x3,7,1\n",
    "feature_usage": "date,visitor_id,feature_id,clicks\n",
}
MOVES_DEFS = """\
segments:
  - {name: busy, title: Busy, subject: account, rule: {all: [{metric: minutes, op: ">=", value: 5}]}}
  - {name: anyone, title: Anyone, subject: visitor, rule: {all: [{metric: minutes, op: ">=", value: 0}]}}
"""
# At D (reads 09-09): x1 in B1 (10 min), x3 in B3, which does not exist yet, so x3 is no
# subject and counts nowhere; B1 10 min, B2 1 (x2) → busy B1; anyone x1, x2.
# At D+1 (reads 09-10): x1 in B2 (10 + 1 = 11), x3 in B1 (7); B3 exists, empty → busy B1,
# B2; anyone x1, x2, x3.
MOVES_EXPECTED = {
    D: {"busy": ["B1"], "anyone": ["x1", "x2"]},
    D + dt.timedelta(days=1): {"busy": ["B1", "B2"], "anyone": ["x1", "x2", "x3"]},
}


def write_moves(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in MOVES.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


@pytest.mark.parametrize("as_of", sorted(MOVES_EXPECTED))
@pytest.mark.parametrize("members", LOCAL, ids=lambda f: f.__name__[8:])
def test_a_visitors_account_at_d(tmp_path: Path, members, as_of: dt.date) -> None:
    data = write_moves(tmp_path / "data")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "moves.yaml").write_text(MOVES_DEFS)
    got = members(tmp_path / "defs", data, as_of, names=("busy", "anyone"))
    assert got == MOVES_EXPECTED[as_of]


def test_a_backtest_follows_visitors_between_accounts(tmp_path: Path) -> None:
    """The backtest's days equal ``evaluate`` on each day (MOVES_EXPECTED, worked above),
    and a visitor segment's members count for the account the visitor had that day:
    at D x1 and x2 are in B1 and B2 (x3's B3 does not exist yet); at D+1 x1, x2 in B2,
    x3 in B1."""
    from pendo_segments.backtest.run import run_backtest
    from pendo_segments.data.loaders import load_dataset
    from pendo_segments.definitions import load_definitions

    data = write_moves(tmp_path / "data")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "moves.yaml").write_text(MOVES_DEFS)
    defs = load_definitions(tmp_path / "defs")
    ds = load_dataset(data, narrow=True)
    days = sorted(MOVES_EXPECTED)
    bt = run_backtest(defs, ds, days, with_health=False, with_alerts=False)
    accounts = list(bt.account_ids)
    for i, day in enumerate(days):
        busy = [a for a, flag in zip(accounts, bt.flags["busy"][i], strict=True) if flag]
        assert busy == MOVES_EXPECTED[day]["busy"]
        assert bt.counts["anyone"][i] == len(MOVES_EXPECTED[day]["anyone"])
    per_account = [
        dict(zip(accounts, row[:-1].tolist(), strict=True)) for row in bt.member_counts["anyone"]
    ]
    assert per_account == [{"B1": 1, "B2": 1, "B3": 0}, {"B1": 1, "B2": 2, "B3": 0}]
