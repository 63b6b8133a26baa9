"""The saved backtest's files as untrusted input: digests, the manifest's fields, the arrays.

:mod:`pendo_segments.backtest.saved` writes and assembles; this module says
what a well-formed folder is and refuses anything else with one line naming
the folder and the problem (a ``DataError``), never a traceback:

* ``backtest.json`` holds ``sha256``, the digest of itself without that field
  (:func:`manifest_digest`); it lists ``arrays_sha256``, so the arrays are
  covered too. An edit, or a file cut short, is refused before anything is
  parsed.
* The fields are parsed strictly (:class:`Manifest`): types, increasing
  days inside the as-of range, counts ≥ 0.
* ``arrays.npz`` is opened as a zip; only the members the manifest implies
  are read (:func:`expected_members`), each stored uncompressed, and only
  after its ``.npy`` header, read alone, gives the expected dtype kind and
  shape and the entry's size matches it exactly. Memory is what the
  manifest's days and the data's accounts imply, whatever a header claims.
* Values a writer never produces (negative counts, scores outside 0–100,
  days outside the calendar, rows pointing past the accounts) are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import zipfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pendo_segments.errors import DataError

FORMAT = "pendo-segments backtest 4"  # 4: ``scored``, who existed each day (§2b)
MANIFEST = "backtest.json"
ARRAYS = "arrays.npz"
#: a manifest lists days and names: 64 MiB is far beyond any real one
MAX_MANIFEST_BYTES = 64 * 2**20
#: weeks of minutes in app kept for the report (its --weeks maximum)
MAX_WEEKS = 104
#: the calendar as day numbers (days since 1970-01-01) a date can be made from
_EPOCH = dt.date(1970, 1, 1)
FIRST_DAY = (dt.date.min - _EPOCH).days
LAST_DAY = (dt.date.max - _EPOCH).days
NAT_DAY = np.iinfo(np.int64).min  # "no day" (pendo_segments.evaluate.metrics.NAT_DAY)
#: the largest raw health signal a writer produces (growth in %, sessions); formatting
#: bigger numbers fails, and none is real
MAX_SIGNAL = 1e15


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HealthPart(_Strict):
    components: list[str]
    signals: list[str]
    missing_everywhere: dict[str, str]


class UsagePart(_Strict):
    key_features: list[str]
    feature_names: list[str]
    has_nps: bool
    weeks: int = Field(ge=1, le=MAX_WEEKS)
    new_visitors: int = Field(ge=0)
    nps_responses: int = Field(ge=0)


class Manifest(_Strict):
    """``backtest.json``: what the arrays are, and what they were made from."""

    format: str
    days: list[dt.date] = Field(min_length=1)
    source: str
    accounts: int = Field(ge=0)
    account_ids_sha256: str
    settings_sha256: dict[str, str]
    inputs_sha256: dict[str, str]
    subjects: dict[str, Literal["account", "visitor"]]
    segments: list[str]
    flags: list[str]
    members: list[str]
    alerts: list[str]
    skipped: list[str]
    health: HealthPart
    usage: UsagePart
    arrays_sha256: str
    sha256: str


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest without its ``sha256`` field, as sorted compact JSON (so
    the digest is of the content, not of the file's layout)."""
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def read_manifest(folder: Path, where: str) -> Manifest:
    """The checked manifest of ``folder``; its digest and the arrays' are verified."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise DataError(f"{where}: folder not found")
    if not path.is_file():
        raise DataError(f"{where}: no {MANIFEST}: not a folder written by backtest --save")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise DataError(f"{where}: {MANIFEST} is {size:,} bytes, not a saved backtest's")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError
        raise DataError(f"{where}: {MANIFEST} is not valid JSON ({_short(err)})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise DataError(
            f"{where}: format {found!r}, this version reads {FORMAT!r}; run backtest --save again"
        )
    if raw.get("sha256") != manifest_digest(raw):
        raise DataError(
            f"{where}: {MANIFEST} was changed after backtest --save wrote it; "
            "run backtest --save again"
        )
    try:
        manifest = Manifest.model_validate(_dates(raw))
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        value = first.get("input")
        shown = repr(value) if isinstance(value, str | int | float) else ""
        found = f" (found {shown[:60]}{'…' if len(shown) > 60 else ''})" if shown else ""
        raise DataError(f"{where}: {MANIFEST}: {field}: {first['msg']}{found}") from None
    _check_days(manifest.days, where)
    if not (folder / ARRAYS).is_file():
        raise DataError(f"{where}: no {ARRAYS}; run backtest --save again")
    if file_digest(folder / ARRAYS) != manifest.arrays_sha256:
        raise DataError(f"{where}: {ARRAYS} does not match {MANIFEST} (changed or cut short)")
    return manifest


def _dates(raw: dict[str, Any]) -> dict[str, Any]:
    """``days`` as dates (strict parsing takes no strings for dates)."""
    days = raw.get("days")
    if not isinstance(days, list):
        return raw
    out: list[Any] = []
    for day in days:
        try:
            out.append(dt.date.fromisoformat(day) if isinstance(day, str) else day)
        except ValueError:
            out.append(day)  # reported by the model as "not a date"
    return {**raw, "days": out}


def _check_days(days: list[dt.date], where: str) -> None:
    from pendo_segments.data.schema import AS_OF_RANGE

    first, last = AS_OF_RANGE
    for day in days:
        if not first <= day <= last:
            raise DataError(f"{where}: {MANIFEST}: days: {day} is outside {first} to {last}")
    for before, day in zip(days, days[1:], strict=False):
        if day <= before:
            raise DataError(f"{where}: {MANIFEST}: days must increase, and {day} follows {before}")


def check_names(
    manifest: Manifest, subjects: dict[str, str], alert_names: list[str], where: str
) -> None:
    """The manifest's segments, flags and alerts are those of the settings it is read
    with: every segment of the definitions (``subjects``), alerts of ``alerts.yaml``."""
    from pendo_segments.health.config import COMPONENTS
    from pendo_segments.health.sql import SIGNALS

    def refuse(field: str, problem: str) -> DataError:
        return DataError(f"{where}: {MANIFEST}: {field}: {problem}")

    if sorted(manifest.segments) != sorted(subjects) or manifest.subjects != {
        n: subjects[n] for n in manifest.segments
    }:
        raise refuse("segments", "not the segments of the definitions")
    for name in manifest.alerts:
        if name.removeprefix("alert:") not in alert_names or not name.startswith("alert:"):
            raise refuse("alerts", f"{name!r} is not an alert of alerts.yaml")
    if len(set(manifest.alerts)) != len(manifest.alerts):
        raise refuse("alerts", "an alert is listed twice")
    account = [n for n in manifest.segments if subjects[n] == "account"]
    if manifest.flags != account + manifest.alerts:
        raise refuse("flags", "not the account segments and the alerts")
    if manifest.members != [n for n in manifest.segments if subjects[n] == "visitor"]:
        raise refuse("members", "not the visitor segments")
    health = manifest.health
    if health.components != list(COMPONENTS):
        raise refuse("health.components", f"should be {', '.join(COMPONENTS)}")
    if sorted(health.signals) != sorted(SIGNALS):
        raise refuse("health.signals", f"should be {', '.join(SIGNALS)}")
    unknown = sorted(set(health.missing_everywhere) - set(COMPONENTS))
    if unknown:
        raise refuse("health.missing_everywhere", f"{unknown[0]!r} is not a component")
    usage = manifest.usage
    if len(usage.feature_names) != len(usage.key_features):
        raise refuse("usage.feature_names", "not one name per key feature")
    if not usage.has_nps and usage.nps_responses:
        raise refuse("usage.nps_responses", "responses without NPS data")


#: dtype kinds of a member: b bool, iu integers, f floats
Member = tuple[tuple[int, ...], str]
_KIND_WORDS = {"b": "booleans", "iu": "integers", "f": "floats"}
#: integer members that hold day numbers (negative before 1970), not counts
_DAY_MEMBERS = frozenset({"usage_first_usage", "usage_new_first", "usage_nps_day"})


def expected_members(manifest: Manifest, accounts: int) -> dict[str, Member]:
    """Every member of ``arrays.npz`` (without ``.npy``): its shape and dtype kinds."""
    d, a, bins = len(manifest.days), accounts, accounts + 1
    usage = manifest.usage
    keys, new, nps = len(usage.key_features), usage.new_visitors, usage.nps_responses
    out: dict[str, Member] = {"scores": ((d, a), "f"), "health_score": ((a,), "f")}
    out["scored"] = ((d, a), "b")  # a subject that day (docs/semantics.md §2b)
    out |= {f"flag_{i}": ((d, a), "b") for i in range(len(manifest.flags))}
    out |= {f"members_{i}": ((d, bins), "iu") for i in range(len(manifest.members))}
    out |= {f"component_{i}": ((a,), "f") for i in range(len(manifest.health.components))}
    out |= {f"signal_{i}": ((a,), "f") for i in range(len(manifest.health.signals))}
    per_bin = ("visitors", "active", "visitor_days", "new", "recovered", "dropped", "first_usage")
    usage_members: dict[str, Member] = {n: ((bins,), "iu") for n in per_bin}
    usage_members |= {
        "weekly_minutes": ((usage.weeks, bins), "f"),
        "key_users": ((keys, bins), "iu"),
        "key_users_active": ((keys, bins), "iu"),
        "new_bin": ((new,), "iu"),
        "new_first": ((new,), "iu"),
        "new_delay": ((keys, new), "f"),
        "nps_bin": ((nps,), "iu"),
        "nps_day": ((nps,), "iu"),
        "nps_score": ((nps,), "f"),
    }
    return out | {f"usage_{k}": v for k, v in usage_members.items()}


def read_arrays(path: Path, members: dict[str, Member], where: str) -> dict[str, np.ndarray]:
    """The ``members`` of the npz at ``path``, each checked by its header before it is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename: info for info in archive.infolist()}
            extra = sorted(set(entries) - {f"{k}.npy" for k in members})
            if extra:
                raise DataError(
                    f"{where}: {ARRAYS} holds {extra[0]!r}, which backtest --save does not write"
                )
            return {
                key: _member(archive, entries.get(f"{key}.npy"), key, expected, where)
                for key, expected in members.items()
            }
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{where}: {ARRAYS} cannot be read ({_short(err)})") from None


