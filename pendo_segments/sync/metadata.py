"""Account metadata to push: desired values per account, and the diff with Pendo.

``tier`` comes from the tier policy (``DEFS/tiers.yaml``), ``health_score``
from the health score (``DEFS/health.yaml`` or the docs/semantics.md §5 defaults);
any other configured field is the accounts column of that name. Missing
values (no score, blank column) are not pushed: Pendo has no documented way
to clear a value, so they are counted, never sent as null.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pendo_segments.errors import SyncError
from pendo_segments.sync.remote import same_value

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset

SAMPLE = 5


def desired_metadata(
    ds: Dataset,
    defs: Any,
    fields: Sequence[str],
    *,
    as_of: dt.date,
    defs_path: str | Path | None = None,
    tier_overrides: str | Path | None = None,
    engine: Any = None,
) -> dict[str, dict[str, Any]]:
    """account_id → {field: value} for every account of ``ds`` (None = no value).

    ``engine``: an engine that does not hold the usage in memory scores and tiers
    the accounts itself (``ds`` holds only the small tables then).
    """
    ids = [str(a) for a in ds.accounts["account_id"]]
    columns: dict[str, list[Any]] = {}
    view = None
    if engine is not None and ("health_score" in fields or "tier" in fields):
        view = _engine_view(engine, defs, as_of, Path(defs_path or "."), tier_overrides)
    elif "health_score" in fields or "tier" in fields:
        from pendo_segments.tiers.view import account_view

        view = account_view(
            ds,
            Path(defs_path or "."),
            defs=defs,
            as_of=as_of,
            overrides_file=Path(tier_overrides) if tier_overrides else None,
        )
    for name in fields:
        if name == "health_score":
            assert view is not None
            columns[name] = _aligned(view.health.frame(), "health_score", ids)
        elif name == "tier":
            assert view is not None
            if view.tiers is None:
                raise SyncError(
                    f"metadata field 'tier' needs a tier policy: no tiers.yaml in "
                    f"{defs_path}; add one or drop 'tier' from [sync] metadata_fields"
                )
            columns[name] = _aligned(view.tiers.frame(), "tier", ids)
        elif name in ds.accounts.columns:
            columns[name] = list(ds.accounts[name])
        else:
            known = ", ".join(["tier", "health_score", *map(str, ds.accounts.columns)])
            raise SyncError(
                f"[sync] metadata_fields: '{name}' is neither tier, health_score "
                f"nor an accounts column (known: {known})"
            )
    return {aid: {name: plain(columns[name][i]) for name in fields} for i, aid in enumerate(ids)}


def _engine_view(
    engine: Any, defs: Any, as_of: dt.date, defs_path: Path, overrides: str | Path | None
) -> Any:
    """Health and tiers (``.health``, ``.tiers``: None without a policy) from ``engine``,
    as :func:`~pendo_segments.tiers.view.account_view` gives them from frames."""
    from types import SimpleNamespace

    from pendo_segments.health.config import health_config_for
    from pendo_segments.health.engine import engine_health
    from pendo_segments.tiers.files import read_overrides
    from pendo_segments.tiers.run import TierInputs, engine_tiers, policy_for

    config = health_config_for(defs_path)
    policy = policy_for(defs_path, required=False)
    if policy is None:
        return SimpleNamespace(health=engine_health(engine, config, as_of), tiers=None)
    inputs = TierInputs(
        defs_path,
        policy,
        defs,
        config,
        overrides=read_overrides(overrides, policy) if overrides else None,
    )
    tiers = engine_tiers(engine, inputs, as_of)
    return SimpleNamespace(health=tiers.health, tiers=tiers)


def _aligned(frame: Any, column: str, ids: list[str]) -> list[Any]:
    by_id = dict(zip(frame["account_id"].astype(str), frame[column], strict=True))
    return [by_id.get(a) for a in ids]


def plain(value: Any) -> Any:
    """A JSON value Pendo can store: numpy → Python, NaN/NA → None, dates → ISO text."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    try:
        if value != value:  # NaN, NA, NaT  # noqa: PLR0124
            return None
    except (TypeError, ValueError):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    if hasattr(value, "isoformat"):
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    return value


def metadata_diff(
    desired: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]], fields: Sequence[str]
) -> dict[str, Any]:
    """The plan's metadata section: updates with before/after, counts, a sample.

    Accounts Pendo does not list are not sent (Pendo would report them
    ``missing``); they are listed under ``unknown`` instead.
    """
    updates: list[dict[str, Any]] = []
    unknown: list[str] = []
    per_field = dict.fromkeys(fields, 0)
    no_value = dict.fromkeys(fields, 0)
    unchanged = 0
    for aid in sorted(desired):
        wanted = {k: v for k, v in desired[aid].items() if v is not None}
        for k in fields:
            if desired[aid].get(k) is None:
                no_value[k] += 1
        if aid not in current:
            if wanted:
                unknown.append(aid)
            continue
        changed = {k: v for k, v in wanted.items() if not same_value(v, current[aid].get(k))}
        if not changed:
            unchanged += 1
            continue
        for k in changed:
            per_field[k] += 1
        updates.append(
            {
                "accountId": aid,
                "values": changed,
                "before": {k: current[aid].get(k) for k in changed},
            }
        )
    return {
        "fields": list(fields),
        "updates": updates,
        "unchanged": unchanged,
        "changed_per_field": per_field,
        "no_value": {k: v for k, v in no_value.items() if v},
        "unknown": unknown,
        "sample": updates[:SAMPLE],
    }
