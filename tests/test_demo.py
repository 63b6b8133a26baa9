"""`demo` runs the whole flow on the bundled sample and its report agrees with the parts."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pendo_segments.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "report"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_folder_has_every_part(report: tuple[Path, str]) -> None:
    out, _ = report
    for name in (
        "membership.csv",
        "compiled_pendo.json",
        "compiled_aggregation.json",
        "compiled_sql.json",
        "health.csv",
        "tiers.csv",
        "capacity.csv",
        "alerts.csv",
        "gallery/index.html",
    ):
        assert (out / name).is_file(), name
    assert not list(out.parent.glob(".report.*"))  # the temp folder was renamed into place


def test_membership_matches_evaluate_command(report: tuple[Path, str]) -> None:
    out, _ = report
    direct = CliRunner().invoke(main, ["evaluate", "--data", "sample", "--format", "csv"])
    assert direct.exit_code == 0
    assert (out / "membership.csv").read_text(encoding="utf-8") == direct.stdout


def test_gallery_subjects_are_members_of_each_pages_segment(report: tuple[Path, str]) -> None:
    """Issue 16 #4: the demo gallery shows people who fit the guide (membership.csv says so)."""
    import json

    out, _ = report
    members = {(r["segment"], r["subject_id"]) for r in rows(out / "membership.csv")}
    pages = json.loads((out / "gallery" / "gallery.json").read_text(encoding="utf-8"))
    assert len(pages) == 36
    for page in pages:
        for locale, subject in page["subjects"].items():
            assert subject["member"] is True, (page["page"], locale)
            assert (page["segment"], subject["visitor_id"]) in members, (page["page"], locale)
    index = (out / "gallery" / "index.html").read_text(encoding="utf-8")
    assert "subjects from the data, as of" in index


def test_every_account_has_exactly_one_tier(report: tuple[Path, str]) -> None:
    out, _ = report
    tiers = rows(out / "tiers.csv")
    accounts = rows(Path("pendo_segments/sample_data/accounts.csv"))
    assert sorted(r["account_id"] for r in tiers) == sorted(a["account_id"] for a in accounts)
    assert {r["tier"] for r in tiers} <= {"P1", "P2", "P3", "Neighborhood"}
    assert all(r["reason"] for r in tiers)
    capacity = {r["tier"]: r for r in rows(out / "capacity.csv")}
    assert int(capacity["Total"]["accounts"]) == len(tiers)
    for tier in ("P1", "P2", "P3", "Neighborhood"):
        assert int(capacity[tier]["accounts"]) == sum(r["tier"] == tier for r in tiers)
    # the same CSV text as `tiers --capacity`: true/false, ARR without ".0"
    assert {r["pooled"] for r in capacity.values()} == {"true", "false", ""}
    assert not any(r["arr"].endswith(".0") for r in capacity.values())


def test_summary_mentions_counts_and_gallery(report: tuple[Path, str]) -> None:
    out, text = report
    at_risk = sum(r["segment"] == "at_risk" for r in rows(out / "membership.csv"))
    flat = " ".join(text.split())
    assert f"at_risk │ account │ {at_risk} │" in flat
    assert "Guide gallery:" in flat and "Report folder:" in flat
    on_disk = sum(len([f for f in files if not f.startswith(".")]) for _, _, files in os.walk(out))
    assert on_disk > 50  # report pages and gallery pages, not only the entry points
    assert f"({on_disk} files)" in flat
    # One way to say what sync does with rules (no Pendo API writes rule segments).
    assert "sync uploads every managed segment as a visitor list" in flat


def test_demo_alerts_equal_the_alerts_command(report: tuple[Path, str]) -> None:
    """The demo hands its tiers to the alerts step; the result must match a fresh run."""
    out, _ = report
    direct = CliRunner().invoke(main, ["alerts", "--data", "sample", "--format", "csv"])
    assert direct.exit_code == 0, direct.output
    assert (out / "alerts.csv").read_text(encoding="utf-8") == direct.stdout


def test_rerun_into_its_own_folder_keeps_a_users_file(report: tuple[Path, str]) -> None:
    """Issue 12 #1: the report folder carries a marker; a re-run replaces only its files."""
    out, _ = report
    (out / "my-notes.txt").write_text("keep me", encoding="utf-8")
    before = (out / ".pendo-segments-output").read_text(encoding="utf-8")
    assert "membership.csv" in before and "gallery/index.html" in before
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "my-notes.txt").read_text(encoding="utf-8") == "keep me"
    assert (out / "gallery" / "index.html").is_file()


def test_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work", encoding="utf-8")
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: --out {tmp_path}: folder is not empty")
    assert len(result.output.splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize("kind", ["dot", "symlink", "file"])
def test_bad_out_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    target = {"dot": ".", "symlink": "link", "file": "afile"}[kind]
    result = CliRunner().invoke(main, ["demo", "--out", target])
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error:")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "afile").read_text() == "x"


def test_folder_mode_follows_umask(tmp_path: Path) -> None:
    """Issue 12 #16: the report folder is not private when other outputs are not."""
    import os

    old = os.umask(0o022)
    try:
        _ = CliRunner().invoke(main, ["guides", "preview", "--out", str(tmp_path / "g")])
    finally:
        os.umask(old)
    assert (tmp_path / "g").stat().st_mode & 0o777 == 0o755
