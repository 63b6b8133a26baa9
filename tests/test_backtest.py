"""Backtest: member counts per as-of day and catch rates, worked out by hand.

Hand-built data (one visitor per account, "active" = a usage row with events):

  account  usage                                   churn        segment quiet (≤ 1 active day in 7)
  A        every day 02-01 … 03-22                 —            never
  B        every day 02-01 … 03-01                 04-20        03-09, 03-16, 03-23
  C        every day 02-01 … 03-10                 03-30        03-23 (03-16 still sees 03-09, 03-10)
  D        none                                    —            always
  E        every day 02-01 … 03-22                 05-01        never
  F        none                                    02-15        never: churned before 03-02, not a subject
  G        none                                    08-01        always (churn > 90 days after every as-of)

As-of days 03-02, 03-09, 03-16, 03-23 (2026). quiet members: 2, 3, 3, 4 (F had
left: docs/semantics.md §2b).
In scope: A B C D E G (6). Churners within 90 days after an as-of: B, C, E (3);
base rate 0.5. Flagged before churning: B C D G (4); caught: B (first flag 03-09,
lead 42 days) and C (03-23, lead 7). Precision 2/4 = 0.5, recall 2/3, lift 1.0,
median lead 24.5 days.

Health with defaults (login 20, adoption 30, breadth 20; no NPS, no tickets, one
key feature nobody clicks): score = 20 × login / 70, so an account without
logins scores 0 and one active 16+ of the last 30 days scores 28.6. Alert
``dead`` (score < 10) flags D and G (F is out of scope): caught 0.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pendo_segments.backtest import as_of_days, catch_rates, churn_days, run_backtest
from pendo_segments.cli import main
from pendo_segments.data import load_dataset, load_sample
from pendo_segments.definitions import load_definitions
from pendo_segments.errors import ConfigError, DataError
from pendo_segments.evaluate import evaluate
from pendo_segments.health import compute_health
from pendo_segments.shipped import shipped_path

DAYS = [dt.date(2026, 3, 2), dt.date(2026, 3, 9), dt.date(2026, 3, 16), dt.date(2026, 3, 23)]
LAST_ACTIVE = {"A": "2026-03-22", "B": "2026-03-01", "C": "2026-03-10", "E": "2026-03-22"}
CHURN = {
    "B": "2026-04-20",
    "C": "2026-03-30",
    "E": "2026-05-01",
    "F": "2026-02-15",
    "G": "2026-08-01",
}


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / name, index=False)


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("bt-data")
    ids = list("ABCDEFG")
    _write(data, "accounts.csv", pd.DataFrame({"account_id": ids, "arr": 1000, "plan": "Pro"}))
    _write(
        data,
        "visitors.csv",
        pd.DataFrame({"visitor_id": [i.lower() for i in ids], "account_id": ids}),
    )
    rows = [
        (day.date().isoformat(), acc.lower(), 5.0, 3)
        for acc, last in LAST_ACTIVE.items()
        for day in pd.date_range("2026-02-01", last)
    ]
    _write(
        data,
        "usage_daily.csv",
        pd.DataFrame(rows, columns=["date", "visitor_id", "minutes", "events"]),
    )
    _write(
        data,
        "feature_usage.csv",
        pd.DataFrame(columns=["date", "visitor_id", "feature_id", "clicks"]),
    )
    _write(
        data, "features.csv", pd.DataFrame({"feature_id": ["f1"], "name": ["F1"], "key": [True]})
    )
    _write(
        data,
        "outcomes.csv",
        pd.DataFrame(
            {
                "account_id": ids,
                "churned": [a in CHURN for a in ids],
                "churn_date": [CHURN.get(a, "") for a in ids],
            }
        ),
    )
    defs = tmp_path_factory.mktemp("bt-defs")
    (defs / "quiet.yaml").write_text(
        "name: quiet\ntitle: Quiet\nsubject: account\nwindow_days: 7\n"
        'rule:\n  all:\n    - {metric: active_days, op: "<=", value: 1}\n',
        encoding="utf-8",
    )
    (defs / "alerts.yaml").write_text(
        "alerts:\n  - name: dead\n    title: Score below 10\n"
        '    when: {health: score, op: "<", value: 10}\n',
        encoding="utf-8",
    )
    return data, defs


@pytest.fixture(scope="module")
def sample() -> tuple[Path, object, object]:
    defs_path = shipped_path("segment_defs")
    return defs_path, load_definitions(defs_path), load_sample()


def test_as_of_days_step_and_range() -> None:
    assert as_of_days(DAYS[0], dt.date(2026, 3, 24), 7) == DAYS
    assert as_of_days(DAYS[0], DAYS[0], 7) == [DAYS[0]]
    with pytest.raises(ConfigError, match="before --from"):
        as_of_days(DAYS[1], DAYS[0])


def test_member_counts_per_as_of_are_known_by_hand(hand: tuple[Path, Path]) -> None:
    data, defs = hand
    bt = run_backtest(load_definitions(defs), load_dataset(data), DAYS, defs_path=defs)
    assert bt.counts == {"quiet": [2, 3, 3, 4]}
    frame = bt.counts_frame()
    assert list(frame.columns) == ["as_of", "segment", "members"]
    assert frame["as_of"].tolist() == [d.isoformat() for d in DAYS]
    # A (active 16+ of the last 30 days at every as-of): 20 × 100 / 70
    scores = bt.scores_frame()
    a = scores[scores["account_id"] == "A"]["health_score"].tolist()
    assert a == [28.6] * 4
    assert scores[scores["account_id"] == "D"]["health_score"].tolist() == [0.0] * 4


def test_catch_rates_are_known_by_hand(hand: tuple[Path, Path]) -> None:
    data, defs = hand
    ds = load_dataset(data)
    bt = run_backtest(load_definitions(defs), ds, DAYS, defs_path=defs)
    rates = {r.rule: r for r in catch_rates(bt, churn_days(ds, bt.account_ids))}
    quiet = rates["quiet"]
    assert (quiet.accounts, quiet.churners, quiet.flagged, quiet.caught) == (6, 3, 4, 2)
    assert quiet.precision == 0.5
    assert quiet.recall == pytest.approx(2 / 3)
    assert quiet.base_rate == 0.5
    assert quiet.lift == pytest.approx(1.0)
    assert quiet.median_lead_days == 24.5
    dead = rates["dead"]
    assert dead.kind == "alert"
    assert (dead.flagged, dead.caught, dead.precision, dead.recall) == (2, 0, 0.0, 0.0)
    assert math.isnan(dead.median_lead_days)


def test_a_shorter_horizon_misses_the_late_churner(hand: tuple[Path, Path]) -> None:
    data, defs = hand
    ds = load_dataset(data)
    bt = run_backtest(load_definitions(defs), ds, DAYS, defs_path=defs, with_alerts=False)
    # horizon 30: B churns 04-20, 28 days after 03-23 → still caught (lead 28 from 03-23);
    # E (05-01) is 39 days after the last as-of → no longer a churner; C lead 7.
    quiet = catch_rates(bt, churn_days(ds, bt.account_ids), horizon=30)[0]
    assert (quiet.churners, quiet.caught) == (2, 2)
    assert quiet.median_lead_days == pytest.approx((28 + 7) / 2)


def test_counts_and_scores_equal_evaluate_and_health_per_day(sample: tuple) -> None:
    """Independent check: the ordinary evaluator and scorer, run day by day."""
    defs_path, defs, ds = sample
    days = [dt.date(2026, 9, 13), dt.date(2026, 10, 11), dt.date(2026, 11, 1)]
    bt = run_backtest(defs, ds, days, defs_path=defs_path, with_alerts=False)
    for i, day in enumerate(days):
        expected = evaluate(defs, ds, as_of=day).counts()
        assert {n: bt.counts[n][i] for n in expected} == expected
        health = compute_health(ds, as_of=day)
        assert np.allclose(health.score, bt.scores[i], equal_nan=True)


def test_churned_account_without_a_date_is_an_error(
    tmp_path: Path, hand: tuple[Path, Path]
) -> None:
    data, defs = hand
    ds = load_dataset(data)
    ds.outcomes.loc[1, "churn_date"] = pd.NaT
    with pytest.raises(DataError, match=r"outcomes.csv, row 2, column churn_date"):
        churn_days(ds, pd.Index(list("ABCDEFG")))


def test_cli_csv_rates_and_scores(tmp_path: Path, hand: tuple[Path, Path]) -> None:
    data, defs = hand
    rates, scores = tmp_path / "rates.json", tmp_path / "scores.csv"
    result = CliRunner().invoke(
        main,
        [
            "backtest", str(defs), "--data", str(data), "--from", "2026-03-02", "--to",
            "2026-03-23", "--format", "json", "--rates", str(rates), "--scores", str(scores),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["as_of"], r["members"]) for r in rows] == [
        ("2026-03-02", 2), ("2026-03-09", 3), ("2026-03-16", 3), ("2026-03-23", 4)
    ]  # fmt: skip
    quiet = next(r for r in json.loads(rates.read_text()) if r["rule"] == "quiet")
    assert (quiet["precision"], quiet["recall"], quiet["median_lead_days"]) == (0.5, 0.667, 24.5)
    assert scores.read_text().splitlines()[0] == "as_of,account_id,health_score"
    # F churned 2026-02-15, before every as-of day: not a subject, no score row (§2b);
    # A B C D E G exist on all four days (their churn dates are after 03-23)
    lines = scores.read_text().splitlines()
    assert len(lines) == 1 + 4 * 6
    assert not [line for line in lines if line.split(",")[1] == "F"]


def test_cli_bad_range_is_one_line_error(hand: tuple[Path, Path]) -> None:
    data, defs = hand
    result = CliRunner().invoke(
        main,
        ["backtest", str(defs), "--data", str(data), "--from", "2026-03-09", "--to", "2026-03-02"],
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: --to 2026-03-02 is before --from 2026-03-09"


def test_alert_flags_equal_the_alert_conditions_of_that_day(sample: tuple) -> None:
    """Independent check: alerts.condition_mask, with its own evaluation and health."""
    from pendo_segments.tiers.alerts import condition_mask, load_alerts
    from pendo_segments.tiers.policy import load_policy

    defs_path, defs, ds = sample
    day = dt.date(2026, 10, 11)
    bt = run_backtest(defs, ds, [day], defs_path=defs_path)
    policy = load_policy(defs_path / "tiers.yaml")
    rules = load_alerts(defs_path / "alerts.yaml", tiers=policy.names)
    checked = 0
    for alert in rules.alerts:
        if alert.needs_tiers or alert.needs_previous:
            assert f"alert:{alert.spec.name}" not in bt.flags
            continue
        health = compute_health(ds, as_of=day)
        expected = condition_mask(
            ds, rules, alert.spec.name, defs=defs, policy=policy, health=health
        )
        assert expected is not None
        assert (bt.flags[f"alert:{alert.spec.name}"][0] == expected).all(), alert.spec.name
        checked += 1
    assert checked >= 4


def test_readme_quotes_the_sample_backtest(sample: tuple) -> None:
    """The README's at_risk numbers are the ones the backtest gives on the sample."""
    defs_path, defs, ds = sample
    days = as_of_days(dt.date(2026, 9, 6), dt.date(2026, 11, 1), 7)
    bt = run_backtest(defs, ds, days, defs_path=defs_path, names=["at_risk"], with_health=False)
    rate = catch_rates(bt, churn_days(ds, bt.account_ids))[0]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"catches {rate.caught} of {rate.churners}" in readme
    assert f"recall {round(100 * rate.recall)} %" in readme
    assert f"median lead time of {rate.median_lead_days:g} days" in readme


