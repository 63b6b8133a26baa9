"""CLI: validate / compile exit codes, error lines and machine-readable output."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pendo_segments.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_validate_ok_csv() -> None:
    result = run("validate", "segment_defs", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "segment,subject,title,source"
    assert any(
        line.startswith("at_risk,account,At-risk customers,segment_defs/at_risk.yaml:")
        for line in lines
    )


def test_validate_reports_every_error_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "title: A\nsubject: account\nrule: {metric: minuts, op: '<', value: 1}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "title: B\nsubject: acount\nrule: {field: arr, op: '<', value: 1}\n"
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: {tmp_path / 'a.yaml'}:3: rule.metric: unknown metric 'minuts'; "
        "did you mean 'minutes'?",
        f"Error: {tmp_path / 'b.yaml'}:2: subject: subject must be 'account' or 'visitor', not "
        "'acount'; did you mean 'account'?",
    ]


def test_missing_defs_path_is_usage_error(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_compile_sql_json_one_entry_per_segment() -> None:
    result = run(
        "compile", "segment_defs", "--target", "sql", "--format", "json", "--as-of", "2026-11-01"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data) == 18  # 10 plain + 2 × 4 stamped per key feature
    smb = next(d for d in data if d["segment"] == "smb")
    assert smb["native"] is True and "15000" in smb["output"]
    assert "DATE" in smb["output"] and "2026-11-01" in smb["output"]


def test_compile_sql_other_dialect_and_out_dir(tmp_path: Path) -> None:
    result = run(
        "compile",
        "--target",
        "sql",
        "-s",
        "at_risk",
        "--dialect",
        "snowflake",
        "--out-dir",
        str(tmp_path),
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "segment,subject,target,native,reason",
        "at_risk,account,sql,true,",
    ]
    assert (
        "DATEDIFF" in (tmp_path / "at_risk.sql").read_text().upper()
        or "COUNT(DISTINCT" in (tmp_path / "at_risk.sql").read_text().upper()
    )


def test_compile_unknown_segment() -> None:
    result = run("compile", "--target", "sql", "-s", "at_rsk")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: unknown segment 'at_rsk'; did you mean 'at_risk'?"


def test_help_lists_commands_with_examples() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for cmd in ("validate", "compile", "evaluate", "explain", "schema"):
        assert cmd in result.output
        sub = run(cmd, "--help")
        assert sub.exit_code == 0 and "Example" in sub.output, cmd


def test_validate_with_data_checks_fields_against_its_columns(tmp_path: Path) -> None:
    """The sample's visitors have 'role' and its accounts 'region' (a custom column)."""
    (tmp_path / "by_role.yaml").write_text(
        "name: by_role\ntitle: By role\nsubject: visitor\nrule:\n  all:\n"
        '    - {field: rol, op: "=", value: admin}\n'  # line 6: a typo of a custom column
        '    - {field: account.regio, op: "=", value: emea}\n'  # line 7
        "    - {field: account.renewal_date, op: exists}\n"  # optional standard: not a typo
        '    - {field: role, op: "=", value: admin}\n',
        encoding="utf-8",
    )
    result = run("validate", str(tmp_path), "--data", "sample")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {tmp_path / 'by_role.yaml'}:6: rule.all[0].field: unknown field 'rol': "
        "no column 'rol' in the data's visitors; did you mean 'role'?",
        f"Error: {tmp_path / 'by_role.yaml'}:7: rule.all[1].field: unknown field "
        "'account.regio': no column 'regio' in the data's accounts; did you mean 'account.region'?",
    ]
    # Without --data the columns are unknown: the same file is valid (a custom column may exist).
    assert run("validate", str(tmp_path)).exit_code == 0
