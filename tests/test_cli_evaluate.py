"""CLI: evaluate / explain on a data folder written from the hand-made data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from handmade import EXPECTED, frames

from pendo_segments.cli import main
from pendo_segments.data.dataset import Dataset
from pendo_segments.data.loaders import write_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "usage"
    write_dataset(Dataset(**frames()), out)
    return out


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_evaluate_csv_is_exactly_the_contract(data_dir: Path) -> None:
    result = run(
        "evaluate",
        "segment_defs",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    expected = ["segment,subject,subject_id"]
    subject = {
        n: ("account" if ids and ids[0].startswith("A") else "visitor")
        for n, ids in EXPECTED.items()
    }
    for name in sorted(EXPECTED):
        expected += [f"{name},{subject[name]},{i}" for i in sorted(EXPECTED[name])]
    assert result.stdout.splitlines() == expected


def test_duckdb_engine_gives_the_same_csv(data_dir: Path) -> None:
    args = ["evaluate", "--data", str(data_dir), "--as-of", "2026-11-01", "--format", "csv"]
    pandas_out = run(*args)
    duck_out = run(*args, "--engine", "duckdb")
    assert duck_out.exit_code == 0, duck_out.stderr
    assert duck_out.stdout == pandas_out.stdout


def test_evaluate_selected_segments_json_and_output_file(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = run(
        "evaluate",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "-s",
        "smb",
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text()) == [
        {"segment": "smb", "subject": "account", "subject_id": "A1"}
    ]
    assert not list(tmp_path.glob(".m.json.*"))  # no temp file left behind


def test_evaluate_counts(data_dir: Path) -> None:
    result = run(
        "evaluate",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--counts",
        "-s",
        "at_risk",
        "-s",
        "new_users",
        "--format",
        "csv",
    )
    assert result.stdout.splitlines() == [
        "segment,subject,members",
        "at_risk,account,2",
        "new_users,visitor,2",
    ]


def test_evaluate_bad_data_folder_is_one_line(tmp_path: Path) -> None:
    result = run("evaluate", "--data", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")


def test_explain_json(data_dir: Path) -> None:
    result = run(
        "explain",
        "at_risk",
        "A4",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["member"] is False
    minutes = payload["conditions"][2]
    assert (minutes["value"], minutes["op"], minutes["threshold"], minutes["result"]) == (
        10.5,
        "<=",
        10,
        "fail",
    )


def test_explain_stamped_segment_says_its_parameter(data_dir: Path) -> None:
    result = run(
        "explain",
        "never_used_data_explorer",
        "a5v1",
        "--data",
        str(data_dir),
        "--as-of",
        "2026-11-01",
        "--format",
        "table",
    )
    assert result.exit_code == 0, result.stderr
    stamp = "feature=data_explorer, feature_name=Data Explorer"
    assert f"IS in never_used_data_explorer (stamped with {stamp})" in " ".join(
        result.stdout.split()
    )


# -- output at the speed of the data; engines agree on errors -------------------


def _old_membership_csv(result) -> str:  # type: ignore[no-untyped-def]
    """The membership CSV as the cell-by-cell writer (``rows_to_csv``) writes it."""
    from pendo_segments.cli.output import rows_to_csv

    frame = result.membership()
    return rows_to_csv(list(frame.columns), frame.itertuples(index=False, name=None))


def test_columnar_csv_is_byte_identical_to_the_cell_writer_on_the_sample(tmp_path: Path) -> None:
    from pendo_segments.data import load_sample
    from pendo_segments.definitions import load_definitions
    from pendo_segments.evaluate import evaluate as run_engine

    expected = _old_membership_csv(
        run_engine(load_definitions(Path("segment_defs")), load_sample())
    )
    assert expected.count("\n") > 1000  # the sample has real memberships
    out = tmp_path / "m.csv"
    result = run("evaluate", "--data", "sample", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8") == expected
    piped = run("evaluate", "--data", "sample", "--format", "csv")
    assert piped.stdout == expected


def test_columnar_json_equals_json_dumps(data_dir: Path) -> None:
    from pendo_segments.cli.output import rows_to_json

    args = ["evaluate", "--data", str(data_dir), "--as-of", "2026-11-01", "--format"]
    rows = [line.split(",") for line in run(*args, "csv").stdout.splitlines()]
    assert run(*args, "json").stdout == rows_to_json(rows[0], rows[1:])


@pytest.mark.parametrize("layout", ["csv", "parquet"])
def test_duckdb_reads_the_folder_itself_with_the_same_members(
    data_dir: Path, tmp_path: Path, layout: str
) -> None:
    from pendo_segments.data import load_dataset

    folder = data_dir
    if layout == "parquet":
        folder = tmp_path / "pq"
        write_dataset(load_dataset(data_dir), folder, fmt="parquet")
    args = ["evaluate", "--data", str(folder), "--as-of", "2026-11-01", "--format", "csv"]
    pandas_out = run(*args, "--engine", "pandas")
    duck_out = run(*args, "--engine", "duckdb", "--memory-limit", "500MB")
    assert duck_out.exit_code == 0, duck_out.stderr
    assert duck_out.stdout == pandas_out.stdout
    assert run(*args, "--engine", "duckdb", "--counts").stdout == (
        run(*args, "--engine", "pandas", "--counts").stdout
    )


def _broken(data_dir: Path, tmp_path: Path, table: str, text: str) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    for path in data_dir.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / f"{table}.csv").write_text(text, encoding="utf-8")
    return folder


USAGE = "date,visitor_id,minutes,events\n"


@pytest.mark.parametrize(
    ("table", "text", "message"),
    [
        (
            "usage_daily",
            USAGE + "2026-10-01,a1v1,1,1\n2026-13-01,a1v1,1,1\n",
            "usage_daily.csv: row 2 (line 3), column 'date': '2026-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "usage_daily",
            USAGE + "2026-10-01,a1v1,-1,1\n",
            "usage_daily.csv: row 1 (line 2), column 'minutes': '-1' is negative",
        ),
        (
            "usage_daily",
            USAGE + "2026-10-01,a1v1,1,99999999999999999999\n",
            "usage_daily.csv: row 1 (line 2), column 'events': '99999999999999999999' "
            "is too large for an integer",
        ),
        (
            "usage_daily",
            USAGE + "2026-10-01,a1v1,abc,1\n",
            "usage_daily.csv: row 1 (line 2), column 'minutes': 'abc' is not a number",
        ),
        (
            "usage_daily",
            USAGE + "2026-10-01,a1v1,1,1\n2026-10-01,ghost,1,1\n",
            "usage_daily.csv: row 2 (line 3), column 'visitor_id': unknown visitor 'ghost' "
            "(1 row of 1 unknown visitor; --lenient drops them)",
        ),
        (
            "usage_daily",
            "date,visitor_id,events\n2026-10-01,a1v1,1\n",
            "usage_daily.csv: missing required column 'minutes'",
        ),
        (
            "feature_usage",
            "date,visitor_id,feature_id,clicks\n2026-10-01,a1v1,nope,1\n",
            "feature_usage.csv: row 1 (line 2), column 'feature_id': unknown feature 'nope' "
            "(1 row of 1 unknown feature; --lenient drops them)",
        ),
        (
            "accounts",
            "account_id,arr,plan\nA1,1,Starter\nA1,2,Growth\n",
            "accounts.csv: row 2 (line 3), column 'account_id': duplicate id 'A1' "
            "(first at row 1 (line 2))",
        ),
    ],
)
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_bad_data_gives_the_same_one_line_error_in_each_engine(
    data_dir: Path, tmp_path: Path, engine: str, table: str, text: str, message: str
) -> None:
    folder = _broken(data_dir, tmp_path, table, text)
    result = run("evaluate", "--data", str(folder), "--as-of", "2026-11-01", "--engine", engine)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == f"Error: {message}"


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_definition_errors_read_the_same_in_each_engine(
    data_dir: Path, tmp_path: Path, engine: str
) -> None:
    defs = tmp_path / "defs"
    defs.mkdir()
    (defs / "odd.yaml").write_text(
        "name: odd\nsubject: account\nrule:\n  all:\n"
        "    - {field: no_such_column, op: '=', value: 1}\n"
    )
    (defs / "clicks.yaml").write_text(
        "name: clicks\nsubject: visitor\nrule: {metric: feature_clicks, feature: nope, op: '>', value: 1}\n"
    )
    options = ["--data", str(data_dir), "--as-of", "2026-11-01", "--engine"]
    for name in ("odd", "clicks"):
        result = run("evaluate", str(defs / f"{name}.yaml"), *options, engine)
        assert result.exit_code == 1, result.output
        assert len(result.stderr.splitlines()) == 1
        pandas = run("evaluate", str(defs / f"{name}.yaml"), *options, "pandas")
        assert result.stderr == pandas.stderr


def test_auto_engine_picks_duckdb_beyond_the_budget_and_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pendo_segments.evaluate import budget

    args = ["evaluate", "--data", str(data_dir), "--as-of", "2026-11-01", "--format", "csv"]
    small = run(*args)
    assert small.exit_code == 0 and "duckdb" not in small.stderr
    monkeypatch.setattr(budget, "CSV_BYTES_FACTOR", 1e9)  # as if the files were huge
    tight = run(*args, "--memory-limit", "200MB")
    assert tight.exit_code == 0, tight.stderr
    assert "Warning: using the duckdb engine" in tight.stderr
    assert tight.stdout == small.stdout


def test_as_of_out_of_the_calendar_is_a_usage_error(data_dir: Path) -> None:
    result = run("evaluate", "--data", str(data_dir), "--as-of", "9999-12-31")
    assert result.exit_code == 2
    assert "'9999-12-31' is outside 1900-01-01 to 9000-12-31" in result.stderr


def test_lenient_drops_the_same_rows_with_the_same_warnings_in_each_engine(
    data_dir: Path, tmp_path: Path
) -> None:
    clicks = (
        "date,visitor_id,feature_id,clicks\n2026-10-01,a1v1,core_events,20\n"
        "2026-10-01,ghost,core_events,1\n2026-10-02,ghost,nope,4\n2026-10-03,a1v1,nope,2\n"
    )
    folder = _broken(data_dir, tmp_path, "feature_usage", clicks)
    args = ["evaluate", "--data", str(folder), "--as-of", "2026-11-01", "--lenient", "--format"]
    pandas = run(*args, "csv", "--engine", "pandas")
    duck = run(*args, "csv", "--engine", "duckdb")
    assert duck.exit_code == 0, duck.stderr
    assert duck.stdout == pandas.stdout
    dropped = [line for line in duck.stderr.splitlines() if "dropped" in line]
    assert dropped == [
        "Warning: feature_usage.csv: dropped 2 rows of 1 unknown visitor",
        "Warning: feature_usage.csv: dropped 2 rows of 1 unknown feature",
    ]
    assert dropped == [line for line in pandas.stderr.splitlines() if "dropped" in line]