def test_last_day_kept_equals_evaluate_and_health(sample: tuple) -> None:
    """The report's current view is the backtest's last day: its masks and score must be
    what ``evaluate`` and ``health`` give for that day."""
    defs_path, defs, ds = sample
    days = [dt.date(2026, 10, 25), dt.date(2026, 11, 1)]
    bt = run_backtest(defs, ds, days, defs_path=defs_path, keep_last=True)
    assert bt.last is not None and bt.last.as_of == days[-1]
    expected = evaluate(defs, ds, as_of=days[-1])
    for name, mask in expected.masks.items():
        assert np.array_equal(bt.last.masks[name], mask), name
    health = compute_health(ds, as_of=days[-1])
    assert np.allclose(bt.last.health.score, health.score, equal_nan=True)
    assert run_backtest(defs, ds, days, defs_path=defs_path).last is None


@pytest.mark.parametrize("chunk_cells", [7, 50, 8_000_000])
def test_day_chunked_sums_equal_a_groupby(
    monkeypatch: pytest.MonkeyPatch, chunk_cells: int
) -> None:
    """Sums per (day, subject, code), whatever the chunk of days summed at a time."""
    from pendo_segments.backtest import history

    monkeypatch.setattr(history, "_CHUNK_CELLS", chunk_cells)
    rng = np.random.default_rng(3)
    n = 5_000
    day = np.sort(rng.integers(20_000, 20_040, n)).astype(np.int32)
    idx = rng.integers(-1, 6, n)  # -1: rows of nobody, left out
    code = rng.integers(0, 3, n)
    value = rng.random(n)
    got_day, got_idx, got_code, (got_sum,) = history._aggregate(
        day, idx, 6, [value], code=code, ncodes=3
    )
    frame = pd.DataFrame({"day": day, "idx": idx, "code": code, "v": value})
    want = frame[frame.idx >= 0].groupby(["day", "idx", "code"])["v"].sum().reset_index()
    assert got_day.tolist() == want["day"].tolist()
    assert got_idx.tolist() == want["idx"].tolist()
    assert got_code.tolist() == want["code"].tolist()
    assert np.allclose(got_sum, want["v"].to_numpy())


