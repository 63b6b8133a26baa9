"""``backtest --save DIR`` and ``report --backtest DIR``.

The report built from a saved backtest must be byte for byte the report built
from the raw usage: the usage path indexes the raw rows of the book (the data
set cut down to its accounts), the saved path selects columns of per-account
sums taken over the whole data. So every book filter is checked both ways,
and a saved folder that does not fit the accounts or the settings is refused.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from pendo_segments.cli import main
from pendo_segments.data import bundled_sample_path
from pendo_segments.shipped import shipped_path

SAMPLE = bundled_sample_path()
DEFS = shipped_path("segment_defs")
# the report's 13 weekly as-of days on the sample start where 30-day windows fit the data
DAYS = ["--from", "2026-09-06", "--to", "2026-11-01"]


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _fails(*args: str) -> str:
    """The one error line of a refused run (usage hints and warnings aside)."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bt") / "saved"
    _run("backtest", DEFS, "--data", "sample", *DAYS, "--save", folder)
    return folder


def _same_tree(a: Path, b: Path) -> None:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    differ = [str(f) for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]
    assert differ == []


@pytest.mark.parametrize(
    "book",
    [
        [],
        ["--csm", "Emma Schmidt"],
        ["--segment", "enterprise"],  # an account segment
        ["--segment", "new_users"],  # a visitor segment: the accounts of its members
        ["--csm", "Emma Schmidt", "--segment", "at_risk", "--locale", "ja"],
    ],
    ids=["whole", "csm", "account-segment", "visitor-segment", "csm-segment-ja"],
)
def test_report_from_a_saved_backtest_equals_the_report_from_the_usage(
    saved: Path, tmp_path: Path, book: list[str]
) -> None:
    _run("report", DEFS, "--data", "sample", "--out", tmp_path / "usage", *book)
    _run(
        "report", DEFS, "--data", "sample", "--backtest", saved, "--out", tmp_path / "saved", *book
    )
    _same_tree(tmp_path / "usage", tmp_path / "saved")
    assert any((tmp_path / "saved" / "accounts").iterdir()) or book  # pages were compared


