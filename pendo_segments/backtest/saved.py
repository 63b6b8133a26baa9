"""A backtest kept on disk (``backtest --save DIR``), read back by ``report --backtest DIR``.

The report's slow part is reading and indexing the raw usage (176M rows at
1M visitors). Everything it takes from the usage is per account and adds up:
segment flags and members, health scores, the last day's health components
and signals, and the usage widgets' sums
(:class:`~pendo_segments.backtest.usage.UsageRollups`). So the backtest writes
those, and the report reads them with ``accounts`` and ``outcomes`` only; a
book of business (``--csm`` / ``--segment``) is a selection of columns.

The folder holds ``backtest.json`` (days, names, digests) and
``arrays.npz`` (plain NumPy arrays, stored uncompressed, read without
pickle). It is tied to what made it: the account ids (in file order), the
segment definitions and the ``health.yaml`` / ``alerts.yaml`` /
``tiers.yaml`` beside them. Reading it with other accounts or other
settings is refused with what differs.

A folder is read as untrusted input: ``backtest.json`` carries the sha256
of itself (without that field) and of ``arrays.npz``, so an edit or a cut is
refused; a folder re-signed by a hostile or buggy writer is still checked
field by field. Only the members the manifest implies are read, each after
its ``.npy`` header (read alone) has the expected dtype and shape and the
zip entry holds exactly those bytes, so memory is bounded by the manifest's
days and the data's accounts, never by what a header claims.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pendo_segments.backtest.run import Backtest, LastDay
from pendo_segments.backtest.saved_format import (
    ARRAYS,
    FORMAT,
    MANIFEST,
    MAX_WEEKS,
    Manifest,
    check_names,
    check_values,
    expected_members,
    file_digest,
    manifest_digest,
    read_arrays,
    read_manifest,
)
from pendo_segments.data.history import HISTORY_NAMES
from pendo_segments.errors import DataError

if TYPE_CHECKING:
    from pendo_segments.backtest.usage import UsageRollups
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.health import HealthResult

__all__ = ["ARRAYS", "FORMAT", "MANIFEST", "MAX_WEEKS", "SAVE_COMMAND", "SavedBacktest"]

CONFIG_FILES = ("health.yaml", "alerts.yaml", "tiers.yaml")
#: the command named in the folder's marker (see pendo_segments.atomic)
SAVE_COMMAND = "backtest --save"


@dataclass
class SavedBacktest:
    """A saved backtest, checked against the accounts and settings it is read with."""

    backtest: Backtest
    health: HealthResult
    rollups: UsageRollups
    source: str  # the data folder it was made from
    folder: Path | None = None  # where it was read from (a report may not be written there)

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
            folder=self.folder,
        )


def settings_digests(defs: Any, defs_path: Path) -> dict[str, str]:
    """sha256 of the segment definitions (their parsed form, so comments and file
    layout do not matter) and of each settings file found beside them."""
    from pendo_segments.health.config import find_config

    # as written: engines resolve feature names to ids in place (DefinitionSet.use_features),
    # so the resolved form differs between a run and a report that has not evaluated yet
    written = getattr(defs, "written", None) or {n: defs.get(n) for n in defs.segments}
    segments = [written[n].model_dump(mode="json") for n in sorted(written)]
    out = {"segment definitions": _sha(json.dumps(segments, sort_keys=True).encode())}
    for name in CONFIG_FILES:
        path = find_config(defs_path, name)
        out[name] = _sha(path.read_bytes()) if path is not None else "absent"
    return out


#: data tables whose content shapes the report beyond the saved arrays (fields, outcomes)
INPUT_TABLES = ("accounts", "visitors", "outcomes", *HISTORY_NAMES)
VISITOR_TABLES = ("visitors", "visitors_history")


def input_digests(ds: Dataset, labels: dict[str, str] | None = None) -> dict[str, str]:
    """sha256 of each data table the report reads beside the arrays, by file name.

    The bytes of the files, so any changed field (a renewal date moved, a new
    history row) makes a saved folder stale; "absent" for a missing optional
    table. Sources that are not a folder (live Pendo) have none to compare.
    """
    from pendo_segments.data.layout import locate_table
    from pendo_segments.data.loaders import bundled_sample_path

    folder = bundled_sample_path() if ds.source == "sample" else Path(ds.source)
    if not ds.source or not folder.is_dir():
        return {}
    out = {}
    for name in INPUT_TABLES:
        table = locate_table(folder, name, mandatory=False)
        if table is None:
            out[name] = "absent"
            continue
        if labels is not None:
            labels[name] = table.label
        digest = hashlib.sha256()
        for file in table.files:
            digest.update(table.file_label(file).encode() + b"\0")
            with open(file, "rb") as fh:
                digest.update(hashlib.file_digest(fh, "sha256").digest())
        out[name] = digest.hexdigest()
    out["report templates"] = _templates_digest()
    return out


def _templates_digest() -> str:
    """The report's page templates (package files): a saved folder predates edits to them."""
    root = Path(__file__).resolve().parent.parent / "report" / "templates"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def save_backtest(
    folder: Path,
    bt: Backtest,
    rollups: UsageRollups,
    ds: Dataset,
    *,
    defs: Any,
    defs_path: Path,
    force: bool = False,
    inputs: Mapping[str, str | Path] | None = None,
) -> None:
    """Write ``bt`` (run with ``keep_last`` and health) and ``rollups`` into ``folder``.

    ``inputs`` (option → path) may not be, hold or contain ``folder``
    (:func:`~pendo_segments.atomic.output_folder`).
    """
    from pendo_segments.atomic import output_folder

    if bt.last is None or bt.last.health is None or bt.scores is None:
        raise ValueError("save_backtest needs a backtest run with health and keep_last")
    health = bt.last.health
    flag_names, member_names = list(bt.flags), list(bt.member_counts)
    arrays: dict[str, Any] = {"scores": bt.scores, "health_score": health.score}
    # who existed each day (docs/semantics.md §2b): the report leaves the others out
    every = np.ones(bt.scores.shape, dtype=bool)
    arrays["scored"] = bt.scored if bt.scored is not None else every
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
        "inputs_sha256": input_digests(ds),
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
            "weeks": len(rollups.weekly_minutes),
            "new_visitors": len(rollups.new_bin),
            "nps_responses": len(rollups.nps_bin),
        },
    }
    option = "--save"
    with output_folder(
        folder, force=force, option=option, command=SAVE_COMMAND, inputs=inputs
    ) as tmp:
        with open(tmp / ARRAYS, "wb") as fh:
            np.savez(fh, **arrays)  # uncompressed: the reader checks sizes against headers
        manifest["arrays_sha256"] = file_digest(tmp / ARRAYS)
        manifest["sha256"] = manifest_digest(manifest)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def load_backtest(folder: Path, ds: Dataset, *, defs: Any, defs_path: Path) -> SavedBacktest:
    """Read ``folder`` for the accounts of ``ds``; refuse it when the accounts or the
    settings differ from the ones it was saved with, or when it is not what
    ``backtest --save`` writes (see :mod:`~pendo_segments.backtest.saved_format`)."""
    from pendo_segments.backtest.run import _health_setup

    where = f"--backtest {folder}"
    manifest = read_manifest(folder, where)
    account_ids = pd.Index(ds.accounts["account_id"].astype(str))
    if manifest.accounts != len(account_ids) or (
        manifest.account_ids_sha256 != _ids_digest(account_ids)
    ):
        raise DataError(
            f"{where}: saved for other accounts ({manifest.accounts} accounts) than "
            f"{ds.source or 'the data'} ({len(account_ids)}); run backtest --save again"
        )
    labels: dict[str, str] = {}
    changed = [
        labels.get(name, name)
        for name, digest in input_digests(ds, labels).items()
        if manifest.inputs_sha256.get(name) != digest
        # visitor files need not be beside the accounts: their effect is in the arrays
        and not (digest == "absent" and name in VISITOR_TABLES)
    ] + [
        name
        for name, digest in settings_digests(defs, defs_path).items()
        if manifest.settings_sha256.get(name) != digest
    ]
    if changed:
        raise DataError(
            f"{where}: {', '.join(changed)} changed since it was saved; run backtest --save again"
        )
    config, rules, _policy, _ = _health_setup(defs_path, True, True)
    alert_names = [a.spec.name for a in rules.alerts] if rules is not None else []
    subjects = {n: defs.get(n).subject for n in defs.segments}
    check_names(manifest, subjects, alert_names, where)
    arrays = read_arrays(folder / ARRAYS, expected_members(manifest, len(account_ids)), where)
    check_values(arrays, manifest, where)
    return _assemble(manifest, arrays, account_ids, config, folder)


