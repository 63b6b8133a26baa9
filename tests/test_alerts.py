"""Playbook alerts on the hand-made accounts; which fire and their signals, by hand.

Scores (tests/health_handmade.py): A1 38.9, A2 22.1, A3 0, A4 1.5, A5 97.8.
Tiers (shipped policy): A1 Neighborhood, A2 P2, A3 P1, A4 P2, A5 P2.
Renewal risk: A1 (60 days) and A2 (90 days).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from health_handmade import AS_OF, dataset, sample

from pendo_segments.definitions import load_definitions
from pendo_segments.errors import DefinitionError
from pendo_segments.health import compute_health
from pendo_segments.health.csvfile import read_previous_health
from pendo_segments.tiers import load_policy
from pendo_segments.tiers.alerts import ALERT_COLUMNS, condition_mask, load_alerts, run_alerts

DEFS = Path(__file__).resolve().parent.parent / "segment_defs"
A1_WEAK = (
    "1 active day in the last 30 (login frequency score 6.3); 25 % of key features used "
    "(core feature adoption score 31.3); 20 % of all features used (breadth score 40)"
)
A3_WEAK = (
    "0 active days in the last 30 (login frequency score 0); 0 % of key features used "
    "(core feature adoption score 0); 0 % of all features used (breadth score 0)"
)


@pytest.fixture(scope="module")
def setup():
    policy = load_policy(DEFS / "tiers.yaml")
    return policy, load_alerts(DEFS / "alerts.yaml", policy.names), load_definitions(DEFS)


def test_shipped_alerts_by_hand(setup) -> None:
    policy, rules, defs = setup
    result = run_alerts(dataset(), rules, defs=defs, policy=policy, as_of=AS_OF)
    assert list(result.rows.columns) == ALERT_COLUMNS
    got = result.rows[["account_id", "alert", "severity", "tier", "health_score"]]
    # escalation (< 25) replaces enterprise_escalation and at_risk for A2, A3, A4;
    # upsell needs > 80 % key adoption (A5 has 75 %); recovery needs --previous
    assert got.values.tolist() == [
        ["A2", "escalation", "high", "P2", 22.1],
        ["A3", "escalation", "high", "P1", 0.0],
        ["A4", "escalation", "high", "P2", 1.5],
        ["A1", "renewal_risk", "high", "Neighborhood", 38.9],
        ["A2", "renewal_risk", "high", "P2", 22.1],
        ["A1", "at_risk", "medium", "Neighborhood", 38.9],
        ["A3", "no_login_p1", "medium", "P1", 0.0],
    ]
    signals = {(r.account_id, r.alert): r.signals for r in result.rows.itertuples()}
    assert signals["A1", "at_risk"] == f"health score 38.9 < 40; {A1_WEAK}; last login 27 days ago"
    assert signals["A1", "renewal_risk"] == (
        "renewal risk: renews 2026-12-31 (in 60 days) with health 38.9 < 60; "
        f"{A1_WEAK}; last login 27 days ago"
    )
    assert signals["A3", "no_login_p1"] == f"tier P1; no login recorded; {A3_WEAK}"
    assert result.skipped == ["recovery: needs a previous health run (--previous FILE)"]


def test_previous_run_enables_recovery_and_changes(tmp_path: Path, setup) -> None:
    policy, rules, defs = setup
    ds = dataset()
    health = compute_health(ds, as_of=AS_OF)
    path = tmp_path / "health_before.csv"
    path.write_text(
        "account_id,health_score,core_feature_adoption\nA1,45,62.5\nA5,35,\n", encoding="utf-8"
    )
    previous = read_previous_health(path, health.account_ids)
    result = run_alerts(ds, rules, defs=defs, policy=policy, health=health, previous=previous)
    signals = {(r.account_id, r.alert): r.signals for r in result.rows.itertuples()}
    assert signals["A5", "recovery"] == (
        "previous health score 35 < 40; health score 97.8 > 70; 16 active days in the last 30 "
        "(login frequency score 100); 60 % of all features used (breadth score 100); 0 support "
        "tickets in 30 days (support tickets score 100)"
    )
    assert signals["A1", "at_risk"] == (
        "health score 38.9 < 40; 1 active day in the last 30 (login frequency score 6.3); core "
        "feature adoption score fell from 62.5 to 31.3 (25 % of key features used); 20 % of all "
        "features used (breadth score 40); last login 27 days ago"
    )
    assert result.skipped == []


def test_condition_mask_ignores_replaces(setup) -> None:
    policy, rules, defs = setup
    flag = condition_mask(
        dataset(),
        rules,
        "at_risk",
        defs=defs,
        policy=policy,
        health=compute_health(dataset(), as_of=AS_OF),
    )
    assert flag.tolist() == [True, True, True, True, False]
    assert (
        condition_mask(dataset(), rules, "nope", health=compute_health(dataset(), as_of=AS_OF))
        is None
    )


def test_tier_alerts_are_skipped_without_a_policy(setup) -> None:
    _, rules, defs = setup
    result = run_alerts(dataset(), rules, defs=defs, as_of=AS_OF)
    assert "no_login_p1: needs the tier policy (tiers.yaml)" in result.skipped
    assert set(result.rows["alert"]) == {"escalation", "renewal_risk", "at_risk"}
    assert result.rows["tier"].isna().all()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rule_errors_name_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
alerts:
  - name: a
    title: A
    when: {tier: P9}
    replaces: [b]
  - name: a
    title: again
    severity: urgent
    when: {signal: renewal_risk, op: "=", value: 1}
""",
    )
    with pytest.raises(DefinitionError) as err:
        load_alerts(path, ["P1", "P2"])
    assert err.value.problems == [
        f"{path}:8: alerts[1].severity: 'urgent' is not valid; input should be 'high', "
        "'medium', 'low' or 'info'",
    ]
    path = write(
        tmp_path,
        """\
alerts:
  - name: a
    title: A
    when: {tier: P9}
    replaces: [b]
  - name: a
    title: again
    when: {signal: renewal_risk, op: "=", value: 1}
""",
    )
    with pytest.raises(DefinitionError) as err:
        load_alerts(path, ["P1", "P2"])
    assert err.value.problems == [
        f"{path}:5: alerts[0].replaces: 'b' is not another alert",
        f"{path}:4: alerts[0].when.tier: unknown tier 'P9' (tiers: P1, P2)",
        f"{path}:6: alerts[1].name: alert 'a' is defined twice",
        f"{path}:8: alerts[1].when.op: signal 'renewal_risk' is true/false; write "
        "{signal: renewal_risk} or wrap it in 'not'",
    ]


def test_custom_rules_and_strengths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
alerts:
  - name: busy
    title: Many tickets
    severity: low
    when: {signal: tickets, op: ">=", value: 5}
    explain: none
""",
    )
    result = run_alerts(dataset(), load_alerts(path), as_of=AS_OF)
    assert result.rows[["account_id", "signals"]].values.tolist() == [
        ["A3", "support tickets 5 >= 5"],
        ["A4", "support tickets 6 >= 5"],
    ]
    assert result.rows["action"].tolist() == ["Many tickets", "Many tickets"]


def test_sample_alerts_all_carry_signals(setup) -> None:
    policy, rules, defs = setup
    result = run_alerts(sample(), rules, defs=defs, policy=policy)
    counts = result.counts()
    for name in ("escalation", "at_risk", "renewal_risk", "no_login_p1", "upsell"):
        assert counts.get(name, 0) > 0, name
    assert (result.rows["signals"].str.len() > 10).all()
    high = result.rows["severity"].map({"high": 0, "medium": 1, "low": 2, "info": 3})
    assert (np.diff(high.to_numpy()) >= 0).all()
