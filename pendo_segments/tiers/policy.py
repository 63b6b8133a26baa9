"""The tier policy file (``tiers.yaml``): tiers, ordered rules, renewal risk.

Rules are tried top to bottom and the first match wins; the last rule has no
``when`` so every account gets exactly one tier. A rule's ``reason`` (and its
optional ``reason_ja``, the Japanese report's) may name account values in
braces (``{arr:,.0f}``, ``{score}``, ``{plan}``), filled in per account.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pendo_segments.definitions.rules import TIER_LEAVES
from pendo_segments.definitions.yaml_lines import key_path, line_of, suggest
from pendo_segments.errors import DefinitionError
from pendo_segments.health.configfile import Problems, load_checked
from pendo_segments.health.rules import HEALTH_NAMES, SIGNALS, AccountRule, parse_account_rule

CONFIG_NAME = "tiers.yaml"
TIER_PATTERN = r"^[A-Za-z][A-Za-z0-9_ -]*$"
#: Condition leaves a tier rule may use (``tier`` would be circular).
RULE_LEAVES = TIER_LEAVES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TierSpec(_Section):
    name: str = Field(pattern=TIER_PATTERN)
    title: str = ""
    title_ja: str | None = None
    accounts_per_csm: float = Field(gt=0)
    pooled: bool = False


class RenewalRisk(_Section):
    """Renewal within ``within_days`` (as-of day included) and score below ``score_below``."""

    within_days: int = Field(default=90, ge=0)
    score_below: float = Field(default=60, ge=0, le=100)


class RuleSpec(_Section):
    tier: str
    reason: str = Field(min_length=1)
    reason_ja: str | None = Field(default=None, min_length=1)  # the Japanese report's
    when: Any = None


class PolicyFile(_Section):
    tiers: list[TierSpec] = Field(min_length=1)
    renewal_risk: RenewalRisk = Field(default_factory=RenewalRisk)
    rules: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Rule:
    tier: str
    reason: str
    when: AccountRule | None
    where: str  # FILE:LINE of the rule
    placeholders: tuple[str, ...] = ()
    reason_ja: str | None = None  # same placeholders as ``reason``, checked the same way

    def key_of(self, placeholder: str) -> str:
        """``reason`` or ``reason_ja``: where ``placeholder`` is written (for errors)."""
        used = [f for _, f, _, _ in string.Formatter().parse(self.reason) if f]
        return "reason" if placeholder in used else "reason_ja"


@dataclass(frozen=True)
class TierPolicy:
    """A validated tier policy; ``tiers`` run from highest touch to lowest."""

    tiers: tuple[TierSpec, ...]
    rules: tuple[Rule, ...]
    renewal_risk: RenewalRisk
    source: str = ""

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def rank(self, tier: str) -> int:
        """0 for the highest-touch tier; moves 'up' go towards 0."""
        return self.names.index(tier)

    def spec(self, tier: str) -> TierSpec:
        return self.tiers[self.rank(tier)]


def load_policy(path: str | Path, *, segments: Mapping[str, Any] | None = None) -> TierPolicy:
    """Read and check ``tiers.yaml``; every problem reported as FILE:LINE.

    ``segments`` (name → subject): check the segments the rules name now,
    not only when tiers are assigned.
    """
    parsed, problems = load_checked(path, PolicyFile)
    doc = problems.doc
    names = [t.name for t in parsed.tiers]
    for i, tier in enumerate(parsed.tiers):
        if names.index(tier.name) != i:
            problems.add(("tiers", i, "name"), f"tier '{tier.name}' is listed twice")
    rules: list[Rule] = []
    raw_rules = doc["rules"]
    for i, spec in enumerate(parsed.rules):
        path_i: tuple[Any, ...] = ("rules", i)
        if spec.tier not in names:
            problems.add(
                (*path_i, "tier"),
                f"unknown tier '{spec.tier}'{suggest(spec.tier, names)}"
                f" (tiers: {', '.join(names)})",
            )
        when = None
        if spec.when is not None:
            when = parse_account_rule(
                raw_rules[i], "when", path_i, problems, leaves=RULE_LEAVES, segments=segments
            )
        elif i != len(parsed.rules) - 1:
            problems.add(
                path_i, "only the last rule may leave out 'when' (rules after it could never match)"
            )
        placeholders = _placeholders(spec.reason, (*path_i, "reason"), problems)
        if spec.reason_ja is not None:
            placeholders += _placeholders(spec.reason_ja, (*path_i, "reason_ja"), problems)
        rules.append(
            Rule(
                tier=spec.tier,
                reason=spec.reason,
                when=when,
                where=f"{problems.file}:{line_of(doc, path_i)}: {key_path(path_i)}",
                placeholders=placeholders,
                reason_ja=spec.reason_ja,
            )
        )
    if parsed.rules[-1].when is not None:
        problems.add(
            ("rules", len(parsed.rules) - 1),
            "the last rule must have no 'when', so "
            "every account gets a tier (e.g. {tier: P2, reason: CSM judgment})",
        )
    problems.raise_if_any()
    return TierPolicy(
        tiers=tuple(parsed.tiers),
        rules=tuple(rules),
        renewal_risk=parsed.renewal_risk,
        source=problems.file,
    )


def declared_tiers(path: str | Path) -> list[str] | None:
    """The tier names a policy file lists, even when the rest of it is invalid."""
    from pendo_segments.health.configfile import read_mapping

    try:
        doc = read_mapping(Path(path))
    except DefinitionError:
        return None
    tiers = doc.get("tiers")
    if not isinstance(tiers, list):
        return None
    return [str(t["name"]) for t in tiers if isinstance(t, dict) and "name" in t]


def _placeholders(text: str, path: tuple[Any, ...], problems: Problems) -> tuple[str, ...]:
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as err:
        problems.add(path, f"bad placeholder in reason: {err} (write {{{{ for a literal brace)")
        return ()
    for name in names:
        if not name.isidentifier():
            problems.add(
                path,
                f"placeholder '{{{name}}}' must be a plain name such as "
                f"{{arr}}, {{score}} or {{plan}}",
            )
    return tuple(names)


#: Names a reason placeholder may use besides account columns.
REASON_VALUES = (*HEALTH_NAMES, *SIGNALS)
