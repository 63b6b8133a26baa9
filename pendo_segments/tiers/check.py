"""Check a whole definitions folder at once: segments, health.yaml, tiers.yaml, alerts.yaml.

``validate`` promises every problem in one run. The settings files beside the
segments use the same rule language, so their mistakes (and references to
segments that do not exist, or are visitor segments) are reported in the
same run, each at its line, instead of surfacing later in ``tiers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pendo_segments.definitions import DefinitionSet, load_definitions
from pendo_segments.definitions.loader import InvalidDefinitions
from pendo_segments.errors import DefinitionError
from pendo_segments.tiers.policy import CONFIG_NAME, declared_tiers


def check_folder(
    defs: str | Path,
    *,
    features: Iterable[str] | None = None,
    columns: Mapping[str, Iterable[str]] | None = None,
) -> DefinitionSet:
    """Load the segments of ``defs`` and check the settings files beside them.

    Raises one :class:`DefinitionError` listing every problem of every file.
    """
    from pendo_segments.health.config import health_config_for
    from pendo_segments.tiers.alerts import alert_rules_for
    from pendo_segments.tiers.run import policy_for

    problems: list[str] = []
    definitions: DefinitionSet | None = None
    declared: dict[str, Any] | None = None  # segment name → subject
    try:
        definitions = load_definitions(defs, features=features, columns=columns)
        declared = {s.name: s.subject for s in definitions}
    except InvalidDefinitions as err:
        problems += err.problems
        declared = err.declared
    except DefinitionError as err:
        problems += err.problems
    root = Path(defs)
    if root.is_dir():
        tiers: list[str] | None = None
        try:
            health_config_for(root)
        except DefinitionError as err:
            problems += err.problems
        try:
            policy = policy_for(root, required=False, segments=declared)
            tiers = policy.names if policy else None
        except DefinitionError as err:
            problems += err.problems
            tiers = declared_tiers(root / CONFIG_NAME)
        try:
            alert_rules_for(root, tiers=tiers, required=False, segments=declared)
        except DefinitionError as err:
            problems += err.problems
    if problems:
        raise DefinitionError(problems)
    assert definitions is not None
    return definitions
