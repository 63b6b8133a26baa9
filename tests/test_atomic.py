"""Outputs are all-or-nothing and get ordinary file permissions."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pendo_segments.atomic import (
    MARKER,
    OutputError,
    atomic_dir,
    atomic_open,
    output_folder,
    write_text,
)

ROOT = Path(__file__).resolve().parent.parent


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_new_file_mode_follows_umask_and_existing_mode_is_kept(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
        (tmp_path / "b.txt").write_text("y")
        os.chmod(tmp_path / "b.txt", 0o640)
        write_text(tmp_path / "b.txt", "z")
        assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def test_atomic_dir_replaces_whole_folder_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "report"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        raise ValueError("bad input")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


# -- -o/--output onto special files, symbolic links and bad paths (issue 12 #2) ----------


def test_fifo_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    write_text(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == ["through the pipe\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_null_stays_a_device(tmp_path: Path) -> None:
    before = os.stat("/dev/null")
    write_text("/dev/null", "gone\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert [p.name for p in tmp_path.iterdir()] == []


def test_dev_full_raises_no_space_naming_the_file() -> None:
    with pytest.raises(OSError) as info:
        write_text("/dev/full", "x" * 100_000)
    assert info.value.errno == errno.ENOSPC and info.value.filename == "/dev/full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_symlink_target_is_replaced_and_link_kept(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "out.json"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new" and real.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["out.json"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}", "is a folder"),
        ("/proc/self/status", "refusing to write under /proc"),
        ("{tmp}/missing/out.csv", "folder {tmp}/missing does not exist"),
    ],
)
def test_refused_targets_give_one_line(tmp_path: Path, target: str, message: str) -> None:
    with pytest.raises(OutputError) as info:
        write_text(target.format(tmp=tmp_path), "x")
    assert message.format(tmp=tmp_path) in str(info.value)
    assert "\n" not in str(info.value)


def test_symlink_to_proc_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "sneaky"
    link.symlink_to("/proc/self/status")
    with pytest.raises(OutputError, match="under /proc"):
        write_text(link, "x")


def _cli(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", "from pendo_segments.cli import main; main()", *args],
        capture_output="stdout" not in kwargs,
        text=True,
        check=False,
        cwd=ROOT,
        **kwargs,  # type: ignore[arg-type]
    )


def test_cli_output_to_dev_full_is_one_line_exit_1() -> None:
    result = _cli(["schema", "-o", "/dev/full"])
    assert result.returncode == 1
    assert result.stderr == "Error: /dev/full: No space left on device\n"


def test_cli_stdout_on_full_disk_is_one_line_exit_1() -> None:
    with open("/dev/full", "w") as full:  # noqa: PTH123
        result = _cli(["schema"], stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 1
    assert result.stderr == "Error: cannot write output: No space left on device\n"


def test_cli_broken_pipe_is_quiet() -> None:
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-c",
            "from pendo_segments.cli import main; main()",
            "compile",
            "--target",
            "sql",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err


# -- report folders (issue 12 #1, #16) ----------------------------------------------------


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _build(folder: Path, names: list[str], **kwargs: bool) -> None:
    with output_folder(folder, **kwargs) as tmp:
        for name in names:
            write_text(tmp / name, name, parents=True)


def test_foreign_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as info:
        _build(out, ["index.html"])
    assert "--force" in str(info.value) and "\n" not in str(info.value)
    assert _files(out) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp left behind


def test_force_writes_ours_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    _build(out, ["index.html", "pages/a.html"], force=True)
    assert _files(out) == [MARKER, "index.html", "notes.txt", "pages/a.html"]
    assert (out / "notes.txt").read_text() == "mine"
    # a later run removes only what it wrote before and does not write now
    _build(out, ["index.html"])
    assert _files(out) == [MARKER, "index.html", "notes.txt"]
    assert json.loads((out / MARKER).read_text())["files"] == ["index.html"]


def test_rerun_keeps_a_file_the_user_added_to_our_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(out, ["a.html", "sub/b.html"])
    (out / "sub" / "keep.txt").write_text("user")
    _build(out, ["a.html"])
    assert _files(out) == [MARKER, "a.html", "sub/keep.txt"]


def test_new_folder_is_renamed_into_place_with_umask_modes(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        _build(tmp_path / "out", ["a.html", "sub/b.html"])
    finally:
        os.umask(old)
    out = tmp_path / "out"
    assert out.stat().st_mode & 0o777 == 0o750
    assert (out / "sub").stat().st_mode & 0o777 == 0o750
    assert (out / "a.html").stat().st_mode & 0o777 == 0o640


def test_failure_while_building_leaves_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(out, ["a.html"])
    with pytest.raises(RuntimeError), output_folder(out) as tmp:
        write_text(tmp / "b.html", "x")
        raise RuntimeError("template broke")
    assert _files(out) == [MARKER, "a.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("kind", ["symlink", "dot", "file", "parent"])
def test_bad_out_targets_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file.txt").write_text("f")
    monkeypatch.chdir(tmp_path / "real")
    target = {"symlink": tmp_path / "link", "dot": Path("."), "file": tmp_path / "file.txt"}.get(
        kind, Path("..")
    )
    with pytest.raises(OutputError) as info:
        _build(target, ["a.html"], force=True)
    assert "\n" not in str(info.value)
    assert (tmp_path / "real" / "x.txt").read_text() == "x"
    assert (tmp_path / "link").is_symlink() and (tmp_path / "file.txt").read_text() == "f"


def test_temp_folder_of_a_killed_run_is_swept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],  # noqa: S603
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".out.pendo-tmp-{dead.stdout.strip()}-abc123"
    stale.mkdir()
    (stale / "half.html").write_text("half")
    _build(tmp_path / "out", ["a.html"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_two_writers_into_one_folder_end_consistent(tmp_path: Path) -> None:
    import threading

    out = tmp_path / "out"
    _build(out, ["seed.html"])
    (out / "user.txt").write_text("user")
    errors: list[BaseException] = []

    def writer(names: list[str]) -> None:
        try:
            for _ in range(10):
                _build(out, names)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [
        threading.Thread(target=writer, args=(["a.html", "x/1.html"],)),
        threading.Thread(target=writer, args=(["a.html", "y/2.html"],)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    listed = json.loads((out / MARKER).read_text())["files"]
    assert listed in (["a.html", "x/1.html"], ["a.html", "y/2.html"])
    assert _files(out) == sorted([MARKER, "user.txt", *listed])


def test_cli_output_to_dev_stdout_appends_to_a_redirected_file(tmp_path: Path) -> None:
    """``-o /dev/stdout >> log`` writes through the open descriptor: no truncation,
    and /dev/stdout stays the link it was."""
    log = tmp_path / "log.txt"
    log.write_text("first line\n")
    before = os.readlink("/dev/stdout")
    with open(log, "a") as fh:  # noqa: PTH123
        result = _cli(["schema", "-o", "/dev/stdout"], stdout=fh, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr
    text = log.read_text()
    assert text.startswith("first line\n{") and json.loads(text[len("first line\n") :])
    assert os.readlink("/dev/stdout") == before


def test_a_symlinked_subfolder_is_never_written_through(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _build(out, ["keep.html", "sub/a.html"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "sub" / "a.html").unlink()
    (out / "sub").rmdir()
    (out / "sub").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="sub is not a folder of ours"):
        _build(out, ["keep.html", "sub/a.html"])
    assert list(elsewhere.iterdir()) == []
    assert (out / "keep.html").read_text() == "keep.html"


def test_an_unwritable_output_fails_before_the_work(tmp_path: Path) -> None:
    """A missing folder is found when the options are read, not after hours of evaluation:
    the data folder named here does not exist either, and is never looked at."""
    from click.testing import CliRunner

    from pendo_segments.cli import main

    out = tmp_path / "missing" / "members.csv"
    for cmd in (
        ["evaluate"],
        ["health"],
        ["backtest", "--from", "2026-10-01", "--to", "2026-10-31"],
    ):
        result = CliRunner().invoke(main, [*cmd, "--data", str(tmp_path / "nope"), "-o", str(out)])
        assert result.exit_code == 2, (cmd, result.output)
        assert f"{out}: folder {out.parent} does not exist" in result.stderr, cmd
        assert "nope" not in result.stderr


def test_a_folder_of_another_command_is_refused_even_with_force(tmp_path: Path) -> None:
    """The marker names the command; installing another command's files would remove
    the first one's (issue #24)."""
    target = tmp_path / "out"
    with output_folder(target, command="first") as tmp:
        (tmp / "a.txt").write_text("a")
    assert json.loads((target / MARKER).read_text())["command"] == "first"
    for command in ("second", None):  # None: a caller that names no command
        with (
            pytest.raises(OutputError, match="holds the output of `first`"),
            output_folder(target, command=command, force=True) as tmp,
        ):
            (tmp / "b.txt").write_text("b")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "a.txt"]
    with output_folder(target, command="first") as tmp:
        (tmp / "c.txt").write_text("c")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "c.txt"]


@pytest.mark.parametrize(
    ("out", "says"),
    [("data", "is --data {data} itself"), ("data/r", "is inside --data {data}"), (".", "")],
)
def test_an_output_folder_apart_from_the_inputs(tmp_path: Path, out: str, says: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / out if out != "." else tmp_path / "apart"
    if not says:
        with output_folder(target, inputs={"--data": data}) as tmp:
            (tmp / "x").write_text("x")
        return
    link = tmp_path / "link"
    link.symlink_to(data)  # the same folder under another name is the same input
    for given in (data, link):
        with (
            pytest.raises(OutputError, match=re.escape(says.format(data=given))),
            output_folder(target, inputs={"--data": given}),
        ):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "link"]
