"""``backtest --save DIR`` and ``report --backtest DIR``.

The report built from a saved backtest must be byte for byte the report built
from the raw usage: the usage path indexes the raw rows of the book (the data
set cut down to its accounts), the saved path selects columns of per-account
sums taken over the whole data. So every book filter is checked both ways,
and a saved folder that does not fit the accounts or the settings is refused.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import zipfile
from pathlib import Path

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


def _rewrite(folder: Path, **arrays: np.ndarray) -> None:
    """Replace arrays and re-sign the file, as a hostile or buggy writer could."""
    import hashlib

    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        current = {k: npz[k] for k in npz.files}
    current.update(arrays)
    with open(folder / "arrays.npz", "wb") as fh:
        np.savez(fh, **current)  # type: ignore[arg-type]
    manifest = json.loads((folder / "backtest.json").read_text(encoding="utf-8"))
    manifest["arrays_sha256"] = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    (folder / "backtest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_a_pickled_array_is_never_loaded(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    _rewrite(folder, scores=np.array([{"x": 1}], dtype=object))
    line = _fails("report", DEFS, "--data", "sample", "--backtest", folder, "--out", tmp_path / "r")
    assert line.startswith(f"Error: --backtest {folder}: arrays.npz cannot be read (")


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
            "format 'x', this version reads 'pendo-segments backtest 1'",
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