def _member(
    archive: zipfile.ZipFile,
    entry: zipfile.ZipInfo | None,
    key: str,
    expected: Member,
    where: str,
) -> np.ndarray:
    from numpy.lib import format as npy

    if entry is None:
        raise DataError(f"{where}: {ARRAYS} has no '{key}'")
    if entry.compress_type != zipfile.ZIP_STORED:
        raise DataError(
            f"{where}: '{key}' is compressed in {ARRAYS} (backtest --save stores arrays as they are)"
        )
    shape, kinds = expected
    with archive.open(entry) as fh:
        version = npy.read_magic(fh)
        if version == (1, 0):
            found, _fortran, dtype = npy.read_array_header_1_0(fh)
        elif version == (2, 0):
            found, _fortran, dtype = npy.read_array_header_2_0(fh)
        else:
            raise DataError(f"{where}: '{key}' is a .npy file of version {version}")
        header = fh.tell()
    if found != shape:
        raise DataError(f"{where}: '{key}' is {dtype}{list(found)}, expected {shape}")
    if dtype.hasobject or dtype.kind not in kinds or dtype.itemsize > 8:
        raise DataError(f"{where}: '{key}' is {dtype}, expected {_KIND_WORDS[kinds]}")
    if entry.file_size != header + math.prod(shape) * dtype.itemsize:
        raise DataError(f"{where}: '{key}' holds {entry.file_size - header:,} bytes, not {shape}")
    with archive.open(entry) as fh:
        return npy.read_array(fh, allow_pickle=False)