@pytest.mark.parametrize(
    ("bitmap_limit", "piece_rows"), [(600_000_000, 8_000_000), (600_000_000, 7), (0, 7)]
)
def test_unique_pairs_equal_a_drop_duplicates(
    monkeypatch: pytest.MonkeyPatch, bitmap_limit: int, piece_rows: int
) -> None:
    """Distinct (subject, day) pairs in day order, by bitmap (in pieces) or by sort."""
    from pendo_segments.backtest import history

    monkeypatch.setattr(history, "_BITMAP_LIMIT", bitmap_limit)
    monkeypatch.setattr(history, "_PAIR_PIECE_ROWS", piece_rows)
    rng = np.random.default_rng(5)
    n = 3_000
    day = np.sort(rng.integers(20_000, 20_030, n)).astype(np.int32)
    idx = rng.integers(-1, 40, n).astype(np.int32)  # -1: rows of nobody, left out
    got_idx, got_day = history._unique_pairs(idx, day, 40)
    frame = pd.DataFrame({"day": day, "idx": idx})
    want = frame[frame.idx >= 0].drop_duplicates().sort_values(["day", "idx"])
    assert got_day.tolist() == want["day"].tolist()
    assert got_idx.tolist() == want["idx"].tolist()
    assert got_idx.dtype == np.int32 and got_day.dtype == np.int32