def test_the_saved_report_reads_no_usage_file(saved: Path, tmp_path: Path) -> None:
    """Only accounts (and outcomes) are read: a folder without the usage files works."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("accounts.csv", "outcomes.csv"):
        shutil.copy(SAMPLE / name, data / name)
    _run("report", DEFS, "--data", data, "--backtest", saved, "--out", tmp_path / "a")
    _run("report", DEFS, "--data", "sample", "--backtest", saved, "--out", tmp_path / "b")
    index = (tmp_path / "a" / "index.html").read_text(encoding="utf-8")
    assert index == (tmp_path / "b" / "index.html").read_text(encoding="utf-8").replace(
        "sample", str(data)
    )


# -- refusals ----------------------------------------------------------------------------------
def _copy(saved: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(saved, out)
    return out


#: (file, old text, new text): the same ids, one field changed
EDITS = {
    # the last account's renewal moves from next August to next month
    "accounts.csv": (
        "2022-08-19,2027-08-19,Digital CS Team",
        "2022-08-19,2026-11-19,Digital CS Team",
    ),
    "visitors.csv": ("Thomas Thomas,en,2026-05-15", "Thomas Thomas,ja,2026-05-15"),
}


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("accounts.csv", None),
        ("visitors.csv", None),
        ("accounts_history.csv", "account_id,valid_from,arr\nacc-00250,2026-01-01,12000\n"),
        ("outcomes.csv", "account_id,churned\n"),
    ],
)
def test_changed_data_is_refused(saved: Path, tmp_path: Path, file: str, text: str | None) -> None:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    if text is None:
        old, new = EDITS[file]
        before = (data / file).read_text(encoding="utf-8")
        assert before.count(old) == 1
        text = before.replace(old, new)
    (data / file).write_text(text, encoding="utf-8")
    line = _fails("report", DEFS, "--data", data, "--backtest", saved, "--out", tmp_path / "r")
    assert line == (
        f"Error: --backtest {saved}: {file} changed since it was saved; run backtest --save again"
    )


def test_other_accounts_are_refused(saved: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    lines = (data / "accounts.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (data / "accounts.csv").write_text("".join(lines[:-1]), encoding="utf-8")
    out = tmp_path / "r"
    line = _fails("report", DEFS, "--data", data, "--backtest", saved, "--out", out)
    assert line == (
        f"Error: --backtest {saved}: saved for other accounts (250 accounts) than {data} "
        "(249); run backtest --save again"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("file", "change", "named"),
    [
        ("health.yaml", lambda t: t + "\n# a comment changes the file\n", "health.yaml"),
        ("alerts.yaml", lambda t: t.replace("value: 25}", "value: 26}", 1), "alerts.yaml"),
        ("smb.yaml", lambda t: t.replace("15000", "16000"), "segment definitions"),
    ],
)
def test_changed_settings_are_refused(
    saved: Path, tmp_path: Path, file: str, change: object, named: str
) -> None:
    defs = tmp_path / "defs"
    shutil.copytree(DEFS, defs)
    text = (defs / file).read_text(encoding="utf-8")
    changed = change(text)  # type: ignore[operator]
    assert changed != text
    (defs / file).write_text(changed, encoding="utf-8")
    line = _fails("report", defs, "--data", "sample", "--backtest", saved, "--out", tmp_path / "r")
    assert line == (
        f"Error: --backtest {saved}: {named} changed since it was saved; run backtest --save again"
    )


def test_comments_in_segment_files_do_not_matter(saved: Path, tmp_path: Path) -> None:
    defs = tmp_path / "defs"
    shutil.copytree(DEFS, defs)
    with (defs / "smb.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\n# reviewed by CS ops\n")
    _run("report", defs, "--data", "sample", "--backtest", saved, "--out", tmp_path / "r")


def test_a_changed_or_cut_arrays_file_is_refused(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    data = (folder / "arrays.npz").read_bytes()
    (folder / "arrays.npz").write_bytes(data[: len(data) // 2])
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert line == (
        f"Error: --backtest {folder}: arrays.npz does not match backtest.json "
        "(changed or cut short)"
    )


def _resign(folder: Path, change: Callable[[dict[str, Any]], object] = lambda m: None) -> None:
    """Apply ``change`` to backtest.json and sign the folder again, as a hostile or buggy
    writer could: ``arrays_sha256`` of arrays.npz, then ``sha256`` of the manifest
    without that field as sorted compact JSON."""
    manifest = json.loads((folder / "backtest.json").read_text(encoding="utf-8"))
    change(manifest)
    manifest.pop("sha256", None)
    manifest["arrays_sha256"] = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    manifest["sha256"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
    (folder / "backtest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _rewrite(folder: Path, **arrays: np.ndarray) -> None:
    """Replace arrays and re-sign the folder, as a hostile or buggy writer could."""
    current = _arrays(folder) | arrays
    with open(folder / "arrays.npz", "wb") as fh:
        np.savez(fh, **current)  # type: ignore[arg-type]
    _resign(folder)


def test_a_pickled_array_is_never_loaded(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    _rewrite(folder, scores=np.full((9, 250), {"x": 1}, dtype=object))
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert line == f"Error: --backtest {folder}: 'scores' is object, expected floats"


def test_an_array_of_the_wrong_shape_is_refused(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    _rewrite(folder, scores=np.zeros((3, 3)))
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert line == f"Error: --backtest {folder}: 'scores' is float64[3, 3], expected (9, 250)"


def test_rows_pointing_past_the_accounts_are_refused(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    with np.load(folder / "arrays.npz") as npz:
        bins = npz["usage_nps_bin"].copy()
    bins[0] = 10_000
    _rewrite(folder, usage_nps_bin=bins)
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert line == f"Error: --backtest {folder}: 'usage_nps_bin' points past the accounts"


# -- a saved folder is untrusted input: every failure is one line (issue #24) -----------------
def _report_fails(folder: Path, tmp_path: Path) -> str:
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert not (tmp_path / "r").exists()
    return line


def test_an_edited_manifest_is_refused(saved: Path, tmp_path: Path) -> None:
    """backtest.json is signed with the arrays: an edit that is not re-signed is refused
    before any field is used."""
    folder = _copy(saved, tmp_path)
    manifest = json.loads((folder / "backtest.json").read_text(encoding="utf-8"))
    manifest["skipped"] = []
    (folder / "backtest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    assert _report_fails(folder, tmp_path) == (
        f"Error: --backtest {folder}: backtest.json was changed after backtest --save wrote it; "
        "run backtest --save again"
    )


def _rename_first_alert(m: dict[str, Any]) -> None:
    first = m["alerts"][0]
    m["alerts"][0] = "alert:nope"
    m["flags"][m["flags"].index(first)] = "alert:nope"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m.update(days=m["days"][::-1]), "backtest.json: days must increase, and "),
        (
            lambda m: m["days"].__setitem__(1, m["days"][0]),
            "backtest.json: days must increase, and 2026-09-06 follows 2026-09-06",
        ),
        (lambda m: m.update(days=[]), "backtest.json: days: "),
        (
            lambda m: m["days"].__setitem__(0, "2026-02-30"),
            "backtest.json: days.0: Input should be a valid date (found '2026-02-30')",
        ),
        (
            lambda m: m["days"].__setitem__(8, "9999-12-31"),
            "backtest.json: days: 9999-12-31 is outside 1900-01-01 to 9000-12-31",
        ),
        (_rename_first_alert, "backtest.json: alerts: 'alert:nope' is not an alert of alerts.yaml"),
        (lambda m: m.update(accounts=250.0), "backtest.json: accounts: "),
        (lambda m: m.update(settings_sha256=[]), "backtest.json: settings_sha256: "),
        (lambda m: m["health"]["signals"].pop(), "backtest.json: health.signals: should be "),
        (lambda m: m["segments"].pop(), "backtest.json: segments: not the segments of the"),
        (lambda m: m["usage"].update(weeks=10**30), "backtest.json: usage.weeks: "),
        (lambda m: m.update(extra=1), "backtest.json: extra: "),
    ],
    ids=[
        "reversed-days",
        "duplicated-day",
        "no-days",
        "not-a-day",
        "day-past-the-calendar",
        "unknown-alert",
        "accounts-not-an-integer",
        "settings-not-a-mapping",
        "signal-missing",
        "segment-missing",
        "huge-weeks",
        "unknown-field",
    ],
)
def test_a_resigned_manifest_is_checked_field_by_field(
    saved: Path, tmp_path: Path, change: Callable[[dict[str, Any]], object], says: str
) -> None:
    folder = _copy(saved, tmp_path)
    _resign(folder, change)
    assert _report_fails(folder, tmp_path).startswith(f"Error: --backtest {folder}: {says}")


def _replace_members(folder: Path, members: dict[str, tuple[bytes, int]]) -> None:
    """Rebuild arrays.npz with ``members`` (name → (bytes, zip compression)) replaced or
    added, then re-sign the folder."""
    with zipfile.ZipFile(folder / "arrays.npz") as z:
        kept = {n: (z.read(n), zipfile.ZIP_STORED) for n in z.namelist()}
    kept |= members
    with zipfile.ZipFile(folder / "arrays.npz", "w") as z:
        for name, (data, compression) in kept.items():
            z.writestr(name, data, compress_type=compression)
    _resign(folder)


def _npy(shape: tuple[int, ...], dtype: str, data: bytes) -> bytes:
    import io

    out = io.BytesIO()
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + data


def test_a_header_claiming_ten_trillion_values_is_refused_unread(
    saved: Path, tmp_path: Path
) -> None:
    folder = _copy(saved, tmp_path)
    _replace_members(folder, {"scores.npy": (_npy((10**13,), "<f8", bytes(8)), 0)})
    assert _report_fails(folder, tmp_path) == (
        f"Error: --backtest {folder}: 'scores' is float64[10000000000000], expected (9, 250)"
    )


def test_an_extra_member_is_refused_unread(saved: Path, tmp_path: Path) -> None:
    """A member the manifest does not imply (here 256 MiB of zeros in 250 KiB) is never
    decompressed: the folder is refused by the member's name."""
    folder = _copy(saved, tmp_path)
    zeros = _npy((2**28,), "u1", bytes(2**28))
    _replace_members(folder, {"junk.npy": (zeros, zipfile.ZIP_DEFLATED)})
    assert (folder / "arrays.npz").stat().st_size < (saved / "arrays.npz").stat().st_size + 2**20
    assert _report_fails(folder, tmp_path) == (
        f"Error: --backtest {folder}: arrays.npz holds 'junk.npy', which backtest --save "
        "does not write"
    )


