"""Tier and alert conditions are the one rule language: same tree, parser and messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from health_handmade import AS_OF, dataset

from pendo_segments.definitions.models import (
    AllOf,
    FieldCondition,
    HealthCondition,
    NotOf,
    SegmentRef,
    SignalCondition,
    TierCondition,
)
from pendo_segments.errors import DefinitionError
from pendo_segments.health import compute_health
from pendo_segments.health.rules import Facts, compare, mask
from pendo_segments.tiers import load_policy
from pendo_segments.tiers.alerts import load_alerts

TIERS_BLOCK = """\
tiers:
  - {name: P1, accounts_per_csm: 15}
  - {name: P2, accounts_per_csm: 40}
rules:
"""


def policy(tmp_path: Path, when: str) -> Path:
    path = tmp_path / "tiers.yaml"
    path.write_text(
        TIERS_BLOCK + f"  - {{tier: P1, reason: x, when: {when}}}\n  - {{tier: P2, reason: y}}\n",
        encoding="utf-8",
    )
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        load_policy(path)
    return err.value.problems


def test_conditions_are_nodes_of_the_definitions_tree(tmp_path: Path) -> None:
    when = (
        "{all: [{health: score, op: '<', value: 40}, {signal: renewal_risk}, "
        "{not: {segment: smb}}, {field: plan, op: '=', value: Enterprise}]}"
    )
    rule = load_policy(policy(tmp_path, when)).rules[0].when
    assert rule is not None
    root = rule.rule
    assert isinstance(root, AllOf)
    kinds = [type(n) for n in root.all]
    assert kinds == [HealthCondition, SignalCondition, NotOf, FieldCondition]
    assert isinstance(root.all[2].not_, SegmentRef)
    assert root.all[0].kind == "health" and root.all[0].value == 40.0


def test_alert_tier_leaf_is_a_node_too(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("alerts:\n  - {name: a, title: A, when: {tier: [P1, P2]}}\n", encoding="utf-8")
    rule = load_alerts(path, ["P1", "P2"]).alerts[0].when.rule
    assert isinstance(rule, TierCondition) and rule.names == ["P1", "P2"]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "{metric: active_days, op: '<', value: 3}",
            "5: rules[0].when.metric: 'metric' conditions are not available here (use field, "
            "segment, health, signal)",
        ),
        (
            "{health: score, op: '=<', value: 3}",
            "5: rules[0].when.op: unknown op '=<' for a health condition; did you mean '<='? "
            "(valid: =, !=, <, <=, >, >=, exists, not_exists)",
        ),
        (
            "{health: score, op: '<', value: .nan}",
            "5: rules[0].when.value: must be a finite number, not nan",
        ),
        (
            "{signal: days_since_last_logn, op: '>', value: 14}",
            "5: rules[0].when.signal: unknown signal 'days_since_last_logn'; did you mean "
            "'days_since_last_login'? (one of active_days, feature_adoption, breadth, nps, "
            "nps_responses, tickets, sessions, usage_growth, days_since_last_login, "
            "renewal_in_days, renewal_risk)",
        ),
        (
            "{field: account.arr, op: '>', value: 1}",
            "5: rules[0].when.field: 'account.arr': conditions here are about accounts; use 'arr'",
        ),
        (
            "{field: paln, op: '=', value: x}",
            "5: rules[0].when.field: unknown field 'paln'; did you mean 'plan'? (a custom column "
            "needs a name not this close to a standard one)",
        ),
        (
            "{health: score, op: '<', valeu: 3}",
            "5: rules[0].when.valeu: unknown key 'valeu' in a health condition; did you mean "
            "'value'?",
        ),
    ],
)
def test_same_messages_as_segment_files(tmp_path: Path, when: str, message: str) -> None:
    path = policy(tmp_path, when)
    assert problems(path) == [f"{path}:{message}"]


def test_nesting_limit_applies_to_tier_rules(tmp_path: Path) -> None:
    when = "{not: " * 40 + "{segment: smb}" + "}" * 40
    path = policy(tmp_path, when)
    assert problems(path) == [
        f"{path}:5: rules[0].when: conditions nested more than 32 deep (all / any / not)"
    ]


def test_compare_uses_null_rules() -> None:
    values = np.array([1.0, np.nan, 3.0])
    assert compare(values, "<", 2).tolist() == [True, False, False]
    assert compare(values, "!=", 2).tolist() == [True, False, True]
    assert compare(values, "not_exists", None).tolist() == [False, True, False]


def test_health_leaf_compares_the_rounded_score(tmp_path: Path) -> None:
    ds = dataset()
    health = compute_health(ds, as_of=AS_OF)
    shown = np.floor(np.asarray(health.score) * 10 + 0.5 + 1e-7) / 10
    cut = float(shown[~np.isnan(shown)][0])
    rule = load_policy(policy(tmp_path, f"{{health: score, op: '>=', value: {cut}}}")).rules[0].when
    assert rule is not None
    got = mask(rule, Facts(ds=ds, health=health))
    with np.errstate(invalid="ignore"):
        assert got.tolist() == (shown >= cut).tolist()


def test_a_column_missing_from_the_data_is_reported_at_the_leaf(tmp_path: Path) -> None:
    from pendo_segments.errors import EvaluationError
    from pendo_segments.tiers import assign_tiers

    path = tmp_path / "tiers.yaml"
    path.write_text(
        TIERS_BLOCK + "  - tier: P1\n    reason: x\n    when:\n      any:\n"
        "        - {health: score, op: '<', value: 1}\n"
        "        - {field: segment_owner, op: '=', value: me}\n"
        "  - {tier: P2, reason: y}\n",
        encoding="utf-8",
    )
    with pytest.raises(EvaluationError) as err:
        assign_tiers(dataset(), load_policy(path), as_of=AS_OF)
    assert str(err.value).startswith(
        f"{path}:10: rules[0].when.any[1]: no column 'segment_owner' in accounts"
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "health.yaml",
            "weights:\n  nps: .inf\n",
            "2: weights.nps: must be a finite number, not inf",
        ),
        (
            "tiers.yaml",
            TIERS_BLOCK.replace("15}", "-.inf}") + "  - {tier: P2, reason: y}\n",
            "2: tiers[0].accounts_per_csm: must be a finite number, not -inf",
        ),
        (
            # YAML 1.1 reads 1e400 (no dot) as text; the number parser would make it inf
            "tiers.yaml",
            TIERS_BLOCK.replace("15}", "1e400}") + "  - {tier: P2, reason: y}\n",
            "2: tiers[0].accounts_per_csm: Input should be a finite number",
        ),
    ],
)
def test_settings_files_refuse_non_finite_numbers(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    from pendo_segments.health import load_health_config

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    load = load_health_config if name == "health.yaml" else load_policy
    with pytest.raises(DefinitionError) as err:
        load(path)
    assert err.value.problems == [f"{path}:{message}"]
