"""Write files so that readers never see half of one, and never clobber what is not ours.

Every output goes to a temporary file in the destination folder and is
renamed over the target only once it is complete (``os.replace`` is atomic
on POSIX and Windows when both paths are on one filesystem).

Two kinds of target are handled with care:

* ``-o/--output FILE`` (:func:`atomic_open`): a special file (``/dev/null``,
  ``/dev/stdout``, a FIFO, a terminal) is written directly, never replaced; a
  symbolic link is followed and its *target* is replaced; a folder, a path
  under ``/proc`` or a missing parent folder is refused with one line.
* ``--out DIR`` report folders (:func:`output_folder`): a folder the tool
  wrote carries a marker file listing what it wrote and which command wrote
  it. A non-empty folder without the marker is refused unless ``force``;
  even then only the files the tool writes (or listed in its marker) are
  replaced or removed. A folder another command wrote (a saved backtest
  under ``report --out``) is refused even with ``force``: replacing it would
  delete that command's files, and ``--force`` only means "write beside a
  user's files". A folder that is, holds or sits inside one of the
  command's inputs is refused too.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from pendo_segments.errors import PendoSegmentsError

#: Marker file in every folder written by :func:`output_folder` (JSON: the command that
#: wrote it and the files written).
MARKER = ".pendo-segments-output"
#: What a marker without a ``command`` (written before markers named one) holds, told by
#: a file only that command writes.
_COMMAND_OF_FILES = (
    ("backtest --save", {"backtest.json"}),
    ("report", {"index.html", "accounts.csv"}),
)
_TMP_TAG = "pendo-tmp"
#: Paths under /dev and /proc that stand for this process's own streams.
_STREAM_PREFIXES = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")


class OutputError(PendoSegmentsError):
    """An output path cannot be written safely (folder, /proc, missing parent, foreign folder)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- single files -----------------------------------------------------------------------


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    encoding: str | None = "utf-8",
    newline: str | None = None,
    *,
    parents: bool = False,
) -> Iterator[IO]:
    """Open a temp file beside ``path``; rename it over ``path`` on success only.

    ``parents`` creates missing parent folders (for files inside a folder the
    caller builds); otherwise a missing parent is an :class:`OutputError`.
    """
    target = Path(path)
    binary = "b" in mode
    encoding, newline = (None, None) if binary else (encoding, newline)
    if _is_direct(target):
        try:
            with _open_direct(target, mode, encoding, newline) as fh:
                yield fh
        except OSError as err:  # name the file: a failed flush does not (ENOSPC on /dev/full)
            if err.filename is None:
                raise OSError(err.errno, err.strerror, str(target)) from None
            raise
        return
    real = _real_target(target)
    if parents:
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"{target}: cannot create its folder: {_reason(err)}") from None
    else:
        _need_folder(target, real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    except OSError as err:
        raise OutputError(f"{target}: cannot write: {_reason(err)}") from None
    # mkstemp creates 0600; give the file the mode a plain open() would (or the old file's).
    os.chmod(tmp, _mode_for(real))
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_target(path: str | Path) -> None:
    """Fail before hours of work, not after: :func:`atomic_write` would refuse ``path``.

    A missing folder (or a link to a folder) is an :class:`OutputError` now,
    where the write would only find out once the results are ready.
    """
    target = Path(path)
    if not _is_direct(target):
        _need_folder(target, _real_target(target))


def _need_folder(target: Path, real: Path) -> None:
    if not real.parent.is_dir():
        raise OutputError(f"{target}: folder {real.parent} does not exist")


def _is_direct(target: Path) -> bool:
    """True for targets written in place: devices, FIFOs, sockets, this process's streams.

    Refuses folders and the rest of ``/proc`` (replacing either would be wrong).
    """
    shown = os.path.abspath(target)
    if shown.startswith(_STREAM_PREFIXES) and os.path.exists(shown):
        return True
    real = os.path.realpath(target)
    for candidate in (shown, real):
        if candidate == "/proc" or candidate.startswith("/proc/"):
            raise OutputError(f"{target}: refusing to write under /proc")
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return False
    except OSError as err:
        raise OutputError(f"{target}: cannot write: {_reason(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{target}: is a folder; give a file name")
    return not stat.S_ISREG(info.st_mode) or shown.startswith("/dev/")


def _open_direct(target: Path, mode: str, encoding: str | None, newline: str | None) -> IO:
    """Open a device in place; this process's own streams (``/dev/stdout``, ``/dev/fd/N``)
    through a copy of the open descriptor, so ``>> log`` keeps appending (no truncation)."""
    fd = _stream_fd(os.path.abspath(target))
    if fd is None:
        return open(target, mode, encoding=encoding, newline=newline)  # noqa: PTH123, SIM115
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            if stream.fileno() == fd:
                stream.flush()  # what was printed before comes first
    return os.fdopen(os.dup(fd), mode, encoding=encoding, newline=newline)


def _stream_fd(path: str) -> int | None:
    named = {"/dev/stdout": 1, "/dev/stderr": 2}
    if path in named:
        return named[path]
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if path.startswith(prefix) and path[len(prefix) :].isdigit():
            return int(path[len(prefix) :])
    return None


def _real_target(target: Path) -> Path:
    """The file to replace: a symbolic link's final target, else ``target`` itself."""
    if not target.is_symlink():
        return target
    real = Path(os.path.realpath(target))
    if real.is_dir():
        raise OutputError(f"{target}: links to a folder ({real}); give a file name")
    return real


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def write_text(path: str | os.PathLike[str], text: str, *, parents: bool = False) -> None:
    with atomic_open(path, "w", parents=parents) as fh:
        fh.write(text)


# -- whole folders ----------------------------------------------------------------------


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a whole folder in a sibling temp folder, then swap it into place.

    Replaces everything in ``path``: only for callers that checked the folder
    holds nothing but their own files. Report folders use :func:`output_folder`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def output_folder(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    option: str = "--out",
    command: str | None = None,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
) -> Iterator[Path]:
    """Build a report folder in a temp folder, then install it into ``path``.

    * ``path`` missing or empty: the temp folder is renamed into place (atomic).
    * ``path`` written by ``command`` before (marker present): new files replace
      old ones one by one, files we wrote last time and not now are removed;
      anything else in the folder (a user's file) is left alone.
    * ``path`` written by another command (its marker says so):
      :class:`OutputError`, even with ``force``.
    * ``path`` non-empty without the marker: :class:`OutputError` unless ``force``;
      with ``force`` our files are written into it and nothing else is touched.

    ``command`` names the command in the marker (``"report"``); ``inputs`` maps
    an option to a file or folder the command reads: ``path`` may not be one,
    hold one or sit inside one. Two runs into one folder are serialised by a
    ``flock`` on the folder. The folder and its files follow the umask like
    every other output.
    """
    target = Path(path)
    check_output_folder(target, force=force, option=option, command=command, inputs=inputs)
    parent = target.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _sweep_dead_temps(parent, target.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_TMP_TAG}-{os.getpid()}-", dir=parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs follow the umask
    except OSError as err:
        raise OutputError(f"{option} {target}: cannot write: {_reason(err)}") from None
    try:
        yield tmp
        written = sorted(
            p.relative_to(tmp).as_posix()
            for p in tmp.rglob("*")
            if not p.is_dir() and p.relative_to(tmp).as_posix() != MARKER
        )
        _install(tmp, target, written, force, option, command)
    except OSError as err:
        raise OutputError(f"{option} {target}: cannot write: {_reason(err)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_output_folder(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    option: str = "--out",
    command: str | None = None,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
) -> None:
    """Raise :class:`OutputError` now if :func:`output_folder` would refuse ``path``
    (call it before long work)."""
    target = Path(path)
    _check_folder_target(target, option)
    _refuse_inputs(target, option, inputs or {})
    if target.is_dir():
        _refuse_foreign(target, force, option, command)


def _refuse_inputs(target: Path, option: str, inputs: Mapping[str, str | os.PathLike[str]]) -> None:
    """``target`` may not be an input, hold one (the saved backtest's parent folder) or sit
    inside one (a report in the data folder, or in the saved backtest it reads)."""
    out = _resolved(target)
    for name, given in inputs.items():
        source = _resolved(Path(given))
        if out == source:
            where = f"is {name} {given} itself"
        elif source in out.parents:
            where = f"is inside {name} {given}"
        elif out in source.parents:
            where = f"holds {name} {given}"
        else:
            continue
        raise OutputError(
            f"{option} {target}: {where}; write to a folder apart from the command's inputs"
        )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop of links: compare the path as given
        return path.absolute()


def _check_folder_target(target: Path, option: str) -> None:
    if target.name in ("", ".", "..") or _holds_cwd(target):
        raise OutputError(
            f"{option} {target}: give a folder of its own (not the current folder or a parent)"
        )
    if target.is_symlink():
        raise OutputError(
            f"{option} {target}: is a symbolic link; give the folder it points to instead"
        )
    real = os.path.realpath(target)
    if real in ("/proc", "/sys") or real.startswith(("/proc/", "/sys/")):
        raise OutputError(f"{option} {target}: refusing to write under {real.split('/')[1]!r}")
    parent = target.absolute().parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{option} {target}: {parent} is not a folder")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{option} {target}: exists and is not a folder")