def test_a_compressed_or_short_member_is_refused(saved: Path, tmp_path: Path) -> None:
    """Members are stored as they are, so the file's size bounds what is read."""
    folder = _copy(saved, tmp_path)
    with zipfile.ZipFile(saved / "arrays.npz") as z:
        scores = z.read("scores.npy")
    _replace_members(folder, {"scores.npy": (scores, zipfile.ZIP_DEFLATED)})
    assert _report_fails(folder, tmp_path) == (
        f"Error: --backtest {folder}: 'scores' is compressed in arrays.npz "
        "(backtest --save stores arrays as they are)"
    )
    _replace_members(folder, {"scores.npy": (scores[:-8], zipfile.ZIP_STORED)})
    line = _report_fails(folder, tmp_path)
    assert line.startswith(f"Error: --backtest {folder}: 'scores' holds ")
    assert line.endswith(" bytes, not (9, 250)")


def _changed(name: str, edit: Callable[[np.ndarray], object]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        value = _arrays(folder)[name].copy()
        edit(value)
        _rewrite(folder, **{name: value})

    return change


def _last_scores_changed(folder: Path) -> None:
    health = _arrays(folder)["health_score"].copy()
    health[0] = 50.0 if health[0] != 50.0 else 51.0
    _rewrite(folder, health_score=health)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_changed("members_0", lambda v: v.__setitem__((0, 0), -5)), "'members_0' has negative"),
        (_changed("usage_visitors", lambda v: v.__setitem__(0, -1)), "'usage_visitors' has neg"),
        (
            _changed("scores", lambda v: v.__setitem__((0, 0), 1e300)),
            "'scores' has values outside 0 to 100",
        ),
        (
            _changed("component_0", lambda v: v.__setitem__(0, -3.0)),
            "'component_0' has values outside 0 to 100",
        ),
        (_last_scores_changed, "'health_score' is not the last day of 'scores'"),
        (_changed("signal_8", lambda v: v.__setitem__(0, 1e12)), "'signal_8' (days_since_last"),
        (_changed("usage_nps_score", lambda v: v.__setitem__(0, 11)), "'usage_nps_score' has "),
        (
            _changed("usage_weekly_minutes", lambda v: v.__setitem__((0, 0), -1.0)),
            "'usage_weekly_minutes' has negative minutes",
        ),
        (
            _changed("usage_nps_day", lambda v: v.__setitem__(0, 10**12)),
            "'usage_nps_day' has days outside the calendar",
        ),
    ],
    ids=[
        "negative-members",
        "negative-visitors",
        "score-1e300",
        "negative-component",
        "health-not-last-day",
        "login-days-past-the-calendar",
        "nps-score-11",
        "negative-minutes",
        "nps-day-past-the-calendar",
    ],
)
def test_values_no_backtest_writes_are_refused(
    saved: Path, tmp_path: Path, change: Callable[[Path], None], says: str
) -> None:
    folder = _copy(saved, tmp_path)
    change(folder)
    assert _report_fails(folder, tmp_path).startswith(f"Error: --backtest {folder}: {says}")


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda f: None, "folder not found"),
        (lambda f: f.mkdir(), "no backtest.json: not a folder written by backtest --save"),
        (
            lambda f: (f.mkdir(), (f / "backtest.json").write_text("{", encoding="utf-8")),
            "backtest.json is not valid JSON (",
        ),
        (
            lambda f: (f.mkdir(), (f / "backtest.json").write_text('{"format": "x"}')),
            "format 'x', this version reads 'pendo-segments backtest 4'; run backtest --save again",
        ),
    ],
    ids=["missing", "empty", "bad-json", "other-format"],
)
def test_not_a_saved_backtest(tmp_path: Path, make: object, says: str) -> None:
    folder = tmp_path / "bt"
    make(folder)  # type: ignore[operator]
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert line.startswith(f"Error: --backtest {folder}: {says}")


