"""`compile` on the command line: formats, the target registry, [pendo] settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.compile import Generator, targets


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_registry_lists_every_target_with_extension_and_notes() -> None:
    found = targets()
    assert list(found) == ["pendo", "aggregation", "sql"]
    assert {t: cls.extension for t, cls in found.items()} == {
        "pendo": ".json",
        "aggregation": ".json",
        "sql": ".sql",
    }
    assert all(cls.notes for cls in found.values())


def test_a_new_generator_class_is_a_new_target() -> None:
    from pendo_segments.compile import base

    class Echo(Generator):
        target = "echo_test"
        extension = ".txt"
        notes = "the rule kinds"

    try:
        assert targets()["echo_test"] is Echo
    finally:
        del base._REGISTRY["echo_test"]
    assert "echo_test" not in targets()


def test_piped_output_is_json_as_the_help_says() -> None:
    result = run("compile", "segment_defs", "-s", "at_risk")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["output"]["recipe"][0]["field"] == "Number of days active"
    assert "json when piped" in " ".join(run("compile", "--help").stdout.split())


def test_text_format_prints_recipes_and_why_not() -> None:
    result = run("compile", "-s", "smb", "-s", "expansion_ready", "--format", "text")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "smb: SMB accounts (account segment, builder recipe)"
    assert lines[2].split()[:3] == ["1", "Account", "arr"]
    assert (
        "expansion_ready: Expansion-ready accounts (account segment, synced as a visitor list)"
        in lines
    )
    assert any(line.startswith("  - rule.all[1]: not: ") for line in lines)
    assert "1 of 2 segments have no Pendo builder recipe: expansion_ready" in result.stderr
    assert "sync uploads every managed segment as a visitor list" in result.stderr


def test_markdown_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "recipes.md"
    result = run("compile", "-s", "no_login_30d", "--format", "markdown", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Pendo segment builder recipes\n")
    assert "## no_login_30d: No login in 30 days" in text
    assert "| 1 |  | Visitor | Last visit | is more than | 30 days ago |  |" in text


def test_table_format_is_plain_when_written_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "t.txt"
    assert run("compile", "-s", "at_risk", "-f", "table", "-o", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "Number of days active" in text and "\x1b[" not in text


def test_out_dir_uses_each_target_extension(tmp_path: Path) -> None:
    result = run("compile", "-t", "sql", "-s", "smb", "--out-dir", str(tmp_path / "q"), "-f", "csv")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "q").iterdir()] == ["smb.sql"]
    assert result.stdout.splitlines() == [
        "segment,subject,target,native,reason",
        "smb,account,sql,true,",
    ]


def first_source(stdout: str) -> dict:
    pipeline = json.loads(stdout)[0]["output"]["request"]["pipeline"]
    return next(s["merge"]["pipeline"][0]["source"] for s in pipeline if "merge" in s)


def test_aggregation_reads_timezone_and_app_ids_from_config(tmp_path: Path) -> None:
    config = tmp_path / "pendo-segments.toml"
    config.write_text('[pendo]\napp_ids = ["5", "6"]\ntimezone = "Asia/Tokyo"\n', encoding="utf-8")
    args = ("compile", "-t", "aggregation", "-s", "at_risk", "--as-of", "2026-11-01", "-f", "json")
    result = run(*args, env={"PENDO_SEGMENTS_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    source = first_source(result.stdout)
    assert source["events"] == {"appId": ["5", "6"]}
    # 2026-10-02 00:00 in Tokyo = 2026-10-01 15:00 UTC = 20727 days + 15 h
    assert source["timeSeries"]["first"] == 20727 * 86_400_000 + 15 * 3_600_000
    result = run(
        *args, "--timezone", "UTC", "--app-id", "*", env={"PENDO_SEGMENTS_CONFIG": str(config)}
    )
    source = first_source(result.stdout)
    assert source["events"] == {"appId": 'expandAppIds("*")'}
    assert source["timeSeries"]["first"] == 20728 * 86_400_000


@pytest.mark.parametrize("target", ["pendo", "sql"])
def test_targets_without_pendo_settings_ignore_a_broken_config(tmp_path: Path, target: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[pendo\n", encoding="utf-8")
    result = run(
        "compile",
        "-t",
        target,
        "-s",
        "smb",
        "-f",
        "json",
        env={"PENDO_SEGMENTS_CONFIG": str(config)},
    )
    assert result.exit_code == 0, result.output


def test_unknown_time_zone_is_one_line() -> None:
    result = run("compile", "-t", "aggregation", "-s", "smb", "--timezone", "Mars/Base")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: unknown time zone 'Mars/Base' (use an IANA name such as 'America/New_York')"
    ]


def test_out_dir_alone_writes_the_files_and_prints_no_queries(tmp_path: Path) -> None:
    result = run("compile", "-t", "sql", "-s", "smb", "-s", "at_risk", "--out-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["at_risk.sql", "smb.sql"]
    assert result.stdout == ""
    assert f"Wrote 2 files to {tmp_path}" in result.stderr


def test_a_misspelt_dialect_is_a_usage_error_with_the_closest_name() -> None:
    result = run("compile", "-t", "sql", "--dialect", "snowflak")
    assert result.exit_code == 2
    assert "unknown SQL dialect 'snowflak' (did you mean 'snowflake'?)" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["compile", "-t", "sql", "-f", "csv"], ["validate"]])
def test_outside_a_checkout_the_shipped_definitions_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """One rule for every command: ./segment_defs, else the shipped definitions."""
    monkeypatch.chdir(tmp_path)  # no segment_defs/ here
    result = run(*args)
    assert result.exit_code == 0, result.output
    shipped = Path(__file__).parents[1] / "segment_defs"
    names = {line.split(",")[0] for line in result.stdout.splitlines()[1:]}
    assert "at_risk" in names and "smb" in names and "healthy" in names
    assert len(list(shipped.glob("*.yaml"))) > 10  # the files the names came from


def test_explain_and_sync_find_definitions_by_the_same_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("explain", "smb", "acc-00001", "--data", "sample", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segment"] == "smb"
