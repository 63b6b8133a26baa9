"""Salesforce upsert CSV and its exception report, worked out by hand."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner
from health_handmade import AS_OF, dataset, write_folder

from pendo_segments.cli import main
from pendo_segments.export import salesforce_export
from pendo_segments.export.salesforce import FIELDS

DEFS = Path(__file__).resolve().parent.parent / "segment_defs"
HEADER = ["crm_id", *FIELDS]
# A1: score 38.9, last active 10-05, 1 of 4 key features, a1v1 + a1v2 on 10-05 = 2 sessions,
#     NPS (6 + 9) / 2 = 7.5, at risk (< 40).  A2: a2v1 active 10-10 … 10-12 → 3 sessions.
#     A3: never active.  A4: last active 10-02 (the as-of day 11-01 does not count).
#     A5: 16 days up to 10-17, 3 of 4 key features.
ROWS = [
    ["0015e00000AAAAA", 38.9, "2026-10-05", 25.0, 2, 7.5, True],
    ["0015e00000BBBBBQAZ", 22.1, "2026-10-12", 0.0, 3, None, True],
    ["0015e00000CCCCC", 0.0, None, 0.0, 0, None, True],
    ["0015e00000DDDDD", 1.5, "2026-10-02", 0.0, 1, None, True],
    ["0015e00000EEEEE", 97.8, "2026-10-17", 75.0, 16, None, False],
]


def _values(frame) -> list[list]:
    return [[None if v != v else v for v in row] for row in frame.values.tolist()]


def test_rows_by_hand() -> None:
    result = salesforce_export(dataset(), as_of=AS_OF)
    assert list(result.rows.columns) == HEADER
    assert _values(result.rows) == ROWS
    assert result.exceptions.empty


def test_exceptions_blank_malformed_and_shared_ids() -> None:
    crm = ["0015e00000AAAAA", None, "not-an-id", "0015e00000BBBBBQAZ", "0015e00000BBBBB"]
    result = salesforce_export(dataset(crm=crm), as_of=AS_OF)
    assert result.rows["crm_id"].tolist() == ["0015e00000AAAAA"]
    assert result.exceptions.fillna("").values.tolist() == [
        ["A2", "Beta", "", "no crm_id"],
        [
            "A3",
            "Gamma",
            "not-an-id",
            "crm_id 'not-an-id' is not a Salesforce record id (15 or 18 letters and digits)",
        ],
        [
            "A4",
            "Delta",
            "0015e00000BBBBBQAZ",
            "crm_id '0015e00000BBBBBQAZ' is also used by A5; "
            "an upsert would overwrite one with the other",
        ],
        [
            "A5",
            "Epsilon",
            "0015e00000BBBBB",
            "crm_id '0015e00000BBBBB' is also used by A4; an "
            "upsert would overwrite one with the other",
        ],
    ]


def test_known_ids_match_on_15_characters() -> None:
    known = ["0015e00000AAAAAXYZ", "0015e00000CCCCC", "0015e00000DDDDD", "0015e00000EEEEE"]
    result = salesforce_export(dataset(), as_of=AS_OF, known_ids=known)
    assert len(result.rows) == 4
    assert result.exceptions[["account_id", "problem"]].values.tolist() == [
        ["A2", "crm_id '0015e00000BBBBBQAZ' not found in the Salesforce id list"]
    ]


def test_key_header_and_at_risk_override() -> None:
    import numpy as np

    flag = np.array([False, False, False, False, True])
    result = salesforce_export(dataset(), as_of=AS_OF, at_risk=flag, key_header="Id")
    assert result.rows.columns[0] == "Id"
    assert result.rows["Pendo_At_Risk_Flag__c"].tolist() == flag.tolist()


def test_cli_writes_both_files(tmp_path: Path) -> None:
    data = write_folder(
        dataset(
            crm=["0015e00000AAAAA", None, "0015e00000CCCCC", "0015e00000DDDDD", "0015e00000EEEEE"]
        ),
        tmp_path / "data",
    )
    out = tmp_path / "out" / "sf.csv"
    out.parent.mkdir()  # -o/--out never creates missing folders (issue 12 #2)
    result = CliRunner().invoke(
        main,
        [
            "export",
            "salesforce",
            str(DEFS),
            "--data",
            str(data),
            "--as-of",
            "2026-11-01",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == HEADER
    assert rows[1] == ["0015e00000AAAAA", "38.9", "2026-10-05", "25.0", "2", "7.5", "true"]
    assert rows[3] == ["0015e00000DDDDD", "1.5", "2026-10-02", "0.0", "1", "", "true"]
    assert len(rows) == 5
    exceptions = (tmp_path / "out" / "sf.exceptions.csv").read_text(encoding="utf-8")
    assert exceptions == "account_id,name,crm_id,problem\nA2,Beta,,no crm_id\n"
    assert result.stderr.splitlines()[-1] + "\n" == (  # after the loader's orphan-visitor warning
        f"Note: wrote 4 accounts to {out}; 1 without a CRM match listed "
        f"in {tmp_path / 'out' / 'sf.exceptions.csv'}\n"
    )


def test_cli_requires_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "salesforce", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "Missing option '--out'" in result.stderr


def test_json_document_by_hand() -> None:
    """The result renders itself: json is ``as_of`` and the hand-worked ROWS as records
    (blank cells null, the flag a JSON boolean); csv the upsert frame as written."""
    import json

    result = salesforce_export(dataset(), as_of=AS_OF)
    doc = json.loads(json.dumps(result.render("json").payload))
    assert doc["as_of"] == AS_OF.isoformat()
    assert doc["rows"] == [dict(zip(HEADER, row, strict=True)) for row in ROWS]
    assert doc["exceptions"] == []
    assert result.render("csv").frame is result.rows
    assert list(result.exceptions_view().frame.columns) == [
        "account_id",
        "name",
        "crm_id",
        "problem",
    ]