def test_as_of_and_weeks_come_from_the_saved_backtest(saved: Path, tmp_path: Path) -> None:
    base = ["report", DEFS, "--data", "sample", "--backtest", saved, "--out", tmp_path / "r"]
    assert _fails(*base, "--as-of", "2026-10-01") == (
        "Error: --as-of 2026-10-01: the saved backtest ends on 2026-11-01 "
        "(its last day is the report's as-of day)"
    )
    assert "--weeks" in _fails(*base, "--weeks", "4")
    _run(*base, "--as-of", "2026-11-01")  # the same day is fine


def test_save_keeps_every_segment_and_checks_its_folder_first(tmp_path: Path) -> None:
    line = _fails(
        "backtest", DEFS, "--data", "sample", *DAYS, "-s", "smb", "--save", tmp_path / "b"
    )
    assert "--save keeps every segment" in line
    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("keep me", encoding="utf-8")
    line = _fails("backtest", DEFS, "--data", "sample", *DAYS, "--save", users)
    assert line.startswith(f"Error: --save {users}:")
    assert [p.name for p in users.iterdir()] == ["notes.txt"]


def test_the_saved_folder_is_plain_json_and_numpy(saved: Path) -> None:
    manifest = json.loads((saved / "backtest.json").read_text(encoding="utf-8"))
    assert manifest["days"][0] == "2026-09-06" and manifest["days"][-1] == "2026-11-01"
    assert len(manifest["days"]) == 9 and manifest["accounts"] == 250
    with zipfile.ZipFile(saved / "arrays.npz") as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    with np.load(saved / "arrays.npz", allow_pickle=False) as npz:
        assert npz["scores"].shape == (9, 250)