def check_values(arrays: dict[str, np.ndarray], manifest: Manifest, where: str) -> None:
    """Refuse values no backtest writes: they would fail the report later, or mislead."""
    as_of = manifest.days[-1]

    def refuse(key: str, problem: str) -> DataError:
        return DataError(f"{where}: '{key}' {problem}")

    for key, value in arrays.items():
        if value.dtype.kind in "iu" and key not in _DAY_MEMBERS and (value < 0).any():
            raise refuse(key, "has negative counts")
        if value.dtype.kind == "f" and np.isinf(value).any():
            raise refuse(key, "has infinite values")
    for key in ("scores", "health_score", *(k for k in arrays if k.startswith("component_"))):
        if _outside(arrays[key], 0, 100):
            raise refuse(key, "has values outside 0 to 100")
    if not np.array_equal(arrays["scores"][-1], arrays["health_score"], equal_nan=True):
        raise refuse("health_score", "is not the last day of 'scores'")
    today = (as_of - _EPOCH).days
    for i, name in enumerate(manifest.health.signals):
        low, high = -MAX_SIGNAL, MAX_SIGNAL
        if name in ("days_since_last_login", "renewal_in_days"):  # as_of ± days is a date
            low, high = FIRST_DAY - today, LAST_DAY - today
        if _outside(arrays[f"signal_{i}"], low, high):
            raise refuse(f"signal_{i}", f"({name}) has values outside {low:g} to {high:g}")
    first = arrays["usage_first_usage"]
    if ((first != NAT_DAY) & ((first < FIRST_DAY) | (first > LAST_DAY))).any():
        raise refuse("usage_first_usage", "has days outside the calendar")
    for key in ("usage_new_first", "usage_nps_day"):
        if _outside(arrays[key], FIRST_DAY, LAST_DAY):
            raise refuse(key, "has days outside the calendar")
    if _outside(arrays["usage_weekly_minutes"], 0, math.inf):
        raise refuse("usage_weekly_minutes", "has negative minutes")
    if _outside(arrays["usage_new_delay"], 0, LAST_DAY - FIRST_DAY):
        raise refuse("usage_new_delay", "has delays outside the calendar")
    if _outside(arrays["usage_nps_score"], 0, 10):
        raise refuse("usage_nps_score", "has scores outside 0 to 10")
    bins = manifest.accounts + 1
    for key in ("usage_new_bin", "usage_nps_bin"):
        if _outside(arrays[key], 0, bins - 1):
            raise refuse(key, "points past the accounts")


def _outside(values: np.ndarray, low: float, high: float) -> bool:
    """Some value (NaN aside) is below ``low`` or above ``high``."""
    if not values.size:
        return False
    with np.errstate(invalid="ignore"):
        return bool(((values < low) | (values > high)).any())


def _short(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
