"""A rule on an optional column the data lacks is unknown, as on blank values (issue 28 #5).

The shipped tier policy's first rule reads ``self_service``, which the data
contract lists as optional: ``tiers`` and ``report`` stopped with "no column
'self_service' in accounts". The independent expectation is the same data
with the column present and every value blank, whose meaning was already
fixed (a comparison with an unknown value is false). One warning names the
column; a column the contract does not list stays an error with a hint.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pendo_segments.cli import main
from pendo_segments.data.loaders import bundled_sample_path

SAMPLE = bundled_sample_path()
WARNING = (
    "Warning: accounts has no column 'self_service' (optional): conditions on it are "
    "unknown (false), as for blank values"
)
N_ACCOUNTS = 250  # data rows of the sample's accounts.csv


def sample_with(root: Path, self_service: str) -> Path:
    """The sample with ``self_service`` left out ("absent") or every value blank ("blank")."""
    folder = root / self_service
    shutil.copytree(SAMPLE, folder)
    path = folder / "accounts.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert sum(r["self_service"] == "true" for r in rows) > 0  # the rule matters here
    names = list(rows[0])
    if self_service == "absent":
        names.remove("self_service")
    out = io.StringIO()
    writer = csv.DictWriter(out, names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({**r, "self_service": ""} for r in rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("optional")
    return {kind: sample_with(root, kind) for kind in ("absent", "blank")}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "self_service" in line]


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_tiers_without_self_service_as_if_it_were_blank(folders, engine: str) -> None:
    args = ["tiers", "segment_defs", "--engine", engine, "--format", "csv"]
    absent = run(*args, "--data", str(folders["absent"]))
    blank = run(*args, "--data", str(folders["blank"]))
    assert absent.exit_code == 0, absent.stderr
    assert blank.exit_code == 0, blank.stderr
    assert absent.stdout == blank.stdout
    assert "Prefers self-service" not in absent.stdout
    assert len(absent.stdout.splitlines()) == N_ACCOUNTS + 1
    assert warnings(absent) == [WARNING]
    assert warnings(blank) == []


ALERTS = """\
alerts:
  - name: self_serve
    title: Self-service account
    severity: info
    action: Nothing
    when: {field: self_service, op: "=", value: true}
  - name: not_self_serve
    title: Not a self-service account
    severity: info
    action: Nothing
    when: {not: {field: self_service, op: "=", value: true}}
"""


def test_alerts_without_self_service_as_if_it_were_blank(folders, tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(ALERTS, encoding="utf-8")
    args = ["alerts", "segment_defs", "--rules", str(rules), "--format", "csv"]
    absent = run(*args, "--data", str(folders["absent"]))
    blank = run(*args, "--data", str(folders["blank"]))
    assert absent.exit_code == 0, absent.stderr
    assert absent.stdout == blank.stdout
    fired = [r["alert"] for r in csv.DictReader(io.StringIO(absent.stdout))]
    assert fired.count("self_serve") == 0
    assert fired.count("not_self_serve") == N_ACCOUNTS
    assert warnings(absent) == [WARNING]  # read by the tier policy and the alerts: said once


SEGMENTS = """\
segments:
  - name: self_serve
    title: Self-service accounts
    subject: account
    rule: {field: self_service, op: "=", value: true}
  - name: assisted
    title: Accounts not known to prefer self-service
    subject: account
    rule: {not: {field: self_service, op: "=", value: true}}
  - name: self_serve_visitors
    title: Visitors of accounts that said whether they prefer self-service
    subject: visitor
    rule: {field: account.self_service, op: exists}
"""


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_segments_on_a_missing_optional_column(folders, tmp_path: Path, engine: str) -> None:
    defs = tmp_path / "defs.yaml"
    defs.write_text(SEGMENTS, encoding="utf-8")
    args = ["evaluate", str(defs), "--engine", engine, "--counts", "--format", "csv"]
    absent = run(*args, "--data", str(folders["absent"]))
    assert absent.exit_code == 0, absent.stderr
    counts = {r["segment"]: int(r["members"]) for r in csv.DictReader(io.StringIO(absent.stdout))}
    assert counts == {"assisted": N_ACCOUNTS, "self_serve": 0, "self_serve_visitors": 0}
    assert warnings(absent) == [WARNING]


def test_a_column_outside_the_contract_stays_an_error(folders, tmp_path: Path) -> None:
    defs = tmp_path / "typo.yaml"
    defs.write_text(
        "name: typo\ntitle: Typo\nsubject: account\n"
        "rule: {field: loyalty_band, op: '=', value: gold}\n",
        encoding="utf-8",
    )
    result = run("evaluate", str(defs), "--data", str(folders["absent"]), "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {defs}:1: typo: rule: no column 'loyalty_band' in accounts"
    )


def test_report_without_self_service(folders, tmp_path: Path) -> None:
    result = run("report", "--data", str(folders["absent"]), "--out", str(tmp_path / "report"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "report" / "index.html").is_file()
    assert warnings(result) == [WARNING]
