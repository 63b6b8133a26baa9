"""``pull`` keeps the attribute history (docs/semantics.md §2b), against the fake Pendo.

Pulls run for hand-picked as-of days; every expected history row is worked out
from the rule: a changed record's open row is closed on the pull's as-of day and
a new one opens that day; a record's first row starts on its first-seen day
(Pendo's ``metadata.auto.firstvisit``), or the day before the pull when Pendo
has none. An evaluation at D reads the row covering D−1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fake_pendo import FakePendo, day_ms

from pendo_segments.cli import main

SMB = Path(__file__).resolve().parent.parent / "segment_defs" / "smb.yaml"
FIRST, SECOND = "2026-09-01", "2026-09-02"  # the two pulls' as-of days


@pytest.fixture
def pendo(fake_pendo: FakePendo, pendo_env: dict[str, str]) -> FakePendo:
    """A1 ($12k, first seen 2026-03-05) with visitor v1; A2 ($30k) never visited."""
    fake_pendo.add_account(
        "A1", auto={"firstvisit": day_ms("2026-03-05")}, agent={"arr": 12000, "plan": "Growth"}
    )
    fake_pendo.add_account("A2", agent={"arr": 30000, "plan": "Growth"})
    visit(fake_pendo, "2026-08-30")
    fake_pendo.add_events(
        [
            {
                "visitorId": "v1",
                "accountId": "A1",
                "day": day_ms("2026-08-30"),
                "numEvents": 3,
                "numMinutes": 4.0,
            }
        ]
    )
    return fake_pendo


def visit(fake: FakePendo, last: str) -> None:
    fake.add_visitor(
        "v1",
        "A1",
        auto={"firstvisit": day_ms("2026-03-05"), "lastvisit": day_ms(last)},
        agent={"language": "en"},
    )


def pull(out: Path, as_of: str) -> Result:
    return CliRunner().invoke(
        main, ["pull", "--out", str(out), "--days", "7", "--as-of", as_of], catch_exceptions=True
    )


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def smb(folder: Path, as_of: str) -> list[str]:
    result = CliRunner().invoke(
        main, ["evaluate", str(SMB), "--data", str(folder), "--as-of", as_of, "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    return [line.split(",")[2] for line in result.stdout.splitlines()[1:]]


def test_first_pull_starts_the_history_and_fills_created(pendo: FakePendo, tmp_path: Path) -> None:
    out = tmp_path / "usage"
    result = pull(out, FIRST)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "History as of 2026-09-01: accounts 2 new, 0 changed, 0 unchanged; "
        "visitors 1 new, 0 changed, 0 unchanged"
    )
    # A1 from its first visit; A2 (no first visit) from the day before the pull
    assert text(out / "accounts_history.csv") == (
        "account_id,valid_from,valid_to,arr,plan\n"
        "A1,2026-03-05,,12000,Growth\n"
        "A2,2026-08-31,,30000,Growth\n"
    )
    # visit stamps and the account are not tracked: language only
    assert text(out / "visitors_history.csv") == (
        "visitor_id,valid_from,valid_to,language\nv1,2026-03-05,,en\n"
    )
    assert text(out / "accounts.csv") == (
        "account_id,arr,plan,created\nA1,12000,Growth,2026-03-05\nA2,30000,Growth,\n"
    )


def test_a_changed_arr_closes_one_row_and_opens_one(pendo: FakePendo, tmp_path: Path) -> None:
    out = tmp_path / "usage"
    assert pull(out, FIRST).exit_code == 0
    pendo.add_account(
        "A1", auto={"firstvisit": day_ms("2026-03-05")}, agent={"arr": 50000, "plan": "Growth"}
    )
    visit(pendo, "2026-09-01")  # a new last visit is no change of fields
    result = pull(out, SECOND)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "History as of 2026-09-02: accounts 0 new, 1 changed, 1 unchanged; "
        "visitors 0 new, 0 changed, 1 unchanged"
    )
    assert text(out / "accounts_history.csv") == (
        "account_id,valid_from,valid_to,arr,plan\n"
        "A1,2026-03-05,2026-09-02,12000,Growth\n"
        "A1,2026-09-02,,50000,Growth\n"
        "A2,2026-08-31,,30000,Growth\n"
    )
    assert text(out / "visitors_history.csv") == (
        "visitor_id,valid_from,valid_to,language\nv1,2026-03-05,,en\n"
    )
    # the same pull again on the same day: nothing changes
    before = folder_bytes(out)
    again = pull(out, SECOND)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[1] == (
        "History as of 2026-09-02: accounts 0 new, 0 changed, 2 unchanged; "
        "visitors 0 new, 0 changed, 1 unchanged"
    )
    assert folder_bytes(out) == before
    # $12k (SMB) holds at the end of 09-01 (as-of 09-01 and 09-02 read 08-31 and 09-01),
    # $50k from 09-02 on (as-of 09-03); accounts.csv alone says $50k on every day
    assert smb(out, FIRST) == ["A1"]
    assert smb(out, SECOND) == ["A1"]
    assert smb(out, "2026-09-03") == []


def test_a_folder_pulled_without_history_starts_from_its_own_values(
    pendo: FakePendo, tmp_path: Path
) -> None:
    out = tmp_path / "usage"
    assert pull(out, FIRST).exit_code == 0
    for name in ("accounts_history.csv", "visitors_history.csv"):
        (out / name).unlink()  # as an older pull left it
    (out / "accounts.csv").write_text(
        "account_id,arr,plan,created\nA1,9000,Growth,2026-03-05\nA2,30000,Growth,\n"
    )
    assert pull(out, SECOND).exit_code == 0
    assert text(out / "accounts_history.csv") == (
        "account_id,valid_from,valid_to,arr,plan\n"
        "A1,2026-03-05,2026-09-02,9000,Growth\n"
        "A1,2026-09-02,,12000,Growth\n"
        "A2,2026-09-01,,30000,Growth\n"  # no first visit: the day before this pull
    )


def test_a_second_change_on_the_same_day_replaces_that_days_row(
    pendo: FakePendo, tmp_path: Path
) -> None:
    out = tmp_path / "usage"
    assert pull(out, FIRST).exit_code == 0
    pendo.add_account("A2", agent={"arr": 31000, "plan": "Growth"})
    assert pull(out, SECOND).exit_code == 0
    pendo.add_account("A2", agent={"arr": 32000, "plan": "Growth"})
    assert pull(out, SECOND).exit_code == 0
    assert text(out / "accounts_history.csv").splitlines()[2:] == [
        "A2,2026-08-31,2026-09-02,30000,Growth",
        "A2,2026-09-02,,32000,Growth",
    ]


def test_a_pull_for_an_earlier_day_is_refused_and_writes_nothing(
    pendo: FakePendo, tmp_path: Path
) -> None:
    out = tmp_path / "usage"
    assert pull(out, FIRST).exit_code == 0
    pendo.add_account("A2", agent={"arr": 31000, "plan": "Growth"})
    assert pull(out, SECOND).exit_code == 0
    before = folder_bytes(out)
    result = pull(out, FIRST)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {out / 'accounts_history'}: holds a change on 2026-09-02, after the pull's "
        "as-of day 2026-09-01; history only moves forward (pull into a new folder)"
    )
    assert folder_bytes(out) == before


def test_a_pull_stopped_while_writing_leaves_the_old_folder(
    pendo: FakePendo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pendo_segments.data import files

    out = tmp_path / "usage"
    assert pull(out, FIRST).exit_code == 0
    before = folder_bytes(out)
    pendo.add_account("A2", agent={"arr": 31000, "plan": "Growth"})
    write = files.write_csv

    def stop_at_history(frame: object, path: Path) -> None:
        if path.name == "accounts_history.csv":
            raise KeyboardInterrupt  # killed halfway: the tables are written, history not
        write(frame, path)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "write_csv", stop_at_history)
    result = pull(out, SECOND)
    assert result.exit_code != 0
    assert folder_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage"]  # no half-built folder


# -- the report says when there is no history ---------------------------------------------------
@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "Account fields are today's values for every past day"),
        ("ja", "過去のどの日についても、アカウントの項目は現在の値です。"),
    ],
)
def test_the_report_page_says_when_fields_are_todays(
    tmp_path: Path, locale: str, words: str
) -> None:
    import html

    import pandas as pd
    from handmade import frames

    from pendo_segments.data.history import history_from_frame
    from pendo_segments.data.loaders import dataset_from_frames
    from pendo_segments.definitions import load_definitions
    from pendo_segments.report.build import ReportOptions, build_report

    defs_path = SMB.parent
    defs = load_definitions(defs_path)
    ds = dataset_from_frames(frames())
    bare = build_report(
        defs, ds, tmp_path / "bare", defs_path=defs_path, options=ReportOptions(locale=locale)
    )
    page = html.unescape(text(bare.index))
    assert 'id="no-history"' in page and words in page
    ds.accounts_history = history_from_frame(
        "accounts",
        pd.DataFrame({"account_id": ["A1"], "valid_from": ["2026-01-01"], "arr": [12000.0]}),
        ds.accounts,
    )
    kept = build_report(
        defs, ds, tmp_path / "kept", defs_path=defs_path, options=ReportOptions(locale=locale)
    )
    assert 'id="no-history"' not in text(kept.index)


def test_parquet_folders_keep_the_history_too(pendo: FakePendo, tmp_path: Path) -> None:
    from pendo_segments.data.loaders import load_dataset

    out = tmp_path / "usage"
    args = ["pull", "--out", str(out), "--days", "7", "--parquet", "--as-of"]
    assert CliRunner().invoke(main, [*args, FIRST]).exit_code == 0
    pendo.add_account("A2", agent={"arr": 31000, "plan": "Growth"})
    result = CliRunner().invoke(main, [*args, SECOND])
    assert result.exit_code == 0, result.output
    held = load_dataset(out).accounts_history
    assert held is not None
    rows = [
        (r.account_id, str(r.valid_from.date()), str(r.valid_to)[:10], r.arr)
        for r in held.frame.itertuples()
    ]
    assert rows == [
        ("A1", "2026-03-05", "NaT", 12000.0),
        ("A2", "2026-08-31", "2026-09-02", 30000.0),
        ("A2", "2026-09-02", "NaT", 31000.0),
    ]