def _assemble(
    manifest: Manifest,
    arrays: dict[str, np.ndarray],
    account_ids: pd.Index,
    config: Any,
    folder: Path,
) -> SavedBacktest:
    """The backtest, health and usage sums of checked ``arrays``."""
    from pendo_segments.backtest.usage import UsageRollups
    from pendo_segments.health import HealthResult

    days = list(manifest.days)
    flags = {n: arrays[f"flag_{i}"] for i, n in enumerate(manifest.flags)}
    members = {n: arrays[f"members_{i}"] for i, n in enumerate(manifest.members)}
    h = manifest.health
    health = HealthResult(
        as_of=days[-1],
        config=config,
        account_ids=account_ids,
        score=arrays["health_score"],
        components={n: arrays[f"component_{i}"] for i, n in enumerate(h.components)},
        signals={n: arrays[f"signal_{i}"] for i, n in enumerate(h.signals)},
        missing_everywhere=dict(h.missing_everywhere),
        subjects=arrays["scored"][-1],
    )
    counts = {
        n: [int(x) for x in (flags[n] if n in flags else members[n]).sum(axis=1)]
        for n in manifest.segments
    }
    masks = {n: flags[n][-1] for n in manifest.segments if n in flags}
    bt = Backtest(
        days=days,
        account_ids=account_ids,
        subjects=dict(manifest.subjects),
        counts=counts,
        flags=flags,
        alerts=list(manifest.alerts),
        member_counts=members,
        scores=arrays["scores"],
        scored=arrays["scored"],
        skipped=list(manifest.skipped),
        last=LastDay(days[-1], masks=masks, metrics=None, health=health),
    )
    usage = manifest.usage
    rollups = UsageRollups(
        as_of=days[-1],
        key_features=list(usage.key_features),
        feature_names=list(usage.feature_names),
        has_nps=usage.has_nps,
        **{k[len("usage_") :]: v for k, v in arrays.items() if k.startswith("usage_")},
    )
    return SavedBacktest(bt, health, rollups, source=manifest.source, folder=folder)


def _restrict_health(health: HealthResult, keep: np.ndarray) -> HealthResult:
    from dataclasses import replace

    kept = np.flatnonzero(keep)
    return replace(
        health,
        account_ids=health.account_ids[kept],
        score=health.score[kept],
        components={n: v[kept] for n, v in health.components.items()},
        signals={n: v[kept] for n, v in health.signals.items()},
        subjects=health.subjects[kept] if health.subjects is not None else None,
    )


def _ids_digest(ids: pd.Index) -> str:
    return _sha("\n".join(ids.astype(str).tolist()).encode())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