# -- bounded before allocating (issue #24) ----------------------------------------------------
def test_as_of_days_are_bounded_before_the_days_are_made() -> None:
    """1900-01-01 to 8999-12-31 daily was 2.6M days, allocated days × accounts up front."""
    start, end = dt.date(1900, 1, 1), dt.date(8999, 12, 31)
    n = (end - start).days + 1  # every day, both ends included
    with pytest.raises(ConfigError) as err:
        as_of_days(start, end, 1)
    assert str(err.value) == (
        f"--from 1900-01-01 --to 8999-12-31 --every 1 gives {n:,} as-of days, more than "
        "1,000; use a larger --every or a shorter range, or raise the limit with --max-days"
    )
    assert as_of_days(DAYS[0], DAYS[-1], 7, max_days=4) == DAYS
    from pendo_segments.backtest.run import MAX_DAYS
    from pendo_segments.cli.report_cmds import MAX_DAYS as CLI_DEFAULT

    assert CLI_DEFAULT == MAX_DAYS == 1000
    with pytest.raises(ConfigError, match="gives 4 as-of days, more than 3;"):
        as_of_days(DAYS[0], DAYS[-1], 7, max_days=3)


def test_cli_days_bound_is_named_and_can_be_raised(hand: tuple[Path, Path]) -> None:
    data, defs = hand
    base = ["backtest", str(defs), "--data", str(data), "--from", "2026-03-02", "--to"]
    result = CliRunner().invoke(main, [*base, "2026-03-23", "--max-days", "3"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: --from 2026-03-02 --to 2026-03-23 --every 7 gives 4 as-of days, more than 3; "
        "use a larger --every or a shorter range, or raise the limit with --max-days"
    )
    result = CliRunner().invoke(main, [*base, "2026-03-23", "--max-days", "4", "--format", "csv"])
    assert result.exit_code == 0, result.output
    # the default bound: 2023-06-01 … 2026-03-23 daily is 1,027 days
    result = CliRunner().invoke(
        main, [*base[:4], "--from", "2023-06-01", "--to", "2026-03-23", "--every", "1"]
    )
    assert result.exit_code == 1
    assert "gives 1,027 as-of days, more than 1,000;" in result.stderr


def test_cli_from_and_to_must_be_as_of_days(hand: tuple[Path, Path]) -> None:
    """A day the windows cannot be counted around is refused by the option."""
    data, defs = hand
    result = CliRunner().invoke(
        main,
        ["backtest", str(defs), "--data", str(data), "--from", "0001-01-01", "--to", "2026-03-02"],
    )
    assert result.exit_code == 2
    assert "'0001-01-01' is outside 1900-01-01 to 9000-12-31" in result.stderr


def test_the_results_memory_is_checked_before_it_is_allocated(
    hand: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """By hand, the hand data at its 4 days: 7 accounts × (the quiet flag + the dead
    alert's flag, 1 byte each, + a float64 score) = 7 × 10 = 70 bytes a day, 280 in all."""
    import pendo_segments.backtest.run as run

    data, defs = hand
    bt = run_backtest(load_definitions(defs), load_dataset(data), DAYS, defs_path=defs)
    assert bt.scores is not None
    made = sum(f.nbytes for f in bt.flags.values()) + bt.scores.nbytes
    assert made == 280
    monkeypatch.setattr(run, "memory_budget", lambda: 279.0)
    args = ["backtest", str(defs), "--data", str(data), "--from", "2026-03-02", "--to"]
    result = CliRunner().invoke(main, [*args, "2026-03-23"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: 4 as-of days of 7 accounts need about 280 B for the backtest's results, over "
        "the budget of 279 B (half the machine's memory); use fewer as-of days (--every, "
        "--from, --to) or fewer segments (--segment)"
    )
    monkeypatch.setattr(run, "memory_budget", lambda: 280.0)
    assert CliRunner().invoke(main, [*args, "2026-03-23"]).exit_code == 0
