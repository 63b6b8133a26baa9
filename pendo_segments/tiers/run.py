"""The ``tiers`` step as one library call: find the files, tier, compare, count.

The command line, the demo and other layers read the same settings beside
the definitions (``tiers.yaml``, ``health.yaml``) the same way. Inputs are
read and checked first (:func:`tier_inputs`) so a bad CSV fails before the
data is loaded; :func:`run_tiers` then works on a data set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pendo_segments.base.rendered import Rendered
from pendo_segments.errors import DefinitionError
from pendo_segments.health.config import HealthConfig, health_config_for, settings_file
from pendo_segments.tiers.assign import TierResult, assign_tiers, removed_accounts
from pendo_segments.tiers.capacity import parse_ratios
from pendo_segments.tiers.files import read_overrides, read_previous
from pendo_segments.tiers.policy import CONFIG_NAME, TierPolicy, load_policy

if TYPE_CHECKING:
    from pendo_segments.data.dataset import Dataset
    from pendo_segments.engines import Engine
    from pendo_segments.tiers.sql import PolicyQuery

MOVES = ("up", "down", "unchanged", "new")


def policy_for(
    defs: str | Path | None,
    explicit: str | Path | None = None,
    *,
    required: bool = True,
    segments: Mapping[str, Any] | None = None,
) -> TierPolicy | None:
    """``explicit`` or ``DEFS/tiers.yaml``; None (or an error when required) if absent."""
    path = settings_file(defs, explicit, CONFIG_NAME)
    if path is None:
        if required:
            raise DefinitionError(f"{defs}: no {CONFIG_NAME} tier policy (or pass --policy FILE)")
        return None
    return load_policy(path, segments=segments)


@dataclass
class TierInputs:
    """Everything ``tiers`` needs besides the data, already checked."""

    defs: Path
    policy: TierPolicy
    definitions: Any
    health_config: HealthConfig
    overrides: pd.DataFrame | None = None
    overrides_path: Path | None = None
    previous: pd.DataFrame | None = None
    previous_path: Path | None = None
    ratios: dict[str, float] = field(default_factory=dict)


def tier_inputs(
    defs: str | Path,
    *,
    policy: str | Path | None = None,
    overrides: str | Path | None = None,
    previous: str | Path | None = None,
    ratios: tuple[str, ...] | list[str] = (),
    definitions: Any = None,
) -> TierInputs:
    """Read the policy, overrides, a previous run and ``--ratio TIER=N`` values."""
    from pendo_segments.definitions import load_definitions

    the_policy = policy_for(defs, policy)
    assert the_policy is not None
    return TierInputs(
        defs=Path(defs),
        policy=the_policy,
        ratios=parse_ratios(list(ratios)),
        overrides=read_overrides(overrides, the_policy) if overrides else None,
        overrides_path=Path(overrides) if overrides else None,
        previous=read_previous(previous, the_policy) if previous else None,
        previous_path=Path(previous) if previous else None,
        definitions=definitions if definitions is not None else load_definitions(defs),
        health_config=health_config_for(defs),
    )


@dataclass
class TiersRun:
    """The tier table, the capacity table and what to tell the user about them."""

    result: TierResult
    frame: pd.DataFrame  # account_id,tier,reason (+ previous_tier,move)
    capacity: pd.DataFrame
    notes: list[str]

    @property
    def as_of(self) -> dt.date:
        return self.result.as_of

    def render(self, _fmt: str) -> Rendered:
        return Rendered(frame=self.frame, title=f"Tiers as of {self.as_of.isoformat()}")


def run_tiers(ds: Dataset, inputs: TierInputs, *, as_of: dt.date | None = None) -> TiersRun:
    """Tier every account of ``ds`` and describe overrides, moves and renewal risk."""
    result = assign_tiers(
        ds,
        inputs.policy,
        defs=inputs.definitions,
        as_of=as_of,
        health_config=inputs.health_config,
        overrides=inputs.overrides,
    )
    return tiers_run(result, inputs)


def tiers_run(result: TierResult, inputs: TierInputs) -> TiersRun:
    """Moves against the previous run, capacity and notes, whichever engine tiered."""
    frame = result.frame(inputs.previous)
    notes = [
        f"{inputs.overrides_path}: account '{account}' is not in the data "
        f"(or not a subject at {result.as_of.isoformat()}); override ignored"
        for account in result.unknown_overrides
    ]
    if inputs.previous is not None:
        notes.append(_moves_note(frame, result, inputs))
    risky = int(result.renewal_risk.sum())
    if risky:
        notes.append(f"{risky} accounts flagged as renewal risk (see the reason column)")
    return TiersRun(result, frame, result.capacity(inputs.ratios), notes)


def _moves_note(frame: pd.DataFrame, result: TierResult, inputs: TierInputs) -> str:
    assert inputs.previous is not None
    counts = frame["move"].value_counts()
    summary = ", ".join(f"{int(counts.get(m, 0))} {m}" for m in MOVES)
    gone = removed_accounts(result.account_ids[result.subjects], inputs.previous)
    more = ", …" if len(gone) > 5 else ""
    tail = f"; {len(gone)} no longer in the data ({', '.join(gone[:5])}{more})" if gone else ""
    return f"moves since {inputs.previous_path}: {summary}{tail}"


def engine_tiers(engine: Engine, inputs: TierInputs, as_of: dt.date | None = None) -> TierResult:
    """Every account's tier at ``as_of`` decided by ``engine``.

    pandas assigns them in numpy; the SQL engines run the policy as one query
    (``tiers/sql.py``, health included) and the reasons are rendered here alike.
    """
    ds = engine.in_memory
    if ds is not None:
        return assign_tiers(
            ds,
            inputs.policy,
            defs=inputs.definitions,
            as_of=as_of,
            health_config=inputs.health_config,
            overrides=inputs.overrides,
        )
    from pendo_segments.tiers.sql import tier_result

    frame, query = engine_policy_rows(engine, inputs, as_of)
    return tier_result(frame, query, inputs.policy, inputs.health_config, inputs.overrides)


def engine_policy_rows(
    engine: Engine, inputs: TierInputs, as_of: dt.date | None = None
) -> tuple[pd.DataFrame, PolicyQuery]:
    """The policy query (``tiers/sql.py``) and its rows on a SQL engine: per account the
    tier, the rule it matched and each rule's own ``when_i`` (tests read those)."""
    from pendo_segments.errors import EvaluationError
    from pendo_segments.health.engine import shape_tables
    from pendo_segments.health.rules import segment_names
    from pendo_segments.tiers.columns import policy_field_columns
    from pendo_segments.tiers.sql import frame_kinds, policy_query

    policy_field_columns(inputs.policy, inputs.definitions)  # unknown segments: FILE:LINE first
    named = segment_names([r.when for r in inputs.policy.rules])  # feature names → ids
    inputs.definitions.use_features(engine.features(), EvaluationError, check=named)
    engine.fill_optional(policy_field_columns(inputs.policy, inputs.definitions))
    day = engine.day(as_of)
    if named:  # the numpy path evaluates them: its as-of warning and error (Engine.check_day)
        engine.check_day(inputs.definitions, day)
    shape = engine.shape()
    query = policy_query(
        inputs.policy,
        inputs.definitions,
        inputs.health_config,
        shape_tables(shape),
        day,
        frame_kinds(engine.subjects("account")),
        has_first_visit=shape.has_column("visitors", "first_visit"),
        dialect=engine.dialect,
    )
    return engine.query(query.sql, at=day), query


def tiers_on(engine: Engine, inputs: TierInputs, *, as_of: dt.date | None = None) -> TiersRun:
    """``tiers`` on any engine: the tiers, then moves, capacity and notes."""
    return tiers_run(engine_tiers(engine, inputs, as_of), inputs)
