"""A backtest kept on disk (``backtest --save DIR``), read back by ``report --backtest DIR``.

The report's slow part is reading and indexing the raw usage (176M rows at
1M visitors). Everything it takes from the usage is per account and adds up:
segment flags and members, health scores, the last day's health components
and signals, and the usage widgets' sums
(:class:`~pendo_segments.backtest.usage.UsageRollups`). So the backtest writes
those, and the report reads them with ``accounts`` and ``outcomes`` only; a
book of business (``--csm`` / ``--segment``) is a selection of columns.

The folder holds ``backtest.json`` (days, names, digests) and
``arrays.npz`` (plain NumPy arrays, read without pickle). It is tied to what
made it: the account ids (in file order), the segment definitions and the
``health.yaml`` / ``alerts.yaml`` / ``tiers.yaml`` beside them. Reading it
with other accounts or other settings is refused with what differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.run import Backtest, LastDay
from pendo_segments.errors import DataError

if TYPE_CHECKING:
    from pendo_segments.backtest.usage import UsageRollups
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.health import HealthResult

FORMAT = "pendo-segments backtest 1"
MANIFEST = "backtest.json"
ARRAYS = "arrays.npz"
CONFIG_FILES = ("health.yaml", "alerts.yaml", "tiers.yaml")


@dataclass
class SavedBacktest:
    """A saved backtest, checked against the accounts and settings it is read with."""

    backtest: Backtest
    health: HealthResult
    rollups: UsageRollups
    source: str  # the data folder it was made from

    @property
    def as_of(self) -> dt.date:
        return self.backtest.days[-1]

    def restrict(self, keep: np.ndarray) -> SavedBacktest:
        """The accounts where ``keep`` is true, as if the data had held only them."""
        health = _restrict_health(self.health, keep)
        return SavedBacktest(
            backtest=self.backtest.restrict(keep, health),
            health=health,
            rollups=self.rollups.restrict(keep),
            source=self.source,
        )


def settings_digests(defs: Any, defs_path: Path) -> dict[str, str]:
    """sha256 of the segment definitions (their parsed form, so comments and file
    layout do not matter) and of each settings file found beside them."""
    from pendo_segments.health.config import find_config

    segments = [defs.get(n).model_dump(mode="json") for n in sorted(defs.segments)]
    out = {"segment definitions": _sha(json.dumps(segments, sort_keys=True).encode())}
    for name in CONFIG_FILES:
        path = find_config(defs_path, name)
        out[name] = _sha(path.read_bytes()) if path is not None else "absent"
    return out


def save_backtest(
    folder: Path,
    bt: Backtest,
    rollups: UsageRollups,
    ds: Dataset,
    *,
    defs: Any,
    defs_path: Path,
    force: bool = False,
) -> None:
    """Write ``bt`` (run with ``keep_last`` and health) and ``rollups`` into ``folder``."""
    from pendo_segments.atomic import output_folder

    if bt.last is None or bt.last.health is None or bt.scores is None:
        raise ValueError("save_backtest needs a backtest run with health and keep_last")
    health = bt.last.health
    flag_names, member_names = list(bt.flags), list(bt.member_counts)
    arrays: dict[str, Any] = {"scores": bt.scores, "health_score": health.score}
    arrays |= {f"flag_{i}": bt.flags[n] for i, n in enumerate(flag_names)}
    arrays |= {f"members_{i}": bt.member_counts[n] for i, n in enumerate(member_names)}
    components, signals = list(health.components), list(health.signals)
    arrays |= {f"component_{i}": health.components[n] for i, n in enumerate(components)}
    arrays |= {f"signal_{i}": health.signals[n] for i, n in enumerate(signals)}
    arrays |= {f"usage_{k}": v for k, v in rollups.arrays().items()}
    manifest = {
        "format": FORMAT,
        "days": [d.isoformat() for d in bt.days],
        "source": ds.source,
        "accounts": len(bt.account_ids),
        "account_ids_sha256": _ids_digest(bt.account_ids),
        "settings_sha256": settings_digests(defs, defs_path),
        "subjects": bt.subjects,
        "segments": list(bt.counts),
        "flags": flag_names,
        "members": member_names,
        "alerts": bt.alerts,
        "skipped": bt.skipped,
        "health": {
            "components": components,
            "signals": signals,
            "missing_everywhere": health.missing_everywhere,
        },
        "usage": {
            "key_features": rollups.key_features,
            "feature_names": rollups.feature_names,
            "has_nps": rollups.has_nps,
        },
    }
    with output_folder(folder, force=force, option="--save") as tmp:
        with open(tmp / ARRAYS, "wb") as fh:
            np.savez(fh, **arrays)
        with open(tmp / ARRAYS, "rb") as fh:
            manifest["arrays_sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def load_backtest(folder: Path, ds: Dataset, *, defs: Any, defs_path: Path) -> SavedBacktest:
    """Read ``folder`` for the accounts of ``ds``; refuse it when the accounts or the
    settings differ from the ones it was saved with."""
    from pendo_segments.backtest.usage import UsageRollups
    from pendo_segments.health import HealthResult
    from pendo_segments.health.config import health_config_for

    where = f"--backtest {folder}"
    manifest = _manifest(folder, where)
    if not (folder / ARRAYS).is_file():
        raise DataError(f"{where}: no {ARRAYS}; run backtest --save again")
    with open(folder / ARRAYS, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if digest != manifest.get("arrays_sha256"):
        raise DataError(f"{where}: {ARRAYS} does not match {MANIFEST} (changed or cut short)")
    try:
        days = [dt.date.fromisoformat(d) for d in manifest["days"]]
        account_ids = pd.Index(ds.accounts["account_id"].astype(str))
        if manifest["accounts"] != len(account_ids) or manifest[
            "account_ids_sha256"
        ] != _ids_digest(account_ids):
            raise DataError(
                f"{where}: saved for other accounts ({manifest['accounts']} accounts) than "
                f"{ds.source or 'the data'} ({len(account_ids)}); run backtest --save again"
            )
        changed = [
            name
            for name, digest in settings_digests(defs, defs_path).items()
            if manifest["settings_sha256"].get(name) != digest
        ]
        if changed:
            raise DataError(
                f"{where}: {', '.join(changed)} changed since it was saved; "
                "run backtest --save again"
            )
        arrays = _arrays(folder / ARRAYS, where)
        n_days, n_acc = len(days), len(account_ids)
        flags = {
            n: _shaped(arrays, f"flag_{i}", (n_days, n_acc), where)
            for i, n in enumerate(manifest["flags"])
        }
        members = {
            n: _shaped(arrays, f"members_{i}", (n_days, n_acc + 1), where)
            for i, n in enumerate(manifest["members"])
        }
        h = manifest["health"]
        health = HealthResult(
            as_of=days[-1],
            config=health_config_for(defs_path),
            account_ids=account_ids,
            score=_shaped(arrays, "health_score", (n_acc,), where),
            components={
                n: _shaped(arrays, f"component_{i}", (n_acc,), where)
                for i, n in enumerate(h["components"])
            },
            signals={
                n: _shaped(arrays, f"signal_{i}", (n_acc,), where)
                for i, n in enumerate(h["signals"])
            },
            missing_everywhere=dict(h["missing_everywhere"]),
        )
        counts = {
            n: [int(x) for x in (flags[n] if n in flags else members[n]).sum(axis=1)]
            for n in manifest["segments"]
        }
        masks = {n: flags[n][-1] for n in manifest["segments"] if n in flags}
        bt = Backtest(
            days=days,
            account_ids=account_ids,
            subjects=dict(manifest["subjects"]),
            counts=counts,
            flags=flags,
            alerts=list(manifest["alerts"]),
            member_counts=members,
            scores=_shaped(arrays, "scores", (n_days, n_acc), where),
            skipped=list(manifest["skipped"]),
            last=LastDay(days[-1], masks=masks, metrics=None, health=health),
        )
        usage = manifest["usage"]
        rollups = UsageRollups(
            as_of=days[-1],
            key_features=list(usage["key_features"]),
            feature_names=list(usage["feature_names"]),
            has_nps=bool(usage["has_nps"]),
            **{k[len("usage_") :]: v for k, v in arrays.items() if k.startswith("usage_")},
        )
        _check_rollups(rollups, n_acc, where)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{where}: not a saved backtest this version reads ({err})") from None
    return SavedBacktest(bt, health, rollups, source=str(manifest.get("source", "")))


def _manifest(folder: Path, where: str) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise DataError(f"{where}: folder not found")
    if not path.is_file():
        raise DataError(f"{where}: no {MANIFEST}: not a folder written by backtest --save")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{where}: {MANIFEST} is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise DataError(f"{where}: format {found!r}, this version reads {FORMAT!r}")
    return manifest


def _arrays(path: Path, where: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{where}: {ARRAYS} cannot be read ({err})") from None


def _shaped(arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...], where: str) -> Any:
    value = arrays.get(key)
    if value is None:
        raise DataError(f"{where}: {ARRAYS} has no '{key}'")
    if value.shape != shape or value.dtype.kind not in "biuf":
        raise DataError(f"{where}: '{key}' is {value.dtype}{list(value.shape)}, expected {shape}")
    return value


def _check_rollups(rollups: UsageRollups, n_acc: int, where: str) -> None:
    bins, keys = n_acc + 1, len(rollups.key_features)
    for name, value in rollups.arrays().items():
        if value.dtype.kind not in "biuf":
            raise DataError(f"{where}: 'usage_{name}' is {value.dtype}")
    per_bin = ("visitors", "active", "visitor_days", "new", "recovered", "dropped", "first_usage")
    expected = {n: (bins,) for n in per_bin} | {
        "key_users": (keys, bins),
        "key_users_active": (keys, bins),
        "new_delay": (keys, len(rollups.new_bin)),
        "new_first": (len(rollups.new_bin),),
        "nps_day": (len(rollups.nps_bin),),
        "nps_score": (len(rollups.nps_bin),),
    }
    for name, shape in expected.items():
        if getattr(rollups, name).shape != shape:
            raise DataError(f"{where}: 'usage_{name}' has shape {getattr(rollups, name).shape}")
    if rollups.weekly_minutes.ndim != 2 or rollups.weekly_minutes.shape[1] != bins:
        raise DataError(f"{where}: 'usage_weekly_minutes' has the wrong shape")
    for name in ("new_bin", "nps_bin"):
        values = getattr(rollups, name)
        if len(values) and (values.min() < 0 or values.max() >= bins):
            raise DataError(f"{where}: 'usage_{name}' points past the accounts")


def _restrict_health(health: HealthResult, keep: np.ndarray) -> HealthResult:
    from dataclasses import replace

    kept = np.flatnonzero(keep)
    return replace(
        health,
        account_ids=health.account_ids[kept],
        score=health.score[kept],
        components={n: v[kept] for n, v in health.components.items()},
        signals={n: v[kept] for n, v in health.signals.items()},
    )


def _ids_digest(ids: pd.Index) -> str:
    return _sha("\n".join(ids.astype(str).tolist()).encode())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