def _holds_cwd(target: Path) -> bool:
    try:
        here = Path.cwd().resolve()
        there = target.resolve()
    except OSError:
        return False
    return here == there or there in here.parents


def _marker(folder: Path) -> dict[str, object] | None:
    """``folder``'s marker as JSON; None when there is no readable marker."""
    try:
        data = json.loads((folder / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_marker(folder: Path) -> set[str] | None:
    """Files listed in ``folder``'s marker; None when there is no (readable) marker."""
    files = (_marker(folder) or {}).get("files")
    if not isinstance(files, list):
        return None
    return {f for f in files if isinstance(f, str) and _safe_relative(f)}


def folder_command(folder: str | os.PathLike[str]) -> str | None:
    """The command that wrote ``folder`` (its marker's ``command``; for a marker written
    before markers named it, the command whose files it lists); None when unknown."""
    data = _marker(Path(folder)) or {}
    command = data.get("command")
    if isinstance(command, str):
        return command
    files = _read_marker(Path(folder)) or set()
    return next((name for name, needs in _COMMAND_OF_FILES if needs <= files), None)


def _safe_relative(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and name != MARKER


def _refuse_foreign(target: Path, force: bool, option: str, command: str | None) -> None:
    if (target / MARKER).is_file():
        theirs = folder_command(target)
        if theirs != command:  # force or not: installing would remove their files
            what = f"`{theirs}`" if theirs else "another pendo-segments command"
            raise OutputError(
                f"{option} {target}: holds the output of {what}, not of "
                f"`{command or 'this command'}`; choose another folder (--force does not "
                "mix the outputs of two commands)"
            )
        return
    if force or not any(target.iterdir()):
        return
    raise OutputError(
        f"{option} {target}: folder is not empty and was not written by pendo-segments; "
        "choose a new or empty folder, or add --force (only the files pendo-segments "
        "writes are replaced)"
    )


def _write_marker(folder: Path, files: set[str] | list[str], command: str | None) -> None:
    body: dict[str, object] = {"written_by": "pendo-segments"}
    if command is not None:
        body["command"] = command
    body["files"] = sorted(files)
    write_text(folder / MARKER, json.dumps(body, indent=1) + "\n")


def _install(
    tmp: Path, target: Path, written: list[str], force: bool, option: str, command: str | None
) -> None:
    _write_marker(tmp, written, command)
    if not target.exists():
        try:
            os.rename(tmp, target)  # also succeeds over an empty folder created meanwhile
            return
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    with _folder_lock(target):
        _refuse_foreign(target, force, option, command)  # again: it may have changed
        previous = _read_marker(target) or set()
        destinations = [_inside(target, name, option) for name in written]  # check all first
        for name, dest in zip(written, destinations, strict=True):
            if dest.is_dir() and not dest.is_symlink():
                raise OutputError(f"{option} {target}: {name} is a folder; remove it first")
        # Widen the marker first: a crash below leaves every file of ours listed.
        _write_marker(target, previous | set(written), command)
        for name, dest in zip(written, destinations, strict=True):
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, dest)
        for name in sorted(previous - set(written)):
            _remove_ours(target, name)
        _write_marker(target, written, command)


def _inside(target: Path, name: str, option: str) -> Path:
    """``target/name``, refusing a path that leaves the folder through a symbolic link."""
    dest = target / name
    here = target
    for part in Path(name).parts[:-1]:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            raise OutputError(
                f"{option} {target}: {here.relative_to(target)} is not a folder of ours"
            )
    return dest


def _remove_ours(target: Path, name: str) -> None:
    path = target / name
    if any((target / p).is_symlink() for p in Path(name).parents if str(p) != "."):
        return
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
        path.unlink()
    for folder in path.parents:  # drop folders the removal left empty, up to target
        if folder == target or target not in folder.parents:
            break
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no second writer protection
        yield
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sweep_dead_temps(parent: Path, name: str) -> None:
    """Remove temp folders left by a killed run (their process is gone)."""
    prefix = f".{name}.{_TMP_TAG}-"
    for tmp in parent.iterdir():
        if not tmp.name.startswith(prefix):
            continue
        pid_text = tmp.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or not tmp.is_dir() or tmp.is_symlink():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            continue
